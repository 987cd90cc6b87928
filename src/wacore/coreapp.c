/*  coreapp — see coreapp.h.

    The rule this file exists to keep, for each shard: its upstream session
    is open only while wa_lease_valid (&slot->lease) holds. Every path that
    sends upstream checks it first, and a one-shot timer closes the session
    at the lease deadline, so a Coreapp whose database is slow or gone drops
    the session before its lease can expire in the database. A new holder
    opens its session only once the database says the previous lease ended
    more than the gateway's idle timeout ago.

    A Coreapp holds any number of shards, one slot each (slot_t): the
    shard's lease as we know it, its own upstream session (one connection
    per shard, as the original's multiconnect), its outbox, callbacks,
    contact checks, read receipts and identity requests, and its handover.
    Slots share no session and no lease: each renews, logs in, demotes,
    hands over, reconciles and stores its inbound events on its own, and
    losing one shard touches no other. A slot let go stays (idle, shard -1)
    for the next shard, so the DB workers and the webhook sender its
    outbox and callbacks own are made once per shard held at once, not per
    promotion. What is the node's (registration, liveness, the Masters'
    heartbeats, settings, the gateway probe) stays here, once. */
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

typedef struct coreapp_t coreapp_t;

//  One shard we hold (or held: idle, shard -1, kept for the next).
typedef struct {
    coreapp_t *core;
    int shard;                  //  -1 while idle
    wa_lease_t lease;           //  the shard lease as we know it
    session_t session;          //  the shard's own upstream session
    wa_usec_t login_at;         //  no login before this (database says)
    wa_usec_t login_floor;      //  nor before this (our own clock, after a step of the database's)
    wa_usec_t relogin_at;       //  unregistered: no login before this
    int login_timer;
    int deadline_timer;         //  the lease's local deadline
    uint64_t sessions_opened;
    const char *gateway;        //  "connected", "disconnected" or "unregistered"
    outbox_t *outbox;           //  the shard's messages
    callbacks_t *callbacks;     //  its statuses and inbound messages, to the webhook
    contacts_t *contacts;       //  contact checks asked on this session, and their cache
    reads_t *reads;             //  read receipts waiting for the upstream
    identity_t *identity;       //  contacts' identities asked upstream
    handover_t handover;        //  a planned switchover (handover.h)
    int handover_timer;         //  its steps, while one is under way (-1: none)
} slot_t;

struct coreapp_t {
    const wa_config_t *config;  //  as started; the DB workers read it
    wa_config_t settings;       //  the live cluster settings
    wa_node_t node;
    wa_peers_t peers;           //  the Masters: their heartbeats, our replies
    uint64_t heartbeats;
    wa_masters_job_t *masters_job;  //  NULL while the worker has it (as shard_job)
    wa_reactor_t reactor;       //  the settings' timers and reads (wa_reactor)
    wa_loop_t *loop;
    wa_clockwatch_t clock;      //  the database's clock against ours
    shard_job_t *shard_job;     //  every held lease's renewal, and the search for new ones
    int shards;                 //  the shard count in force, as a renewal last read it (0: not yet)
    slot_t *slots[WA_SHARDS_MAX];
    int nslots;
    //  Per shard: no login before this, for a session of ours that ended
    //  unconfirmed and may linger at the gateway (session.h), whichever
    //  slot holds the shard next.
    wa_usec_t quiet[WA_SHARDS_MAX];
    const char *gateway;        //  the node's, from its slots': written with its liveness
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
};

static void s_try_login (slot_t *slot);
static bool s_on_session_message (slot_t *slot);
static void s_unregistered (slot_t *slot);
static void s_handover_end (slot_t *slot, uint32_t code, const char *why);
static void s_release_begin (slot_t *slot);
static void s_reply_masters (coreapp_t *self, uint64_t master, uint64_t seq);
static void s_reply_change (slot_t *slot);
static int s_on_tick (wa_loop_t *loop, int timer_id, void *arg);

//  --------------------------------------------------------------------------
//  Slots

static slot_t *
s_slot_of (coreapp_t *self, int shard)
{
    for (int i = 0; i < self->nslots; i++)
        if (shard >= 0 && self->slots[i]->shard == shard)
            return self->slots[i];
    return NULL;
}

//  The held slot of the lowest shard, NULL when we hold none: what the
//  fields made for one shard (role, epoch, stats' "shard") report.
static slot_t *
s_first_held (coreapp_t *self)
{
    slot_t *first = NULL;
    for (int i = 0; i < self->nslots; i++)
        if (self->slots[i]->shard >= 0 && (!first || self->slots[i]->shard < first->shard))
            first = self->slots[i];
    return first;
}

//  "0,2,3" (or "none"): the shards we hold.
static const char *
s_shard_list (coreapp_t *self, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int shard = 0; shard < WA_SHARDS_MAX; shard++)
        if (s_slot_of (self, shard) && used < size)
            used += (size_t) snprintf (buf + used, size - used, "%s%d", used ? "," : "", shard);
    if (!used)
        snprintf (buf, size, "none");
    return buf;
}

static void
s_set_role (coreapp_t *self)
{
    slot_t *first = s_first_held (self);
    self->node.role = first ? "primary_coreapp" : "secondary_coreapp";
    self->node.epoch = first ? first->lease.epoch : 0;
    wa_log_set_prefix ("coreapp %" PRIu64 " %s", self->node.id, self->node.role);
    //  For systemctl status, once registered (READY=1 said it before).
    char shards[WA_SHARDS_MAX * 3 + 8];
    if (self->node.id && first)
        wa_notify_status ("primary_coreapp, node %" PRIu64 ", shards %s", self->node.id,
                          s_shard_list (self, shards, sizeof shards));
    else
    if (self->node.id)
        wa_notify_status ("secondary_coreapp, node %" PRIu64, self->node.id);
}

//  The node's gateway_status, from its shards': unregistered when the
//  upstream said so for one, connected while a session is open, else
//  disconnected (each shard's own is in the stats).
static void
s_update_gateway (coreapp_t *self)
{
    const char *status = "disconnected";
    for (int i = 0; i < self->nslots; i++) {
        slot_t *slot = self->slots[i];
        if (slot->shard < 0)
            continue;
        if (streq (slot->gateway, "unregistered")) {
            status = "unregistered";
            break;
        }
        if (streq (slot->gateway, "connected"))
            status = "connected";
    }
    if (streq (self->gateway, status))
        return;
    self->gateway = status;
    wa_node_liveness (&self->node, status, false);
}

static void
s_set_gateway (slot_t *slot, const char *status)
{
    slot->gateway = status;
    s_update_gateway (slot->core);
}

