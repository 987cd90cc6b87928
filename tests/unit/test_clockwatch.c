/*  Unit tests for wa_clockwatch: a step of the database's clock seen
    between two readings of NOW(6), within the readings' uncertainty. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "wa_clockwatch.h"

#define SEC(s) ((wa_usec_t) ((s) * WA_USEC_PER_SEC))
#define MS(ms) ((wa_usec_t) (ms) * 1000)
#define DB0 SEC (1700000000)            //  the database's clock at mono 0

static void
test_agreeing_clocks (void **state)
{
    (void) state;
    wa_clockwatch_t watch = { 0 };
    //  The first reading has nothing to compare with.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0, 0, MS (2), SEC (1)), 0);
    //  Readings every 300 ms, NOW(6) taken anywhere in each round trip,
    //  and a database that answered one late by 900 ms: no step.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (300), MS (300), MS (301), SEC (1)), 0);
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (1500), MS (600), MS (1500), SEC (1)), 0);
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (1800), MS (1800), MS (1802), SEC (1)), 0);
    //  A drift well under the threshold: no step.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (2700), SEC (2), MS (2001), SEC (1)), 0);
    assert_int_equal (watch.steps, 0);
    assert_false (wa_clockwatch_recent (&watch, SEC (3), SEC (100)));
}

static void
test_forward_and_backward (void **state)
{
    (void) state;
    wa_clockwatch_t watch = { 0 };
    wa_clockwatch_feed (&watch, DB0, 0, MS (1), SEC (1));
    //  20 s forward between two readings 300 ms apart.
    int64_t step = wa_clockwatch_feed (&watch, DB0 + SEC (20.3), MS (300), MS (301), SEC (1));
    assert_true (step > SEC (19.9) && step < SEC (20.1));
    assert_int_equal (watch.steps, 1);
    assert_true (wa_clockwatch_recent (&watch, SEC (5), SEC (10)));
    assert_false (wa_clockwatch_recent (&watch, SEC (11), SEC (10)));
    //  The next reading agrees with the stepped clock: no second step.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + SEC (20.6), MS (600), MS (601), SEC (1)), 0);
    //  And back by 20 s.
    step = wa_clockwatch_feed (&watch, DB0 + SEC (0.9), MS (900), MS (901), SEC (1));
    assert_true (step < -SEC (19.9) && step > -SEC (20.1));
    assert_int_equal (watch.steps, 2);
    assert_int_equal (watch.last_step, step);
}

//  The threshold is the caller's (half of lease_margin), never below 0.1 s.
static void
test_threshold (void **state)
{
    (void) state;
    wa_clockwatch_t watch = { 0 };
    wa_clockwatch_feed (&watch, DB0, 0, MS (1), MS (250));
    assert_true (wa_clockwatch_feed (&watch, DB0 + MS (300) + MS (300), MS (300), MS (301), MS (250)) > 0);
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (900) + MS (200), MS (600), MS (601), MS (250)), 0);
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + MS (1400) + MS (90), MS (900), MS (901), 0), 0);
    assert_true (wa_clockwatch_feed (&watch, DB0 + MS (1700) + MS (300), MS (1200), MS (1201), 0) > 0);
}

static void
test_uncertainty_and_order (void **state)
{
    (void) state;
    wa_clockwatch_t watch = { 0 };
    wa_clockwatch_feed (&watch, DB0, 0, MS (1), SEC (1));
    //  A 1.5 s jump within a 2 s round trip: it may be the wait, not a step.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + SEC (2.5), MS (10), MS (2010), SEC (1)), 0);
    //  A reading sent before the one held (answers out of order): ignored.
    assert_int_equal (wa_clockwatch_feed (&watch, DB0 + SEC (60), MS (5), MS (6), SEC (1)), 0);
    assert_int_equal (watch.db, DB0 + SEC (2.5));
    //  The same 1.5 s between two readings with short round trips is a step.
    wa_usec_t db = DB0 + SEC (2.5) + MS (1990);
    assert_int_equal (wa_clockwatch_feed (&watch, db, SEC (3), MS (3001), SEC (1)), 0);
    assert_true (wa_clockwatch_feed (&watch, db + SEC (0.3) + SEC (1.5), MS (3300), MS (3301), SEC (1)) > 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_agreeing_clocks),
        cmocka_unit_test (test_forward_and_backward),
        cmocka_unit_test (test_uncertainty_and_order),
        cmocka_unit_test (test_threshold),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
