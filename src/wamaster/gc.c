/*  gc — see gc.h */
#include <string.h>
#include "wa_log.h"
#include "gc.h"

static const char *s_names[GC_TABLES] = { "outbox", "callbacks", "events" };

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

//  Walked tables (outbox, callbacks) go window by window; events until a
//  batch finds fewer rows than it could delete.
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

//  The window: the next rows after the cursor, by primary key (a range read
//  of at most gc_batch_size rows, locking nothing): how many, the last seq,
//  and how many are younger than the retention. Parameters: retention (µs),
//  cursor, limit.
#define GC_WINDOW(table) \
    "SELECT COUNT(*), COALESCE(MAX(seq), 0), " \
    "COALESCE(SUM(created_at >= NOW(6) - INTERVAL ? MICROSECOND), 0) " \
    "FROM (SELECT seq, created_at FROM " table " WHERE seq > ? ORDER BY seq LIMIT ?) w"

static const char *SQL_WINDOW[2] = { GC_WINDOW ("outbox"), GC_WINDOW ("callbacks") };

//  Within the window's key range, what is finished and old enough; never a
//  pending row. Parameters: cursor, last, retention (µs), node, epoch.
static const char *SQL_DELETE[GC_TABLES] = {
    "DELETE FROM outbox WHERE seq > ? AND seq <= ? AND status <> 'pending' "
    "AND sent_at < NOW(6) - INTERVAL ? MICROSECOND AND " GC_FENCE,
    "DELETE FROM callbacks WHERE seq > ? AND seq <= ? AND status <> 'pending' "
    "AND delivered_at < NOW(6) - INTERVAL ? MICROSECOND AND " GC_FENCE,
    //  Oldest first along the `at` key. Parameters: retention (µs), node,
    //  epoch, limit.
    "DELETE FROM events WHERE at < NOW(6) - INTERVAL ? MICROSECOND AND " GC_FENCE " "
    "ORDER BY at, id LIMIT ?"
};

static const char *SQL_STATE =
    "UPDATE gc_state SET node_id = ?, epoch = ?, passes = passes + 1, last_pass_at = NOW(6), "
    "last_pass_ms = ?, last_batches = ?, last_outbox = ?, last_callbacks = ?, last_events = ?, "
    "last_error = ?, outbox_deleted = outbox_deleted + ?, callbacks_deleted = callbacks_deleted + ?, "
    "events_deleted = events_deleted + ? WHERE id = 1 AND " GC_FENCE;

static int
s_window_row (const wa_db_row_t *row, void *arg)
{
    gc_result_t *result = arg;
    result->examined = wa_db_row_int (row, 0);
    result->last = (uint64_t) wa_db_row_int (row, 1);
    result->young = wa_db_row_int (row, 2) > 0;
    return 0;
}

static bool
s_in_time (wa_usec_t deadline)
{
    return wa_clock_mono () < deadline;
}

static void
s_batch_run (gc_job_t *self, wa_db_t *db)
{
    gc_result_t *result = &self->result;
    memset (result, 0, sizeof *result);
    self->error[0] = 0;
    int64_t rows = 0;
    if (!s_in_time (self->deadline)) {
        result->rc = 1;
        return;
    }
    if (self->table == GC_EVENTS)
        rows = wa_db_exec (db, SQL_DELETE[GC_EVENTS], "iuui", self->keep, self->node, self->epoch,
                           (int64_t) self->limit);
    else {
        if (wa_db_query (db, SQL_WINDOW[self->table], s_window_row, result, "iui", self->keep, self->after,
                         (int64_t) self->limit) < 0)
            rows = -1;
        else
        if (result->examined == 0)
            return;
        else
        if (!s_in_time (self->deadline)) {
            result->rc = 1;
            return;
        }
        else
            rows = wa_db_exec (db, SQL_DELETE[self->table], "uuiuu", self->after, result->last, self->keep,
                               self->node, self->epoch);
    }
    if (rows < 0) {
        result->rc = -1;
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
    int64_t rows = wa_db_exec (db, SQL_STATE, "uuiiiiisiiiuu", self->node, self->epoch,
                               (int64_t) (self->pass_took / 1000), (int64_t) self->pass_batches,
                               self->pass_deleted[GC_OUTBOX], self->pass_deleted[GC_CALLBACKS],
                               self->pass_deleted[GC_EVENTS], self->error,
                               self->pass_deleted[GC_OUTBOX], self->pass_deleted[GC_CALLBACKS],
                               self->pass_deleted[GC_EVENTS], self->node, self->epoch);
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