static void
s_close_session (slot_t *slot, const char *why, bool confirmed_gone)
{
    coreapp_t *self = slot->core;
    if (slot->session.state == SESSION_CLOSED)
        return;
    bool was_open = slot->session.state == SESSION_OPEN || slot->session.state == SESSION_CLOSING;
    uint64_t id = slot->session.id;
    uint32_t shard = slot->session.shard;
    //  The reactor must forget the socket before it is destroyed.
    wa_loop_reader_end (self->loop, slot->session.sock);
    session_close (&slot->session, wa_clock_mono (), confirmed_gone);
    if (shard < WA_SHARDS_MAX && slot->session.quiet_until > self->quiet[shard])
        self->quiet[shard] = slot->session.quiet_until;
    handover_closed (&slot->handover, wa_clock_mono (), confirmed_gone);
    outbox_session (slot->outbox, false);
    callbacks_session (slot->callbacks, 0);
    contacts_session_closed (slot->contacts);
    reads_session_closed (slot->reads);
    identity_session_closed (slot->identity);
    if (was_open)
        wa_node_event (&self->node, "session_closed", (int) shard, slot->session.epoch,
                       self->node.id, "upstream session %" PRIu64 " closed: %s", id, why);
    else
        wa_info ("upstream login of shard %" PRIu32 " abandoned: %s", shard, why);
    s_set_gateway (slot, "disconnected");
}

//  Lets the slot's shard go; the others are not touched.
static void
s_demote (slot_t *slot, const char *why)
{
    coreapp_t *self = slot->core;
    if (slot->shard < 0)
        return;
    if (handover_abort (&slot->handover))
        s_handover_end (slot, 409, why);
    s_close_session (slot, why, false);
    int shard = slot->shard;
    uint64_t epoch = slot->lease.epoch;
    wa_lease_lost (&slot->lease);
    slot->shard = -1;
    slot->login_floor = 0;
    outbox_hold (slot->outbox, -1, self->node.id, 0);
    callbacks_hold (slot->callbacks, -1, self->node.id, 0);
    contacts_demoted (slot->contacts);
    reads_demoted (slot->reads);
    identity_demoted (slot->identity);
    if (slot->login_timer >= 0)
        wa_loop_timer_end (self->loop, slot->login_timer);
    slot->login_timer = -1;
    if (slot->deadline_timer >= 0)
        wa_loop_timer_end (self->loop, slot->deadline_timer);
    slot->deadline_timer = -1;
    s_set_gateway (slot, "disconnected");
    s_set_role (self);
    s_reply_change (slot);
    wa_node_event (&self->node, "demoted", shard, epoch, self->node.id,
                   "coreapp %" PRIu64 " is no longer primary for shard %d: %s", self->node.id, shard, why);
}

//  True while we hold the slot's shard lease by our own clock; closes
//  everything of that shard the moment it is not.
static bool
s_holding (slot_t *slot)
{
    if (slot->shard >= 0 && !wa_lease_valid (&slot->lease, wa_clock_mono ()))
        s_demote (slot, "shard lease deadline passed without a successful renewal");
    return slot->shard >= 0;
}

static bool
s_holding_any (coreapp_t *self)
{
    bool any = false;
    for (int i = 0; i < self->nslots; i++)
        if (s_holding (self->slots[i]))
            any = true;
    return any;
}

static int
s_on_deadline (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    slot_t *slot = arg;
    slot->deadline_timer = -1;
    s_holding (slot);
    return 0;
}

static int
s_on_login_timer (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    slot_t *slot = arg;
    slot->login_timer = -1;
    s_try_login (slot);
    return 0;
}

static int
s_on_session (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    slot_t *slot = arg;
    //  Drain what is there (acknowledgements come in thousands), within
    //  bounds so timers get their turn.
    for (int i = 0; i < 1000 && slot->session.sock; i++)
        if (!s_on_session_message (slot))
            break;
    return 0;
}

//  One message from the gateway; false when none was waiting.
static bool
s_on_session_message (slot_t *slot)
{
    coreapp_t *self = slot->core;
    wa_msg_t *msg = &self->msg;
    session_event_t event = session_on_message (&slot->session, wa_clock_mono (), msg);
    switch (event) {
        case SESSION_EV_OPENED:
            if (!s_holding (slot)) {
                s_close_session (slot, "lease lost during login", false);
                break;
            }
            slot->sessions_opened++;
            s_set_gateway (slot, "connected");
            outbox_session (slot->outbox, true);
            callbacks_session (slot->callbacks, slot->session.id);
            wa_node_event (&self->node, "session_opened", slot->shard, slot->lease.epoch, self->node.id,
                           "upstream session %" PRIu64 " opened for account %s shard %d",
                           slot->session.id, self->config->account, slot->shard);
            //  Every Master hears it now, not at its next heartbeat: a
            //  switchover waits for this.
            s_reply_change (slot);
            break;
        case SESSION_EV_REFUSED:
            wa_error ("upstream refused our login for shard %d: %s", slot->shard, slot->session.last_reason);
            s_close_session (slot, "login refused", true);
            s_demote (slot, "upstream refused our epoch as stale (a newer primary exists)");
            break;
        case SESSION_EV_GONE:
            wa_warn ("upstream closed the session of shard %d: %s", slot->shard, slot->session.last_reason);
            s_close_session (slot, "closed by upstream", true);
            s_try_login (slot);
            break;
        case SESSION_EV_SEND_ACK:
            outbox_on_ack (slot->outbox, msg->seq, (int) msg->code, msg->text);
            break;
        case SESSION_EV_QUERY_REPLY:
            outbox_on_query_reply (slot->outbox, msg->code == 1, msg->text);
            break;
        case SESSION_EV_UP_EVENT:
            callbacks_on_event (slot->callbacks, msg->session, msg->seq, msg->text, msg->text_len);
            break;
        case SESSION_EV_CONTACTS_REPLY:
            if (msg->seq & IDENTITY_SEQ_BIT)
                identity_on_reply (slot->identity, msg->seq, msg->text, msg->text_len);
            else
                contacts_on_reply (slot->contacts, msg->seq, msg->text, msg->text_len);
            break;
        case SESSION_EV_READ_ACK:
            reads_on_ack (slot->reads, msg->seq, msg->code, msg->text);
            break;
        case SESSION_EV_UNREGISTERED:
            s_unregistered (slot);
            break;
        case SESSION_EV_LOGGED_OUT:
            s_close_session (slot, "logged out to hand the shard over", true);
            break;
        case SESSION_EV_NONE:
            break;
        case SESSION_EV_EMPTY:
            return false;
    }
    return true;
}

//  The upstream says the account is not registered: no session was opened,
//  so nothing lingers there. The shard stays ours (nothing is wrong with
//  this Coreapp); the login is tried again every upstream_login_timeout,
//  and succeeds once the account is registered (POST /v1/account/verify).
static void
s_unregistered (slot_t *slot)
{
    coreapp_t *self = slot->core;
    wa_usec_t now = wa_clock_mono ();
    wa_loop_reader_end (self->loop, slot->session.sock);
    session_close (&slot->session, now, true);
    if (!streq (slot->gateway, "unregistered"))
        wa_node_event (&self->node, "unregistered", slot->shard, slot->lease.epoch, self->node.id,
                       "the upstream refused the login of shard %d: %s; trying again every %g s",
                       slot->shard, slot->session.last_reason, self->settings.upstream_login_timeout);
    s_set_gateway (slot, "unregistered");
    slot->relogin_at = now + WA_SEC (self->settings.upstream_login_timeout);
    s_try_login (slot);
}

