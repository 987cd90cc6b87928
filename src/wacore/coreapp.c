/*  coreapp — see coreapp.h.

    The rule this file exists to keep: the upstream session is open only
    while wa_lease_valid (&self->lease) holds. Every path that sends upstream
    checks it first, and a one-shot timer closes the session at the lease
    deadline, so a Coreapp whose database is slow or gone drops the session
    before its lease can expire in the database. A new holder opens its
    session only once the database says the previous lease ended more than
    the gateway's idle timeout ago. */
#include <stdarg.h>
#include <sodium.h>
#include "wa_errors.h"
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_reactor.h"
#include "wa_migrations.h"
#include "wa_node.h"
#include "wa_notify.h"
#include "wa_peers.h"
#include "wa_settings.h"
#include "coreapp.h"
#include "core_jobs.h"
#include "session.h"
#include "outbox.h"
#include "callbacks.h"
#include "contacts.h"
#include "identity.h"
#include "reads.h"
#include "handover.h"
#include "wa_message.h"

typedef struct {
    const wa_config_t *config;  //  as started; the DB worker reads it
    wa_config_t settings;       //  the live cluster settings
    wa_node_t node;
    wa_peers_t peers;           //  the Masters: their heartbeats, our replies
    uint64_t heartbeats;
    wa_masters_job_t *masters_job;  //  NULL while the worker has it (as shard_job)
    wa_reactor_t reactor;       //  the settings' timers and reads (wa_reactor)
    zloop_t *loop;
    wa_lease_t lease;           //  the shard lease as we know it
    int shard;                  //  -1 while secondary
    int shards;                 //  the count in force, as our last renewal read it (0: unknown)
    session_t session;
    wa_usec_t login_at;         //  no login before this (database says)
    wa_usec_t login_floor;      //  nor before this (our own clock, after a step of the database's)
    wa_clockwatch_t clock;      //  the database's clock against ours
    int login_timer;
    shard_job_t *shard_job;
    uint64_t sessions_opened;
    const char *gateway;        //  "connected", "disconnected" or "unregistered"
    outbox_t *outbox;           //  the messages of the shard we hold
    callbacks_t *callbacks;     //  its statuses and inbound messages, to the webhook
    contacts_t *contacts;       //  contact checks, asked upstream and cached
    reads_t *reads;             //  read receipts waiting for the upstream
    identity_t *identity;       //  contacts' identities asked upstream
    wa_usec_t relogin_at;       //  unregistered: no login before this
    int outbox_timer;
    wa_msg_t msg;               //  the message being handled (large)
    wa_msg_t reply;
    uint64_t api_requests;
    uint64_t api_refused;       //  bad frames or requests
    //  Whether the gateway can be reached, session or not: a connection
    //  that sends nothing, kept alive by ZMTP heartbeats; the Masters hear
    //  it with every heartbeat reply (upstream_unhealthy_interval).
    zsock_t *probe;
    wa_relink_t *probe_watch;
    bool reachable;
    handover_t handover;        //  a planned switchover (handover.h)
    int handover_timer;         //  its steps, while one is under way (-1: none)
} coreapp_t;

static void s_try_login (coreapp_t *self);
static void s_on_session_message (coreapp_t *self);
static void s_unregistered (coreapp_t *self);
static void s_handover_end (coreapp_t *self, uint32_t code, const char *why);
static void s_reply_masters (coreapp_t *self, uint64_t master, uint64_t seq);

static void
s_set_role (coreapp_t *self)
{
    self->node.role = self->shard >= 0 ? "primary_coreapp" : "secondary_coreapp";
    self->node.epoch = self->shard >= 0 ? self->lease.epoch : 0;
    wa_log_set_prefix ("coreapp %" PRIu64 " %s", self->node.id, self->node.role);
    //  For systemctl status, once registered (READY=1 said it before).
    if (self->node.id && self->shard >= 0)
        wa_notify_status ("primary_coreapp, node %" PRIu64 ", shard %d", self->node.id, self->shard);
    else
    if (self->node.id)
        wa_notify_status ("secondary_coreapp, node %" PRIu64, self->node.id);
}

static void
s_set_gateway (coreapp_t *self, const char *status)
{
    if (streq (self->gateway, status))
        return;
    self->gateway = status;
    wa_node_liveness (&self->node, status, false);
}

static void
s_close_session (coreapp_t *self, const char *why, bool confirmed_gone)
{
    if (self->session.state == SESSION_CLOSED)
        return;
    bool was_open = self->session.state == SESSION_OPEN || self->session.state == SESSION_CLOSING;
    uint64_t id = self->session.id;
    //  The reactor must forget the socket before it is destroyed.
    zloop_reader_end (self->loop, self->session.sock);
    session_close (&self->session, wa_clock_mono (), confirmed_gone);
    handover_closed (&self->handover, wa_clock_mono (), confirmed_gone);
    outbox_session (self->outbox, false);
    callbacks_session (self->callbacks, 0);
    contacts_session_closed (self->contacts);
    reads_session_closed (self->reads);
    identity_session_closed (self->identity);
    if (was_open)
        wa_node_event (&self->node, "session_closed", (int) self->session.shard, self->session.epoch,
                       self->node.id, "upstream session %" PRIu64 " closed: %s", id, why);
    else
        wa_info ("upstream login abandoned: %s", why);
    s_set_gateway (self, "disconnected");
}

