/*  Unit tests for wagate's template catalogue: what the emulated network
    makes of a template message (templates.h) — sent, or failed with 2001
    (missing), 2000 (parameters do not match) or 2012 (format). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "wa_errors.h"
#include "templates.h"

//  The verdict on a template body written with single quotes.
static int
s_check (const char *text, const char *needle)
{
    char *json = strdup (text);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t error;
    json_t *body = json_loads (json, 0, &error);
    if (!body)
        fail_msg ("bad test JSON: %s: %s", error.text, json);
    char details[256] = "";
    int code = templates_check (body, details, sizeof details);
    if (needle && !strstr (details, needle))
        fail_msg ("'%s' does not hold '%s'", details, needle);
    json_decref (body);
    free (json);
    return code;
}

#define HEAD(name, lang) "{'namespace':'wacluster','name':'" name "','language':{'policy':'deterministic','code':'" lang "'}"
#define TEXT "{'type':'text','text':'x'}"

static void
test_found_and_missing (void **state)
{
    (void) state;
    assert_int_equal (s_check (HEAD ("hello_world", "en_US") "}", NULL), 0);
    assert_int_equal (s_check (HEAD ("hello_world", "en") ",'components':[]}", NULL), 0);
    assert_int_equal (s_check ("{'namespace':'other','name':'hello_world','language':{'code':'en'}}",
                               "no templates in namespace 'other'"), WA_ERR_TEMPLATE_MISSING);
    assert_int_equal (s_check (HEAD ("good_bye", "en") "}", "no template named 'good_bye'"), WA_ERR_TEMPLATE_MISSING);
    assert_int_equal (s_check (HEAD ("hello_world", "fr") "}", "does not exist in language 'fr'"),
                      WA_ERR_TEMPLATE_MISSING);
    assert_int_equal (s_check (HEAD ("product_demo", "en_US") ",'components':[{'type':'header','parameters':"
                               "[{'type':'video','video':{'id':'v'}}]},{'type':'body','parameters':[" TEXT "]}]}", NULL),
                      WA_ERR_TEMPLATE_MISSING);
}

static void
test_parameters (void **state)
{
    (void) state;
    const char *order = HEAD ("order_update", "pt_BR") ",'components':[{'type':'header','parameters':[" TEXT "]},"
        "{'type':'body','parameters':[" TEXT ",{'type':'currency','currency':{'fallback_value':'$1','code':'USD',"
        "'amount_1000':1000}},{'type':'date_time','date_time':{'fallback_value':'today'}}]},"
        "{'type':'button','sub_type':'quick_reply','index':0,'parameters':[{'type':'payload','payload':'a'}]},"
        "{'type':'button','sub_type':'quick_reply','index':'1','parameters':[{'type':'payload','payload':'b'}]}]}";
    assert_int_equal (s_check (order, NULL), 0);
    //  The body's count.
    assert_int_equal (s_check (HEAD ("order_update", "en") ",'components':[{'type':'header','parameters':[" TEXT "]},"
                               "{'type':'body','parameters':[" TEXT "]}]}",
                               "body: number of localizable_params (1) does not match the expected number of params (3)"),
                      WA_ERR_TEMPLATE_PARAMS);
    //  A header the template has, left out.
    assert_int_equal (s_check (HEAD ("shipping_update", "en") ",'components':[{'type':'body','parameters':["
                               TEXT "," TEXT "]}]}", "header: number of localizable_params (0)"),
                      WA_ERR_TEMPLATE_PARAMS);
    //  A header the template does not have.
    assert_int_equal (s_check (HEAD ("hello_world", "en") ",'components':[{'type':'header','parameters':[" TEXT "]}]}",
                               "header: number of localizable_params (1) does not match the expected number of params (0)"),
                      WA_ERR_TEMPLATE_PARAMS);
    //  A button the template does not have, and one it has left out.
    assert_int_equal (s_check (HEAD ("invoice_ready", "en") ",'components':[{'type':'header','parameters':"
                               "[{'type':'document','document':{'id':'d'}}]},{'type':'body','parameters':[" TEXT "," TEXT "]},"
                               "{'type':'button','sub_type':'url','index':3,'parameters':[" TEXT "]}]}", "button 3"),
                      WA_ERR_TEMPLATE_PARAMS);
    assert_int_equal (s_check (HEAD ("shipping_update", "en") ",'components':[{'type':'header','parameters':"
                               "[{'type':'image','image':{'id':'i'}}]},{'type':'body','parameters':[" TEXT "," TEXT "]}]}",
                               "button 0: number of localizable_params (0)"), WA_ERR_TEMPLATE_PARAMS);
    assert_int_equal (s_check (HEAD ("shipping_update", "en") ",'components':[{'type':'header','parameters':"
                               "[{'type':'image','image':{'id':'i'}}]},{'type':'body','parameters':[" TEXT "," TEXT "]},"
                               "{'type':'button','sub_type':'url','index':0,'parameters':[" TEXT "]}]}", NULL), 0);
}

static void
test_formats (void **state)
{
    (void) state;
    //  An image header given a video; a text header given an image.
    assert_int_equal (s_check (HEAD ("shipping_update", "en") ",'components':[{'type':'header','parameters':"
                               "[{'type':'video','video':{'id':'v'}}]},{'type':'body','parameters':[" TEXT "," TEXT "]},"
                               "{'type':'button','sub_type':'url','index':0,'parameters':[" TEXT "]}]}",
                               "header: a video parameter, but the template's header is an image"),
                      WA_ERR_TEMPLATE_FORMAT);
    assert_int_equal (s_check (HEAD ("order_update", "en") ",'components':[{'type':'header','parameters':"
                               "[{'type':'image','image':{'id':'i'}}]}]}", "header: an image parameter, but the template's header is text"), WA_ERR_TEMPLATE_FORMAT);
    //  A quick reply button given as a url button.
    assert_int_equal (s_check (HEAD ("order_update", "en") ",'components':[{'type':'button','sub_type':'url',"
                               "'index':0,'parameters':[" TEXT "]}]}", "button 0: the template's button is a quick_reply"),
                      WA_ERR_TEMPLATE_FORMAT);
    //  The catalogue as JSON, as `wagate templates` prints it.
    json_t *catalogue = templates_catalogue ();
    assert_int_equal (json_array_size (catalogue), 5);
    json_t *order = json_array_get (catalogue, 1);
    assert_string_equal (json_string_value (json_object_get (order, "name")), "order_update");
    assert_int_equal (json_integer_value (json_object_get (json_object_get (order, "body"), "parameters")), 3);
    assert_int_equal (json_array_size (json_object_get (order, "buttons")), 2);
    json_decref (catalogue);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_found_and_missing),
        cmocka_unit_test (test_parameters),
        cmocka_unit_test (test_formats),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
