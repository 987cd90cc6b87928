/*  gatelink — the primary Master's line to the upstream's control socket
    (upstream_control_endpoint, wagate locally): registration requests and
    the account's registration state, as CONTROL / CONTROL_REPLY.

    One DEALER (ZMQ_IMMEDIATE: nothing queues while the upstream is not
    connected), one request in flight, the others queued in order. Each
    request carries an "id" the answer echoes, so an answer that comes
    after its request was given up is recognised and dropped. Nothing
    blocks: a request is answered by its callback, from the reactor, with
    the upstream's status and JSON, or with status 0 when it could not be
    sent or got no answer within its timeout. The lease and the heartbeats
    never wait for the upstream. */
#ifndef WAMASTER_GATELINK_H
#define WAMASTER_GATELINK_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_clock.h"

#define GATELINK_QUEUE_MAX 64

typedef struct gatelink_t gatelink_t;

//  status: the upstream's (reply, a JSON object, is the callback's to
//  keep or drop), or 0 with reply NULL and why saying what failed.
typedef void (gatelink_fn) (void *arg, int status, json_t *reply, const char *why);

gatelink_t *gatelink_new (wa_loop_t *loop, const char *endpoint);
//  Once the loop has stopped for good: the loop is not touched (it may be gone).
void gatelink_destroy (gatelink_t **self_p);
//  Send request (taken; a JSON object naming its "op") and call fn with
//  arg once answered, or given up timeout after this call (time in the
//  queue counts). 0, or -1 when the queue is full (fn is not called).
int gatelink_ask (gatelink_t *self, json_t *request, wa_usec_t timeout, gatelink_fn *fn, void *arg);
//  Forget every request of arg: its callback will not be called.
void gatelink_cancel (gatelink_t *self, void *arg);
const char *gatelink_endpoint (gatelink_t *self);

#endif
