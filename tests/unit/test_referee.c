/*  Unit tests for wagate's referee: the session rules and the message
    record (ids, duplicates, queries) on a fake clock. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "wa_message.h"
#include "referee.h"

#define SEC(s) ((wa_usec_t) ((s) * WA_USEC_PER_SEC))
#define IDLE SEC (3)
#define ACCOUNT "15550000000"

static referee_owner_t s_alice, s_bob, s_carol;

static void
s_owner_set (referee_owner_t *owner, const char *name)
{
    owner->size = strlen (name);
    memcpy (owner->data, name, owner->size);
}

static int
s_setup (void **state)
{
    s_owner_set (&s_alice, "alice");
    s_owner_set (&s_bob, "bob");
    s_owner_set (&s_carol, "carol");
    *state = referee_new (IDLE, NULL);
    return *state? 0: -1;
}

static int
s_teardown (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_destroy (&referee);
    assert_null (referee);
    return 0;
}

static uint64_t
s_login (referee_t *referee, const referee_owner_t *owner, uint32_t shard, uint64_t node,
         uint64_t epoch, wa_usec_t now)
{
    referee_result_t result;
    assert_int_equal (referee_login (referee, owner, ACCOUNT, shard, 0, node, epoch, now, &result), 0);
    assert_true (result.session > 0);
    return result.session;
}

static json_t *
s_stats (referee_t *referee)
{
    json_t *root = referee_stats_json (referee, 16384);
    assert_non_null (root);
    return root;
}

//  The stats trimmed to max_len, checked to fit when dumped.
static json_t *
s_stats_fit (referee_t *referee, size_t max_len)
{
    json_t *root = referee_stats_json (referee, max_len);
    assert_non_null (root);
    char *text = json_dumps (root, JSON_COMPACT);
    assert_non_null (text);
    assert_true (strlen (text) <= max_len);
    free (text);
    return root;
}

static json_int_t
s_counter (referee_t *referee, const char *name)
{
    json_t *root = s_stats (referee);
    json_t *value = json_object_get (root, name);
    assert_true (json_is_integer (value));
    json_int_t count = json_integer_value (value);
    json_decref (root);
    return count;
}

static void
test_stale_epoch_refused (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 5, SEC (0));
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 0, 2, 4, SEC (1), &result), -1);
    assert_int_equal (result.epoch, 5);
    assert_string_equal (result.text, "stale epoch 4 below 5");
    assert_false (result.overlap);
    //  the refused login opened nothing and kicked nothing
    assert_int_equal (referee_open_count (referee), 1);
    assert_int_equal (referee_overlap_count (referee), 0);
    assert_int_equal (referee_ping (referee, &s_alice, session, SEC (1), SEC (1), &result), 0);
    referee_gone_t gone;
    assert_false (referee_next_gone (referee, &gone));

    //  still refused once nothing is open
    assert_int_equal (referee_logout (referee, &s_alice, session, SEC (2), &result), 0);
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 0, 2, 0, SEC (2), &result), -1);
    assert_int_equal (referee_open_count (referee), 0);
    assert_int_equal (s_counter (referee, "refused_stale_epoch"), 2);
    assert_int_equal (s_counter (referee, "sessions"), 1);
}

static void
test_equal_and_higher_epoch_accepted (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t first = s_login (referee, &s_alice, 0, 1, 5, SEC (0));
    assert_int_equal (first, 1);
    assert_int_equal (referee_logout (referee, &s_alice, first, SEC (1), &result), 0);
    uint64_t second = s_login (referee, &s_alice, 0, 1, 5, SEC (1));
    assert_int_equal (second, 2);
    assert_int_equal (referee_logout (referee, &s_alice, second, SEC (2), &result), 0);
    uint64_t third = s_login (referee, &s_bob, 0, 2, 6, SEC (2));
    assert_int_equal (third, 3);
    //  the highest epoch is now 6
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 0, 0, 1, 5, SEC (3), &result), -1);
    assert_int_equal (result.epoch, 6);
    assert_int_equal (referee_overlap_count (referee), 0);
    assert_int_equal (s_counter (referee, "logouts"), 2);
}

static void
test_overlap_counted (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t old = s_login (referee, &s_alice, 0, 11, 1, SEC (0));
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 0, 22, 2, SEC (1), &result), 0);
    assert_true (result.overlap);
    assert_string_equal (result.overlap_record.account, ACCOUNT);
    assert_int_equal (result.overlap_record.old_node, 11);
    assert_int_equal (result.overlap_record.old_epoch, 1);
    assert_int_equal (result.overlap_record.old_session, old);
    assert_int_equal (result.overlap_record.new_node, 22);
    assert_int_equal (result.overlap_record.new_epoch, 2);
    assert_int_equal (result.overlap_record.new_session, result.session);
    assert_int_equal (referee_overlap_count (referee), 1);
    assert_int_equal (referee_open_count (referee), 1);

    //  the old session was kicked and its owner is to be told
    referee_gone_t gone;
    assert_true (referee_next_gone (referee, &gone));
    assert_int_equal (gone.session, old);
    assert_string_equal (gone.reason, "kicked");
    assert_int_equal (gone.owner.size, s_alice.size);
    assert_memory_equal (gone.owner.data, s_alice.data, s_alice.size);
    assert_false (referee_next_gone (referee, &gone));
    assert_int_equal (referee_ping (referee, &s_alice, old, SEC (1), SEC (1), &result), -1);
    assert_string_equal (result.text, "kicked");

    json_t *root = s_stats (referee);
    assert_int_equal (json_integer_value (json_object_get (root, "overlaps")), 1);
    assert_int_equal (json_integer_value (json_object_get (root, "kicked")), 1);
    json_t *entry = json_array_get (json_object_get (root, "overlap_list"), 0);
    assert_int_equal (json_integer_value (json_object_get (entry, "old_node")), 11);
    assert_int_equal (json_integer_value (json_object_get (entry, "new_node")), 22);
    assert_non_null (json_string_value (json_object_get (entry, "old_since")));
    json_t *open = json_object_get (json_array_get (json_object_get (root, "accounts"), 0), "open");
    assert_int_equal (json_integer_value (json_object_get (open, "node")), 22);
    json_decref (root);

    //  the same key twice from one connection is still two logins
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 0, 22, 2, SEC (2), &result), 0);
    assert_true (result.overlap);
    assert_int_equal (referee_overlap_count (referee), 2);
}

static void
test_no_overlap_after_logout_or_expiry (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    assert_int_equal (referee_logout (referee, &s_alice, session, SEC (1), &result), 0);
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 0, 2, 2, SEC (1), &result), 0);
    assert_false (result.overlap);

    //  bob goes silent; carol logs in just after his idle timeout: the lazy
    //  expiry before the login closes bob first
    assert_int_equal (referee_login (referee, &s_carol, ACCOUNT, 0, 0, 3, 3, SEC (1) + IDLE + 1, &result), 0);
    assert_false (result.overlap);
    assert_int_equal (referee_overlap_count (referee), 0);
    assert_int_equal (s_counter (referee, "expired"), 1);
    referee_gone_t gone;
    assert_true (referee_next_gone (referee, &gone));
    assert_string_equal (gone.reason, "expired");
    assert_memory_equal (gone.owner.data, "bob", 3);

    //  exactly at the timeout it is not yet expired: that is an overlap
    wa_usec_t carol_at = SEC (1) + IDLE + 1;
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 0, 0, 4, 4, carol_at + IDLE, &result), 0);
    assert_true (result.overlap);
}

static void
test_late_ping_does_not_revive (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    //  sent at 1 s, delayed until after the deadline, before any sweep ran
    assert_int_equal (referee_ping (referee, &s_alice, session, SEC (1), SEC (3.5), &result), -1);
    assert_string_equal (result.text, "expired");
    assert_int_equal (referee_open_count (referee), 0);
    //  and after a sweep, a prompt-looking ping changes nothing either
    assert_int_equal (referee_expire (referee, SEC (4)), 0);
    assert_int_equal (referee_ping (referee, &s_alice, session, SEC (4), SEC (4), &result), -1);
    assert_string_equal (result.text, "expired");
    assert_int_equal (referee_logout (referee, &s_alice, session, SEC (4), &result), -1);
    assert_int_equal (referee_open_count (referee), 0);
    assert_int_equal (s_counter (referee, "expired"), 1);
    assert_int_equal (s_counter (referee, "sessions"), 1);

    //  never-issued sessions are unknown
    assert_int_equal (referee_ping (referee, &s_alice, 999, 0, SEC (4), &result), -1);
    assert_string_equal (result.text, "unknown");
}

static void
test_delayed_ping_extends_from_send_time (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t delayed = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    uint64_t prompt = s_login (referee, &s_bob, 1, 2, 1, SEC (0));
    //  both arrive at 2.9 s; alice's left at 1 s, bob's just now
    assert_int_equal (referee_ping (referee, &s_alice, delayed, SEC (1), SEC (2.9), &result), 0);
    assert_int_equal (result.seq, SEC (1));
    assert_int_equal (referee_ping (referee, &s_bob, prompt, SEC (2.9), SEC (2.9), &result), 0);
    //  alice is live until 1 s + idle, bob until 2.9 s + idle
    assert_int_equal (referee_expire (referee, SEC (4) - 1), 0);
    assert_int_equal (referee_expire (referee, SEC (4) + 1), 1);
    assert_int_equal (referee_ping (referee, &s_alice, delayed, SEC (4), SEC (4) + 2, &result), -1);
    assert_int_equal (referee_ping (referee, &s_bob, prompt, SEC (4), SEC (4) + 2, &result), 0);

    //  a ping never moves activity back, and a seq beyond the server's own
    //  elapsed time (a slow login) counts as sent on arrival
    uint64_t slow = s_login (referee, &s_carol, 2, 3, 1, SEC (10));
    assert_int_equal (referee_ping (referee, &s_carol, slow, SEC (5), SEC (12), &result), 0);
    assert_int_equal (referee_ping (referee, &s_carol, slow, SEC (0.5), SEC (12.5), &result), 0);
    assert_int_equal (referee_expire (referee, SEC (15) - 1), 0);
    assert_int_equal (referee_expire (referee, SEC (15) + 1), 1);
}

static void
test_keys_do_not_interfere (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t shard0 = s_login (referee, &s_alice, 0, 1, 7, SEC (0));
    //  lower epochs on another shard or account are fine, and no overlap
    uint64_t shard1 = s_login (referee, &s_bob, 1, 2, 1, SEC (0));
    assert_int_equal (referee_login (referee, &s_carol, "15551111111", 0, 0, 3, 1, SEC (0), &result), 0);
    assert_false (result.overlap);
    uint64_t other = result.session;
    assert_int_equal (referee_open_count (referee), 3);
    assert_int_equal (referee_overlap_count (referee), 0);
    //  a session belongs to the connection that opened it
    assert_int_equal (referee_ping (referee, &s_bob, shard0, 0, SEC (1), &result), -1);
    assert_string_equal (result.text, "unknown");
    assert_int_equal (referee_logout (referee, &s_bob, shard0, SEC (1), &result), -1);
    assert_int_equal (referee_open_count (referee), 3);
    //  expiry of one key leaves the others
    assert_int_equal (referee_ping (referee, &s_alice, shard0, SEC (2), SEC (2), &result), 0);
    assert_int_equal (referee_ping (referee, &s_carol, other, SEC (2), SEC (2), &result), 0);
    assert_int_equal (referee_expire (referee, SEC (3) + 1), 1);
    assert_int_equal (referee_ping (referee, &s_bob, shard1, SEC (3), SEC (3) + 1, &result), -1);
    assert_int_equal (referee_open_count (referee), 2);

    //  a new login on one connection replaces its session on another key,
    //  without an overlap
    uint64_t moved = s_login (referee, &s_alice, 5, 1, 1, SEC (4));
    assert_int_equal (referee_open_count (referee), 2);
    assert_int_equal (referee_overlap_count (referee), 0);
    assert_int_equal (referee_ping (referee, &s_alice, shard0, SEC (4), SEC (4), &result), -1);
    assert_string_equal (result.text, "kicked");
    assert_int_equal (referee_ping (referee, &s_alice, moved, 0, SEC (4), &result), 0);
}

static void
test_ledger_lines (void **state)
{
    (void) state;
    char *buffer = NULL;
    size_t size = 0;
    FILE *ledger = open_memstream (&buffer, &size);
    assert_non_null (ledger);
    referee_t *referee = referee_new (IDLE, ledger);
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 2, SEC (0));
    s_login (referee, &s_bob, 0, 2, 3, SEC (1));
    referee_login (referee, &s_carol, ACCOUNT, 0, 0, 3, 1, SEC (1), &result);
    referee_ping (referee, &s_bob, session + 1, SEC (1), SEC (1), &result);
    referee_logout (referee, &s_bob, session + 1, SEC (1), &result);
    s_login (referee, &s_carol, 0, 3, 4, SEC (1));
    referee_expire (referee, SEC (5));
    referee_destroy (&referee);
    fclose (ledger);

    const char *expected [] = { "login", "overlap", "kicked", "login", "refused", "logout", "login", "expired" };
    size_t count = 0;
    char *saveptr = NULL;
    for (char *line = strtok_r (buffer, "\n", &saveptr); line; line = strtok_r (NULL, "\n", &saveptr)) {
        json_error_t error;
        json_t *entry = json_loads (line, 0, &error);
        assert_non_null (entry);
        assert_true (count < sizeof expected / sizeof expected [0]);
        assert_string_equal (json_string_value (json_object_get (entry, "event")), expected [count]);
        assert_string_equal (json_string_value (json_object_get (entry, "account")), ACCOUNT);
        const char *at = json_string_value (json_object_get (entry, "at"));
        assert_non_null (at);
        assert_int_equal (strlen (at), strlen ("2026-01-02T03:04:05.678901Z"));
        if (strcmp (expected [count], "overlap") == 0) {
            assert_int_equal (json_integer_value (json_object_get (entry, "node")), 2);
            json_t *old = json_object_get (entry, "old");
            assert_int_equal (json_integer_value (json_object_get (old, "node")), 1);
            assert_int_equal (json_integer_value (json_object_get (old, "session")), session);
        }
        json_decref (entry);
        count++;
    }
    assert_int_equal (count, sizeof expected / sizeof expected [0]);
    free (buffer);
}

static void
test_stats_fit (void **state)
{
    referee_t *referee = (referee_t *) *state;
    for (uint64_t epoch = 1; epoch <= 150; epoch++)
        s_login (referee, epoch % 2? &s_alice: &s_bob, 0, epoch, epoch, SEC (0));
    assert_int_equal (referee_overlap_count (referee), 149);
    json_t *root = s_stats_fit (referee, 4000);
    assert_int_equal (json_integer_value (json_object_get (root, "overlaps")), 149);
    json_t *list = json_object_get (root, "overlap_list");
    assert_true (json_array_size (list) > 0 && json_array_size (list) < 100);
    //  the newest overlap survives the trimming
    json_t *last = json_array_get (list, json_array_size (list) - 1);
    assert_int_equal (json_integer_value (json_object_get (last, "new_epoch")), 150);
    assert_int_equal (json_array_size (json_object_get (root, "accounts")), 1);
    json_decref (root);

    //  the last 100 are kept when there is room
    root = s_stats_fit (referee, 1 << 20);
    assert_int_equal (json_array_size (json_object_get (root, "overlap_list")), 100);
    last = json_array_get (json_object_get (root, "overlap_list"), 0);
    assert_int_equal (json_integer_value (json_object_get (last, "new_epoch")), 51);
    json_decref (root);
}

//  --------------------------------------------------------------------------
//  Messages: SEND and QUERY

#define TO "15551234567"

//  A valid SEND text for id.
static const char *
s_message (const char *id)
{
    static char text [256];
    snprintf (text, sizeof text, "{\"id\":\"%s\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hello\"}", id);
    return text;
}

static int
s_send (referee_t *referee, const referee_owner_t *owner, uint64_t session, const char *id,
        wa_usec_t now, referee_result_t *result)
{
    return referee_send (referee, owner, session, 7, s_message (id), now, result);
}

static void
test_message_counted_once (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    assert_false (referee_message_known (referee, "m-1"));
    assert_int_equal (referee_send (referee, &s_alice, session, 42, s_message ("m-1"), SEC (1), &result),
                      REFEREE_SEND_NEW);
    assert_int_equal (result.code, 0);
    assert_int_equal (result.session, session);
    assert_int_equal (result.seq, 42);
    assert_string_equal (result.text, "m-1");
    assert_false (result.duplicate);
    assert_true (referee_message_known (referee, "m-1"));
    assert_int_equal (referee_message_count (referee), 1);
    assert_int_equal (referee_duplicate_count (referee), 0);
    //  another id is another message
    assert_int_equal (s_send (referee, &s_alice, session, "m_2", SEC (1), &result), REFEREE_SEND_NEW);
    assert_int_equal (referee_message_count (referee), 2);
    assert_int_equal (s_counter (referee, "messages"), 2);
    assert_int_equal (s_counter (referee, "duplicates"), 0);
    //  ids are case-sensitive
    assert_int_equal (s_send (referee, &s_alice, session, "M-1", SEC (1), &result), REFEREE_SEND_NEW);
    assert_int_equal (referee_message_count (referee), 3);
}

static void
test_duplicate_same_session (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 11, 4, SEC (0));
    assert_int_equal (s_send (referee, &s_alice, session, "m1", SEC (1), &result), REFEREE_SEND_NEW);
    assert_int_equal (referee_send (referee, &s_alice, session, 8, s_message ("m1"), SEC (2), &result),
                      REFEREE_SEND_DUPLICATE);
    assert_int_equal (result.code, 1);
    assert_int_equal (result.seq, 8);
    assert_string_equal (result.text, "m1");
    assert_true (result.duplicate);
    const referee_duplicate_t *record = &result.duplicate_record;
    assert_string_equal (record->id, "m1");
    assert_string_equal (record->first.account, ACCOUNT);
    assert_int_equal (record->first.node, 11);
    assert_int_equal (record->first.epoch, 4);
    assert_int_equal (record->first.session, session);
    assert_int_equal (record->again.node, 11);
    assert_int_equal (record->again.session, session);
    assert_true (record->first.at > 0 && record->again.at >= record->first.at);
    assert_int_equal (referee_message_count (referee), 1);
    assert_int_equal (referee_duplicate_count (referee), 1);
    //  each further arrival counts
    assert_int_equal (s_send (referee, &s_alice, session, "m1", SEC (2), &result), REFEREE_SEND_DUPLICATE);
    assert_int_equal (referee_duplicate_count (referee), 2);
    assert_int_equal (referee_message_count (referee), 1);
    assert_int_equal (referee_overlap_count (referee), 0);
}

static void
test_duplicate_across_failover (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t old = s_login (referee, &s_alice, 3, 1, 1, SEC (0));
    assert_int_equal (s_send (referee, &s_alice, old, "sent-before", SEC (1), &result), REFEREE_SEND_NEW);
    //  node 1 dies; its session expires; node 2 takes over with a higher epoch
    uint64_t new = s_login (referee, &s_bob, 3, 2, 2, SEC (1) + IDLE + 1);
    assert_int_equal (referee_overlap_count (referee), 0);
    //  the new primary asks before resending: the first arrived, the second not
    assert_int_equal (referee_query (referee, &s_bob, new, "sent-before", SEC (5), &result), 0);
    assert_int_equal (result.code, 1);
    assert_string_equal (result.text, "sent-before");
    assert_int_equal (result.session, new);
    assert_int_equal (referee_query (referee, &s_bob, new, "never-sent", SEC (5), &result), 0);
    assert_int_equal (result.code, 0);
    assert_int_equal (s_send (referee, &s_bob, new, "never-sent", SEC (5), &result), REFEREE_SEND_NEW);
    //  had it resent the first anyway, that is a duplicate with both sides
    assert_int_equal (s_send (referee, &s_bob, new, "sent-before", SEC (5), &result), REFEREE_SEND_DUPLICATE);
    const referee_duplicate_t *record = &result.duplicate_record;
    assert_int_equal (record->first.node, 1);
    assert_int_equal (record->first.epoch, 1);
    assert_int_equal (record->first.session, old);
    assert_int_equal (record->first.shard, 3);
    assert_int_equal (record->again.node, 2);
    assert_int_equal (record->again.epoch, 2);
    assert_int_equal (record->again.session, new);
    assert_int_equal (record->again.shard, 3);
    //  from another account and shard too: ids are global
    uint64_t other = 0;
    assert_int_equal (referee_login (referee, &s_carol, "15559999999", 0, 0, 5, 1, SEC (5), &result), 0);
    other = result.session;
    assert_int_equal (s_send (referee, &s_carol, other, "never-sent", SEC (5), &result), REFEREE_SEND_DUPLICATE);
    assert_string_equal (result.duplicate_record.first.account, ACCOUNT);
    assert_string_equal (result.duplicate_record.again.account, "15559999999");
    assert_int_equal (result.duplicate_record.first.node, 2);
    assert_int_equal (result.duplicate_record.again.node, 5);
    assert_int_equal (referee_message_count (referee), 2);
    assert_int_equal (referee_duplicate_count (referee), 2);

    json_t *root = s_stats (referee);
    assert_int_equal (json_integer_value (json_object_get (root, "messages")), 2);
    assert_int_equal (json_integer_value (json_object_get (root, "duplicates")), 2);
    assert_int_equal (json_integer_value (json_object_get (root, "queries")), 2);
    json_t *list = json_object_get (root, "duplicate_list");
    assert_int_equal (json_array_size (list), 2);
    json_t *entry = json_array_get (list, 0);
    assert_string_equal (json_string_value (json_object_get (entry, "id")), "sent-before");
    json_t *first = json_object_get (entry, "first");
    json_t *again = json_object_get (entry, "again");
    assert_int_equal (json_integer_value (json_object_get (first, "node")), 1);
    assert_int_equal (json_integer_value (json_object_get (first, "epoch")), 1);
    assert_int_equal (json_integer_value (json_object_get (first, "session")), old);
    assert_string_equal (json_string_value (json_object_get (first, "account")), ACCOUNT);
    assert_int_equal (json_integer_value (json_object_get (first, "shard")), 3);
    assert_non_null (json_string_value (json_object_get (first, "at")));
    assert_int_equal (json_integer_value (json_object_get (again, "node")), 2);
    assert_int_equal (json_integer_value (json_object_get (again, "epoch")), 2);
    assert_int_equal (json_integer_value (json_object_get (again, "session")), new);
    assert_non_null (json_string_value (json_object_get (again, "at")));
    entry = json_array_get (list, 1);
    assert_string_equal (json_string_value (json_object_get (entry, "id")), "never-sent");
    json_decref (root);
}

static void
test_send_on_gone_session (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    //  arrives after the idle timeout, before any sweep
    assert_int_equal (s_send (referee, &s_alice, session, "late", SEC (3) + 1, &result), -1);
    assert_int_equal (result.session, session);
    assert_string_equal (result.text, "expired");
    assert_false (result.duplicate);
    assert_int_equal (referee_query (referee, &s_alice, session, "late", SEC (4), &result), -1);
    assert_string_equal (result.text, "expired");
    //  never issued
    assert_int_equal (s_send (referee, &s_alice, 999, "unknown", SEC (4), &result), -1);
    assert_string_equal (result.text, "unknown");
    //  another connection's session
    uint64_t bobs = s_login (referee, &s_bob, 0, 2, 2, SEC (4));
    assert_int_equal (s_send (referee, &s_alice, bobs, "stolen", SEC (4), &result), -1);
    assert_string_equal (result.text, "unknown");
    assert_int_equal (referee_query (referee, &s_alice, bobs, "stolen", SEC (4), &result), -1);
    //  logged out
    assert_int_equal (referee_logout (referee, &s_bob, bobs, SEC (5), &result), 0);
    assert_int_equal (s_send (referee, &s_bob, bobs, "after", SEC (5), &result), -1);
    assert_string_equal (result.text, "logged out");
    //  kicked by an overlapping login
    uint64_t kicked = s_login (referee, &s_alice, 0, 1, 3, SEC (6));
    s_login (referee, &s_carol, 0, 3, 3, SEC (6));
    assert_int_equal (s_send (referee, &s_alice, kicked, "kicked", SEC (6), &result), -1);
    assert_string_equal (result.text, "kicked");

    assert_false (referee_message_known (referee, "late"));
    assert_false (referee_message_known (referee, "stolen"));
    assert_int_equal (referee_message_count (referee), 0);
    assert_int_equal (referee_duplicate_count (referee), 0);
    assert_int_equal (s_counter (referee, "messages"), 0);
    assert_int_equal (s_counter (referee, "refused_messages"), 0);
    assert_int_equal (s_counter (referee, "queries"), 0);
}

static void
test_send_refused (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    assert_int_equal (s_send (referee, &s_alice, session, "known", SEC (0), &result), REFEREE_SEND_NEW);

    char long_id [80], long_body [4200], text [4400];
    memset (long_id, 'a', 65);
    long_id [65] = 0;
    memset (long_body, 'b', 4097);
    long_body [4097] = 0;
    const char *bad [] = {
        "",
        "not json",
        "{\"id\":\"x1\",\"to\":\"1\",\"type\":\"text\",\"body\":\"hi\"",
        "[\"x1\"]",
        "{\"id\":\"x1\",\"to\":\"1\",\"type\":\"text\",\"body\":\"hi\"} trailing",
        "{\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":17,\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"has space\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"dot.ted\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"caf\\u00e9\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"nul\\u0000\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"+15551234567\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"123456789012345678901\",\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":15551234567,\"type\":\"text\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"sticker\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"TEXT\",\"body\":\"hi\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"text\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":{\"text\":\"hi\"}}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":null}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"image\",\"body\":42}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"document\",\"body\":\"ref\"}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"contacts\",\"body\":{\"name\":{}}}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"location\",\"body\":[1,2]}",
        "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"hsm\",\"body\":{}}",
        "{\"id\":\"x1\",\"id\":\"x2\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}",
        //  an invalid message with a known id is refused, not a duplicate
        "{\"id\":\"known\",\"to\":\"" TO "\",\"type\":\"text\"}",
        NULL,                   //  id too long
        NULL,                   //  body too long
    };
    size_t count = sizeof bad / sizeof bad [0];
    for (size_t index = 0; index < count; index++) {
        const char *message = bad [index];
        if (!message && index == count - 2) {
            snprintf (text, sizeof text, "{\"id\":\"%s\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"hi\"}", long_id);
            message = text;
        }
        else
        if (!message) {
            snprintf (text, sizeof text, "{\"id\":\"x1\",\"to\":\"" TO "\",\"type\":\"text\",\"body\":\"%s\"}", long_body);
            message = text;
        }
        int rc = referee_send (referee, &s_alice, session, index, message, SEC (1), &result);
        if (rc != REFEREE_SEND_REFUSED)
            fail_msg ("accepted: %s", message);
        assert_int_equal (result.code, 2);
        assert_int_equal (result.seq, index);
        assert_int_equal (result.session, session);
        assert_true (strlen (result.text) > 0);
        assert_false (result.duplicate);
    }
    assert_int_equal (referee_message_count (referee), 1);
    assert_int_equal (referee_duplicate_count (referee), 0);
    assert_false (referee_message_known (referee, "x1"));
    assert_false (referee_message_known (referee, "x2"));
    assert_int_equal (s_counter (referee, "refused_messages"), count);
    assert_int_equal (s_counter (referee, "messages"), 1);
    assert_int_equal (s_counter (referee, "duplicates"), 0);
    //  why, for a few
    referee_send (referee, &s_alice, session, 0, "{\"id\":\"a b\",\"to\":\"1\",\"type\":\"text\",\"body\":\"\"}", SEC (1), &result);
    assert_string_equal (result.text, "id may hold only A-Z a-z 0-9 _ -");
    referee_send (referee, &s_alice, session, 0, "{\"id\":\"ab\",\"to\":\"1x\",\"type\":\"text\",\"body\":\"\"}", SEC (1), &result);
    assert_string_equal (result.text, "to must be 1 to 20 digits");
    referee_send (referee, &s_alice, session, 0, "nope", SEC (1), &result);
    assert_non_null (strstr (result.text, "invalid JSON"));
    //  the session is still open and usable
    assert_int_equal (referee_open_count (referee), 1);

    //  the limits themselves are fine
    long_id [64] = 0;
    long_body [4096] = 0;
    snprintf (text, sizeof text, "{\"id\":\"%s\",\"to\":\"12345678901234567890\",\"type\":\"text\",\"body\":\"%s\"}",
              long_id, long_body);
    assert_int_equal (referee_send (referee, &s_alice, session, 0, text, SEC (1), &result), REFEREE_SEND_NEW);
    assert_string_equal (result.text, long_id);
    const char *good [] = {
        "{\"id\":\"A-z_09\",\"to\":\"1\",\"type\":\"text\",\"body\":\"\"}",
        "{\"id\":\"img\",\"to\":\"1\",\"type\":\"image\",\"body\":{\"link\":\"https://x/y.png\"}}",
        "{\"id\":\"doc\",\"to\":\"1\",\"type\":\"document\",\"body\":{\"id\":\"ref\"}}",
        "{\"id\":\"stk\",\"to\":\"1\",\"type\":\"sticker\",\"body\":{\"id\":\"ref\"}}",
        "{\"id\":\"int\",\"to\":\"1\",\"type\":\"interactive\",\"body\":{\"type\":\"button\"}}",
        "{\"id\":\"vcf\",\"to\":\"1\",\"type\":\"contacts\",\"body\":[{\"name\":{}}]}",
        "{\"id\":\"loc\",\"to\":\"1\",\"type\":\"location\",\"body\":{\"latitude\":1,\"longitude\":2}}",
        "{\"id\":\"rct\",\"to\":\"1\",\"type\":\"reaction\",\"body\":{\"message_id\":\"m\",\"emoji\":\"\"}}",
        "{\"id\":\"aud\",\"to\":\"1\",\"type\":\"audio\",\"body\":{}}",
        "{\"id\":\"vid\",\"to\":\"1\",\"type\":\"video\",\"body\":{}}",
        "{\"id\":\"tpl\",\"to\":\"1\",\"type\":\"template\",\"body\":{\"name\":\"hello\"}}",
        "{\"id\":\"utf\",\"to\":\"1\",\"type\":\"text\",\"body\":\"h\\u00e9llo \\ud83d\\ude00\",\"extra\":1}",
    };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++)
        if (referee_send (referee, &s_alice, session, 0, good [index], SEC (1), &result) != REFEREE_SEND_NEW)
            fail_msg ("refused (%s): %s", result.text, good [index]);
    assert_int_equal (referee_message_count (referee), 2 + sizeof good / sizeof good [0]);
}

static void
test_query (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    assert_int_equal (referee_query (referee, &s_alice, session, "q1", SEC (0), &result), 0);
    assert_int_equal (result.code, 0);
    assert_string_equal (result.text, "q1");
    assert_int_equal (s_send (referee, &s_alice, session, "q1", SEC (0), &result), REFEREE_SEND_NEW);
    assert_int_equal (referee_query (referee, &s_alice, session, "q1", SEC (0), &result), 0);
    assert_int_equal (result.code, 1);
    assert_string_equal (result.text, "q1");
    //  a query records nothing and counts no duplicate
    assert_int_equal (referee_query (referee, &s_alice, session, "q1", SEC (0), &result), 0);
    assert_int_equal (referee_message_count (referee), 1);
    assert_int_equal (referee_duplicate_count (referee), 0);
    //  invalid ids: 0, with why
    const char *invalid [] = { "", "has space", "q1\"", "0123456789012345678901234567890123456789012345678901234567890123456789" };
    for (size_t index = 0; index < sizeof invalid / sizeof invalid [0]; index++) {
        assert_int_equal (referee_query (referee, &s_alice, session, invalid [index], SEC (0), &result), 1);
        assert_int_equal (result.code, 0);
        assert_int_equal (result.session, session);
        assert_true (strlen (result.text) > 0);
    }
    assert_int_equal (s_counter (referee, "queries"), 3 + 4);
    assert_int_equal (referee_message_count (referee), 1);
}

static void
test_send_and_query_are_not_activity (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t sender = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    uint64_t asker = s_login (referee, &s_bob, 1, 2, 1, SEC (0));
    assert_int_equal (s_send (referee, &s_alice, sender, "a1", SEC (2), &result), REFEREE_SEND_NEW);
    assert_int_equal (referee_query (referee, &s_bob, asker, "a1", SEC (2.5), &result), 0);
    //  Only pings, dated by their send time, keep a session alive: a SEND or
    //  QUERY that sat in a queue must not stretch it. Both expire idle after
    //  their logins.
    assert_int_equal (referee_expire (referee, SEC (3)), 0);
    assert_int_equal (referee_expire (referee, SEC (3) + 1), 2);
    uint64_t refused = s_login (referee, &s_carol, 2, 3, 1, SEC (10));
    assert_int_equal (referee_send (referee, &s_carol, refused, 0, "{}", SEC (12), &result), REFEREE_SEND_REFUSED);
    assert_int_equal (referee_expire (referee, SEC (13)), 0);
    assert_int_equal (referee_expire (referee, SEC (13) + 1), 1);
}

//  100,000 ids in, each found, each counted once; correctness, not speed.
static void
test_many_ids (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t session = s_login (referee, &s_alice, 0, 1, 1, SEC (0));
    const size_t count = 100000;
    char id [64];
    for (size_t index = 0; index < count; index++) {
        //  UUID-like and similar to each other
        snprintf (id, sizeof id, "0b5f%04zx-1c2d-4e5f-8a9b-%012zx", index % 7, index);
        if (s_send (referee, &s_alice, session, id, SEC (0), &result) != REFEREE_SEND_NEW)
            fail_msg ("%s: not new (%d: %s)", id, result.code, result.text);
    }
    assert_int_equal (referee_message_count (referee), count);
    for (size_t index = 0; index < count; index++) {
        snprintf (id, sizeof id, "0b5f%04zx-1c2d-4e5f-8a9b-%012zx", index % 7, index);
        if (!referee_message_known (referee, id))
            fail_msg ("%s: lost", id);
        snprintf (id, sizeof id, "0b5f%04zx-1c2d-4e5f-8a9b-%012zx", (index + 1) % 7, index);
        if (referee_message_known (referee, id))
            fail_msg ("%s: never sent, yet known", id);
    }
    for (size_t index = 0; index < count; index += 1000) {
        snprintf (id, sizeof id, "0b5f%04zx-1c2d-4e5f-8a9b-%012zx", index % 7, index);
        assert_int_equal (s_send (referee, &s_alice, session, id, SEC (0), &result), REFEREE_SEND_DUPLICATE);
        assert_int_equal (referee_query (referee, &s_alice, session, id, SEC (0), &result), 0);
        assert_int_equal (result.code, 1);
    }
    assert_int_equal (referee_message_count (referee), count);
    assert_int_equal (referee_duplicate_count (referee), count / 1000);
    json_t *root = s_stats (referee);
    assert_int_equal (json_integer_value (json_object_get (root, "messages")), count);
    assert_int_equal (json_integer_value (json_object_get (root, "duplicates")), count / 1000);
    //  the newest 100 duplicates are listed, trimmed to fit
    json_t *list = json_object_get (root, "duplicate_list");
    assert_true (json_array_size (list) > 0 && json_array_size (list) <= 100);
    snprintf (id, sizeof id, "0b5f%04zx-1c2d-4e5f-8a9b-%012zx", (count - 1000) % 7, count - 1000);
    json_t *last = json_array_get (list, json_array_size (list) - 1);
    assert_string_equal (json_string_value (json_object_get (last, "id")), id);
    json_decref (root);
}

static void
test_stats_keys_and_fit (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    //  every key, from the start
    json_t *root = s_stats (referee);
    const char *keys [] = {
        "sessions", "open", "overlaps", "refused_stale_epoch", "expired", "kicked", "logouts",
        "malformed", "messages", "duplicates", "refused_messages", "queries"
    };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++) {
        json_t *value = json_object_get (root, keys [index]);
        if (!json_is_integer (value) || json_integer_value (value) != 0)
            fail_msg ("%s missing or not 0", keys [index]);
    }
    assert_true (json_is_array (json_object_get (root, "overlap_list")));
    assert_true (json_is_array (json_object_get (root, "duplicate_list")));
    assert_true (json_is_array (json_object_get (root, "accounts")));
    json_decref (root);

    //  150 overlaps, 150 duplicates: both lists give way, the newest stay
    for (uint64_t epoch = 1; epoch <= 150; epoch++)
        s_login (referee, epoch % 2? &s_alice: &s_bob, 0, epoch, epoch, SEC (0));
    uint64_t session = s_login (referee, &s_carol, 1, 7, 1, SEC (0));
    char id [32];
    for (int index = 0; index < 150; index++) {
        snprintf (id, sizeof id, "dup-%d", index);
        s_send (referee, &s_carol, session, id, SEC (0), &result);
        assert_int_equal (s_send (referee, &s_carol, session, id, SEC (0), &result), REFEREE_SEND_DUPLICATE);
    }
    root = s_stats_fit (referee, 16384);
    assert_int_equal (json_integer_value (json_object_get (root, "overlaps")), 149);
    assert_int_equal (json_integer_value (json_object_get (root, "messages")), 150);
    assert_int_equal (json_integer_value (json_object_get (root, "duplicates")), 150);
    json_t *overlaps = json_object_get (root, "overlap_list");
    json_t *duplicates = json_object_get (root, "duplicate_list");
    assert_true (json_array_size (overlaps) > 0 && json_array_size (overlaps) < 100);
    assert_true (json_array_size (duplicates) > 0 && json_array_size (duplicates) < 100);
    //  trimmed evenly
    size_t a = json_array_size (overlaps), b = json_array_size (duplicates);
    assert_true (a > b? a - b <= 1: b - a <= 1);
    json_t *last = json_array_get (duplicates, json_array_size (duplicates) - 1);
    assert_string_equal (json_string_value (json_object_get (last, "id")), "dup-149");
    last = json_array_get (overlaps, json_array_size (overlaps) - 1);
    assert_int_equal (json_integer_value (json_object_get (last, "new_epoch")), 150);
    //  the session table stays when the lists make room
    assert_int_equal (json_array_size (json_object_get (root, "accounts")), 2);
    json_decref (root);

    //  the last 100 are kept when there is room
    root = s_stats_fit (referee, 1 << 20);
    duplicates = json_object_get (root, "duplicate_list");
    assert_int_equal (json_array_size (duplicates), 100);
    assert_string_equal (json_string_value (json_object_get (json_array_get (duplicates, 0), "id")), "dup-50");
    json_decref (root);

    //  a tiny budget leaves the counters
    root = referee_stats_json (referee, 100);
    assert_non_null (root);
    assert_int_equal (json_array_size (json_object_get (root, "duplicate_list")), 0);
    assert_int_equal (json_array_size (json_object_get (root, "overlap_list")), 0);
    assert_int_equal (json_array_size (json_object_get (root, "accounts")), 0);
    assert_int_equal (json_integer_value (json_object_get (root, "duplicates")), 150);
    json_decref (root);
}

static void
test_ledger_message_lines (void **state)
{
    (void) state;
    char *buffer = NULL;
    size_t size = 0;
    FILE *ledger = open_memstream (&buffer, &size);
    assert_non_null (ledger);
    referee_t *referee = referee_new (IDLE, ledger);
    referee_result_t result;
    uint64_t old = s_login (referee, &s_alice, 2, 1, 1, SEC (0));
    s_send (referee, &s_alice, old, "L1", SEC (0), &result);
    referee_send (referee, &s_alice, old, 0, "{\"id\":\"L2\"}", SEC (0), &result);      //  refused
    s_send (referee, &s_alice, 999, "L3", SEC (0), &result);                            //  gone
    referee_query (referee, &s_alice, old, "L1", SEC (0), &result);
    uint64_t new = s_login (referee, &s_bob, 2, 2, 2, SEC (1) + IDLE);
    s_send (referee, &s_bob, new, "L1", SEC (5), &result);
    referee_destroy (&referee);
    fclose (ledger);

    const char *expected [] = { "login", "message", "expired", "login", "duplicate" };
    size_t count = 0;
    char *saveptr = NULL;
    for (char *line = strtok_r (buffer, "\n", &saveptr); line; line = strtok_r (NULL, "\n", &saveptr)) {
        json_error_t error;
        json_t *entry = json_loads (line, 0, &error);
        assert_non_null (entry);
        assert_true (count < sizeof expected / sizeof expected [0]);
        const char *event = json_string_value (json_object_get (entry, "event"));
        assert_string_equal (event, expected [count]);
        assert_string_equal (json_string_value (json_object_get (entry, "account")), ACCOUNT);
        assert_int_equal (json_integer_value (json_object_get (entry, "shard")), 2);
        if (strcmp (event, "message") == 0) {
            assert_string_equal (json_string_value (json_object_get (entry, "id")), "L1");
            assert_string_equal (json_string_value (json_object_get (entry, "to")), TO);
            assert_string_equal (json_string_value (json_object_get (entry, "type")), "text");
            assert_int_equal (json_integer_value (json_object_get (entry, "node")), 1);
            assert_int_equal (json_integer_value (json_object_get (entry, "epoch")), 1);
            assert_int_equal (json_integer_value (json_object_get (entry, "session")), old);
        }
        if (strcmp (event, "duplicate") == 0) {
            assert_string_equal (json_string_value (json_object_get (entry, "id")), "L1");
            assert_string_equal (json_string_value (json_object_get (entry, "to")), TO);
            assert_int_equal (json_integer_value (json_object_get (entry, "node")), 2);
            assert_int_equal (json_integer_value (json_object_get (entry, "epoch")), 2);
            assert_int_equal (json_integer_value (json_object_get (entry, "session")), new);
            json_t *first = json_object_get (entry, "first");
            assert_int_equal (json_integer_value (json_object_get (first, "node")), 1);
            assert_int_equal (json_integer_value (json_object_get (first, "epoch")), 1);
            assert_int_equal (json_integer_value (json_object_get (first, "session")), old);
            assert_non_null (json_string_value (json_object_get (first, "at")));
        }
        json_decref (entry);
        count++;
    }
    assert_int_equal (count, sizeof expected / sizeof expected [0]);
    free (buffer);
}

//  --------------------------------------------------------------------------
//  Layouts: the shard count a LOGIN carries (0: unknown)

static uint64_t
s_login_layout (referee_t *referee, const referee_owner_t *owner, uint32_t shard, uint32_t shards,
                uint64_t node, uint64_t epoch, wa_usec_t now, referee_result_t *result)
{
    assert_int_equal (referee_login (referee, owner, ACCOUNT, shard, shards, node, epoch, now, result), 0);
    assert_true (result->session > 0);
    return result->session;
}

//  A distinct owner per login (one connection, one session).
static const referee_owner_t *
s_owner (unsigned number)
{
    static referee_owner_t owners [64];
    assert_true (number < 64);
    referee_owner_t *owner = &owners [number];
    owner->size = (size_t) snprintf ((char *) owner->data, sizeof owner->data, "coreapp-%u", number);
    return owner;
}

//  (s, N) and (s', N') share recipients iff some CRC32 residue mod 32 (the
//  largest count) is s mod N and s' mod N': the rule against brute force.
static void
test_layouts_intersect (void **state)
{
    (void) state;
    //  the cases of a change: 1 → 2, 2 → 4, 4 → 32, 32 → 1, and no change
    assert_true (referee_layouts_intersect (0, 1, 0, 2));
    assert_true (referee_layouts_intersect (0, 1, 1, 2));
    assert_true (referee_layouts_intersect (0, 2, 0, 4));
    assert_true (referee_layouts_intersect (0, 2, 2, 4));
    assert_false (referee_layouts_intersect (0, 2, 1, 4));
    assert_false (referee_layouts_intersect (0, 2, 3, 4));
    assert_true (referee_layouts_intersect (1, 2, 3, 4));
    assert_true (referee_layouts_intersect (3, 4, 31, 32));
    assert_true (referee_layouts_intersect (3, 4, 7, 32));
    assert_false (referee_layouts_intersect (3, 4, 6, 32));
    assert_true (referee_layouts_intersect (17, 32, 0, 1));
    assert_true (referee_layouts_intersect (2, 4, 2, 4));
    assert_false (referee_layouts_intersect (2, 4, 1, 4));
    //  a count unknown: the same index only, as before counts
    assert_true (referee_layouts_intersect (1, 0, 1, 4));
    assert_false (referee_layouts_intersect (2, 0, 0, 2));
    assert_true (referee_layouts_intersect (0, 0, 0, 0));
    assert_false (referee_layouts_intersect (0, 0, 1, 0));

    for (uint32_t n = 1; n <= 32; n *= 2)
        for (uint32_t m = 1; m <= 32; m *= 2)
            for (uint32_t s = 0; s < n; s++)
                for (uint32_t t = 0; t < m; t++) {
                    bool common = false;
                    for (uint32_t crc = 0; crc < 32; crc++)
                        if (crc % n == s && crc % m == t)
                            common = true;
                    assert_int_equal (referee_layouts_intersect (s, n, t, m), common);
                    assert_int_equal (referee_layouts_intersect (t, m, s, n), common);
                }
}

static void
test_layout_refused (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    static const uint32_t bad [][2] = {
        { 0, 3 }, { 0, 5 }, { 0, 12 }, { 0, 33 }, { 0, 64 }, { 0, 0x80000000u }, { 0, UINT32_MAX },
        { 2, 2 }, { 1, 1 }, { 32, 32 }, { 4, 4 },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, bad [index][0], bad [index][1], 1, 1,
                                         SEC (0), &result), -1);
        assert_false (result.overlap);
        assert_true (result.epoch == 0);
    }
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 0, 3, 1, 1, SEC (0), &result), -1);
    assert_string_equal (result.text, "invalid shard count 3: must be 1, 2, 4, 8, 16 or 32");
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 4, 4, 1, 1, SEC (0), &result), -1);
    assert_string_equal (result.text, "invalid shard 4: not below the shard count 4");
    assert_int_equal (s_counter (referee, "refused_layout"), (json_int_t) (sizeof bad / sizeof bad [0]) + 2);
    assert_int_equal (s_counter (referee, "refused_stale_epoch"), 0);
    assert_int_equal (s_counter (referee, "sessions"), 0);
    assert_int_equal (referee_open_count (referee), 0);

    //  a refused login kicks nothing either
    uint64_t open = s_login_layout (referee, &s_alice, 1, 2, 1, 1, SEC (0), &result);
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 1, 6, 1, 1, SEC (0), &result), -1);
    assert_int_equal (referee_ping (referee, &s_alice, open, 0, SEC (0), &result), 0);

    //  every layout's every shard is taken, and unknown counts any shard
    unsigned owner = 0;
    for (uint32_t shards = 1; shards <= 32; shards *= 2)
        for (uint32_t shard = 0; shard < shards; shard++) {
            char account [32];
            snprintf (account, sizeof account, "1555%02u%02u", shards, shard);
            assert_int_equal (referee_login (referee, s_owner (owner++ % 64), account, shard, shards, 1, 1,
                                             SEC (0), &result), 0);
        }
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 77, 0, 1, 1, SEC (0), &result), 0);
    assert_int_equal (referee_overlap_count (referee), 0);
}

//  A new layout's session while an old layout's that serves some of the same
//  recipients is open: an overlap per such session, which is kicked.
static void
test_layout_change_overlaps (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    referee_gone_t gone;

    //  1 → 2, done right: the old session ends first
    uint64_t one = s_login_layout (referee, s_owner (0), 0, 1, 1, 1, SEC (0), &result);
    assert_int_equal (referee_logout (referee, s_owner (0), one, SEC (0), &result), 0);
    s_login_layout (referee, s_owner (1), 0, 2, 1, 1, SEC (0), &result);
    assert_false (result.overlap);
    s_login_layout (referee, s_owner (2), 1, 2, 2, 1, SEC (0), &result);
    assert_false (result.overlap);
    assert_int_equal (referee_overlap_count (referee), 0);

    //  2 → 4, done wrong: (2, 4) meets (0, 2), (3, 4) meets (1, 2)
    s_login_layout (referee, s_owner (3), 2, 4, 3, 1, SEC (0), &result);
    assert_true (result.overlap);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.shard, 2);
    assert_int_equal (result.overlap_record.shards, 4);
    assert_int_equal (result.overlap_record.old_shard, 0);
    assert_int_equal (result.overlap_record.old_shards, 2);
    assert_true (result.overlap_record.old_node == 1);
    assert_true (referee_next_gone (referee, &gone));
    assert_string_equal (gone.reason, "kicked");
    assert_int_equal (gone.shard, 0);
    assert_false (referee_next_gone (referee, &gone));
    //  (0, 4) meets nothing open now: (0, 2) was kicked; (1, 4) meets (1, 2)
    s_login_layout (referee, s_owner (4), 0, 4, 4, 1, SEC (0), &result);
    assert_false (result.overlap);
    s_login_layout (referee, s_owner (5), 1, 4, 5, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.old_shard, 1);
    s_login_layout (referee, s_owner (6), 3, 4, 6, 1, SEC (0), &result);
    assert_false (result.overlap);              //  (1, 2) is gone already
    assert_int_equal (referee_overlap_count (referee), 2);
    assert_int_equal (referee_open_count (referee), 4);

    //  4 → 32: (13, 32) meets (1, 4) only, (8, 32) (0, 4) only
    s_login_layout (referee, s_owner (7), 13, 32, 7, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.old_shard, 1);
    assert_int_equal (result.overlap_record.old_shards, 4);
    s_login_layout (referee, s_owner (8), 8, 32, 8, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.old_shard, 0);
    //  the same layout's other shards meet nothing
    for (uint32_t shard = 0; shard < 32; shard++)
        if (shard % 4 == 1 || shard % 4 == 0)
            if (shard != 13 && shard != 8) {
                s_login_layout (referee, s_owner (10 + shard), shard, 32, 10 + shard, 1, SEC (0), &result);
                assert_false (result.overlap);
            }
    assert_int_equal (referee_overlap_count (referee), 4);
    //  (2, 4) and (3, 4) are open still, and 16 of 32
    assert_int_equal (referee_open_count (referee), 18);

    //  32 → 1: (0, 1) meets every open session at once
    s_login_layout (referee, s_owner (50), 0, 1, 50, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 18);
    assert_int_equal (referee_overlap_count (referee), 22);
    assert_int_equal (s_counter (referee, "overlaps"), 22);
    assert_int_equal (referee_open_count (referee), 1);
    assert_int_equal (s_counter (referee, "kicked"), 22);
}

//  Epochs fence per layout's shard: a new layout's leases may start anew.
static void
test_layout_epochs (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    uint64_t old = s_login_layout (referee, &s_alice, 0, 2, 1, 9, SEC (0), &result);
    assert_int_equal (referee_logout (referee, &s_alice, old, SEC (0), &result), 0);
    uint64_t new = s_login_layout (referee, &s_bob, 0, 4, 2, 1, SEC (0), &result);
    assert_false (result.overlap);
    //  the old layout's own fence stands
    assert_int_equal (referee_login (referee, &s_carol, ACCOUNT, 0, 2, 3, 8, SEC (0), &result), -1);
    assert_string_equal (result.text, "stale epoch 8 below 9");
    assert_int_equal (referee_ping (referee, &s_bob, new, 0, SEC (0), &result), 0);
    //  a late login of the old layout at its epoch, while the new one is
    //  open, is no stale epoch: an overlap
    s_login_layout (referee, &s_carol, 0, 2, 3, 9, SEC (1), &result);
    assert_true (result.overlap);
    assert_int_equal (result.overlap_record.old_shards, 4);
    assert_int_equal (s_counter (referee, "refused_stale_epoch"), 1);
    assert_int_equal (referee_overlap_count (referee), 1);
}

//  Counts unknown (a LOGIN without one) judge as before: the same index.
static void
test_layout_unknown (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    s_login_layout (referee, s_owner (0), 0, 0, 1, 1, SEC (0), &result);
    s_login_layout (referee, s_owner (1), 2, 0, 2, 1, SEC (0), &result);
    s_login_layout (referee, s_owner (2), 1, 2, 3, 1, SEC (0), &result);
    assert_false (result.overlap);
    s_login_layout (referee, s_owner (3), 0, 2, 4, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.old_shards, 0);
    s_login_layout (referee, s_owner (4), 2, 0, 5, 1, SEC (0), &result);
    assert_int_equal (result.overlaps, 1);
    assert_int_equal (result.overlap_record.old_shard, 2);
    assert_int_equal (referee_overlap_count (referee), 2);
    //  the stats and the overlap list say unknown as null
    json_t *root = s_stats (referee);
    json_t *first = json_array_get (json_object_get (root, "overlap_list"), 0);
    assert_int_equal (json_integer_value (json_object_get (first, "shards")), 2);
    assert_true (json_is_null (json_object_get (first, "old_shards")));
    json_t *account = json_array_get (json_object_get (root, "accounts"), 0);
    assert_true (json_is_null (json_object_get (account, "shards")));
    json_decref (root);
}

//  One connection replacing its session: an overlap when the two meet.
static void
test_layout_same_connection (void **state)
{
    referee_t *referee = (referee_t *) *state;
    referee_result_t result;
    s_login_layout (referee, &s_alice, 0, 2, 1, 1, SEC (0), &result);
    s_login_layout (referee, &s_alice, 1, 2, 1, 1, SEC (0), &result);
    assert_false (result.overlap);
    assert_int_equal (s_counter (referee, "kicked"), 1);
    s_login_layout (referee, &s_alice, 3, 4, 1, 1, SEC (0), &result);
    assert_true (result.overlap);
    assert_int_equal (referee_open_count (referee), 1);
    assert_int_equal (referee_overlap_count (referee), 1);
}

#define TO_SHARD(to, shards) ((uint32_t) wa_message_shard ((to), (shards)))

static int
s_send_to (referee_t *referee, const referee_owner_t *owner, uint64_t session, const char *id,
           const char *to, referee_result_t *result)
{
    char text [256];
    snprintf (text, sizeof text, "{\"id\":\"%.64s\",\"to\":\"%.20s\",\"type\":\"text\",\"body\":\"hi\"}", id, to);
    return referee_send (referee, owner, session, 1, text, SEC (0), result);
}

static void
test_misrouted (void **state)
{
    (void) state;
    char *buffer = NULL;
    size_t size = 0;
    FILE *ledger = open_memstream (&buffer, &size);
    assert_non_null (ledger);
    referee_t *referee = referee_new (IDLE, ledger);
    referee_result_t result;
    //  two recipients of different shards of 4 (CRC32, as zlib's and
    //  MariaDB's CRC32()); the same shard of 2
    const char *here = "15550001", *there = NULL;
    char numbers [64][16];
    for (int index = 0; index < 64 && !there; index++) {
        snprintf (numbers [index], sizeof numbers [index], "1555%04d", 2 + index);
        if (TO_SHARD (numbers [index], 4) != TO_SHARD (here, 4)
        &&  TO_SHARD (numbers [index], 2) == TO_SHARD (here, 2))
            there = numbers [index];
    }
    assert_non_null (there);
    assert_int_equal (TO_SHARD ("123456789", 32), 0xCBF43926u % 32);     //  the CRC32 check value

    uint32_t shard = TO_SHARD (here, 4);
    uint64_t session = s_login_layout (referee, &s_alice, shard, 4, 1, 1, SEC (0), &result);
    assert_int_equal (s_send_to (referee, &s_alice, session, "r1", here, &result), REFEREE_SEND_NEW);
    assert_false (result.misrouted);
    assert_int_equal (s_send_to (referee, &s_alice, session, "r2", there, &result), REFEREE_SEND_NEW);
    assert_true (result.misrouted);
    assert_int_equal (result.recipient_shard, TO_SHARD (there, 4));
    assert_int_equal (referee_misrouted_count (referee), 1);
    //  a duplicate is judged too; a refused SEND is not
    assert_int_equal (s_send_to (referee, &s_alice, session, "r2", there, &result), REFEREE_SEND_DUPLICATE);
    assert_true (result.misrouted);
    assert_int_equal (s_send_to (referee, &s_alice, session, "r3", "12ab", &result), REFEREE_SEND_REFUSED);
    assert_false (result.misrouted);
    assert_int_equal (s_counter (referee, "misrouted"), 2);

    //  of 2, both are the session's; of 1 and unknown, everyone is
    assert_int_equal (referee_logout (referee, &s_alice, session, SEC (0), &result), 0);
    uint64_t two = s_login_layout (referee, &s_bob, TO_SHARD (here, 2), 2, 2, 1, SEC (0), &result);
    assert_int_equal (s_send_to (referee, &s_bob, two, "r4", there, &result), REFEREE_SEND_NEW);
    assert_false (result.misrouted);
    assert_int_equal (referee_logout (referee, &s_bob, two, SEC (0), &result), 0);
    uint64_t one = s_login_layout (referee, &s_bob, 0, 1, 2, 1, SEC (0), &result);
    assert_int_equal (s_send_to (referee, &s_bob, one, "r5", there, &result), REFEREE_SEND_NEW);
    assert_false (result.misrouted);
    assert_int_equal (referee_logout (referee, &s_bob, one, SEC (0), &result), 0);
    uint64_t unknown = s_login_layout (referee, &s_carol, 3, 0, 3, 1, SEC (0), &result);
    assert_int_equal (s_send_to (referee, &s_carol, unknown, "r6", there, &result), REFEREE_SEND_NEW);
    assert_false (result.misrouted);
    assert_int_equal (referee_misrouted_count (referee), 2);
    assert_int_equal (referee_overlap_count (referee), 0);
    referee_destroy (&referee);
    fclose (ledger);

    //  the ledger: every line with its layout's count (null when unknown),
    //  a misrouted arrival marked with its recipient's shard
    size_t lines = 0, marked = 0;
    char *saveptr = NULL;
    for (char *line = strtok_r (buffer, "\n", &saveptr); line; line = strtok_r (NULL, "\n", &saveptr)) {
        json_t *entry = json_loads (line, 0, NULL);
        assert_non_null (entry);
        json_t *shards = json_object_get (entry, "shards");
        assert_non_null (shards);
        uint64_t id = (uint64_t) json_integer_value (json_object_get (entry, "session"));
        assert_true (id == unknown? json_is_null (shards): json_is_integer (shards));
        const char *event = json_string_value (json_object_get (entry, "event"));
        const char *message = json_string_value (json_object_get (entry, "id"));
        bool wrong = message && strcmp (message, "r2") == 0;
        assert_int_equal (json_is_true (json_object_get (entry, "misrouted")), wrong);
        if (wrong) {
            assert_true (strcmp (event, "message") == 0 || strcmp (event, "duplicate") == 0);
            assert_int_equal (json_integer_value (json_object_get (entry, "recipient_shard")), TO_SHARD (there, 4));
            marked++;
        }
        else
            assert_null (json_object_get (entry, "recipient_shard"));
        json_decref (entry);
        lines++;
    }
    assert_int_equal (marked, 2);
    assert_true (lines >= 12);
    free (buffer);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_stale_epoch_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_equal_and_higher_epoch_accepted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_overlap_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_overlap_after_logout_or_expiry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_late_ping_does_not_revive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_delayed_ping_extends_from_send_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_do_not_interfere, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ledger_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stats_fit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_message_counted_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_same_session, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_across_failover, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_on_gone_session, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_query, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_and_query_are_not_activity, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_many_ids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stats_keys_and_fit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ledger_message_lines, s_setup, s_teardown),
        cmocka_unit_test (test_layouts_intersect),
        cmocka_unit_test_setup_teardown (test_layout_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_layout_change_overlaps, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_layout_epochs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_layout_unknown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_layout_same_connection, s_setup, s_teardown),
        cmocka_unit_test (test_misrouted),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
