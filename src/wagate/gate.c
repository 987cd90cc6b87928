/*  gate — see gate.h */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <jansson.h>
#include "stickers.h"
#include "wa_clock.h"
#include "wa_codec.h"
#include "wa_log.h"
#include "wa_notify.h"
#include "gate.h"
#include "referee.h"
#include "events.h"
#include "registration.h"
#include "templates.h"
#include "wa_errors.h"

#define S_STATS_TIMEOUT_MSEC 3000
#define S_SWEEP_MIN_MSEC 5
#define S_EVENTS_TICK_MSEC 10

struct _gate_t {
    bool pump;                  //  a LOGIN or SEND came: what waits may go
    zsock_t *sessions;
    zsock_t *control;
    wa_loop_t *loop;
    referee_t *referee;
    FILE *ledger;
    wa_msg_t *msg;              //  16 KB each: kept off the stack
    wa_msg_t *reply;
    wa_msg_t *notice;           //  SESSION_GONE to others, built beside a reply
    events_t *events;           //  statuses and inbound messages (events.h)
    wa_msg_t *event_out;        //  an UP_EVENT being sent
    account_t *account;         //  registration and contact checks (account.h)
    uint64_t unregistered_logins;
};

static zsock_t *
s_router_bind (const char *endpoint, const char *what)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock) {
        wa_error ("cannot create the %s socket", what);
        return NULL;
    }
    //  A new session gets every unacknowledged event at once (up to
    //  EVENTS_WINDOW per session): past the default high-water mark a ROUTER
    //  would drop them silently.
    zsock_set_sndhwm (sock, 0);
    zsock_set_maxmsgsize (sock, WA_FRAME_MAX);
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        wa_error ("cannot bind the %s socket on %s: %s", what, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

static void
s_owner_set (referee_owner_t *owner, zframe_t *routing_id)
{
    size_t size = zframe_size (routing_id);
    //  ZeroMQ routing ids are at most 255 bytes.
    assert (size <= sizeof owner->data);
    owner->size = size;
    memcpy (owner->data, zframe_data (routing_id), size);
}

static void
s_send_error (gate_t *self, zsock_t *sock, zframe_t *routing_id, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_send_error (gate_t *self, zsock_t *sock, zframe_t *routing_id, const char *fmt, ...)
{
    char text [256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    wa_msg_init (self->reply, WA_MSG_ERROR);
    self->reply->code = 400;
    wa_msg_set_text (self->reply, text);
    wa_codec_send (sock, routing_id, self->reply);
}

//  Tell the owners of sessions the referee closed on its own.
static void
s_send_gone (gate_t *self)
{
    referee_gone_t gone;
    while (referee_next_gone (self->referee, &gone)) {
        wa_info ("session %" PRIu64 " of %s/%" PRIu32 " (node %" PRIu64 " epoch %" PRIu64 ") %s",
                 gone.session, gone.account, gone.shard, gone.node, gone.epoch, gone.reason);
        zframe_t *routing_id = zframe_new (gone.owner.data, gone.owner.size);
        if (!routing_id)
            continue;
        wa_msg_init (self->notice, WA_MSG_SESSION_GONE);
        self->notice->session = gone.session;
        wa_msg_set_text (self->notice, gone.reason);
        wa_codec_send (self->sessions, routing_id, self->notice);
        zframe_destroy (&routing_id);
    }
}

static void
s_log_overlap (const referee_overlap_t *record)
{
    char since [48];
    referee_format_time (record->old_since, 3, since, sizeof since);
    //  shard/count, ? when the count is unknown
    char layout [32], old_layout [32];
    snprintf (layout, sizeof layout, record->shards? "%" PRIu32 "/%" PRIu32: "%" PRIu32 "/?",
              record->shard, record->shards);
    snprintf (old_layout, sizeof old_layout, record->old_shards? "%" PRIu32 "/%" PRIu32: "%" PRIu32 "/?",
              record->old_shard, record->old_shards);
    wa_warn ("OVERLAP %s shard %s: node %" PRIu64 " epoch %" PRIu64 " logged in while session %"
             PRIu64 " of shard %s, node %" PRIu64 " epoch %" PRIu64 " (open since %s) was still open",
             record->account, layout, record->new_node, record->new_epoch,
             record->old_session, old_layout, record->old_node, record->old_epoch, since);
}

static void
s_handle_login (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    const wa_msg_t *msg = self->msg;
    referee_result_t result;
    //  code: the layout's shard count, 0 when the LOGIN did not say
    int rc = referee_login (self->referee, owner, msg->account, msg->shard, msg->code, msg->node,
                            msg->epoch, now, &result);
    if (result.overlaps > 1)
        wa_warn ("OVERLAP %s: the login of node %" PRIu64 " overlapped %" PRIu32 " open sessions, the last:",
                 msg->account, msg->node, result.overlaps);
    if (result.overlap)
        s_log_overlap (&result.overlap_record);
    //  Sessions closed to make room are told first: the old one ends before
    //  the new one starts.
    s_send_gone (self);
    if (rc == 0) {
        wa_info ("login %s/%" PRIu32 " of %" PRIu32 " node %" PRIu64 " epoch %" PRIu64 ": session %" PRIu64,
                 msg->account, msg->shard, msg->code, msg->node, msg->epoch, result.session);
        wa_msg_init (self->reply, WA_MSG_LOGIN_OK);
        self->reply->session = result.session;
    }
    else {
        wa_info ("login %s/%" PRIu32 " node %" PRIu64 " refused: %s",
                 msg->account, msg->shard, msg->node, result.text);
        wa_msg_init (self->reply, WA_MSG_LOGIN_REFUSED);
        self->reply->epoch = result.epoch;
        wa_msg_set_text (self->reply, result.text);
    }
}

//  The sender's session is gone (or not its own).
static void
s_reply_gone (gate_t *self, const referee_result_t *result)
{
    wa_debug ("%s for session %" PRIu64 ": gone (%s)",
              wa_codec_type_name (self->msg->type), self->msg->session, result->text);
    wa_msg_init (self->reply, WA_MSG_SESSION_GONE);
    self->reply->session = result->session;
    wa_msg_set_text (self->reply, result->text);
}

static void
s_handle_session_msg (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    const wa_msg_t *msg = self->msg;
    referee_result_t result;
    int rc;
    if (msg->type == WA_MSG_PING)
        rc = referee_ping (self->referee, owner, msg->session, msg->seq, now, &result);
    else
        rc = referee_logout (self->referee, owner, msg->session, now, &result);
    s_send_gone (self);
    if (rc == 0 && msg->type == WA_MSG_PING) {
        wa_msg_init (self->reply, WA_MSG_PONG);
        self->reply->session = result.session;
        self->reply->seq = result.seq;
    }
    else
    if (rc == 0) {
        wa_info ("logout: session %" PRIu64, result.session);
        wa_msg_init (self->reply, WA_MSG_LOGOUT_OK);
        self->reply->session = result.session;
    }
    else
        s_reply_gone (self, &result);
}

static void
s_log_duplicate (const referee_duplicate_t *record)
{
    char first_at [48], again_at [48];
    referee_format_time (record->first.at, 3, first_at, sizeof first_at);
    referee_format_time (record->again.at, 3, again_at, sizeof again_at);
    wa_warn ("DUPLICATE message %s: first from %s/%" PRIu32 " node %" PRIu64 " epoch %" PRIu64
             " session %" PRIu64 " at %s, again from %s/%" PRIu32 " node %" PRIu64 " epoch %"
             PRIu64 " session %" PRIu64 " at %s", record->id,
             record->first.account, record->first.shard, record->first.node, record->first.epoch,
             record->first.session, first_at,
             record->again.account, record->again.shard, record->again.node, record->again.epoch,
             record->again.session, again_at);
}

//  A new message: the network will report its statuses (events.h).
static void
s_message_events (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    referee_result_t result;
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    if (referee_session_key (self->referee, owner, self->msg->session, now, &result, account,
                             sizeof account, &shard, NULL))
        return;
    json_t *root = json_loadb (self->msg->text, self->msg->text_len, 0, NULL);
    const char *id = json_string_value (json_object_get (root, "id"));
    const char *to = json_string_value (json_object_get (root, "to"));
    const char *type = json_string_value (json_object_get (root, "type"));
    //  A template the network cannot fill fails, as the real one reports it.
    char details [256];
    int code = type && streq (type, "template")
             ? templates_check (json_object_get (root, "body"), details, sizeof details) : 0;
    if (code && id && to) {
        wa_info ("template message %s to %s failed (%d): %s", id, to, code, details);
        if (events_message_failed (self->events, account, shard, id, to, code, wa_error_title (code), details))
            wa_warn ("no failed status for message %s: no room", id);
    }
    else
    if (id && to && events_message (self->events, account, shard, id, to, now))
        wa_warn ("no statuses for message %s: %" PRIu64 " events wait for an acknowledgement",
                 id, events_stats (self->events).pending);
    json_decref (root);
}

//  UP_EVENT_ACK: the Coreapp stored that event. Nothing is answered unless
//  the session is gone.
static void
s_handle_event_ack (gate_t *self, zsock_t *sock, zframe_t *routing_id, const referee_owner_t *owner,
                    wa_usec_t now)
{
    referee_result_t result;
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard, shards;
    int rc = referee_session_key (self->referee, owner, self->msg->session, now, &result, account,
                                  sizeof account, &shard, &shards);
    s_send_gone (self);
    if (rc) {
        s_reply_gone (self, &result);
        wa_codec_send (sock, routing_id, self->reply);
    }
    else
    if (events_ack (self->events, account, shard, shards, self->msg->session, self->msg->seq))
        wa_debug ("acknowledgement of no pending event of the session's keys: %s/%" PRIu32 " of %" PRIu32
                  " seq %" PRIu64, account, shard, shards, self->msg->seq);
}

//  The account's open sessions and their layouts, for the events to route by.
static size_t
s_event_sessions (void *arg, const char *account, events_session_t *out, size_t max)
{
    gate_t *self = (gate_t *) arg;
    uint64_t sessions [EVENTS_SESSIONS_MAX];
    uint32_t shard [EVENTS_SESSIONS_MAX], shards [EVENTS_SESSIONS_MAX];
    if (max > EVENTS_SESSIONS_MAX)
        max = EVENTS_SESSIONS_MAX;
    size_t count = referee_open_sessions (self->referee, account, sessions, shard, shards, max);
    for (size_t index = 0; index < count; index++) {
        out [index].session = sessions [index];
        out [index].shard = shard [index];
        out [index].shards = shards [index];
    }
    return count;
}

static int
s_event_send (void *arg, const char *account, uint64_t session, uint64_t seq, const char *text)
{
    (void) account;
    gate_t *self = (gate_t *) arg;
    referee_owner_t owner;
    if (referee_open_owner (self->referee, session, &owner))
        return -1;
    zframe_t *routing_id = zframe_new (owner.data, owner.size);
    if (!routing_id)
        return -1;
    wa_msg_init (self->event_out, WA_MSG_UP_EVENT);
    self->event_out->session = session;
    self->event_out->seq = seq;
    wa_msg_set_text (self->event_out, text);
    int rc = wa_codec_send (self->sessions, routing_id, self->event_out);
    zframe_destroy (&routing_id);
    return rc;
}

static void
s_events_pump (gate_t *self)
{
    events_pump (self->events, s_event_sessions, s_event_send, self, wa_clock_mono ());
}

//  SEND → SEND_ACK (0 new, 1 duplicate, 2 refused) or SESSION_GONE.
static void
s_handle_send (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    const wa_msg_t *msg = self->msg;
    referee_result_t result;
    int rc = referee_send (self->referee, owner, msg->session, msg->seq, msg->text, now, &result);
    s_send_gone (self);
    if (rc == -1) {
        s_reply_gone (self, &result);
        return;
    }
    if (rc == REFEREE_SEND_NEW)
        s_message_events (self, owner, now);
    //  Counted every time; said for the first and then at each power of two.
    size_t misrouted = referee_misrouted_count (self->referee);
    if (result.misrouted && (misrouted & (misrouted - 1)) == 0)
        wa_warn ("MISROUTED message %s on session %" PRIu64 ": its recipient is shard %" PRIu32
                 " of the session's layout (%zu so far)", result.text, msg->session,
                 result.recipient_shard, misrouted);
    if (rc == REFEREE_SEND_DUPLICATE)
        s_log_duplicate (&result.duplicate_record);
    else
    if (rc == REFEREE_SEND_REFUSED)
        wa_info ("message refused on session %" PRIu64 ": %s", msg->session, result.text);
    wa_msg_init (self->reply, WA_MSG_SEND_ACK);
    self->reply->session = result.session;
    self->reply->seq = result.seq;
    self->reply->code = result.code;
    wa_msg_set_text (self->reply, result.text);
}

//  QUERY → QUERY_REPLY (1 received, 0 not) or SESSION_GONE.
static void
s_handle_query (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    const wa_msg_t *msg = self->msg;
    referee_result_t result;
    int rc = referee_query (self->referee, owner, msg->session, msg->text, now, &result);
    s_send_gone (self);
    if (rc == -1) {
        s_reply_gone (self, &result);
        return;
    }
    if (rc == 1)
        wa_warn ("query on session %" PRIu64 " for an invalid message id (%s): answered 0",
                 msg->session, result.text);
    wa_msg_init (self->reply, WA_MSG_QUERY_REPLY);
    self->reply->session = result.session;
    self->reply->code = result.code;
    //  The id as asked, even one too long for the referee's result.
    wa_msg_set_text (self->reply, msg->text);
}

//  While the account is not registered no session opens: UNREGISTERED.
static void
s_handle_unregistered_login (gate_t *self)
{
    if (self->unregistered_logins++ == 0)
        wa_info ("login %s/%" PRIu32 " node %" PRIu64 ": the account is not registered (logged once)",
                 self->msg->account, self->msg->shard, self->msg->node);
    wa_msg_init (self->reply, WA_MSG_UNREGISTERED);
    wa_msg_set_text (self->reply, "the account is not registered: request a code, then verify it");
}

//  CONTACTS → CONTACTS_REPLY, on an open session of its owner (not activity).
static void
s_handle_contacts (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    referee_result_t result;
    char account [REFEREE_ACCOUNT_MAX + 1], why [160];
    uint32_t shard;
    int rc = referee_session_key (self->referee, owner, self->msg->session, now, &result, account,
                                  sizeof account, &shard, NULL);
    s_send_gone (self);
    if (rc) {
        s_reply_gone (self, &result);
        return;
    }
    char *answer = account_contacts (self->account, self->msg->text, self->msg->text_len, why, sizeof why);
    wa_msg_init (self->reply, WA_MSG_CONTACTS_REPLY);
    self->reply->session = self->msg->session;
    self->reply->seq = self->msg->seq;
    if (!answer) {
        wa_warn ("contact check on session %" PRIu64 " refused: %s", self->msg->session, why);
        json_t *error = json_pack ("{s:s}", "error", why);
        char *text = error ? json_dumps (error, JSON_COMPACT) : NULL;
        wa_msg_set_text (self->reply, text ? text : "{}");
        free (text);
        json_decref (error);
        return;
    }
    wa_msg_set_text (self->reply, answer);
    free (answer);
}

//  READ → READ_ACK (0 marked read, 1 read already, 2 refused), on an open
//  session of its owner (not activity). The status "read" follows.
static void
s_handle_read (gate_t *self, const referee_owner_t *owner, wa_usec_t now)
{
    referee_result_t result;
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    int rc = referee_session_key (self->referee, owner, self->msg->session, now, &result, account,
                                  sizeof account, &shard, NULL);
    s_send_gone (self);
    if (rc) {
        s_reply_gone (self, &result);
        return;
    }
    json_t *root = json_loadb (self->msg->text, self->msg->text_len, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value (json_object_get (root, "id"));
    const char *from = json_string_value (json_object_get (root, "from"));
    int read = events_read (self->events, id, from);
    wa_msg_init (self->reply, WA_MSG_READ_ACK);
    self->reply->session = self->msg->session;
    self->reply->seq = self->msg->seq;
    self->reply->code = read == 0 ? 0 : read == 1 ? 1 : 2;
    if (read == 0 || read == 1)
        wa_msg_set_text (self->reply, id);
    else
        wa_msg_set_text (self->reply, read == -2 ? "too many events wait for an acknowledgement"
                                                 : "no such inbound message from that number");
    if (read < 0)
        wa_info ("read receipt on session %" PRIu64 " refused: %s", self->msg->session, self->reply->text);
    json_decref (root);
}

//  Receives one message without waiting: 0 with *routing_id set, 1 when
//  none was there, -1 when there is nothing to handle (a malformed frame
//  was counted and answered).
static int
s_recv (gate_t *self, zsock_t *sock, const char *what, zframe_t **routing_id)
{
    int why = 0;
    int rc = wa_codec_try_recv (sock, routing_id, self->msg, &why);
    if (rc == 1)
        return 1;
    if (rc == -2) {
        referee_count_malformed (self->referee);
        wa_debug ("malformed frame on the %s socket: %s", what, wa_codec_strerror (why));
        if (*routing_id)
            s_send_error (self, sock, *routing_id, "%s", wa_codec_strerror (why));
    }
    if (rc != 0)
        zframe_destroy (routing_id);
    return rc == 0? 0: -1;
}

//  One message from a session; false when none was waiting.
static bool s_sessions_message (gate_t *self, zsock_t *sock);

//  What waits, within bounds so that the timers get their turn.
static int
s_sessions_readable (wa_loop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    gate_t *self = (gate_t *) arg;
    for (int i = 0; i < 1000; i++)
        if (!s_sessions_message (self, sock))
            break;
    //  Once for all that came: a new session gets what waits, a new
    //  message its first status.
    if (self->pump) {
        self->pump = false;
        s_events_pump (self);
    }
    return 0;
}

static bool
s_sessions_message (gate_t *self, zsock_t *sock)
{
    zframe_t *routing_id = NULL;
    int rc = s_recv (self, sock, "sessions", &routing_id);
    if (rc)
        return rc == -1;
    referee_owner_t owner;
    s_owner_set (&owner, routing_id);
    wa_usec_t now = wa_clock_mono ();
    if (self->msg->type == WA_MSG_UP_EVENT_ACK) {
        s_handle_event_ack (self, sock, routing_id, &owner, now);
        zframe_destroy (&routing_id);
        return true;
    }
    switch (self->msg->type) {
        case WA_MSG_LOGIN:
            if (account_registered (self->account))
                s_handle_login (self, &owner, now);
            else
                s_handle_unregistered_login (self);
            break;
        case WA_MSG_CONTACTS:
            s_handle_contacts (self, &owner, now);
            break;
        case WA_MSG_READ:
            s_handle_read (self, &owner, now);
            break;
        case WA_MSG_PING:
        case WA_MSG_LOGOUT:
            s_handle_session_msg (self, &owner, now);
            break;
        case WA_MSG_SEND:
            s_handle_send (self, &owner, now);
            break;
        case WA_MSG_QUERY:
            s_handle_query (self, &owner, now);
            break;
        default:
            s_send_error (self, sock, routing_id, "unexpected %s on the sessions socket",
                          wa_codec_type_name (self->msg->type));
            zframe_destroy (&routing_id);
            return true;
    }
    wa_codec_send (sock, routing_id, self->reply);
    zframe_destroy (&routing_id);
    if (self->msg->type == WA_MSG_LOGIN || self->msg->type == WA_MSG_SEND)
        self->pump = true;
    return true;
}

static void
s_control_reply (gate_t *self, zsock_t *sock, zframe_t *routing_id, uint32_t code, json_t *body)
{
    char *text = json_dumps (body, JSON_COMPACT);
    wa_msg_init (self->reply, WA_MSG_CONTROL_REPLY);
    self->reply->code = code;
    wa_msg_set_text (self->reply, text? text: "{}");
    wa_codec_send (sock, routing_id, self->reply);
    free (text);
    json_decref (body);
}

//  CONTROL {"op":"inject","from","text"[,"name"]}: an inbound message;
//  {"op":"inbound_rate","rate":N}: generate N inbound messages per second.
static void
s_handle_control (gate_t *self, zsock_t *sock, zframe_t *routing_id)
{
    json_error_t error;
    json_t *root = json_loadb (self->msg->text, self->msg->text_len, JSON_REJECT_DUPLICATES, &error);
    const char *op = json_string_value (json_object_get (root, "op"));
    if (!json_is_object (root) || !op)
        s_control_reply (self, sock, routing_id, 400,
                         json_pack ("{s:s}", "error", "the request must be a JSON object with an 'op'"));
    else
    if (streq (op, "inject")) {
        json_t *name = json_object_get (root, "name");
        char id [EVENTS_ID_MAX + 1], why [160];
        int rc = -1;
        if (name && !json_is_string (name))
            snprintf (why, sizeof why, "'name' must be a string");
        else
            rc = events_inject (self->events, json_string_value (json_object_get (root, "from")),
                                json_string_value (name), json_string_value (json_object_get (root, "text")),
                                id, why, sizeof why);
        if (rc == 0) {
            wa_info ("inbound message %s injected", id);
            s_control_reply (self, sock, routing_id, 200, json_pack ("{s:s}", "event_id", id));
            s_events_pump (self);
        }
        else
            s_control_reply (self, sock, routing_id, rc == -2? 503: 400, json_pack ("{s:s}", "error", why));
    }
    else
    if (streq (op, "inbound_rate")) {
        json_t *rate = json_object_get (root, "rate");
        if (json_is_number (rate) && events_set_rate (self->events, json_number_value (rate)) == 0) {
            wa_info ("inbound messages: %g per second", json_number_value (rate));
            s_control_reply (self, sock, routing_id, 200, json_pack ("{s:f}", "rate", json_number_value (rate)));
        }
        else
            s_control_reply (self, sock, routing_id, 400,
                             json_pack ("{s:s}", "error", "'rate' must be a number from 0 to 100000"));
    }
    else {
        int status = 400;
        json_t *reply = NULL;
        if (account_control (self->account, op, root, &status, &reply)
        ||  stickers_control (op, root, &status, &reply))
            s_control_reply (self, sock, routing_id, (uint32_t) status, reply);
        else
            s_control_reply (self, sock, routing_id, 400, json_pack ("{s:s}", "error", "unknown op"));
    }
    json_decref (root);
}

static int
s_control_readable (wa_loop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    gate_t *self = (gate_t *) arg;
    zframe_t *routing_id = NULL;
    if (s_recv (self, sock, "control", &routing_id))
        return 0;
    if (self->msg->type == WA_MSG_STATS_REQ) {
        //  The referee leaves room for the events' counters.
        json_t *stats = referee_stats_json (self->referee, WA_TEXT_MAX - 512);
        json_object_set_new (stats, "events", events_stats_json (self->events));
        char *text = stats? json_dumps (stats, JSON_COMPACT): NULL;
        wa_msg_init (self->reply, WA_MSG_STATS);
        wa_msg_set_text (self->reply, text? text: "{}");
        free (text);
        json_decref (stats);
        wa_codec_send (sock, routing_id, self->reply);
    }
    else
    if (self->msg->type == WA_MSG_HEALTH_REQ) {
        wa_msg_init (self->reply, WA_MSG_HEALTH);
        wa_msg_set_text (self->reply, "wagate");
        wa_codec_send (sock, routing_id, self->reply);
    }
    else
    if (self->msg->type == WA_MSG_CONTROL)
        s_handle_control (self, sock, routing_id);
    else
        s_send_error (self, sock, routing_id, "unexpected %s on the control socket",
                      wa_codec_type_name (self->msg->type));
    zframe_destroy (&routing_id);
    return 0;
}

//  Statuses and inbound messages that are due, and what may go now.
static int
s_events_tick (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gate_t *self = (gate_t *) arg;
    wa_usec_t now = wa_clock_mono ();
    events_tick (self->events, now);
    s_events_pump (self);
    if (self->ledger)
        fflush (self->ledger);
    return 0;
}

static int
s_sweep (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gate_t *self = (gate_t *) arg;
    referee_expire (self->referee, wa_clock_mono ());
    s_send_gone (self);
    referee_flush (self->referee);
    return 0;
}

gate_t *
gate_new (const wa_config_t *config)
{
    assert (config);
    gate_t *self = (gate_t *) zmalloc (sizeof (gate_t));
    assert (self);
    self->msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    self->reply = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    self->notice = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    self->event_out = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (self->msg && self->reply && self->notice && self->event_out);
    if (*config->wagate_ledger) {
        self->ledger = fopen (config->wagate_ledger, "a");
        if (!self->ledger) {
            wa_error ("cannot open the ledger %s: %s", config->wagate_ledger, strerror (errno));
            gate_destroy (&self);
            return NULL;
        }
    }
    wa_usec_t idle_timeout = wa_clock_from_sec (config->upstream_idle_timeout);
    self->referee = referee_new (idle_timeout, self->ledger);
    events_config_t events = {
        .status_delay = wa_clock_from_sec (config->wagate_status_delay),
        .fail_digits = config->wagate_fail_digits,
        .inbound_rate = config->wagate_inbound_rate,
        .shards = config->shards,
        .account = config->account,
        .ledger = self->ledger,
    };
    struct timespec started;
    clock_gettime (CLOCK_REALTIME, &started);
    events.wall_start = (wa_usec_t) started.tv_sec * WA_USEC_PER_SEC + started.tv_nsec / 1000;
    self->events = events_new (&events, wa_clock_mono ());
    self->account = account_new (config->wagate_registered, config->wagate_invalid_digits);
    self->sessions = s_router_bind (config->upstream_endpoint, "sessions");
    self->control = s_router_bind (config->upstream_control_endpoint, "control");
    self->loop = wa_loop_new ();
    if (!self->referee || !self->events || !self->account || !self->sessions || !self->control || !self->loop) {
        gate_destroy (&self);
        return NULL;
    }
    int sweep_msec = (int) (idle_timeout / 10 / 1000);
    if (sweep_msec < S_SWEEP_MIN_MSEC)
        sweep_msec = S_SWEEP_MIN_MSEC;
    if (wa_loop_reader (self->loop, self->sessions, s_sessions_readable, self)
    ||  wa_loop_reader (self->loop, self->control, s_control_readable, self)
    ||  wa_loop_timer (self->loop, (size_t) sweep_msec, 0, s_sweep, self) == -1
    ||  wa_loop_timer (self->loop, S_EVENTS_TICK_MSEC, 0, s_events_tick, self) == -1) {
        wa_error ("cannot set up the reactor");
        gate_destroy (&self);
        return NULL;
    }
    wa_info ("ready: sessions on %s, control on %s, idle timeout %gs",
             config->upstream_endpoint, config->upstream_control_endpoint,
             config->upstream_idle_timeout);
    wa_notify_ready ("sessions on %s, control on %s", config->upstream_endpoint,
                     config->upstream_control_endpoint);
    wa_notify_watchdog_start (self->loop);
    wa_info ("events: statuses %gs apart, failed for numbers ending in [%s], %g inbound messages/s, "
             "%d shard(s)", config->wagate_status_delay, config->wagate_fail_digits,
             config->wagate_inbound_rate, config->shards);
    wa_info ("account: %s; contacts ending in [%s] are invalid", config->wagate_registered ? "registered"
             : "not registered: POST /v1/account, then /v1/account/verify with `wagate code`",
             config->wagate_invalid_digits);
    return self;
}

void
gate_destroy (gate_t **self_p)
{
    assert (self_p);
    gate_t *self = *self_p;
    if (self) {
        wa_loop_destroy (&self->loop);
        zsock_destroy (&self->sessions);
        zsock_destroy (&self->control);
        referee_destroy (&self->referee);
        events_destroy (&self->events);
        account_destroy (&self->account);
        if (self->ledger)
            fclose (self->ledger);
        free (self->msg);
        free (self->reply);
        free (self->notice);
        free (self->event_out);
        free (self);
        *self_p = NULL;
    }
}

int
gate_run (gate_t *self)
{
    assert (self);
    //  wa_loop_start returns 0 when interrupted (SIGINT/SIGTERM, caught by
    //  czmq) and -1 when a handler failed.
    int rc = wa_loop_start (self->loop);
    wa_notify_stopping ();
    if (zsys_interrupted)
        wa_info ("interrupted: %zu session(s) open, %zu overlap(s)",
                 referee_open_count (self->referee), referee_overlap_count (self->referee));
    return rc == 0 || zsys_interrupted? 0: -1;
}

static void
s_print_summary (const char *endpoint, const char *text)
{
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    if (!json_is_object (root)) {
        printf ("%s\n", text);
        json_decref (root);
        return;
    }
    static const char *counters [] = {
        "sessions", "open", "overlaps", "refused_stale_epoch", "refused_layout", "expired", "kicked",
        "messages", "duplicates", "misrouted"
    };
    printf ("wagate at %s\n", endpoint);
    for (size_t index = 0; index < sizeof counters / sizeof counters [0]; index++)
        printf ("  %-20s %" JSON_INTEGER_FORMAT "\n", counters [index],
                json_integer_value (json_object_get (root, counters [index])));
    json_t *events = json_object_get (root, "events");
    if (json_is_object (events)) {
        static const char *names [] = { "emitted", "acked", "pending", "resent", "dropped" };
        for (size_t index = 0; index < sizeof names / sizeof names [0]; index++)
            printf ("  events_%-13s %" JSON_INTEGER_FORMAT "\n", names [index],
                    json_integer_value (json_object_get (events, names [index])));
    }
    json_t *list = json_object_get (root, "overlap_list");
    json_int_t total = json_integer_value (json_object_get (root, "overlaps"));
    if (json_array_size (list) > 0 && (json_int_t) json_array_size (list) < total)
        printf ("  last %zu of %" JSON_INTEGER_FORMAT " overlaps:\n", json_array_size (list), total);
    size_t index;
    json_t *entry;
    json_array_foreach (list, index, entry) {
        //  A layout is shard/count, shard/? when the count is unknown.
        json_int_t shards = json_integer_value (json_object_get (entry, "shards"));
        json_int_t old_shards = json_integer_value (json_object_get (entry, "old_shards"));
        char layout [48], old_layout [48];
        snprintf (layout, sizeof layout, "%" JSON_INTEGER_FORMAT "/", json_integer_value (json_object_get (entry, "shard")));
        snprintf (old_layout, sizeof old_layout, "%" JSON_INTEGER_FORMAT "/",
                  json_integer_value (json_object_get (entry, "old_shard")));
        if (shards)
            snprintf (layout + strlen (layout), sizeof layout - strlen (layout), "%" JSON_INTEGER_FORMAT, shards);
        else
            strcat (layout, "?");
        if (old_shards)
            snprintf (old_layout + strlen (old_layout), sizeof old_layout - strlen (old_layout),
                      "%" JSON_INTEGER_FORMAT, old_shards);
        else
            strcat (old_layout, "?");
        printf ("  overlap %s %s shard %s: node %" JSON_INTEGER_FORMAT
                " epoch %" JSON_INTEGER_FORMAT " (since %s) overlapped by shard %s, node %"
                JSON_INTEGER_FORMAT " epoch %" JSON_INTEGER_FORMAT "\n",
                json_string_value (json_object_get (entry, "at")),
                json_string_value (json_object_get (entry, "account")),
                old_layout,
                json_integer_value (json_object_get (entry, "old_node")),
                json_integer_value (json_object_get (entry, "old_epoch")),
                json_string_value (json_object_get (entry, "old_since")),
                layout,
                json_integer_value (json_object_get (entry, "new_node")),
                json_integer_value (json_object_get (entry, "new_epoch")));
    }
    list = json_object_get (root, "duplicate_list");
    total = json_integer_value (json_object_get (root, "duplicates"));
    if (json_array_size (list) > 0 && (json_int_t) json_array_size (list) < total)
        printf ("  last %zu of %" JSON_INTEGER_FORMAT " duplicates:\n", json_array_size (list), total);
    json_array_foreach (list, index, entry) {
        json_t *first = json_object_get (entry, "first");
        json_t *again = json_object_get (entry, "again");
        printf ("  duplicate %s: node %" JSON_INTEGER_FORMAT " epoch %" JSON_INTEGER_FORMAT
                " session %" JSON_INTEGER_FORMAT " at %s, again node %" JSON_INTEGER_FORMAT
                " epoch %" JSON_INTEGER_FORMAT " session %" JSON_INTEGER_FORMAT " at %s\n",
                json_string_value (json_object_get (entry, "id")),
                json_integer_value (json_object_get (first, "node")),
                json_integer_value (json_object_get (first, "epoch")),
                json_integer_value (json_object_get (first, "session")),
                json_string_value (json_object_get (first, "at")),
                json_integer_value (json_object_get (again, "node")),
                json_integer_value (json_object_get (again, "epoch")),
                json_integer_value (json_object_get (again, "session")),
                json_string_value (json_object_get (again, "at")));
    }
    json_decref (root);
}

int
gate_stats_command (const wa_config_t *config, bool json)
{
    assert (config);
    const char *endpoint = config->upstream_control_endpoint;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer || zsock_connect (dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "wagate stats: cannot connect to %s\n", endpoint);
        zsock_destroy (&dealer);
        return 1;
    }
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (msg);
    wa_msg_init (msg, WA_MSG_STATS_REQ);
    int status = 1;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int why = 0;
    if (wa_codec_send (dealer, NULL, msg))
        fprintf (stderr, "wagate stats: cannot send to %s\n", endpoint);
    else
    if (!zpoller_wait (poller, S_STATS_TIMEOUT_MSEC) && zpoller_terminated (poller))
        fprintf (stderr, "wagate stats: interrupted\n");
    else
    if (zpoller_expired (poller))
        fprintf (stderr, "wagate stats: no answer from %s within 3 s (is wagate running?)\n", endpoint);
    else
    if (wa_codec_recv (dealer, NULL, msg, &why))
        fprintf (stderr, "wagate stats: bad answer from %s: %s\n", endpoint, wa_codec_strerror (why));
    else
    if (msg->type != WA_MSG_STATS)
        fprintf (stderr, "wagate stats: %s answered %s: %s\n", endpoint,
                 wa_codec_type_name (msg->type), msg->text);
    else {
        if (json)
            printf ("%s\n", msg->text);
        else
            s_print_summary (endpoint, msg->text);
        status = 0;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    free (msg);
    return status;
}

//  A CONTROL request (taken) to the running wagate; prints the answer.
static int
s_control_command (const wa_config_t *config, const char *what, json_t *request)
{
    const char *endpoint = config->upstream_control_endpoint;
    char *body = request? json_dumps (request, JSON_COMPACT): NULL;
    json_decref (request);
    if (!body || strlen (body) > WA_TEXT_MAX) {
        fprintf (stderr, "wagate %s: the text is not UTF-8, or too long\n", what);
        free (body);
        return 2;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer || zsock_connect (dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "wagate %s: cannot connect to %s\n", what, endpoint);
        zsock_destroy (&dealer);
        free (body);
        return 1;
    }
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (msg);
    wa_msg_init (msg, WA_MSG_CONTROL);
    wa_msg_set_text (msg, body);
    free (body);
    int status = 1;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int why = 0;
    if (wa_codec_send (dealer, NULL, msg))
        fprintf (stderr, "wagate %s: cannot send to %s\n", what, endpoint);
    else
    if (!zpoller_wait (poller, S_STATS_TIMEOUT_MSEC) && zpoller_terminated (poller))
        fprintf (stderr, "wagate %s: interrupted\n", what);
    else
    if (zpoller_expired (poller))
        fprintf (stderr, "wagate %s: no answer from %s within 3 s (is wagate running?)\n", what, endpoint);
    else
    if (wa_codec_recv (dealer, NULL, msg, &why))
        fprintf (stderr, "wagate %s: bad answer from %s: %s\n", what, endpoint, wa_codec_strerror (why));
    else
    if (msg->type != WA_MSG_CONTROL_REPLY)
        fprintf (stderr, "wagate %s: %s answered %s: %s\n", what, endpoint, wa_codec_type_name (msg->type),
                 msg->text);
    else
    if (msg->code != 200)
        fprintf (stderr, "wagate %s: refused (%" PRIu32 "): %s\n", what, msg->code, msg->text);
    else {
        printf ("%s\n", msg->text);
        status = 0;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    free (msg);
    return status;
}

int
gate_inject_command (const wa_config_t *config, const char *from, const char *text, const char *name)
{
    assert (config);
    json_t *request = json_pack ("{s:s, s:s?, s:s?}", "op", "inject", "from", from, "text", text);
    if (request && name)
        json_object_set_new (request, "name", json_string (name));
    return s_control_command (config, "inject", request);
}

int
gate_rate_command (const wa_config_t *config, double rate)
{
    assert (config);
    return s_control_command (config, "inbound-rate", json_pack ("{s:s, s:f}", "op", "inbound_rate", "rate", rate));
}

int
gate_rotate_identity_command (const wa_config_t *config, const char *wa_id)
{
    assert (config);
    return s_control_command (config, "rotate-identity", json_pack ("{s:s, s:s}", "op", "rotate_identity",
                                                                    "wa_id", wa_id));
}
