/*  wactl status, wactl schema — what the cluster looks like now, the pause
    (pause.c) included. The document is built once as JSON; the human tables
    are drawn from it, so both say the same thing. */
#include <stdlib.h>
#include <string.h>
#include <mysqld_error.h>
#include "wa_migrations.h"
#include "wactl.h"

static const char *SQL_DB_TIME =
    "SELECT " WACTL_ISO ("NOW(6)");

static const char *SQL_LEASE =
    "SELECT holder, epoch, " WACTL_ISO ("expires_at") ", " WACTL_UNTIL ("expires_at") ","
    " expires_at > NOW(6)"
    " FROM master_lease WHERE id = 1";

static const char *SQL_SHARDS =
    "SELECT shard, node_id, epoch, " WACTL_ISO ("expires_at") ", " WACTL_UNTIL ("expires_at") ","
    " expires_at > NOW(6), prev_node, " WACTL_ISO ("promoted_at") ", reason"
    " FROM shard_map ORDER BY shard";
//  The shard count in force and the change that runs (schema 15): its
//  state, its counts, when and by whom it was asked.
static const char *SQL_CHANGE =
    "SELECT c.shards, c.layout, c.change_state, COALESCE(h.from_shards, 0), COALESCE(h.to_shards, 0),"
    " " WACTL_ISO ("h.started_at") ", COALESCE(h.started_by, '')"
    " FROM cluster_info c LEFT JOIN shard_changes h ON h.id = c.change_id WHERE c.id = 1";

//  Parameters: the liveness window twice, in microseconds. A node is hidden
//  (without --all) once stopped, or down, for more than ten minutes.
//  The last column: the database node (schema 16), or '' before it. Two
//  strings, not a printf format: WACTL_ISO's DATE_FORMAT holds '%' specifiers.
#define SQL_NODES(db_node) \
    "SELECT n.id, n.kind, n.hostname, n.ports, n.pid, n.version, " WACTL_ISO ("n.last_seen") "," \
    " " WACTL_AGE ("n.last_seen") ", n.gateway_status, " WACTL_STATE ("n") "," \
    " CASE WHEN n.stopped_at IS NOT NULL THEN n.stopped_at < NOW(6) - INTERVAL 10 MINUTE" \
    " ELSE TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)) > ? + 600000000 END," \
    " " db_node " FROM nodes n ORDER BY n.id"
static const char *SQL_NODES_BY_SCHEMA[2] = { SQL_NODES ("''"), SQL_NODES ("n.db_node") };

//  The primary Master's view of each Coreapp (schema version 3). Parameter:
//  the age in microseconds past which a row is too old to tell anything.
static const char *SQL_HEALTH =
    "SELECT node_id, state, reply_age_ms, votes, observers, " WACTL_AGE ("updated_at") ","
    " TIMESTAMPDIFF(MICROSECOND, updated_at, NOW(6)) > ?"
    " FROM node_health";

//  What the primary Master's retention passes did (schema version 9): the
//  last pass, and the rows deleted since the cluster began; the inbound ids
//  from schema version 17 (0 before).
#define SQL_GC(last_inbound_ids, inbound_ids_deleted) \
    "SELECT node_id, epoch, passes, " WACTL_ISO ("last_pass_at") ", " WACTL_AGE ("last_pass_at") "," \
    " last_pass_ms, last_batches, last_error, last_outbox, last_callbacks, last_events, " last_inbound_ids "," \
    " outbox_deleted, callbacks_deleted, events_deleted, " inbound_ids_deleted \
    " FROM gc_state WHERE id = 1"
static const char *SQL_GC_9 = SQL_GC ("0", "0");
static const char *SQL_GC_17 = SQL_GC ("last_inbound_ids", "inbound_ids_deleted");

//  A node_health row older than this many heartbeats (and seconds) is stale.
#define HEALTH_STALE_BEATS 3
#define HEALTH_STALE_MIN 2.0

typedef struct {
    json_t *nodes;
    bool all;
    int hidden;
} nodes_arg_t;

static json_t *
s_text_or_null (const wa_db_row_t *row, int col)
{
    return wa_db_row_null (row, col) ? json_null () : json_string (wa_db_row_str (row, col));
}

static int
s_db_time_row (const wa_db_row_t *row, void *arg)
{
    json_object_set_new (arg, "db_time", json_string (wa_db_row_str (row, 0)));
    return 0;
}

