/*  The retention pass's bookkeeping (gc.c): the order of the tables, the
    walks by primary key, the bounds on a pass, the wait between batches,
    what ends a pass. No database: batches come back as results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "gc.h"

#define S(x) ((wa_usec_t) ((x) * 1000000.0))
#define DAY S (86400)

static const int64_t KEEP_ALL[GC_TABLES] = { 7 * DAY, 7 * DAY, 30 * DAY, 7 * DAY };

//  A window of examined rows ending at last, deleted of them, young or not.
static gc_result_t
s_window (int64_t examined, uint64_t last, int64_t deleted, bool young)
{
    gc_result_t r = { .rc = 0, .examined = examined, .last = last, .young = young, .deleted = deleted };
    return r;
}

static gc_result_t
s_events (int64_t deleted)
{
    gc_result_t r = { .rc = 0, .deleted = deleted };
    return r;
}

static void
test_tables_in_turn (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    assert_int_equal (gc_next (&gc, KEEP_ALL), -1);         //  no pass yet
    assert_true (gc_start (&gc, S (100)));
    assert_false (gc_start (&gc, S (100)));                 //  one at a time
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_OUTBOX);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
    //  A full window, not young: the walk goes on after its last row.
    gc_result_t r = s_window (10, 40, 3, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, S (0.01), NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_OUTBOX);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 40);
    //  A window that reaches young rows ends the walk, and it starts over.
    r = s_window (10, 55, 10, true);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, S (0.01), NULL);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_CALLBACKS);
    //  A short window: the end of the table.
    r = s_window (4, 9, 4, false);
    gc_batch_done (&gc, GC_CALLBACKS, 10, &r, S (0.01), NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_EVENTS);
    //  Events: on while a batch deletes all it may.
    r = s_events (10);
    gc_batch_done (&gc, GC_EVENTS, 10, &r, S (0.01), NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_EVENTS);
    r = s_events (2);
    gc_batch_done (&gc, GC_EVENTS, 10, &r, S (0.01), NULL);
    //  Inbound ids, like events: a short batch ends them.
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_INBOUND);
    r = s_events (7);
    gc_batch_done (&gc, GC_INBOUND, 10, &r, S (0.01), NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), -1);
    assert_int_equal (gc_pass_deleted (&gc), 3 + 10 + 4 + 10 + 2 + 7);
    assert_false (gc_more (&gc));
    gc_finish (&gc, S (101.5));
    assert_false (gc.running);
    assert_int_equal (gc.passes, 1);
    assert_int_equal (gc.last_took, S (1.5));
    assert_int_equal (gc.batches_total, 6);
    assert_int_equal (gc.deleted[GC_OUTBOX], 13);
    assert_int_equal (gc.deleted[GC_CALLBACKS], 4);
    assert_int_equal (gc.deleted[GC_EVENTS], 12);
    assert_int_equal (gc.deleted[GC_INBOUND], 7);
    //  The next pass counts from zero, the totals go on.
    assert_true (gc_start (&gc, S (200)));
    assert_int_equal (gc_pass_deleted (&gc), 0);
    assert_int_equal (gc.batches, 0);
    assert_int_equal (gc.deleted[GC_OUTBOX], 13);
}

//  A window with nothing to delete still moves the walk: old pending rows
//  at the front do not stop the rows behind them from going.
static void
test_pending_rows_are_walked_past (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    gc_start (&gc, 0);
    gc_result_t r = s_window (10, 10, 0, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_OUTBOX);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 10);
    r = s_window (10, 20, 10, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 20);
    //  An empty window: the end.
    r = s_window (0, 0, 0, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_CALLBACKS);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
}

//  A table at 0 days is kept: no batch for it, and its walk starts over.
static void
test_kept_tables_skipped (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    int64_t keep[GC_TABLES] = { 0, 7 * DAY, 0, 0 };
    gc_start (&gc, 0);
    assert_int_equal (gc_next (&gc, keep), GC_CALLBACKS);
    gc_result_t r = s_window (3, 3, 3, false);
    gc_batch_done (&gc, GC_CALLBACKS, 10, &r, 1, NULL);
    assert_int_equal (gc_next (&gc, keep), -1);
    gc_finish (&gc, 1);
    //  Turned to 0 in the middle of a pass: that table ends there.
    gc_start (&gc, 2);
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_OUTBOX);
    r = s_window (10, 10, 10, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    int64_t none[GC_TABLES] = { 0, 0, 0, 0 };
    assert_int_equal (gc_next (&gc, none), -1);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
}

//  At most GC_PASS_BATCHES batches per table and pass; the walk goes on
//  from there next pass.
static void
test_pass_bounded (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    gc_start (&gc, 0);
    int batches = 0;
    while (gc_next (&gc, KEEP_ALL) == GC_OUTBOX) {
        uint64_t after = gc_cursor (&gc, GC_OUTBOX);
        gc_result_t r = s_window (10, after + 10, 10, false);
        gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
        batches++;
        assert_true (batches <= GC_PASS_BATCHES);
    }
    assert_int_equal (batches, GC_PASS_BATCHES);
    assert_true (gc_more (&gc));
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 10 * GC_PASS_BATCHES);
    //  Events and inbound ids too.
    while (gc_next (&gc, KEEP_ALL) >= 0) {
        int table = gc_next (&gc, KEEP_ALL);
        gc_result_t r = table == GC_EVENTS || table == GC_INBOUND ? s_events (10) : s_window (0, 0, 0, false);
        gc_batch_done (&gc, table, 10, &r, 1, NULL);
    }
    assert_int_equal (gc.walk[GC_EVENTS].batches, GC_PASS_BATCHES);
    assert_int_equal (gc.walk[GC_INBOUND].batches, GC_PASS_BATCHES);
    gc_finish (&gc, 1);
    gc_start (&gc, 2);
    assert_false (gc_more (&gc));
    assert_int_equal (gc_next (&gc, KEEP_ALL), GC_OUTBOX);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 10 * GC_PASS_BATCHES);
}

//  A failed batch ends the pass and names the table; the walks start over.
static void
test_error_ends_pass (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    gc_start (&gc, 0);
    gc_result_t r = s_window (10, 10, 10, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    r = s_window (0, 0, 0, false);
    r.rc = -1;
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, S (2), "Lock wait timeout exceeded");
    assert_int_equal (gc_next (&gc, KEEP_ALL), -1);
    assert_string_equal (gc.error, "outbox: Lock wait timeout exceeded");
    assert_int_equal (gc.failures, 1);
    assert_int_equal (gc.longest_batch, S (2));
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
    gc_finish (&gc, 5);
    assert_int_equal (gc.passes, 1);
    //  The next pass has no error of its own yet.
    gc_start (&gc, 6);
    assert_string_equal (gc.error, "");
}

//  Dropped (the lease is gone): not counted as a pass, the walks start
//  over, and a batch that comes back afterwards changes nothing.
static void
test_abandon (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    gc_start (&gc, 0);
    gc_result_t r = s_window (10, 10, 10, false);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    gc_abandon (&gc);
    assert_false (gc.running);
    assert_int_equal (gc.passes, 0);
    assert_int_equal (gc_cursor (&gc, GC_OUTBOX), 0);
    gc_batch_done (&gc, GC_OUTBOX, 10, &r, 1, NULL);
    assert_int_equal (gc.deleted[GC_OUTBOX], 10);
    assert_int_equal (gc_next (&gc, KEEP_ALL), -1);
    gc_finish (&gc, 3);
    assert_int_equal (gc.passes, 0);
}

//  The wait between batches: as long as the batch took, at most GC_GAP_MAX.
static void
test_gap (void **state)
{
    (void) state;
    assert_int_equal (gc_gap (S (0.02)), S (0.02));
    assert_int_equal (gc_gap (0), 0);
    assert_int_equal (gc_gap (-5), 0);
    assert_int_equal (gc_gap (S (30)), GC_GAP_MAX);
}

static void
test_stats_json (void **state)
{
    (void) state;
    gc_t gc;
    gc_init (&gc);
    json_t *stats = gc_stats_json (&gc, true, S (10));
    assert_true (json_is_true (json_object_get (stats, "enabled")));
    assert_true (json_is_null (json_object_get (stats, "last_pass_age")));
    json_decref (stats);
    gc_start (&gc, S (1));
    gc_result_t r = s_window (5, 5, 5, false);
    gc_batch_done (&gc, GC_CALLBACKS, 10, &r, S (0.25), NULL);
    gc_finish (&gc, S (2));
    stats = gc_stats_json (&gc, false, S (12));
    assert_true (json_is_false (json_object_get (stats, "enabled")));
    assert_int_equal (json_integer_value (json_object_get (stats, "passes")), 1);
    assert_int_equal (json_integer_value (json_object_get (json_object_get (stats, "deleted"), "callbacks")), 5);
    assert_true (json_real_value (json_object_get (stats, "last_pass_age")) == 10.0);
    assert_true (json_real_value (json_object_get (stats, "longest_batch_seconds")) == 0.25);
    json_decref (stats);
    assert_string_equal (gc_table_name (GC_EVENTS), "events");
    assert_string_equal (gc_table_name (7), "?");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_tables_in_turn),
        cmocka_unit_test (test_pending_rows_are_walked_past),
        cmocka_unit_test (test_kept_tables_skipped),
        cmocka_unit_test (test_pass_bounded),
        cmocka_unit_test (test_error_ends_pass),
        cmocka_unit_test (test_abandon),
        cmocka_unit_test (test_gap),
        cmocka_unit_test (test_stats_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
