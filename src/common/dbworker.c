/*  wa_dbworker — see include/wa_dbworker.h */
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include "wa_dbworker.h"
#include "wa_log.h"

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
    zsock_signal (pipe, 0);
    while (true) {
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
                zsock_send (pipe, "p", job);
            }
        }
        bool term = command && streq (command, "$TERM");
        zstr_free (&command);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
    wa_db_destroy (&db);
}

wa_actor_t *
wa_dbworker_new (const wa_config_t *config)
{
    return wa_actor_new (s_worker, (void *) config);
}

int
wa_dbworker_submit (wa_actor_t *worker, wa_job_t *job)
{
    if (job->busy)
        return -1;
    job->busy = true;
    job->sent_at = wa_clock_mono ();
    job->rc = 0;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "JOB");
    zmsg_addmem (msg, &job, sizeof job);
    return zmsg_send (&msg, wa_actor_sock (worker));
}

//  Counted where jobs come back: on the program's reactor thread.
static wa_dbworker_stats_t s_stats;

wa_job_t *
wa_dbworker_recv (wa_actor_t *worker)
{
    return wa_dbworker_recv_from (wa_actor_sock (worker));
}

wa_job_t *
wa_dbworker_recv_from (zsock_t *pipe)
{
    void *ptr = NULL;
    if (zsock_recv (pipe, "p", &ptr))
        return NULL;
    wa_job_t *job = ptr;
    if (job) {
        job->busy = false;
        wa_usec_t took = wa_clock_mono () - job->sent_at;
        s_stats.jobs++;
        if (job->rc < 0)
            s_stats.failed++;
        s_stats.total_us += (uint64_t) took;
        if ((uint64_t) took > s_stats.max_us)
            s_stats.max_us = (uint64_t) took;
    }
    return job;
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
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
                      "statements", (json_int_t) db.statements, "statement_errors", (json_int_t) db.errors,
                      "connects", (json_int_t) db.connects, "connect_failures", (json_int_t) db.connect_failures,
                      "disconnects", (json_int_t) db.disconnects, "jobs", (json_int_t) jobs.jobs,
                      "jobs_failed", (json_int_t) jobs.failed, "job_ms_mean", mean_ms,
                      "job_ms_max", (double) jobs.max_us / 1000.0);
}