static void
s_try_login (slot_t *slot)
{
    coreapp_t *self = slot->core;
    //  Not while handing the shard over, nor while a handover's outcome is
    //  unknown (a renewal will tell).
    if (!s_holding (slot) || slot->session.state != SESSION_CLOSED
    ||  handover_active (&slot->handover) || slot->handover.unsure)
        return;
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t when = slot->login_at > slot->session.quiet_until ? slot->login_at : slot->session.quiet_until;
    if (slot->relogin_at > when)
        when = slot->relogin_at;
    if (self->quiet[slot->shard] > when)
        when = self->quiet[slot->shard];
    if (now < when) {
        if (slot->login_timer < 0)
            wa_timer_once (self->loop, &slot->login_timer, when - now, s_on_login_timer, slot);
        return;
    }
    //  The layout's count goes with the LOGIN: the gateway judges sessions
    //  of different layouts by the recipients they share.
    if (session_open (&slot->session, self->node.id, (uint32_t) slot->shard, (uint32_t) self->shards,
                      slot->lease.epoch, now))
        return;
    wa_loop_reader (self->loop, slot->session.sock, s_on_session, slot);
    wa_info ("logging in upstream for shard %d with epoch %" PRIu64, slot->shard, slot->lease.epoch);
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
s_login_floor (slot_t *slot, const shard_job_t *job)
{
    wa_usec_t now = wa_clock_mono (), guard = job->ttl + job->idle;
    if (slot->session.state != SESSION_CLOSED || slot->login_floor > now
    ||  !wa_clockwatch_recent (&slot->core->clock, now, guard))
        return;
    slot->login_floor = now + guard;
    wa_warn ("shard %d: the database's clock stepped lately; no login before %.3f s by our own clock "
             "(shard_lease_ttl + upstream_idle_timeout)", slot->shard, (double) guard / 1e6);
}

//  The database granted lease (a renewal, or a promotion found: promoted)
//  to the slot.
static void
s_granted (slot_t *slot, const shard_job_t *job, const shard_lease_t *lease, bool promoted)
{
    coreapp_t *self = slot->core;
    wa_lease_granted (&slot->lease, job->job.sent_at, job->ttl, lease->epoch);
    if (!wa_lease_valid (&slot->lease, wa_clock_mono ())) {
        if (!promoted)
            s_demote (slot, "shard lease renewal answered after its deadline");
        return;
    }
    if (promoted) {
        slot->shard = lease->shard;
        slot->relogin_at = 0;
        slot->login_floor = 0;
        outbox_hold (slot->outbox, lease->shard, self->node.id, lease->epoch);
        callbacks_hold (slot->callbacks, lease->shard, self->node.id, lease->epoch);
        s_set_role (self);
        s_reply_change (slot);
        wa_node_event (&self->node, "primary", lease->shard, lease->epoch, self->node.id,
                       "coreapp %" PRIu64 " holds shard %d; login in %.3f s", self->node.id,
                       lease->shard, (double) lease->login_wait / 1e6);
    }
    //  The row names us at our epoch after the handover's transaction:
    //  it did not commit.
    if (slot->handover.unsure) {
        wa_info ("shard %d: the handover's transaction did not commit (renewed at epoch %" PRIu64 "); serving",
                 slot->shard, slot->lease.epoch);
        slot->handover.unsure = false;
    }
    //  The wait is measured from when the database answered, which is
    //  after it judged it: counting from now only adds margin.
    if (lease->login_wait >= 0)
        slot->login_at = wa_clock_mono () + lease->login_wait;
    s_login_floor (slot, job);
    if (slot->login_floor > slot->login_at)
        slot->login_at = slot->login_floor;
    wa_timer_once (self->loop, &slot->deadline_timer, wa_lease_remaining (&slot->lease, wa_clock_mono ()),
                   s_on_deadline, slot);
    s_try_login (slot);
}

//  --------------------------------------------------------------------------
//  What each slot's modules call: answers to the Webapps, and the slot's
//  own session (each checks the slot's lease first).

static void
s_reply (coreapp_t *self, zframe_t **peer, uint64_t seq, int status, const char *json)
{
    wa_msg_t *reply = &self->reply;
    wa_msg_init (reply, WA_MSG_API_REP);
    reply->seq = seq;
    reply->code = (uint32_t) status;
    wa_msg_set_text (reply, json);
    wa_codec_send (self->node.api, *peer, reply);
    zframe_destroy (peer);
}

static void
s_api_reply (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json)
{
    s_reply (((slot_t *) arg)->core, peer, seq, status, json);
}

static int
s_api_send_op (void *arg, uint64_t seq, const char *payload)
{
    slot_t *slot = arg;
    if (!s_holding (slot))
        return -1;
    return session_send (&slot->session, seq, payload, wa_clock_mono ());
}

static int
s_api_query_op (void *arg, const char *id)
{
    slot_t *slot = arg;
    if (!s_holding (slot))
        return -1;
    return session_query (&slot->session, id, wa_clock_mono ());
}

//  The callbacks acknowledge a stored event on the session it came on.
static int
s_callbacks_ack (void *arg, uint64_t session, uint64_t seq)
{
    slot_t *slot = arg;
    if (!s_holding (slot) || slot->session.state != SESSION_OPEN || slot->session.id != session)
        return -1;
    return session_event_ack (&slot->session, seq, wa_clock_mono ());
}

static bool
s_callbacks_holding (void *arg)
{
    return s_holding ((slot_t *) arg);
}

static int
s_contacts_ask (void *arg, uint64_t seq, const char *payload)
{
    slot_t *slot = arg;
    if (!s_holding (slot))
        return -1;
    return session_contacts (&slot->session, seq, payload, wa_clock_mono ());
}

static int
s_identity_submit (void *arg, wa_job_t **job)
{
    slot_t *slot = arg;
    return wa_dbworker_submit (slot->core->node.db, job);
}

static int
s_read_send (void *arg, uint64_t seq, const char *payload)
{
    slot_t *slot = arg;
    if (!s_holding (slot))
        return -1;
    return session_read (&slot->session, seq, payload, wa_clock_mono ());
}

static int
s_on_outbox (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    outbox_on_worker (((slot_t *) arg)->outbox);
    return 0;
}

static void
s_slot_destroy (coreapp_t *self, slot_t **slot_p)
{
    slot_t *slot = *slot_p;
    if (!slot)
        return;
    if (slot->outbox && self->loop)
        wa_loop_reader_end (self->loop, wa_dbworker_sock (outbox_worker (slot->outbox)));
    contacts_destroy (&slot->contacts);
    reads_destroy (&slot->reads);
    identity_destroy (&slot->identity);
    callbacks_destroy (&slot->callbacks);
    outbox_destroy (&slot->outbox);
    handover_destroy (&slot->handover);
    free (slot);
    *slot_p = NULL;
}

//  A new idle slot: its outbox's and callbacks' DB workers and webhook
//  sender start now. NULL when they cannot (logged), or at WA_SHARDS_MAX.
static slot_t *
s_slot_new (coreapp_t *self)
{
    if (self->nslots == WA_SHARDS_MAX)
        return NULL;
    slot_t *slot = (slot_t *) zmalloc (sizeof (slot_t));
    slot->core = self;
    slot->shard = -1;
    slot->login_timer = slot->deadline_timer = slot->handover_timer = -1;
    slot->gateway = "disconnected";
    wa_lease_init (&slot->lease, WA_SEC (self->settings.shard_lease_ttl), WA_SEC (self->settings.lease_margin));
    session_init (&slot->session, &self->settings);
    handover_init (&slot->handover);
    outbox_io_t io = { s_api_reply, s_api_send_op, s_api_query_op };
    slot->outbox = outbox_new (self->config, io, slot);
    callbacks_io_t callbacks_io = { s_callbacks_ack, s_callbacks_holding };
    slot->callbacks = callbacks_new (self->config, &self->settings, callbacks_io, slot, self->loop);
    if (!slot->callbacks) {
        s_slot_destroy (self, &slot);
        return NULL;
    }
    contacts_io_t contacts_io = { s_api_reply, s_contacts_ask };
    slot->contacts = contacts_new (&self->settings, contacts_io, slot, self->loop);
    reads_io_t reads_io = { s_api_reply, s_read_send };
    slot->reads = reads_new (&self->settings, reads_io, slot, self->loop);
    identity_io_t identity_io = { s_api_reply, s_contacts_ask, s_identity_submit };
    slot->identity = identity_new (&self->settings, identity_io, slot, self->loop);
    wa_loop_reader (self->loop, wa_dbworker_sock (outbox_worker (slot->outbox)), s_on_outbox, slot);
    self->slots[self->nslots++] = slot;
    return slot;
}

//  A slot for a shard found naming us: an idle one whose last handover's
//  job is back, else a new one.
static slot_t *
s_slot_take (coreapp_t *self)
{
    for (int i = 0; i < self->nslots; i++)
        if (self->slots[i]->shard < 0 && self->slots[i]->handover.job)
            return self->slots[i];
    return s_slot_new (self);
}

//  The renewal job came back: each lease as the database said.
static void
s_shard_done (coreapp_t *self)
{
    shard_job_t *job = self->shard_job;
    s_clock_readings (self, job);
    if (job->job.rc)
        return;
    if (job->shards)
        self->shards = job->shards;
    //  Losses first: a shard lost at one epoch may be ours again at the next,
    //  found by the same job.
    for (int i = 0; i < job->count; i++) {
        const shard_lease_t *lease = &job->leases[i];
        slot_t *slot = s_slot_of (self, lease->shard);
        if (lease->held && lease->rc == 0 && slot && slot->lease.epoch == lease->epoch) {
            if (lease->draining)
                s_release_begin (slot);
            else
                s_demote (slot, "the shard lease names another holder (taken over)");
        }
    }
    for (int i = 0; i < job->count; i++) {
        const shard_lease_t *lease = &job->leases[i];
        if (lease->rc != 1)
            continue;
        slot_t *slot = s_slot_of (self, lease->shard);
        if (slot) {
            if (slot->lease.epoch == lease->epoch)
                s_granted (slot, job, lease, false);
            continue;
        }
        //  Promoted (or ours again after our own deadline let it go).
        slot = s_slot_take (self);
        if (slot)
            s_granted (slot, job, lease, true);
        else
            wa_error ("cannot take shard %d: no room for another shard (its DB workers did not start)",
                      lease->shard);
    }
}

//  After a settings change (wa_reactor: the timers whose period changed are
//  re-armed already).
static void
s_settings_applied (void *arg, const wa_config_t *was, const char *changed, const char *source)
{
    (void) was;
    coreapp_t *self = arg;
    //  A held lease keeps the deadline it was granted; renewals use the new ttl.
    for (int i = 0; i < self->nslots; i++) {
        slot_t *slot = self->slots[i];
        slot->lease.ttl = WA_SEC (self->settings.shard_lease_ttl);
        slot->lease.margin = WA_SEC (self->settings.lease_margin);
        callbacks_settings (slot->callbacks);
    }
    slot_t *first = s_first_held (self);
    wa_node_publish (&self->node, "settings_applied", first ? first->shard : -1, self->node.epoch, self->node.id,
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

//  One heartbeat reply, for slot's shard (NULL: saying we hold none), to
//  master (its heartbeat seq) or to every Master (master 0, seq 0: unasked,
//  on a change). Its session bit is that shard's session.
static void
s_reply_one (coreapp_t *self, slot_t *slot, uint64_t master, uint64_t seq)
{
    wa_msg_t reply;
    wa_msg_init (&reply, WA_MSG_HB_REPLY);
    reply.shard = slot ? (uint32_t) slot->shard : UINT32_MAX;
    reply.node = self->node.id;
    reply.epoch = slot ? slot->lease.epoch : 0;
    reply.seq = seq;
    reply.code = (slot && slot->session.state == SESSION_OPEN ? 1u : 0u) | (self->reachable ? 2u : 0u);
    wa_msg_set_text (&reply, slot ? "primary_coreapp" : "secondary_coreapp");
    if (master)
        wa_peers_send (&self->peers, master, &reply);
    else
        for (int i = 0; i < self->peers.count; i++)
            wa_peers_send (&self->peers, self->peers.peers[i].id, &reply);
}

//  Our state as heartbeat replies: one per shard we hold (each Master
//  judges a shard's holder, and a switchover waits, by that shard's reply),
//  or one saying we hold none.
static void
s_reply_masters (coreapp_t *self, uint64_t master, uint64_t seq)
{
    int sent = 0;
    for (int i = 0; i < self->nslots; i++)
        if (s_holding (self->slots[i])) {
            s_reply_one (self, self->slots[i], master, seq);
            sent++;
        }
    if (!sent)
        s_reply_one (self, NULL, master, seq);
}

//  A shard's state changed: its reply, unasked, to every Master (once let
//  go, the reply of what we still hold, or that we hold none).
static void
s_reply_change (slot_t *slot)
{
    coreapp_t *self = slot->core;
    if (!self->node.id)
        return;
    if (slot->shard >= 0 && wa_lease_valid (&slot->lease, wa_clock_mono ()))
        s_reply_one (self, slot, 0, 0);
    else
        s_reply_one (self, s_first_held (self), 0, 0);
}

//  --------------------------------------------------------------------------
//  A planned switchover of one shard (handover.h): the Master's HANDOVER,
//  the steps on a timer, the transaction, the answer. Each slot has its own.

static int s_on_handover_timer (wa_loop_t *loop, int timer_id, void *arg);

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
s_handover_end (slot_t *slot, uint32_t code, const char *why)
{
    coreapp_t *self = slot->core;
    handover_t *h = &slot->handover;
    if (slot->handover_timer >= 0)
        wa_loop_timer_end (self->loop, slot->handover_timer);
    slot->handover_timer = -1;
    //  A release has no Master to tell: its lease runs out instead.
    if (h->to == 0) {
        wa_info ("shard %d: the release for the change of the shard count ended: %s", h->shard, why);
        return;
    }
    wa_warn ("handover of shard %d to coreapp %" PRIu64 " did not happen: %s", h->shard, h->to, why);
    s_handover_answer (self, h->master, h->shard, h->epoch, h->to, code, json_pack ("{s:s}", "why", why));
}

static void
s_handover_step (slot_t *slot)
{
    coreapp_t *self = slot->core;
    handover_t *h = &slot->handover;
    if (!handover_active (h) || !s_holding (slot))
        return;
    wa_usec_t now = wa_clock_mono ();
    outbox_stats_t o = outbox_stats (slot->outbox);
    bool open = slot->session.state == SESSION_OPEN;
    bool idle = o.waiting == 0 && !outbox_busy (slot->outbox) && (o.depth == 0 || !open);
    switch (handover_step (h, now, idle, open, slot->session.state == SESSION_CLOSING)) {
        case HANDOVER_LOGOUT_NOW:
            if (session_logout (&slot->session, now))
                s_close_session (slot, "handing the shard over (the LOGOUT could not be sent)", false);
            break;
        case HANDOVER_CLOSE:
            s_close_session (slot, "handing the shard over (no LOGOUT_OK in time)", false);
            handover_closed (h, now, false);
            s_handover_step (slot);
            break;
        case HANDOVER_STORE: {
            handover_job_t *job = handover_job (h, self->node.id, WA_SEC (self->settings.shard_lease_ttl),
                                                WA_SEC (self->settings.lease_margin),
                                                wa_alive_window (self->settings.db_liveness_interval));
            if (job) {
                job->owner = slot;
                WA_JOB_SUBMIT (self->node.db, h->job);
            }
            break;
        }
        case HANDOVER_WAIT:
            break;
    }
}

static int
s_on_handover_timer (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_handover_step ((slot_t *) arg);
    return 0;
}

//  Our row is draining (a change of the shard count, src/wamaster/
//  reshard.h): the slot stops taking requests, drains, logs out and
//  releases the row (handover.h), so that the new layout need not wait for
//  its lease and the gateway's idle timeout. Nobody renews a draining row:
//  if the release does not end first, our deadline does.
static void
s_release_begin (slot_t *slot)
{
    coreapp_t *self = slot->core;
    if (!s_holding (slot) || handover_release (&slot->handover, slot->shard, slot->lease.epoch, wa_clock_mono ()))
        return;
    wa_node_event (&self->node, "releasing", slot->shard, slot->lease.epoch, self->node.id,
                   "coreapp %" PRIu64 " lets shard %d go for a change of the shard count", self->node.id,
                   slot->shard);
    if (slot->handover_timer < 0)
        slot->handover_timer = wa_loop_timer (self->loop, 5, 0, s_on_handover_timer, slot);
    s_handover_step (slot);
}

//  HANDOVER from a Master's bus, naming us, for one of our shards.
static void
s_handover_begin (coreapp_t *self, const wa_msg_t *msg)
{
    char why[200];
    uint64_t to = msg->seq;
    slot_t *slot = msg->shard < WA_SHARDS_MAX ? s_slot_of (self, (int) msg->shard) : NULL;
    if (slot && !s_holding (slot))
        slot = NULL;
    int rc = -1;
    if (slot)
        rc = handover_begin (&slot->handover, slot->shard, slot->lease.epoch, self->node.id, (int) msg->shard,
                             msg->epoch, to, msg->text, wa_clock_mono (), why, sizeof why);
    else {
        char shards[WA_SHARDS_MAX * 3 + 8];
        snprintf (why, sizeof why, "we do not hold shard %" PRIu32 " at epoch %" PRIu64 " (we hold %s)",
                  msg->shard, msg->epoch, s_shard_list (self, shards, sizeof shards));
    }
    if (rc) {
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
    handover_t *h = &slot->handover;
    wa_node_event (&self->node, "handover", h->shard, h->epoch, to,
                   "coreapp %" PRIu64 " hands shard %d over to coreapp %" PRIu64 " (asked by master %" PRIu64 ")",
                   self->node.id, h->shard, to, h->master);
    if (slot->handover_timer < 0)
        slot->handover_timer = wa_loop_timer (self->loop, 5, 0, s_on_handover_timer, slot);
    s_handover_step (slot);
}

//  The handover's transaction came back, to the slot that sent it.
static void
s_handover_done (coreapp_t *self, handover_job_t *job)
{
    slot_t *slot = job->owner;
    handover_t *h = &slot->handover;
    int rc = job->job.rc;
    uint64_t to = job->to, new_epoch = job->new_epoch;
    int shard = job->shard;
    char why[sizeof job->why];
    snprintf (why, sizeof why, "%s", job->why);
    handover_job_back (h, job);
    if (slot->handover_timer >= 0)
        wa_loop_timer_end (self->loop, slot->handover_timer);
    slot->handover_timer = -1;
    if (to == 0) {
        //  A release: the session is closed; the row is no longer ours to serve.
        double ms = (double) (wa_clock_mono () - h->started) / 1e3;
        s_demote (slot, rc == 1 ? "released for a change of the shard count" : why);
        if (rc == 1)
            wa_node_event (&self->node, "released", shard, job->epoch, self->node.id,
                           "coreapp %" PRIu64 " released shard %d in %.1f ms (%s)", self->node.id, shard, ms,
                           h->closed ? "the gateway confirmed the logout: the new layout logs in at once"
                                     : "the logout was not confirmed: the new layout waits out the old session");
        return;
    }
    if (rc != 1) {
        s_handover_end (slot, rc == 0 ? 409 : 503, why);
        if (h->unsure)
            wa_warn ("shard %d: no login until a renewal says whether the handover committed", shard);
        s_try_login (slot);
        return;
    }
    double total = (double) (wa_clock_mono () - h->started) / 1e3;
    s_demote (slot, "handed over");
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
    zsock_set_maxmsgsize (self->probe, WA_FRAME_MAX);
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
s_on_masters (wa_loop_t *loop, zsock_t *reader, void *arg)
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
    if (msg.type == WA_MSG_EVENT && self->node.id) {
        //  Promoted (for another shard, too: we hold several): look at once
        //  rather than at the next renewal tick.
        uint64_t subject = 0;
        if (sscanf (msg.text, "promoted %" SCNu64, &subject) == 1 && subject == self->node.id)
            s_on_tick (self->loop, 0, self);
        //  A change of the shard count began: renew now, so that our
        //  draining rows are released at once (s_release_begin).
        if (strncmp (msg.text, "reshard_started ", 16) == 0)
            s_on_tick (self->loop, 0, self);
    }
    return 0;
}

static int
s_on_db (wa_loop_t *loop, zsock_t *reader, void *arg)
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
        bool granted = false;
        for (int i = 0; i < self->shard_job->count; i++)
            granted = granted || self->shard_job->leases[i].rc == 1;
        s_shard_done (self);
        //  Granted for a ttl the settings no longer have: renew under the new one now.
        if (rc == 0 && granted && ttl != WA_SEC (self->settings.shard_lease_ttl))
            s_on_tick (self->loop, 0, self);
    }
    else
    if (wa_reactor_job_done (&self->reactor, job, self->node.db))
        ;
    else
    if (kind == JOB_HANDOVER)
        s_handover_done (self, (handover_job_t *) job);
    else
    //  An identity request's job needs only the answer to the Webapp, which
    //  every slot's identity gives alike: any slot may take it back.
    if (kind == IDENTITY_JOB_KIND && self->nslots)
        identity_job_done (self->slots[0]->identity, job);
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
s_on_tick (wa_loop_t *loop, int timer_id, void *arg)
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
        job->ttl = WA_SEC (self->settings.shard_lease_ttl);
        job->idle = WA_SEC (self->settings.upstream_idle_timeout);
        job->skew = (wa_usec_t) self->config->db_clock_skew * 1000;
        job->count = 0;
        for (int i = 0; i < self->nslots; i++) {
            slot_t *slot = self->slots[i];
            if (s_holding (slot))
                job->leases[job->count++] = (shard_lease_t) { .shard = slot->shard, .epoch = slot->lease.epoch,
                                                              .held = true, .rc = -1 };
        }
        WA_JOB_SUBMIT (self->node.db, self->shard_job);
    }
    wa_masters_job_submit (&self->masters_job, self->node.db, self->settings.db_liveness_interval);
    wa_node_flush_events (&self->node);
    return 0;
}

static void
s_ping (slot_t *slot)
{
    coreapp_t *self = slot->core;
    if (!s_holding (slot))
        return;
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t idle = WA_SEC (self->settings.upstream_idle_timeout);
    if (slot->session.state == SESSION_LOGGING_IN
    &&  now - slot->session.login_sent_at > WA_SEC (self->settings.upstream_login_timeout)) {
        s_close_session (slot, "no answer to login", false);
        s_try_login (slot);
    }
    else
    if (slot->session.state == SESSION_OPEN && now - slot->session.last_pong > idle) {
        s_close_session (slot, "no keepalive answer within the idle timeout", false);
        s_try_login (slot);
    }
    else
    if (slot->session.state == SESSION_OPEN)
        session_ping (&slot->session, now);
}

static int
s_on_ping (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    for (int i = 0; i < self->nslots; i++)
        s_ping (self->slots[i]);
    return 0;
}

static int
s_on_liveness (wa_loop_t *loop, int timer_id, void *arg)
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
s_on_health (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    wa_node_on_health (&self->node);
    return 0;
}

//  --------------------------------------------------------------------------
//  Stats: the fields made for one shard say the lowest we hold (or -1, and
//  the counters are the sums over every slot, so they keep their meaning
//  whatever we hold); "shards" lists what we hold, "slots" each one's own.

static void
s_outbox_add (outbox_stats_t *sum, const outbox_stats_t *o)
{
    sum->accepted += o->accepted;
    sum->retried += o->retried;
    sum->sent += o->sent;
    sum->acked += o->acked;
    sum->duplicates += o->duplicates;
    sum->refused += o->refused;
    sum->queried += o->queried;
    sum->found += o->found;
    sum->batches += o->batches;
    sum->unresolved += o->unresolved;
    sum->depth += o->depth;
    sum->waiting += o->waiting;
}

static json_t *
s_outbox_json (const outbox_stats_t *o)
{
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "accepted", (json_int_t) o->accepted, "retried", (json_int_t) o->retried,
                      "sent", (json_int_t) o->sent, "acked", (json_int_t) o->acked,
                      "duplicates", (json_int_t) o->duplicates, "refused", (json_int_t) o->refused,
                      "queried", (json_int_t) o->queried, "found", (json_int_t) o->found,
                      "batches", (json_int_t) o->batches, "unresolved", (json_int_t) o->unresolved,
                      "depth", (json_int_t) o->depth, "waiting", (json_int_t) o->waiting);
}

