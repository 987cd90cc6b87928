/*  input — reading a request's JSON body with jansson, and the fields the
    endpoints take, with the error each mistake gets: 1009 for a body that
    is not JSON or not an object, or a field of the wrong type; 1008 for a
    required field that is missing. The message names the field. */
#ifndef WAWEB_INPUT_H
#define WAWEB_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

//  Parse body (len bytes; NULL or empty gives *out NULL). 0, or an API
//  error code with why filled.
int input_parse (const char *body, size_t len, json_t **out, char *why, size_t whylen);
//  The same, also taking a JSON array when arrays (a list the original's
//  endpoint takes as the body, such as the media providers).
int input_parse_json (const char *body, size_t len, bool arrays, json_t **out, char *why, size_t whylen);
//  The string field name of input into out (at most size-1 bytes, else
//  1009). Absent: 1008 when required, else 0 with out "". 0 / code.
int input_string (json_t *input, const char *name, bool required, char *out, size_t size,
                  char *why, size_t whylen);

#endif
