/*  stickers — /v1/stickerpacks (placeholder while being built). */
#include "web.h"

void
stickers_request (web_t *self, web_req_t *req)
{
    web_fail (self, req, 0, WA_ERR_INTERNAL, "not yet");
}
