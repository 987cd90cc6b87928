/*  wa_message: the checks the Webapp and the Coreapp share (every type:
    text, media by id or link, template, interactive, contacts, location,
    reaction), good and bad, each failure naming its field; the upstream
    JSON; media ids, media types, which stored type fits which message,
    the size limits and content ids. */
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


//  The same with JSON written with single quotes (none of these tests
//  holds an apostrophe).
static char *
s_dq (const char *text)
{
    char *out = strdup (text);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static void
s_expectq (const char *text, int code, const char *needle)
{
    char *json = s_dq (text);
    s_expect (json, code, needle);
    free (json);
}

//  A good message (single quotes): checked, its upstream JSON's body
//  compared with want (single quotes; NULL: not compared).
static void
s_goodq (const char *text, wa_message_t *msg, json_t **root, const char *want_body)
{
    char *json = s_dq (text);
    json_error_t error;
    *root = json_loads (json, JSON_REJECT_DUPLICATES, &error);
    free (json);
    assert_non_null (*root);
    char why[200] = "";
    int code = wa_message_check (*root, msg, why, sizeof why);
    if (code)
        fail_msg ("refused (%d): %s", code, why);
    if (!want_body)
        return;
    char *up = wa_message_upstream (msg, "gBEid");
    assert_non_null (up);
    json_t *got = json_loads (up, 0, &error);
    assert_non_null (got);
    char *want_text = s_dq (want_body);
    json_t *want = json_loads (want_text, 0, &error);
    assert_non_null (want);
    if (!json_equal (json_object_get (got, "body"), want))
        fail_msg ("upstream %s, want body %s", up, want_text);
    free (want_text);
    free (up);
    json_decref (got);
    json_decref (want);
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
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":7}}", 1009, "'image.id' must be a media id");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"../../etc/passwd\"}}", 1009, "'image.id'");
    s_expect ("{\"to\":\"1631\",\"type\":\"audio\",\"audio\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"x\"}}", 1009,
              "'audio.caption' is not allowed");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"filename\":\"x\"}}", 1009,
              "'image.filename' is not allowed");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":5}}", 1009,
              "'image.caption' must be a string");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"\"}}", 1009,
              "1 to 1024 characters");
    s_expect ("{\"to\":\"1631\",\"type\":\"document\",\"document\":{\"id\":\"" MEDIA_ID "\",\"filename\":\"a\\nb\"}}",
              1009, "'document.filename' may not contain line breaks");
    s_expect ("{\"to\":\"1631\",\"type\":\"image\",\"image\":{\"id\":\"" MEDIA_ID "\",\"caption\":\"a\\u0000b\"}}",
              1009, "control characters");
    char text[1300];
    snprintf (text, sizeof text, "{\"to\":\"1631\",\"type\":\"video\",\"video\":{\"id\":\"" MEDIA_ID "\","
              "\"caption\":\"%01025d\"}}", 0);
    s_expect (text, 1009, "'video.caption' must be 1 to 1024 characters");
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


static void
test_text_more (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    s_goodq ("{'to':'1631','type':'text','preview_url':true,'text':{'body':'see https://example.com'}}", &msg, &root,
             NULL);
    assert_true (msg.preview_url);
    char *up = wa_message_upstream (&msg, "gBEid");
    assert_non_null (strstr (up, "\"preview_url\":true"));
    free (up);
    json_decref (root);
    s_expectq ("{'to':'1631','type':'image','preview_url':true,'image':{'id':'" MEDIA_ID "'}}", 1009,
               "'preview_url' goes only with a text");
    s_expectq ("{'to':'1631','text':{'body':'x','font':'serif'}}", 1009, "'text.font' is not a field");
    //  Characters, not bytes: 4096 two-byte characters fit.
    char *text = malloc (3 * 4097 + 64);
    char *p = text + sprintf (text, "{\"to\":\"1631\",\"text\":{\"body\":\"");
    for (int i = 0; i < 4096; i++)
        p += sprintf (p, "\xc3\xa9");
    sprintf (p, "\"}}");
    s_expect (text, 0, NULL);
    sprintf (p, "\xc3\xa9\"}}");
    s_expect (text, 1009, "'text.body' must be 1 to 4096 characters");
    free (text);
    s_expectq ("{'to':'1631','type':'hsm','hsm':{}}", 1009, "'type' \"hsm\" (the deprecated templates) is not served");
    s_expectq ("{'to':null,'text':{'body':'x'}}", 1008, "'to' is missing");
}

