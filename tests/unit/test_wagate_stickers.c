/*  Unit tests for wagate's first-party stickerpacks: what the network
    answers for the packs, a pack, its stickers and a sticker. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <jansson.h>
#include "stickers.h"

static json_t *
s_ask (const char *json, int expected)
{
    json_t *request = json_loads (json, 0, NULL);
    assert_non_null (request);
    int status = 0;
    json_t *reply = NULL;
    assert_true (stickers_control ("stickerpacks", request, &status, &reply));
    assert_int_equal (status, expected);
    assert_non_null (reply);
    json_decref (request);
    return reply;
}

static void
test_catalogue (void **state)
{
    (void) state;
    int status = 0;
    json_t *reply = NULL;
    assert_false (stickers_control ("register", NULL, &status, &reply));
    json_t *packs = s_ask ("{\"op\":\"stickerpacks\",\"id\":7}", 200);
    assert_int_equal (json_integer_value (json_object_get (packs, "id")), 7);
    json_t *list = json_object_get (packs, "stickerpacks");
    assert_int_equal (json_array_size (list), 2);
    const char *first = json_string_value (json_object_get (json_array_get (list, 0), "id"));
    char request[200];
    snprintf (request, sizeof request, "{\"op\":\"stickerpacks\",\"pack\":\"%s\"}", first);
    json_t *pack = s_ask (request, 200);
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (pack, "stickerpacks"), 0),
                                                             "publisher")), "WhatsApp");
    snprintf (request, sizeof request, "{\"op\":\"stickerpacks\",\"pack\":\"%s\",\"stickers\":true}", first);
    json_t *stickers = s_ask (request, 200);
    assert_int_equal (json_array_size (json_object_get (stickers, "stickers")), 3);
    snprintf (request, sizeof request, "{\"op\":\"stickerpacks\",\"pack\":\"%s\",\"index\":\"2\"}", first);
    json_t *sticker = s_ask (request, 200);
    json_t *one = json_array_get (json_object_get (sticker, "stickers"), 0);
    assert_int_equal (strlen (json_string_value (json_object_get (one, "id"))), 36);
    assert_int_equal (json_array_size (json_object_get (one, "emojis")), 2);
    snprintf (request, sizeof request, "{\"op\":\"stickerpacks\",\"pack\":\"%s\",\"index\":\"4\"}", first);
    json_decref (s_ask (request, 404));
    json_decref (s_ask ("{\"op\":\"stickerpacks\",\"pack\":\"nope\"}", 404));
    json_decref (packs);
    json_decref (pack);
    json_decref (stickers);
    json_decref (sticker);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_catalogue),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
