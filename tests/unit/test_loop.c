/*  Unit tests for wa_loop: readers level-triggered, a socket whose
    readiness a send took in still read, timers as zloop's, readers and
    timers ended from handlers never called after, the ends of a loop, and
    how few sockets it asks per message. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <czmq.h>
#include "wa_loop.h"
#include "test_loop.h"

typedef struct {
    zsock_t *in, *out;          //  the loop reads in; out sends to it
} pair_t;

static void
s_pair (pair_t *pair, const char *name)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-loop-%s", name);
    pair->in = zsock_new (ZMQ_PAIR);
    pair->out = zsock_new (ZMQ_PAIR);
    assert_non_null (pair->in);
    assert_non_null (pair->out);
    assert_int_equal (zsock_bind (pair->in, "%s", endpoint), 0);
    assert_int_equal (zsock_connect (pair->out, "%s", endpoint), 0);
}

static void
s_pair_destroy (pair_t *pair)
{
    zsock_destroy (&pair->in);
    zsock_destroy (&pair->out);
}

static int
s_fail (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    fail_msg ("%s", (const char *) arg);
    return -1;
}

//  ----------------------------------------------------------------------
//  One message read per call: every message still read (level-triggered).

typedef struct {
    int seen;
    int want;
} count_t;

static int
s_read_one (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    count_t *count = arg;
    char *text = zstr_recv (reader);
    assert_non_null (text);
    zstr_free (&text);
    return ++count->seen == count->want ? -1 : 0;
}

static void
test_level_triggered (void **state)
{
    (void) state;
    pair_t pair;
    s_pair (&pair, "level");
    for (int i = 0; i < 5; i++)
        zstr_send (pair.out, "m");
    wa_loop_t *loop = wa_loop_new ();
    count_t count = { 0, 5 };
    assert_int_equal (wa_loop_reader (loop, pair.in, s_read_one, &count), 0);
    wa_loop_timer (loop, 5000, 1, s_fail, "the five messages were not all read");
    assert_int_equal (wa_loop_start (loop), -1);
    assert_int_equal (count.seen, 5);
    wa_loop_destroy (&loop);
    assert_null (loop);
    s_pair_destroy (&pair);
}

//  ----------------------------------------------------------------------
//  A message whose arrival a send on the same socket took in (its ZMQ_FD
//  never fires): the loop finds it before it sleeps.

typedef struct {
    pair_t pair;
    bool read;
    bool touched;               //  the send marked with wa_loop_touched
} taken_t;

static int
s_send_then_take (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    taken_t *taken = arg;
    //  The peer sends; the loop's socket gets the command that makes it
    //  readable. Then a send on the loop's socket, more than libzmq's
    //  1 ms command throttle after the socket last took commands, takes
    //  that command in: the fd is reset with the message unread.
    zstr_send (taken->pair.out, "hello");
    zclock_sleep (5);
    zstr_send (taken->pair.in, "reply");
    if (taken->touched)
        wa_loop_touched (taken->pair.in);
    return 0;
}

static int
s_on_taken (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    taken_t *taken = arg;
    char *text = zstr_recv (reader);
    assert_string_equal (text, "hello");
    zstr_free (&text);
    taken->read = true;
    return -1;
}

static void
s_taken_run (const char *name, bool touched, size_t sweep, bool found)
{
    taken_t taken = { .read = false, .touched = touched };
    s_pair (&taken.pair, name);
    wa_loop_t *loop = wa_loop_new ();
    if (sweep)
        wa_loop_set_sweep (loop, sweep);
    assert_int_equal (wa_loop_reader (loop, taken.pair.in, s_on_taken, &taken), 0);
    wa_loop_timer (loop, 20, 1, s_send_then_take, &taken);
    wa_loop_timer (loop, 1000, 1, test_loop_end, NULL);
    assert_int_equal (wa_loop_start (loop), -1);
    if (taken.read != found)
        fail_msg ("%s: the message was%s read", name, taken.read ? "" : " not");
    char *reply = zstr_recv (taken.pair.out);
    assert_string_equal (reply, "reply");
    zstr_free (&reply);
    wa_loop_destroy (&loop);
    s_pair_destroy (&taken.pair);
}

//  Found by the send's wa_loop_touched, by the sweep when not marked (the
//  default's and a shorter one); lost for as long as there is no sweep
//  without either (what the test sees).
static void
test_readiness_taken_by_a_send (void **state)
{
    (void) state;
    s_taken_run ("taken-touched", true, 100000, true);
    s_taken_run ("taken-swept", false, 5, true);
    s_taken_run ("taken-default", false, 0, true);
    s_taken_run ("taken-lost", false, 100000, false);
}

//  ----------------------------------------------------------------------
//  Timers: times, order, the end of one from its own handler and from an
//  earlier one of the same turn.

typedef struct {
    wa_loop_t *loop;
    char log [64];
    int victim;
    int ticks;
} timers_t;

static int
s_note (wa_loop_t *loop, int timer_id, void *arg, char what)
{
    (void) loop;
    (void) timer_id;
    timers_t *t = arg;
    size_t len = strlen (t->log);
    assert_true (len + 1 < sizeof t->log);
    t->log [len] = what;
    return 0;
}

static int
s_thrice (wa_loop_t *loop, int timer_id, void *arg)
{
    return s_note (loop, timer_id, arg, 'a');
}

static int
s_killer (wa_loop_t *loop, int timer_id, void *arg)
{
    timers_t *t = arg;
    assert_int_equal (wa_loop_timer_end (loop, t->victim), 0);
    //  Ended already: there is nothing to end.
    assert_int_equal (wa_loop_timer_end (loop, t->victim), -1);
    return s_note (loop, timer_id, arg, 'k');
}

static int
s_victim (wa_loop_t *loop, int timer_id, void *arg)
{
    return s_note (loop, timer_id, arg, 'v');
}

static int
s_self_ender (wa_loop_t *loop, int timer_id, void *arg)
{
    timers_t *t = arg;
    if (++t->ticks == 2)
        assert_int_equal (wa_loop_timer_end (loop, timer_id), 0);
    return s_note (loop, timer_id, arg, 's');
}

static void
test_timers (void **state)
{
    (void) state;
    wa_loop_t *loop = wa_loop_new ();
    timers_t t = { .loop = loop };
    //  50 ms apart at least, so that a slow turn (valgrind) changes nothing.
    int a = wa_loop_timer (loop, 100, 3, s_thrice, &t);
    //  Made in this order, due at the same moment: the killer runs first.
    int k = wa_loop_timer (loop, 150, 1, s_killer, &t);
    t.victim = wa_loop_timer (loop, 150, 1, s_victim, &t);
    int s = wa_loop_timer (loop, 400, 0, s_self_ender, &t);
    assert_true (a >= 1 && k > a && t.victim > k && s > t.victim);
    wa_loop_timer (loop, 1000, 1, test_loop_end, NULL);
    assert_int_equal (wa_loop_start (loop), -1);
    //  a at 100, k at 150, a at 200 and 300, s at 400 and 800, never v.
    assert_string_equal (t.log, "akaass");
    assert_int_equal (wa_loop_timer_end (loop, 12345), -1);
    //  The one-shot that ended the loop is over: started again, the loop
    //  runs until the next one (300 ms, not at once).
    int64_t start = zclock_mono ();
    wa_loop_timer (loop, 300, 1, test_loop_end, NULL);
    assert_int_equal (wa_loop_start (loop), -1);
    assert_true (zclock_mono () - start >= 300);
    wa_loop_destroy (&loop);
}

//  ----------------------------------------------------------------------
//  A reader ended by an earlier handler of the same turn is not called.

typedef struct {
    pair_t first, second;
    int first_calls, second_calls;
} ends_t;

static int
s_on_second (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    ((ends_t *) arg)->second_calls++;
    return 0;
}

static int
s_on_first (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    ends_t *ends = arg;
    ends->first_calls++;
    char *text = zstr_recv (reader);
    zstr_free (&text);
    wa_loop_reader_end (loop, ends->second.in);
    //  Ending it twice, or a socket never read, is harmless.
    wa_loop_reader_end (loop, ends->second.in);
    wa_loop_reader_end (loop, ends->first.out);
    return 0;
}

static void
test_reader_ended_in_a_turn (void **state)
{
    (void) state;
    ends_t ends = { 0 };
    s_pair (&ends.first, "end-first");
    s_pair (&ends.second, "end-second");
    zstr_send (ends.first.out, "x");
    zstr_send (ends.second.out, "y");
    wa_loop_t *loop = wa_loop_new ();
    assert_int_equal (wa_loop_reader (loop, ends.first.in, s_on_first, &ends), 0);
    assert_int_equal (wa_loop_reader (loop, ends.second.in, s_on_second, &ends), 0);
    wa_loop_timer (loop, 100, 1, test_loop_end, NULL);
    assert_int_equal (wa_loop_start (loop), -1);
    assert_int_equal (ends.first_calls, 1);
    assert_int_equal (ends.second_calls, 0);
    //  The message the ended reader never took is still there.
    char *text = zstr_recv (ends.second.in);
    assert_string_equal (text, "y");
    zstr_free (&text);
    //  Read again, with another handler: it is called.
    zstr_send (ends.second.out, "z");
    assert_int_equal (wa_loop_reader (loop, ends.second.in, s_on_first, &ends), 0);
    wa_loop_timer (loop, 100, 1, test_loop_end, NULL);
    assert_int_equal (wa_loop_start (loop), -1);
    assert_int_equal (ends.first_calls, 2);
    wa_loop_destroy (&loop);
    s_pair_destroy (&ends.first);
    s_pair_destroy (&ends.second);
}

//  ----------------------------------------------------------------------
//  An interrupt ends the loop with 0, as zloop's.

static int
s_interrupt (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    zsys_interrupted = 1;
    return 0;
}

static void
test_interrupted (void **state)
{
    (void) state;
    wa_loop_t *loop = wa_loop_new ();
    wa_loop_timer (loop, 5, 1, s_interrupt, NULL);
    wa_loop_timer (loop, 2000, 1, s_fail, "an interrupt did not end the loop");
    assert_int_equal (wa_loop_start (loop), 0);
    zsys_interrupted = 0;
    wa_loop_destroy (&loop);
}

//  ----------------------------------------------------------------------
//  What it costs: a ping-pong of 500 round trips on one socket among 20
//  idle ones. zmq_poll asks every socket at least once per wait (twice
//  when it sleeps), 20 and more per message; wa_loop asks the idle ones
//  once per sleep, and the busy one a few times.

#define IDLE 20
#define ROUNDS 500

typedef struct {
    pair_t busy;
    int rounds;
} pong_t;

static int
s_on_ping (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    pong_t *pong = arg;
    char *text = zstr_recv (reader);
    zstr_free (&text);
    if (++pong->rounds == ROUNDS)
        return -1;
    zstr_send (reader, "pong");
    return 0;
}

static void *
s_ponger (void *arg)
{
    zsock_t *out = arg;
    while (true) {
        char *text = zstr_recv (out);
        if (!text)
            break;
        bool stop = streq (text, "stop");
        zstr_free (&text);
        if (stop || zstr_send (out, "ping"))
            break;
    }
    return NULL;
}

static void
test_cost_per_message (void **state)
{
    (void) state;
    pong_t pong = { .rounds = 0 };
    s_pair (&pong.busy, "busy");
    pair_t idle [IDLE];
    wa_loop_t *loop = wa_loop_new ();
    for (int i = 0; i < IDLE; i++) {
        char name [16];
        snprintf (name, sizeof name, "idle-%d", i);
        s_pair (&idle [i], name);
        assert_int_equal (wa_loop_reader (loop, idle [i].in, s_on_second, NULL), 0);
    }
    assert_int_equal (wa_loop_reader (loop, pong.busy.in, s_on_ping, &pong), 0);
    zsock_set_rcvtimeo (pong.busy.out, 2000);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_ponger, pong.busy.out), 0);
    zstr_send (pong.busy.in, "pong");
    wa_loop_timer (loop, 20000, 1, s_fail, "the ping-pong did not finish");
    assert_int_equal (wa_loop_start (loop), -1);
    zstr_send (pong.busy.in, "stop");
    pthread_join (thread, NULL);
    wa_loop_stats_t stats;
    wa_loop_stats (loop, &stats);
    double per = (double) stats.checks / ROUNDS;
    print_message ("%d round trips: %.1f ZMQ_EVENTS per message, %.2f sleeps, %.2f sweeps\n", ROUNDS, per,
                   (double) stats.sleeps / ROUNDS, (double) stats.sweeps / ROUNDS);
    assert_int_equal (pong.rounds, ROUNDS);
    //  A sleep per message and a sweep before it: about IDLE + 3; zmq_poll
    //  would have asked 2 * (IDLE + 1) before each sleep.
    assert_true (per <= IDLE + 8);
    wa_loop_destroy (&loop);
    for (int i = 0; i < IDLE; i++)
        s_pair_destroy (&idle [i]);
    s_pair_destroy (&pong.busy);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_level_triggered),
        cmocka_unit_test (test_readiness_taken_by_a_send),
        cmocka_unit_test (test_timers),
        cmocka_unit_test (test_reader_ended_in_a_turn),
        cmocka_unit_test (test_interrupted),
        cmocka_unit_test (test_cost_per_message),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
