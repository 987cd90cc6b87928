/*  wa_notify — a daemon's side of systemd's Type=notify (sd_notify(3)):
    - READY=1 with a STATUS= text once the node serves, the moment it logs
      its "ready:" line (systemctl start returns then, and units ordered
      After= it start);
    - WATCHDOG=1 from the daemon's reactor every half of WatchdogSec, so a
      reactor stuck in a handler stops the pings and systemd restarts it;
    - STOPPING=1 when it begins to stop (its stop takes a few seconds: the
      session closed, the lease released).
    Without systemd ($NOTIFY_SOCKET unset, no WATCHDOG_USEC) nothing is sent
    and no timer is armed. Messages go from the calling thread; the reactor
    thread is the only caller. */
#ifndef WA_NOTIFY_H
#define WA_NOTIFY_H

#include <czmq.h>
#include "wa_loop.h"

//  READY=1 and STATUS=<text>.
void wa_notify_ready (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  STATUS=<text> alone (a role that changed), shown by systemctl status.
void wa_notify_status (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  When systemd asked for a watchdog (sd_watchdog_enabled: WATCHDOG_USEC,
//  and WATCHDOG_PID when set is ours), a timer on loop sends WATCHDOG=1
//  every half of its interval. Returns the timer's id, or -1 when no
//  watchdog was asked for.
int wa_notify_watchdog_start (wa_loop_t *loop);
//  STOPPING=1 and STATUS=stopping; no status is sent after it.
void wa_notify_stopping (void);

#endif
