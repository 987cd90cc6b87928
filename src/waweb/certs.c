/*  certs — /v1/certificates, as the original takes them (PEM text bodies,
    Content-Type text/plain), and the watch that makes every Webapp serve
    the external certificate:

    POST /v1/certificates/external (ADMIN): the private key, the server's
        certificate and at least one CA certificate, checked here
        (wa_certs), then forwarded to the primary Master (op cert_set),
        which checks again and stores it fenced by its lease. 200.
    GET /v1/certificates/external/ca (any token): the CA certificates of
        the chain this Webapp serves now (text/plain): the uploaded CAs, or
        its own certificate when that is self-signed; 404 over plain HTTP
        or with no CA.
    POST, GET, DELETE /v1/certificates/webhooks/ca (ADMIN): the CAs the
        Coreapps trust for webhook delivery; GET reads the table here.

    The watch: every shard_renew_interval the Webapp asks the table for the
    external certificate's row if its version changed (one indexed read
    that returns nothing when it did not), and hands a new one to the HTTPS
    server (tlscert_set): new connections get it, open ones keep theirs. A
    Webapp serving plain HTTP logs once that it does not use it. */
#include <time.h>
#include "wa_certs.h"
#include "wa_log.h"
#include "coreapps.h"
#include "tlscert.h"
#include "web.h"
#include "certs.h"

//  PEM in the table is read in columns of this size (a column holds at
//  most 8 KiB in wa_db): WA_CERTS_PEM_MAX fits in three.
#define CHUNK 5000
#define SQL_CHUNKS "SUBSTRING(pem, 1, 5000), SUBSTRING(pem, 5001, 5000), SUBSTRING(pem, 10001, 5000)"

static const char *SQL_CHANGED =
    "SELECT version, " SQL_CHUNKS " FROM certificates WHERE name = ? AND version <> ?";

typedef struct {
    wa_job_t job;
    char name[32];              //  in
    uint64_t known;             //  in: the version we have (0: none)
    bool found;                 //  out: a row with another version
    uint64_t version;
    char *pem;                  //  malloc'd, "" when emptied
} cert_job_t;

struct certs_t {
    web_t *web;
    cert_job_t *job;            //  NULL while the worker has it
    uint64_t version;           //  of the external certificate applied (or refused)
    bool plain_logged;
};

static void
s_cert_job_destroy (wa_job_t *job)
{
    cert_job_t *self = (cert_job_t *) job;
    if (self->pem)
        sodium_memzero (self->pem, strlen (self->pem));
    free (self->pem);
    self->pem = NULL;
}

static int
s_cert_row (const wa_db_row_t *row, void *arg)
{
    cert_job_t *self = arg;
    self->found = true;
    self->version = (uint64_t) wa_db_row_int (row, 0);
    size_t len = 0;
    for (int i = 1; i <= 3; i++)
        len += strlen (wa_db_row_str (row, i));
    free (self->pem);
    self->pem = malloc (len + 1);
    if (!self->pem)
        return -1;
    self->pem[0] = 0;
    for (int i = 1; i <= 3; i++)
        strcat (self->pem, wa_db_row_str (row, i));
    return 0;
}

static void
s_cert_read (cert_job_t *self, wa_db_t *db)
{
    self->found = false;
    self->job.rc = wa_db_query (db, SQL_CHANGED, s_cert_row, self, "su", self->name, self->known) < 0 ? -1 : 0;
    if (self->found && !self->pem)
        self->job.rc = -1;
}

static void
s_watch_run (wa_job_t *job, wa_db_t *db)
{
    s_cert_read ((cert_job_t *) job, db);
}

certs_t *
certs_new (web_t *web)
{
    certs_t *self = (certs_t *) zmalloc (sizeof (certs_t));
    self->web = web;
    self->job = WA_JOB_NEW (cert_job_t, CERTS_JOB_KIND, s_watch_run, s_cert_job_destroy);
    snprintf (self->job->name, sizeof self->job->name, "%s", WA_CERTS_EXTERNAL);
    return self;
}

void
certs_destroy (certs_t **self_p)
{
    certs_t *self = *self_p;
    if (!self)
        return;
    WA_JOB_DESTROY (self->job);
    free (self);
    *self_p = NULL;
}

void
certs_poll (certs_t *self, wa_dbworker_t *db)
{
    if (!self->job)
        return;                 //  the last read is still under way
    self->job->known = self->version;
    WA_JOB_SUBMIT (db, self->job);
}