static void
s_demote (coreapp_t *self, const char *why)
{
    if (self->shard < 0)
        return;
    if (handover_abort (&self->handover))
        s_handover_end (self, 409, why);
    s_close_session (self, why, false);
    int shard = self->shard;
    uint64_t epoch = self->lease.epoch;
    wa_lease_lost (&self->lease);
    self->shard = -1;
    self->login_floor = 0;
    outbox_hold (self->outbox, -1, self->node.id, 0);
    callbacks_hold (self->callbacks, -1, self->node.id, 0);
    contacts_demoted (self->contacts);
    reads_demoted (self->reads);
    identity_demoted (self->identity);
    if (self->login_timer >= 0)
        zloop_timer_end (self->loop, self->login_timer);
    self->login_timer = -1;
    s_set_role (self);
    s_reply_masters (self, 0, 0);
    wa_node_event (&self->node, "demoted", shard, epoch, self->node.id,
                   "coreapp %" PRIu64 " is no longer primary for shard %d: %s", self->node.id, shard, why);
}

//  True while we hold the shard lease by our own clock; closes everything
//  the moment it is not.
static bool
s_holding (coreapp_t *self)
{
    if (self->shard >= 0 && !wa_lease_valid (&self->lease, wa_clock_mono ()))
        s_demote (self, "shard lease deadline passed without a successful renewal");
    return self->shard >= 0;
}

static void
s_deadline_passed (void *arg)
{
    s_holding ((coreapp_t *) arg);
}

static int
s_on_login_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    self->login_timer = -1;
    s_try_login (self);
    return 0;
}

static int
s_on_session (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    //  Drain what is there (acknowledgements come in thousands), within
    //  bounds so timers get their turn.
    for (int i = 0; i < 1000 && self->session.sock && (zsock_events (self->session.sock) & ZMQ_POLLIN); i++)
        s_on_session_message (self);
    return 0;
}

static void
s_on_session_message (coreapp_t *self)
{
    session_event_t event = session_on_message (&self->session, wa_clock_mono (), &self->msg);
    switch (event) {
        case SESSION_EV_OPENED:
            if (!s_holding (self)) {
                s_close_session (self, "lease lost during login", false);
                break;
            }
            self->sessions_opened++;
            s_set_gateway (self, "connected");
            outbox_session (self->outbox, true);
            callbacks_session (self->callbacks, self->session.id);
            wa_node_event (&self->node, "session_opened", self->shard, self->lease.epoch, self->node.id,
                           "upstream session %" PRIu64 " opened for account %s shard %d",
                           self->session.id, self->config->account, self->shard);
            //  Every Master hears it now, not at its next heartbeat: a
            //  switchover waits for this.
            s_reply_masters (self, 0, 0);
            break;
        case SESSION_EV_REFUSED:
            wa_error ("upstream refused our login: %s", self->session.last_reason);
            s_close_session (self, "login refused", true);
            s_demote (self, "upstream refused our epoch as stale (a newer primary exists)");
            break;
        case SESSION_EV_GONE:
            wa_warn ("upstream closed the session: %s", self->session.last_reason);
            s_close_session (self, "closed by upstream", true);
            s_try_login (self);
            break;
        case SESSION_EV_SEND_ACK:
            outbox_on_ack (self->outbox, self->msg.seq, (int) self->msg.code, self->msg.text);
            break;
        case SESSION_EV_QUERY_REPLY:
            outbox_on_query_reply (self->outbox, self->msg.code == 1, self->msg.text);
            break;
        case SESSION_EV_UP_EVENT:
            callbacks_on_event (self->callbacks, self->msg.session, self->msg.seq, self->msg.text,
                                self->msg.text_len);
            break;
        case SESSION_EV_CONTACTS_REPLY:
            if (self->msg.seq & IDENTITY_SEQ_BIT)
                identity_on_reply (self->identity, self->msg.seq, self->msg.text, self->msg.text_len);
            else
                contacts_on_reply (self->contacts, self->msg.seq, self->msg.text, self->msg.text_len);
            break;
        case SESSION_EV_READ_ACK:
            reads_on_ack (self->reads, self->msg.seq, self->msg.code, self->msg.text);
            break;
        case SESSION_EV_UNREGISTERED:
            s_unregistered (self);
            break;
        case SESSION_EV_LOGGED_OUT:
            s_close_session (self, "logged out to hand the shard over", true);
            break;
        case SESSION_EV_NONE:
            break;
    }
}

//  The upstream says the account is not registered: no session was opened,
//  so nothing lingers there. The shard stays ours (nothing is wrong with
//  this Coreapp); the login is tried again every upstream_login_timeout,
//  and succeeds once the account is registered (POST /v1/account/verify).
static void
s_unregistered (coreapp_t *self)
{
    wa_usec_t now = wa_clock_mono ();
    zloop_reader_end (self->loop, self->session.sock);
    session_close (&self->session, now, true);
    if (!streq (self->gateway, "unregistered"))
        wa_node_event (&self->node, "unregistered", self->shard, self->lease.epoch, self->node.id,
                       "the upstream refused the login of shard %d: %s; trying again every %g s",
                       self->shard, self->session.last_reason, self->settings.upstream_login_timeout);
    s_set_gateway (self, "unregistered");
    self->relogin_at = now + WA_SEC (self->settings.upstream_login_timeout);
    s_try_login (self);
}

static void
s_try_login (coreapp_t *self)
{
    //  Not while handing the shard over, nor while a handover's outcome is
    //  unknown (a renewal will tell).
    if (!s_holding (self) || self->session.state != SESSION_CLOSED
    ||  handover_active (&self->handover) || self->handover.unsure)
        return;
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t when = self->login_at > self->session.quiet_until ? self->login_at : self->session.quiet_until;
    if (self->relogin_at > when)
        when = self->relogin_at;
    if (now < when) {
        if (self->login_timer < 0)
            wa_timer_once (self->loop, &self->login_timer, when - now, s_on_login_timer, self);
        return;
    }
    if (session_open (&self->session, self->node.id, (uint32_t) self->shard, (uint32_t) self->config->shards,
                      self->lease.epoch, now))
        return;
    zloop_reader (self->loop, self->session.sock, s_on_session, self);
    wa_info ("logging in upstream for shard %d with epoch %" PRIu64, self->shard, self->lease.epoch);
}