static int
s_lease_row (const wa_db_row_t *row, void *arg)
{
    json_t *lease = arg;
    json_object_set_new (lease, "holder", json_integer (wa_db_row_int (row, 0)));
    json_object_set_new (lease, "epoch", json_integer (wa_db_row_int (row, 1)));
    json_object_set_new (lease, "expires_at", s_text_or_null (row, 2));
    json_object_set_new (lease, "expires_in", json_real (wa_db_row_double (row, 3)));
    json_object_set_new (lease, "valid", json_boolean (wa_db_row_int (row, 4)));
    return 0;
}

static int
s_shard_row (const wa_db_row_t *row, void *arg)
{
    json_t *shard = json_object ();
    json_object_set_new (shard, "shard", json_integer (wa_db_row_int (row, 0)));
    json_object_set_new (shard, "node", json_integer (wa_db_row_int (row, 1)));
    json_object_set_new (shard, "epoch", json_integer (wa_db_row_int (row, 2)));
    json_object_set_new (shard, "expires_at", s_text_or_null (row, 3));
    json_object_set_new (shard, "expires_in", json_real (wa_db_row_double (row, 4)));
    json_object_set_new (shard, "valid", json_boolean (wa_db_row_int (row, 5)));
    json_object_set_new (shard, "prev_node", json_integer (wa_db_row_int (row, 6)));
    json_object_set_new (shard, "promoted_at", s_text_or_null (row, 7));
    json_object_set_new (shard, "reason", json_string (wa_db_row_str (row, 8)));
    json_array_append_new (arg, shard);
    return 0;
}

//  nodes.ports is "a,b,c,d"; whatever is missing reads as 0.
static json_t *
s_ports (const char *text)
{
    json_t *ports = json_array ();
    for (int i = 0; i < 4; i++) {
        char *end;
        long port = strtol (text, &end, 10);
        json_array_append_new (ports, json_integer (end == text ? 0 : port));
        text = *end ? end + 1 : end;
    }
    return ports;
}

static int
s_node_row (const wa_db_row_t *row, void *arg)
{
    nodes_arg_t *ctx = arg;
    if (wa_db_row_int (row, 10) && !ctx->all) {
        ctx->hidden++;
        return 0;
    }
    json_t *node = json_object ();
    json_object_set_new (node, "id", json_integer (wa_db_row_int (row, 0)));
    json_object_set_new (node, "kind", json_string (wa_db_row_str (row, 1)));
    json_object_set_new (node, "host", json_string (wa_db_row_str (row, 2)));
    json_object_set_new (node, "ports", s_ports (wa_db_row_str (row, 3)));
    json_object_set_new (node, "pid", json_integer (wa_db_row_int (row, 4)));
    json_object_set_new (node, "version", json_string (wa_db_row_str (row, 5)));
    json_object_set_new (node, "role", json_null ());
    json_object_set_new (node, "state", json_string (wa_db_row_str (row, 9)));
    json_object_set_new (node, "last_seen", s_text_or_null (row, 6));
    json_object_set_new (node, "last_seen_age", json_real (wa_db_row_double (row, 7)));
    json_object_set_new (node, "gateway_status", json_string (wa_db_row_str (row, 8)));
    json_object_set_new (node, "db_node", json_string (wa_db_row_str (row, 11)));
    //  Kept for the human table, which shows the ports as the node wrote them.
    json_object_set_new (node, "ports_text", json_string (wa_db_row_str (row, 3)));
    json_array_append_new (ctx->nodes, node);
    return 0;
}

//  node_health rows by node id, as {"state", "reply_age", "votes",
//  "observers", "updated_age"}, or {"stale": age} when too old.
static int
s_health_row (const wa_db_row_t *row, void *arg)
{
    json_t *entry;
    if (wa_db_row_int (row, 6))
        entry = json_pack ("{s:f}", "stale", wa_db_row_double (row, 5));
    else
        entry = json_pack ("{s:s,s:f,s:I,s:I,s:f}", "state", wa_db_row_str (row, 1),
                           "reply_age", wa_db_row_double (row, 2) / 1000.0,
                           "votes", (json_int_t) wa_db_row_int (row, 3),
                           "observers", (json_int_t) wa_db_row_int (row, 4),
                           "updated_age", wa_db_row_double (row, 5));
    if (entry)
        json_object_set_new (arg, wa_db_row_str (row, 0), entry);
    return 0;
}

