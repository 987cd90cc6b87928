/*  account_state — see wa_account_state.h */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wa_account.h"
#include "wa_account_state.h"
#include "wa_errors.h"
#include "wa_providers.h"

static int
s_refuse (char *why, size_t size, int code, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static int
s_refuse (char *why, size_t size, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (why, size, fmt, args);
    va_end (args);
    return code;
}

//  Characters (code points) of a UTF-8 string (jansson's are valid UTF-8).
static size_t
s_chars (const char *text)
{
    size_t chars = 0;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if ((*c & 0xc0) != 0x80)
            chars++;
    return chars;
}

//  A control character other than those allowed (allow: e.g. "\n\t").
static bool
s_has_control (const char *text, const char *allow)
{
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if ((*c < 0x20 || *c == 0x7f) && !strchr (allow, *c))
            return true;
    return false;
}

//  A string member: 0 with *out (NULL when absent and not required).
static int
s_text (const json_t *object, const char *path, const char *name, bool required, size_t max, const char *allow,
        const char **out, char *why, size_t size)
{
    json_t *value = json_object_get (object, name);
    *out = NULL;
    if (!value || json_is_null (value))
        return required ? s_refuse (why, size, WA_ERR_MISSING, "'%s%s' is missing", path, name) : 0;
    if (!json_is_string (value))
        return s_refuse (why, size, WA_ERR_INVALID, "'%s%s' must be a string", path, name);
    const char *text = json_string_value (value);
    if (strlen (text) != json_string_length (value))
        return s_refuse (why, size, WA_ERR_INVALID, "'%s%s' must not contain NUL", path, name);
    if (s_chars (text) > max)
        return s_refuse (why, size, WA_ERR_INVALID, "'%s%s' must be at most %zu characters", path, name, max);
    if (s_has_control (text, allow))
        return s_refuse (why, size, WA_ERR_INVALID, "'%s%s' must not contain control characters", path, name);
    *out = text;
    return 0;
}

//  Every member of object is one of names (NULL-terminated).
static int
s_members (const json_t *object, const char *path, const char *const *names, char *why, size_t size)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) object, key, value) {
        bool known = false;
        for (const char *const *name = names; *name && !known; name++)
            known = strcmp (*name, key) == 0;
        if (!known)
            return s_refuse (why, size, WA_ERR_INVALID, "'%s%.64s' is not a field this object takes", path, key);
    }
    return 0;
}

static bool
s_email_valid (const char *email)
{
    const char *at = strchr (email, '@');
    if (!at || at == email || strchr (at + 1, '@'))
        return false;
    const char *dot = strrchr (at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == 0)
        return false;
    for (const char *c = email; *c; c++)
        if (isspace ((unsigned char) *c) || *c == ',' || *c == ';' || *c == '<' || *c == '>')
            return false;
    return true;
}

static bool
s_url_valid (const char *url)
{
    const char *host = strncmp (url, "https://", 8) == 0 ? url + 8 : strncmp (url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!host || !*host || *host == '/')
        return false;
    for (const char *c = url; *c; c++)
        if (isspace ((unsigned char) *c) || (unsigned char) *c < 0x20)
            return false;
    return true;
}

//  A phone number with its country code: '+' and 6 to 15 digits. The '+'
//  first: "" has no byte after its NUL to count from.
static bool
s_phone_valid (const char *phone)
{
    if (phone[0] != '+')
        return false;
    size_t digits = strlen (phone + 1);
    return digits >= 6 && digits <= WA_ACCOUNT_NUMBER_MAX && strspn (phone + 1, "0123456789") == digits;
}

static const char *const s_verticals[] = {
    "Automotive", "Beauty, Spa and Salon", "Clothing and Apparel", "Education", "Entertainment",
    "Event Planning and Service", "Finance and Banking", "Food and Grocery", "Public Service",
    "Hotel and Lodging", "Medical and Health", "Non-profit", "Professional Services", "Shopping and Retail",
    "Travel and Transportation", "Restaurant", "Other", NULL
};

//  --------------------------------------------------------------------------
//  The business profile

static const char *const s_profile_fields[] = { "address", "description", "email", "vertical", "websites", NULL };

