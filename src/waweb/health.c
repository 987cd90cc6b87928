/*  health — GET /v1/health in the cluster form: one entry per Master and
    Coreapp that has not stopped (and was seen within the last hour), keyed
    "<hostname>:<node id>", with its role and gateway status. A node the
    cluster cannot reach — silent for more than twice db_liveness_interval,
    or judged unhealthy by the primary Master's heartbeat rule — gets an
    entry with "errors" instead, saying since when and why. Roles are the
    original's: primary_master and secondary_master, from the master lease
    judged by the database's clock (as wactl status computes it), and
    coreapp for every Coreapp (monitoring scripts match on these three);
    a Coreapp's entry also says whether it is primary ("primary") and,
    while it holds a valid shard lease, which shard ("shard", the lowest) and
    every shard it holds ("shards": a Coreapp holds several when there are
    more shards than Coreapps). Only the primary Master,
    and a primary Coreapp whose upstream session is open, are "connected".
    While the account is not registered they are "unregistered" instead: a
    primary Coreapp whose login the upstream answered so (its
    gateway_status), and the primary Master while the `account` row, which
    it keeps as the upstream says, is not "registered" (no row: a cluster
    whose Master has not asked yet, taken as registered).

    Also GET /v1/health/live and /v1/health/ready, the load balancers'
    probes (below). */
#include "web.h"

#define HORIZON "3600000000"   //  microseconds: nodes silent longer are left out

static const char *SQL_HEALTH =
    "SELECT n.id, n.kind, n.hostname, n.gateway_status,"
    " COALESCE(l.holder = n.id AND l.expires_at > NOW(6), 0),"
    " COALESCE((SELECT MIN(s.shard) FROM shard_map s WHERE s.node_id = n.id AND s.expires_at > NOW(6)), -1),"
    " TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)), COALESCE(h.state, ''),"
    " COALESCE((SELECT a.state FROM account a WHERE a.id = 1), 'registered'),"
    " COALESCE((SELECT GROUP_CONCAT(s.shard ORDER BY s.shard) FROM shard_map s"
    "  WHERE s.node_id = n.id AND s.expires_at > NOW(6)), '')"
    " FROM nodes n LEFT JOIN master_lease l ON l.id = 1 LEFT JOIN node_health h ON h.node_id = n.id"
    " WHERE n.kind IN ('master', 'coreapp') AND n.stopped_at IS NULL"
    " AND TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)) <= " HORIZON
    " ORDER BY n.id";

static int
s_node_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    bool master = streq (wa_db_row_str (row, 1), "master");
    int64_t shard = wa_db_row_int (row, 5);
    bool primary = master ? wa_db_row_int (row, 4) != 0 : shard >= 0;
    const char *role = master ? (primary ? "primary_master" : "secondary_master") : "coreapp";
    const char *gateway = wa_db_row_str (row, 3);
    bool unregistered = primary && (master ? !streq (wa_db_row_str (row, 8), "registered")
                                           : streq (gateway, "unregistered"));
    bool connected = primary && !unregistered && (master || streq (gateway, "connected"));
    char key[300];
    snprintf (key, sizeof key, "%s:%s", wa_db_row_str (row, 2), wa_db_row_str (row, 0));
    int64_t silent = wa_db_row_int (row, 6);
    const char *judged = wa_db_row_str (row, 7);
    char details[200] = "";
    if (silent > req->ttl)
        snprintf (details, sizeof details, "%s %s has not claimed liveness for %.1f s (the limit is %.1f s)",
                  master ? "master" : "coreapp", wa_db_row_str (row, 0), (double) silent / 1e6,
                  (double) req->ttl / 1e6);
    else
    if (streq (judged, "unhealthy"))
        snprintf (details, sizeof details, "coreapp %s does not answer the Masters' heartbeats",
                  wa_db_row_str (row, 0));
    if (*details)
        json_object_set_new (req->result, key, json_pack ("{s:[{s:i,s:s,s:s}]}", "errors", "code", WA_ERR_NOT_READY,
                                                          "title", wa_error_title (WA_ERR_NOT_READY),
                                                          "details", details));
    else {
        json_t *entry = json_pack ("{s:s,s:s}", "gateway_status", unregistered ? "unregistered"
                                   : connected ? "connected" : "disconnected", "role", role);
        if (!master)
            json_object_set_new (entry, "primary", json_boolean (primary));
        if (!master && primary) {
            json_object_set_new (entry, "shard", json_integer (shard));
            json_t *shards = json_array ();
            char list[WA_SHARDS_MAX * 3 + 1];
            snprintf (list, sizeof list, "%s", wa_db_row_str (row, 9));
            char *save = NULL;
            for (char *tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
                json_array_append_new (shards, json_integer (strtol (tok, NULL, 10)));
            json_object_set_new (entry, "shards", shards);
        }
        json_object_set_new (req->result, key, entry);
    }
    return 0;
}

static void
s_health_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    req->result = json_object ();
    job->rc = wa_db_query (db, SQL_HEALTH, s_node_row, req, "") < 0 ? -1 : 0;
}

static void
s_health_done (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the cluster's nodes");
        return;
    }
    json_t *response = envelope_new ();
    json_object_set (response, "health", req->result);
    web_reply (self, req, 200, response);
}

void
health_get (web_t *self, web_req_t *req)
{
    req->ttl = wa_alive_window (web_settings (self)->db_liveness_interval);
    web_db (self, req, s_health_run, s_health_done);
}

//  --------------------------------------------------------------------------
//  GET (or HEAD) /v1/health/live and /v1/health/ready, for load balancers:
//  no token, on every address even before the first ADMIN password, and
//  nothing of the cluster in the answer, only whether to send traffic here
//  (the reason for a 503 goes to the log, web_unready). Answered by the
//  reactor from its own state, so a probe costs no statement and no
//  forward: live says the reactor turns (a stuck one answers nothing),
//  ready that the database answered recently and every shard has a
//  primary Coreapp. The 503 is the usual error envelope, with the same
//  "status" as a 200's, for checks that read the body.

void
health_probe (web_t *self, web_req_t *req)
{
    char why[200];
    bool ok = req->route.id == ROUTE_HEALTH_LIVE || !web_unready (self, why, sizeof why);
    json_t *response = ok ? envelope_new () : envelope_error (WA_ERR_NOT_READY, "not ready to serve requests");
    json_object_set_new (response, "status", json_string (ok ? "ok" : "unavailable"));
    web_reply (self, req, ok ? 200 : 503, response);
}
