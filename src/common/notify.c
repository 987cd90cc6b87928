/*  wa_notify — see include/wa_notify.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include "wa_log.h"
#include "wa_notify.h"

//  STATUS= texts are short: a role, the ports a node serves.
#define NOTIFY_TEXT 512

//  Once stopping, the status stays "stopping" (a Coreapp's stop demotes
//  it, which would say secondary_coreapp).
static bool s_stopping;

//  Sends state when systemd listens. A failure is said once: the daemon
//  serves on (systemd will see it as not ready, or silent, and act).
static void
s_send (const char *state)
{
    static bool warned;
    if (!getenv ("NOTIFY_SOCKET"))
        return;
    int rc = sd_notify (0, state);
    if (rc < 0 && !warned) {
        warned = true;
        wa_warn ("cannot notify systemd (NOTIFY_SOCKET): %s", strerror (-rc));
    }
}

static void
s_send_status (const char *prefix, const char *format, va_list args)
{
    if (s_stopping || !getenv ("NOTIFY_SOCKET"))
        return;
    char state[NOTIFY_TEXT];
    int len = snprintf (state, sizeof state, "%sSTATUS=", prefix);
    vsnprintf (state + len, sizeof state - (size_t) len, format, args);
    //  One STATUS= line: a newline would start another assignment.
    for (char *c = state + len; *c; c++)
        if (*c == '\n')
            *c = ' ';
    s_send (state);
}

void
wa_notify_ready (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_send_status ("READY=1\n", format, args);
    va_end (args);
}

void
wa_notify_status (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_send_status ("", format, args);
    va_end (args);
}

static int
s_on_watchdog (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    s_send ("WATCHDOG=1");
    return 0;
}

int
wa_notify_watchdog_start (wa_loop_t *loop)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled (0, &usec) <= 0 || usec == 0)
        return -1;
    //  Twice per interval, as sd_watchdog_enabled(3) advises: one late
    //  ping is no restart.
    size_t msec = (size_t) (usec / 2000);
    if (msec == 0)
        msec = 1;
    int id = wa_loop_timer (loop, msec, 0, s_on_watchdog, NULL);
    if (id == -1) {
        wa_error ("cannot arm the systemd watchdog's timer");
        return -1;
    }
    wa_info ("systemd watchdog: WATCHDOG=1 every %zu ms (WatchdogSec %.3g s)", msec, usec / 1e6);
    s_send ("WATCHDOG=1");
    return id;
}

void
wa_notify_stopping (void)
{
    s_stopping = true;
    s_send ("STOPPING=1\nSTATUS=stopping");
}
