/*  wa_account — see wa_account.h */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "wa_account.h"
#include "wa_config.h"
#include "wa_errors.h"

static int
s_fail (char *why, size_t why_size, int code, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static int
s_fail (char *why, size_t why_size, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (why, why_size, fmt, args);
    va_end (args);
    return code;
}

static bool
s_all_digits (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    return true;
}

//  A required string field: 0 with *value, or a code (null counts as missing).
static int
s_string (const json_t *root, const char *name, const char **value, size_t *len, char *why, size_t why_size)
{
    const json_t *field = json_object_get (root, name);
    if (!field || json_is_null (field))
        return s_fail (why, why_size, WA_ERR_MISSING, "'%s' is missing", name);
    if (!json_is_string (field))
        return s_fail (why, why_size, WA_ERR_INVALID, "'%s' must be a string", name);
    *value = json_string_value (field);
    *len = json_string_length (field);
    return 0;
}

//  cc (1 to 3 digits, not starting with 0) and phone_number (digits; with
//  cc at most 15), as the original takes them.
static int
s_number (const json_t *root, char *cc, char *phone, char *why, size_t why_size)
{
    const char *value;
    size_t len;
    int code = s_string (root, "cc", &value, &len, why, why_size);
    if (code)
        return code;
    if (len == 0 || len > WA_ACCOUNT_CC_MAX || !s_all_digits (value, len) || value[0] == '0')
        return s_fail (why, why_size, WA_ERR_INVALID, "'cc' must be a country calling code: 1 to 3 digits, "
                       "not starting with 0 (\"1\" for the US)");
    memcpy (cc, value, len + 1);
    size_t cc_len = len;
    if ((code = s_string (root, "phone_number", &value, &len, why, why_size)))
        return code;
    if (len == 0 || !s_all_digits (value, len) || cc_len + len > WA_ACCOUNT_NUMBER_MAX)
        return s_fail (why, why_size, WA_ERR_INVALID, "'phone_number' must be the number without its country "
                       "code: digits only, at most %d with 'cc'", WA_ACCOUNT_NUMBER_MAX);
    memcpy (phone, value, len + 1);
    return 0;
}

//  An optional PIN: 6 digits.
static int
s_pin (const json_t *root, char *pin, char *why, size_t why_size)
{
    pin[0] = 0;
    const json_t *field = json_object_get (root, "pin");
    if (!field || json_is_null (field))
        return 0;
    if (!json_is_string (field) || json_string_length (field) != WA_ACCOUNT_PIN_LEN
    ||  !s_all_digits (json_string_value (field), WA_ACCOUNT_PIN_LEN))
        return s_fail (why, why_size, WA_ERR_INVALID, "'pin' must be the two-step verification PIN: a string of "
                       "%d digits", WA_ACCOUNT_PIN_LEN);
    memcpy (pin, json_string_value (field), WA_ACCOUNT_PIN_LEN + 1);
    return 0;
}

static int
s_object (const json_t *root, const char *example, char *why, size_t why_size)
{
    if (!json_is_object (root))
        return s_fail (why, why_size, WA_ERR_INVALID, "the body must be a JSON object: %s", example);
    return 0;
}

int
wa_account_cert_vname (const char *cert, char *vname, size_t size)
{
    size_t len = strlen (cert);
    if (len == 0 || len > WA_ACCOUNT_CERT_MAX || len % 4)
        return -1;
    unsigned char bytes[WA_ACCOUNT_CERT_MAX];
    size_t decoded = 0;
    const char *end = NULL;
    if (sodium_base642bin (bytes, sizeof bytes, cert, len, NULL, &decoded, &end,
                           sodium_base64_VARIANT_ORIGINAL) || end != cert + len)
        return -1;
    if (decoded == 0 || decoded > WA_ACCOUNT_VNAME_MAX || decoded >= size)
        return -1;
    for (size_t i = 0; i < decoded; i++)
        if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            return -1;
    //  Valid UTF-8: jansson checks it the way every answer will need it.
    json_t *text = json_stringn ((const char *) bytes, decoded);
    if (!text)
        return -1;
    json_decref (text);
    memcpy (vname, bytes, decoded);
    vname[decoded] = 0;
    return 0;
}

int
wa_account_register_check (const json_t *root, wa_registration_t *out, char *why, size_t why_size)
{
    memset (out, 0, sizeof *out);
    int code = s_object (root, "{\"cc\", \"phone_number\", \"method\", \"cert\"[, \"pin\"]}", why, why_size);
    if (code || (code = s_number (root, out->cc, out->phone_number, why, why_size)))
        return code;
    const char *value;
    size_t len;
    if ((code = s_string (root, "method", &value, &len, why, why_size)))
        return code;
    if (strcmp (value, "sms") != 0 && strcmp (value, "voice") != 0)
        return s_fail (why, why_size, WA_ERR_INVALID, "'method' must be \"sms\" or \"voice\"");
    snprintf (out->method, sizeof out->method, "%s", value);
    if ((code = s_string (root, "cert", &value, &len, why, why_size)))
        return code;
    if (len > WA_ACCOUNT_CERT_MAX || memchr (value, 0, len)
    ||  wa_account_cert_vname (value, out->vname, sizeof out->vname))
        return s_fail (why, why_size, WA_ERR_INVALID, "'cert' must be the account's certificate: base64 of its "
                       "verified name (1 to %d bytes), at most %d characters", WA_ACCOUNT_VNAME_MAX,
                       WA_ACCOUNT_CERT_MAX);
    memcpy (out->cert, value, len + 1);
    return s_pin (root, out->pin, why, why_size);
}

int
wa_account_verify_check (const json_t *root, char code_out[WA_ACCOUNT_CODE_LEN + 1], char *why, size_t why_size)
{
    code_out[0] = 0;
    int code = s_object (root, "{\"code\": \"123456\"}", why, why_size);
    const char *value;
    size_t len;
    if (code || (code = s_string (root, "code", &value, &len, why, why_size)))
        return code;
    //  The original's codes are sent as "123-456" too.
    char digits[WA_ACCOUNT_CODE_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] == '-' && i == 3 && len == WA_ACCOUNT_CODE_LEN + 1)
            continue;
        if (value[i] < '0' || value[i] > '9' || n == WA_ACCOUNT_CODE_LEN)
            return s_fail (why, why_size, WA_ERR_INVALID, "'code' must be the %d-digit registration code",
                           WA_ACCOUNT_CODE_LEN);
        digits[n++] = value[i];
    }
    if (n != WA_ACCOUNT_CODE_LEN)
        return s_fail (why, why_size, WA_ERR_INVALID, "'code' must be the %d-digit registration code",
                       WA_ACCOUNT_CODE_LEN);
    digits[n] = 0;
    memcpy (code_out, digits, sizeof digits);
    return 0;
}

