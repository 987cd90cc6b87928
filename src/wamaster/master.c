/*  master — see master.h.

    All state lives on the reactor thread; the database work runs on the
    node's DB worker and comes back as finished jobs. The master acts as
    primary only while wa_lease_valid says so, and the deadline is re-checked
    by a one-shot timer, so a Master whose renewals hang steps down on time
    even though its DB worker is stuck.

    Heartbeats go out on the bus from their own timer and replies are taken
    from the control socket as they come: neither ever waits on the database.
    The verdict of the seed's rule (watch.h) makes the primary run the same
    fenced compare-and-set promotion as DB-based monitoring. */
#include "wa_errors.h"
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_reactor.h"
#include "wa_migrations.h"
#include "wa_node.h"
#include "wa_notify.h"
#include "wa_peers.h"
#include "wa_settings.h"
#include "api.h"
#include "gc.h"
#include "master.h"
#include "master_jobs.h"
#include "switchover.h"
#include "watch.h"

typedef struct {
    const wa_config_t *config;  //  as started; the DB worker reads it
    wa_config_t settings;       //  the live cluster settings
    wa_node_t node;
    wa_loop_t *loop;
    wa_lease_t lease;
    bool primary;
    bool bootstrapped;
    bool migrated;
    bool seeded;
    int cluster_shards;
    uint64_t lease_holder;      //  the holder the database named last
    uint64_t heartbeat_seq;
    uint64_t settings_seq;
    uint64_t promotions;
    watch_t watch;
    wa_peers_t peers;
    int nholders;
    uint64_t holders[MASTER_MAX_SHARDS];
    uint64_t epochs[MASTER_MAX_SHARDS];     //  each holder's shard lease epoch
    promote_forced_t forced;    //  holders dead by heartbeats, awaiting replacement
    promote_forced_t upstream_forced;   //  holders cut off from the upstream, idem
    bool monitor_again;
    int reshard_waiting;        //  the old leases a change waited for, as last said
    bool reshard_running;       //  a change of the shard count runs (the last monitor run said):
                                //  no switchover and no rebalancing meanwhile
    wa_usec_t health_written;
    zframe_t *settings_asker;   //  a tool waiting for the broadcast
    bool settings_broadcast;    //  the API stored settings: broadcast once re-read
    api_t *api;                 //  the API port (api.h)
    wa_usec_t limit_logged[MASTER_MAX_SHARDS];
    uint32_t paused_logged;     //  shards told "not replaced: paused" in this episode
    //  Maintenance mode as the last monitor run read it (none read yet
    //  since this Master took the lease: no rebalancing), and whether the
    //  rebalancing it held back was told in this pause.
    bool pause_known;
    bool paused;
    char paused_by[65];
    char pause_reason[256];
    bool rebalance_paused_logged;
    wa_clockwatch_t clock;      //  the database's clock against ours
    //  The jobs, NULL while the worker has them.
    bootstrap_job_t *bootstrap_job;
    lease_job_t *lease_job;
    migrate_job_t *migrate_job;
    monitor_job_t *monitor_job;
    health_job_t *health_job;
    wa_masters_job_t *masters_job;
    wa_settings_seed_job_t *seed_job;
    keys_job_t *keys_job;
    gc_job_t *gc_job;
    //  Retention (gc.h): the pass's bookkeeping, and the wait between
    //  two of its batches (-1: none armed).
    gc_t gc;
    int gc_timer;
    bool gc_forced;             //  the pass under way was asked for (PUT /v1/services/message/gc)
    bool gc_pending;            //  asked for while the last pass's record was being written
    //  Which key speaks for which Coreapp (node_keys), listed again when a
    //  reply names one not in the list, at most every KEYS_AGAIN.
    int nkeys;
    node_key_t keys[MASTER_MAX_NODES];
    wa_usec_t keys_asked;
    wa_reactor_t reactor;       //  the settings' timers and reads (wa_reactor)
    switchovers_t switchovers;  //  planned switchovers under way (switchover.h)
    int switchover_timer;       //  their deadlines, while any (-1: none)
    //  No rebalancing before this: the last promotion or switchover has
    //  settled (its holder logged in, the heartbeat view caught up).
    wa_usec_t rebalance_after;
} master_t;

#define KEYS_AGAIN (100 * 1000)

static int s_on_tick (wa_loop_t *loop, int timer_id, void *arg);
static int s_on_liveness (wa_loop_t *loop, int timer_id, void *arg);
static void s_switchovers_end (master_t *self, const char *why);
static void s_switchover_moved (master_t *self, switchover_t *sw, uint64_t new_epoch, json_t *detail);
static void s_rebalance_later (master_t *self, wa_usec_t now);
static void s_switchover_start (master_t *self, int shard, uint64_t from, uint64_t epoch, uint64_t to,
                                zframe_t *asker, const char *by, wa_usec_t wait);
static int s_on_heartbeat (wa_loop_t *loop, int timer_id, void *arg);
static void s_gc_stop (master_t *self);

static void
s_set_role (master_t *self, const char *role)
{
    self->node.role = role;
    self->node.epoch = self->primary ? self->lease.epoch : 0;
    wa_log_set_prefix ("master %" PRIu64 " %s", self->node.id, role);
    //  For systemctl status, once registered (READY=1 said it before).
    if (self->node.id)
        wa_notify_status ("%s, node %" PRIu64, role, self->node.id);
}

static void
s_step_down (master_t *self, const char *why)
{
    if (!self->primary)
        return;
    self->primary = false;
    self->migrated = false;
    self->seeded = false;
    self->forced.count = 0;
    self->upstream_forced.count = 0;
    self->pause_known = false;
    s_gc_stop (self);
    s_switchovers_end (self, "the Master lost its lease");
    wa_warn ("stepping down as primary Master (epoch %" PRIu64 "): %s", self->lease.epoch, why);
    uint64_t epoch = self->lease.epoch;
    wa_lease_lost (&self->lease);
    s_set_role (self, "secondary_master");
    //  Only on the bus: a Master that lost its lease writes nothing more.
    wa_node_publish (&self->node, "lease_lost", -1, epoch, self->node.id, "master %" PRIu64
                     " stepped down: %s", self->node.id, why);
}

static bool
s_acting (master_t *self)
{
    if (self->primary && !wa_lease_valid (&self->lease, wa_clock_mono ()))
        s_step_down (self, "lease deadline passed without a successful renewal");
    return self->primary;
}

static void
s_deadline_passed (void *arg)
{
    s_acting ((master_t *) arg);
}

//  After a settings change (wa_reactor: the timers whose period changed are
//  re-armed already).
static void
s_settings_applied (void *arg, const wa_config_t *was, const char *changed, const char *source)
{
    (void) was;
    master_t *self = arg;
    //  A held lease keeps the deadline it was granted; new renewals use the new ttl.
    self->lease.ttl = WA_SEC (self->settings.lease_ttl);
    self->lease.margin = WA_SEC (self->settings.lease_margin);
    wa_node_publish (&self->node, "settings_applied", -1, self->node.epoch, self->node.id,
                     "%s (%s)", changed, source);
    //  The timers run from now: a longer renewal period (several timings
    //  changed at once, as an API change or reset can) would leave a lease
    //  granted under the old ttl to run out before the next renewal. Renew
    //  at once, under the new ttl (s_lease_done: again if one was under way).
    s_on_tick (self->loop, 0, self);
}

static void
s_broadcast_settings (master_t *self)
{
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_SETTINGS);
    msg.epoch = self->lease.epoch;
    msg.seq = ++self->settings_seq;
    char json[2048];
    if (wa_settings_to_json (&self->settings, json, sizeof json))
        return;
    wa_msg_set_text (&msg, json);
    wa_codec_send (self->node.bus, NULL, &msg);
    if (self->settings_asker) {
        wa_codec_send (self->node.control, self->settings_asker, &msg);
        zframe_destroy (&self->settings_asker);
    }
}

static void
s_load_settings (master_t *self)
{
    if (self->node.id)
        wa_reactor_load (&self->reactor, self->node.db);
}

