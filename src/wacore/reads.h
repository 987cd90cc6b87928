/*  reads — the primary Coreapp's read receipts (PUT /v1/messages/{id},
    op "read" on its API port): an inbound message of its shard marked
    read, sent upstream on the shard's session (READ, answered by a
    READ_ACK with the same seq), and answered to the Webapp only once the
    upstream has it. The upstream then reports the status "read" of that
    message, which reaches the webhook like any status.

    Nothing is stored: marking read is idempotent (the upstream answers
    "read already" to a repeat), so the Webapp simply tries again, on the
    new primary after a failover, until request_deadline. When the session
    is not open, when it closes meanwhile, or when the upstream does not
    answer within READS_TIMEOUT_SHARE × request_attempt_timeout, the
    request gets 1011 (the Webapp retries); a demotion answers 1018; an
    inbound message the upstream does not know, 404 with 1006. */
#ifndef WACORE_READS_H
#define WACORE_READS_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_config.h"

#define READS_MAX 256                   //  reads waiting for the upstream
#define READS_TIMEOUT_SHARE 0.75

typedef struct reads_t reads_t;

typedef struct {
    //  Answer an API request: status, JSON text; the peer is taken.
    void (*reply) (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json);
    //  A READ upstream on the open session: 0, or -1 when it cannot go.
    int (*send) (void *arg, uint64_t seq, const char *payload);
} reads_io_t;

typedef struct {
    uint64_t requests;
    uint64_t sent;              //  READs sent upstream
    uint64_t acked;             //  READ_ACKs taken (marked, or read already)
    uint64_t unknown;           //  refused: no such inbound message
    uint64_t timeouts;
    size_t waiting;
} reads_stats_t;

//  settings are the live ones (request_attempt_timeout is read at each read).
reads_t *reads_new (const wa_config_t *settings, reads_io_t io, void *arg, wa_loop_t *loop);
//  Every waiting request gets 1011 (stopping); then it is freed.
void reads_destroy (reads_t **self_p);
//  An API request ({"op":"read", "id", "from", "route"}: route, the sender,
//  picks the shard by the count in force; an older Webapp's "shard" instead
//  of route is taken as well), its shard already checked; the peer is taken. unavailable: NULL while the session is open,
//  else why it is not (the request gets it with 1011).
void reads_request (reads_t *self, zframe_t **peer, uint64_t seq, const json_t *request, const char *unavailable);
//  A READ_ACK from the upstream.
void reads_on_ack (reads_t *self, uint64_t seq, uint32_t code, const char *text);
//  The session closed: the reads under way can no longer be answered (1011).
void reads_session_closed (reads_t *self);
//  No longer primary: waiting requests get 1018.
void reads_demoted (reads_t *self);
reads_stats_t reads_stats (reads_t *self);
json_t *reads_stats_json (reads_t *self);

#endif
