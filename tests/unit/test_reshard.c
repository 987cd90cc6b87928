/*  Unit tests for reshard_plan (the new layout's rows from the old one's)
    and the layout arithmetic it rests on (wa_shards_valid,
    wa_shards_intersect): which old leases a new shard's first holder
    waits for, and when it may log in at once. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "wa_message.h"
#include "reshard.h"

static void
test_counts (void **state)
{
    (void) state;
    int valid[] = { 1, 2, 4, 8, 16, 32 };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_true (wa_shards_valid (valid[i]));
    int invalid[] = { 0, -1, 3, 5, 6, 12, 33, 64 };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_false (wa_shards_valid (invalid[i]));
}

//  By brute force over recipients: two shards intersect exactly when some
//  recipient is served by both.
static void
test_intersect (void **state)
{
    (void) state;
    int counts[] = { 1, 2, 4, 8, 16, 32 };
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            int n = counts[a], m = counts[b];
            bool seen[32][32] = { { false } };
            for (int r = 0; r < 4000; r++) {
                char to[16];
                snprintf (to, sizeof to, "1631555%04d", r);
                seen[wa_message_shard (to, n)][wa_message_shard (to, m)] = true;
            }
            for (int s = 0; s < n; s++)
                for (int t = 0; t < m; t++)
                    assert_int_equal (wa_shards_intersect (s, n, t, m), seen[s][t]);
        }
}

static reshard_old_t
s_old (int shard, uint64_t node, uint64_t epoch, const char *expires, bool released)
{
    reshard_old_t o = { .shard = shard, .node = node, .epoch = epoch, .released = released };
    snprintf (o.expires_at, sizeof o.expires_at, "%s", expires);
    return o;
}

//  1 → 2: both new shards wait for the one old lease; at once only if its
//  holder confirmed its logout.
static void
test_split (void **state)
{
    (void) state;
    reshard_old_t old[1] = { s_old (0, 7, 5, "2026-12-05 10:00:00.500000", true) };
    reshard_new_t rows[2];
    assert_int_equal (reshard_plan (old, 1, 2, rows), 0);
    for (int s = 0; s < 2; s++) {
        assert_int_equal (rows[s].shard, s);
        assert_int_equal (rows[s].epoch, 5);
        assert_int_equal (rows[s].prev_node, 7);
        assert_string_equal (rows[s].prev_expires_at, "2026-12-05 10:00:00.500000");
        assert_true (rows[s].prev_closed);
    }
    old[0].released = false;
    assert_int_equal (reshard_plan (old, 1, 2, rows), 0);
    assert_false (rows[0].prev_closed);
    assert_false (rows[1].prev_closed);
}

//  4 → 2: new shard 0 covers old 0 and 2, new 1 covers old 1 and 3; the
//  latest lease of each pair, and closed only when both were released.
static void
test_merge (void **state)
{
    (void) state;
    reshard_old_t old[4] = {
        s_old (0, 3, 9, "2026-12-05 10:00:01.000000", true),
        s_old (1, 4, 2, "2026-12-05 10:00:03.000000", true),
        s_old (2, 4, 6, "2026-12-05 10:00:02.000000", false),
        s_old (3, 3, 4, "2026-12-05 10:00:00.000000", true),
    };
    reshard_new_t rows[2];
    assert_int_equal (reshard_plan (old, 4, 2, rows), 0);
    assert_int_equal (rows[0].epoch, 9);
    assert_int_equal (rows[1].epoch, 9);
    assert_int_equal (rows[0].prev_node, 4);
    assert_string_equal (rows[0].prev_expires_at, "2026-12-05 10:00:02.000000");
    assert_false (rows[0].prev_closed);
    assert_int_equal (rows[1].prev_node, 4);
    assert_string_equal (rows[1].prev_expires_at, "2026-12-05 10:00:03.000000");
    assert_true (rows[1].prev_closed);
}

//  A shard never held has nothing to wait for; an old row with a lease
//  left, a count that is not valid, or rows out of order: no plan.
static void
test_refused (void **state)
{
    (void) state;
    reshard_old_t old[2] = {
        s_old (0, 0, 0, "1970-01-02 00:00:00.000000", false),
        s_old (1, 5, 1, "2026-12-05 10:00:00.000000", true),
    };
    reshard_new_t rows[32];
    assert_int_equal (reshard_plan (old, 2, 32, rows), 0);
    for (int s = 0; s < 32; s++) {
        assert_int_equal (rows[s].prev_node, s % 2 ? 5 : 0);
        assert_true (rows[s].prev_closed);
    }
    assert_int_equal (reshard_plan (old, 2, 3, rows), -1);
    assert_int_equal (reshard_plan (old, 3, 2, rows), -1);
    old[1].lease_valid = true;
    assert_int_equal (reshard_plan (old, 2, 4, rows), -1);
    old[1].lease_valid = false;
    old[1].shard = 0;
    assert_int_equal (reshard_plan (old, 2, 4, rows), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_counts),
        cmocka_unit_test (test_intersect),
        cmocka_unit_test (test_split),
        cmocka_unit_test (test_merge),
        cmocka_unit_test (test_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
