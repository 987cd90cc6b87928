/*  session — the one upstream session a primary Coreapp holds for its shard.

    The session never decides on its own whether it may be open: the Coreapp
    checks its shard lease before every call that sends. What the session
    keeps is what the gateway may still believe: a session that ended
    without the gateway confirming it may stay open there until the
    gateway's idle timeout, so no new login goes out before then. */
#ifndef SESSION_H
#define SESSION_H

#include <czmq.h>
#include "wa_clock.h"
#include "wa_codec.h"
#include "wa_config.h"

//  CLOSING: LOGOUT sent (session_logout), waiting for the gateway to confirm.
typedef enum { SESSION_CLOSED, SESSION_LOGGING_IN, SESSION_OPEN, SESSION_CLOSING } session_state_t;

typedef enum {
    SESSION_EV_EMPTY,           //  nothing was waiting on the socket
    SESSION_EV_NONE,
    SESSION_EV_OPENED,          //  login accepted
    SESSION_EV_REFUSED,         //  login refused: a newer epoch exists
    SESSION_EV_GONE,            //  the gateway closed it (expired, kicked)
    SESSION_EV_SEND_ACK,        //  a SEND answered: msg seq, code, text
    SESSION_EV_QUERY_REPLY,     //  a QUERY answered: msg code, text (the id)
    SESSION_EV_UP_EVENT,        //  a status or inbound message: msg seq, text
    SESSION_EV_CONTACTS_REPLY,  //  a contact check answered: msg seq, text
    SESSION_EV_UNREGISTERED,    //  login answered: the account is not registered (no session)
    SESSION_EV_LOGGED_OUT,      //  the gateway confirmed our LOGOUT: the session is gone there
    SESSION_EV_READ_ACK,        //  a READ answered: msg seq, code, text
} session_event_t;

typedef struct {
    const wa_config_t *config;
    zsock_t *sock;              //  NULL while closed
    session_state_t state;
    uint64_t id;
    uint64_t node;
    uint32_t shard;
    uint32_t shards;            //  the shard count of the layout it serves (0: unknown)
    uint64_t epoch;
    wa_usec_t login_sent_at;
    wa_usec_t last_pong;
    wa_usec_t last_sent;
    wa_usec_t quiet_until;      //  no login before this instant
    char last_reason[128];
    wa_msg_t out;               //  the message being sent (large: not on the stack)
} session_t;

void session_init (session_t *self, const wa_config_t *config);
//  Create the socket and send LOGIN for shard of the layout of shards
//  shards (0: leave the count out, unknown to the gateway). 0 / -1.
int session_open (session_t *self, uint64_t node, uint32_t shard, uint32_t shards, uint64_t epoch,
                  wa_usec_t now);
//  Send LOGOUT when open, then drop the socket. Unless the gateway already
//  said the session is gone, assume it may linger until the idle timeout.
void session_close (session_t *self, wa_usec_t now, bool confirmed_gone);
//  Send LOGOUT on the open session and wait for the gateway's LOGOUT_OK
//  (SESSION_EV_LOGGED_OUT; then session_close with confirmed_gone). While
//  closing nothing more is sent; acknowledgements and answers of what was
//  sent before still arrive, events do not (unacknowledged, the gateway
//  sends them again on the next session). 0 / -1 (not open, or full).
int session_logout (session_t *self, wa_usec_t now);
//  Send a keepalive. 0 / -1.
int session_ping (session_t *self, wa_usec_t now);
//  A message (JSON for the upstream) tagged seq / a question about an id,
//  on the open session, without waiting. 0 / -1 (not open, or the socket
//  is full: try again later).
int session_send (session_t *self, uint64_t seq, const char *payload, wa_usec_t now);
int session_query (session_t *self, const char *id, wa_usec_t now);
//  UP_EVENT_ACK: the event seq is stored. 0 / -1 (not open, or full).
int session_event_ack (session_t *self, uint64_t seq, wa_usec_t now);
//  CONTACTS: a contact check ({"contacts":[...]}) tagged seq. 0 / -1.
int session_contacts (session_t *self, uint64_t seq, const char *payload, wa_usec_t now);
//  READ: an inbound message marked read (JSON {"id","from"}), answered by a
//  READ_ACK with the same seq. 0 / -1 as send.
int session_read (session_t *self, uint64_t seq, const char *payload, wa_usec_t now);
//  Read one message from the socket into *msg. On REFUSED and GONE the
//  caller closes the session (confirmed gone: the gateway said so).
session_event_t session_on_message (session_t *self, wa_usec_t now, wa_msg_t *msg);
//  May a login go out at now?
bool session_may_login (const session_t *self, wa_usec_t now);
const char *session_state_name (session_state_t state);

#endif
