/*  handover — see handover.h */
#include <jansson.h>
#include "wa_config.h"
#include "wa_log.h"
#include "handover.h"

void
handover_init (handover_t *self)
{
    memset (self, 0, sizeof *self);
    self->job = WA_JOB_NEW (handover_job_t, JOB_HANDOVER, handover_run, NULL);
}

void
handover_destroy (handover_t *self)
{
    handover_job_t *job = self->job;
    wa_job_destroy ((wa_job_t **) &job);
    self->job = NULL;
}

bool
handover_active (const handover_t *self)
{
    return self->phase != HANDOVER_IDLE;
}

int
handover_begin (handover_t *self, int holding_shard, uint64_t holding_epoch, uint64_t node,
                int shard, uint64_t epoch, uint64_t to, const char *text, wa_usec_t now,
                char *why, size_t why_size)
{
    json_error_t error;
    json_t *root = json_loads (text, JSON_REJECT_DUPLICATES, &error);
    json_t *master = json_object_get (root, "master"), *master_epoch = json_object_get (root, "master_epoch");
    int rc = -1;
    if (!json_is_integer (master) || json_integer_value (master) <= 0
    ||  !json_is_integer (master_epoch) || json_integer_value (master_epoch) <= 0)
        snprintf (why, why_size, "the handover does not name its Master and lease epoch");
    else
    if (holding_shard < 0 || shard != holding_shard || epoch != holding_epoch)
        snprintf (why, why_size, "we do not hold shard %d at epoch %" PRIu64 " (we hold %d at %" PRIu64 ")",
                  shard, epoch, holding_shard, holding_epoch);
    else
    if (to == 0 || to == node)
        snprintf (why, why_size, "the new holder %" PRIu64 " is not another Coreapp", to);
    else
    if (self->phase != HANDOVER_IDLE)
        snprintf (why, why_size, "a handover of shard %d to %" PRIu64 " is under way", self->shard, self->to);
    else
    if (!self->job)
        snprintf (why, why_size, "the last handover's transaction has not come back yet");
    else {
        self->phase = HANDOVER_DRAINING;
        self->shard = shard;
        self->epoch = epoch;
        self->to = to;
        self->master = (uint64_t) json_integer_value (master);
        self->master_epoch = (uint64_t) json_integer_value (master_epoch);
        self->started = self->phase_at = now;
        self->drained_us = self->logout_us = 0;
        self->closed = false;
        rc = 0;
    }
    json_decref (root);
    return rc;
}

int
handover_release (handover_t *self, int shard, uint64_t epoch, wa_usec_t now)
{
    if (self->phase != HANDOVER_IDLE || !self->job)
        return -1;
    self->phase = HANDOVER_DRAINING;
    self->shard = shard;
    self->epoch = epoch;
    self->to = 0;
    self->master = self->master_epoch = 0;
    self->started = self->phase_at = now;
    self->drained_us = self->logout_us = 0;
    self->closed = false;
    return 0;
}

handover_action_t
handover_step (handover_t *self, wa_usec_t now, bool outbox_idle, bool session_open, bool session_closing)
{
    switch (self->phase) {
        case HANDOVER_DRAINING:
            if (!outbox_idle && now - self->phase_at < HANDOVER_DRAIN)
                return HANDOVER_WAIT;
            self->drained_us = now - self->phase_at;
            self->phase_at = now;
            if (session_open) {
                self->phase = HANDOVER_LOGGING_OUT;
                return HANDOVER_LOGOUT_NOW;
            }
            return HANDOVER_CLOSE;
        case HANDOVER_LOGGING_OUT:
            if (session_closing && now - self->phase_at < HANDOVER_LOGOUT)
                return HANDOVER_WAIT;
            return HANDOVER_CLOSE;
        case HANDOVER_STORING:
            return self->store_due && self->job ? HANDOVER_STORE : HANDOVER_WAIT;
        case HANDOVER_IDLE:
            break;
    }
    return HANDOVER_WAIT;
}

void
handover_closed (handover_t *self, wa_usec_t now, bool confirmed)
{
    if (self->phase != HANDOVER_DRAINING && self->phase != HANDOVER_LOGGING_OUT)
        return;
    if (self->phase == HANDOVER_LOGGING_OUT)
        self->logout_us = now - self->phase_at;
    self->closed = confirmed;
    self->phase = HANDOVER_STORING;
    self->phase_at = now;
    self->store_due = true;
}

bool
handover_abort (handover_t *self)
{
    if (self->phase != HANDOVER_DRAINING && self->phase != HANDOVER_LOGGING_OUT)
        return false;
    self->phase = HANDOVER_IDLE;
    self->failed++;
    return true;
}

handover_job_t *
handover_job (handover_t *self, uint64_t node, wa_usec_t ttl, wa_usec_t margin, wa_usec_t liveness_limit)
{
    handover_job_t *job = self->job;
    if (!job || self->phase != HANDOVER_STORING || !self->store_due)
        return NULL;
    self->store_due = false;
    job->shard = self->shard;
    job->node = node;
    job->epoch = self->epoch;
    job->to = self->to;
    job->master = self->master;
    job->master_epoch = self->master_epoch;
    job->closed = self->closed;
    job->ttl = ttl;
    job->margin = margin;
    job->liveness_limit = liveness_limit;
    job->new_epoch = 0;
    job->unsure = false;
    job->why[0] = 0;
    job->job.rc = -1;
    return job;
}

void
handover_job_back (handover_t *self, handover_job_t *job)
{
    self->job = job;
    self->phase = HANDOVER_IDLE;
    if (job->job.rc == 1)
        self->done++;
    else
        self->failed++;
    self->unsure = job->job.rc < 0 && job->unsure;
}