//  The callbacks of every slot, summed in callbacks_stats_json's shape.
static json_t *
s_callbacks_sum_json (coreapp_t *self)
{
    callbacks_stats_t sum;
    memset (&sum, 0, sizeof sum);
    sum.pending = -1;
    for (int i = 0; i < self->nslots; i++) {
        callbacks_stats_t s = callbacks_stats (self->slots[i]->callbacks);
        sum.received += s.received;
        sum.rejected += s.rejected;
        sum.stored += s.stored;
        sum.acked += s.acked;
        sum.delivered += s.delivered;
        sum.skipped += s.skipped;
        sum.failed_attempts += s.failed_attempts;
        sum.full_episodes += s.full_episodes;
        sum.fenced += s.fenced;
        if (s.pending >= 0)
            sum.pending = (sum.pending < 0 ? 0 : sum.pending) + s.pending;
        sum.loaded += s.loaded;
        sum.in_flight += s.in_flight;
        sum.incoming += s.incoming;
        sum.full = sum.full || s.full;
    }
    return json_pack ("{s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
                      "pending", (json_int_t) sum.pending, "delivered", (json_int_t) sum.delivered,
                      "failed_attempts", (json_int_t) sum.failed_attempts, "in_flight", (json_int_t) sum.in_flight,
                      "full", sum.full, "received", (json_int_t) sum.received, "rejected", (json_int_t) sum.rejected,
                      "stored", (json_int_t) sum.stored, "acked", (json_int_t) sum.acked,
                      "skipped", (json_int_t) sum.skipped, "full_episodes", (json_int_t) sum.full_episodes,
                      "fenced", (json_int_t) sum.fenced, "loaded", (json_int_t) sum.loaded,
                      "incoming", (json_int_t) sum.incoming, "queue_max", self->settings.callbacks_queue_max);
}

