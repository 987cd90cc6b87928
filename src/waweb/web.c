/*  web — see web.h */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/stat.h>
#include <mysqld_error.h>
#include "wa_log.h"
#include "wa_notify.h"
#include "wa_reactor.h"
#include "wa_u64hash.h"
#include "wa_migrations.h"
#include "wa_settings.h"
#include "input.h"
#include "tokencache.h"
#include "coreapps.h"
#include "selfsigned.h"
#include "certs.h"
#include "web.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

//  Jobs queued per worker before requests get 1016: bounded latency, and a
//  bounded wait at shutdown (a worker runs what is queued before it ends).
#define DB_JOBS_MAX 256
#define HASH_JOBS_MAX 16
//  How long this Webapp trusts what it learnt about a token. A logout on
//  this Webapp drops the entry at once; on another Webapp it sets revoked_at,
//  which this one reads at its next lookup, so every Webapp honours a logout
//  (or a deleted user) within TOKEN_CACHE_TTL.
#define TOKEN_CACHE_TTL (2 * WA_USEC_PER_SEC)
#define PURGE_INTERVAL_MS 10000
//  Token rows that expired or were revoked this long ago are deleted (they
//  can no longer match a request), a bounded number per purge.
#define TOKENS_PURGE_EVERY 60           //  purges: every 10 minutes
//  At shutdown: how long to wait for requests MHD is still handing over.
#define DRAIN_MS 2000
//  How often connections past their header or body deadline are closed.
#define SWEEP_MS 100

//  The kinds of the Webapp's jobs (and wa_node's register and settings read).
enum { JOB_REQ_DB = 1, JOB_REQ_HASH, JOB_LIVENESS, JOB_SEED, JOB_ADMIN_HASH, JOB_TOKENS_PURGE,
       JOB_ADMIN_CHECK };

//  A request's job: the request is handed over with it.
typedef struct {
    wa_job_t job;
    web_req_t *req;
} req_job_t;

typedef struct {
    wa_job_t job;
    uint64_t id;
    bool stopping;
} liveness_job_t;

//  The first admin's password: "secret", to be changed at its first login
//  (and served only to loopback clients until then), or admin_password_file's.
typedef struct {
    wa_job_t job;
    char password[AUTH_PASSWORD_MAX + 1];   //  in (wiped once hashed)
    char hash[crypto_pwhash_STRBYTES];  //  out
} admin_job_t;

typedef struct {
    wa_job_t job;
    char hash[crypto_pwhash_STRBYTES];  //  the default admin's
    bool from_file;                     //  admin_password_file's: no change required
    int64_t admins_set;                 //  out: ADMINs with a password of their own
} seed_job_t;

//  Whether some ADMIN has a password of its own yet.
typedef struct {
    wa_job_t job;
    int64_t admins_set;                 //  out
} admin_check_job_t;

//  Expired tokens and failed-login windows.
typedef struct {
    wa_job_t job;
    int64_t failures_window_us;         //  in
} purge_job_t;

struct web_t {
    const wa_config_t *config;
    wa_trust_t *trust;          //  our key, and the keys we connect to
    wa_config_t settings;       //  the live cluster settings
    wa_loop_t *loop;
    http_server_t *http;
    zsock_t *requests;
    wa_dbworker_t *db;
    wa_dbworker_t *hasher;
    zlistx_t *pending;          //  requests handed over and not answered (but those at a worker)
    zhashx_t *lookups;          //  token hash → requests waiting for its lookup
    int db_jobs;                //  requests at the DB worker
    int hash_jobs;              //  at the hash worker
    tokencache_t *tokens;
    uint64_t id;                //  our node id once registered
    bool fatal;
    bool seeded;
    bool ready;
    //  The node's jobs, NULL while a worker has them.
    wa_register_job_t *register_job;    //  wa_node.h
    liveness_job_t *liveness_job;
    admin_job_t *admin_job;
    seed_job_t *seed_job;
    purge_job_t *tokens_purge_job;
    admin_check_job_t *admin_check_job;
    bool admin_set;             //  an ADMIN has a password of its own: every address is served
    bool admin_from_file;       //  the first password came from admin_password_file
    char admin_password[AUTH_PASSWORD_MAX + 1];     //  until handed to the hash job
    wa_reactor_t reactor;       //  the settings' timers and reads (wa_reactor)
    char default_hash[crypto_pwhash_STRBYTES];  //  Argon2id of "secret", once hashed
    int purges;
    coreapps_t *coreapps;       //  the primary Coreapps and what goes to them
    fetch_t *fetch;             //  media links being downloaded
    zhashx_t *fetching;         //  token → web_req_t whose download runs
    uint64_t fetch_tokens;
    metrics_t *metrics;
    uint64_t requests_seen;
    int probe_state;            //  what web_unready said last: -1 not asked yet, 0 unready, 1 ready
    char probe_why[200];        //  and why, when unready (health.c asks with as much)
    certs_t *certs;             //  the external certificate's watch (certs.h)
};

web_req_t *
web_job_req (wa_job_t *job)
{
    return ((req_job_t *) job)->req;
}

const wa_config_t *
web_config (web_t *self)
{
    return self->config;
}

http_server_t *
web_http (web_t *self)
{
    return self->http;
}

const wa_config_t *
web_settings (web_t *self)
{
    return &self->settings;
}

const char *
web_default_hash (web_t *self)
{
    return self->default_hash;
}

void
web_forget_token (web_t *self, const char *token_hash)
{
    tokencache_forget (self->tokens, token_hash);
}

void
web_forget_user (web_t *self, const char *username)
{
    tokencache_forget_user (self->tokens, username);
}

static const char *SQL_ADMINS_SET = "SELECT COUNT(*) FROM users WHERE role = 'ADMIN' AND must_change = 0";

static int
s_count_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static void
s_admin_check_run (wa_job_t *job, wa_db_t *db)
{
    admin_check_job_t *self = (admin_check_job_t *) job;
    job->rc = wa_db_query (db, SQL_ADMINS_SET, s_count_row, &self->admins_set, "") == 1 ? 0 : -1;
}

static void
s_admin_check (web_t *self)
{
    if (self->ready && !self->admin_set && self->admin_check_job)
        WA_JOB_SUBMIT (self->db, self->admin_check_job);
}

