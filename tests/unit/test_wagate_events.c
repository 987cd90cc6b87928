/*  Unit tests for wagate's events: statuses and their timing, failures by
    recipient, inbound messages, the ledger, acknowledgements, and resending
    on a new session — on a fake clock and fake sockets. */

#include <stdarg.h>
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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
