/*  wa_dbworker — see include/wa_dbworker.h */
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include "wa_dbworker.h"
#include "wa_log.h"
#include "wa_loop.h"

static void
s_worker (zsock_t *pipe, void *args)
{
    //  SIGINT and SIGTERM are for the reactor's thread: delivered here they
    //  would wake no poll, and the program would notice them late.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    const wa_config_t *config = args;
    wa_db_t *db = wa_db_new (config);
    //  Between jobs the connection is pinged, or the server would end it
    //  as idle, or closed when idle past db_connection_idle_timeout
    //  (wa_db_keepalive), when due: however often jobs come, since a job
    //  need not run a statement. Nonstop: the reactor's signal flag must
    //  not end the worker before it has run the jobs queued.
    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    zpoller_set_nonstop (poller, true);
    zsock_signal (pipe, 0);
    while (true) {
        wa_usec_t now = wa_clock_mono (), due = wa_db_keepalive_due (db);
        if (now >= due) {
            wa_db_keepalive (db);
            continue;
        }
        int wait_ms = (int) ((due - now + 999) / 1000);
        if (!zpoller_wait (poller, wait_ms)) {
            if (zpoller_terminated (poller))
                break;
            continue;
        }
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        if (command && streq (command, "JOB")) {
            zframe_t *frame = zmsg_pop (msg);
            wa_job_t *job = NULL;
            if (frame && zframe_size (frame) == sizeof job)
                memcpy (&job, zframe_data (frame), sizeof job);
            zframe_destroy (&frame);
            if (job) {
                job->run (job, db);
                char what[32];
                snprintf (what, sizeof what, "a job of kind %d", job->kind);
                wa_db_settle (db, what);
                zsock_send (pipe, "p", job);
            }
        }
        bool term = command && streq (command, "$TERM");
        zstr_free (&command);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
    //  The last word: every job taken has been sent back before it.
    zsock_send (pipe, "p", NULL);
    zpoller_destroy (&poller);
    wa_db_destroy (&db);
}

struct wa_dbworker_t {
    wa_actor_t *actor;
    int away;                   //  handed over, not yet taken back
};

wa_dbworker_t *
wa_dbworker_new_with (zactor_fn *handler, void *args)
{
    wa_dbworker_t *self = (wa_dbworker_t *) zmalloc (sizeof (wa_dbworker_t));
    self->actor = wa_actor_new (handler, args);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

wa_dbworker_t *
wa_dbworker_new (const wa_config_t *config)
{
    return wa_dbworker_new_with (s_worker, (void *) config);
}

zsock_t *
wa_dbworker_sock (wa_dbworker_t *self)
{
    return wa_actor_sock (self->actor);
}

int
wa_dbworker_away (wa_dbworker_t *self)
{
    return self->away;
}

void *
wa_job_new (size_t size, int kind, wa_job_run_fn *run, void (*destroy) (wa_job_t *job))
{
    assert (size >= sizeof (wa_job_t));
    wa_job_t *job = (wa_job_t *) zmalloc (size);
    job->kind = kind;
    job->run = run;
    job->destroy = destroy;
    return job;
}

void
wa_job_destroy (wa_job_t **job_p)
{
    wa_job_t *job = *job_p;
    if (!job)
        return;
    if (job->destroy)
        job->destroy (job);
    free (job);
    *job_p = NULL;
}

int
wa_dbworker_submit (wa_dbworker_t *self, wa_job_t **job_p)
{
    wa_job_t *job = *job_p;
    assert (job && job->run);
    job->sent_at = wa_clock_mono ();
    job->rc = 0;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "JOB");
    zmsg_addmem (msg, &job, sizeof job);
    int rc = zmsg_send (&msg, wa_actor_sock (self->actor));
    wa_loop_touched (wa_actor_sock (self->actor));
    if (rc) {
        zmsg_destroy (&msg);
        return -1;
    }
    self->away++;
    *job_p = NULL;
    return 0;
}

//  Counted where jobs come back: on the program's reactor thread.
static wa_dbworker_stats_t s_stats;

//  The next message on the pipe: 0 and a job, 1 the worker's last word
//  (NULL), -1 nothing (interrupted).
static int
s_recv (wa_dbworker_t *self, wa_job_t **job_p)
{
    void *ptr = NULL;
    *job_p = NULL;
    if (zsock_recv (wa_actor_sock (self->actor), "p", &ptr))
        return -1;
    if (!ptr)
        return 1;
    wa_job_t *job = ptr;
    self->away--;
    wa_usec_t took = wa_clock_mono () - job->sent_at;
    s_stats.jobs++;
    if (job->rc < 0)
        s_stats.failed++;
    s_stats.total_us += (uint64_t) took;
    if ((uint64_t) took > s_stats.max_us)
        s_stats.max_us = (uint64_t) took;
    *job_p = job;
    return 0;
}

wa_job_t *
wa_dbworker_recv (wa_dbworker_t *self)
{
    wa_job_t *job;
    s_recv (self, &job);
    return job;
}

void
wa_dbworker_destroy (wa_dbworker_t **self_p, wa_job_done_fn *done, void *arg)
{
    wa_dbworker_t *self = *self_p;
    if (!self)
        return;
    //  $TERM goes behind the jobs queued: the worker runs them (each bounded
    //  by the statement timeout) and sends each back, then its last word.
    //  Both pipes are read and written here without blocking, so a full one
    //  cannot hold up the other. A worker that ended without its last word
    //  (a test's) has sent everything before it ended.
    zsock_t *pipe = wa_actor_sock (self->actor);
    zsock_set_sndtimeo (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    //  Used at shutdown, after SIGTERM: the poller must not give up on it.
    zpoller_set_nonstop (poller, true);
    bool termed = false;
    while (true) {
        if (!termed)
            termed = zstr_send (pipe, "$TERM") == 0;
        if (!zpoller_wait (poller, termed ? 100 : 10)) {
            if (zpoller_terminated (poller))
                break;
            if (wa_actor_ended (self->actor) && !(zsock_events (pipe) & ZMQ_POLLIN))
                break;
            continue;
        }
        wa_job_t *job;
        if (s_recv (self, &job))
            break;
        if (done)
            done (job, arg);
        else
            wa_job_destroy (&job);
    }
    zpoller_destroy (&poller);
    wa_actor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}

wa_dbworker_stats_t
wa_dbworker_stats (void)
{
    return s_stats;
}

json_t *
wa_dbworker_stats_json (void)
{
    wa_db_stats_t db = wa_db_stats ();
    wa_dbworker_stats_t jobs = s_stats;
    //  Milliseconds to the microsecond.
    double mean_ms = jobs.jobs ? round ((double) jobs.total_us / (double) jobs.jobs) / 1000.0 : 0.0;
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
                      "statements", (json_int_t) db.statements, "statement_errors", (json_int_t) db.errors,
                      "connects", (json_int_t) db.connects, "connect_failures", (json_int_t) db.connect_failures,
                      "disconnects", (json_int_t) db.disconnects, "node_changes", (json_int_t) db.node_changes,
                      "jobs", (json_int_t) jobs.jobs,
                      "jobs_failed", (json_int_t) jobs.failed, "job_ms_mean", mean_ms,
                      "job_ms_max", (double) jobs.max_us / 1000.0);
}
