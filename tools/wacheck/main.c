/*  wacheck — the chaos suite's independent checker. Joins the load
    generator's record, wagate's ledger and the webhook receiver's log into
    one result line per scenario (see check.h and docs/RELIABILITY.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

static void
s_usage (FILE *out)
{
    fprintf (out,
        "wacheck " WA_VERSION " — the chaos suite's independent checker\n"
        "\n"
        "Usage: wacheck --record FILE --ledger FILE [options]\n"
        "\n"
        "Reads the load generator's record (waload --record), wagate's ledger\n"
        "(wagate_ledger) and, when given, the webhook receiver's log, and prints one\n"
        "result line: overlapping upstream sessions (recomputed from the login,\n"
        "logout, expired and kicked lines, and wagate's own overlap lines), messages\n"
        "answered 201 that never reached the upstream, duplicates (recomputed, and\n"
        "wagate's duplicate lines), callbacks emitted upstream but never POSTed to the\n"
        "webhook (n/a without --hooks), the longest stretch in which a shard had no\n"
        "201 answer, failovers (a login of a shard by another node than the\n"
        "shard's previous login), and the longest delivery delays: from a 201 to the\n"
        "message's first arrival upstream, and from an event's emission upstream to\n"
        "its first accepted POST at the webhook (n/a without --hooks).\n"
        "\n"
        "  -r, --record FILE      waload's JSON-lines record (required)\n"
        "  -l, --ledger FILE      wagate's JSON-lines ledger (required)\n"
        "  -H, --hooks FILE       the webhook receiver's JSON-lines log\n"
        "  -s, --since UNIX_S     count session events and stray duplicates from then\n"
        "  -u, --until UNIX_S     ... until then (the record's messages count whenever\n"
        "                         they arrived)\n"
        "  -n, --name NAME        the scenario's name, first on the line\n"
        "      --failovers N      also require exactly N failovers\n"
        "      --failovers-min N  ... at least N\n"
        "      --failovers-max N  ... at most N\n"
        "      --min-ok N         ... at least N requests answered 201\n"
        "      --fail WHY         fail with this reason too (what the suite saw go wrong,\n"
        "                         such as a cluster that did not recover)\n"
        "      --row FILE         append the result as a Markdown table row to FILE\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 when every invariant held (and the expectations given), 1 when\n"
        "one did not, 2 for bad usage or a file that cannot be read.\n");
}

typedef int (*line_fn) (check_t *self, const char *line);

static int
s_read (check_t *check, const char *path, line_fn fn, const char *what)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "wacheck: %s '%s': %s\n", what, path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t size = 0;
    while (getline (&line, &size, file) != -1)
        fn (check, line);
    free (line);
    bool failed = ferror (file);
    fclose (file);
    if (failed) {
        fprintf (stderr, "wacheck: %s '%s': read error\n", what, path);
        return -1;
    }
    return 0;
}

static int
s_number (const char *text, double *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || value < 0)
        return -1;
    *out = value;
    return 0;
}

int
main (int argc, char **argv)
{
    static struct option options [] = {
        { "record", required_argument, NULL, 'r' },
        { "ledger", required_argument, NULL, 'l' },
        { "hooks", required_argument, NULL, 'H' },
        { "since", required_argument, NULL, 's' },
        { "until", required_argument, NULL, 'u' },
        { "name", required_argument, NULL, 'n' },
        { "failovers", required_argument, NULL, 1 },
        { "failovers-min", required_argument, NULL, 2 },
        { "failovers-max", required_argument, NULL, 3 },
        { "min-ok", required_argument, NULL, 4 },
        { "row", required_argument, NULL, 5 },
        { "fail", required_argument, NULL, 6 },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *record = NULL, *ledger = NULL, *hooks = NULL, *name = "run", *row = NULL, *fail = NULL;
    double since = 0, until = 0, fo_min = -1, fo_max = -1, min_ok = -1;
    int opt;
    while ((opt = getopt_long (argc, argv, ":r:l:H:s:u:n:h", options, NULL)) != -1) {
        double value = 0;
        switch (opt) {
            case 'r': record = optarg; break;
            case 'l': ledger = optarg; break;
            case 'H': hooks = optarg; break;
            case 'n': name = optarg; break;
            case 5: row = optarg; break;
            case 6: fail = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case 's': case 'u': case 1: case 2: case 3: case 4:
                if (s_number (optarg, &value)) {
                    fprintf (stderr, "wacheck: '%s' is not a number of the right kind; try 'wacheck --help'\n", optarg);
                    return 2;
                }
                if (opt == 's') since = value;
                if (opt == 'u') until = value;
                if (opt == 1) fo_min = fo_max = value;
                if (opt == 2) fo_min = value;
                if (opt == 3) fo_max = value;
                if (opt == 4) min_ok = value;
                break;
            case ':':
                fprintf (stderr, "wacheck: %s needs a value; try 'wacheck --help'\n", argv [optind - 1]);
                return 2;
            default:
                fprintf (stderr, "wacheck: unknown option '%s'; try 'wacheck --help'\n", argv [optind - 1]);
                return 2;
        }
    }
    if (!record || !ledger || optind < argc) {
        fprintf (stderr, "wacheck: --record and --ledger are required, and nothing else; try 'wacheck --help'\n");
        return 2;
    }
    check_t *check = check_new ();
    if (!check) {
        fprintf (stderr, "wacheck: out of memory\n");
        return 2;
    }
    check_window (check, since, until);
    if (s_read (check, ledger, check_ledger_line, "--ledger")
    ||  s_read (check, record, check_record_line, "--record")
    ||  (hooks && s_read (check, hooks, check_hook_line, "--hooks"))) {
        check_destroy (&check);
        return 2;
    }
    if (hooks)
        check_hooks_present (check);
    check_result_t r;
    check_result (check, &r);
    check_destroy (&check);

    //  The verdict: every invariant, then the scenario's expectations.
    char why [512] = "";
    size_t len = 0;
#define WHY(...) do { if (len < sizeof why) len += (size_t) snprintf (why + len, sizeof why - len, __VA_ARGS__); } while (0)
    if (r.overlaps || r.overlaps_wagate)
        WHY ("; overlaps");
    if (r.lost)
        WHY ("; messages lost");
    if (r.conflicts)
        WHY ("; one id answered to different requests");
    if (r.duplicates || r.duplicates_wagate)
        WHY ("; duplicates");
    if (r.misrouted || r.misrouted_wagate)
        WHY ("; misrouted");
    if (r.callbacks_checked && r.callbacks_lost)
        WHY ("; callbacks lost");
    if (r.callbacks_checked && r.callbacks_out_of_order)
        WHY ("; callbacks out of order");
    if (fo_min >= 0 && (double) r.failovers < fo_min)
        WHY ("; expected %s%.0f failover%s", fo_min == fo_max? "": "at least ", fo_min, fo_min == 1? "": "s");
    else
    if (fo_max >= 0 && (double) r.failovers > fo_max)
        WHY ("; expected %s%.0f failover%s", fo_min == fo_max? "": "at most ", fo_max, fo_max == 1? "": "s");
    if (min_ok >= 0 && (double) r.ok < min_ok)
        WHY ("; fewer than %.0f requests answered 201", min_ok);
    if (r.requests == 0)
        WHY ("; the record is empty");
    if (fail)
        WHY ("; %s", fail);
    bool pass = len == 0;

    char callbacks [64];
    if (r.callbacks_checked)
        snprintf (callbacks, sizeof callbacks, "%" PRIu64 "/%" PRIu64 " (out of order %" PRIu64 ")",
                  r.callbacks_lost, r.callbacks_expected, r.callbacks_out_of_order);
    else
        snprintf (callbacks, sizeof callbacks, "n/a");
    char hook_delay [32] = "n/a";
    if (r.callbacks_checked)
        snprintf (hook_delay, sizeof hook_delay, "%.3f s", r.callback_delay);
    char shard [32] = "";
    if (r.unavailable_shard != UINT32_MAX)
        snprintf (shard, sizeof shard, " (shard %" PRIu32 ")", r.unavailable_shard);
    printf ("%s: %s  overlaps %" PRIu64 " (wagate %" PRIu64 ")  lost %" PRIu64 "/%" PRIu64
            "  duplicates %" PRIu64 " (wagate %" PRIu64 ")  misrouted %" PRIu64 " (wagate %" PRIu64 ")"
            "  callbacks lost %s  unavailable %.3f s%s"
            "  failovers %" PRIu64 "  requests %" PRIu64 " (201: %" PRIu64 ", failed %" PRIu64 ")"
            "  sessions %" PRIu64 ", refused %" PRIu64 "  delays: 201 to upstream %.3f s, emitted to webhook %s"
            "%s%s\n",
            name, pass? "PASS": "FAIL", r.overlaps, r.overlaps_wagate, r.lost, r.ok,
            r.duplicates, r.duplicates_wagate, r.misrouted, r.misrouted_wagate, callbacks, r.unavailable, shard,
            r.failovers, r.requests, r.ok, r.failed, r.sessions, r.refused, r.message_delay, hook_delay,
            pass? "": "  FAILED:", pass? "": why + 1);
    const char *examples [] = { r.overlap_example, r.lost_example, r.duplicate_example, r.misrouted_example,
                                r.callback_example,
                                r.message_delay_example, r.callback_delay_example };
    for (size_t index = 0; index < sizeof examples / sizeof examples [0]; index++)
        if (*examples [index])
            fprintf (stderr, "wacheck: %s: %s\n", name, examples [index]);
    if (r.bad_record_lines || r.bad_ledger_lines || r.bad_hook_lines)
        fprintf (stderr, "wacheck: %s: skipped malformed lines: record %" PRIu64 ", ledger %" PRIu64 ", hooks %" PRIu64 "\n",
                 name, r.bad_record_lines, r.bad_ledger_lines, r.bad_hook_lines);
    if (row) {
        FILE *out = fopen (row, "a");
        if (!out) {
            fprintf (stderr, "wacheck: --row '%s': %s\n", row, strerror (errno));
            return 2;
        }
        if (r.callbacks_checked)
            snprintf (callbacks, sizeof callbacks, "%" PRIu64, r.callbacks_lost);
        fprintf (out, "| %s | %s | %" PRIu64 " (%" PRIu64 ") | %" PRIu64 " | %" PRIu64 " (%" PRIu64 ") | %" PRIu64 " (%" PRIu64
                 ") | %s | %.1f s | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %.1f s / %s | %s |\n",
                 name, pass? "PASS": "**FAIL**", r.overlaps, r.overlaps_wagate, r.lost, r.duplicates,
                 r.duplicates_wagate, r.misrouted, r.misrouted_wagate, callbacks, r.unavailable, r.failovers, r.ok, r.failed,
                 r.message_delay, hook_delay, pass? "": why + 2);
        fclose (out);
    }
    return pass? 0: 1;
}
