/*  gatelink — see gatelink.h */
#include "wa_codec.h"
#include "wa_log.h"
#include "wa_node.h"
#include "gatelink.h"

typedef struct {
    json_t *request;
    wa_usec_t timeout;
    wa_usec_t deadline;         //  asked + timeout: the queue's wait counts
    gatelink_fn *fn;
    void *arg;
} ask_t;

struct gatelink_t {
    wa_loop_t *loop;
    char endpoint[256];
    zsock_t *dealer;
    zlistx_t *queue;            //  ask_t, the first is in flight when sent
    bool in_flight;
    uint64_t id;                //  of the request in flight
    int timer;
    wa_msg_t msg;
};

static void
s_ask_free (ask_t **ask_p)
{
    json_decref ((*ask_p)->request);
    free (*ask_p);
    *ask_p = NULL;
}

static void s_next (gatelink_t *self);

//  The request in flight is done: its callback runs, the next goes.
static void
s_done (gatelink_t *self, int status, json_t *reply, const char *why)
{
    if (self->timer >= 0)
        wa_loop_timer_end (self->loop, self->timer);
    self->timer = -1;
    self->in_flight = false;
    ask_t *ask = zlistx_first (self->queue);
    if (ask) {
        zlistx_delete (self->queue, zlistx_cursor (self->queue));
        ask->fn (ask->arg, status, reply, why);
        s_ask_free (&ask);
    }
    else
        json_decref (reply);
    s_next (self);
}

static int
s_on_timeout (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    gatelink_t *self = arg;
    self->timer = -1;
    char why[400];
    ask_t *ask = zlistx_first (self->queue);
    snprintf (why, sizeof why, "the upstream (%s) did not answer within %g s", self->endpoint,
              ask ? (double) ask->timeout / 1e6 : 0.0);
    s_done (self, 0, NULL, why);
    return 0;
}

static void
s_next (gatelink_t *self)
{
    while (!self->in_flight && zlistx_size (self->queue)) {
        ask_t *ask = zlistx_first (self->queue);
        wa_usec_t now = wa_clock_mono ();
        if (now >= ask->deadline) {
            char why[400];
            snprintf (why, sizeof why, "the upstream (%s) did not answer within %g s", self->endpoint,
                      (double) ask->timeout / 1e6);
            zlistx_delete (self->queue, zlistx_cursor (self->queue));
            ask->fn (ask->arg, 0, NULL, why);
            s_ask_free (&ask);
            continue;
        }
        json_object_set_new (ask->request, "id", json_integer ((json_int_t) ++self->id));
        char *text = json_dumps (ask->request, JSON_COMPACT);
        wa_msg_init (&self->msg, WA_MSG_CONTROL);
        int rc = -1;
        if (text && strlen (text) <= WA_TEXT_MAX) {
            wa_msg_set_text (&self->msg, text);
            rc = wa_codec_send (self->dealer, NULL, &self->msg);
        }
        free (text);
        if (rc) {
            char why[400];
            snprintf (why, sizeof why, "cannot reach the upstream's control endpoint %s", self->endpoint);
            zlistx_delete (self->queue, zlistx_cursor (self->queue));
            ask->fn (ask->arg, 0, NULL, why);
            s_ask_free (&ask);
            continue;
        }
        self->in_flight = true;
        wa_timer_once (self->loop, &self->timer, ask->deadline - now, s_on_timeout, self);
    }
}

static int
s_on_reply (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    gatelink_t *self = arg;
    for (int i = 0; i < 100 && (zsock_events (self->dealer) & ZMQ_POLLIN); i++) {
        int why = 0;
        int rc = wa_codec_recv (self->dealer, NULL, &self->msg, &why);
        if (rc == -2)
            wa_warn ("upstream control: a malformed frame: %s", wa_codec_strerror (why));
        if (rc || !self->in_flight)
            continue;
        json_t *reply = self->msg.type == WA_MSG_CONTROL_REPLY
                      ? json_loadb (self->msg.text, self->msg.text_len, 0, NULL) : NULL;
        json_t *id = json_object_get (reply, "id");
        if (!json_is_object (reply) || !json_is_integer (id) || (uint64_t) json_integer_value (id) != self->id) {
            //  A late answer to a request given up, or no answer at all.
            if (self->msg.type != WA_MSG_CONTROL_REPLY)
                wa_warn ("upstream control answered %s: %.200s", wa_codec_type_name (self->msg.type),
                         self->msg.text);
            json_decref (reply);
            continue;
        }
        json_object_del (reply, "id");
        s_done (self, (int) self->msg.code, reply, NULL);
    }
    return 0;
}

gatelink_t *
gatelink_new (wa_loop_t *loop, const char *endpoint)
{
    gatelink_t *self = (gatelink_t *) zmalloc (sizeof (gatelink_t));
    self->loop = loop;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->queue = zlistx_new ();
    self->timer = -1;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (self->dealer) {
        zsock_set_immediate (self->dealer, 1);
        zsock_set_maxmsgsize (self->dealer, WA_FRAME_MAX);
        zsock_set_sndtimeo (self->dealer, 0);
        zsock_set_linger (self->dealer, 0);
        if (zsock_connect (self->dealer, "%s", endpoint))
            wa_warn ("cannot connect to the upstream's control endpoint %s", endpoint);
        wa_loop_reader (loop, self->dealer, s_on_reply, self);
    }
    return self;
}

void
gatelink_destroy (gatelink_t **self_p)
{
    gatelink_t *self = *self_p;
    if (!self)
        return;
    //  The loop may be gone (the Master destroys it first): not touched.
    ask_t *ask;
    while ((ask = zlistx_first (self->queue))) {
        zlistx_delete (self->queue, zlistx_cursor (self->queue));
        s_ask_free (&ask);
    }
    zlistx_destroy (&self->queue);
    zsock_destroy (&self->dealer);
    free (self);
    *self_p = NULL;
}

int
gatelink_ask (gatelink_t *self, json_t *request, wa_usec_t timeout, gatelink_fn *fn, void *arg)
{
    if (!request || !self->dealer || zlistx_size (self->queue) >= GATELINK_QUEUE_MAX) {
        json_decref (request);
        return -1;
    }
    ask_t *ask = (ask_t *) zmalloc (sizeof (ask_t));
    ask->request = request;
    ask->timeout = timeout;
    ask->deadline = wa_clock_mono () + timeout;
    ask->fn = fn;
    ask->arg = arg;
    zlistx_add_end (self->queue, ask);
    s_next (self);
    return 0;
}

void
gatelink_cancel (gatelink_t *self, void *arg)
{
    if (!self)
        return;
    zlistx_t *kept = zlistx_new ();
    bool first = true;
    ask_t *ask;
    while ((ask = zlistx_first (self->queue))) {
        zlistx_delete (self->queue, zlistx_cursor (self->queue));
        if (ask->arg != arg)
            zlistx_add_end (kept, ask);
        else {
            if (first && self->in_flight) {
                //  Its answer, when it comes, matches nothing in flight.
                self->in_flight = false;
                if (self->timer >= 0)
                    wa_loop_timer_end (self->loop, self->timer);
                self->timer = -1;
            }
            s_ask_free (&ask);
        }
        first = false;
    }
    zlistx_destroy (&self->queue);
    self->queue = kept;
    s_next (self);
}

const char *
gatelink_endpoint (gatelink_t *self)
{
    return self->endpoint;
}
