/*  load — the pure parts of waload (no libcurl, no clock, no files of its
    own): the command line and its checks, reading the Webapp's answers,
    the JSON line recorded per request, and the statistics of a run with
    its summary. main.c drives the requests with libcurl's multi interface. */
#ifndef WALOAD_LOAD_H
#define WALOAD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WALOAD_URL_MAX 1000
#define WALOAD_RUN_ID_MAX 40            //  so "<run id>-<n>" fits waweb's 64
#define WALOAD_COUNT_MAX 1000000000000ULL   //  10^12: n has at most 13 digits
#define WALOAD_TO_BASE_MAX 1000000000000000000ULL  //  10^18: to has at most 19 digits
#define WALOAD_CONCURRENCY_MAX 10000
#define WALOAD_RATE_MAX 1000000.0
#define WALOAD_TIMEOUT_MAX 3600.0
#define WALOAD_DURATION_MAX (31.0 * 86400)
#define WALOAD_BODY_MAX 65536           //  bytes of an answer kept; the rest is read and dropped
#define WALOAD_ID_MAX 127
#define WALOAD_LABEL_MAX 63
#define WALOAD_ERROR_MAX 511
#define WALOAD_GROUPS_MAX 64            //  distinct failure labels counted; later ones go to "other"

//  ---------------------------------------------------------------------
//  The command line

typedef struct {
    char url[WALOAD_URL_MAX + 1];   //  without trailing '/'
    const char *token;              //  --token or $WALOAD_TOKEN
    const char *user;
    const char *password;           //  --password or $WALOAD_PASSWORD
    int concurrency;                //  1..10000, default 8
    double duration;                //  seconds; 0 = no limit (then count is set)
    uint64_t count;                 //  0 = no limit (then duration is set)
    double rate;                    //  requests/s; 0 = as fast as possible
    double timeout;                 //  per request, seconds
    const char *record;             //  NULL = no record
    uint64_t to_base;
    const char *stop_file;          //  NULL = none
    double progress;                //  0 = no progress lines
    char run_id[WALOAD_RUN_ID_MAX + 1]; //  "" = main.c picks a random one
    bool json;
    bool insecure;
} waload_opts_t;

typedef enum {
    WALOAD_GO = 0,
    WALOAD_HELP,
    WALOAD_VERSION,
    WALOAD_USAGE,                   //  err holds the message
} waload_parse_t;

//  Parse argv (getopt_long; resets optind first) into *opts, and check every
//  value. Reads $WALOAD_TOKEN and $WALOAD_PASSWORD for what the options do
//  not give. On WALOAD_USAGE, err names the option and the value.
waload_parse_t waload_opts_parse (waload_opts_t *opts, int argc, char **argv, char *err, size_t err_size);
//  The --help text.
void waload_usage (FILE *out);
//  Is text a usable run id (1 to WALOAD_RUN_ID_MAX of A-Z a-z 0-9 . _ : -)?
bool waload_run_id_valid (const char *text);

//  ---------------------------------------------------------------------
//  Answers

typedef struct {
    bool ok;                            //  201 with messages[0].id
    char id[WALOAD_ID_MAX + 1];         //  "" when there is none
    char label[WALOAD_LABEL_MAX + 1];   //  "" when ok; else "STATUS/CODE" ("503/1011", "502/-")
    char error[WALOAD_ERROR_MAX + 1];   //  "" when ok; else what went wrong
} waload_answer_t;

//  Read an answer of POST /v1/messages: status, the body kept (len bytes,
//  not NUL-terminated), and whether more came than was kept.
void waload_answer_parse (long status, const char *body, size_t len, bool truncated, waload_answer_t *answer);
//  Read the answer of POST /v1/users/login: 0 with the token copied, or -1
//  with err saying why (the status, the error's code and details).
int waload_login_parse (long status, const char *body, size_t len, char *token, size_t token_size,
                        char *err, size_t err_size);

//  ---------------------------------------------------------------------
//  The record: one JSON line per request

typedef struct {
    uint64_t n;
    const char *key;
    const char *to;
    double sent_at;                 //  unix seconds
    double done_at;
    long status;                    //  0 for a transport error
    const char *id;                 //  NULL: none
    const char *error;              //  NULL: none
} waload_rec_t;

//  {"n":..,"key":"..","to":"..","sent_at":S.ssssss,"done_at":..,"latency_ms":L.lll,
//   "status":..,"id":".."|null,"error":".."|null} and a newline.
void waload_record_write (FILE *out, const waload_rec_t *rec);
//  A JSON string literal of text (quotes, escapes; bytes that are not
//  valid UTF-8 become U+FFFD).
void waload_json_string (FILE *out, const char *text);

//  ---------------------------------------------------------------------
//  Statistics

typedef struct {
    char label[WALOAD_LABEL_MAX + 1];
    uint64_t count;
} waload_group_t;

typedef struct {
    uint64_t requests;              //  completed: each has a record
    uint64_t ok;                    //  201 with an id
    uint64_t status_2xx;
    uint64_t answered;              //  got an HTTP status
    uint64_t transport_errors;
    uint64_t duplicate_ids;         //  ok answers whose id another request got too (after finish)
    waload_group_t failed[WALOAD_GROUPS_MAX + 1];       //  answers that are not ok, by label
    size_t nfailed;
    waload_group_t transport[WALOAD_GROUPS_MAX + 1];    //  transport errors, by curl's message
    size_t ntransport;
    uint32_t *latency_us;           //  of answered requests; sorted by finish
    size_t nlatency, caplatency;
    uint64_t *id_hashes;            //  of ok answers; sorted by finish
    size_t nids, capids;
    double end;                     //  seconds from the start: the last completion
    double last_ok;
    double gap, gap_from, gap_to;   //  longest stretch without an ok answer
    bool finished;
    bool oom;
} waload_stats_t;

void waload_stats_init (waload_stats_t *stats);
//  One completed request, done seconds after the start. status 0 is a
//  transport error, with label its kind (curl's message for the code);
//  otherwise answer is what waload_answer_parse read.
void waload_stats_add (waload_stats_t *stats, double sent, double done, long status,
                       const waload_answer_t *answer, const char *transport_label);
//  Close the run at end (seconds from the start; the gap still open runs
//  to it), sort, count duplicate ids.
void waload_stats_finish (waload_stats_t *stats, double end);
void waload_stats_free (waload_stats_t *stats);
//  Nearest-rank percentile (0 < p <= 100) of sorted values, in ms; 0 when n is 0.
double waload_percentile_ms (const uint32_t *sorted_us, size_t n, double p);
//  64-bit FNV-1a of text.
uint64_t waload_hash (const char *text);
//  0 when every request got 201 with an id, there was at least one, and no
//  id came twice; else 1.
int waload_exit_status (const waload_stats_t *stats);

typedef struct {
    const char *run_id;
    const char *url;
    int concurrency;
    double rate;                    //  asked for; 0 = unlimited
    double seconds;                 //  from the first request to the last answer
    const char *stopped_by;         //  "count", "duration", "stop-file", "signal", "login" ...
} waload_run_t;

void waload_summary_text (FILE *out, const waload_stats_t *stats, const waload_run_t *run);
void waload_summary_json (FILE *out, const waload_stats_t *stats, const waload_run_t *run);

#endif
