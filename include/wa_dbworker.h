/*  wa_dbworker — the actor that owns a program's database connection.

    The blocking MySQL client never runs on the reactor's thread: the reactor
    hands a job to this actor and gets the same job back when it has run, so
    a slow or hung database delays only database work. Jobs are owned by the
    caller (typically one static job per kind, with a busy flag), so nothing
    is lost or leaked if the program stops while a job is queued. */
#ifndef WA_DBWORKER_H
#define WA_DBWORKER_H

#include <czmq.h>
#include <jansson.h>
#include "wa_actor.h"
#include "wa_clock.h"
#include "wa_db.h"

typedef struct wa_job_t wa_job_t;
struct wa_job_t {
    int kind;                           //  the caller's tag
    void (*run) (wa_job_t *job, wa_db_t *db);
    bool busy;                          //  between submit and completion
    wa_usec_t sent_at;                  //  when the reactor submitted it
    int rc;                             //  set by run
};

//  What to do with a job that came back (the handler's arg passed through).
typedef void (wa_job_done_fn) (wa_job_t *job, void *arg);

typedef struct wa_dbworker_t wa_dbworker_t;

//  Start the worker with its own connection built from config (read for
//  the worker's whole life: the configuration as started, never the live
//  settings).
wa_dbworker_t *wa_dbworker_new (const wa_config_t *config);
//  A worker whose thread runs handler instead (a test's): it takes "JOB"
//  and a job pointer, sends the pointer back, and returns at "$TERM".
wa_dbworker_t *wa_dbworker_new_with (zactor_fn *handler, void *args);
//  Stop the worker: the jobs queued before run, and every job that comes
//  back goes to done (with arg), or is dropped when done is NULL. NULL-safe.
void wa_dbworker_destroy (wa_dbworker_t **self_p, wa_job_done_fn *done, void *arg);
//  The pipe jobs come back on: poll it, give it to a zloop reader.
zsock_t *wa_dbworker_sock (wa_dbworker_t *self);
//  Hand a job over (marks it busy, stamps sent_at). -1 when already busy.
int wa_dbworker_submit (wa_dbworker_t *self, wa_job_t *job);
//  Take a finished job from the worker's pipe (call when it is readable).
wa_job_t *wa_dbworker_recv (wa_dbworker_t *self);
//  Jobs handed over and not yet taken back.
int wa_dbworker_away (wa_dbworker_t *self);

//  The jobs that came back to this program (from every worker), as counted
//  by wa_dbworker_recv on the reactor's thread.
typedef struct {
    uint64_t jobs;
    uint64_t failed;            //  rc < 0
    uint64_t total_us;          //  submit to return
    uint64_t max_us;
} wa_dbworker_stats_t;
wa_dbworker_stats_t wa_dbworker_stats (void);
//  Those and wa_db_stats as a new JSON object (the caller owns it).
json_t *wa_dbworker_stats_json (void);

#endif
