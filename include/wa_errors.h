/*  wa_errors — the API error codes every node answers with: the original
    On-Premises API's numbers, each with the title that goes on the wire
    beside it and the HTTP status it gets unless a caller says otherwise.
    One table (src/common/errors.c); docs/API.md lists the same. */
#ifndef WA_ERRORS_H
#define WA_ERRORS_H

#include <stdarg.h>

typedef enum {
    WA_ERR_GENERIC = 1000,
    WA_ERR_ACCESS_DENIED = 1005,
    WA_ERR_NOT_FOUND = 1006,
    WA_ERR_MISSING = 1008,              //  a required parameter is missing
    WA_ERR_INVALID = 1009,              //  a parameter's value is not valid
    WA_ERR_NOT_READY = 1011,
    WA_ERR_USER_NOT_VALID = 1013,       //  the original's; no node answers it yet
    WA_ERR_INTERNAL = 1014,
    WA_ERR_TOO_MANY = 1015,
    WA_ERR_OVERLOADED = 1016,
    WA_ERR_NOT_PRIMARY_MASTER = 1017,
    WA_ERR_NOT_PRIMARY_COREAPP = 1018,
    WA_ERR_DATABASE = 1023,
    WA_ERR_PASSWORD_CHANGE = 1024,
    //  Templates: reported by the network in a message's "failed" status
    //  (wagate's catalogue, docs/API.md), never answered by a node.
    WA_ERR_TEMPLATE_PARAMS = 2000,      //  the parameters do not match the template's
    WA_ERR_TEMPLATE_MISSING = 2001,     //  no such template (namespace, name, language)
    WA_ERR_TEMPLATE_FORMAT = 2012,      //  a parameter's format is not the template's
} wa_error_t;

//  WA_ERR_INTERNAL spelled out, for the fixed answers sent when no JSON
//  can be built (the unit tests check it against the enum).
#define WA_ERR_INTERNAL_DIGITS "1014"

//  The title of code ("Generic error" for a code not in the table).
const char *wa_error_title (int code);
//  The HTTP status the table gives code (500 for a code not in it).
int wa_error_status (int code);
//  The original's error envelope {"errors":[{"code":code,"details":...}]}
//  as compact JSON the caller frees; details printf-style, cut at 300
//  bytes. On no memory, a copy of a fixed 1014 envelope (NULL only if even
//  that fails).
char *wa_error_json (int code, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
char *wa_error_vjson (int code, const char *fmt, va_list args) __attribute__ ((format (printf, 2, 0)));

#endif