static void
test_media_links (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    s_goodq ("{'to':'1631','type':'image','image':{'link':'https://media.example.com/a.jpg','caption':'c',"
             "'provider':{'name':'cdn-1'}}}", &msg, &root, NULL);
    assert_int_equal (msg.media_count, 1);
    assert_int_equal (msg.links, 1);
    assert_string_equal (msg.media[0].kind, "image");
    assert_string_equal (msg.media[0].link, "https://media.example.com/a.jpg");
    assert_string_equal (msg.media[0].provider, "cdn-1");
    assert_string_equal (msg.media[0].field, "image");
    assert_null (msg.media[0].id);
    assert_null (wa_message_upstream (&msg, "gBEid"));     //  a link never goes upstream
    //  What the Webapp does once the file is stored: the id in place of the link.
    json_object_del (msg.media[0].object, "link");
    json_object_del (msg.media[0].object, "provider");
    json_object_set_new (msg.media[0].object, "id", json_string (MEDIA_ID));
    wa_message_t again;
    char why[200];
    assert_int_equal (wa_message_check (root, &again, why, sizeof why), 0);
    assert_int_equal (again.links, 0);
    assert_string_equal (again.media_id, MEDIA_ID);
    json_decref (root);

    s_goodq ("{'to':'1631','type':'sticker','sticker':{'id':'" MEDIA_ID "'}}", &msg, &root, "{'id':'" MEDIA_ID "'}");
    json_decref (root);
    s_goodq ("{'to':'1631','type':'sticker','sticker':{'link':'http://127.0.0.1:8080/s.webp'}}", &msg, &root, NULL);
    json_decref (root);
    s_goodq ("{'to':'1631','type':'audio','audio':{'link':'HTTPS://x.example/a.ogg'}}", &msg, &root, NULL);
    json_decref (root);

    s_expectq ("{'to':'1631','type':'sticker','sticker':{'id':'" MEDIA_ID "','caption':'x'}}", 1009,
               "'sticker.caption' is not allowed");
    s_expectq ("{'to':'1631','type':'image','image':{'id':'" MEDIA_ID "','link':'https://x/y'}}", 1009,
               "'image' must have an 'id' or a 'link', not both");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'ftp://x/y.jpg'}}", 1009,
               "'image.link' must be an http:// or https:// URL");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'file:///etc/passwd'}}", 1009, "'image.link' must be");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'https:///nohost'}}", 1009, "'image.link' must be");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'https://a b/c'}}", 1009, "'image.link' must be");
    s_expectq ("{'to':'1631','type':'image','image':{'link':''}}", 1009, "'image.link' must be 1 to 2048");
    s_expectq ("{'to':'1631','type':'image','image':{'link':7}}", 1009, "'image.link' must be a string");
    s_expectq ("{'to':'1631','type':'image','image':{'id':'" MEDIA_ID "','provider':{'name':'p'}}}", 1009,
               "'image.provider' goes only with a 'link'");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'https://x/y','provider':{}}}", 1008,
               "'image.provider.name' is missing");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'https://x/y','provider':{'name':'p','key':'k'}}}",
               1009, "'image.provider.key' is not a field");
    s_expectq ("{'to':'1631','type':'image','image':{'link':'https://x/y','provider':'p'}}", 1009,
               "'image.provider' must be an object");
    s_expectq ("{'to':'1631','type':'image','image':{'id':'" MEDIA_ID "','size':3}}", 1009, "'image.size' is not a field");
    s_expectq ("{'to':'1631','type':'sticker'}", 1008, "'sticker' is missing");
}

#define TEMPLATE_HEAD "{'to':'1631','type':'template','template':{'namespace':'wacluster','name':'order_update'," \
    "'language':{'policy':'deterministic','code':'en_US'}"

