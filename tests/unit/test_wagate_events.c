/*  Unit tests for wagate's events: statuses and their timing, failures by
    recipient, inbound messages, the ledger, acknowledgements, and resending
    on a new session — on a fake clock and fake sockets. */

#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "wa_message.h"
#include "events.h"

#define SEC(s) ((wa_usec_t) ((s) * WA_USEC_PER_SEC))
#define ACCOUNT "15550000000"

#define FAKE_SENT_MAX 20000

//  The gateway as the events see it: the open sessions, and what went on
//  which. With no table, session (when not 0) is one session of (0, 1),
//  which serves every key.
typedef struct {
    uint64_t session;
    events_session_t open[8];
    size_t nopen;
    int sent;
    int refuse_after;           //  sends accepted before the socket is "full"; -1: never
    uint64_t seqs[FAKE_SENT_MAX];
    uint64_t on[FAKE_SENT_MAX]; //  the session each went on
    char conversations[FAKE_SENT_MAX][24];
    char ids[FAKE_SENT_MAX][EVENTS_ID_MAX + 1];
    char texts[64][9000];
} fake_t;

static size_t
s_sessions (void *arg, const char *account, events_session_t *out, size_t max)
{
    assert_string_equal (account, ACCOUNT);
    fake_t *fake = arg;
    if (fake->nopen == 0) {
        if (!fake->session)
            return 0;
        out[0] = (events_session_t) { .session = fake->session, .shard = 0, .shards = 1 };
        return 1;
    }
    size_t count = fake->nopen < max ? fake->nopen : max;
    memcpy (out, fake->open, count * sizeof (events_session_t));
    return count;
}

//  The conversation and event id of an UP_EVENT's text.
static void
s_parse (const char *text, char *conversation, char *id)
{
    json_t *root = json_loads (text, 0, NULL);
    assert_non_null (root);
    json_t *payload = json_object_get (root, "payload");
    json_t *status = json_array_get (json_object_get (payload, "statuses"), 0);
    json_t *message = json_array_get (json_object_get (payload, "messages"), 0);
    const char *who = status ? json_string_value (json_object_get (status, "recipient_id"))
                             : json_string_value (json_object_get (message, "from"));
    assert_non_null (who);
    snprintf (conversation, 24, "%s", who);
    snprintf (id, EVENTS_ID_MAX + 1, "%s", json_string_value (json_object_get (root, "event_id")));
    json_decref (root);
}

static int
s_send (void *arg, const char *account, uint64_t session, uint64_t seq, const char *text)
{
    assert_string_equal (account, ACCOUNT);
    fake_t *fake = arg;
    bool open = fake->nopen == 0 && session == fake->session;
    for (size_t index = 0; index < fake->nopen; index++)
        open = open || fake->open[index].session == session;
    assert_true (open);
    if (fake->refuse_after >= 0 && fake->sent >= fake->refuse_after)
        return -1;
    if (fake->sent < FAKE_SENT_MAX) {
        fake->seqs[fake->sent] = seq;
        fake->on[fake->sent] = session;
        s_parse (text, fake->conversations[fake->sent], fake->ids[fake->sent]);
    }
    if (fake->sent < 64)
        snprintf (fake->texts[fake->sent], sizeof fake->texts[0], "%s", text);
    fake->sent++;
    return 0;
}

static events_t *
s_new (double delay, double rate, FILE *ledger)
{
    events_config_t config = {
        .status_delay = SEC (delay), .fail_digits = "05", .inbound_rate = rate, .shards = 4,
        .account = ACCOUNT, .ledger = ledger, .wall_start = 1700000000123456LL,
    };
    events_t *events = events_new (&config, 0);
    assert_non_null (events);
    return events;
}

static const char *
s_status_of (const char *text)
{
    static char status[16];
    json_t *root = json_loads (text, 0, NULL);
    assert_non_null (root);
    json_t *item = json_array_get (json_object_get (json_object_get (root, "payload"), "statuses"), 0);
    snprintf (status, sizeof status, "%s", json_string_value (json_object_get (item, "status")));
    json_decref (root);
    return status;
}

