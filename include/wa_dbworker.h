/*  wa_dbworker — the actor that owns a program's database connection.

    The blocking MySQL client never runs on the reactor's thread: the reactor
    hands a job to this actor and gets the same job back when it has run, so
    a slow or hung database delays only database work.

    A job is handed over, not shared. Its owner allocates it (WA_JOB_NEW) and
    keeps it in a slot, a typed pointer; submitting takes the job out of the
    slot (the slot becomes NULL, as zmsg_send nulls its message), so the
    reactor cannot touch it while the worker has it: a NULL slot means "the
    worker has it". The job comes back from wa_dbworker_recv, and the owner,
    told by its kind what it is, puts it back into its slot. A job carries
    copies of everything its run reads (or things handed over with it, such
    as rows taken out of a queue): the worker never reads the reactor's
    state. A job still with the worker when the program stops comes back
    through wa_dbworker_destroy, to its owner or to its destructor, so
    nothing leaks and no owner is freed while its job is away. */
#ifndef WA_DBWORKER_H
#define WA_DBWORKER_H

#include <stddef.h>
#include <czmq.h>
#include <jansson.h>
#include "wa_actor.h"
#include "wa_clock.h"
#include "wa_db.h"

typedef struct wa_job_t wa_job_t;
typedef void (wa_job_run_fn) (wa_job_t *job, wa_db_t *db);
//  The first member of every job's struct, named job.
struct wa_job_t {
    int kind;                           //  what it is when it comes back (below)
    wa_job_run_fn *run;                 //  on the worker's thread
    void (*destroy) (wa_job_t *job);    //  frees what the job holds (NULL: nothing)
    wa_usec_t sent_at;                  //  when the reactor submitted it
    int rc;                             //  set by run
};

//  Kinds tell the jobs that come back on one worker apart: a daemon's own
//  from 1, the common library's from 100, waweb's coreapps from 200, the
//  Master's API 300.
enum { WA_JOB_REGISTER = 100, WA_JOB_LIVENESS, WA_JOB_EVENTS, WA_JOB_SETTINGS, WA_JOB_MASTERS };

//  A new job of size bytes, zeroed, its header set (destroy may be NULL).
void *wa_job_new (size_t size, int kind, wa_job_run_fn *run, void (*destroy) (wa_job_t *job));
//  The same for a struct type whose first member is its wa_job_t job.
#define WA_JOB_NEW(type, kind, run, destroy) \
    ((type *) wa_job_new (sizeof (type) + 0 * sizeof (char [offsetof (type, job) == 0 ? 1 : -1]), \
                          (kind), (run), (destroy)))
//  Free a job (its destroy first). NULL-safe; nulls the caller's pointer.
void wa_job_destroy (wa_job_t **job_p);
//  The same for a typed slot (a pointer to a job's struct).
#define WA_JOB_DESTROY(slot) do { \
    if (slot) { \
        wa_job_t *wa_job_ = &(slot)->job; \
        wa_job_destroy (&wa_job_); \
        (slot) = NULL; \
    } \
} while (0)

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
//  back goes to done (with arg, which takes it), or to wa_job_destroy when
//  done is NULL. NULL-safe.
void wa_dbworker_destroy (wa_dbworker_t **self_p, wa_job_done_fn *done, void *arg);
//  The pipe jobs come back on: poll it, give it to a wa_loop reader.
zsock_t *wa_dbworker_sock (wa_dbworker_t *self);
//  Hand *job_p over (stamps sent_at, clears rc) and null it: the worker
//  has it now. -1 when it cannot be sent (it stays the caller's).
int wa_dbworker_submit (wa_dbworker_t *self, wa_job_t **job_p);
//  The same from a typed slot, which becomes NULL once the job is sent.
#define WA_JOB_SUBMIT(worker, slot) __extension__ ({ \
    wa_job_t *wa_job_ = &(slot)->job; \
    int wa_rc_ = wa_dbworker_submit ((worker), &wa_job_); \
    if (wa_rc_ == 0) \
        (slot) = NULL; \
    wa_rc_; \
})
//  Take a finished job back from the worker's pipe (call when it is
//  readable): the caller's again, to put back into its slot or destroy.
//  NULL when there is none.
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
