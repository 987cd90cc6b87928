/*  load — see load.h */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "load.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

#define DEFAULT_CONCURRENCY 8
#define DEFAULT_DURATION 10.0
#define DEFAULT_TIMEOUT 60.0
#define DEFAULT_TO_BASE 16315550000ULL
#define TOKEN_MAX 512

//  ---------------------------------------------------------------------
//  The command line

void
waload_usage (FILE *out)
{
    fprintf (out,
        "waload %s — the cluster's HTTP load generator and recorder\n"
        "\n"
        "Usage: waload --url URL (--token TOKEN | --user NAME --password PW) [options]\n"
        "\n"
        "Sends POST URL/v1/messages from one thread over up to N kept-alive connections\n"
        "(libcurl's multi interface), records every request with its answer, and prints\n"
        "a summary. Request N (1, 2, ...) carries the headers\n"
        "  Authorization: Bearer TOKEN\n"
        "  Content-Type: application/json\n"
        "  Idempotency-Key: RUNID-N        (unique per request; a retried key gets the\n"
        "                                  same message id from the cluster)\n"
        "and the body\n"
        "  {\"to\":\"<to-base + N>\",\"type\":\"text\",\"recipient_type\":\"individual\",\n"
        "   \"text\":{\"body\":\"waload RUNID N\"}}\n"
        "A request is good when it is answered 201 with {\"messages\":[{\"id\":...}]}.\n"
        "waload does not retry: every request is sent once and its outcome recorded.\n"
        "\n"
        "Target and credentials:\n"
        "  -u, --url URL          the Webapp: http://HOST:PORT or https://HOST:PORT\n"
        "                         (required; a trailing '/' is dropped)\n"
        "  -T, --token TOKEN      bearer token (default: $WALOAD_TOKEN)\n"
        "      --user NAME        instead of a token: log in first, POST URL/v1/users/login\n"
        "      --password PW      with Basic NAME:PW, and use the token of the answer; the\n"
        "                         password defaults to $WALOAD_PASSWORD (kept out of ps)\n"
        "  -k, --insecure         HTTPS: do not verify the server's certificate\n"
        "\n"
        "Load:\n"
        "  -c, --concurrency N    requests in flight at once, 1 to %d (default %d)\n"
        "  -d, --duration S       stop sending new requests after S seconds (fractions\n"
        "                         allowed, up to 31 days). Default %g when --count is not\n"
        "                         given.\n"
        "  -n, --count N          stop after sending N requests, 1 to 10^12. With both\n"
        "                         --count and --duration, whichever comes first.\n"
        "  -r, --rate R           start R requests per second in all (fractions allowed,\n"
        "                         up to 1000000); 0, the default, is as fast as the\n"
        "                         connections allow. Request N is due (N-1)/R seconds\n"
        "                         after the start; one due while every connection is\n"
        "                         busy starts as soon as one frees up.\n"
        "  -t, --timeout S        per-request timeout, connecting included (default %g;\n"
        "                         0.001 to 3600). Past it the request is a transport\n"
        "                         error.\n"
        "      --to-base B        the recipient of request N is B + N (default %llu;\n"
        "                         0 to 10^18), so the recipients spread over the shards\n"
        "      --run-id ID        the run's id, in every key and body: 1 to %d characters\n"
        "                         of A-Z a-z 0-9 . _ : - (default: 12 random hex digits).\n"
        "                         Giving an earlier run's id replays its keys.\n"
        "      --stop-file PATH   stop sending new requests once PATH exists (looked at\n"
        "                         every 10 ms); the requests in flight are waited for\n"
        "\n"
        "Output:\n"
        "  -o, --record FILE      write one JSON line per request as it completes\n"
        "                         (buffered, flushed at the end; FILE is truncated):\n"
        "                           {\"n\":N,\"key\":\"RUNID-N\",\"to\":\"...\",\n"
        "                            \"sent_at\":UNIX_S.uuuuuu,\"done_at\":UNIX_S.uuuuuu,\n"
        "                            \"latency_ms\":MS,\"status\":HTTP_STATUS,\n"
        "                            \"id\":\"MESSAGE_ID\"|null,\"error\":\"...\"|null}\n"
        "                         status is 0 for a transport error (refused, reset,\n"
        "                         timeout): error is then curl's message. For an error\n"
        "                         answer, error is \"CODE: details\" from the envelope.\n"
        "      --json             print the summary as one JSON object\n"
        "      --progress S       a line on stderr every S seconds (0.1 to 3600): sent,\n"
        "                         answered, 201s, in flight, req/s\n"
        "  -h, --help             this text\n"
        "  -V, --version          print the version\n"
        "\n"
        "The summary (stdout): requests, 201s with an id, 2xx, the other answers by\n"
        "STATUS/CODE (\"503/1011\"; CODE is \"-\" for JSON without an error code, \"no\n"
        "id\" for a 2xx without messages[0].id, \"not JSON\", \"too large\" past 64 KiB),\n"
        "transport errors by kind, ids given twice (to different requests), req/s, the\n"
        "latency p50/p90/p99/max of the answered requests, and the longest gap: the\n"
        "longest stretch of the run, from its first request to its last answer, in\n"
        "which no request was answered 201 with an id.\n"
        "\n"
        "SIGINT or SIGTERM: stop sending, wait for the requests in flight (each at most\n"
        "--timeout), print the summary. A second one stops waiting: the requests still\n"
        "in flight are recorded as transport errors (\"aborted\").\n"
        "\n"
        "Exit status: 0 when at least one request was sent and every request was\n"
        "answered 201 with an id, each id different; 1 otherwise (also when the login or\n"
        "the record fails); 2 for bad usage.\n",
        WA_VERSION, WALOAD_CONCURRENCY_MAX, DEFAULT_CONCURRENCY, DEFAULT_DURATION, DEFAULT_TIMEOUT,
        (unsigned long long) DEFAULT_TO_BASE, WALOAD_RUN_ID_MAX);
}