//  Checks the fields of input that are present; complete: every field must be.
static int
s_profile_check_fields (const json_t *input, bool complete, char *why, size_t size)
{
    if (!json_is_object (input))
        return s_refuse (why, size, WA_ERR_INVALID, "the business profile must be a JSON object of "
                         "'address', 'description', 'email', 'vertical', 'websites'");
    int code = s_members (input, "", s_profile_fields, why, size);
    if (code)
        return code;
    const char *text;
    if ((code = s_text (input, "", "address", complete, WA_PROFILE_ADDRESS_MAX, "\n", &text, why, size))
    ||  (code = s_text (input, "", "description", complete, WA_PROFILE_DESCRIPTION_MAX, "\n\t", &text, why, size)))
        return code;
    if ((code = s_text (input, "", "email", complete, WA_PROFILE_EMAIL_MAX, "", &text, why, size)))
        return code;
    if (text && *text && !s_email_valid (text))
        return s_refuse (why, size, WA_ERR_INVALID, "'email' must be an email address (name@example.com)");
    if ((code = s_text (input, "", "vertical", complete, 64, "", &text, why, size)))
        return code;
    if (text && *text) {
        bool known = false;
        for (const char *const *v = s_verticals; *v && !known; v++)
            known = strcmp (*v, text) == 0;
        if (!known)
            return s_refuse (why, size, WA_ERR_INVALID, "'vertical' must be one of: Automotive, Beauty, Spa and "
                             "Salon, Clothing and Apparel, Education, Entertainment, Event Planning and Service, "
                             "Finance and Banking, Food and Grocery, Public Service, Hotel and Lodging, Medical and "
                             "Health, Non-profit, Professional Services, Shopping and Retail, Travel and "
                             "Transportation, Restaurant, Other");
    }
    json_t *websites = json_object_get (input, "websites");
    if (!websites || json_is_null (websites))
        return complete ? s_refuse (why, size, WA_ERR_MISSING, "'websites' is missing") : 0;
    if (!json_is_array (websites))
        return s_refuse (why, size, WA_ERR_INVALID, "'websites' must be an array of URLs");
    if (json_array_size (websites) > WA_PROFILE_WEBSITES_MAX)
        return s_refuse (why, size, WA_ERR_INVALID, "'websites' may hold at most %d URLs", WA_PROFILE_WEBSITES_MAX);
    size_t i;
    json_t *site;
    json_array_foreach (websites, i, site) {
        const char *url = json_string_value (site);
        if (!url || strlen (url) != json_string_length (site))
            return s_refuse (why, size, WA_ERR_INVALID, "'websites[%zu]' must be a string", i);
        if (s_chars (url) > WA_PROFILE_WEBSITE_MAX)
            return s_refuse (why, size, WA_ERR_INVALID, "'websites[%zu]' must be at most %d characters", i,
                             WA_PROFILE_WEBSITE_MAX);
        if (!s_url_valid (url))
            return s_refuse (why, size, WA_ERR_INVALID, "'websites[%zu]' must be a URL starting with http:// or "
                             "https://", i);
    }
    return 0;
}

int
wa_state_profile_check (const json_t *input, const json_t *current, json_t **merged, char *why, size_t size)
{
    *merged = NULL;
    int code = s_profile_check_fields (input, false, why, size);
    if (code)
        return code;
    if (json_object_size (input) == 0)
        return s_refuse (why, size, WA_ERR_MISSING, "the body must name at least one of 'address', "
                         "'description', 'email', 'vertical', 'websites'");
    json_t *result = json_pack ("{s:s, s:s, s:s, s:s, s:[]}", "address", "", "description", "", "email", "",
                                "vertical", "", "websites");
    if (!result)
        return s_refuse (why, size, WA_ERR_INTERNAL, "out of memory");
    if (json_is_object (current))
        for (const char *const *field = s_profile_fields; *field; field++) {
            json_t *value = json_object_get (current, *field);
            if (value)
                json_object_set (result, *field, value);
        }
    const char *vertical = json_string_value (json_object_get (result, "vertical"));
    json_t *sent = json_object_get (input, "vertical");
    if (vertical && *vertical && json_is_string (sent) && !*json_string_value (sent)) {
        json_decref (result);
        return s_refuse (why, size, WA_ERR_INVALID, "'vertical' cannot be set back to empty once it is set");
    }
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) input, key, value)
        if (!json_is_null (value))
            json_object_set_new (result, key, json_deep_copy (value));
    *merged = result;
    return 0;
}

