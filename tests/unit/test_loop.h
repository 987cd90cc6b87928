/*  test_loop — what the unit tests that drive a wa_loop share. */
#ifndef TEST_LOOP_H
#define TEST_LOOP_H

#include <czmq.h>
#include "wa_loop.h"

static int
test_loop_end (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  Run loop for about ms milliseconds: its readers and timers get their turn.
static inline void
test_run_loop (wa_loop_t *loop, int ms)
{
    wa_loop_timer (loop, (size_t) ms, 1, test_loop_end, NULL);
    wa_loop_start (loop);
}

#endif
