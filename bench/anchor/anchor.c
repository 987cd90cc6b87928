/*  wa-anchor — the bare anchor of `make bench-api` (bench/api.sh).

    The least a Webapp can do per request and still forward it the way waweb
    does: waweb's own HTTP layer (src/waweb/http.c: libmicrohttpd's polling
    thread reads the request, suspends the connection and hands the pointer
    over an inproc PUSH/PULL pair to a wa_loop reactor (the Webapp's); http_respond resumes
    it), then one API_REQ frame (the wire codec, src/common/codec.c) over a
    DEALER on TCP loopback to a ROUTER that echoes it back as API_REP, then
    201 with an envelope {"messages":[{"id":"..."}],"meta":{...}}.
    No route table, no JSON parsing of the body, no token, no database, no
    outbox, no upstream: whatever the full path costs beyond this figure is
    the application's.

    Usage:
      wa-anchor [-p PORT] [-b BIND] [-e ENDPOINT]
          serve HTTP on BIND:PORT (default 127.0.0.1:0, any free port) and
          forward to the echo at ENDPOINT; without -e, start an echo thread
          of its own on tcp://127.0.0.1 (any free port)
      wa-anchor echo ENDPOINT
          only the echo: a ROUTER bound to ENDPOINT (tcp://127.0.0.1:PORT)
    Prints "ready: http://BIND:PORT" once it serves. SIGINT/SIGTERM stop it. */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "wa_actor.h"
#include "wa_codec.h"
#include "wa_config.h"
#include "wa_log.h"
#include "wa_loop.h"
#include "envelope.h"
#include "http.h"

//  Requests forwarded and not yet echoed; past this: 503 (never reached
//  with a few hundred connections).
#define SLOTS (1u << 16)
#define BATCH 1000

typedef struct {
    http_req_t http;            //  first: the server allocates this struct
    uint64_t seq;
} anchor_req_t;

typedef struct {
    http_server_t *http;
    zsock_t *requests;
    zsock_t *dealer;
    anchor_req_t **slots;       //  seq & (SLOTS - 1) → the request waiting for it
    uint64_t next_seq;
    uint64_t answered;
    uint64_t refused;
    wa_msg_t msg;               //  one scratch message (16 KiB): never on the stack per request
} anchor_t;

static void
s_reply (anchor_req_t *req, int status, json_t *response)
{
    size_t len;
    char *body = envelope_dump (response, &len);
    json_decref (response);
    http_respond (&req->http, status, body, len, NULL);
}

static void
s_fail (anchor_t *self, anchor_req_t *req, int code, const char *details)
{
    self->refused++;
    s_reply (req, wa_error_status (code), envelope_error (code, "%s", details));
}

//  A request handed over by the MHD thread: one API_REQ to the echo.
static void
s_forward (anchor_t *self, anchor_req_t *req)
{
    if (!streq (req->http.method, "POST") || !streq (req->http.path, "/v1/messages")) {
        s_fail (self, req, WA_ERR_NOT_FOUND, "the anchor serves POST /v1/messages only");
        return;
    }
    //  As waweb: at the headers, let the body in (waweb checks the token
    //  here); the request comes back once its body is read.
    if (req->http.has_body && !req->http.body_read) {
        const char *why = http_read_body (&req->http);
        if (why)
            s_fail (self, req, WA_ERR_OVERLOADED, why);
        return;
    }
    if (req->http.body_len > WA_TEXT_MAX) {
        s_fail (self, req, WA_ERR_INVALID, "the body is larger than one frame's text");
        return;
    }
    uint64_t seq = ++self->next_seq;
    anchor_req_t **slot = &self->slots[seq & (SLOTS - 1)];
    if (*slot) {
        s_fail (self, req, WA_ERR_OVERLOADED, "too many requests wait for the echo");
        return;
    }
    wa_msg_init (&self->msg, WA_MSG_API_REQ);
    self->msg.seq = seq;
    wa_msg_set_text (&self->msg, req->http.body ? req->http.body : "");
    if (wa_codec_send (self->dealer, NULL, &self->msg)) {
        s_fail (self, req, WA_ERR_INTERNAL, "cannot send to the echo");
        return;
    }
    req->seq = seq;
    *slot = req;
}

