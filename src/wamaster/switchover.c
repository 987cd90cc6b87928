/*  switchover — see switchover.h */
#include "switchover.h"

void
switchovers_destroy (switchovers_t *self)
{
    for (int s = 0; s < WA_SHARDS_MAX; s++) {
        zframe_destroy (&self->pending[s].asker);
        json_decref (self->pending[s].detail);
        self->pending[s].detail = NULL;
        self->pending[s].phase = SWITCHOVER_NONE;
    }
}

bool
switchovers_any (const switchovers_t *self)
{
    for (int s = 0; s < WA_SHARDS_MAX; s++)
        if (self->pending[s].phase != SWITCHOVER_NONE)
            return true;
    return false;
}

//  How many shards node holds (by the database, as last read).
static int
s_held (const uint64_t *holders, int nholders, uint64_t node)
{
    int held = 0;
    for (int s = 0; s < nholders; s++)
        if (holders[s] == node)
            held++;
    return held;
}

//  The new holder of a switchover under way (another shard's).
static bool
s_taking (const switchovers_t *self, uint64_t node)
{
    for (int s = 0; s < WA_SHARDS_MAX; s++)
        if (self->pending[s].phase != SWITCHOVER_NONE && self->pending[s].to == node)
            return true;
    return false;
}

//  Fit to take a shard: answering our heartbeats (or new, and not late
//  yet), not saying it cannot reach the gateway (one never heard from has
//  said nothing yet), and not about to take one in another switchover (one
//  at a time per Coreapp). It may hold other shards: a Coreapp holds several.
static bool
s_fit (const switchovers_t *self, const watch_t *watch, const watch_node_t *n, wa_usec_t now,
       wa_usec_t heartbeat, wa_usec_t unhealthy)
{
    return (n->reachable || !n->last) && !s_taking (self, n->node)
        && watch_state (watch, n->node, now, heartbeat, unhealthy) == WATCH_HEALTHY;
}

int
switchover_choose (const switchovers_t *self, const watch_t *watch, const uint64_t *holders,
                   const uint64_t *epochs, int nholders,
                   int shard, uint64_t asked_to, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy,
                   uint64_t *from, uint64_t *epoch, uint64_t *to, char *why, size_t why_size)
{
    if (shard < 0 || shard >= nholders || shard >= WA_SHARDS_MAX) {
        snprintf (why, why_size, "no shard %d: the cluster has %d (0 to %d)", shard, nholders, nholders - 1);
        return 404;
    }
    const switchover_t *pending = &self->pending[shard];
    if (pending->phase != SWITCHOVER_NONE) {
        snprintf (why, why_size, "a switchover of shard %d to coreapp %" PRIu64 " is under way", shard, pending->to);
        return 409;
    }
    *from = holders[shard];
    if (!*from) {
        snprintf (why, why_size, "shard %d has no primary Coreapp now: nothing to switch over", shard);
        return 409;
    }
    const watch_node_t *holder = watch_find (watch, *from);
    if (!holder || watch_state (watch, *from, now, heartbeat, unhealthy) != WATCH_HEALTHY) {
        snprintf (why, why_size, "the primary of shard %d, coreapp %" PRIu64 ", is not answering our heartbeats; "
                  "a failover, not a switchover, replaces it", shard, *from);
        return 409;
    }
    *epoch = epochs[shard];
    if (asked_to) {
        const watch_node_t *n = watch_find (watch, asked_to);
        if (asked_to == *from) {
            snprintf (why, why_size, "coreapp %" PRIu64 " is shard %d's primary already", asked_to, shard);
            return 409;
        }
        if (!n) {
            snprintf (why, why_size, "coreapp %" PRIu64 " is not a Coreapp that is up (wactl status lists them)",
                      asked_to);
            return 409;
        }
        if (!s_fit (self, watch, n, now, heartbeat, unhealthy)) {
            snprintf (why, why_size, "coreapp %" PRIu64 " cannot take shard %d: %s", asked_to, shard,
                      s_taking (self, asked_to) ? "it is taking another shard in a switchover under way"
                      : watch_state (watch, asked_to, now, heartbeat, unhealthy) != WATCH_HEALTHY
                      ? "it is not answering our heartbeats"
                      : "its heartbeat replies say it cannot reach the upstream");
            return 409;
        }
        *to = asked_to;
        return 0;
    }
    //  Another Coreapp holding the fewest shards, then the one that
    //  answered last (one never heard from comes last: whether it reaches
    //  the gateway is not known).
    const watch_node_t *best = NULL;
    int best_held = 0;
    for (int i = 0; i < watch->count; i++) {
        const watch_node_t *n = &watch->nodes[i];
        if (n->node == *from || !s_fit (self, watch, n, now, heartbeat, unhealthy))
            continue;
        int held = s_held (holders, nholders, n->node);
        if (!best || held < best_held || (held == best_held && n->last > best->last)) {
            best = n;
            best_held = held;
        }
    }
    if (!best) {
        snprintf (why, why_size, "no other Coreapp answers our heartbeats and reaches the upstream to take "
                  "shard %d", shard);
        return 503;
    }
    *to = best->node;
    return 0;
}

int
switchover_rebalance (const switchovers_t *self, const watch_t *watch, const uint64_t *holders,
                      const uint64_t *epochs, int nholders, wa_usec_t now, wa_usec_t heartbeat,
                      wa_usec_t unhealthy, int *shard, uint64_t *from, uint64_t *epoch, uint64_t *to)
{
    if (switchovers_any (self) || nholders <= 0 || nholders > WA_SHARDS_MAX)
        return -1;
    for (int s = 0; s < nholders; s++)
        if (!holders[s])
            return -1;
    const watch_node_t *most = NULL, *fewest = NULL;
    int most_held = 0, fewest_held = 0;
    for (int i = 0; i < watch->count; i++) {
        const watch_node_t *n = &watch->nodes[i];
        if (!n->last || !s_fit (self, watch, n, now, heartbeat, unhealthy))
            continue;
        int held = s_held (holders, nholders, n->node);
        if (!most || held > most_held) {
            most = n;
            most_held = held;
        }
        if (!fewest || held < fewest_held || (held == fewest_held && n->last > fewest->last)) {
            fewest = n;
            fewest_held = held;
        }
    }
    if (!most || !fewest || most_held - fewest_held < 2)
        return -1;
    for (int s = nholders - 1; s >= 0; s--)
        if (holders[s] == most->node) {
            *shard = s;
            *from = most->node;
            *epoch = epochs[s];
            *to = fewest->node;
            return 0;
        }
    return -1;
}
