/*  ops — the operations endpoints:

    PUT /v1/services/message/gc   forwarded to the primary Master, which runs
                                  a retention pass now (or joins the one
                                  under way) and answers what it deleted
    GET /v1/support               what a support ticket needs: versions, the
                                  nodes and their roles, the leases, recent
                                  trouble from the events table; no setting,
                                  key or credential
    GET /v1/stats/db/internal     the cluster's tables counted, in the
                                  original's metric form, keyed by the
                                  primary Master as the original keys
                                  /v1/stats/db in a cluster
    GET /v1/stats/app/internal    every node's counters (stats.c's fan-out)
                                  in the original's metric form

    The metric form is the original's: {"<name>": {"data": [{"labels": {...},
    "value": N}], "help": "...", "type": "gauge|counter"}}. */
#include "wa_migrations.h"
#include "coreapps.h"
#include "web.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

//  Recent trouble: these kinds of event, at most this many, this recent.
#define SUPPORT_ERRORS_MAX "50"
#define SUPPORT_ERRORS_HOURS "24"

//  --------------------------------------------------------------------------
//  The metric form

static void
s_family_add (json_t *families, const char *name, const char *type, const char *help, json_t *labels,
              json_int_t value)
{
    json_t *family = json_object_get (families, name);
    if (!family) {
        family = json_pack ("{s:[], s:s, s:s}", "data", "help", help, "type", type);
        json_object_set_new (families, name, family);
    }
    json_t *point = json_pack ("{s:I}", "value", value);
    if (labels)
        json_object_set_new (point, "labels", labels);
    json_array_append_new (json_object_get (family, "data"), point);
}

//  Every number (and switch, as 0 or 1) of a node's stats object, its path
//  joined by '_' as the name ("outbox_sent"); the text fields become the
//  labels of one "node_info" point.
static void
s_flatten (json_t *families, json_t *info, const char *prefix, json_t *object)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        char name[160];
        snprintf (name, sizeof name, "%s%s%s", prefix, *prefix ? "_" : "", key);
        if (json_is_object (value))
            s_flatten (families, info, name, value);
        else
        if (json_is_integer (value) || json_is_boolean (value))
            s_family_add (families, name, "gauge", "", NULL,
                          json_is_boolean (value) ? json_is_true (value) : json_integer_value (value));
        else
        if (json_is_real (value)) {
            //  Seconds and ratios as thousandths: the form has whole values.
            char scaled[170];
            snprintf (scaled, sizeof scaled, "%s_milli", name);
            s_family_add (families, scaled, "gauge", "", NULL, (json_int_t) (json_real_value (value) * 1000));
        }
        else
        if (json_is_string (value))
            json_object_set (info, name, value);
    }
}

json_t *
ops_families (json_t *stats)
{
    json_t *families = json_object (), *info = json_object ();
    if (json_object_get (stats, "errors")) {
        json_decref (info);
        json_decref (families);
        return json_deep_copy (stats);
    }
    s_flatten (families, info, "", stats);
    s_family_add (families, "node_info", "gauge", "The node's kind and role", info, 1);
    //  The original's name for the one everybody graphs.
    json_t *pending = json_object_get (json_object_get (stats, "callbacks"), "pending");
    if (json_is_integer (pending))
        s_family_add (families, "callback_queue_size", "gauge", "Current callback queue size", NULL,
                      json_integer_value (pending));
    return families;
}

//  --------------------------------------------------------------------------
//  GET /v1/stats/db/internal

static const char *SQL_PRIMARY_MASTER =
    "SELECT CONCAT(n.hostname, ':', n.id) FROM master_lease l JOIN nodes n ON n.id = l.holder"
    " WHERE l.id = 1 AND l.expires_at > NOW(6)";

typedef struct {
    const char *name;
    const char *type;
    const char *help;
    const char *label;          //  the first column's label, or NULL: one point
    const char *sql;
} db_family_t;

