/*  promote — see promote.h */
#include "promote.h"

static bool
s_listed (const uint64_t *ids, int count, uint64_t id)
{
    for (int i = 0; i < count; i++)
        if (ids[i] == id)
            return true;
    return false;
}

const char *
promote_verdict (const promote_policy_t *policy, const promote_shard_t *s, bool *clock_ignored)
{
    if (s->node && s->lease_valid && s_listed (policy->force, policy->nforce, s->node))
        return policy->force_reason;
    if (s->node && s->lease_valid && s_listed (policy->upstream, policy->nupstream, s->node))
        return policy->upstream_reason;
    if (s->node == 0)
        return "no primary";
    if (!s->exists)
        return "holder unknown";
    if (!s->running)
        return "holder stopped";
    //  After a forward step every lease and every liveness claim looks old
    //  until its holder writes it again: those verdicts wait.
    if ((!s->lease_valid || !s->fresh) && policy->clock_suspect) {
        if (clock_ignored)
            *clock_ignored = true;
        return NULL;
    }
    if (!s->lease_valid)
        return "shard lease expired";
    if (!s->fresh)
        return "holder silent (liveness)";
    return NULL;
}

bool
promote_blocked (const promote_policy_t *policy, int shard)
{
    return shard >= 0 && shard < WA_SHARDS_MAX && (policy->blocked & (1u << shard));
}

uint64_t
promote_pick (const promote_policy_t *policy, const promote_shard_t *shard,
              const promote_candidate_t *candidates, int count)
{
    const promote_candidate_t *best = NULL;
    //  Replacing a holder cut off from the upstream: only by one that is not.
    bool upstream = shard->node && s_listed (policy->upstream, policy->nupstream, shard->node);
    for (int i = 0; i < count; i++) {
        const promote_candidate_t *c = &candidates[i];
        if (!c->fresh || c->held_off || s_listed (policy->exclude, policy->nexclude, c->node))
            continue;
        if (upstream && (c->node == shard->node || s_listed (policy->unreachable, policy->nunreachable, c->node)))
            continue;
        bool failing = c->node == shard->node;
        if (failing && s_listed (policy->force, policy->nforce, c->node))
            continue;           //  dead by heartbeats: never its own replacement
        if (!best) {
            best = c;
            continue;
        }
        //  The failing holder last; then the fewest shards held; then the freshest.
        bool best_failing = best->node == shard->node;
        if (best_failing != failing ? best_failing
          : c->held != best->held ? c->held < best->held : c->seen_age < best->seen_age)
            best = c;
    }
    return best ? best->node : 0;
}

int
promote_forced_judge (promote_forced_t *self, const watch_t *watch, const uint64_t *holders, int nholders,
                      wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy, promote_note_fn *note, void *arg)
{
    //  A holder that answers again is no longer to be replaced.
    for (int i = self->count - 1; i >= 0; i--)
        if (!watch_dead (watch, self->nodes[i], now, heartbeat, unhealthy)) {
            if (note)
                note (arg, self->nodes[i], -1, false);
            self->nodes[i] = self->nodes[--self->count];
        }
    int added = 0;
    for (int s = 0; s < nholders; s++) {
        uint64_t holder = holders[s];
        if (!holder || !watch_dead (watch, holder, now, heartbeat, unhealthy)
        ||  s_listed (self->nodes, self->count, holder) || self->count == WA_SHARDS_MAX)
            continue;
        self->nodes[self->count++] = holder;
        added++;
        if (note)
            note (arg, holder, s, true);
    }
    return added;
}

//  A Coreapp that could take a shard from holder, cut off from the
//  upstream: another one, healthy, reaching the gateway (it may hold
//  shards of its own: a Coreapp holds several).
static bool
s_reaching_spare (const watch_t *watch, uint64_t holder, wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy)
{
    for (int i = 0; i < watch->count; i++) {
        const watch_node_t *n = &watch->nodes[i];
        //  Reaching it for two heartbeats: when the gateway comes back for
        //  everyone at once, the holder's own replies say so within one,
        //  and it is not replaced for having answered second.
        if (n->last && n->reachable && n->node != holder && n->reachable_since
        &&  now - n->reachable_since >= 2 * heartbeat
        &&  watch_state (watch, n->node, now, heartbeat, unhealthy) == WATCH_HEALTHY)
            return true;
    }
    return false;
}

int
promote_upstream_judge (promote_forced_t *self, const watch_t *watch, const uint64_t *holders, int nholders,
                        wa_usec_t now, wa_usec_t heartbeat, wa_usec_t unhealthy, wa_usec_t lost_limit,
                        promote_note_fn *note, void *arg)
{
    for (int i = self->count - 1; i >= 0; i--)
        if (!lost_limit || watch_upstream_lost (watch, self->nodes[i], now) == 0) {
            if (note)
                note (arg, self->nodes[i], -1, false);
            self->nodes[i] = self->nodes[--self->count];
        }
    if (!lost_limit)
        return 0;
    int added = 0;
    for (int s = 0; s < nholders; s++) {
        uint64_t holder = holders[s];
        if (!holder || watch_upstream_lost (watch, holder, now) < lost_limit
        ||  s_listed (self->nodes, self->count, holder) || self->count == WA_SHARDS_MAX
        ||  !s_reaching_spare (watch, holder, now, heartbeat, unhealthy))
            continue;
        self->nodes[self->count++] = holder;
        added++;
        if (note)
            note (arg, holder, s, true);
    }
    return added;
}

void
promote_forced_done (promote_forced_t *self, const uint64_t *holders, int nholders)
{
    for (int i = self->count - 1; i >= 0; i--)
        if (!s_listed (holders, nholders, self->nodes[i]))
            self->nodes[i] = self->nodes[--self->count];
}

bool
promote_is_failover (const promote_shard_t *shard)
{
    return shard->node != 0;
}

uint32_t
promote_rate_limited (const int *counts, int nshards, int limit)
{
    uint32_t limited = 0;
    for (int s = 0; s < nshards && s < WA_SHARDS_MAX; s++)
        if (counts[s] >= limit)
            limited |= 1u << s;
    return limited;
}