int
wa_account_shards_check (const json_t *root, wa_shards_request_t *out, char *why, size_t why_size)
{
    memset (out, 0, sizeof *out);
    int code = s_object (root, "{\"cc\", \"phone_number\", \"shards\"[, \"pin\"]}", why, why_size);
    if (code || (code = s_number (root, out->cc, out->phone_number, why, why_size)))
        return code;
    const json_t *shards = json_object_get (root, "shards");
    if (!shards || json_is_null (shards))
        return s_fail (why, why_size, WA_ERR_MISSING, "'shards' is missing");
    json_int_t n = json_is_integer (shards) ? json_integer_value (shards) : 0;
    //  A power of two up to WA_SHARDS_MAX.
    if (n < 1 || n > WA_SHARDS_MAX || (n & (n - 1)) != 0)
        return s_fail (why, why_size, WA_ERR_INVALID, "'shards' must be one of the numbers 1, 2, 4, 8, 16, 32");
    out->shards = (int) n;
    return s_pin (root, out->pin, why, why_size);
}

//  The characters a contact may hold: what a phone number is written with.
static bool
s_contact_chars (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr ("0123456789+-.() ", text[i]) || text[i] == 0)
            return false;
    return true;
}

int
wa_contacts_check (const json_t *root, wa_contacts_t *out, char *why, size_t why_size)
{
    memset (out, 0, sizeof *out);
    int code = s_object (root, "{\"blocking\": \"wait\", \"contacts\": [\"+16315551234\"]}", why, why_size);
    if (code)
        return code;
    const json_t *blocking = json_object_get (root, "blocking");
    if (blocking && !json_is_null (blocking)) {
        const char *value = json_string_value (blocking);
        if (!value || (strcmp (value, "wait") != 0 && strcmp (value, "no_wait") != 0))
            return s_fail (why, why_size, WA_ERR_INVALID, "'blocking' must be \"wait\" or \"no_wait\"");
        out->wait = strcmp (value, "wait") == 0;
    }
    const json_t *force = json_object_get (root, "force_check");
    if (force && !json_is_null (force)) {
        if (!json_is_boolean (force))
            return s_fail (why, why_size, WA_ERR_INVALID, "'force_check' must be true or false");
        out->force_check = json_is_true (force);
    }
    const json_t *contacts = json_object_get (root, "contacts");
    if (!contacts || json_is_null (contacts))
        return s_fail (why, why_size, WA_ERR_MISSING, "'contacts' is missing");
    if (!json_is_array (contacts) || json_array_size (contacts) == 0 || json_array_size (contacts) > WA_CONTACTS_MAX)
        return s_fail (why, why_size, WA_ERR_INVALID, "'contacts' must be an array of 1 to %d phone numbers",
                       WA_CONTACTS_MAX);
    size_t index;
    const json_t *contact;
    json_array_foreach (contacts, index, contact) {
        if (!json_is_string (contact))
            return s_fail (why, why_size, WA_ERR_INVALID, "'contacts[%zu]' must be a string", index);
        size_t len = json_string_length (contact);
        if (len == 0 || len > WA_CONTACT_INPUT_MAX || !s_contact_chars (json_string_value (contact), len))
            return s_fail (why, why_size, WA_ERR_INVALID, "'contacts[%zu]' must be a phone number: 1 to %d "
                           "characters of digits, '+', spaces, dashes, dots and parentheses", index,
                           WA_CONTACT_INPUT_MAX);
        out->contacts[out->count++] = json_string_value (contact);
    }
    return 0;
}

int
wa_contact_digits (const char *input, char out[WA_CONTACT_DIGITS_MAX + 1])
{
    size_t digits = 0;
    const char *p = input;
    if (*p == '+')
        p++;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (digits == WA_CONTACT_DIGITS_MAX)
                return -1;
            out[digits++] = *p;
        }
        else
        if (!strchr (" -.()", *p))
            return -1;
    }
    out[digits] = 0;
    return digits > 0 ? 0 : -1;
}
