/*  wactl wait — returns once the cluster is healthy: a valid master lease
    held by an up Master, and every shard's lease valid and held by an up
    Coreapp connected upstream. Until then it polls; a database that cannot
    be reached yet is one more reason to keep waiting. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "wa_migrations.h"
#include "wactl.h"

#define WAIT_DEFAULT 60.0
#define WAIT_MIN 0.1
#define WAIT_MAX 3600.0
#define POLL_INTERVAL (WA_USEC_PER_SEC / 5)
//  More than any configuration allows; a larger count is a damaged row.
#define SHARDS_MAX 1024

//  Parameter: the liveness window in microseconds.
static const char *SQL_MASTER =
    "SELECT l.holder, l.expires_at > NOW(6), n.id IS NOT NULL, COALESCE(n.kind, ''), "
    WACTL_STATE ("n")
    " FROM master_lease l LEFT JOIN nodes n ON n.id = l.holder WHERE l.id = 1";

static const char *SQL_SHARD_COUNT =
    "SELECT shards FROM cluster_info WHERE id = 1";

//  Parameter: the liveness window in microseconds.
static const char *SQL_SHARDS =
    "SELECT s.shard, s.node_id, s.expires_at > NOW(6), n.id IS NOT NULL, COALESCE(n.kind, ''), "
    WACTL_STATE ("n") ", COALESCE(n.gateway_status, '')"
    " FROM shard_map s LEFT JOIN nodes n ON n.id = s.node_id ORDER BY s.shard";

//  One lease (the master's or a shard's) and what is known of its holder.
typedef struct {
    bool found;
    long long holder;
    bool valid;
    bool registered;
    char kind[16];
    char state[8];
    char gateway[24];
} holder_t;

typedef struct {
    char missing[4096];         //  one reason per line
    int reasons;
    char healthy[1024];         //  who holds what, when healthy
    char db_error[768];         //  set when the check could not finish
} health_t;

typedef struct {
    holder_t *shards;
    int count;
} shards_arg_t;

static void
s_missing (health_t *health, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_missing (health_t *health, const char *fmt, ...)
{
    size_t used = strlen (health->missing);
    va_list args;
    va_start (args, fmt);
    vsnprintf (health->missing + used, sizeof health->missing - used, fmt, args);
    va_end (args);
    used = strlen (health->missing);
    snprintf (health->missing + used, sizeof health->missing - used, "\n");
    health->reasons++;
}

static void
s_read_holder (const wa_db_row_t *row, int col, holder_t *holder)
{
    holder->found = true;
    holder->holder = (long long) wa_db_row_int (row, col);
    holder->valid = wa_db_row_int (row, col + 1) != 0;
    holder->registered = wa_db_row_int (row, col + 2) != 0;
    snprintf (holder->kind, sizeof holder->kind, "%s", wa_db_row_str (row, col + 3));
    snprintf (holder->state, sizeof holder->state, "%s", wa_db_row_str (row, col + 4));
    if (wa_db_row_columns (row) > col + 5)
        snprintf (holder->gateway, sizeof holder->gateway, "%s", wa_db_row_str (row, col + 5));
}

static int
s_master_row (const wa_db_row_t *row, void *arg)
{
    s_read_holder (row, 0, arg);
    return 0;
}

static int
s_count_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static int
s_shard_row (const wa_db_row_t *row, void *arg)
{
    shards_arg_t *ctx = arg;
    int64_t shard = wa_db_row_int (row, 0);
    if (shard >= 0 && shard < ctx->count)
        s_read_holder (row, 1, &ctx->shards[shard]);
    return 0;
}

static void
s_check_master (health_t *health, const holder_t *master)
{
    if (!master->found || !master->valid) {
        if (master->found && master->holder)
            s_missing (health, "no primary Master (the lease of Master %lld has expired)", master->holder);
        else
            s_missing (health, "no primary Master");
    }
    else
    if (!master->registered || strcmp (master->kind, "master") != 0)
        s_missing (health, "no primary Master: the lease holder %lld is not a registered Master", master->holder);
    else
    if (strcmp (master->state, "up") != 0)
        s_missing (health, "no primary Master: the lease holder %lld is %s", master->holder, master->state);
    else {
        size_t used = strlen (health->healthy);
        snprintf (health->healthy + used, sizeof health->healthy - used, "primary Master %lld", master->holder);
    }
}

static void
s_check_shard (health_t *health, int shard, const holder_t *primary)
{
    if (!primary->found || !primary->valid || !primary->holder)
        s_missing (health, "shard %d: no primary Coreapp", shard);
    else
    if (!primary->registered || strcmp (primary->kind, "coreapp") != 0)
        s_missing (health, "shard %d: primary %lld is not a registered Coreapp", shard, primary->holder);
    else
    if (strcmp (primary->state, "up") != 0)
        s_missing (health, "shard %d: primary %lld is %s", shard, primary->holder, primary->state);
    else
    if (strcmp (primary->gateway, "connected") != 0)
        s_missing (health, "shard %d: primary %lld not connected upstream (gateway_status '%s')",
                   shard, primary->holder, primary->gateway);
    else {
        size_t used = strlen (health->healthy);
        snprintf (health->healthy + used, sizeof health->healthy - used, ", shard %d on Coreapp %lld",
                  shard, primary->holder);
    }
}

static int
s_db_failed (wactl_t *self, health_t *health, const char *what)
{
    //  What was found before the database failed is not the whole story.
    health->missing[0] = 0;
    health->reasons = 0;
    snprintf (health->db_error, sizeof health->db_error, "%s at %s:%d: %s", what,
              self->config->db_hostname, self->config->db_port, wa_db_error (self->db));
    return -1;
}

static int
s_check_shards (wactl_t *self, health_t *health, int64_t window)
{
    int64_t count = -1;
    if (wa_db_query (self->db, SQL_SHARD_COUNT, s_count_row, &count, "") < 0)
        return s_db_failed (self, health, "database error");
    if (count < 1 || count > SHARDS_MAX) {
        s_missing (health, "no shard count yet: the primary Master has not set up the cluster");
        return 0;
    }
    shards_arg_t ctx = { .shards = calloc ((size_t) count, sizeof (holder_t)), .count = (int) count };
    if (!ctx.shards)
        return s_db_failed (self, health, "out of memory reading the shard map");
    int rc = 0;
    if (wa_db_query (self->db, SQL_SHARDS, s_shard_row, &ctx, "i", window) < 0)
        rc = s_db_failed (self, health, "database error");
    else
        for (int shard = 0; shard < ctx.count; shard++)
            s_check_shard (health, shard, &ctx.shards[shard]);
    free (ctx.shards);
    return rc;
}

//  0 when the check finished (healthy when nothing is missing), -1 when the
//  database could not answer.
static int
s_check (wactl_t *self, health_t *health)
{
    memset (health, 0, sizeof *health);
    if (wa_db_ensure (self->db) && !wa_db_connected (self->db))
        return s_db_failed (self, health, "cannot reach the database");
    int version = wa_db_schema_version (self->db);
    if (version < 0)
        return s_db_failed (self, health, "cannot read the schema version from the database");
    if (version == 0) {
        s_missing (health, "no schema yet in database '%s': no Master has started", self->config->db_name);
        return 0;
    }
    int64_t window = wactl_liveness_window (self);
    holder_t master = { .found = false };
    if (wa_db_query (self->db, SQL_MASTER, s_master_row, &master, "i", window) < 0)
        return s_db_failed (self, health, "database error");
    s_check_master (health, &master);
    if (version < wa_schema_version)
        s_missing (health, "schema version %d: the primary Master has not upgraded it to %d yet",
                   version, wa_schema_version);
    if (version < WACTL_SCHEMA_CLUSTER)
        return 0;
    return s_check_shards (self, health, window);
}

static int
s_parse_timeout (const char *text, double *seconds)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (value) || value < WAIT_MIN || value > WAIT_MAX)
        return -1;
    *seconds = value;
    return 0;
}

int
wactl_wait (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    double timeout = WAIT_DEFAULT;
    int opt;
    wactl_options_start ();
    while ((opt = wactl_option (self, argc, argv, ":t:h", options)) != -1) {
        switch (opt) {
            case 't':
                if (s_parse_timeout (optarg, &timeout))
                    return wactl_usage_error (self, "--timeout '%s': must be a number of seconds "
                                              "from %g to %g", optarg, WAIT_MIN, WAIT_MAX);
                break;
            case 'h': printf ("usage: wactl wait [--timeout SECONDS]\n"); return 0;
            default: return 2;
        }
    }
    if (wactl_no_more_args (self, argc, argv))
        return 2;
    self->db = wa_db_new (self->config);
    health_t health;
    wa_usec_t deadline = wa_clock_mono () + wa_clock_from_sec (timeout);
    wa_usec_t next = wa_clock_mono ();
    while (true) {
        if (s_check (self, &health) == 0 && health.reasons == 0) {
            printf ("the cluster is healthy: %s\n", health.healthy);
            return 0;
        }
        if (wa_clock_mono () >= deadline)
            break;
        //  A slow check (a connect timing out) does not earn catch-up polls.
        wa_usec_t now = wa_clock_mono ();
        next = (next < now ? now : next) + POLL_INTERVAL;
        if (next > deadline)
            next = deadline;
        wactl_sleep_until (next);
    }
    fprintf (stderr, "wactl: the cluster is not healthy after %gs:\n", timeout);
    if (*health.db_error)
        fprintf (stderr, "  %s\n", health.db_error);
    char *line = health.missing, *end;
    while ((end = strchr (line, '\n'))) {
        fprintf (stderr, "  %.*s\n", (int) (end - line), line);
        line = end + 1;
    }
    return 1;
}
