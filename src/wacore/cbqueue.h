/*  cbqueue — which callback goes next: per conversation strictly in order
    (the next event of a conversation waits until the previous one is
    delivered), conversations in turn, a failed delivery retried after its
    backoff. Pure: no I/O, time comes in as arguments.

    A conversation is ready (its head may go), in flight (its head is being
    POSTed) or waiting (its head failed and waits for its retry time). Ready
    conversations take turns in a FIFO; waiting ones sit in a heap by retry
    time. Entries must be added in their order (the callbacks table's seq). */
#ifndef WACORE_CBQUEUE_H
#define WACORE_CBQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wa_clock.h"

#define CBQUEUE_EVENT_ID_MAX 64
#define CBQUEUE_KIND_MAX 8
#define CBQUEUE_CONVERSATION_MAX 20

typedef struct cbqueue_t cbqueue_t;
typedef struct cbconv_t cbconv_t;

typedef struct cbentry_t cbentry_t;
struct cbentry_t {
    uint64_t seq;
    char event_id[CBQUEUE_EVENT_ID_MAX + 1];
    char kind[CBQUEUE_KIND_MAX + 1];            //  "status" or "message"
    char conversation[CBQUEUE_CONVERSATION_MAX + 1];
    bool sent_status;                           //  a status "sent" (sent_status may skip it)
    char *payload;                              //  owned
    int attempts;                               //  POSTs that failed so far
    //  The queue's
    cbentry_t *next;
    cbconv_t *conv;
};

cbqueue_t *cbqueue_new (void);
//  Frees every entry.
void cbqueue_destroy (cbqueue_t **self_p);
//  Takes the entry (allocated with malloc, payload too).
void cbqueue_add (cbqueue_t *self, cbentry_t *entry);
//  The next entry to deliver at now, marked in flight; NULL when none may go.
cbentry_t *cbqueue_next (cbqueue_t *self, wa_usec_t now);
//  The entry in flight is done: delivered (freed, and its conversation's
//  next may go) or failed (its attempts count up; it goes again at retry_at).
void cbqueue_done (cbqueue_t *self, cbentry_t *entry, bool delivered, wa_usec_t retry_at);
//  The earliest retry time of a waiting conversation, or -1 when none waits.
wa_usec_t cbqueue_next_due (cbqueue_t *self);
//  Drop everything (entries in flight too: their pointers die).
void cbqueue_purge (cbqueue_t *self);
size_t cbqueue_size (cbqueue_t *self);          //  entries held
size_t cbqueue_in_flight (cbqueue_t *self);
size_t cbqueue_ready (cbqueue_t *self);         //  conversations whose head may go now
size_t cbqueue_waiting (cbqueue_t *self);       //  conversations waiting for a retry

//  The wait after the attempts-th failure: attempts × step_ms, at most max_ms
//  (and at least 0), in milliseconds.
int64_t cbqueue_backoff_ms (int attempts, int64_t step_ms, int64_t max_ms);

#endif