//  --------------------------------------------------------------------------
//  The compliance info

static const char *const s_entity_types[] = {
    "LIMITED_LIABILITY_PARTNERSHIP", "SOLE_PROPRIETORSHIP", "PARTNERSHIP", "PUBLIC_COMPANY", "PRIVATE_COMPANY",
    "OTHER", NULL
};

//  grievance_officer_details or customer_care_details.
static int
s_contact_details (const json_t *input, const char *name, bool officer, char *why, size_t size)
{
    json_t *details = json_object_get (input, name);
    if (!details || json_is_null (details))
        return s_refuse (why, size, WA_ERR_MISSING, "'%s' is missing", name);
    if (!json_is_object (details))
        return s_refuse (why, size, WA_ERR_INVALID, "'%s' must be an object", name);
    static const char *const officer_fields[] = { "name", "email", "landline_number", "mobile_number", NULL };
    char path[64];
    snprintf (path, sizeof path, "%s.", name);
    int code = s_members (details, path, officer ? officer_fields : officer_fields + 1, why, size);
    if (code)
        return code;
    const char *text;
    if (officer && (code = s_text (details, path, "name", true, WA_COMPLIANCE_TEXT_MAX, "", &text, why, size)))
        return code;
    if ((code = s_text (details, path, "email", true, WA_PROFILE_EMAIL_MAX, "", &text, why, size)))
        return code;
    if (!s_email_valid (text))
        return s_refuse (why, size, WA_ERR_INVALID, "'%semail' must be an email address", path);
    const char *landline, *mobile;
    if ((code = s_text (details, path, "landline_number", false, 20, "", &landline, why, size))
    ||  (code = s_text (details, path, "mobile_number", false, 20, "", &mobile, why, size)))
        return code;
    if (!landline && !mobile)
        return s_refuse (why, size, WA_ERR_MISSING, "'%s' needs 'landline_number' or 'mobile_number'", name);
    if (landline && !s_phone_valid (landline))
        return s_refuse (why, size, WA_ERR_INVALID, "'%slandline_number' must be '+' and the number with its "
                         "country code", path);
    if (mobile && !s_phone_valid (mobile))
        return s_refuse (why, size, WA_ERR_INVALID, "'%smobile_number' must be '+' and the number with its "
                         "country code", path);
    return 0;
}

static int
s_compliance (const json_t *input, char *why, size_t size)
{
    if (!json_is_object (input))
        return s_refuse (why, size, WA_ERR_INVALID, "the compliance info must be a JSON object");
    static const char *const fields[] = {
        "entity_name", "entity_type", "entity_type_custom", "is_registered", "entity_registration_number",
        "grievance_officer_details", "customer_care_details", NULL
    };
    int code = s_members (input, "", fields, why, size);
    if (code)
        return code;
    const char *text, *type, *custom;
    if ((code = s_text (input, "", "entity_name", true, WA_COMPLIANCE_TEXT_MAX, "", &text, why, size)))
        return code;
    if (!*text)
        return s_refuse (why, size, WA_ERR_INVALID, "'entity_name' must not be empty");
    if ((code = s_text (input, "", "entity_type", true, 64, "", &type, why, size)))
        return code;
    bool known = false;
    for (const char *const *t = s_entity_types; *t && !known; t++)
        known = strcmp (*t, type) == 0;
    if (!known)
        return s_refuse (why, size, WA_ERR_INVALID, "'entity_type' must be one of LIMITED_LIABILITY_PARTNERSHIP, "
                         "SOLE_PROPRIETORSHIP, PARTNERSHIP, PUBLIC_COMPANY, PRIVATE_COMPANY, OTHER");
    bool other = strcmp (type, "OTHER") == 0;
    if ((code = s_text (input, "", "entity_type_custom", other, WA_COMPLIANCE_TEXT_MAX, "", &custom, why, size)))
        return code;
    if (other && !*custom)
        return s_refuse (why, size, WA_ERR_INVALID, "'entity_type_custom' must name the type when "
                         "'entity_type' is OTHER");
    //  Absent means false (the stored copy says so); null is no boolean: it
    //  would be stored as null and answered where GET promises one.
    json_t *registered = json_object_get (input, "is_registered");
    if (registered && !json_is_boolean (registered))
        return s_refuse (why, size, WA_ERR_INVALID, "'is_registered' must be true or false");
    if ((code = s_text (input, "", "entity_registration_number", json_is_true (registered), 64, "", &text,
                        why, size)))
        return code;
    if ((code = s_contact_details (input, "grievance_officer_details", true, why, size)))
        return code;
    return s_contact_details (input, "customer_care_details", false, why, size);
}

