/*  stats — GET /v1/stats/app, GET /v1/stats/db and GET /metrics.

    The stats are keyed per node "<hostname>:<node id>": every Master and
    Coreapp that is up answers a STATS_REQ on its control port with a JSON
    object (its counters, and under "db" its database client's), asked all
    at once on short-lived DEALERs; a node that does not answer within
    STATS_TIMEOUT_MS gets an entry holding errors. This Webapp adds its own.
    /v1/stats/app shows each object without "db", /v1/stats/db only "db".

    /metrics renders metrics.h: this Webapp's counters and the cluster as
    the database records it (one DB job per scrape). */
#include "wa_log.h"
#include "wa_peers.h"
#include "web.h"

#define STATS_TIMEOUT_MS 1000
#define PROBES_MAX 64

typedef struct {
    char key[300];
    char endpoint[300];
    zsock_t *dealer;
    json_t *answer;
} probe_t;

typedef struct {
    web_t *web;
    web_req_t *req;
    int count;
    int waiting;
    int timer;
    probe_t probes[PROBES_MAX];
} fanout_t;

static const char *SQL_NODES =
    "SELECT n.id, n.hostname, n.ports, n.kind, COALESCE(k.bus_key, '') FROM nodes n"
    " LEFT JOIN node_keys k ON k.node_id = n.id WHERE n.kind IN ('master', 'coreapp') AND n.stopped_at IS NULL"
    " AND TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)) <= ? ORDER BY n.id";

static int
s_node_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    char endpoint[300];
    if (wa_peers_endpoint (wa_db_row_str (row, 1), wa_db_row_str (row, 2), 2, endpoint, sizeof endpoint))
        return 0;
    char key[300];
    snprintf (key, sizeof key, "%s:%s", wa_db_row_str (row, 1), wa_db_row_str (row, 0));
    json_array_append_new (req->result, json_pack ("{s:s, s:s, s:s, s:s}", "key", key, "endpoint", endpoint,
                                                   "kind", wa_db_row_str (row, 3),
                                                   "bus_key", wa_db_row_str (row, 4)));
    return 0;
}

static void
s_nodes_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    req->result = json_array ();
    job->rc = wa_db_query (db, SQL_NODES, s_node_row, req, "i", req->ttl) < 0 ? -1 : 0;
}

//  Freed with the request, however it ends (also at shutdown).
static void
s_fanout_free (void *arg)
{
    fanout_t *fanout = arg;
    wa_loop_t *loop = web_loop (fanout->web);
    for (int i = 0; i < fanout->count; i++) {
        probe_t *probe = &fanout->probes[i];
        if (probe->dealer) {
            wa_loop_reader_end (loop, probe->dealer);
            zsock_destroy (&probe->dealer);
        }
        json_decref (probe->answer);
    }
    if (fanout->timer >= 0)
        wa_loop_timer_end (loop, fanout->timer);
    free (fanout);
}

static void
s_finish (fanout_t *fanout)
{
    web_t *self = fanout->web;
    web_req_t *req = fanout->req;
    bool db = req->route.id == ROUTE_STATS_DB;
    bool internal = req->route.id == ROUTE_STATS_APP_INTERNAL;     //  ops.c: in the original's metric form
    json_t *nodes = json_object ();
    for (int i = 0; i < fanout->count; i++) {
        probe_t *probe = &fanout->probes[i];
        json_t *entry;
        if (!probe->answer)
            entry = json_pack ("{s:[{s:i, s:s, s:s}]}", "errors", "code", WA_ERR_NOT_READY, "title",
                               wa_error_title (WA_ERR_NOT_READY), "details", "the node did not answer within 1 s");
        else
        if (db) {
            entry = json_incref (json_object_get (probe->answer, "db"));
            if (!entry)
                entry = json_pack ("{s:[{s:i, s:s, s:s}]}", "errors", "code", WA_ERR_NOT_FOUND, "title",
                                   wa_error_title (WA_ERR_NOT_FOUND), "details", "the node reports no database stats");
        }
        else {
            entry = json_deep_copy (probe->answer);
            json_object_del (entry, "db");
        }
        if (internal) {
            json_t *families = ops_families (entry);
            json_decref (entry);
            entry = families;
        }
        json_object_set_new (nodes, probe->key, entry);
    }
    json_t *own = web_own_stats (self);
    char key[300];
    snprintf (key, sizeof key, "%s:%" PRIu64, web_config (self)->hostname, web_node_id (self));
    if (db)
        json_object_set (nodes, key, json_object_get (own, "db"));
    else {
        json_object_del (own, "db");
        json_object_set_new (nodes, key, internal ? ops_families (own) : json_incref (own));
    }
    json_decref (own);
    //  req->extra is the fanout: web_reply frees it.
    json_t *response = envelope_new ();
    json_object_set_new (response, "stats", json_pack ("{s:o}", db ? "db" : "app", nodes));
    web_reply (self, req, 200, response);
}

