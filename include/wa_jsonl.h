/*  wa_jsonl — one JSON object written as a line, member by member, into a
    buffer the writer keeps: for ledgers that write several lines per
    message (wagate's: a "message" line and an "emitted" and an "event_ack"
    line per status), where building a jansson object and dumping it cost
    more than the rest of the line's work (issue 15).
    Strings are escaped as jansson escapes them (", \, control characters;
    UTF-8 passed through); a member's value may also be any jansson value,
    dumped compact. Keys are the caller's literals and are not escaped. The
    caller writes each key once. Not thread-safe. */
#ifndef WA_JSONL_H
#define WA_JSONL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "wa_clock.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;                //  out of memory: the line is not written
    bool empty;                 //  no member yet
    int64_t stamp_secs;         //  the second stamp holds, -1: none
    char stamp [24];            //  "2026-01-02T03:04:05"
} wa_jsonl_t;

void wa_jsonl_init (wa_jsonl_t *self);
void wa_jsonl_release (wa_jsonl_t *self);
//  Starts a line: "{".
void wa_jsonl_begin (wa_jsonl_t *self);
//  "key":"value" (escaped); null when value is NULL.
void wa_jsonl_str (wa_jsonl_t *self, const char *key, const char *value);
void wa_jsonl_int (wa_jsonl_t *self, const char *key, int64_t value);
void wa_jsonl_uint (wa_jsonl_t *self, const char *key, uint64_t value);
void wa_jsonl_null (wa_jsonl_t *self, const char *key);
//  "key": the value dumped compact (null when NULL).
void wa_jsonl_json (wa_jsonl_t *self, const char *key, const json_t *value);
//  Each member of an object, in its order (nothing when not an object).
void wa_jsonl_members (wa_jsonl_t *self, const json_t *object);
//  "key":"2026-01-02T03:04:05.678901Z" (UTC; decimals 6 or 3).
void wa_jsonl_iso (wa_jsonl_t *self, const char *key, wa_usec_t wall, int decimals);
//  "key":seconds.microseconds, a number (1767323045.678901).
void wa_jsonl_seconds (wa_jsonl_t *self, const char *key, wa_usec_t wall);
//  "}\n" and the line to file. 0, -1 when it could not be built or written.
int wa_jsonl_end (wa_jsonl_t *self, FILE *file);
//  The line so far (tests): NUL-terminated, without the newline.
const char *wa_jsonl_text (wa_jsonl_t *self);

#endif
