/*  web — waweb's reactor and what its endpoints share.

    Threads: MHD's polling thread (http.h) reads requests and hands them
    over; this reactor (a wa_loop) owns every piece of state: it routes,
    authenticates, runs each request's database work on the DB worker
    (wa_dbworker) and its password hashing on a second worker of the same
    kind, so that a burst of logins (each Argon2id hash takes tens of
    milliseconds and 64 MiB) never delays a token check. Each request is a
    small state machine: an endpoint submits a job with the step to run
    when the job comes back, and the last step answers with web_reply. The
    request goes with its job: out of the reactor's list of requests while
    a worker has it (the job's run reads and writes it), back in when the
    job comes back, so nothing answers it meanwhile (and MHD frees no
    request before it is answered, even when its client has gone). */
#ifndef WAWEB_WEB_H
#define WAWEB_WEB_H

#include <czmq.h>
#include "wa_loop.h"
#include <jansson.h>
#include <sodium.h>
#include "wa_config.h"
#include "wa_message.h"
#include "wa_dbworker.h"
#include "wa_node.h"
#include "auth.h"
#include "envelope.h"
#include "fetch.h"
#include "http.h"
#include "metrics.h"
#include "route.h"

typedef struct web_t web_t;
typedef struct web_req_t web_req_t;
typedef void (web_step_fn) (web_t *self, web_req_t *req);

struct web_req_t {
    http_req_t http;            //  first: the HTTP server allocates web_req_t
    route_t route;
    json_t *input;              //  the parsed body (NULL when empty)
    void *handle;               //  in the reactor's list of requests (NULL while a worker has it)
    int job_rc;                 //  the rc of its last job, once back
    web_step_fn *next;          //  runs when the job comes back
    //  the caller, once authenticated
    char token_hash[AUTH_TOKEN_HASH_LEN + 1];
    char caller[40];
    char caller_role[8];
    //  the endpoints' data (in for the jobs, out from them)
    char username[AUTH_USERNAME_MAX + 1];
    char password[AUTH_PASSWORD_MAX + 1];
    char new_password[AUTH_PASSWORD_MAX + 1];
    char old_password[AUTH_PASSWORD_MAX + 1];
    char role[16];
    char stored_hash[crypto_pwhash_STRBYTES];
    char new_hash[crypto_pwhash_STRBYTES];
    char token[AUTH_TOKEN_LEN + 1];
    char expires[40];
    bool found;
    bool verified;
    bool must_change;
    int admins;
    //  failed logins (users.c): of the user named and of the client's address
    char address_key[64];       //  auth_address_key of the client
    int login_limit;            //  login_failures_limit
    int64_t login_window;       //  login_failures_window, microseconds
    bool basic_ok;              //  the Basic header held a username and password
    int user_failures;          //  within the current windows
    int address_failures;
    int64_t blocked_for;        //  microseconds until the block ends, 0 when none
    bool blocked_user;          //  the user's block (else the address's)
    int64_t ttl;                //  seconds (tokens) or microseconds (health window)
    int64_t remaining;          //  microseconds a token has left
    json_t *result;             //  built by a job
    //  forwarded to a Coreapp (coreapps.h)
    char *fwd_text;             //  the API_REQ's JSON
    int fwd_shard;
    char fwd_route[WA_MESSAGE_TO_MAX + 1];  //  routed: whose shard serves it ("" when not routed)
    uint64_t fwd_seq;           //  of the attempt in flight, 0 when none
    uint64_t fwd_node;          //  where it went
    wa_usec_t fwd_deadline;     //  the request's
    wa_usec_t fwd_until;        //  the attempt's
    wa_usec_t fwd_retry_at;     //  a parked request's next try
    int fwd_attempts;
    int fwd_last_code;          //  why the last attempt failed (for the final error)
    char fwd_last_why[120];
    void *fwd_handle;           //  in the parked list
    uint64_t fetch_token;       //  of a media download under way (fetch.h), 0 when none
    fetch_result_t *fetch_result;   //  where its result goes (in the endpoint's state)
    wa_usec_t started;          //  when the reactor got it
    void *extra;                //  an endpoint's own state, freed with the request
    void (*extra_free) (void *extra);   //  by this (free when NULL)
};

//  The request a job (web_db, web_hash) was handed over with: for its run.
web_req_t *web_job_req (wa_job_t *job);

//  The reactor's state the endpoints read.
const wa_config_t *web_config (web_t *self);
const wa_config_t *web_settings (web_t *self);
const char *web_default_hash (web_t *self);     //  Argon2id of the first admin's password
void web_forget_token (web_t *self, const char *token_hash);
void web_forget_user (web_t *self, const char *username);
//  A password was set: until an ADMIN has one, the API serves only
//  loopback clients, and this asks the database again at once.
void web_password_changed (web_t *self);

