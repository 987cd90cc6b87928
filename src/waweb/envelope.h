/*  envelope — the JSON every API response is wrapped in (see
    ../shared/reference/API.md): the payload at the top level plus
    "meta": {"version", "api_status"}; a failure adds
    "errors": [{"code", "title", "details"}], the code's title and HTTP
    status from the one table of error codes (wa_errors.h). */
#ifndef WAWEB_ENVELOPE_H
#define WAWEB_ENVELOPE_H

#include <jansson.h>
#include "wa_errors.h"

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