//  Roles follow from the lease and the shard map as read above (validity
//  judged there by the database's clock), so the tables agree with each other.
static const char *
s_role (json_t *node, json_t *lease, json_t *shards)
{
    const char *kind = json_string_value (json_object_get (node, "kind"));
    json_int_t id = json_integer_value (json_object_get (node, "id"));
    if (strcmp (kind, "master") == 0) {
        bool primary = json_is_true (json_object_get (lease, "valid"))
                    && json_integer_value (json_object_get (lease, "holder")) == id;
        return primary ? "primary_master" : "secondary_master";
    }
    if (strcmp (kind, "coreapp") == 0) {
        size_t i;
        json_t *shard;
        json_array_foreach (shards, i, shard)
            if (json_is_true (json_object_get (shard, "valid"))
            &&  json_integer_value (json_object_get (shard, "node")) == id)
                return "primary_coreapp";
        return "secondary_coreapp";
    }
    return kind;
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *text = json_string_value (json_object_get (object, key));
    return text ? text : "";
}

static long long
s_int (json_t *object, const char *key)
{
    return (long long) json_integer_value (json_object_get (object, key));
}

static void
s_print_lease (json_t *lease)
{
    char at[32], in[32];
    wactl_table_t *table = wactl_table_new (5, "HOLDER", "EPOCH", "EXPIRES AT", "EXPIRES IN", "VALID");
    if (s_int (lease, "holder"))
        wactl_table_cell (table, "%lld", s_int (lease, "holder"));
    else
        wactl_table_cell (table, "none");
    wactl_table_cell (table, "%lld", s_int (lease, "epoch"));
    wactl_table_cell (table, "%s", wactl_human_time (s_str (lease, "expires_at"), at, sizeof at));
    wactl_table_cell (table, "%s", wactl_human_seconds (json_real_value (json_object_get (lease, "expires_in")), in, sizeof in));
    wactl_table_cell (table, "%s", json_is_true (json_object_get (lease, "valid")) ? "yes" : "no");
    printf ("LEASE\n");
    wactl_table_print (table, stdout);
    wactl_table_destroy (&table);
}

//  "7.5s", "31s", "12m05s": short enough for a column.
static const char *
s_short_seconds (double seconds, char *buf, size_t size)
{
    if (seconds >= 0 && seconds < 10)
        snprintf (buf, size, "%.1fs", seconds);
    else
    if (seconds >= 10 && seconds < 60)
        snprintf (buf, size, "%.0fs", seconds);
    else
        wactl_human_seconds (seconds, buf, size);
    return buf;
}

//  "healthy", "late 7.5s", "unhealthy 31s (2/1)": votes of the observers;
//  "-" for a node that has none (a Master).
static void
s_liveness_cell (wactl_table_t *table, json_t *liveness)
{
    if (!json_is_object (liveness)) {
        wactl_table_cell (table, "-");
        return;
    }
    const char *state = s_str (liveness, "state");
    char age[32];
    s_short_seconds (json_number_value (json_object_get (liveness, "reply_age")), age, sizeof age);
    if (strcmp (state, "late") == 0)
        wactl_table_cell (table, "late %s", age);
    else
    if (strcmp (state, "unhealthy") == 0)
        wactl_table_cell (table, "unhealthy %s (%lld/%lld)", age, s_int (liveness, "votes"),
                          s_int (liveness, "observers"));
    else
        wactl_table_cell (table, "%s", *state ? state : "unknown");
}

static void
s_print_nodes (json_t *nodes, int hidden)
{
    wactl_table_t *table = wactl_table_new (12, "ID", "KIND", "HOST", "PORTS", "PID", "VERSION",
                                            "ROLE", "STATE", "LIVENESS", "LAST SEEN", "GATEWAY", "DATABASE");
    size_t i;
    json_t *node;
    json_array_foreach (nodes, i, node) {
        char age[32];
        wactl_table_cell (table, "%lld", s_int (node, "id"));
        wactl_table_cell (table, "%s", s_str (node, "kind"));
        wactl_table_cell (table, "%s", s_str (node, "host"));
        wactl_table_cell (table, "%s", s_str (node, "ports_text"));
        wactl_table_cell (table, "%lld", s_int (node, "pid"));
        wactl_table_cell (table, "%s", s_str (node, "version"));
        wactl_table_cell (table, "%s", s_str (node, "role"));
        wactl_table_cell (table, "%s", s_str (node, "state"));
        s_liveness_cell (table, json_object_get (node, "liveness"));
        wactl_table_cell (table, "%s ago", wactl_human_seconds (json_real_value (json_object_get (node, "last_seen_age")), age, sizeof age));
        wactl_table_cell (table, "%s", s_str (node, "gateway_status"));
        wactl_table_cell (table, "%s", *s_str (node, "db_node") ? s_str (node, "db_node") : "-");
    }
    printf ("\nNODES\n");
    if (json_array_size (nodes))
        wactl_table_print (table, stdout);
    else
        printf ("(none)\n");
    if (hidden)
        printf ("(%d node%s stopped or down for more than 10 minutes not shown; --all shows %s)\n",
                hidden, hidden == 1 ? "" : "s", hidden == 1 ? "it" : "them");
    wactl_table_destroy (&table);
}

