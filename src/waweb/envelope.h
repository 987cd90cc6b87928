/*  envelope — the JSON every API response is wrapped in (see
    ../shared/reference/API.md): the payload at the top level plus
    "meta": {"version", "api_status"}; a failure adds
    "errors": [{"code", "title", "details"}]. One table maps each error code
    to its title and HTTP status. */
#ifndef WAWEB_ENVELOPE_H
#define WAWEB_ENVELOPE_H

#include <jansson.h>

enum {
    API_GENERIC = 1000,
    API_ACCESS_DENIED = 1005,
    API_NOT_FOUND = 1006,
    API_MISSING = 1008,
    API_INVALID = 1009,
    API_NOT_READY = 1011,
    API_INTERNAL = 1014,
    API_TOO_MANY = 1015,
    API_OVERLOADED = 1016,
    API_NOT_PRIMARY_MASTER = 1017,
    API_NOT_PRIMARY_COREAPP = 1018,
    API_DATABASE = 1023,
    API_PASSWORD_CHANGE = 1024,
};

//  The title of code ("Generic error" for a code not in the table).
const char *envelope_title (int code);
//  The HTTP status the table gives code (500 for a code not in it).
int envelope_status (int code);
//  A new response object holding only "meta".
json_t *envelope_new (void);
//  A new error response: meta plus errors[0] with code, its title and the
//  formatted details.
json_t *envelope_error (int code, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  The code of errors[0] of a response, 0 when it has none.
int envelope_code (const json_t *response);
//  Serialized compactly (malloc'd, the caller frees); never NULL.
char *envelope_dump (const json_t *response, size_t *len);

#endif
