/*  outbox — the primary Coreapp's messages, from the API request that
    brings one to the upstream's acknowledgement.

    Accept: requests queue while an insert runs; each insert takes up to
    OUTBOX_BATCH of them in one transaction that first locks the shard_map
    row and checks that this Coreapp still holds the shard at its epoch (the
    fence: a promotion waits for the transaction, so every row of epoch e is
    committed before epoch e+1 begins). Only after the commit does a request
    get its 201; the message id comes from the idempotency key, so a retried
    request finds its row and answers the same id, and is not sent again.

    Deliver: a new row is sent on the upstream session at once. The upstream
    acknowledges each SEND; acknowledged ids are marked sent in batches.
    Whenever a session opens, everything not acknowledged is first asked
    about (QUERY): the messages this Coreapp sent on a session that ended,
    and every pending row of the shard left by earlier holders. Only a
    message the upstream says it never received is sent, so each message
    reaches the upstream exactly once. A QUERY on the new session is
    conclusive because the old session ended at the upstream before the new
    one could open (the shard lease's safety argument).

    The outbox has its own DB worker (and connection), so message traffic
    never delays the shard lease renewals. */
#ifndef WACORE_OUTBOX_H
#define WACORE_OUTBOX_H

#include <czmq.h>
#include "wa_dbworker.h"
#include "wa_config.h"
#include "wa_db.h"
#include "wa_message.h"

typedef struct outbox_t outbox_t;

typedef struct {
    //  Answer an API request: HTTP status and a JSON object (payload or
    //  {"errors":[...]}). Takes peer.
    void (*reply) (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json);
    //  SEND / QUERY on the open session: 0, or -1 when it cannot go now.
    int (*send) (void *arg, uint64_t seq, const char *payload);
    int (*query) (void *arg, const char *id);
} outbox_io_t;

typedef struct {
    uint64_t accepted;          //  new rows committed
    uint64_t retried;           //  requests that found their row
    uint64_t sent;              //  SENDs that went out
    uint64_t acked;             //  acknowledged (new or duplicate)
    uint64_t duplicates;        //  the upstream already had it (must stay 0)
    uint64_t refused;           //  the upstream refused it
    uint64_t queried;           //  QUERYs that went out
    uint64_t found;             //  QUERY answered "received"
    uint64_t batches;           //  insert transactions
    uint64_t unresolved;        //  insert tries whose outcome was unknown (tried again)
    size_t depth;               //  messages not yet acknowledged, in memory
    size_t waiting;             //  requests waiting for an insert
} outbox_stats_t;

//  The database side: each call runs on the outbox's DB worker, with the
//  worker's connection. outbox_new uses outbox_db_sql; a test gives its own.
typedef struct {
    int shard;                  //  the fence: the shard_map row names node at epoch
    uint64_t node;
    uint64_t epoch;
    uint64_t batch;             //  this insert's random id
    unsigned int count;         //  rows, each in the four arrays
    const char *const *ids;
    const char *const *keys;
    const char *const *tos;
    const char *const *payloads;
    //  Earlier tries of this batch id: the insert logs what it finds wrong
    //  (rows neither written nor found, or not there after their COMMIT)
    //  on the first try only; the outbox says how the retries go.
    unsigned int tries;
} outbox_batch_t;

//  A pending row, as a load reads it.
typedef void (outbox_row_fn) (void *arg, uint64_t seq, const char *id, const char *payload);

typedef struct {
    //  Insert a batch in one transaction fenced by the shard_map row: 0
    //  committed (inserted[i]: row i is this batch's, written by this try
    //  or an earlier try of the same batch id, not one a retried request
    //  finds; every row read back after the COMMIT), 1 the row does not
    //  name us (nothing inserted), -1 failed (error says why; *ambiguous
    //  when the COMMIT failed, or its rows were not all there after it: it
    //  may have committed, and the batch is tried again under its id).
    int (*insert) (wa_db_t *db, const outbox_batch_t *batch, bool *inserted, bool *ambiguous,
                   char *error, size_t error_size);
    //  Mark ids[i] statuses[i] ("sent" or "refused"): 0 / -1.
    int (*mark) (wa_db_t *db, unsigned int count, const char *const *ids, const char *const *statuses);
    //  The shard's pending rows with a seq above after, in seq order, a
    //  page (256) at most: row for each. 0 / -1.
    int (*load) (wa_db_t *db, int shard, uint64_t after, outbox_row_fn *row, void *arg);
    //  A media id's stored type: 1 found (type set), 0 no such media, -1 failed.
    int (*media) (wa_db_t *db, const char *media_id, char *type, size_t type_size);
} outbox_db_t;

extern const outbox_db_t outbox_db_sql;

outbox_t *outbox_new (const wa_config_t *config, outbox_io_t io, void *arg);
void outbox_destroy (outbox_t **self_p);
//  The DB worker, for the reactor to read (then call outbox_on_worker).
wa_dbworker_t *outbox_worker (outbox_t *self);
void outbox_on_worker (outbox_t *self);
//  Replace the database side (tests), before the first request.
void outbox_set_db (outbox_t *self, const outbox_db_t *db);
//  Is a job on the worker now?
bool outbox_busy (outbox_t *self);

//  This Coreapp now holds shard at epoch (node is our id); -1 shard: no
//  longer. Letting go drops what is in memory (the rows stay pending for
//  the next holder) and answers queued requests 1018.
void outbox_hold (outbox_t *self, int shard, uint64_t node, uint64_t epoch);
//  The upstream session opened / closed.
void outbox_session (outbox_t *self, bool open);
//  An API request for a checked message (key already validated).
void outbox_accept (outbox_t *self, zframe_t **peer, uint64_t seq, const char *key, const wa_message_t *msg);
//  The upstream's answers.
void outbox_on_ack (outbox_t *self, uint64_t seq, int code, const char *text);
void outbox_on_query_reply (outbox_t *self, int received, const char *id);
//  Retry what is waiting (a timer calls this): failed DB writes, sends
//  that found the socket full.
void outbox_tick (outbox_t *self);
//  Shutdown: wait (up to timeout_ms) for running jobs, answer queued
//  requests 1011.
void outbox_drain (outbox_t *self, int timeout_ms);
outbox_stats_t outbox_stats (outbox_t *self);

#endif
