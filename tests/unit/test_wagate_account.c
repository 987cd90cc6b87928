/*  The account's shared checks (src/common/account_checks.c: what the Webapp, the
    Master, the Coreapp and wagate refuse, and with which code) and
    wagate's account (src/wagate/registration.c: the registration's states and
    codes, the contact rule), without sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "wa_account.h"
#include "wa_log.h"
#include "registration.h"

#define CERT "QWNtZSBTaG9w"         //  base64 of "Acme Shop"

static int
t_register (const char *json, wa_registration_t *reg, char *why)
{
    json_t *root = json_loads (json, 0, NULL);
    int code = wa_account_register_check (root, reg, why, 300);
    json_decref (root);
    return code;
}

static void
test_register_checks (void **state)
{
    (void) state;
    wa_registration_t reg;
    char why[300];
    assert_int_equal (t_register ("{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"voice\",\"cert\":\"" CERT
                                  "\",\"pin\":\"012345\"}", &reg, why), 0);
    assert_string_equal (reg.cc, "1");
    assert_string_equal (reg.phone_number, "6315551234");
    assert_string_equal (reg.method, "voice");
    assert_string_equal (reg.vname, "Acme Shop");
    assert_string_equal (reg.pin, "012345");
    static const struct { const char *json; int code; const char *why; } bad[] = {
        { "[]", 1009, "JSON object" },
        { "{}", 1008, "'cc' is missing" },
        { "{\"cc\":null}", 1008, "'cc' is missing" },
        { "{\"cc\":44}", 1009, "'cc' must be a string" },
        { "{\"cc\":\"\"}", 1009, "'cc' must be a country" },
        { "{\"cc\":\"1234\"}", 1009, "'cc' must be a country" },
        { "{\"cc\":\"01\"}", 1009, "'cc' must be a country" },
        { "{\"cc\":\"1\"}", 1008, "'phone_number' is missing" },
        { "{\"cc\":\"1\",\"phone_number\":\"631-555\"}", 1009, "'phone_number' must be" },
        { "{\"cc\":\"44\",\"phone_number\":\"12345678901234\"}", 1009, "at most 15" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\"}", 1008, "'method' is missing" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"SMS\"}", 1009, "'method' must be" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\"}", 1008, "'cert' is missing" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"QWNtZ\"}", 1009, "'cert'" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"AQI=\"}", 1009, "'cert'" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"\"}", 1009, "'cert'" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"" CERT "\",\"pin\":123456}", 1009,
          "'pin' must be" },
        { "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"" CERT "\",\"pin\":\"1234567\"}",
          1009, "'pin' must be" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int code = t_register (bad[i].json, &reg, why);
        if (code != bad[i].code || !strstr (why, bad[i].why))
            fail_msg ("%s: %d '%s', expected %d '%s'", bad[i].json, code, why, bad[i].code, bad[i].why);
    }
    //  A name of 65 bytes is no certificate; 64 is.
    char name[66], cert[100], vname[80];
    memset (name, 'n', 65);
    name[65] = 0;
    sodium_bin2base64 (cert, sizeof cert, (unsigned char *) name, 65, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal (wa_account_cert_vname (cert, vname, sizeof vname), -1);
    sodium_bin2base64 (cert, sizeof cert, (unsigned char *) name, 64, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal (wa_account_cert_vname (cert, vname, sizeof vname), 0);
    assert_int_equal (strlen (vname), 64);
    //  Not UTF-8.
    sodium_bin2base64 (cert, sizeof cert, (unsigned char *) "\xff\xfe", 2, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal (wa_account_cert_vname (cert, vname, sizeof vname), -1);
}

static void
test_verify_and_shards_checks (void **state)
{
    (void) state;
    char code[WA_ACCOUNT_CODE_LEN + 1], why[300];
    static const struct { const char *json; int code; const char *digits; } cases[] = {
        { "{\"code\":\"123456\"}", 0, "123456" },
        { "{\"code\":\"123-456\"}", 0, "123456" },
        { "{}", 1008, "" },
        { "{\"code\":123456}", 1009, "" },
        { "{\"code\":\"12345\"}", 1009, "" },
        { "{\"code\":\"1234567\"}", 1009, "" },
        { "{\"code\":\"12-3456\"}", 1009, "" },
        { "{\"code\":\"12345a\"}", 1009, "" },
        { "{\"code\":\"123 456\"}", 1009, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *root = json_loads (cases[i].json, 0, NULL);
        int rc = wa_account_verify_check (root, code, why, sizeof why);
        json_decref (root);
        if (rc != cases[i].code || (rc == 0 && strcmp (code, cases[i].digits)))
            fail_msg ("%s: %d '%s'", cases[i].json, rc, rc ? why : code);
    }
    wa_shards_request_t shards;
    json_t *root = json_loads ("{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"shards\":32}", 0, NULL);
    assert_int_equal (wa_account_shards_check (root, &shards, why, sizeof why), 0);
    assert_int_equal (shards.shards, 32);
    json_decref (root);
    const char *bad[] = { "0", "3", "64", "-2", "2.0", "\"2\"", "true" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[200];
        snprintf (json, sizeof json, "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"shards\":%s}", bad[i]);
        root = json_loads (json, 0, NULL);
        assert_int_equal (wa_account_shards_check (root, &shards, why, sizeof why), 1009);
        json_decref (root);
    }
}

static void
test_contacts_checks (void **state)
{
    (void) state;
    wa_contacts_t contacts;
    char why[300];
    json_t *root = json_loads ("{\"blocking\":\"wait\",\"contacts\":[\"+1 (631) 555-1234\",\"16315550009\"],"
                               "\"force_check\":true}", 0, NULL);
    assert_int_equal (wa_contacts_check (root, &contacts, why, sizeof why), 0);
    assert_true (contacts.wait);
    assert_true (contacts.force_check);
    assert_int_equal (contacts.count, 2);
    assert_string_equal (contacts.contacts[0], "+1 (631) 555-1234");
    json_decref (root);
    static const struct { const char *json; int code; const char *why; } bad[] = {
        { "{}", 1008, "'contacts' is missing" },
        { "{\"contacts\":[]}", 1009, "1 to 100" },
        { "{\"contacts\":{}}", 1009, "must be an array" },
        { "{\"contacts\":[\"1\",2]}", 1009, "'contacts[1]' must be a string" },
        { "{\"contacts\":[\"abc\"]}", 1009, "'contacts[0]' must be a phone number" },
        { "{\"contacts\":[\"\"]}", 1009, "'contacts[0]' must be a phone number" },
        { "{\"contacts\":[\"123456789012345678901234567890123\"]}", 1009, "'contacts[0]'" },
        { "{\"contacts\":[\"1\\u00002\"]}", 1009, "'contacts[0]'" },
        { "{\"contacts\":[\"1\"],\"blocking\":\"now\"}", 1009, "'blocking'" },
        { "{\"contacts\":[\"1\"],\"force_check\":1}", 1009, "'force_check'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        root = json_loads (bad[i].json, JSON_ALLOW_NUL, NULL);
        assert_non_null (root);
        int code = wa_contacts_check (root, &contacts, why, sizeof why);
        json_decref (root);
        if (code != bad[i].code || !strstr (why, bad[i].why))
            fail_msg ("%s: %d '%s', expected %d '%s'", bad[i].json, code, why, bad[i].code, bad[i].why);
    }
    //  101 contacts.
    json_t *many = json_array ();
    for (int i = 0; i <= WA_CONTACTS_MAX; i++)
        json_array_append_new (many, json_string ("1631"));
    root = json_pack ("{s:o}", "contacts", many);
    assert_int_equal (wa_contacts_check (root, &contacts, why, sizeof why), 1009);
    json_decref (root);
    char digits[WA_CONTACT_DIGITS_MAX + 1];
    assert_int_equal (wa_contact_digits ("+1 (631) 555-1234", digits), 0);
    assert_string_equal (digits, "16315551234");
    assert_int_equal (wa_contact_digits ("1+631", digits), -1);
    assert_int_equal (wa_contact_digits ("+", digits), -1);
    assert_int_equal (wa_contact_digits ("123456789012345678901", digits), -1);
}

static json_t *
s_control (account_t *account, const char *json, int *status)
{
    json_t *request = json_loads (json, 0, NULL);
    json_t *reply = NULL;
    assert_true (account_control (account, json_string_value (json_object_get (request, "op")), request, status,
                                  &reply));
    json_decref (request);
    assert_non_null (reply);
    return reply;
}

static const char *
s_error_of (json_t *reply)
{
    return json_string_value (json_object_get (reply, "error"));
}

#define REGISTER "{\"op\":\"register\",\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"" CERT "\""

static void
test_registration (void **state)
{
    (void) state;
    account_t *account = account_new (false, "9");
    int status = 0;
    assert_false (account_registered (account));
    json_t *reply = s_control (account, "{\"op\":\"registration\"}", &status);
    assert_int_equal (status, 200);
    assert_string_equal (json_string_value (json_object_get (reply, "state")), "unregistered");
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"code\"}", &status);
    assert_int_equal (status, 404);
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"verify\",\"code\":\"123456\"}", &status);
    assert_int_equal (status, 400);
    assert_non_null (strstr (s_error_of (reply), "no registration is under way"));
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"register\",\"cc\":\"1\"}", &status);
    assert_int_equal (status, 400);
    json_decref (reply);

    //  A code; the id is echoed; the same number again keeps the code.
    reply = s_control (account, REGISTER ",\"id\":7}", &status);
    assert_int_equal (status, 202);
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (reply, "account"), 0),
                                                             "vname")), "Acme Shop");
    assert_int_equal (json_integer_value (json_object_get (reply, "id")), 7);
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"code\"}", &status);
    assert_int_equal (status, 200);
    char code[8];
    snprintf (code, sizeof code, "%s", json_string_value (json_object_get (reply, "code")));
    json_decref (reply);
    assert_int_equal (strlen (code), 6);
    reply = s_control (account, REGISTER "}", &status);
    assert_int_equal (status, 202);
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"code\"}", &status);
    assert_string_equal (json_string_value (json_object_get (reply, "code")), code);
    json_decref (reply);

    //  A wrong code, then the right one.
    char wrong[8], json[100];
    snprintf (wrong, sizeof wrong, "%06d", (atoi (code) + 1) % 1000000);
    snprintf (json, sizeof json, "{\"op\":\"verify\",\"code\":\"%s\"}", wrong);
    reply = s_control (account, json, &status);
    assert_int_equal (status, 400);
    assert_string_equal (s_error_of (reply), "the code is wrong");
    json_decref (reply);
    assert_false (account_registered (account));
    snprintf (json, sizeof json, "{\"op\":\"verify\",\"code\":\"%s\"}", code);
    reply = s_control (account, json, &status);
    assert_int_equal (status, 201);
    json_decref (reply);
    assert_true (account_registered (account));

    //  Registered: the same verify and register again are 201; others 400.
    reply = s_control (account, json, &status);
    assert_int_equal (status, 201);
    json_decref (reply);
    reply = s_control (account, REGISTER "}", &status);
    assert_int_equal (status, 201);
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"register\",\"cc\":\"44\",\"phone_number\":\"2079460018\",\"method\":\"sms\","
                                "\"cert\":\"" CERT "\"}", &status);
    assert_int_equal (status, 400);
    assert_non_null (strstr (s_error_of (reply), "registered as +1 6315551234"));
    json_decref (reply);
    snprintf (json, sizeof json, "{\"op\":\"verify\",\"code\":\"%s\"}", wrong);
    reply = s_control (account, json, &status);
    assert_int_equal (status, 400);
    json_decref (reply);
    reply = s_control (account, "{\"op\":\"registration\"}", &status);
    assert_string_equal (json_string_value (json_object_get (reply, "state")), "registered");
    assert_string_equal (json_string_value (json_object_get (reply, "phone_number")), "6315551234");
    json_decref (reply);
    json_t *request = json_pack ("{s:s}", "op", "inject");
    json_t *none = NULL;
    assert_false (account_control (account, "inject", request, &status, &none));
    assert_null (none);
    json_decref (request);
    account_destroy (&account);
    assert_null (account);
}

static void
test_wrong_codes_void_the_code (void **state)
{
    (void) state;
    account_t *account = account_new (false, "");
    int status;
    json_decref (s_control (account, REGISTER "}", &status));
    assert_int_equal (status, 202);
    //  The code sent, as `wagate code` reads it.
    json_t *sent = s_control (account, "{\"op\":\"code\"}", &status);
    assert_int_equal (status, 200);
    int code = atoi (json_string_value (json_object_get (sent, "code")));
    json_decref (sent);
    for (int i = 1; i <= ACCOUNT_VERIFY_TRIES; i++) {
        //  Codes other than the one sent.
        char json[100];
        snprintf (json, sizeof json, "{\"op\":\"verify\",\"code\":\"%06d\"}", (code + i) % 1000000);
        json_t *reply = s_control (account, json, &status);
        assert_int_equal (status, 400);
        if (i == ACCOUNT_VERIFY_TRIES)
            assert_non_null (strstr (s_error_of (reply), "for the last time"));
        json_decref (reply);
    }
    json_t *reply = s_control (account, "{\"op\":\"code\"}", &status);
    assert_int_equal (status, 404);
    json_decref (reply);
    account_destroy (&account);
}

static void
test_registered_from_the_start (void **state)
{
    (void) state;
    account_t *account = account_new (true, "9");
    assert_true (account_registered (account));
    int status;
    //  Any number is taken, and learnt.
    json_decref (s_control (account, REGISTER "}", &status));
    assert_int_equal (status, 201);
    json_t *reply = s_control (account, "{\"op\":\"registration\"}", &status);
    assert_string_equal (json_string_value (json_object_get (reply, "cc")), "1");
    json_decref (reply);
    account_destroy (&account);
}

static void
test_contacts_rule (void **state)
{
    (void) state;
    account_t *account = account_new (true, "90");
    char why[200];
    const char *request = "{\"contacts\":[\"+1 (631) 555-1234\",\"16315550009\",\"16315550000\",\"1+2\",\"x\"]}";
    char *answer = account_contacts (account, request, strlen (request), why, sizeof why);
    assert_non_null (answer);
    assert_string_equal (answer, "{\"contacts\":[{\"input\":\"+1 (631) 555-1234\",\"status\":\"valid\",\"wa_id\":\"16315551234\"},"
                                 "{\"input\":\"16315550009\",\"status\":\"invalid\"},"
                                 "{\"input\":\"16315550000\",\"status\":\"invalid\"},"
                                 "{\"input\":\"1+2\",\"status\":\"invalid\"},{\"input\":\"x\",\"status\":\"invalid\"}]}");
    free (answer);
    const char *bad[] = { "", "[]", "{}", "{\"contacts\":5}", "{\"contacts\":[1]}",
                          "{\"contacts\":[\"123456789012345678901234567890123\"]}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null (account_contacts (account, bad[i], strlen (bad[i]), why, sizeof why));
    account_destroy (&account);
}

//  Identity keys: stable per contact (the same in every run), another per
//  contact, a new one after a rotation, none for an invalid contact.
static void
test_identity (void **state)
{
    (void) state;
    account_t *account = account_new (true, "9");
    char why[200];
    const char *ask = "{\"identity\":\"16315551234\"}";
    char *first = account_contacts (account, ask, strlen (ask), why, sizeof why);
    assert_non_null (first);
    assert_non_null (strstr (first, "\"created_timestamp\":1600000000000"));
    account_t *other_run = account_new (true, "9");
    char *again = account_contacts (other_run, ask, strlen (ask), why, sizeof why);
    assert_string_equal (first, again);
    free (again);
    account_destroy (&other_run);
    const char *ask2 = "{\"identity\":\"16315551235\"}";
    char *second = account_contacts (account, ask2, strlen (ask2), why, sizeof why);
    json_t *a = json_loads (first, 0, NULL), *b = json_loads (second, 0, NULL);
    const char *hash = json_string_value (json_object_get (json_object_get (a, "identity"), "hash"));
    assert_int_equal (strlen (hash), 12);
    assert_string_not_equal (hash, json_string_value (json_object_get (json_object_get (b, "identity"), "hash")));
    json_t *rotate = json_pack ("{s:s, s:s}", "op", "rotate_identity", "wa_id", "16315551234"), *reply = NULL;
    int status = 0;
    assert_true (account_control (account, "rotate_identity", rotate, &status, &reply));
    assert_int_equal (status, 200);
    assert_string_not_equal (json_string_value (json_object_get (reply, "hash")), hash);
    json_decref (reply);
    char *rotated = account_contacts (account, ask, strlen (ask), why, sizeof why);
    assert_string_not_equal (rotated, first);
    free (rotated);
    json_object_set_new (rotate, "wa_id", json_string ("16315551239"));
    assert_true (account_control (account, "rotate_identity", rotate, &status, &reply));
    assert_int_equal (status, 400);
    json_decref (reply);
    json_decref (rotate);
    const char *invalid = "{\"identity\":\"16315551239\"}";
    char *none = account_contacts (account, invalid, strlen (invalid), why, sizeof why);
    assert_non_null (strstr (none, "\"error\""));
    free (none);
    json_decref (a);
    json_decref (b);
    free (first);
    free (second);
    account_destroy (&account);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_register_checks),
        cmocka_unit_test (test_verify_and_shards_checks),
        cmocka_unit_test (test_contacts_checks),
        cmocka_unit_test (test_registration),
        cmocka_unit_test (test_wrong_codes_void_the_code),
        cmocka_unit_test (test_registered_from_the_start),
        cmocka_unit_test (test_contacts_rule),
        cmocka_unit_test (test_identity),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
