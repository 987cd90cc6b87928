/*  Unit tests for promote: the promotion policy (verdicts, the pick of a
    replacement, the heartbeat rule's list, what counts as a failover, the
    rate limit). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "promote.h"

#define SEC(s) ((wa_usec_t) ((s) * WA_USEC_PER_SEC))

static const promote_shard_t HEALTHY = { .shard = 0, .node = 3, .epoch = 1, .lease_valid = true,
                                         .exists = true, .running = true, .fresh = true };

static void
test_verdicts (void **state)
{
    (void) state;
    promote_policy_t policy = { .force_reason = "dead by heartbeats" };
    bool ignored = false;
    promote_shard_t s = HEALTHY;
    assert_null (promote_verdict (&policy, &s, &ignored));
    s.node = 0;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "no primary");
    s = HEALTHY; s.exists = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "holder unknown");
    s = HEALTHY; s.running = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "holder stopped");
    s = HEALTHY; s.lease_valid = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "shard lease expired");
    s = HEALTHY; s.fresh = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "holder silent (liveness)");
    assert_false (ignored);
    //  Dead by heartbeats while its lease is valid.
    s = HEALTHY;
    policy.force[policy.nforce++] = 3;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "dead by heartbeats");
}

//  After a step of the database's clock, its verdicts wait; the others act.
static void
test_clock_suspect (void **state)
{
    (void) state;
    promote_policy_t policy = { .clock_suspect = true, .force_reason = "dead" };
    bool ignored = false;
    promote_shard_t s = HEALTHY;
    s.lease_valid = false;
    assert_null (promote_verdict (&policy, &s, &ignored));
    assert_true (ignored);
    ignored = false;
    s = HEALTHY; s.fresh = false;
    assert_null (promote_verdict (&policy, &s, &ignored));
    assert_true (ignored);
    s = HEALTHY; s.running = false;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "holder stopped");
    s = HEALTHY; s.node = 0;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "no primary");
    s = HEALTHY;
    policy.force[policy.nforce++] = 3;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "dead");
}

static void
test_pick (void **state)
{
    (void) state;
    promote_policy_t policy = { 0 };
    promote_shard_t s = HEALTHY;
    s.lease_valid = false;
    promote_candidate_t c[] = {
        { .node = 3, .fresh = true, .seen_age = SEC (0.1) },        //  the failing holder
        { .node = 4, .fresh = false, .seen_age = SEC (200) },       //  silent
        { .node = 5, .fresh = true, .held = 1 },                    //  holds shard 1
        { .node = 6, .fresh = true, .held_off = true },             //  replaced lately
        { .node = 7, .fresh = true, .seen_age = SEC (0.8) },
        { .node = 8, .fresh = true, .seen_age = SEC (0.3) },
    };
    //  The freshest that qualifies; the failing holder only last.
    assert_int_equal (promote_pick (&policy, &s, c, 6), 8);
    policy.exclude[policy.nexclude++] = 8;      //  unhealthy by heartbeats
    assert_int_equal (promote_pick (&policy, &s, c, 6), 7);
    //  One that holds another shard (a Coreapp holds several) before the
    //  failing holder; the failing holder only last.
    policy.exclude[policy.nexclude++] = 7;
    assert_int_equal (promote_pick (&policy, &s, c, 6), 5);
    policy.exclude[policy.nexclude++] = 5;
    assert_int_equal (promote_pick (&policy, &s, c, 6), 3);
    //  ... but never a holder dead by heartbeats.
    policy.force[policy.nforce++] = 3;
    assert_int_equal (promote_pick (&policy, &s, c, 6), 0);
    assert_int_equal (promote_pick (&policy, &s, c, 0), 0);
}

//  A failover replaces a holder; a shard's first promotion is none.
static void
test_is_failover (void **state)
{
    (void) state;
    promote_shard_t s = HEALTHY;
    assert_true (promote_is_failover (&s));
    s.lease_valid = false;              //  expired: still replaced
    assert_true (promote_is_failover (&s));
    s.node = 0;                         //  never had a primary
    assert_false (promote_is_failover (&s));
}

//  The rate limit from the failovers each shard had within the window (the
//  database counts them).
static void
test_rate_limit (void **state)
{
    (void) state;
    int counts[WA_SHARDS_MAX] = { 0 };
    counts[1] = 2;
    counts[3] = 5;
    assert_int_equal (promote_rate_limited (counts, 4, 2), (1u << 1) | (1u << 3));
    assert_int_equal (promote_rate_limited (counts, 4, 3), 1u << 3);
    assert_int_equal (promote_rate_limited (counts, 4, 6), 0);
    //  Only the shards the cluster has.
    assert_int_equal (promote_rate_limited (counts, 2, 2), 1u << 1);
    assert_int_equal (promote_rate_limited (counts, 0, 1), 0);
    //  The last shard there can be.
    counts[WA_SHARDS_MAX - 1] = 1;
    assert_int_equal (promote_rate_limited (counts, WA_SHARDS_MAX, 1),
                      (1u << 1) | (1u << 3) | (1u << (WA_SHARDS_MAX - 1)));
    assert_int_equal (promote_rate_limited (counts, WA_SHARDS_MAX + 5, 1),
                      (1u << 1) | (1u << 3) | (1u << (WA_SHARDS_MAX - 1)));
    promote_policy_t policy = { .blocked = 1u << 1 };
    assert_true (promote_blocked (&policy, 1));
    assert_false (promote_blocked (&policy, 0));
    assert_false (promote_blocked (&policy, 99));
    assert_false (promote_blocked (&policy, -1));
}

static int s_added, s_withdrawn;

static void
s_note (void *arg, uint64_t node, int shard, bool added)
{
    (void) arg;
    (void) node;
    (void) shard;
    if (added)
        s_added++;
    else
        s_withdrawn++;
}

//  The heartbeat rule's list: a holder silent to us and to a secondary is
//  added once; it leaves the list when it answers again, or once it holds
//  no shard.
static void
test_forced (void **state)
{
    (void) state;
    wa_usec_t hb = SEC (1), unhealthy = SEC (5), t0 = SEC (100);
    watch_t watch;
    watch_init (&watch, t0);
    watch_reply (&watch, 3, 0, 1, true, true, t0);
    watch_reply (&watch, 4, UINT32_MAX, 0, false, true, t0);
    uint64_t holders[] = { 3 };
    promote_forced_t forced = { 0 };
    s_added = s_withdrawn = 0;
    //  Unhealthy to us only: not dead (no secondary report).
    wa_usec_t later = t0 + SEC (6);
    assert_int_equal (promote_forced_judge (&forced, &watch, holders, 1, later, hb, unhealthy, s_note, NULL), 0);
    //  A secondary reports it unhealthy too.
    assert_int_equal (watch_report (&watch, 2, "3:6000 4:10", later), 0);
    assert_int_equal (promote_forced_judge (&forced, &watch, holders, 1, later, hb, unhealthy, s_note, NULL), 1);
    assert_int_equal (forced.count, 1);
    assert_int_equal (forced.nodes[0], 3);
    //  Judged again: not added twice.
    assert_int_equal (promote_forced_judge (&forced, &watch, holders, 1, later, hb, unhealthy, s_note, NULL), 0);
    assert_int_equal (s_added, 1);
    //  It answers again: withdrawn.
    watch_reply (&watch, 3, 0, 1, true, true, later + 1);
    promote_forced_judge (&forced, &watch, holders, 1, later + 2, hb, unhealthy, s_note, NULL);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_withdrawn, 1);
    //  Done once its node holds no shard.
    forced.nodes[forced.count++] = 3;
    uint64_t now_holders[] = { 4 };
    promote_forced_done (&forced, now_holders, 1);
    assert_int_equal (forced.count, 0);
}

//  --------------------------------------------------------------------------
//  The upstream rule: holders whose replies say they cannot reach the gateway.

static struct {
    int added, withdrawn;
    uint64_t node;
    int shard;
    bool was_added;
} s_notes;

static void
s_upstream_note (void *arg, uint64_t node, int shard, bool added)
{
    assert_ptr_equal (arg, &s_notes);
    if (added)
        s_notes.added++;
    else
        s_notes.withdrawn++;
    s_notes.node = node;
    s_notes.shard = shard;
    s_notes.was_added = added;
}

static const wa_usec_t UP_HB = SEC (1), UP_UNHEALTHY = SEC (5), LOST_LIMIT = SEC (10), UP_T0 = SEC (100);

//  Both answer at at: holder 3 saying it reaches nothing, spare 4 with the bits given.
static void
s_replies (watch_t *watch, unsigned spare_bits, wa_usec_t at)
{
    watch_reply (watch, 3, 0, 1, true, 0, at);
    watch_reply (watch, 4, UINT32_MAX, 0, false, spare_bits, at);
}

static int
s_judge (promote_forced_t *forced, watch_t *watch, const uint64_t *holders, int nholders, wa_usec_t now,
         wa_usec_t lost_limit)
{
    return promote_upstream_judge (forced, watch, holders, nholders, now, UP_HB, UP_UNHEALTHY, lost_limit,
                                   s_upstream_note, &s_notes);
}

static void
test_upstream_judge (void **state)
{
    (void) state;
    memset (&s_notes, 0, sizeof s_notes);
    watch_t watch;
    watch_init (&watch, UP_T0);
    uint64_t holders[] = { 0, 3 };                  //  3 holds shard 1
    promote_forced_t forced = { 0 };
    for (wa_usec_t t = UP_T0; t < UP_T0 + LOST_LIMIT; t += SEC (0.5)) {
        s_replies (&watch, WATCH_UP_REACHABLE, t);
        assert_int_equal (s_judge (&forced, &watch, holders, 2, t, LOST_LIMIT), 0);
    }
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.added + s_notes.withdrawn, 0);
    //  A shared outage ending: the spare reaches the gateway again a moment
    //  before the holder says so. Not enough: two heartbeats of it are.
    {
        watch_t shared;
        watch_init (&shared, UP_T0);
        promote_forced_t none = { 0 };
        for (wa_usec_t t = UP_T0; t <= UP_T0 + LOST_LIMIT; t += SEC (0.5))
            s_replies (&shared, 0, t);
        wa_usec_t healed = UP_T0 + LOST_LIMIT + SEC (0.1);
        s_replies (&shared, WATCH_UP_REACHABLE, healed);
        watch_reply (&shared, 3, 0, 1, true, 0, healed);    //  the holder's reply from before the heal
        assert_int_equal (promote_upstream_judge (&none, &shared, holders, 2, healed + UP_HB, UP_HB, UP_UNHEALTHY,
                                                  LOST_LIMIT, NULL, NULL), 0);
        watch_reply (&shared, 3, 0, 1, true, WATCH_UP_SESSION, healed + UP_HB);
        assert_int_equal (promote_upstream_judge (&none, &shared, holders, 2, healed + 3 * UP_HB, UP_HB,
                                                  UP_UNHEALTHY, LOST_LIMIT, NULL, NULL), 0);
        assert_int_equal (none.count, 0);
    }
    //  Lost for lost_limit, a healthy spare reaching the gateway: added, once.
    wa_usec_t now = UP_T0 + LOST_LIMIT;
    s_replies (&watch, WATCH_UP_REACHABLE, now);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now, LOST_LIMIT), 1);
    assert_int_equal (forced.count, 1);
    assert_int_equal (forced.nodes[0], 3);
    assert_int_equal (s_notes.added, 1);
    assert_int_equal (s_notes.node, 3);
    assert_int_equal (s_notes.shard, 1);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now + SEC (1), LOST_LIMIT), 0);
    assert_int_equal (forced.count, 1);
    assert_int_equal (s_notes.added, 1);
    //  Its session open again: withdrawn (told, not added).
    watch_reply (&watch, 3, 0, 1, true, WATCH_UP_SESSION, now + SEC (2));
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now + SEC (2), LOST_LIMIT), 0);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.withdrawn, 1);
    assert_int_equal (s_notes.node, 3);
    assert_false (s_notes.was_added);
    //  Lost again: the time counts afresh (the spare answering all along).
    wa_usec_t again = now + SEC (3);
    s_replies (&watch, WATCH_UP_REACHABLE, again);
    s_replies (&watch, WATCH_UP_REACHABLE, again + LOST_LIMIT - 1);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, again + LOST_LIMIT - 1, LOST_LIMIT), 0);
    s_replies (&watch, WATCH_UP_REACHABLE, again + LOST_LIMIT);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, again + LOST_LIMIT, LOST_LIMIT), 1);
    //  Reaching the gateway without a session is enough to be withdrawn.
    watch_reply (&watch, 3, 0, 1, true, WATCH_UP_REACHABLE, now + SEC (20));
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now + SEC (20), LOST_LIMIT), 0);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.withdrawn, 2);
}

//  No spare that could serve: the holder stays, however long it is lost.
static void
test_upstream_judge_needs_reaching_spare (void **state)
{
    (void) state;
    memset (&s_notes, 0, sizeof s_notes);
    watch_t watch;
    watch_init (&watch, UP_T0);
    uint64_t holders[] = { 3 };
    promote_forced_t forced = { 0 };
    wa_usec_t now = UP_T0 + SEC (30);
    //  The spare answers, but cannot reach the gateway either.
    s_replies (&watch, 0, UP_T0);
    s_replies (&watch, 0, now);
    assert_true (watch_upstream_lost (&watch, 3, now) >= LOST_LIMIT);
    assert_int_equal (s_judge (&forced, &watch, holders, 1, now, LOST_LIMIT), 0);
    assert_int_equal (forced.count, 0);
    //  It reaches the gateway but went silent: late, then unhealthy.
    watch_reply (&watch, 4, UINT32_MAX, 0, false, WATCH_UP_REACHABLE, now);
    now += SEC (2);
    watch_reply (&watch, 3, 0, 1, true, 0, now);
    assert_int_equal (watch_state (&watch, 4, now, UP_HB, UP_UNHEALTHY), WATCH_LATE);
    assert_int_equal (s_judge (&forced, &watch, holders, 1, now, LOST_LIMIT), 0);
    now += SEC (4);
    watch_reply (&watch, 3, 0, 1, true, 0, now);
    assert_int_equal (watch_state (&watch, 4, now, UP_HB, UP_UNHEALTHY), WATCH_UNHEALTHY);
    assert_int_equal (s_judge (&forced, &watch, holders, 1, now, LOST_LIMIT), 0);
    //  Known from the database only (never answered): not known to reach it.
    watch_track (&watch, 6, now);
    assert_int_equal (watch_state (&watch, 6, now, UP_HB, UP_UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (s_judge (&forced, &watch, holders, 1, now, LOST_LIMIT), 0);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.added, 0);
    //  One that reaches it and answers, though it holds a shard itself (a
    //  Coreapp holds several) — once it has reached it for two heartbeats.
    watch_reply (&watch, 5, 1, 1, true, WATCH_UP_SESSION | WATCH_UP_REACHABLE, now);
    uint64_t two[] = { 3, 5 };
    assert_int_equal (s_judge (&forced, &watch, two, 2, now, LOST_LIMIT), 0);
    now += 2 * UP_HB;
    watch_reply (&watch, 3, 0, 1, true, 0, now);
    watch_reply (&watch, 5, 1, 1, true, WATCH_UP_SESSION | WATCH_UP_REACHABLE, now);
    assert_int_equal (s_judge (&forced, &watch, two, 2, now, LOST_LIMIT), 1);
    assert_int_equal (forced.nodes[0], 3);
    assert_int_equal (s_notes.shard, 0);
}

//  lost_limit 0 (upstream_unhealthy_interval 0): the rule is off, and a
//  holder listed before is withdrawn.
static void
test_upstream_judge_off (void **state)
{
    (void) state;
    memset (&s_notes, 0, sizeof s_notes);
    watch_t watch;
    watch_init (&watch, UP_T0);
    uint64_t holders[] = { 3, 7 };
    promote_forced_t forced = { 0 };
    wa_usec_t now = UP_T0 + SEC (60);
    s_replies (&watch, WATCH_UP_REACHABLE, UP_T0);
    watch_reply (&watch, 7, 1, 1, true, 0, UP_T0);
    s_replies (&watch, WATCH_UP_REACHABLE, now);
    watch_reply (&watch, 7, 1, 1, true, 0, now);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now, 0), 0);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.added, 0);
    //  On: both holders lost, both added.
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now, LOST_LIMIT), 2);
    assert_int_equal (forced.count, 2);
    assert_int_equal (s_notes.added, 2);
    //  Off again: both withdrawn, none added.
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now + 1, 0), 0);
    assert_int_equal (forced.count, 0);
    assert_int_equal (s_notes.withdrawn, 2);
    assert_false (s_notes.was_added);
    assert_int_equal (s_notes.shard, -1);
    assert_int_equal (s_judge (&forced, &watch, holders, 2, now + 2, 0), 0);
    assert_int_equal (s_notes.added, 2);
    //  A NULL note is allowed.
    assert_int_equal (promote_upstream_judge (&forced, &watch, holders, 2, now, UP_HB, UP_UNHEALTHY, LOST_LIMIT,
                                              NULL, NULL), 2);
}

static void
test_verdict_upstream (void **state)
{
    (void) state;
    promote_policy_t policy = { .force_reason = "dead by heartbeats", .upstream_reason = "cut off" };
    bool ignored = false;
    promote_shard_t s = HEALTHY;
    policy.upstream[policy.nupstream++] = 9;        //  another holder
    assert_null (promote_verdict (&policy, &s, &ignored));
    policy.upstream[policy.nupstream++] = 3;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "cut off");
    //  Its lease no longer valid: the usual verdicts.
    s.lease_valid = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "shard lease expired");
    s.fresh = false;
    assert_string_equal (promote_verdict (&policy, &s, &ignored), "shard lease expired");
    assert_false (ignored);
    policy.clock_suspect = true;
    assert_null (promote_verdict (&policy, &s, &ignored));
    assert_true (ignored);
    s = HEALTHY; s.running = false; s.lease_valid = false;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "holder stopped");
    //  With a valid lease, whatever the database's clock.
    s = HEALTHY; s.fresh = false;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "cut off");
    //  Dead by heartbeats says more.
    s = HEALTHY;
    policy.force[policy.nforce++] = 3;
    assert_string_equal (promote_verdict (&policy, &s, NULL), "dead by heartbeats");
}

static void
test_pick_upstream (void **state)
{
    (void) state;
    promote_policy_t policy = { .upstream_reason = "cut off" };
    promote_shard_t s = HEALTHY;                    //  holder 3, lease valid
    promote_candidate_t c[] = {
        { .node = 3, .fresh = true, .seen_age = SEC (0.05) },      //  the holder, freshest
        { .node = 7, .fresh = true, .seen_age = SEC (0.1) },       //  cannot reach the gateway
        { .node = 8, .fresh = true, .seen_age = SEC (0.3) },
        { .node = 9, .fresh = true, .seen_age = SEC (0.2) },       //  cannot reach the gateway
        { .node = 10, .fresh = true, .seen_age = SEC (0.6) },
    };
    policy.unreachable[policy.nunreachable++] = 7;
    policy.unreachable[policy.nunreachable++] = 9;
    policy.unreachable[policy.nunreachable++] = 3;
    //  No upstream verdict: the unreachable list does not matter.
    assert_int_equal (promote_pick (&policy, &s, c, 5), 7);
    policy.upstream[policy.nupstream++] = 5;        //  another shard's holder
    assert_int_equal (promote_pick (&policy, &s, c, 5), 7);
    //  Ours cut off: the freshest that reaches the gateway.
    policy.upstream[policy.nupstream++] = 3;
    assert_int_equal (promote_pick (&policy, &s, c, 5), 8);
    policy.exclude[policy.nexclude++] = 8;
    assert_int_equal (promote_pick (&policy, &s, c, 5), 10);
    //  None left that reaches it: none, and never the holder itself, even
    //  when its own replies are not listed unreachable.
    policy.exclude[policy.nexclude++] = 10;
    assert_int_equal (promote_pick (&policy, &s, c, 5), 0);
    policy.nunreachable = 2;                        //  7, 9
    assert_int_equal (promote_pick (&policy, &s, c, 5), 0);
    //  The other rules still hold under it.
    policy.nexclude = 0;
    c[2].held_off = true;
    c[4].fresh = false;
    assert_int_equal (promote_pick (&policy, &s, c, 5), 0);
    c[4].fresh = true;
    c[4].held = 3;                                  //  holding shards does not bar it
    assert_int_equal (promote_pick (&policy, &s, c, 5), 10);
}


//  The monitor as it runs: shard after shard, each pick counted in the
//  next candidates' held (the statement reads the promotions just made).
//  map[s]: shard s's holder (0: none, or one that needs replacing);
//  fresh[i]: whether nodes[i] is up. Fills map.
static void
s_assign (uint64_t *map, int shards, const uint64_t *nodes, const bool *fresh, int count)
{
    promote_policy_t policy = { 0 };
    for (int shard = 0; shard < shards; shard++) {
        bool up = false;
        for (int i = 0; i < count; i++)
            up = up || (nodes[i] == map[shard] && fresh[i]);
        if (up)
            continue;
        promote_shard_t s = { .shard = shard, .node = map[shard], .epoch = 1, .exists = true, .running = true };
        promote_candidate_t c[8];
        for (int i = 0; i < count; i++) {
            c[i] = (promote_candidate_t) { .node = nodes[i], .fresh = fresh[i], .seen_age = SEC (0.1) * (i + 1) };
            for (int other = 0; other < shards; other++)
                if (other != shard && map[other] == nodes[i])
                    c[i].held++;
        }
        map[shard] = promote_pick (&policy, &s, c, count);
    }
}

static int
s_count_held (const uint64_t *map, int shards, uint64_t node)
{
    int held = 0;
    for (int s = 0; s < shards; s++)
        held += map[s] == node;
    return held;
}

static void
test_pick_spreads (void **state)
{
    (void) state;
    uint64_t nodes[] = { 3, 4, 5 };
    bool fresh[] = { true, true, true };
    //  4 shards on 2 Coreapps: 2 + 2.
    uint64_t map[32] = { 0 };
    s_assign (map, 4, nodes, fresh, 2);
    assert_int_equal (s_count_held (map, 4, 3), 2);
    assert_int_equal (s_count_held (map, 4, 4), 2);
    //  4 on 1: all on it.
    memset (map, 0, sizeof map);
    s_assign (map, 4, nodes, fresh, 1);
    assert_int_equal (s_count_held (map, 4, 3), 4);
    //  32 on 3: 11, 11, 10.
    memset (map, 0, sizeof map);
    s_assign (map, 32, nodes, fresh, 3);
    assert_true (s_count_held (map, 32, 3) >= 10 && s_count_held (map, 32, 3) <= 11);
    assert_true (s_count_held (map, 32, 4) >= 10 && s_count_held (map, 32, 4) <= 11);
    assert_true (s_count_held (map, 32, 5) >= 10 && s_count_held (map, 32, 5) <= 11);
    //  6 on 3, then one dies: its 2 go one to each survivor.
    memset (map, 0, sizeof map);
    s_assign (map, 6, nodes, fresh, 3);
    assert_int_equal (s_count_held (map, 6, 5), 2);
    fresh[2] = false;
    s_assign (map, 6, nodes, fresh, 3);
    assert_int_equal (s_count_held (map, 6, 3), 3);
    assert_int_equal (s_count_held (map, 6, 4), 3);
    assert_int_equal (s_count_held (map, 6, 5), 0);
    //  4 on 2, one dies: the survivor holds all 4; it comes back: nothing
    //  moves (no rebalancing: shards move only when they need a primary).
    memset (map, 0, sizeof map);
    fresh[2] = true;
    s_assign (map, 4, nodes, fresh, 2);
    fresh[1] = false;
    s_assign (map, 4, nodes, fresh, 2);
    assert_int_equal (s_count_held (map, 4, 3), 4);
    fresh[1] = true;
    s_assign (map, 4, nodes, fresh, 2);
    assert_int_equal (s_count_held (map, 4, 3), 4);
    //  The failing holder last, even when it holds the fewest.
    promote_policy_t policy = { 0 };
    promote_shard_t s = { .shard = 0, .node = 3, .epoch = 1, .exists = true, .running = true };
    promote_candidate_t c[] = {
        { .node = 3, .fresh = true, .held = 0, .seen_age = SEC (0.1) },
        { .node = 4, .fresh = true, .held = 5, .seen_age = SEC (0.9) },
    };
    assert_int_equal (promote_pick (&policy, &s, c, 2), 4);
    //  Equal counts: the freshest.
    c[0].node = 6;
    c[0].held = 5;
    assert_int_equal (promote_pick (&policy, &s, c, 2), 6);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_verdicts),
        cmocka_unit_test (test_clock_suspect),
        cmocka_unit_test (test_pick),
        cmocka_unit_test (test_pick_spreads),
        cmocka_unit_test (test_is_failover),
        cmocka_unit_test (test_rate_limit),
        cmocka_unit_test (test_forced),
        cmocka_unit_test (test_upstream_judge),
        cmocka_unit_test (test_upstream_judge_needs_reaching_spare),
        cmocka_unit_test (test_upstream_judge_off),
        cmocka_unit_test (test_verdict_upstream),
        cmocka_unit_test (test_pick_upstream),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
