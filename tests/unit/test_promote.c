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
        { .node = 5, .fresh = true, .holds_other = true },          //  holds shard 1
        { .node = 6, .fresh = true, .held_off = true },             //  replaced lately
        { .node = 7, .fresh = true, .seen_age = SEC (0.8) },
        { .node = 8, .fresh = true, .seen_age = SEC (0.3) },
    };
    //  The freshest that qualifies; the failing holder only last.
    assert_int_equal (promote_pick (&policy, &s, c, 6), 8);
    policy.exclude[policy.nexclude++] = 8;      //  unhealthy by heartbeats
    assert_int_equal (promote_pick (&policy, &s, c, 6), 7);
    policy.exclude[policy.nexclude++] = 7;
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_verdicts),
        cmocka_unit_test (test_clock_suspect),
        cmocka_unit_test (test_pick),
        cmocka_unit_test (test_is_failover),
        cmocka_unit_test (test_rate_limit),
        cmocka_unit_test (test_forced),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
