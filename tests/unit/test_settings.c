/*  Unit tests for the settings as they travel (src/common/settings_store.c):
    the JSON a Master broadcasts and every node reads back, and the
    comparison and change log built on the same values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "wa_log.h"
#include "wa_settings.h"

//  A webhooks_url of 200 characters (up to 255 are allowed).
static void
s_long_url (char *url, size_t size, char last)
{
    snprintf (url, size, "https://hooks.example.com/");
    size_t len = strlen (url);
    while (len < 199)
        url[len++] = 'a';
    url[len++] = last;
    url[len] = 0;
}

//  Found by fuzz_settings: the broadcast (and the seed rows, the
//  comparison, the change log) read each value into 64 bytes, so a longer
//  webhooks_url reached the other nodes cut at 63 characters.
static void
test_long_url_travels_whole (void **state)
{
    (void) state;
    wa_config_t config, again;
    char url[256], err[512], json[2048];
    wa_config_defaults (&config);
    s_long_url (url, sizeof url, 'z');
    assert_int_equal (wa_config_set (&config, "webhooks_url", url, err, sizeof err), 0);
    assert_int_equal (wa_settings_to_json (&config, json, sizeof json), 0);
    assert_non_null (strstr (json, url));
    wa_config_t defaults;
    wa_config_defaults (&defaults);
    assert_int_equal (wa_settings_from_json (json, &defaults, &again, err, sizeof err), 0);
    assert_string_equal (again.webhooks_url, url);
    assert_false (wa_settings_differ (&config, &again));
}

static void
test_differ_sees_the_whole_url (void **state)
{
    (void) state;
    wa_config_t a, b;
    char url[256], err[512];
    wa_config_defaults (&a);
    wa_config_defaults (&b);
    s_long_url (url, sizeof url, 'y');
    assert_int_equal (wa_config_set (&a, "webhooks_url", url, err, sizeof err), 0);
    s_long_url (url, sizeof url, 'z');
    assert_int_equal (wa_config_set (&b, "webhooks_url", url, err, sizeof err), 0);
    assert_true (wa_settings_differ (&a, &b));
    char changes[512];
    assert_int_equal (wa_settings_changes (&a, &b, "test", changes, sizeof changes), 1);
    assert_non_null (strstr (changes, url));
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_long_url_travels_whole),
        cmocka_unit_test (test_differ_sees_the_whole_url),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
