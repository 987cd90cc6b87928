/*  appsettings — see appsettings.h */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_errors.h"
#include "appsettings.h"

#define streq(a, b) (strcmp ((a), (b)) == 0)

//  Settings the original's answer nests, as object.member (the Webapp
//  shows {"webhooks": {"url": ...}}; the table keeps webhooks_url).
static const struct {
    const char *name;
    const char *object;
    const char *member;
} s_nested[] = {
    { "webhooks_url", "webhooks", "url" },
    { "webhooks_max_concurrent_requests", "webhooks", "max_concurrent_requests" },
    { "webhooks_secret", "webhooks", "secret" },
    { "media_auto_download", "media", "auto_download" },
};
//  A setting the answer shows as a JSON array of strings (the table keeps
//  them comma-separated).
#define LIST_SETTING "media_auto_download"

#define NESTED (sizeof s_nested / sizeof s_nested[0])

//  A PATCH being checked: where its result and its refusal go.
typedef struct {
    const wa_config_t *current;
    wa_config_t *out;
    uint64_t *changed;
    int *status;
    char *why;
    size_t size;
} check_t;

static int
s_fail (check_t *check, int status, int code, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static int
s_fail (check_t *check, int status, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (check->why, check->size, fmt, args);
    va_end (args);
    *check->status = status;
    return code;
}

static bool
s_is_number (const char *name)
{
    const char *type = wa_config_type (name);
    return type && (streq (type, "seconds") || streq (type, "days") || streq (type, "integer"));
}

static bool
s_is_boolean (const char *name)
{
    const char *type = wa_config_type (name);
    return type && streq (type, "boolean");
}

//  A setting's canonical text as JSON of its type: a number (whole ones
//  as integers), true or false, or a string.
static json_t *
s_json_value (const char *name, const char *text)
{
    if (streq (name, LIST_SETTING)) {
        json_t *list = json_array ();
        for (const char *p = text; *p; ) {
            size_t len = strcspn (p, ",");
            json_array_append_new (list, json_stringn (p, len));
            p += len + (p[len] == ',');
        }
        return list;
    }
    if (s_is_boolean (name))
        return json_boolean (streq (text, "1"));
    if (s_is_number (name)) {
        char *end;
        errno = 0;
        long long whole = strtoll (text, &end, 10);
        if (*end == 0 && errno == 0)
            return json_integer (whole);
        double real = strtod (text, &end);
        if (*end == 0 && isfinite (real))
            return json_real (real);
    }
    return json_string (text);
}

//  {"settings":{"application":{name: value, ..., "webhooks":{"url": ...}}}}
json_t *
appsettings_body (const wa_config_t *settings)
{
    json_t *application = json_object ();
    const char *name;
    for (int i = 0; (name = wa_config_setting_name (i)); i++) {
        char value[WA_CONFIG_STR];
        wa_config_display (settings, name, value, sizeof value);
        json_t *into = application;
        const char *key = name;
        for (size_t n = 0; n < NESTED; n++)
            if (streq (s_nested[n].name, name)) {
                into = json_object_get (application, s_nested[n].object);
                if (!into) {
                    into = json_object ();
                    json_object_set_new (application, s_nested[n].object, into);
                }
                key = s_nested[n].member;
            }
        json_object_set_new (into, key, s_json_value (name, value));
    }
    return json_pack ("{s:{s:o}}", "settings", "application", application);
}

//  The value of a PATCH's key as the text wa_config_set reads, or NULL
//  when its JSON type does not fit the setting's: a number (or a string
//  holding one) for a duration or a count, true or false (or what the
//  config file accepts: 1, "on", ...) for a boolean, a string for a string.
const char *
appsettings_value_text (const char *name, json_t *value, char *buf, size_t size)
{
    if (streq (name, LIST_SETTING)) {
        //  A list of strings, stored comma-separated (wa_config checks the items).
        if (!json_is_array (value))
            return NULL;
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < json_array_size (value); i++) {
            const char *item = json_string_value (json_array_get (value, i));
            if (!item || !*item || strchr (item, ','))
                return NULL;
            int n = snprintf (buf + used, size - used, "%s%s", i ? "," : "", item);
            if (n < 0 || (size_t) n >= size - used)
                return NULL;
            used += (size_t) n;
        }
        return buf;
    }
    if (json_is_boolean (value))
        return s_is_boolean (name) ? (json_is_true (value) ? "1" : "0") : NULL;
    if (json_is_string (value))
        return json_string_value (value);
    if (!s_is_number (name) && !s_is_boolean (name))
        return NULL;
    if (json_is_integer (value)) {
        snprintf (buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
        return buf;
    }
    if (json_is_real (value)) {
        //  A whole number as one (30.0 is "30", not "3e+01", which a count
        //  refuses), else the shortest text that reads back as the same.
        double real = json_real_value (value);
        if (real == floor (real) && fabs (real) < 1e15) {
            snprintf (buf, size, "%.0f", real);
            return buf;
        }
        for (int digits = 1; digits <= 17; digits++) {
            snprintf (buf, size, "%.*g", digits, real);
            if (strtod (buf, NULL) == real)
                break;
        }
        return buf;
    }
    return NULL;
}

static const char *
s_type_name (json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT: return "an object";
        case JSON_ARRAY: return "an array";
        case JSON_TRUE:
        case JSON_FALSE: return "a boolean";
        case JSON_NULL: return "null";
        case JSON_STRING: return "a string";
        case JSON_INTEGER:
        case JSON_REAL: return "a number";
        default: return "that";
    }
}

