/*  switchover — a planned move of a shard's primary, on the primary
    Master's side (`wactl switchover`; the holder's side is
    wacore/handover.h).

    wactl sends SWITCHOVER (shard, new holder or 0, how long to wait) to the
    primary Master's control port, from a wactl key. The Master checks the
    request against its heartbeat view (switchover_choose), publishes
    HANDOVER on its bus, and waits: for the holder's HANDED_OVER (the holder
    drains, logs out and moves the shard_map row itself, fenced by its shard
    lease and this Master's lease), then for the new holder's heartbeat
    reply saying it holds the shard at the new epoch with its session open.
    Then wactl gets SWITCHOVER_OK with the timings; an error at any step, or
    the wait running out, gets ERROR naming the step.

    Pure, apart from the routing frame kept for the answer: time comes in as
    arguments, so the choice is unit-tested. */
#ifndef SWITCHOVER_H
#define SWITCHOVER_H

#include <czmq.h>
#include <jansson.h>
#include "wa_clock.h"
#include "wa_config.h"
#include "watch.h"

typedef enum {
    SWITCHOVER_NONE,
    SWITCHOVER_ASKED,           //  HANDOVER published; waiting for HANDED_OVER
    SWITCHOVER_HANDED,          //  the row moved; waiting for the new holder's session
} switchover_phase_t;

typedef struct {
    switchover_phase_t phase;
    int shard;
    uint64_t from;              //  the holder, at epoch
    uint64_t epoch;
    uint64_t to;
    uint64_t new_epoch;
    zframe_t *asker;            //  wactl's routing id, for the answer
    char by[80];                //  who asked ("wactl:NAME")
    wa_usec_t started;
    wa_usec_t deadline;
    wa_usec_t handed_at;
    json_t *detail;             //  the holder's account of the handover
} switchover_t;

typedef struct {
    switchover_t pending[WA_SHARDS_MAX];
} switchovers_t;

void switchovers_destroy (switchovers_t *self);
//  Is any switchover waiting?
bool switchovers_any (const switchovers_t *self);

//  Check a request for shard (asked_to: the new holder the operator named,
//  0: pick one) against what we know: holders[] and epochs[] (per shard,
//  from the database; holder 0: none) and the heartbeat view. 0 with *from,
//  *epoch and *to set; else an HTTP-like status with
//  why: 404 no such shard, 409 not now (no holder, a switchover under way,
//  the holder not healthy; the named Coreapp not healthy, not reaching the
//  gateway by its replies, or taking another shard in a switchover), 503
//  no other Coreapp to pick. The new holder may hold other shards; picked
//  (asked_to 0), the one holding the fewest, then the last to answer.
int switchover_choose (const switchovers_t *self, const watch_t *watch, const uint64_t *holders,
                       const uint64_t *epochs, int nholders,
                       int shard, uint64_t asked_to, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy,
                       uint64_t *from, uint64_t *epoch, uint64_t *to, char *why, size_t why_size);

//  Rebalancing: the primaries spread unevenly (a Coreapp started after
//  another had taken every shard, or came back after a failover) are
//  evened out one planned switchover at a time, the same handover as
//  wactl's, so with the same safety. A move is due when no switchover is
//  under way, every shard has a holder, and among the Coreapps that answer
//  our heartbeats, reach the gateway and have been heard, the one holding
//  the most holds at least two more than the one holding the fewest; it
//  moves the highest shard of the first to the second (ties: the one that
//  answered last). 0 with *shard, *from, *epoch and *to set; -1 when none.
int switchover_rebalance (const switchovers_t *self, const watch_t *watch, const uint64_t *holders,
                          const uint64_t *epochs, int nholders, wa_usec_t now, wa_usec_t heartbeat,
                          wa_usec_t unhealthy, int *shard, uint64_t *from, uint64_t *epoch, uint64_t *to);

#endif
