/*  coreapps — the Webapp's view of the primary Coreapps, and the requests
    it forwards to them.

    The shard map (shard → node, epoch, API endpoint) is cached from the
    database and read again when a Master announces a promotion on its bus,
    when a Coreapp answers 1018 (not primary), when an attempt gets no
    answer in time, and every shard_renew_interval. Each primary Coreapp
    has one DEALER (ZMQ_IMMEDIATE: nothing queues for a Coreapp that is not
    connected). A forwarded request carries its idempotency key, so it is
    retried — on the new primary after a failover — until its deadline
    (request_deadline) without risk of being accepted twice: the client
    sees latency, not an error. */
#ifndef WAWEB_COREAPPS_H
#define WAWEB_COREAPPS_H

#include "wa_loop.h"
#include "wa_trust.h"
#include "web.h"

typedef struct coreapps_t coreapps_t;

//  The answer to a forwarded request: the Coreapp's HTTP status and its
//  JSON object (taken; a payload or {"errors":[...]}), or status 0 with
//  response NULL when the deadline passed (code and why say what failed).
typedef void (coreapps_done_fn) (web_t *web, web_req_t *req, int status, json_t *response);

typedef struct {
    uint64_t forwarded;         //  attempts sent
    uint64_t retries;           //  attempts after the first
    uint64_t answered;
    uint64_t expired;           //  deadline passed
    uint64_t map_refreshes;
    size_t in_flight;
    size_t parked;
} coreapps_stats_t;

//  The map as the database holds it, read on the DB worker (db, the
//  worker's connection): shards, each shard's primary Coreapp (node 0:
//  none) in map[shard], the primary Master in master (node 0: none). 0 / -1.
//  coreapps_new is given how (NULL: coreapps_read_sql; a test gives its own).
#define COREAPPS_SHARDS_MAX 64
typedef struct {
    uint64_t node;
    uint64_t epoch;
    char endpoint[300];         //  its API port
    char key[41];               //  its bus key (node_keys)
} coreapps_primary_t;
typedef int (coreapps_read_fn) (wa_db_t *db, int *shards, coreapps_primary_t *map, coreapps_primary_t *master);
coreapps_read_fn coreapps_read_sql;

//  Connections made with trust's keys, to nodes whose key it trusts.
coreapps_t *coreapps_new (web_t *web, wa_loop_t *loop, wa_trust_t *trust, wa_dbworker_t *db,
                          const wa_config_t *settings, coreapps_read_fn *read, coreapps_done_fn *done);
void coreapps_destroy (coreapps_t **self_p);
//  Forward req (its fwd_text set) to the primary of shard, or with shard
//  COREAPPS_MASTER to the primary Master.
#define COREAPPS_MASTER (-1)
void coreapps_forward (coreapps_t *self, web_req_t *req, int shard);
//  The cluster's shard count, 0 until the map was read.
int coreapps_shards (coreapps_t *self);
//  A DB job came back: true if it was ours (taken back).
bool coreapps_job_done (coreapps_t *self, wa_job_t *job);
//  Read the map again now (or as soon as the running read ends).
void coreapps_refresh (coreapps_t *self);
//  Every request still forwarded or parked, taken back (shutdown): done
//  is called for each with status 0.
void coreapps_abandon (coreapps_t *self);
coreapps_stats_t coreapps_stats (coreapps_t *self);
//  Can this Webapp serve messages now, as far as it knows without asking
//  anyone (GET /v1/health/ready, polled every second by every balancer)?
//  Its last read of the map succeeded, came back within
//  COREAPPS_FRESH_READS shard_renew_intervals (plus the database's connect
//  and statement timeouts, what one slow read may take), and names a
//  primary Coreapp with a valid lease for every shard. NULL when so; else
//  why not, for the log (into why, size bytes).
#define COREAPPS_FRESH_READS 3
const char *coreapps_unready (coreapps_t *self, char *why, size_t size);

#endif
