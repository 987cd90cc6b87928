/*  Unit tests for the DB worker's contract (src/common/dbworker.c): a job is
    handed over, not shared. Submitting empties the slot, the job comes back
    whole, and one still with the worker when it stops comes back through
    wa_dbworker_destroy, to its owner or to its destructor. The jobs here
    never touch the database (no connection is ever made). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "wa_dbworker.h"
#include "wa_log.h"

enum { JOB_TEST = 1 };

typedef struct {
    wa_job_t job;
    int value;                  //  in, doubled by run
    char *held;                 //  what the job owns (its destructor frees it)
    int delay_ms;               //  run takes this long
} test_job_t;

static int s_destroyed;         //  destructor calls
static int s_done;              //  jobs handed to s_take

static void
s_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    test_job_t *self = (test_job_t *) job;
    if (self->delay_ms)
        usleep ((useconds_t) self->delay_ms * 1000);
    self->value *= 2;
    job->rc = 7;
}

static void
s_test_job_destroy (wa_job_t *job)
{
    test_job_t *self = (test_job_t *) job;
    free (self->held);
    s_destroyed++;
}

static test_job_t *
s_job_new (int value, int delay_ms)
{
    test_job_t *job = WA_JOB_NEW (test_job_t, JOB_TEST, s_run, s_test_job_destroy);
    job->value = value;
    job->held = strdup ("rows");
    job->delay_ms = delay_ms;
    return job;
}

//  What an owner does with a job that comes back at a stop.
static void
s_take (wa_job_t *job, void *arg)
{
    assert_int_equal (job->kind, JOB_TEST);
    assert_ptr_equal (arg, &s_done);
    s_done++;
    wa_job_destroy (&job);
}

static wa_config_t s_config;

static void
test_submit_empties_the_slot (void **state)
{
    (void) state;
    wa_dbworker_t *worker = wa_dbworker_new (&s_config);
    assert_non_null (worker);
    test_job_t *slot = s_job_new (21, 0);
    assert_int_equal (WA_JOB_SUBMIT (worker, slot), 0);
    assert_null (slot);
    assert_int_equal (wa_dbworker_away (worker), 1);

    zpoller_t *poller = zpoller_new (wa_dbworker_sock (worker), NULL);
    assert_non_null (zpoller_wait (poller, 5000));
    zpoller_destroy (&poller);
    wa_job_t *job = wa_dbworker_recv (worker);
    assert_non_null (job);
    assert_int_equal (wa_dbworker_away (worker), 0);
    assert_int_equal (job->kind, JOB_TEST);
    assert_int_equal (job->rc, 7);
    assert_true (job->sent_at > 0);
    slot = (test_job_t *) job;
    assert_int_equal (slot->value, 42);

    s_destroyed = 0;
    WA_JOB_DESTROY (slot);
    assert_null (slot);
    assert_int_equal (s_destroyed, 1);
    WA_JOB_DESTROY (slot);              //  NULL-safe
    assert_int_equal (s_destroyed, 1);
    wa_dbworker_destroy (&worker, NULL, NULL);
    assert_null (worker);
}

//  Jobs queued when the worker stops run, come back, and are destroyed:
//  nothing leaks (the sanitizers and valgrind see to the rows they hold).
static void
test_destroy_frees_what_comes_back (void **state)
{
    (void) state;
    wa_dbworker_t *worker = wa_dbworker_new (&s_config);
    s_destroyed = 0;
    for (int i = 0; i < 5; i++) {
        test_job_t *job = s_job_new (i, 10);
        assert_int_equal (WA_JOB_SUBMIT (worker, job), 0);
    }
    assert_int_equal (wa_dbworker_away (worker), 5);
    wa_dbworker_destroy (&worker, NULL, NULL);
    assert_null (worker);
    assert_int_equal (s_destroyed, 5);
}

static void
test_destroy_gives_back_to_done (void **state)
{
    (void) state;
    wa_dbworker_t *worker = wa_dbworker_new (&s_config);
    s_destroyed = 0;
    s_done = 0;
    for (int i = 0; i < 3; i++) {
        test_job_t *job = s_job_new (i, 10);
        assert_int_equal (WA_JOB_SUBMIT (worker, job), 0);
    }
    wa_dbworker_destroy (&worker, s_take, &s_done);
    assert_int_equal (s_done, 3);
    assert_int_equal (s_destroyed, 3);
}

//  A test's worker that sends every job straight back and ends at $TERM
//  without the last word: what it sent before it ended still comes back.
static void
s_echo_worker (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    char *command = NULL;
    void *job = NULL;
    while (zsock_recv (pipe, "sp", &command, &job) == 0 && !streq (command, "$TERM")) {
        zsock_send (pipe, "p", job);
        zstr_free (&command);
    }
    zstr_free (&command);
}

static void
test_destroy_without_last_word (void **state)
{
    (void) state;
    wa_dbworker_t *worker = wa_dbworker_new_with (s_echo_worker, NULL);
    s_destroyed = 0;
    for (int i = 0; i < 4; i++) {
        test_job_t *job = s_job_new (i, 0);
        assert_int_equal (WA_JOB_SUBMIT (worker, job), 0);
    }
    wa_dbworker_destroy (&worker, NULL, NULL);
    assert_int_equal (s_destroyed, 4);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    wa_config_defaults (&s_config);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_submit_empties_the_slot),
        cmocka_unit_test (test_destroy_frees_what_comes_back),
        cmocka_unit_test (test_destroy_gives_back_to_done),
        cmocka_unit_test (test_destroy_without_last_word),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
