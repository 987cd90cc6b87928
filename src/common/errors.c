/*  wa_errors — see wa_errors.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "wa_errors.h"

//  1011 is 503 here (the original also answers 500): the service comes
//  back by itself.
static const struct {
    int code;
    const char *title;
    int status;
} s_errors[] = {
    { WA_ERR_GENERIC, "Generic error", 500 },
    { WA_ERR_ACCESS_DENIED, "Access denied", 403 },
    { WA_ERR_NOT_FOUND, "Resource not found", 404 },
    { WA_ERR_MISSING, "Required parameter is missing", 400 },
    { WA_ERR_INVALID, "Parameter value is not valid", 400 },
    { WA_ERR_NOT_READY, "Service not ready", 503 },
    { WA_ERR_USER_NOT_VALID, "User is not valid", 400 },
    { WA_ERR_INTERNAL, "Internal error", 500 },
    { WA_ERR_TOO_MANY, "Too many requests", 429 },
    { WA_ERR_OVERLOADED, "System overloaded", 503 },
    { WA_ERR_NOT_PRIMARY_MASTER, "Not a primary master", 500 },
    { WA_ERR_NOT_PRIMARY_COREAPP, "Not a primary coreapp", 500 },
    { WA_ERR_DATABASE, "Database error occurred", 500 },
    { WA_ERR_PASSWORD_CHANGE, "Password change required", 401 },
    { WA_ERR_TEMPLATE_PARAMS, "Number of parameters does not match the expected number of params", 400 },
    { WA_ERR_TEMPLATE_MISSING, "Template missing", 400 },
    { WA_ERR_TEMPLATE_FORMAT, "Parameter format does not match format in the created template", 400 },
};

static int
s_find (int code)
{
    for (size_t i = 0; i < sizeof s_errors / sizeof s_errors[0]; i++)
        if (s_errors[i].code == code)
            return (int) i;
    return -1;
}

const char *
wa_error_title (int code)
{
    int i = s_find (code);
    return i < 0 ? "Generic error" : s_errors[i].title;
}

int
wa_error_status (int code)
{
    int i = s_find (code);
    return i < 0 ? 500 : s_errors[i].status;
}

char *
wa_error_vjson (int code, const char *fmt, va_list args)
{
    char details[300];
    vsnprintf (details, sizeof details, fmt, args);
    json_t *body = json_pack ("{s:[{s:i, s:s}]}", "errors", "code", code, "details", details);
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    return text ? text
                : strdup ("{\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS ",\"details\":\"out of memory\"}]}");
}

char *
wa_error_json (int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *text = wa_error_vjson (code, fmt, args);
    va_end (args);
    return text;
}