static int
s_change_row (const wa_db_row_t *row, void *arg)
{
    json_t *status = arg;
    json_object_set_new (status, "shard_count", json_integer (wa_db_row_int (row, 0)));
    json_object_set_new (status, "layout", json_integer (wa_db_row_int (row, 1)));
    if (*wa_db_row_str (row, 2))
        json_object_set_new (status, "shard_change",
                             json_pack ("{s:s, s:I, s:I, s:o, s:s}", "state", wa_db_row_str (row, 2),
                                        "from", (json_int_t) wa_db_row_int (row, 3),
                                        "to", (json_int_t) wa_db_row_int (row, 4),
                                        "started_at", s_text_or_null (row, 5), "started_by", wa_db_row_str (row, 6)));
    return 0;
}

static void
s_print_shards (json_t *shards)
{
    wactl_table_t *table = wactl_table_new (9, "SHARD", "NODE", "EPOCH", "EXPIRES AT", "EXPIRES IN",
                                            "VALID", "PREV NODE", "PROMOTED AT", "REASON");
    size_t i;
    json_t *shard;
    json_array_foreach (shards, i, shard) {
        char at[32], in[32], promoted[32];
        wactl_table_cell (table, "%lld", s_int (shard, "shard"));
        if (s_int (shard, "node"))
            wactl_table_cell (table, "%lld", s_int (shard, "node"));
        else
            wactl_table_cell (table, "none");
        wactl_table_cell (table, "%lld", s_int (shard, "epoch"));
        wactl_table_cell (table, "%s", wactl_human_time (s_str (shard, "expires_at"), at, sizeof at));
        wactl_table_cell (table, "%s", wactl_human_seconds (json_real_value (json_object_get (shard, "expires_in")), in, sizeof in));
        wactl_table_cell (table, "%s", json_is_true (json_object_get (shard, "valid")) ? "yes" : "no");
        if (s_int (shard, "prev_node"))
            wactl_table_cell (table, "%lld", s_int (shard, "prev_node"));
        else
            wactl_table_cell (table, "-");
        wactl_table_cell (table, "%s", wactl_human_time (s_str (shard, "promoted_at"), promoted, sizeof promoted));
        wactl_table_cell (table, "%s", *s_str (shard, "reason") ? s_str (shard, "reason") : "-");
    }
    printf ("\nSHARDS\n");
    if (json_array_size (shards))
        wactl_table_print (table, stdout);
    else
        printf ("(none yet)\n");
    wactl_table_destroy (&table);
}

//  The gc_state row into the "retention" object: the last pass (null
//  before the first) and each table's counts.
static int
s_gc_row (const wa_db_row_t *row, void *arg)
{
    json_t *retention = arg;
    json_object_set_new (retention, "passes", json_integer (wa_db_row_int (row, 2)));
    if (!wa_db_row_null (row, 3))
        json_object_set_new (retention, "last_pass",
                             json_pack ("{s:s, s:f, s:I, s:I, s:f, s:I, s:s}",
                                        "at", wa_db_row_str (row, 3), "age", wa_db_row_double (row, 4),
                                        "by", (json_int_t) wa_db_row_int (row, 0),
                                        "epoch", (json_int_t) wa_db_row_int (row, 1),
                                        "seconds", (double) wa_db_row_int (row, 5) / 1000.0,
                                        "batches", (json_int_t) wa_db_row_int (row, 6),
                                        "error", wa_db_row_str (row, 7)));
    json_t *tables = json_object_get (retention, "tables");
    static const char *names[4] = { "outbox", "callbacks", "events", "inbound_ids" };
    for (int t = 0; t < 4; t++) {
        json_t *table = json_object_get (tables, names[t]);
        json_object_set_new (table, "last_pass", json_integer (wa_db_row_int (row, 8 + t)));
        json_object_set_new (table, "deleted", json_integer (wa_db_row_int (row, 12 + t)));
    }
    return 0;
}