static int
s_on_answer (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    fanout_t *fanout = arg;
    probe_t *probe = NULL;
    for (int i = 0; i < fanout->count; i++)
        if (fanout->probes[i].dealer == reader)
            probe = &fanout->probes[i];
    wa_msg_t *msg = (wa_msg_t *) malloc (sizeof (wa_msg_t));
    if (probe && msg && wa_codec_recv (reader, NULL, msg, NULL) == 0 && msg->type == WA_MSG_STATS && !probe->answer) {
        json_t *answer = json_loadb (msg->text, msg->text_len, 0, NULL);
        if (json_is_object (answer))
            probe->answer = answer;
        else
            json_decref (answer);
        if (probe->answer && --fanout->waiting == 0) {
            free (msg);
            s_finish (fanout);
            return 0;
        }
    }
    free (msg);
    return 0;
}

static int
s_on_timeout (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    fanout_t *fanout = arg;
    fanout->timer = -1;         //  a one-shot timer: ended by the loop
    s_finish (fanout);
    return 0;
}

static void
s_nodes_done (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the cluster's nodes");
        return;
    }
    fanout_t *fanout = (fanout_t *) zmalloc (sizeof (fanout_t));
    fanout->web = self;
    fanout->req = req;
    fanout->timer = -1;
    req->extra = fanout;
    req->extra_free = s_fanout_free;
    wa_loop_t *loop = web_loop (self);
    size_t index;
    json_t *node;
    wa_msg_t *msg = (wa_msg_t *) malloc (sizeof (wa_msg_t));
    assert (msg);
    wa_msg_init (msg, WA_MSG_STATS_REQ);
    json_array_foreach (req->result, index, node) {
        if (fanout->count == PROBES_MAX)
            break;
        probe_t *probe = &fanout->probes[fanout->count++];
        snprintf (probe->key, sizeof probe->key, "%s", json_string_value (json_object_get (node, "key")));
        snprintf (probe->endpoint, sizeof probe->endpoint, "%s", json_string_value (json_object_get (node, "endpoint")));
        probe->dealer = zsock_new (ZMQ_DEALER);
        zsock_set_linger (probe->dealer, 0);
        zsock_set_sndtimeo (probe->dealer, 0);
        char why[200];
        if (wa_trust_client (web_trust (self), probe->dealer, json_string_value (json_object_get (node, "bus_key")),
                             wa_role_of_kind (json_string_value (json_object_get (node, "kind"))), why, sizeof why))
            wa_warn ("stats: not asking node %s: %s", probe->key, why);
        else
        if (zsock_connect (probe->dealer, "%s", probe->endpoint) == 0
        &&  wa_codec_send (probe->dealer, NULL, msg) == 0) {
            wa_loop_reader (loop, probe->dealer, s_on_answer, fanout);
            fanout->waiting++;
        }
        else
            zsock_destroy (&probe->dealer);
    }
    free (msg);
    if (fanout->waiting == 0) {
        s_finish (fanout);
        return;
    }
    fanout->timer = wa_loop_timer (loop, STATS_TIMEOUT_MS, 1, s_on_timeout, fanout);
}

void
stats_get (web_t *self, web_req_t *req)
{
    req->ttl = wa_alive_window (web_settings (self)->db_liveness_interval);
    web_db (self, req, s_nodes_run, s_nodes_done);
}

//  --------------------------------------------------------------------------
//  /metrics

static void
s_cluster_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    job->rc = metrics_cluster_read ((metrics_cluster_t *) req->extra, db);
}

static void
s_cluster_done (web_t *self, web_req_t *req)
{
    metrics_forward_t forward;
    web_forward_stats (self, &forward);
    //  Without the database, this Webapp's own part still answers.
    size_t len = 0;
    char *text = metrics_render (web_metrics (self), (metrics_cluster_t *) req->extra, &forward, &len);
    if (!text) {
        web_fail (self, req, 0, WA_ERR_INTERNAL, "out of memory");
        return;
    }
    web_reply_text (self, req, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

void
metrics_get (web_t *self, web_req_t *req)
{
    if (req->http.format && !streq (req->http.format, "prometheus")) {
        web_fail (self, req, 0, WA_ERR_INVALID, "format must be prometheus (the only one served)");
        return;
    }
    req->extra = zmalloc (sizeof (metrics_cluster_t));
    web_db (self, req, s_cluster_run, s_cluster_done);
}