//  One key of a PATCH (label: as the client named it), checked into
//  check->out. 0, or a code with why.
static int
s_check_change (check_t *check, const char *key, const char *label, json_t *value)
{
    int index = -1;
    for (int i = 0; wa_config_setting_name (i); i++)
        if (streq (wa_config_setting_name (i), key))
            index = i;
    char text[WA_CONFIG_STR], err[768];
    if (index < 0) {
        bool config_key = wa_config_get (check->current, key, text, sizeof text) == 0;
        if (config_key)
            return s_fail (check, 400, WA_ERR_INVALID, "'%.64s' is not a cluster setting: "
                           "it is a key of each node's configuration file", label);
        return s_fail (check, 400, WA_ERR_INVALID, "unknown setting '%.64s'", label);
    }
    if (index >= APPSETTINGS_MAX)
        return s_fail (check, 500, WA_ERR_INTERNAL, "too many settings");
    if (*check->changed & ((uint64_t) 1 << index))
        return s_fail (check, 400, WA_ERR_INVALID, "'%.64s' names a setting given already (as %s)", label, key);
    const char *input = appsettings_value_text (key, value, text, sizeof text);
    if (!input)
        return s_fail (check, 400, WA_ERR_INVALID, "'%s' must be %s, not %s", label,
                       streq (key, LIST_SETTING) ? "an array of media types (audio, document, image, sticker, "
                                                   "video, voice)"
                       : s_is_number (key) ? "a number" : s_is_boolean (key) ? "true or false" : "a string",
                       json_is_array (value) && streq (key, LIST_SETTING) ? "that array" : s_type_name (value));
    //  A secret sent back as GET shows it ("(set)", a URL's "user:***")
    //  leaves it as it is: a client may PATCH what it read.
    char shown[WA_CONFIG_STR], stored[WA_CONFIG_STR];
    if (wa_config_is_secret (key)
    &&  wa_config_display (check->current, key, shown, sizeof shown) == 0
    &&  wa_config_get (check->current, key, stored, sizeof stored) == 0
    &&  strcmp (shown, stored) != 0 && strcmp (input, shown) == 0)
        return 0;
    if (wa_config_set (check->out, key, input, err, sizeof err))
        return s_fail (check, 400, WA_ERR_INVALID, "%s", err);
    *check->changed |= (uint64_t) 1 << index;
    return 0;
}

//  Newer versions of the original name two settings otherwise, in objects
//  PATCH takes (GET shows the names above, so a client may PATCH what it
//  read): garbagecollector_enable.messages is db_garbagecollector_enable,
//  webhooks.message.sent is sent_status. Their other members are taken
//  only as what this cluster does: no media is collected here (a media
//  file goes with DELETE /v1/media), and delivered and read statuses are
//  always POSTed.
static const struct {
    const char *object;
    const char *member;
    const char *name;           //  the setting, or NULL: only fixed is taken
    int fixed;                  //  the one value taken (1 true, 0 false, -1 either)
    const char *why;
} s_aliases[] = {
    { "garbagecollector_enable", "messages", "db_garbagecollector_enable", -1, NULL },
    { "garbagecollector_enable", "media", NULL, -1, NULL },
    { "webhooks.message", "sent", "sent_status", -1, NULL },
    { "webhooks.message", "delivered", NULL, 1, "delivered statuses are always POSTed here" },
    { "webhooks.message", "read", NULL, 1, "read statuses are always POSTed here" },
};
#define ALIASES (sizeof s_aliases / sizeof s_aliases[0])