static json_t *
s_contacts_sum_json (coreapp_t *self)
{
    contacts_stats_t sum;
    memset (&sum, 0, sizeof sum);
    for (int i = 0; i < self->nslots; i++) {
        contacts_stats_t s = contacts_stats (self->slots[i]->contacts);
        sum.requests += s.requests;
        sum.asked += s.asked;
        sum.answered += s.answered;
        sum.timeouts += s.timeouts;
        sum.cache_hits += s.cache_hits;
        sum.cached += s.cached;
        sum.checking += s.checking;
    }
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "requests", (json_int_t) sum.requests, "asked", (json_int_t) sum.asked,
                      "answered", (json_int_t) sum.answered, "timeouts", (json_int_t) sum.timeouts,
                      "cache_hits", (json_int_t) sum.cache_hits, "cached", (json_int_t) sum.cached,
                      "checking", (json_int_t) sum.checking);
}

static json_t *
s_reads_sum_json (coreapp_t *self)
{
    reads_stats_t sum;
    memset (&sum, 0, sizeof sum);
    for (int i = 0; i < self->nslots; i++) {
        reads_stats_t s = reads_stats (self->slots[i]->reads);
        sum.requests += s.requests;
        sum.sent += s.sent;
        sum.acked += s.acked;
        sum.unknown += s.unknown;
        sum.timeouts += s.timeouts;
        sum.waiting += s.waiting;
    }
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t) sum.requests,
                      "sent", (json_int_t) sum.sent, "acked", (json_int_t) sum.acked,
                      "unknown", (json_int_t) sum.unknown, "timeouts", (json_int_t) sum.timeouts,
                      "waiting", (json_int_t) sum.waiting);
}