//  The API's hooks (api.h).
static bool
s_api_primary (void *arg, api_lease_t *lease)
{
    master_t *self = arg;
    bool primary = s_acting (self);
    lease->node = self->node.id;
    lease->role = self->node.role;
    lease->epoch = self->lease.epoch;
    lease->deadline = self->lease.deadline;
    lease->ready = primary && self->migrated && self->seeded;
    return primary;
}

//  Settings stored through the API: the path of a SETTINGS_CHANGED from
//  wactl, re-read from the table, applied, broadcast.
static void
s_api_stored (void *arg)
{
    master_t *self = arg;
    self->settings_broadcast = true;
    s_load_settings (self);
}

//  After a step of the database's clock: a shard lease and two liveness
//  periods for the verdicts on Coreapps (every holder has renewed and every
//  node claimed liveness under the new clock by then), a master lease for
//  a takeover of the master lease.
static wa_usec_t
s_clock_window (master_t *self, bool monitor)
{
    return monitor ? WA_SEC (self->settings.shard_lease_ttl) + wa_alive_window (self->settings.db_liveness_interval)
                   : WA_SEC (self->settings.lease_ttl);
}

static bool
s_clock_suspect (master_t *self, bool monitor)
{
    return wa_clockwatch_recent (&self->clock, wa_clock_mono (), s_clock_window (self, monitor));
}

//  A reading of the database's clock came back with a job. A step is said
//  once, with its size; for a while after it the jobs judge nothing by that
//  clock alone (s_clock_window).
static void
s_clock_reading (master_t *self, const wa_clockread_t *reading)
{
    int64_t step = wa_clockwatch_feed_read (&self->clock, reading, WA_SEC (self->settings.lease_margin) / 2);
    if (!step)
        return;
    wa_warn ("the database's clock stepped %s by %.3f s (its NOW(6) against our monotonic clock between two "
             "readings); for %.1f s no Coreapp is replaced on the database's clock alone, for %.1f s no master "
             "lease is taken over", step > 0 ? "forward" : "back", (double) (step > 0 ? step : -step) / 1e6,
             (double) s_clock_window (self, true) / 1e6, (double) s_clock_window (self, false) / 1e6);
}

static void
s_submit_monitor (master_t *self)
{
    monitor_job_t *job = self->monitor_job;
    if (!job) {
        self->monitor_again = true;
        return;
    }
    self->monitor_again = false;
    wa_usec_t now = wa_clock_mono ();
    job->node = self->node.id;
    job->epoch = self->lease.epoch;
    job->deadline = self->lease.deadline;
    job->liveness_limit = wa_alive_window (self->settings.db_liveness_interval);
    job->shard_ttl = WA_SEC (self->settings.shard_lease_ttl);
    job->holdoff = WA_SEC (self->settings.promotion_holdoff);
    promote_policy_t *policy = &job->policy;
    policy->nforce = self->forced.count;
    memcpy (policy->force, self->forced.nodes, sizeof self->forced.nodes[0] * (size_t) self->forced.count);
    snprintf (job->force_reason, sizeof job->force_reason,
              "no heartbeat reply to the primary and a secondary Master for %g s (unhealthy_interval)",
              self->settings.unhealthy_interval);
    policy->force_reason = job->force_reason;
    policy->nupstream = self->upstream_forced.count;
    memcpy (policy->upstream, self->upstream_forced.nodes,
            sizeof self->upstream_forced.nodes[0] * (size_t) self->upstream_forced.count);
    snprintf (job->upstream_reason, sizeof job->upstream_reason,
              "cannot reach the upstream for %g s (upstream_unhealthy_interval)",
              self->settings.upstream_unhealthy_interval);
    policy->upstream_reason = job->upstream_reason;
    policy->nunreachable = 0;
    for (int i = 0; i < self->watch.count && policy->nunreachable < WATCH_NODES; i++)
        if (!self->watch.nodes[i].reachable)
            policy->unreachable[policy->nunreachable++] = self->watch.nodes[i].node;
    //  A Coreapp that does not answer our heartbeats is no candidate.
    wa_usec_t hb = WA_SEC (self->settings.heartbeat_interval), unhealthy = WA_SEC (self->settings.unhealthy_interval);
    policy->nexclude = 0;
    for (int i = 0; i < self->watch.count && policy->nexclude < WATCH_NODES; i++)
        if (watch_state (&self->watch, self->watch.nodes[i].node, now, hb, unhealthy) == WATCH_UNHEALTHY)
            policy->exclude[policy->nexclude++] = self->watch.nodes[i].node;
    //  The rate limit is the job's: it counts the failovers in the database.
    job->failover_window = WA_SEC (self->settings.failover_window);
    job->failover_limit = self->settings.failover_limit;
    job->clock = self->clock;
    job->clock_threshold = WA_SEC (self->settings.lease_margin) / 2;
    policy->clock_suspect = s_clock_suspect (self, true);
    WA_JOB_SUBMIT (self->node.db, self->monitor_job);
}

//  A change of the shard count was started: the monitor takes it on now.
static void
s_api_reshard (void *arg)
{
    master_t *self = arg;
    if (!s_acting (self))
        return;
    //  On the bus: every Coreapp renews now and releases its draining rows.
    wa_node_event (&self->node, "reshard_started", -1, self->lease.epoch, 0,
                   "a change of the shard count began: the shard map drains");
    s_submit_monitor (self);
}

static void
s_submit_primary_work (master_t *self)
{
    if (!s_acting (self))
        return;
    if (!self->migrated) {
        migrate_job_t *job = self->migrate_job;
        if (job) {
            job->node = self->node.id;
            job->epoch = self->lease.epoch;
            job->deadline = self->lease.deadline;
            job->shards = self->config->shards;
            WA_JOB_SUBMIT (self->node.db, self->migrate_job);
        }
        return;
    }
    if (!self->seeded && self->seed_job) {
        self->seed_job->seed = *self->config;
        WA_JOB_SUBMIT (self->node.db, self->seed_job);
    }
    s_submit_monitor (self);
}

static void
s_lease_result (master_t *self)
{
    lease_job_t *job = self->lease_job;
    if (job->job.rc == 1) {
        bool takeover = !self->primary || job->epoch != self->lease.epoch;
        self->lease_holder = self->node.id;
        wa_lease_granted (&self->lease, job->job.sent_at, job->ttl, job->epoch);
        if (!wa_lease_valid (&self->lease, wa_clock_mono ())) {
            //  The answer came too late to act on; the next renewal will tell.
            s_step_down (self, "lease renewal answered after its deadline");
            return;
        }
        if (takeover) {
            self->primary = true;
            self->forced.count = 0;
            self->upstream_forced.count = 0;
            self->pause_known = false;
            //  Replies to us from before count; nodes we never heard from
            //  get a full unhealthy_interval from now.
            watch_rebase (&self->watch, wa_clock_mono ());
            s_rebalance_later (self, wa_clock_mono ());
            s_set_role (self, "primary_master");
            if (job->previous_holder && job->previous_holder != self->node.id)
                wa_node_event (&self->node, "lease_lost", -1, job->epoch - 1, job->previous_holder,
                               "master %" PRIu64 " lost the lease: expired, taken over by %" PRIu64,
                               job->previous_holder, self->node.id);
            wa_node_event (&self->node, "lease_acquired", -1, job->epoch, self->node.id,
                           "master %" PRIu64 " holds the master lease (previous holder %" PRIu64 ")",
                           self->node.id, job->previous_holder);
        }
        wa_reactor_deadline (&self->reactor, wa_lease_remaining (&self->lease, wa_clock_mono ()), s_deadline_passed);
        s_submit_primary_work (self);
    }
    else
    if (job->job.rc == 0) {
        self->lease_holder = job->holder;
        if (self->primary)
            s_step_down (self, "the database names another holder");
        else
            wa_debug ("lease held by %" PRIu64 " (epoch %" PRIu64 ")", job->holder, job->epoch);
    }
    //  rc -1: the renewal failed; the deadline timer decides.
}

