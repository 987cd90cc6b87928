/*  identity — the primary Coreapp's side of GET and PUT
    /v1/contacts/{wa_id}/identity (op "identity" on its API port, for a
    contact of its shard): the contact's identity hash is asked upstream
    on the shard's session (a CONTACTS {"identity": wa_id}, answered by a
    CONTACTS_REPLY {"identity": {"wa_id", "hash", "created_timestamp"}}
    with the same seq, which is IDENTITY_SEQ_BIT or'd, so the contact
    checks' replies stay theirs); then the acknowledgement is read from, or
    (PUT, when the hash sent is the latest) stored in, contact_identity on
    the Coreapp's DB worker. GET answers in the original's shape:
    {"contacts": {"hash", "created_timestamp", "acknowledged"}}, PUT {}.

    Nothing here outlives a failover: the Webapp tries again, on the new
    primary, until request_deadline. The session not open, closed
    meanwhile, or silent for IDENTITY_TIMEOUT_SHARE × request_attempt_timeout:
    1011; a demotion: 1018; a hash that is not the latest: 400 1009; a
    contact the network does not know: 404 1006. */
#ifndef WACORE_IDENTITY_H
#define WACORE_IDENTITY_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_config.h"
#include "wa_dbworker.h"

#define IDENTITY_MAX 256                    //  requests waiting for the upstream
#define IDENTITY_TIMEOUT_SHARE 0.75
#define IDENTITY_SEQ_BIT ((uint64_t) 1 << 62)
#define IDENTITY_JOB_KIND 60

typedef struct identity_t identity_t;

typedef struct {
    //  Answer an API request: status, JSON text; the peer is taken.
    void (*reply) (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json);
    //  A CONTACTS upstream on the open session: 0, or -1 when it cannot go.
    int (*ask) (void *arg, uint64_t seq, const char *payload);
    //  Hand a job to the DB worker: 0 (taken), or -1.
    int (*submit) (void *arg, wa_job_t **job);
} identity_io_t;

identity_t *identity_new (const wa_config_t *settings, identity_io_t io, void *arg, wa_loop_t *loop);
void identity_destroy (identity_t **self_p);
//  An API request {"op":"identity","wa_id"[,"hash","by"]}, its shard
//  checked; the peer is taken. unavailable: why the session cannot take it.
void identity_request (identity_t *self, zframe_t **peer, uint64_t seq, const json_t *request,
                       const char *unavailable);
//  A CONTACTS_REPLY whose seq has IDENTITY_SEQ_BIT.
void identity_on_reply (identity_t *self, uint64_t seq, const char *text, size_t len);
//  One of its jobs came back from the DB worker (taken).
void identity_job_done (identity_t *self, wa_job_t *job);
void identity_session_closed (identity_t *self);
void identity_demoted (identity_t *self);

#endif