static int
s_on_requests (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    anchor_t *self = arg;
    for (int i = 0; i < BATCH; i++) {
        http_req_t *req = http_server_recv (self->http, reader);
        if (!req)
            break;
        s_forward (self, (anchor_req_t *) req);
    }
    return 0;
}

//  The echo's answers: 201 with the message id, as the API answers a send.
static int
s_on_echo (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    anchor_t *self = arg;
    for (int i = 0; i < BATCH && (zsock_events (reader) & ZMQ_POLLIN); i++) {
        int rc = wa_codec_recv (reader, NULL, &self->msg, NULL);
        if (rc == -1)
            break;
        if (rc || self->msg.type != WA_MSG_API_REP)
            continue;
        anchor_req_t **slot = &self->slots[self->msg.seq & (SLOTS - 1)];
        anchor_req_t *req = *slot;
        if (!req || req->seq != self->msg.seq)
            continue;
        *slot = NULL;
        char id[40];
        snprintf (id, sizeof id, "wamid.anchor.%" PRIu64, self->msg.seq);
        json_t *response = envelope_new ();
        json_object_set_new (response, "messages", json_pack ("[{s:s}]", "id", id));
        self->answered++;
        s_reply (req, (int) self->msg.code, response);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The echo: every API_REQ comes back as API_REP 201 with the same seq and text.

static void
s_echo_loop (zsock_t *router, zsock_t *pipe)
{
    wa_msg_t *msg = malloc (sizeof *msg);
    assert (msg);
    zpoller_t *poller = zpoller_new (router, pipe, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which)
            break;
        for (int i = 0; i < BATCH && (zsock_events (router) & ZMQ_POLLIN); i++) {
            zframe_t *peer;
            int rc = wa_codec_recv (router, &peer, msg, NULL);
            if (rc == -1)
                break;
            if (rc == 0 && msg->type == WA_MSG_API_REQ) {
                msg->type = WA_MSG_API_REP;
                msg->code = 201;
                wa_codec_send (router, peer, msg);
            }
            zframe_destroy (&peer);
        }
    }
    zpoller_destroy (&poller);
    free (msg);
}

static void
s_echo_actor (zsock_t *pipe, void *arg)
{
    (void) arg;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_sndhwm (router, 0);
    zsock_set_rcvhwm (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    if (port > 0)
        s_echo_loop (router, pipe);
    zsock_destroy (&router);
}

static int
s_echo_main (const char *endpoint)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_sndhwm (router, 0);
    zsock_set_rcvhwm (router, 0);
    if (zsock_bind (router, "%s", endpoint) < 0) {
        fprintf (stderr, "wa-anchor echo: cannot bind %s: %s\n", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&router);
        return 1;
    }
    printf ("ready: echo on %s\n", endpoint);
    fflush (stdout);
    wa_msg_t *msg = malloc (sizeof *msg);
    assert (msg);
    while (!zsys_interrupted) {
        zframe_t *peer;
        int rc = wa_codec_recv (router, &peer, msg, NULL);
        if (rc == -1)
            break;              //  interrupted
        if (rc == 0 && msg->type == WA_MSG_API_REQ) {
            msg->type = WA_MSG_API_REP;
            msg->code = 201;
            wa_codec_send (router, peer, msg);
        }
        zframe_destroy (&peer);
    }
    free (msg);
    zsock_destroy (&router);
    return 0;
}

//  --------------------------------------------------------------------------

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wa-anchor [-p PORT] [-b BIND] [-e ENDPOINT]\n"
        "       wa-anchor echo ENDPOINT\n"
        "The bare anchor of make bench-api: waweb's HTTP layer, one API_REQ per request\n"
        "over a DEALER to a ROUTER echo, 201 with a message id. Without -e it starts\n"
        "its own echo thread on tcp://127.0.0.1 (any free port).\n");
}

static int
s_set (wa_config_t *config, const char *key, const char *value)
{
    char err[256];
    if (wa_config_set (config, key, value, err, sizeof err) == 0)
        return 0;
    fprintf (stderr, "wa-anchor: %s\n", err);
    return -1;
}

