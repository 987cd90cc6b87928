/*  Unit tests for the pure parts of the credential defences: log escaping
    (wa_log_escape), what may be shown of a secret (wa_config_display,
    wa_config_redact_url), secrets kept off the settings broadcast, the
    webhook signature (webhook_signature), and the client address rules of
    the Webapp (auth_address_loopback, auth_address_key). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "wa_config.h"
#include "wa_log.h"
#include "wa_settings.h"
#include "auth.h"
#include "webhook.h"

static void
s_escaped (const char *in, const char *expected)
{
    char out[256];
    size_t len = wa_log_escape (in, out, sizeof out);
    assert_string_equal (out, expected);
    assert_int_equal (len, strlen (expected));
}

static void
test_log_escape (void **state)
{
    (void) state;
    s_escaped ("login: 'admin' from 127.0.0.1", "login: 'admin' from 127.0.0.1");
    s_escaped ("a\nb", "a\\nb");
    s_escaped ("a\r\nINFO fake line", "a\\r\\nINFO fake line");
    s_escaped ("tab\there", "tab\\there");
    s_escaped ("\x1b[2Jclear", "\\x1b[2Jclear");
    s_escaped ("del\x7f", "del\\x7f");
    s_escaped ("bell\x07", "bell\\x07");
    //  UTF-8 stays, but for the C1 controls (CSI U+009B is C2 9B).
    s_escaped ("caf\xc3\xa9", "caf\xc3\xa9");
    s_escaped ("\xc2\x9b" "31m", "\\xc2\\x9b31m");
    s_escaped ("\xc2\xa0nbsp", "\xc2\xa0nbsp");
    //  Never cut inside an escape; always terminated.
    char small[5];
    assert_int_equal (wa_log_escape ("ab\ncd", small, sizeof small), 4);
    assert_string_equal (small, "ab\\n");
    assert_int_equal (wa_log_escape ("abc\ncd", small, sizeof small), 3);
    assert_string_equal (small, "abc");
    assert_int_equal (wa_log_escape ("a\x01", small, sizeof small), 1);
    assert_string_equal (small, "a");
    assert_int_equal (wa_log_escape ("x", small, 0), 0);
}

static void
s_redacted (const char *url, const char *expected)
{
    char out[WA_CONFIG_STR];
    wa_config_redact_url (url, out, sizeof out);
    assert_string_equal (out, expected);
}

static void
test_redact_url (void **state)
{
    (void) state;
    s_redacted ("https://hooks.example.com/wa", "https://hooks.example.com/wa");
    s_redacted ("https://bob:S3cret@hooks.example.com/wa", "https://bob:***@hooks.example.com/wa");
    s_redacted ("http://TOKEN123@hooks.example.com:8080/x", "http://***@hooks.example.com:8080/x");
    s_redacted ("https://u:p:q@h/", "https://u:***@h/");
    //  The last '@' of the authority ends the user information.
    s_redacted ("https://u:p@ss@h/", "https://u:***@h/");
    //  An '@' in the path or query is no credential.
    s_redacted ("https://h/path@x?to=a@b", "https://h/path@x?to=a@b");
    s_redacted ("", "");
    s_redacted ("not a url", "not a url");
}

static void
test_config_display (void **state)
{
    (void) state;
    wa_config_t config;
    char err[512], shown[WA_CONFIG_STR];
    wa_config_defaults (&config);
    assert_int_equal (wa_config_display (&config, "webhooks_secret", shown, sizeof shown), 0);
    assert_string_equal (shown, "");
    assert_int_equal (wa_config_set (&config, "webhooks_secret", "0123456789abcdef-secret", err, sizeof err), 0);
    assert_int_equal (wa_config_set (&config, "webhooks_url", "https://bob:S3cret@h.example.com/wa", err, sizeof err), 0);
    assert_int_equal (wa_config_set (&config, "db_password", "DbPassw0rd", err, sizeof err), 0);
    wa_config_display (&config, "webhooks_secret", shown, sizeof shown);
    assert_string_equal (shown, "(set)");
    wa_config_display (&config, "db_password", shown, sizeof shown);
    assert_string_equal (shown, "(set)");
    wa_config_display (&config, "webhooks_url", shown, sizeof shown);
    assert_string_equal (shown, "https://bob:***@h.example.com/wa");
    wa_config_display (&config, "heartbeat_interval", shown, sizeof shown);
    assert_string_equal (shown, "5");
    assert_true (wa_config_is_secret ("webhooks_secret"));
    assert_true (wa_config_is_secret ("webhooks_url"));
    assert_false (wa_config_is_secret ("heartbeat_interval"));
    assert_int_equal (wa_config_display (&config, "no_such_key", shown, sizeof shown), -1);
    //  -n: nothing secret is printed.
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    wa_config_print (&config, out);
    fclose (out);
    assert_null (strstr (text, "S3cret"));
    assert_null (strstr (text, "0123456789abcdef"));
    assert_null (strstr (text, "DbPassw0rd"));
    assert_non_null (strstr (text, "webhooks_secret = (set)\n"));
    free (text);
    //  A refused secret is not quoted in the error.
    assert_int_equal (wa_config_set (&config, "webhooks_secret", "short-secret", err, sizeof err), -1);
    assert_null (strstr (err, "short-secret"));
    assert_non_null (strstr (err, "16 to 255"));
    assert_int_equal (wa_config_set (&config, "webhooks_url", "ftp://bob:S3cret@h/", err, sizeof err), 0);
    assert_int_equal (wa_config_check (&config, err, sizeof err), -1);
    assert_null (strstr (err, "S3cret"));
    //  A client certificate needs its key.
    wa_config_defaults (&config);
    assert_int_equal (wa_config_set (&config, "db_tls_cert", "/etc/c.pem", err, sizeof err), 0);
    assert_int_equal (wa_config_check (&config, err, sizeof err), -1);
    assert_int_equal (wa_config_set (&config, "db_tls_key", "/etc/k.pem", err, sizeof err), 0);
    assert_int_equal (wa_config_check (&config, err, sizeof err), 0);
}

static void
test_broadcast_withholds_secrets (void **state)
{
    (void) state;
    wa_config_t config, defaults, again;
    char err[512], json[2048], changes[1024];
    wa_config_defaults (&config);
    wa_config_defaults (&defaults);
    //  Nothing secret: every setting travels, and is taken whole.
    assert_int_equal (wa_config_set (&config, "webhooks_url", "https://h.example.com/wa", err, sizeof err), 0);
    assert_int_equal (wa_settings_to_json (&config, json, sizeof json), 0);
    assert_int_equal (wa_settings_from_json (json, &defaults, &again, err, sizeof err), 0);
    assert_string_equal (again.webhooks_url, "https://h.example.com/wa");
    //  A secret and a URL with credentials stay off the bus; the reader
    //  keeps its own and is told to read the table.
    assert_int_equal (wa_config_set (&config, "webhooks_secret", "0123456789abcdef-secret", err, sizeof err), 0);
    assert_int_equal (wa_config_set (&config, "webhooks_url", "https://bob:S3cret@h.example.com/wa", err, sizeof err), 0);
    assert_int_equal (wa_config_set (&config, "heartbeat_interval", "1", err, sizeof err), 0);
    assert_int_equal (wa_settings_to_json (&config, json, sizeof json), 0);
    assert_null (strstr (json, "S3cret"));
    assert_null (strstr (json, "0123456789abcdef"));
    assert_null (strstr (json, "webhooks_secret"));
    assert_int_equal (wa_settings_from_json (json, &defaults, &again, err, sizeof err), 1);
    assert_true (again.heartbeat_interval == 1);
    assert_string_equal (again.webhooks_url, "");
    assert_string_equal (again.webhooks_secret, "");
    //  The change log shows what may be shown.
    assert_int_equal (wa_settings_changes (&defaults, &config, "test", changes, sizeof changes), 3);
    assert_null (strstr (changes, "S3cret"));
    assert_null (strstr (changes, "0123456789abcdef"));
    assert_non_null (strstr (changes, "webhooks_url=https://bob:***@h.example.com/wa"));
    assert_non_null (strstr (changes, "webhooks_secret=(set)"));
}

static void
test_webhook_signature (void **state)
{
    (void) state;
    //  GitHub's example (docs: "Validating webhook deliveries").
    char signature[WEBHOOK_SIGNATURE_LEN + 1];
    const char *body = "Hello, World!";
    webhook_signature ("It's a Secret to Everybody", body, strlen (body), signature);
    assert_string_equal (signature, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    assert_int_equal (strlen (signature), WEBHOOK_SIGNATURE_LEN);
    //  RFC 4231, test case 2.
    webhook_signature ("Jefe", "what do ya want for nothing?", 28, signature);
    assert_string_equal (signature, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_client_addresses (void **state)
{
    (void) state;
    assert_true (auth_address_loopback ("127.0.0.1"));
    assert_true (auth_address_loopback ("127.0.0.2"));
    assert_true (auth_address_loopback ("127.255.255.254"));
    assert_true (auth_address_loopback ("::1"));
    assert_true (auth_address_loopback ("::ffff:127.0.0.1"));
    assert_false (auth_address_loopback ("128.0.0.1"));
    assert_false (auth_address_loopback ("10.0.0.1"));
    assert_false (auth_address_loopback ("192.0.2.2"));
    assert_false (auth_address_loopback ("::ffff:10.0.0.1"));
    assert_false (auth_address_loopback ("fe80::1"));
    assert_false (auth_address_loopback (""));
    assert_false (auth_address_loopback ("localhost"));
    char key[64];
    auth_address_key ("192.0.2.7", key, sizeof key);
    assert_string_equal (key, "192.0.2.7");
    auth_address_key ("::ffff:192.0.2.7", key, sizeof key);
    assert_string_equal (key, "192.0.2.7");
    //  One host of an IPv6 network holds its whole /64.
    auth_address_key ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", key, sizeof key);
    assert_string_equal (key, "2001:db8:1:2::/64");
    auth_address_key ("2001:db8:1:2::9", key, sizeof key);
    assert_string_equal (key, "2001:db8:1:2::/64");
    auth_address_key ("::1", key, sizeof key);
    assert_string_equal (key, "::/64");
    auth_address_key ("unix", key, sizeof key);
    assert_string_equal (key, "unix");
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_log_escape),
        cmocka_unit_test (test_redact_url),
        cmocka_unit_test (test_config_display),
        cmocka_unit_test (test_broadcast_withholds_secrets),
        cmocka_unit_test (test_webhook_signature),
        cmocka_unit_test (test_client_addresses),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
