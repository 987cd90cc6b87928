/*  master_jobs — see master_jobs.h */
#include "wa_log.h"
#include "master_jobs.h"

void
master_bootstrap_run (wa_job_t *job, wa_db_t *db)
{
    job->rc = wa_db_bootstrap (db);
    if (job->rc)
        wa_warn ("db: bootstrap failed: %s", wa_db_error (db));
}

//  One statement takes or renews the lease, judged by the database's clock.
//  Assignments run left to right, so epoch and acquired_at still see the old
//  holder and expiry. The epoch grows on every takeover (including our own
//  after a lapse) and comes back through LAST_INSERT_ID.
static const char *SQL_LEASE =
    "UPDATE master_lease SET "
    "epoch = LAST_INSERT_ID(IF(holder = ? AND expires_at >= NOW(6), epoch, epoch + 1)), "
    "acquired_at = IF(holder = ? AND expires_at >= NOW(6), acquired_at, NOW(6)), "
    "holder = ?, "
    "expires_at = NOW(6) + INTERVAL ? MICROSECOND "
    "WHERE id = 1 AND (holder = ? OR (expires_at < NOW(6) AND ?))";
static const char *SQL_LEASE_READ =
    "SELECT holder, epoch FROM master_lease WHERE id = 1";

//  Read the database's clock; true when it stepped since the reading in
//  clock (a copy of the reactor's watch, fed here too).
static bool
s_read_clock (wa_db_t *db, wa_clockwatch_t *clock, wa_clockread_t *reading, wa_usec_t threshold)
{
    return wa_db_read_clock (db, reading) == 0 && wa_clockwatch_feed_read (clock, reading, threshold) != 0;
}

static int
s_lease_row (const wa_db_row_t *row, void *arg)
{
    lease_job_t *self = arg;
    self->holder = (uint64_t) wa_db_row_int (row, 0);
    self->epoch = (uint64_t) wa_db_row_int (row, 1);
    return 0;
}

void
master_lease_run (wa_job_t *job, wa_db_t *db)
{
    lease_job_t *self = (lease_job_t *) job;
    self->previous_holder = 0;
    self->took_over_blocked = false;
    //  Right after a step of the database's clock every lease may look
    //  expired (forward) though its holder renews on time: renew ours, take
    //  no other's until the step is old (docs/ARCHITECTURE.md, Time steps).
    bool suspect = s_read_clock (db, &self->clock, &self->reading, self->clock_threshold)
                || self->clock_suspect;
    if (!self->known_epoch) {
        //  Who held it before, for the audit log; a stale read is harmless.
        if (wa_db_query (db, SQL_LEASE_READ, s_lease_row, self, "") >= 0)
            self->previous_holder = self->holder;
    }
    int64_t rows = wa_db_exec (db, SQL_LEASE, "uuuiui", self->node, self->node, self->node,
                               (int64_t) self->ttl, self->node, (int64_t) !suspect);
    if (rows < 0) {
        wa_warn ("db: lease renewal failed: %s", wa_db_error (db));
        job->rc = -1;
        return;
    }
    if (rows == 1) {
        self->epoch = wa_db_insert_id (db);
        self->holder = self->node;
        job->rc = 1;
        return;
    }
    if (wa_db_query (db, SQL_LEASE_READ, s_lease_row, self, "") < 0) {
        job->rc = -1;
        return;
    }
    self->took_over_blocked = suspect && self->holder != self->node;
    job->rc = 0;
}

static const char *SQL_CLUSTER_INIT =
    "INSERT IGNORE INTO cluster_info (id, shards, created_at) VALUES (1, ?, NOW(6))";
static const char *SQL_CLUSTER_READ =
    "SELECT shards FROM cluster_info WHERE id = 1";
static const char *SQL_SHARD_INIT =
    "INSERT IGNORE INTO shard_map (shard, expires_at, prev_expires_at) "
    "VALUES (?, '1970-01-02 00:00:00', '1970-01-02 00:00:00')";

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int *) arg = (int) wa_db_row_int (row, 0);
    return 0;
}

static bool
s_in_time (wa_usec_t deadline)
{
    return wa_clock_mono () < deadline;
}

