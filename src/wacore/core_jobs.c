/*  core_jobs — see core_jobs.h */
#include "wa_log.h"
#include "wa_message.h"
#include "core_jobs.h"

//  A promotion is a shard_map row naming us with a lease still running,
//  not draining (a change of the shard count lets it go: reshard.h).
static const char *SQL_FIND =
    "SELECT shard, epoch FROM shard_map WHERE node_id = ? AND expires_at > NOW(6) AND draining = 0 "
    "ORDER BY shard LIMIT 1";
//  Renewal matches only while the row still names us at our epoch: after a
//  promotion of someone else it matches nothing, and we have lost the shard.
//  Nor once the row is draining (a change of the shard count): its holder
//  lets go, and its lease runs out.
static const char *SQL_RENEW =
    "UPDATE shard_map SET expires_at = NOW(6) + INTERVAL ? MICROSECOND "
    "WHERE shard = ? AND node_id = ? AND epoch = ? AND draining = 0";
//  Time left, by the database's clock, until the previous holder's lease
//  has expired and its session has surely timed out at the gateway; none
//  when it handed the shard over with its session confirmed closed
//  (prev_closed, handover.h).
static const char *SQL_WAIT =
    "SELECT IF(prev_closed = 1, 0, TIMESTAMPDIFF(MICROSECOND, NOW(6), prev_expires_at) + ?), "
    WA_CLOCKWATCH_NOW_SQL ", (SELECT shards FROM cluster_info WHERE id = 1) "
    "FROM shard_map WHERE shard = ? AND node_id = ? AND epoch = ?";

typedef struct {
    bool found;
    int shard;
    uint64_t epoch;
} found_t;

static int
s_found_row (const wa_db_row_t *row, void *arg)
{
    found_t *found = arg;
    found->found = true;
    found->shard = (int) wa_db_row_int (row, 0);
    found->epoch = (uint64_t) wa_db_row_int (row, 1);
    return 0;
}

typedef struct {
    int64_t wait;
    wa_usec_t db_now;
    int64_t shards;
} wait_t;

static int
s_wait_row (const wa_db_row_t *row, void *arg)
{
    wait_t *wait = arg;
    wait->wait = wa_db_row_int (row, 0);
    wait->db_now = wa_db_row_int (row, 1);
    wait->shards = wa_db_row_int (row, 2);
    return 0;
}

void
core_shard_run (wa_job_t *job, wa_db_t *db)
{
    shard_job_t *self = (shard_job_t *) job;
    job->rc = -1;
    self->readings[1].db = 0;
    if (wa_db_read_clock (db, &self->readings[0]))
        return;
    if (!self->holding) {
        found_t found = { false, 0, 0 };
        if (wa_db_query (db, SQL_FIND, s_found_row, &found, "u", self->node) < 0)
            return;
        if (!found.found) {
            job->rc = 0;
            return;
        }
        self->shard = found.shard;
        self->epoch = found.epoch;
    }
    int64_t rows = wa_db_exec (db, SQL_RENEW, "iiuu", (int64_t) self->ttl, (int64_t) self->shard,
                               self->node, self->epoch);
    if (rows < 0) {
        wa_warn ("db: shard lease renewal failed: %s", wa_db_error (db));
        return;
    }
    if (rows == 0) {
        job->rc = 0;
        return;
    }
    wait_t wait = { 0, 0, 0 };
    wa_usec_t sent = wa_clock_mono ();
    if (wa_db_query (db, SQL_WAIT, s_wait_row, &wait, "iiuu", (int64_t) self->idle,
                     (int64_t) self->shard, self->node, self->epoch) != 1)
        return;
    self->readings[1] = (wa_clockread_t) { wait.db_now, sent, wa_clock_mono () };
    self->login_wait = wait.wait > 0 ? wait.wait : 0;
    self->shards = wa_shards_valid ((int) wait.shards) ? (int) wait.shards : 0;
    job->rc = 1;
}

static const char *SQL_RELEASE =
    "UPDATE shard_map SET expires_at = LEAST(expires_at, NOW(6)) "
    "WHERE shard = ? AND node_id = ? AND epoch = ?";

void
core_release_run (wa_job_t *job, wa_db_t *db)
{
    release_job_t *self = (release_job_t *) job;
    job->rc = wa_db_exec (db, SQL_RELEASE, "iuu", (int64_t) self->shard, self->node, self->epoch) == 1 ? 0 : -1;
}
