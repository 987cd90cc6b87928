/*  Unit tests for watap's format: event text parsing, the text and JSON
    lines, the summaries and the filters. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "format.h"

//  2024-05-01T12:00:01.234Z
#define AT ((wa_usec_t) 1714564801234567LL)

static wa_msg_t s_msg;

static void
s_event (const char *text, uint64_t node, uint32_t shard, uint64_t epoch)
{
    wa_msg_init (&s_msg, WA_MSG_EVENT);
    s_msg.node = node;
    s_msg.shard = shard;
    s_msg.epoch = epoch;
    wa_msg_set_text (&s_msg, text);
}

static json_t *
s_json (const tap_item_t *item)
{
    char *line = tap_format_json (item);
    assert_non_null (line);
    assert_null (strchr (line, '\n'));
    json_error_t error;
    json_t *json = json_loads (line, 0, &error);
    free (line);
    assert_non_null (json);
    //  The fields every line has.
    assert_true (json_is_string (json_object_get (json, "at")));
    assert_true (json_is_string (json_object_get (json, "kind")));
    assert_true (json_is_integer (json_object_get (json, "epoch")));
    assert_true (json_is_string (json_object_get (json, "detail")));
    assert_non_null (json_object_get (json, "node"));
    assert_non_null (json_object_get (json, "shard"));
    assert_non_null (json_object_get (json, "subject"));
    return json;
}

static const char *
s_text (const tap_item_t *item)
{
    static char line[4096];
    size_t len = tap_format_text (item, line, sizeof line);
    assert_int_equal (len, strlen (line));
    return line;
}

static const char *
s_details (const tap_item_t *item)
{
    static char details[4096];
    tap_format_details (item, details, sizeof details);
    return details;
}

static void
test_event_parse (void **state)
{
    (void) state;
    char kind[TAP_KIND_MAX + 1];
    uint64_t subject;
    const char *detail;
    size_t len;

    tap_event_parse ("socket 3 DISCONNECTED tcp://127.0.0.1:49153 control", kind, sizeof kind,
                     &subject, &detail, &len);
    assert_string_equal (kind, "socket");
    assert_int_equal (subject, 3);
    assert_int_equal (len, strlen ("DISCONNECTED tcp://127.0.0.1:49153 control"));
    assert_memory_equal (detail, "DISCONNECTED tcp://127.0.0.1:49153 control", len);

    //  node.c writes "kind subject detail" even when the detail is empty.
    tap_event_parse ("lease_acquired 12 ", kind, sizeof kind, &subject, &detail, &len);
    assert_string_equal (kind, "lease_acquired");
    assert_int_equal (subject, 12);
    assert_int_equal (len, 0);

    tap_event_parse ("  liveness  7   late 12.5 s  ", kind, sizeof kind, &subject, &detail, &len);
    assert_string_equal (kind, "liveness");
    assert_int_equal (subject, 7);
    assert_int_equal (len, strlen ("late 12.5 s"));
    assert_memory_equal (detail, "late 12.5 s", len);

    //  A second word that is not a number is detail.
    tap_event_parse ("something_new x7 y", kind, sizeof kind, &subject, &detail, &len);
    assert_string_equal (kind, "something_new");
    assert_int_equal (subject, 0);
    assert_int_equal (len, 4);
    assert_memory_equal (detail, "x7 y", 4);

    tap_event_parse ("promoted 18446744073709551616 too big", kind, sizeof kind, &subject, &detail, &len);
    assert_int_equal (subject, 0);
    assert_memory_equal (detail, "18446744073709551616 too big", len);

    tap_event_parse ("demoted", kind, sizeof kind, &subject, &detail, &len);
    assert_string_equal (kind, "demoted");
    assert_int_equal (subject, 0);
    assert_int_equal (len, 0);

    tap_event_parse ("", kind, sizeof kind, &subject, &detail, &len);
    assert_string_equal (kind, "event");
    assert_int_equal (len, 0);

    //  A kind longer than the buffer is cut, never overflows.
    char small[6];
    tap_event_parse ("failover_rate_limited 0 shard 1", small, sizeof small, &subject, &detail, &len);
    assert_string_equal (small, "failo");
    assert_int_equal (subject, 0);
    assert_memory_equal (detail, "shard 1", len);
}

static void
test_event_item_and_lines (void **state)
{
    (void) state;
    tap_item_t item;
    s_event ("promoted 7 unhealthy: replaced coreapp 5", 2, 0, 4);
    tap_item_from_msg (&item, &s_msg, 0, AT);
    assert_int_equal (item.type, TAP_EVENT);
    assert_string_equal (item.kind, "promoted");
    assert_int_equal (item.node, 2);
    assert_int_equal (item.subject, 7);
    assert_true (item.has_shard);

    assert_string_equal (s_text (&item), "12:00:01.234  node 2    promoted         "
                         "subject 7: unhealthy: replaced coreapp 5 (shard 0, epoch 4)");
    json_t *json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "at")), "2024-05-01T12:00:01.234Z");
    assert_int_equal (json_integer_value (json_object_get (json, "node")), 2);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "promoted");
    assert_int_equal (json_integer_value (json_object_get (json, "shard")), 0);
    assert_int_equal (json_integer_value (json_object_get (json, "epoch")), 4);
    assert_int_equal (json_integer_value (json_object_get (json, "subject")), 7);
    assert_string_equal (json_string_value (json_object_get (json, "detail")), "unhealthy: replaced coreapp 5");
    json_decref (json);

    //  No shard, no subject: nulls. The bus's node stands in for a node of 0.
    s_event ("socket 0 DISCONNECTED tcp://127.0.0.1:49153 control", 0, UINT32_MAX, 0);
    tap_item_from_msg (&item, &s_msg, 9, AT);
    assert_int_equal (item.node, 9);
    assert_string_equal (s_text (&item), "12:00:01.234  node 9    socket           "
                         "DISCONNECTED tcp://127.0.0.1:49153 control");
    json = s_json (&item);
    assert_true (json_is_null (json_object_get (json, "shard")));
    assert_true (json_is_null (json_object_get (json, "subject")));
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "socket");
    json_decref (json);

    //  Nothing from the wire breaks the line; bad UTF-8 still makes JSON.
    s_event ("weird 1 a\nb\x1b[2Jc \xff\xfe", 3, UINT32_MAX, 0);
    tap_item_from_msg (&item, &s_msg, 0, AT);
    const char *line = s_text (&item);
    assert_null (strchr (line, '\n'));
    assert_null (strchr (line, '\x1b'));
    assert_non_null (strstr (line, "weird"));
    json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "weird");
    assert_string_equal (json_string_value (json_object_get (json, "detail")), "a\nb\x1b[2Jc ??");
    json_decref (json);
}

static void
test_heartbeat_and_reply (void **state)
{
    (void) state;
    tap_item_t item;
    wa_msg_init (&s_msg, WA_MSG_HEARTBEAT);
    s_msg.node = 3;
    s_msg.epoch = 2;
    s_msg.seq = 42;
    wa_msg_set_text (&s_msg, "primary_master");
    tap_item_from_msg (&item, &s_msg, 0, AT);
    assert_string_equal (s_text (&item), "12:00:01.234  node 3    heartbeat        "
                         "master 3: beat 42 (primary_master, epoch 2)");
    json_t *json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "heartbeat");
    assert_int_equal (json_integer_value (json_object_get (json, "node")), 3);
    assert_string_equal (json_string_value (json_object_get (json, "role")), "primary_master");
    assert_int_equal (json_integer_value (json_object_get (json, "seq")), 42);
    assert_true (json_is_null (json_object_get (json, "shard")));
    json_decref (json);

    wa_msg_init (&s_msg, WA_MSG_HB_REPLY);
    s_msg.shard = UINT32_MAX;
    s_msg.node = 7;
    s_msg.epoch = 0;
    s_msg.seq = 42;
    s_msg.code = 0;
    wa_msg_set_text (&s_msg, "secondary_coreapp");
    tap_item_from_msg (&item, &s_msg, 3, AT);
    assert_int_equal (item.node, 3);
    assert_int_equal (item.coreapp, 7);
    assert_string_equal (s_details (&item), "master 3 ← coreapp 7: seq 42 (secondary_coreapp, not connected)");
    json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "reply");
    assert_int_equal (json_integer_value (json_object_get (json, "node")), 3);
    assert_int_equal (json_integer_value (json_object_get (json, "coreapp")), 7);
    assert_int_equal (json_integer_value (json_object_get (json, "subject")), 7);
    assert_true (json_is_false (json_object_get (json, "connected")));
    assert_true (json_is_null (json_object_get (json, "shard")));
    json_decref (json);

    //  Connected primary, with its shard; the republishing Master not known.
    s_msg.shard = 1;
    s_msg.epoch = 5;
    s_msg.code = 1;
    wa_msg_set_text (&s_msg, "primary_coreapp");
    tap_item_from_msg (&item, &s_msg, 0, AT);
    assert_string_equal (s_details (&item),
                         "master ? ← coreapp 7: seq 42 (primary_coreapp, connected, shard 1, epoch 5)");
    assert_non_null (strstr (s_text (&item), "node ?    reply"));
    json = s_json (&item);
    assert_true (json_is_null (json_object_get (json, "node")));
    assert_int_equal (json_integer_value (json_object_get (json, "shard")), 1);
    assert_true (json_is_true (json_object_get (json, "connected")));
    json_decref (json);
}

static void
test_settings (void **state)
{
    (void) state;
    tap_item_t item;
    wa_msg_init (&s_msg, WA_MSG_SETTINGS);
    s_msg.epoch = 2;
    s_msg.seq = 5;
    wa_msg_set_text (&s_msg, "{\"heartbeat_interval\": \"0.5\", \"failover_limit\": 5, \"lease_ttl\": 2.5}");
    tap_item_from_msg (&item, &s_msg, 1, AT);
    assert_string_equal (s_details (&item),
                         "epoch 2 seq 5: heartbeat_interval=0.5 failover_limit=5 lease_ttl=2.5");
    json_t *json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "settings");
    assert_int_equal (json_integer_value (json_object_get (json, "node")), 1);
    json_t *settings = json_object_get (json, "settings");
    assert_true (json_is_object (settings));
    assert_string_equal (json_string_value (json_object_get (settings, "heartbeat_interval")), "0.5");
    assert_string_equal (json_string_value (json_object_get (json, "detail")), "");
    json_decref (json);

    //  Not JSON: said so, and the text kept for whoever debugs the sender.
    wa_msg_set_text (&s_msg, "heartbeat_interval=5");
    tap_item_from_msg (&item, &s_msg, 1, AT);
    assert_string_equal (s_details (&item), "epoch 2 seq 5: (not a JSON object) heartbeat_interval=5");
    json = s_json (&item);
    assert_true (json_is_null (json_object_get (json, "settings")));
    assert_string_equal (json_string_value (json_object_get (json, "detail")), "heartbeat_interval=5");
    json_decref (json);
}

static void
s_summary (tap_item_t *item, tap_type_t type, uint64_t count)
{
    memset (item, 0, sizeof *item);
    item->type = type;
    item->at = AT;
    snprintf (item->kind, sizeof item->kind, "%s",
              type == TAP_HEARTBEAT_SUMMARY ? "heartbeat_summary" : "reply_summary");
    item->node = 3;
    item->detail = "";
    item->count = count;
    item->seconds = 5.0004;
    item->seq = 99;
    if (type == TAP_HEARTBEAT_SUMMARY) {
        item->role = "primary_master";
        item->epoch = 2;
    }
    else {
        item->role = "primary_coreapp";
        item->subject = item->coreapp = 7;
        item->connected = true;
        item->epoch = 6;
    }
}

static void
test_summaries (void **state)
{
    (void) state;
    tap_item_t item;
    s_summary (&item, TAP_HEARTBEAT_SUMMARY, 5);
    assert_string_equal (s_text (&item), "12:00:01.234  node 3    heartbeat        "
                         "master 3: 5 beats in 5.0 s (primary_master, epoch 2)");
    json_t *json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "heartbeat_summary");
    assert_int_equal (json_integer_value (json_object_get (json, "count")), 5);
    assert_true (json_real_value (json_object_get (json, "seconds")) > 5.0);
    assert_string_equal (json_string_value (json_object_get (json, "role")), "primary_master");
    assert_string_equal (json_string_value (json_object_get (json, "detail")),
                         "master 3: 5 beats in 5.0 s (primary_master, epoch 2)");
    assert_true (json_is_null (json_object_get (json, "subject")));
    json_decref (json);

    s_summary (&item, TAP_HEARTBEAT_SUMMARY, 1);
    item.epoch = 0;
    item.role = "secondary_master";
    assert_string_equal (s_details (&item), "master 3: 1 beat in 5.0 s (secondary_master)");
    s_summary (&item, TAP_HEARTBEAT_SUMMARY, 0);
    assert_string_equal (s_details (&item), "master 3: 0 beats in 5.0 s (silent; was primary_master, epoch 2)");

    s_summary (&item, TAP_REPLY_SUMMARY, 5);
    assert_string_equal (s_text (&item), "12:00:01.234  node 3    reply            "
                         "master 3 ← coreapp 7: 5 replies (primary_coreapp, connected)");
    json = s_json (&item);
    assert_string_equal (json_string_value (json_object_get (json, "kind")), "reply_summary");
    assert_int_equal (json_integer_value (json_object_get (json, "coreapp")), 7);
    assert_int_equal (json_integer_value (json_object_get (json, "subject")), 7);
    assert_true (json_is_true (json_object_get (json, "connected")));
    assert_int_equal (json_integer_value (json_object_get (json, "count")), 5);
    json_decref (json);

    s_summary (&item, TAP_REPLY_SUMMARY, 1);
    item.connected = false;
    assert_string_equal (s_details (&item), "master 3 ← coreapp 7: 1 reply (primary_coreapp, not connected)");
    s_summary (&item, TAP_REPLY_SUMMARY, 0);
    assert_string_equal (s_details (&item), "master 3 ← coreapp 7: 0 replies (silent; was primary_coreapp, connected)");
}

static void
test_other_types_and_truncation (void **state)
{
    (void) state;
    tap_item_t item;
    wa_msg_init (&s_msg, WA_MSG_HEALTH);
    s_msg.node = 4;
    s_msg.epoch = 1;
    wa_msg_set_text (&s_msg, "primary_coreapp");
    tap_item_from_msg (&item, &s_msg, 0, AT);
    assert_int_equal (item.type, TAP_OTHER);
    assert_string_equal (item.kind, "health");
    assert_int_equal (item.node, 4);
    assert_string_equal (s_details (&item), "primary_coreapp (epoch 1)");

    char small[20];
    size_t len = tap_format_text (&item, small, sizeof small);
    assert_true (len > sizeof small);
    assert_int_equal (strlen (small), sizeof small - 1);
    assert_int_equal (tap_format_text (&item, NULL, 0), len);
}

static void
test_times (void **state)
{
    (void) state;
    char buf[40];
    assert_string_equal (tap_format_utc_time (AT, buf, sizeof buf), "2024-05-01T12:00:01.234Z");
    assert_string_equal (tap_format_utc_time (0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal (tap_format_local_time (AT, buf, sizeof buf), "12:00:01.234");
}

static void
test_filters (void **state)
{
    (void) state;
    tap_filter_t filter;
    memset (&filter, 0, sizeof filter);
    tap_item_t item;
    s_event ("promoted 7 unhealthy", 2, 0, 4);
    tap_item_from_msg (&item, &s_msg, 0, AT);
    assert_true (tap_filter_match (&filter, &item));

    //  Node: its node, its subject, or its coreapp.
    assert_int_equal (tap_filter_add_node (&filter, "7"), 0);
    assert_true (tap_filter_match (&filter, &item));
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_node (&filter, "2"), 0);
    assert_true (tap_filter_match (&filter, &item));
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_node (&filter, "5"), 0);
    assert_false (tap_filter_match (&filter, &item));
    assert_int_equal (tap_filter_add_node (&filter, "2"), 0);
    assert_true (tap_filter_match (&filter, &item));

    tap_item_t reply;
    s_summary (&reply, TAP_REPLY_SUMMARY, 5);
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_node (&filter, "7"), 0);
    assert_true (tap_filter_match (&filter, &reply));

    //  Kind: exact, and heartbeat/reply include their summaries.
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_kind (&filter, "socket"), 0);
    assert_false (tap_filter_match (&filter, &item));
    assert_false (tap_filter_match (&filter, &reply));
    assert_int_equal (tap_filter_add_kind (&filter, "promoted"), 0);
    assert_true (tap_filter_match (&filter, &item));
    assert_int_equal (tap_filter_add_kind (&filter, "reply"), 0);
    assert_true (tap_filter_match (&filter, &reply));
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_kind (&filter, "reply_summary"), 0);
    assert_true (tap_filter_match (&filter, &reply));
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_kind (&filter, "promote"), 0);
    assert_false (tap_filter_match (&filter, &item));

    //  Both: each must hold.
    memset (&filter, 0, sizeof filter);
    assert_int_equal (tap_filter_add_kind (&filter, "promoted"), 0);
    assert_int_equal (tap_filter_add_node (&filter, "9"), 0);
    assert_false (tap_filter_match (&filter, &item));

    //  Bad values.
    assert_int_equal (tap_filter_add_node (&filter, ""), -1);
    assert_int_equal (tap_filter_add_node (&filter, "0"), -1);
    assert_int_equal (tap_filter_add_node (&filter, "-3"), -1);
    assert_int_equal (tap_filter_add_node (&filter, "3x"), -1);
    assert_int_equal (tap_filter_add_node (&filter, " 3"), -1);
    assert_int_equal (tap_filter_add_node (&filter, "18446744073709551616"), -1);
    assert_int_equal (tap_filter_add_node (&filter, "18446744073709551615"), 0);
    assert_int_equal (tap_filter_add_kind (&filter, ""), -1);
    assert_int_equal (tap_filter_add_kind (&filter, "Promoted"), -1);
    assert_int_equal (tap_filter_add_kind (&filter, "a b"), -1);
    char long_kind[TAP_KIND_MAX + 2];
    memset (long_kind, 'a', sizeof long_kind - 1);
    long_kind[sizeof long_kind - 1] = 0;
    assert_int_equal (tap_filter_add_kind (&filter, long_kind), -1);

    memset (&filter, 0, sizeof filter);
    for (int i = 0; i < TAP_FILTER_MAX; i++)
        assert_int_equal (tap_filter_add_node (&filter, "1"), 0);
    assert_int_equal (tap_filter_add_node (&filter, "1"), -2);
    for (int i = 0; i < TAP_FILTER_MAX; i++)
        assert_int_equal (tap_filter_add_kind (&filter, "socket"), 0);
    assert_int_equal (tap_filter_add_kind (&filter, "socket"), -2);

    assert_true (tap_kind_known ("failover_rate_limited"));
    assert_true (tap_kind_known ("failover_paused"));
    assert_true (tap_kind_known ("rebalance_paused"));
    assert_true (tap_kind_known ("heartbeat_summary"));
    assert_false (tap_kind_known ("promote"));
    assert_non_null (strstr (tap_kinds_known (), "socket"));
}

int
main (void)
{
    //  The text lines are in local time: make it UTC for the expected text.
    setenv ("TZ", "UTC", 1);
    tzset ();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_event_parse),
        cmocka_unit_test (test_event_item_and_lines),
        cmocka_unit_test (test_heartbeat_and_reply),
        cmocka_unit_test (test_settings),
        cmocka_unit_test (test_summaries),
        cmocka_unit_test (test_other_types_and_truncation),
        cmocka_unit_test (test_times),
        cmocka_unit_test (test_filters),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
