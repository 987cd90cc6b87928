/*  webhook — the actor that POSTs callbacks with libcurl's multi interface,
    so that no HTTP request, DNS lookup or TLS handshake ever runs on the
    reactor's thread.

    The reactor sends POST requests over the actor's pipe; the actor runs
    them all at once (the reactor decides how many are in flight) in one
    curl_multi_poll loop that also watches the pipe, keeps connections
    alive between requests, and answers each with its outcome: the HTTP
    status (0 when there was none) and, unless 2xx, why. No redirects;
    http and https only; WEBHOOK_TIMEOUT_MS per request. With a secret
    (webhooks_secret) each POST is signed as GitHub signs its webhooks:
    X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, body)>. */
#ifndef WACORE_WEBHOOK_H
#define WACORE_WEBHOOK_H

#include <czmq.h>
#include "wa_actor.h"

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define WEBHOOK_ERROR_MAX 200
//  "sha256=" and 64 hex digits.
#define WEBHOOK_SIGNATURE_LEN 71

//  Starts the actor (calls curl_global_init once). NULL on failure.
wa_actor_t *webhook_new (void);
//  Hand a POST over, signed with secret unless it is NULL or ""; token
//  comes back with its outcome. 0 / -1.
int webhook_post (wa_actor_t *self, uint64_t token, const char *url, const char *body, const char *secret);
//  Trust pem's CA certificates for https, besides libcurl's default
//  bundle, in every POST from now on (NULL or "": the default only). 0 / -1.
int webhook_trust (wa_actor_t *self, const char *pem);
//  The X-Hub-Signature-256 value of body: "sha256=" and the hex of its
//  HMAC-SHA256 with secret as the key.
void webhook_signature (const char *secret, const char *body, size_t len, char out[WEBHOOK_SIGNATURE_LEN + 1]);
//  Read one outcome (call when the actor is readable). 0 with token,
//  status and error (WEBHOOK_ERROR_MAX + 1 bytes) set; -1 when none.
int webhook_recv (wa_actor_t *self, uint64_t *token, int *status, char *error);

#endif
