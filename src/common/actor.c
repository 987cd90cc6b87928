/*  wa_actor — see include/wa_actor.h */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include "wa_actor.h"
#include "wa_log.h"

struct wa_actor_t {
    zsock_t *pipe;              //  our end
    pthread_t thread;
    atomic_bool ended;          //  the handler has returned
};

typedef struct {
    zactor_fn *handler;
    void *args;
    zsock_t *pipe;              //  the thread's end
    wa_actor_t *actor;
} shim_t;

static atomic_int s_live;

static void *
s_thread (void *arg)
{
    shim_t *shim = arg;
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    shim->handler (shim->pipe, shim->args);
    atomic_store (&shim->actor->ended, true);
    zsock_destroy (&shim->pipe);
    free (shim);
    return NULL;
}

wa_actor_t *
wa_actor_new (zactor_fn *handler, void *args)
{
    wa_actor_t *self = (wa_actor_t *) zmalloc (sizeof (wa_actor_t));
    shim_t *shim = (shim_t *) zmalloc (sizeof (shim_t));
    self->pipe = zsys_create_pipe (&shim->pipe);
    if (!self->pipe) {
        free (shim);
        free (self);
        return NULL;
    }
    shim->handler = handler;
    shim->args = args;
    shim->actor = self;
    int rc = pthread_create (&self->thread, NULL, s_thread, shim);
    if (rc) {
        wa_error ("cannot start a thread: %s", strerror (rc));
        zsock_destroy (&shim->pipe);
        zsock_destroy (&self->pipe);
        free (shim);
        free (self);
        return NULL;
    }
    atomic_fetch_add (&s_live, 1);
    //  A handler that cannot start signals so (non-zero) and returns.
    if (zsock_wait (self->pipe) > 0) {
        pthread_join (self->thread, NULL);
        atomic_fetch_sub (&s_live, 1);
        zsock_set_linger (self->pipe, 0);
        zsock_destroy (&self->pipe);
        free (self);
        return NULL;
    }
    return self;
}

void
wa_actor_destroy (wa_actor_t **self_p)
{
    wa_actor_t *self = *self_p;
    if (!self)
        return;
    //  A handler that returned early reads nothing more, and a full pipe
    //  takes nothing until the handler reads: try until one or the other.
    zsock_set_sndtimeo (self->pipe, 100);
    while (!atomic_load (&self->ended) && zstr_send (self->pipe, "$TERM") != 0)
        if (zmq_errno () == ETERM)
            break;
    pthread_join (self->thread, NULL);
    atomic_fetch_sub (&s_live, 1);
    zsock_set_linger (self->pipe, 0);
    zsock_destroy (&self->pipe);
    free (self);
    *self_p = NULL;
}

zsock_t *
wa_actor_sock (wa_actor_t *self)
{
    return self->pipe;
}

bool
wa_actor_ended (wa_actor_t *self)
{
    return atomic_load (&self->ended);
}

int
wa_actor_live (void)
{
    return atomic_load (&s_live);
}
