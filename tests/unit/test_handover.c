/*  Unit tests for the holder's side of a planned switchover
    (src/wacore/handover.c): handover_begin's refusals and the state machine
    the Coreapp drives (handover_step, handover_closed, handover_abort,
    handover_job, handover_job_back). handover_run, the shard_map
    transaction, is left to tests/integration/test_switchover.sh. Time is an
    argument (microseconds): no sleeping. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "handover.h"

//  Whole milliseconds and seconds, in microseconds (integers: exact).
#define MS(ms) ((wa_usec_t) (ms) * 1000)
#define SEC(s) ((wa_usec_t) (s) * WA_USEC_PER_SEC)

static const wa_usec_t T0 = SEC (500);
//  We are coreapp 4, holding shard 2 at epoch 7; the Master is 9 at lease epoch 3.
#define NODE 4
#define SHARD 2
#define EPOCH 7
#define TO 5
static const char *ASK = "{\"master\": 9, \"master_epoch\": 3}";

static int
s_setup (void **state)
{
    handover_t *h = test_malloc (sizeof *h);
    handover_init (h);
    assert_non_null (h->job);
    assert_false (handover_active (h));
    *state = h;
    return 0;
}

static int
s_teardown (void **state)
{
    handover_t *h = *state;
    handover_destroy (h);
    test_free (h);
    return 0;
}

static char s_why[200];

static int
s_begin (handover_t *h, const char *text, wa_usec_t now)
{
    memset (s_why, 0, sizeof s_why);
    return handover_begin (h, SHARD, EPOCH, NODE, SHARD, EPOCH, TO, text, now, s_why, sizeof s_why);
}

static void
s_refused_with (int rc, const char *text)
{
    assert_int_equal (rc, -1);
    if (!strstr (s_why, text))
        fail_msg ("\"%s\" does not say \"%s\"", s_why, text);
}

//  --------------------------------------------------------------------------
//  handover_begin

static void
test_begin_refuses_bad_text (void **state)
{
    handover_t *h = *state;
    const char *bad[] = {
        "",
        "not json",
        "{\"master\": 9, \"master_epoch\": 3",              //  truncated
        "[9, 3]",
        "{}",
        "{\"master_epoch\": 3}",                            //  no master
        "{\"master\": 9}",                                  //  no master_epoch
        "{\"master\": 0, \"master_epoch\": 3}",
        "{\"master\": 9, \"master_epoch\": 0}",
        "{\"master\": -9, \"master_epoch\": 3}",
        "{\"master\": \"9\", \"master_epoch\": 3}",
        "{\"master\": 9, \"master_epoch\": 3.5}",
        "{\"master\": 9, \"master\": 9, \"master_epoch\": 3}",  //  duplicate key
        NULL
    };
    for (int i = 0; bad[i]; i++) {
        s_refused_with (s_begin (h, bad[i], T0), "Master");
        assert_false (handover_active (h));
    }
    //  Nothing counted: a refusal is not a handover.
    assert_int_equal (h->done, 0);
    assert_int_equal (h->failed, 0);
}

static void
test_begin_refuses_not_ours (void **state)
{
    handover_t *h = *state;
    //  Holding nothing.
    memset (s_why, 0, sizeof s_why);
    s_refused_with (handover_begin (h, -1, 0, NODE, SHARD, EPOCH, TO, ASK, T0, s_why, sizeof s_why),
                    "we do not hold shard 2");
    s_refused_with (handover_begin (h, -1, EPOCH, NODE, SHARD, EPOCH, TO, ASK, T0, s_why, sizeof s_why),
                    "we hold -1");
    //  Another shard.
    s_refused_with (handover_begin (h, 1, EPOCH, NODE, SHARD, EPOCH, TO, ASK, T0, s_why, sizeof s_why),
                    "we hold 1 at 7");
    //  Our shard at another epoch (before or after ours).
    s_refused_with (handover_begin (h, SHARD, EPOCH, NODE, SHARD, EPOCH - 1, TO, ASK, T0, s_why, sizeof s_why),
                    "at epoch 6");
    s_refused_with (handover_begin (h, SHARD, EPOCH, NODE, SHARD, EPOCH + 1, TO, ASK, T0, s_why, sizeof s_why),
                    "at epoch 8");
    //  To nobody, or to ourselves.
    s_refused_with (handover_begin (h, SHARD, EPOCH, NODE, SHARD, EPOCH, 0, ASK, T0, s_why, sizeof s_why),
                    "not another Coreapp");
    s_refused_with (handover_begin (h, SHARD, EPOCH, NODE, SHARD, EPOCH, NODE, ASK, T0, s_why, sizeof s_why),
                    "not another Coreapp");
    assert_false (handover_active (h));
}

static void
test_begin_refuses_second (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_true (handover_active (h));
    assert_int_equal (h->phase, HANDOVER_DRAINING);
    assert_int_equal (h->shard, SHARD);
    assert_int_equal (h->epoch, EPOCH);
    assert_int_equal (h->to, TO);
    assert_int_equal (h->master, 9);
    assert_int_equal (h->master_epoch, 3);
    assert_int_equal (h->started, T0);
    //  Asked again, even by the same Master for the same move.
    s_refused_with (s_begin (h, ASK, T0 + 1), "under way");
    //  The first one is untouched.
    assert_int_equal (h->phase, HANDOVER_DRAINING);
    assert_int_equal (h->started, T0);
}

//  The transaction of the last handover is still on the worker (its slot
//  is NULL, as WA_JOB_SUBMIT leaves it): no new handover until it is back.
static void
test_begin_refuses_while_job_away (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    handover_closed (h, T0 + 10, true);
    handover_job_t *job = handover_job (h, NODE, SEC (10), SEC (2), SEC (6));
    assert_non_null (job);
    h->job = NULL;                                  //  submitted
    //  It is still STORING, so it is refused as under way; once it is idle
    //  with the job away (an abort cannot happen in STORING: force it) the
    //  job is what refuses.
    s_refused_with (s_begin (h, ASK, T0 + 20), "under way");
    h->phase = HANDOVER_IDLE;
    s_refused_with (s_begin (h, ASK, T0 + 20), "has not come back");
    assert_false (handover_active (h));
    //  Back: a new one may begin.
    job->job.rc = 0;
    handover_job_back (h, job);
    assert_ptr_equal (h->job, job);
    assert_int_equal (s_begin (h, ASK, T0 + 30), 0);
}

//  --------------------------------------------------------------------------
//  The state machine

static void
test_draining_waits_for_outbox (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    //  Not idle: waits, however often asked.
    assert_int_equal (handover_step (h, T0, false, true, false), HANDOVER_WAIT);
    assert_int_equal (handover_step (h, T0 + MS (500), false, true, false), HANDOVER_WAIT);
    assert_int_equal (h->phase, HANDOVER_DRAINING);
    //  Idle: on to the logout, the session being open.
    assert_int_equal (handover_step (h, T0 + MS (600), true, true, false), HANDOVER_LOGOUT_NOW);
    assert_int_equal (h->phase, HANDOVER_LOGGING_OUT);
    assert_int_equal (h->drained_us, MS (600));
    assert_int_equal (h->phase_at, T0 + MS (600));
}

static void
test_draining_gives_up_after_drain (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_int_equal (handover_step (h, T0 + HANDOVER_DRAIN - 1, false, true, false), HANDOVER_WAIT);
    assert_int_equal (h->phase, HANDOVER_DRAINING);
    assert_int_equal (handover_step (h, T0 + HANDOVER_DRAIN, false, true, false), HANDOVER_LOGOUT_NOW);
    assert_int_equal (h->phase, HANDOVER_LOGGING_OUT);
    assert_int_equal (h->drained_us, HANDOVER_DRAIN);
}

//  No open session to log out of (logging in, or closed): close it, unconfirmed.
static void
test_draining_without_session_closes (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_int_equal (handover_step (h, T0 + 100, true, false, false), HANDOVER_CLOSE);
    assert_int_equal (h->phase, HANDOVER_DRAINING);    //  until the Coreapp says it closed
    assert_int_equal (h->drained_us, 100);
    //  ... also once the drain time is out, the outbox still busy.
    assert_true (handover_abort (h));
    wa_usec_t t1 = T0 + SEC (10);
    assert_int_equal (s_begin (h, ASK, t1), 0);
    assert_int_equal (handover_step (h, t1 + HANDOVER_DRAIN - 1, false, false, false), HANDOVER_WAIT);
    assert_int_equal (handover_step (h, t1 + HANDOVER_DRAIN, false, false, false), HANDOVER_CLOSE);
    handover_closed (h, t1 + HANDOVER_DRAIN + 1, false);
    assert_int_equal (h->phase, HANDOVER_STORING);
    assert_false (h->closed);
    assert_int_equal (h->logout_us, 0);             //  no logout was tried
    assert_int_equal (handover_step (h, t1 + HANDOVER_DRAIN + 2, true, false, false), HANDOVER_STORE);
}

static void
test_logging_out_waits_then_closes (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    wa_usec_t t1 = T0 + MS (200);
    assert_int_equal (handover_step (h, t1, true, true, false), HANDOVER_LOGOUT_NOW);
    //  LOGOUT sent: the session is closing.
    assert_int_equal (handover_step (h, t1 + 1, true, false, true), HANDOVER_WAIT);
    assert_int_equal (handover_step (h, t1 + HANDOVER_LOGOUT - 1, true, false, true), HANDOVER_WAIT);
    assert_int_equal (h->phase, HANDOVER_LOGGING_OUT);
    //  No LOGOUT_OK in time.
    assert_int_equal (handover_step (h, t1 + HANDOVER_LOGOUT, true, false, true), HANDOVER_CLOSE);
    handover_closed (h, t1 + HANDOVER_LOGOUT + 1, false);
    assert_int_equal (h->phase, HANDOVER_STORING);
    assert_false (h->closed);
    assert_int_equal (h->logout_us, HANDOVER_LOGOUT + 1);
}

//  The session stopped closing (it ended) without handover_closed: close.
static void
test_logging_out_not_closing_closes (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_int_equal (handover_step (h, T0, true, true, false), HANDOVER_LOGOUT_NOW);
    assert_int_equal (handover_step (h, T0 + 10, true, false, false), HANDOVER_CLOSE);
}

static void
test_confirmed_logout_stores_once (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_int_equal (handover_step (h, T0 + MS (100), true, true, false), HANDOVER_LOGOUT_NOW);
    //  Not due before the session ended.
    assert_null (handover_job (h, NODE, SEC (10), SEC (2), SEC (6)));
    //  LOGOUT_OK.
    handover_closed (h, T0 + MS (130), true);
    assert_int_equal (h->phase, HANDOVER_STORING);
    assert_true (h->closed);
    assert_true (h->store_due);
    assert_int_equal (h->logout_us, MS (30));
    //  A second report of the end changes nothing.
    handover_closed (h, T0 + MS (200), false);
    assert_true (h->closed);
    assert_int_equal (h->phase_at, T0 + MS (130));
    //  STORE until the job is taken, whatever the session and outbox say.
    assert_int_equal (handover_step (h, T0 + MS (140), false, false, false), HANDOVER_STORE);
    assert_int_equal (handover_step (h, T0 + SEC (5), true, true, true), HANDOVER_STORE);
    //  The job carries the handover; what a previous run left is cleared.
    handover_job_t *job = h->job;
    job->new_epoch = 99;
    job->unsure = true;
    snprintf (job->why, sizeof job->why, "stale");
    job->job.rc = 1;
    assert_ptr_equal (handover_job (h, NODE, SEC (10), SEC (2), SEC (6)), job);
    assert_int_equal (job->shard, SHARD);
    assert_int_equal (job->node, NODE);
    assert_int_equal (job->epoch, EPOCH);
    assert_int_equal (job->to, TO);
    assert_int_equal (job->master, 9);
    assert_int_equal (job->master_epoch, 3);
    assert_true (job->closed);
    assert_int_equal (job->ttl, SEC (10));
    assert_int_equal (job->margin, SEC (2));
    assert_int_equal (job->liveness_limit, SEC (6));
    assert_int_equal (job->new_epoch, 0);
    assert_false (job->unsure);
    assert_string_equal (job->why, "");
    assert_int_equal (job->job.rc, -1);
    assert_int_equal (job->job.kind, JOB_HANDOVER);
    //  Taken: no second STORE, no second job, slot full or not.
    assert_false (h->store_due);
    assert_int_equal (handover_step (h, T0 + MS (150), true, false, false), HANDOVER_WAIT);
    assert_null (handover_job (h, NODE, SEC (10), SEC (2), SEC (6)));
    h->job = NULL;                                  //  submitted
    assert_int_equal (handover_step (h, T0 + MS (160), true, false, false), HANDOVER_WAIT);
    assert_null (handover_job (h, NODE, SEC (10), SEC (2), SEC (6)));
    assert_true (handover_active (h));
    //  Handed over.
    job->job.rc = 1;
    job->new_epoch = EPOCH + 1;
    handover_job_back (h, job);
    assert_false (handover_active (h));
    assert_int_equal (h->done, 1);
    assert_int_equal (h->failed, 0);
    assert_false (h->unsure);
    assert_int_equal (handover_step (h, T0 + MS (200), true, true, false), HANDOVER_WAIT);
    assert_null (handover_job (h, NODE, SEC (10), SEC (2), SEC (6)));
}

//  An unconfirmed end goes into the job as closed = false (prev_closed 0).
static void
test_unconfirmed_close_in_job (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    handover_closed (h, T0 + 1, false);             //  while draining (it was lost)
    assert_int_equal (h->phase, HANDOVER_STORING);
    handover_job_t *job = h->job;
    job->closed = true;
    assert_ptr_equal (handover_job (h, NODE, 1, 2, 3), job);
    assert_false (job->closed);
}

//  The session ended confirmed while still draining (the gateway said it
//  is gone): straight to storing, closed.
static void
test_confirmed_while_draining (void **state)
{
    handover_t *h = *state;
    assert_int_equal (s_begin (h, ASK, T0), 0);
    handover_closed (h, T0 + 50, true);
    assert_int_equal (h->phase, HANDOVER_STORING);
    assert_true (h->closed);
    assert_int_equal (h->logout_us, 0);
    assert_int_equal (handover_step (h, T0 + 60, false, false, false), HANDOVER_STORE);
}

static void
test_closed_ignored_when_idle (void **state)
{
    handover_t *h = *state;
    handover_closed (h, T0, true);
    assert_false (handover_active (h));
    assert_false (h->store_due);
    assert_null (handover_job (h, NODE, 1, 2, 3));
    assert_int_equal (handover_step (h, T0, true, true, false), HANDOVER_WAIT);
}

static void
test_abort (void **state)
{
    handover_t *h = *state;
    //  Nothing under way.
    assert_false (handover_abort (h));
    assert_int_equal (h->failed, 0);
    //  Draining.
    assert_int_equal (s_begin (h, ASK, T0), 0);
    assert_true (handover_abort (h));
    assert_false (handover_active (h));
    assert_int_equal (h->failed, 1);
    assert_false (handover_abort (h));
    assert_int_equal (h->failed, 1);
    //  Logging out.
    assert_int_equal (s_begin (h, ASK, T0 + 10), 0);
    assert_int_equal (handover_step (h, T0 + 10, true, true, false), HANDOVER_LOGOUT_NOW);
    assert_true (handover_abort (h));
    assert_false (handover_active (h));
    assert_int_equal (h->failed, 2);
    assert_int_equal (handover_step (h, T0 + 20, true, false, true), HANDOVER_WAIT);
    //  Storing: the transaction is fenced; it is its answer that ends it.
    assert_int_equal (s_begin (h, ASK, T0 + 30), 0);
    handover_closed (h, T0 + 31, true);
    assert_false (handover_abort (h));
    assert_int_equal (h->phase, HANDOVER_STORING);
    assert_int_equal (handover_step (h, T0 + 32, true, false, false), HANDOVER_STORE);
    assert_int_equal (h->failed, 2);
    //  A new handover after an abort starts afresh.
    handover_job_t *job = handover_job (h, NODE, 1, 2, 3);
    job->job.rc = 0;
    handover_job_back (h, job);
    assert_int_equal (s_begin (h, ASK, T0 + 40), 0);
    assert_int_equal (h->started, T0 + 40);
    assert_false (h->closed);
    assert_int_equal (handover_step (h, T0 + 40, false, true, false), HANDOVER_WAIT);
}

//  handover_job_back: counted, and unsure only for a failure whose outcome
//  is unknown.
static void
s_run_to_job (handover_t *h, wa_usec_t now)
{
    assert_int_equal (s_begin (h, ASK, now), 0);
    handover_closed (h, now + 1, true);
    assert_non_null (handover_job (h, NODE, 1, 2, 3));
}

static void
test_job_back_counts (void **state)
{
    handover_t *h = *state;
    handover_job_t *job = h->job;
    //  Refused (rc 0): failed, sure even if the job says unsure.
    s_run_to_job (h, T0);
    job->job.rc = 0;
    job->unsure = true;
    handover_job_back (h, job);
    assert_int_equal (h->done, 0);
    assert_int_equal (h->failed, 1);
    assert_false (h->unsure);
    assert_false (handover_active (h));
    //  Failed (rc -1), outcome known.
    s_run_to_job (h, T0 + 10);
    job->job.rc = -1;
    job->unsure = false;
    handover_job_back (h, job);
    assert_int_equal (h->failed, 2);
    assert_false (h->unsure);
    //  Failed at the commit: unsure.
    s_run_to_job (h, T0 + 20);
    job->job.rc = -1;
    job->unsure = true;
    handover_job_back (h, job);
    assert_int_equal (h->failed, 3);
    assert_true (h->unsure);
    assert_false (handover_active (h));
    //  The next handover's answer decides again: handed over.
    s_run_to_job (h, T0 + 30);
    job->job.rc = 1;
    job->unsure = true;                             //  ignored on success
    handover_job_back (h, job);
    assert_int_equal (h->done, 1);
    assert_int_equal (h->failed, 3);
    assert_false (h->unsure);
    assert_ptr_equal (h->job, job);
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T (test_begin_refuses_bad_text),
        T (test_begin_refuses_not_ours),
        T (test_begin_refuses_second),
        T (test_begin_refuses_while_job_away),
        T (test_draining_waits_for_outbox),
        T (test_draining_gives_up_after_drain),
        T (test_draining_without_session_closes),
        T (test_logging_out_waits_then_closes),
        T (test_logging_out_not_closing_closes),
        T (test_confirmed_logout_stores_once),
        T (test_unconfirmed_close_in_job),
        T (test_confirmed_while_draining),
        T (test_closed_ignored_when_idle),
        T (test_abort),
        T (test_job_back_counts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