//  Answer: status (0: the table's, for an error) and the response object
//  (taken; NULL for a bare envelope). Ends the request.
void web_reply (web_t *self, web_req_t *req, int status, json_t *response);
//  Answer with a body that is not JSON (taken, malloc'd) of content type.
void web_reply_text (web_t *self, web_req_t *req, int status, char *body, size_t len, const char *type);
//  Answer an error: code, its details; status 0 means the table's.
void web_fail (web_t *self, web_req_t *req, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));
//  The credentials were accepted: read the request's body, if it has one,
//  parse it into req->input (400 when it is not a JSON object), then run
//  next. Answers 503 1016 when the body cannot be held now.
void web_with_body (web_t *self, web_req_t *req, web_step_fn *next);
//  Hand req over to the DB worker with a job that runs run (web_job_req
//  gives it the request), then run next with req->job_rc. Answers 1016
//  when too many wait.
void web_db (web_t *self, web_req_t *req, wa_job_run_fn *run, web_step_fn *next);
//  The same on the hash worker (run gets no database).
void web_hash (web_t *self, web_req_t *req, wa_job_run_fn *run, web_step_fn *next);

//  Download a media link (fetch.h) for req: its result into *result (in
//  req's own state, alive until req is answered), then run next. Answers
//  503 1016 when FETCH_RUNNING_MAX downloads run already. The request
//  stays the reactor's meanwhile; answered (at a stop), its download's
//  result is dropped.
void web_fetch (web_t *self, web_req_t *req, fetch_spec_t *spec, fetch_result_t *result, web_step_fn *next);

//  Whether this Webapp can serve messages now (GET /v1/health/ready):
//  started (registered, the first admin seeded) and coreapps_unready's
//  view, from state it keeps anyway: no query. NULL when it can; else why
//  not (into why, size bytes). A change is logged once, so that the log
//  says why the balancers left this Webapp, and when it came back.
const char *web_unready (web_t *self, char *why, size_t size);

//  The cluster's shard count (0 until known), and forwarding req to the
//  primary Coreapp of shard (or with shard -1, COREAPPS_MASTER, to the
//  primary Master): request (taken) is the API_REQ's JSON; its answer, or a
//  clear error, ends req.
int web_shards (web_t *self);
void web_forward (web_t *self, web_req_t *req, int shard, json_t *request);
//  Forward req to the primary Coreapp of the shard that serves route (the
//  digits of a recipient, a conversation or a contact) by the count in
//  force at each attempt: a change of the count while it waits moves it.
//  The request carries "route", so that the Coreapp checks it serves it.
void web_forward_routed (web_t *self, web_req_t *req, const char *route, json_t *request);

//  Endpoints (users.c, health.c, messages.c, settings.c, stats.c).
void users_login (web_t *self, web_req_t *req);
void users_logout (web_t *self, web_req_t *req);
void users_create (web_t *self, web_req_t *req);
void users_get (web_t *self, web_req_t *req);
void users_update (web_t *self, web_req_t *req);
void users_delete (web_t *self, web_req_t *req);
void health_get (web_t *self, web_req_t *req);
void health_probe (web_t *self, web_req_t *req);      //  /v1/health/live and /ready
void messages_send (web_t *self, web_req_t *req);
void messages_read (web_t *self, web_req_t *req);      //  PUT /v1/messages/{id}
void settings_application (web_t *self, web_req_t *req);
void settings_providers (web_t *self, web_req_t *req);     //  .../media/providers
//  ops.c: PUT /v1/services/message/gc, GET /v1/support, /v1/stats/*/internal
void ops_request (web_t *self, web_req_t *req);
//  A node's stats object in the original's metric form (a new object).
json_t *ops_families (json_t *stats);
void stats_get (web_t *self, web_req_t *req);
void metrics_get (web_t *self, web_req_t *req);
void contacts_check (web_t *self, web_req_t *req);     //  contacts.c
void media_request (web_t *self, web_req_t *req);      //  media.c: upload, get, delete
void account_request (web_t *self, web_req_t *req);    //  account.c: registration and shards
void profile_request (web_t *self, web_req_t *req);    //  profile.c: the account-wide state, backup, restore
void identity_request (web_t *self, web_req_t *req);   //  identity.c: a contact's identity
//  profile.c: forward request (taken) to the primary Master once pin (""
//  when none was sent) passes the two-step verification: required when a
//  PIN is set (400 1008 without it, 1009 when it does not match).
void profile_two_step_forward (web_t *self, web_req_t *req, const char *pin, json_t *request);
void stickers_request (web_t *self, web_req_t *req);   //  stickers.c: /v1/stickerpacks
//  The HTTP server (certs.c changes the certificate it offers).
http_server_t *web_http (web_t *self);
//  What the metrics endpoint reads (web.c owns it).
metrics_t *web_metrics (web_t *self);
void web_forward_stats (web_t *self, metrics_forward_t *out);
wa_loop_t *web_loop (web_t *self);
//  Our key and the allow-list (wa_trust).
wa_trust_t *web_trust (web_t *self);
//  This Webapp's node id and its stats as a JSON object (stats.c).
uint64_t web_node_id (web_t *self);
json_t *web_own_stats (web_t *self);
//  The password hash jobs (users.c), also used at start for the admin.
void users_hash_run (wa_job_t *job, wa_db_t *db);

//  Run waweb until SIGINT/SIGTERM; the exit status.
int web_run (const wa_config_t *config);

#endif
