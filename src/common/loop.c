/*  wa_loop — see include/wa_loop.h */
#include <sys/epoll.h>
#include "wa_log.h"
#include "wa_loop.h"

//  After it ran a handler, the loop asks every socket within this time: a
//  socket whose readiness a call on it took in (one not marked with
//  wa_loop_touched) waits no longer than this.
#define SWEEP_MSEC 10        //  wa_loop_set_sweep
#define EVENTS_MAX      64

typedef struct {
    zsock_t *sock;
    void *handle;                       //  zsock_resolve (sock)
    int fd;                             //  its ZMQ_FD
    wa_loop_reader_fn *handler;
    void *arg;
    bool hot;                           //  ask ZMQ_EVENTS this turn
    bool dead;                          //  ended; freed at the next turn
} reader_t;

typedef struct {
    int id;
    size_t delay;
    size_t times;                       //  0: for ever
    int64_t when;                       //  zclock_mono
    wa_loop_timer_fn *handler;
    void *arg;
    bool dead;
} loop_timer_t;

//  The loop running on this thread, for wa_loop_touched.
static __thread wa_loop_t *s_running;

struct wa_loop_t {
    int epoll;
    reader_t **readers;
    size_t nreaders, readers_cap;
    loop_timer_t **timers;
    size_t ntimers, timers_cap;
    int last_timer_id;
    bool reap;                          //  a reader or timer was ended
    bool acted;                         //  a handler ran since the last sweep
    int64_t last_sweep;
    int64_t sweep_msec;
    wa_loop_stats_t stats;
};

wa_loop_t *
wa_loop_new (void)
{
    wa_loop_t *self = (wa_loop_t *) calloc (1, sizeof (wa_loop_t));
    if (!self)
        return NULL;
    self->epoll = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll == -1) {
        wa_error ("loop: epoll_create1: %s", strerror (errno));
        free (self);
        return NULL;
    }
    self->sweep_msec = SWEEP_MSEC;
    return self;
}

void
wa_loop_destroy (wa_loop_t **self_p)
{
    wa_loop_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nreaders; i++)
        free (self->readers [i]);
    for (size_t i = 0; i < self->ntimers; i++)
        free (self->timers [i]);
    free (self->readers);
    free (self->timers);
    close (self->epoll);
    free (self);
    *self_p = NULL;
}

//  Grows an array of pointers to hold one more. 0 / -1.
static int
s_grow (void ***array, size_t count, size_t *cap)
{
    if (count < *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 16;
    void **grown = (void **) realloc (*array, next * sizeof (void *));
    if (!grown)
        return -1;
    *array = grown;
    *cap = next;
    return 0;
}

static reader_t *
s_reader_find (wa_loop_t *self, zsock_t *sock)
{
    for (size_t i = 0; i < self->nreaders; i++)
        if (self->readers [i]->sock == sock && !self->readers [i]->dead)
            return self->readers [i];
    return NULL;
}

int
wa_loop_reader (wa_loop_t *self, zsock_t *sock, wa_loop_reader_fn *handler, void *arg)
{
    assert (self && sock && handler);
    reader_t *reader = s_reader_find (self, sock);
    if (reader) {
        reader->handler = handler;
        reader->arg = arg;
        reader->hot = true;
        return 0;
    }
    if (s_grow ((void ***) &self->readers, self->nreaders, &self->readers_cap))
        return -1;
    reader = (reader_t *) calloc (1, sizeof (reader_t));
    if (!reader)
        return -1;
    reader->sock = sock;
    reader->handle = zsock_resolve (sock);
    size_t len = sizeof reader->fd;
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = reader };
    if (zmq_getsockopt (reader->handle, ZMQ_FD, &reader->fd, &len) == -1
    ||  epoll_ctl (self->epoll, EPOLL_CTL_ADD, reader->fd, &event) == -1) {
        wa_error ("loop: cannot watch a %s socket: %s", zsock_type_str (sock), strerror (errno));
        free (reader);
        return -1;
    }
    reader->handler = handler;
    reader->arg = arg;
    //  It may hold input already: its fd fired before it was watched.
    reader->hot = true;
    self->readers [self->nreaders++] = reader;
    return 0;
}

