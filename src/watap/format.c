/*  format — see format.h */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "format.h"

//  Wide enough for every kind but the rare failover_rate_limited and failover_paused.
#define KIND_WIDTH 16

static const char *s_known_kinds[] = {
    "heartbeat", "reply", "settings", "heartbeat_summary", "reply_summary",
    "lease_acquired", "lease_lost", "lease_released", "promoted", "primary", "demoted",
    "session_opened", "session_closed", "liveness", "failover_rate_limited", "failover_paused",
    "rebalance_paused", "settings_applied", "socket", "retention",
    NULL
};

//  snprintf that appends, and keeps counting past the end of the buffer.
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} out_t;

static void
s_put (out_t *out, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_put (out_t *out, const char *fmt, ...)
{
    size_t used = out->len < out->size ? out->len : out->size;
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (out->buf + used, out->size - used, fmt, args);
    va_end (args);
    if (n > 0)
        out->len += (size_t) n;
}

static void
s_put_node (out_t *out, uint64_t node)
{
    if (node)
        s_put (out, "%" PRIu64, node);
    else
        s_put (out, "?");
}

void
tap_event_parse (const char *text, char *kind, size_t kind_size, uint64_t *subject,
                 const char **detail, size_t *detail_len)
{
    const char *p = text;
    while (*p == ' ')
        p++;
    size_t kind_len = strcspn (p, " ");
    if (kind_len == 0)
        snprintf (kind, kind_size, "event");
    else
        snprintf (kind, kind_size, "%.*s", (int) kind_len, p);
    p += kind_len;
    while (*p == ' ')
        p++;
    *subject = 0;
    size_t word = strcspn (p, " ");
    if (word > 0 && strspn (p, "0123456789") == word) {
        errno = 0;
        unsigned long long value = strtoull (p, NULL, 10);
        if (errno == 0) {
            *subject = (uint64_t) value;
            p += word;
            while (*p == ' ')
                p++;
        }
    }
    size_t len = strlen (p);
    while (len > 0 && p[len - 1] == ' ')
        len--;
    *detail = p;
    *detail_len = len;
}

void
tap_item_from_msg (tap_item_t *item, const wa_msg_t *msg, uint64_t bus_node, wa_usec_t at)
{
    memset (item, 0, sizeof *item);
    item->at = at;
    item->detail = "";
    item->epoch = msg->epoch;
    switch (msg->type) {
        case WA_MSG_HEARTBEAT:
            item->type = TAP_HEARTBEAT;
            snprintf (item->kind, sizeof item->kind, "heartbeat");
            item->node = msg->node ? msg->node : bus_node;
            item->seq = msg->seq;
            item->role = msg->text;
            break;
        case WA_MSG_HB_REPLY:
            item->type = TAP_REPLY;
            snprintf (item->kind, sizeof item->kind, "reply");
            item->node = bus_node;
            item->subject = msg->node;
            item->coreapp = msg->node;
            item->has_shard = msg->shard != UINT32_MAX;
            item->shard = msg->shard;
            item->seq = msg->seq;
            item->connected = (msg->code & 1) != 0;
            item->role = msg->text;
            break;
        case WA_MSG_SETTINGS:
            item->type = TAP_SETTINGS;
            snprintf (item->kind, sizeof item->kind, "settings");
            item->node = bus_node;
            item->seq = msg->seq;
            item->settings = msg->text;
            break;
        case WA_MSG_EVENT:
            item->type = TAP_EVENT;
            item->node = msg->node ? msg->node : bus_node;
            item->has_shard = msg->shard != UINT32_MAX;
            item->shard = msg->shard;
            tap_event_parse (msg->text, item->kind, sizeof item->kind, &item->subject,
                             &item->detail, &item->detail_len);
            break;
        default: {
            item->type = TAP_OTHER;
            uint32_t fields = wa_codec_fields (msg->type);
            const char *name = wa_codec_type_name (msg->type);
            size_t i;
            for (i = 0; name[i] && i < TAP_KIND_MAX; i++)
                item->kind[i] = (char) tolower ((unsigned char) name[i]);
            item->kind[i] = 0;
            item->node = (fields & WA_F_NODE) && msg->node ? msg->node : bus_node;
            item->has_shard = (fields & WA_F_SHARD) && msg->shard != UINT32_MAX;
            item->shard = msg->shard;
            item->seq = msg->seq;
            item->detail = msg->text;
            item->detail_len = msg->text_len;
            break;
        }
    }
}

const char *
tap_format_local_time (wa_usec_t at, char *buf, size_t size)
{
    time_t seconds = (time_t) (at / WA_USEC_PER_SEC);
    int ms = (int) (at % WA_USEC_PER_SEC / 1000);
    struct tm tm;
    localtime_r (&seconds, &tm);
    snprintf (buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

const char *
tap_format_utc_time (wa_usec_t at, char *buf, size_t size)
{
    time_t seconds = (time_t) (at / WA_USEC_PER_SEC);
    int ms = (int) (at % WA_USEC_PER_SEC / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

static const char *
s_role (const tap_item_t *item)
{
    return item->role && *item->role ? item->role : "no role";
}

//  "heartbeat_interval=5 unhealthy_interval=30 ...", or the text as sent
//  when it is not a JSON object.
static void
s_put_settings (out_t *out, const char *text)
{
    json_t *settings = json_loads (text, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object (settings)) {
        s_put (out, "(not a JSON object) %s", text);
        json_decref (settings);
        return;
    }
    const char *key;
    json_t *value;
    const char *separator = "";
    json_object_foreach (settings, key, value) {
        s_put (out, "%s%s=", separator, key);
        separator = " ";
        if (json_is_string (value))
            s_put (out, "%s", json_string_value (value));
        else
        if (json_is_integer (value))
            s_put (out, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
        else
        if (json_is_real (value))
            s_put (out, "%.12g", json_real_value (value));
        else {
            char *dumped = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
            s_put (out, "%s", dumped ? dumped : "?");
            free (dumped);
        }
    }
    if (!*separator)
        s_put (out, "(none)");
    json_decref (settings);
}

static void
s_put_event (out_t *out, const tap_item_t *item)
{
    bool any = false;
    //  A node's events about itself (its sockets, its lease) need no subject.
    if (item->subject && item->subject != item->node) {
        s_put (out, "subject %" PRIu64, item->subject);
        any = true;
    }
    if (item->detail_len) {
        s_put (out, "%s%.*s", any ? ": " : "", (int) item->detail_len, item->detail);
        any = true;
    }
    if (item->has_shard && item->epoch)
        s_put (out, "%s(shard %" PRIu32 ", epoch %" PRIu64 ")", any ? " " : "", item->shard, item->epoch);
    else
    if (item->has_shard)
        s_put (out, "%s(shard %" PRIu32 ")", any ? " " : "", item->shard);
    else
    if (item->epoch)
        s_put (out, "%s(epoch %" PRIu64 ")", any ? " " : "", item->epoch);
}

static size_t
s_details (const tap_item_t *item, out_t *out)
{
    switch (item->type) {
        case TAP_HEARTBEAT:
            s_put (out, "master ");
            s_put_node (out, item->node);
            s_put (out, ": beat %" PRIu64 " (%s", item->seq, s_role (item));
            if (item->epoch)
                s_put (out, ", epoch %" PRIu64, item->epoch);
            s_put (out, ")");
            break;
        case TAP_REPLY:
            s_put (out, "master ");
            s_put_node (out, item->node);
            s_put (out, " ← coreapp ");
            s_put_node (out, item->coreapp);
            s_put (out, ": seq %" PRIu64 " (%s, %s", item->seq, s_role (item),
                   item->connected ? "connected" : "not connected");
            if (item->has_shard)
                s_put (out, ", shard %" PRIu32, item->shard);
            if (item->epoch)
                s_put (out, ", epoch %" PRIu64, item->epoch);
            s_put (out, ")");
            break;
        case TAP_SETTINGS:
            s_put (out, "epoch %" PRIu64 " seq %" PRIu64 ": ", item->epoch, item->seq);
            s_put_settings (out, item->settings ? item->settings : "");
            break;
        case TAP_EVENT:
        case TAP_OTHER:
            s_put_event (out, item);
            break;
        case TAP_HEARTBEAT_SUMMARY:
            s_put (out, "master ");
            s_put_node (out, item->node);
            s_put (out, ": %" PRIu64 " beat%s in %.1f s (%s%s", item->count, item->count == 1 ? "" : "s",
                   item->seconds, item->count ? "" : "silent; was ", s_role (item));
            if (item->epoch)
                s_put (out, ", epoch %" PRIu64, item->epoch);
            s_put (out, ")");
            break;
        case TAP_REPLY_SUMMARY:
            s_put (out, "master ");
            s_put_node (out, item->node);
            s_put (out, " ← coreapp ");
            s_put_node (out, item->coreapp);
            s_put (out, ": %" PRIu64 " repl%s (%s%s, %s)", item->count, item->count == 1 ? "y" : "ies",
                   item->count ? "" : "silent; was ", s_role (item),
                   item->connected ? "connected" : "not connected");
            break;
    }
    return out->len;
}

size_t
tap_format_details (const tap_item_t *item, char *buf, size_t size)
{
    out_t out = { buf, size, 0 };
    if (size)
        buf[0] = 0;
    return s_details (item, &out);
}

//  What people see in the text feed: the summaries keep the names of what
//  they summarise.
static const char *
s_text_kind (const tap_item_t *item)
{
    if (item->type == TAP_HEARTBEAT_SUMMARY)
        return "heartbeat";
    if (item->type == TAP_REPLY_SUMMARY)
        return "reply";
    return item->kind;
}

size_t
tap_format_text (const tap_item_t *item, char *buf, size_t size)
{
    out_t out = { buf, size, 0 };
    if (size)
        buf[0] = 0;
    char when[32], node[24] = "?";
    if (item->node)
        snprintf (node, sizeof node, "%" PRIu64, item->node);
    s_put (&out, "%s  node %-4s %-*s ", tap_format_local_time (item->at, when, sizeof when),
           node, KIND_WIDTH, s_text_kind (item));
    s_details (item, &out);
    //  One item, one line: nothing from the wire may break it or drive the
    //  terminal.
    size_t end = out.len < size ? out.len : (size ? size - 1 : 0);
    for (size_t i = 0; i < end; i++)
        if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    return out.len;
}

//  A JSON string from wire text, which need not be UTF-8: bytes that do not
//  make valid UTF-8 become '?'.
static json_t *
s_json_text (const char *text, size_t len)
{
    json_t *string = json_stringn (text, len);
    if (string)
        return string;
    char *copy = malloc (len + 1);
    if (!copy)
        return json_string ("");
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char) text[i] < 0x80 && text[i] ? text[i] : '?';
    copy[len] = 0;
    string = json_stringn (copy, len);
    free (copy);
    return string;
}

static json_t *
s_json_id (uint64_t id)
{
    return id ? json_integer ((json_int_t) id) : json_null ();
}

char *
tap_format_json (const tap_item_t *item)
{
    char when[40];
    json_t *line = json_object ();
    json_object_set_new (line, "at", json_string (tap_format_utc_time (item->at, when, sizeof when)));
    json_object_set_new (line, "node", s_json_id (item->node));
    json_object_set_new (line, "kind", s_json_text (item->kind, strlen (item->kind)));
    json_object_set_new (line, "shard", item->has_shard ? json_integer (item->shard) : json_null ());
    json_object_set_new (line, "epoch", json_integer ((json_int_t) item->epoch));
    json_object_set_new (line, "subject", s_json_id (item->subject));
    json_t *settings = NULL;
    if (item->type == TAP_SETTINGS) {
        settings = json_loads (item->settings ? item->settings : "", JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object (settings)) {
            json_decref (settings);
            settings = NULL;
        }
    }
    if (item->type == TAP_HEARTBEAT_SUMMARY || item->type == TAP_REPLY_SUMMARY) {
        char text[512];
        size_t len = tap_format_details (item, text, sizeof text);
        json_object_set_new (line, "detail", s_json_text (text, len < sizeof text ? len : sizeof text - 1));
    }
    else
    if (item->type == TAP_SETTINGS && !settings)
        //  Not an object: what was sent, for whoever debugs the sender.
        json_object_set_new (line, "detail", s_json_text (item->settings ? item->settings : "",
                                                          item->settings ? strlen (item->settings) : 0));
    else
        json_object_set_new (line, "detail", s_json_text (item->detail, item->detail_len));
    const char *role = item->role ? item->role : "";
    switch (item->type) {
        case TAP_HEARTBEAT:
            json_object_set_new (line, "role", s_json_text (role, strlen (role)));
            json_object_set_new (line, "seq", json_integer ((json_int_t) item->seq));
            break;
        case TAP_REPLY:
            json_object_set_new (line, "coreapp", s_json_id (item->coreapp));
            json_object_set_new (line, "role", s_json_text (role, strlen (role)));
            json_object_set_new (line, "seq", json_integer ((json_int_t) item->seq));
            json_object_set_new (line, "connected", json_boolean (item->connected));
            break;
        case TAP_SETTINGS:
            json_object_set_new (line, "seq", json_integer ((json_int_t) item->seq));
            json_object_set_new (line, "settings", settings ? settings : json_null ());
            break;
        case TAP_HEARTBEAT_SUMMARY:
        case TAP_REPLY_SUMMARY:
            if (item->type == TAP_REPLY_SUMMARY)
                json_object_set_new (line, "coreapp", s_json_id (item->coreapp));
            json_object_set_new (line, "role", s_json_text (role, strlen (role)));
            json_object_set_new (line, "seq", json_integer ((json_int_t) item->seq));
            if (item->type == TAP_REPLY_SUMMARY)
                json_object_set_new (line, "connected", json_boolean (item->connected));
            json_object_set_new (line, "count", json_integer ((json_int_t) item->count));
            json_object_set_new (line, "seconds", json_real (item->seconds));
            break;
        case TAP_EVENT:
        case TAP_OTHER:
            break;
    }
    char *text = json_dumps (line, JSON_COMPACT | JSON_REAL_PRECISION (6));
    json_decref (line);
    return text;
}

int
tap_filter_add_node (tap_filter_t *self, const char *text)
{
    if (!*text || strspn (text, "0123456789") != strlen (text))
        return -1;
    errno = 0;
    unsigned long long id = strtoull (text, NULL, 10);
    if (errno || id == 0)
        return -1;
    if (self->node_count == TAP_FILTER_MAX)
        return -2;
    self->nodes[self->node_count++] = (uint64_t) id;
    return 0;
}

int
tap_filter_add_kind (tap_filter_t *self, const char *text)
{
    size_t len = strlen (text);
    if (len == 0 || len > TAP_KIND_MAX || strspn (text, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
        return -1;
    if (self->kind_count == TAP_FILTER_MAX)
        return -2;
    snprintf (self->kinds[self->kind_count++], sizeof self->kinds[0], "%s", text);
    return 0;
}

bool
tap_filter_match (const tap_filter_t *self, const tap_item_t *item)
{
    if (self->node_count) {
        bool found = false;
        for (int i = 0; i < self->node_count && !found; i++) {
            uint64_t id = self->nodes[i];
            found = id == item->node || id == item->subject || id == item->coreapp;
        }
        if (!found)
            return false;
    }
    if (self->kind_count) {
        bool found = false;
        for (int i = 0; i < self->kind_count && !found; i++) {
            const char *kind = self->kinds[i];
            found = strcmp (kind, item->kind) == 0
                 || (item->type == TAP_HEARTBEAT_SUMMARY && strcmp (kind, "heartbeat") == 0)
                 || (item->type == TAP_REPLY_SUMMARY && strcmp (kind, "reply") == 0);
        }
        if (!found)
            return false;
    }
    return true;
}

bool
tap_kind_known (const char *kind)
{
    for (int i = 0; s_known_kinds[i]; i++)
        if (strcmp (s_known_kinds[i], kind) == 0)
            return true;
    return false;
}

const char *
tap_kinds_known (void)
{
    static char list[512];
    if (!list[0]) {
        out_t out = { list, sizeof list, 0 };
        for (int i = 0; s_known_kinds[i]; i++)
            s_put (&out, "%s%s", i ? " " : "", s_known_kinds[i]);
    }
    return list;
}
