/*  tap — watap's reactor: one SUB socket per bus it follows, the refresh
    that finds the buses in the database (every node up, every 2 s), the
    5-second summaries of heartbeats and replies, and the exits for --count
    and --timeout. The database is read on a wa_dbworker, so a slow database
    never holds up the feed. What a line says is up to format. */
#ifndef TAP_H
#define TAP_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_config.h"
#include "format.h"

typedef struct {
    bool json;                  //  JSON lines instead of text
    bool all;                   //  every heartbeat and reply, not summaries
    tap_filter_t filter;
    uint64_t count;             //  exit after this many items; 0: never
    double timeout;             //  exit after this many seconds; 0: never
    char **endpoints;           //  the buses to follow; none: from the database
    int endpoint_count;
} tap_options_t;

typedef struct _tap_t tap_t;

//  Connects to the buses given, or starts the database worker. NULL when an
//  endpoint is not one ZeroMQ can connect to (said on stderr).
tap_t *tap_new (const wa_config_t *config, const tap_options_t *options);
void tap_destroy (tap_t **self_p);
//  Prints the feed until SIGINT/SIGTERM, --count or --timeout. Returns the
//  exit status.
int tap_run (tap_t *self);

#endif
