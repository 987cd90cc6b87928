/*  The seed's rule and the staged liveness of watch.c, on a fake time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "watch.h"

#define S(x) ((wa_usec_t) ((x) * 1000000.0))
static const wa_usec_t HB = S (0.1), UNHEALTHY = S (0.5);

static void
test_states (void **state)
{
    (void) state;
    watch_t w;
    watch_init (&w, S (10));
    watch_reply (&w, 7, 0, 1, true, true, S (10));
    assert_int_equal (watch_state (&w, 7, S (10.1), HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (watch_state (&w, 7, S (10.15), HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (watch_state (&w, 7, S (10.16), HB, UNHEALTHY), WATCH_LATE);
    assert_int_equal (watch_state (&w, 7, S (10.49), HB, UNHEALTHY), WATCH_LATE);
    assert_int_equal (watch_state (&w, 7, S (10.5), HB, UNHEALTHY), WATCH_UNHEALTHY);
    //  A reply brings it back.
    watch_reply (&w, 7, 0, 1, true, true, S (11));
    assert_int_equal (watch_state (&w, 7, S (11.05), HB, UNHEALTHY), WATCH_HEALTHY);
    //  Never seen: counted from the baseline.
    assert_int_equal (watch_state (&w, 9, S (10.2), HB, UNHEALTHY), WATCH_LATE);
    watch_rebase (&w, S (20));
    assert_int_equal (watch_state (&w, 9, S (20.1), HB, UNHEALTHY), WATCH_HEALTHY);
}

static void
s_secondary_view (watch_t *secondary, char *text, size_t len, wa_usec_t now)
{
    assert_int_equal (watch_report_text (secondary, now, text, len), 0);
}

static void
test_rule_needs_primary_and_one_secondary (void **state)
{
    (void) state;
    watch_t primary, secondary;
    char text[512];
    watch_init (&primary, 0);
    watch_init (&secondary, 0);
    //  Cut off from the primary only: the secondary still hears it.
    watch_reply (&primary, 7, 0, 1, true, true, S (1));
    for (double t = 1; t <= 3; t += 0.1)
        watch_reply (&secondary, 7, 0, 1, true, true, S (t));
    s_secondary_view (&secondary, text, sizeof text, S (3));
    assert_int_equal (watch_report (&primary, 2, text, S (3)), 0);
    assert_false (watch_dead (&primary, 7, S (3), HB, UNHEALTHY));

    //  Cut off from the secondary only: the primary still hears it.
    watch_reply (&primary, 7, 0, 1, true, true, S (3));
    s_secondary_view (&secondary, text, sizeof text, S (4));      //  silent 1 s to it
    assert_int_equal (watch_report (&primary, 2, text, S (4)), 0);
    watch_reply (&primary, 7, 0, 1, true, true, S (4));
    assert_false (watch_dead (&primary, 7, S (4), HB, UNHEALTHY));

    //  Cut off from both: dead.
    s_secondary_view (&secondary, text, sizeof text, S (4.6));
    assert_int_equal (watch_report (&primary, 2, text, S (4.6)), 0);
    assert_false (watch_dead (&primary, 7, S (4.4), HB, UNHEALTHY));
    assert_true (watch_dead (&primary, 7, S (4.6), HB, UNHEALTHY));
    int observers = 0;
    assert_int_equal (watch_votes (&primary, 7, S (4.6), HB, UNHEALTHY, &observers), 1);
    assert_int_equal (observers, 1);
}

static void
test_single_master_never_fires (void **state)
{
    (void) state;
    watch_t primary;
    watch_init (&primary, 0);
    watch_reply (&primary, 7, 0, 1, true, true, S (1));
    assert_false (watch_dead (&primary, 7, S (100), HB, UNHEALTHY));
}

static void
test_stale_report_ignored (void **state)
{
    (void) state;
    watch_t primary;
    watch_init (&primary, 0);
    assert_int_equal (watch_report (&primary, 2, "0:5000 7:5000", S (1)), 0);
    assert_true (watch_dead (&primary, 7, S (1.2), HB, UNHEALTHY));
    //  Three heartbeats later the report no longer counts.
    assert_false (watch_dead (&primary, 7, S (1.31), HB, UNHEALTHY));
}

static void
test_unknown_node_counts_from_reporter_baseline (void **state)
{
    (void) state;
    watch_t primary;
    watch_init (&primary, 0);
    //  The secondary never heard node 7 in its 10 s of watching.
    assert_int_equal (watch_report (&primary, 2, "0:10000 8:0", S (10)), 0);
    assert_true (watch_dead (&primary, 7, S (10), HB, UNHEALTHY));
    //  A secondary that started 0.1 s ago has no opinion yet.
    assert_int_equal (watch_report (&primary, 2, "0:100", S (10)), 0);
    assert_false (watch_dead (&primary, 7, S (10), HB, UNHEALTHY));
}

static void
test_malformed_reports_change_nothing (void **state)
{
    (void) state;
    watch_t primary;
    watch_init (&primary, 0);
    const char *bad[] = { "x", "7", "7:", ":5", "7:-1", "7:5x", "7:5,8:1", "18446744073709551616:1",
                          "7:99999999999999999", NULL };
    for (int i = 0; bad[i]; i++)
        assert_int_equal (watch_report (&primary, 2, bad[i], S (1)), -1);
    assert_int_equal (primary.reporters, 0);
    assert_int_equal (watch_report (&primary, 2, "", S (1)), 0);
    assert_int_equal (watch_report (&primary, 2, "  0:1  7:2 ", S (1)), 0);
}

static void
test_report_text_round_trip (void **state)
{
    (void) state;
    watch_t a, b;
    char text[512];
    watch_init (&a, 0);
    watch_init (&b, 0);
    watch_reply (&a, 7, 0, 1, true, true, S (1));
    watch_reply (&a, 8, UINT32_MAX, 0, false, false, S (1.5));
    assert_int_equal (watch_report_text (&a, S (2), text, sizeof text), 0);
    assert_string_equal (text, "0:2000 7:1000 8:500");
    assert_int_equal (watch_report (&b, 3, text, S (2)), 0);
    assert_int_equal (b.reports[0].count, 2);
    assert_int_equal (watch_report_text (&a, S (2), text, 8), -1);
}

static void
test_new_node_counts_from_when_first_tracked (void **state)
{
    (void) state;
    watch_t w;
    watch_init (&w, 0);
    //  A Coreapp that appears 10 s after we started watching is not 10 s silent.
    watch_track (&w, 7, S (10));
    assert_int_equal (watch_state (&w, 7, S (10.1), HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (watch_state (&w, 7, S (10.5), HB, UNHEALTHY), WATCH_UNHEALTHY);
    //  Tracking it again does not restart its clock.
    watch_track (&w, 7, S (20));
    assert_int_equal (watch_state (&w, 7, S (20), HB, UNHEALTHY), WATCH_UNHEALTHY);
    //  First heard through a reply: the same.
    watch_reply (&w, 8, 0, 0, false, false, S (30));
    assert_int_equal (watch_state (&w, 8, S (30.1), HB, UNHEALTHY), WATCH_HEALTHY);
}

static void
test_forget (void **state)
{
    (void) state;
    watch_t w;
    watch_init (&w, 0);
    for (uint64_t n = 1; n <= 70; n++)
        watch_reply (&w, n, 0, 0, false, false, S (n));
    assert_int_equal (w.count, WATCH_NODES);
    assert_null (watch_find (&w, 1));           //  the oldest made room
    uint64_t keep[] = { 70, 69 };
    watch_forget_others (&w, keep, 2);
    assert_int_equal (w.count, 2);
    assert_non_null (watch_find (&w, 69));
}

//  The upstream bits of a heartbeat reply: the session open (connected,
//  and so reachable), or only the gateway reached.
static void
test_upstream_bits (void **state)
{
    (void) state;
    watch_t w;
    watch_init (&w, 0);
    const struct { unsigned bits; bool connected, reachable; } cases[] = {
        { 0, false, false },
        { WATCH_UP_SESSION, true, true },
        { WATCH_UP_REACHABLE, false, true },
        { WATCH_UP_SESSION | WATCH_UP_REACHABLE, true, true },
        { 0, false, false },                            //  and back
        { WATCH_UP_REACHABLE, false, true },
        { WATCH_UP_SESSION, true, true },
        { WATCH_UP_REACHABLE, false, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        watch_reply (&w, 7, 0, 1, true, cases[i].bits, S (1 + (double) i));
        const watch_node_t *n = watch_find (&w, 7);
        assert_non_null (n);
        if (n->connected != cases[i].connected || n->reachable != cases[i].reachable)
            fail_msg ("reply %zu (bits %u): connected %d reachable %d", i, cases[i].bits, n->connected,
                      n->reachable);
    }
    //  Each node its own.
    watch_reply (&w, 8, UINT32_MAX, 0, false, 0, S (20));
    assert_false (watch_find (&w, 8)->reachable);
    assert_true (watch_find (&w, 7)->reachable);
}

//  How long a node's replies have said, without a break, that it neither
//  has its session nor reaches the gateway.
static void
test_upstream_lost (void **state)
{
    (void) state;
    watch_t w;
    watch_init (&w, 0);
    //  Unknown: not lost.
    assert_int_equal (watch_upstream_lost (&w, 7, S (5)), 0);
    watch_reply (&w, 7, 0, 1, true, WATCH_UP_SESSION, S (9));
    assert_int_equal (watch_upstream_lost (&w, 7, S (10)), 0);
    assert_int_equal (watch_find (&w, 7)->upstream_lost, 0);
    //  From the first reply saying neither...
    watch_reply (&w, 7, 0, 1, true, 0, S (10));
    assert_int_equal (watch_find (&w, 7)->upstream_lost, S (10));
    assert_int_equal (watch_upstream_lost (&w, 7, S (10)), 0);
    assert_int_equal (watch_upstream_lost (&w, 7, S (12.5)), S (2.5));
    //  ... through further such replies.
    watch_reply (&w, 7, 0, 1, true, 0, S (11));
    watch_reply (&w, 7, 0, 1, true, 0, S (12));
    assert_int_equal (watch_find (&w, 7)->upstream_lost, S (10));
    assert_int_equal (watch_upstream_lost (&w, 7, S (13)), S (3));
    //  A reply saying it reaches the gateway ends it...
    watch_reply (&w, 7, 0, 1, true, WATCH_UP_REACHABLE, S (14));
    assert_int_equal (watch_upstream_lost (&w, 7, S (15)), 0);
    assert_int_equal (watch_find (&w, 7)->upstream_lost, 0);
    //  ... the next loss counts from its own start ...
    watch_reply (&w, 7, 0, 1, true, 0, S (16));
    assert_int_equal (watch_upstream_lost (&w, 7, S (17)), S (1));
    //  ... and so does a reply saying its session is open.
    watch_reply (&w, 7, 0, 1, true, WATCH_UP_SESSION, S (18));
    assert_int_equal (watch_upstream_lost (&w, 7, S (19)), 0);
    //  Another node's loss is its own; an unknown node is not lost.
    watch_reply (&w, 8, UINT32_MAX, 0, false, 0, S (18));
    assert_int_equal (watch_upstream_lost (&w, 8, S (19)), S (1));
    assert_int_equal (watch_upstream_lost (&w, 7, S (19)), 0);
    assert_int_equal (watch_upstream_lost (&w, 9, S (19)), 0);
    //  Tracked from the database, never heard: nothing said, not lost.
    watch_track (&w, 10, S (1));
    assert_int_equal (watch_upstream_lost (&w, 10, S (100)), 0);
    //  Forgotten: not lost.
    uint64_t keep[] = { 7 };
    watch_forget_others (&w, keep, 1);
    assert_int_equal (watch_upstream_lost (&w, 8, S (19)), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_states),
        cmocka_unit_test (test_rule_needs_primary_and_one_secondary),
        cmocka_unit_test (test_single_master_never_fires),
        cmocka_unit_test (test_stale_report_ignored),
        cmocka_unit_test (test_unknown_node_counts_from_reporter_baseline),
        cmocka_unit_test (test_malformed_reports_change_nothing),
        cmocka_unit_test (test_report_text_round_trip),
        cmocka_unit_test (test_new_node_counts_from_when_first_tracked),
        cmocka_unit_test (test_forget),
        cmocka_unit_test (test_upstream_bits),
        cmocka_unit_test (test_upstream_lost),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
