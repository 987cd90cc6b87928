/*  certs — /v1/certificates and the watch of the external certificate
    (see certs.c). */
#ifndef WAWEB_CERTS_H
#define WAWEB_CERTS_H

#include <stdbool.h>
#include "wa_dbworker.h"
#include "http.h"

//  The watch's job kind on the Webapp's DB worker.
#define CERTS_JOB_KIND 60

typedef struct certs_t certs_t;
typedef struct web_t web_t;
typedef struct web_req_t web_req_t;

certs_t *certs_new (web_t *web);
void certs_destroy (certs_t **self_p);
//  Ask the table whether the external certificate changed (unless the
//  last read is still under way).
void certs_poll (certs_t *self, wa_dbworker_t *db);
//  A job came back: true when it was the watch's (a change is applied to http).
bool certs_job_done (certs_t *self, wa_job_t *job, http_server_t *http);
//  The endpoints.
void certs_request (web_t *web, web_req_t *req);

#endif
