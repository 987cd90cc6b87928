/*  gc — see gc.h */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "wa_log.h"
#include "gc.h"

static const char *s_names[GC_TABLES] = { "outbox", "callbacks", "events", "inbound_ids" };

void
gc_init (gc_t *self)
{
    memset (self, 0, sizeof *self);
}

const char *
gc_table_name (int table)
{
    return table >= 0 && table < GC_TABLES ? s_names[table] : "?";
}

bool
gc_start (gc_t *self, wa_usec_t now)
{
    if (self->running)
        return false;
    self->running = true;
    self->started = now;
    self->batches = 0;
    self->error[0] = 0;
    //  The cursors stay: a walk stopped by GC_PASS_BATCHES goes on.
    for (int t = 0; t < GC_TABLES; t++) {
        self->walk[t].batches = 0;
        self->walk[t].deleted = 0;
        self->walk[t].done = false;
        self->walk[t].capped = false;
    }
    return true;
}

int
gc_next (gc_t *self, const int64_t keep[GC_TABLES])
{
    if (!self->running)
        return -1;
    for (int t = 0; t < GC_TABLES; t++) {
        if (keep[t] <= 0 && !self->walk[t].done) {
            self->walk[t].done = true;
            self->walk[t].cursor = 0;
        }
        if (!self->walk[t].done)
            return t;
    }
    return -1;
}

uint64_t
gc_cursor (const gc_t *self, int table)
{
    return self->walk[table].cursor;
}

//  Walked tables (outbox, callbacks) go window by window; events and
//  inbound ids until a batch finds fewer rows than it could delete.
static bool
s_walked (int table)
{
    return table == GC_OUTBOX || table == GC_CALLBACKS;
}

void
gc_batch_done (gc_t *self, int table, int limit, const gc_result_t *result, wa_usec_t took,
               const char *error)
{
    if (!self->running || table < 0 || table >= GC_TABLES)
        return;
    gc_walk_t *walk = &self->walk[table];
    self->batches++;
    self->batches_total++;
    walk->batches++;
    if (took > self->longest_batch)
        self->longest_batch = took;
    if (result->rc != 0) {
        //  The database is in trouble, or the lease is ending: nothing more
        //  this pass. The walks start from the first row next time.
        if (result->rc < 0) {
            self->failures++;
            if (!self->error[0])
                snprintf (self->error, sizeof self->error, "%s: %s", s_names[table],
                          error && *error ? error : "database error");
        }
        for (int t = 0; t < GC_TABLES; t++) {
            self->walk[t].done = true;
            self->walk[t].cursor = 0;
        }
        return;
    }
    walk->deleted += result->deleted;
    self->deleted[table] += (uint64_t) result->deleted;
    if (s_walked (table)) {
        if (result->examined < limit || result->young) {
            //  The end of the table, or of the rows old enough: the walk is over.
            walk->done = true;
            walk->cursor = 0;
            return;
        }
        walk->cursor = result->last;
    }
    else
    if (result->deleted < limit) {
        walk->done = true;
        return;
    }
    if (walk->batches >= GC_PASS_BATCHES)
        walk->done = walk->capped = true;   //  the cursor stays for the next pass
}

wa_usec_t
gc_gap (wa_usec_t took)
{
    return took < 0 ? 0 : took > GC_GAP_MAX ? GC_GAP_MAX : took;
}

void
gc_finish (gc_t *self, wa_usec_t now)
{
    if (!self->running)
        return;
    self->running = false;
    self->passes++;
    self->last_ended = now;
    self->last_took = now - self->started;
}

void
gc_abandon (gc_t *self)
{
    self->running = false;
    for (int t = 0; t < GC_TABLES; t++) {
        self->walk[t].done = true;
        self->walk[t].cursor = 0;
    }
}

int64_t
gc_pass_deleted (const gc_t *self)
{
    int64_t sum = 0;
    for (int t = 0; t < GC_TABLES; t++)
        sum += self->walk[t].deleted;
    return sum;
}

bool
gc_more (const gc_t *self)
{
    for (int t = 0; t < GC_TABLES; t++)
        if (self->walk[t].capped)
            return true;
    return false;
}

