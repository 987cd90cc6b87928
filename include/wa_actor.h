/*  wa_actor — a czmq-style actor whose thread is joined when it is destroyed.

    czmq's zactor runs its handler on a detached thread: zactor_destroy
    returns once the handler has signalled, while the thread is still
    running its thread-specific destructors (OpenSSL's, the MariaDB
    client's). A program that then reaches exit() races those destructors
    against the libraries' own exit-time cleanup (a double free under ASan,
    a crash at stop on another day). wa_actor_destroy returns only after the
    thread has ended, so a daemon that destroys its actors has no thread of
    its own left when it exits.

    The handler is a zactor_fn and keeps zactor's contract: it signals the
    pipe once it is ready (wa_actor_new waits for that) and returns when it
    reads "$TERM". A handler that cannot start signals a non-zero status
    and returns: wa_actor_new then joins it and returns NULL. SIGINT and
    SIGTERM are blocked on the actor's thread: they are for the reactor's
    thread. */
#ifndef WA_ACTOR_H
#define WA_ACTOR_H

#include <czmq.h>

typedef struct wa_actor_t wa_actor_t;

//  Start handler (args passed through) on a new joinable thread; returns
//  once it has signalled ready. NULL if no thread could be started or the
//  handler signalled that it could not start (a non-zero status).
wa_actor_t *wa_actor_new (zactor_fn *handler, void *args);
//  Send "$TERM", wait for the thread to end, close the pipe. NULL-safe.
void wa_actor_destroy (wa_actor_t **self_p);
//  The caller's end of the pipe: read, write and poll it like a socket.
zsock_t *wa_actor_sock (wa_actor_t *self);
//  True once the handler has returned: it sends nothing more.
bool wa_actor_ended (wa_actor_t *self);
//  Threads started by wa_actor_new that have not been joined yet.
int wa_actor_live (void);

#endif
