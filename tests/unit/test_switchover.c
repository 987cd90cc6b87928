/*  Unit tests for switchover_choose (src/wamaster/switchover.c): how the
    primary Master checks a planned switchover request against the
    database's holders and epochs and its heartbeat view, and which
    Coreapp it picks as the new holder. Time is an argument: no sleeping. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "switchover.h"

#define SEC(s) ((wa_usec_t) ((s) * WA_USEC_PER_SEC))

static const wa_usec_t HB = SEC (1), UNHEALTHY = SEC (5), T0 = SEC (1000);

//  Shard 0 is held by coreapp 1 at epoch 10, shard 1 by coreapp 2 at epoch
//  20, shard 2 by nobody.
#define NSHARDS 3
static const uint64_t HOLDERS[NSHARDS] = { 1, 2, 0 };
static const uint64_t EPOCHS[NSHARDS] = { 10, 20, 0 };

typedef struct {
    switchovers_t sw;
    watch_t watch;
    uint64_t from, epoch, to;
    char why[300];
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = test_calloc (1, sizeof *f);
    watch_init (&f->watch, T0);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    switchovers_destroy (&f->sw);
    test_free (f);
    return 0;
}

static void
s_reply (fixture_t *f, uint64_t node, uint32_t shard, wa_usec_t at)
{
    watch_reply (&f->watch, node, shard, shard == UINT32_MAX ? 0 : EPOCHS[shard], shard != UINT32_MAX,
                 WATCH_UP_SESSION | WATCH_UP_REACHABLE, at);
}

//  The outputs are poisoned before each call, so a test sees what the call set.
static int
s_choose (fixture_t *f, int shard, uint64_t asked_to, wa_usec_t now)
{
    f->from = f->epoch = f->to = 0xdead;
    memset (f->why, 0, sizeof f->why);
    return switchover_choose (&f->sw, &f->watch, HOLDERS, EPOCHS, NSHARDS, shard, asked_to, now, HB, UNHEALTHY,
                              &f->from, &f->epoch, &f->to, f->why, sizeof f->why);
}

//  A refusal: the status, and a reason containing text.
static void
s_refused (fixture_t *f, int shard, uint64_t asked_to, wa_usec_t now, int status, const char *text)
{
    assert_int_equal (s_choose (f, shard, asked_to, now), status);
    assert_true (strlen (f->why) > 0);
    if (!strstr (f->why, text))
        fail_msg ("shard %d to %llu: \"%s\" does not say \"%s\"", shard, (unsigned long long) asked_to, f->why,
                  text);
}

//  Everyone healthy: the two holders, spares 5 and 6.
static void
s_all_healthy (fixture_t *f, wa_usec_t now)
{
    s_reply (f, 1, 0, now);
    s_reply (f, 2, 1, now);
    s_reply (f, 5, UINT32_MAX, now);
    s_reply (f, 6, UINT32_MAX, now);
}

//  --------------------------------------------------------------------------
//  Refusals

static void
test_no_such_shard (void **state)
{
    fixture_t *f = *state;
    s_all_healthy (f, T0);
    s_refused (f, -1, 0, T0, 404, "no shard -1");
    s_refused (f, NSHARDS, 0, T0, 404, "no shard 3");
    s_refused (f, NSHARDS + 5, 5, T0, 404, "no shard 8");
    s_refused (f, -1000, 5, T0, 404, "no shard");
    //  Beyond the table of pending switchovers, however many holders are given.
    uint64_t holders[WA_SHARDS_MAX + 1], epochs[WA_SHARDS_MAX + 1];
    for (int s = 0; s <= WA_SHARDS_MAX; s++) {
        holders[s] = 1;
        epochs[s] = 1;
    }
    assert_int_equal (switchover_choose (&f->sw, &f->watch, holders, epochs, WA_SHARDS_MAX + 1, WA_SHARDS_MAX, 5,
                                         T0, HB, UNHEALTHY, &f->from, &f->epoch, &f->to, f->why, sizeof f->why),
                      404);
    //  The last shard there is, is one.
    assert_int_equal (switchover_choose (&f->sw, &f->watch, holders, epochs, WA_SHARDS_MAX, WA_SHARDS_MAX - 1, 5,
                                         T0, HB, UNHEALTHY, &f->from, &f->epoch, &f->to, f->why, sizeof f->why),
                      0);
}

static void
test_switchover_under_way (void **state)
{
    fixture_t *f = *state;
    s_all_healthy (f, T0);
    f->sw.pending[0].phase = SWITCHOVER_ASKED;
    f->sw.pending[0].to = 6;
    s_refused (f, 0, 0, T0, 409, "under way");
    s_refused (f, 0, 5, T0, 409, "under way");
    f->sw.pending[0].phase = SWITCHOVER_HANDED;
    s_refused (f, 0, 5, T0, 409, "under way");
    assert_true (switchovers_any (&f->sw));
    //  Another shard's is not held up by it.
    assert_int_equal (s_choose (f, 1, 5, T0), 0);
    assert_int_equal (f->to, 5);
    //  Done: shard 0 may be switched over again.
    f->sw.pending[0].phase = SWITCHOVER_NONE;
    assert_false (switchovers_any (&f->sw));
    assert_int_equal (s_choose (f, 0, 5, T0), 0);
}

static void
test_no_holder (void **state)
{
    fixture_t *f = *state;
    s_all_healthy (f, T0);
    s_refused (f, 2, 0, T0, 409, "no primary");
    s_refused (f, 2, 5, T0, 409, "no primary");
}

static void
test_holder_not_healthy (void **state)
{
    fixture_t *f = *state;
    //  Holder 1 replied last at T0; the spares keep replying.
    s_all_healthy (f, T0);
    wa_usec_t now = T0 + HB + HB / 2;               //  just on time
    s_reply (f, 5, UINT32_MAX, now);
    assert_int_equal (s_choose (f, 0, 5, now), 0);
    now = T0 + HB + HB / 2 + 1;                     //  late
    s_reply (f, 5, UINT32_MAX, now);
    assert_int_equal (watch_state (&f->watch, 1, now, HB, UNHEALTHY), WATCH_LATE);
    s_refused (f, 0, 5, now, 409, "not answering");
    s_refused (f, 0, 0, now, 409, "not answering");
    now = T0 + UNHEALTHY;                           //  unhealthy
    s_reply (f, 5, UINT32_MAX, now);
    assert_int_equal (watch_state (&f->watch, 1, now, HB, UNHEALTHY), WATCH_UNHEALTHY);
    s_refused (f, 0, 5, now, 409, "coreapp 1");
    //  It answers again.
    s_reply (f, 1, 0, now);
    assert_int_equal (s_choose (f, 0, 5, now), 0);
}

//  A holder the heartbeat view has no entry for is not known to answer.
static void
test_holder_unknown_to_watch (void **state)
{
    fixture_t *f = *state;
    s_reply (f, 5, UINT32_MAX, T0);
    assert_null (watch_find (&f->watch, 1));
    s_refused (f, 0, 5, T0, 409, "not answering");
    s_refused (f, 0, 0, T0, 409, "not answering");
}

static void
test_named_target_refused (void **state)
{
    fixture_t *f = *state;
    s_all_healthy (f, T0);
    //  The holder itself.
    s_refused (f, 0, 1, T0, 409, "primary already");
    //  Not a Coreapp we know.
    s_refused (f, 0, 77, T0, 409, "not a Coreapp that is up");
    //  The holder of another shard may take it (a Coreapp holds several).
    assert_int_equal (s_choose (f, 0, 2, T0), 0);
    assert_int_equal (f->to, 2);
    assert_int_equal (s_choose (f, 1, 1, T0), 0);
    assert_int_equal (f->to, 1);
    //  A spare that stopped answering: late, then unhealthy.
    wa_usec_t now = T0 + SEC (2);
    s_reply (f, 1, 0, now);
    s_reply (f, 6, UINT32_MAX, now);
    assert_int_equal (watch_state (&f->watch, 5, now, HB, UNHEALTHY), WATCH_LATE);
    s_refused (f, 0, 5, now, 409, "not answering");
    now = T0 + SEC (6);
    s_reply (f, 1, 0, now);
    s_refused (f, 0, 5, now, 409, "not answering");
    //  6 replied at T0 + 2, 4 s ago: late too, until it answers.
    s_refused (f, 0, 6, now, 409, "not answering");
    s_reply (f, 6, UINT32_MAX, now);
    assert_int_equal (s_choose (f, 0, 6, now), 0);
    assert_int_equal (f->to, 6);
}

static void
test_no_spare (void **state)
{
    fixture_t *f = *state;
    //  Only the holder answers.
    s_reply (f, 1, 0, T0);
    s_refused (f, 0, 0, T0, 503, "no other Coreapp");
    //  A spare that is late is no spare.
    s_reply (f, 5, UINT32_MAX, T0);
    wa_usec_t now = T0 + SEC (2);
    s_reply (f, 1, 0, now);
    s_refused (f, 0, 0, now, 503, "no other Coreapp");
    //  The other holder answers: it takes the shard (a Coreapp holds several).
    s_reply (f, 2, 1, now);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 2);
}

//  --------------------------------------------------------------------------
//  Picks

static void
test_named_target_accepted (void **state)
{
    fixture_t *f = *state;
    s_all_healthy (f, T0);
    assert_int_equal (s_choose (f, 0, 5, T0), 0);
    assert_int_equal (f->from, 1);
    assert_int_equal (f->epoch, 10);
    assert_int_equal (f->to, 5);
    //  The named one even when another answered later.
    s_reply (f, 6, UINT32_MAX, T0 + SEC (0.5));
    assert_int_equal (s_choose (f, 1, 5, T0 + SEC (0.5)), 0);
    assert_int_equal (f->from, 2);
    assert_int_equal (f->epoch, 20);
    assert_int_equal (f->to, 5);
}

static void
test_auto_pick_most_recent (void **state)
{
    fixture_t *f = *state;
    s_reply (f, 1, 0, T0);
    s_reply (f, 2, 1, T0);
    s_reply (f, 5, UINT32_MAX, T0 + SEC (0.1));
    s_reply (f, 6, UINT32_MAX, T0 + SEC (0.3));     //  the latest
    s_reply (f, 7, UINT32_MAX, T0 + SEC (0.2));
    wa_usec_t now = T0 + SEC (0.4);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->from, 1);
    assert_int_equal (f->epoch, 10);
    assert_int_equal (f->to, 6);
    assert_int_equal (s_choose (f, 1, 0, now), 0);
    assert_int_equal (f->epoch, 20);
    assert_int_equal (f->to, 6);
    //  Another answers later still.
    s_reply (f, 5, UINT32_MAX, T0 + SEC (0.35));
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 5);
    //  The latest is not healthy any more: the latest of the healthy.
    s_reply (f, 1, 0, T0 + SEC (1.7));
    s_reply (f, 6, UINT32_MAX, T0 + SEC (1.6));
    s_reply (f, 7, UINT32_MAX, T0 + SEC (1.65));
    now = T0 + SEC (1.9);                           //  5 last replied 1.55 s ago: late
    assert_int_equal (watch_state (&f->watch, 5, now, HB, UNHEALTHY), WATCH_LATE);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 7);
}

//  A Coreapp tracked from the database but never heard from is healthy
//  for a while; it is picked only when no heard one is fit.
static void
test_never_heard_comes_last (void **state)
{
    fixture_t *f = *state;
    watch_track (&f->watch, 9, T0);                 //  first in the view
    s_reply (f, 1, 0, T0);
    s_reply (f, 2, 1, T0);
    s_reply (f, 5, UINT32_MAX, T0 + SEC (0.1));
    watch_track (&f->watch, 8, T0 + SEC (0.2));     //  tracked later than 5 replied
    wa_usec_t now = T0 + SEC (0.3);
    assert_int_equal (watch_state (&f->watch, 9, now, HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (watch_state (&f->watch, 8, now, HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 5);
    //  The heard one goes late: a never-heard one, still in its grace, is
    //  taken (it has not said it cannot reach the gateway).
    now = T0 + SEC (1.65);
    s_reply (f, 1, 0, now);
    assert_int_equal (watch_state (&f->watch, 5, now, HB, UNHEALTHY), WATCH_LATE);
    assert_int_equal (watch_state (&f->watch, 8, now, HB, UNHEALTHY), WATCH_HEALTHY);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 8);
    //  A never-heard one may be named, while not late.
    assert_int_equal (s_choose (f, 0, 8, now), 0);
    assert_int_equal (f->to, 8);
    s_refused (f, 0, 9, now, 409, "not answering");
}

static void
test_unreachable_never_picked (void **state)
{
    fixture_t *f = *state;
    s_reply (f, 1, 0, T0);
    s_reply (f, 2, 1, T0);
    s_reply (f, 5, UINT32_MAX, T0);
    //  6 answered last, but cannot reach the gateway (its session bit alone
    //  would do: it is not primary, so it has no session).
    watch_reply (&f->watch, 6, UINT32_MAX, 0, false, 0, T0 + SEC (0.1));
    assert_int_equal (s_choose (f, 0, 0, T0 + SEC (0.2)), 0);
    assert_int_equal (f->to, 5);
    s_refused (f, 0, 6, T0 + SEC (0.2), 409, "cannot reach the upstream");
    watch_reply (&f->watch, 5, UINT32_MAX, 0, false, 0, T0 + SEC (0.15));
    //  Then only the other holder reaches it.
    assert_int_equal (s_choose (f, 0, 0, T0 + SEC (0.2)), 0);
    assert_int_equal (f->to, 2);
    watch_reply (&f->watch, 2, 1, EPOCHS[1], true, 0, T0 + SEC (0.15));
    s_refused (f, 0, 0, T0 + SEC (0.2), 503, "reaches the upstream");
}

static void
test_target_of_another_switchover (void **state)
{
    fixture_t *f = *state;
    s_reply (f, 1, 0, T0);
    s_reply (f, 2, 1, T0);
    s_reply (f, 5, UINT32_MAX, T0);
    s_reply (f, 6, UINT32_MAX, T0 + SEC (0.05));
    f->sw.pending[0].phase = SWITCHOVER_ASKED;
    f->sw.pending[0].shard = 0;
    f->sw.pending[0].to = 6;
    s_refused (f, 1, 6, T0 + SEC (0.1), 409, "taking another shard");
    assert_int_equal (s_choose (f, 1, 0, T0 + SEC (0.1)), 0);
    assert_int_equal (f->to, 5);
    f->sw.pending[0].phase = SWITCHOVER_NONE;
    assert_int_equal (s_choose (f, 1, 0, T0 + SEC (0.1)), 0);
    assert_int_equal (f->to, 6);
}

//  The Coreapp holding the fewest shards (by the database) first, then the
//  one that answered last.
static void
test_fewest_shards_picked (void **state)
{
    fixture_t *f = *state;
    s_reply (f, 5, UINT32_MAX, T0);
    s_reply (f, 1, 0, T0 + SEC (0.1));
    s_reply (f, 2, 1, T0 + SEC (0.2));              //  answers last, holds shard 1
    //  Coreapp 3's reply says it holds shard 2, but by the database
    //  (holders[]) nobody does: the database decides.
    watch_reply (&f->watch, 3, 2, 1, true, WATCH_UP_SESSION, T0 + SEC (0.15));
    wa_usec_t now = T0 + SEC (0.3);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 3);
    //  Without 3: 5 (none held) before 2 (one), never the holder.
    uint64_t keep[] = { 1, 2, 5 };
    watch_forget_others (&f->watch, keep, 3);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 5);
    assert_int_equal (s_choose (f, 1, 0, now), 0);
    assert_int_equal (f->to, 5);
    //  Without a spare: the other holder.
    uint64_t holders_only[] = { 1, 2 };
    watch_forget_others (&f->watch, holders_only, 2);
    assert_int_equal (s_choose (f, 0, 0, now), 0);
    assert_int_equal (f->to, 2);
    assert_int_equal (s_choose (f, 1, 0, now), 0);
    assert_int_equal (f->to, 1);
}

static void
test_rebalance (void **state)
{
    fixture_t *f = *state;
    int shard = -1;
    uint64_t from = 0, epoch = 0, to = 0;
    //  4 shards all on 1; 2 answers too (and holds none): shard 3 moves to 2.
    uint64_t holders[4] = { 1, 1, 1, 1 }, epochs[4] = { 5, 6, 7, 8 };
    s_reply (f, 1, 0, T0);
    watch_reply (&f->watch, 2, UINT32_MAX, 0, false, WATCH_UP_REACHABLE, T0);
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), 0);
    assert_int_equal (shard, 3);
    assert_int_equal (from, 1);
    assert_int_equal (epoch, 8);
    assert_int_equal (to, 2);
    //  3 + 1: one more move, shard 2.
    holders[3] = 2;
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), 0);
    assert_int_equal (shard, 2);
    //  2 + 2: even.
    holders[2] = 2;
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    //  3 shards on 2: 2 + 1 is as even as it gets.
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 3, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    //  Not while a shard has no holder, nor while a switchover runs.
    uint64_t gap[4] = { 1, 1, 1, 0 };
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, gap, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    holders[2] = holders[3] = 1;
    f->sw.pending[1].phase = SWITCHOVER_ASKED;
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    f->sw.pending[1].phase = SWITCHOVER_NONE;
    //  Not to one that cannot reach the gateway, nor one late to answer,
    //  nor one never heard from.
    watch_reply (&f->watch, 2, UINT32_MAX, 0, false, 0, T0);
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0, HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    watch_reply (&f->watch, 2, UINT32_MAX, 0, false, WATCH_UP_REACHABLE, T0);
    s_reply (f, 1, 0, T0 + SEC (2));
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0 + SEC (2), HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
    uint64_t keep[] = { 1 };
    watch_forget_others (&f->watch, keep, 1);
    watch_track (&f->watch, 2, T0 + SEC (2));
    assert_int_equal (switchover_rebalance (&f->sw, &f->watch, holders, epochs, 4, T0 + SEC (2), HB, UNHEALTHY,
                                            &shard, &from, &epoch, &to), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_no_such_shard, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_switchover_under_way, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_holder, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_holder_not_healthy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_holder_unknown_to_watch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_named_target_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_spare, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_named_target_accepted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_auto_pick_most_recent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_never_heard_comes_last, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unreachable_never_picked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_target_of_another_switchover, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fewest_shards_picked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rebalance, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