static const db_family_t s_db_families[] = {
    { "db_messages", "gauge", "Current number of messages in DB (the outbox), by status", "status",
      "SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status" },
    { "db_pending_messages", "gauge", "Current number of pending messages in DB", NULL,
      "SELECT COUNT(*) FROM outbox WHERE status = 'pending'" },
    { "db_callbacks", "gauge", "Current number of callbacks in DB, by status", "status",
      "SELECT status, COUNT(*) FROM callbacks GROUP BY status ORDER BY status" },
    { "db_pending_callbacks", "gauge", "Current number of pending callbacks in DB", NULL,
      "SELECT COUNT(*) FROM callbacks WHERE status = 'pending'" },
    { "db_inbound_ids", "gauge", "Current number of inbound message ids kept for marking them read", NULL,
      "SELECT COUNT(*) FROM inbound_ids" },
    { "db_media", "gauge", "Current number of media files in DB", NULL, "SELECT COUNT(*) FROM media" },
    { "db_media_providers", "gauge", "Current number of media providers", NULL,
      "SELECT COUNT(*) FROM media_providers" },
    { "db_events", "gauge", "Current number of audit events in DB", NULL, "SELECT COUNT(*) FROM events" },
    { "db_users", "gauge", "Current number of API users, by role", "role",
      "SELECT role, COUNT(*) FROM users GROUP BY role ORDER BY role" },
    { "db_tokens", "gauge", "Current number of valid login tokens", NULL,
      "SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL AND expires_at > NOW(6)" },
    { "db_nodes", "gauge", "Masters, Coreapps and Webapps not stopped, by kind", "kind",
      "SELECT kind, COUNT(*) FROM nodes WHERE stopped_at IS NULL GROUP BY kind ORDER BY kind" },
};
#define DB_FAMILIES (sizeof s_db_families / sizeof s_db_families[0])

typedef struct {
    json_t *families;
    const db_family_t *family;
} db_rows_t;

static int
s_family_row (const wa_db_row_t *row, void *arg)
{
    db_rows_t *rows = arg;
    const db_family_t *family = rows->family;
    json_t *labels = family->label ? json_pack ("{s:s}", family->label, wa_db_row_str (row, 0)) : NULL;
    s_family_add (rows->families, family->name, family->type, family->help, labels,
                  wa_db_row_int (row, family->label ? 1 : 0));
    return 0;
}

static int
s_str_row (const wa_db_row_t *row, void *arg)
{
    snprintf ((char *) arg, 300, "%s", wa_db_row_str (row, 0));
    return 0;
}

static void
s_db_internal_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    char master[300] = "";
    req->result = json_object ();
    job->rc = -1;
    if (wa_db_query (db, SQL_PRIMARY_MASTER, s_str_row, master, "") < 0)
        return;
    json_t *families = json_object ();
    json_object_set_new (req->result, *master ? master : "no primary master", families);
    for (size_t i = 0; i < DB_FAMILIES; i++) {
        db_rows_t rows = { families, &s_db_families[i] };
        if (wa_db_query (db, s_db_families[i].sql, s_family_row, &rows, "") < 0)
            return;
        //  A count of nothing is a point of 0, not a missing family.
        if (!json_object_get (families, s_db_families[i].name) && !s_db_families[i].label)
            s_family_add (families, s_db_families[i].name, s_db_families[i].type, s_db_families[i].help, NULL, 0);
    }
    job->rc = 0;
}

static void
s_db_internal_done (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot count the cluster's tables");
        return;
    }
    json_t *response = envelope_new ();
    json_object_set_new (response, "stats", json_pack ("{s:O}", "db", req->result));
    web_reply (self, req, 200, response);
}

//  --------------------------------------------------------------------------
//  GET /v1/support

static const char *SQL_SUPPORT_NODES =
    "SELECT n.id, n.kind, n.hostname, n.version, n.gateway_status,"
    " COALESCE(l.holder = n.id AND l.expires_at > NOW(6), 0),"
    " COALESCE((SELECT MIN(s.shard) FROM shard_map s WHERE s.node_id = n.id AND s.expires_at > NOW(6)), -1),"
    " TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)), DATE_FORMAT(n.started_at, '%Y-%m-%dT%H:%i:%sZ'),"
    " COALESCE(h.state, ''), n.stopped_at IS NOT NULL"
    " FROM nodes n LEFT JOIN master_lease l ON l.id = 1 LEFT JOIN node_health h ON h.node_id = n.id"
    " WHERE n.stopped_at IS NULL OR n.stopped_at > NOW(6) - INTERVAL 1 HOUR ORDER BY n.id";
static const char *SQL_SUPPORT_CLUSTER =
    "SELECT (SELECT shards FROM cluster_info WHERE id = 1), (SELECT MAX(version) FROM schema_version),"
    " (SELECT COALESCE(state, '') FROM account WHERE id = 1),"
    " (SELECT COALESCE(last_error, '') FROM gc_state WHERE id = 1)";
static const char *SQL_SUPPORT_ERRORS =
    "SELECT DATE_FORMAT(e.at, '%Y-%m-%dT%H:%i:%s.%fZ'), e.node_id, e.kind, COALESCE(e.shard, -1), e.detail"
    " FROM events e WHERE e.at > NOW(6) - INTERVAL " SUPPORT_ERRORS_HOURS " HOUR AND e.kind IN"
    " ('lease_lost', 'demoted', 'failover_rate_limited', 'failover_paused', 'unregistered', 'session_closed')"
    " ORDER BY e.at DESC, e.id DESC LIMIT " SUPPORT_ERRORS_MAX;