static int
s_on_control (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    s_holding_any (self);
    slot_t *first = s_first_held (self);
    outbox_stats_t sum;
    memset (&sum, 0, sizeof sum);
    uint64_t sessions_opened = 0;
    json_t *shards = json_array (), *slots = json_array ();
    for (int shard = 0; shard < WA_SHARDS_MAX; shard++) {
        slot_t *slot = s_slot_of (self, shard);
        if (!slot)
            continue;
        outbox_stats_t o = outbox_stats (slot->outbox);
        json_array_append_new (shards, json_integer (shard));
        json_array_append_new (slots, json_pack ("{s:i, s:I, s:s, s:s, s:I, s:o, s:o}", "shard", shard,
                                                 "epoch", (json_int_t) slot->lease.epoch,
                                                 "session", session_state_name (slot->session.state),
                                                 "gateway_status", slot->gateway,
                                                 "sessions_opened", (json_int_t) slot->sessions_opened,
                                                 "outbox", s_outbox_json (&o),
                                                 "callbacks", callbacks_stats_json (slot->callbacks)));
    }
    for (int i = 0; i < self->nslots; i++) {
        outbox_stats_t o = outbox_stats (self->slots[i]->outbox);
        s_outbox_add (&sum, &o);
        sessions_opened += self->slots[i]->sessions_opened;
    }
    json_t *stats = json_pack ("{s:I, s:s, s:s, s:i, s:o, s:o, s:I, s:s, s:I, s:I, s:i, s:I, s:I,"
                               " s:o, s:o, s:o, s:o, s:o}",
                               "node", (json_int_t) self->node.id, "kind", "coreapp", "role", self->node.role,
                               "shard", first ? first->shard : -1, "shards", shards, "slots", slots,
                               "epoch", (json_int_t) self->node.epoch,
                               "session", session_state_name (first ? first->session.state : SESSION_CLOSED),
                               "sessions_opened", (json_int_t) sessions_opened,
                               "heartbeats", (json_int_t) self->heartbeats, "masters", self->peers.count,
                               "api_requests", (json_int_t) self->api_requests,
                               "api_refused", (json_int_t) self->api_refused,
                               "outbox", s_outbox_json (&sum),
                               "callbacks", s_callbacks_sum_json (self),
                               "contacts", s_contacts_sum_json (self), "db", wa_dbworker_stats_json (),
                               "reads", s_reads_sum_json (self));
    wa_node_on_control (&self->node, stats);
    json_decref (stats);
    return 0;
}