bool
waload_run_id_valid (const char *text)
{
    size_t len = strlen (text);
    if (len == 0 || len > WALOAD_RUN_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static waload_parse_t
s_bad (char *err, size_t err_size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static waload_parse_t
s_bad (char *err, size_t err_size, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, err_size, fmt, args);
    va_end (args);
    return WALOAD_USAGE;
}

//  A whole number of digits only, in [min, max].
static bool
s_uint (const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!*text || strlen (text) > 20)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value < min || value > max)
        return false;
    *out = value;
    return true;
}

//  A decimal number (digits, at most one '.'), finite, in [min, max].
static bool
s_number (const char *text, double min, double max, double *out)
{
    bool digit = false, dot = false;
    if (!*text || strlen (text) > 32)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (*p == '.' && !dot)
            dot = true;
        else
            return false;
    }
    if (!digit)
        return false;
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || *end || !isfinite (value) || value < min || value > max)
        return false;
    *out = value;
    return true;
}

//  A header value: 1 to max printable ASCII characters, no spaces.
static bool
s_token_valid (const char *text, size_t max)
{
    size_t len = strlen (text);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] <= ' ' || text[i] > '~')
            return false;
    return true;
}

static bool
s_printable (const char *text)
{
    for (const char *p = text; *p; p++)
        if ((unsigned char) *p < ' ' || *p == 0x7f)
            return false;
    return true;
}

enum {
    OPT_USER = 256, OPT_PASSWORD, OPT_TO_BASE, OPT_RUN_ID, OPT_STOP_FILE, OPT_JSON, OPT_PROGRESS
};