static void
test_statuses_in_order (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    events_t *events = s_new (0.2, 0, NULL);
    assert_int_equal (events_message (events, ACCOUNT, 1, "gBEmsg1", "16315551234", 0), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 0);          //  no session yet
    fake->session = 7;
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 1);
    assert_string_equal (s_status_of (fake->texts[0]), "sent");
    //  delivered after the delay, read after another.
    events_tick (events, SEC (0.19));
    events_pump (events, s_sessions, s_send, fake, SEC (0.19));
    assert_int_equal (fake->sent, 1);
    events_tick (events, SEC (0.2));
    events_pump (events, s_sessions, s_send, fake, SEC (0.2));
    assert_int_equal (fake->sent, 2);
    assert_string_equal (s_status_of (fake->texts[1]), "delivered");
    events_tick (events, SEC (0.45));
    events_pump (events, s_sessions, s_send, fake, SEC (0.45));
    assert_int_equal (fake->sent, 3);
    assert_string_equal (s_status_of (fake->texts[2]), "read");
    assert_int_equal (fake->seqs[0], 1);
    assert_int_equal (fake->seqs[2], 3);
    //  The shape the webhook receives.
    json_t *root = json_loads (fake->texts[2], 0, NULL);
    json_t *item = json_array_get (json_object_get (json_object_get (root, "payload"), "statuses"), 0);
    assert_string_equal (json_string_value (json_object_get (item, "id")), "gBEmsg1");
    assert_string_equal (json_string_value (json_object_get (item, "recipient_id")), "16315551234");
    assert_true (json_is_string (json_object_get (item, "timestamp")));
    assert_int_equal (json_object_size (item), 4);
    assert_string_equal (json_string_value (json_object_get (root, "event_id")), "w60a2418202240-3");
    json_decref (root);
    events_stats_t stats = events_stats (events);
    assert_int_equal (stats.emitted, 3);
    assert_int_equal (stats.pending, 3);
    assert_int_equal (stats.scheduled, 0);
    events_destroy (&events);
    assert_null (events);
    free (fake);
}

static void
test_failed_recipients (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 3;
    events_t *events = s_new (0.1, 0, NULL);
    assert_int_equal (events_message (events, ACCOUNT, 0, "m1", "16315551230", 0), 0);
    assert_int_equal (events_message (events, ACCOUNT, 0, "m2", "16315551235", 0), 0);
    events_tick (events, SEC (10));
    events_pump (events, s_sessions, s_send, fake, SEC (10));
    //  Ending in 0 or 5: one "failed" each, nothing else.
    assert_int_equal (fake->sent, 2);
    assert_string_equal (s_status_of (fake->texts[0]), "failed");
    assert_string_equal (s_status_of (fake->texts[1]), "failed");
    //  Bad input is refused.
    assert_int_equal (events_message (events, ACCOUNT, 0, "m3", "1631a", 0), -1);
    events_destroy (&events);
    free (fake);
}

//  At-least-once per event: an event the receiver never acknowledged goes
//  again EVENTS_RESEND_AFTER after it was sent, on the same session, even
//  while later events are being acknowledged (issue 18), and again after as
//  long until it is; acknowledged events never go again.
static void
test_resend_per_event (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 1;
    events_t *events = s_new (0, 0, NULL);
    char id[EVENTS_ID_MAX + 1], why[160];
    for (int i = 0; i < 3; i++)
        assert_int_equal (events_inject (events, "16505551234", NULL, "hi", id, why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 3);
    //  Seq 1 is lost; 2 and 3 are acknowledged, and more keep coming and
    //  being acknowledged: the queue as a whole never looks stuck.
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 2), 0);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 3), 0);
    wa_usec_t half = EVENTS_RESEND_AFTER / 2;
    assert_int_equal (events_inject (events, "16505551234", NULL, "later", id, why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, half);
    assert_int_equal (fake->sent, 4);
    assert_int_equal (fake->seqs[3], 4);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 4), 0);
    events_pump (events, s_sessions, s_send, fake, EVENTS_RESEND_AFTER - 1);
    assert_int_equal (fake->sent, 4);
    //  Seq 1's time has come: it alone goes again.
    events_pump (events, s_sessions, s_send, fake, EVENTS_RESEND_AFTER);
    assert_int_equal (fake->sent, 5);
    assert_int_equal (fake->seqs[4], 1);
    assert_int_equal (events_stats (events).resent, 1);
    events_pump (events, s_sessions, s_send, fake, EVENTS_RESEND_AFTER + half);
    assert_int_equal (fake->sent, 5);
    //  Lost again: again after as long.
    events_pump (events, s_sessions, s_send, fake, 2 * EVENTS_RESEND_AFTER);
    assert_int_equal (fake->sent, 6);
    assert_int_equal (fake->seqs[5], 1);
    //  A socket that takes nothing now: tried on the next pump.
    fake->refuse_after = fake->sent;
    events_pump (events, s_sessions, s_send, fake, 3 * EVENTS_RESEND_AFTER);
    assert_int_equal (fake->sent, 6);
    fake->refuse_after = -1;
    events_pump (events, s_sessions, s_send, fake, 3 * EVENTS_RESEND_AFTER + 1);
    assert_int_equal (fake->sent, 7);
    assert_int_equal (fake->seqs[6], 1);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 1), 0);
    events_stats_t stats = events_stats (events);
    assert_int_equal (stats.pending, 0);
    assert_int_equal (stats.resent, 3);
    assert_int_equal (stats.acked, 4);
    events_pump (events, s_sessions, s_send, fake, 10 * EVENTS_RESEND_AFTER);
    assert_int_equal (fake->sent, 7);
    events_destroy (&events);
    free (fake);
}