void
master_migrate_run (wa_job_t *job, wa_db_t *db)
{
    migrate_job_t *self = (migrate_job_t *) job;
    job->rc = -1;
    if (!s_in_time (self->deadline))
        return;
    int rc = wa_db_migrate (db);
    if (rc) {
        job->rc = rc;
        return;
    }
    if (!s_in_time (self->deadline) || wa_db_exec (db, SQL_CLUSTER_INIT, "i", (int64_t) self->shards) < 0)
        return;
    self->cluster_shards = 0;
    if (wa_db_query (db, SQL_CLUSTER_READ, s_int_row, &self->cluster_shards, "") != 1)
        return;
    if (self->cluster_shards < 1 || self->cluster_shards > MASTER_MAX_SHARDS) {
        wa_error ("db: cluster_info.shards is %d: outside 1..%d", self->cluster_shards, MASTER_MAX_SHARDS);
        return;
    }
    for (int s = 0; s < self->cluster_shards; s++)
        if (!s_in_time (self->deadline) || wa_db_exec (db, SQL_SHARD_INIT, "i", (int64_t) s) < 0)
            return;
    job->rc = 0;
}

//  The health of each shard's holder, judged by the database's clock.
static const char *SQL_SHARDS =
    "SELECT s.shard, s.node_id, s.epoch, s.expires_at > NOW(6), "
    "n.id IS NOT NULL, n.stopped_at IS NULL, "
    WA_SQL_ALIVE ("n.last_seen") ", " WA_CLOCKWATCH_NOW_SQL ", s.draining "
    "FROM shard_map s LEFT JOIN nodes n ON n.id = s.node_id ORDER BY s.shard";

//  Every Coreapp that may take a shard, with what promote_pick judges it by.
static const char *SQL_CANDIDATES =
    "SELECT n.id, " WA_SQL_ALIVE ("n.last_seen") ", "
    "(SELECT COUNT(*) FROM shard_map WHERE node_id = n.id AND expires_at > NOW(6) AND shard <> ?), "
    "n.id IN (SELECT node_id FROM node_health WHERE demoted_at > NOW(6) - INTERVAL ? MICROSECOND), "
    "TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)) "
    "FROM nodes n WHERE n.kind = 'coreapp' AND n.stopped_at IS NULL "
    "ORDER BY n.last_seen DESC LIMIT 64";
//  Starts the hold-off of a replaced primary.
static const char *SQL_DEMOTED =
    "INSERT INTO node_health (node_id, demoted_at, updated_at) VALUES (?, NOW(6), NOW(6)) "
    "ON DUPLICATE KEY UPDATE demoted_at = NOW(6)";
static const char *SQL_COREAPPS =
    "SELECT id FROM nodes WHERE kind = 'coreapp' AND stopped_at IS NULL "
    "AND " WA_SQL_ALIVE ("last_seen") " ORDER BY id LIMIT 64";

//  Compare-and-set on the epoch, fenced by our master lease. The new
//  holder's lease starts when the old one ends, and prev_expires_at keeps
//  the old end: the new holder opens no session before it has passed. A
//  row never held keeps the prev_* it was written with: a new layout's row
//  names the old leases that covered its recipients (reshard.h). A draining
//  row is promoted by nobody.
static const char *SQL_PROMOTE =
    "UPDATE shard_map SET prev_node = IF(node_id = 0, prev_node, node_id), "
    "prev_expires_at = IF(node_id = 0, prev_expires_at, expires_at), "
    "prev_closed = IF(node_id = 0, prev_closed, 0), "
    "node_id = ?, epoch = epoch + 1, "
    "expires_at = GREATEST(expires_at, NOW(6)) + INTERVAL ? MICROSECOND, "
    "promoted_at = NOW(6), promoted_by = ?, reason = ? "
    "WHERE shard = ? AND epoch = ? AND draining = 0 AND "
    "(SELECT COUNT(*) FROM master_lease WHERE id = 1 AND holder = ? AND epoch = ? "
    "AND expires_at > NOW(6)) = 1";

//  Maintenance mode (schema 10): while paused_at is set, the monitor
//  replaces no primary Coreapp and the Master moves none to even them out.
//  One row by its primary key, read by every run.
static const char *SQL_PAUSED =
    "SELECT paused_at IS NOT NULL, paused_by, pause_reason FROM cluster_info WHERE id = 1";