//  Once an ADMIN has a password of its own it stays so (the default admin
//  is created only into an empty table), so this is asked until it has.
static void
s_admin_checked (web_t *self, int64_t admins_set)
{
    if (self->admin_set || admins_set <= 0)
        return;
    self->admin_set = true;
    wa_info ("an ADMIN has a password of its own: serving clients on every address");
}

void
web_password_changed (web_t *self)
{
    s_admin_check (self);
}

//  --------------------------------------------------------------------------
//  Answers

void
web_reply (web_t *self, web_req_t *req, int status, json_t *response)
{
    if (!response)
        response = envelope_new ();
    if (status == 0)
        status = envelope_code (response) ? wa_error_status (envelope_code (response)) : 200;
    size_t len;
    char *body = envelope_dump (response, &len);
    json_decref (response);
    json_decref (req->input);
    req->input = NULL;
    json_decref (req->result);
    req->result = NULL;
    sodium_memzero (req->password, sizeof req->password);
    sodium_memzero (req->new_password, sizeof req->new_password);
    sodium_memzero (req->old_password, sizeof req->old_password);
    web_reply_text (self, req, status, body, len, NULL);
}

void
web_reply_text (web_t *self, web_req_t *req, int status, char *body, size_t len, const char *type)
{
    if (req->extra_free)
        req->extra_free (req->extra);
    else
        free (req->extra);
    req->extra = NULL;
    req->extra_free = NULL;
    zlistx_delete (self->pending, req->handle);
    if (req->fetch_token) {             //  its download's result has no one to go to
        zhashx_delete (self->fetching, WA_U64_KEY (req->fetch_token));
        req->fetch_token = 0;
    }
    metrics_request (self->metrics, route_name (req->route.id), status, wa_clock_mono () - req->started);
    wa_debug ("%s %s -> %d", req->http.method, req->http.path, status);
    req->http.content_type = type;
    http_respond (&req->http, status, body, len, req->route.allow);
}

metrics_t *
web_metrics (web_t *self)
{
    return self->metrics;
}

void
web_forward_stats (web_t *self, metrics_forward_t *out)
{
    coreapps_stats_t stats = coreapps_stats (self->coreapps);
    out->forwarded = stats.forwarded;
    out->retries = stats.retries;
    out->answered = stats.answered;
    out->expired = stats.expired;
    out->map_refreshes = stats.map_refreshes;
    out->in_flight = stats.in_flight;
    out->parked = stats.parked;
}

wa_trust_t *
web_trust (web_t *self)
{
    return self->trust;
}

wa_loop_t *
web_loop (web_t *self)
{
    return self->loop;
}

uint64_t
web_node_id (web_t *self)
{
    return self->id;
}

json_t *
web_own_stats (web_t *self)
{
    coreapps_stats_t f = coreapps_stats (self->coreapps);
    json_t *stats = json_pack ("{s:I, s:s, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
                               "node", (json_int_t) self->id, "kind", "webapp", "role", "webapp",
                               "requests", (json_int_t) self->requests_seen,
                               "pending", (json_int_t) (zlistx_size (self->pending) + (size_t) self->db_jobs
                                                        + (size_t) self->hash_jobs),
                               "forward", "attempts", (json_int_t) f.forwarded, "retries", (json_int_t) f.retries,
                               "answered", (json_int_t) f.answered, "expired", (json_int_t) f.expired,
                               "map_reads", (json_int_t) f.map_refreshes, "in_flight", (json_int_t) f.in_flight,
                               "parked", (json_int_t) f.parked);
    json_object_set_new (stats, "db", wa_dbworker_stats_json ());
    return stats;
}

void
web_fail (web_t *self, web_req_t *req, int status, int code, const char *fmt, ...)
{
    char details[400];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    web_reply (self, req, status ? status : wa_error_status (code), envelope_error (code, "%s", details));
}

//  Hand req over to worker with a job of kind running run: out of the
//  list of requests until it comes back (s_req_back). 0 / -1 (nothing sent).
static int
s_req_submit (web_t *self, wa_dbworker_t *worker, int kind, web_req_t *req, wa_job_run_fn *run, web_step_fn *next)
{
    req_job_t *job = WA_JOB_NEW (req_job_t, kind, run, NULL);
    job->req = req;
    req->next = next;
    if (WA_JOB_SUBMIT (worker, job)) {
        WA_JOB_DESTROY (job);
        return -1;
    }
    assert (req->handle);
    zlistx_delete (self->pending, req->handle);
    req->handle = NULL;
    return 0;
}

//  A request's job came back: the request is the reactor's again.
static web_req_t *
s_req_back (web_t *self, wa_job_t *job)
{
    web_req_t *req = web_job_req (job);
    if (job->kind == JOB_REQ_DB)
        self->db_jobs--;
    else
        self->hash_jobs--;
    req->job_rc = job->rc;
    wa_job_destroy (&job);
    req->handle = zlistx_add_end (self->pending, req);
    return req;
}

void
web_db (web_t *self, web_req_t *req, wa_job_run_fn *run, web_step_fn *next)
{
    if (self->db_jobs >= DB_JOBS_MAX) {
        web_fail (self, req, 0, WA_ERR_OVERLOADED, "too many requests wait for the database");
        return;
    }
    if (s_req_submit (self, self->db, JOB_REQ_DB, req, run, next) == 0)
        self->db_jobs++;
    else
        web_fail (self, req, 0, WA_ERR_INTERNAL, "the database worker refused the job");
}

void
web_hash (web_t *self, web_req_t *req, wa_job_run_fn *run, web_step_fn *next)
{
    if (self->hash_jobs >= HASH_JOBS_MAX) {
        web_fail (self, req, 0, WA_ERR_OVERLOADED, "too many password checks are waiting");
        return;
    }
    if (s_req_submit (self, self->hasher, JOB_REQ_HASH, req, run, next) == 0)
        self->hash_jobs++;
    else
        web_fail (self, req, 0, WA_ERR_INTERNAL, "the hash worker refused the job");
}

