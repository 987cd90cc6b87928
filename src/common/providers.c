/*  providers — see wa_providers.h */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "wa_errors.h"
#include "wa_providers.h"

int
wa_providers_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > WA_PROVIDERS_NAME_MAX)
        return 0;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_')
            return 0;
    return 1;
}

//  A credential or user name: a string of 1 to max printable characters.
static int
s_text (json_t *value, const char *field, size_t max, char *why, size_t size)
{
    if (!value) {
        snprintf (why, size, "'%s' is required", field);
        return WA_ERR_MISSING;
    }
    if (!json_is_string (value)) {
        snprintf (why, size, "'%s' must be a string", field);
        return WA_ERR_INVALID;
    }
    size_t len = json_string_length (value);
    if (len == 0 || len > max) {
        snprintf (why, size, "'%s' must be 1 to %zu characters long", field, max);
        return WA_ERR_INVALID;
    }
    const char *text = json_string_value (value);
    for (size_t i = 0; i < len; i++)
        if (iscntrl ((unsigned char) text[i])) {
            snprintf (why, size, "'%s' holds a control character", field);
            return WA_ERR_INVALID;
        }
    return 0;
}

//  Only the keys listed (NULL-terminated) in object.
static int
s_only (json_t *object, const char *const *keys, const char *field, char *why, size_t size)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        int known = 0;
        for (int i = 0; keys[i]; i++)
            known |= strcmp (keys[i], key) == 0;
        if (!known) {
            snprintf (why, size, "'%s%s%.40s' is not a field of a media provider", field, *field ? "." : "", key);
            return WA_ERR_INVALID;
        }
    }
    return 0;
}

static int
s_config (json_t *config, const char *at, json_t **out, char *why, size_t size)
{
    char field[160];
    snprintf (field, sizeof field, "%sconfig", at);
    if (!config) {
        snprintf (why, size, "'%s' is required: {\"basic\": {\"username\", \"password\"}} or {\"bearer\": \"...\"}",
                  field);
        return WA_ERR_MISSING;
    }
    if (!json_is_object (config)) {
        snprintf (why, size, "'%s' must be an object: {\"basic\": {\"username\", \"password\"}} or "
                  "{\"bearer\": \"...\"}", field);
        return WA_ERR_INVALID;
    }
    static const char *const keys[] = { "basic", "bearer", NULL };
    int code = s_only (config, keys, field, why, size);
    if (code)
        return code;
    json_t *basic = json_object_get (config, "basic"), *bearer = json_object_get (config, "bearer");
    if (!basic == !bearer) {
        snprintf (why, size, "'%s' must hold one of 'basic' and 'bearer'", field);
        return basic ? WA_ERR_INVALID : WA_ERR_MISSING;
    }
    char inner[200];
    if (bearer) {
        snprintf (inner, sizeof inner, "%s.bearer", field);
        code = s_text (bearer, inner, WA_PROVIDERS_TOKEN_MAX, why, size);
        if (code)
            return code;
        for (const char *c = json_string_value (bearer); *c; c++)
            if (*c == ' ') {
                snprintf (why, size, "'%s' holds a space: a bearer token has none", inner);
                return WA_ERR_INVALID;
            }
        *out = json_pack ("{s:O}", "bearer", bearer);
        return 0;
    }
    snprintf (inner, sizeof inner, "%s.basic", field);
    if (!json_is_object (basic)) {
        snprintf (why, size, "'%s' must be an object: {\"username\", \"password\"}", inner);
        return WA_ERR_INVALID;
    }
    static const char *const basic_keys[] = { "username", "password", NULL };
    code = s_only (basic, basic_keys, inner, why, size);
    char member[220];
    snprintf (member, sizeof member, "%s.username", inner);
    if (!code)
        code = s_text (json_object_get (basic, "username"), member, WA_PROVIDERS_FIELD_MAX, why, size);
    if (!code && strchr (json_string_value (json_object_get (basic, "username")), ':')) {
        snprintf (why, size, "'%s' holds a ':', which HTTP Basic cannot carry in a user name", member);
        code = WA_ERR_INVALID;
    }
    snprintf (member, sizeof member, "%s.password", inner);
    if (!code)
        code = s_text (json_object_get (basic, "password"), member, WA_PROVIDERS_FIELD_MAX, why, size);
    if (code)
        return code;
    *out = json_pack ("{s:{s:O, s:O}}", "basic", "username", json_object_get (basic, "username"),
                      "password", json_object_get (basic, "password"));
    return 0;
}