//  The failover rate limit, by the database's clock: each shard's failovers
//  within failover_window, whichever Master made them.
static const char *SQL_FAILOVER_COUNTS =
    "SELECT shard, COUNT(*) FROM failovers WHERE at > NOW(6) - INTERVAL ? MICROSECOND GROUP BY shard";
//  A promotion that replaced a holder, recorded for the rate limit; then
//  what no window can reach any more (failover_window is at most a day).
static const char *SQL_FAILOVER_ADD =
    "INSERT INTO failovers (shard, at, node_id, prev_node, promoted_by, reason) "
    "VALUES (?, NOW(6), ?, ?, ?, LEFT(?, 64))";
static const char *SQL_FAILOVER_PRUNE =
    "DELETE FROM failovers WHERE at < NOW(6) - INTERVAL 1 DAY LIMIT 1000";

typedef struct {
    int count;
    promote_shard_t shards[MASTER_MAX_SHARDS];
    bool draining[MASTER_MAX_SHARDS];   //  of a layout being replaced (reshard.h)
    wa_usec_t db_now;           //  the statement's NOW(6)
} shard_list_t;

static int
s_shard_row (const wa_db_row_t *row, void *arg)
{
    shard_list_t *list = arg;
    if (list->count == MASTER_MAX_SHARDS)
        return 1;
    promote_shard_t *s = &list->shards[list->count++];
    s->shard = (int) wa_db_row_int (row, 0);
    s->node = (uint64_t) wa_db_row_int (row, 1);
    s->epoch = (uint64_t) wa_db_row_int (row, 2);
    s->lease_valid = wa_db_row_int (row, 3);
    s->exists = wa_db_row_int (row, 4);
    s->running = wa_db_row_int (row, 5);
    s->fresh = wa_db_row_int (row, 6);
    list->db_now = wa_db_row_int (row, 7);
    list->draining[list->count - 1] = wa_db_row_int (row, 8) != 0;
    return 0;
}

typedef struct {
    int count;
    promote_candidate_t rows[MASTER_MAX_NODES];
} candidate_list_t;

static int
s_candidate_row (const wa_db_row_t *row, void *arg)
{
    candidate_list_t *list = arg;
    if (list->count == MASTER_MAX_NODES)
        return 1;
    promote_candidate_t *c = &list->rows[list->count++];
    c->node = (uint64_t) wa_db_row_int (row, 0);
    c->fresh = wa_db_row_int (row, 1);
    c->held = (int) wa_db_row_int (row, 2);
    c->held_off = wa_db_row_int (row, 3);
    c->seen_age = wa_db_row_int (row, 4);
    return 0;
}

typedef struct {
    int count;
    uint64_t ids[MASTER_MAX_NODES];
} id_list_t;

static int
s_ids_row (const wa_db_row_t *row, void *arg)
{
    id_list_t *list = arg;
    if (list->count == MASTER_MAX_NODES)
        return 1;
    list->ids[list->count++] = (uint64_t) wa_db_row_int (row, 0);
    return 0;
}

//  What stops the monitor from promoting a shard: the failovers per shard,
//  read once per run and only when a shard needs a new primary (the pause
//  is read by every run: s_paused_row).
typedef struct {
    bool read;
    int counts[MASTER_MAX_SHARDS];
} guards_t;

static int
s_paused_row (const wa_db_row_t *row, void *arg)
{
    monitor_job_t *job = arg;
    job->cluster_paused = wa_db_row_int (row, 0) != 0;
    if (job->cluster_paused) {
        snprintf (job->paused_by, sizeof job->paused_by, "%s", wa_db_row_str (row, 1));
        snprintf (job->pause_reason, sizeof job->pause_reason, "%s", wa_db_row_str (row, 2));
    }
    return 0;
}

static int
s_count_row (const wa_db_row_t *row, void *arg)
{
    guards_t *guards = arg;
    int64_t shard = wa_db_row_int (row, 0);
    if (shard >= 0 && shard < MASTER_MAX_SHARDS)
        guards->counts[shard] = (int) wa_db_row_int (row, 1);
    return 0;
}