int
wa_state_compliance_check (const json_t *input, json_t **value, char *why, size_t size)
{
    *value = NULL;
    int code = s_compliance (input, why, size);
    if (code)
        return code;
    *value = json_deep_copy (input);
    if (!json_object_get (*value, "is_registered"))
        json_object_set_new (*value, "is_registered", json_false ());
    if (!json_object_get (*value, "entity_type_custom"))
        json_object_set_new (*value, "entity_type_custom", json_string (""));
    return 0;
}

//  --------------------------------------------------------------------------
//  About, the PIN, the photo

int
wa_state_about_check (const json_t *input, json_t **value, char *why, size_t size)
{
    *value = NULL;
    if (!json_is_object (input))
        return s_refuse (why, size, WA_ERR_INVALID, "the body must be a JSON object: {\"text\": \"...\"}");
    static const char *const fields[] = { "text", NULL };
    const char *text;
    int code = s_members (input, "", fields, why, size);
    if (code || (code = s_text (input, "", "text", true, WA_ABOUT_MAX, "", &text, why, size)))
        return code;
    if (!*text)
        return s_refuse (why, size, WA_ERR_INVALID, "'text' must not be empty");
    *value = json_pack ("{s:s}", "text", text);
    return 0;
}

int
wa_state_pin_check (const json_t *input, char pin[7], char *why, size_t size)
{
    pin[0] = 0;
    if (!json_is_object (input))
        return s_refuse (why, size, WA_ERR_INVALID, "the body must be a JSON object: {\"pin\": \"123456\"}");
    static const char *const fields[] = { "pin", NULL };
    const char *text;
    int code = s_members (input, "", fields, why, size);
    if (code || (code = s_text (input, "", "pin", true, 16, "", &text, why, size)))
        return code;
    if (strlen (text) != WA_ACCOUNT_PIN_LEN || strspn (text, "0123456789") != WA_ACCOUNT_PIN_LEN)
        return s_refuse (why, size, WA_ERR_INVALID, "'pin' must be 6 digits");
    memcpy (pin, text, WA_ACCOUNT_PIN_LEN + 1);
    return 0;
}

