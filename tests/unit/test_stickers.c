/*  Unit tests for wa_stickers: the fields of /v1/stickerpacks, each
    refused with the original's code and its name. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "wa_errors.h"
#include "wa_stickers.h"

#define MEDIA "0f8e6c5a-1b2c-4d3e-8f40-123456789abc"

static int
s_pack (const char *json, bool create, const char *needle)
{
    json_t *body = json_loads (json, 0, NULL);
    assert_non_null (body);
    wa_stickerpack_t pack;
    char why[300] = "";
    int code = wa_stickerpack_check (body, create, &pack, why, sizeof why);
    if (needle && !strstr (why, needle))
        fail_msg ("'%s' does not hold '%s'", why, needle);
    json_decref (body);
    return code;
}

static int
s_sticker (const char *json, bool create, const char *needle)
{
    json_t *body = json_loads (json, 0, NULL);
    assert_non_null (body);
    wa_sticker_t sticker;
    char why[300] = "";
    int code = wa_sticker_check (body, create, &sticker, why, sizeof why);
    if (needle && !strstr (why, needle))
        fail_msg ("'%s' does not hold '%s'", why, needle);
    json_decref (body);
    return code;
}

static void
test_packs (void **state)
{
    (void) state;
    assert_int_equal (s_pack ("{\"publisher\":\"Acme\",\"name\":\"Cats\"}", true, NULL), 0);
    assert_int_equal (s_pack ("{\"publisher\":\"Acme\",\"name\":\"Cats\",\"ios_app_store_link\":"
                              "\"https://itunes.apple.com/app/id3133333\",\"android_app_store_link\":"
                              "\"https://play.google.com/store/apps/details?id=com.example\"}", true, NULL), 0);
    assert_int_equal (s_pack ("{\"name\":\"Cats\"}", true, "'publisher' is required"), WA_ERR_MISSING);
    assert_int_equal (s_pack ("{\"publisher\":\"Acme\"}", true, "'name' is required"), WA_ERR_MISSING);
    assert_int_equal (s_pack ("{\"publisher\":1,\"name\":\"Cats\"}", true, "'publisher' must be a string"),
                      WA_ERR_INVALID);
    assert_int_equal (s_pack ("{\"publisher\":\"\",\"name\":\"Cats\"}", true, "'publisher' must not be empty"),
                      WA_ERR_INVALID);
    assert_int_equal (s_pack ("{\"publisher\":\"A\\nB\",\"name\":\"Cats\"}", true, "control"), WA_ERR_INVALID);
    assert_int_equal (s_pack ("{\"publisher\":\"A\",\"name\":\"C\",\"colour\":1}", true, "'colour'"), WA_ERR_INVALID);
    assert_int_equal (s_pack ("{\"publisher\":\"A\",\"name\":\"C\",\"ios_app_store_link\":\"http://evil\"}", true,
                              "'ios_app_store_link' must be"), WA_ERR_INVALID);
    char long_name[400];
    snprintf (long_name, sizeof long_name, "{\"publisher\":\"A\",\"name\":\"%0129d\"}", 0);
    assert_int_equal (s_pack (long_name, true, "'name' is longer than 128"), WA_ERR_INVALID);
    //  128 characters of 4 bytes each are fine.
    char emoji_name[1200] = "{\"publisher\":\"A\",\"name\":\"";
    for (int i = 0; i < 128; i++)
        strcat (emoji_name, "\xf0\x9f\x90\xb1");
    strcat (emoji_name, "\"}");
    assert_int_equal (s_pack (emoji_name, true, NULL), 0);
    //  PATCH: any one field, none required.
    assert_int_equal (s_pack ("{\"name\":\"Dogs\"}", false, NULL), 0);
    assert_int_equal (s_pack ("{\"ios_app_store_link\":\"\"}", false, NULL), 0);
    assert_int_equal (s_pack ("{}", false, "nothing to change"), WA_ERR_MISSING);
}

static void
test_stickers (void **state)
{
    (void) state;
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\"}", true, NULL), 0);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\",\"emojis\":[\"\xf0\x9f\x90\xa5\",\"x\"]}", true,
                                 NULL), 0);
    assert_int_equal (s_sticker ("{\"emojis\":[]}", true, "'image_data_id' is required"), WA_ERR_MISSING);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"../etc/passwd\"}", true, "'image_data_id' must be"),
                      WA_ERR_INVALID);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\",\"emojis\":\"x\"}", true, "'emojis' must be"),
                      WA_ERR_INVALID);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\",\"emojis\":[\"a\",\"b\",\"c\",\"d\"]}", true,
                                 "at most 3"), WA_ERR_INVALID);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\",\"emojis\":[\"\"]}", true, "'emojis[0]'"),
                      WA_ERR_INVALID);
    assert_int_equal (s_sticker ("{\"image_data_id\":\"" MEDIA "\",\"emojis\":[\"a\",1]}", true, "'emojis[1]'"),
                      WA_ERR_INVALID);
    assert_int_equal (s_sticker ("{\"emojis\":[\"a\"]}", false, NULL), 0);
    assert_int_equal (s_sticker ("{}", false, "nothing to change"), WA_ERR_MISSING);
    assert_int_equal (wa_sticker_index ("1"), 1);
    assert_int_equal (wa_sticker_index ("2147483647"), 2147483647L);
    assert_int_equal (wa_sticker_index ("2147483648"), 0);
    assert_int_equal (wa_sticker_index ("01"), 0);
    assert_int_equal (wa_sticker_index ("-1"), 0);
    assert_int_equal (wa_sticker_index ("1a"), 0);
    assert_int_equal (wa_sticker_index (""), 0);
    char id[WA_STICKERPACK_ID_LEN + 1], other[WA_STICKERPACK_ID_LEN + 1];
    wa_stickerpack_id (id);
    wa_stickerpack_id (other);
    assert_int_equal (strlen (id), 36);
    assert_string_not_equal (id, other);
    assert_int_equal (id[14], '4');
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_packs),
        cmocka_unit_test (test_stickers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