static int
s_provider (json_t *provider, const char *at, json_t **out, char *why, size_t size)
{
    char field[160], prefix[160];
    snprintf (prefix, sizeof prefix, "%.*s", (int) (*at ? strlen (at) - 1 : 0), at);
    if (!json_is_object (provider)) {
        snprintf (why, size, "'%s' must be an object {\"name\", \"type\", \"config\"}", *at ? prefix : "the body");
        return WA_ERR_INVALID;
    }
    static const char *const keys[] = { "name", "type", "config", NULL };
    int code = s_only (provider, keys, prefix, why, size);
    if (code)
        return code;
    snprintf (field, sizeof field, "%sname", at);
    json_t *name = json_object_get (provider, "name");
    code = s_text (name, field, WA_PROVIDERS_NAME_MAX, why, size);
    if (code)
        return code;
    if (!wa_providers_name_ok (json_string_value (name))) {
        snprintf (why, size, "'%s' may hold only letters, digits, '-' and '_'", field);
        return WA_ERR_INVALID;
    }
    snprintf (field, sizeof field, "%stype", at);
    json_t *type = json_object_get (provider, "type");
    code = s_text (type, field, 16, why, size);
    if (code)
        return code;
    if (strcmp (json_string_value (type), "www") != 0) {
        snprintf (why, size, "'%s' must be \"www\" (HTTP and HTTPS links), the one type there is", field);
        return WA_ERR_INVALID;
    }
    json_t *config = NULL;
    code = s_config (json_object_get (provider, "config"), at, &config, why, size);
    if (code)
        return code;
    *out = json_pack ("{s:O, s:s, s:o}", "name", name, "type", "www", "config", config);
    return 0;
}

int
wa_providers_check (json_t *input, json_t **out, char *why, size_t size)
{
    *out = NULL;
    if (!input) {
        snprintf (why, size, "the body must be the providers to set: [{\"name\", \"type\", \"config\"}]");
        return WA_ERR_MISSING;
    }
    json_t *list = json_is_array (input) ? json_incref (input) : json_pack ("[O]", input);
    size_t count = json_array_size (list);
    if (count == 0 || count > WA_PROVIDERS_PER_REQUEST) {
        snprintf (why, size, "the body must list 1 to %d providers, not %zu", WA_PROVIDERS_PER_REQUEST, count);
        json_decref (list);
        return WA_ERR_INVALID;
    }
    json_t *checked = json_array ();
    int code = 0;
    for (size_t i = 0; i < count && !code; i++) {
        char at[32] = "";
        if (json_is_array (input))
            snprintf (at, sizeof at, "[%zu].", i);
        json_t *one = NULL;
        code = s_provider (json_array_get (list, i), at, &one, why, size);
        if (!code) {
            const char *name = json_string_value (json_object_get (one, "name"));
            for (size_t j = 0; j < json_array_size (checked); j++)
                if (strcmp (json_string_value (json_object_get (json_array_get (checked, j), "name")), name) == 0) {
                    snprintf (why, size, "'%sname': '%s' is named twice in the body", at, name);
                    code = WA_ERR_INVALID;
                }
            json_array_append_new (checked, one);
        }
    }
    json_decref (list);
    if (code)
        json_decref (checked);
    else
        *out = checked;
    return code;
}