const char *
wa_photo_type (const unsigned char *bytes, size_t len)
{
    if (len >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return "image/jpeg";
    static const unsigned char png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (len >= sizeof png && memcmp (bytes, png, sizeof png) == 0)
        return "image/png";
    return NULL;
}

static bool
s_hex_valid (const char *text, size_t len)
{
    return text && strlen (text) == len && strspn (text, "0123456789abcdef") == len;
}

bool
wa_state_name_valid (const char *name)
{
    return name && (strcmp (name, WA_STATE_PROFILE) == 0 || strcmp (name, WA_STATE_COMPLIANCE) == 0
                || strcmp (name, WA_STATE_ABOUT) == 0 || strcmp (name, WA_STATE_TWO_STEP) == 0
                || strcmp (name, WA_STATE_PHOTO) == 0);
}

int
wa_state_value_check (const char *name, const json_t *value, char *why, size_t size)
{
    char inner[300];
    int code = 0;
    if (!wa_state_name_valid (name))
        return s_refuse (why, size, WA_ERR_INVALID, "unknown account state '%.40s'", name ? name : "");
    if (strcmp (name, WA_STATE_PROFILE) == 0)
        code = s_profile_check_fields (value, true, inner, sizeof inner);
    else
    if (strcmp (name, WA_STATE_COMPLIANCE) == 0)
        code = s_compliance (value, inner, sizeof inner);
    else
    if (strcmp (name, WA_STATE_ABOUT) == 0) {
        json_t *copy = NULL;
        code = wa_state_about_check (value, &copy, inner, sizeof inner);
        json_decref (copy);
    }
    else
    if (strcmp (name, WA_STATE_TWO_STEP) == 0) {
        const char *hash = json_string_value (json_object_get (value, "pin_hash"));
        if (!json_is_object (value) || json_object_size (value) != 1 || !hash
        ||  strncmp (hash, "$argon2id$", 10) != 0 || strlen (hash) > WA_PIN_HASH_MAX)
            code = s_refuse (inner, sizeof inner, WA_ERR_INVALID, "it must be {\"pin_hash\": an Argon2id hash}");
    }
    else {
        const char *sha = json_string_value (json_object_get (value, "sha256"));
        const char *type = json_string_value (json_object_get (value, "type"));
        json_t *bytes = json_object_get (value, "size");
        if (!json_is_object (value) || json_object_size (value) != 3 || !s_hex_valid (sha, 64) || !type
        ||  (strcmp (type, "image/jpeg") != 0 && strcmp (type, "image/png") != 0) || !json_is_integer (bytes)
        ||  json_integer_value (bytes) <= 0 || (size_t) json_integer_value (bytes) > WA_PHOTO_MAX)
            code = s_refuse (inner, sizeof inner, WA_ERR_INVALID, "it must be {\"sha256\", \"type\": image/jpeg "
                             "or image/png, \"size\": at most %zu}", WA_PHOTO_MAX);
    }
    if (code)
        return s_refuse (why, size, WA_ERR_INVALID, "the %s: %s", name, inner);
    return 0;
}

json_t *
wa_state_body (const char *name, const json_t *value)
{
    if (strcmp (name, WA_STATE_PROFILE) == 0) {
        json_t *profile = json_is_object (value) ? json_deep_copy (value)
                        : json_pack ("{s:s, s:s, s:s, s:s, s:[]}", "address", "", "description", "", "email", "",
                                     "vertical", "", "websites");
        return json_pack ("{s:{s:{s:o}}}", "settings", "business", "profile", profile);
    }
    if (strcmp (name, WA_STATE_COMPLIANCE) == 0)
        return json_pack ("{s:{s:{s:o}}}", "settings", "business", "compliance_info",
                          json_is_object (value) ? json_deep_copy (value) : json_object ());
    if (strcmp (name, WA_STATE_ABOUT) == 0) {
        const char *text = json_string_value (json_object_get (value, "text"));
        return json_pack ("{s:{s:{s:{s:s}}}}", "settings", "profile", "about", "text", text ? text : "");
    }
    if (strcmp (name, WA_STATE_TWO_STEP) == 0)
        return json_pack ("{s:{s:{s:{s:b}}}}", "settings", "account", "two_step", "enabled", value != NULL);
    return json_object ();
}

//  --------------------------------------------------------------------------
//  The backup's seal

//  "WAB" and the version, then the salt and the nonce: the header, which
//  the tag covers too (associated data).
#define MAGIC "WAB"
#define HEADER (4 + crypto_pwhash_SALTBYTES + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

static int
s_key (unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], const char *password,
       const unsigned char *salt)
{
    return crypto_pwhash (key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, password, strlen (password), salt,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                          crypto_pwhash_ALG_ARGON2ID13);
}

