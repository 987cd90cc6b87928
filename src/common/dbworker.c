/*  wa_dbworker — see include/wa_dbworker.h */
#include <pthread.h>
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

zactor_t *
wa_dbworker_new (const wa_config_t *config)
{
    return zactor_new (s_worker, (void *) config);
}

int
wa_dbworker_submit (zactor_t *worker, wa_job_t *job)
{
    if (job->busy)
        return -1;
    job->busy = true;
    job->sent_at = wa_clock_mono ();
    job->rc = 0;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "JOB");
    zmsg_addmem (msg, &job, sizeof job);
    return zmsg_send (&msg, worker);
}

wa_job_t *
wa_dbworker_recv (zactor_t *worker)
{
    void *ptr = NULL;
    if (zsock_recv (worker, "p", &ptr))
        return NULL;
    wa_job_t *job = ptr;
    if (job)
        job->busy = false;
    return job;
}