static void
s_print_retention (json_t *retention)
{
    printf ("\nRETENTION\n");
    if (!json_is_object (retention)) {
        printf ("(none: the schema is older than version %d)\n", WACTL_SCHEMA_RETENTION);
        return;
    }
    char every[32];
    bool pass_through = json_is_true (json_object_get (retention, "pass_through"));
    if (json_is_true (json_object_get (retention, "enabled")) || pass_through)
        printf ("on: a pass every %s by the primary Master (%s)\n",
                wactl_human_seconds (json_number_value (json_object_get (retention, "interval")), every,
                                     sizeof every),
                pass_through ? "pass_through = 1: sent outbox rows and delivered callbacks kept only for their "
                               "retry window" : "db_garbagecollector_enable = 1");
    else
        printf ("off: nothing is deleted (db_garbagecollector_enable = 0)\n");
    wactl_table_t *table = wactl_table_new (4, "TABLE", "KEEP", "LAST PASS", "IN ALL");
    const char *name;
    json_t *entry;
    json_object_foreach (json_object_get (retention, "tables"), name, entry) {
        char keep[32];
        double days = json_number_value (json_object_get (entry, "keep_days"));
        wactl_table_cell (table, "%s", name);
        wactl_table_cell (table, "%s", days > 0 ? wactl_human_seconds (days * 86400, keep, sizeof keep) : "forever");
        wactl_table_cell (table, "%lld", s_int (entry, "last_pass"));
        wactl_table_cell (table, "%lld", s_int (entry, "deleted"));
    }
    wactl_table_print (table, stdout);
    wactl_table_destroy (&table);
    json_t *last = json_object_get (retention, "last_pass");
    if (json_is_object (last)) {
        char at[32], age[32], took[32];
        printf ("last pass %s (%s ago) by master %lld, %lld batch%s in %s; %lld pass%s in all\n",
                wactl_human_time (s_str (last, "at"), at, sizeof at),
                wactl_human_seconds (json_number_value (json_object_get (last, "age")), age, sizeof age),
                s_int (last, "by"), s_int (last, "batches"), s_int (last, "batches") == 1 ? "" : "es",
                wactl_human_seconds (json_number_value (json_object_get (last, "seconds")), took, sizeof took),
                s_int (retention, "passes"), s_int (retention, "passes") == 1 ? "" : "es");
        if (*s_str (last, "error"))
            printf ("its error: %s\n", s_str (last, "error"));
    }
    else
        printf ("no pass yet\n");
}

static void
s_print_human (wactl_t *self, json_t *status, int hidden)
{
    char now[32];
    int version = (int) s_int (status, "schema_version");
    printf ("cluster database '%s' at %s:%d, schema version %d", self->config->db_name,
            self->config->db_hostname, self->config->db_port, version);
    if (version != wa_schema_version)
        printf (" (this build needs %d)", wa_schema_version);
    printf (", database time %s UTC\n",
            wactl_human_time (s_str (status, "db_time"), now, sizeof now));
    json_t *paused = json_object_get (status, "paused");
    if (json_is_object (paused)) {
        char since[32];
        const char *reason = s_str (paused, "reason");
        printf ("PAUSED since %s UTC by %s: no automatic failover until 'wactl resume'\n",
                wactl_human_time (s_str (paused, "at"), since, sizeof since), s_str (paused, "by"));
        if (*reason)
            printf ("reason: %s\n", reason);
        printf ("\n");
    }
    else
        printf ("automatic failover: on (not paused)\n\n");
    s_print_lease (json_object_get (status, "lease"));
    s_print_nodes (json_object_get (status, "nodes"), hidden);
    s_print_shards (json_object_get (status, "shards"));
    json_t *change = json_object_get (status, "shard_change");
    if (json_is_object (change)) {
        char since[32];
        printf ("shard count changing from %lld to %lld (%s) since %s UTC, asked by %s\n", s_int (change, "from"),
                s_int (change, "to"), s_str (change, "state"),
                wactl_human_time (s_str (change, "started_at"), since, sizeof since), s_str (change, "started_by"));
    }
    s_print_retention (json_object_get (status, "retention"));
}