//  The database's clock as the shard job read it. A step is said once, with
//  its size. A new holder's wait before logging in is judged by that clock
//  (the old holder's lease end, prev_expires_at, was written by it): after
//  a step within a shard lease before, the wait also lasts a full shard
//  lease and the idle timeout by our own clock, which bounds the old
//  holder's session whatever the database's clock did (docs/ARCHITECTURE.md,
//  Time steps on the database host).
static void
s_clock_readings (coreapp_t *self, const shard_job_t *job)
{
    for (int i = 0; i < 2; i++) {
        int64_t step = wa_clockwatch_feed_read (&self->clock, &job->readings[i],
                                                WA_SEC (self->settings.lease_margin) / 2);
        if (step)
            wa_warn ("the database's clock stepped %s by %.3f s (its NOW(6) against our monotonic clock "
                     "between two readings)", step > 0 ? "forward" : "back",
                     (double) (step > 0 ? step : -step) / 1e6);
    }
}

static void
s_login_floor (coreapp_t *self, const shard_job_t *job)
{
    wa_usec_t now = wa_clock_mono (), guard = job->ttl + job->idle;
    if (self->session.state != SESSION_CLOSED || self->login_floor > now
    ||  !wa_clockwatch_recent (&self->clock, now, guard))
        return;
    self->login_floor = now + guard;
    wa_warn ("shard %d: the database's clock stepped lately; no login before %.3f s by our own clock "
             "(shard_lease_ttl + upstream_idle_timeout)", job->shard, (double) guard / 1e6);
}

static void
s_shard_done (coreapp_t *self)
{
    shard_job_t *job = self->shard_job;
    s_clock_readings (self, job);
    if (job->job.rc == 1) {
        bool promoted = self->shard < 0;
        self->shards = job->shards;
        wa_lease_granted (&self->lease, job->job.sent_at, job->ttl, job->epoch);
        if (!wa_lease_valid (&self->lease, wa_clock_mono ())) {
            if (!promoted)
                s_demote (self, "shard lease renewal answered after its deadline");
            return;
        }
        if (promoted) {
            self->shard = job->shard;
            outbox_hold (self->outbox, job->shard, self->node.id, job->epoch);
            callbacks_hold (self->callbacks, job->shard, self->node.id, job->epoch);
            s_set_role (self);
            s_reply_masters (self, 0, 0);
            wa_node_event (&self->node, "primary", job->shard, job->epoch, self->node.id,
                           "coreapp %" PRIu64 " holds shard %d; login in %.3f s", self->node.id,
                           job->shard, (double) job->login_wait / 1e6);
        }
        //  The row names us at our epoch after the handover's transaction:
        //  it did not commit.
        if (self->handover.unsure) {
            wa_info ("shard %d: the handover's transaction did not commit (renewed at epoch %" PRIu64 "); serving",
                     self->shard, self->lease.epoch);
            self->handover.unsure = false;
        }
        //  The wait is measured from when the database answered, which is
        //  after it judged it: counting from now only adds margin.
        self->login_at = wa_clock_mono () + job->login_wait;
        s_login_floor (self, job);
        if (self->login_floor > self->login_at)
            self->login_at = self->login_floor;
        wa_reactor_deadline (&self->reactor, wa_lease_remaining (&self->lease, wa_clock_mono ()), s_deadline_passed);
        s_try_login (self);
    }
    else
    if (job->job.rc == 0 && job->holding && self->shard == job->shard)
        s_demote (self, "the shard lease names another holder (taken over)");
}

static int s_on_tick (zloop_t *loop, int timer_id, void *arg);
static int s_on_ping (zloop_t *loop, int timer_id, void *arg);
static int s_on_liveness (zloop_t *loop, int timer_id, void *arg);

//  After a settings change (wa_reactor: the timers whose period changed are
//  re-armed already).
static void
s_settings_applied (void *arg, const wa_config_t *was, const char *changed, const char *source)
{
    (void) was;
    coreapp_t *self = arg;
    //  A held lease keeps the deadline it was granted; renewals use the new ttl.
    self->lease.ttl = WA_SEC (self->settings.shard_lease_ttl);
    self->lease.margin = WA_SEC (self->settings.lease_margin);
    callbacks_settings (self->callbacks);
    wa_node_publish (&self->node, "settings_applied", self->shard, self->node.epoch, self->node.id,
                     "%s (%s)", changed, source);
    //  The timers run from now: with a longer renewal period (several timings
    //  changed at once, as the API allows) a lease granted under the old ttl
    //  could run out before the next renewal. Renew at once, under the new ttl.
    s_on_tick (self->loop, 0, self);
}

static void
s_load_settings (coreapp_t *self)
{
    if (self->node.id)
        wa_reactor_load (&self->reactor, self->node.db);
}

//  Our state, as a heartbeat reply: to master (its heartbeat seq), or to
//  every Master (master 0, seq 0: unasked, when it changed).
static void
s_reply_masters (coreapp_t *self, uint64_t master, uint64_t seq)
{
    bool holding = s_holding (self);
    wa_msg_t reply;
    wa_msg_init (&reply, WA_MSG_HB_REPLY);
    reply.shard = holding ? (uint32_t) self->shard : UINT32_MAX;
    reply.node = self->node.id;
    reply.epoch = holding ? self->lease.epoch : 0;
    reply.seq = seq;
    reply.code = (self->session.state == SESSION_OPEN ? 1u : 0u) | (self->reachable ? 2u : 0u);
    wa_msg_set_text (&reply, self->node.role);
    if (master)
        wa_peers_send (&self->peers, master, &reply);
    else
        for (int i = 0; i < self->peers.count; i++)
            wa_peers_send (&self->peers, self->peers.peers[i].id, &reply);
}

