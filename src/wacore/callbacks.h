/*  callbacks — the primary Coreapp's webhook queue (I4): every status and
    inbound message the upstream reports reaches webhooks_url at least once,
    in order per conversation, across failovers.

    Store, then acknowledge: an UP_EVENT is checked (cbevent), queued, and
    stored in batches on the callbacks' own DB worker, in a transaction
    fenced like the outbox's (the shard_map row locked in share mode: only
    the holder of the shard at its epoch stores). Only after the COMMIT is
    the event acknowledged upstream (UP_EVENT_ACK), so the upstream keeps
    and resends everything not stored. event_id is unique: a resent event is
    stored once. An event that fails the checks is acknowledged and dropped
    (counted as rejected, logged): it would otherwise come back forever.
    An inbound message's id, sender and shard go into inbound_ids in
    the same transaction: PUT /v1/messages/{id} finds it there after its
    callback row is gone (pass_through, retention).

    Deliver: pending rows are read back from the table in seq order (paged,
    CALLBACKS_MEMORY_MAX in memory at once), so the table is the one queue
    whoever filled it: after a promotion the new holder starts from the
    first pending row its predecessor left. cbqueue picks what goes next;
    the webhook actor POSTs it (libcurl multi, its own thread). At most
    webhooks_max_concurrent_requests POSTs in flight; a conversation's next
    event waits until its previous one is delivered; a failure (non-2xx,
    timeout, no connection) waits attempts × callback_backoff_delay_ms, at
    most max_callback_backoff_delay_ms. Delivered rows are marked in batches
    (a row delivered but not yet marked when its holder dies is POSTed again
    by the next: at least once). With sent_status off, a status "sent" is
    marked skipped instead of POSTed. With no webhooks_url, events are
    stored and wait.

    Bound: callbacks_queue_max pending rows per shard (100000). When full,
    events are no longer stored, so no longer acknowledged: they wait
    upstream until the webhook catches up. Nothing is lost.

    Demotion stops delivery at once; POSTs in flight finish and their
    outcome is still recorded. */
#ifndef WACORE_CALLBACKS_H
#define WACORE_CALLBACKS_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_config.h"

#define CALLBACKS_MEMORY_MAX 10000      //  pending rows read into memory at once
#define CALLBACKS_INCOMING_MAX 20000    //  received events waiting to be stored

typedef struct callbacks_t callbacks_t;

typedef struct {
    //  UP_EVENT_ACK on the open session: 0, or -1 when it cannot go now.
    int (*ack) (void *arg, uint64_t session, uint64_t seq);
    //  Does this Coreapp still hold its shard (by its own clock)?
    bool (*holding) (void *arg);
} callbacks_io_t;

typedef struct {
    uint64_t received;          //  UP_EVENTs
    uint64_t rejected;          //  failed the checks (acknowledged, dropped)
    uint64_t stored;            //  new rows
    uint64_t acked;             //  UP_EVENT_ACKs sent
    uint64_t delivered;         //  POSTs answered 2xx
    uint64_t skipped;           //  statuses "sent" not POSTed (sent_status off)
    uint64_t failed_attempts;   //  POSTs that failed
    uint64_t full_episodes;     //  times the queue filled up
    uint64_t fenced;            //  stores refused by their fence (events kept, retried)
    int64_t pending;            //  rows pending for the shard, -1 unknown
    size_t loaded;              //  of those, in memory
    size_t in_flight;           //  POSTs
    size_t incoming;            //  events waiting to be stored
    bool full;
} callbacks_stats_t;

//  settings are the live cluster settings (the Coreapp's copy); config is
//  what the DB worker connects with. Registers its readers and timers on
//  loop. NULL on failure (logged).
callbacks_t *callbacks_new (const wa_config_t *config, const wa_config_t *settings, callbacks_io_t io,
                            void *arg, wa_loop_t *loop);
void callbacks_destroy (callbacks_t **self_p);

//  This Coreapp holds shard at epoch (node is our id); -1: no longer.
void callbacks_hold (callbacks_t *self, int shard, uint64_t node, uint64_t epoch);
//  The upstream session opened (its id) or closed (0).
void callbacks_session (callbacks_t *self, uint64_t session);
//  An UP_EVENT on the open session.
void callbacks_on_event (callbacks_t *self, uint64_t session, uint64_t seq, const char *text, size_t len);
//  The settings changed (URL, concurrency, backoff, sent_status).
void callbacks_settings (callbacks_t *self);
//  Shutdown: wait (up to timeout_ms) for the stores and marks under way.
void callbacks_drain (callbacks_t *self, int timeout_ms);
callbacks_stats_t callbacks_stats (callbacks_t *self);
//  The stats as a new JSON object (the caller owns it).
json_t *callbacks_stats_json (callbacks_t *self);

#endif
