/*  events — what the network tells the business: the statuses of the
    messages it received (sent, delivered, read; or failed) and inbound
    messages from customers, each an UP_EVENT on the open session that
    serves its conversation.

    Keys. An event belongs to a conversation: the recipient of a status,
    the sender of an inbound message. Events are queued per (account, fine
    key), the fine key f = CRC32(conversation) mod EVENTS_FINE_KEYS (32,
    events_fine_key). Every shard count the cluster takes (1, 2, 4, 8, 16,
    32) divides 32, so under any layout of N shards f lies in exactly one
    shard, f mod N, the shard of every conversation of the key (CRC32 mod N
    = (CRC32 mod 32) mod N). All events of a conversation are in one key, in
    the order they were emitted, and a key goes on one session at a time:
    the order per conversation holds whatever the layouts do.

    Routing. At each pump a key goes to the open session of its account
    that serves it under that session's own layout: a session of (s, N)
    with N known (its LOGIN said it) serves the keys with f mod N == s; a
    session of an unknown count (an old Coreapp) is taken as of wagate's
    configured count (shards), which is today's rule, s ==
    wa_message_shard(conversation, shards). A known count is preferred to
    an unknown one, and the newest session of equals (the referee kicks an
    older one that meets a newer one anyway). When a key's session is not
    the one it last went on (a failover, or a new layout: after a change
    1 → 2 the keys of the one old session split between (0, 2) and (1, 2);
    after 2 → 1 both halves merge on (0, 1)), every unacknowledged event of
    the key is sent again, in order, on the new one. A key no open session
    serves (between the old layout's last session and the new one's first)
    waits.

    Seqs and acknowledgements. Every event gets an id unique across
    wagate's restarts ("w" + the start time in hex + "-" + a counter) and a
    seq unique across all keys (numbered from 1 per wagate run, so a
    session that serves several keys never sees a seq twice), and is kept
    until the Coreapp acknowledges it (UP_EVENT_ACK with that seq), which it
    does only once the event is stored. An acknowledgement finds its event
    through a hash of the pending seqs and counts only when the
    acknowledging session of the account serves the event's key (else
    ack_unknown). Each event sent and not acknowledged for
    EVENTS_RESEND_AFTER is sent again on the same session, whatever
    happened to the others (a frame lost on a reconnect, an event the
    Coreapp could not store). At most EVENTS_WINDOW events per session are
    out unacknowledged (shared by the keys it serves, which take turns), as
    before fine keys when a session had one key; EVENTS_PENDING_MAX bounds
    the events kept, all keys. Delivery is at least once: the Coreapp
    stores each event id once.

    The UP_EVENT text is {"event_id": ..., "payload": ...} where payload is
    already what the webhook receives (docs/API.md, Webhooks):
        {"statuses":[{"id","recipient_id","status","timestamp"}]}
        {"contacts":[{"profile":{"name"},"wa_id"}],
         "messages":[{"from","id","timestamp","type":"text","text":{"body"}}]}
    An inbound message's id is its event id.

    Statuses: "sent" when the message arrives, "delivered" wagate_status_delay
    later, "read" as much again; a recipient ending in one of
    wagate_fail_digits gets one "failed" instead, and so does a message the
    network cannot deliver (events_message_failed: a template it cannot
    fill), with its errors. An inbound message the business marks read
    (events_read) gets the status "read" too. Inbound messages are injected
    or generated at inbound_rate per second from a pool of 100 numbers, for
    the configured account.

    Every emitted event and every acknowledgement is a line of the ledger
    ("emitted": kind, conversation, event_id, seq, and id and status as the
    webhook will show them; "event_ack": the acknowledging session's shard,
    shards (null: unknown) and session, seq, event_id), so a checker
    (wacheck, or a test) can prove that every event reached the webhook.
    Both carry "fine", the key. The "emitted" line's "shard" is a label as
    before fine keys: a status's, the shard of the session that sent the
    message; an inbound message's (and its "read"), crc32(from) mod the
    configured count. Where an event went is the "event_ack" line's. Pure:
    time comes in as arguments, sockets stay with the caller. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "wa_clock.h"

#define EVENTS_FINE_KEYS 32             //  keys per account: every layout's count divides it
#define EVENTS_SESSIONS_MAX 64          //  open sessions of an account looked at
#define EVENTS_WINDOW 4096              //  sent and unacknowledged per session
#define EVENTS_PENDING_MAX 500000       //  kept unacknowledged, all keys
#define EVENTS_RESEND_AFTER (10 * WA_USEC_PER_SEC)
#define EVENTS_ID_MAX 40
#define EVENTS_BODY_MAX 4096            //  bytes of an inbound text
#define EVENTS_NAME_MAX 64              //  bytes of a profile name
#define EVENTS_TEXT_MAX 8000            //  bytes of an UP_EVENT's JSON
#define EVENTS_INBOUND_KEPT 100000      //  inbound messages remembered for READ

typedef struct _events_t events_t;

typedef struct {
    wa_usec_t status_delay;
    const char *fail_digits;    //  "" for none
    double inbound_rate;        //  per second; 0: none generated
    int shards;
    const char *account;        //  where inbound messages go
    FILE *ledger;               //  may be NULL; stays the caller's
    wa_usec_t wall_start;       //  usec since 1970: makes the ids unique
} events_config_t;

typedef struct {
    uint64_t emitted;
    uint64_t statuses;
    uint64_t inbound;
    uint64_t acked;
    uint64_t pending;           //  emitted, not yet acknowledged
    uint64_t sent;              //  UP_EVENT frames sent (resends included)
    uint64_t resent;
    uint64_t dropped;           //  statuses not emitted: EVENTS_PENDING_MAX reached
    uint64_t ack_unknown;       //  acknowledgements of no pending event
    uint64_t scheduled;         //  statuses waiting for their time
} events_stats_t;

//  An open session and its layout: shard of shards (0: unknown).
typedef struct {
    uint64_t session;
    uint32_t shard;
    uint32_t shards;
} events_session_t;

//  The account's open sessions, and how to send on one (the caller's).
//  sessions: fills out with at most max of them; how many.
//  send: 0, or -1 when it cannot go now (try again later).
typedef size_t (events_sessions_fn) (void *arg, const char *account, events_session_t *out, size_t max);
typedef int (events_send_fn) (void *arg, const char *account, uint64_t session, uint64_t seq,
                              const char *text);

events_t *events_new (const events_config_t *config, wa_usec_t now);
void events_destroy (events_t **self_p);

//  The fine key of a conversation: CRC32 of its digits mod EVENTS_FINE_KEYS.
uint32_t events_fine_key (const char *conversation);
//  A message the network accepted (new) from a session of (account,
//  shard): id and to as checked by the referee. Emits "sent" (or
//  "failed") now and schedules the rest, all to the key of to (shard only
//  labels the ledger lines). 0 / -1 (out of memory or full).
int events_message (events_t *self, const char *account, uint32_t shard, const char *id,
                    const char *to, wa_usec_t now);
//  A message the network accepted but will not deliver (a template it
//  cannot fill, templates.h): one "failed" status, with "errors":
//  [{"code","title","details"}] as the original reports it. 0 / -1.
int events_message_failed (events_t *self, const char *account, uint32_t shard, const char *id,
                           const char *to, int code, const char *title, const char *details);
//  The business read an inbound message (READ): its status "read" (id the
//  inbound message's, recipient_id its sender) goes to the key of its
//  sender, as the message did. 0 marked; 1 read already (nothing emitted); -1 no such inbound
//  message from that sender (or one of the last EVENTS_INBOUND_KEPT no
//  more); -2 full.
int events_read (events_t *self, const char *id, const char *from);
//  An inbound text message from a customer. 0 with its event id in id
//  (EVENTS_ID_MAX + 1 bytes), or -1 with why (bad input) or -2 (full).
//  name may be NULL ("Customer NNNN").
int events_inject (events_t *self, const char *from, const char *name, const char *text,
                   char *id, char *why, size_t why_size);
//  Change the rate of generated inbound messages (0 to 100000 per second).
//  0 / -1 (out of bounds).
int events_set_rate (events_t *self, double rate);
//  Emit what is due, and generate inbound messages at the rate.
void events_tick (events_t *self, wa_usec_t now);
//  Send what may go now, each key on the open session that serves it.
void events_pump (events_t *self, events_sessions_fn *sessions, events_send_fn *send, void *arg,
                  wa_usec_t now);
//  An acknowledgement from an open session of (account, shard, shards;
//  0: unknown). 0 when it acknowledged a pending event of a key the session
//  serves, -1 when none (counted in ack_unknown).
int events_ack (events_t *self, const char *account, uint32_t shard, uint32_t shards, uint64_t session,
                uint64_t seq);
events_stats_t events_stats (events_t *self);
//  The counters as a new JSON object (the caller owns it).
json_t *events_stats_json (events_t *self);

#endif