bool
certs_job_done (certs_t *self, wa_job_t *job, http_server_t *http)
{
    if (job->kind != CERTS_JOB_KIND)
        return false;
    cert_job_t *read = self->job = (cert_job_t *) job;
    if (job->rc || !read->found)
        return true;
    uint64_t version = read->version;
    self->version = version;
    tlscert_t *tls = http_server_certs (http);
    if (!*read->pem)
        wa_warn ("the external certificate was removed from the database: serving %s until a new one is set",
                 tls ? tlscert_source (tls) : "plain HTTP");
    else
    if (!tls) {
        if (!self->plain_logged)
            wa_warn ("an external certificate is set (POST /v1/certificates/external) but this Webapp serves "
                     "plain HTTP (webapp_tls_cert and webapp_tls_key unset): it is not used here");
        self->plain_logged = true;
    }
    else {
        char source[80], err[300];
        snprintf (source, sizeof source, "the external certificate (version %" PRIu64 ")", version);
        if (tlscert_set (tls, read->pem, source, err, sizeof err))
            wa_error ("cannot serve %s: %s; still serving the previous one", source, err);
        else
            wa_info ("HTTPS: serving %s to new connections", source);
    }
    sodium_memzero (read->pem, strlen (read->pem));
    free (read->pem);
    read->pem = NULL;
    return true;
}

//  --------------------------------------------------------------------------
//  The endpoints

//  GET /v1/certificates/webhooks/ca: the request's own read.
static void
s_ca_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    cert_job_t *read = req->extra;
    s_cert_read (read, db);
    job->rc = read->job.rc;
}

static void
s_ca_free (void *extra)
{
    cert_job_t *read = extra;
    s_cert_job_destroy (&read->job);
    free (read);
}

static void
s_ca_read (web_t *self, web_req_t *req)
{
    cert_job_t *read = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the certificate now");
        return;
    }
    if (!read->found || !*read->pem) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no webhooks CA certificate is set");
        return;
    }
    char *text = read->pem;
    read->pem = NULL;
    web_reply_text (self, req, 200, text, strlen (text), "text/plain");
}

void
certs_request (web_t *self, web_req_t *req)
{
    switch (req->route.id) {
        case ROUTE_CERT_EXTERNAL_SET:
        case ROUTE_CERT_WEBHOOKS_SET: {
            bool external = req->route.id == ROUTE_CERT_EXTERNAL_SET;
            wa_certs_t certs;
            char why[600];
            int code = external ? wa_certs_check_external (req->http.body, req->http.body_len, time (NULL), &certs,
                                                           why, sizeof why)
                                : wa_certs_check_ca (req->http.body, req->http.body_len, time (NULL), &certs, why,
                                                     sizeof why);
            if (code) {
                web_fail (self, req, 0, code, "%s", why);
                return;
            }
            wa_info ("%s uploads %s certificate '%s' (%d in the chain, expires %s, SHA-256 %s)", req->caller,
                     external ? "the external" : "a webhooks CA", certs.subject, certs.certs, certs.not_after,
                     certs.fingerprint);
            json_t *request = json_pack ("{s:s, s:s, s:s, s:s}", "op", "cert_set", "name",
                                         external ? WA_CERTS_EXTERNAL : WA_CERTS_WEBHOOKS_CA, "pem", certs.pem,
                                         "by", req->caller);
            wa_certs_free (&certs);
            web_forward (self, req, COREAPPS_MASTER, request);
            return;
        }
        case ROUTE_CERT_WEBHOOKS_DELETE:
            web_forward (self, req, COREAPPS_MASTER, json_pack ("{s:s, s:s, s:s}", "op", "cert_delete", "name",
                                                                WA_CERTS_WEBHOOKS_CA, "by", req->caller));
            return;
        case ROUTE_CERT_WEBHOOKS_GET: {
            cert_job_t *read = calloc (1, sizeof *read);
            assert (read);
            snprintf (read->name, sizeof read->name, "%s", WA_CERTS_WEBHOOKS_CA);
            req->extra = read;
            req->extra_free = s_ca_free;
            web_db (self, req, s_ca_run, s_ca_read);
            return;
        }
        case ROUTE_CERT_EXTERNAL_CA: {
            tlscert_t *tls = web_http (self) ? http_server_certs (web_http (self)) : NULL;
            char *ca = tls ? tlscert_ca (tls) : NULL;
            if (!ca) {
                web_fail (self, req, 404, WA_ERR_NOT_FOUND, "%s", tls ? "the certificate this Webapp serves has no "
                          "CA certificate (upload one with POST /v1/certificates/external)"
                          : "this Webapp serves plain HTTP: no certificate");
                return;
            }
            web_reply_text (self, req, 200, ca, strlen (ca), "text/plain");
            return;
        }
        default:
            web_fail (self, req, 0, WA_ERR_INTERNAL, "no handler for this route");
            return;
    }
}
