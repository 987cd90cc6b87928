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

//  Start the worker with its own connection built from config.
wa_actor_t *wa_dbworker_new (const wa_config_t *config);
//  Hand a job over (marks it busy, stamps sent_at). -1 when already busy.
int wa_dbworker_submit (wa_actor_t *worker, wa_job_t *job);
//  Take a finished job from the worker's pipe (call when it is readable).
wa_job_t *wa_dbworker_recv (wa_actor_t *worker);
//  The same from the pipe a zloop reader was given.
wa_job_t *wa_dbworker_recv_from (zsock_t *pipe);

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