static void
test_template (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    const char *good = TEMPLATE_HEAD ",'components':["
        "{'type':'header','parameters':[{'type':'image','image':{'link':'https://x.example/h.png'}}]},"
        "{'type':'body','parameters':[{'type':'text','text':'Ana'},"
        "{'type':'currency','currency':{'fallback_value':'$100.99','code':'USD','amount_1000':100990}},"
        "{'type':'date_time','date_time':{'fallback_value':'February 25, 1977','day_of_week':5,'year':1977,"
        "'month':2,'day_of_month':25,'hour':15,'minute':33,'calendar':'GREGORIAN'}},"
        "{'type':'date_time','date_time':{'fallback_value':'now','timestamp':1700000000}}]},"
        "{'type':'button','sub_type':'quick_reply','index':0,'parameters':[{'type':'payload','payload':'yes-1'}]},"
        "{'type':'button','sub_type':'url','index':'1','parameters':[{'type':'text','text':'track/123'}]}]}}";
    s_goodq (good, &msg, &root, NULL);
    assert_string_equal (msg.type, "template");
    assert_int_equal (msg.media_count, 1);
    assert_int_equal (msg.links, 1);
    assert_string_equal (msg.media[0].field, "template.components[0].parameters[0].image");
    json_decref (root);
    //  By id: the upstream body is the template as checked.
    s_goodq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'document','document':{'id':'"
             MEDIA_ID "','filename':'inv.pdf'}}]}]}}", &msg, &root,
             "{'namespace':'wacluster','name':'order_update','language':{'policy':'deterministic','code':'en_US'},"
             "'components':[{'type':'header','parameters':[{'type':'document','document':{'id':'" MEDIA_ID "',"
             "'filename':'inv.pdf'}}]}]}");
    json_decref (root);
    s_goodq (TEMPLATE_HEAD "}}", &msg, &root, NULL);        //  no parameters at all
    json_decref (root);
    s_goodq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'video','video':{'id':'" MEDIA_ID
             "'}}]}]}}", &msg, &root, NULL);
    json_decref (root);

    s_expectq ("{'to':'1631','type':'template'}", 1008, "'template' is missing");
    s_expectq ("{'to':'1631','type':'template','template':[]}", 1009, "'template' must be an object");
    s_expectq ("{'to':'1631','type':'template','template':{'name':'x','language':{'policy':'deterministic',"
               "'code':'en'}}}", 1008, "'template.namespace' is missing");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'n s','name':'x'}}", 1009,
               "'template.namespace' must be");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'Order-1'}}", 1009,
               "'template.name' must be a template's name");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'x'}}", 1008,
               "'template.language' is missing");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'x','language':{'code':'en'}}}",
               1008, "'template.language.policy' is missing");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'x','language':"
               "{'policy':'loose','code':'en'}}}", 1009,
               "'template.language.policy' must be \"deterministic\" or \"fallback\"");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'x','language':"
               "{'policy':'deterministic','code':'english'}}}", 1009, "'template.language.code' must be");
    s_expectq ("{'to':'1631','type':'template','template':{'namespace':'ns','name':'x','language':"
               "{'policy':'deterministic','code':'EN_us'}}}", 1009, "'template.language.code' must be a language");
    s_expectq (TEMPLATE_HEAD ",'element_name':'x'}}", 1009, "'template.element_name' is not a field");
    s_expectq (TEMPLATE_HEAD ",'components':[]}}", 1009, "'template.components' must be an array of 1 to 12");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'footer','parameters':[]}]}}", 1009,
               "'template.components[0].type' must be \"header\", \"body\" or \"button\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'text','text':'a'}]},"
               "{'type':'body','parameters':[{'type':'text','text':'b'}]}]}}", 1009,
               "'template.components[1]' is a second body");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'text','text':'a'},"
               "{'type':'text','text':'b'}]}]}}", 1009, "'template.components[0].parameters' must be an array of 1");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body'}]}}", 1008, "'template.components[0].parameters' is missing");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'image','image':{'id':'" MEDIA_ID
               "'}}]}]}}", 1009, "'template.components[0].parameters[0].type' must be \"text\", \"currency\" or "
               "\"date_time\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'text'}]}]}}", 1008,
               "'template.components[0].parameters[0].text' is missing");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'text','text':'a\\nb'}]}]}}", 1009,
               "'template.components[0].parameters[0].text' may not contain line breaks");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'text','text':'a',"
               "'currency':{}}]}]}}", 1009, "'template.components[0].parameters[0].currency' is not allowed in a "
               "parameter of type \"text\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'text','text':"
               "'1234567890123456789012345678901234567890123456789012345678901'}]}]}}", 1009,
               "'template.components[0].parameters[0].text' must be 1 to 60 characters");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'currency','currency':"
               "{'fallback_value':'$1','code':'usd','amount_1000':1000}}]}]}}", 1009,
               "'template.components[0].parameters[0].currency.code' must be an ISO 4217");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'currency','currency':"
               "{'fallback_value':'$1','code':'USD'}}]}]}}", 1008,
               "'template.components[0].parameters[0].currency.amount_1000' is missing");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'currency','currency':"
               "{'fallback_value':'$1','code':'USD','amount_1000':1.5}}]}]}}", 1009,
               "'template.components[0].parameters[0].currency.amount_1000' must be an integer");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'date_time','date_time':"
               "{'year':1977}}]}]}}", 1008, "'template.components[0].parameters[0].date_time.fallback_value' is missing");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'date_time','date_time':"
               "{'fallback_value':'x','month':13}}]}]}}", 1009,
               "'template.components[0].parameters[0].date_time.month' must be an integer from 1 to 12");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'date_time','date_time':"
               "{'fallback_value':'x','timestamp':1,'year':1977}}]}]}}", 1009, "takes a 'timestamp' or its parts");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','parameters':[{'type':'date_time','date_time':"
               "{'fallback_value':'x','calendar':'JULIAN'}}]}]}}", 1009, "date_time.calendar' must be");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'button','sub_type':'quick_reply','parameters':"
               "[{'type':'payload','payload':'p'}]}]}}", 1008, "'template.components[0].index' is missing");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'button','sub_type':'quick_reply','index':10,'parameters':"
               "[{'type':'payload','payload':'p'}]}]}}", 1009, "'template.components[0].index' must be 0 to 9");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'button','sub_type':'quick_reply','index':0,'parameters':"
               "[{'type':'payload','payload':'p'}]},{'type':'button','sub_type':'url','index':'0','parameters':"
               "[{'type':'text','text':'t'}]}]}}", 1009, "'template.components[1].index' names a button already");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'button','sub_type':'call','index':0,'parameters':[]}]}}", 1009,
               "'template.components[0].sub_type' must be \"quick_reply\" or \"url\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'button','sub_type':'quick_reply','index':0,'parameters':"
               "[{'type':'text','text':'t'}]}]}}", 1009, "'template.components[0].parameters[0].type' must be "
               "\"payload\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'body','index':0,'parameters':[{'type':'text','text':'a'}]}]}}",
               1009, "'template.components[0].index' goes only with a component of type \"button\"");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'image','image':"
               "{'link':'gopher://x/y'}}]}]}}", 1009, "'template.components[0].parameters[0].image.link' must be");
    s_expectq (TEMPLATE_HEAD ",'components':[{'type':'header','parameters':[{'type':'image','image':{'id':'"
               MEDIA_ID "','caption':'c'}}]}]}}", 1009, "image.caption' is not allowed");
}

