/*  identity — see identity.h */
#include <stdarg.h>
#include "wa_errors.h"
#include "wa_log.h"
#include "wa_node.h"
#include "wa_u64hash.h"
#include "identity.h"

#define SWEEP_SECONDS 0.05
#define HASH_MAX 64

static const char *SQL_READ = "SELECT hash FROM contact_identity WHERE wa_id = ?";
static const char *SQL_ACK =
    "INSERT INTO contact_identity (wa_id, hash, acknowledged_at, acknowledged_by) VALUES (?, ?, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE hash = VALUES(hash), acknowledged_at = NOW(6), acknowledged_by = VALUES(acknowledged_by)";

//  A request, waiting for the upstream, then for its job.
typedef struct {
    wa_job_t job;
    uint64_t seq;               //  upstream's
    wa_usec_t deadline;
    zframe_t *peer;
    uint64_t api_seq;
    bool ack;                   //  PUT
    char wa_id[24];
    char hash[HASH_MAX + 1];    //  PUT: the hash sent
    char by[65];
    char latest[HASH_MAX + 1];  //  the upstream's
    int64_t created;
    char stored[HASH_MAX + 1];  //  out: the acknowledged one ("" none)
} pending_t;

struct identity_t {
    const wa_config_t *settings;
    identity_io_t io;
    void *arg;
    wa_loop_t *loop;
    int sweep_timer;
    zhashx_t *pending;          //  upstream seq → pending_t
    uint64_t next_seq;
};

static void
s_error (identity_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_error (identity_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    char details[300];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    json_t *body = json_pack ("{s:[{s:i, s:s}]}", "errors", "code", code, "details", details);
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    self->io.reply (self->arg, peer, seq, text ? status : 500,
                    text ? text : "{\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS ",\"details\":\"out of memory\"}]}");
    free (text);
    json_decref (body);
}

static void
s_job_destroy (wa_job_t *job)
{
    zframe_destroy (&((pending_t *) job)->peer);
}

static void
s_free (pending_t **pending_p)
{
    if (*pending_p) {
        wa_job_t *job = &(*pending_p)->job;
        wa_job_destroy (&job);
        *pending_p = NULL;
    }
}

static pending_t *
s_take (identity_t *self, uint64_t seq)
{
    pending_t *pending = zhashx_lookup (self->pending, WA_U64_KEY (seq));
    if (pending)
        zhashx_delete (self->pending, WA_U64_KEY (seq));
    return pending;
}

static void
s_end_all (identity_t *self, int status, int code, const char *why)
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
    identity_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    zlistx_t *late = zlistx_new ();
    for (pending_t *pending = zhashx_first (self->pending); pending; pending = zhashx_next (self->pending))
        if (now >= pending->deadline)
            zlistx_add_end (late, WA_U64_KEY (pending->seq));
    for (void *key = zlistx_first (late); key; key = zlistx_next (late)) {
        pending_t *pending = s_take (self, (uint64_t) (uintptr_t) key);
        s_error (self, &pending->peer, pending->api_seq, 503, WA_ERR_NOT_READY, "the upstream did not answer "
                 "for the identity of %s in time", pending->wa_id);
        s_free (&pending);
    }
    zlistx_destroy (&late);
    return 0;
}

identity_t *
identity_new (const wa_config_t *settings, identity_io_t io, void *arg, wa_loop_t *loop)
{
    identity_t *self = (identity_t *) zmalloc (sizeof (identity_t));
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
identity_destroy (identity_t **self_p)
{
    identity_t *self = *self_p;
    if (!self)
        return;
    s_end_all (self, 503, WA_ERR_NOT_READY, "the Coreapp is stopping");
    if (self->sweep_timer >= 0)
        wa_loop_timer_end (self->loop, self->sweep_timer);
    zhashx_destroy (&self->pending);
    free (self);
    *self_p = NULL;
}

static void s_run (wa_job_t *job, wa_db_t *db);

void
identity_request (identity_t *self, zframe_t **peer, uint64_t seq, const json_t *request, const char *unavailable)
{
    const char *wa_id = json_string_value (json_object_get (request, "wa_id"));
    const char *hash = json_string_value (json_object_get (request, "hash"));
    const char *by = json_string_value (json_object_get (request, "by"));
    size_t len = wa_id ? strlen (wa_id) : 0;
    if (len == 0 || len > 20 || strspn (wa_id, "0123456789") != len) {
        s_error (self, peer, seq, 400, WA_ERR_INVALID, "'wa_id' must be a WhatsApp id");
        return;
    }
    if (hash && (!*hash || strlen (hash) > HASH_MAX)) {
        s_error (self, peer, seq, 400, WA_ERR_INVALID, "'hash' must be an identity hash");
        return;
    }
    if (unavailable) {
        s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "%s", unavailable);
        return;
    }
    if (zhashx_size (self->pending) >= IDENTITY_MAX) {
        s_error (self, peer, seq, 503, WA_ERR_OVERLOADED, "%d identity requests wait already", IDENTITY_MAX);
        return;
    }
    json_t *payload = json_pack ("{s:s}", "identity", wa_id);
    char *text = payload ? json_dumps (payload, JSON_COMPACT) : NULL;
    json_decref (payload);
    uint64_t up_seq = IDENTITY_SEQ_BIT | ++self->next_seq;
    int rc = text ? self->io.ask (self->arg, up_seq, text) : -1;
    free (text);
    if (rc) {
        s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "the identity request cannot go upstream now");
        return;
    }
    pending_t *pending = WA_JOB_NEW (pending_t, IDENTITY_JOB_KIND, s_run, s_job_destroy);
    pending->seq = up_seq;
    pending->peer = *peer;
    *peer = NULL;
    pending->api_seq = seq;
    pending->ack = hash != NULL;
    snprintf (pending->wa_id, sizeof pending->wa_id, "%s", wa_id);
    snprintf (pending->hash, sizeof pending->hash, "%s", hash ? hash : "");
    snprintf (pending->by, sizeof pending->by, "api:%.60s", by ? by : "");
    pending->deadline = wa_clock_mono ()
                      + wa_clock_from_sec (IDENTITY_TIMEOUT_SHARE * self->settings->request_attempt_timeout);
    zhashx_insert (self->pending, WA_U64_KEY (up_seq), pending);
}