static void
s_lease_done (master_t *self)
{
    lease_job_t *job = self->lease_job;
    s_clock_reading (self, &job->reading);
    if (job->took_over_blocked)
        wa_debug ("the master lease looked free right after a step of the database's clock: not taken");
    //  Read before acting: the tick hands the job over again.
    int rc = job->job.rc;
    wa_usec_t ttl = job->ttl;
    s_lease_result (self);
    //  Granted for a ttl the settings no longer have: renew under the new one now.
    if (rc == 1 && ttl != WA_SEC (self->settings.lease_ttl))
        s_on_tick (self->loop, 0, self);
}

//  What a monitor run did to a change of the shard count (reshard.h).
static void
s_reshard_done (master_t *self, const reshard_step_t *r)
{
    if (r->put_in_force)
        wa_node_event (&self->node, "layout_changed", -1, r->layout, r->change_id,
                       "%d shards in force (was %d; layout %" PRIu64 "): %" PRId64 " pending message(s) and %"
                       PRId64 " callback(s) moved to their new shards", r->to, r->from, r->layout,
                       r->moved_messages, r->moved_callbacks);
    if (r->done)
        wa_node_event (&self->node, "reshard_done", -1, r->layout, r->change_id,
                       "every one of the %d shards has a primary Coreapp: the change is over", r->to);
    //  Said once per change and count of old leases left.
    if (r->running && !r->put_in_force && r->waiting && r->waiting != self->reshard_waiting)
        wa_info ("shard count change %" PRIu64 ": waiting for %d lease(s) of the old layout to end",
                 r->change_id, r->waiting);
    self->reshard_waiting = r->running ? r->waiting : 0;
    self->reshard_running = r->running;
}

//  Rebalancing (switchover_rebalance) waits until what just moved has
//  settled: three heartbeats, so that the view has every Coreapp's replies
//  since (a Coreapp just started has answered, the new holder says what it
//  holds).
static void
s_rebalance_later (master_t *self, wa_usec_t now)
{
    self->rebalance_after = now + 3 * WA_SEC (self->settings.heartbeat_interval);
}

static void
s_monitor_done (master_t *self)
{
    monitor_job_t *m = self->monitor_job;
    wa_usec_t now = wa_clock_mono ();
    s_clock_reading (self, &m->reading);
    if (m->clock_ignored)
        wa_debug ("monitor: a verdict by the database's clock set aside (a step of it was seen lately)");
    if (m->job.rc == 0) {
        self->nholders = m->shards;
        memcpy (self->holders, m->holders, sizeof m->holders[0] * (size_t) m->shards);
        memcpy (self->epochs, m->epochs, sizeof m->epochs[0] * (size_t) m->shards);
        //  Track every live Coreapp, so one that never answers counts as silent.
        watch_forget_others (&self->watch, m->coreapps, m->ncoreapps);
        bool unlisted = false;
        for (int i = 0; i < m->ncoreapps; i++) {
            watch_track (&self->watch, m->coreapps[i], now);
            bool listed = false;
            for (int k = 0; k < self->nkeys && !listed; k++)
                listed = self->keys[k].node == m->coreapps[i] && *self->keys[k].key;
            unlisted |= !listed;
        }
        //  A Coreapp new to us: its key, before its first frame needs it.
        if (unlisted && wa_trust_secure (self->node.trust) && self->keys_job
        &&  now - self->keys_asked >= KEYS_AGAIN) {
            self->keys_asked = now;
            WA_JOB_SUBMIT (self->node.db, self->keys_job);
        }
        //  A forced replacement is done once its node holds no shard.
        promote_forced_done (&self->forced, m->holders, m->shards);
        promote_forced_done (&self->upstream_forced, m->holders, m->shards);
        self->pause_known = true;
        self->paused = m->cluster_paused;
        snprintf (self->paused_by, sizeof self->paused_by, "%s", m->paused_by);
        snprintf (self->pause_reason, sizeof self->pause_reason, "%s", m->pause_reason);
        if (!self->paused)
            self->rebalance_paused_logged = false;
    }
    //  A handover whose HANDED_OVER we missed (dropped while the holder's
    //  key was not listed here yet) is in the shard map all the same.
    for (int s = 0; s < m->shards && m->job.rc == 0; s++) {
        switchover_t *sw = &self->switchovers.pending[s];
        if (sw->phase == SWITCHOVER_ASKED && m->holders[s] == sw->to && m->epochs[s] > sw->epoch) {
            wa_info ("switchover of shard %d: the shard map names coreapp %" PRIu64 " at epoch %" PRIu64
                     " (its old primary's answer did not reach us)", s, sw->to, m->epochs[s]);
            s_switchover_moved (self, sw, m->epochs[s], NULL);
        }
    }
    s_reshard_done (self, &m->reshard);
    if (m->promotions)
        s_rebalance_later (self, now);
    for (int i = 0; i < m->promotions; i++) {
        promotion_t *p = &m->promoted[i];
        self->promotions++;
        wa_node_event (&self->node, "promoted", p->shard, p->epoch, p->node,
                       "coreapp %" PRIu64 " promoted for shard %d (was %" PRIu64 "): %s",
                       p->node, p->shard, p->previous, p->reason);
    }
    for (int s = 0; s < MASTER_MAX_SHARDS; s++)
        if ((m->limited & (1u << s))
        &&  (self->limit_logged[s] == 0 || now - self->limit_logged[s] > WA_SEC (self->settings.failover_window))) {
            self->limit_logged[s] = now;
            wa_node_event (&self->node, "failover_rate_limited", s, self->lease.epoch, 0,
                           "shard %d needs a new primary but had %d failovers within %g s; waiting", s,
                           self->settings.failover_limit, self->settings.failover_window);
        }
    //  Paused: what the monitor would have done, once per shard for as long
    //  as the shard goes on needing it (a run that did not need it ends that).
    uint32_t paused = 0;
    for (int i = 0; i < m->npaused; i++) {
        promotion_t *p = &m->paused[i];
        paused |= 1u << p->shard;
        if (!(self->paused_logged & (1u << p->shard)))
            wa_node_event (&self->node, "failover_paused", p->shard, self->lease.epoch, p->previous,
                           "paused: shard %d would be replaced (%s); no failover until 'wactl resume' "
                           "(paused by %s%s%s)", p->shard, p->reason, m->paused_by, *m->pause_reason ? ": " : "",
                           m->pause_reason);
    }
    self->paused_logged = m->job.rc == 0 ? paused : self->paused_logged | paused;
    if (m->unserved)
        wa_warn ("%d shard(s) need a primary Coreapp and no healthy secondary is available", m->unserved);
    if (self->monitor_again && s_acting (self))
        s_submit_monitor (self);
}

//  --------------------------------------------------------------------------
//  Retention (gc.h): a pass every gc_interval, one batch per job, a wait
//  between batches; only while primary.

static int s_on_gc_gap (wa_loop_t *loop, int timer_id, void *arg);

//  Each table's retention now, in microseconds (0: kept).
static void
s_gc_keep (master_t *self, int64_t keep[GC_TABLES])
{
    keep[GC_OUTBOX] = WA_SEC (self->settings.retention_outbox_days * 86400);
    keep[GC_CALLBACKS] = WA_SEC (self->settings.retention_callbacks_days * 86400);
    keep[GC_EVENTS] = WA_SEC (self->settings.retention_events_days * 86400);
    //  What PUT /v1/messages/{id} needs of an inbound message, as long as a
    //  delivered callback would be kept without pass_through.
    keep[GC_INBOUND] = keep[GC_CALLBACKS];
    //  pass_through keeps no history: a sent message's row only for as long
    //  as a Webapp may retry it (its idempotency record), a delivered
    //  callback as long.
    if (self->settings.pass_through) {
        int64_t window = WA_SEC (self->settings.request_deadline) + 1;
        for (int t = GC_OUTBOX; t <= GC_CALLBACKS; t++)
            if (keep[t] <= 0 || keep[t] > window)
                keep[t] = window;
    }
}

//  Whether retention passes run by themselves (PUT /v1/services/message/gc
//  runs one whatever this says).
static bool
s_gc_enabled (master_t *self)
{
    return self->settings.db_garbagecollector_enable || self->settings.pass_through;
}