json_t *
wa_providers_shown (const char *name, const char *type, const char *config)
{
    json_t *stored = json_loads (config, 0, NULL);
    json_t *shown = json_object ();
    json_t *basic = json_object_get (stored, "basic");
    if (json_is_object (basic)) {
        json_t *user = json_object_get (basic, "username");
        json_object_set_new (shown, "basic", json_pack ("{s:s, s:s}", "username",
                                                        json_is_string (user) ? json_string_value (user) : "",
                                                        "password", WA_PROVIDERS_SHOWN));
    }
    else
    if (json_object_get (stored, "bearer"))
        json_object_set_new (shown, "bearer", json_string (WA_PROVIDERS_SHOWN));
    json_decref (stored);
    return json_pack ("{s:s, s:s, s:o}", "name", name, "type", type, "config", shown);
}

//  The secret at key in into, when it is the shown placeholder: replaced by
//  the stored one (from). 0, or -1 with why when none is stored.
static int
s_keep_one (json_t *into, json_t *from, const char *key, const char *path, const char *what, char *why,
            size_t size)
{
    json_t *value = json_object_get (into, key);
    if (!value || strcmp (json_string_value (value), WA_PROVIDERS_SHOWN) != 0)
        return 0;
    json_t *kept = json_object_get (from, key);
    if (json_is_string (kept)) {
        json_object_set (into, key, kept);
        return 0;
    }
    snprintf (why, size, "'%s' is \"" WA_PROVIDERS_SHOWN "\", but the provider has no stored %s to keep: "
              "send the %s", path, what, what);
    return -1;
}

int
wa_providers_keep (json_t *config, const char *stored_text, const char *field, char *why, size_t size)
{
    json_t *stored = stored_text ? json_loads (stored_text, 0, NULL) : NULL;
    char path[160];
    snprintf (path, sizeof path, "%s.basic.password", field);
    int rc = s_keep_one (json_object_get (config, "basic"), json_object_get (stored, "basic"), "password", path,
                         "password", why, size);
    snprintf (path, sizeof path, "%s.bearer", field);
    if (s_keep_one (config, stored, "bearer", path, "token", why, size))
        rc = -1;
    json_decref (stored);
    return rc;
}

int
wa_providers_row_check (const char *name, const char *type, const char *config, const char *at, char *why,
                        size_t size)
{
    if (!name || !type || !config || strlen (config) > WA_PROVIDERS_CONFIG_MAX) {
        snprintf (why, size, "'%s' must be a provider: {\"name\", \"type\", \"config\": its JSON text of at "
                  "most %d characters}", at, WA_PROVIDERS_CONFIG_MAX);
        return WA_ERR_INVALID;
    }
    json_error_t error;
    json_t *parsed = json_loads (config, JSON_REJECT_DUPLICATES, &error);
    if (!parsed) {
        snprintf (why, size, "'%s.config' is not JSON: %s", at, error.text);
        return WA_ERR_INVALID;
    }
    json_t *provider = json_pack ("{s:s, s:s, s:o}", "name", name, "type", type, "config", parsed);
    json_t *checked = NULL;
    char inner[300];
    int code = provider ? wa_providers_check (provider, &checked, inner, sizeof inner) : WA_ERR_INVALID;
    if (code) {
        snprintf (why, size, "'%s' is not a media provider: %s", at, provider ? inner : "not valid UTF-8");
        json_decref (provider);
        return WA_ERR_INVALID;
    }
    //  Only what a POST keeps: no member the check would have dropped.
    bool same = json_equal (json_object_get (json_array_get (checked, 0), "config"),
                            json_object_get (provider, "config"));
    json_decref (checked);
    json_decref (provider);
    if (!same) {
        snprintf (why, size, "'%s.config' holds more than a provider's credentials", at);
        return WA_ERR_INVALID;
    }
    return 0;
}