//  --------------------------------------------------------------------------
//  The transaction (on the Coreapp's DB worker).

//  Our row, locked: a promotion of it waits for us, or we see it. The new
//  holder may hold other shards (a Coreapp holds several): only its being
//  up is checked.
static const char *SQL_ROW =
    "SELECT node_id, epoch, expires_at > NOW(6) FROM shard_map WHERE shard = ? FOR UPDATE";
static const char *SQL_UP =
    "SELECT COUNT(*) FROM nodes WHERE id = ? AND kind = 'coreapp' AND stopped_at IS NULL AND "
    WA_SQL_ALIVE ("last_seen");
//  Fenced by our shard lease (the row names us at our epoch, unexpired,
//  not draining: a change of the shard count moves no row by a handover)
//  and by the asking Master's lease.
static const char *SQL_MOVE =
    "UPDATE shard_map SET prev_node = node_id, prev_expires_at = NOW(6) + INTERVAL ? MICROSECOND, "
    "prev_closed = ?, node_id = ?, epoch = epoch + 1, expires_at = NOW(6) + INTERVAL ? MICROSECOND, "
    "promoted_at = NOW(6), promoted_by = ?, reason = 'switchover' "
    "WHERE shard = ? AND node_id = ? AND epoch = ? AND expires_at > NOW(6) AND draining = 0 AND "
    "(SELECT COUNT(*) FROM master_lease WHERE id = 1 AND holder = ? AND epoch = ? "
    "AND expires_at > NOW(6)) = 1";

//  A release: our own lease shortened, fenced by our draining row alone.
static const char *SQL_RELEASE =
    "UPDATE shard_map SET released = ?, expires_at = LEAST(expires_at, NOW(6) + INTERVAL ? MICROSECOND) "
    "WHERE shard = ? AND node_id = ? AND epoch = ? AND draining = 1";

typedef struct {
    handover_job_t *job;
    bool ours;                  //  our row names us at our epoch, unexpired
} rows_t;

static int
s_row (const wa_db_row_t *row, void *arg)
{
    rows_t *rows = arg;
    uint64_t node = (uint64_t) wa_db_row_int (row, 0);
    uint64_t epoch = (uint64_t) wa_db_row_int (row, 1);
    bool valid = wa_db_row_int (row, 2) != 0;
    rows->ours = node == rows->job->node && epoch == rows->job->epoch && valid;
    return 0;
}

static int
s_count (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

//  Refused, for the reason in why: nothing changed.
static void
s_refuse (handover_job_t *self, wa_db_t *db)
{
    wa_db_transaction (db, "ROLLBACK");
    self->job.rc = 0;
}

void
handover_run (wa_job_t *job, wa_db_t *db)
{
    handover_job_t *self = (handover_job_t *) job;
    job->rc = -1;
    if (self->to == 0) {
        int64_t rows = wa_db_exec (db, SQL_RELEASE, "iiiuu", (int64_t) (self->closed ? 1 : 0),
                                   (int64_t) (self->closed ? 0 : self->margin), (int64_t) self->shard, self->node,
                                   self->epoch);
        if (rows < 0)
            snprintf (self->why, sizeof self->why, "database: %.140s", wa_db_error (db));
        else
        if (rows == 0) {
            snprintf (self->why, sizeof self->why, "shard %d no longer names us at epoch %" PRIu64 " (draining)",
                      self->shard, self->epoch);
            job->rc = 0;
        }
        else
            job->rc = 1;
        return;
    }
    rows_t rows = { self, false };
    int64_t up = 0;
    if (wa_db_transaction (db, "START TRANSACTION")) {
        snprintf (self->why, sizeof self->why, "database: %.140s", wa_db_error (db));
        return;
    }
    if (wa_db_query (db, SQL_ROW, s_row, &rows, "i", (int64_t) self->shard) < 0
    ||  wa_db_query (db, SQL_UP, s_count, &up, "ui", self->to, (int64_t) self->liveness_limit) < 0) {
        snprintf (self->why, sizeof self->why, "database: %.140s", wa_db_error (db));
        wa_db_transaction (db, "ROLLBACK");
        return;
    }
    if (!rows.ours || up != 1) {
        if (!rows.ours)
            snprintf (self->why, sizeof self->why, "shard %d no longer names us at epoch %" PRIu64,
                      self->shard, self->epoch);
        else
            snprintf (self->why, sizeof self->why, "coreapp %" PRIu64 " is not up (no recent liveness)", self->to);
        s_refuse (self, db);
        return;
    }
    int64_t moved = wa_db_exec (db, SQL_MOVE, "iiuiuiuuuu", (int64_t) self->margin, (int64_t) (self->closed ? 1 : 0),
                                self->to, (int64_t) self->ttl, self->master, (int64_t) self->shard, self->node,
                                self->epoch, self->master, self->master_epoch);
    if (moved < 0) {
        snprintf (self->why, sizeof self->why, "database: %.140s", wa_db_error (db));
        wa_db_transaction (db, "ROLLBACK");
        return;
    }
    if (moved == 0) {
        snprintf (self->why, sizeof self->why, "master %" PRIu64 " no longer holds the master lease at epoch %"
                  PRIu64, self->master, self->master_epoch);
        s_refuse (self, db);
        return;
    }
    if (wa_db_transaction (db, "COMMIT")) {
        //  It may have committed: only a renewal can tell.
        snprintf (self->why, sizeof self->why, "database, at the commit: %.130s", wa_db_error (db));
        self->unsure = true;
        return;
    }
    self->new_epoch = self->epoch + 1;
    job->rc = 1;
}
