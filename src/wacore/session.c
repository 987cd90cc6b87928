/*  session — see session.h */
#include "wa_log.h"
#include "session.h"

void
session_init (session_t *self, const wa_config_t *config)
{
    memset (self, 0, sizeof *self);
    self->config = config;
}

const char *
session_state_name (session_state_t state)
{
    return state == SESSION_OPEN ? "open" : state == SESSION_LOGGING_IN ? "logging_in"
         : state == SESSION_CLOSING ? "closing" : "closed";
}

bool
session_may_login (const session_t *self, wa_usec_t now)
{
    return self->state == SESSION_CLOSED && now >= self->quiet_until;
}

static int
s_send (session_t *self, wa_msg_t *msg, wa_usec_t now)
{
    if (wa_codec_send (self->sock, NULL, msg))
        return -1;
    self->last_sent = now;
    return 0;
}

int
session_open (session_t *self, uint64_t node, uint32_t shard, uint32_t shards, uint64_t epoch,
              wa_usec_t now)
{
    assert (self->state == SESSION_CLOSED);
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_sndtimeo (self->sock, 0);
    //  A frame over the codec's limit is dropped by libzmq before it is
    //  buffered whole (the codec would refuse it anyway).
    zsock_set_maxmsgsize (self->sock, WA_FRAME_MAX);
    if (zsock_connect (self->sock, "%s", self->config->upstream_endpoint)) {
        wa_error ("cannot connect to upstream %s", self->config->upstream_endpoint);
        zsock_destroy (&self->sock);
        return -1;
    }
    self->node = node;
    self->shard = shard;
    self->shards = shards;
    self->epoch = epoch;
    self->id = 0;
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_LOGIN);
    snprintf (msg.account, sizeof msg.account, "%s", self->config->account);
    msg.shard = shard;
    msg.code = shards;          //  the layout's shard count (optional on the wire)
    msg.node = node;
    msg.epoch = epoch;
    self->login_sent_at = now;
    self->last_pong = now;
    self->state = SESSION_LOGGING_IN;
    //  Queued until the connection is up; the login timeout covers the rest.
    s_send (self, &msg, now);
    return 0;
}

void
session_close (session_t *self, wa_usec_t now, bool confirmed_gone)
{
    if (self->state == SESSION_CLOSED)
        return;
    //  Only a LOGOUT may outlive the socket, and only briefly (far less than
    //  the lease margin): nothing queued may reach the gateway late.
    zsock_set_linger (self->sock, 0);
    if (self->state == SESSION_OPEN && !confirmed_gone) {
        zsock_set_linger (self->sock, 100);
        wa_msg_t msg;
        wa_msg_init (&msg, WA_MSG_LOGOUT);
        msg.session = self->id;
        s_send (self, &msg, now);
    }
    if (!confirmed_gone) {
        wa_usec_t quiet = self->last_sent + wa_clock_from_sec (self->config->upstream_idle_timeout);
        //  A login given up before its answer may still open a session at
        //  the gateway when it arrives, and that session's idle time counts
        //  from its arrival, not from our sending (a keepalive carries its
        //  own sending time; a login does not). Allow it the transit a login
        //  may take, below lease_margin by the safety argument's assumption
        //  3 (docs/ARCHITECTURE.md), or our next login on a new connection
        //  finds it open: two sessions of the account at once (wagate
        //  counted one under make asan, 9 ms of transit sufficing).
        if (self->state == SESSION_LOGGING_IN)
            quiet += wa_clock_from_sec (self->config->lease_margin);
        if (quiet > self->quiet_until)
            self->quiet_until = quiet;
    }
    zsock_destroy (&self->sock);
    self->state = SESSION_CLOSED;
    self->id = 0;
}

int
session_logout (session_t *self, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_LOGOUT);
    msg.session = self->id;
    if (s_send (self, &msg, now))
        return -1;
    self->state = SESSION_CLOSING;
    return 0;
}

int
session_ping (session_t *self, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_PING);
    msg.session = self->id;
    //  Microseconds since the login went out: lets the gateway tell when
    //  this keepalive was sent, however long it spent in transit.
    msg.seq = (uint64_t) (now - self->login_sent_at);
    return s_send (self, &msg, now);
}

int
session_send (session_t *self, uint64_t seq, const char *payload, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t *msg = &self->out;
    wa_msg_init (msg, WA_MSG_SEND);
    msg->session = self->id;
    msg->seq = seq;
    wa_msg_set_text (msg, payload);
    return s_send (self, msg, now);
}

