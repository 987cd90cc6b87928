/*  Unit tests for promote: the promotion policy (verdicts, the pick of a
    replacement, the heartbeat rule's list, the rate limit). */

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

static void
test_history (void **state)
{
    (void) state;
    promote_history_t history;
    memset (&history, 0, sizeof history);
    promote_history_add (&history, 1, SEC (10));
    promote_history_add (&history, 1, SEC (20));
    promote_history_add (&history, 40, SEC (20));      //  no such shard: ignored
    promote_history_add (&history, -1, SEC (20));
    assert_int_equal (promote_history_blocked (&history, SEC (30), SEC (60), 2), 1u << 1);
    assert_int_equal (promote_history_blocked (&history, SEC (30), SEC (60), 3), 0);
    //  The first leaves the window.
    assert_int_equal (promote_history_blocked (&history, SEC (75), SEC (60), 2), 0);
    promote_policy_t policy = { .blocked = 1u << 1 };
    assert_true (promote_blocked (&policy, 1));
    assert_false (promote_blocked (&policy, 0));
    assert_false (promote_blocked (&policy, 99));
    //  A long history keeps the latest.
    for (int i = 0; i < PROMOTE_HISTORY + 5; i++)
        promote_history_add (&history, 2, SEC (100 + i));
    assert_int_equal (history.count[2], PROMOTE_HISTORY);
    assert_int_equal (history.at[2][PROMOTE_HISTORY - 1], SEC (100 + PROMOTE_HISTORY + 4));
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
        cmocka_unit_test (test_history),
        cmocka_unit_test (test_forced),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