//  --------------------------------------------------------------------------
//  A planned switchover (handover.h): the Master's HANDOVER, the steps on a
//  timer, the transaction, the answer.

static int s_on_handover_timer (zloop_t *loop, int timer_id, void *arg);

//  Tell the Master that asked how the handover ended (code 0: done).
static void
s_handover_answer (coreapp_t *self, uint64_t master, int shard, uint64_t epoch, uint64_t to, uint32_t code,
                   json_t *detail)
{
    wa_msg_t *msg = &self->reply;
    wa_msg_init (msg, WA_MSG_HANDED_OVER);
    msg->shard = (uint32_t) shard;
    msg->node = self->node.id;
    msg->epoch = epoch;
    msg->seq = to;
    msg->code = code;
    char *text = json_dumps (detail, JSON_COMPACT);
    wa_msg_set_text (msg, text ? text : "{}");
    free (text);
    json_decref (detail);
    if (master && wa_peers_send (&self->peers, master, msg))
        wa_warn ("cannot tell master %" PRIu64 " how the handover of shard %d ended", master, shard);
}

//  A handover that did not happen: the shard stays ours.
static void
s_handover_end (coreapp_t *self, uint32_t code, const char *why)
{
    handover_t *h = &self->handover;
    if (self->handover_timer >= 0)
        zloop_timer_end (self->loop, self->handover_timer);
    self->handover_timer = -1;
    wa_warn ("handover of shard %d to coreapp %" PRIu64 " did not happen: %s", h->shard, h->to, why);
    s_handover_answer (self, h->master, h->shard, h->epoch, h->to, code, json_pack ("{s:s}", "why", why));
}

static void
s_handover_step (coreapp_t *self)
{
    handover_t *h = &self->handover;
    if (!handover_active (h) || !s_holding (self))
        return;
    wa_usec_t now = wa_clock_mono ();
    outbox_stats_t o = outbox_stats (self->outbox);
    bool open = self->session.state == SESSION_OPEN;
    bool idle = o.waiting == 0 && !outbox_busy (self->outbox) && (o.depth == 0 || !open);
    switch (handover_step (h, now, idle, open, self->session.state == SESSION_CLOSING)) {
        case HANDOVER_LOGOUT_NOW:
            if (session_logout (&self->session, now))
                s_close_session (self, "handing the shard over (the LOGOUT could not be sent)", false);
            break;
        case HANDOVER_CLOSE:
            s_close_session (self, "handing the shard over (no LOGOUT_OK in time)", false);
            handover_closed (h, now, false);
            s_handover_step (self);
            break;
        case HANDOVER_STORE:
            if (handover_job (h, self->node.id, WA_SEC (self->settings.shard_lease_ttl),
                              WA_SEC (self->settings.lease_margin),
                              wa_alive_window (self->settings.db_liveness_interval)))
                WA_JOB_SUBMIT (self->node.db, h->job);
            break;
        case HANDOVER_WAIT:
            break;
    }
}

static int
s_on_handover_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_handover_step ((coreapp_t *) arg);
    return 0;
}

//  HANDOVER from a Master's bus, naming us.
static void
s_handover_begin (coreapp_t *self, const wa_msg_t *msg)
{
    char why[200];
    uint64_t to = msg->seq;
    s_holding (self);
    if (handover_begin (&self->handover, self->shard, self->lease.epoch, self->node.id, (int) msg->shard,
                        msg->epoch, to, msg->text, wa_clock_mono (), why, sizeof why)) {
        wa_warn ("handover of shard %" PRIu32 " to coreapp %" PRIu64 " refused: %s", msg->shard, to, why);
        json_error_t error;
        json_t *asked = json_loads (msg->text, 0, &error);
        json_int_t master = json_integer_value (json_object_get (asked, "master"));
        json_decref (asked);
        if (master > 0)
            s_handover_answer (self, (uint64_t) master, (int) msg->shard, msg->epoch, to, 409,
                               json_pack ("{s:s}", "why", why));
        return;
    }
    handover_t *h = &self->handover;
    wa_node_event (&self->node, "handover", h->shard, h->epoch, to,
                   "coreapp %" PRIu64 " hands shard %d over to coreapp %" PRIu64 " (asked by master %" PRIu64 ")",
                   self->node.id, h->shard, to, h->master);
    if (self->handover_timer < 0)
        self->handover_timer = zloop_timer (self->loop, 5, 0, s_on_handover_timer, self);
    s_handover_step (self);
}

//  The handover's transaction came back.
static void
s_handover_done (coreapp_t *self, handover_job_t *job)
{
    handover_t *h = &self->handover;
    int rc = job->job.rc;
    uint64_t to = job->to, new_epoch = job->new_epoch;
    int shard = job->shard;
    char why[sizeof job->why];
    snprintf (why, sizeof why, "%s", job->why);
    handover_job_back (h, job);
    if (self->handover_timer >= 0)
        zloop_timer_end (self->loop, self->handover_timer);
    self->handover_timer = -1;
    if (rc != 1) {
        s_handover_end (self, rc == 0 ? 409 : 503, why);
        if (h->unsure)
            wa_warn ("shard %d: no login until a renewal says whether the handover committed", shard);
        s_try_login (self);
        return;
    }
    double total = (double) (wa_clock_mono () - h->started) / 1e3;
    s_demote (self, "handed over");
    wa_node_event (&self->node, "handed_over", shard, new_epoch, to,
                   "coreapp %" PRIu64 " handed shard %d over to coreapp %" PRIu64 " in %.1f ms (drained in %.1f ms, "
                   "%s)", self->node.id, shard, to, total, (double) h->drained_us / 1e3,
                   h->closed ? "the gateway confirmed the logout: the new holder logs in at once"
                             : "the logout was not confirmed: the new holder waits out the old session");
    s_handover_answer (self, h->master, shard, new_epoch, to, 0,
                       json_pack ("{s:b, s:f, s:f, s:f}", "closed", h->closed, "total_ms", total,
                                  "drain_ms", (double) h->drained_us / 1e3, "logout_ms",
                                  (double) h->logout_us / 1e3));
}