int
session_query (session_t *self, const char *id, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t *msg = &self->out;
    wa_msg_init (msg, WA_MSG_QUERY);
    msg->session = self->id;
    wa_msg_set_text (msg, id);
    return s_send (self, msg, now);
}

int
session_event_ack (session_t *self, uint64_t seq, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t *msg = &self->out;
    wa_msg_init (msg, WA_MSG_UP_EVENT_ACK);
    msg->session = self->id;
    msg->seq = seq;
    return s_send (self, msg, now);
}

int
session_contacts (session_t *self, uint64_t seq, const char *payload, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t *msg = &self->out;
    wa_msg_init (msg, WA_MSG_CONTACTS);
    msg->session = self->id;
    msg->seq = seq;
    wa_msg_set_text (msg, payload);
    return s_send (self, msg, now);
}

int
session_read (session_t *self, uint64_t seq, const char *payload, wa_usec_t now)
{
    if (self->state != SESSION_OPEN)
        return -1;
    wa_msg_t *msg = &self->out;
    wa_msg_init (msg, WA_MSG_READ);
    msg->session = self->id;
    msg->seq = seq;
    wa_msg_set_text (msg, payload);
    return s_send (self, msg, now);
}

//  An answer to something sent on this session, open or closing.
static bool
s_answering (const session_t *self, const wa_msg_t *msg)
{
    return (self->state == SESSION_OPEN || self->state == SESSION_CLOSING) && msg->session == self->id;
}

session_event_t
session_on_message (session_t *self, wa_usec_t now, wa_msg_t *out)
{
    wa_msg_t *msg = out;
    int why = 0;
    int rc = wa_codec_try_recv (self->sock, NULL, msg, &why);
    if (rc == 1)
        return SESSION_EV_EMPTY;
    if (rc == -2) {
        wa_warn ("upstream sent a malformed frame: %s", wa_codec_strerror (why));
        return SESSION_EV_NONE;
    }
    if (rc)
        return SESSION_EV_NONE;
    switch (msg->type) {
        case WA_MSG_LOGIN_OK:
            if (self->state != SESSION_LOGGING_IN)
                return SESSION_EV_NONE;
            self->state = SESSION_OPEN;
            self->id = msg->session;
            self->last_pong = now;
            return SESSION_EV_OPENED;
        case WA_MSG_LOGIN_REFUSED:
            snprintf (self->last_reason, sizeof self->last_reason, "%.120s", msg->text);
            return SESSION_EV_REFUSED;
        case WA_MSG_PONG:
            if (self->state == SESSION_OPEN && msg->session == self->id)
                self->last_pong = now;
            return SESSION_EV_NONE;
        case WA_MSG_SESSION_GONE:
            if ((self->state != SESSION_OPEN && self->state != SESSION_CLOSING) || msg->session != self->id)
                return SESSION_EV_NONE;
            snprintf (self->last_reason, sizeof self->last_reason, "%.120s", msg->text);
            return SESSION_EV_GONE;
        case WA_MSG_LOGOUT_OK:
            return self->state == SESSION_CLOSING && msg->session == self->id ? SESSION_EV_LOGGED_OUT
                                                                               : SESSION_EV_NONE;
        case WA_MSG_SEND_ACK:
            return s_answering (self, msg) ? SESSION_EV_SEND_ACK : SESSION_EV_NONE;
        case WA_MSG_QUERY_REPLY:
            return s_answering (self, msg) ? SESSION_EV_QUERY_REPLY : SESSION_EV_NONE;
        case WA_MSG_UP_EVENT:
            return self->state == SESSION_OPEN && msg->session == self->id ? SESSION_EV_UP_EVENT : SESSION_EV_NONE;
        case WA_MSG_CONTACTS_REPLY:
            return s_answering (self, msg) ? SESSION_EV_CONTACTS_REPLY : SESSION_EV_NONE;
        case WA_MSG_READ_ACK:
            return s_answering (self, msg) ? SESSION_EV_READ_ACK : SESSION_EV_NONE;
        case WA_MSG_UNREGISTERED:
            if (self->state != SESSION_LOGGING_IN)
                return SESSION_EV_NONE;
            snprintf (self->last_reason, sizeof self->last_reason, "%.120s", msg->text);
            return SESSION_EV_UNREGISTERED;
        default:
            wa_warn ("upstream sent an unexpected %s", wa_codec_type_name (msg->type));
            return SESSION_EV_NONE;
    }
}
