/*  settings — GET, PATCH and DELETE /v1/settings/application, and the
    media providers (GET and POST /v1/settings/application/media/providers,
    DELETE .../providers/{name}): the primary Master owns the cluster
    settings and the providers (it checks, stores and, for the settings,
    broadcasts them), so these requests are forwarded to it; with no
    primary Master they wait up to request_deadline, then get 1017. */
#include <ctype.h>
#include "coreapps.h"
#include "web.h"

void
settings_application (web_t *self, web_req_t *req)
{
    json_t *request = NULL;
    switch (req->route.id) {
        case ROUTE_SETTINGS_GET:
            request = json_pack ("{s:s}", "op", "settings_get");
            break;
        case ROUTE_SETTINGS_PATCH:
            if (!json_is_object (req->input) || json_object_size (req->input) == 0) {
                web_fail (self, req, 0, req->input ? WA_ERR_INVALID : WA_ERR_MISSING,
                          "the body must be a JSON object of the settings to change, e.g. "
                          "{\"heartbeat_interval\": 5}");
                return;
            }
            request = json_pack ("{s:s, s:O, s:s}", "op", "settings_patch", "changes", req->input,
                                 "by", req->caller);
            break;
        case ROUTE_SETTINGS_DELETE:
            request = json_pack ("{s:s, s:s}", "op", "settings_reset", "by", req->caller);
            break;
        default:
            break;
    }
    web_forward (self, req, COREAPPS_MASTER, request);
}

//  The Master checks the providers field by field (include/wa_providers.h);
//  the Webapp only sees that there is a body, and what the path names.
void
settings_providers (web_t *self, web_req_t *req)
{
    json_t *request = NULL;
    switch (req->route.id) {
        case ROUTE_PROVIDERS_GET:
            request = json_pack ("{s:s}", "op", "providers_get");
            break;
        case ROUTE_PROVIDERS_SET:
            if (!req->input) {
                web_fail (self, req, 0, WA_ERR_MISSING, "the body must be the providers to set, e.g. "
                          "[{\"name\": \"cdn\", \"type\": \"www\", \"config\": {\"bearer\": \"...\"}}]");
                return;
            }
            request = json_pack ("{s:s, s:O, s:s}", "op", "providers_set", "providers", req->input,
                                 "by", req->caller);
            break;
        case ROUTE_PROVIDERS_DELETE:
            if (!req->route.param[0]) {
                web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no media provider has so long a name");
                return;
            }
            for (const char *c = req->route.param; *c; c++)
                if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_') {
                    web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no media provider is named so: a name holds "
                              "only letters, digits, '-' and '_'");
                    return;
                }
            request = json_pack ("{s:s, s:s, s:s}", "op", "providers_delete", "name", req->route.param,
                                 "by", req->caller);
            break;
        default:
            break;
    }
    web_forward (self, req, COREAPPS_MASTER, request);
}