static int
s_query_failed (wactl_t *self)
{
    return wactl_fail (self, "database error: %s", wa_db_error (self->db));
}

//  The cluster settings as the nodes run them: the stored ones over this
//  wactl's configuration. -1 on a database error.
static int
s_effective_settings (wactl_t *self, wa_config_t *effective)
{
    bool missing;
    json_t *stored = wactl_settings_read (self, &missing);
    if (!stored)
        return -1;
    *effective = *self->config;
    wactl_settings_apply (effective, stored, NULL, false);
    json_decref (stored);
    return 0;
}

//  The node_health rows by node id; none when the schema predates the table.
//  A row is stale past HEALTH_STALE_BEATS heartbeats (the stored setting,
//  else this wactl's configuration), and at least HEALTH_STALE_MIN seconds,
//  by the database's clock. NULL on a database error.
static json_t *
s_collect_health (wactl_t *self, const wa_config_t *effective)
{
    double stale = HEALTH_STALE_BEATS * effective->heartbeat_interval;
    if (stale < HEALTH_STALE_MIN)
        stale = HEALTH_STALE_MIN;
    json_t *health = json_object ();
    if (wa_db_query (self->db, SQL_HEALTH, s_health_row, health, "i", wa_clock_from_sec (stale)) < 0
    &&  wa_db_errno (self->db) != ER_NO_SUCH_TABLE) {
        json_decref (health);
        return NULL;
    }
    return health;
}

//  A Coreapp's liveness, "unknown" when the primary Master has not written
//  a recent row for it; null for a node that answers no heartbeats.
static json_t *
s_liveness (json_t *node, json_t *health)
{
    if (strcmp (s_str (node, "kind"), "coreapp") != 0)
        return json_null ();
    char id[32];
    snprintf (id, sizeof id, "%lld", s_int (node, "id"));
    json_t *row = json_object_get (health, id);
    if (row && json_object_get (row, "state"))
        return json_deep_copy (row);
    json_t *age = json_object_get (row, "stale");
    return json_pack ("{s:s,s:n,s:n,s:n,s:O}", "state", "unknown", "reply_age", "votes", "observers",
                      "updated_age", age ? age : json_null ());
}

//  "retention": the settings the primary Master runs its passes by, and
//  what gc_state says they did; null below schema version 9.
static int
s_collect_retention (wactl_t *self, int version, const wa_config_t *effective, json_t *status)
{
    if (version < WACTL_SCHEMA_RETENTION) {
        json_object_set_new (status, "retention", json_null ());
        return 0;
    }
    json_t *retention = json_pack ("{s:b, s:f, s:i, s:i, s:n, s:{s:{s:f, s:i, s:i}, s:{s:f, s:i, s:i}, s:{s:f, s:i, s:i}, "
                                   "s:{s:f, s:i, s:i}}}",
                                   "enabled", effective->db_garbagecollector_enable,
                                   "interval", effective->gc_interval, "batch_size", effective->gc_batch_size,
                                   "passes", 0, "last_pass", "tables",
                                   "outbox", "keep_days", effective->retention_outbox_days, "last_pass", 0, "deleted", 0,
                                   "callbacks", "keep_days", effective->retention_callbacks_days, "last_pass", 0,
                                   "deleted", 0,
                                   "events", "keep_days", effective->retention_events_days, "last_pass", 0,
                                   "deleted", 0,
                                   //  kept as long as callbacks, whatever pass_through says
                                   "inbound_ids", "keep_days", effective->retention_callbacks_days, "last_pass", 0,
                                   "deleted", 0);
    //  pass_through: outbox rows and callbacks go once past the retry window
    //  (request_deadline + 1 s) whatever their days say; passes run with
    //  the collector off (wamaster's s_gc_keep).
    json_object_set_new (retention, "pass_through", json_boolean (effective->pass_through));
    if (effective->pass_through) {
        double window = (effective->request_deadline + 1) / 86400.0;
        const char *shortened[2] = { "outbox", "callbacks" };
        for (int t = 0; t < 2; t++) {
            json_t *table = json_object_get (json_object_get (retention, "tables"), shortened[t]);
            double days = json_number_value (json_object_get (table, "keep_days"));
            if (days <= 0 || days > window)
                json_object_set_new (table, "keep_days", json_real (window));
        }
    }
    json_object_set_new (status, "retention", retention);
    return wa_db_query (self->db, version >= WACTL_SCHEMA_INBOUND_IDS ? SQL_GC_17 : SQL_GC_9, s_gc_row, retention,
                        "") < 0 ? -1 : 0;
}