//  --------------------------------------------------------------------------
//  The API port: the Webapps' requests (API_REQ, a JSON object naming its
//  op and, for what belongs to a shard, its "shard"), each answered with an
//  API_REP carrying an HTTP status and a JSON object. Nothing here waits:
//  a message goes to its shard's outbox, which answers once its row is
//  committed.

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
    s_reply (self, peer, seq, text ? status : 500, text ? text : "");
    free (text);
    self->api_refused++;
}

//  Why the slot's upstream session cannot take a request now, NULL when it can.
static const char *
s_session_unavailable (slot_t *slot)
{
    if (slot->session.state == SESSION_OPEN)
        return NULL;
    if (streq (slot->gateway, "unregistered"))
        return "the account is not registered upstream: POST /v1/account, then /v1/account/verify";
    return "the upstream session is not open yet";
}

//  For what belongs to no shard (contact checks): a shard we hold whose
//  session is open, else any we hold.
static slot_t *
s_any_slot (coreapp_t *self)
{
    slot_t *any = NULL;
    for (int shard = 0; shard < WA_SHARDS_MAX; shard++) {
        slot_t *slot = s_slot_of (self, shard);
        if (!slot || !s_holding (slot) || handover_active (&slot->handover))
            continue;
        if (slot->session.state == SESSION_OPEN)
            return slot;
        if (!any)
            any = slot;
    }
    return any ? any : s_first_held (self);
}

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

//  The slot that serves request root (check_shard; else any we hold), or
//  NULL once the request is answered: 1018 when we do not hold its shard
//  (the Webapp reads the shard map again and retries), 1011 while it is
//  being handed over.
static slot_t *
s_serving (coreapp_t *self, zframe_t **peer, uint64_t seq, json_t *root, bool check_shard)
{
    slot_t *slot = NULL;
    if (!check_shard)
        slot = s_any_slot (self);
    else {
        int shard = s_request_shard (self, root);
        slot = shard >= 0 ? s_slot_of (self, shard) : NULL;
    }
    if (slot && !s_holding (slot))
        slot = NULL;
    char shards[WA_SHARDS_MAX * 3 + 8];
    if (!slot && !s_holding_any (self))
        s_api_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_COREAPP, "coreapp %" PRIu64 " is not primary",
                     self->node.id);
    else
    if (!slot)
        s_api_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_COREAPP, "coreapp %" PRIu64 " holds shard %s, not "
                     "this one", self->node.id, s_shard_list (self, shards, sizeof shards));
    else
    if (handover_active (&slot->handover))
        s_api_error (self, peer, seq, 503, WA_ERR_NOT_READY, "coreapp %" PRIu64 " is handing shard %d over",
                     self->node.id, slot->shard);
    else
        return slot;
    return NULL;
}

