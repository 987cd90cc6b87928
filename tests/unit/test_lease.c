/*  Unit tests for wa_lease and wa_clock: the local deadline of a lease held
    in the database, measured on a fake clock. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "wa_clock.h"
#include "wa_lease.h"

#define SEC(s) ((wa_usec_t) (s) * WA_USEC_PER_SEC)
#define MS(ms) ((wa_usec_t) (ms) * 1000)

#define TTL    SEC (10)
#define MARGIN SEC (1)

//  The fake clock: tests move it by hand.
static wa_usec_t s_now;

static wa_usec_t
s_fake_clock (void)
{
    return s_now;
}

static void
s_advance (wa_usec_t usec)
{
    s_now += usec;
}

static int
s_setup (void **state)
{
    (void) state;
    s_now = SEC (1000);         //  an arbitrary, non-zero start
    wa_clock_set_fake (s_fake_clock);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    wa_clock_set_fake (NULL);
    return 0;
}

//  Init, then one successful renewal sent now with epoch; returns the send time.
static wa_usec_t
s_acquire (wa_lease_t *lease, uint64_t epoch)
{
    wa_lease_init (lease, TTL, MARGIN);
    wa_usec_t sent = wa_clock_mono ();
    wa_lease_renewed (lease, sent, epoch);
    return sent;
}

// --------------------------------------------------------------------------

static void
test_fake_clock (void **state)
{
    (void) state;
    assert_int_equal (wa_clock_mono (), SEC (1000));
    s_advance (MS (250));
    assert_int_equal (wa_clock_mono (), SEC (1000) + MS (250));
}

static void
test_init_not_held (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_lease_init (&lease, TTL, MARGIN);
    assert_false (lease.held);
    assert_int_equal (lease.epoch, 0);
    assert_int_equal (lease.ttl, TTL);
    assert_int_equal (lease.margin, MARGIN);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    assert_int_equal (wa_lease_remaining (&lease, 0), 0);
}

//  deadline = sent_at + ttl - margin, whenever the reply arrives
static void
test_deadline_from_send_time (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_lease_init (&lease, TTL, MARGIN);
    wa_usec_t sent = wa_clock_mono ();
    s_advance (MS (5));                         //  a prompt reply
    wa_lease_renewed (&lease, sent, 1);
    assert_true (lease.held);
    assert_int_equal (lease.epoch, 1);
    assert_int_equal (lease.deadline, sent + TTL - MARGIN);
    assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), TTL - MARGIN - MS (5));
}

//  A reply that arrives late leaves less time, not a fresh ttl.
static void
test_late_reply_shorter_remaining (void **state)
{
    (void) state;
    wa_lease_t prompt, late;
    wa_lease_init (&prompt, TTL, MARGIN);
    wa_lease_init (&late, TTL, MARGIN);

    wa_usec_t sent = wa_clock_mono ();
    s_advance (MS (10));
    wa_lease_renewed (&prompt, sent, 1);
    wa_usec_t prompt_left = wa_lease_remaining (&prompt, wa_clock_mono ());
    assert_int_equal (prompt_left, TTL - MARGIN - MS (10));

    //  Same send time, the reply three seconds later
    s_advance (SEC (3));
    wa_lease_renewed (&late, sent, 1);
    wa_usec_t late_left = wa_lease_remaining (&late, wa_clock_mono ());
    assert_int_equal (late.deadline, sent + TTL - MARGIN);
    assert_int_equal (late_left, TTL - MARGIN - SEC (3) - MS (10));
    assert_true (late_left < prompt_left);
    //  never more than ttl - margin after the reply
    assert_true (late_left < TTL - MARGIN);
}

//  Valid up to one microsecond before the deadline; not at it nor after.
static void
test_valid_until_deadline (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t sent = s_acquire (&lease, 7);
    wa_usec_t deadline = sent + TTL - MARGIN;

    assert_true (wa_lease_valid (&lease, sent));
    assert_true (wa_lease_valid (&lease, deadline - SEC (1)));
    assert_true (wa_lease_valid (&lease, deadline - 1));
    assert_int_equal (wa_lease_remaining (&lease, deadline - 1), 1);
    assert_int_equal (wa_lease_remaining (&lease, deadline), 0);
    assert_int_equal (wa_lease_remaining (&lease, deadline + SEC (5)), 0);
    assert_false (wa_lease_valid (&lease, deadline));
    assert_false (lease.held);
    assert_false (wa_lease_valid (&lease, deadline + 1));
    assert_false (wa_lease_valid (&lease, deadline + SEC (100)));
}

//  Also when the first look comes well after the deadline.
static void
test_invalid_after_deadline (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t sent = s_acquire (&lease, 1);
    s_advance (TTL);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    (void) sent;
}

//  Once lost, the lease stays lost until a new successful renewal, even
//  when asked about an earlier instant.
static void
test_stays_lost_until_renewal (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t sent = s_acquire (&lease, 3);
    wa_usec_t deadline = sent + TTL - MARGIN;
    assert_false (wa_lease_valid (&lease, deadline));
    assert_false (wa_lease_valid (&lease, deadline - 1));
    assert_false (wa_lease_valid (&lease, sent));
    assert_int_equal (wa_lease_remaining (&lease, sent), 0);

    //  A new renewal sent later brings it back
    s_now = deadline + SEC (1);
    wa_usec_t again = wa_clock_mono ();
    s_advance (MS (20));
    wa_lease_renewed (&lease, again, 3);
    assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (lease.deadline, again + TTL - MARGIN);
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), TTL - MARGIN - MS (20));
}

//  Renewals go out; none succeeds (renewed is never called): the deadline
//  does not move, and the lease ends on time.
static void
test_failed_renewal_moves_nothing (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t sent = s_acquire (&lease, 2);
    wa_usec_t deadline = sent + TTL - MARGIN;
    for (int i = 0; i < 4; i++) {
        s_advance (SEC (2));
        //  a renewal is sent here and fails or times out
        assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
        assert_int_equal (lease.deadline, deadline);
        assert_int_equal (lease.epoch, 2);
        assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), deadline - wa_clock_mono ());
    }
    s_now = deadline - 1;
    assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
    s_advance (1);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
}

//  A successful renewal moves the deadline forward from its own send time.
static void
test_renewal_extends (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t sent = s_acquire (&lease, 4);
    s_advance (SEC (2));
    wa_usec_t sent2 = wa_clock_mono ();
    s_advance (MS (300));
    wa_lease_renewed (&lease, sent2, 4);
    assert_int_equal (lease.deadline, sent2 + TTL - MARGIN);
    assert_true (lease.deadline > sent + TTL - MARGIN);
    assert_true (wa_lease_valid (&lease, sent + TTL - MARGIN));
    assert_true (wa_lease_valid (&lease, sent2 + TTL - MARGIN - 1));
    assert_false (wa_lease_valid (&lease, sent2 + TTL - MARGIN));
}

//  Two renewals in flight, the replies swapped: the older one never
//  shortens what the newer one granted.
static void
test_out_of_order_reply (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t first = s_acquire (&lease, 5);
    s_advance (SEC (2));
    wa_usec_t older = wa_clock_mono ();
    s_advance (SEC (2));
    wa_usec_t newer = wa_clock_mono ();
    s_advance (MS (50));

    wa_lease_renewed (&lease, newer, 5);
    assert_int_equal (lease.deadline, newer + TTL - MARGIN);
    wa_lease_renewed (&lease, older, 5);
    assert_int_equal (lease.deadline, newer + TTL - MARGIN);
    wa_lease_renewed (&lease, first, 5);
    assert_int_equal (lease.deadline, newer + TTL - MARGIN);
    assert_int_equal (lease.epoch, 5);
    assert_true (wa_lease_valid (&lease, older + TTL - MARGIN));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), TTL - MARGIN - MS (50));
}

//  A reply with a new epoch (the lease was taken over again) replaces the
//  deadline, even when that makes it earlier.
static void
test_new_epoch_replaces_deadline (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_usec_t first = s_acquire (&lease, 1);
    s_advance (SEC (4));
    wa_usec_t later = wa_clock_mono ();
    wa_lease_renewed (&lease, later, 1);
    assert_int_equal (lease.deadline, later + TTL - MARGIN);

    //  Epoch 2, sent before the last epoch-1 renewal
    s_advance (MS (10));
    wa_lease_renewed (&lease, first + SEC (1), 2);
    assert_int_equal (lease.epoch, 2);
    assert_int_equal (lease.deadline, first + SEC (1) + TTL - MARGIN);
    assert_true (wa_lease_valid (&lease, first + SEC (1) + TTL - MARGIN - 1));
    assert_false (wa_lease_valid (&lease, first + SEC (1) + TTL - MARGIN));

    //  Epoch 3, later: replaces as well
    wa_lease_init (&lease, TTL, MARGIN);
    wa_lease_renewed (&lease, first, 2);
    s_advance (SEC (1));
    wa_usec_t sent3 = wa_clock_mono ();
    wa_lease_renewed (&lease, sent3, 3);
    assert_int_equal (lease.epoch, 3);
    assert_int_equal (lease.deadline, sent3 + TTL - MARGIN);
}

static void
test_lost_clears (void **state)
{
    (void) state;
    wa_lease_t lease;
    s_acquire (&lease, 9);
    assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
    wa_lease_lost (&lease);
    assert_false (lease.held);
    assert_int_equal (lease.deadline, 0);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    //  Losing twice is harmless
    wa_lease_lost (&lease);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));

    //  A renewal sent after the loss holds it again
    s_advance (SEC (1));
    wa_usec_t sent = wa_clock_mono ();
    wa_lease_renewed (&lease, sent, 10);
    assert_true (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (lease.deadline, sent + TTL - MARGIN);
}

static void
test_remaining_zero_when_not_held (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_lease_init (&lease, TTL, MARGIN);
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    assert_int_equal (wa_lease_remaining (&lease, 0), 0);
    assert_int_equal (wa_lease_remaining (&lease, -SEC (1)), 0);
    s_acquire (&lease, 1);
    assert_true (wa_lease_remaining (&lease, wa_clock_mono ()) > 0);
    wa_lease_lost (&lease);
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    assert_int_equal (wa_lease_remaining (&lease, -SEC (1)), 0);
}

//  A success whose send time is already ttl - margin in the past grants
//  nothing usable.
static void
test_reply_after_its_deadline (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_lease_init (&lease, TTL, MARGIN);
    wa_usec_t sent = wa_clock_mono ();
    s_advance (TTL - MARGIN);                   //  reply exactly at its deadline
    wa_lease_renewed (&lease, sent, 1);
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_false (lease.held);

    //  Much later still
    wa_lease_init (&lease, TTL, MARGIN);
    sent = wa_clock_mono ();
    s_advance (SEC (60));
    wa_lease_renewed (&lease, sent, 2);
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));

    //  While holding a lease that already ran out: the stale success does
    //  not bring it back either
    s_acquire (&lease, 3);
    wa_usec_t stale = wa_clock_mono ();
    s_advance (TTL);
    wa_lease_renewed (&lease, stale, 3);
    assert_false (wa_lease_valid (&lease, wa_clock_mono ()));
    assert_int_equal (wa_lease_remaining (&lease, wa_clock_mono ()), 0);
}

//  A margin of zero: the deadline is the full ttl from the send.
static void
test_zero_margin (void **state)
{
    (void) state;
    wa_lease_t lease;
    wa_lease_init (&lease, MS (100), 0);
    wa_usec_t sent = wa_clock_mono ();
    wa_lease_renewed (&lease, sent, 1);
    assert_true (wa_lease_valid (&lease, sent + MS (100) - 1));
    assert_false (wa_lease_valid (&lease, sent + MS (100)));
}

// --------------------------------------------------------------------------
//  wa_clock

static void
test_clock_from_sec (void **state)
{
    (void) state;
    assert_int_equal (wa_clock_from_sec (0.1), 100000);
    assert_int_equal (wa_clock_from_sec (0.25), 250000);
    assert_int_equal (wa_clock_from_sec (0.01), 10000);
    assert_int_equal (wa_clock_from_sec (0.02), 20000);
    assert_int_equal (wa_clock_from_sec (0.3), 300000);
    assert_int_equal (wa_clock_from_sec (0.7), 700000);
    assert_int_equal (wa_clock_from_sec (1.1), 1100000);
    assert_int_equal (wa_clock_from_sec (0), 0);
    assert_int_equal (wa_clock_from_sec (1), WA_USEC_PER_SEC);
    assert_int_equal (wa_clock_from_sec (10), 10 * WA_USEC_PER_SEC);
    assert_int_equal (wa_clock_from_sec (3600), 3600 * WA_USEC_PER_SEC);
    //  rounded to the nearest microsecond, not truncated
    assert_int_equal (wa_clock_from_sec (0.0000004), 0);
    assert_int_equal (wa_clock_from_sec (0.0000006), 1);
    assert_int_equal (wa_clock_from_sec (2.9999999), 3000000);
    assert_int_equal (wa_clock_from_sec (1.0000014), 1000001);
    assert_int_equal (wa_clock_from_sec (-0.1), -100000);
}

static void
test_clock_mono_real (void **state)
{
    (void) state;
    wa_clock_set_fake (NULL);
    wa_usec_t prev = wa_clock_mono ();
    assert_true (prev > 0);
    for (int i = 0; i < 100000; i++) {
        wa_usec_t now = wa_clock_mono ();
        assert_true (now >= prev);
        prev = now;
    }
    //  The real clock is not the fake value
    wa_clock_set_fake (s_fake_clock);
    s_now = 42;
    assert_int_equal (wa_clock_mono (), 42);
    wa_clock_set_fake (NULL);
    assert_true (wa_clock_mono () >= prev);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_fake_clock, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_init_not_held, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_from_send_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_late_reply_shorter_remaining, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_valid_until_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_invalid_after_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stays_lost_until_renewal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_renewal_moves_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_renewal_extends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_order_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_new_epoch_replaces_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lost_clears, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_remaining_zero_when_not_held, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reply_after_its_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_zero_margin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_clock_from_sec, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_clock_mono_real, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