static void
test_ack_and_resend (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 1;
    char *text = NULL;
    size_t size = 0;
    FILE *ledger = open_memstream (&text, &size);
    events_t *events = s_new (0, 0, ledger);
    char id[EVENTS_ID_MAX + 1], why[160];
    for (int i = 0; i < 5; i++)
        assert_int_equal (events_inject (events, "16505551234", NULL, "hi", id, why, sizeof why), 0);
    int shard = wa_message_shard ("16505551234", 4);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 5);
    //  Acknowledged out of order; the rest goes again on a new session.
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 2), 0);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 4), 0);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 4), -1);     //  again
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, 9), -1);     //  never sent
    //  Nor from a session of a layout that does not serve the conversation.
    assert_int_equal (events_ack (events, ACCOUNT, (events_fine_key ("16505551234") + 1) % 2, 2, 1, 1), -1);
    fake->session = 2;
    events_pump (events, s_sessions, s_send, fake, SEC (1));
    assert_int_equal (fake->sent, 8);
    assert_int_equal (fake->seqs[5], 1);
    assert_int_equal (fake->seqs[6], 3);
    assert_int_equal (fake->seqs[7], 5);
    events_stats_t stats = events_stats (events);
    assert_int_equal (stats.resent, 3);
    assert_int_equal (stats.acked, 2);
    assert_int_equal (stats.pending, 3);
    assert_int_equal (stats.ack_unknown, 3);
    //  Nothing acknowledged for EVENTS_RESEND_AFTER: sent again on the same session.
    events_pump (events, s_sessions, s_send, fake, SEC (1) + EVENTS_RESEND_AFTER - 1);
    assert_int_equal (fake->sent, 8);
    events_pump (events, s_sessions, s_send, fake, SEC (1) + EVENTS_RESEND_AFTER + 1);
    assert_int_equal (fake->sent, 11);
    for (uint64_t seq = 1; seq <= 5; seq += 2)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 2, seq), 0);
    assert_int_equal (events_stats (events).pending, 0);
    events_pump (events, s_sessions, s_send, fake, SEC (100));
    assert_int_equal (fake->sent, 11);
    //  The ledger: five emitted lines with the id the webhook shows, five acks.
    fclose (ledger);
    int emitted = 0, acks = 0;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        json_t *root = json_loads (line, 0, NULL);
        assert_non_null (root);
        const char *event = json_string_value (json_object_get (root, "event"));
        if (strcmp (event, "emitted") == 0) {
            emitted++;
            assert_string_equal (json_string_value (json_object_get (root, "kind")), "message");
            assert_string_equal (json_string_value (json_object_get (root, "conversation")), "16505551234");
            assert_string_equal (json_string_value (json_object_get (root, "id")),
                                 json_string_value (json_object_get (root, "event_id")));
            assert_int_equal (json_integer_value (json_object_get (root, "shard")), shard);
            assert_true (json_is_real (json_object_get (root, "t")));
        }
        else {
            assert_string_equal (event, "event_ack");
            acks++;
        }
        json_decref (root);
    }
    assert_int_equal (emitted, 5);
    assert_int_equal (acks, 5);
    free (text);
    events_destroy (&events);
    free (fake);
}

static void
test_window_and_full_socket (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = 10;
    fake->session = 1;
    events_t *events = s_new (0, 0, NULL);
    char id[EVENTS_ID_MAX + 1], why[160];
    for (int i = 0; i < EVENTS_WINDOW + 100; i++)
        assert_int_equal (events_inject (events, "16505551234", "Kerry", "hi", id, why, sizeof why), 0);
    //  A full socket stops the pump; it goes on later.
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 10);
    fake->refuse_after = -1;
    events_pump (events, s_sessions, s_send, fake, 0);
    //  At most EVENTS_WINDOW unacknowledged.
    assert_int_equal (fake->sent, EVENTS_WINDOW);
    for (uint64_t seq = 1; seq <= 50; seq++)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 1, seq), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, EVENTS_WINDOW + 50);
    assert_int_equal (fake->seqs[EVENTS_WINDOW + 49], EVENTS_WINDOW + 50);
    events_destroy (&events);
    free (fake);
}