void
web_fetch (web_t *self, web_req_t *req, fetch_spec_t *spec, fetch_result_t *result, web_step_fn *next)
{
    uint64_t token = ++self->fetch_tokens;
    if (!self->fetch || fetch_start (self->fetch, token, spec)) {
        web_fail (self, req, 503, WA_ERR_OVERLOADED, "%d media downloads run on this Webapp already",
                  FETCH_RUNNING_MAX);
        return;
    }
    req->fetch_token = token;
    req->fetch_result = result;
    req->next = next;
    zhashx_insert (self->fetching, WA_U64_KEY (token), req);
}

static void
s_fetched (void *arg, uint64_t token, const fetch_result_t *result)
{
    web_t *self = arg;
    web_req_t *req = zhashx_lookup (self->fetching, WA_U64_KEY (token));
    if (!req)
        return;                 //  answered meanwhile (a stop)
    zhashx_delete (self->fetching, WA_U64_KEY (token));
    req->fetch_token = 0;
    *req->fetch_result = *result;
    req->fetch_result = NULL;
    req->next (self, req);
}

//  --------------------------------------------------------------------------
//  Forwarding to the Coreapps

const char *
web_unready (web_t *self, char *why, size_t size)
{
    const char *unready = why;
    if (!self->ready)
        snprintf (why, size, "starting: waiting for the database (schema version %d)", wa_schema_version);
    else
        unready = coreapps_unready (self->coreapps, why, size);
    //  Once per change: a balancer asks every second.
    int state = unready ? 0 : 1;
    if (state != self->probe_state || (unready && !streq (why, self->probe_why))) {
        if (unready)
            wa_warn ("not ready for load balancers (GET /v1/health/ready answers 503): %s", why);
        else
        if (self->probe_state == 0)
            wa_info ("ready for load balancers again (GET /v1/health/ready answers 200)");
        self->probe_state = state;
        snprintf (self->probe_why, sizeof self->probe_why, "%s", unready ? why : "");
    }
    return unready;
}

int
web_shards (web_t *self)
{
    return coreapps_shards (self->coreapps);
}

void
web_forward (web_t *self, web_req_t *req, int shard, json_t *request)
{
    req->fwd_text = request ? json_dumps (request, JSON_COMPACT) : NULL;
    json_decref (request);
    if (!req->fwd_text || strlen (req->fwd_text) > WA_TEXT_MAX) {
        web_fail (self, req, 0, req->fwd_text ? WA_ERR_INVALID : WA_ERR_INTERNAL,
                  req->fwd_text ? "the request is too large" : "out of memory");
        free (req->fwd_text);
        req->fwd_text = NULL;
        return;
    }
    coreapps_forward (self->coreapps, req, shard);
}

void
web_forward_routed (web_t *self, web_req_t *req, const char *route, json_t *request)
{
    snprintf (req->fwd_route, sizeof req->fwd_route, "%s", route);
    if (request)
        json_object_set_new (request, "route", json_string (req->fwd_route));
    web_forward (self, req, wa_message_shard (req->fwd_route, web_shards (self)), request);
}

//  A forwarded request's answer: the Coreapp's, in the envelope; or, when
//  no attempt succeeded before the deadline, what the last one met.
static void
s_forwarded (web_t *self, web_req_t *req, int status, json_t *response)
{
    if (!response) {
        //  What the last attempt met: no primary Master is 1017; no primary
        //  Coreapp, or one not ready, 1011; a database error 1023.
        bool master = req->fwd_shard == COREAPPS_MASTER;
        int code = req->fwd_last_code;
        if (code == 0 || code == WA_ERR_NOT_PRIMARY_COREAPP || (code == WA_ERR_NOT_PRIMARY_MASTER && !master))
            code = WA_ERR_NOT_READY;
        web_fail (self, req, code == WA_ERR_NOT_READY ? 503 : 0, code,
                  "no %s accepted the request within request_deadline (%g s); last attempt: %s",
                  master ? "primary Master" : "primary Coreapp", self->settings.request_deadline,
                  req->fwd_last_why[0] ? req->fwd_last_why : "none");
        return;
    }
    json_t *errors = json_object_get (response, "errors");
    if (errors) {
        json_t *first = json_array_get (errors, 0);
        int code = (int) json_integer_value (json_object_get (first, "code"));
        const char *details = json_string_value (json_object_get (first, "details"));
        json_t *envelope = envelope_error (code ? code : WA_ERR_GENERIC, "%s", details ? details : "");
        json_decref (response);
        web_reply (self, req, status >= 400 && status <= 599 ? status : 0, envelope);
        return;
    }
    json_t *envelope = envelope_new ();
    json_object_update (envelope, response);
    json_decref (response);
    web_reply (self, req, status >= 200 && status <= 299 ? status : 200, envelope);
}

//  --------------------------------------------------------------------------
//  Authentication and dispatch

static const char *SQL_TOKEN =
    "SELECT t.username, u.role, TIMESTAMPDIFF(MICROSECOND, NOW(6), t.expires_at)"
    " FROM tokens t JOIN users u ON u.username = t.username"
    " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > NOW(6)";

static int
s_token_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    req->found = true;
    snprintf (req->caller, sizeof req->caller, "%s", wa_db_row_str (row, 0));
    snprintf (req->caller_role, sizeof req->caller_role, "%s", wa_db_row_str (row, 1));
    req->remaining = wa_db_row_int (row, 2);
    return 0;
}

//  A lookup whose connection was lost is asked again, on the next database
//  node that serves, for this long: a Galera node lost stalls every node's
//  statements until the others have evicted it (6 s after a kill -9, 10 s
//  after a partition with Galera's default evs.suspect_timeout, measured),
//  and a valid token should not meet a 500 for that. A read asked twice
//  changes nothing.
#define TOKEN_RETRY_FOR (15 * WA_USEC_PER_SEC)

static void
s_token_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    wa_usec_t until = wa_clock_mono () + TOKEN_RETRY_FOR;
    while (true) {
        req->found = false;
        job->rc = wa_db_query (db, SQL_TOKEN, s_token_row, req, "s", req->token_hash) < 0 ? -1 : 0;
        //  Done, or out of time, or an error of the statement's own (a
        //  lost connection, a deadlock or lock wait, and a node that left
        //  the primary component, which aborts what runs on it, are tried
        //  again).
        unsigned int err = wa_db_errno (db);
        bool again = !wa_db_connected (db) || err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT
                  || err == ER_UNKNOWN_COM_ERROR;
        if (job->rc == 0 || !again || wa_clock_mono () >= until) {
            if (job->rc)
                wa_warn ("db: a token lookup failed: %s", wa_db_error (db));
            return;
        }
        //  Not connected: the next try connects again once the connection's
        //  backoff (100 ms to 1 s) has passed.
        zclock_sleep (100);
    }
}

