/*  Unit tests for the account-wide state's checks and the backup's seal
    (src/common/account_state.c): each field refused with its name and
    code, the profile merged over what is stored, and a sealed backup that
    opens only with its password and whole: a byte changed anywhere, a cut,
    or another password, and it does not open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wa_account_state.h"
#include "wa_errors.h"

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *root = json_loads (text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    if (!root)
        fail_msg ("bad test JSON: %s: %s", text, error.text);
    return root;
}

//  The code the profile check gives text, and why contains expect.
static void
s_profile_refused (const char *text, int code, const char *expect)
{
    json_t *input = s_json (text), *merged = NULL;
    char why[400] = "";
    assert_int_equal (wa_state_profile_check (input, NULL, &merged, why, sizeof why), code);
    assert_null (merged);
    if (!strstr (why, expect))
        fail_msg ("'%s' does not say '%s'", why, expect);
    json_decref (input);
}

static void
test_profile_refusals (void **state)
{
    (void) state;
    s_profile_refused ("[1]", WA_ERR_INVALID, "JSON object");
    s_profile_refused ("{}", WA_ERR_MISSING, "at least one");
    s_profile_refused ("{\"adress\":\"x\"}", WA_ERR_INVALID, "'adress'");
    s_profile_refused ("{\"address\":5}", WA_ERR_INVALID, "'address' must be a string");
    s_profile_refused ("{\"email\":\"not-an-email\"}", WA_ERR_INVALID, "'email'");
    s_profile_refused ("{\"vertical\":\"Plumbing\"}", WA_ERR_INVALID, "'vertical' must be one of");
    s_profile_refused ("{\"websites\":\"https://a.example\"}", WA_ERR_INVALID, "'websites' must be an array");
    s_profile_refused ("{\"websites\":[\"https://a.example\",\"https://b.example\",\"https://c.example\"]}",
                       WA_ERR_INVALID, "at most 2");
    s_profile_refused ("{\"websites\":[\"ftp://a.example\"]}", WA_ERR_INVALID, "'websites[0]'");
    s_profile_refused ("{\"websites\":[1]}", WA_ERR_INVALID, "'websites[0]' must be a string");
    s_profile_refused ("{\"address\":\"a\\u0000b\"}", WA_ERR_INVALID, "NUL");
    s_profile_refused ("{\"email\":\"a\\u0001@b.c\"}", WA_ERR_INVALID, "control");
    //  Lengths in characters: 256 of "é" (512 bytes) pass, 257 do not.
    char text[2000];
    size_t used = (size_t) snprintf (text, sizeof text, "{\"address\":\"");
    for (int i = 0; i < 257; i++)
        used += (size_t) snprintf (text + used, sizeof text - used, "\xc3\xa9");
    snprintf (text + used, sizeof text - used, "\"}");
    s_profile_refused (text, WA_ERR_INVALID, "at most 256 characters");
    char accents[600] = "";
    for (int i = 0; i < 256; i++)
        strcat (accents, "\xc3\xa9");
    json_t *ok = json_pack ("{s:s}", "address", accents);
    json_t *merged = NULL;
    char why[400];
    assert_int_equal (wa_state_profile_check (ok, NULL, &merged, why, sizeof why), 0);
    json_decref (merged);
    json_decref (ok);
}

static void
test_profile_merge (void **state)
{
    (void) state;
    json_t *current = s_json ("{\"address\":\"1 Main St\",\"description\":\"d\",\"email\":\"a@b.example\","
                              "\"vertical\":\"Education\",\"websites\":[\"https://a.example\"]}");
    json_t *input = s_json ("{\"email\":\"new@b.example\",\"websites\":[]}");
    json_t *merged = NULL;
    char why[400];
    assert_int_equal (wa_state_profile_check (input, current, &merged, why, sizeof why), 0);
    assert_string_equal (json_string_value (json_object_get (merged, "address")), "1 Main St");
    assert_string_equal (json_string_value (json_object_get (merged, "email")), "new@b.example");
    assert_int_equal (json_array_size (json_object_get (merged, "websites")), 0);
    assert_int_equal (wa_state_value_check (WA_STATE_PROFILE, merged, why, sizeof why), 0);
    json_decref (merged);
    json_decref (input);
    //  The vertical, once set, cannot go back to empty.
    input = s_json ("{\"vertical\":\"\"}");
    assert_int_equal (wa_state_profile_check (input, current, &merged, why, sizeof why), WA_ERR_INVALID);
    assert_non_null (strstr (why, "'vertical' cannot be set back"));
    json_decref (input);
    json_decref (current);
    //  A stored value must be whole.
    json_t *partial = s_json ("{\"address\":\"x\"}");
    assert_int_equal (wa_state_value_check (WA_STATE_PROFILE, partial, why, sizeof why), WA_ERR_INVALID);
    json_decref (partial);
}

static void
test_compliance (void **state)
{
    (void) state;
    const char *good = "{\"entity_name\":\"Acme\",\"entity_type\":\"PRIVATE_COMPANY\",\"is_registered\":true,"
                       "\"entity_registration_number\":\"U1234\",\"grievance_officer_details\":{\"name\":\"Ana\","
                       "\"email\":\"ana@acme.example\",\"mobile_number\":\"+919876543210\"},"
                       "\"customer_care_details\":{\"email\":\"care@acme.example\",\"landline_number\":\"+9122334455\"}}";
    json_t *input = s_json (good), *value = NULL;
    char why[400];
    assert_int_equal (wa_state_compliance_check (input, &value, why, sizeof why), 0);
    assert_string_equal (json_string_value (json_object_get (value, "entity_type_custom")), "");
    assert_int_equal (wa_state_value_check (WA_STATE_COMPLIANCE, value, why, sizeof why), 0);
    json_decref (value);
    json_decref (input);
    const struct { const char *text; int code; const char *says; } bad[] = {
        { "{\"entity_type\":\"OTHER\"}", WA_ERR_MISSING, "'entity_name' is missing" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"LLC\"}", WA_ERR_INVALID, "'entity_type' must be one of" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"OTHER\"}", WA_ERR_MISSING, "'entity_type_custom' is missing" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"is_registered\":true}", WA_ERR_MISSING,
          "'entity_registration_number' is missing" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\"}", WA_ERR_MISSING,
          "'grievance_officer_details' is missing" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"grievance_officer_details\":{\"name\":\"B\","
          "\"email\":\"b@c.example\"}}", WA_ERR_MISSING, "needs 'landline_number' or 'mobile_number'" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"grievance_officer_details\":{\"name\":\"B\","
          "\"email\":\"b@c.example\",\"mobile_number\":\"12345\"}}", WA_ERR_INVALID,
          "'grievance_officer_details.mobile_number'" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"grievance_officer_details\":{\"name\":\"B\","
          "\"email\":\"b@c.example\",\"mobile_number\":\"+123456789\",\"fax\":\"1\"}}", WA_ERR_INVALID,
          "'grievance_officer_details.fax'" },
        //  Found by fuzz_account_state: "" was read past its NUL (ASan).
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"grievance_officer_details\":{\"name\":\"B\","
          "\"email\":\"b@c.example\",\"mobile_number\":\"\"}}", WA_ERR_INVALID,
          "'grievance_officer_details.mobile_number'" },
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"grievance_officer_details\":{\"name\":\"B\","
          "\"email\":\"b@c.example\",\"landline_number\":\"\"}}", WA_ERR_INVALID,
          "'grievance_officer_details.landline_number'" },
        //  Found by fuzz_account_state: null was taken and stored as null.
        { "{\"entity_name\":\"A\",\"entity_type\":\"PARTNERSHIP\",\"is_registered\":null}", WA_ERR_INVALID,
          "'is_registered' must be true or false" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        input = s_json (bad[i].text);
        assert_int_equal (wa_state_compliance_check (input, &value, why, sizeof why), bad[i].code);
        assert_null (value);
        if (!strstr (why, bad[i].says))
            fail_msg ("case %zu: '%s' does not say '%s'", i, why, bad[i].says);
        json_decref (input);
    }
}

static void
test_about_pin_photo (void **state)
{
    (void) state;
    json_t *value = NULL, *input = s_json ("{\"text\":\"Open 9 to 5\"}");
    char why[400], pin[7];
    assert_int_equal (wa_state_about_check (input, &value, why, sizeof why), 0);
    assert_int_equal (wa_state_value_check (WA_STATE_ABOUT, value, why, sizeof why), 0);
    json_decref (value);
    json_decref (input);
    char long_text[200];
    memset (long_text, 'a', 140);
    long_text[140] = 0;
    input = json_pack ("{s:s}", "text", long_text);
    assert_int_equal (wa_state_about_check (input, &value, why, sizeof why), WA_ERR_INVALID);
    assert_non_null (strstr (why, "at most 139"));
    json_decref (input);
    input = s_json ("{}");
    assert_int_equal (wa_state_about_check (input, &value, why, sizeof why), WA_ERR_MISSING);
    json_decref (input);

    input = s_json ("{\"pin\":\"012345\"}");
    assert_int_equal (wa_state_pin_check (input, pin, why, sizeof why), 0);
    assert_string_equal (pin, "012345");
    json_decref (input);
    const char *bad_pins[] = { "{\"pin\":\"12345\"}", "{\"pin\":\"1234567\"}", "{\"pin\":\"12a456\"}",
                               "{\"pin\":123456}", "{\"pin\":\"123456\",\"x\":1}" };
    for (size_t i = 0; i < sizeof bad_pins / sizeof bad_pins[0]; i++) {
        input = s_json (bad_pins[i]);
        assert_int_equal (wa_state_pin_check (input, pin, why, sizeof why), WA_ERR_INVALID);
        json_decref (input);
    }
    input = s_json ("{}");
    assert_int_equal (wa_state_pin_check (input, pin, why, sizeof why), WA_ERR_MISSING);
    json_decref (input);

    const unsigned char jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0 };
    const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0 };
    assert_string_equal (wa_photo_type (jpeg, sizeof jpeg), "image/jpeg");
    assert_string_equal (wa_photo_type (png, sizeof png), "image/png");
    assert_null (wa_photo_type ((const unsigned char *) "GIF89a", 6));
    assert_null (wa_photo_type (png, 4));
    value = s_json ("{\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
                    "\"type\":\"image/png\",\"size\":10}");
    assert_int_equal (wa_state_value_check (WA_STATE_PHOTO, value, why, sizeof why), 0);
    json_object_set_new (value, "type", json_string ("image/gif"));
    assert_int_equal (wa_state_value_check (WA_STATE_PHOTO, value, why, sizeof why), WA_ERR_INVALID);
    json_decref (value);
    value = s_json ("{\"pin_hash\":\"$argon2id$v=19$m=65536,t=2,p=1$abc$def\"}");
    assert_int_equal (wa_state_value_check (WA_STATE_TWO_STEP, value, why, sizeof why), 0);
    json_decref (value);
    value = s_json ("{\"pin_hash\":\"123456\"}");
    assert_int_equal (wa_state_value_check (WA_STATE_TWO_STEP, value, why, sizeof why), WA_ERR_INVALID);
    json_decref (value);
    assert_int_equal (wa_state_value_check ("nope", NULL, why, sizeof why), WA_ERR_INVALID);
}

static void
test_bodies (void **state)
{
    (void) state;
    json_t *body = wa_state_body (WA_STATE_PROFILE, NULL);
    char *text = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal (text, "{\"settings\":{\"business\":{\"profile\":{\"address\":\"\",\"description\":\"\","
                               "\"email\":\"\",\"vertical\":\"\",\"websites\":[]}}}}");
    free (text);
    json_decref (body);
    json_t *about = json_pack ("{s:s}", "text", "hi");
    body = wa_state_body (WA_STATE_ABOUT, about);
    text = json_dumps (body, JSON_COMPACT);
    assert_string_equal (text, "{\"settings\":{\"profile\":{\"about\":{\"text\":\"hi\"}}}}");
    free (text);
    json_decref (body);
    json_decref (about);
}

static const char *CONTENT = "{\"version\":1,\"settings\":{\"heartbeat_interval\":\"5\"},\"users\":[{\"username\":"
                             "\"admin\",\"password_hash\":\"$argon2id$v=19$x\",\"role\":\"ADMIN\",\"must_change\":"
                             "false}],\"state\":{}}";

static void
test_seal_round_trip (void **state)
{
    (void) state;
    size_t len = 0, plain_len = 0;
    char *data = wa_backup_seal ("Backup-Pass-1", CONTENT, strlen (CONTENT), &len);
    assert_non_null (data);
    assert_int_equal (strlen (data), len);
    char *plain = NULL, why[300];
    assert_int_equal (wa_backup_open ("Backup-Pass-1", data, len, &plain, &plain_len, why, sizeof why), 0);
    assert_int_equal (plain_len, strlen (CONTENT));
    assert_string_equal (plain, CONTENT);
    free (plain);
    //  Sealed twice, never the same bytes (salt and nonce are random).
    size_t len2 = 0;
    char *again = wa_backup_seal ("Backup-Pass-1", CONTENT, strlen (CONTENT), &len2);
    assert_true (len2 != len || strcmp (again, data) != 0);
    free (again);
    //  Another password.
    assert_int_equal (wa_backup_open ("Backup-Pass-2", data, len, &plain, &plain_len, why, sizeof why), -2);
    assert_null (plain);
    assert_non_null (strstr (why, "password is wrong"));
    free (data);
}

//  Every byte of the sealed form matters: one bit flipped in the header,
//  the salt, the nonce, the ciphertext or the tag, and it does not open.
static void
test_seal_tamper (void **state)
{
    (void) state;
    size_t len = 0, plain_len = 0;
    char *data = wa_backup_seal ("pw", CONTENT, strlen (CONTENT), &len);
    assert_non_null (data);
    unsigned char raw[4096];
    size_t raw_len = 0;
    assert_int_equal (sodium_base642bin (raw, sizeof raw, data, len, NULL, &raw_len, NULL,
                                         sodium_base64_VARIANT_ORIGINAL), 0);
    char why[300], *plain = NULL;
    size_t step = raw_len / 7 ? raw_len / 7 : 1;
    for (size_t at = 0; at < raw_len; at = at + step < raw_len || at == raw_len - 1 ? at + step : raw_len - 1) {
        raw[at] ^= 0x01;
        char text[8192];
        sodium_bin2base64 (text, sizeof text, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
        int rc = wa_backup_open ("pw", text, strlen (text), &plain, &plain_len, why, sizeof why);
        if (rc == 0)
            fail_msg ("a bit flipped at byte %zu of %zu still opened", at, raw_len);
        assert_null (plain);
        raw[at] ^= 0x01;
    }
    //  Cut short: by a base64 quantum (the tag then fails), or mid-quantum.
    const size_t cuts[] = { 1, 4, 16, len / 2, len - 4 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t cut = cuts[i];
        int rc = wa_backup_open ("pw", data, len - cut, &plain, &plain_len, why, sizeof why);
        assert_true (rc == -1 || rc == -2);
        assert_null (plain);
    }
    //  Not base64, empty, another format.
    assert_int_equal (wa_backup_open ("pw", "not base64!", 11, &plain, &plain_len, why, sizeof why), -1);
    assert_int_equal (wa_backup_open ("pw", "", 0, &plain, &plain_len, why, sizeof why), -1);
    assert_int_equal (wa_backup_open ("pw", "QUFBQQ==", 8, &plain, &plain_len, why, sizeof why), -1);
    free (data);
}

static void
test_content_check (void **state)
{
    (void) state;
    char why[300];
    json_t *content = s_json (CONTENT);
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), 0);
    json_object_set_new (content, "version", json_integer (2));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    json_object_set_new (content, "version", json_integer (1));
    //  No ADMIN: refused, or the restore would lock everyone out.
    json_object_set_new (json_array_get (json_object_get (content, "users"), 0), "role", json_string ("USER"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    assert_non_null (strstr (why, "no ADMIN"));
    json_object_set_new (json_array_get (json_object_get (content, "users"), 0), "role", json_string ("ADMIN"));
    json_object_set_new (json_object_get (content, "state"), "about", json_pack ("{s:i}", "text", 1));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    json_object_del (json_object_get (content, "state"), "about");
    json_object_set_new (json_object_get (content, "state"), "photo",
                         s_json ("{\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
                                 "\"type\":\"image/png\",\"size\":10}"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    assert_non_null (strstr (why, "photo"));
    json_object_set_new (content, "photo", json_pack ("{s:s, s:s}", "type", "image/png", "data", "AAAA"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), 0);
    json_object_set_new (content, "users", json_string ("x"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    json_decref (content);
}

//  The media providers a restore stores as they are: each must be what a
//  POST would have stored (found by fuzz_account_state: any three strings
//  were taken, a config that is no JSON, a bearer token with spaces, a type
//  the Webapp does not know, a name twice).
static void
test_content_providers (void **state)
{
    (void) state;
    char why[400];
    json_t *content = s_json (CONTENT);
    json_object_set_new (content, "media_providers", s_json (
        "[{\"name\":\"cdn\",\"type\":\"www\",\"config\":\"{\\\"bearer\\\":\\\"t0k\\\"}\"},"
        " {\"name\":\"files\",\"type\":\"www\","
        "\"config\":\"{\\\"basic\\\":{\\\"username\\\":\\\"u\\\",\\\"password\\\":\\\"p\\\"}}\"}]"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), 0);
    const struct { const char *provider; const char *says; } bad[] = {
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":\"not json\"}", "'media_providers[1].config' is not JSON" },
        { "{\"name\":\"x\",\"type\":\"ftp\",\"config\":\"{\\\"bearer\\\":\\\"t\\\"}\"}", "'type' must be \"www\"" },
        { "{\"name\":\"a b\",\"type\":\"www\",\"config\":\"{\\\"bearer\\\":\\\"t\\\"}\"}", "'name' may hold only" },
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":\"{\\\"bearer\\\":\\\"a b\\\"}\"}", "holds a space" },
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":\"{}\"}", "one of 'basic' and 'bearer'" },
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":\"[]\"}", "must be an object" },
        { "{\"name\":\"cdn\",\"type\":\"www\",\"config\":\"{\\\"bearer\\\":\\\"t\\\"}\"}", "'cdn' twice" },
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":\"{\\\"bearer\\\":\\\"t\\\"}\",\"extra\":1}", "is not a provider" },
        { "{\"name\":\"x\",\"type\":\"www\",\"config\":{\"bearer\":\"t\"}}", "must be a provider" },
        { "\"cdn\"", "is not a provider" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *providers = json_array ();
        json_array_append_new (providers, s_json ("{\"name\":\"cdn\",\"type\":\"www\","
                                                  "\"config\":\"{\\\"bearer\\\":\\\"t0k\\\"}\"}"));
        json_array_append_new (providers, json_loads (bad[i].provider, JSON_DECODE_ANY, NULL));
        json_object_set_new (content, "media_providers", providers);
        assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
        if (!strstr (why, bad[i].says))
            fail_msg ("case %zu: '%s' does not say '%s'", i, why, bad[i].says);
    }
    json_object_set_new (content, "media_providers", json_string ("x"));
    assert_int_equal (wa_backup_content_check (content, why, sizeof why), WA_ERR_INVALID);
    json_decref (content);
}

typedef struct {
    char rows[4][8200];
    int count;
} rows_t;

static int
s_keep_row (void *arg, int64_t seq, const char *data)
{
    rows_t *rows = arg;
    assert_int_equal (seq, rows->count);
    snprintf (rows->rows[rows->count++], sizeof rows->rows[0], "%s", data);
    return 0;
}

//  A blob's rows as stored, read back whole; a row missing, out of order,
//  with another size, or a size past WA_BLOB_MAX (never allocated) is not.
static void
test_blob_rows (void **state)
{
    (void) state;
    size_t size = WA_BLOB_CHUNK * 2 + 10;
    unsigned char *bytes = malloc (size), *back = NULL;
    for (size_t i = 0; i < size; i++)
        bytes[i] = (unsigned char) (i * 7);
    static rows_t rows;
    rows.count = 0;
    assert_int_equal (wa_blob_chunks (bytes, size, s_keep_row, &rows), 0);
    assert_int_equal (rows.count, 3);
    char sha[65], type[64];
    wa_sha256_hex (bytes, size, sha);
    size_t len = 0;
    wa_blob_reader_t reader = { 0 };
    for (int i = 0; i < 3; i++)
        assert_int_equal (wa_blob_reader_row (&reader, i, "image/png", (int64_t) size, rows.rows[i]), 0);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, type, sizeof type), 0);
    assert_int_equal (len, size);
    assert_memory_equal (back, bytes, size);
    assert_string_equal (type, "image/png");
    free (back);
    //  Row 1 missing, then rows out of order, then another size.
    assert_int_equal (wa_blob_reader_row (&reader, 0, "image/png", (int64_t) size, rows.rows[0]), 0);
    assert_int_equal (wa_blob_reader_row (&reader, 2, "image/png", (int64_t) size, rows.rows[2]), 1);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, type, sizeof type), 1);
    assert_null (back);
    assert_int_equal (wa_blob_reader_row (&reader, 0, "image/png", (int64_t) size, rows.rows[0]), 0);
    assert_int_equal (wa_blob_reader_row (&reader, 1, "image/png", (int64_t) size + 1, rows.rows[1]), 1);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, type, sizeof type), 1);
    //  A damaged size is refused before anything is allocated for it.
    assert_int_equal (wa_blob_reader_row (&reader, 0, "x", (int64_t) WA_BLOB_MAX + 1, "AAAA"), 1);
    assert_null (reader.bytes);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, NULL, 0), 1);
    assert_int_equal (wa_blob_reader_row (&reader, 0, "x", INT64_MAX, "AAAA"), 1);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, NULL, 0), 1);
    //  No bytes: one row, read back as none.
    rows.count = 0;
    assert_int_equal (wa_blob_chunks (bytes, 0, s_keep_row, &rows), 0);
    assert_int_equal (rows.count, 1);
    wa_sha256_hex (bytes, 0, sha);
    assert_int_equal (wa_blob_reader_row (&reader, 0, "image/png", 0, rows.rows[0]), 0);
    assert_int_equal (wa_blob_reader_end (&reader, sha, &back, &len, NULL, 0), 0);
    assert_int_equal (len, 0);
    free (back);
    free (bytes);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_profile_refusals),
        cmocka_unit_test (test_profile_merge),
        cmocka_unit_test (test_compliance),
        cmocka_unit_test (test_about_pin_photo),
        cmocka_unit_test (test_bodies),
        cmocka_unit_test (test_seal_round_trip),
        cmocka_unit_test (test_seal_tamper),
        cmocka_unit_test (test_content_check),
        cmocka_unit_test (test_content_providers),
        cmocka_unit_test (test_blob_rows),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
