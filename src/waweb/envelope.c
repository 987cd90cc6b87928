/*  envelope — see envelope.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "envelope.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

typedef struct {
    int code;
    const char *title;
    int status;
} api_error_t;

//  The original's codes; 1011 is 503 here: the service comes back by itself.
static const api_error_t s_errors[] = {
    { API_GENERIC, "Generic error", 500 },
    { API_ACCESS_DENIED, "Access denied", 403 },
    { API_NOT_FOUND, "Resource not found", 404 },
    { API_MISSING, "Required parameter is missing", 400 },
    { API_INVALID, "Parameter value is not valid", 400 },
    { API_NOT_READY, "Service not ready", 503 },
    { API_INTERNAL, "Internal error", 500 },
    { API_TOO_MANY, "Too many requests", 429 },
    { API_OVERLOADED, "System overloaded", 503 },
    { API_NOT_PRIMARY_MASTER, "Not a primary master", 500 },
    { API_NOT_PRIMARY_COREAPP, "Not a primary coreapp", 500 },
    { API_DATABASE, "Database error occurred", 500 },
    { API_PASSWORD_CHANGE, "Password change required", 401 },
};

static const api_error_t *
s_find (int code)
{
    for (size_t i = 0; i < sizeof s_errors / sizeof s_errors[0]; i++)
        if (s_errors[i].code == code)
            return &s_errors[i];
    return NULL;
}

const char *
envelope_title (int code)
{
    const api_error_t *e = s_find (code);
    return e ? e->title : "Generic error";
}

int
envelope_status (int code)
{
    const api_error_t *e = s_find (code);
    return e ? e->status : 500;
}

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
                         json_pack ("[{s:i,s:s,s:o}]", "code", code, "title", envelope_title (code),
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
                       "\"errors\":[{\"code\":1014,\"title\":\"Internal error\",\"details\":\"\"}]}");
    if (!text)
        abort ();
    if (len)
        *len = strlen (text);
    return text;
}