//  No longer primary: a pass under way is dropped (a batch the worker has
//  comes back to a pass that is no more, and is not acted on).
static void
s_gc_stop (master_t *self)
{
    if (self->gc_timer >= 0) {
        wa_loop_timer_end (self->loop, self->gc_timer);
        self->gc_timer = -1;
    }
    if (self->gc.running)
        wa_info ("retention: the pass under way is dropped (%" PRId64 " rows deleted by it)",
                 gc_pass_deleted (&self->gc));
    gc_abandon (&self->gc);
    self->gc_forced = self->gc_pending = false;
    api_gc_ended (self->api, NULL, false, "the Master lost its lease during the retention pass");
}

//  A pass that ended: in the log (info when it deleted anything) and on
//  the bus, and its record for gc_state.
static void
s_gc_ended (master_t *self)
{
    gc_t *gc = &self->gc;
    int64_t deleted = gc_pass_deleted (gc);
    wa_log (*gc->error ? WA_LOG_WARN : deleted ? WA_LOG_INFO : WA_LOG_DEBUG,
            "retention: pass deleted %" PRId64 " outbox rows, %" PRId64 " callbacks, %" PRId64 " events, "
            "%" PRId64 " inbound ids in %d batch(es), %.3f s%s%s%s", gc->walk[GC_OUTBOX].deleted,
            gc->walk[GC_CALLBACKS].deleted, gc->walk[GC_EVENTS].deleted, gc->walk[GC_INBOUND].deleted, gc->batches, (double) gc->last_took / 1e6,
            gc_more (gc) ? "; more left for the next pass" : "", *gc->error ? "; ended by an error: " : "",
            gc->error);
    if (deleted)
        wa_node_publish (&self->node, "retention", -1, self->lease.epoch, self->node.id,
                         "deleted outbox %" PRId64 " callbacks %" PRId64 " events %" PRId64 " inbound_ids %" PRId64
                         " in %.3f s", gc->walk[GC_OUTBOX].deleted, gc->walk[GC_CALLBACKS].deleted,
                         gc->walk[GC_EVENTS].deleted, gc->walk[GC_INBOUND].deleted, (double) gc->last_took / 1e6);
}

//  Hand the pass's next batch to the worker, or, once there is none, its
//  record; nothing while the worker has the job (its return calls again).
static void
s_gc_next (master_t *self)
{
    gc_job_t *job = self->gc_job;
    if (!self->gc.running || !job)
        return;
    if (!s_acting (self)) {
        gc_abandon (&self->gc);
        return;
    }
    int64_t keep[GC_TABLES];
    s_gc_keep (self, keep);
    //  Turned off meanwhile: the pass ends with what it did.
    int table = s_gc_enabled (self) || self->gc_forced ? gc_next (&self->gc, keep) : -1;
    job->node = self->node.id;
    job->epoch = self->lease.epoch;
    job->deadline = self->lease.deadline;
    if (table >= 0) {
        job->op = GC_JOB_BATCH;
        job->table = table;
        job->after = gc_cursor (&self->gc, table);
        job->limit = self->settings.gc_batch_size;
        job->keep = keep[table];
        WA_JOB_SUBMIT (self->node.db, self->gc_job);
        return;
    }
    gc_finish (&self->gc, wa_clock_mono ());
    s_gc_ended (self);
    //  api_gc_ended takes the tables in gc.h's order.
    _Static_assert (GC_TABLES == 4, "api_gc_ended answers four tables");
    int64_t deleted[GC_TABLES];
    for (int t = 0; t < GC_TABLES; t++)
        deleted[t] = self->gc.walk[t].deleted;
    self->gc_forced = false;
    api_gc_ended (self->api, deleted, gc_more (&self->gc), self->gc.error);
    job->op = GC_JOB_STATE;
    for (int t = 0; t < GC_TABLES; t++)
        job->pass_deleted[t] = self->gc.walk[t].deleted;
    job->pass_batches = self->gc.batches;
    job->pass_took = self->gc.last_took;
    snprintf (job->error, sizeof job->error, "%s", self->gc.error);
    WA_JOB_SUBMIT (self->node.db, self->gc_job);
}

static void
s_gc_done (master_t *self)
{
    gc_job_t *job = self->gc_job;
    if (job->op == GC_JOB_STATE) {
        if (job->job.rc < 0)
            wa_warn ("retention: the pass could not be recorded in gc_state: %s", job->error);
        if (self->gc_pending && s_acting (self) && gc_start (&self->gc, wa_clock_mono ())) {
            self->gc_pending = false;
            self->gc_forced = true;
            s_gc_next (self);
        }
        return;
    }
    if (!self->gc.running)
        return;                 //  dropped while the batch ran
    if (job->result.rc == 1) {
        s_gc_stop (self);       //  the lease deadline came first
        return;
    }
    gc_batch_done (&self->gc, job->table, job->limit, &job->result, job->took, job->error);
    wa_debug ("retention: %s after %" PRIu64 ": %" PRId64 " rows looked at, %" PRId64 " deleted, %.3f s",
              gc_table_name (job->table), job->after, job->result.examined, job->result.deleted,
              (double) job->took / 1e6);
    //  The worker's other jobs (the lease renewals) run in between, and the
    //  wait as long as the batch leaves the database half its time at least.
    wa_timer_once (self->loop, &self->gc_timer, gc_gap (job->took), s_on_gc_gap, self);
}

static int
s_on_gc_gap (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    self->gc_timer = -1;
    s_gc_next (self);
    return 0;
}

static int
s_on_gc (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    if (!s_gc_enabled (self) || !s_acting (self) || !self->migrated)
        return 0;
    //  The last pass, or its record, may still be under way: then not now.
    if (self->gc_job && gc_start (&self->gc, wa_clock_mono ()))
        s_gc_next (self);
    return 0;
}

//  PUT /v1/services/message/gc, through the API (api.h's gc hook): a pass
//  now, whether or not passes run by themselves, or the one under way.
static int
s_api_gc (void *arg)
{
    master_t *self = arg;
    if (!s_acting (self) || !self->migrated)
        return -1;
    if (self->gc.running)
        return 0;
    if (self->gc_job && gc_start (&self->gc, wa_clock_mono ())) {
        self->gc_forced = true;
        s_gc_next (self);
    }
    else
        self->gc_pending = true;        //  the last pass's record is at the worker
    return 0;
}

//  A job of the Master's own is back: into its slot. False for any other.
static bool
s_job_back (master_t *self, wa_job_t *job)
{
    switch (job->kind) {
        case JOB_BOOTSTRAP: self->bootstrap_job = (bootstrap_job_t *) job; return true;
        case JOB_LEASE: self->lease_job = (lease_job_t *) job; return true;
        case JOB_MIGRATE: self->migrate_job = (migrate_job_t *) job; return true;
        case JOB_MONITOR: self->monitor_job = (monitor_job_t *) job; return true;
        case JOB_HEALTH: self->health_job = (health_job_t *) job; return true;
        case JOB_SEED: self->seed_job = (wa_settings_seed_job_t *) job; return true;
        case JOB_KEYS: self->keys_job = (keys_job_t *) job; return true;
        case JOB_GC: self->gc_job = (gc_job_t *) job; return true;
        case WA_JOB_MASTERS: self->masters_job = (wa_masters_job_t *) job; return true;
        default: return false;
    }
}

