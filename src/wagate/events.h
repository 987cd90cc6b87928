/*  events — what the network tells the business: the statuses of the
    messages it received (sent, delivered, read; or failed) and inbound
    messages from customers, each an UP_EVENT on the open session of its
    (account, shard).

    Every event gets an id unique across wagate's restarts ("w" + the start
    time in hex + "-" + a counter) and a seq, numbered per (account, shard),
    and is kept until the Coreapp acknowledges it (UP_EVENT_ACK with that
    seq), which it does only once the event is stored. On a new session of
    the key every unacknowledged event is sent again, in order; and each
    event sent and not acknowledged for EVENTS_RESEND_AFTER is sent again on
    the same session, whatever happened to the others (a frame lost on a
    reconnect, an event the Coreapp could not store). At most
    EVENTS_WINDOW events per key are out unacknowledged. Delivery is at
    least once: the Coreapp stores each event id once.

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
    (events_read) gets the status "read" too. They go to the key of the
    session that sent the message. Inbound messages go to the configured
    account's shard crc32(from) mod shards (wa_message_shard), injected or
    generated at inbound_rate per second from a pool of 100 numbers.

    Every emitted event and every acknowledgement is a line of the ledger
    ("emitted": kind, conversation, event_id, and id and status as the
    webhook will show them; "event_ack"), so a checker (wacheck, or a test)
    can prove that every event reached the webhook. Pure: time comes in as arguments, sockets stay
    with the caller. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "wa_clock.h"

#define EVENTS_WINDOW 4096              //  sent and unacknowledged per key
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

//  Where a key's open session is, and how to send on it (the caller's).
//  lookup: 0 with *session set when (account, shard) has an open session.
//  send: 0, or -1 when it cannot go now (try again later).
typedef int (events_lookup_fn) (void *arg, const char *account, uint32_t shard, uint64_t *session);
typedef int (events_send_fn) (void *arg, const char *account, uint32_t shard, uint64_t session,
                              uint64_t seq, const char *text);

events_t *events_new (const events_config_t *config, wa_usec_t now);
void events_destroy (events_t **self_p);

//  A message the network accepted (new) from a session of (account,
//  shard): id and to as checked by the referee. Emits "sent" (or
//  "failed") now and schedules the rest. 0 / -1 (out of memory or full).
int events_message (events_t *self, const char *account, uint32_t shard, const char *id,
                    const char *to, wa_usec_t now);
//  A message the network accepted but will not deliver (a template it
//  cannot fill, templates.h): one "failed" status, with "errors":
//  [{"code","title","details"}] as the original reports it. 0 / -1.
int events_message_failed (events_t *self, const char *account, uint32_t shard, const char *id,
                           const char *to, int code, const char *title, const char *details);
//  The business read an inbound message (READ): its status "read" (id the
//  inbound message's, recipient_id its sender) goes to the key it came
//  on. 0 marked; 1 read already (nothing emitted); -1 no such inbound
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
//  Send what may go now on each key's open session.
void events_pump (events_t *self, events_lookup_fn *lookup, events_send_fn *send, void *arg,
                  wa_usec_t now);
//  An acknowledgement from an open session of (account, shard). 0 when
//  it acknowledged a pending event, -1 when none has that seq.
int events_ack (events_t *self, const char *account, uint32_t shard, uint64_t session, uint64_t seq);
events_stats_t events_stats (events_t *self);
//  The counters as a new JSON object (the caller owns it).
json_t *events_stats_json (events_t *self);

#endif