int
main (int argc, char **argv)
{
    wa_config_t config;
    wa_config_defaults (&config);
    if (s_set (&config, "webapp_bind", "127.0.0.1") || s_set (&config, "webapp_port", "0"))
        return 2;
    const char *echo = NULL;
    static const struct option options[] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "echo", required_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "p:b:e:h", options, NULL)) != -1) {
        switch (opt) {
            case 'p': if (s_set (&config, "webapp_port", optarg)) return 2; break;
            case 'b': if (s_set (&config, "webapp_bind", optarg)) return 2; break;
            case 'e': echo = optarg; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    wa_log_set_prefix ("wa-anchor");
    if (optind < argc) {
        if (streq (argv[optind], "echo") && optind + 2 == argc)
            return s_echo_main (argv[optind + 1]);
        s_usage (stderr);
        return 2;
    }

    anchor_t *self = zmalloc (sizeof *self);
    self->slots = calloc (SLOTS, sizeof *self->slots);
    assert (self->slots);
    wa_actor_t *echo_actor = NULL;
    char endpoint[64];
    if (echo)
        snprintf (endpoint, sizeof endpoint, "%s", echo);
    else {
        //  Signals go to the reactor's thread only (its loop sees them).
        sigset_t block, old;
        sigemptyset (&block);
        sigaddset (&block, SIGINT);
        sigaddset (&block, SIGTERM);
        pthread_sigmask (SIG_BLOCK, &block, &old);
        echo_actor = wa_actor_new (s_echo_actor, NULL);
        pthread_sigmask (SIG_SETMASK, &old, NULL);
        char *port = zstr_recv (wa_actor_sock (echo_actor));
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%s", port ? port : "0");
        int bound = port ? atoi (port) : 0;
        zstr_free (&port);
        if (bound <= 0) {
            fprintf (stderr, "wa-anchor: the echo cannot bind tcp://127.0.0.1:*\n");
            wa_actor_destroy (&echo_actor);
            return 1;
        }
    }
    self->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (self->dealer, 0);
    zsock_set_rcvhwm (self->dealer, 0);
    if (zsock_connect (self->dealer, "%s", endpoint)) {
        fprintf (stderr, "wa-anchor: cannot connect to the echo at %s\n", endpoint);
        return 1;
    }
    char err[512];
    self->http = http_server_new (&config, sizeof (anchor_req_t), &self->requests, err, sizeof err);
    if (!self->http) {
        fprintf (stderr, "wa-anchor: %s\n", err);
        return 1;
    }
    printf ("ready: http://%s:%d (echo %s)\n", config.webapp_bind, http_server_port (self->http), endpoint);
    fflush (stdout);

    wa_loop_t *loop = wa_loop_new ();
    wa_loop_reader (loop, self->requests, s_on_requests, self);
    wa_loop_reader (loop, self->dealer, s_on_echo, self);
    wa_loop_start (loop);          //  until SIGINT / SIGTERM
    wa_loop_destroy (&loop);

    //  Answer what waits (for the echo, or still in the handover), then stop.
    http_server_stop_handover (self->http);
    for (uint32_t i = 0; i < SLOTS; i++)
        if (self->slots[i]) {
            anchor_req_t *req = self->slots[i];
            self->slots[i] = NULL;
            s_fail (self, req, WA_ERR_NOT_READY, "the anchor is stopping");
        }
    zpoller_t *poller = zpoller_new (self->requests, NULL);
    zpoller_set_nonstop (poller, true);
    int64_t until = zclock_mono () + 2000;
    while (http_server_waiting (self->http) && zclock_mono () < until) {
        http_req_t *req = http_server_recv (self->http, self->requests);
        if (req)
            s_fail (self, (anchor_req_t *) req, WA_ERR_NOT_READY, "the anchor is stopping");
        else
            zpoller_wait (poller, 50);
    }
    zpoller_destroy (&poller);
    printf ("stopped: %" PRIu64 " answered 201, %" PRIu64 " refused\n", self->answered, self->refused);
    if (http_server_waiting (self->http) == 0)
        http_server_destroy (&self->http);
    zsock_destroy (&self->requests);
    zsock_destroy (&self->dealer);
    wa_actor_destroy (&echo_actor);
    free (self->slots);
    free (self);
    return 0;
}