json_t *
gc_stats_json (const gc_t *self, bool enabled, wa_usec_t now)
{
    json_t *deleted = json_object ();
    for (int t = 0; t < GC_TABLES; t++)
        json_object_set_new (deleted, s_names[t], json_integer ((json_int_t) self->deleted[t]));
    json_t *stats = json_pack ("{s:b, s:b, s:I, s:I, s:I, s:o, s:f, s:f}",
                               "enabled", enabled, "running", self->running,
                               "passes", (json_int_t) self->passes,
                               "batches", (json_int_t) self->batches_total,
                               "failed_batches", (json_int_t) self->failures,
                               "deleted", deleted,
                               "last_pass_seconds", (double) self->last_took / 1e6,
                               "longest_batch_seconds", (double) self->longest_batch / 1e6);
    json_object_set_new (stats, "last_pass_age", self->last_ended
                         ? json_real ((double) (now - self->last_ended) / 1e6) : json_null ());
    return stats;
}

//  --------------------------------------------------------------------------
//  The database side

//  The primary's fence, as in its promotions (master_jobs.c): the statement
//  matches only while the master lease names us, unexpired. Parameters:
//  node, epoch.
#define GC_FENCE \
    "(SELECT COUNT(*) FROM master_lease WHERE id = 1 AND holder = ? AND epoch = ? AND expires_at > NOW(6)) = 1"

//  The window: the next rows after the cursor, by primary key (a range
//  read of at most gc_batch_size rows, a consistent read that locks
//  nothing), each with whether it is younger than the retention and
//  whether it is due. Parameters: retention (µs) twice, cursor, limit.
#define GC_WINDOW(table, done_at) \
    "SELECT seq, created_at >= NOW(6) - INTERVAL ? MICROSECOND, " \
    "status <> 'pending' AND " done_at " < NOW(6) - INTERVAL ? MICROSECOND " \
    "FROM " table " WHERE seq > ? ORDER BY seq LIMIT ?"

//  The due rows of the window, by their keys (a JSON array joined on the
//  primary key, as the Coreapp marks its outbox): the statement locks only
//  the rows it deletes, never a pending or recent row a Coreapp may be
//  writing, and checks each again. Parameters: the keys, retention (µs),
//  node, epoch.
#define GC_DELETE_KEYS(table, done_at) \
    "DELETE t FROM " table " t JOIN JSON_TABLE(?, '$[*]' COLUMNS (seq BIGINT UNSIGNED PATH '$')) k " \
    "ON t.seq = k.seq WHERE t.status <> 'pending' AND t." done_at " < NOW(6) - INTERVAL ? MICROSECOND " \
    "AND " GC_FENCE

static const char *SQL_WINDOW[2] = {
    GC_WINDOW ("outbox", "sent_at"), GC_WINDOW ("callbacks", "delivered_at")
};
static const char *SQL_DELETE_KEYS[2] = {
    GC_DELETE_KEYS ("outbox", "sent_at"), GC_DELETE_KEYS ("callbacks", "delivered_at")
};

//  Events, oldest first along the `at` key; every row in that range is
//  due. Parameters: retention (µs), node, epoch, limit.
static const char *SQL_DELETE_EVENTS =
    "DELETE FROM events WHERE at < NOW(6) - INTERVAL ? MICROSECOND AND " GC_FENCE " "
    "ORDER BY at, id LIMIT ?";

//  Inbound message ids (schema 17), the same way by created_at.
static const char *SQL_DELETE_INBOUND =
    "DELETE FROM inbound_ids WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND AND " GC_FENCE " "
    "ORDER BY created_at LIMIT ?";

static const char *SQL_STATE =
    "UPDATE gc_state SET node_id = ?, epoch = ?, passes = passes + 1, last_pass_at = NOW(6), "
    "last_pass_ms = ?, last_batches = ?, last_outbox = ?, last_callbacks = ?, last_events = ?, "
    "last_inbound_ids = ?, last_error = ?, outbox_deleted = outbox_deleted + ?, "
    "callbacks_deleted = callbacks_deleted + ?, events_deleted = events_deleted + ?, "
    "inbound_ids_deleted = inbound_ids_deleted + ? WHERE id = 1 AND " GC_FENCE;

//  The window as it is read: the result, and the due keys as a JSON array.
typedef struct {
    gc_result_t *result;
    char *keys;
    size_t len, size;
    int64_t due;
} window_t;

