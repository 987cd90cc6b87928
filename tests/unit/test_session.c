/*  Unit tests for the Coreapp's upstream session (src/wacore/session.c)
    over a real ZeroMQ inproc connection: a ROUTER stands in for the
    gateway and speaks wa_codec. What is covered is the planned logout of
    a switchover: session_logout sends LOGOUT and leaves the session
    CLOSING, in which answers of the same session still arrive but events
    do not, until the gateway's LOGOUT_OK for that session; and the quiet
    time after a closing that was never confirmed. Time is an argument:
    only the sockets are real. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "session.h"

#define SEC(s) ((wa_usec_t) (s) * WA_USEC_PER_SEC)

static const wa_usec_t T0 = SEC (100);
#define IDLE_TIMEOUT 30         //  upstream_idle_timeout, s
#define LEASE_MARGIN 2          //  lease_margin, s
#define SESSION_ID 1234
#define OTHER_ID 999

typedef struct {
    wa_config_t config;
    zsock_t *gateway;           //  ROUTER
    zframe_t *peer;             //  the session's routing id at the gateway
    wa_msg_t *msg;              //  what the gateway receives / sends
    wa_msg_t *got;              //  what the session hands out
    session_t session;
} fixture_t;

static int
s_setup (void **state)
{
    static int instance;
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    wa_config_defaults (&f->config);
    snprintf (f->config.upstream_endpoint, sizeof f->config.upstream_endpoint, "inproc://test-session-%d",
              ++instance);
    snprintf (f->config.account, sizeof f->config.account, "acct-1");
    f->config.upstream_idle_timeout = IDLE_TIMEOUT;
    f->config.lease_margin = LEASE_MARGIN;
    f->gateway = zsock_new (ZMQ_ROUTER);
    assert_non_null (f->gateway);
    assert_int_equal (zsock_bind (f->gateway, "%s", f->config.upstream_endpoint), 0);
    zsock_set_rcvtimeo (f->gateway, 2000);
    f->msg = calloc (1, sizeof *f->msg);
    f->got = calloc (1, sizeof *f->got);
    assert_non_null (f->msg);
    assert_non_null (f->got);
    session_init (&f->session, &f->config);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    session_close (&f->session, T0, true);
    zframe_destroy (&f->peer);
    zsock_destroy (&f->gateway);
    free (f->msg);
    free (f->got);
    free (f);
    return 0;
}

//  The gateway receives the next message from the session: its type.
static int
s_gateway_recv (fixture_t *f)
{
    zframe_t *peer = NULL;
    int why = 0;
    assert_int_equal (wa_codec_recv (f->gateway, &peer, f->msg, &why), 0);
    assert_non_null (peer);
    zframe_destroy (&f->peer);
    f->peer = peer;
    return f->msg->type;
}

//  The gateway sends the session a message.
static void
s_gateway_send (fixture_t *f, wa_msg_type_t type, uint64_t session, uint64_t seq, const char *text)
{
    wa_msg_init (f->msg, type);
    f->msg->session = session;
    f->msg->seq = seq;
    if (text)
        wa_msg_set_text (f->msg, text);
    assert_non_null (f->peer);
    assert_int_equal (wa_codec_send (f->gateway, f->peer, f->msg), 0);
}

//  The session reads the next message (it must arrive: *got's type says
//  which one was read, also when the event is NONE).
static session_event_t
s_session_read (fixture_t *f, wa_usec_t now)
{
    f->got->type = 0;
    session_event_t event = session_on_message (&f->session, now, f->got);
    assert_int_not_equal (f->got->type, 0);
    return event;
}

//  A session open at the gateway as SESSION_ID, logged in at T0.
static void
s_open (fixture_t *f)
{
    assert_int_equal (session_open (&f->session, 4, 2, 4, 7, T0), 0);
    assert_int_equal (f->session.state, SESSION_LOGGING_IN);
    //  The reads below must not wait for ever if a message is missing.
    zsock_set_rcvtimeo (f->session.sock, 2000);
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGIN);
    assert_string_equal (f->msg->account, "acct-1");
    assert_int_equal (f->msg->shard, 2);
    assert_int_equal (f->msg->node, 4);
    assert_int_equal (f->msg->epoch, 7);
    assert_int_equal (f->msg->code, 4);         //  the layout's shard count
    s_gateway_send (f, WA_MSG_LOGIN_OK, SESSION_ID, 0, NULL);
    assert_int_equal (s_session_read (f, T0 + 10), SESSION_EV_OPENED);
    assert_int_equal (f->session.state, SESSION_OPEN);
    assert_int_equal (f->session.id, SESSION_ID);
}

static void
test_logout_only_when_open (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (session_logout (&f->session, T0), -1);     //  closed
    assert_int_equal (f->session.state, SESSION_CLOSED);
    assert_int_equal (session_open (&f->session, 4, 2, 0, 7, T0), 0);
    zsock_set_rcvtimeo (f->session.sock, 2000);
    assert_int_equal (session_logout (&f->session, T0 + 1), -1); //  logging in
    assert_int_equal (f->session.state, SESSION_LOGGING_IN);
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGIN);
    assert_int_equal (f->msg->code, 0);         //  no count: left out, decoded as unknown
    s_gateway_send (f, WA_MSG_LOGIN_OK, SESSION_ID, 0, NULL);
    assert_int_equal (s_session_read (f, T0 + 2), SESSION_EV_OPENED);
    assert_int_equal (session_logout (&f->session, T0 + 3), 0);
    assert_int_equal (session_logout (&f->session, T0 + 4), -1); //  closing already
    assert_int_equal (f->session.state, SESSION_CLOSING);
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGOUT);
    //  One LOGOUT only.
    zsock_set_rcvtimeo (f->gateway, 50);
    zframe_t *peer = NULL;
    assert_int_equal (wa_codec_recv (f->gateway, &peer, f->msg, NULL), -1);
    assert_null (peer);
}

//  While open, events and answers arrive, a LOGOUT_OK means nothing.
static void
test_open_delivers_events (void **state)
{
    fixture_t *f = *state;
    s_open (f);
    s_gateway_send (f, WA_MSG_UP_EVENT, SESSION_ID, 41, "{\"status\":\"read\"}");
    assert_int_equal (s_session_read (f, T0 + 20), SESSION_EV_UP_EVENT);
    assert_int_equal (f->got->seq, 41);
    s_gateway_send (f, WA_MSG_LOGOUT_OK, SESSION_ID, 0, NULL);
    assert_int_equal (s_session_read (f, T0 + 21), SESSION_EV_NONE);
    assert_int_equal (f->got->type, WA_MSG_LOGOUT_OK);
    assert_int_equal (f->session.state, SESSION_OPEN);
}

static void
test_logout_closing_logged_out (void **state)
{
    fixture_t *f = *state;
    s_open (f);
    assert_int_equal (session_send (&f->session, 17, "{\"id\":\"m-17\"}", T0 + SEC (1)), 0);
    assert_int_equal (s_gateway_recv (f), WA_MSG_SEND);
    assert_int_equal (f->msg->seq, 17);

    //  The logout: LOGOUT for our session, CLOSING.
    assert_int_equal (session_logout (&f->session, T0 + SEC (2)), 0);
    assert_int_equal (f->session.state, SESSION_CLOSING);
    assert_string_equal (session_state_name (f->session.state), "closing");
    assert_int_equal (f->session.last_sent, T0 + SEC (2));
    assert_false (session_may_login (&f->session, T0 + SEC (1000)));
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGOUT);
    assert_int_equal (f->msg->session, SESSION_ID);

    //  Nothing more is sent while closing.
    assert_int_equal (session_send (&f->session, 18, "{\"id\":\"m-18\"}", T0 + SEC (2)), -1);
    assert_int_equal (session_ping (&f->session, T0 + SEC (2)), -1);
    assert_int_equal (session_query (&f->session, "m-17", T0 + SEC (2)), -1);
    assert_int_equal (session_event_ack (&f->session, 41, T0 + SEC (2)), -1);
    assert_int_equal (session_contacts (&f->session, 5, "{\"contacts\":[]}", T0 + SEC (2)), -1);
    assert_int_equal (f->session.last_sent, T0 + SEC (2));

    //  The answers of what was sent before arrive.
    s_gateway_send (f, WA_MSG_SEND_ACK, SESSION_ID, 17, "m-17");
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_SEND_ACK);
    assert_int_equal (f->got->seq, 17);
    assert_string_equal (f->got->text, "m-17");
    s_gateway_send (f, WA_MSG_QUERY_REPLY, SESSION_ID, 0, "m-16");
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_QUERY_REPLY);
    s_gateway_send (f, WA_MSG_CONTACTS_REPLY, SESSION_ID, 5, "{\"contacts\":[]}");
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_CONTACTS_REPLY);
    //  ... but not another session's.
    s_gateway_send (f, WA_MSG_SEND_ACK, OTHER_ID, 17, "m-17");
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_NONE);
    assert_int_equal (f->got->type, WA_MSG_SEND_ACK);
    //  An event is not delivered (unacknowledged, the gateway sends it again).
    s_gateway_send (f, WA_MSG_UP_EVENT, SESSION_ID, 42, "{\"status\":\"read\"}");
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_NONE);
    assert_int_equal (f->got->type, WA_MSG_UP_EVENT);
    assert_int_equal (f->session.state, SESSION_CLOSING);

    //  Another session's LOGOUT_OK is not ours.
    s_gateway_send (f, WA_MSG_LOGOUT_OK, OTHER_ID, 0, NULL);
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_NONE);
    assert_int_equal (f->got->type, WA_MSG_LOGOUT_OK);
    assert_int_equal (f->session.state, SESSION_CLOSING);
    //  Ours.
    s_gateway_send (f, WA_MSG_LOGOUT_OK, SESSION_ID, 0, NULL);
    assert_int_equal (s_session_read (f, T0 + SEC (2)), SESSION_EV_LOGGED_OUT);

    //  Confirmed: nothing lingers at the gateway, a login may go out at once.
    session_close (&f->session, T0 + SEC (2), true);
    assert_int_equal (f->session.state, SESSION_CLOSED);
    assert_null (f->session.sock);
    assert_true (session_may_login (&f->session, T0 + SEC (2)));
}

//  No LOGOUT_OK: closing unconfirmed waits out the gateway's idle timeout
//  from the LOGOUT, the last thing sent (not from the close).
static void
test_closing_unconfirmed_quiet (void **state)
{
    fixture_t *f = *state;
    s_open (f);
    assert_int_equal (session_ping (&f->session, T0 + SEC (1)), 0);
    assert_int_equal (s_gateway_recv (f), WA_MSG_PING);
    assert_int_equal (session_logout (&f->session, T0 + SEC (3)), 0);
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGOUT);
    //  The gateway says the session is gone, for another session: no.
    s_gateway_send (f, WA_MSG_SESSION_GONE, OTHER_ID, 0, "expired");
    assert_int_equal (s_session_read (f, T0 + SEC (3)), SESSION_EV_NONE);
    assert_int_equal (f->got->type, WA_MSG_SESSION_GONE);
    assert_int_equal (f->session.quiet_until, 0);
    session_close (&f->session, T0 + SEC (5), false);
    assert_int_equal (f->session.state, SESSION_CLOSED);
    assert_int_equal (f->session.id, 0);
    wa_usec_t quiet = T0 + SEC (3) + SEC (IDLE_TIMEOUT);
    assert_int_equal (f->session.quiet_until, quiet);
    assert_false (session_may_login (&f->session, quiet - 1));
    assert_true (session_may_login (&f->session, quiet));
}

//  For contrast: an open session closed unconfirmed sends its LOGOUT then,
//  and waits from then.
static void
test_open_unconfirmed_quiet (void **state)
{
    fixture_t *f = *state;
    s_open (f);
    assert_int_equal (session_ping (&f->session, T0 + SEC (1)), 0);
    assert_int_equal (s_gateway_recv (f), WA_MSG_PING);
    session_close (&f->session, T0 + SEC (5), false);
    assert_int_equal (s_gateway_recv (f), WA_MSG_LOGOUT);
    assert_int_equal (f->msg->session, SESSION_ID);
    assert_int_equal (f->session.quiet_until, T0 + SEC (5) + SEC (IDLE_TIMEOUT));
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T (test_logout_only_when_open),
        T (test_open_delivers_events),
        T (test_logout_closing_logged_out),
        T (test_closing_unconfirmed_quiet),
        T (test_open_unconfirmed_quiet),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
