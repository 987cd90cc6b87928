/*  reads — see reads.h */
#include <stdarg.h>
#include "wa_errors.h"
#include "wa_log.h"
#include "wa_message.h"
#include "wa_node.h"
#include "wa_u64hash.h"
#include "reads.h"

#define SWEEP_SECONDS 0.05

//  A READ upstream, waiting for its READ_ACK.
typedef struct {
    uint64_t seq;
    wa_usec_t deadline;
    zframe_t *peer;
    uint64_t api_seq;
    char id[WA_MESSAGE_REF_MAX + 1];
} pending_t;

struct reads_t {
    const wa_config_t *settings;
    reads_io_t io;
    void *arg;
    wa_loop_t *loop;
    int sweep_timer;
    zhashx_t *pending;          //  seq → pending_t (freed by whoever takes it)
    uint64_t next_seq;
    reads_stats_t stats;
};

static void
s_error (reads_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_error (reads_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *text = wa_error_vjson (code, fmt, args);
    va_end (args);
    self->io.reply (self->arg, peer, seq, text ? status : 500, text ? text : "");
    free (text);
}

static pending_t *
s_take (reads_t *self, uint64_t seq)
{
    pending_t *pending = zhashx_lookup (self->pending, WA_U64_KEY (seq));
    if (pending)
        zhashx_delete (self->pending, WA_U64_KEY (seq));
    return pending;
}

static void
s_free (pending_t **pending_p)
{
    pending_t *pending = *pending_p;
    if (pending) {
        zframe_destroy (&pending->peer);
        free (pending);
        *pending_p = NULL;
    }
}

//  Every waiting request gets this answer.
static void
s_end_all (reads_t *self, int status, int code, const char *why)
{
    zlistx_t *seqs = zlistx_new ();
    for (pending_t *pending = zhashx_first (self->pending); pending; pending = zhashx_next (self->pending))
        zlistx_add_end (seqs, WA_U64_KEY (pending->seq));
    for (void *key = zlistx_first (seqs); key; key = zlistx_next (seqs)) {
        pending_t *pending = s_take (self, (uint64_t) (uintptr_t) key);
        s_error (self, &pending->peer, pending->api_seq, status, code, "%s", why);
        s_free (&pending);
    }
    zlistx_destroy (&seqs);
}

static int
s_on_sweep (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    reads_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    zlistx_t *late = NULL;
    for (pending_t *pending = zhashx_first (self->pending); pending; pending = zhashx_next (self->pending))
        if (now >= pending->deadline) {
            if (!late)
                late = zlistx_new ();
            zlistx_add_end (late, WA_U64_KEY (pending->seq));
        }
    if (!late)
        return 0;
    for (void *key = zlistx_first (late); key; key = zlistx_next (late)) {
        pending_t *pending = s_take (self, (uint64_t) (uintptr_t) key);
        self->stats.timeouts++;
        s_error (self, &pending->peer, pending->api_seq, 503, WA_ERR_NOT_READY,
                 "the upstream did not answer the read receipt of '%s' within %g s", pending->id,
                 READS_TIMEOUT_SHARE * self->settings->request_attempt_timeout);
        s_free (&pending);
    }
    wa_warn ("reads: %zu read receipt(s) got no answer from the upstream in time", zlistx_size (late));
    zlistx_destroy (&late);
    return 0;
}

reads_t *
reads_new (const wa_config_t *settings, reads_io_t io, void *arg, wa_loop_t *loop)
{
    reads_t *self = (reads_t *) zmalloc (sizeof (reads_t));
    self->settings = settings;
    self->io = io;
    self->arg = arg;
    self->loop = loop;
    self->pending = wa_u64hash_new ();
    self->sweep_timer = -1;
    wa_timer_every (loop, &self->sweep_timer, SWEEP_SECONDS, s_on_sweep, self);
    return self;
}

void
reads_destroy (reads_t **self_p)
{
    reads_t *self = *self_p;
    if (!self)
        return;
    s_end_all (self, 503, WA_ERR_NOT_READY, "the Coreapp is stopping");
    if (self->sweep_timer >= 0)
        wa_loop_timer_end (self->loop, self->sweep_timer);
    zhashx_destroy (&self->pending);
    free (self);
    *self_p = NULL;
}

void
reads_request (reads_t *self, zframe_t **peer, uint64_t seq, const json_t *request, const char *unavailable)
{
    self->stats.requests++;
    const char *id = json_string_value (json_object_get (request, "id"));
    const char *from = json_string_value (json_object_get (request, "from"));
    if (!wa_message_ref_valid (id)) {
        s_error (self, peer, seq, 400, WA_ERR_INVALID, "'id' must be a message id");
        return;
    }
    if (!from || !*from || strlen (from) > WA_MESSAGE_TO_MAX || strspn (from, "0123456789") != strlen (from)) {
        s_error (self, peer, seq, 400, WA_ERR_INVALID, "'from' must be the sender's number");
        return;
    }
    if (unavailable) {
        s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "%s", unavailable);
        return;
    }
    if (zhashx_size (self->pending) >= READS_MAX) {
        s_error (self, peer, seq, 503, WA_ERR_OVERLOADED, "%d read receipts wait for the upstream already",
                 READS_MAX);
        return;
    }
    json_t *payload = json_pack ("{s:s, s:s}", "id", id, "from", from);
    char *text = payload ? json_dumps (payload, JSON_COMPACT) : NULL;
    json_decref (payload);
    uint64_t read_seq = ++self->next_seq;
    int rc = text ? self->io.send (self->arg, read_seq, text) : -1;
    free (text);
    if (rc) {
        s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "the read receipt cannot go upstream now");
        return;
    }
    self->stats.sent++;
    pending_t *pending = (pending_t *) zmalloc (sizeof (pending_t));
    pending->seq = read_seq;
    pending->peer = *peer;
    *peer = NULL;
    pending->api_seq = seq;
    snprintf (pending->id, sizeof pending->id, "%s", id);
    pending->deadline = wa_clock_mono ()
                      + wa_clock_from_sec (READS_TIMEOUT_SHARE * self->settings->request_attempt_timeout);
    zhashx_insert (self->pending, WA_U64_KEY (read_seq), pending);
}