void
web_with_body (web_t *self, web_req_t *req, web_step_fn *next)
{
    if (!req->http.has_body) {
        next (self, req);
        return;
    }
    req->next = next;
    const char *why = http_read_body (&req->http);
    if (why) {
        web_fail (self, req, 503, WA_ERR_OVERLOADED, "%s", why);
        return;
    }
    //  MHD's until the body is in (s_body_arrived); it may free req before.
    zlistx_delete (self->pending, req->handle);
    req->handle = NULL;
}

//  The second handover: the body of a request whose credentials were good.
static void
s_body_arrived (web_t *self, web_req_t *req)
{
    req->handle = zlistx_add_end (self->pending, req);
    if (req->route.raw_body) {
        req->next (self, req);          //  text for the endpoint itself (certs.c)
        return;
    }
    char why[300];
    int code = input_parse_json (req->http.body, req->http.body_len, req->route.id == ROUTE_PROVIDERS_SET,
                                 &req->input, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    req->next (self, req);
}

static void
s_run (web_t *self, web_req_t *req)
{
    switch (req->route.id) {
        case ROUTE_LOGOUT: users_logout (self, req); break;
        case ROUTE_USER_CREATE: users_create (self, req); break;
        case ROUTE_USER_GET: users_get (self, req); break;
        case ROUTE_USER_UPDATE: users_update (self, req); break;
        case ROUTE_USER_DELETE: users_delete (self, req); break;
        case ROUTE_HEALTH: health_get (self, req); break;
        case ROUTE_MESSAGES: messages_send (self, req); break;
        case ROUTE_MESSAGE_READ: messages_read (self, req); break;
        case ROUTE_SETTINGS_GET:
        case ROUTE_SETTINGS_PATCH:
        case ROUTE_SETTINGS_DELETE: settings_application (self, req); break;
        case ROUTE_PROVIDERS_GET:
        case ROUTE_PROVIDERS_SET:
        case ROUTE_PROVIDERS_DELETE: settings_providers (self, req); break;
        case ROUTE_STATS_APP_INTERNAL:
        case ROUTE_STATS_DB_INTERNAL:
        case ROUTE_MESSAGE_GC:
        case ROUTE_SUPPORT: ops_request (self, req); break;
        case ROUTE_STATS_APP:
        case ROUTE_STATS_DB: stats_get (self, req); break;
        case ROUTE_METRICS: metrics_get (self, req); break;
        case ROUTE_CONTACTS: contacts_check (self, req); break;
        case ROUTE_MEDIA_UPLOAD:
        case ROUTE_MEDIA_GET:
        case ROUTE_MEDIA_DELETE: media_request (self, req); break;
        case ROUTE_ACCOUNT:
        case ROUTE_ACCOUNT_VERIFY:
        case ROUTE_SHARDS_GET:
        case ROUTE_SHARDS_SET: account_request (self, req); break;
        case ROUTE_BUSINESS_PROFILE_GET:
        case ROUTE_BUSINESS_PROFILE_SET:
        case ROUTE_COMPLIANCE_GET:
        case ROUTE_COMPLIANCE_SET:
        case ROUTE_ABOUT_GET:
        case ROUTE_ABOUT_SET:
        case ROUTE_PHOTO_GET:
        case ROUTE_PHOTO_SET:
        case ROUTE_PHOTO_DELETE:
        case ROUTE_TWO_STEP_SET:
        case ROUTE_TWO_STEP_DELETE:
        case ROUTE_BACKUP:
        case ROUTE_RESTORE: profile_request (self, req); break;
        case ROUTE_IDENTITY_GET:
        case ROUTE_IDENTITY_ACK: identity_request (self, req); break;
        case ROUTE_CERT_EXTERNAL_SET:
        case ROUTE_CERT_EXTERNAL_CA:
        case ROUTE_CERT_WEBHOOKS_SET:
        case ROUTE_CERT_WEBHOOKS_GET:
        case ROUTE_CERT_WEBHOOKS_DELETE: certs_request (self, req); break;
        case ROUTE_STICKERPACKS_LIST:
        case ROUTE_STICKERPACK_CREATE:
        case ROUTE_STICKERPACK_GET:
        case ROUTE_STICKERPACK_UPDATE:
        case ROUTE_STICKERPACK_DELETE:
        case ROUTE_STICKERS_LIST:
        case ROUTE_STICKER_ADD:
        case ROUTE_STICKER_GET:
        case ROUTE_STICKER_UPDATE:
        case ROUTE_STICKER_DELETE: stickers_request (self, req); break;
        default: web_fail (self, req, 0, WA_ERR_INTERNAL, "no handler for this route"); break;
    }
}

//  The caller is known: its role, then the body (none read until here).
static void
s_dispatch (web_t *self, web_req_t *req)
{
    bool admin = streq (req->caller_role, "ADMIN");
    if (req->route.auth == ROUTE_AUTH_ADMIN && !admin) {
        web_fail (self, req, 403, WA_ERR_ACCESS_DENIED, "this needs the ADMIN role");
        return;
    }
    if (req->route.auth == ROUTE_AUTH_SELF && !admin && !streq (req->caller, req->route.param)) {
        web_fail (self, req, 403, WA_ERR_ACCESS_DENIED, "a USER may only see or change itself");
        return;
    }
    web_with_body (self, req, s_run);
}

static void s_token_result (web_t *self, web_req_t *req);

//  One lookup per token at a time: a burst of requests with a token not in
//  the cache (thousands at once after it expired) waits for the first one's
//  answer instead of filling the database queue.
static void
s_token_looked_up (web_t *self, web_req_t *req)
{
    //  The hash has no destructor: the list is ours once out of it.
    zlistx_t *waiting = zhashx_lookup (self->lookups, req->token_hash);
    zhashx_delete (self->lookups, req->token_hash);
    //  What the lookup found, kept apart: once answered, req goes back to
    //  the HTTP thread, which frees it when its connection completes.
    int rc = req->job_rc;
    bool found = req->found;
    int64_t remaining = req->remaining;
    char caller[sizeof req->caller], caller_role[sizeof req->caller_role];
    memcpy (caller, req->caller, sizeof caller);
    memcpy (caller_role, req->caller_role, sizeof caller_role);
    s_token_result (self, req);
    web_req_t *other;
    while (waiting && (other = zlistx_first (waiting))) {
        zlistx_detach_cur (waiting);
        other->job_rc = rc;
        other->found = found;
        other->remaining = remaining;
        memcpy (other->caller, caller, sizeof other->caller);
        memcpy (other->caller_role, caller_role, sizeof other->caller_role);
        s_token_result (self, other);
    }
    zlistx_destroy (&waiting);
}

static void
s_token_result (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot check the token now");
        return;
    }
    if (!req->found) {
        web_fail (self, req, 401, WA_ERR_ACCESS_DENIED, "the token is not valid: unknown, expired or revoked");
        return;
    }
    wa_usec_t keep = req->remaining < TOKEN_CACHE_TTL ? req->remaining : TOKEN_CACHE_TTL;
    tokencache_put (self->tokens, req->token_hash, req->caller, req->caller_role, wa_clock_mono () + keep);
    s_dispatch (self, req);
}