//  The probe's connection to the gateway came up, went down or failed again.
static void
s_on_probe (void *arg, const char *event, const char *endpoint)
{
    coreapp_t *self = arg;
    bool reachable = streq (event, "CONNECTED");
    if (reachable == self->reachable)
        return;
    self->reachable = reachable;
    if (reachable)
        wa_info ("the gateway at %s is reachable", endpoint);
    else
        wa_warn ("the gateway at %s is not reachable (%s)", endpoint, event);
    if (self->node.id)
        s_reply_masters (self, 0, 0);
}

static void
s_probe_start (coreapp_t *self)
{
    self->probe = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->probe, 0);
    zsock_set_sndhwm (self->probe, 1);
    zsock_set_heartbeat_ivl (self->probe, (int) (self->settings.upstream_ping_interval * 1000));
    zsock_set_heartbeat_timeout (self->probe, (int) (self->settings.upstream_idle_timeout * 1000));
    zsock_set_reconnect_ivl (self->probe, (int) (self->settings.upstream_ping_interval * 1000));
    zsock_set_reconnect_ivl_max (self->probe, (int) (self->settings.upstream_idle_timeout * 1000));
    zsock_set_connect_timeout (self->probe, (int) (self->settings.upstream_idle_timeout * 1000));
    self->probe_watch = wa_relink_new (self->node.trust, self->probe, self->loop, "the upstream probe",
                                       s_on_probe, self);
    if (zsock_connect (self->probe, "%s", self->config->upstream_endpoint))
        wa_warn ("cannot probe the gateway at %s", self->config->upstream_endpoint);
}

//  Our SUB to the Masters' buses connected, lost or retried a connection.
static void
s_on_masters_socket (void *arg, const char *event, const char *endpoint)
{
    coreapp_t *self = arg;
    wa_node_socket_event (&self->node, "masters", event, endpoint);
}

//  A Master's bus: heartbeats get a reply at once, settings are applied.
static int
s_on_masters (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    coreapp_t *self = arg;
    wa_msg_t msg;
    int why = 0;
    if (wa_codec_recv (reader, NULL, &msg, &why))
        return 0;
    if (msg.type == WA_MSG_HEARTBEAT && self->node.id) {
        self->heartbeats++;
        s_reply_masters (self, msg.node, msg.seq);
    }
    else
    if (msg.type == WA_MSG_SETTINGS)
        wa_reactor_broadcast (&self->reactor, msg.text, self->node.db);
    else
    if (msg.type == WA_MSG_HANDOVER && self->node.id && msg.node == self->node.id)
        s_handover_begin (self, &msg);
    else
    if (msg.type == WA_MSG_EVENT && self->node.id && self->shard < 0) {
        //  Promoted: look at once rather than at the next renewal tick.
        uint64_t subject = 0;
        if (sscanf (msg.text, "promoted %" SCNu64, &subject) == 1 && subject == self->node.id)
            s_on_tick (self->loop, 0, self);
    }
    return 0;
}

static int
s_on_db (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    wa_job_t *job = wa_dbworker_recv (self->node.db);
    if (!job)
        return 0;
    //  Read before handling: a handler may hand the job over again.
    int kind = job->kind;
    int rc = job->rc;
    if (wa_node_job_done (&self->node, job)) {
        if (kind == WA_JOB_REGISTER && self->node.id) {
            s_set_role (self);
            s_load_settings (self);
        }
        return 0;
    }
    if (kind == JOB_SHARD) {
        self->shard_job = (shard_job_t *) job;
        wa_usec_t ttl = self->shard_job->ttl;
        s_shard_done (self);
        //  Granted for a ttl the settings no longer have: renew under the new one now.
        if (rc == 1 && ttl != WA_SEC (self->settings.shard_lease_ttl))
            s_on_tick (self->loop, 0, self);
    }
    else
    if (wa_reactor_job_done (&self->reactor, job, self->node.db))
        ;
    else
    if (kind == JOB_HANDOVER)
        s_handover_done (self, (handover_job_t *) job);
    else
    if (kind == IDENTITY_JOB_KIND)
        identity_job_done (self->identity, job);
    else
    if (kind == WA_JOB_MASTERS) {
        self->masters_job = (wa_masters_job_t *) job;
        if (rc == 0)
            wa_peers_set (&self->peers, self->masters_job->masters, self->masters_job->count, 0,
                          NULL, NULL, NULL);
    }
    else
        wa_job_destroy (&job);
    return 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    if (self->node.fatal)
        return -1;
    if (!self->node.id) {
        wa_node_register (&self->node, wa_schema_version);
        return 0;
    }
    shard_job_t *job = self->shard_job;
    if (job) {
        job->node = self->node.id;
        job->holding = s_holding (self);
        job->shard = self->shard;
        job->epoch = self->lease.epoch;
        job->ttl = WA_SEC (self->settings.shard_lease_ttl);
        job->idle = WA_SEC (self->settings.upstream_idle_timeout);
        WA_JOB_SUBMIT (self->node.db, self->shard_job);
    }
    wa_masters_job_submit (&self->masters_job, self->node.db, self->settings.db_liveness_interval);
    wa_node_flush_events (&self->node);
    return 0;
}