static void
test_interactive (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    s_goodq ("{'to':'1631','type':'interactive','interactive':{'type':'list','header':{'type':'text','text':'Menu'},"
             "'body':{'text':'Pick one\\nor two'},'footer':{'text':'thanks'},'action':{'button':'Choose',"
             "'sections':[{'title':'Food','rows':[{'id':'f1','title':'Pizza','description':'with cheese'},"
             "{'id':'f2','title':'Pasta'}]},{'title':'Drinks','rows':[{'id':'d1','title':'Water'}]}]}}}",
             &msg, &root, NULL);
    json_decref (root);
    s_goodq ("{'to':'1631','type':'interactive','interactive':{'type':'button','header':{'type':'image','image':"
             "{'id':'" MEDIA_ID "'}},'body':{'text':'Confirm?'},'action':{'buttons':[{'type':'reply','reply':"
             "{'id':'yes','title':'Yes'}},{'type':'reply','reply':{'id':'no','title':'No'}}]}}}", &msg, &root,
             "{'type':'button','header':{'type':'image','image':{'id':'" MEDIA_ID "'}},'body':{'text':'Confirm?'},"
             "'action':{'buttons':[{'type':'reply','reply':{'id':'yes','title':'Yes'}},{'type':'reply','reply':"
             "{'id':'no','title':'No'}}]}}");
    assert_int_equal (msg.media_count, 1);
    assert_string_equal (msg.media[0].field, "interactive.header.image");
    json_decref (root);
    s_goodq ("{'to':'1631','type':'interactive','interactive':{'type':'product','action':{'catalog_id':'367025965434465',"
             "'product_retailer_id':'sku-1'}}}", &msg, &root, NULL);
    json_decref (root);
    s_goodq ("{'to':'1631','type':'interactive','interactive':{'type':'product_list','header':{'type':'text','text':"
             "'Our picks'},'body':{'text':'Have a look'},'action':{'catalog_id':'367025965434465','sections':["
             "{'title':'Shoes','product_items':[{'product_retailer_id':'s1'},{'product_retailer_id':'s2'}]}]}}}",
             &msg, &root, NULL);
    json_decref (root);

    const char *rows11 = "{'to':'1631','type':'interactive','interactive':{'type':'list','body':{'text':'b'},'action':"
        "{'button':'B','sections':[{'title':'A','rows':[{'id':'1','title':'t'},{'id':'2','title':'t'},{'id':'3','title':'t'},"
        "{'id':'4','title':'t'},{'id':'5','title':'t'},{'id':'6','title':'t'}]},{'title':'B','rows':[{'id':'7','title':'t'},"
        "{'id':'8','title':'t'},{'id':'9','title':'t'},{'id':'10','title':'t'},{'id':'11','title':'t'}]}]}}}";
    s_expectq (rows11, 1009, "'interactive.action.sections[1].rows[4]' is one too many: a list message holds at most "
               "10 rows in all");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','body':{'text':'b'},'action':"
               "{'sections':[{'rows':[{'id':'1','title':'t'}]}]}}}", 1008, "'interactive.action.button' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','body':{'text':'b'},'action':"
               "{'button':'B','sections':[{'rows':[{'id':'1','title':'t'}]},{'rows':[{'id':'2','title':'t'}]}]}}}",
               1008, "'interactive.action.sections[0].title' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','body':{'text':'b'},'action':"
               "{'button':'B','sections':[{'rows':[{'id':'1','title':'t'},{'id':'1','title':'u'}]}]}}}",
               1009, "'interactive.action.sections[0].rows[1].id' is the id of another row");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','body':{'text':'b'},'action':"
               "{'button':'B','sections':[{'rows':[{'id':'1','title':'t','description':"
               "'1234567890123456789012345678901234567890123456789012345678901234567890123'}]}]}}}",
               1009, "'interactive.action.sections[0].rows[0].description' must be 1 to 72 characters");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','action':{'button':'B','sections':"
               "[{'rows':[{'id':'1','title':'t'}]}]}}}", 1008, "'interactive.body' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'list','header':{'type':'image','image':"
               "{'id':'" MEDIA_ID "'}},'body':{'text':'b'},'action':{'button':'B','sections':[{'rows':[{'id':'1',"
               "'title':'t'}]}]}}}", 1009, "'interactive.header.type' must be \"text\"");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'action':"
               "{'buttons':[{'type':'reply','reply':{'id':'1','title':'a'}},{'type':'reply','reply':{'id':'2','title':'b'}},"
               "{'type':'reply','reply':{'id':'3','title':'c'}},{'type':'reply','reply':{'id':'4','title':'d'}}]}}}",
               1009, "'interactive.action.buttons' must be an array of 1 to 3");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'action':"
               "{'buttons':[{'type':'reply','reply':{'id':'1','title':'123456789012345678901'}}]}}}", 1009,
               "'interactive.action.buttons[0].reply.title' must be 1 to 20 characters");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'action':"
               "{'buttons':[{'type':'reply','reply':{'id':'1','title':'a'}},{'type':'reply','reply':{'id':'1','title':'b'}}]}}}",
               1009, "'interactive.action.buttons[1].reply.id' is the id of another button");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'action':"
               "{'buttons':[{'type':'url','reply':{'id':'1','title':'a'}}]}}}", 1009,
               "'interactive.action.buttons[0].type' must be \"reply\"");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'product','header':{'type':'text','text':'h'},"
               "'action':{'catalog_id':'1','product_retailer_id':'s'}}}", 1009,
               "'interactive.header' is not allowed in a product message");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'product','action':{'catalog_id':'1'}}}", 1008,
               "'interactive.action.product_retailer_id' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'product_list','body':{'text':'b'},'action':"
               "{'catalog_id':'1','sections':[{'title':'t','product_items':[{'product_retailer_id':'s'}]}]}}}", 1008,
               "'interactive.header' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'footer':{'text':"
               "'1234567890123456789012345678901234567890123456789012345678901'},'action':{'buttons':[{'type':'reply',"
               "'reply':{'id':'1','title':'a'}}]}}}", 1009, "'interactive.footer.text' must be 1 to 60 characters");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'carousel'}}", 1009,
               "'interactive.type' must be \"list\", \"button\", \"product\" or \"product_list\"");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'}}}", 1008,
               "'interactive.action' is missing");
    s_expectq ("{'to':'1631','type':'interactive','interactive':{'type':'button','body':{'text':'b'},'action':"
               "{'button':'x','buttons':[]}}}", 1009, "'interactive.action.button' is not a field");
}

