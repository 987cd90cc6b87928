/*  wactl events — the audit log (promotions, demotions, lease changes),
    oldest first, and with --follow what comes after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "wactl.h"

#define EVENTS_DEFAULT 50
#define EVENTS_MAX 100000
#define FOLLOW_INTERVAL (WA_USEC_PER_SEC / 2)
//  Rows per poll while following, so a burst is printed in pieces.
#define FOLLOW_BATCH 1000

#define EVENT_COLUMNS \
    "id, " WACTL_ISO ("at") ", node_id, kind, shard, epoch, subject, detail"

static const char *SQL_LAST =
    "SELECT * FROM (SELECT " EVENT_COLUMNS " FROM events ORDER BY id DESC LIMIT ?) e ORDER BY id";

static const char *SQL_AFTER =
    "SELECT " EVENT_COLUMNS " FROM events WHERE id > ? ORDER BY id LIMIT ?";

typedef struct {
    bool json;
    bool lines;                 //  JSON: one object per line (following)
    json_t *array;              //  JSON: the events, printed at the end
    uint64_t last;              //  highest id printed
    bool header;                //  human: the heading is printed
} events_arg_t;

static int
s_event_row (const wa_db_row_t *row, void *arg)
{
    events_arg_t *ctx = arg;
    ctx->last = (uint64_t) wa_db_row_int (row, 0);
    if (ctx->json) {
        json_t *event = json_object ();
        json_object_set_new (event, "id", json_integer (wa_db_row_int (row, 0)));
        json_object_set_new (event, "at", json_string (wa_db_row_str (row, 1)));
        json_object_set_new (event, "node_id", json_integer (wa_db_row_int (row, 2)));
        json_object_set_new (event, "kind", json_string (wa_db_row_str (row, 3)));
        json_object_set_new (event, "shard", wa_db_row_null (row, 4) ? json_null ()
                                             : json_integer (wa_db_row_int (row, 4)));
        json_object_set_new (event, "epoch", json_integer (wa_db_row_int (row, 5)));
        json_object_set_new (event, "subject", json_integer (wa_db_row_int (row, 6)));
        json_object_set_new (event, "detail", json_string (wa_db_row_str (row, 7)));
        if (ctx->lines) {
            wactl_print_json (event, true);
            json_decref (event);
        }
        else
            json_array_append_new (ctx->array, event);
        return 0;
    }
    //  Fixed widths rather than a table: following prints rows as they come.
    if (!ctx->header) {
        printf ("%-7s %-23s %-5s %-22s %-5s %-6s %-7s %s\n",
                "ID", "AT", "NODE", "KIND", "SHARD", "EPOCH", "SUBJECT", "DETAIL");
        ctx->header = true;
    }
    char at[32];
    printf ("%-7s %-23s %-5s %-22s %-5s %-6s %-7s %s\n", wa_db_row_str (row, 0),
            wactl_human_time (wa_db_row_str (row, 1), at, sizeof at), wa_db_row_str (row, 2),
            wa_db_row_str (row, 3), wa_db_row_null (row, 4) ? "-" : wa_db_row_str (row, 4),
            wa_db_row_str (row, 5), wa_db_row_str (row, 6),
            *wa_db_row_str (row, 7) ? wa_db_row_str (row, 7) : "-");
    return 0;
}

static int
s_parse_count (const char *text, int64_t *count)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || end == text || *end || value < 1 || value > EVENTS_MAX)
        return -1;
    *count = value;
    return 0;
}

//  Polls for newer events until SIGINT. A database that goes away is
//  reported once and waited for, as the nodes do.
static int
s_follow (wactl_t *self, events_arg_t *ctx)
{
    wactl_catch_signals ();
    bool db_down = false;
    wa_usec_t next = wa_clock_mono ();
    while (wactl_sleep_until (next += FOLLOW_INTERVAL) == 0) {
        int64_t rows = wa_db_query (self->db, SQL_AFTER, s_event_row, ctx, "ui",
                                    ctx->last, (int64_t) FOLLOW_BATCH);
        if (rows < 0 && !db_down)
            fprintf (stderr, "wactl: database error (still trying): %s\n", wa_db_error (self->db));
        else
        if (rows >= 0 && db_down)
            fprintf (stderr, "wactl: the database is back\n");
        db_down = rows < 0;
        fflush (stdout);
        //  A full batch means more are waiting: fetch them without pausing.
        //  A slow query does not earn a burst of catch-up polls either.
        wa_usec_t now = wa_clock_mono ();
        if (rows == FOLLOW_BATCH)
            next = now - FOLLOW_INTERVAL;
        else
        if (next < now)
            next = now;
    }
    return 0;
}

int
wactl_events (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "follow", no_argument, NULL, 'f' },
        { "lines", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int64_t count = EVENTS_DEFAULT;
    bool follow = false;
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":jfn:h", options)) != -1) {
        switch (opt) {
            case 'j': self->json = true; break;
            case 'f': follow = true; break;
            case 'n':
                if (s_parse_count (optarg, &count))
                    return wactl_usage_error (self, "-n '%s': the number of events must be a whole "
                                              "number from 1 to %d", optarg, EVENTS_MAX);
                break;
            case 'h': printf ("usage: wactl events [--json] [-n N] [--follow]\n"); return 0;
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
    if (version < WACTL_SCHEMA_CLUSTER)
        return wactl_fail (self, "the cluster's database '%s' has schema version %d: no audit log "
                           "until the primary Master upgrades it", self->config->db_name, version);
    events_arg_t ctx = { .json = self->json, .lines = self->json && follow };
    if (ctx.json && !ctx.lines)
        ctx.array = json_array ();
    if (wa_db_query (self->db, SQL_LAST, s_event_row, &ctx, "i", count) < 0) {
        json_decref (ctx.array);
        return wactl_fail (self, "database error: %s", wa_db_error (self->db));
    }
    if (ctx.array) {
        wactl_print_json (ctx.array, false);
        json_decref (ctx.array);
    }
    else
    if (!ctx.json && !ctx.header && !follow)
        printf ("(no events)\n");
    fflush (stdout);
    return follow ? s_follow (self, &ctx) : 0;
}
