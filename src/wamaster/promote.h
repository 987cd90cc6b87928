/*  promote — the promotion policy: when the primary Master replaces the
    holder of a shard, by whom, and when it must wait. One place for the
    whole rule; pure (rows, verdicts and time in, decisions out), so it is
    unit-tested (tests/unit/test_promote.c) like watch.c.

    A holder is replaced when (promote_verdict):
    - the shard has no holder, or its holder's nodes row is gone or marked
      stopped;
    - its shard lease has expired, or its liveness claim is older than twice
      db_liveness_interval, both by the database's clock, unless a step of
      that clock was seen lately (docs/ARCHITECTURE.md, Time steps on the
      database host);
    - or the heartbeat rule declared it dead (watch_dead: unhealthy to us and
      to a fresh secondary Master; promote_forced keeps that list), while its
      lease is still valid;
    - or its heartbeat replies have said for upstream_unhealthy_interval that
      it has no upstream session and cannot reach the gateway, while another
      healthy Coreapp's say it can (promote_upstream_judge); then only a
      Coreapp that reaches the gateway replaces it.
    A replacement (promote_pick) is a Coreapp that claimed liveness lately,
    was not itself replaced within promotion_holdoff, and is not unhealthy
    by heartbeats. A Coreapp holds any number of shards: the one holding
    the fewest other shards (valid leases) first, so that with more shards
    than Coreapps the primaries spread evenly (the monitor promotes one
    shard after another and counts each promotion it made), then the
    freshest; the failing holder itself last whatever it holds (after a
    database outage it may be the only one left, and promoting it again
    under a new epoch is safe), and never a holder the heartbeat rule
    declared dead. Shards that need no new primary are not moved: a
    Coreapp that comes back finds the others holding everything, and takes
    shards as they fail over or are switched over to it (wactl
    switchover), never by a rebalancing of its own.
    No shard is failed over more than failover_limit times within
    failover_window (promote_rate_limited): a failover is a promotion that
    replaced an earlier holder (promote_is_failover), not a shard's first.
    The Masters keep the failovers in the database (table failovers), so a
    new primary Master honours its predecessor's. */
#ifndef PROMOTE_H
#define PROMOTE_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_clock.h"
#include "wa_config.h"
#include "watch.h"

//  A shard_map row joined with its holder's nodes row, judged by the
//  database's clock.
typedef struct {
    int shard;
    uint64_t node;                      //  0: none
    uint64_t epoch;
    bool lease_valid;                   //  expires_at > NOW(6)
    bool exists;                        //  the holder's nodes row is there
    bool running;                       //  ... and not marked stopped
    bool fresh;                         //  ... and claimed liveness lately
} promote_shard_t;

//  A Coreapp that may take a shard.
typedef struct {
    uint64_t node;
    bool fresh;                         //  claimed liveness within twice db_liveness_interval
    int held;                           //  valid leases it holds of other shards
    bool held_off;                      //  replaced within promotion_holdoff
    wa_usec_t seen_age;                 //  since its last liveness claim (database's clock)
} promote_candidate_t;

//  What the heartbeat rule and the reactor know, for one monitor run.
typedef struct {
    int nforce;                         //  holders declared dead by heartbeats
    uint64_t force[WA_SHARDS_MAX];
    const char *force_reason;
    int nupstream;                      //  holders cut off from the upstream
    uint64_t upstream[WA_SHARDS_MAX];
    const char *upstream_reason;
    int nunreachable;                   //  Coreapps whose replies say they cannot reach the gateway
    uint64_t unreachable[WATCH_NODES];
    int nexclude;                       //  unhealthy by heartbeats: no candidate
    uint64_t exclude[WATCH_NODES];
    uint32_t blocked;                   //  shards rate-limited (a bit per shard)
    bool clock_suspect;                 //  a step of the database's clock was seen lately
} promote_policy_t;

//  Why shard's holder must be replaced, or NULL. *clock_ignored is set
//  when only a verdict by a suspect database clock would have replaced it.
const char *promote_verdict (const promote_policy_t *policy, const promote_shard_t *shard, bool *clock_ignored);
//  True when the shard may not be failed over now (rate limit).
bool promote_blocked (const promote_policy_t *policy, int shard);
//  The replacement for shard among count candidates, or 0 for none.
uint64_t promote_pick (const promote_policy_t *policy, const promote_shard_t *shard,
                       const promote_candidate_t *candidates, int count);

//  The heartbeat rule's list of holders to replace. One judgement: each
//  listed holder that answers again is withdrawn, each holder the rule
//  declares dead is added; note is told of each (added or not). Returns
//  how many were added.
typedef struct {
    int count;
    uint64_t nodes[WA_SHARDS_MAX];
} promote_forced_t;
typedef void (promote_note_fn) (void *arg, uint64_t node, int shard, bool added);
int promote_forced_judge (promote_forced_t *self, const watch_t *watch, const uint64_t *holders, int nholders,
                          wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy, promote_note_fn *note,
                          void *arg);
//  The upstream rule's list: each listed holder whose replies say it
//  reaches the gateway again is withdrawn; each holder whose replies have
//  said for lost_limit (0: never) that it cannot, while another Coreapp
//  that is healthy and has reached the gateway for two heartbeats exists
//  (it may hold shards), is added — not for one that came back a moment
//  before the holder did: a shared outage ending replaces nobody.
int promote_upstream_judge (promote_forced_t *self, const watch_t *watch, const uint64_t *holders, int nholders,
                            wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy, wa_usec_t lost_limit,
                            promote_note_fn *note, void *arg);
//  Forget the forced replacements that are done (their node holds no shard).
void promote_forced_done (promote_forced_t *self, const uint64_t *holders, int nholders);

//  True when promoting a Coreapp for shard is a failover: the shard had a
//  holder (even the same Coreapp, promoted again under a new epoch), as
//  opposed to its first promotion.
bool promote_is_failover (const promote_shard_t *shard);
//  The shards (a bit per shard) that had limit failovers or more within the
//  window, from the count of each: counts[s] for shard s, nshards of them.
uint32_t promote_rate_limited (const int *counts, int nshards, int limit);

#endif