static int
s_support_node (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    bool master = streq (wa_db_row_str (row, 1), "master");
    bool coreapp = streq (wa_db_row_str (row, 1), "coreapp");
    int64_t shard = wa_db_row_int (row, 6);
    int64_t silent = wa_db_row_int (row, 7);
    const char *role = master ? (wa_db_row_int (row, 5) ? "primary_master" : "secondary_master")
                     : coreapp ? "coreapp" : "webapp";
    const char *state = wa_db_row_int (row, 10) ? "stopped" : silent > req->ttl ? "down" : "up";
    char key[300];
    snprintf (key, sizeof key, "%s:%s", wa_db_row_str (row, 2), wa_db_row_str (row, 0));
    json_t *node = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "node", key, "kind", wa_db_row_str (row, 1),
                              "role", role, "version", wa_db_row_str (row, 3), "state", state,
                              "started_at", wa_db_row_str (row, 8), "last_seen_seconds_ago", (double) silent / 1e6);
    if (master || coreapp)
        json_object_set_new (node, "gateway_status", json_string (wa_db_row_str (row, 4)));
    if (coreapp) {
        json_object_set_new (node, "primary", json_boolean (shard >= 0));
        if (shard >= 0)
            json_object_set_new (node, "shard", json_integer (shard));
        if (*wa_db_row_str (row, 9))
            json_object_set_new (node, "heartbeats", json_string (wa_db_row_str (row, 9)));
    }
    json_array_append_new (json_object_get (req->result, "nodes"), node);
    return 0;
}

static int
s_support_cluster (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    json_object_set_new (req->result, "shards", json_integer (wa_db_row_int (row, 0)));
    json_object_set_new (req->result, "schema_version", json_integer (wa_db_row_int (row, 1)));
    json_object_set_new (req->result, "account", json_string (*wa_db_row_str (row, 2) ? wa_db_row_str (row, 2)
                                                                                         : "unknown"));
    if (*wa_db_row_str (row, 3))
        json_object_set_new (req->result, "retention_last_error", json_string (wa_db_row_str (row, 3)));
    return 0;
}

static int
s_support_error (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    json_t *error = json_pack ("{s:s, s:I, s:s, s:s}", "at", wa_db_row_str (row, 0), "node",
                               (json_int_t) wa_db_row_int (row, 1), "kind", wa_db_row_str (row, 2),
                               "details", wa_db_row_str (row, 4));
    if (wa_db_row_int (row, 3) >= 0)
        json_object_set_new (error, "shard", json_integer (wa_db_row_int (row, 3)));
    json_array_append_new (json_object_get (req->result, "recent_errors"), error);
    return 0;
}

static void
s_support_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    req->result = json_pack ("{s:[], s:[]}", "nodes", "recent_errors");
    job->rc = wa_db_query (db, SQL_SUPPORT_CLUSTER, s_support_cluster, req, "") < 0
           || wa_db_query (db, SQL_SUPPORT_NODES, s_support_node, req, "") < 0
           || wa_db_query (db, SQL_SUPPORT_ERRORS, s_support_error, req, "") < 0 ? -1 : 0;
}

static void
s_support_done (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the cluster's state");
        return;
    }
    json_t *support = json_deep_copy (req->result);
    json_object_set_new (support, "version", json_string (WA_VERSION));
    json_object_set_new (support, "webapp", json_pack ("{s:s, s:I, s:i}", "hostname", web_config (self)->hostname,
                                                       "node", (json_int_t) web_node_id (self),
                                                       "schema_version_needed", wa_schema_version));
    json_t *response = envelope_new ();
    json_object_set_new (response, "support", support);
    web_reply (self, req, 200, response);
}

//  --------------------------------------------------------------------------

void
ops_request (web_t *self, web_req_t *req)
{
    switch (req->route.id) {
        case ROUTE_MESSAGE_GC:
            web_forward (self, req, COREAPPS_MASTER, json_pack ("{s:s, s:s}", "op", "message_gc", "by", req->caller));
            break;
        case ROUTE_SUPPORT:
            req->ttl = wa_alive_window (web_settings (self)->db_liveness_interval);
            web_db (self, req, s_support_run, s_support_done);
            break;
        case ROUTE_STATS_DB_INTERNAL:
            web_db (self, req, s_db_internal_run, s_db_internal_done);
            break;
        case ROUTE_STATS_APP_INTERNAL:
            stats_get (self, req);
            break;
        default:
            web_fail (self, req, 0, WA_ERR_INTERNAL, "no handler for this route");
            break;
    }
}