static void
test_inject_and_generate (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 1;
    events_t *events = s_new (0, 100, NULL);
    char id[EVENTS_ID_MAX + 1], why[160];
    assert_int_equal (events_inject (events, "1650abc", NULL, "hi", id, why, sizeof why), -1);
    assert_int_equal (events_inject (events, "", NULL, "hi", id, why, sizeof why), -1);
    assert_int_equal (events_inject (events, NULL, NULL, "hi", id, why, sizeof why), -1);
    assert_int_equal (events_inject (events, "1", NULL, "", id, why, sizeof why), -1);
    assert_int_equal (events_inject (events, "1", NULL, NULL, id, why, sizeof why), -1);
    assert_int_equal (events_inject (events, "1", "", "x", id, why, sizeof why), -1);
    char *big = malloc (EVENTS_BODY_MAX + 2);
    memset (big, 'a', EVENTS_BODY_MAX + 1);
    big[EVENTS_BODY_MAX + 1] = 0;
    assert_int_equal (events_inject (events, "1", NULL, big, id, why, sizeof why), -1);
    big[EVENTS_BODY_MAX] = 0;
    assert_int_equal (events_inject (events, "1", NULL, big, id, why, sizeof why), 0);
    //  Control characters escape to six bytes each: too large once encoded.
    memset (big, 1, EVENTS_BODY_MAX);
    assert_int_equal (events_inject (events, "1", NULL, big, id, why, sizeof why), -1);
    free (big);
    //  The message as the webhook will show it.
    assert_int_equal (events_inject (events, "16505551234", NULL, "hello", id, why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 2);
    //  Two conversations, two keys: sent in the keys' turn, not emission order.
    int hello = strcmp (fake->conversations[0], "16505551234") == 0 ? 0 : 1;
    assert_string_equal (fake->conversations[hello], "16505551234");
    json_t *root = json_loads (fake->texts[hello], 0, NULL);
    json_t *payload = json_object_get (root, "payload");
    json_t *contact = json_array_get (json_object_get (payload, "contacts"), 0);
    json_t *message = json_array_get (json_object_get (payload, "messages"), 0);
    assert_string_equal (json_string_value (json_object_get (json_object_get (contact, "profile"), "name")),
                         "Customer 1234");
    assert_string_equal (json_string_value (json_object_get (contact, "wa_id")), "16505551234");
    assert_string_equal (json_string_value (json_object_get (message, "from")), "16505551234");
    assert_string_equal (json_string_value (json_object_get (message, "id")), id);
    assert_string_equal (json_string_value (json_object_get (message, "type")), "text");
    assert_string_equal (json_string_value (json_object_get (json_object_get (message, "text"), "body")), "hello");
    json_decref (root);
    //  100 per second: 150 over 1.5 s.
    for (int ms = 10; ms <= 1500; ms += 10)
        events_tick (events, SEC (ms / 1000.0));
    events_stats_t stats = events_stats (events);
    assert_true (stats.inbound >= 2 + 149 && stats.inbound <= 2 + 151);
    //  The rate changes live; 0 stops.
    assert_int_equal (events_set_rate (events, -1), -1);
    assert_int_equal (events_set_rate (events, 100001), -1);
    assert_int_equal (events_set_rate (events, 0), 0);
    for (int ms = 1510; ms <= 2000; ms += 10)
        events_tick (events, SEC (ms / 1000.0));
    assert_int_equal (events_stats (events).inbound, stats.inbound);
    assert_int_equal (events_set_rate (events, 1000), 0);
    for (int ms = 2010; ms <= 3000; ms += 10)
        events_tick (events, SEC (ms / 1000.0));
    assert_true (events_stats (events).inbound >= stats.inbound + 990);
    events_destroy (&events);
    free (fake);
}

//  A template the network cannot fill: one "failed" status with its error.
static void
test_failed_with_errors (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 3;
    events_t *events = s_new (0.1, 0, NULL);
    assert_int_equal (events_message_failed (events, ACCOUNT, 0, "m1", "16315551234", 2001, "Template missing",
                                             "no template named 'x'"), 0);
    events_tick (events, SEC (10));
    events_pump (events, s_sessions, s_send, fake, SEC (10));
    assert_int_equal (fake->sent, 1);
    json_t *root = json_loads (fake->texts[0], 0, NULL);
    json_t *item = json_array_get (json_object_get (json_object_get (root, "payload"), "statuses"), 0);
    assert_string_equal (json_string_value (json_object_get (item, "status")), "failed");
    json_t *error = json_array_get (json_object_get (item, "errors"), 0);
    assert_int_equal (json_integer_value (json_object_get (error, "code")), 2001);
    assert_string_equal (json_string_value (json_object_get (error, "title")), "Template missing");
    assert_string_equal (json_string_value (json_object_get (error, "details")), "no template named 'x'");
    json_decref (root);
    assert_int_equal (events_message_failed (events, ACCOUNT, 0, "m2", "not digits", 2000, "t", "d"), -1);
    events_destroy (&events);
    free (fake);
}

//  An inbound message marked read: its status "read" once, to its sender.
static void
test_read_inbound (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    fake->session = 5;
    events_t *events = s_new (0.1, 0, NULL);
    char id[EVENTS_ID_MAX + 1], why[128];
    assert_int_equal (events_inject (events, "16505550001", NULL, "hello", id, why, sizeof why), 0);
    assert_int_equal (events_read (events, "no-such-id", "16505550001"), -1);
    assert_int_equal (events_read (events, id, "16505550002"), -1);        //  another sender
    assert_int_equal (events_read (events, id, "16505550001"), 0);
    assert_int_equal (events_read (events, id, "16505550001"), 1);         //  read already: nothing more
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 2);
    assert_string_equal (s_status_of (fake->texts[1]), "read");
    json_t *root = json_loads (fake->texts[1], 0, NULL);
    json_t *item = json_array_get (json_object_get (json_object_get (root, "payload"), "statuses"), 0);
    assert_string_equal (json_string_value (json_object_get (item, "id")), id);
    assert_string_equal (json_string_value (json_object_get (item, "recipient_id")), "16505550001");
    json_decref (root);
    //  Only the last EVENTS_INBOUND_KEPT are remembered.
    char first[EVENTS_ID_MAX + 1];
    assert_int_equal (events_inject (events, "16505550003", NULL, "first", first, why, sizeof why), 0);
    for (int i = 0; i < EVENTS_INBOUND_KEPT; i++) {
        char other[EVENTS_ID_MAX + 1];
        assert_int_equal (events_inject (events, "16505550004", NULL, "more", other, why, sizeof why), 0);
    }
    assert_int_equal (events_read (events, first, "16505550003"), -1);
    events_destroy (&events);
    free (fake);
}

