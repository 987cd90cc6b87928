/*  wa_node — what every cluster node has: its four ports, its row in
    `nodes`, its liveness claim, and its audit events.

    Ports (COREAPP_EXTERNAL_PORTS): +0 api (ROUTER), +1 bus (PUB), +2 control
    (ROUTER), +3 health (REP). A port of 0 binds any free port; the ports
    actually bound are what the node registers, so tests need no fixed ports.
    The database jobs here run on the program's wa_dbworker. */
#ifndef WA_NODE_H
#define WA_NODE_H

#include <czmq.h>
#include "wa_loop.h"
#include "wa_codec.h"
#include "wa_config.h"
#include "wa_dbworker.h"
#include "wa_trust.h"

#define WA_EVENT_QUEUE 32
#define WA_MONITORS_MAX 8

typedef struct {
    wa_job_t job;
    //  in
    char kind[16];
    char hostname[WA_CONFIG_STR];
    char ports[32];
    int pid;
    int min_schema;             //  the schema version needed to register
    char bus_key[41];           //  our public key for node_keys ("" with bus_security = off)
    //  out
    bool key_stored;            //  node_keys has it (not before the schema does)
    uint64_t id;
    int schema;                 //  the database's schema version seen
    int schema_logged;          //  the version last said while waiting (-1: none yet)
} wa_register_job_t;

//  Registration in `nodes`, for every node (the Webapp's too): kind, the
//  host name peers use, the ports as text; no row before the database has
//  min_schema, none ever when it is newer than this build. The job (kind
//  WA_JOB_REGISTER) is submitted from *job_p, unless the worker has it;
//  bus_key is stored in node_keys ("": none).
wa_register_job_t *wa_register_job_new (void);
void wa_register_submit (wa_register_job_t **job_p, wa_dbworker_t *db, const char *kind, const char *hostname,
                         const char *ports, const char *bus_key, int min_schema);
//  A registration came back: 1 registered (job->id), 0 not yet (waiting
//  for the schema is said once per version seen), -1 never (the schema is
//  newer than this build: said as an error; the node must stop).
int wa_register_done (wa_register_job_t *job);

typedef struct {
    wa_job_t job;
    uint64_t id;
    char gateway_status[16];
    bool stopping;              //  mark the node stopped
    char bus_key[41];           //  to store in node_keys too ("": stored already)
    uint64_t refused[3];        //  the bus's refusals (wa_trust_counts), stored with the key
    bool key_stored;            //  out
    char db_node[300];          //  the database node last stored as this node's (nodes.db_node), kept by the job
} wa_liveness_job_t;

typedef struct {
    char kind[32];
    int shard;                  //  -1: none
    uint64_t epoch;
    uint64_t subject;
    char detail[200];
} wa_event_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    int count;
    wa_event_t events[WA_EVENT_QUEUE];
} wa_event_job_t;

typedef struct {
    const wa_config_t *config;
    const char *kind;           //  "master" or "coreapp"
    uint64_t id;                //  0 until registered
    int ports[4];
    zsock_t *api;
    zsock_t *bus;
    zsock_t *control;
    zsock_t *health;
    wa_trust_t *trust;          //  who may talk to us, and how we talk to others
    bool key_stored;            //  our bus key is in node_keys
    wa_usec_t key_tried;        //  when wa_node_store_key last tried
    const char *role;           //  for health replies and logs
    uint64_t epoch;
    wa_dbworker_t *db;
    //  The node's jobs, NULL while the worker has them.
    wa_register_job_t *register_job;
    wa_liveness_job_t *liveness_job;
    wa_event_job_t *event_job;
    wa_event_t pending[WA_EVENT_QUEUE];
    int pending_count;
    int dropped_events;
    bool liveness_again;        //  a claim was asked for while one ran
    char gateway_want[16];
    bool stopping_want;
    bool fatal;                 //  this build cannot run against this database
    wa_actor_t *monitors[WA_MONITORS_MAX];
    const char *monitor_names[WA_MONITORS_MAX];
    int monitor_count;
} wa_node_t;

