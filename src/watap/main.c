/*  watap — the ZeroMQ monitoring tap: a live feed of what the cluster's
    buses carry (heartbeats, replies, settings, promotions, sockets, ...). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_cli.h"
#include "wa_log.h"
#include "tap.h"

static const wa_cli_t s_cli = {
    .program = "watap",
    .summary = "the ZeroMQ monitoring tap: a live feed of the cluster's buses",
    .usage =
        "  watap [options] [--json] [--all] [--node ID]... [--kind KIND]...\n"
        "        [--count N] [--timeout SECONDS] [ENDPOINT...]\n"
        "\n"
        "Subscribes to the bus (PUB) of every node and prints what it carries, one line\n"
        "per item: \"HH:MM:SS.mmm  node N  KIND  details\". With ENDPOINTs\n"
        "(tcp://HOST:PORT) it follows those; otherwise every node the database knows as\n"
        "up (not stopped, last_seen within 2 x db_liveness_interval), refreshed every\n"
        "2 s so it follows nodes as they come and go. A cluster that is not there yet\n"
        "is waited for. Lines starting \"watap:\" (what it follows) go to stderr.\n"
        "\n"
        "Heartbeats and heartbeat replies are summarised: one line per Master, and per\n"
        "Master and Coreapp, every 5 s. Kinds: heartbeat, reply, settings, and the\n"
        "events lease_acquired, lease_lost, lease_released, promoted, primary, demoted,\n"
        "session_opened, session_closed, liveness, failover_rate_limited,\n"
        "failover_paused, rebalance_paused, settings_applied, socket (ZeroMQ socket\n"
        "events), retention (a pass that deleted rows); others print as they come.\n"
        "\n"
        "  --json             JSON lines: at (UTC), node, kind, shard, epoch, subject,\n"
        "                     detail, and per kind role, seq, coreapp, connected,\n"
        "                     settings; summaries are heartbeat_summary and\n"
        "                     reply_summary (with count and seconds)\n"
        "  --all, -v          print every heartbeat and reply instead of summaries\n"
        "                     (-v also logs the tap itself at debug level)\n"
        "  --node ID          only items from or about node ID (repeatable)\n"
        "  --kind KIND        only items of that kind, as printed (repeatable);\n"
        "                     heartbeat and reply include their summaries\n"
        "  --count N          exit 0 after printing N items\n"
        "  --timeout SECONDS  exit 0 after SECONDS (fractions allowed), printing the\n"
        "                     summaries so far\n"
        "\n"
        "-v also shows malformed frames, which are otherwise only counted. SIGINT and\n"
        "SIGTERM exit 0. Bad usage exits 2.",
    .takes_args = true,
};

enum { OPT_JSON = 256, OPT_ALL, OPT_NODE, OPT_KIND, OPT_COUNT, OPT_TIMEOUT };

typedef struct {
    int opt;
    const char *value;
} own_option_t;

static void
s_usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2), noreturn));

static void
s_usage_error (const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "watap: ");
    vfprintf (stderr, fmt, args);
    fprintf (stderr, "; try 'watap --help'\n");
    va_end (args);
    exit (2);
}

//  wa_cli_start knows the options every program shares and stops at the
//  first it does not know, so watap's own are taken out first (anywhere on
//  the line, as getopt allows) and the shared ones handed on.
static int
s_split (int argc, char **argv, char **shared, own_option_t *own, int *own_count)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "json", no_argument, NULL, OPT_JSON },
        { "all", no_argument, NULL, OPT_ALL },
        { "node", required_argument, NULL, OPT_NODE },
        { "kind", required_argument, NULL, OPT_KIND },
        { "count", required_argument, NULL, OPT_COUNT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { NULL, 0, NULL, 0 }
    };
    int shared_count = 0;
    shared[shared_count++] = argv[0];
    opterr = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, ":c:nvhV", options, NULL)) != -1) {
        if (opt == ':')
            s_usage_error ("option '%s' needs a value", argv[optind - 1]);
        if (opt == '?' && optopt && strncmp (argv[optind - 1], "--", 2) != 0) {
            char name[3] = { '-', (char) optopt, 0 };
            s_usage_error ("unknown option '%s'", name);
        }
        if (opt == '?')
            s_usage_error ("unknown option '%s'", argv[optind - 1]);
        if (opt >= OPT_JSON)
            own[(*own_count)++] = (own_option_t) { opt, optarg };
        else {
            static char flags[5][3] = { "-c", "-n", "-v", "-h", "-V" };
            shared[shared_count++] = flags[strchr ("cnvhV", opt) - "cnvhV"];
            if (opt == 'c')
                shared[shared_count++] = optarg;
        }
    }
    return shared_count;
}

static void
s_apply (tap_options_t *options, const own_option_t *own, int own_count)
{
    for (int i = 0; i < own_count; i++) {
        const char *value = own[i].value;
        char *end;
        int rc;
        switch (own[i].opt) {
            case OPT_JSON: options->json = true; break;
            case OPT_ALL: options->all = true; break;
            case OPT_NODE:
                rc = tap_filter_add_node (&options->filter, value);
                if (rc)
                    s_usage_error ("--node '%s': %s", value, rc == -2 ? "too many node filters"
                                   : "a node id is a whole number from 1");
                break;
            case OPT_KIND:
                rc = tap_filter_add_kind (&options->filter, value);
                if (rc)
                    s_usage_error ("--kind '%s': %s", value, rc == -2 ? "too many kind filters"
                                   : "a kind is a name such as promoted or socket ([a-z0-9_])");
                if (!tap_kind_known (value))
                    fprintf (stderr, "watap: --kind '%s' is none of the kinds watap knows (%s); "
                             "filtering on it anyway\n", value, tap_kinds_known ());
                break;
            case OPT_COUNT: {
                errno = 0;
                long long count = strtoll (value, &end, 10);
                if (errno || end == value || *end || count < 1 || count > 1000000000)
                    s_usage_error ("--count '%s': the number of items must be a whole number "
                                   "from 1 to 1000000000", value);
                options->count = (uint64_t) count;
                break;
            }
            case OPT_TIMEOUT: {
                errno = 0;
                double seconds = strtod (value, &end);
                if (errno || end == value || *end || !isfinite (seconds) || seconds <= 0 || seconds > 1e7)
                    s_usage_error ("--timeout '%s': seconds must be a number above 0 "
                                   "(fractions allowed), at most 10000000", value);
                options->timeout = seconds;
                break;
            }
        }
    }
}

int
main (int argc, char **argv)
{
    char **shared = calloc ((size_t) argc * 2 + 1, sizeof *shared);
    own_option_t *own = calloc ((size_t) argc, sizeof *own);
    int own_count = 0;
    int shared_count = s_split (argc, argv, shared, own, &own_count);
    int first_endpoint = optind;
    wa_config_t config;
    int first;
    optind = 0;                 //  glibc: start afresh on the shared options
    wa_cli_start (&s_cli, shared_count, shared, &config, &first);

    tap_options_t options = { .endpoints = argv + first_endpoint, .endpoint_count = argc - first_endpoint };
    s_apply (&options, own, own_count);
    //  -v, as for every program, logs at debug level; for a tap it also
    //  means every heartbeat and reply, not their summaries.
    if (wa_log_threshold == WA_LOG_DEBUG)
        options.all = true;
    free (own);
    free (shared);
    for (int i = 0; i < options.endpoint_count; i++)
        if (!strstr (options.endpoints[i], "://"))
            s_usage_error ("'%s' is not a ZeroMQ endpoint (tcp://HOST:PORT)", options.endpoints[i]);
    tap_t *tap = tap_new (&config, &options);
    if (!tap)
        return 2;
    int status = tap_run (tap);
    tap_destroy (&tap);
    return status;
}
