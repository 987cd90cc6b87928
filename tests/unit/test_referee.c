/*  Unit tests for wagate's referee: the session rules on a fake clock. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
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
    assert_int_equal (referee_login (referee, owner, ACCOUNT, shard, node, epoch, now, &result), 0);
    assert_true (result.session > 0);
    return result.session;
}

static json_t *
s_stats (referee_t *referee)
{
    char *text = referee_stats_json (referee, 16384);
    assert_non_null (text);
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    free (text);
    assert_non_null (root);
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
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 2, 4, SEC (1), &result), -1);
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
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 2, 0, SEC (2), &result), -1);
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
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 0, 1, 5, SEC (3), &result), -1);
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
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 22, 2, SEC (1), &result), 0);
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
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 22, 2, SEC (2), &result), 0);
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
    assert_int_equal (referee_login (referee, &s_bob, ACCOUNT, 0, 2, 2, SEC (1), &result), 0);
    assert_false (result.overlap);

    //  bob goes silent; carol logs in just after his idle timeout: the lazy
    //  expiry before the login closes bob first
    assert_int_equal (referee_login (referee, &s_carol, ACCOUNT, 0, 3, 3, SEC (1) + IDLE + 1, &result), 0);
    assert_false (result.overlap);
    assert_int_equal (referee_overlap_count (referee), 0);
    assert_int_equal (s_counter (referee, "expired"), 1);
    referee_gone_t gone;
    assert_true (referee_next_gone (referee, &gone));
    assert_string_equal (gone.reason, "expired");
    assert_memory_equal (gone.owner.data, "bob", 3);

    //  exactly at the timeout it is not yet expired: that is an overlap
    wa_usec_t carol_at = SEC (1) + IDLE + 1;
    assert_int_equal (referee_login (referee, &s_alice, ACCOUNT, 0, 4, 4, carol_at + IDLE, &result), 0);
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
    assert_int_equal (referee_login (referee, &s_carol, "15551111111", 0, 3, 1, SEC (0), &result), 0);
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
    referee_login (referee, &s_carol, ACCOUNT, 0, 3, 1, SEC (1), &result);
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
    char *text = referee_stats_json (referee, 4000);
    assert_non_null (text);
    assert_true (strlen (text) <= 4000);
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    free (text);
    assert_non_null (root);
    assert_int_equal (json_integer_value (json_object_get (root, "overlaps")), 149);
    json_t *list = json_object_get (root, "overlap_list");
    assert_true (json_array_size (list) > 0 && json_array_size (list) < 100);
    //  the newest overlap survives the trimming
    json_t *last = json_array_get (list, json_array_size (list) - 1);
    assert_int_equal (json_integer_value (json_object_get (last, "new_epoch")), 150);
    assert_int_equal (json_array_size (json_object_get (root, "accounts")), 1);
    json_decref (root);

    //  the last 100 are kept when there is room
    text = referee_stats_json (referee, 1 << 20);
    root = json_loads (text, 0, &error);
    free (text);
    assert_int_equal (json_array_size (json_object_get (root, "overlap_list")), 100);
    last = json_array_get (json_object_get (root, "overlap_list"), 0);
    assert_int_equal (json_integer_value (json_object_get (last, "new_epoch")), 51);
    json_decref (root);
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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