static int
s_window_row (const wa_db_row_t *row, void *arg)
{
    window_t *window = arg;
    uint64_t seq = (uint64_t) wa_db_row_int (row, 0);
    window->result->examined++;
    window->result->last = seq;
    if (wa_db_row_int (row, 1))
        window->result->young = true;
    if (wa_db_row_int (row, 2)) {
        //  Room for every row was made (s_walk_run): a key never falls off.
        int n = snprintf (window->keys + window->len, window->size - window->len, "%s%" PRIu64,
                          window->due ? "," : "", seq);
        if (n > 0 && (size_t) n < window->size - window->len) {
            window->len += (size_t) n;
            window->due++;
        }
    }
    return 0;
}

static bool
s_in_time (wa_usec_t deadline)
{
    return wa_clock_mono () < deadline;
}

//  Outbox or callbacks: read the window, then delete its due rows.
static int64_t
s_walk_run (gc_job_t *self, wa_db_t *db)
{
    gc_result_t *result = &self->result;
    //  "[", up to 20 digits and a comma per row, "]".
    window_t window = { result, NULL, 1, 22 * (size_t) self->limit + 3, 0 };
    window.keys = malloc (window.size);
    if (!window.keys) {
        snprintf (self->error, sizeof self->error, "out of memory");
        return -1;
    }
    window.keys[0] = '[';
    int64_t rows = wa_db_query (db, SQL_WINDOW[self->table], s_window_row, &window, "iiui", self->keep,
                                self->keep, self->after, (int64_t) self->limit);
    if (rows >= 0 && window.due > 0) {
        if (!s_in_time (self->deadline))
            result->rc = 1;
        else {
            memcpy (window.keys + window.len, "]", 2);
            rows = wa_db_exec (db, SQL_DELETE_KEYS[self->table], "siuu", window.keys, self->keep, self->node,
                               self->epoch);
        }
    }
    else
    if (rows >= 0)
        rows = 0;       //  nothing due in the window
    free (window.keys);
    return result->rc ? 0 : rows;
}

static void
s_batch_run (gc_job_t *self, wa_db_t *db)
{
    gc_result_t *result = &self->result;
    memset (result, 0, sizeof *result);
    self->error[0] = 0;
    if (!s_in_time (self->deadline)) {
        result->rc = 1;
        return;
    }
    int64_t rows = self->table == GC_EVENTS || self->table == GC_INBOUND
                 ? wa_db_exec (db, self->table == GC_EVENTS ? SQL_DELETE_EVENTS : SQL_DELETE_INBOUND, "iuui",
                               self->keep, self->node, self->epoch, (int64_t) self->limit)
                 : s_walk_run (self, db);
    if (rows < 0) {
        result->rc = -1;
        if (!self->error[0])
            snprintf (self->error, sizeof self->error, "%s", wa_db_error (db));
        return;
    }
    result->deleted = rows;
}

static void
s_state_run (gc_job_t *self, wa_db_t *db)
{
    if (!s_in_time (self->deadline)) {
        self->job.rc = 1;
        return;
    }
    int64_t rows = wa_db_exec (db, SQL_STATE, "uuiiiiiisiiiiuu", self->node, self->epoch,
                               (int64_t) (self->pass_took / 1000), (int64_t) self->pass_batches,
                               self->pass_deleted[GC_OUTBOX], self->pass_deleted[GC_CALLBACKS],
                               self->pass_deleted[GC_EVENTS], self->pass_deleted[GC_INBOUND], self->error,
                               self->pass_deleted[GC_OUTBOX], self->pass_deleted[GC_CALLBACKS],
                               self->pass_deleted[GC_EVENTS], self->pass_deleted[GC_INBOUND], self->node,
                               self->epoch);
    if (rows < 0)
        snprintf (self->error, sizeof self->error, "%s", wa_db_error (db));
    self->job.rc = rows < 0 ? -1 : rows == 0 ? 1 : 0;
}

void
gc_job_run (wa_job_t *job, wa_db_t *db)
{
    gc_job_t *self = (gc_job_t *) job;
    wa_usec_t start = wa_clock_mono ();
    if (self->op == GC_JOB_STATE)
        s_state_run (self, db);
    else {
        s_batch_run (self, db);
        job->rc = self->result.rc < 0 ? -1 : 0;
    }
    self->took = wa_clock_mono () - start;
}