waload_parse_t
waload_opts_parse (waload_opts_t *opts, int argc, char **argv, char *err, size_t err_size)
{
    static const struct option options[] = {
        { "url", required_argument, NULL, 'u' },
        { "token", required_argument, NULL, 'T' },
        { "user", required_argument, NULL, OPT_USER },
        { "password", required_argument, NULL, OPT_PASSWORD },
        { "insecure", no_argument, NULL, 'k' },
        { "concurrency", required_argument, NULL, 'c' },
        { "duration", required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'n' },
        { "rate", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "to-base", required_argument, NULL, OPT_TO_BASE },
        { "run-id", required_argument, NULL, OPT_RUN_ID },
        { "stop-file", required_argument, NULL, OPT_STOP_FILE },
        { "record", required_argument, NULL, 'o' },
        { "json", no_argument, NULL, OPT_JSON },
        { "progress", required_argument, NULL, OPT_PROGRESS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    memset (opts, 0, sizeof *opts);
    opts->concurrency = DEFAULT_CONCURRENCY;
    opts->timeout = DEFAULT_TIMEOUT;
    opts->to_base = DEFAULT_TO_BASE;
    const char *url = NULL;
    bool has_duration = false;
    *err = 0;
    optind = 0;                 //  GNU: start afresh (tests parse many times)
    opterr = 0;                 //  the messages are ours
    int opt;
    while ((opt = getopt_long (argc, argv, ":u:T:kc:d:n:r:t:o:hV", options, NULL)) != -1) {
        uint64_t whole;
        switch (opt) {
            case 'u': url = optarg; break;
            case 'T': opts->token = optarg; break;
            case OPT_USER: opts->user = optarg; break;
            case OPT_PASSWORD: opts->password = optarg; break;
            case 'k': opts->insecure = true; break;
            case 'c':
                if (!s_uint (optarg, 1, WALOAD_CONCURRENCY_MAX, &whole))
                    return s_bad (err, err_size, "--concurrency '%s': must be a whole number from 1 to %d",
                                  optarg, WALOAD_CONCURRENCY_MAX);
                opts->concurrency = (int) whole;
                break;
            case 'd':
                if (!s_number (optarg, 0, WALOAD_DURATION_MAX, &opts->duration) || opts->duration <= 0)
                    return s_bad (err, err_size, "--duration '%s': must be a number of seconds above 0, "
                                  "up to %.0f (31 days)", optarg, WALOAD_DURATION_MAX);
                has_duration = true;
                break;
            case 'n':
                if (!s_uint (optarg, 1, WALOAD_COUNT_MAX, &opts->count))
                    return s_bad (err, err_size, "--count '%s': must be a whole number from 1 to "
                                  "1000000000000", optarg);
                break;
            case 'r':
                if (!s_number (optarg, 0, WALOAD_RATE_MAX, &opts->rate))
                    return s_bad (err, err_size, "--rate '%s': must be a number of requests per second "
                                  "from 0 (as fast as possible) to %.0f", optarg, WALOAD_RATE_MAX);
                break;
            case 't':
                if (!s_number (optarg, 0.001, WALOAD_TIMEOUT_MAX, &opts->timeout))
                    return s_bad (err, err_size, "--timeout '%s': must be a number of seconds from 0.001 "
                                  "to %.0f", optarg, WALOAD_TIMEOUT_MAX);
                break;
            case OPT_TO_BASE:
                if (!s_uint (optarg, 0, WALOAD_TO_BASE_MAX, &opts->to_base))
                    return s_bad (err, err_size, "--to-base '%s': must be a whole number from 0 to "
                                  "1000000000000000000 (10^18)", optarg);
                break;
            case OPT_RUN_ID:
                if (!waload_run_id_valid (optarg))
                    return s_bad (err, err_size, "--run-id '%s': must be 1 to %d characters of "
                                  "A-Z a-z 0-9 . _ : -", optarg, WALOAD_RUN_ID_MAX);
                strcpy (opts->run_id, optarg);
                break;
            case OPT_STOP_FILE:
                if (!*optarg)
                    return s_bad (err, err_size, "--stop-file: the path is empty");
                opts->stop_file = optarg;
                break;
            case 'o':
                if (!*optarg)
                    return s_bad (err, err_size, "--record: the file name is empty");
                opts->record = optarg;
                break;
            case OPT_JSON: opts->json = true; break;
            case OPT_PROGRESS:
                if (!s_number (optarg, 0, 3600, &opts->progress) || (opts->progress > 0 && opts->progress < 0.1))
                    return s_bad (err, err_size, "--progress '%s': must be 0 (off) or a number of seconds "
                                  "from 0.1 to 3600", optarg);
                break;
            case 'h': return WALOAD_HELP;
            case 'V': return WALOAD_VERSION;
            case ':':
                return s_bad (err, err_size, "option '%s' needs a value", argv[optind - 1]);
            default:
                if (optopt && optopt < 256)
                    return s_bad (err, err_size, "unknown option '-%c'", optopt);
                return s_bad (err, err_size, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_bad (err, err_size, "unexpected argument '%s'", argv[optind]);

    //  The URL
    if (!url || !*url)
        return s_bad (err, err_size, "--url is required (e.g. --url http://127.0.0.1:9090)");
    size_t len = strlen (url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    size_t scheme = strncasecmp (url, "http://", 7) == 0 ? 7 : strncasecmp (url, "https://", 8) == 0 ? 8 : 0;
    if (!scheme)
        return s_bad (err, err_size, "--url '%s': must start with http:// or https://", url);
    if (len <= scheme)
        return s_bad (err, err_size, "--url '%s': no host after the scheme", url);
    if (len > WALOAD_URL_MAX)
        return s_bad (err, err_size, "--url: longer than %d characters", WALOAD_URL_MAX);
    for (size_t i = 0; i < len; i++)
        if (url[i] <= ' ' || url[i] > '~')
            return s_bad (err, err_size, "--url '%s': spaces and control characters are not allowed", url);
    memcpy (opts->url, url, len);
    opts->url[len] = 0;

    //  Credentials: a token, or a user and a password
    if (opts->token && opts->user)
        return s_bad (err, err_size, "give --token or --user (with --password), not both");
    if (opts->password && !opts->user)
        return s_bad (err, err_size, "--password needs --user");
    if (!opts->token && !opts->user) {
        const char *env = getenv ("WALOAD_TOKEN");
        if (env && *env)
            opts->token = env;
    }
    if (opts->user && !opts->password) {
        const char *env = getenv ("WALOAD_PASSWORD");
        if (env && *env)
            opts->password = env;
    }
    if (!opts->token && !opts->user)
        return s_bad (err, err_size, "no credentials: give --token TOKEN (or $WALOAD_TOKEN), "
                      "or --user NAME with --password PW (or $WALOAD_PASSWORD)");
    if (opts->token && !s_token_valid (opts->token, TOKEN_MAX))
        return s_bad (err, err_size, "--token: must be 1 to %d printable characters without spaces", TOKEN_MAX);
    if (opts->user) {
        if (!*opts->user || strchr (opts->user, ':') || !s_printable (opts->user) || strlen (opts->user) > 256)
            return s_bad (err, err_size, "--user '%s': must be 1 to 256 printable characters without ':'",
                          opts->user);
        if (!opts->password)
            return s_bad (err, err_size, "--user needs --password PW (or $WALOAD_PASSWORD)");
        if (!*opts->password || !s_printable (opts->password) || strlen (opts->password) > 256)
            return s_bad (err, err_size, "--password: must be 1 to 256 printable characters");
    }
    if (!has_duration && opts->count == 0)
        opts->duration = DEFAULT_DURATION;
    return WALOAD_GO;
}

//  ---------------------------------------------------------------------
//  Answers

//  Up to 80 bytes of body, control and non-ASCII bytes as '.'.
static void
s_snippet (const char *body, size_t len, char *out, size_t size)
{
    size_t max = len < 80 ? len : 80, o = 0;
    for (size_t i = 0; i < max && o + 4 < size; i++) {
        unsigned char c = (unsigned char) body[i];
        out[o++] = c >= ' ' && c < 0x7f ? (char) c : '.';
    }
    if (len > max && o + 4 < size) {
        memcpy (out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
    if (len == 0)
        snprintf (out, size, "(empty)");
}

//  errors[0] of an envelope: code (0 if none) and details (or title).
static json_int_t
s_envelope_error (json_t *root, const char **text)
{
    *text = NULL;
    json_t *error = json_array_get (json_object_get (root, "errors"), 0);
    if (!json_is_object (error))
        return 0;
    json_t *code = json_object_get (error, "code");
    const char *details = json_string_value (json_object_get (error, "details"));
    const char *title = json_string_value (json_object_get (error, "title"));
    *text = details && *details ? details : title ? title : "";
    return json_is_integer (code) ? json_integer_value (code) : 0;
}

static json_t *
s_load (const char *body, size_t len)
{
    json_error_t error;
    json_t *root = len ? json_loadb (body, len, 0, &error) : NULL;
    if (root && !json_is_object (root)) {
        json_decref (root);
        root = NULL;
    }
    return root;
}

void
waload_answer_parse (long status, const char *body, size_t len, bool truncated, waload_answer_t *answer)
{
    memset (answer, 0, sizeof *answer);
    char snippet[100];
    if (truncated) {
        snprintf (answer->label, sizeof answer->label, "%ld/too large", status);
        snprintf (answer->error, sizeof answer->error, "HTTP %ld: an answer larger than %d bytes",
                  status, WALOAD_BODY_MAX);
        return;
    }
    json_t *root = s_load (body, len);
    if (!root) {
        s_snippet (body, len, snippet, sizeof snippet);
        snprintf (answer->label, sizeof answer->label, "%ld/not JSON", status);
        snprintf (answer->error, sizeof answer->error, "HTTP %ld: not a JSON object: %s", status, snippet);
        return;
    }
    if (status >= 200 && status < 300) {
        json_t *message = json_array_get (json_object_get (root, "messages"), 0);
        const char *id = json_string_value (json_object_get (message, "id"));
        size_t id_len = id ? strlen (id) : 0;
        if (id_len > 0 && id_len <= WALOAD_ID_MAX && s_printable (id)) {
            strcpy (answer->id, id);
            if (status == 201)
                answer->ok = true;
            else {
                snprintf (answer->label, sizeof answer->label, "%ld/-", status);
                snprintf (answer->error, sizeof answer->error, "HTTP %ld instead of 201", status);
            }
        }
        else {
            s_snippet (body, len, snippet, sizeof snippet);
            snprintf (answer->label, sizeof answer->label, "%ld/no id", status);
            snprintf (answer->error, sizeof answer->error, "HTTP %ld without a usable messages[0].id: %s",
                      status, snippet);
        }
    }
    else {
        const char *text;
        json_int_t code = s_envelope_error (root, &text);
        if (code) {
            snprintf (answer->label, sizeof answer->label, "%ld/%" JSON_INTEGER_FORMAT, status, code);
            snprintf (answer->error, sizeof answer->error, "%" JSON_INTEGER_FORMAT ": %s", code, text);
        }
        else {
            s_snippet (body, len, snippet, sizeof snippet);
            snprintf (answer->label, sizeof answer->label, "%ld/-", status);
            snprintf (answer->error, sizeof answer->error, "HTTP %ld without an error code: %s", status, snippet);
        }
    }
    json_decref (root);
}

int
waload_login_parse (long status, const char *body, size_t len, char *token, size_t token_size,
                    char *err, size_t err_size)
{
    char snippet[100];
    json_t *root = s_load (body, len);
    if (!root) {
        s_snippet (body, len, snippet, sizeof snippet);
        snprintf (err, err_size, "HTTP %ld, not a JSON object: %s", status, snippet);
        return -1;
    }
    int rc = -1;
    if (status == 200) {
        json_t *user = json_array_get (json_object_get (root, "users"), 0);
        const char *value = json_string_value (json_object_get (user, "token"));
        if (value && strlen (value) < token_size && s_token_valid (value, TOKEN_MAX)) {
            strcpy (token, value);
            rc = 0;
        }
        else
            snprintf (err, err_size, "HTTP 200 without a usable users[0].token");
    }
    else {
        const char *text;
        json_int_t code = s_envelope_error (root, &text);
        if (code)
            snprintf (err, err_size, "HTTP %ld, %" JSON_INTEGER_FORMAT ": %s", status, code, text);
        else
            snprintf (err, err_size, "HTTP %ld without an error code", status);
    }
    json_decref (root);
    return rc;
}

//  ---------------------------------------------------------------------
//  The record

//  Length of the valid UTF-8 sequence at p (at most n bytes), or 0.
static size_t
s_utf8_len (const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;       //  no surrogates
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    }
    else
        return 0;
    if (n < need + 1)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need + 1;
}

//  text with each byte that is not part of valid UTF-8 as U+FFFD; malloc'd,
//  NULL when out of memory.
static char *
s_utf8_clean (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t n = strlen (text), o = 0;
    char *clean = malloc (3 * n + 1);
    if (!clean)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = p[i] < 0x80 ? 1 : s_utf8_len (p + i, n - i);
        if (len) {
            memcpy (clean + o, p + i, len);
            o += len;
            i += len;
        }
        else {
            memcpy (clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    clean[o] = 0;
    return clean;
}

void
waload_json_string (FILE *out, const char *text)
{
    //  jansson escapes, and refuses text that is not UTF-8 (an error message
    //  cut in the middle of a character): that is cleaned first.
    json_t *value = json_string (text);
    if (!value) {
        char *clean = s_utf8_clean (text);
        value = clean ? json_string (clean) : NULL;
        free (clean);
    }
    if (!value || json_dumpf (value, out, JSON_ENCODE_ANY))
        fputs ("\"\"", out);
    json_decref (value);
}

void
waload_record_write (FILE *out, const waload_rec_t *rec)
{
    fprintf (out, "{\"n\":%" PRIu64 ",\"key\":", rec->n);
    waload_json_string (out, rec->key ? rec->key : "");
    fputs (",\"to\":", out);
    waload_json_string (out, rec->to ? rec->to : "");
    double latency = (rec->done_at - rec->sent_at) * 1000;
    fprintf (out, ",\"sent_at\":%.6f,\"done_at\":%.6f,\"latency_ms\":%.3f,\"status\":%ld,\"id\":",
             rec->sent_at, rec->done_at, latency < 0 ? 0 : latency, rec->status);
    if (rec->id)
        waload_json_string (out, rec->id);
    else
        fputs ("null", out);
    fputs (",\"error\":", out);
    if (rec->error)
        waload_json_string (out, rec->error);
    else
        fputs ("null", out);
    fputs ("}\n", out);
}

//  ---------------------------------------------------------------------
//  Statistics

void
waload_stats_init (waload_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
}

void
waload_stats_free (waload_stats_t *stats)
{
    free (stats->latency_us);
    free (stats->id_hashes);
    memset (stats, 0, sizeof *stats);
}

uint64_t
waload_hash (const char *text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    return hash;
}

static void
s_group_add (waload_group_t *groups, size_t *n, const char *label)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp (groups[i].label, label) == 0) {
            groups[i].count++;
            return;
        }
    if (*n < WALOAD_GROUPS_MAX) {
        snprintf (groups[*n].label, sizeof groups[*n].label, "%s", label);
        groups[(*n)++].count = 1;
        return;
    }
    //  The last slot gathers every later label.
    if (*n == WALOAD_GROUPS_MAX) {
        snprintf (groups[*n].label, sizeof groups[*n].label, "other");
        groups[(*n)++].count = 0;
    }
    groups[WALOAD_GROUPS_MAX].count++;
}

static bool
s_grow (void **array, size_t *cap, size_t n, size_t item)
{
    if (n < *cap)
        return true;
    size_t cap2 = *cap ? *cap * 2 : 1024;
    void *bigger = realloc (*array, cap2 * item);
    if (!bigger)
        return false;
    *array = bigger;
    *cap = cap2;
    return true;
}

void
waload_stats_add (waload_stats_t *stats, double sent, double done, long status,
                  const waload_answer_t *answer, const char *transport_label)
{
    stats->requests++;
    if (done > stats->end)
        stats->end = done;
    if (status == 0) {
        stats->transport_errors++;
        s_group_add (stats->transport, &stats->ntransport,
                     transport_label && *transport_label ? transport_label : "transport error");
        return;
    }
    stats->answered++;
    if (s_grow ((void **) &stats->latency_us, &stats->caplatency, stats->nlatency, sizeof (uint32_t))) {
        double us = (done - sent) * 1e6;
        stats->latency_us[stats->nlatency++] = us <= 0 ? 0 : us >= UINT32_MAX ? UINT32_MAX : (uint32_t) lround (us);
    }
    else
        stats->oom = true;
    if (status >= 200 && status < 300)
        stats->status_2xx++;
    if (answer && answer->ok) {
        stats->ok++;
        if (s_grow ((void **) &stats->id_hashes, &stats->capids, stats->nids, sizeof (uint64_t)))
            stats->id_hashes[stats->nids++] = waload_hash (answer->id);
        else
            stats->oom = true;
        if (done - stats->last_ok > stats->gap) {
            stats->gap = done - stats->last_ok;
            stats->gap_from = stats->last_ok;
            stats->gap_to = done;
        }
        if (done > stats->last_ok)
            stats->last_ok = done;
    }
    else
        s_group_add (stats->failed, &stats->nfailed, answer && *answer->label ? answer->label : "unknown");
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_group (const void *a, const void *b)
{
    const waload_group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp (x->label, y->label);
}

void
waload_stats_finish (waload_stats_t *stats, double end)
{
    if (stats->finished)
        return;
    stats->finished = true;
    if (end > stats->end)
        stats->end = end;
    if (stats->end - stats->last_ok > stats->gap) {
        stats->gap = stats->end - stats->last_ok;
        stats->gap_from = stats->last_ok;
        stats->gap_to = stats->end;
    }
    if (stats->nlatency)
        qsort (stats->latency_us, stats->nlatency, sizeof (uint32_t), s_cmp_u32);
    if (stats->nids)
        qsort (stats->id_hashes, stats->nids, sizeof (uint64_t), s_cmp_u64);
    for (size_t i = 1; i < stats->nids; i++)
        if (stats->id_hashes[i] == stats->id_hashes[i - 1])
            stats->duplicate_ids++;
    qsort (stats->failed, stats->nfailed, sizeof (waload_group_t), s_cmp_group);
    qsort (stats->transport, stats->ntransport, sizeof (waload_group_t), s_cmp_group);
}

double
waload_percentile_ms (const uint32_t *sorted_us, size_t n, double p)
{
    if (n == 0)
        return 0;
    double rank = ceil (p / 100.0 * (double) n);
    size_t index = rank < 1 ? 0 : (size_t) rank - 1;
    if (index >= n)
        index = n - 1;
    return sorted_us[index] / 1000.0;
}

int
waload_exit_status (const waload_stats_t *stats)
{
    return stats->requests > 0 && stats->ok == stats->requests && stats->duplicate_ids == 0 ? 0 : 1;
}

static double
s_rate (const waload_stats_t *stats, const waload_run_t *run)
{
    return run->seconds > 0 ? (double) stats->requests / run->seconds : 0;
}

void
waload_summary_text (FILE *out, const waload_stats_t *stats, const waload_run_t *run)
{
    char rate[40];
    if (run->rate > 0)
        snprintf (rate, sizeof rate, "rate %g/s", run->rate);
    else
        snprintf (rate, sizeof rate, "rate unlimited");
    fprintf (out, "waload %s: %" PRIu64 " requests in %.3f s, %.1f req/s (%s, concurrency %d, %s; stopped by %s)\n",
             run->run_id, stats->requests, run->seconds, s_rate (stats, run), run->url, run->concurrency, rate,
             run->stopped_by ? run->stopped_by : "?");
    fprintf (out, "  201 with an id     %" PRIu64 "\n", stats->ok);
    fprintf (out, "  2xx                %" PRIu64 "\n", stats->status_2xx);
    fprintf (out, "  other answers      %" PRIu64 "\n", stats->answered - stats->ok);
    for (size_t i = 0; i < stats->nfailed; i++)
        fprintf (out, "    %8" PRIu64 "  %s\n", stats->failed[i].count, stats->failed[i].label);
    fprintf (out, "  transport errors   %" PRIu64 "\n", stats->transport_errors);
    for (size_t i = 0; i < stats->ntransport; i++)
        fprintf (out, "    %8" PRIu64 "  %s\n", stats->transport[i].count, stats->transport[i].label);
    fprintf (out, "  ids given twice    %" PRIu64 "\n", stats->duplicate_ids);
    if (stats->nlatency)
        fprintf (out, "  latency ms         p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (of %zu answered)\n",
                 waload_percentile_ms (stats->latency_us, stats->nlatency, 50),
                 waload_percentile_ms (stats->latency_us, stats->nlatency, 90),
                 waload_percentile_ms (stats->latency_us, stats->nlatency, 99),
                 stats->latency_us[stats->nlatency - 1] / 1000.0, stats->nlatency);
    else
        fprintf (out, "  latency ms         (no answers)\n");
    fprintf (out, "  longest gap        %.3f s without a 201 (from +%.3f s to +%.3f s)\n",
             stats->gap, stats->gap_from, stats->gap_to);
    if (stats->oom)
        fprintf (out, "  (out of memory: some latencies or ids were not kept)\n");
}

static double
s_round3 (double value)
{
    return round (value * 1000) / 1000;
}

void
waload_summary_json (FILE *out, const waload_stats_t *stats, const waload_run_t *run)
{
    json_t *failed = json_object ();
    for (size_t i = 0; i < stats->nfailed; i++)
        json_object_set_new (failed, stats->failed[i].label, json_integer ((json_int_t) stats->failed[i].count));
    json_t *transport = json_object ();
    for (size_t i = 0; i < stats->ntransport; i++)
        json_object_set_new (transport, stats->transport[i].label,
                             json_integer ((json_int_t) stats->transport[i].count));
    json_t *latency = json_object ();
    const char *names[] = { "p50", "p90", "p99" };
    double ps[] = { 50, 90, 99 };
    for (size_t i = 0; i < 3; i++)
        json_object_set_new (latency, names[i],
                             json_real (s_round3 (waload_percentile_ms (stats->latency_us, stats->nlatency, ps[i]))));
    json_object_set_new (latency, "max", json_real (stats->nlatency ?
                                                     stats->latency_us[stats->nlatency - 1] / 1000.0 : 0));
    json_t *root = json_object ();
    json_object_set_new (root, "run_id", json_string (run->run_id));
    json_object_set_new (root, "url", json_string (run->url));
    json_object_set_new (root, "concurrency", json_integer (run->concurrency));
    json_object_set_new (root, "rate", json_real (run->rate));
    json_object_set_new (root, "stopped_by", json_string (run->stopped_by ? run->stopped_by : "?"));
    json_object_set_new (root, "seconds", json_real (s_round3 (run->seconds)));
    json_object_set_new (root, "requests", json_integer ((json_int_t) stats->requests));
    json_object_set_new (root, "ok", json_integer ((json_int_t) stats->ok));
    json_object_set_new (root, "status_2xx", json_integer ((json_int_t) stats->status_2xx));
    json_object_set_new (root, "answered", json_integer ((json_int_t) stats->answered));
    json_object_set_new (root, "other_answers", json_integer ((json_int_t) (stats->answered - stats->ok)));
    json_object_set_new (root, "failed", failed);
    json_object_set_new (root, "transport_errors", json_integer ((json_int_t) stats->transport_errors));
    json_object_set_new (root, "transport", transport);
    json_object_set_new (root, "duplicate_ids", json_integer ((json_int_t) stats->duplicate_ids));
    json_object_set_new (root, "req_per_s", json_real (round (s_rate (stats, run) * 10) / 10));
    json_object_set_new (root, "latency_ms", latency);
    json_object_set_new (root, "longest_gap_s", json_real (s_round3 (stats->gap)));
    json_object_set_new (root, "longest_gap_from_s", json_real (s_round3 (stats->gap_from)));
    json_object_set_new (root, "longest_gap_to_s", json_real (s_round3 (stats->gap_to)));
    json_object_set_new (root, "exit_status", json_integer (waload_exit_status (stats)));
    if (stats->oom)
        json_object_set_new (root, "out_of_memory", json_true ());
    json_dumpf (root, out, JSON_COMPACT | JSON_REAL_PRECISION (15));
    fputc ('\n', out);
    json_decref (root);
}
