/*  core_jobs — see core_jobs.h */
#include "wa_clockwatch.h"
#include "wa_log.h"
#include "wa_message.h"
#include "core_jobs.h"

//  A promotion is a shard_map row naming us with a lease still running,
//  not draining (a change of the shard count lets it go: reshard.h).
static const char *SQL_FIND =
    "SELECT s.shard, s.epoch, c.shards FROM shard_map s JOIN cluster_info c ON c.id = 1 "
    "WHERE s.node_id = ? AND s.expires_at > NOW(6) AND s.draining = 0 ORDER BY s.shard";
//  Renewal matches only while the row still names us at our epoch: after a
//  promotion of someone else it matches nothing, and we have lost the shard.
//  Nor once the row is draining (a change of the shard count): its holder
//  lets go, and its lease runs out.
static const char *SQL_RENEW =
    "UPDATE shard_map SET expires_at = NOW(6) + INTERVAL ? MICROSECOND "
    "WHERE shard = ? AND node_id = ? AND epoch = ? AND draining = 0";
//  Why a held lease's renewal matched nothing: our row, draining (a change
//  of the shard count: we release it), or another holder's.
static const char *SQL_DRAINING =
    "SELECT draining FROM shard_map WHERE shard = ? AND node_id = ? AND epoch = ? AND expires_at > NOW(6)";
//  Time left, by the database's clock, until the previous holder's lease
//  has expired and its session has surely timed out at the gateway; none
//  when it handed the shard over with its session confirmed closed
//  (prev_closed, handover.h).
static const char *SQL_WAIT =
    "SELECT IF(prev_closed = 1, 0, TIMESTAMPDIFF(MICROSECOND, NOW(6), prev_expires_at) + ?), "
    WA_CLOCKWATCH_NOW_SQL " "
    "FROM shard_map WHERE shard = ? AND node_id = ? AND epoch = ?";

static int
s_found_row (const wa_db_row_t *row, void *arg)
{
    shard_job_t *self = arg;
    int shard = (int) wa_db_row_int (row, 0);
    uint64_t epoch = (uint64_t) wa_db_row_int (row, 1);
    if (wa_shards_valid ((int) wa_db_row_int (row, 2)))
        self->shards = (int) wa_db_row_int (row, 2);
    //  Held already at that epoch: renewed above. (At another epoch: we
    //  were promoted again; the renewal above found it lost, this takes it.)
    for (int i = 0; i < self->count; i++)
        if (self->leases[i].shard == shard && self->leases[i].epoch == epoch)
            return 0;
    if (self->count == WA_SHARDS_MAX)
        return 0;
    shard_lease_t *lease = &self->leases[self->count++];
    *lease = (shard_lease_t) { .shard = shard, .epoch = epoch, .held = false, .rc = -1 };
    return 0;
}

typedef struct {
    int64_t wait;
    wa_usec_t db_now;
} wait_t;

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static int
s_wait_row (const wa_db_row_t *row, void *arg)
{
    wait_t *wait = arg;
    wait->wait = wa_db_row_int (row, 0);
    wait->db_now = wa_db_row_int (row, 1);
    return 0;
}

//  Renew one lease, and read the login wait of one just found (a held
//  lease's login time was set when it was found: login_wait -1). One
//  statement a held shard per tick: a Coreapp holding many shards renews
//  them all well within shard_renew_interval.
static void
s_renew (shard_job_t *self, shard_lease_t *lease, wa_db_t *db)
{
    lease->rc = -1;
    lease->login_wait = 0;
    lease->draining = false;
    int64_t rows = wa_db_exec (db, SQL_RENEW, "iiuu", (int64_t) self->ttl, (int64_t) lease->shard,
                               self->node, lease->epoch);
    if (rows < 0) {
        wa_warn ("db: shard %d lease renewal failed: %s", lease->shard, wa_db_error (db));
        return;
    }
    if (rows == 0) {
        int64_t draining = 0;
        if (lease->held && wa_db_query (db, SQL_DRAINING, s_int_row, &draining, "iuu", (int64_t) lease->shard,
                                        self->node, lease->epoch) == 1)
            lease->draining = draining != 0;
        lease->rc = 0;
        return;
    }
    if (lease->held) {
        lease->login_wait = -1;
        lease->rc = 1;
        return;
    }
    wait_t wait = { 0, 0 };
    wa_usec_t sent = wa_clock_mono ();
    //  On a Galera cluster prev_expires_at was written by the old holder's
    //  database node, by its clock, and NOW(6) is this one's: the wait grows
    //  by the bound on their difference (docs/ARCHITECTURE.md, On a Galera
    //  cluster). One server judges both by one clock.
    wa_usec_t after = self->idle + (wa_db_galera (db) ? self->skew : 0);
    if (wa_db_query (db, SQL_WAIT, s_wait_row, &wait, "iiuu", (int64_t) after,
                     (int64_t) lease->shard, self->node, lease->epoch) != 1)
        return;
    self->readings[1] = (wa_clockread_t) { wait.db_now, sent, wa_clock_mono () };
    lease->login_wait = wait.wait > 0 ? wait.wait : 0;
    lease->rc = 1;
}

void
core_shard_run (wa_job_t *job, wa_db_t *db)
{
    shard_job_t *self = (shard_job_t *) job;
    job->rc = -1;
    self->readings[1].db = 0;
    for (int i = 0; i < self->count; i++)
        self->leases[i].rc = -1;
    if (wa_db_read_clock (db, &self->readings[0]))
        return;
    job->rc = 0;
    int held = self->count;
    for (int i = 0; i < held; i++)
        s_renew (self, &self->leases[i], db);
    if (wa_db_query (db, SQL_FIND, s_found_row, self, "u", self->node) < 0)
        return;
    for (int i = held; i < self->count; i++)
        s_renew (self, &self->leases[i], db);
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