static int
s_on_ping (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    if (!s_holding (self))
        return 0;
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t idle = WA_SEC (self->settings.upstream_idle_timeout);
    if (self->session.state == SESSION_LOGGING_IN
    &&  now - self->session.login_sent_at > WA_SEC (self->settings.upstream_login_timeout)) {
        s_close_session (self, "no answer to login", false);
        s_try_login (self);
    }
    else
    if (self->session.state == SESSION_OPEN && now - self->session.last_pong > idle) {
        s_close_session (self, "no keepalive answer within the idle timeout", false);
        s_try_login (self);
    }
    else
    if (self->session.state == SESSION_OPEN)
        session_ping (&self->session, now);
    return 0;
}

static int
s_on_liveness (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    wa_node_liveness (&self->node, self->gateway, false);
    //  A settings broadcast we missed is in the database.
    s_load_settings (self);
    return 0;
}

static int
s_on_health (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    wa_node_on_health (&self->node);
    return 0;
}

static int
s_on_control (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    outbox_stats_t o = outbox_stats (self->outbox);
    json_t *stats = json_pack ("{s:I, s:s, s:s, s:i, s:I, s:s, s:I, s:I, s:i, s:I, s:I,"
                               " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o}",
                               "node", (json_int_t) self->node.id, "kind", "coreapp", "role", self->node.role,
                               "shard", self->shard, "epoch", (json_int_t) self->node.epoch,
                               "session", session_state_name (self->session.state),
                               "sessions_opened", (json_int_t) self->sessions_opened,
                               "heartbeats", (json_int_t) self->heartbeats, "masters", self->peers.count,
                               "api_requests", (json_int_t) self->api_requests,
                               "api_refused", (json_int_t) self->api_refused,
                               "outbox", "accepted", (json_int_t) o.accepted, "retried", (json_int_t) o.retried,
                               "sent", (json_int_t) o.sent, "acked", (json_int_t) o.acked,
                               "duplicates", (json_int_t) o.duplicates, "refused", (json_int_t) o.refused,
                               "queried", (json_int_t) o.queried, "found", (json_int_t) o.found,
                               "batches", (json_int_t) o.batches, "depth", (json_int_t) o.depth,
                               "waiting", (json_int_t) o.waiting,
                               "callbacks", callbacks_stats_json (self->callbacks),
                               "contacts", contacts_stats_json (self->contacts), "db", wa_dbworker_stats_json ());
    json_object_set_new (stats, "reads", reads_stats_json (self->reads));
    wa_node_on_control (&self->node, stats);
    json_decref (stats);
    return 0;
}

//  The API port: the Webapps' requests (API_REQ, a JSON object naming its
//  op), each answered with an API_REP carrying an HTTP status and a JSON
//  object. Nothing here waits: a message goes to the outbox, which answers
//  once its row is committed.
static void
s_api_reply (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json)
{
    coreapp_t *self = arg;
    wa_msg_t *reply = &self->reply;
    wa_msg_init (reply, WA_MSG_API_REP);
    reply->seq = seq;
    reply->code = (uint32_t) status;
    wa_msg_set_text (reply, json);
    wa_codec_send (self->node.api, *peer, reply);
    zframe_destroy (peer);
}

static void
s_api_error (coreapp_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_api_error (coreapp_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *text = wa_error_vjson (code, fmt, args);
    va_end (args);
    s_api_reply (self, peer, seq, text ? status : 500, text ? text : "");
    free (text);
    self->api_refused++;
}

static int
s_api_send_op (void *arg, uint64_t seq, const char *payload)
{
    coreapp_t *self = arg;
    if (!s_holding (self))
        return -1;
    return session_send (&self->session, seq, payload, wa_clock_mono ());
}

static int
s_api_query_op (void *arg, const char *id)
{
    coreapp_t *self = arg;
    if (!s_holding (self))
        return -1;
    return session_query (&self->session, id, wa_clock_mono ());
}

//  The callbacks acknowledge a stored event on the session it came on.
static int
s_callbacks_ack (void *arg, uint64_t session, uint64_t seq)
{
    coreapp_t *self = arg;
    if (!s_holding (self) || self->session.state != SESSION_OPEN || self->session.id != session)
        return -1;
    return session_event_ack (&self->session, seq, wa_clock_mono ());
}

static bool
s_callbacks_holding (void *arg)
{
    return s_holding ((coreapp_t *) arg);
}

//  Why the upstream session cannot take a request now, NULL when it can.
static const char *
s_session_unavailable (coreapp_t *self)
{
    if (self->session.state == SESSION_OPEN)
        return NULL;
    if (streq (self->gateway, "unregistered"))
        return "the account is not registered upstream: POST /v1/account, then /v1/account/verify";
    return "the upstream session is not open yet";
}

static int
s_contacts_ask (void *arg, uint64_t seq, const char *payload)
{
    coreapp_t *self = arg;
    if (!s_holding (self))
        return -1;
    return session_contacts (&self->session, seq, payload, wa_clock_mono ());
}

static int
s_identity_submit (void *arg, wa_job_t **job)
{
    coreapp_t *self = arg;
    return wa_dbworker_submit (self->node.db, job);
}

static int
s_read_send (void *arg, uint64_t seq, const char *payload)
{
    coreapp_t *self = arg;
    if (!s_holding (self))
        return -1;
    return session_read (&self->session, seq, payload, wa_clock_mono ());
}

//  Answers a request we cannot serve now (not primary; with check_shard,
//  not for the shard we hold; handing it over) and says so.
//  The shard a request is for: of its "route" (the digits whose shard
//  serves it) by the count in force as we know it, so that a request
//  routed under another count is sent back (the Webapp reads the map
//  again); else its "shard"; -1 when neither says.
static int
s_request_shard (coreapp_t *self, json_t *root)
{
    const char *route = json_string_value (json_object_get (root, "route"));
    if (route)
        return self->shards > 0 ? wa_message_shard (route, self->shards) : -1;
    json_t *shard = json_object_get (root, "shard");
    return json_is_integer (shard) && json_integer_value (shard) >= 0
        && json_integer_value (shard) < WA_SHARDS_MAX ? (int) json_integer_value (shard) : -1;
}

static bool
s_not_serving (coreapp_t *self, zframe_t **peer, uint64_t seq, json_t *root, bool check_shard)
{
    if (!s_holding (self))
        s_api_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_COREAPP, "coreapp %" PRIu64 " is not primary",
                     self->node.id);
    else
    if (check_shard && s_request_shard (self, root) != self->shard)
        s_api_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_COREAPP, "coreapp %" PRIu64 " holds shard %d, not this one",
                     self->node.id, self->shard);
    else
    if (handover_active (&self->handover))
        s_api_error (self, peer, seq, 503, WA_ERR_NOT_READY, "coreapp %" PRIu64 " is handing shard %d over",
                     self->node.id, self->shard);
    else
        return false;
    return true;
}

