/*  watch — what a Master knows of the Coreapps from heartbeat replies, and
    the seed's rule built on it (zyre's staged liveness, decided on the
    reactor's timers, never on the database):

    - each Master records when each Coreapp last replied to it;
    - a secondary Master reports its view (ages, not times: clocks differ);
    - a Coreapp is healthy, late (no reply for 1.5 heartbeats) or unhealthy
      (no reply for unhealthy_interval) in a Master's own view;
    - the primary Master declares a primary Coreapp dead only when it is
      unhealthy in its own view AND in the fresh view of at least one
      secondary Master. With no secondary reporting, the rule never fires
      and DB-based monitoring alone applies.

    Pure: time comes in as arguments, so the rule is unit-tested. */
#ifndef WATCH_H
#define WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_clock.h"

#define WATCH_NODES 64
#define WATCH_REPORTERS 16

typedef enum { WATCH_HEALTHY, WATCH_LATE, WATCH_UNHEALTHY } watch_state_t;

typedef struct {
    uint64_t node;
    wa_usec_t last;             //  last reply (our clock), 0 before the first
    wa_usec_t since;            //  when we started expecting replies from it
    uint32_t shard;             //  UINT32_MAX when not primary
    uint64_t epoch;
    bool primary;
    bool connected;             //  its upstream session is open
    bool reachable;             //  it reaches the gateway (its probe, or its session)
    wa_usec_t upstream_lost;    //  since when its replies say neither (0: they do not)
    wa_usec_t reachable_since;  //  since when its replies say it reaches the gateway (0: they do not)
    watch_state_t reported;     //  last state announced (for transitions)
} watch_node_t;

typedef struct {
    uint64_t master;
    wa_usec_t received;         //  when the report arrived (our clock)
    wa_usec_t baseline_age;     //  how long the reporter had been watching
    int count;
    uint64_t node[WATCH_NODES];
    wa_usec_t age[WATCH_NODES]; //  reply age in the reporter's view, at sending
} watch_report_t;

typedef struct {
    wa_usec_t baseline;         //  ages of never-seen nodes count from here
    int count;
    watch_node_t nodes[WATCH_NODES];
    int reporters;
    watch_report_t reports[WATCH_REPORTERS];
} watch_t;

void watch_init (watch_t *self, wa_usec_t now);
//  Restart the clock for nodes that never replied (on becoming primary).
void watch_rebase (watch_t *self, wa_usec_t now);
//  A heartbeat reply; upstream is its code: WATCH_UP_SESSION (the session
//  is open) | WATCH_UP_REACHABLE (it reaches the gateway).
#define WATCH_UP_SESSION 1u
#define WATCH_UP_REACHABLE 2u
void watch_reply (watch_t *self, uint64_t node, uint32_t shard, uint64_t epoch, bool primary,
                  unsigned upstream, wa_usec_t now);
//  How long node's replies have said, without a break, that it has no
//  upstream session and cannot reach the gateway (0: they do not).
wa_usec_t watch_upstream_lost (const watch_t *self, uint64_t node, wa_usec_t now);
//  Make sure node is tracked (a holder known from the database).
void watch_track (watch_t *self, uint64_t node, wa_usec_t now);
//  Forget nodes that are gone (not in keep[]).
void watch_forget_others (watch_t *self, const uint64_t *keep, int count);
//  A secondary's report: "node:age_ms node:age_ms ...". 0 / -1 (malformed:
//  nothing is recorded).
int watch_report (watch_t *self, uint64_t master, const char *text, wa_usec_t now);
//  Our view as report text. 0 / -1 (too long for len).
int watch_report_text (const watch_t *self, wa_usec_t now, char *buf, size_t len);
//  Microseconds since node last replied to us.
wa_usec_t watch_age (const watch_t *self, uint64_t node, wa_usec_t now);
watch_state_t watch_state (const watch_t *self, uint64_t node, wa_usec_t now,
                           wa_usec_t heartbeat, wa_usec_t unhealthy);
//  How many fresh secondary reports see node unhealthy; *observers gets the
//  number of fresh reports. A report is fresh for 3 heartbeats.
int watch_votes (const watch_t *self, uint64_t node, wa_usec_t now, wa_usec_t heartbeat,
                 wa_usec_t unhealthy, int *observers);
//  The seed's rule.
bool watch_dead (const watch_t *self, uint64_t node, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy);
const char *watch_state_name (watch_state_t state);
const watch_node_t *watch_find (const watch_t *self, uint64_t node);

#endif