static int
s_read_guards (monitor_job_t *self, wa_db_t *db, guards_t *guards, promote_policy_t *policy)
{
    if (guards->read)
        return 0;
    if (wa_db_query (db, SQL_FAILOVER_COUNTS, s_count_row, guards, "i", (int64_t) self->failover_window) < 0) {
        wa_warn ("db: reading the failover history failed: %s", wa_db_error (db));
        return -1;
    }
    policy->blocked = promote_rate_limited (guards->counts, MASTER_MAX_SHARDS, self->failover_limit);
    guards->read = true;
    return 0;
}

void
master_monitor_run (wa_job_t *job, wa_db_t *db)
{
    monitor_job_t *self = (monitor_job_t *) job;
    self->promotions = 0;
    self->unserved = 0;
    self->limited = 0;
    self->npaused = 0;
    self->cluster_paused = false;
    self->paused_by[0] = self->pause_reason[0] = 0;
    job->rc = -1;
    //  A change of the shard count that runs goes as far as it can first:
    //  a new layout put in force is promoted by this same run. A step that
    //  failed (said) is tried again by the next run; the monitor goes on.
    if (!s_in_time (self->deadline))
        return;
    reshard_step (db, self->node, self->epoch, &self->reshard);
    shard_list_t list = { 0 };
    self->clock_ignored = false;
    self->reading.db = 0;
    self->reading.sent = wa_clock_mono ();
    if (!s_in_time (self->deadline)
    ||  wa_db_query (db, SQL_SHARDS, s_shard_row, &list, "i", (int64_t) self->liveness_limit) < 0)
        return;
    self->reading.received = wa_clock_mono ();
    promote_policy_t policy = self->policy;
    if (list.count > 0) {
        self->reading.db = list.db_now;
        if (wa_clockwatch_feed (&self->clock, list.db_now, self->reading.sent, self->reading.received,
                                self->clock_threshold))
            policy.clock_suspect = true;
    }
    self->shards = list.count;
    if (wa_db_query (db, SQL_PAUSED, s_paused_row, self, "") < 0) {
        wa_warn ("db: reading the pause failed: %s", wa_db_error (db));
        return;
    }
    guards_t guards = { .read = false };
    for (int i = 0; i < list.count; i++) {
        promote_shard_t *s = &list.shards[i];
        self->holders[i] = s->lease_valid ? s->node : 0;
        self->epochs[i] = s->epoch;
        //  Draining: its holder lets go and nobody replaces it (reshard.h).
        if (list.draining[i])
            continue;
        const char *why = promote_verdict (&policy, s, &self->clock_ignored);
        if (!why)
            continue;
        //  Paused: the verdict is told (s_monitor_done), nothing is promoted.
        if (self->cluster_paused) {
            promotion_t *p = &self->paused[self->npaused++];
            p->shard = s->shard;
            p->node = 0;
            p->previous = s->node;
            p->epoch = s->epoch;
            snprintf (p->reason, sizeof p->reason, "%s", why);
            continue;
        }
        if (s_read_guards (self, db, &guards, &policy))
            return;
        if (promote_blocked (&policy, s->shard)) {
            self->limited |= 1u << s->shard;
            continue;
        }
        candidate_list_t found = { 0 };
        if (wa_db_query (db, SQL_CANDIDATES, s_candidate_row, &found, "iii", (int64_t) self->liveness_limit,
                         (int64_t) s->shard, (int64_t) self->holdoff) < 0)
            return;
        uint64_t candidate = promote_pick (&policy, s, found.rows, found.count);
        wa_debug ("monitor: shard %d holder %" PRIu64 " needs replacing (%s); %d Coreapp(s), chose %" PRIu64,
                  s->shard, s->node, why, found.count, candidate);
        if (!candidate) {
            self->unserved++;
            continue;
        }
        if (!s_in_time (self->deadline))
            return;
        int64_t rows = wa_db_exec (db, SQL_PROMOTE, "uiusiuuu", candidate, (int64_t) self->shard_ttl,
                                   self->node, why, (int64_t) s->shard, s->epoch, self->node, self->epoch);
        if (rows < 0) {
            wa_warn ("db: promotion for shard %d failed: %s", s->shard, wa_db_error (db));
            return;
        }
        if (rows == 0)
            wa_debug ("monitor: shard %d moved on (epoch %" PRIu64 ") or our lease ended: no promotion",
                      s->shard, s->epoch);
        if (rows == 1) {
            self->holders[i] = candidate;
            self->epochs[i] = s->epoch + 1;
            if (s->node && s->node != candidate)
                wa_db_exec (db, SQL_DEMOTED, "u", s->node);
            promotion_t *p = &self->promoted[self->promotions++];
            p->shard = s->shard;
            p->node = candidate;
            p->previous = s->node;
            p->epoch = s->epoch + 1;
            snprintf (p->reason, sizeof p->reason, "%s", why);
            //  Counted for the rate limit by every later primary Master. A
            //  failover that could not be recorded is not counted: said, and
            //  the promotion stands.
            if (promote_is_failover (s)) {
                if (wa_db_exec (db, SQL_FAILOVER_ADD, "iuuus", (int64_t) s->shard, candidate, s->node, self->node,
                                why) != 1)
                    wa_warn ("db: the failover of shard %d was not recorded for the rate limit: %s", s->shard,
                             wa_db_error (db));
                else
                if (wa_db_exec (db, SQL_FAILOVER_PRUNE, "") < 0)
                    wa_warn ("db: pruning the failover history failed: %s", wa_db_error (db));
            }
        }
    }
    id_list_t alive = { 0 };
    if (wa_db_query (db, SQL_COREAPPS, s_ids_row, &alive, "i", (int64_t) self->liveness_limit) < 0)
        return;
    self->ncoreapps = alive.count;
    memcpy (self->coreapps, alive.ids, sizeof alive.ids[0] * (size_t) alive.count);
    job->rc = 0;
}