//  --------------------------------------------------------------------------
//  Layouts: events of a conversation go, in order, to the session that
//  serves it under that session's own layout; a change of layout sends the
//  unacknowledged events of each conversation again on its new session.

//  Conversations whose shard of 2 is 0 and 1, and of distinct fine keys.
static void
s_conversations (char conv[4][24])
{
    int found[2] = { 0, 0 };
    uint32_t keys[4];
    int n = 0;
    for (uint64_t number = 16505557000ULL; n < 4; number++) {
        char text[24];
        snprintf (text, sizeof text, "%" PRIu64, number);
        uint32_t fine = events_fine_key (text);
        int half = (int) (fine % 2);
        bool seen = false;
        for (int i = 0; i < n; i++)
            seen = seen || keys[i] == fine;
        //  Not ending in a failing digit (s_new: "05").
        if (seen || found[half] == 2 || number % 5 == 0)
            continue;
        assert_int_equal (wa_message_shard (text, 2), half);
        assert_int_equal (fine, (uint32_t) wa_message_shard (text, 32));
        keys[n] = fine;
        snprintf (conv[n++], 24, "%s", text);
        found[half]++;
    }
}

static void
s_open (fake_t *fake, uint64_t session, uint32_t shard, uint32_t shards)
{
    fake->open[fake->nopen++] = (events_session_t) { .session = session, .shard = shard, .shards = shards };
}

static const events_session_t *
s_session_of (fake_t *fake, uint64_t session)
{
    for (size_t index = 0; index < fake->nopen; index++)
        if (fake->open[index].session == session)
            return &fake->open[index];
    fail_msg ("session %" PRIu64 " is not open", session);
    return NULL;
}

