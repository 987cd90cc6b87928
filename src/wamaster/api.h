/*  api — the Master's API port (+0, a ROUTER): the requests a Webapp
    forwards to the primary Master (API_REQ {seq, text}: a JSON object
    naming its "op"), each answered exactly once with an API_REP {seq, code
    = HTTP status, text = a JSON object: the payload, or {"errors":[{"code",
    "details"}]}}.

    Ops (the Webapp has checked that the caller is an ADMIN):
      settings_get                    the cluster settings as the table holds them
                                      (webhooks_* nested as {"webhooks": {...}})
      settings_patch {changes, by}    change the settings sent, all or nothing
                                      (flat names, or nested as settings_get shows them)
      settings_reset {by}             every setting back to its built-in default
      shards_get                      200 {"account":{"shards"}} from cluster_info
      shards_set {cc, phone_number, shards[, pin], by}
                                      201 when shards is the count the cluster has,
                                      else 400: it is fixed when the cluster is created
      register {cc, phone_number, method, cert[, pin], by}
                                      asked upstream; 202 {"account":[{"vname"}]} when a
                                      code was sent, 201 when registered already
      verify {code, by}               asked upstream; 201 once registered
      providers_get                   200 {"settings":{"application":{"media":{"providers":[...]}}}},
                                      credentials shown as "(set)" (wa_providers.h)
      providers_set {providers, by}   store them (checked, all or none): 200 {}
      providers_delete {name, by}     200 {}, or 404 when there is none of that name
      message_gc {by}                 a retention pass now (gc.h), or the one under way:
                                      200 {"services":{"message":{"gc":{"status":"complete",
                                      "messages_deleted", "callbacks_deleted", "events_deleted",
                                      "more"}}}} when it ends within half of
                                      request_attempt_timeout, else {"status":"processing"}

    register and verify go to the upstream's control socket (gatelink.h),
    never blocking the reactor; what it says is stored in the `account`
    row, fenced by the master lease like the settings, before the answer.
    An upstream that does not answer within half of
    request_attempt_timeout gets the request 1011 (the Webapp retries).
    The primary also keeps the row as the upstream says it is (op
    "registration"): at once under a new lease, then every
    db_liveness_interval; GET /v1/health reads it.

    A Master that is not primary answers 1017 at once, so the Webapp looks
    for the primary again. The reactor never waits on the database: each
    request becomes a job on the Master's DB worker, one at a time, so a
    burst of requests never holds up a lease renewal for long. A change is
    checked and stored under the same named lock as `wactl settings set`,
    in a transaction fenced by the master lease, then broadcast the way a
    SETTINGS_CHANGED from wactl is (the hooks' stored). */
#ifndef WAMASTER_API_H
#define WAMASTER_API_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include "wa_config.h"
#include "wa_dbworker.h"
#include "wa_trust.h"

//  The kind of the API's jobs (apart from master_jobs.h's and wa_node's).
#define API_JOB_KIND 300

typedef struct api_t api_t;

//  What the Master tells about itself when a request needs the primary.
typedef struct {
    uint64_t node;              //  this Master's id (also when not primary)
    const char *role;
    uint64_t epoch;             //  of the master lease held
    wa_usec_t deadline;         //  local lease deadline: no write after it
    bool ready;                 //  schema migrated and settings seeded
} api_lease_t;

typedef struct {
    void *arg;
    //  True while this Master holds the master lease (the deadline checked
    //  now); fills lease either way.
    bool (*primary) (void *arg, api_lease_t *lease);
    //  Settings were stored: re-read the table, apply and broadcast them.
    void (*stored) (void *arg);
    //  A retention pass now (message_gc), or the one under way: 0, its end
    //  told by api_gc_ended; -1 when this Master cannot (not primary).
    int (*gc) (void *arg);
    //  A change of the shard count was started (reshard.h): take it on now.
    void (*reshard) (void *arg);
} api_hooks_t;

//  Serve sock (the node's api ROUTER) on loop; trust says which keys may
//  ask what (wa_trust). settings are the Master's
//  live ones (config keys included): read at each request, never kept.
api_t *api_new (wa_loop_t *loop, zsock_t *sock, wa_trust_t *trust, wa_dbworker_t *db, const wa_config_t *settings,
                const api_hooks_t *hooks);
//  Once the loop and the DB worker are gone (a job the worker still had
//  is destroyed there).
void api_destroy (api_t **self_p);
//  A job came back from the DB worker: true if it was the API's (taken
//  back and answered).
bool api_job_done (api_t *self, wa_job_t *job);
//  The same, only taken back: not answered (the Master is stopping).
bool api_job_back (api_t *self, wa_job_t *job);
//  Stopping: every request waiting for its turn gets 1017 (the Webapp
//  tries the next primary); with running, also the one the worker holds,
//  whose job is then ignored.
void api_stop (api_t *self, bool running);

//  The retention pass the gc hook started or joined ended: rows deleted
//  (outbox, callbacks, events, inbound ids: gc.h's order), whether a table has more left (capped),
//  error ("" none); deleted NULL when the pass was dropped (the lease was
//  lost: the Webapp retries 1017 on the next primary). Every message_gc
//  waiting gets its answer.
void api_gc_ended (api_t *self, const int64_t deleted[4], bool more, const char *error);

#endif
