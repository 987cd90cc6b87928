/*  master — see master.h.

    All state lives on the reactor thread; the database work runs on the
    node's DB worker and comes back as finished jobs. The master acts as
    primary only while wa_lease_valid says so, and the deadline is re-checked
    by a one-shot timer, so a Master whose renewals hang steps down on time
    even though its DB worker is stuck. */
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_migrations.h"
#include "wa_node.h"
#include "master.h"
#include "master_jobs.h"

typedef struct {
    const wa_config_t *config;
    wa_node_t node;
    zloop_t *loop;
    wa_lease_t lease;
    bool primary;
    bool bootstrapped;
    bool migrated;
    int cluster_shards;
    int deadline_timer;
    uint64_t promotions;
    bootstrap_job_t bootstrap_job;
    lease_job_t lease_job;
    migrate_job_t migrate_job;
    monitor_job_t monitor_job;
    release_job_t release_job;
} master_t;

static void
s_set_role (master_t *self, const char *role)
{
    self->node.role = role;
    self->node.epoch = self->primary ? self->lease.epoch : 0;
    wa_log_set_prefix ("master %" PRIu64 " %s", self->node.id, role);
}

static void
s_step_down (master_t *self, const char *why)
{
    if (!self->primary)
        return;
    self->primary = false;
    self->migrated = false;
    wa_warn ("stepping down as primary Master (epoch %" PRIu64 "): %s", self->lease.epoch, why);
    wa_lease_lost (&self->lease);
    s_set_role (self, "secondary_master");
    //  Only on the bus: a Master that lost its lease writes nothing more.
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_EVENT);
    msg.node = self->node.id;
    msg.epoch = self->lease_job.epoch;
    msg.shard = UINT32_MAX;
    wa_msg_set_text (&msg, "lease_lost");
    wa_codec_send (self->node.bus, NULL, &msg);
}

static bool
s_acting (master_t *self)
{
    if (self->primary && !wa_lease_valid (&self->lease, wa_clock_mono ()))
        s_step_down (self, "lease deadline passed without a successful renewal");
    return self->primary;
}

static int
s_on_deadline (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    self->deadline_timer = -1;
    s_acting (self);
    return 0;
}

static void
s_submit_primary_work (master_t *self)
{
    if (!s_acting (self))
        return;
    if (!self->migrated) {
        migrate_job_t *job = &self->migrate_job;
        job->node = self->node.id;
        job->epoch = self->lease.epoch;
        job->deadline = self->lease.deadline;
        job->shards = self->config->shards;
        job->job.run = master_migrate_run;
        wa_dbworker_submit (self->node.db, &job->job);
        return;
    }
    monitor_job_t *job = &self->monitor_job;
    job->node = self->node.id;
    job->epoch = self->lease.epoch;
    job->deadline = self->lease.deadline;
    job->liveness_limit = 2 * WA_SEC (self->config->db_liveness_interval);
    job->shard_ttl = WA_SEC (self->config->shard_lease_ttl);
    job->job.run = master_monitor_run;
    wa_dbworker_submit (self->node.db, &job->job);
}

static void
s_lease_done (master_t *self)
{
    lease_job_t *job = &self->lease_job;
    if (job->job.rc == 1) {
        bool takeover = !self->primary || job->epoch != self->lease.epoch;
        wa_lease_renewed (&self->lease, job->job.sent_at, job->epoch);
        if (!wa_lease_valid (&self->lease, wa_clock_mono ())) {
            //  The answer came too late to act on; the next renewal will tell.
            s_step_down (self, "lease renewal answered after its deadline");
            return;
        }
        if (takeover) {
            self->primary = true;
            s_set_role (self, "primary_master");
            if (job->previous_holder && job->previous_holder != self->node.id)
                wa_node_event (&self->node, "lease_lost", -1, job->epoch - 1, job->previous_holder,
                               "master %" PRIu64 " lost the lease: expired, taken over by %" PRIu64,
                               job->previous_holder, self->node.id);
            wa_node_event (&self->node, "lease_acquired", -1, job->epoch, self->node.id,
                           "master %" PRIu64 " holds the master lease (previous holder %" PRIu64 ")",
                           self->node.id, job->previous_holder);
        }
        wa_timer_once (self->loop, &self->deadline_timer, wa_lease_remaining (&self->lease, wa_clock_mono ()),
                       s_on_deadline, self);
        s_submit_primary_work (self);
    }
    else
    if (job->job.rc == 0) {
        if (self->primary)
            s_step_down (self, "the database names another holder");
        else
            wa_debug ("lease held by %" PRIu64 " (epoch %" PRIu64 ")", job->holder, job->epoch);
    }
    //  rc -1: the renewal failed; the deadline timer decides.
}

static void
s_job_done (master_t *self, wa_job_t *job)
{
    if (wa_node_job_done (&self->node, job))
        return;
    switch (job->kind) {
        case JOB_BOOTSTRAP:
            if (job->rc == 0 && !self->bootstrapped) {
                self->bootstrapped = true;
                wa_node_register (&self->node, 1);
            }
            break;
        case JOB_LEASE:
            s_lease_done (self);
            break;
        case JOB_MIGRATE:
            if (job->rc == -2) {
                wa_error ("the database's schema is newer than this build's version %d: "
                          "upgrade this node; stopping", wa_schema_version);
                self->node.fatal = true;
            }
            else
            if (job->rc == 0 && s_acting (self)) {
                self->migrated = true;
                self->cluster_shards = self->migrate_job.cluster_shards;
                if (self->cluster_shards != self->config->shards)
                    wa_warn ("the cluster has %d shards (fixed when it was created); the config's "
                             "shards = %d is ignored", self->cluster_shards, self->config->shards);
                wa_info ("schema at version %d, %d shard(s)", wa_schema_version, self->cluster_shards);
                s_submit_primary_work (self);
            }
            break;
        case JOB_MONITOR: {
            monitor_job_t *m = &self->monitor_job;
            for (int i = 0; i < m->promotions; i++) {
                promotion_t *p = &m->promoted[i];
                self->promotions++;
                wa_node_event (&self->node, "promoted", p->shard, p->epoch, p->node,
                               "coreapp %" PRIu64 " promoted for shard %d (was %" PRIu64 "): %s",
                               p->node, p->shard, p->previous, p->reason);
            }
            if (m->unserved)
                wa_warn ("%d shard(s) need a primary Coreapp and no healthy secondary is available",
                         m->unserved);
            break;
        }
        default:
            break;
    }
}