//  Every send from `from` on went to a session that serves its conversation;
//  per conversation the event ids of those sends are the expected ones, in
//  order (expected: ids[c][..] from first[c] to count[c]).
static void
s_check_sends (fake_t *fake, int from, char conv[4][24], char ids[4][8][EVENTS_ID_MAX + 1], const int *first,
               const int *count)
{
    int next[4];
    memcpy (next, first, sizeof next);
    for (int index = from; index < fake->sent; index++) {
        const events_session_t *session = s_session_of (fake, fake->on[index]);
        uint32_t shards = session->shards ? session->shards : 4;
        assert_int_equal (wa_message_shard (fake->conversations[index], (int) shards), session->shard);
        int c = 0;
        while (c < 4 && strcmp (conv[c], fake->conversations[index]) != 0)
            c++;
        assert_true (c < 4);
        assert_true (next[c] < count[c]);
        assert_string_equal (fake->ids[index], ids[c][next[c]]);
        next[c]++;
    }
    for (int c = 0; c < 4; c++)
        assert_int_equal (next[c], count[c]);
}

//  The send of an event id from `from` on: its index.
static int
s_sent_index (fake_t *fake, int from, const char *id)
{
    for (int index = from; index < fake->sent; index++)
        if (strcmp (fake->ids[index], id) == 0)
            return index;
    fail_msg ("%s was not sent", id);
    return -1;
}

