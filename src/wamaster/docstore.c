/*  docstore — see docstore.h */
#include <ctype.h>
#include <stdarg.h>
#include <time.h>
#include <sodium.h>
#include "wa_certs.h"
#include "wa_errors.h"
#include "wa_lease.h"
#include "wa_log.h"
#include "docstore.h"
#include "gatelink.h"

//  Requests waiting for their turn; past this, 503 (1016).
#define QUEUE_MAX 32

typedef enum { OP_CERT_SET, OP_CERT_DELETE, OP_FIRSTPARTY } doc_op_t;
static const char *s_ops[] = { "cert_set", "cert_delete", "stickers_firstparty" };
#define OPS (sizeof s_ops / sizeof s_ops[0])


typedef struct {
    wa_job_t job;
    //  the reactor's (never read on the worker)
    docstore_t *store;
    void *asking;               //  in the store's list while the network has it
    zframe_t *peer;
    uint64_t seq;
    //  in
    doc_op_t op;
    char name[32];
    char *pem;                  //  cert_set: canonical (wa_certs), malloc'd
    char by[65];
    uint64_t node;
    uint64_t epoch;
    wa_usec_t deadline;
    //  out
    int status;                 //  HTTP
    int code;                   //  API error code, 0 when none
    char error[600];
} doc_job_t;

struct docstore_t {
    wa_loop_t *loop;
    zsock_t *sock;
    wa_trust_t *trust;
    wa_dbworker_t *db;
    const wa_config_t *settings;
    api_hooks_t hooks;
    gatelink_t *gate;
    zlistx_t *queue;            //  doc_job_t waiting for the worker
    zlistx_t *asking;           //  doc_job_t waiting for the network
    bool running;               //  the worker has one
    wa_msg_t *msg;              //  for the answers
};

static const char *SQL_CERT_SET =
    "INSERT INTO certificates (name, pem, version, updated_at, updated_by) VALUES (?, ?, 1, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE pem = VALUES(pem), version = version + 1, updated_at = NOW(6),"
    " updated_by = VALUES(updated_by)";
static const char *SQL_CERT_DELETE =
    "UPDATE certificates SET pem = '', version = version + 1, updated_at = NOW(6), updated_by = ?"
    " WHERE name = ? AND pem <> ''";

static void
s_job_destroy (wa_job_t *job)
{
    doc_job_t *self = (doc_job_t *) job;
    if (self->pem) {
        sodium_memzero (self->pem, strlen (self->pem));
        free (self->pem);
    }
    zframe_destroy (&self->peer);
}

//  --------------------------------------------------------------------------
//  The DB worker's side

static void
s_db_failed (doc_job_t *self, wa_db_t *db, const char *what, bool rollback)
{
    snprintf (self->error, sizeof self->error, "%s: %s", what, wa_db_error (db));
    self->status = 500;
    self->code = WA_ERR_DATABASE;
    if (rollback)
        wa_db_transaction (db, "ROLLBACK");
}

//  Under a shared lock on the lease row, checked to be ours: no takeover
//  happens while the change is stored.
static void
s_run (wa_job_t *job, wa_db_t *db)
{
    doc_job_t *self = (doc_job_t *) job;
    self->status = 200;
    self->code = 0;
    if (wa_clock_mono () >= self->deadline) {
        snprintf (self->error, sizeof self->error, "master %" PRIu64 "'s lease deadline passed; nothing was "
                  "changed", self->node);
        self->status = 500;
        self->code = WA_ERR_NOT_PRIMARY_MASTER;
        return;
    }
    if (wa_db_transaction (db, "START TRANSACTION")) {
        s_db_failed (self, db, "cannot start a transaction", false);
        return;
    }
    int64_t holds = 0;
    if ((holds = wa_lease_fence_master (db, self->node, self->epoch)) < 0) {
        s_db_failed (self, db, "cannot read the master lease", true);
        return;
    }
    if (holds != 1) {
        wa_db_transaction (db, "ROLLBACK");
        snprintf (self->error, sizeof self->error, "master %" PRIu64 " no longer holds the master lease (epoch %"
                  PRIu64 "); nothing was changed", self->node, self->epoch);
        self->status = 500;
        self->code = WA_ERR_NOT_PRIMARY_MASTER;
        return;
    }
    int64_t rows = self->op == OP_CERT_SET ? wa_db_exec (db, SQL_CERT_SET, "sss", self->name, self->pem, self->by)
                                           : wa_db_exec (db, SQL_CERT_DELETE, "ss", self->by, self->name);
    if (rows < 0) {
        s_db_failed (self, db, "cannot store the certificate", true);
        return;
    }
    if (wa_db_transaction (db, "COMMIT")) {
        s_db_failed (self, db, "cannot commit the certificate", false);
        return;
    }
    if (self->op == OP_CERT_DELETE && rows == 0) {
        self->status = 404;
        self->code = WA_ERR_NOT_FOUND;
        snprintf (self->error, sizeof self->error, "no webhooks CA certificate is set");
    }
}

//  --------------------------------------------------------------------------
//  Answers

