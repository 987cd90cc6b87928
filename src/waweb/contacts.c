/*  contacts — POST /v1/contacts: contact checks through the primary Coreapp to the upstream.
    Not served yet: answered 404 with the envelope. */
#include "web.h"

void
contacts_check (web_t *self, web_req_t *req)
{
    web_fail (self, req, 404, API_NOT_FOUND, "%s %s is not served yet", req->http.method, req->http.path);
}
