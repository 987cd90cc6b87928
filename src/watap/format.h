/*  format — what watap prints: one item of the feed (a message from a bus,
    or a summary of heartbeats or replies) as an aligned text line for people
    or as a JSON line for scripts, and the filters that choose the items.

    Pure: no sockets, no clock reads (the time of an item comes in), no I/O.
    An item points into the message it came from (role, detail, settings),
    so it lives no longer than that message. */
#ifndef FORMAT_H
#define FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wa_clock.h"
#include "wa_codec.h"

#define TAP_KIND_MAX 63
#define TAP_FILTER_MAX 64

typedef enum {
    TAP_HEARTBEAT,
    TAP_REPLY,
    TAP_SETTINGS,
    TAP_EVENT,
    TAP_OTHER,                  //  a message type a bus does not normally carry
    TAP_HEARTBEAT_SUMMARY,
    TAP_REPLY_SUMMARY,
} tap_type_t;

typedef struct {
    tap_type_t type;
    wa_usec_t at;               //  wall clock (usec since 1970) when received
    uint64_t node;              //  the node it is from; 0: not known
    char kind[TAP_KIND_MAX + 1];
    bool has_shard;
    uint32_t shard;
    uint64_t epoch;
    uint64_t subject;           //  the node it is about; 0: none
    const char *detail;         //  detail_len bytes, not NUL-terminated
    size_t detail_len;
    //  heartbeat, reply, settings and the summaries
    uint64_t seq;
    const char *role;
    //  reply and its summary
    uint64_t coreapp;
    bool connected;
    //  settings: the JSON object as sent
    const char *settings;
    //  summaries: how many in how long (count 0: the source fell silent)
    uint64_t count;
    double seconds;
} tap_item_t;

typedef struct {
    uint64_t nodes[TAP_FILTER_MAX];
    int node_count;
    char kinds[TAP_FILTER_MAX][TAP_KIND_MAX + 1];
    int kind_count;
} tap_filter_t;

//  Splits an event's text "<kind> <subject> <detail...>". A second word that
//  is not a number belongs to the detail (subject 0); the detail has no
//  surrounding spaces. An empty text is kind "event".
void tap_event_parse (const char *text, char *kind, size_t kind_size, uint64_t *subject,
                      const char **detail, size_t *detail_len);

//  The item for a message received at `at` on the bus of bus_node (0: not
//  known). Heartbeats and events name their node; replies and settings are
//  from the Master whose bus carried them.
void tap_item_from_msg (tap_item_t *item, const wa_msg_t *msg, uint64_t bus_node, wa_usec_t at);

//  "HH:MM:SS.mmm  node N    KIND              details" (local time), without
//  a newline; control characters from the wire print as '?'. Truncated to
//  size like snprintf; returns the length it would have had.
size_t tap_format_text (const tap_item_t *item, char *buf, size_t size);
//  Only the details: "master 3: 5 beats in 5.0 s (primary_master, epoch 2)".
size_t tap_format_details (const tap_item_t *item, char *buf, size_t size);
//  One JSON object on one line, without a newline; the caller frees it.
char *tap_format_json (const tap_item_t *item);

//  "12:00:01.234" in local time, "2024-05-01T12:00:01.234Z" in UTC.
const char *tap_format_local_time (wa_usec_t at, char *buf, size_t size);
const char *tap_format_utc_time (wa_usec_t at, char *buf, size_t size);

//  Filters. Adding parses the option's value: 0, or -1 when it is not a node
//  id (a whole number from 1) or not a kind's name ([a-z0-9_], at most
//  TAP_KIND_MAX), or -2 when TAP_FILTER_MAX are already given.
int tap_filter_add_node (tap_filter_t *self, const char *text);
int tap_filter_add_kind (tap_filter_t *self, const char *text);
//  Kept when no node is given or its node, subject or coreapp is one of
//  them, and no kind is given or its kind is one of them ("heartbeat" and
//  "reply" also keep their summaries).
bool tap_filter_match (const tap_filter_t *self, const tap_item_t *item);
//  A kind watap knows it may print (others are printed as they come).
bool tap_kind_known (const char *kind);
//  The known kinds, space-separated, for messages.
const char *tap_kinds_known (void);

#endif