static void
s_authenticate (web_t *self, web_req_t *req)
{
    char token[AUTH_TOKEN_LEN + 2];
    if (!req->http.authorization) {
        web_fail (self, req, 401, WA_ERR_ACCESS_DENIED, "missing the header 'Authorization: Bearer <token>'");
        return;
    }
    if (auth_bearer_parse (req->http.authorization, token, sizeof token)
    ||  strlen (token) != AUTH_TOKEN_LEN) {
        web_fail (self, req, 401, WA_ERR_ACCESS_DENIED, "the Authorization header holds no valid bearer token");
        return;
    }
    auth_token_hash (token, req->token_hash);
    const tokencache_entry_t *known = tokencache_get (self->tokens, req->token_hash, wa_clock_mono ());
    if (known) {
        snprintf (req->caller, sizeof req->caller, "%s", known->username);
        snprintf (req->caller_role, sizeof req->caller_role, "%s", known->role);
        s_dispatch (self, req);
        return;
    }
    zlistx_t *waiting = zhashx_lookup (self->lookups, req->token_hash);
    if (waiting) {
        zlistx_add_end (waiting, req);
        return;
    }
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    memcpy (hash, req->token_hash, sizeof hash);
    zhashx_insert (self->lookups, hash, zlistx_new ());
    int before = self->db_jobs;
    web_db (self, req, s_token_run, s_token_looked_up);
    if (self->db_jobs == before) {          //  refused (and answered): nobody waits
        zlistx_t *none = zhashx_lookup (self->lookups, hash);
        zhashx_delete (self->lookups, hash);
        zlistx_destroy (&none);
    }
}

static void
s_start (web_t *self, web_req_t *req)
{
    req->started = wa_clock_mono ();
    self->requests_seen++;
    req->handle = zlistx_add_end (self->pending, req);
    int rc = route_match (req->http.method, req->http.path, &req->route);
    if (rc == 404) {
        web_fail (self, req, 0, WA_ERR_NOT_FOUND, "no such path: %.200s", req->http.path);
        return;
    }
    if (rc == 405) {
        web_fail (self, req, 405, WA_ERR_NOT_FOUND, "%s is not allowed on %.200s; allowed: %s",
                  req->http.method, req->http.path, req->route.allow);
        return;
    }
    //  A balancer's probe: before the start and loopback rules below, which
    //  it is there to see past (a starting Webapp is live, not ready), and
    //  answered here from what the reactor knows, never from a worker.
    if (req->route.auth == ROUTE_AUTH_NONE) {
        health_probe (self, req);
        return;
    }
    if (!self->ready) {
        web_fail (self, req, 0, WA_ERR_NOT_READY, "waweb is starting: waiting for the database "
                  "(schema version %d)", wa_schema_version);
        return;
    }
    //  No well-known password is ever reachable from the network.
    if (!self->admin_set && !auth_address_loopback (req->http.client)) {
        web_fail (self, req, 403, WA_ERR_ACCESS_DENIED, "no ADMIN has a password of its own yet: until one "
                  "has, this API serves only clients on its own host; set it there ('wactl users set-password "
                  "admin', or admin_password_file)");
        return;
    }
    //  The credentials before any of the body is read (http.h).
    if (req->route.auth == ROUTE_AUTH_BASIC)
        users_login (self, req);
    else
        s_authenticate (self, req);
}