static const char *SQL_HEALTH =
    "INSERT INTO node_health (node_id, state, reply_age_ms, votes, observers, updated_at) "
    "VALUES (?, ?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE state = VALUES(state), "
    "reply_age_ms = VALUES(reply_age_ms), votes = VALUES(votes), observers = VALUES(observers), "
    "updated_at = NOW(6)";

void
master_health_run (wa_job_t *job, wa_db_t *db)
{
    health_job_t *self = (health_job_t *) job;
    job->rc = 0;
    for (int i = 0; i < self->count; i++) {
        health_row_t *r = &self->rows[i];
        if (wa_db_exec (db, SQL_HEALTH, "usiii", r->node, r->state, r->age_ms,
                        (int64_t) r->votes, (int64_t) r->observers) < 0) {
            job->rc = -1;
            return;
        }
    }
}

static const char *SQL_RELEASE =
    "UPDATE master_lease SET expires_at = NOW(6) WHERE id = 1 AND holder = ? AND epoch = ? "
    "AND expires_at > NOW(6)";

void
master_release_run (wa_job_t *job, wa_db_t *db)
{
    release_job_t *self = (release_job_t *) job;
    job->rc = wa_db_exec (db, SQL_RELEASE, "uu", self->node, self->epoch) == 1 ? 0 : -1;
}

//  Every Coreapp not stopped, the newest first: a silent one too, so that
//  a reply forged for it meets its key.
static const char *SQL_KEYS =
    "SELECT n.id, COALESCE(k.bus_key, '') FROM nodes n LEFT JOIN node_keys k ON k.node_id = n.id "
    "WHERE n.kind = 'coreapp' AND n.stopped_at IS NULL ORDER BY n.id DESC LIMIT 64";

static int
s_key_row (const wa_db_row_t *row, void *arg)
{
    keys_job_t *list = arg;
    if (list->count == MASTER_MAX_NODES)
        return 1;
    node_key_t *entry = &list->keys[list->count++];
    entry->node = (uint64_t) wa_db_row_int (row, 0);
    snprintf (entry->key, sizeof entry->key, "%s", wa_db_row_str (row, 1));
    return 0;
}

void
master_keys_run (wa_job_t *job, wa_db_t *db)
{
    keys_job_t *self = (keys_job_t *) job;
    self->count = 0;
    job->rc = wa_db_query (db, SQL_KEYS, s_key_row, self, "") < 0 ? -1 : 0;
}
