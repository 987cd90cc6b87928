/*  metrics — GET /metrics?format=prometheus: this Webapp's request counts
    and latency histograms per route, its forwarding to the Coreapps, and
    the cluster as the database records it (lease epochs, promotions and
    failovers, maintenance mode, heartbeat lateness, liveness ages, outbox and callbacks
    depth), in the
    Prometheus text format (version 0.0.4).

    The counting and the rendering are pure (unit-tested); the cluster part
    comes from a DB job (metrics_cluster_run) the endpoint runs first. */
#ifndef WAWEB_METRICS_H
#define WAWEB_METRICS_H

#include <stdint.h>
#include "wa_clock.h"
#include "wa_db.h"

typedef struct metrics_t metrics_t;

#define METRICS_SHARDS_MAX 64
#define METRICS_NODES_MAX 64

//  The cluster, read from the database.
typedef struct {
    bool read;                  //  false: the read failed (only this Webapp's part is shown)
    uint64_t master_epoch;
    uint64_t master_holder;     //  0 when no valid lease
    bool paused;                //  maintenance mode (wactl pause): no automatic failover
    int shards;
    struct {
        int shard;
        uint64_t epoch;
        uint64_t node;          //  0 when the lease expired
        uint64_t promotions;
        uint64_t pending;       //  outbox rows not yet acknowledged upstream
        uint64_t callbacks;     //  callbacks rows not yet delivered to the webhook
    } shard[METRICS_SHARDS_MAX];
    int nodes;
    struct {
        uint64_t id;
        char kind[16];
        double liveness_age;    //  seconds since its last liveness claim
        double reply_age;       //  seconds: its last heartbeat reply as the primary Master saw it (-1: none)
        char health[16];        //  healthy, late, unhealthy, unknown
        uint64_t refused[3];    //  its bus's refusals: unknown keys, no CURVE, role (node_keys)
    } node[METRICS_NODES_MAX];
} metrics_cluster_t;

//  The forwarding counters (coreapps.h), copied in by the caller.
typedef struct {
    uint64_t forwarded;
    uint64_t retries;
    uint64_t answered;
    uint64_t expired;
    uint64_t map_refreshes;
    uint64_t in_flight;
    uint64_t parked;
} metrics_forward_t;

metrics_t *metrics_new (void);
void metrics_destroy (metrics_t **self_p);
//  Count one answered request: its route name ("none" when it matched no
//  route), its HTTP status and how long it took.
void metrics_request (metrics_t *self, const char *route, int status, wa_usec_t latency);
//  The whole text (malloc'd; *len its length). cluster may be NULL.
char *metrics_render (metrics_t *self, const metrics_cluster_t *cluster, const metrics_forward_t *forward,
                      size_t *len);
//  Fill cluster from the database (a DB worker runs this). 0 / -1.
int metrics_cluster_read (metrics_cluster_t *cluster, wa_db_t *db);

#endif