static void
s_job_done (master_t *self, wa_job_t *job)
{
    if (api_job_done (self->api, job))
        return;
    //  Read before handling: a handler may hand the job over again.
    int kind = job->kind;
    if (wa_node_job_done (&self->node, job)) {
        if (kind == WA_JOB_REGISTER && self->node.id) {
            s_set_role (self, self->node.role);
            s_load_settings (self);
        }
        return;
    }
    if (kind == WA_JOB_SETTINGS) {
        //  Read again: broadcast what the next read finds, not this older one.
        if (wa_reactor_job_done (&self->reactor, job, self->node.db) == 2)
            return;
        if ((self->settings_asker || self->settings_broadcast) && s_acting (self))
            s_broadcast_settings (self);
        self->settings_broadcast = false;
        //  The broadcast answered a tool that asked; else it learns why not.
        if (self->settings_asker) {
            wa_msg_t reply;
            wa_msg_init (&reply, WA_MSG_ERROR);
            reply.code = WA_ERR_NOT_PRIMARY_MASTER;
            wa_msg_set_text (&reply, wa_error_title (WA_ERR_NOT_PRIMARY_MASTER));
            wa_codec_send (self->node.control, self->settings_asker, &reply);
            zframe_destroy (&self->settings_asker);
        }
        return;
    }
    if (!s_job_back (self, job)) {
        wa_job_destroy (&job);
        return;
    }
    switch (kind) {
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
                self->cluster_shards = self->migrate_job->cluster_shards;
                if (self->cluster_shards != self->config->shards)
                    wa_info ("the cluster has %d shards; the config's shards = %d counts only when a "
                             "cluster is created (POST /v1/account/shards changes the count)",
                             self->cluster_shards, self->config->shards);
                wa_info ("schema at version %d, %d shard(s)", wa_schema_version, self->cluster_shards);
                s_submit_primary_work (self);
            }
            break;
        case JOB_SEED:
            if (job->rc == 0) {
                self->seeded = true;
                s_load_settings (self);
            }
            break;
        case JOB_MONITOR:
            s_monitor_done (self);
            break;
        case JOB_GC:
            s_gc_done (self);
            break;
        case JOB_KEYS:
            if (job->rc == 0) {
                self->nkeys = self->keys_job->count;
                memcpy (self->keys, self->keys_job->keys, sizeof self->keys[0] * (size_t) self->nkeys);
            }
            break;
        case WA_JOB_MASTERS:
            if (job->rc == 0)
                wa_peers_set (&self->peers, self->masters_job->masters, self->masters_job->count,
                              self->node.id, NULL, NULL, NULL);
            break;
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
s_on_db (wa_loop_t *loop, zsock_t *reader, void *arg)
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
s_on_tick (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    if (self->node.fatal)
        return -1;              //  ends the reactor; shutdown releases the lease
    s_acting (self);
    if (!self->bootstrapped) {
        if (self->bootstrap_job)
            WA_JOB_SUBMIT (self->node.db, self->bootstrap_job);
    }
    else
    if (!self->node.id)
        wa_node_register (&self->node, 1);
    else {
        if (self->lease_job) {
            lease_job_t *job = self->lease_job;
            job->node = self->node.id;
            job->known_epoch = self->primary ? self->lease.epoch : 0;
            job->ttl = WA_SEC (self->settings.lease_ttl);
            job->clock = self->clock;
            job->clock_threshold = WA_SEC (self->settings.lease_margin) / 2;
            job->clock_suspect = s_clock_suspect (self, false);
            WA_JOB_SUBMIT (self->node.db, self->lease_job);
        }
        wa_masters_job_submit (&self->masters_job, self->node.db, self->settings.db_liveness_interval);
        wa_node_store_key (&self->node, "n/a");
    }
    wa_node_flush_events (&self->node);
    return 0;
}

static int
s_on_liveness (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    wa_node_liveness (&self->node, "n/a", false);
    //  A broadcast we missed is in the database.
    s_load_settings (self);
    return 0;
}

//  What the heartbeat rule decided of a holder, in the log.
static void
s_forced_note (void *arg, uint64_t node, int shard, bool added)
{
    master_t *self = arg;
    if (!added) {
        wa_info ("coreapp %" PRIu64 " answers again: no longer replacing it", node);
        return;
    }
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t hb = WA_SEC (self->settings.heartbeat_interval);
    wa_usec_t unhealthy = WA_SEC (self->settings.unhealthy_interval);
    int observers = 0;
    int votes = watch_votes (&self->watch, node, now, hb, unhealthy, &observers);
    wa_warn ("primary coreapp %" PRIu64 " of shard %d is unhealthy: no reply to us for %.3f s, "
             "nor to %d of %d secondary Masters; %s", node, shard,
             (double) watch_age (&self->watch, node, now) / 1e6, votes, observers,
             self->paused ? "it would be replaced, but the cluster is paused" : "replacing it");
}

static void
s_upstream_note (void *arg, uint64_t node, int shard, bool added)
{
    master_t *self = arg;
    if (!added)
        wa_info ("coreapp %" PRIu64 " reaches the upstream again: no longer replacing it", node);
    else
        wa_warn ("primary coreapp %" PRIu64 " of shard %d has not reached the upstream for %.3f s "
                 "(upstream_unhealthy_interval %g s) and a healthy secondary does: %s", node, shard,
                 (double) watch_upstream_lost (&self->watch, node, wa_clock_mono ()) / 1e6,
                 self->settings.upstream_unhealthy_interval,
                 self->paused ? "it would be replaced, but the cluster is paused" : "replacing it");
}

//  The primaries spread unevenly (a Coreapp that started after another took
//  every shard, or came back after a failover): one planned switchover at
//  a time evens them out (switchover_rebalance), never while a holder is
//  being replaced, and only once the last move has settled. It moves a
//  primary nobody asked to move: not while the cluster is paused (said
//  once per pause), nor before this Master has read whether it is.
static void
s_rebalance (master_t *self, wa_usec_t now)
{
    wa_usec_t hb = WA_SEC (self->settings.heartbeat_interval), unhealthy = WA_SEC (self->settings.unhealthy_interval);
    int shard = -1;
    uint64_t from = 0, epoch = 0, to = 0;
    if (!s_acting (self) || !self->migrated || !self->pause_known || now < self->rebalance_after
    ||  self->reshard_running || self->forced.count || self->upstream_forced.count
    ||  switchover_rebalance (&self->switchovers, &self->watch, self->holders, self->epochs, self->nholders, now,
                              hb, unhealthy, &shard, &from, &epoch, &to))
        return;
    if (self->paused) {
        if (!self->rebalance_paused_logged)
            wa_node_event (&self->node, "rebalance_paused", shard, self->lease.epoch, from,
                           "paused: shard %d would be moved from coreapp %" PRIu64 " to coreapp %" PRIu64
                           " to even out the primaries; no rebalancing until 'wactl resume' (paused by %s%s%s)",
                           shard, from, to, self->paused_by, *self->pause_reason ? ": " : "", self->pause_reason);
        self->rebalance_paused_logged = true;
        return;
    }
    s_rebalance_later (self, now);
    //  The handover's own bounds (drain, logout) and the new holder's login.
    wa_usec_t wait = WA_SEC (self->settings.shard_lease_ttl + self->settings.upstream_idle_timeout) + 5 * WA_USEC_PER_SEC;
    s_switchover_start (self, shard, from, epoch, to, NULL, "rebalance", wait);
}

//  The primary's view: staged liveness of each Coreapp, the seed's rule
//  for each shard holder (promote.c), and (at most twice a second) the view
//  in the database for wactl.
static void
s_judge (master_t *self, wa_usec_t now)
{
    wa_usec_t hb = WA_SEC (self->settings.heartbeat_interval);
    wa_usec_t unhealthy = WA_SEC (self->settings.unhealthy_interval);
    bool changed = false;
    for (int i = 0; i < self->watch.count; i++) {
        watch_node_t *n = &self->watch.nodes[i];
        watch_state_t state = watch_state (&self->watch, n->node, now, hb, unhealthy);
        if (state != n->reported) {
            int observers = 0;
            int votes = watch_votes (&self->watch, n->node, now, hb, unhealthy, &observers);
            char since[64];
            if (n->last)
                snprintf (since, sizeof since, "last reply %.3f s ago",
                          (double) watch_age (&self->watch, n->node, now) / 1e6);
            else
                snprintf (since, sizeof since, "no reply in the %.3f s we have been watching",
                          (double) watch_age (&self->watch, n->node, now) / 1e6);
            wa_log (state == WATCH_HEALTHY ? WA_LOG_INFO : WA_LOG_WARN,
                    "coreapp %" PRIu64 " is %s (%s; unhealthy for %d of %d secondary Masters)",
                    n->node, watch_state_name (state), since, votes, observers);
            wa_node_publish (&self->node, "liveness", -1, self->lease.epoch, n->node, "%s %.3f",
                             watch_state_name (state), (double) watch_age (&self->watch, n->node, now) / 1e6);
            n->reported = state;
            changed = true;
        }
    }
    if (promote_forced_judge (&self->forced, &self->watch, self->holders, self->nholders, now, hb, unhealthy,
                              s_forced_note, self))
        s_submit_monitor (self);
    if (promote_upstream_judge (&self->upstream_forced, &self->watch, self->holders, self->nholders, now, hb,
                                unhealthy, WA_SEC (self->settings.upstream_unhealthy_interval), s_upstream_note,
                                self))
        s_submit_monitor (self);
    s_rebalance (self, now);
    if ((changed || now - self->health_written > 500 * 1000) && self->health_job) {
        health_job_t *job = self->health_job;
        job->count = 0;
        for (int i = 0; i < self->watch.count && job->count < MASTER_MAX_NODES; i++) {
            uint64_t node = self->watch.nodes[i].node;
            health_row_t *r = &job->rows[job->count++];
            r->node = node;
            snprintf (r->state, sizeof r->state, "%s",
                      watch_state_name (watch_state (&self->watch, node, now, hb, unhealthy)));
            r->age_ms = watch_age (&self->watch, node, now) / 1000;
            r->votes = watch_votes (&self->watch, node, now, hb, unhealthy, &r->observers);
        }
        WA_JOB_SUBMIT (self->node.db, self->health_job);
        self->health_written = now;
    }
}

static int
s_on_heartbeat (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    if (!self->node.id)
        return 0;
    wa_usec_t now = wa_clock_mono ();
    bool primary = s_acting (self);
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_HEARTBEAT);
    msg.node = self->node.id;
    msg.epoch = primary ? self->lease.epoch : 0;
    msg.seq = ++self->heartbeat_seq;
    wa_msg_set_text (&msg, self->node.role);
    wa_codec_send (self->node.bus, NULL, &msg);
    if (primary)
        s_judge (self, now);
    else
    if (self->lease_holder && self->lease_holder != self->node.id) {
        wa_msg_t report;
        wa_msg_init (&report, WA_MSG_REPORT);
        report.node = self->node.id;
        char text[WA_TEXT_MAX];
        if (watch_report_text (&self->watch, now, text, sizeof text) == 0) {
            wa_msg_set_text (&report, text);
            wa_peers_send (&self->peers, self->lease_holder, &report);
        }
    }
    return 0;
}