static int
s_collect (wactl_t *self, int version, bool all, json_t *status, int *hidden)
{
    if (wa_db_query (self->db, SQL_DB_TIME, s_db_time_row, status, "") < 0)
        return -1;
    json_t *lease = json_pack ("{s:i,s:i,s:n,s:n,s:b}", "holder", 0, "epoch", 0,
                               "expires_at", "expires_in", "valid", 0);
    json_t *nodes = json_array ();
    json_t *shards = json_array ();
    json_object_set_new (status, "lease", lease);
    json_object_set_new (status, "nodes", nodes);
    json_object_set_new (status, "shards", shards);
    if (wa_db_query (self->db, SQL_LEASE, s_lease_row, lease, "") < 0)
        return -1;
    //  Below version 2 the primary Master has not created the shard map yet.
    if (version >= WACTL_SCHEMA_CLUSTER
    &&  wa_db_query (self->db, SQL_SHARDS, s_shard_row, shards, "") < 0)
        return -1;
    if (version >= WACTL_SCHEMA_RESHARD
    &&  wa_db_query (self->db, SQL_CHANGE, s_change_row, status, "") < 0)
        return -1;
    //  Maintenance mode (wactl pause): {"at", "by", "reason"} or null.
    json_t *paused = wactl_pause_read (self, version);
    if (!paused)
        return -1;
    json_object_set_new (status, "paused", paused);
    nodes_arg_t ctx = { .nodes = nodes, .all = all };
    int64_t window = wactl_liveness_window (self);
    int galera = version >= WACTL_SCHEMA_GALERA;
    if (wa_db_query (self->db, SQL_NODES_BY_SCHEMA[galera], s_node_row, &ctx, "ii", window, window) < 0)
        return -1;
    *hidden = ctx.hidden;
    wa_config_t effective;
    if (s_effective_settings (self, &effective))
        return -1;
    json_t *health = s_collect_health (self, &effective);
    if (!health)
        return -1;
    size_t i;
    json_t *node;
    json_array_foreach (nodes, i, node) {
        json_object_set_new (node, "role", json_string (s_role (node, lease, shards)));
        json_object_set_new (node, "liveness", s_liveness (node, health));
    }
    json_decref (health);
    return s_collect_retention (self, version, &effective, status);
}

int
wactl_status (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool all = false;
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":jah", options)) != -1) {
        switch (opt) {
            case 'j': self->json = true; break;
            case 'a': all = true; break;
            case 'h': printf ("usage: wactl status [--json] [--all]\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    json_t *status = json_pack ("{s:i}", "schema_version", version);
    int hidden = 0;
    if (s_collect (self, version, all, status, &hidden)) {
        json_decref (status);
        return s_query_failed (self);
    }
    if (self->json) {
        size_t i;
        json_t *node;
        json_array_foreach (json_object_get (status, "nodes"), i, node)
            json_object_del (node, "ports_text");
        wactl_print_json (status, false);
    }
    else
        s_print_human (self, status, hidden);
    json_decref (status);
    return 0;
}

int
wactl_schema (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":jh", options)) != -1) {
        switch (opt) {
            case 'j': self->json = true; break;
            case 'h': printf ("usage: wactl schema [--json]\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    if (wactl_connect (self))
        return 1;
    int version = wa_db_schema_version (self->db);
    if (version < 0)
        return wactl_fail (self, "cannot read the schema version: %s", wa_db_error (self->db));
    const char *verdict =
        version == 0 ? "no schema yet: no Master has started"
      : version < wa_schema_version ? "older than this build: the primary Master upgrades it"
      : version > wa_schema_version ? "newer than this build: upgrade wactl"
      : "up to date";
    if (self->json) {
        json_t *json = json_pack ("{s:s,s:i,s:i,s:s}", "database", self->config->db_name,
                                  "schema_version", version, "build_needs", wa_schema_version,
                                  "verdict", verdict);
        wactl_print_json (json, false);
        json_decref (json);
    }
    else {
        printf ("database '%s' at %s:%d: schema version %d\n", self->config->db_name,
                self->config->db_hostname, self->config->db_port, version);
        printf ("this build needs:  schema version %d\n", wa_schema_version);
        printf ("%s\n", verdict);
    }
    return 0;
}
