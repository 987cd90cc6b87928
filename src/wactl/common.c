/*  wactl — what the commands share: connecting, errors, options, signals,
    formatting. */
#define _GNU_SOURCE         //  ppoll
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wactl.h"

static volatile sig_atomic_t s_interrupted;

static void
s_vprint_error (wactl_t *self, const char *fmt, va_list args)
{
    char text[1024];
    vsnprintf (text, sizeof text, fmt, args);
    if (self->json) {
        json_t *json = json_pack ("{s:s}", "error", text);
        wactl_print_json (json, false);
        json_decref (json);
    }
    else
        fprintf (stderr, "wactl: %s\n", text);
}

int
wactl_fail (wactl_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    s_vprint_error (self, fmt, args);
    va_end (args);
    return 1;
}

int
wactl_connect (wactl_t *self)
{
    if (!self->db)
        self->db = wa_db_new (self->config);
    //  Connected without the database selected means it does not exist yet:
    //  that is for wactl_require_schema to say.
    if (wa_db_ensure (self->db) && !wa_db_connected (self->db)) {
        wactl_fail (self, "cannot reach the database at %s:%d: %s", self->config->db_hostname,
                    self->config->db_port, wa_db_error (self->db));
        return -1;
    }
    return 0;
}

int
wactl_require_schema (wactl_t *self)
{
    int version = wa_db_schema_version (self->db);
    if (version < 0) {
        wactl_fail (self, "cannot read the schema version from the database at %s:%d: %s",
                    self->config->db_hostname, self->config->db_port, wa_db_error (self->db));
        return -1;
    }
    if (version == 0) {
        wactl_fail (self, "the cluster's database '%s' has no schema yet: no Master has started",
                    self->config->db_name);
        return -1;
    }
    //  The cluster's stored settings, not this wactl's config file, say how
    //  old a liveness claim may be: judge the nodes as the Masters do.
    bool missing;
    json_t *stored = wactl_settings_read (self, &missing);
    if (stored) {
        wactl_settings_apply (self->config, stored, NULL, false);
        json_decref (stored);
    }
    return version;
}

void
wactl_who (char *buf, size_t size)
{
    char host[256];
    if (gethostname (host, sizeof host) != 0)
        snprintf (host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    snprintf (buf, size, "wactl@%.57s", host);
}

int64_t
wactl_liveness_window (const wactl_t *self)
{
    return wa_alive_window (self->config->db_liveness_interval);
}

void
wactl_options_start (void)
{
    //  0 makes glibc's getopt start afresh on the command's own argv.
    optind = 0;
    opterr = 0;
}

int
wactl_option (wactl_t *self, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    int opt = getopt_long (argc, argv, shortopts, longopts, NULL);
    if (opt != '?' && opt != ':')
        return opt;
    const char *arg = argv[optind - 1];
    if (opt == ':')
        fprintf (stderr, "wactl %s: option '%s' needs a value; try 'wactl --help'\n", self->command, arg);
    else
    if (optopt && strncmp (arg, "--", 2) != 0)
        fprintf (stderr, "wactl %s: unknown option '-%c'; try 'wactl --help'\n", self->command, optopt);
    else
        fprintf (stderr, "wactl %s: unknown option '%s'; try 'wactl --help'\n", self->command, arg);
    return '?';
}

int
wactl_no_more_args (wactl_t *self, int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    fprintf (stderr, "wactl %s: unexpected argument '%s'; try 'wactl --help'\n", self->command, argv[optind]);
    return -1;
}

int
wactl_usage_error (wactl_t *self, const char *fmt, ...)
{
    char text[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    fprintf (stderr, "wactl %s: %s\n", self->command, text);
    return 2;
}

static void
s_on_signal (int sig)
{
    (void) sig;
    s_interrupted = 1;
}

void
wactl_catch_signals (void)
{
    //  SA_RESTART keeps a signal from failing a database read half way;
    //  SA_RESETHAND lets a second Ctrl-C end a wait on a hung database.
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    action.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

bool
wactl_interrupted (void)
{
    return s_interrupted != 0;
}

int
wactl_sleep_until (wa_usec_t deadline)
{
    //  The signals stay blocked between checking the flag and ppoll, which
    //  unblocks them atomically: one cannot slip in between and be missed.
    sigset_t block, normal;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    sigprocmask (SIG_BLOCK, &block, &normal);
    while (!s_interrupted) {
        wa_usec_t left = deadline - wa_clock_mono ();
        if (left <= 0)
            break;
        struct timespec timeout = {
            .tv_sec = (time_t) (left / WA_USEC_PER_SEC),
            .tv_nsec = (long) (left % WA_USEC_PER_SEC) * 1000
        };
        if (ppoll (NULL, 0, &timeout, &normal) < 0 && errno != EINTR)
            break;
    }
    sigprocmask (SIG_SETMASK, &normal, NULL);
    return s_interrupted ? -1 : 0;
}

const char *
wactl_human_time (const char *iso, char *buf, size_t size)
{
    //  "2024-05-01T12:00:00.123456Z" -> "2024-05-01 12:00:00.123"
    if (!iso || !*iso)
        snprintf (buf, size, "-");
    else {
        snprintf (buf, size, "%.23s", iso);
        char *t = strchr (buf, 'T');
        if (t)
            *t = ' ';
    }
    return buf;
}

const char *
wactl_human_seconds (double seconds, char *buf, size_t size)
{
    const char *sign = seconds < 0 ? "-" : "";
    double s = fabs (seconds);
    long long whole = (long long) s;
    if (s < 60)
        snprintf (buf, size, "%s%.3fs", sign, s);
    else
    if (s < 3600)
        snprintf (buf, size, "%s%lldm%02llds", sign, whole / 60, whole % 60);
    else
    if (s < 86400)
        snprintf (buf, size, "%s%lldh%02lldm", sign, whole / 3600, whole % 3600 / 60);
    else
        snprintf (buf, size, "%s%lldd%02lldh", sign, whole / 86400, whole % 86400 / 3600);
    return buf;
}

void
wactl_print_json (json_t *json, bool compact)
{
    //  Twelve significant digits: the database's microseconds, without
    //  the binary noise of seventeen.
    size_t flags = JSON_REAL_PRECISION (12) | (compact ? JSON_COMPACT : JSON_INDENT (2));
    json_dumpf (json, stdout, flags);
    fputc ('\n', stdout);
}
