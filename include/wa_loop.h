/*  wa_loop — the reactor every daemon runs: readers (ZeroMQ sockets) and
    timers, as czmq's zloop, at a fraction of its system calls.

    zloop calls zmq_poll over every reader on every turn, and libzmq asks
    each socket for ZMQ_EVENTS twice per blocking wait (a poll of the
    socket's mailbox and a getpid, each a system call): with the dozen and
    more sockets of a Coreapp, about 60 system calls per wake-up, most of
    its calls under load (docs/BENCHMARKS.md, issue 15). wa_loop waits with
    epoll on the sockets' ZMQ_FDs and asks ZMQ_EVENTS only of:
    - a socket whose ZMQ_FD fired (its mailbox has commands);
    - a socket whose handler just ran, until it says it has nothing more;
    - a socket a handler sent on (wa_loop_touched, which wa_codec_send and
      the DB workers' and actors' senders call): ZMQ_FD is edge-like, and a
      send may take in the command that made the socket readable without
      the fd firing again (zmq_getsockopt(3), ZMQ_FD);
    - every socket, within 10 ms after a turn that ran a handler or a
      timer: a socket a call not marked took readiness from (a connect, a
      receive or a send elsewhere) waits no longer than that.
    A reader is level-triggered as with zloop: its handler is called again
    while the socket has input, once per turn (handlers may drain several
    messages). Timers fire as zloop's (at start + n * delay, in
    milliseconds, times 0 = for ever), before the readers of a turn.
    A handler returning -1 ends wa_loop_start, which returns -1; SIGINT /
    SIGTERM (czmq's zsys_interrupted) or a terminated context end it with 0.
    Readers and timers may be added and ended from any handler, a timer
    ended from its own. One loop per thread; not thread-safe. */
#ifndef WA_LOOP_H
#define WA_LOOP_H

#include <stddef.h>
#include <czmq.h>

typedef struct wa_loop_t wa_loop_t;
typedef int (wa_loop_reader_fn) (wa_loop_t *loop, zsock_t *reader, void *arg);
typedef int (wa_loop_timer_fn) (wa_loop_t *loop, int timer_id, void *arg);

//  NULL when epoll cannot be had (out of file descriptors).
wa_loop_t *wa_loop_new (void);
void wa_loop_destroy (wa_loop_t **self_p);
//  0, or -1 when the socket's ZMQ_FD cannot be watched. A socket already
//  read gets the new handler. End a reader before destroying its socket.
int wa_loop_reader (wa_loop_t *self, zsock_t *sock, wa_loop_reader_fn *handler, void *arg);
void wa_loop_reader_end (wa_loop_t *self, zsock_t *sock);
//  A send or a receive on sock outside its reader's handler: the loop
//  running on this thread, if it reads sock, asks it at its next turn.
void wa_loop_touched (zsock_t *sock);
//  Calls handler every delay ms, times times (0: until ended). The timer's
//  id (>= 0), or -1 when out of memory.
int wa_loop_timer (wa_loop_t *self, size_t delay, size_t times, wa_loop_timer_fn *handler, void *arg);
//  0; -1 when there is no such timer.
int wa_loop_timer_end (wa_loop_t *self, int timer_id);
//  Runs until a handler returns -1 (returns -1), or an interrupt or a
//  terminated context (returns 0).
int wa_loop_start (wa_loop_t *self);

//  The sweep's bound (10 ms; tests make it longer to see what is found
//  without it).
void wa_loop_set_sweep (wa_loop_t *self, size_t msec);

//  What the loop did, for tests and benchmarks: turns, ZMQ_EVENTS asked,
//  sweeps before sleeping, and waits that slept.
typedef struct {
    uint64_t turns;
    uint64_t checks;
    uint64_t sweeps;
    uint64_t sleeps;
} wa_loop_stats_t;
void wa_loop_stats (wa_loop_t *self, wa_loop_stats_t *stats);

#endif
