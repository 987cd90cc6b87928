/*  account — POST /v1/account (registration: a code is sent), POST
    /v1/account/verify (the code), GET and POST /v1/account/shards. Each is
    checked here (wa_account.h), then forwarded to the primary Master
    (ops register, verify, shards_get, shards_set; src/wamaster/api.h),
    which asks the upstream, stores the account row and answers; with no
    primary Master the request waits up to request_deadline, then gets
    1017. ADMIN only (the route table). While two-step verification is on
    (POST /v1/settings/account/two-step), a register and a shard change
    need its PIN, checked first (profile.c). */
#include "wa_account.h"
#include "coreapps.h"
#include "web.h"

void
account_request (web_t *self, web_req_t *req)
{
    char why[400];
    int code = 0;
    json_t *request = NULL;
    if (req->route.id != ROUTE_SHARDS_GET && !req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a JSON object: %s",
                  req->route.id == ROUTE_ACCOUNT ? "{\"cc\", \"phone_number\", \"method\", \"cert\"[, \"pin\"]}"
                  : req->route.id == ROUTE_ACCOUNT_VERIFY ? "{\"code\": \"123456\"}"
                  : "{\"cc\", \"phone_number\", \"shards\"[, \"pin\"]}");
        return;
    }
    switch (req->route.id) {
        case ROUTE_ACCOUNT: {
            wa_registration_t reg;
            code = wa_account_register_check (req->input, &reg, why, sizeof why);
            if (!code)
                request = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", "register", "by", req->caller,
                                     "cc", reg.cc, "phone_number", reg.phone_number, "method", reg.method,
                                     "cert", reg.cert);
            if (request && *reg.pin)
                json_object_set_new (request, "pin", json_string (reg.pin));
            break;
        }
        case ROUTE_ACCOUNT_VERIFY: {
            char digits[WA_ACCOUNT_CODE_LEN + 1];
            code = wa_account_verify_check (req->input, digits, why, sizeof why);
            if (!code)
                request = json_pack ("{s:s, s:s, s:s}", "op", "verify", "by", req->caller, "code", digits);
            break;
        }
        case ROUTE_SHARDS_GET:
            request = json_pack ("{s:s}", "op", "shards_get");
            break;
        case ROUTE_SHARDS_SET: {
            wa_shards_request_t shards;
            code = wa_account_shards_check (req->input, &shards, why, sizeof why);
            if (!code)
                request = json_pack ("{s:s, s:s, s:s, s:s, s:i}", "op", "shards_set", "by", req->caller, "cc",
                                     shards.cc, "phone_number", shards.phone_number, "shards", shards.shards);
            if (request && *shards.pin)
                json_object_set_new (request, "pin", json_string (shards.pin));
            break;
        }
        default:
            break;
    }
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    //  Registration and a shard change need the two-step PIN when one is set.
    const char *pin = json_string_value (json_object_get (request, "pin"));
    if (req->route.id == ROUTE_ACCOUNT || req->route.id == ROUTE_SHARDS_SET)
        profile_two_step_forward (self, req, pin ? pin : "", request);
    else
        web_forward (self, req, COREAPPS_MASTER, request);
}
