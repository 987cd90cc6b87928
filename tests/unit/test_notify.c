/*  Unit tests for wa_notify: what a daemon sends to systemd, read from a
    datagram socket standing in for NOTIFY_SOCKET, and nothing at all
    without one. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <czmq.h>
#include "wa_log.h"
#include "wa_notify.h"

typedef struct {
    char dir[64];
    char path[96];
    int fd;                     //  systemd's end: AF_UNIX, SOCK_DGRAM
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/wa-test-notify.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->path, sizeof f->path, "%s/notify", f->dir);
    f->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true (f->fd >= 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", f->path);
    assert_int_equal (bind (f->fd, (struct sockaddr *) &addr, sizeof addr), 0);
    setenv ("NOTIFY_SOCKET", f->path, 1);
    unsetenv ("WATCHDOG_USEC");
    unsetenv ("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    close (f->fd);
    unlink (f->path);
    rmdir (f->dir);
    unsetenv ("NOTIFY_SOCKET");
    unsetenv ("WATCHDOG_USEC");
    unsetenv ("WATCHDOG_PID");
    free (f);
    return 0;
}

//  The next datagram, NUL-terminated in buf; false when none is waiting.
static bool
s_recv (fixture_t *f, char *buf, size_t size)
{
    ssize_t len = recv (f->fd, buf, size - 1, 0);
    if (len < 0)
        return false;
    buf[len] = 0;
    return true;
}

static void
test_ready_status_stopping (void **state)
{
    fixture_t *f = *state;
    char got[600];
    wa_notify_ready ("serving on %s:%d", "127.0.0.1", 9090);
    assert_true (s_recv (f, got, sizeof got));
    assert_string_equal (got, "READY=1\nSTATUS=serving on 127.0.0.1:9090");
    //  A newline in a text would start another assignment: a space.
    wa_notify_status ("primary_coreapp\nREADY=0");
    assert_true (s_recv (f, got, sizeof got));
    assert_string_equal (got, "STATUS=primary_coreapp READY=0");
    wa_notify_stopping ();
    assert_true (s_recv (f, got, sizeof got));
    assert_string_equal (got, "STOPPING=1\nSTATUS=stopping");
    //  Stopping says so to the end (a Coreapp's stop demotes it).
    wa_notify_status ("secondary_coreapp");
    assert_false (s_recv (f, got, sizeof got));
}

static void
test_nothing_without_systemd (void **state)
{
    fixture_t *f = *state;
    unsetenv ("NOTIFY_SOCKET");
    wa_notify_ready ("serving");
    wa_notify_stopping ();
    char got[600];
    assert_false (s_recv (f, got, sizeof got));
    //  No watchdog asked for: no timer.
    wa_loop_t *loop = wa_loop_new ();
    assert_int_equal (wa_notify_watchdog_start (loop), -1);
    wa_loop_destroy (&loop);
}

static int
s_end_loop (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  WATCHDOG=1 at once, then every half of WATCHDOG_USEC from the loop.
static void
test_watchdog_pings_from_the_loop (void **state)
{
    fixture_t *f = *state;
    setenv ("WATCHDOG_USEC", "40000", 1);
    char pid[32];
    snprintf (pid, sizeof pid, "%d", (int) getpid ());
    setenv ("WATCHDOG_PID", pid, 1);
    wa_loop_t *loop = wa_loop_new ();
    assert_true (wa_notify_watchdog_start (loop) >= 0);
    wa_loop_timer (loop, 210, 1, s_end_loop, NULL);
    wa_loop_start (loop);
    wa_loop_destroy (&loop);
    char got[600];
    int pings = 0;
    while (s_recv (f, got, sizeof got)) {
        assert_string_equal (got, "WATCHDOG=1");
        pings++;
    }
    //  One at once and one per 20 ms for 210 ms: about 11; a loaded
    //  machine may run the loop late, never early.
    assert_in_range (pings, 4, 12);
    //  Once the loop is gone, nothing pings.
    usleep (60 * 1000);
    assert_false (s_recv (f, got, sizeof got));
}

//  A watchdog asked for another process (WATCHDOG_PID) is not ours.
static void
test_watchdog_of_another_pid (void **state)
{
    (void) state;
    setenv ("WATCHDOG_USEC", "40000", 1);
    char pid[32];
    snprintf (pid, sizeof pid, "%d", (int) getpid () + 1);
    setenv ("WATCHDOG_PID", pid, 1);
    wa_loop_t *loop = wa_loop_new ();
    assert_int_equal (wa_notify_watchdog_start (loop), -1);
    wa_loop_destroy (&loop);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_ready_status_stopping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_nothing_without_systemd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_watchdog_pings_from_the_loop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_watchdog_of_another_pid, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