static void
s_job_done_cb (wa_job_t *job, void *arg)
{
    s_job_done ((master_t *) arg, job);
}

static int
s_on_db (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    master_t *self = arg;
    wa_job_t *job = wa_dbworker_recv (self->node.db);
    if (job)
        s_job_done (self, job);
    return 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    if (self->node.fatal)
        return -1;              //  ends the reactor; shutdown releases the lease
    s_acting (self);
    if (!self->bootstrapped) {
        self->bootstrap_job.job.run = master_bootstrap_run;
        wa_dbworker_submit (self->node.db, &self->bootstrap_job.job);
    }
    else
    if (!self->node.id)
        wa_node_register (&self->node, 1);
    else
    if (!self->lease_job.job.busy) {
        lease_job_t *job = &self->lease_job;
        job->node = self->node.id;
        job->known_epoch = self->primary ? self->lease.epoch : 0;
        job->ttl = self->lease.ttl;
        job->job.run = master_lease_run;
        wa_dbworker_submit (self->node.db, &job->job);
    }
    wa_node_flush_events (&self->node);
    return 0;
}

static int
s_on_liveness (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    wa_node_liveness (&self->node, "n/a", false);
    return 0;
}

static int
s_on_health (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    master_t *self = arg;
    wa_node_on_health (&self->node);
    return 0;
}

static int
s_on_control (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    master_t *self = arg;
    char stats[256];
    snprintf (stats, sizeof stats,
              "{\"node\":%" PRIu64 ",\"kind\":\"master\",\"role\":\"%s\",\"epoch\":%" PRIu64
              ",\"promotions\":%" PRIu64 "}",
              self->node.id, self->node.role, self->node.epoch, self->promotions);
    wa_node_on_control (&self->node, stats);
    return 0;
}

static void
s_shutdown (master_t *self)
{
    if (s_acting (self)) {
        //  Hand the lease back so a secondary takes over at once, not after ttl.
        release_job_t *job = &self->release_job;
        job->node = self->node.id;
        job->epoch = self->lease.epoch;
        job->job.kind = JOB_RELEASE;
        job->job.run = master_release_run;
        //  Jobs queued before it run first; the worker keeps their order.
        int timeout = 2 * (self->config->db_statement_timeout * 1000 + 500);
        if (wa_node_run_sync (&self->node, &job->job, timeout) == 0 && job->job.rc == 0)
            wa_node_event (&self->node, "lease_released", -1, self->lease.epoch, self->node.id,
                           "master %" PRIu64 " stopped and released the lease", self->node.id);
        else
            wa_warn ("could not release the master lease; it lapses within lease_ttl");
        self->primary = false;
    }
    if (self->node.id) {
        wa_node_flush_events (&self->node);
        wa_node_liveness (&self->node, "n/a", true);
        //  Wait for the liveness job (and any event write) to land.
        wa_node_wait_jobs (&self->node, NULL, self->config->db_statement_timeout * 1000 + 500,
                           s_job_done_cb, self);
    }
}

int
master_run (const wa_config_t *config)
{
    master_t *self = (master_t *) zmalloc (sizeof (master_t));
    self->config = config;
    self->deadline_timer = -1;
    wa_lease_init (&self->lease, WA_SEC (config->lease_ttl), WA_SEC (config->lease_margin));
    self->bootstrap_job.job.kind = JOB_BOOTSTRAP;
    self->lease_job.job.kind = JOB_LEASE;
    self->migrate_job.job.kind = JOB_MIGRATE;
    self->monitor_job.job.kind = JOB_MONITOR;
    if (wa_node_start (&self->node, config, "master")) {
        wa_node_stop (&self->node);
        free (self);
        return 1;
    }
    s_set_role (self, "secondary_master");
    wa_info ("ready: bus %d, control %d, health %d; database %s:%d/%s", self->node.ports[1],
             self->node.ports[2], self->node.ports[3], config->db_hostname, config->db_port, config->db_name);

    self->loop = zloop_new ();
    zloop_reader (self->loop, (zsock_t *) self->node.db, s_on_db, self);
    zloop_reader (self->loop, self->node.health, s_on_health, self);
    zloop_reader (self->loop, self->node.control, s_on_control, self);
    size_t tick_ms = (size_t) (config->lease_renew_interval * 1000);
    zloop_timer (self->loop, tick_ms ? tick_ms : 1, 0, s_on_tick, self);
    size_t live_ms = (size_t) (config->db_liveness_interval * 1000);
    zloop_timer (self->loop, live_ms ? live_ms : 1, 0, s_on_liveness, self);
    s_on_tick (self->loop, 0, self);
    zloop_start (self->loop);
    wa_info ("stopping");
    s_shutdown (self);
    int rc = self->node.fatal ? 1 : 0;
    zloop_destroy (&self->loop);
    wa_node_stop (&self->node);
    free (self);
    return rc;
}