static void
s_api_request (coreapp_t *self, zframe_t **peer, const wa_msg_t *msg)
{
    json_error_t error;
    json_t *root = json_loadb (msg->text, msg->text_len, JSON_REJECT_DUPLICATES, &error);
    const char *op = root ? json_string_value (json_object_get (root, "op")) : NULL;
    slot_t *slot;
    if (!root || !op)
        s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "the request is not a JSON object with an 'op'");
    else
    if (streq (op, "send")) {
        const char *key = json_string_value (json_object_get (root, "key"));
        const char *route = json_string_value (json_object_get (root, "route"));
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
        if (json_object_get (root, "route") && (!route || !streq (route, message.to)))
            s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'route' is not the message's recipient");
        else
        if ((slot = s_serving (self, peer, msg->seq, root, true)))
            outbox_accept (slot->outbox, peer, msg->seq, key, &message);
    }
    else
    if (streq (op, "contacts")) {
        if ((slot = s_serving (self, peer, msg->seq, NULL, false)))
            contacts_request (slot->contacts, peer, msg->seq, root, s_session_unavailable (slot));
    }
    else
    if (streq (op, "read")) {
        //  Routed by its sender: a route that is not it would read the
        //  message on another conversation's shard.
        const char *route = json_string_value (json_object_get (root, "route"));
        const char *from = json_string_value (json_object_get (root, "from"));
        if (json_object_get (root, "route") && (!route || !from || !streq (route, from)))
            s_api_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'route' is not the message's sender");
        else
        if ((slot = s_serving (self, peer, msg->seq, root, true)))
            reads_request (slot->reads, peer, msg->seq, root, s_session_unavailable (slot));
    }
    else
    if (streq (op, "identity")) {
        if ((slot = s_serving (self, peer, msg->seq, root, true)))
            identity_request (slot->identity, peer, msg->seq, root, s_session_unavailable (slot));
    }
    else
        s_api_error (self, peer, msg->seq, 400, WA_ERR_NOT_FOUND, "unknown op '%.40s'", op);
    json_decref (root);
}

static int
s_on_api (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    coreapp_t *self = arg;
    for (int i = 0; i < 1000; i++) {
        zframe_t *peer = NULL;
        int why = 0;
        int rc = wa_codec_try_recv (self->node.api, &peer, &self->msg, &why);
        if (rc == 1)
            break;
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
s_on_outbox_tick (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapp_t *self = arg;
    for (int i = 0; i < self->nslots; i++)
        outbox_tick (self->slots[i]->outbox);
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

//  What is left of timeout (ms) until until (zclock_mono), never below 0.
static int
s_left (int64_t until)
{
    int64_t left = until - zclock_mono ();
    return left > 0 ? (int) left : 0;
}

static void
s_shutdown (coreapp_t *self)
{
    int timeout = self->config->db_statement_timeout * 1000 + 500;
    //  Sessions first, leases after: a lease may end only once its session has.
    for (int i = 0; i < self->nslots; i++)
        s_close_session (self->slots[i], "stopping", false);
    //  Requests that wait get 1011 (the Webapp retries them elsewhere);
    //  inserts and acknowledgements under way are finished, within one
    //  timeout for every slot together.
    int64_t until = zclock_mono () + timeout;
    for (int i = 0; i < self->nslots; i++) {
        outbox_drain (self->slots[i]->outbox, s_left (until));
        callbacks_drain (self->slots[i]->callbacks, s_left (until));
    }
    wa_node_wait_jobs (&self->node, timeout, s_job_dropped, self);
    until = zclock_mono () + timeout;
    for (int i = 0; i < self->nslots; i++) {
        slot_t *slot = self->slots[i];
        if (!s_holding (slot))
            continue;
        release_job_t *job = WA_JOB_NEW (release_job_t, JOB_RELEASE, core_release_run, NULL);
        job->node = self->node.id;
        job->shard = slot->shard;
        job->epoch = slot->lease.epoch;
        wa_job_t *back = wa_node_run_sync (&self->node, &job->job, s_left (until), s_job_dropped, self);
        wa_job_destroy (&back);
        s_demote (slot, "stopping");
    }
    for (int i = 0; i < self->nslots; i++) {
        contacts_destroy (&self->slots[i]->contacts);
        reads_destroy (&self->slots[i]->reads);
        identity_destroy (&self->slots[i]->identity);
    }
    wa_node_finish (&self->node, "disconnected", timeout, s_job_dropped, self);
}

//  Once the node's worker is gone (a job it still had is destroyed there).
static void
s_destroy (coreapp_t **self_p)
{
    coreapp_t *self = *self_p;
    for (int i = 0; i < self->nslots; i++)
        s_slot_destroy (self, &self->slots[i]);
    self->nslots = 0;
    WA_JOB_DESTROY (self->shard_job);
    WA_JOB_DESTROY (self->masters_job);
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
    self->gateway = "disconnected";
    self->shard_job = WA_JOB_NEW (shard_job_t, JOB_SHARD, core_shard_run, NULL);
    self->masters_job = wa_masters_job_new ();
    self->outbox_timer = -1;
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

    self->loop = wa_loop_new ();
    wa_notify_watchdog_start (self->loop);
    wa_peers_init (&self->peers, self->node.trust, self->loop, s_on_masters, s_on_masters_socket, self);
    s_probe_start (self);
    //  The first slot from the start, as one shard's workers always were:
    //  a Coreapp that cannot start them does not run.
    if (!s_slot_new (self)) {
        wa_peers_destroy (&self->peers, self->loop);
        wa_relink_destroy (&self->probe_watch);
        zsock_destroy (&self->probe);
        wa_loop_destroy (&self->loop);
        wa_node_stop (&self->node);
        s_destroy (&self);
        return 1;
    }
    wa_loop_reader (self->loop, wa_dbworker_sock (self->node.db), s_on_db, self);
    wa_timer_every (self->loop, &self->outbox_timer, 0.1, s_on_outbox_tick, self);
    wa_loop_reader (self->loop, self->node.health, s_on_health, self);
    wa_loop_reader (self->loop, self->node.control, s_on_control, self);
    wa_loop_reader (self->loop, self->node.api, s_on_api, self);
    wa_node_watch (&self->node, self->loop);
    wa_reactor_init (&self->reactor, self->loop, &self->settings, self, s_settings_applied);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, shard_renew_interval), s_on_tick);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, upstream_ping_interval), s_on_ping);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, db_liveness_interval), s_on_liveness);
    s_on_tick (self->loop, 0, self);
    wa_loop_start (self->loop);
    wa_info ("stopping");
    wa_notify_stopping ();
    s_shutdown (self);
    int rc = self->node.fatal ? 1 : 0;
    wa_peers_destroy (&self->peers, self->loop);
    wa_relink_destroy (&self->probe_watch);
    zsock_destroy (&self->probe);
    //  The callbacks end their readers and timers on the loop: before it goes.
    for (int i = 0; i < self->nslots; i++)
        callbacks_destroy (&self->slots[i]->callbacks);
    wa_loop_destroy (&self->loop);
    for (int i = 0; i < self->nslots; i++)
        outbox_destroy (&self->slots[i]->outbox);
    wa_node_stop (&self->node);
    s_destroy (&self);
    return rc;
}