static void
test_contacts (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    s_goodq ("{'to':'1631','type':'contacts','contacts':[{'addresses':[{'street':'1 Hacker Way','city':'Menlo Park',"
             "'state':'CA','zip':'94025','country':'United States','country_code':'us','type':'HOME'}],"
             "'birthday':'2012-08-18','emails':[{'email':'test@fb.com','type':'WORK'}],'name':{'first_name':'John',"
             "'formatted_name':'John Smith','last_name':'Smith'},'org':{'company':'WhatsApp','department':'Design',"
             "'title':'Manager'},'phones':[{'phone':'+1 (940) 555-1234','type':'HOME'},{'phone':'+1 (650) 555-1234',"
             "'type':'WORK','wa_id':'16505551234'}],'urls':[{'url':'https://www.facebook.com','type':'WORK'}]}]}",
             &msg, &root, NULL);
    char *up = wa_message_upstream (&msg, "gBEid");
    json_t *got = json_loads (up, 0, NULL);
    assert_true (json_is_array (json_object_get (got, "body")));
    json_decref (got);
    free (up);
    json_decref (root);
    s_expectq ("{'to':'1631','type':'contacts','contacts':[]}", 1009, "'contacts' must be an array of 1 to 10");
    s_expectq ("{'to':'1631','type':'contacts','contacts':{}}", 1009, "'contacts' must be an array");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'phones':[{'phone':'1'}]}]}", 1008,
               "'contacts[0].name' is missing");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'first_name':'J'}}]}", 1008,
               "'contacts[0].name.formatted_name' is missing");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J'}}]}", 1008,
               "'contacts[0].name' needs one of first_name");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'birthday':'2023-02-29'}]}", 1009, "'contacts[0].birthday' must be a date");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'phones':[{'phone':'1','type':'PAGER'}]}]}", 1009, "'contacts[0].phones[0].type' must be");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'phones':[{'phone':'1','wa_id':'16a'}]}]}", 1009, "'contacts[0].phones[0].wa_id' must be the");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'emails':[{'type':'HOME'}]}]}", 1008, "'contacts[0].emails[0].email' is missing");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'pets':['cat']}]}", 1009, "'contacts[0].pets' is not a field");
    s_expectq ("{'to':'1631','type':'contacts','contacts':[{'name':{'formatted_name':'J','first_name':'J'},"
               "'urls':[]}]}", 1009, "'contacts[0].urls' must be an array of 1 to 10");
}

