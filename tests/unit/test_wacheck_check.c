/*  The checker's pure logic, on hand-made ledgers, records and webhook logs:
    an overlap (as wagate writes it, and one wagate missed), a message
    answered 201 and lost, a duplicate, failovers, the window, per-shard
    unavailability, and callbacks lost or out of order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "check.h"

#define T0 "2026-11-28T01:00:"

//  A session line: event, shard, node, epoch, session, at (seconds past T0).
static void
s_session (check_t *check, const char *event, int shard, int node, int epoch, int session, double at)
{
    char line [512];
    snprintf (line, sizeof line,
              "{\"at\":\"" T0 "%09.6fZ\",\"event\":\"%s\",\"account\":\"15550000000\",\"shard\":%d,"
              "\"node\":%d,\"epoch\":%d,\"session\":%d}", at, event, shard, node, epoch, session);
    assert_int_equal (check_ledger_line (check, line), 0);
}

static void
s_message (check_t *check, const char *event, int shard, const char *id, double at)
{
    char line [512];
    snprintf (line, sizeof line,
              "{\"at\":\"" T0 "%09.6fZ\",\"event\":\"%s\",\"account\":\"15550000000\",\"shard\":%d,"
              "\"node\":3,\"epoch\":1,\"session\":1,\"id\":\"%s\",\"to\":\"1631\",\"type\":\"text\"}",
              at, event, shard, id);
    assert_int_equal (check_ledger_line (check, line), 0);
}

static double s_base;           //  unix seconds of T0 "00"

//  A request of the record, sent and answered at seconds past T0.
static void
s_request (check_t *check, const char *key, int status, const char *id, double sent, double done)
{
    char line [512], idtext [96];
    snprintf (idtext, sizeof idtext, id? "\"%s\"": "null", id);
    snprintf (line, sizeof line,
              "{\"n\":1,\"key\":\"%s\",\"to\":\"1631\",\"sent_at\":%.6f,\"done_at\":%.6f,\"latency_ms\":1.0,"
              "\"status\":%d,\"id\":%s,\"error\":null}", key, s_base + sent, s_base + done, status, idtext);
    assert_int_equal (check_record_line (check, line), 0);
}

static int
s_setup (void **state)
{
    (void) state;
    s_base = check_parse_time (T0 "00Z");
    assert_true (s_base > 0);
    return 0;
}

static void
test_parse_time (void **state)
{
    (void) state;
    double t = check_parse_time ("1970-01-01T00:01:40.250000Z");
    assert_true (t > 100.249 && t < 100.251);
    assert_true (check_parse_time ("1970-01-01T00:01:40Z") == 100);
    assert_true (check_parse_time ("1970-01-01T00:01:40.5+00:00") == 100.5);
    assert_true (check_parse_time ("1970-01-01 00:01:40Z") < 0);
    assert_true (check_parse_time ("1970-01-01T00:01:40.Z") < 0);
    assert_true (check_parse_time ("1970-01-01T00:01:40.1+01:00") < 0);
    assert_true (check_parse_time ("") < 0);
    assert_true (check_parse_time (NULL) < 0);
}

//  A clean handover: logout or expiry, then another node logs in.
static void
test_clean_failovers (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_session (check, "login", 1, 4, 1, 2, 1.1);
    s_session (check, "expired", 0, 3, 1, 1, 5.0);
    s_session (check, "login", 0, 5, 2, 3, 6.0);        //  failover of shard 0
    s_session (check, "logout", 0, 5, 2, 3, 7.0);
    s_session (check, "login", 0, 5, 3, 4, 8.0);        //  the same node again: no failover
    s_session (check, "refused", 0, 3, 1, 0, 8.5);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.sessions, 4);
    assert_int_equal (r.overlaps, 0);
    assert_int_equal (r.overlaps_wagate, 0);
    assert_int_equal (r.failovers, 1);
    assert_int_equal (r.refused, 1);
    assert_false (r.callbacks_checked);
    assert_true (check_result_safe (&r));
    check_destroy (&check);
    assert_null (check);
}

//  An overlap as wagate writes it: "overlap", "kicked" (the old session),
//  then "login" of the new one.
static void
test_overlap_as_wagate_writes_it (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_session (check, "overlap", 0, 4, 2, 2, 2.0);
    s_session (check, "kicked", 0, 3, 1, 1, 2.0);
    s_session (check, "login", 0, 4, 2, 2, 2.0);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.overlaps, 1);
    assert_int_equal (r.overlaps_wagate, 1);
    assert_int_equal (r.failovers, 1);
    assert_false (check_result_safe (&r));
    assert_non_null (strstr (r.overlap_example, "session 2 of node 4"));
    assert_non_null (strstr (r.overlap_example, "session 1 of node 3"));
    check_destroy (&check);
}

//  An overlap wagate did not see (no "overlap" line): recomputed anyway.
static void
test_overlap_wagate_missed (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_message (check, "message", 0, "gBEa", 1.5);
    s_session (check, "login", 0, 4, 2, 2, 2.0);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.overlaps, 1);
    assert_int_equal (r.overlaps_wagate, 0);
    assert_false (check_result_safe (&r));
    check_destroy (&check);
}

//  A connection that logs in for another key kicks its own session of the
//  first key: that is no overlap. Nor is a kick followed by other lines.
static void
test_kick_of_another_key (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_session (check, "kicked", 0, 3, 1, 1, 2.0);
    s_session (check, "login", 1, 3, 1, 2, 2.0);
    s_session (check, "login", 0, 4, 2, 3, 3.0);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.overlaps, 0);
    assert_int_equal (r.sessions, 3);
    assert_int_equal (r.failovers, 1);
    assert_true (check_result_safe (&r));
    check_destroy (&check);
}

//  A message answered 201 that never reached the upstream.
static void
test_lost_message (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_message (check, "message", 0, "gBEa", 2.0);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    s_request (check, "run-2", 201, "gBEb", 1.6, 2.0);         //  lost
    s_request (check, "run-3", 503, NULL, 1.7, 2.1);
    s_request (check, "run-4", 0, NULL, 1.8, 2.2);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.requests, 4);
    assert_int_equal (r.ok, 2);
    assert_int_equal (r.failed, 2);
    assert_int_equal (r.delivered, 1);
    assert_int_equal (r.lost, 1);
    assert_non_null (strstr (r.lost_example, "gBEb"));
    assert_non_null (strstr (r.lost_example, "run-2"));
    assert_false (check_result_safe (&r));
    check_destroy (&check);
}

//  One id upstream twice, as wagate writes it ("message", then "duplicate").
static void
test_duplicate (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_message (check, "message", 0, "gBEa", 2.0);
    s_message (check, "message", 0, "gBEb", 2.1);
    s_message (check, "duplicate", 0, "gBEa", 3.0);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    s_request (check, "run-2", 201, "gBEb", 1.5, 1.9);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.lost, 0);
    assert_int_equal (r.duplicates, 1);
    assert_int_equal (r.duplicates_wagate, 1);
    assert_non_null (strstr (r.duplicate_example, "gBEa"));
    assert_false (check_result_safe (&r));
    check_destroy (&check);

    //  Recomputed even when wagate wrote two "message" lines for one id.
    check = check_new ();
    s_message (check, "message", 0, "gBEa", 2.0);
    s_message (check, "message", 0, "gBEa", 2.5);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    check_result (check, &r);
    assert_int_equal (r.duplicates, 1);
    assert_int_equal (r.duplicates_wagate, 0);
    assert_false (check_result_safe (&r));
    check_destroy (&check);
}

//  One id answered to two different requests: one of the messages is gone.
//  The same request key answered twice (a replayed run) is the same message.
static void
test_conflict (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_message (check, "message", 0, "gBEa", 2.0);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    s_request (check, "run-1", 201, "gBEa", 2.5, 2.9);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.conflicts, 0);
    assert_true (check_result_safe (&r));
    check_destroy (&check);

    check = check_new ();
    s_message (check, "message", 0, "gBEa", 2.0);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    s_request (check, "run-2", 201, "gBEa", 2.5, 2.9);
    check_result (check, &r);
    assert_int_equal (r.conflicts, 1);
    assert_false (check_result_safe (&r));
    check_destroy (&check);
}

//  Only what happened in the window counts, but the record's own messages
//  count whenever they arrived.
static void
test_window (void **state)
{
    (void) state;
    check_t *check = check_new ();
    check_window (check, s_base + 10, s_base + 20);
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_session (check, "login", 0, 4, 2, 2, 2.0);        //  an overlap before the window
    s_message (check, "message", 0, "old", 3.0);
    s_message (check, "duplicate", 0, "old", 4.0);      //  a duplicate before the window
    s_session (check, "expired", 0, 4, 2, 2, 11.0);
    s_session (check, "login", 0, 5, 3, 3, 12.0);       //  a failover in it
    s_message (check, "message", 0, "gBEa", 13.0);
    s_message (check, "duplicate", 0, "gBEa", 25.0);    //  after it, but answered in the record
    s_session (check, "expired", 0, 5, 3, 3, 30.0);
    s_session (check, "login", 0, 3, 4, 4, 31.0);       //  a failover after it
    s_request (check, "run-1", 201, "gBEa", 12.5, 12.9);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.overlaps, 0);
    assert_int_equal (r.sessions, 1);
    assert_int_equal (r.failovers, 1);
    assert_int_equal (r.duplicates, 1);
    assert_int_equal (r.duplicates_wagate, 1);
    check_destroy (&check);
}

//  The longest stretch without a 201, per shard and for the whole API.
static void
test_unavailability (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_message (check, "message", 0, "a1", 1.0);
    s_message (check, "message", 1, "b1", 1.0);
    s_message (check, "message", 0, "a2", 2.0);
    s_message (check, "message", 1, "b2", 9.0);
    s_message (check, "message", 0, "a3", 10.0);
    s_request (check, "run-1", 201, "a1", 0.0, 1.0);
    s_request (check, "run-2", 201, "b1", 0.5, 1.0);
    s_request (check, "run-3", 201, "a2", 1.5, 2.0);
    s_request (check, "run-4", 503, NULL, 2.0, 4.0);
    s_request (check, "run-5", 201, "b2", 2.5, 9.0);     //  shard 1: 1.0 to 9.0
    s_request (check, "run-6", 201, "a3", 3.0, 10.0);    //  shard 0: 2.0 to 10.0
    s_request (check, "run-7", 0, NULL, 10.0, 10.5);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.lost, 0);
    assert_true (r.unavailable > 7.999 && r.unavailable < 8.001);
    assert_int_equal (r.unavailable_shard, 0);
    assert_true (r.unavailable_from > s_base + 1.999 && r.unavailable_from < s_base + 2.001);
    assert_true (r.unavailable_any > 6.999 && r.unavailable_any < 7.001);     //  2.0 to 9.0
    check_destroy (&check);

    //  A shard of the ledger that never answered: down the whole record.
    check = check_new ();
    s_session (check, "login", 1, 4, 1, 1, 0.1);
    s_message (check, "message", 0, "a1", 1.0);
    s_request (check, "run-1", 201, "a1", 0.0, 1.0);
    s_request (check, "run-2", 503, NULL, 0.5, 5.0);
    check_result (check, &r);
    assert_true (r.unavailable > 4.999 && r.unavailable < 5.001);
    assert_int_equal (r.unavailable_shard, 1);
    check_destroy (&check);
}

static void
s_emitted (check_t *check, const char *kind, const char *id, const char *status, const char *conversation, double at)
{
    char line [512];
    snprintf (line, sizeof line,
              "{\"at\":\"" T0 "%09.6fZ\",\"event\":\"emitted\",\"account\":\"15550000000\",\"shard\":0,"
              "\"node\":3,\"epoch\":1,\"session\":1,\"kind\":\"%s\",\"id\":\"%s\",%s%s%s\"conversation\":\"%s\"}",
              at, kind, id, status? "\"status\":\"": "", status? status: "", status? "\",": "", conversation);
    assert_int_equal (check_ledger_line (check, line), 0);
}

//  Callbacks: n/a without a webhook log; with one, each emitted event must
//  have been POSTed, and within a conversation in the order emitted.
static void
test_callbacks (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_emitted (check, "status", "gBEa", "sent", "1631", 1.0);
    s_emitted (check, "status", "gBEa", "delivered", "1631", 1.2);
    s_emitted (check, "message", "in1", NULL, "1777", 1.3);
    s_emitted (check, "status", "gBEa", "read", "1631", 1.4);
    check_result_t r;
    check_result (check, &r);
    assert_false (r.callbacks_checked);
    assert_int_equal (r.callbacks_expected, 4);
    assert_true (check_result_safe (&r));

    //  The log: "delivered" lost, "read" before "sent".
    assert_int_equal (check_hook_line (check,
        "{\"at\":1.0,\"status\":200,\"body\":{\"statuses\":[{\"id\":\"gBEa\",\"status\":\"read\",\"recipient_id\":\"1631\"}]}}"), 0);
    assert_int_equal (check_hook_line (check,
        "{\"at\":\"" T0 "02.000Z\",\"body\":\"{\\\"messages\\\":[{\\\"id\\\":\\\"in1\\\",\\\"from\\\":\\\"1777\\\"}]}\"}"), 0);
    assert_int_equal (check_hook_line (check,
        "{\"statuses\":[{\"id\":\"gBEa\",\"status\":\"sent\",\"recipient_id\":\"1631\"}]}"), 0);
    assert_int_equal (check_hook_line (check, "not json"), -1);
    //  Refused by the receiver (told to fail): not delivered.
    assert_int_equal (check_hook_line (check,
        "{\"at\":3.0,\"status\":500,\"path\":\"/\",\"body\":{\"statuses\":[{\"id\":\"gBEa\",\"status\":\"delivered\"}]}}"), 0);
    check_result (check, &r);
    assert_true (r.callbacks_checked);
    assert_int_equal (r.callbacks_lost, 1);
    assert_int_equal (r.callbacks_out_of_order, 1);
    assert_int_equal (r.bad_hook_lines, 1);
    assert_non_null (strstr (r.callback_example, "s:gBEa:delivered"));
    assert_false (check_result_safe (&r));
    check_destroy (&check);

    //  An empty log that exists: every callback is lost.
    check = check_new ();
    s_emitted (check, "message", "in1", NULL, "1777", 1.3);
    check_hooks_present (check);
    check_result (check, &r);
    assert_true (r.callbacks_checked);
    assert_int_equal (r.callbacks_lost, 1);
    check_destroy (&check);
}

//  The longest delivery delays: a 201 whose message reached the upstream a
//  minute later, an event POSTed 30 s after its emission. Nothing is lost,
//  the result is safe, and the delays show.
static void
test_delays (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_session (check, "login", 0, 3, 1, 1, 1.0);
    s_message (check, "message", 0, "gBEa", 2.0);
    s_request (check, "run-1", 201, "gBEa", 1.5, 1.9);
    s_request (check, "run-2", 201, "gBEb", 1.6, 2.0);
    s_message (check, "message", 0, "gBEb", 2.5);
    s_emitted (check, "status", "gBEa", "sent", "1631", 2.0);
    s_emitted (check, "status", "gBEb", "sent", "1632", 2.5);
    check_result_t r;
    check_result (check, &r);
    assert_true (r.message_delay > 0.49 && r.message_delay < 0.51);
    assert_non_null (strstr (r.message_delay_example, "gBEb"));
    assert_true (r.callback_delay == 0);
    //  The webhook log: one event at once, the other 30 s late.
    assert_int_equal (check_hook_line (check,
        "{\"at\":\"" T0 "02.100Z\",\"status\":200,\"body\":{\"statuses\":[{\"id\":\"gBEa\",\"status\":\"sent\"}]}}"), 0);
    assert_int_equal (check_hook_line (check,
        "{\"at\":\"" T0 "32.500Z\",\"status\":200,\"body\":{\"statuses\":[{\"id\":\"gBEb\",\"status\":\"sent\"}]}}"), 0);
    check_result (check, &r);
    assert_int_equal (r.callbacks_lost, 0);
    assert_true (r.callback_delay > 29.99 && r.callback_delay < 30.01);
    assert_non_null (strstr (r.callback_delay_example, "s:gBEb:sent"));
    assert_true (check_result_safe (&r));
    check_destroy (&check);
}

static void
test_malformed_lines (void **state)
{
    (void) state;
    check_t *check = check_new ();
    assert_int_equal (check_ledger_line (check, "{\"event\":\"login\"}"), -1);        //  no time
    assert_int_equal (check_ledger_line (check, "[1,2]"), -1);
    assert_int_equal (check_ledger_line (check, "\n"), 0);
    assert_int_equal (check_record_line (check, "{\"key\":\"k\",\"status\":\"201\",\"sent_at\":1,\"done_at\":2}"), -1);
    assert_int_equal (check_record_line (check, "{\"key\":\"k\",\"status\":201,\"sent_at\":1}"), -1);
    assert_int_equal (check_record_line (check, "{"), -1);
    //  A 201 without an id is a failed request, not a lost one.
    assert_int_equal (check_record_line (check, "{\"key\":\"k\",\"status\":201,\"sent_at\":1,\"done_at\":2,\"id\":null}"), 0);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.bad_ledger_lines, 2);
    assert_int_equal (r.bad_record_lines, 3);
    assert_int_equal (r.requests, 1);
    assert_int_equal (r.failed, 1);
    assert_int_equal (r.lost, 0);
    check_destroy (&check);
}

//  A session line of a layout: shard of shards (shards 0: null, unknown).
static void
s_session_layout (check_t *check, const char *event, int shard, int shards, int node, int session, double at)
{
    char line [512], count [16];
    snprintf (count, sizeof count, shards? "%d": "null", shards);
    snprintf (line, sizeof line,
              "{\"at\":\"" T0 "%09.6fZ\",\"event\":\"%s\",\"account\":\"15550000000\",\"shard\":%d,\"shards\":%s,"
              "\"node\":%d,\"epoch\":1,\"session\":%d}", at, event, shard, count, node, session);
    assert_int_equal (check_ledger_line (check, line), 0);
}

//  Layouts: sessions overlap when they serve common recipients, (s, N) and
//  (s', N') with N <= N' and s' mod N == s; one overlap per open session met.
static void
test_layout_overlaps (void **state)
{
    (void) state;
    check_t *check = check_new ();
    //  1 → 2 done right
    s_session_layout (check, "login", 0, 1, 3, 1, 1.0);
    s_session_layout (check, "logout", 0, 1, 3, 1, 2.0);
    s_session_layout (check, "login", 0, 2, 3, 2, 2.0);
    s_session_layout (check, "login", 1, 2, 4, 3, 2.0);
    //  4 shards beside 2: (1, 4) meets (1, 2) only; (2, 4) meets (0, 2)
    s_session_layout (check, "login", 1, 4, 5, 4, 3.0);
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.overlaps, 1);
    assert_non_null (strstr (r.overlap_example, "shard 1/4"));
    assert_non_null (strstr (r.overlap_example, "(shard 1/2,"));
    //  as wagate writes it: overlap and kicked lines, then the login
    s_session_layout (check, "overlap", 2, 4, 6, 5, 4.0);
    s_session_layout (check, "kicked", 0, 2, 3, 2, 4.0);
    s_session_layout (check, "login", 2, 4, 6, 5, 4.0);
    check_result (check, &r);
    assert_int_equal (r.overlaps, 2);
    assert_int_equal (r.overlaps_wagate, 1);
    //  32 → 1 at once: (0, 1) meets every open session: (1, 2), (1, 4), (2, 4)
    s_session_layout (check, "login", 0, 1, 7, 6, 5.0);
    check_result (check, &r);
    assert_int_equal (r.overlaps, 5);
    assert_false (check_result_safe (&r));
    check_destroy (&check);

    //  a count unknown: the same index only
    check = check_new ();
    s_session_layout (check, "login", 0, 0, 3, 1, 1.0);
    s_session_layout (check, "login", 2, 4, 4, 2, 1.0);
    s_session (check, "login", 1, 5, 1, 3, 1.0);         //  no "shards" at all
    s_session_layout (check, "login", 3, 4, 6, 4, 1.0);
    check_result (check, &r);
    assert_int_equal (r.overlaps, 0);
    s_session_layout (check, "login", 0, 2, 7, 5, 2.0);     //  meets (0, ?) and (2, 4)
    s_session_layout (check, "login", 1, 32, 8, 6, 2.0);    //  meets (1, ?) only
    check_result (check, &r);
    assert_int_equal (r.overlaps, 3);
    //  a login refused for its count is no fence at work
    assert_int_equal (check_ledger_line (check, "{\"at\":\"" T0 "03.000000Z\",\"event\":\"refused\","
                      "\"account\":\"15550000000\",\"shard\":0,\"shards\":3,\"node\":9,\"epoch\":1,"
                      "\"session\":null,\"reason\":\"invalid shard count 3: must be 1, 2, 4, 8, 16 or 32\"}"), 0);
    check_result (check, &r);
    assert_int_equal (r.refused_layout, 1);
    assert_int_equal (r.refused, 0);
    check_destroy (&check);
}

//  A message line: on shard of shards (0: no "shards"), to, marked or not.
static void
s_message_to (check_t *check, int shard, int shards, const char *to, const char *id, bool marked)
{
    char line [512], count [24] = "";
    if (shards)
        snprintf (count, sizeof count, "\"shards\":%d,", shards);
    snprintf (line, sizeof line,
              "{\"at\":\"" T0 "01.000000Z\",\"event\":\"message\",\"account\":\"15550000000\",\"shard\":%d,%s"
              "\"node\":3,\"epoch\":1,\"session\":1,\"id\":\"%s\",\"to\":\"%s\",\"type\":\"text\"%s}",
              shard, count, id, to, marked? ",\"misrouted\":true": "");
    assert_int_equal (check_ledger_line (check, line), 0);
}

//  CRC32("123456789") is 0xCBF43926: shard 2 of 4, 6 of 8, 0 of 1.
static void
test_misrouted (void **state)
{
    (void) state;
    check_t *check = check_new ();
    s_message_to (check, 2, 4, "123456789", "m1", false);
    s_message_to (check, 6, 8, "123456789", "m2", false);
    s_message_to (check, 0, 1, "123456789", "m3", false);
    s_message_to (check, 5, 0, "123456789", "m4", false);     //  count unknown: not judged
    check_result_t r;
    check_result (check, &r);
    assert_int_equal (r.misrouted, 0);
    assert_true (check_result_safe (&r));
    s_message_to (check, 1, 4, "123456789", "m5", true);
    s_message_to (check, 2, 8, "123456789", "m6", false);      //  wagate missed it
    check_result (check, &r);
    assert_int_equal (r.misrouted, 2);
    assert_int_equal (r.misrouted_wagate, 1);
    assert_non_null (strstr (r.misrouted_example, "m5"));
    assert_non_null (strstr (r.misrouted_example, "shard 2 of 4"));
    assert_false (check_result_safe (&r));
    check_destroy (&check);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_parse_time),
        cmocka_unit_test (test_clean_failovers),
        cmocka_unit_test (test_overlap_as_wagate_writes_it),
        cmocka_unit_test (test_overlap_wagate_missed),
        cmocka_unit_test (test_kick_of_another_key),
        cmocka_unit_test (test_layout_overlaps),
        cmocka_unit_test (test_misrouted),
        cmocka_unit_test (test_lost_message),
        cmocka_unit_test (test_duplicate),
        cmocka_unit_test (test_conflict),
        cmocka_unit_test (test_window),
        cmocka_unit_test (test_unavailability),
        cmocka_unit_test (test_callbacks),
        cmocka_unit_test (test_delays),
        cmocka_unit_test (test_malformed_lines),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