static int
s_check_aliases (check_t *check, const char *object, json_t *value)
{
    if (!json_is_object (value) || json_object_size (value) == 0)
        return s_fail (check, 400, WA_ERR_INVALID, "'%s' must be an object naming at least one of its settings",
                       object);
    int code;
    const char *member;
    json_t *inner;
    json_object_foreach (value, member, inner) {
        char label[160];
        snprintf (label, sizeof label, "%s.%.64s", object, member);
        int alias = -1;
        for (size_t n = 0; n < ALIASES; n++)
            if (streq (s_aliases[n].object, object) && streq (s_aliases[n].member, member))
                alias = (int) n;
        if (alias < 0)
            return s_fail (check, 400, WA_ERR_INVALID, "unknown setting '%s'", label);
        if (s_aliases[alias].name) {
            if ((code = s_check_change (check, s_aliases[alias].name, label, inner)))
                return code;
            continue;
        }
        if (!json_is_boolean (inner))
            return s_fail (check, 400, WA_ERR_INVALID, "'%s' must be true or false, not %s", label,
                           s_type_name (inner));
        if (s_aliases[alias].fixed >= 0 && json_is_true (inner) != (s_aliases[alias].fixed == 1))
            return s_fail (check, 400, WA_ERR_INVALID, "'%s' can only be %s: %s", label,
                           s_aliases[alias].fixed ? "true" : "false", s_aliases[alias].why);
    }
    return 0;
}

//  Checks a PATCH's changes, each on its own, into check->out: flat
//  names, and the nested form the GET answers with ({"webhooks": {"url":
//  ...}}). 0, or a code with why.
static int
s_check_changes (check_t *check, json_t *changes)
{
    if (!changes)
        return s_fail (check, 400, WA_ERR_MISSING, "'changes' is missing: the settings to change, e.g. "
                       "{\"heartbeat_interval\": 5}");
    if (!json_is_object (changes) || json_object_size (changes) == 0)
        return s_fail (check, 400, WA_ERR_INVALID, "the changes must be a JSON object naming at least one "
                       "setting, e.g. {\"heartbeat_interval\": 5}");
    *check->out = *check->current;
    *check->changed = 0;
    int code;
    const char *key;
    json_t *value;
    json_object_foreach (changes, key, value) {
        if (streq (key, "garbagecollector_enable")) {
            if ((code = s_check_aliases (check, key, value)))
                return code;
            continue;
        }
        const char *object = NULL;
        for (size_t n = 0; n < NESTED && !object; n++)
            if (streq (s_nested[n].object, key))
                object = s_nested[n].object;
        if (!object) {
            if ((code = s_check_change (check, key, key, value)))
                return code;
            continue;
        }
        if (!json_is_object (value) || json_object_size (value) == 0)
            return s_fail (check, 400, WA_ERR_INVALID, "'%s' must be an object naming at least one of its "
                           "settings, e.g. {\"url\": \"https://...\"}", key);
        const char *member;
        json_t *inner;
        json_object_foreach (value, member, inner) {
            char label[160];
            snprintf (label, sizeof label, "%s.%.64s", object, member);
            const char *name = NULL;
            for (size_t n = 0; n < NESTED; n++)
                if (streq (s_nested[n].object, object) && streq (s_nested[n].member, member))
                    name = s_nested[n].name;
            if (!name && streq (label, "webhooks.message")) {
                if ((code = s_check_aliases (check, label, inner)))
                    return code;
                continue;
            }
            if (!name)
                return s_fail (check, 400, WA_ERR_INVALID, "unknown setting '%s'", label);
            if ((code = s_check_change (check, name, label, inner)))
                return code;
        }
    }
    return 0;
}

int
appsettings_check (const wa_config_t *current, json_t *changes, wa_config_t *out, uint64_t *changed, int *status,
                   char *why, size_t size)
{
    check_t check = { current, out, changed, status, why, size };
    *status = 200;
    *changed = 0;
    return s_check_changes (&check, changes);
}