static void
test_location_reaction (void **state)
{
    (void) state;
    wa_message_t msg;
    json_t *root;
    s_goodq ("{'to':'1631','type':'location','location':{'longitude':-122.425332,'latitude':37.758056,"
             "'name':'Facebook HQ','address':'1 Hacker Way, Menlo Park, CA 94025'}}", &msg, &root,
             "{'longitude':-122.425332,'latitude':37.758056,'name':'Facebook HQ','address':"
             "'1 Hacker Way, Menlo Park, CA 94025'}");
    json_decref (root);
    s_goodq ("{'to':'1631','type':'location','location':{'longitude':0,'latitude':-90}}", &msg, &root, NULL);
    json_decref (root);
    s_expectq ("{'to':'1631','type':'location','location':{'longitude':10,'latitude':91}}", 1009,
               "'location.latitude' must be a number from -90 to 90");
    s_expectq ("{'to':'1631','type':'location','location':{'latitude':1}}", 1008, "'location.longitude' is missing");
    s_expectq ("{'to':'1631','type':'location','location':{'longitude':'10','latitude':1}}", 1009,
               "'location.longitude' must be a number");
    s_expectq ("{'to':'1631','type':'location','location':{'longitude':181,'latitude':1}}", 1009,
               "'location.longitude' must be a number from -180 to 180");
    s_expectq ("{'to':'1631','type':'location','location':{'longitude':1,'latitude':1,'zoom':3}}", 1009,
               "'location.zoom' is not a field");

    const char *good[] = {
        "\xf0\x9f\x91\x8d",                                             //  thumbs up
        "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",                             //  with a skin tone
        "\xf0\x9f\x87\xb5\xf0\x9f\x87\xb9",                             //  a flag
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",     //  a family (ZWJ)
        "\xe2\x9d\xa4\xef\xb8\x8f",                                     //  a red heart
        "1\xef\xb8\x8f\xe2\x83\xa3",                                    //  a keycap
        "",                                                             //  remove the reaction
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[256];
        snprintf (text, sizeof text, "{\"to\":\"1631\",\"type\":\"reaction\",\"reaction\":{\"message_id\":"
                  "\"gBEGkYiEB1VXAglK1ZEqA1YKPrU\",\"emoji\":\"%s\"}}", good[i]);
        s_expect (text, 0, NULL);
    }
    const char *bad[] = { "ab", "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d", "\xf0\x9f\x87\xb5", "1", "\xe2\x80\x8d",
                          "\xf0\x9f\x91\x8d\xe2\x80\x8d" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf (text, sizeof text, "{\"to\":\"1631\",\"type\":\"reaction\",\"reaction\":{\"message_id\":"
                  "\"gBEGkYiEB1VXAglK1ZEqA1YKPrU\",\"emoji\":\"%s\"}}", bad[i]);
        s_expect (text, 1009, "'reaction.emoji' must be one emoji");
    }
    s_expectq ("{'to':'1631','type':'reaction','reaction':{'emoji':''}}", 1008, "'reaction.message_id' is missing");
    s_expectq ("{'to':'1631','type':'reaction','reaction':{'message_id':'a b','emoji':''}}", 1009,
               "'reaction.message_id' must be a message id");
    s_expectq ("{'to':'1631','type':'reaction','reaction':{'message_id':'m1'}}", 1008, "'reaction.emoji' is missing");
}