static int
s_on_health (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    master_t *self = arg;
    wa_node_on_health (&self->node);
    return 0;
}

static void
s_reply_error (master_t *self, zframe_t *peer, uint32_t code, const char *text)
{
    wa_msg_t reply;
    wa_msg_init (&reply, WA_MSG_ERROR);
    reply.code = code;
    wa_msg_set_text (&reply, text);
    wa_codec_send (self->node.control, peer, &reply);
}

//  A heartbeat reply or a report speaks for the node it names, and only
//  that node's own key may send it: a stolen Coreapp key must not keep
//  another Coreapp alive in our view, nor a Master's key vote for another
//  Master. A reply from a Coreapp we have not listed yet is dropped while
//  we list them again (the next heartbeat's gets through). Without CURVE
//  there are no keys to check.
static bool
s_own_key (master_t *self, const wa_msg_t *msg)
{
    if (!wa_trust_secure (self->node.trust))
        return true;
    const char *key = NULL;
    if (msg->type == WA_MSG_REPORT) {
        wa_peer_t *peer = wa_peers_find (&self->peers, msg->node);
        key = peer ? peer->key : NULL;
    }
    else
        for (int i = 0; i < self->nkeys && !key; i++)
            if (self->keys[i].node == msg->node)
                key = self->keys[i].key;
    if (key && *key && streq (key, msg->sender_key))
        return true;
    if (key && *key) {
        char why[160];
        snprintf (why, sizeof why, "it speaks for %s %" PRIu64 ", whose key is another",
                  msg->type == WA_MSG_REPORT ? "master" : "coreapp", msg->node);
        wa_trust_refuse (self->node.trust, msg, "control", why);
    }
    else
    if (msg->type != WA_MSG_REPORT && self->keys_job && wa_clock_mono () - self->keys_asked >= KEYS_AGAIN) {
        //  Said once per listing: a frame the Master cannot judge yet.
        wa_debug ("%s from coreapp %" PRIu64 ": its key is not known here yet (node_keys, %s); "
                 "listing the Coreapps' keys again", wa_codec_type_name (msg->type), msg->node,
                 key ? "empty" : "no row");
        self->keys_asked = wa_clock_mono ();
        WA_JOB_SUBMIT (self->node.db, self->keys_job);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Planned switchovers (switchover.h): wactl's request, the holder's
//  HANDED_OVER, the new holder's reply, the deadlines.

static int s_on_switchover_timer (wa_loop_t *loop, int timer_id, void *arg);

//  Answer wactl (code 0: SWITCHOVER_OK with detail; else ERROR code text)
//  and forget the switchover.
static void
s_switchover_answer (master_t *self, switchover_t *sw, uint32_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_switchover_answer (master_t *self, switchover_t *sw, uint32_t code, const char *fmt, ...)
{
    char text[400];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    if (code == 0) {
        wa_usec_t now = wa_clock_mono ();
        json_t *detail = json_pack ("{s:i, s:I, s:I, s:I, s:f, s:f, s:O*}", "shard", sw->shard,
                                    "from", (json_int_t) sw->from, "to", (json_int_t) sw->to,
                                    "epoch", (json_int_t) sw->new_epoch,
                                    "total_ms", (double) (now - sw->started) / 1e3,
                                    "session_ms", (double) (now - sw->handed_at) / 1e3, "handover", sw->detail);
        char *json = json_dumps (detail, JSON_COMPACT);
        json_decref (detail);
        wa_msg_t *reply = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
        assert (reply);
        wa_msg_init (reply, WA_MSG_SWITCHOVER_OK);
        reply->shard = (uint32_t) sw->shard;
        reply->node = sw->to;
        reply->epoch = sw->new_epoch;
        wa_msg_set_text (reply, json ? json : "{}");
        if (sw->asker)
            wa_codec_send (self->node.control, sw->asker, reply);
        free (reply);
        free (json);
        wa_info ("switchover of shard %d done: %s", sw->shard, text);
    }
    else {
        if (sw->asker)
            s_reply_error (self, sw->asker, code, text);
        wa_warn ("switchover of shard %d: %s", sw->shard, text);
    }
    zframe_destroy (&sw->asker);
    json_decref (sw->detail);
    sw->detail = NULL;
    sw->phase = SWITCHOVER_NONE;
    s_rebalance_later (self, wa_clock_mono ());
    if (!switchovers_any (&self->switchovers) && self->switchover_timer >= 0) {
        wa_loop_timer_end (self->loop, self->switchover_timer);
        self->switchover_timer = -1;
    }
}

static void
s_switchovers_end (master_t *self, const char *why)
{
    for (int s = 0; s < WA_SHARDS_MAX; s++)
        if (self->switchovers.pending[s].phase != SWITCHOVER_NONE)
            s_switchover_answer (self, &self->switchovers.pending[s], 503, "%s", why);
}

//  Ask from, the holder of shard at epoch, to hand it over to to (asker:
//  wactl's routing id for the answer, NULL for our own rebalancing; by:
//  who asked), and wait at most wait for it to be done.
static void
s_switchover_start (master_t *self, int shard, uint64_t from, uint64_t epoch, uint64_t to, zframe_t *asker,
                    const char *by, wa_usec_t wait)
{
    wa_usec_t now = wa_clock_mono ();
    switchover_t *sw = &self->switchovers.pending[shard];
    memset (sw, 0, sizeof *sw);
    sw->phase = SWITCHOVER_ASKED;
    sw->shard = shard;
    sw->from = from;
    sw->epoch = epoch;
    sw->to = to;
    sw->asker = asker ? zframe_dup (asker) : NULL;
    sw->started = now;
    sw->deadline = now + wait;
    snprintf (sw->by, sizeof sw->by, "%s", by);
    wa_msg_t *handover = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (handover);
    wa_msg_init (handover, WA_MSG_HANDOVER);
    handover->shard = (uint32_t) shard;
    handover->node = from;
    handover->epoch = epoch;
    handover->seq = to;
    char text[120];
    snprintf (text, sizeof text, "{\"master\":%" PRIu64 ",\"master_epoch\":%" PRIu64 "}", self->node.id,
              self->lease.epoch);
    wa_msg_set_text (handover, text);
    wa_codec_send (self->node.bus, NULL, handover);
    free (handover);
    wa_node_event (&self->node, "switchover", sw->shard, epoch, to,
                   "%s asked to move shard %d from coreapp %" PRIu64 " (epoch %" PRIu64 ") to coreapp %" PRIu64,
                   sw->by, sw->shard, from, epoch, to);
    if (self->switchover_timer < 0)
        self->switchover_timer = wa_loop_timer (self->loop, 50, 0, s_on_switchover_timer, self);
}

static void
s_switchover_request (master_t *self, zframe_t *peer, const wa_msg_t *msg)
{
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t hb = WA_SEC (self->settings.heartbeat_interval), unhealthy = WA_SEC (self->settings.unhealthy_interval);
    uint64_t from = 0, epoch = 0, to = 0;
    char why[300];
    int rc;
    if (!s_acting (self) || !self->migrated) {
        s_reply_error (self, peer, WA_ERR_NOT_PRIMARY_MASTER, wa_error_title (WA_ERR_NOT_PRIMARY_MASTER));
        return;
    }
    if (msg->code < 100 || msg->code > 3600 * 1000) {
        s_reply_error (self, peer, 400, "the wait must be 0.1 to 3600 s");
        return;
    }
    //  The shard map is being replaced: its rows move by the change.
    if (self->reshard_running) {
        s_reply_error (self, peer, 409, "a change of the shard count runs (GET /v1/account/shards): "
                       "switch over once it is over");
        return;
    }
    if ((rc = switchover_choose (&self->switchovers, &self->watch, self->holders, self->epochs, self->nholders,
                                 (int) msg->shard, msg->node, now, hb, unhealthy, &from, &epoch, &to, why,
                                 sizeof why))) {
        s_reply_error (self, peer, (uint32_t) rc, why);
        return;
    }
    const char *name = wa_trust_sender_name (self->node.trust, msg);
    char by[80];
    snprintf (by, sizeof by, "wactl%s%.60s", *name ? ":" : "", name);
    s_switchover_start (self, (int) msg->shard, from, epoch, to, peer, by, (wa_usec_t) msg->code * 1000);
}

//  The holder's answer: the row moved to the new holder, or why not.
static void
s_switchover_handed (master_t *self, const wa_msg_t *msg)
{
    if (msg->shard >= WA_SHARDS_MAX)
        return;
    switchover_t *sw = &self->switchovers.pending[msg->shard];
    if (sw->phase != SWITCHOVER_ASKED || sw->from != msg->node || sw->to != msg->seq) {
        wa_debug ("HANDED_OVER from coreapp %" PRIu64 " for shard %" PRIu32 " matches no switchover", msg->node,
                  msg->shard);
        return;
    }
    json_error_t error;
    json_t *detail = json_loads (msg->text, JSON_REJECT_DUPLICATES, &error);
    if (msg->code) {
        const char *why = json_string_value (json_object_get (detail, "why"));
        s_switchover_answer (self, sw, msg->code, "coreapp %" PRIu64 " did not hand shard %d over: %s",
                             sw->from, sw->shard, why ? why : "(no reason given)");
        json_decref (detail);
        return;
    }
    if (!json_is_object (detail)) {
        json_decref (detail);
        detail = NULL;
    }
    s_switchover_moved (self, sw, msg->epoch, detail);
}

//  The row names the new holder at new_epoch (detail: the old holder's
//  account, NULL when we did not hear it; taken).
static void
s_switchover_moved (master_t *self, switchover_t *sw, uint64_t new_epoch, json_t *detail)
{
    sw->phase = SWITCHOVER_HANDED;
    sw->new_epoch = new_epoch;
    sw->handed_at = wa_clock_mono ();
    sw->detail = detail;
    self->promotions++;
    if (sw->shard < self->nholders) {
        self->holders[sw->shard] = sw->to;
        self->epochs[sw->shard] = sw->new_epoch;
    }
    wa_node_event (&self->node, "promoted", sw->shard, sw->new_epoch, sw->to,
                   "coreapp %" PRIu64 " promoted for shard %d (was %" PRIu64 "): switchover asked by %s",
                   sw->to, sw->shard, sw->from, sw->by);
    s_submit_monitor (self);
}

//  A heartbeat reply: is it the new holder, holding, its session open?
static void
s_switchover_seen (master_t *self, const wa_msg_t *msg)
{
    if (msg->shard >= WA_SHARDS_MAX)
        return;
    switchover_t *sw = &self->switchovers.pending[msg->shard];
    if (sw->phase == SWITCHOVER_HANDED && msg->node == sw->to && msg->epoch == sw->new_epoch && (msg->code & 1))
        s_switchover_answer (self, sw, 0, "coreapp %" PRIu64 " holds shard %d at epoch %" PRIu64
                             " with its session open, %.1f ms after the request", sw->to, sw->shard, sw->new_epoch,
                             (double) (wa_clock_mono () - sw->started) / 1e3);
}

static int
s_on_switchover_timer (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    master_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    if (!s_acting (self))
        return 0;
    for (int s = 0; s < WA_SHARDS_MAX; s++) {
        switchover_t *sw = &self->switchovers.pending[s];
        if (sw->phase == SWITCHOVER_NONE || now < sw->deadline)
            continue;
        double waited = (double) (now - sw->started) / 1e6;
        if (sw->phase == SWITCHOVER_ASKED)
            s_switchover_answer (self, sw, 504, "coreapp %" PRIu64 " did not answer the handover of shard %d "
                                 "within %.1f s; it keeps the shard unless it answers later (wactl status)",
                                 sw->from, s, waited);
        else
            s_switchover_answer (self, sw, 504, "shard %d was handed over to coreapp %" PRIu64 " (epoch %" PRIu64
                                 "), but its upstream session was not open within %.1f s", s, sw->to,
                                 sw->new_epoch, waited);
    }
    return 0;
}

static int
s_on_control (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    master_t *self = arg;
    zframe_t *peer = NULL;
    wa_msg_t msg;
    int why = 0;
    int rc = wa_codec_recv (self->node.control, &peer, &msg, &why);
    if (rc == -1 || !peer)
        return 0;
    wa_usec_t now = wa_clock_mono ();
    if (rc == -2)
        s_reply_error (self, peer, 400, wa_codec_strerror (why));
    else
    //  What each role may send here, by the key it connected with:
    //  heartbeat replies from Coreapps, reports from Masters, a settings
    //  change from wactl; stats to every trusted key.
    if (!wa_trust_allow (self->node.trust, &msg,
                         msg.type == WA_MSG_HB_REPLY || msg.type == WA_MSG_HANDED_OVER ? WA_ROLE_COREAPP
                       : msg.type == WA_MSG_REPORT ? WA_ROLE_MASTER
                       : msg.type == WA_MSG_SETTINGS_CHANGED || msg.type == WA_MSG_SWITCHOVER ? WA_ROLE_WACTL
                       : WA_ROLE_ANY, "control")) {
        if (msg.type != WA_MSG_HB_REPLY && msg.type != WA_MSG_REPORT && msg.type != WA_MSG_HANDED_OVER)
            s_reply_error (self, peer, 403, "forbidden: this key may not send that to a Master");
    }
    else
    switch (msg.type) {
        case WA_MSG_HB_REPLY:
            if (msg.node == 0 || !s_own_key (self, &msg))
                break;
            watch_reply (&self->watch, msg.node, msg.shard, msg.epoch, streq (msg.text, "primary_coreapp"),
                         msg.code, now);
            s_switchover_seen (self, &msg);
            //  Republished for taps; replies never wait for anything.
            wa_codec_send (self->node.bus, NULL, &msg);
            break;
        case WA_MSG_SWITCHOVER:
            s_switchover_request (self, peer, &msg);
            break;
        case WA_MSG_HANDED_OVER:
            if (msg.node && s_own_key (self, &msg))
                s_switchover_handed (self, &msg);
            break;
        case WA_MSG_REPORT:
            if (s_acting (self) && s_own_key (self, &msg) && watch_report (&self->watch, msg.node, msg.text, now))
                wa_warn ("malformed report from master %" PRIu64 ": ignored", msg.node);
            break;
        case WA_MSG_SETTINGS_CHANGED:
            if (!s_acting (self))
                s_reply_error (self, peer, WA_ERR_NOT_PRIMARY_MASTER, wa_error_title (WA_ERR_NOT_PRIMARY_MASTER));
            else {
                zframe_destroy (&self->settings_asker);
                self->settings_asker = zframe_dup (peer);
                s_load_settings (self);
            }
            break;
        case WA_MSG_STATS_REQ: {
            json_t *stats = json_pack ("{s:I, s:s, s:s, s:I, s:I, s:I, s:i, s:o, s:o}",
                                       "node", (json_int_t) self->node.id, "kind", "master",
                                       "role", self->node.role, "epoch", (json_int_t) self->node.epoch,
                                       "promotions", (json_int_t) self->promotions,
                                       "heartbeats", (json_int_t) self->heartbeat_seq, "watched", self->watch.count,
                                       "gc", gc_stats_json (&self->gc, self->settings.db_garbagecollector_enable,
                                                            now),
                                       "db", wa_dbworker_stats_json ());
            wa_node_send_stats (&self->node, peer, stats);
            json_decref (stats);
            break;
        }
        default:
            s_reply_error (self, peer, 400, "unsupported request on a Master's control port");
            break;
    }
    zframe_destroy (&peer);
    return 0;
}

//  Other Masters' buses: the primary's settings broadcasts.
static int
s_on_peers (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    master_t *self = arg;
    wa_msg_t msg;
    int why = 0;
    if (wa_codec_recv (reader, NULL, &msg, &why) || msg.type != WA_MSG_SETTINGS)
        return 0;
    wa_reactor_broadcast (&self->reactor, msg.text, self->node.db);
    return 0;
}

//  While releasing the lease: a job that comes back goes back to its slot
//  without being acted on (the node's own are, as always; the settings
//  read is destroyed).
static void
s_job_ignored (wa_job_t *job, void *arg)
{
    master_t *self = arg;
    if (!api_job_back (self->api, job) && !wa_node_job_done (&self->node, job) && !s_job_back (self, job))
        wa_job_destroy (&job);
}

static void
s_shutdown (master_t *self)
{
    //  Requests waiting for their turn go to the next primary; a retention
    //  pass ends here (a batch the worker has runs before the release).
    api_stop (self->api, false);
    s_gc_stop (self);
    s_switchovers_end (self, "the Master is stopping");
    if (s_acting (self)) {
        //  Hand the lease back so a secondary takes over at once, not after ttl.
        release_job_t *job = WA_JOB_NEW (release_job_t, JOB_RELEASE, master_release_run, NULL);
        job->node = self->node.id;
        job->epoch = self->lease.epoch;
        //  Jobs queued before it run first; the worker keeps their order.
        //  What comes back meanwhile goes back to its slot, not acted on.
        int timeout = 2 * (self->config->db_statement_timeout * 1000 + 500);
        wa_job_t *back = wa_node_run_sync (&self->node, &job->job, timeout, s_job_ignored, self);
        if (back && back->rc == 0)
            wa_node_event (&self->node, "lease_released", -1, self->lease.epoch, self->node.id,
                           "master %" PRIu64 " stopped and released the lease", self->node.id);
        else
            wa_warn ("could not release the master lease; it lapses within lease_ttl");
        wa_job_destroy (&back);
        self->primary = false;
    }
    wa_node_finish (&self->node, "n/a", self->config->db_statement_timeout * 1000 + 500, s_job_done_cb, self);
    //  One still unanswered (its job late, or taken back while releasing).
    api_stop (self->api, true);
}

//  Once the node's worker is gone (a job it still had is destroyed there).
static void
s_destroy (master_t **self_p)
{
    master_t *self = *self_p;
    WA_JOB_DESTROY (self->bootstrap_job);
    WA_JOB_DESTROY (self->lease_job);
    WA_JOB_DESTROY (self->migrate_job);
    WA_JOB_DESTROY (self->monitor_job);
    WA_JOB_DESTROY (self->health_job);
    WA_JOB_DESTROY (self->masters_job);
    WA_JOB_DESTROY (self->seed_job);
    WA_JOB_DESTROY (self->keys_job);
    WA_JOB_DESTROY (self->gc_job);
    wa_reactor_destroy (&self->reactor);
    free (self);
    *self_p = NULL;
}

int
master_run (const wa_config_t *config)
{
    master_t *self = (master_t *) zmalloc (sizeof (master_t));
    self->config = config;
    self->settings = *config;
    wa_lease_init (&self->lease, WA_SEC (config->lease_ttl), WA_SEC (config->lease_margin));
    self->bootstrap_job = WA_JOB_NEW (bootstrap_job_t, JOB_BOOTSTRAP, master_bootstrap_run, NULL);
    self->lease_job = WA_JOB_NEW (lease_job_t, JOB_LEASE, master_lease_run, NULL);
    self->migrate_job = WA_JOB_NEW (migrate_job_t, JOB_MIGRATE, master_migrate_run, NULL);
    self->monitor_job = WA_JOB_NEW (monitor_job_t, JOB_MONITOR, master_monitor_run, NULL);
    self->health_job = WA_JOB_NEW (health_job_t, JOB_HEALTH, master_health_run, NULL);
    self->masters_job = wa_masters_job_new ();
    self->seed_job = WA_JOB_NEW (wa_settings_seed_job_t, JOB_SEED, wa_settings_seed_run, NULL);
    self->keys_job = WA_JOB_NEW (keys_job_t, JOB_KEYS, master_keys_run, NULL);
    self->gc_job = WA_JOB_NEW (gc_job_t, JOB_GC, gc_job_run, NULL);
    gc_init (&self->gc);
    self->gc_timer = -1;
    self->switchover_timer = -1;
    watch_init (&self->watch, wa_clock_mono ());
    if (wa_node_start (&self->node, config, "master")) {
        wa_node_stop (&self->node);
        wa_peers_destroy (&self->peers, NULL);
        s_destroy (&self);
        return 1;
    }
    s_set_role (self, "secondary_master");
    wa_info ("ready: bus %d, control %d, health %d; database %s:%d/%s", self->node.ports[1],
             self->node.ports[2], self->node.ports[3], config->db_hostname, config->db_port, config->db_name);
    wa_notify_ready ("secondary_master: bus %d, control %d, health %d", self->node.ports[1],
                     self->node.ports[2], self->node.ports[3]);

    self->loop = wa_loop_new ();
    wa_notify_watchdog_start (self->loop);
    wa_peers_init (&self->peers, self->node.trust, self->loop, s_on_peers, NULL, self);
    wa_loop_reader (self->loop, wa_dbworker_sock (self->node.db), s_on_db, self);
    wa_loop_reader (self->loop, self->node.health, s_on_health, self);
    wa_loop_reader (self->loop, self->node.control, s_on_control, self);
    wa_node_watch (&self->node, self->loop);
    api_hooks_t hooks = { .arg = self, .primary = s_api_primary, .stored = s_api_stored, .gc = s_api_gc,
                          .reshard = s_api_reshard };
    self->api = api_new (self->loop, self->node.api, self->node.trust, self->node.db, &self->settings, &hooks);
    wa_reactor_init (&self->reactor, self->loop, &self->settings, self, s_settings_applied);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, lease_renew_interval), s_on_tick);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, db_liveness_interval), s_on_liveness);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, heartbeat_interval), s_on_heartbeat);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, gc_interval), s_on_gc);
    s_on_tick (self->loop, 0, self);
    wa_loop_start (self->loop);
    wa_info ("stopping");
    wa_notify_stopping ();
    s_shutdown (self);
    int rc = self->node.fatal ? 1 : 0;
    zframe_destroy (&self->settings_asker);
    switchovers_destroy (&self->switchovers);
    wa_peers_destroy (&self->peers, self->loop);
    wa_loop_destroy (&self->loop);
    wa_node_stop (&self->node);
    api_destroy (&self->api);
    s_destroy (&self);
    return rc;
}
