/*  media — POST, GET and DELETE /v1/media: files in media_dir.
    Not served yet: answered 404 with the envelope. */
#include "web.h"

void
media_request (web_t *self, web_req_t *req)
{
    web_fail (self, req, 404, API_NOT_FOUND, "%s %s is not served yet", req->http.method, req->http.path);
}