static void
test_layout_split (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    events_t *events = s_new (0, 0, NULL);
    char conv[4][24], ids[4][8][EVENTS_ID_MAX + 1], why[160];
    s_conversations (conv);
    //  One shard: (0, 1) serves everything, each conversation in order.
    s_open (fake, 10, 0, 1);
    for (int round = 0; round < 3; round++)
        for (int c = 0; c < 4; c++)
            assert_int_equal (events_inject (events, conv[c], NULL, "before", ids[c][round], why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    int first[4] = { 0, 0, 0, 0 }, count[4] = { 3, 3, 3, 3 };
    s_check_sends (fake, 0, conv, ids, first, count);
    assert_int_equal (fake->sent, 12);
    //  The first of each conversation is stored and acknowledged on (0, 1).
    for (int c = 0; c < 4; c++)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 10, fake->seqs[s_sent_index (fake, 0, ids[c][0])]), 0);
    //  The change: (0, 1) closes; nothing goes while no session serves.
    fake->nopen = 0;
    for (int c = 0; c < 4; c++)
        assert_int_equal (events_inject (events, conv[c], NULL, "during", ids[c][3], why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, SEC (1));
    assert_int_equal (fake->sent, 12);
    //  (0, 2) opens first: only its conversations go, each from its first
    //  unacknowledged event, in order.
    s_open (fake, 11, 0, 2);
    events_pump (events, s_sessions, s_send, fake, SEC (2));
    for (int index = 12; index < fake->sent; index++)
        assert_int_equal (fake->on[index], 11);
    assert_int_equal (fake->sent, 12 + 2 * 3);
    s_open (fake, 12, 1, 2);
    events_pump (events, s_sessions, s_send, fake, SEC (2));
    assert_int_equal (fake->sent, 12 + 4 * 3);
    int after[4] = { 1, 1, 1, 1 }, total[4] = { 4, 4, 4, 4 };
    s_check_sends (fake, 12, conv, ids, after, total);
    //  Acknowledged by seq on the session of each: not on the other.
    for (int c = 0; c < 4; c++) {
        uint32_t half = (uint32_t) wa_message_shard (conv[c], 2);
        for (int round = 1; round < 4; round++) {
            uint64_t seq = fake->seqs[s_sent_index (fake, 12, ids[c][round])];
            assert_int_equal (events_ack (events, ACCOUNT, 1 - half, 2, half ? 11 : 12, seq), -1);
            assert_int_equal (events_ack (events, ACCOUNT, half, 2, half ? 12 : 11, seq), 0);
        }
    }
    events_stats_t stats = events_stats (events);
    assert_int_equal (stats.pending, 0);
    assert_int_equal (stats.acked, 16);
    assert_int_equal (stats.ack_unknown, 12);
    assert_int_equal (stats.resent, 8);        //  the 2 unacknowledged of each, sent again
    events_pump (events, s_sessions, s_send, fake, SEC (100));
    assert_int_equal (fake->sent, 24);
    events_destroy (&events);
    free (fake);
}

static void
test_layout_merge (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    char *text = NULL;
    size_t size = 0;
    FILE *ledger = open_memstream (&text, &size);
    events_t *events = s_new (0.5, 0, ledger);
    char conv[4][24], inbound[4][EVENTS_ID_MAX + 1], why[160];
    s_conversations (conv);
    s_open (fake, 21, 0, 2);
    s_open (fake, 22, 1, 2);
    //  A status ("sent" now, "delivered" later) and an inbound message per
    //  conversation: one conversation, one key, whatever the kind.
    for (int c = 0; c < 4; c++) {
        char message[32];
        snprintf (message, sizeof message, "gBEm%d", c);
        assert_int_equal (events_message (events, ACCOUNT, (uint32_t) wa_message_shard (conv[c], 2), message,
                                          conv[c], 0), 0);
        assert_int_equal (events_inject (events, conv[c], NULL, "hi", inbound[c], why, sizeof why), 0);
    }
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 8);
    for (int c = 0; c < 4; c++) {
        uint32_t half = (uint32_t) wa_message_shard (conv[c], 2);
        int status = -1, message = -1;
        for (int index = 0; index < 8; index++) {
            if (strcmp (fake->conversations[index], conv[c]) != 0)
                continue;
            assert_int_equal (fake->on[index], half ? 22 : 21);
            if (status < 0)
                status = index;
            else
                message = index;
        }
        //  In order: the status, then the message.
        assert_string_equal (s_status_of (fake->texts[status]), "sent");
        assert_string_equal (fake->ids[message], inbound[c]);
        //  The status is stored and acknowledged on its session.
        assert_int_equal (events_ack (events, ACCOUNT, half, 2, half ? 22 : 21, fake->seqs[status]), 0);
    }
    //  The change 2 → 1: both close; the "delivered" come meanwhile.
    fake->nopen = 0;
    events_tick (events, SEC (0.5));
    events_pump (events, s_sessions, s_send, fake, SEC (0.5));
    assert_int_equal (fake->sent, 8);
    s_open (fake, 30, 0, 1);
    events_pump (events, s_sessions, s_send, fake, SEC (0.6));
    assert_int_equal (fake->sent, 16);
    for (int c = 0; c < 4; c++) {
        int seen = 0;
        for (int index = 8; index < 16; index++) {
            if (strcmp (fake->conversations[index], conv[c]) != 0)
                continue;
            assert_int_equal (fake->on[index], 30);
            //  The message not acknowledged, again; then the new status.
            if (seen++ == 0)
                assert_string_equal (fake->ids[index], inbound[c]);
            else
                assert_string_equal (s_status_of (fake->texts[index]), "delivered");
        }
        assert_int_equal (seen, 2);
    }
    //  One session, keys of both halves: each acknowledged by its seq.
    for (int index = 8; index < 16; index++)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 30, fake->seqs[index]), 0);
    assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 30, fake->seqs[8]), -1);
    events_stats_t stats = events_stats (events);
    assert_int_equal (stats.pending, 0);
    assert_int_equal (stats.scheduled, 4);      //  the "read" to come
    assert_int_equal (stats.acked, 12);
    assert_int_equal (stats.resent, 4);
    //  The ledger: each line its key; the acks their session's layout.
    fclose (ledger);
    int acks[3] = { 0, 0, 0 };
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        json_t *root = json_loads (line, 0, NULL);
        assert_non_null (root);
        const char *event = json_string_value (json_object_get (root, "event"));
        json_int_t fine = json_integer_value (json_object_get (root, "fine"));
        if (strcmp (event, "emitted") == 0)
            assert_int_equal (fine, events_fine_key (json_string_value (json_object_get (root, "conversation"))));
        else {
            assert_string_equal (event, "event_ack");
            json_int_t shards = json_integer_value (json_object_get (root, "shards"));
            assert_true (shards == 1 || shards == 2);
            acks[shards]++;
            assert_int_equal (fine % shards, json_integer_value (json_object_get (root, "shard")));
        }
        json_decref (root);
    }
    assert_int_equal (acks[2], 4);
    assert_int_equal (acks[1], 8);
    free (text);
    events_destroy (&events);
    free (fake);
}