char *
wa_backup_seal (const char *password, const void *content, size_t len, size_t *out_len)
{
    if (sodium_init () < 0)
        return NULL;
    size_t sealed_len = HEADER + len + TAG;
    unsigned char *sealed = malloc (sealed_len);
    if (!sealed)
        return NULL;
    memcpy (sealed, MAGIC, 3);
    sealed[3] = WA_BACKUP_VERSION;
    unsigned char *salt = sealed + 4;
    unsigned char *nonce = salt + crypto_pwhash_SALTBYTES;
    randombytes_buf (salt, crypto_pwhash_SALTBYTES);
    randombytes_buf (nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    if (s_key (key, password, salt)) {
        free (sealed);
        return NULL;
    }
    unsigned long long cipher_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt (sealed + HEADER, &cipher_len, content, len, sealed, HEADER, NULL,
                                                nonce, key);
    sodium_memzero (key, sizeof key);
    size_t b64_size = sodium_base64_encoded_len (sealed_len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc (b64_size);
    if (text) {
        sodium_bin2base64 (text, b64_size, sealed, sealed_len, sodium_base64_VARIANT_ORIGINAL);
        *out_len = strlen (text);
    }
    free (sealed);
    return text;
}

int
wa_backup_open (const char *password, const char *data, size_t len, char **content, size_t *content_len,
                char *why, size_t size)
{
    *content = NULL;
    *content_len = 0;
    if (sodium_init () < 0)
        return s_refuse (why, size, -3, "libsodium cannot start"), -3;
    if (len > WA_BACKUP_DATA_MAX)
        return s_refuse (why, size, -1, "'data' is larger than any backup (%zu characters)", (size_t) WA_BACKUP_DATA_MAX), -1;
    unsigned char *sealed = malloc (len / 4 * 3 + 3);
    if (!sealed)
        return s_refuse (why, size, -3, "out of memory"), -3;
    size_t sealed_len = 0;
    const char *end = NULL;
    if (sodium_base642bin (sealed, len / 4 * 3 + 3, data, len, "\r\n", &sealed_len, &end,
                           sodium_base64_VARIANT_ORIGINAL) || end != data + len) {
        free (sealed);
        return s_refuse (why, size, -1, "'data' is not base64: it is not what POST /v1/settings/backup answered"), -1;
    }
    if (sealed_len < HEADER + TAG || memcmp (sealed, MAGIC, 3) != 0) {
        free (sealed);
        return s_refuse (why, size, -1, "'data' is not a backup of this cluster (too short, or another format)"), -1;
    }
    if (sealed[3] != WA_BACKUP_VERSION) {
        int format = sealed[3];
        free (sealed);
        return s_refuse (why, size, -1, "'data' is a backup of format %d, this build reads %d", format,
                         WA_BACKUP_VERSION), -1;
    }
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    if (s_key (key, password, sealed + 4)) {
        free (sealed);
        return s_refuse (why, size, -3, "not enough memory to derive the key"), -3;
    }
    size_t plain_size = sealed_len - HEADER - TAG;
    char *plain = malloc (plain_size + 1);
    unsigned long long plain_len = 0;
    int rc = plain ? crypto_aead_xchacha20poly1305_ietf_decrypt ((unsigned char *) plain, &plain_len, NULL,
                                                                 sealed + HEADER, sealed_len - HEADER, sealed, HEADER,
                                                                 sealed + 4 + crypto_pwhash_SALTBYTES, key) : -3;
    sodium_memzero (key, sizeof key);
    free (sealed);
    if (rc) {
        free (plain);
        if (rc == -3)
            return s_refuse (why, size, -3, "out of memory"), -3;
        return s_refuse (why, size, -2, "the backup cannot be opened: the password is wrong, or the data was "
                         "changed or cut"), -2;
    }
    plain[plain_len] = 0;
    *content = plain;
    *content_len = (size_t) plain_len;
    return 0;
}

//  --------------------------------------------------------------------------
//  The backup's content

static bool
s_username_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    return len >= 4 && len <= 32
        && strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

int
wa_backup_content_check (const json_t *content, char *why, size_t size)
{
    char inner[400];
    if (!json_is_object (content))
        return s_refuse (why, size, WA_ERR_INVALID, "the backup's content is not a JSON object");
    json_t *version = json_object_get (content, "version");
    if (!json_is_integer (version) || json_integer_value (version) != WA_BACKUP_VERSION)
        return s_refuse (why, size, WA_ERR_INVALID, "the backup's content is not of version %d", WA_BACKUP_VERSION);
    json_t *settings = json_object_get (content, "settings");
    if (!json_is_object (settings))
        return s_refuse (why, size, WA_ERR_INVALID, "the backup has no 'settings' object");
    const char *key;
    json_t *value;
    json_object_foreach (settings, key, value)
        if (!json_is_string (value) || strlen (key) > 64 || json_string_length (value) > 255)
            return s_refuse (why, size, WA_ERR_INVALID, "the backup's setting '%.64s' is not a text of at most "
                             "255 characters", key);
    json_t *users = json_object_get (content, "users");
    if (!json_is_array (users) || json_array_size (users) > 10000)
        return s_refuse (why, size, WA_ERR_INVALID, "the backup has no 'users' array");
    size_t i;
    json_t *user;
    int admins = 0;
    json_array_foreach (users, i, user) {
        const char *name = json_string_value (json_object_get (user, "username"));
        const char *hash = json_string_value (json_object_get (user, "password_hash"));
        const char *role = json_string_value (json_object_get (user, "role"));
        if (!s_username_valid (name) || !hash || strncmp (hash, "$argon2id$", 10) != 0 || strlen (hash) > 128
        ||  !role || (strcmp (role, "ADMIN") != 0 && strcmp (role, "USER") != 0)
        ||  !json_is_boolean (json_object_get (user, "must_change")))
            return s_refuse (why, size, WA_ERR_INVALID, "the backup's users[%zu] is not a user (username, "
                             "password_hash, role, must_change)", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp (name, json_string_value (json_object_get (json_array_get (users, j), "username"))) == 0)
                return s_refuse (why, size, WA_ERR_INVALID, "the backup names user '%s' twice", name);
        admins += strcmp (role, "ADMIN") == 0;
    }
    if (admins == 0)
        return s_refuse (why, size, WA_ERR_INVALID, "the backup has no ADMIN user: restoring it would lock "
                         "everyone out");
    json_t *state = json_object_get (content, "state");
    if (!json_is_object (state))
        return s_refuse (why, size, WA_ERR_INVALID, "the backup has no 'state' object");
    json_object_foreach (state, key, value) {
        int code = wa_state_value_check (key, value, why, size);
        if (code)
            return code;
    }
    json_t *photo = json_object_get (content, "photo");
    json_t *photo_state = json_object_get (state, WA_STATE_PHOTO);
    if ((photo != NULL) != (photo_state != NULL))
        return s_refuse (why, size, WA_ERR_INVALID, "the backup's photo and its state do not go together");
    if (photo) {
        const char *data = json_string_value (json_object_get (photo, "data"));
        if (!data || json_string_length (json_object_get (photo, "data")) > (WA_PHOTO_MAX / 3 + 1) * 4)
            return s_refuse (why, size, WA_ERR_INVALID, "the backup's photo has no data");
    }
    //  Each provider as a POST would have stored it: a restore writes the
    //  rows as they are, and the Webapps use them for every media link.
    json_t *providers = json_object_get (content, "media_providers");
    if (providers && (!json_is_array (providers) || json_array_size (providers) > WA_PROVIDERS_MAX))
        return s_refuse (why, size, WA_ERR_INVALID, "the backup's 'media_providers' is not an array of at most %d "
                         "providers", WA_PROVIDERS_MAX);
    json_t *provider;
    json_array_foreach (providers, i, provider) {
        char at[40];
        snprintf (at, sizeof at, "media_providers[%zu]", i);
        const char *name = json_string_value (json_object_get (provider, "name"));
        if (!json_is_object (provider) || json_object_size (provider) != 3)
            return s_refuse (why, size, WA_ERR_INVALID, "the backup's %s is not a provider {\"name\", \"type\", "
                             "\"config\"}", at);
        if (wa_providers_row_check (name, json_string_value (json_object_get (provider, "type")),
                                    json_string_value (json_object_get (provider, "config")), at, inner, sizeof inner))
            return s_refuse (why, size, WA_ERR_INVALID, "the backup's %s", inner);
        for (size_t j = 0; j < i; j++)
            if (strcmp (name, json_string_value (json_object_get (json_array_get (providers, j), "name"))) == 0)
                return s_refuse (why, size, WA_ERR_INVALID, "the backup names media provider '%s' twice", name);
    }
    return 0;
}