void
reads_on_ack (reads_t *self, uint64_t seq, uint32_t code, const char *text)
{
    pending_t *pending = s_take (self, seq);
    if (!pending)
        return;                 //  answered already (timed out, or the session closed)
    if (code == 0 || code == 1) {
        self->stats.acked++;
        self->io.reply (self->arg, &pending->peer, pending->api_seq, 200, "{}");
    }
    else {
        self->stats.unknown++;
        s_error (self, &pending->peer, pending->api_seq, 404, WA_ERR_NOT_FOUND, "no inbound message with id '%s' "
                 "(the upstream says: %.120s)", pending->id, text);
    }
    s_free (&pending);
}

void
reads_session_closed (reads_t *self)
{
    s_end_all (self, 503, WA_ERR_NOT_READY, "the upstream session closed before it answered the read receipt");
}

void
reads_demoted (reads_t *self)
{
    s_end_all (self, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp no longer holds the message's shard");
}

reads_stats_t
reads_stats (reads_t *self)
{
    reads_stats_t stats = self->stats;
    stats.waiting = zhashx_size (self->pending);
    return stats;
}

json_t *
reads_stats_json (reads_t *self)
{
    reads_stats_t s = reads_stats (self);
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t) s.requests,
                      "sent", (json_int_t) s.sent, "acked", (json_int_t) s.acked, "unknown", (json_int_t) s.unknown,
                      "timeouts", (json_int_t) s.timeouts, "waiting", (json_int_t) s.waiting);
}
