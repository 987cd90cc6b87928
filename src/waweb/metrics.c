/*  metrics — see metrics.h */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

#define ROUTES_MAX 32
#define STATUSES_MAX 24

//  Histogram bounds in seconds (Prometheus "le"), then +Inf.
static const double s_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1, 2.5, 5, 10, 30, 60 };
#define NBOUNDS (sizeof s_bounds / sizeof s_bounds[0])

typedef struct {
    char name[32];
    uint64_t buckets[NBOUNDS + 1];
    double sum;
    uint64_t count;
    struct {
        int status;
        uint64_t count;
    } statuses[STATUSES_MAX];
    int nstatuses;
} route_t_;

struct metrics_t {
    route_t_ routes[ROUTES_MAX];
    int nroutes;
};

metrics_t *
metrics_new (void)
{
    return (metrics_t *) calloc (1, sizeof (metrics_t));
}

void
metrics_destroy (metrics_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

static route_t_ *
s_route (metrics_t *self, const char *name)
{
    for (int i = 0; i < self->nroutes; i++)
        if (strcmp (self->routes[i].name, name) == 0)
            return &self->routes[i];
    //  The table of routes is small and fixed; past it, one "other" row.
    if (self->nroutes == ROUTES_MAX)
        return &self->routes[ROUTES_MAX - 1];
    route_t_ *route = &self->routes[self->nroutes++];
    snprintf (route->name, sizeof route->name, "%s", name);
    return route;
}

void
metrics_request (metrics_t *self, const char *route_name, int status, wa_usec_t latency)
{
    route_t_ *route = s_route (self, route_name);
    double seconds = (double) latency / 1e6;
    size_t bucket = 0;
    while (bucket < NBOUNDS && seconds > s_bounds[bucket])
        bucket++;
    route->buckets[bucket]++;
    route->sum += seconds;
    route->count++;
    for (int i = 0; i < route->nstatuses; i++)
        if (route->statuses[i].status == status) {
            route->statuses[i].count++;
            return;
        }
    if (route->nstatuses < STATUSES_MAX) {
        route->statuses[route->nstatuses].status = status;
        route->statuses[route->nstatuses].count = 1;
        route->nstatuses++;
    }
}

typedef struct {
    char *text;
    size_t len;
    size_t cap;
} buf_t;

static void s_put (buf_t *buf, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_put (buf_t *buf, const char *fmt, ...)
{
    while (true) {
        va_list args;
        va_start (args, fmt);
        int n = vsnprintf (buf->text + buf->len, buf->cap - buf->len, fmt, args);
        va_end (args);
        if (n >= 0 && (size_t) n < buf->cap - buf->len) {
            buf->len += (size_t) n;
            return;
        }
        size_t cap = buf->cap * 2 + (n > 0 ? (size_t) n : 0);
        char *text = realloc (buf->text, cap);
        if (!text)
            return;             //  truncated rather than crashed; never expected
        buf->text = text;
        buf->cap = cap;
    }
}

static void
s_head (buf_t *buf, const char *name, const char *type, const char *help)
{
    s_put (buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *
metrics_render (metrics_t *self, const metrics_cluster_t *cluster, const metrics_forward_t *forward, size_t *len)
{
    buf_t buf = { malloc (8192), 0, 8192 };
    if (!buf.text)
        return NULL;
    buf.text[0] = 0;
    s_head (&buf, "wacluster_http_requests_total", "counter", "HTTP requests answered by this Webapp");
    for (int i = 0; i < self->nroutes; i++)
        for (int j = 0; j < self->routes[i].nstatuses; j++)
            s_put (&buf, "wacluster_http_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                   self->routes[i].name, self->routes[i].statuses[j].status, self->routes[i].statuses[j].count);
    s_head (&buf, "wacluster_http_request_duration_seconds", "histogram",
            "time from a request's arrival to its answer, per route");
    for (int i = 0; i < self->nroutes; i++) {
        const route_t_ *route = &self->routes[i];
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cumulative += route->buckets[b];
            if (b < NBOUNDS)
                s_put (&buf, "wacluster_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                       route->name, s_bounds[b], cumulative);
            else
                s_put (&buf, "wacluster_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                       route->name, cumulative);
        }
        s_put (&buf, "wacluster_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route->name, route->sum);
        s_put (&buf, "wacluster_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n", route->name,
               route->count);
    }
    if (forward) {
        s_head (&buf, "wacluster_forward_attempts_total", "counter", "attempts sent to primary Coreapps and Masters");
        s_put (&buf, "wacluster_forward_attempts_total %" PRIu64 "\n", forward->forwarded);
        s_head (&buf, "wacluster_forward_retries_total", "counter", "attempts after a request's first (same key)");
        s_put (&buf, "wacluster_forward_retries_total %" PRIu64 "\n", forward->retries);
        s_head (&buf, "wacluster_forward_expired_total", "counter", "requests no primary answered within request_deadline");
        s_put (&buf, "wacluster_forward_expired_total %" PRIu64 "\n", forward->expired);
        s_head (&buf, "wacluster_shard_map_reads_total", "counter", "shard map reads asked for (notices, 1018s, timeouts)");
        s_put (&buf, "wacluster_shard_map_reads_total %" PRIu64 "\n", forward->map_refreshes);
        s_head (&buf, "wacluster_forward_in_flight", "gauge", "requests waiting for a primary's answer");
        s_put (&buf, "wacluster_forward_in_flight %" PRIu64 "\n", forward->in_flight);
        s_head (&buf, "wacluster_forward_parked", "gauge", "requests waiting to be tried again");
        s_put (&buf, "wacluster_forward_parked %" PRIu64 "\n", forward->parked);
    }
    if (cluster && cluster->read) {
        s_head (&buf, "wacluster_master_lease_epoch", "gauge", "epoch of the master lease");
        s_put (&buf, "wacluster_master_lease_epoch %" PRIu64 "\n", cluster->master_epoch);
        s_head (&buf, "wacluster_master_lease_holder", "gauge", "node id of the primary Master, 0 when none");
        s_put (&buf, "wacluster_master_lease_holder %" PRIu64 "\n", cluster->master_holder);
        s_head (&buf, "wacluster_paused", "gauge", "1 while the cluster is paused (wactl pause): no automatic failover");
        s_put (&buf, "wacluster_paused %d\n", cluster->paused ? 1 : 0);
        s_head (&buf, "wacluster_shard_lease_epoch", "gauge", "epoch of each shard lease");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_shard_lease_epoch{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].epoch);
        s_head (&buf, "wacluster_shard_primary", "gauge", "node id of each shard's primary Coreapp, 0 when none");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_shard_primary{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].node);
        s_head (&buf, "wacluster_promotions_total", "counter", "Coreapps promoted per shard (the first included)");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_promotions_total{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].promotions);
        s_head (&buf, "wacluster_failovers_total", "counter", "promotions that replaced an earlier primary");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_failovers_total{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].promotions ? cluster->shard[i].promotions - 1 : 0);
        s_head (&buf, "wacluster_outbox_pending", "gauge", "accepted messages not yet acknowledged upstream");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_outbox_pending{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].pending);
        s_head (&buf, "wacluster_callbacks_pending", "gauge", "statuses and inbound messages not yet delivered to the webhook");
        for (int i = 0; i < cluster->shards; i++)
            s_put (&buf, "wacluster_callbacks_pending{shard=\"%d\"} %" PRIu64 "\n", cluster->shard[i].shard,
                   cluster->shard[i].callbacks);
        s_head (&buf, "wacluster_node_liveness_age_seconds", "gauge", "seconds since each node's last liveness claim");
        for (int i = 0; i < cluster->nodes; i++)
            s_put (&buf, "wacluster_node_liveness_age_seconds{node=\"%" PRIu64 "\",kind=\"%s\"} %.3f\n",
                   cluster->node[i].id, cluster->node[i].kind, cluster->node[i].liveness_age);
        s_head (&buf, "wacluster_heartbeat_reply_age_seconds", "gauge",
                "age of each Coreapp's last heartbeat reply, as the primary Master judged it");
        for (int i = 0; i < cluster->nodes; i++)
            if (cluster->node[i].reply_age >= 0)
                s_put (&buf, "wacluster_heartbeat_reply_age_seconds{node=\"%" PRIu64 "\",state=\"%s\"} %.3f\n",
                       cluster->node[i].id, cluster->node[i].health, cluster->node[i].reply_age);
    }
    if (cluster && cluster->read) {
        static const char *reasons[3] = { "unknown_key", "no_curve", "role" };
        s_head (&buf, "wacluster_bus_refused_total", "counter",
                "connections and messages each node's bus refused (as of its last liveness claim)");
        for (int i = 0; i < cluster->nodes; i++)
            if (strcmp (cluster->node[i].kind, "master") == 0 || strcmp (cluster->node[i].kind, "coreapp") == 0)
                for (int k = 0; k < 3; k++)
                    s_put (&buf, "wacluster_bus_refused_total{node=\"%" PRIu64 "\",reason=\"%s\"} %" PRIu64 "\n",
                           cluster->node[i].id, reasons[k], cluster->node[i].refused[k]);
    }
    if (len)
        *len = buf.len;
    return buf.text;
}

//  --------------------------------------------------------------------------
//  The cluster part (on a DB worker)

static const char *SQL_LEASE =
    "SELECT epoch, IF(expires_at > NOW(6), holder, 0) FROM master_lease WHERE id = 1";
static const char *SQL_PAUSED =
    "SELECT paused_at IS NOT NULL FROM cluster_info WHERE id = 1";
//  Promotions are the shard lease's epoch (each adds one), not a count of
//  the audit log's `promoted` events: retention deletes old events, and a
//  counter must never go down.
static const char *SQL_SHARDS =
    "SELECT s.shard, s.epoch, IF(s.expires_at > NOW(6), s.node_id, 0), s.epoch,"
    " (SELECT COUNT(*) FROM outbox o WHERE o.shard = s.shard AND o.status = 'pending'),"
    " (SELECT COUNT(*) FROM callbacks c WHERE c.shard = s.shard AND c.status = 'pending')"
    " FROM shard_map s ORDER BY s.shard";
static const char *SQL_NODES =
    "SELECT n.id, n.kind, TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)),"
    " COALESCE(h.reply_age_ms, -1), COALESCE(h.state, 'unknown'),"
    " COALESCE(k.refused_handshakes, 0), COALESCE(k.refused_keyless, 0), COALESCE(k.refused_messages, 0)"
    " FROM nodes n LEFT JOIN node_health h ON h.node_id = n.id LEFT JOIN node_keys k ON k.node_id = n.id"
    " WHERE n.stopped_at IS NULL AND n.last_seen > NOW(6) - INTERVAL 1 HOUR ORDER BY n.id";

static int
s_lease_row (const wa_db_row_t *row, void *arg)
{
    metrics_cluster_t *cluster = arg;
    cluster->master_epoch = (uint64_t) wa_db_row_int (row, 0);
    cluster->master_holder = (uint64_t) wa_db_row_int (row, 1);
    return 0;
}

static int
s_paused_row (const wa_db_row_t *row, void *arg)
{
    metrics_cluster_t *cluster = arg;
    cluster->paused = wa_db_row_int (row, 0) != 0;
    return 0;
}

static int
s_shard_row (const wa_db_row_t *row, void *arg)
{
    metrics_cluster_t *cluster = arg;
    if (cluster->shards == METRICS_SHARDS_MAX)
        return 1;
    int i = cluster->shards++;
    cluster->shard[i].shard = (int) wa_db_row_int (row, 0);
    cluster->shard[i].epoch = (uint64_t) wa_db_row_int (row, 1);
    cluster->shard[i].node = (uint64_t) wa_db_row_int (row, 2);
    cluster->shard[i].promotions = (uint64_t) wa_db_row_int (row, 3);
    cluster->shard[i].pending = (uint64_t) wa_db_row_int (row, 4);
    cluster->shard[i].callbacks = (uint64_t) wa_db_row_int (row, 5);
    return 0;
}

static int
s_node_row (const wa_db_row_t *row, void *arg)
{
    metrics_cluster_t *cluster = arg;
    if (cluster->nodes == METRICS_NODES_MAX)
        return 1;
    int i = cluster->nodes++;
    cluster->node[i].id = (uint64_t) wa_db_row_int (row, 0);
    //  Labels hold only what a node writes: a kind of letters.
    const char *kind = wa_db_row_str (row, 1);
    bool plain = *kind && strspn (kind, "abcdefghijklmnopqrstuvwxyz") == strlen (kind);
    snprintf (cluster->node[i].kind, sizeof cluster->node[i].kind, "%s", plain ? kind : "unknown");
    cluster->node[i].liveness_age = (double) wa_db_row_int (row, 2) / 1e6;
    int64_t reply = wa_db_row_int (row, 3);
    cluster->node[i].reply_age = reply < 0 ? -1 : (double) reply / 1e3;
    const char *health = wa_db_row_str (row, 4);
    plain = *health && strspn (health, "abcdefghijklmnopqrstuvwxyz") == strlen (health);
    snprintf (cluster->node[i].health, sizeof cluster->node[i].health, "%s", plain ? health : "unknown");
    for (int k = 0; k < 3; k++)
        cluster->node[i].refused[k] = (uint64_t) wa_db_row_int (row, 5 + k);
    return 0;
}

int
metrics_cluster_read (metrics_cluster_t *cluster, wa_db_t *db)
{
    memset (cluster, 0, sizeof *cluster);
    if (wa_db_query (db, SQL_LEASE, s_lease_row, cluster, "") < 0
    ||  wa_db_query (db, SQL_PAUSED, s_paused_row, cluster, "") < 0
    ||  wa_db_query (db, SQL_SHARDS, s_shard_row, cluster, "") < 0
    ||  wa_db_query (db, SQL_NODES, s_node_row, cluster, "") < 0)
        return -1;
    cluster->read = true;
    return 0;
}