void
wa_loop_touched (zsock_t *sock)
{
    wa_loop_t *self = s_running;
    if (!self || !sock)
        return;
    reader_t *reader = s_reader_find (self, sock);
    if (reader)
        reader->hot = true;
}

void
wa_loop_reader_end (wa_loop_t *self, zsock_t *sock)
{
    reader_t *reader = s_reader_find (self, sock);
    if (!reader)
        return;
    epoll_ctl (self->epoll, EPOLL_CTL_DEL, reader->fd, NULL);
    reader->dead = true;
    reader->hot = false;
    self->reap = true;
}

int
wa_loop_timer (wa_loop_t *self, size_t delay, size_t times, wa_loop_timer_fn *handler, void *arg)
{
    assert (self && handler);
    if (s_grow ((void ***) &self->timers, self->ntimers, &self->timers_cap))
        return -1;
    loop_timer_t *timer = (loop_timer_t *) calloc (1, sizeof (loop_timer_t));
    if (!timer)
        return -1;
    //  From 1, as zloop's, and not reused while the loop lives.
    if (self->last_timer_id == INT_MAX)
        self->last_timer_id = 0;
    timer->id = ++self->last_timer_id;
    timer->delay = delay;
    timer->times = times;
    timer->when = zclock_mono () + (int64_t) delay;
    timer->handler = handler;
    timer->arg = arg;
    self->timers [self->ntimers++] = timer;
    return timer->id;
}

int
wa_loop_timer_end (wa_loop_t *self, int timer_id)
{
    for (size_t i = 0; i < self->ntimers; i++) {
        loop_timer_t *timer = self->timers [i];
        if (timer->id == timer_id && !timer->dead) {
            timer->dead = true;
            self->reap = true;
            return 0;
        }
    }
    return -1;
}

void
wa_loop_set_sweep (wa_loop_t *self, size_t msec)
{
    self->sweep_msec = msec ? (int64_t) msec : 1;
}

void
wa_loop_stats (wa_loop_t *self, wa_loop_stats_t *stats)
{
    *stats = self->stats;
}

//  Frees what was ended, keeping the order of the rest.
static void
s_reap (wa_loop_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->nreaders; i++) {
        if (self->readers [i]->dead)
            free (self->readers [i]);
        else
            self->readers [kept++] = self->readers [i];
    }
    self->nreaders = kept;
    kept = 0;
    for (size_t i = 0; i < self->ntimers; i++) {
        if (self->timers [i]->dead)
            free (self->timers [i]);
        else
            self->timers [kept++] = self->timers [i];
    }
    self->ntimers = kept;
    self->reap = false;
}

//  The socket's ZMQ_EVENTS; -1 when the context is terminated or the
//  socket is gone (either ends the loop, as zmq_poll's error ends zloop's).
static int
s_events (wa_loop_t *self, reader_t *reader)
{
    int events = 0;
    size_t len = sizeof events;
    self->stats.checks++;
    if (zmq_getsockopt (reader->handle, ZMQ_EVENTS, &events, &len) == -1) {
        if (errno != ETERM)
            wa_error ("loop: a %s socket cannot be read: %s", zsock_type_str (reader->sock), strerror (errno));
        return -1;
    }
    return events;
}

//  Milliseconds to the next timer: -1 when there is none.
static int
s_timeout (wa_loop_t *self, int64_t now)
{
    int64_t next = -1;
    for (size_t i = 0; i < self->ntimers; i++) {
        loop_timer_t *timer = self->timers [i];
        if (!timer->dead && (next == -1 || timer->when < next))
            next = timer->when;
    }
    if (next == -1)
        return -1;
    return next <= now ? 0 : (int) (next - now > INT_MAX ? INT_MAX : next - now);
}

