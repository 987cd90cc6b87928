/*  wa_jsonl — see include/wa_jsonl.h */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wa_jsonl.h"

void
wa_jsonl_init (wa_jsonl_t *self)
{
    memset (self, 0, sizeof *self);
    self->stamp_secs = -1;
}

void
wa_jsonl_release (wa_jsonl_t *self)
{
    free (self->buf);
    wa_jsonl_init (self);
}

//  Room for more bytes and a NUL.
static bool
s_room (wa_jsonl_t *self, size_t more)
{
    if (self->failed)
        return false;
    if (self->len + more + 1 <= self->cap)
        return true;
    size_t cap = self->cap ? self->cap : 512;
    while (cap < self->len + more + 1)
        cap *= 2;
    char *buf = (char *) realloc (self->buf, cap);
    if (!buf) {
        self->failed = true;
        return false;
    }
    self->buf = buf;
    self->cap = cap;
    return true;
}

static void
s_put (wa_jsonl_t *self, const char *text, size_t len)
{
    if (!s_room (self, len))
        return;
    memcpy (self->buf + self->len, text, len);
    self->len += len;
    self->buf [self->len] = 0;
}

//  ,"key":
static void
s_key (wa_jsonl_t *self, const char *key)
{
    size_t len = strlen (key);
    if (!s_room (self, len + 4))
        return;
    char *out = self->buf + self->len;
    if (!self->empty)
        *out++ = ',';
    self->empty = false;
    *out++ = '"';
    memcpy (out, key, len);
    out += len;
    *out++ = '"';
    *out++ = ':';
    self->len = (size_t) (out - self->buf);
    self->buf [self->len] = 0;
}

void
wa_jsonl_begin (wa_jsonl_t *self)
{
    self->len = 0;
    self->failed = false;
    self->empty = true;
    s_put (self, "{", 1);
}

void
wa_jsonl_null (wa_jsonl_t *self, const char *key)
{
    s_key (self, key);
    s_put (self, "null", 4);
}

void
wa_jsonl_str (wa_jsonl_t *self, const char *key, const char *value)
{
    if (!value) {
        wa_jsonl_null (self, key);
        return;
    }
    s_key (self, key);
    size_t len = strlen (value);
    //  At worst six bytes a byte (\u00XX), and the quotes.
    if (!s_room (self, len * 6 + 2))
        return;
    static const char hex [] = "0123456789ABCDEF";
    char *out = self->buf + self->len;
    *out++ = '"';
    for (const unsigned char *c = (const unsigned char *) value; *c; c++) {
        switch (*c) {
            case '"':  *out++ = '\\'; *out++ = '"'; break;
            case '\\': *out++ = '\\'; *out++ = '\\'; break;
            case '\b': *out++ = '\\'; *out++ = 'b'; break;
            case '\f': *out++ = '\\'; *out++ = 'f'; break;
            case '\n': *out++ = '\\'; *out++ = 'n'; break;
            case '\r': *out++ = '\\'; *out++ = 'r'; break;
            case '\t': *out++ = '\\'; *out++ = 't'; break;
            default:
                if (*c < 0x20) {
                    memcpy (out, "\\u00", 4);
                    out [4] = hex [*c >> 4];
                    out [5] = hex [*c & 15];
                    out += 6;
                }
                else
                    *out++ = (char) *c;
        }
    }
    *out++ = '"';
    self->len = (size_t) (out - self->buf);
    self->buf [self->len] = 0;
}

//  "key": text, a value written already (a number, a quoted stamp).
static void
s_raw (wa_jsonl_t *self, const char *key, const char *text, int len)
{
    s_key (self, key);
    if (len > 0)
        s_put (self, text, (size_t) len);
}

void
wa_jsonl_int (wa_jsonl_t *self, const char *key, int64_t value)
{
    char text [24];
    s_raw (self, key, text, snprintf (text, sizeof text, "%" PRId64, value));
}

void
wa_jsonl_uint (wa_jsonl_t *self, const char *key, uint64_t value)
{
    char text [24];
    s_raw (self, key, text, snprintf (text, sizeof text, "%" PRIu64, value));
}

void
wa_jsonl_json (wa_jsonl_t *self, const char *key, const json_t *value)
{
    if (!value) {
        wa_jsonl_null (self, key);
        return;
    }
    s_key (self, key);
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        self->failed = true;
        return;
    }
    s_put (self, text, strlen (text));
    free (text);
}

void
wa_jsonl_members (wa_jsonl_t *self, const json_t *object)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) object, key, value) {
        if (json_is_string (value))
            wa_jsonl_str (self, key, json_string_value (value));
        else
            wa_jsonl_json (self, key, value);
    }
}

void
wa_jsonl_iso (wa_jsonl_t *self, const char *key, wa_usec_t wall, int decimals)
{
    int64_t secs = wall / WA_USEC_PER_SEC;
    long usec = (long) (wall % WA_USEC_PER_SEC);
    //  The date and time change once a second, not at every line.
    if (secs != self->stamp_secs) {
        time_t t = (time_t) secs;
        struct tm tm;
        gmtime_r (&t, &tm);
        strftime (self->stamp, sizeof self->stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        self->stamp_secs = secs;
    }
    char text [48];
    int len = decimals == 6 ? snprintf (text, sizeof text, "\"%s.%06ldZ\"", self->stamp, usec)
                            : snprintf (text, sizeof text, "\"%s.%03ldZ\"", self->stamp, usec / 1000);
    s_raw (self, key, text, len);
}

void
wa_jsonl_seconds (wa_jsonl_t *self, const char *key, wa_usec_t wall)
{
    char text [32];
    int len = snprintf (text, sizeof text, "%" PRId64 ".%06" PRId64, (int64_t) (wall / WA_USEC_PER_SEC),
                        (int64_t) (wall % WA_USEC_PER_SEC));
    s_raw (self, key, text, len);
}

int
wa_jsonl_end (wa_jsonl_t *self, FILE *file)
{
    s_put (self, "}\n", 2);
    if (self->failed)
        return -1;
    return fwrite (self->buf, 1, self->len, file) == self->len ? 0 : -1;
}

const char *
wa_jsonl_text (wa_jsonl_t *self)
{
    return self->buf ? self->buf : "";
}
