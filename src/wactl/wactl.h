/*  wactl — the operator's CLI. It talks to the database directly: a CLI may
    block, and the database is the cluster's source of truth.

    Every time comparison is made by the database's clock (NOW(6)), never by
    this machine's, so wactl tells the same story the nodes act on. */
#ifndef WACTL_H
#define WACTL_H

#include <stdbool.h>
#include <stdio.h>
#include <getopt.h>
#include <jansson.h>
#include "wa_clock.h"
#include "wa_config.h"
#include "wa_db.h"
#include "wa_codec.h"

//  SQL fragments shared by the commands' statements (string literals, so the
//  statements stay static and are prepared once).
#define WACTL_ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"
#define WACTL_UNTIL(col) "TIMESTAMPDIFF(MICROSECOND, NOW(6), " col ") / 1e6"
#define WACTL_AGE(col) "TIMESTAMPDIFF(MICROSECOND, " col ", NOW(6)) / 1e6"
//  Takes one parameter: the liveness window in microseconds.
#define WACTL_STATE(n) \
    "CASE WHEN " n ".stopped_at IS NOT NULL THEN 'stopped'" \
    " WHEN TIMESTAMPDIFF(MICROSECOND, " n ".last_seen, NOW(6)) <= ? THEN 'up'" \
    " ELSE 'down' END"

//  The schema version that has the shard map, cluster_info and events.
#define WACTL_SCHEMA_CLUSTER 2
//  The schema version that has gc_state (retention).
#define WACTL_SCHEMA_RETENTION 9
//  The schema version that has the pause (cluster_info.paused_at).
#define WACTL_SCHEMA_OPERATOR 10
//  The schema version that changes the shard count live (cluster_info.change_state).
#define WACTL_SCHEMA_RESHARD 15
//  nodes.db_node, the write fences, named_locks (a Galera cluster)
#define WACTL_SCHEMA_GALERA 16
//  inbound_ids (what PUT /v1/messages/{id} needs), its retention in gc_state
#define WACTL_SCHEMA_INBOUND_IDS 17

typedef struct {
    wa_config_t *config;
    wa_db_t *db;
    const char *command;        //  "status", for messages
    bool json;
} wactl_t;

//  The commands. Each takes its own arguments (argv[0] is the command's name)
//  and returns the process's exit status: 0 done, 1 failed, 2 bad usage.
int wactl_status (wactl_t *self, int argc, char **argv);
int wactl_events (wactl_t *self, int argc, char **argv);
int wactl_wait (wactl_t *self, int argc, char **argv);
int wactl_schema (wactl_t *self, int argc, char **argv);
int wactl_settings (wactl_t *self, int argc, char **argv);
int wactl_users (wactl_t *self, int argc, char **argv);
int wactl_keys (wactl_t *self, int argc, char **argv);
int wactl_switchover (wactl_t *self, int argc, char **argv);
int wactl_pause (wactl_t *self, int argc, char **argv);
int wactl_resume (wactl_t *self, int argc, char **argv);
int wactl_ping (wactl_t *self, int argc, char **argv);

//  The pause as {"at", "by", "reason"}, or null when not paused or the
//  schema predates it. NULL on a database error.
json_t *wactl_pause_read (wactl_t *self, int version);

//  The settings table as a JSON object: name -> {"value", "updated_at",
//  "updated_by"}, as stored (not validated). A schema older than the table
//  reads as none stored, with *missing set. NULL on a database error.
json_t *wactl_settings_read (wactl_t *self, bool *missing);
//  The stored text of a setting, NULL when none is stored.
const char *wactl_settings_value (json_t *stored, const char *name);
//  Overlays config with every stored setting that passes validation (but
//  skip, when not NULL). With warn, an invalid one is noted on stderr.
void wactl_settings_apply (wa_config_t *config, json_t *stored, const char *skip, bool warn);

//  Sends msg to the primary Master's control port with wactl's bus key
//  (bus_cert) and waits up to timeout_ms for one answer, read into msg
//  (any type: the caller checks). version is the schema's (keys from 8
//  on). 0 answered, with the Master's id in *master; -1 with why.
int wactl_ask_master (wactl_t *self, int version, wa_msg_t *msg, int timeout_ms, long long *master,
                      char *why, size_t whylen);
//  Connects. On failure prints "cannot reach the database at HOST:PORT: ..."
//  (as {"error": ...} in JSON mode) and returns -1.
int wactl_connect (wactl_t *self);
//  The schema version, after reporting the error itself when there is none
//  yet or it cannot be read: returns -1 then.
int wactl_require_schema (wactl_t *self);
//  Prints an error: "wactl: text" on stderr, or {"error": "text"} on stdout
//  in JSON mode. Returns 1, the exit status for it.
int wactl_fail (wactl_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  "wactl@host", within 64 characters: who made a change (settings'
//  updated_by, cluster_info's paused_by, the audit log).
void wactl_who (char *buf, size_t size);
//  The window within which last_seen means "up": twice the liveness interval.
int64_t wactl_liveness_window (const wactl_t *self);

//  getopt_long over a command's arguments with wactl's error messages.
//  Returns the option, -1 after the last one, or '?' once it has printed a
//  usage error. Call wactl_options_start before the first.
void wactl_options_start (void);
int wactl_option (wactl_t *self, int argc, char **argv, const char *shortopts, const struct option *longopts);
//  After the options: a usage error (returns -1) if arguments are left over.
int wactl_no_more_args (wactl_t *self, int argc, char **argv);
//  Usage error about a value: prints it, returns 2.
int wactl_usage_error (wactl_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  SIGINT and SIGTERM set a flag (a second one ends the process); sleeping
//  until a monotonic deadline returns -1 once that flag is set, else 0.
void wactl_catch_signals (void);
bool wactl_interrupted (void);
int wactl_sleep_until (wa_usec_t deadline);

//  Formatting for humans: "2024-05-01 12:00:00.123" from the ISO text the
//  statements return, and "4.512s", "12m05s", "3h07m", "-2d04h".
const char *wactl_human_time (const char *iso, char *buf, size_t size);
const char *wactl_human_seconds (double seconds, char *buf, size_t size);
//  Prints a JSON document (indented, or one line when compact) and a newline.
void wactl_print_json (json_t *json, bool compact);

//  An aligned table: headings, then cells filled row by row.
typedef struct wactl_table_t wactl_table_t;
wactl_table_t *wactl_table_new (int columns, ...);
void wactl_table_destroy (wactl_table_t **self_p);
void wactl_table_cell (wactl_table_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void wactl_table_print (wactl_table_t *self, FILE *out);

#endif