static void
s_api_request (coreapp_t *self, zframe_t **peer, const wa_msg_t *msg)
{
    json_error_t error;
    json_t *root = json_loadb (msg->text, msg->text_len, JSON_REJECT_DUPLICATES, &error);
    const char *op = root ? json_string_value (json_object_get (root, "op")) : NULL;
    if (!root || !op)
        s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "the request is not a JSON object with an 'op'");
    else
    if (streq (op, "send")) {
        const char *key = json_string_value (json_object_get (root, "key"));
        wa_message_t message;
        char why[200];
        int code;
        if (!key || !wa_message_key_valid (key))
            s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'key' must be an idempotency key");
        else
        if ((code = wa_message_check (json_object_get (root, "message"), &message, why, sizeof why)))
            s_api_error (self, peer, msg->seq, 400, code, "%s", why);
        else
        //  A Webapp downloads every link and sends the stored file's id.
        if (message.links)
            s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'%s.link' was not downloaded: a Webapp stores "
                         "the file and sends its id", message.media[0].link ? message.media[0].field
                         : message.media[1].field);
        else
        //  The recipient's shard decides where the row goes: a route that
        //  is not it would file the message under another shard.
        if (json_object_get (root, "route") && !streq (json_string_value (json_object_get (root, "route"))
                                                       ? json_string_value (json_object_get (root, "route")) : "",
                                                       message.to))
            s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'route' is not the message's recipient");
        else
        if (!s_not_serving (self, peer, msg->seq, root, true))
            outbox_accept (self->outbox, peer, msg->seq, key, &message);
    }
    else
    if (streq (op, "contacts")) {
        if (!s_not_serving (self, peer, msg->seq, NULL, false))
            contacts_request (self->contacts, peer, msg->seq, root, s_session_unavailable (self));
    }
    else
    if (streq (op, "read")) {
        if (!s_not_serving (self, peer, msg->seq, root, true))
            reads_request (self->reads, peer, msg->seq, root, s_session_unavailable (self));
    }
    else
    if (streq (op, "identity")) {
        if (!s_not_serving (self, peer, msg->seq, root, true))
            identity_request (self->identity, peer, msg->seq, root, s_session_unavailable (self));
    }
    else
        s_api_error (self, peer, msg->seq, 400, WA_ERR_NOT_FOUND, "unknown op '%.40s'", op);
    json_decref (root);
}

static int
s_on_api (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    for (int i = 0; i < 1000 && (zsock_events (self->node.api) & ZMQ_POLLIN); i++) {
        zframe_t *peer = NULL;
        int why = 0;
        int rc = wa_codec_recv (self->node.api, &peer, &self->msg, &why);
        if (rc == -1 || !peer) {
            zframe_destroy (&peer);
            continue;
        }
        self->api_requests++;
        if (rc == -2)
            s_api_error (self, &peer, 0, 400, WA_ERR_INVALID, "malformed frame: %s", wa_codec_strerror (why));
        else
        //  Only the Webapps and the Masters send API requests, by their keys.
        if (!wa_trust_allow (self->node.trust, &self->msg, WA_ROLE_WEBAPP | WA_ROLE_MASTER, "api"))
            s_api_error (self, &peer, self->msg.seq, 403, WA_ERR_ACCESS_DENIED,
                         "this key may not send API requests to a Coreapp");
        else
        if (self->msg.type != WA_MSG_API_REQ)
            s_api_error (self, &peer, self->msg.seq, 400, WA_ERR_INVALID, "unexpected %s on the API port",
                         wa_codec_type_name (self->msg.type));
        else
            s_api_request (self, &peer, &self->msg);
        zframe_destroy (&peer);
    }
    return 0;
}

static int
s_on_outbox (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    outbox_on_worker (self->outbox);
    return 0;
}

static int
s_on_outbox_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    outbox_tick (self->outbox);
    return 0;
}

//  Stopping: a job that comes back is not acted on (the node's own are,
//  as always): destroyed.
static void
s_job_dropped (wa_job_t *job, void *arg)
{
    coreapp_t *self = arg;
    if (!wa_node_job_done (&self->node, job))
        wa_job_destroy (&job);
}