//  On the DB worker: the acknowledgement read, or stored.
static int
s_hash_row (const wa_db_row_t *row, void *arg)
{
    snprintf ((char *) arg, HASH_MAX + 1, "%s", wa_db_row_str (row, 0));
    return 0;
}

static void
s_run (wa_job_t *job, wa_db_t *db)
{
    pending_t *self = (pending_t *) job;
    self->stored[0] = 0;
    if (self->ack)
        job->rc = wa_db_exec (db, SQL_ACK, "sss", self->wa_id, self->hash, self->by) < 0 ? -1 : 0;
    else
        job->rc = wa_db_query (db, SQL_READ, s_hash_row, self->stored, "s", self->wa_id) < 0 ? -1 : 0;
    if (job->rc)
        wa_warn ("identity: %s", wa_db_error (db));
}

void
identity_on_reply (identity_t *self, uint64_t seq, const char *text, size_t len)
{
    pending_t *pending = s_take (self, seq);
    if (!pending)
        return;                 //  answered already
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *identity = json_object_get (root, "identity");
    const char *hash = json_string_value (json_object_get (identity, "hash"));
    json_t *created = json_object_get (identity, "created_timestamp");
    const char *error = json_string_value (json_object_get (root, "error"));
    if (!hash || strlen (hash) > HASH_MAX || !json_is_integer (created)) {
        s_error (self, &pending->peer, pending->api_seq, 404, WA_ERR_NOT_FOUND, "no identity for %s (the upstream "
                 "says: %.120s)", pending->wa_id, error ? error : "nothing");
        s_free (&pending);
    }
    else
    if (pending->ack && strcmp (hash, pending->hash) != 0) {
        s_error (self, &pending->peer, pending->api_seq, 400, WA_ERR_INVALID, "'hash' is not the latest identity "
                 "hash of %s: GET it again, then acknowledge that one", pending->wa_id);
        s_free (&pending);
    }
    else {
        snprintf (pending->latest, sizeof pending->latest, "%s", hash);
        pending->created = json_integer_value (created);
        wa_job_t *job = &pending->job;
        if (self->io.submit (self->arg, &job)) {
            s_error (self, &pending->peer, pending->api_seq, 503, WA_ERR_OVERLOADED, "the database worker refused "
                     "the job");
            s_free (&pending);
        }
    }
    json_decref (root);
}

void
identity_job_done (identity_t *self, wa_job_t *job)
{
    pending_t *pending = (pending_t *) job;
    if (job->rc)
        s_error (self, &pending->peer, pending->api_seq, 500, WA_ERR_DATABASE, "the identity could not be %s: the "
                 "database failed", pending->ack ? "acknowledged" : "read");
    else
    if (pending->ack) {
        wa_info ("identity of %s acknowledged by %s", pending->wa_id, pending->by + 4);
        self->io.reply (self->arg, &pending->peer, pending->api_seq, 200, "{}");
    }
    else {
        json_t *body = json_pack ("{s:{s:s, s:I, s:b}}", "contacts", "hash", pending->latest, "created_timestamp",
                                  (json_int_t) pending->created, "acknowledged",
                                  strcmp (pending->stored, pending->latest) == 0);
        char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
        self->io.reply (self->arg, &pending->peer, pending->api_seq, text ? 200 : 500, text ? text : "{}");
        free (text);
        json_decref (body);
    }
    s_free (&pending);
}

void
identity_session_closed (identity_t *self)
{
    s_end_all (self, 503, WA_ERR_NOT_READY, "the upstream session closed before it answered");
}

void
identity_demoted (identity_t *self)
{
    s_end_all (self, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp no longer holds the contact's shard");
}