static void
test_media_limits_and_ids (void **state)
{
    (void) state;
    assert_int_equal (wa_media_limit ("image"), 5 << 20);
    assert_int_equal (wa_media_limit ("audio"), 16 << 20);
    assert_int_equal (wa_media_limit ("video"), 16 << 20);
    assert_int_equal (wa_media_limit ("sticker"), 500 << 10);
    assert_int_equal (wa_media_limit ("document"), 100 << 20);
    assert_int_equal (wa_media_limit ("text"), 0);
    assert_true (wa_media_fits ("sticker", "image/webp"));
    assert_false (wa_media_fits ("sticker", "image/png"));
    char a[WA_MEDIA_ID_LEN + 1], b[WA_MEDIA_ID_LEN + 1], c[WA_MEDIA_ID_LEN + 1];
    const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    wa_media_content_id (sha, "image/png", a);
    wa_media_content_id (sha, "image/png", b);
    wa_media_content_id (sha, "image/jpeg", c);
    assert_string_equal (a, b);
    assert_string_not_equal (a, c);
    assert_true (wa_media_id_valid (a));
    assert_int_equal (a[14], '8');
    assert_true (wa_message_ref_valid ("w18c2f-12"));
    assert_true (wa_message_ref_valid ("gBEGkYiEB1VXAglK1ZEqA1YKPrU"));
    assert_false (wa_message_ref_valid (""));
    assert_false (wa_message_ref_valid ("a b"));
    assert_false (wa_message_ref_valid ("a'b"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_text_unchanged),
        cmocka_unit_test (test_media_messages),
        cmocka_unit_test (test_media_ids),
        cmocka_unit_test (test_media_types),
        cmocka_unit_test (test_text_more),
        cmocka_unit_test (test_media_links),
        cmocka_unit_test (test_template),
        cmocka_unit_test (test_interactive),
        cmocka_unit_test (test_contacts),
        cmocka_unit_test (test_location_reaction),
        cmocka_unit_test (test_media_limits_and_ids),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