static void
s_shutdown (coreapp_t *self)
{
    int timeout = self->config->db_statement_timeout * 1000 + 500;
    //  Session first, lease after: the lease may end only once the session has.
    if (self->session.state != SESSION_CLOSED) {
        s_close_session (self, "stopping", false);
    }
    //  Requests that wait get 1011 (the Webapp retries them elsewhere);
    //  inserts and acknowledgements under way are finished.
    outbox_drain (self->outbox, timeout);
    callbacks_drain (self->callbacks, timeout);
    wa_node_wait_jobs (&self->node, timeout, s_job_dropped, self);
    if (s_holding (self)) {
        release_job_t *job = WA_JOB_NEW (release_job_t, JOB_RELEASE, core_release_run, NULL);
        job->node = self->node.id;
        job->shard = self->shard;
        job->epoch = self->lease.epoch;
        wa_job_t *back = wa_node_run_sync (&self->node, &job->job, timeout, s_job_dropped, self);
        wa_job_destroy (&back);
        s_demote (self, "stopping");
    }
    contacts_destroy (&self->contacts);
    reads_destroy (&self->reads);
    identity_destroy (&self->identity);
    wa_node_finish (&self->node, "disconnected", timeout, s_job_dropped, self);
}

//  Once the node's worker is gone (a job it still had is destroyed there).
static void
s_destroy (coreapp_t **self_p)
{
    coreapp_t *self = *self_p;
    WA_JOB_DESTROY (self->shard_job);
    WA_JOB_DESTROY (self->masters_job);
    handover_destroy (&self->handover);
    wa_reactor_destroy (&self->reactor);
    free (self);
    *self_p = NULL;
}

int
coreapp_run (const wa_config_t *config)
{
    if (sodium_init () < 0) {
        wa_error ("libsodium cannot start");
        return 1;
    }
    coreapp_t *self = (coreapp_t *) zmalloc (sizeof (coreapp_t));
    self->config = config;
    self->settings = *config;
    self->shard = -1;
    self->login_timer = -1;
    self->gateway = "disconnected";
    wa_lease_init (&self->lease, WA_SEC (config->shard_lease_ttl), WA_SEC (config->lease_margin));
    session_init (&self->session, &self->settings);
    self->shard_job = WA_JOB_NEW (shard_job_t, JOB_SHARD, core_shard_run, NULL);
    self->masters_job = wa_masters_job_new ();
    self->outbox_timer = -1;
    handover_init (&self->handover);
    self->handover_timer = -1;
    if (wa_node_start (&self->node, config, "coreapp")) {
        wa_node_stop (&self->node);
        wa_peers_destroy (&self->peers, NULL);
        s_destroy (&self);
        return 1;
    }
    s_set_role (self);
    wa_info ("ready: api %d, bus %d, control %d, health %d; upstream %s; database %s:%d/%s",
             self->node.ports[0], self->node.ports[1], self->node.ports[2], self->node.ports[3],
             config->upstream_endpoint, config->db_hostname, config->db_port, config->db_name);
    wa_notify_ready ("secondary_coreapp: api %d, bus %d, control %d, health %d", self->node.ports[0],
                     self->node.ports[1], self->node.ports[2], self->node.ports[3]);

    outbox_io_t io = { s_api_reply, s_api_send_op, s_api_query_op };
    self->outbox = outbox_new (config, io, self);
    self->loop = zloop_new ();
    wa_notify_watchdog_start (self->loop);
    wa_peers_init (&self->peers, self->node.trust, self->loop, s_on_masters, s_on_masters_socket, self);
    s_probe_start (self);
    callbacks_io_t callbacks_io = { s_callbacks_ack, s_callbacks_holding };
    self->callbacks = callbacks_new (config, &self->settings, callbacks_io, self, self->loop);
    if (!self->callbacks) {
        zloop_destroy (&self->loop);
        outbox_destroy (&self->outbox);
        wa_node_stop (&self->node);
        wa_peers_destroy (&self->peers, NULL);
        s_destroy (&self);
        return 1;
    }
    contacts_io_t contacts_io = { s_api_reply, s_contacts_ask };
    self->contacts = contacts_new (&self->settings, contacts_io, self, self->loop);
    reads_io_t reads_io = { s_api_reply, s_read_send };
    self->reads = reads_new (&self->settings, reads_io, self, self->loop);
    identity_io_t identity_io = { s_api_reply, s_contacts_ask, s_identity_submit };
    self->identity = identity_new (&self->settings, identity_io, self, self->loop);
    zloop_reader (self->loop, wa_dbworker_sock (self->node.db), s_on_db, self);
    zloop_reader (self->loop, wa_dbworker_sock (outbox_worker (self->outbox)), s_on_outbox, self);
    wa_timer_every (self->loop, &self->outbox_timer, 0.1, s_on_outbox_tick, self);
    zloop_reader (self->loop, self->node.health, s_on_health, self);
    zloop_reader (self->loop, self->node.control, s_on_control, self);
    zloop_reader (self->loop, self->node.api, s_on_api, self);
    wa_node_watch (&self->node, self->loop);
    wa_reactor_init (&self->reactor, self->loop, &self->settings, self, s_settings_applied);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, shard_renew_interval), s_on_tick);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, upstream_ping_interval), s_on_ping);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, db_liveness_interval), s_on_liveness);
    s_on_tick (self->loop, 0, self);
    zloop_start (self->loop);
    wa_info ("stopping");
    wa_notify_stopping ();
    s_shutdown (self);
    int rc = self->node.fatal ? 1 : 0;
    wa_peers_destroy (&self->peers, self->loop);
    wa_relink_destroy (&self->probe_watch);
    zsock_destroy (&self->probe);
    callbacks_destroy (&self->callbacks);
    zloop_destroy (&self->loop);
    outbox_destroy (&self->outbox);
    wa_node_stop (&self->node);
    s_destroy (&self);
    return rc;
}