//  Every idle socket asked once; true when one has input. -1: the loop ends.
static int
s_sweep (wa_loop_t *self, int64_t now)
{
    bool found = false;
    self->stats.sweeps++;
    self->acted = false;
    self->last_sweep = now;
    for (size_t i = 0; i < self->nreaders; i++) {
        reader_t *reader = self->readers [i];
        if (reader->dead || reader->hot)
            continue;
        int events = s_events (self, reader);
        if (events == -1)
            return -1;
        if (events & ZMQ_POLLIN)
            reader->hot = found = true;
    }
    return found;
}

static bool
s_any_hot (wa_loop_t *self)
{
    for (size_t i = 0; i < self->nreaders; i++)
        if (self->readers [i]->hot)
            return true;
    return false;
}

//  The timers that are due, in the order they were made. -1 ends the loop.
static int
s_run_timers (wa_loop_t *self)
{
    int64_t now = zclock_mono ();
    size_t count = self->ntimers;       //  those made now wait a turn
    for (size_t i = 0; i < count; i++) {
        loop_timer_t *timer = self->timers [i];
        if (timer->dead || now < timer->when)
            continue;
        self->acted = true;
        //  Its last time is over even when its handler ends the loop (as
        //  with czmq 4.2's zloop: a loop started again does not call it).
        if (timer->times && --timer->times == 0) {
            timer->dead = true;
            self->reap = true;
        }
        else
            timer->when += (int64_t) timer->delay;
        if (timer->handler (self, timer->id, timer->arg) == -1)
            return -1;
    }
    return 0;
}

//  Each socket that may have input: asked, and its handler called when it
//  has. 1 when a handler ended the loop, -1 when a socket failed.
static int
s_run_readers (wa_loop_t *self)
{
    size_t count = self->nreaders;      //  those added now wait a turn
    for (size_t i = 0; i < count; i++) {
        reader_t *reader = self->readers [i];
        if (!reader->hot || reader->dead)
            continue;
        int events = s_events (self, reader);
        if (events == -1)
            return -1;
        if (!(events & ZMQ_POLLIN)) {
            reader->hot = false;
            continue;
        }
        self->acted = true;
        if (reader->handler (self, reader->sock, reader->arg) == -1)
            return 1;
        //  Still hot: asked again next turn.
    }
    return 0;
}

static int
s_run (wa_loop_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->ntimers; i++)
        self->timers [i]->when = now + (int64_t) self->timers [i]->delay;
    //  Sockets used before the start may hold input their fds told nobody.
    for (size_t i = 0; i < self->nreaders; i++)
        self->readers [i]->hot = true;
    self->last_sweep = now;
    struct epoll_event events [EVENTS_MAX];
    while (!zsys_interrupted) {
        if (self->reap)
            s_reap (self);
        self->stats.turns++;
        now = zclock_mono ();
        int timeout = s_any_hot (self) ? 0 : s_timeout (self, now);
        if (self->acted) {
            int64_t due = self->last_sweep + self->sweep_msec;
            if (now >= due) {
                int found = s_sweep (self, now);
                if (found == -1)
                    return 0;
                if (found)
                    timeout = 0;
            }
            else
            if (timeout == -1 || timeout > due - now)
                timeout = (int) (due - now);
        }
        if (timeout != 0)
            self->stats.sleeps++;
        int count = epoll_wait (self->epoll, events, EVENTS_MAX, timeout);
        if (count == -1) {
            if (errno == EINTR)
                continue;
            wa_error ("loop: epoll_wait: %s", strerror (errno));
            return 0;
        }
        for (int i = 0; i < count; i++)
            ((reader_t *) events [i].data.ptr)->hot = true;
        if (zsys_interrupted)
            break;
        if (s_run_timers (self) == -1)
            return -1;
        int rc = s_run_readers (self);
        if (rc)
            return rc == 1 ? -1 : 0;
    }
    return 0;
}

int
wa_loop_start (wa_loop_t *self)
{
    assert (self);
    wa_loop_t *outer = s_running;
    s_running = self;
    int rc = s_run (self);
    s_running = outer;
    return rc;
}
