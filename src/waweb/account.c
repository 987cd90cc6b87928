/*  account — POST /v1/account, /v1/account/verify, GET and POST /v1/account/shards: through the primary Master.
    Not served yet: answered 404 with the envelope. */
#include "web.h"

void
account_request (web_t *self, web_req_t *req)
{
    web_fail (self, req, 404, API_NOT_FOUND, "%s %s is not served yet", req->http.method, req->http.path);
}