static int
s_on_requests (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    web_t *self = arg;
    //  Drain in bounded batches, so timers and workers get their turn.
    for (int i = 0; i < 1000; i++) {
        http_req_t *req = http_server_recv (self->http, reader);
        if (!req)
            break;
        if (req->body_read)
            s_body_arrived (self, (web_req_t *) req);
        else
            s_start (self, (web_req_t *) req);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The node: registration, liveness, settings, the default admin

static const char *SQL_LIVENESS =
    "UPDATE nodes SET last_seen = NOW(6) WHERE id = ? AND stopped_at IS NULL";
static const char *SQL_STOPPED =
    "UPDATE nodes SET last_seen = NOW(6), stopped_at = NOW(6) WHERE id = ?";

static void
s_liveness_run (wa_job_t *job, wa_db_t *db)
{
    liveness_job_t *self = (liveness_job_t *) job;
    job->rc = wa_db_exec (db, self->stopping ? SQL_STOPPED : SQL_LIVENESS, "u", self->id) == 1 ? 0 : -1;
}

//  The default admin, only into an empty table: several Webapps starting at
//  once insert one row between them (the primary key), and an installation
//  whose admin was renamed or deleted does not get it back.
static const char *SQL_SEED_ADMIN =
    "INSERT IGNORE INTO users (username, password_hash, role, must_change, created_at, updated_at)"
    " SELECT 'admin', ?, 'ADMIN', ?, NOW(6), NOW(6) FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM users)";
//  admin_password_file also sets the password of a default admin that
//  never had one of its own (created by a Webapp without the file), and
//  never overwrites one that was chosen.
static const char *SQL_SEED_PASSWORD =
    "UPDATE users SET password_hash = ?, must_change = 0, updated_at = NOW(6)"
    " WHERE username = 'admin' AND role = 'ADMIN' AND must_change = 1";

//  rc: 1 when it created or set the admin, 0 when not; then admins_set.
static void
s_seed_run (wa_job_t *job, wa_db_t *db)
{
    seed_job_t *self = (seed_job_t *) job;
    int64_t rows = wa_db_exec (db, SQL_SEED_ADMIN, "si", self->hash, (int64_t) (self->from_file ? 0 : 1));
    if (rows == 0 && self->from_file)
        rows = wa_db_exec (db, SQL_SEED_PASSWORD, "s", self->hash);
    job->rc = rows < 0 ? -1 : (int) rows;
    if (job->rc >= 0 && wa_db_query (db, SQL_ADMINS_SET, s_count_row, &self->admins_set, "") != 1)
        job->rc = -1;
}

static void
s_admin_hash_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    admin_job_t *self = (admin_job_t *) job;
    job->rc = crypto_pwhash_str (self->hash, self->password, strlen (self->password),
                                 crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero (self->password, sizeof self->password);
}

//  admin_password_file's first line, or "secret". 0, or -1 (said why).
static int
s_admin_password (web_t *self)
{
    const char *path = self->config->admin_password_file;
    if (!*path) {
        snprintf (self->admin_password, sizeof self->admin_password, "secret");
        return 0;
    }
    FILE *file = fopen (path, "r");
    if (!file) {
        wa_error ("admin_password_file: cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat info;
    if (fstat (fileno (file), &info) == 0 && (info.st_mode & 077))
        wa_warn ("admin_password_file %s can be read by other users (mode %03o): chmod 600 it",
                 path, (unsigned int) (info.st_mode & 0777));
    char line[AUTH_PASSWORD_MAX + 3] = "";
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    line[strcspn (line, "\r\n")] = 0;
    const char *problem = read ? auth_password_problem (line) : "is missing: the file is empty";
    if (problem) {
        wa_error ("admin_password_file %s: the password %s", path, problem);
        sodium_memzero (line, sizeof line);
        return -1;
    }
    snprintf (self->admin_password, sizeof self->admin_password, "%s", line);
    sodium_memzero (line, sizeof line);
    self->admin_from_file = true;
    return 0;
}

static void
s_set_prefix (web_t *self)
{
    wa_log_set_prefix ("webapp %" PRIu64, self->id);
}

static void
s_progress (web_t *self)
{
    if (self->fatal || self->ready)
        return;
    if (!self->id) {
        //  The port clients reach: the one bound, or the published one
        //  (webapp_port) when webapp_bind_port binds another.
        char port[16];
        snprintf (port, sizeof port, "%d", self->config->webapp_bind_port >= 0 ? self->config->webapp_port
                                                                                : http_server_port (self->http));
        //  No port of ours on the bus: the key is not stored.
        wa_register_submit (&self->register_job, self->db, "webapp", self->config->hostname, port, "",
                            wa_schema_version);
    }
    if (self->id && !self->seeded && self->seed_job && self->admin_job && self->admin_job->job.rc == 0) {
        memcpy (self->seed_job->hash, self->default_hash, sizeof self->seed_job->hash);
        self->seed_job->from_file = self->admin_from_file;
        WA_JOB_SUBMIT (self->db, self->seed_job);
    }
}

static void
s_load_settings (web_t *self)
{
    if (self->id)
        wa_reactor_load (&self->reactor, self->db);
}

static int s_on_tick (wa_loop_t *loop, int timer_id, void *arg);
static int s_on_liveness (wa_loop_t *loop, int timer_id, void *arg);

static void
s_node_job_done (web_t *self, wa_job_t *job)
{
    //  Read before handling: a handler may hand the job over again.
    int kind = job->kind;
    int rc = job->rc;
    if (kind == WA_JOB_REGISTER) {
        self->register_job = (wa_register_job_t *) job;
        int done = wa_register_done (self->register_job);
        if (done == 1) {
            self->id = self->register_job->id;
            s_set_prefix (self);
            wa_info ("registered as node %" PRIu64 " (port %s)", self->id, self->register_job->ports);
            s_load_settings (self);
        }
        else
        if (done < 0)
            self->fatal = true;
    }
    else
    if (kind == JOB_SEED) {
        self->seed_job = (seed_job_t *) job;
        if (rc >= 0) {
            self->seeded = true;
            self->ready = true;
            if (rc == 1 && self->admin_from_file)
                wa_info ("set the password of 'admin' from admin_password_file");
            else
            if (rc == 1)
                wa_info ("created the default user 'admin' (password 'secret', to be changed at its first "
                         "login, from this host only)");
            s_admin_checked (self, self->seed_job->admins_set);
            if (!self->admin_set)
                wa_warn ("no ADMIN has a password of its own yet: serving only clients on this host "
                         "(loopback) until one has (wactl users set-password admin; or log in here as "
                         "admin/secret with a new_password)");
            wa_info ("ready: serving the API on %s://%s:%d", http_server_tls (self->http) ? "https" : "http",
                     self->config->webapp_bind, http_server_port (self->http));
            wa_notify_ready ("serving the API on %s://%s:%d", http_server_tls (self->http) ? "https" : "http",
                             self->config->webapp_bind, http_server_port (self->http));
        }
    }
    else
    if (kind == JOB_ADMIN_HASH) {
        self->admin_job = (admin_job_t *) job;
        if (rc) {
            wa_error ("cannot hash the default password (out of memory?)");
            self->fatal = true;
        }
        else
            memcpy (self->default_hash, self->admin_job->hash, sizeof self->default_hash);
    }
    else
    if (kind == JOB_ADMIN_CHECK) {
        self->admin_check_job = (admin_check_job_t *) job;
        if (rc == 0)
            s_admin_checked (self, self->admin_check_job->admins_set);
    }
    else
    if (kind == JOB_LIVENESS)
        self->liveness_job = (liveness_job_t *) job;
    else
    if (kind == JOB_TOKENS_PURGE)
        self->tokens_purge_job = (purge_job_t *) job;
    else
    if (!wa_reactor_job_done (&self->reactor, job, self->db))
        wa_job_destroy (&job);
    //  A success may unblock the next step; a failure waits for the tick.
    if (rc == 0 && (kind == WA_JOB_REGISTER || kind == JOB_ADMIN_HASH))
        s_progress (self);
}

static int
s_on_tick (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    web_t *self = arg;
    if (self->fatal)
        return -1;
    s_progress (self);
    s_admin_check (self);
    if (self->ready)
        certs_poll (self->certs, self->db);
    return 0;
}

static int
s_on_liveness (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    web_t *self = arg;
    if (self->id && self->liveness_job) {
        self->liveness_job->id = self->id;
        self->liveness_job->stopping = false;
        WA_JOB_SUBMIT (self->db, self->liveness_job);
    }
    s_load_settings (self);
    return 0;
}

static const char *SQL_TOKENS_PURGE =
    "DELETE FROM tokens WHERE expires_at < NOW(6) - INTERVAL 1 HOUR"
    " OR revoked_at < NOW(6) - INTERVAL 1 HOUR LIMIT 10000";

//  Failed logins whose window ended (parameter: the window) count no more.
static const char *SQL_FAILURES_PURGE =
    "DELETE FROM login_failures WHERE window_start < NOW(6) - INTERVAL ? MICROSECOND LIMIT 10000";

static void
s_tokens_purge_run (wa_job_t *job, wa_db_t *db)
{
    purge_job_t *self = (purge_job_t *) job;
    int64_t rows = wa_db_exec (db, SQL_TOKENS_PURGE, "");
    job->rc = rows < 0 ? -1 : 0;
    if (rows > 0)
        wa_info ("deleted %" PRId64 " expired or revoked tokens", rows);
    if (wa_db_exec (db, SQL_FAILURES_PURGE, "i", self->failures_window_us) < 0)
        job->rc = -1;
}

static int
s_on_sweep (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    web_t *self = arg;
    http_server_sweep (self->http);
    return 0;
}

static int
s_on_purge (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    web_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    tokencache_purge (self->tokens, now);
    if (self->ready && self->purges++ % TOKENS_PURGE_EVERY == 0 && self->tokens_purge_job) {
        self->tokens_purge_job->failures_window_us = (int64_t) (self->config->login_failures_window * 1e6);
        WA_JOB_SUBMIT (self->db, self->tokens_purge_job);
    }
    return 0;
}

//  A worker gave a job back: a request's next step, or the node's own.
static int
s_on_worker (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    web_t *self = arg;
    wa_job_t *job = wa_dbworker_recv (reader == wa_dbworker_sock (self->db) ? self->db : self->hasher);
    if (!job)
        return 0;
    if (coreapps_job_done (self->coreapps, job))
        return 0;
    if (certs_job_done (self->certs, job, self->http))
        return 0;
    if (job->kind == JOB_REQ_DB || job->kind == JOB_REQ_HASH) {
        web_req_t *req = s_req_back (self, job);
        req->next (self, req);
    }
    else
        s_node_job_done (self, job);
    return self->fatal ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Start and stop

static wa_dbworker_t *
s_worker_new (const wa_config_t *config)
{
    //  Signals belong to the reactor's thread (its loop sees them at once).
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    wa_dbworker_t *worker = wa_dbworker_new (config);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    return worker;
}

//  Stopping: a request's job brings its request back (it gets 503 below),
//  the liveness claim goes back to its slot, any other job is destroyed.
static void
s_job_dropped (wa_job_t *job, void *arg)
{
    web_t *self = arg;
    if (job->kind == JOB_REQ_DB || job->kind == JOB_REQ_HASH)
        s_req_back (self, job);
    else
    if (job->kind == JOB_LIVENESS)
        self->liveness_job = (liveness_job_t *) job;
    else
        wa_job_destroy (&job);
}

//  The last liveness claim marks the node stopped; other jobs that come
//  back meanwhile are not acted on (s_job_dropped).
static void
s_mark_stopped (web_t *self)
{
    if (!self->id)
        return;
    int timeout = self->config->db_statement_timeout * 1000 + 500;
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (self->db), NULL);
    zpoller_set_nonstop (poller, true);
    int64_t until = zclock_mono () + timeout;
    bool submitted = false;
    while (zclock_mono () < until) {
        if (!submitted && self->liveness_job) {
            self->liveness_job->id = self->id;
            self->liveness_job->stopping = true;
            WA_JOB_SUBMIT (self->db, self->liveness_job);
            submitted = true;
        }
        if (submitted && self->liveness_job)
            break;
        wa_job_t *job = zpoller_wait (poller, (int) (until - zclock_mono ())) ? wa_dbworker_recv (self->db) : NULL;
        if (job)
            s_job_dropped (job, self);
    }
    zpoller_destroy (&poller);
}

static void
s_shutdown (web_t *self)
{
    //  Forwarded requests are answered 503 (a client may retry them with
    //  the same Idempotency-Key); the Coreapps' late answers are dropped.
    coreapps_abandon (self->coreapps);
    //  Downloads under way are dropped (their requests get 503 below).
    fetch_destroy (&self->fetch);
    s_mark_stopped (self);
    //  No job runs past this point, so no worker touches a request again:
    //  each comes back with its job, into the list answered below.
    wa_dbworker_destroy (&self->hasher, s_job_dropped, self);
    wa_dbworker_destroy (&self->db, s_job_dropped, self);
    coreapps_destroy (&self->coreapps);     //  its jobs ran on the worker
    http_server_stop_handover (self->http);
    int64_t until = zclock_mono () + DRAIN_MS;
    while (true) {
        web_req_t *req;
        while ((req = zlistx_first (self->pending)))
            web_fail (self, req, 503, WA_ERR_NOT_READY, "the server is shutting down");
        req = (web_req_t *) http_server_recv (self->http, self->requests);
        if (req) {
            req->started = wa_clock_mono ();
            req->handle = zlistx_add_end (self->pending, req);
            continue;
        }
        if (http_server_waiting (self->http) == 0 || zclock_mono () > until)
            break;
        zsock_t *sock = self->requests;
        zpoller_t *poller = zpoller_new (sock, NULL);
        zpoller_set_nonstop (poller, true);
        zpoller_wait (poller, 50);
        zpoller_destroy (&poller);
    }
    if (http_server_waiting (self->http))
        wa_error ("%d requests were never handed over; leaving without stopping the HTTP server",
                  http_server_waiting (self->http));
    else
        http_server_destroy (&self->http);
    zsock_destroy (&self->requests);
}

//  Listening where other hosts connect, but named by a loopback address:
//  `nodes` (wactl status, the support bundle) lists it under it, and a
//  self-signed certificate made here names it, not a name that reaches
//  this host from another (wa_node_start says the same of the other roles).
static void
s_warn_loopback (const wa_config_t *config)
{
    if (wa_config_is_loopback (config->webapp_bind) || !wa_config_is_loopback (config->hostname))
        return;
    wa_warn ("this webapp binds %s (webapp_bind) but its hostname is %s: it is registered as a loopback "
             "address, which is other hosts' own, and a self-signed certificate made here names no address "
             "they reach it by. Set webapp_hostname (WEBAPP_HOSTNAME) or hostname to a name the other hosts "
             "and the clients reach this one by, or webapp_bind to 127.0.0.1 for a Webapp on one host",
             config->webapp_bind, config->hostname);
}

int
web_run (const wa_config_t *config)
{
    if (sodium_init () < 0) {
        wa_error ("libsodium cannot start");
        return 1;
    }
    web_t *self = (web_t *) zmalloc (sizeof (web_t));
    self->config = config;
    self->settings = *config;
    char err[512];
    if (s_admin_password (self)) {
        free (self);
        return 1;
    }
    self->trust = wa_trust_new (config, WA_ROLE_WEBAPP, err, sizeof err);
    if (!self->trust) {
        wa_error ("%s", err);
        free (self);
        return 1;
    }
    if (selfsigned_ensure (config, err, sizeof err) == 0)
        self->http = http_server_new (config, sizeof (web_req_t), &self->requests, err, sizeof err);
    if (!self->http) {
        wa_error ("%s", err);
        wa_trust_destroy (&self->trust);
        free (self);
        return 1;
    }
    char published[48] = "";
    if (config->webapp_bind_port >= 0)
        snprintf (published, sizeof published, " (published as %d)", config->webapp_port);
    wa_info ("listening on %s://%s:%d%s; database %s:%d/%s", http_server_tls (self->http) ? "https" : "http",
             config->webapp_bind, http_server_port (self->http), published, config->db_hostname, config->db_port,
             config->db_name);
    s_warn_loopback (config);
    self->db = s_worker_new (config);
    self->hasher = s_worker_new (config);
    self->pending = zlistx_new ();
    self->lookups = zhashx_new ();
    self->tokens = tokencache_new ();
    self->metrics = metrics_new ();
    self->probe_state = -1;
    self->certs = certs_new (self);
    self->register_job = wa_register_job_new ();
    self->liveness_job = WA_JOB_NEW (liveness_job_t, JOB_LIVENESS, s_liveness_run, NULL);
    self->admin_job = WA_JOB_NEW (admin_job_t, JOB_ADMIN_HASH, s_admin_hash_run, NULL);
    self->seed_job = WA_JOB_NEW (seed_job_t, JOB_SEED, s_seed_run, NULL);
    self->tokens_purge_job = WA_JOB_NEW (purge_job_t, JOB_TOKENS_PURGE, s_tokens_purge_run, NULL);
    self->admin_check_job = WA_JOB_NEW (admin_check_job_t, JOB_ADMIN_CHECK, s_admin_check_run, NULL);
    memcpy (self->admin_job->password, self->admin_password, sizeof self->admin_password);
    sodium_memzero (self->admin_password, sizeof self->admin_password);
    WA_JOB_SUBMIT (self->hasher, self->admin_job);

    self->loop = wa_loop_new ();
    wa_notify_watchdog_start (self->loop);
    self->coreapps = coreapps_new (self, self->loop, self->trust, self->db, &self->settings, NULL, s_forwarded);
    self->fetching = wa_u64hash_new ();
    self->fetch = fetch_new (self->loop, s_fetched, self);
    if (!self->fetch)
        wa_warn ("cannot start the media downloader: messages with a media link will get 503");
    wa_loop_reader (self->loop, self->requests, s_on_requests, self);
    wa_loop_reader (self->loop, wa_dbworker_sock (self->db), s_on_worker, self);
    wa_loop_reader (self->loop, wa_dbworker_sock (self->hasher), s_on_worker, self);
    wa_loop_timer (self->loop, PURGE_INTERVAL_MS, 0, s_on_purge, self);
    wa_loop_timer (self->loop, SWEEP_MS, 0, s_on_sweep, self);
    wa_reactor_init (&self->reactor, self->loop, &self->settings, self, NULL);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, shard_renew_interval), s_on_tick);
    wa_reactor_every (&self->reactor, offsetof (wa_config_t, db_liveness_interval), s_on_liveness);
    s_progress (self);
    wa_loop_start (self->loop);
    wa_info ("stopping");
    wa_notify_stopping ();
    s_shutdown (self);
    int rc = self->fatal ? 1 : 0;
    wa_loop_destroy (&self->loop);
    for (zlistx_t *waiting = zhashx_first (self->lookups); waiting; waiting = zhashx_next (self->lookups))
        zlistx_destroy (&waiting);
    zhashx_destroy (&self->lookups);
    zhashx_destroy (&self->fetching);
    zlistx_destroy (&self->pending);
    tokencache_destroy (&self->tokens);
    metrics_destroy (&self->metrics);
    //  The workers are gone: a job they still had was destroyed there.
    WA_JOB_DESTROY (self->register_job);
    WA_JOB_DESTROY (self->liveness_job);
    WA_JOB_DESTROY (self->admin_job);
    WA_JOB_DESTROY (self->seed_job);
    WA_JOB_DESTROY (self->tokens_purge_job);
    WA_JOB_DESTROY (self->admin_check_job);
    certs_destroy (&self->certs);
    wa_reactor_destroy (&self->reactor);
    wa_trust_destroy (&self->trust);
    free (self);
    return rc;
}
