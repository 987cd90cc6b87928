/*  test_loop — what the unit tests that drive a zloop share. */
#ifndef TEST_LOOP_H
#define TEST_LOOP_H

#include <czmq.h>

static int
test_loop_end (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  Run loop for about ms milliseconds: its readers and timers get their turn.
static inline void
test_run_loop (zloop_t *loop, int ms)
{
    zloop_timer (loop, (size_t) ms, 1, test_loop_end, NULL);
    zloop_start (loop);
}

#endif
