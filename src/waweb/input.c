/*  input — see input.h */
#include <stdio.h>
#include <string.h>
#include "envelope.h"
#include "input.h"

int
input_parse (const char *body, size_t len, json_t **out, char *why, size_t whylen)
{
    return input_parse_json (body, len, false, out, why, whylen);
}

int
input_parse_json (const char *body, size_t len, bool arrays, json_t **out, char *why, size_t whylen)
{
    *out = NULL;
    if (!body || len == 0)
        return 0;
    json_error_t error;
    json_t *json = json_loadb (body, len, JSON_REJECT_DUPLICATES, &error);
    if (!json) {
        snprintf (why, whylen, "the request body is not valid JSON: %s (line %d, column %d)",
                  error.text, error.line, error.column);
        return WA_ERR_INVALID;
    }
    if (!json_is_object (json) && !(arrays && json_is_array (json))) {
        json_decref (json);
        snprintf (why, whylen, "the request body must be a JSON %s", arrays ? "array or object" : "object");
        return WA_ERR_INVALID;
    }
    *out = json;
    return 0;
}

int
input_string (json_t *input, const char *name, bool required, char *out, size_t size,
              char *why, size_t whylen)
{
    out[0] = 0;
    json_t *value = json_object_get (input, name);
    if (!value || json_is_null (value)) {
        if (!required)
            return 0;
        snprintf (why, whylen, "'%s' is required", name);
        return WA_ERR_MISSING;
    }
    if (!json_is_string (value)) {
        snprintf (why, whylen, "'%s' must be a string", name);
        return WA_ERR_INVALID;
    }
    size_t len = json_string_length (value);
    if (len >= size || memchr (json_string_value (value), 0, len)) {
        snprintf (why, whylen, "'%s' is too long or holds a NUL character", name);
        return WA_ERR_INVALID;
    }
    memcpy (out, json_string_value (value), len + 1);
    return 0;
}
