/*  wactl pause, wactl resume — maintenance mode. While cluster_info's
    paused_at is set no Master moves a primary Coreapp on its own, neither
    to replace it nor to even out the primaries: the primary Master says
    once what it would have done (failover_paused per shard,
    rebalance_paused), and planned switchovers still run. It needs no Master up: a Master that
    starts during the pause honours it.

    A change is one transaction with its audit row in `events` (kinds
    paused and resumed, node 0: wactl is no node, the detail says who), so
    neither is ever written without the other. One already made (paused
    twice, resumed when not paused) is said and not made again: exit 0. */
#include <string.h>
#include "wactl.h"

//  cluster_info.pause_reason holds this many characters.
#define REASON_MAX 255

#define PAUSE_COLUMNS \
    "paused_at IS NOT NULL, " WACTL_ISO ("paused_at") ", paused_by, pause_reason, " WACTL_AGE ("paused_at")

static const char *SQL_READ =
    "SELECT " PAUSE_COLUMNS " FROM cluster_info WHERE id = 1";
//  Held until the change commits: two wactls at once, one changes.
static const char *SQL_LOCK =
    "SELECT " PAUSE_COLUMNS " FROM cluster_info WHERE id = 1 FOR UPDATE";
static const char *SQL_PAUSE =
    "UPDATE cluster_info SET paused_at = NOW(6), paused_by = ?, pause_reason = ? WHERE id = 1";
static const char *SQL_RESUME =
    "UPDATE cluster_info SET paused_at = NULL, paused_by = '', pause_reason = '' WHERE id = 1";
static const char *SQL_AUDIT =
    "INSERT INTO events (at, node_id, kind, shard, epoch, subject, detail) "
    "VALUES (NOW(6), 0, ?, NULL, 0, 0, LEFT(?, 255))";

typedef struct {
    bool found;                 //  cluster_info has its row
    bool paused;
    char at[40];
    char by[65];
    char reason[REASON_MAX * 4 + 1];
    double age;                 //  seconds since paused_at
} pause_t;

static int
s_pause_row (const wa_db_row_t *row, void *arg)
{
    pause_t *pause = arg;
    pause->found = true;
    pause->paused = wa_db_row_int (row, 0) != 0;
    snprintf (pause->at, sizeof pause->at, "%s", wa_db_row_str (row, 1));
    snprintf (pause->by, sizeof pause->by, "%s", wa_db_row_str (row, 2));
    snprintf (pause->reason, sizeof pause->reason, "%s", wa_db_row_str (row, 3));
    pause->age = wa_db_row_double (row, 4);
    return 0;
}

json_t *
wactl_pause_read (wactl_t *self, int version)
{
    if (version < WACTL_SCHEMA_OPERATOR)
        return json_null ();
    pause_t pause = { .found = false };
    if (wa_db_query (self->db, SQL_READ, s_pause_row, &pause, "") < 0)
        return NULL;
    if (!pause.paused)
        return json_null ();
    return json_pack ("{s:s, s:s, s:s}", "at", pause.at, "by", pause.by, "reason", pause.reason);
}

//  NULL when text may be a reason, else why not.
static const char *
s_bad_reason (const char *text)
{
    size_t chars = 0;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            return "has a control character";
        if ((*c & 0xc0) != 0x80)
            chars++;
    }
    if (chars > REASON_MAX)
        return "is longer than 255 characters";
    //  The same check every JSON answer needs: valid UTF-8.
    json_t *probe = json_string (text);
    if (!probe)
        return "is not valid UTF-8";
    json_decref (probe);
    return NULL;
}

//  "by wactl@host: the reason", or "by wactl@host" without one.
static void
s_by (char *buf, size_t size, const char *by, const char *reason)
{
    snprintf (buf, size, "by %s%s%s", *by ? by : "(unknown)", *reason ? ": " : "", reason);
}

static int
s_failed (wactl_t *self)
{
    int status = wactl_fail (self, "database error: %s", wa_db_error (self->db));
    wa_db_transaction (self->db, "ROLLBACK");
    return status;
}

//  Pause (with reason) or resume, in one transaction with its audit row.
static int
s_change (wactl_t *self, bool pause, const char *reason)
{
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    if (version < WACTL_SCHEMA_OPERATOR)
        return wactl_fail (self, "the cluster's database '%s' has schema version %d: no maintenance mode "
                           "until the primary Master upgrades it to %d", self->config->db_name, version,
                           WACTL_SCHEMA_OPERATOR);
    char who[65];
    wactl_who (who, sizeof who);
    pause_t was = { .found = false };
    if (wa_db_transaction (self->db, "START TRANSACTION")
    ||  wa_db_query (self->db, SQL_LOCK, s_pause_row, &was, "") < 0)
        return s_failed (self);
    char by[sizeof was.by + sizeof was.reason + 8], since[32], age[32];
    s_by (by, sizeof by, was.by, was.reason);
    wactl_human_time (was.at, since, sizeof since);
    wactl_human_seconds (was.age, age, sizeof age);
    if (!was.found || was.paused == pause) {
        wa_db_transaction (self->db, "ROLLBACK");
        if (!was.found)
            return wactl_fail (self, "the cluster has no cluster_info row yet: no primary Master has set it up");
        if (pause)
            printf ("already paused since %s UTC (%s ago) %s; nothing changed\n", since, age, by);
        else
            printf ("not paused; nothing changed\n");
        return 0;
    }
    char detail[sizeof by + 128];
    if (pause)
        snprintf (detail, sizeof detail, "paused by %s%s%s", who, *reason ? ": " : "", reason);
    else
        snprintf (detail, sizeof detail, "resumed by %s after %s (paused %s)", who, age, by);
    if ((pause ? wa_db_exec (self->db, SQL_PAUSE, "ss", who, reason) : wa_db_exec (self->db, SQL_RESUME, "")) != 1
    ||  wa_db_exec (self->db, SQL_AUDIT, "ss", pause ? "paused" : "resumed", detail) != 1
    ||  wa_db_transaction (self->db, "COMMIT"))
        return s_failed (self);
    if (pause)
        printf ("paused by %s: no Master moves a primary Coreapp on its own (no failover, no rebalancing) "
                "until 'wactl resume' (planned switchovers still run)\n", who);
    else
        printf ("resumed by %s after %s (paused %s): the primary Master fails over and rebalances again from "
                "its next check\n", who, age, by);
    return 0;
}

int
wactl_pause (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "reason", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *reason = "";
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":r:h", options)) != -1) {
        switch (opt) {
            case 'r': reason = optarg; break;
            case 'h': printf ("usage: wactl pause [--reason TEXT]\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    const char *bad = s_bad_reason (reason);
    if (bad)
        return wactl_usage_error (self, "the reason %s; try 'wactl --help'", bad);
    return s_change (self, true, reason);
}

int
wactl_resume (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":h", options)) != -1) {
        switch (opt) {
            case 'h': printf ("usage: wactl resume\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    return s_change (self, false, "");
}
