/*  Unit tests for wa_jsonl: each line is the JSON object the same members
    in jansson would be (escapes, numbers, nulls, nested values), the time
    members as the ledgers had them, and lines reuse one buffer. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_jsonl.h"

//  The line written to a file, parsed back.
static json_t *
s_written (wa_jsonl_t *line)
{
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert_non_null (file);
    assert_int_equal (wa_jsonl_end (line, file), 0);
    fclose (file);
    assert_true (size > 2 && text [size - 1] == '\n');
    assert_null (memchr (text, '\n', size - 1));        //  one line
    json_error_t error;
    json_t *parsed = json_loadb (text, size, JSON_REJECT_DUPLICATES, &error);
    if (!parsed)
        fail_msg ("not JSON (%s): %s", error.text, text);
    free (text);
    return parsed;
}

static void
test_as_jansson (void **state)
{
    (void) state;
    wa_jsonl_t line;
    wa_jsonl_init (&line);
    char awkward [64];
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        awkward [n++] = (char) c;
    strcpy (awkward + n, "\"\\/ é €");
    json_t *body = json_pack ("{s:[i, s, b, n], s:{s:f}}", "a", 1, "x\"y", 1, "o", "r", 2.5);
    json_t *extra = json_pack ("{s:s, s:i, s:O}", "id", "id\n1", "count", 7, "body", body);

    wa_jsonl_begin (&line);
    wa_jsonl_str (&line, "text", awkward);
    wa_jsonl_str (&line, "none", NULL);
    wa_jsonl_int (&line, "negative", INT64_MIN);
    wa_jsonl_uint (&line, "big", UINT64_MAX / 2);
    wa_jsonl_null (&line, "null");
    wa_jsonl_json (&line, "whole", body);
    wa_jsonl_json (&line, "absent", NULL);
    wa_jsonl_members (&line, extra);
    wa_jsonl_members (&line, NULL);
    json_t *got = s_written (&line);

    json_t *want = json_object ();
    json_object_set_new (want, "text", json_string (awkward));
    json_object_set_new (want, "none", json_null ());
    json_object_set_new (want, "negative", json_integer (INT64_MIN));
    json_object_set_new (want, "big", json_integer ((json_int_t) (UINT64_MAX / 2)));
    json_object_set_new (want, "null", json_null ());
    json_object_set (want, "whole", body);
    json_object_set_new (want, "absent", json_null ());
    json_object_update (want, extra);
    if (!json_equal (got, want)) {
        char *g = json_dumps (got, JSON_SORT_KEYS), *w = json_dumps (want, JSON_SORT_KEYS);
        fail_msg ("got %s\nwant %s", g, w);
    }
    //  Escaped as jansson escapes: the same text as its dump of the string.
    json_t *alone = json_string (awkward);
    char *dumped = json_dumps (alone, JSON_ENCODE_ANY);
    wa_jsonl_begin (&line);
    wa_jsonl_str (&line, "k", awkward);
    char expected [256];
    snprintf (expected, sizeof expected, "{\"k\":%s", dumped);
    assert_string_equal (wa_jsonl_text (&line), expected);
    free (dumped);
    json_decref (alone);
    json_decref (want);
    json_decref (got);
    json_decref (extra);
    json_decref (body);
    wa_jsonl_release (&line);
}

static void
test_times (void **state)
{
    (void) state;
    wa_jsonl_t line;
    wa_jsonl_init (&line);
    //  2026-12-06T22:59:59.999999Z, then the next second: the cached stamp
    //  follows.
    wa_usec_t wall = (wa_usec_t) 1796597999 * WA_USEC_PER_SEC + 999999;
    wa_jsonl_begin (&line);
    wa_jsonl_iso (&line, "at", wall, 6);
    wa_jsonl_iso (&line, "ms", wall, 3);
    wa_jsonl_seconds (&line, "t", wall);
    assert_string_equal (wa_jsonl_text (&line),
                         "{\"at\":\"2026-12-06T22:59:59.999999Z\",\"ms\":\"2026-12-06T22:59:59.999Z\","
                         "\"t\":1796597999.999999");
    json_t *got = s_written (&line);
    //  The number is the double the old ledgers wrote (wall / 1e6).
    assert_true (json_real_value (json_object_get (got, "t")) == (double) wall / 1e6);
    json_decref (got);
    wa_jsonl_begin (&line);
    wa_jsonl_iso (&line, "at", wall + 1, 6);
    wa_jsonl_seconds (&line, "t", wall + 1);
    assert_string_equal (wa_jsonl_text (&line), "{\"at\":\"2026-12-06T23:00:00.000000Z\",\"t\":1796598000.000000");
    wa_jsonl_release (&line);
}

static void
test_long_and_reused (void **state)
{
    (void) state;
    wa_jsonl_t line;
    wa_jsonl_init (&line);
    //  A 4096-byte body of quotes: 8192 bytes escaped, grown to fit.
    char *body = malloc (4097);
    memset (body, '"', 4096);
    body [4096] = 0;
    for (int round = 0; round < 3; round++) {
        wa_jsonl_begin (&line);
        wa_jsonl_str (&line, "body", body);
        wa_jsonl_int (&line, "round", round);
        json_t *got = s_written (&line);
        assert_string_equal (json_string_value (json_object_get (got, "body")), body);
        assert_int_equal (json_integer_value (json_object_get (got, "round")), round);
        json_decref (got);
    }
    //  An empty line is an empty object.
    wa_jsonl_begin (&line);
    json_t *got = s_written (&line);
    assert_int_equal (json_object_size (got), 0);
    json_decref (got);
    free (body);
    wa_jsonl_release (&line);
    wa_jsonl_release (&line);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_as_jansson),
        cmocka_unit_test (test_times),
        cmocka_unit_test (test_long_and_reused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
