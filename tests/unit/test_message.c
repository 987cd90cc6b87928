/*  wa_message: the checks the Webapp and the Coreapp share (text and media
    messages), the upstream JSON, media ids, media types and which stored
    type fits which message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "wa_message.h"

#define MEDIA_ID "0f8e2d6a-5b1c-4e7f-9a3b-2c4d6e8f0a1b"

//  Check a message given as JSON text: the code, and why holding needle.
static int
s_check (const char *text, wa_message_t *msg, json_t **root, const char *needle)
{
    json_error_t error;
    *root = json_loads (text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    assert_non_null (*root);
    char why[200] = "";
    int code = wa_message_check (*root, msg, why, sizeof why);
    if (needle && !strstr (why, needle))
        fail_msg ("'%s' does not hold '%s'", why, needle);
    return code;
}

static void
s_expect (const char *text, int code, const char *needle)
{
    wa_message_t msg;
    json_t *root;
    assert_int_equal (s_check (text, &msg, &root, needle), code);
    json_decref (root);
}

static void
test_text_unchanged (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    assert_int_equal (s_check ("{\"to\":\"+1 (631) 555-1234\",\"text\":{\"body\":\"hi\"}}", &msg, &root, NULL), 0);
    assert_string_equal (msg.to, "16315551234");
    assert_string_equal (msg.type, "text");
    assert_string_equal (msg.body, "hi");
    assert_null (msg.media_id);
    char *up = wa_message_upstream (&msg, "gBEid");
    assert_string_equal (up, "{\"id\":\"gBEid\",\"to\":\"16315551234\",\"type\":\"text\",\"body\":\"hi\"}");
    free (up);
    json_decref (root);
    s_expect ("{\"to\":\"1631\"}", 1008, "'text' is missing");
    s_expect ("{\"to\":\"1631\",\"type\":\"hologram\",\"text\":{\"body\":\"x\"}}", 1009, "'type' must be one of");
    s_expect ("{\"to\":\"1631\",\"type\":7}", 1009, "'type' must be a string");
    s_expect ("{\"to\":\"1631\",\"text\":{\"body\":\"x\"},\"preview_url\":1}", 1009, "preview_url");
}

static void
test_media_messages (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    assert_int_equal (s_check ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\","
                               "\"caption\":\"a cat\\non two lines\"}}", &msg, &root, NULL), 0);
    assert_string_equal (msg.type, "image");
    assert_string_equal (msg.media_id, MEDIA_ID);
    assert_string_equal (msg.caption, "a cat\non two lines");
    assert_null (msg.filename);
    assert_null (msg.body);
    char *up = wa_message_upstream (&msg, "gBEid");
    assert_string_equal (up, "{\"id\":\"gBEid\",\"to\":\"1631\",\"type\":\"image\",\"body\":{\"id\":\"" MEDIA_ID
                         "\",\"caption\":\"a cat\\non two lines\"}}");
    free (up);
    json_decref (root);

    assert_int_equal (s_check ("{\"to\":\"1631\",\"type\":\"document\",\"document\":{\"id\":\"" MEDIA_ID "\","
                               "\"filename\":\"report.pdf\"}}", &msg, &root, NULL), 0);
    assert_string_equal (msg.filename, "report.pdf");
    up = wa_message_upstream (&msg, "gBEid");
    assert_string_equal (up, "{\"id\":\"gBEid\",\"to\":\"1631\",\"type\":\"document\",\"body\":{\"id\":\""
                         MEDIA_ID "\",\"filename\":\"report.pdf\"}}");
    free (up);
    json_decref (root);
    s_expect ("{\"to\":\"1631\",\"type\":\"audio\",\"audio\":{\"id\":\"" MEDIA_ID "\"}}", 0, NULL);
    s_expect ("{\"to\":\"1631\",\"type\":\"video\",\"video\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"v\"}}", 0, NULL);

    //  What is refused, each naming the field.
    s_expect ("{\"to\":\"1631\",\"type\":\"image\"}", 1008, "'image' is missing (an image message");
    s_expect ("{\"to\":\"1631\",\"type\":\"document\",\"text\":{\"body\":\"x\"}}", 1008, "a document message");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":\"" MEDIA_ID "\"}", 1009, "'image' must be an object");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{}}", 1008, "'image.id' is missing");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"link\":\"https://x/y.jpg\"}}", 1009,
              "'image.link' is not supported");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":7}}", 1009, "'image.id' must be a media id");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"../../etc/passwd\"}}", 1009, "'image.id'");
    s_expect ("{\"to\":\"1631\",\"type\":\"audio\",\"audio\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"x\"}}", 1009,
              "'audio.caption' is not allowed");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"filename\":\"x\"}}", 1009,
              "'image.filename' is not allowed");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":5}}", 1009,
              "'image.caption' must be a string");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"\"}}", 1009,
              "1 to 1024 bytes");
    s_expect ("{\"to\":\"1631\",\"type\":\"document\",\"document\":{\"id\":\"" MEDIA_ID "\",\"filename\":\"a\\nb\"}}",
              1009, "control characters");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"a\\u0000b\"}}",
              1009, "control characters");
    char text[1300];
    snprintf (text, sizeof text, "{\"to\":\"1631\",\"type\":\"video\",\"video\":{\"id\":\"" MEDIA_ID "\","
              "\"caption\":\"%01025d\"}}", 0);
    s_expect (text, 1009, "'video.caption' must be 1 to 1024 bytes");
}

static void
test_media_ids (void **state)
{
    (void) state;
    assert_true (wa_media_id_valid (MEDIA_ID));
    assert_false (wa_media_id_valid (NULL));
    assert_false (wa_media_id_valid (""));
    assert_false (wa_media_id_valid ("0F8E2D6A-5B1C-4E7F-9A3B-2C4D6E8F0A1B"));         //  upper case
    assert_false (wa_media_id_valid ("0f8e2d6a-5b1c-4e7f-9a3b-2c4d6e8f0a1b0"));        //  long
    assert_false (wa_media_id_valid ("0f8e2d6a-5b1c-4e7f-9a3b-2c4d6e8f0a1"));          //  short
    assert_false (wa_media_id_valid ("0f8e2d6a-5b1c-4e7f-9a3b-2c4d6e8f0a/b"));
    assert_false (wa_media_id_valid ("0f8e2d6a05b1c-4e7f-9a3b-2c4d6e8f0a1b"));
    assert_false (wa_media_id_valid ("..-.....-....-....-....-............"));
}

static void
test_media_types (void **state)
{
    (void) state;
    char out[64];
    assert_int_equal (wa_media_type ("image/jpeg", out, sizeof out), 0);
    assert_string_equal (out, "image/jpeg");
    assert_int_equal (wa_media_type (" Image/PNG ; name=x", out, sizeof out), 0);
    assert_string_equal (out, "image/png");
    assert_int_equal (wa_media_type ("text/plain; charset=utf-8", out, sizeof out), 0);
    assert_string_equal (out, "text/plain");
    assert_int_equal (wa_media_type ("audio/ogg; codecs=opus", out, sizeof out), 0);
    assert_string_equal (out, "audio/ogg; codecs=opus");
    assert_int_equal (wa_media_type ("audio/ogg;CODECS=\"Opus\"", out, sizeof out), 0);
    assert_string_equal (out, "audio/ogg; codecs=opus");
    assert_int_equal (wa_media_type ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                     out, sizeof out), 0);
    assert_int_equal (wa_media_type ("audio/ogg", out, sizeof out), -1);
    assert_string_equal (out, "audio/ogg");
    assert_int_equal (wa_media_type ("audio/ogg; codecs=vorbis", out, sizeof out), -1);
    assert_int_equal (wa_media_type ("application/x-msdownload", out, sizeof out), -1);
    assert_string_equal (out, "application/x-msdownload");
    assert_int_equal (wa_media_type ("", out, sizeof out), -1);
    assert_int_equal (wa_media_type ("image/jpeg\x01", out, sizeof out), -1);
    assert_int_equal (wa_media_type ("image/jpegx", out, sizeof out), -1);
    char longer[400];
    memset (longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    assert_int_equal (wa_media_type (longer, out, sizeof out), -1);

    assert_true (wa_media_fits ("image", "image/jpeg"));
    assert_true (wa_media_fits ("image", "image/png"));
    assert_false (wa_media_fits ("image", "image/webp"));
    assert_false (wa_media_fits ("image", "video/mp4"));
    assert_true (wa_media_fits ("audio", "audio/ogg; codecs=opus"));
    assert_false (wa_media_fits ("audio", "video/mp4"));
    assert_true (wa_media_fits ("video", "video/3gpp"));
    assert_false (wa_media_fits ("video", "image/png"));
    assert_true (wa_media_fits ("document", "application/pdf"));
    assert_true (wa_media_fits ("document", "image/png"));
    assert_false (wa_media_fits ("text", "text/plain"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_text_unchanged),
        cmocka_unit_test (test_media_messages),
        cmocka_unit_test (test_media_ids),
        cmocka_unit_test (test_media_types),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
