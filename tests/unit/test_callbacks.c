/*  Unit tests for the pure parts of the Coreapp's callbacks: the backoff,
    the per-conversation scheduler (cbqueue) and the checks on events
    (cbevent). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cbqueue.h"
#include "cbevent.h"

#define MS(x) ((wa_usec_t) (x) * 1000)

static cbentry_t *
s_entry (uint64_t seq, const char *conversation)
{
    cbentry_t *entry = calloc (1, sizeof (cbentry_t));
    assert_non_null (entry);
    entry->seq = seq;
    snprintf (entry->event_id, sizeof entry->event_id, "e%llu", (unsigned long long) seq);
    snprintf (entry->conversation, sizeof entry->conversation, "%s", conversation);
    snprintf (entry->kind, sizeof entry->kind, "status");
    entry->payload = strdup ("{}");
    return entry;
}

static void
test_backoff (void **state)
{
    (void) state;
    //  Linear in steps of the delay, capped.
    assert_int_equal (cbqueue_backoff_ms (1, 3000, 900000), 3000);
    assert_int_equal (cbqueue_backoff_ms (2, 3000, 900000), 6000);
    assert_int_equal (cbqueue_backoff_ms (10, 3000, 900000), 30000);
    assert_int_equal (cbqueue_backoff_ms (300, 3000, 900000), 900000);
    assert_int_equal (cbqueue_backoff_ms (301, 3000, 900000), 900000);
    assert_int_equal (cbqueue_backoff_ms (3, 200, 500), 500);
    //  No overflow far past the cap.
    assert_int_equal (cbqueue_backoff_ms (2000000000, 3600000, 86400000), 86400000);
    //  Nothing to wait for nonsense.
    assert_int_equal (cbqueue_backoff_ms (0, 3000, 900000), 0);
    assert_int_equal (cbqueue_backoff_ms (-1, 3000, 900000), 0);
    assert_int_equal (cbqueue_backoff_ms (1, 0, 900000), 0);
}

static void
test_order_per_conversation (void **state)
{
    (void) state;
    cbqueue_t *queue = cbqueue_new ();
    cbqueue_add (queue, s_entry (1, "111"));
    cbqueue_add (queue, s_entry (2, "111"));
    cbqueue_add (queue, s_entry (3, "222"));
    cbqueue_add (queue, s_entry (4, "111"));
    assert_int_equal (cbqueue_size (queue), 4);
    //  One per conversation at a time, conversations in turn.
    cbentry_t *a = cbqueue_next (queue, 0);
    cbentry_t *b = cbqueue_next (queue, 0);
    assert_int_equal (a->seq, 1);
    assert_int_equal (b->seq, 3);
    assert_null (cbqueue_next (queue, 0));
    assert_int_equal (cbqueue_in_flight (queue), 2);
    //  111's next goes once its first is delivered.
    cbqueue_done (queue, a, true, 0);
    cbentry_t *c = cbqueue_next (queue, 0);
    assert_int_equal (c->seq, 2);
    assert_null (cbqueue_next (queue, 0));
    cbqueue_done (queue, b, true, 0);
    cbqueue_done (queue, c, true, 0);
    cbentry_t *d = cbqueue_next (queue, 0);
    assert_int_equal (d->seq, 4);
    cbqueue_done (queue, d, true, 0);
    assert_null (cbqueue_next (queue, 0));
    assert_int_equal (cbqueue_size (queue), 0);
    assert_int_equal (cbqueue_in_flight (queue), 0);
    cbqueue_destroy (&queue);
    assert_null (queue);
}

static void
test_failure_holds_its_conversation (void **state)
{
    (void) state;
    cbqueue_t *queue = cbqueue_new ();
    cbqueue_add (queue, s_entry (1, "111"));
    cbqueue_add (queue, s_entry (2, "111"));
    cbqueue_add (queue, s_entry (3, "222"));
    cbentry_t *a = cbqueue_next (queue, 0);
    assert_int_equal (a->seq, 1);
    //  Failed: retried at 100 ms; its successor waits; others go on.
    cbqueue_done (queue, a, false, MS (100));
    assert_int_equal (a->attempts, 1);
    assert_int_equal (cbqueue_waiting (queue), 1);
    assert_int_equal (cbqueue_next_due (queue), MS (100));
    cbentry_t *b = cbqueue_next (queue, MS (50));
    assert_int_equal (b->seq, 3);
    assert_null (cbqueue_next (queue, MS (99)));
    cbentry_t *again = cbqueue_next (queue, MS (100));
    assert_ptr_equal (again, a);
    assert_int_equal (cbqueue_next_due (queue), -1);
    cbqueue_done (queue, again, false, MS (300));
    assert_int_equal (a->attempts, 2);
    assert_null (cbqueue_next (queue, MS (299)));
    again = cbqueue_next (queue, MS (301));
    assert_ptr_equal (again, a);
    cbqueue_done (queue, again, true, 0);
    cbentry_t *c = cbqueue_next (queue, MS (301));
    assert_int_equal (c->seq, 2);
    cbqueue_done (queue, b, true, 0);
    cbqueue_done (queue, c, true, 0);
    assert_int_equal (cbqueue_size (queue), 0);
    cbqueue_destroy (&queue);
}

static void
test_retries_in_due_order (void **state)
{
    (void) state;
    cbqueue_t *queue = cbqueue_new ();
    //  Conversations failing with different retry times come back by time.
    wa_usec_t due[] = { 500, 100, 400, 200, 300, 100, 600 };
    size_t n = sizeof due / sizeof due[0];
    for (size_t i = 0; i < n; i++) {
        char conversation[8];
        snprintf (conversation, sizeof conversation, "%zu", i + 1);
        cbqueue_add (queue, s_entry (i + 1, conversation));
    }
    for (size_t i = 0; i < n; i++) {
        cbentry_t *entry = cbqueue_next (queue, 0);
        assert_non_null (entry);
        cbqueue_done (queue, entry, false, MS (due[entry->seq - 1]));
    }
    assert_int_equal (cbqueue_waiting (queue), n);
    //  Nothing before its time, and by time (ties in either order).
    assert_null (cbqueue_next (queue, MS (99)));
    wa_usec_t last = 0;
    for (size_t i = 0; i < n; i++) {
        wa_usec_t next = cbqueue_next_due (queue);
        cbentry_t *entry = cbqueue_next (queue, next >= 0 ? next : last);
        assert_non_null (entry);
        wa_usec_t its = MS (due[entry->seq - 1]);
        assert_true (its >= last);
        assert_true (next < 0 || its <= next);
        last = its;
        cbqueue_done (queue, entry, true, 0);
    }
    assert_int_equal (cbqueue_size (queue), 0);
    cbqueue_destroy (&queue);
}

static void
test_many_and_purge (void **state)
{
    (void) state;
    cbqueue_t *queue = cbqueue_new ();
    //  10000 events over 37 conversations: delivered in order per conversation.
    uint64_t last[37] = { 0 };
    for (uint64_t seq = 1; seq <= 10000; seq++) {
        char conversation[8];
        snprintf (conversation, sizeof conversation, "%llu", (unsigned long long) (seq % 37));
        cbqueue_add (queue, s_entry (seq, conversation));
    }
    size_t delivered = 0;
    cbentry_t *flight[12];
    while (cbqueue_size (queue) > 0) {
        size_t n = 0;
        while (n < 12 && (flight[n] = cbqueue_next (queue, 0)))
            n++;
        assert_true (n > 0);
        for (size_t i = 0; i < n; i++) {
            uint64_t c = flight[i]->seq % 37;
            assert_true (flight[i]->seq > last[c]);
            last[c] = flight[i]->seq;
            //  Every third first attempt fails and is retried at once.
            bool ok = flight[i]->attempts > 0 || flight[i]->seq % 3;
            if (!ok)
                last[c] = flight[i]->seq - 1;
            cbqueue_done (queue, flight[i], ok, 0);
            delivered += ok;
        }
    }
    assert_int_equal (delivered, 10000);
    //  Purge drops everything, in flight too.
    cbqueue_add (queue, s_entry (1, "1"));
    cbqueue_add (queue, s_entry (2, "2"));
    cbentry_t *entry = cbqueue_next (queue, 0);
    cbqueue_done (queue, entry, false, MS (5));
    assert_non_null (cbqueue_next (queue, 0));
    cbqueue_purge (queue);
    assert_int_equal (cbqueue_size (queue), 0);
    assert_int_equal (cbqueue_in_flight (queue), 0);
    assert_int_equal (cbqueue_waiting (queue), 0);
    assert_null (cbqueue_next (queue, MS (10)));
    cbqueue_add (queue, s_entry (3, "1"));
    entry = cbqueue_next (queue, 0);
    assert_int_equal (entry->seq, 3);
    cbqueue_destroy (&queue);
}

//  --------------------------------------------------------------------------
//  cbevent

static int
s_parse (const char *text, cbevent_t *event, char *why)
{
    return cbevent_parse (text, strlen (text), event, why, 160);
}

static void
test_event_status (void **state)
{
    (void) state;
    cbevent_t event;
    char why[160];
    const char *text = "{\"event_id\":\"w1-1\",\"payload\":{\"statuses\":[{\"id\":\"gBEabc-_\",\"recipient_id\":"
                       "\"16315551234\",\"status\":\"sent\",\"timestamp\":\"1700000000\"}]}}";
    assert_int_equal (s_parse (text, &event, why), 0);
    assert_string_equal (event.event_id, "w1-1");
    assert_string_equal (event.kind, "status");
    assert_string_equal (event.conversation, "16315551234");
    assert_string_equal (event.message_id, "");
    assert_true (event.sent_status);
    assert_string_equal (event.payload, "{\"statuses\":[{\"id\":\"gBEabc-_\",\"recipient_id\":\"16315551234\","
                                        "\"status\":\"sent\",\"timestamp\":\"1700000000\"}]}");
    free (event.payload);
    const char *read = "{\"event_id\":\"w1-2\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\","
                       "\"status\":\"read\",\"timestamp\":\"1\"}]}}";
    assert_int_equal (s_parse (read, &event, why), 0);
    assert_false (event.sent_status);
    free (event.payload);
}

//  A failed status may carry the network's errors; no other status may.
static void
test_event_failed_errors (void **state)
{
    (void) state;
    cbevent_t event;
    char why[160];
    const char *text = "{\"event_id\":\"w1-9\",\"payload\":{\"statuses\":[{\"id\":\"gBEabc\",\"recipient_id\":"
                       "\"16315551234\",\"status\":\"failed\",\"timestamp\":\"1700000000\",\"errors\":[{\"code\":2001,"
                       "\"title\":\"Template missing\",\"details\":\"no template named 'x'\"}]}]}}";
    assert_int_equal (s_parse (text, &event, why), 0);
    assert_non_null (strstr (event.payload, "\"errors\":[{\"code\":2001"));
    free (event.payload);
    const char *no_details = "{\"event_id\":\"w1-9\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\","
                             "\"status\":\"failed\",\"timestamp\":\"1\",\"errors\":[{\"code\":1026,\"title\":\"t\"}]}]}}";
    assert_int_equal (s_parse (no_details, &event, why), 0);
    free (event.payload);
    static const char *bad[] = {
        //  errors on a status that did not fail
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"read\","
        "\"timestamp\":\"1\",\"errors\":[{\"code\":1,\"title\":\"t\"}]}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":[]}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":{\"code\":1,\"title\":\"t\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":[{\"code\":\"2001\",\"title\":\"t\"}]}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":[{\"code\":1,\"title\":\"\"}]}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":[{\"code\":1,\"title\":\"t\",\"href\":\"x\"}]}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"m\",\"recipient_id\":\"1\",\"status\":\"failed\","
        "\"timestamp\":\"1\",\"errors\":[{\"code\":0,\"title\":\"t\"}]}]}}",
        NULL
    };
    for (int i = 0; bad[i]; i++) {
        memset (&event, 0, sizeof event);
        if (s_parse (bad[i], &event, why) == 0)
            fail_msg ("accepted: %s", bad[i]);
        assert_null (event.payload);
    }
}

static void
test_event_inbound (void **state)
{
    (void) state;
    cbevent_t event;
    char why[160];
    const char *text = "{\"event_id\":\"w1-3\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"Kerry\"},"
                       "\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\",\"id\":\"in.7\","
                       "\"timestamp\":\"1700000000\",\"type\":\"text\",\"text\":{\"body\":\"hello \\u00e9\"}}]}}";
    assert_int_equal (s_parse (text, &event, why), 0);
    assert_string_equal (event.kind, "message");
    assert_string_equal (event.conversation, "16505551234");
    //  The message's own id (kept for PUT /v1/messages/{id}), not the event's.
    assert_string_equal (event.message_id, "in.7");
    assert_false (event.sent_status);
    assert_non_null (strstr (event.payload, "\"body\":\"hello \xc3\xa9\""));
    //  A row read back passes the same checks.
    cbevent_t again;
    assert_int_equal (cbevent_check_payload (event.payload, "w1-3", &again, why, sizeof why), 0);
    assert_string_equal (again.payload, event.payload);
    free (again.payload);
    free (event.payload);
}

static void
test_event_rejects (void **state)
{
    (void) state;
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"event_id\":\"w1\"}",
        "{\"payload\":{}}",
        "{\"event_id\":\"\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"a b\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":7,\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]},\"extra\":1}",
        "{\"event_id\":\"w1\",\"event_id\":\"w2\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        //  statuses
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"},{\"id\":\"y\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"seen\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1a\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"123456789012345678901\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x y\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":1}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\",\"more\":1}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\",\"timestamp\":\"1\"}],\"messages\":[]}}",
        //  inbound
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"2\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"b\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"image\",\"text\":{\"body\":\"b\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"b\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"a\\u0000b\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":\"b\"}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[],\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"b\"}}]}}",
        "{\"event_id\":\"w1\",\"payload\":{\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"b\"}}]}}",
        NULL
    };
    for (int i = 0; bad[i]; i++) {
        cbevent_t event;
        char why[160] = "";
        if (s_parse (bad[i], &event, why) == 0)
            fail_msg ("accepted: %s", bad[i]);
        assert_true (*why);
        assert_null (event.payload);
    }
    //  A body over 4096 bytes, and one whose escapes take it past 8000.
    char *text = malloc (40000);
    char *body = malloc (30000);
    memset (body, 'a', 4097);
    body[4097] = 0;
    snprintf (text, 40000, "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],"
              "\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"%s\"}}]}}", body);
    cbevent_t event;
    char why[160];
    assert_int_equal (s_parse (text, &event, why), -1);
    body[0] = 0;
    for (int i = 0; i < 2000; i++)
        strcat (body, "\\u0001");
    snprintf (text, 40000, "{\"event_id\":\"w1\",\"payload\":{\"contacts\":[{\"profile\":{\"name\":\"K\"},\"wa_id\":\"1\"}],"
              "\"messages\":[{\"from\":\"1\",\"id\":\"m\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"%s\"}}]}}", body);
    assert_int_equal (s_parse (text, &event, why), -1);
    assert_non_null (strstr (why, "8000"));
    free (body);
    free (text);
    //  A row read back with a bad id or payload.
    assert_int_equal (cbevent_check_payload ("{\"statuses\":[]}", "w1", &event, why, sizeof why), -1);
    assert_int_equal (cbevent_check_payload ("{", "w1", &event, why, sizeof why), -1);
    assert_int_equal (cbevent_check_payload ("{\"statuses\":[{\"id\":\"x\",\"recipient_id\":\"1\",\"status\":\"read\","
                                             "\"timestamp\":\"1\"}]}", "bad id", &event, why, sizeof why), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_backoff),
        cmocka_unit_test (test_order_per_conversation),
        cmocka_unit_test (test_failure_holds_its_conversation),
        cmocka_unit_test (test_retries_in_due_order),
        cmocka_unit_test (test_many_and_purge),
        cmocka_unit_test (test_event_status),
        cmocka_unit_test (test_event_failed_errors),
        cmocka_unit_test (test_event_inbound),
        cmocka_unit_test (test_event_rejects),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
