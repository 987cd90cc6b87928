/*  settings — GET, PATCH and DELETE /v1/settings/application: the primary
    Master owns the cluster settings (it checks, stores and broadcasts
    them), so these requests are forwarded to it; with no primary Master
    they wait up to request_deadline, then get 1017. */
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