static void
s_reply (docstore_t *self, zframe_t *peer, uint64_t seq, int status, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    wa_msg_init (self->msg, WA_MSG_API_REP);
    self->msg->seq = seq;
    if (!text || strlen (text) > WA_TEXT_MAX) {
        self->msg->code = 500;
        wa_msg_set_text (self->msg, "{\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS
                                    ",\"details\":\"the answer could not be encoded\"}]}");
    }
    else {
        self->msg->code = (uint32_t) status;
        wa_msg_set_text (self->msg, text);
    }
    free (text);
    if (wa_codec_send (self->sock, peer, self->msg))
        wa_warn ("docstore: could not send the answer to request %" PRIu64, seq);
}

static void
s_error (docstore_t *self, zframe_t *peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_error (docstore_t *self, zframe_t *peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    char details[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    json_t *text = json_string (details);
    if (!text)
        text = json_string ("(details not valid UTF-8)");
    json_t *body = json_pack ("{s:[{s:i,s:o}]}", "errors", "code", code, "details", text);
    s_reply (self, peer, seq, status, body);
    json_decref (body);
}

static void
s_job_free (doc_job_t **job_p)
{
    wa_job_t *job = (wa_job_t *) *job_p;
    wa_job_destroy (&job);
    *job_p = NULL;
}

//  Hand the next request to the worker, unless it has one.
static void
s_pump (docstore_t *self)
{
    doc_job_t *job;
    while (!self->running && (job = zlistx_detach (self->queue, NULL))) {
        api_lease_t lease = { 0 };
        if (!self->hooks.primary (self->hooks.arg, &lease) || !lease.ready) {
            s_error (self, job->peer, job->seq, 500, WA_ERR_NOT_PRIMARY_MASTER,
                     "master %" PRIu64 " is not the primary Master (%s)", lease.node,
                     lease.role ? lease.role : "secondary_master");
            s_job_free (&job);
            continue;
        }
        job->node = lease.node;
        job->epoch = lease.epoch;
        job->deadline = lease.deadline;
        if (WA_JOB_SUBMIT (self->db, job)) {
            s_error (self, job->peer, job->seq, 500, WA_ERR_INTERNAL, "the Master's database worker refused the job");
            s_job_free (&job);
            continue;
        }
        self->running = true;
    }
}

//  wagate's answer to a first-party question.
static void
s_on_firstparty (void *arg, int status, json_t *reply, const char *why)
{
    doc_job_t *job = arg;
    docstore_t *self = job->store;
    zlistx_delete (self->asking, job->asking);
    if (status == 0)
        s_error (self, job->peer, job->seq, 503, WA_ERR_NOT_READY, "the network does not answer: %s",
                 why ? why : "no answer");
    else
    if (status != 200) {
        const char *error = json_string_value (json_object_get (reply, "error"));
        s_error (self, job->peer, job->seq, status == 404 ? 404 : 400, status == 404 ? WA_ERR_NOT_FOUND : WA_ERR_INVALID,
                 "%s", error ? error : "refused by the network");
    }
    else {
        json_object_del (reply, "id");
        s_reply (self, job->peer, job->seq, 200, reply);
    }
    json_decref (reply);
    s_job_free (&job);
}

void
docstore_request (docstore_t *self, zframe_t *peer, const wa_msg_t *msg, json_t *root)
{
    const char *op = json_string_value (json_object_get (root, "op"));
    int kind = -1;
    for (size_t i = 0; op && i < OPS; i++)
        if (streq (op, s_ops[i]))
            kind = (int) i;
    assert (kind >= 0);
    if (zlistx_size (self->queue) >= QUEUE_MAX) {
        s_error (self, peer, msg->seq, 503, WA_ERR_OVERLOADED, "%d requests are waiting already", QUEUE_MAX);
        return;
    }
    doc_job_t *job = WA_JOB_NEW (doc_job_t, DOCSTORE_JOB_KIND, s_run, s_job_destroy);
    job->store = self;
    job->peer = zframe_dup (peer);
    job->seq = msg->seq;
    job->op = (doc_op_t) kind;
    if (job->op == OP_FIRSTPARTY) {
        json_t *ask = json_pack ("{s:s}", "op", "stickerpacks");
        const char *pack = json_string_value (json_object_get (root, "pack"));
        const char *index = json_string_value (json_object_get (root, "index"));
        if (pack)
            json_object_set_new (ask, "pack", json_string (pack));
        if (index)
            json_object_set_new (ask, "index", json_string (index));
        if (json_is_true (json_object_get (root, "stickers")))
            json_object_set_new (ask, "stickers", json_true ());
        wa_usec_t timeout = wa_clock_from_sec (self->settings->request_attempt_timeout * 0.5);
        if (gatelink_ask (self->gate, ask, timeout, s_on_firstparty, job) == 0)
            job->asking = zlistx_add_end (self->asking, job);
        else {
            s_error (self, peer, msg->seq, 503, WA_ERR_OVERLOADED, "%d requests wait for the network already",
                     GATELINK_QUEUE_MAX);
            s_job_free (&job);
        }
        return;
    }
    const char *name = json_string_value (json_object_get (root, "name"));
    const char *by = json_string_value (json_object_get (root, "by"));
    if (!name || (!streq (name, WA_CERTS_EXTERNAL) && !streq (name, WA_CERTS_WEBHOOKS_CA))
    ||  (job->op == OP_CERT_DELETE && !streq (name, WA_CERTS_WEBHOOKS_CA))) {
        s_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "'name' must be '%s' or '%s'", WA_CERTS_EXTERNAL,
                 WA_CERTS_WEBHOOKS_CA);
        s_job_free (&job);
        return;
    }
    if (!by || !*by) {
        s_error (self, peer, msg->seq, 400, WA_ERR_MISSING, "'by' is missing: the user making the change");
        s_job_free (&job);
        return;
    }
    snprintf (job->name, sizeof job->name, "%s", name);
    if (wa_trust_sender (self->trust, msg) == WA_ROLE_WACTL)
        snprintf (job->by, sizeof job->by, "wactl:%.58s", wa_trust_sender_name (self->trust, msg));
    else
        snprintf (job->by, sizeof job->by, "api:%.60s", by);
    for (char *c = job->by; *c; c++)
        if (!isprint ((unsigned char) *c))
            *c = '?';
    if (job->op == OP_CERT_SET) {
        //  Checked again here: the table holds only what passes.
        json_t *pem = json_object_get (root, "pem");
        wa_certs_t certs;
        char why[600];
        int code = !json_is_string (pem) ? WA_ERR_MISSING
                 : streq (name, WA_CERTS_EXTERNAL)
                 ? wa_certs_check_external (json_string_value (pem), json_string_length (pem), time (NULL), &certs,
                                            why, sizeof why)
                 : wa_certs_check_ca (json_string_value (pem), json_string_length (pem), time (NULL), &certs, why,
                                      sizeof why);
        if (code) {
            s_error (self, peer, msg->seq, 400, code, "%s", json_is_string (pem) ? why : "'pem' is missing");
            s_job_free (&job);
            return;
        }
        job->pem = certs.pem;
        certs.pem = NULL;
        wa_certs_free (&certs);
    }
    zlistx_add_end (self->queue, job);
    s_pump (self);
}

bool
docstore_handles (const char *op)
{
    for (size_t i = 0; op && i < OPS; i++)
        if (streq (op, s_ops[i]))
            return true;
    return false;
}

bool
docstore_job_back (docstore_t *self, wa_job_t *job)
{
    if (!self || job->kind != DOCSTORE_JOB_KIND)
        return false;
    self->running = false;
    wa_job_destroy (&job);
    return true;
}

bool
docstore_job_done (docstore_t *self, wa_job_t *job)
{
    if (!self || job->kind != DOCSTORE_JOB_KIND)
        return false;
    doc_job_t *done = (doc_job_t *) job;
    self->running = false;
    if (done->code)
        s_error (self, done->peer, done->seq, done->status, done->code, "%s", done->error);
    else {
        json_t *body = json_object ();
        s_reply (self, done->peer, done->seq, done->status, body);
        json_decref (body);
        wa_info ("docstore: %s %s the %s certificate: stored (version bumped)", done->by,
                 done->op == OP_CERT_SET ? "set" : "removed", done->name);
    }
    if (done->code && done->code != WA_ERR_NOT_FOUND)
        wa_warn ("docstore: %s of the %s certificate failed: %s", s_ops[done->op], done->name, done->error);
    s_job_free (&done);
    s_pump (self);
    return true;
}

docstore_t *
docstore_new (wa_loop_t *loop, zsock_t *sock, wa_trust_t *trust, wa_dbworker_t *db, const wa_config_t *settings,
              const api_hooks_t *hooks)
{
    docstore_t *self = (docstore_t *) zmalloc (sizeof (docstore_t));
    self->loop = loop;
    self->sock = sock;
    self->trust = trust;
    self->db = db;
    self->settings = settings;
    self->hooks = *hooks;
    self->gate = gatelink_new (loop, settings->upstream_control_endpoint);
    self->queue = zlistx_new ();
    self->asking = zlistx_new ();
    self->msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    return self;
}

void
docstore_stop (docstore_t *self)
{
    if (!self)
        return;
    doc_job_t *job;
    while ((job = zlistx_detach (self->queue, NULL))) {
        s_error (self, job->peer, job->seq, 500, WA_ERR_NOT_PRIMARY_MASTER, "the Master is stopping");
        s_job_free (&job);
    }
}

void
docstore_destroy (docstore_t **self_p)
{
    docstore_t *self = *self_p;
    if (!self)
        return;
    doc_job_t *job;
    while ((job = zlistx_detach (self->queue, NULL)))
        s_job_free (&job);
    zlistx_destroy (&self->queue);
    //  Questions still with the network: their callbacks never come now.
    gatelink_destroy (&self->gate);
    while ((job = zlistx_detach (self->asking, NULL)))
        s_job_free (&job);
    zlistx_destroy (&self->asking);
    free (self->msg);
    free (self);
    *self_p = NULL;
}