//  Sessions that did not say their count are taken as of the configured
//  one (4 here), as before layouts; a known count is preferred to them.
static void
test_unknown_count (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    events_t *events = s_new (0, 0, NULL);
    char id[EVENTS_ID_MAX + 1], why[160];
    for (uint32_t shard = 0; shard < 4; shard++)
        s_open (fake, 40 + shard, shard, 0);
    for (int n = 0; n < 40; n++) {
        char from[24];
        snprintf (from, sizeof from, "%" PRId64, (int64_t) 16505558000 + n);
        assert_int_equal (events_inject (events, from, NULL, "hi", id, why, sizeof why), 0);
    }
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 40);
    for (int index = 0; index < 40; index++) {
        uint32_t shard = (uint32_t) wa_message_shard (fake->conversations[index], 4);
        assert_int_equal (fake->on[index], 40 + shard);
        //  Acknowledged as the session's index says; not by another index.
        assert_int_equal (events_ack (events, ACCOUNT, (shard + 1) % 4, 0, 40 + (shard + 1) % 4,
                                      fake->seqs[index]), -1);
        assert_int_equal (events_ack (events, ACCOUNT, shard, 0, 40 + shard, fake->seqs[index]), 0);
    }
    //  A session of a known count serves its keys before an unknown one.
    s_open (fake, 50, 1, 2);
    for (int n = 0; n < 40; n++) {
        char from[24];
        snprintf (from, sizeof from, "%" PRId64, (int64_t) 16505558000 + n);
        assert_int_equal (events_inject (events, from, NULL, "again", id, why, sizeof why), 0);
    }
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 80);
    for (int index = 40; index < 80; index++) {
        const char *from = fake->conversations[index];
        uint64_t expected = wa_message_shard (from, 2) == 1 ? 50 : 40 + (uint64_t) wa_message_shard (from, 4);
        assert_int_equal (fake->on[index], expected);
    }
    assert_int_equal (events_stats (events).pending, 40);
    events_destroy (&events);
    free (fake);
}

//  At most EVENTS_WINDOW out on a session, however many keys it serves;
//  the keys take turns.
static void
test_window_per_session (void **state)
{
    (void) state;
    fake_t *fake = calloc (1, sizeof (fake_t));
    fake->refuse_after = -1;
    events_t *events = s_new (0, 0, NULL);
    char conv[4][24], id[EVENTS_ID_MAX + 1], why[160];
    s_conversations (conv);
    s_open (fake, 60, 0, 1);
    for (int i = 0; i < EVENTS_WINDOW; i++)
        for (int c = 0; c < 4; c++)
            assert_int_equal (events_inject (events, conv[c], NULL, "hi", id, why, sizeof why), 0);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, EVENTS_WINDOW);
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, EVENTS_WINDOW);
    //  Acknowledged in a scattered order (the index finds each).
    for (int index = EVENTS_WINDOW - 1; index >= 0; index -= 2)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 60, fake->seqs[index]), 0);
    for (int index = 0; index < EVENTS_WINDOW; index += 2)
        assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 60, fake->seqs[index]), 0);
    assert_int_equal (events_stats (events).pending, 3 * EVENTS_WINDOW);
    //  The next key's turn: its EVENTS_WINDOW go.
    events_pump (events, s_sessions, s_send, fake, 0);
    assert_int_equal (fake->sent, 2 * EVENTS_WINDOW);
    assert_string_not_equal (fake->conversations[EVENTS_WINDOW], fake->conversations[0]);
    //  100 more may go at a time: a pump starts from the key after the last
    //  that sent, so the two conversations with events left alternate.
    int turns[4];
    for (int round = 0; round < 4; round++) {
        for (int index = 0; index < 100; index++)
            assert_int_equal (events_ack (events, ACCOUNT, 0, 1, 60, fake->seqs[EVENTS_WINDOW + round * 100 + index]), 0);
        int from = fake->sent;
        events_pump (events, s_sessions, s_send, fake, 0);
        assert_int_equal (fake->sent - from, 100);
        for (int index = from; index < from + 100; index++)
            assert_string_equal (fake->conversations[index], fake->conversations[from]);
        int c = 0;
        while (strcmp (fake->conversations[from], conv[c]) != 0)
            c++;
        turns[round] = c;
    }
    assert_int_not_equal (turns[0], turns[1]);
    assert_int_equal (turns[0], turns[2]);
    assert_int_equal (turns[1], turns[3]);
    events_destroy (&events);
    free (fake);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_statuses_in_order),
        cmocka_unit_test (test_failed_with_errors),
        cmocka_unit_test (test_read_inbound),
        cmocka_unit_test (test_failed_recipients),
        cmocka_unit_test (test_ack_and_resend),
        cmocka_unit_test (test_resend_per_event),
        cmocka_unit_test (test_window_and_full_socket),
        cmocka_unit_test (test_inject_and_generate),
        cmocka_unit_test (test_layout_split),
        cmocka_unit_test (test_layout_merge),
        cmocka_unit_test (test_unknown_count),
        cmocka_unit_test (test_window_per_session),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