//  Load the bus's keys (wa_trust), bind the four ports as its servers and
//  start the DB worker. 0 / -1 (logged).
int wa_node_start (wa_node_t *self, const wa_config_t *config, const char *kind);
//  Stop the DB worker (a job still with it is destroyed: its slot stays
//  empty, so its owner frees nothing twice), then free the node's jobs and
//  sockets. Owners of other jobs on the worker free theirs after this.
void wa_node_stop (wa_node_t *self);
//  Submit registration (again after a failure); call until self->id != 0.
void wa_node_register (wa_node_t *self, int min_schema);
//  Claim liveness now (also carries the gateway status).
void wa_node_liveness (wa_node_t *self, const char *gateway_status, bool stopping);
//  Record an audit event: published on the bus at once, written to `events`
//  by the DB worker when it can (queued, oldest dropped past WA_EVENT_QUEUE).
void wa_node_event (wa_node_t *self, const char *kind, int shard, uint64_t epoch,
                    uint64_t subject, const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));
//  Hand queued events to the worker if it is free.
void wa_node_flush_events (wa_node_t *self);
//  A job the worker returned: when it is one of the node's (by its kind),
//  put it back into its slot, handle it and return true.
bool wa_node_job_done (wa_node_t *self, wa_job_t *job);
//  Submit job (taken) and wait for it (up to timeout_ms), handing any other
//  job that comes back meanwhile to done (to wa_node_job_done when done is
//  NULL). For shutdown. The job, the caller's again; NULL when it did not
//  come back in time (it comes back later, to whoever takes the worker's
//  jobs then) or could not be submitted (destroyed).
wa_job_t *wa_node_run_sync (wa_node_t *self, wa_job_t *job, int timeout_ms, wa_job_done_fn *done, void *arg);
//  Answer a STATS_REQ from peer on the control socket with stats (a JSON
//  object; NULL sends {}).
void wa_node_send_stats (wa_node_t *self, zframe_t *peer, const json_t *stats);
//  Answer one request on the control socket that every node understands
//  (STATS_REQ with stats); anything else gets an ERROR.
void wa_node_on_control (wa_node_t *self, const json_t *stats);
//  Answer one request on the health socket (HEALTH: node, epoch, role).
void wa_node_on_health (wa_node_t *self);
//  Wait (up to timeout_ms) until the worker holds none of the program's
//  jobs, handing each finished job to done (or to wa_node_job_done when
//  done is NULL; a job it does not take is destroyed). For shutdown.
void wa_node_wait_jobs (wa_node_t *self, int timeout_ms, wa_job_done_fn *done, void *arg);
//  The last steps of every stop, once the daemon's own are done: the queued
//  events written, the nodes row marked stopped (with gateway_status), each
//  waited for at most timeout_ms with every other job (as
//  wa_node_wait_jobs). Nothing when the node never registered.
void wa_node_finish (wa_node_t *self, const char *gateway_status, int timeout_ms, wa_job_done_fn *done,
                     void *arg);
//  A node registered before the schema had node_keys (a Master, before
//  its upgrade) stores its bus key with a liveness claim: at most once a
//  second until stored, so that peers can connect to it long before the
//  next regular claim.
void wa_node_store_key (wa_node_t *self, const char *gateway_status);
//  Put the node's sockets on loop: the handshake checker's refusals, and a
//  monitor on each of the four ports (connections, refused handshakes).
void wa_node_watch (wa_node_t *self, wa_loop_t *loop);
//  Publish a socket's event (a "socket" item on the bus: event, endpoint,
//  the socket's name), as the monitors do.
void wa_node_socket_event (wa_node_t *self, const char *name, const char *event, const char *endpoint);
//  (Re)arm the one-shot timer *timer_id to fire after delay; -1 means none.
void wa_timer_once (wa_loop_t *loop, int *timer_id, wa_usec_t delay, wa_loop_timer_fn handler, void *arg);
//  (Re)arm the repeating timer *timer_id with a period in seconds (a setting).
void wa_timer_every (wa_loop_t *loop, int *timer_id, double seconds, wa_loop_timer_fn handler, void *arg);
//  Watch sock's ZeroMQ events (connected, disconnected, accepted, ...) and
//  publish each on the bus as an EVENT "socket 0 <EVENT> <endpoint> <name>",
//  so a tap (watap) sees them. Monitors end with wa_node_stop.
void wa_node_monitor (wa_node_t *self, zsock_t *sock, const char *name, wa_loop_t *loop);
//  Publish on the bus only (no audit row): transitions a tap should see.
void wa_node_publish (wa_node_t *self, const char *kind, int shard, uint64_t epoch,
                      uint64_t subject, const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));
//  Microseconds for a config value in seconds.
#define WA_SEC(x) wa_clock_from_sec (x)

#endif
