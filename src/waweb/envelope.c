/*  envelope — see envelope.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

json_t *
envelope_new (void)
{
    return json_pack ("{s:{s:s,s:s}}", "meta", "version", WA_VERSION, "api_status", "stable");
}

json_t *
envelope_error (int code, const char *fmt, ...)
{
    char details[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    json_t *response = envelope_new ();
    //  Details may quote client input: json_string refuses invalid UTF-8.
    json_t *text = json_string (details);
    if (!text)
        text = json_string ("(details not valid UTF-8)");
    json_object_set_new (response, "errors",
                         json_pack ("[{s:i,s:s,s:o}]", "code", code, "title", wa_error_title (code),
                                    "details", text));
    return response;
}

int
envelope_code (const json_t *response)
{
    json_t *first = json_array_get (json_object_get (response, "errors"), 0);
    return (int) json_integer_value (json_object_get (first, "code"));
}

char *
envelope_dump (const json_t *response, size_t *len)
{
    //  15 significant digits: a setting of 0.1 reads 0.1, not 0.10000000000000001.
    char *text = response ? json_dumps (response, JSON_COMPACT | JSON_REAL_PRECISION (15)) : NULL;
    if (!text)
        text = strdup ("{\"meta\":{\"version\":\"" WA_VERSION "\",\"api_status\":\"stable\"},"
                       "\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS ",\"title\":\"Internal error\","
                       "\"details\":\"\"}]}");
    if (!text)
        abort ();
    if (len)
        *len = strlen (text);
    return text;
}
