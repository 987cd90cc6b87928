/*  users — the users and tokens endpoints: login, logout, and creating,
    reading, changing and deleting users. Each is a chain of steps: checks
    on the reactor, then database and hash jobs, then the answer. */
#include <ctype.h>
#include <math.h>
#include "wa_log.h"
#include "wa_named_lock.h"
#include "input.h"
#include "web.h"

#define OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static const char *SQL_USER =
    "SELECT password_hash, role, must_change FROM users WHERE username = ?";
static const char *SQL_SET_PASSWORD =
    "UPDATE users SET password_hash = ?, must_change = 0, updated_at = NOW(6) WHERE username = ?";
static const char *SQL_INSERT_TOKEN =
    "INSERT INTO tokens (token_hash, username, role, expires_at, created_at)"
    " VALUES (?, ?, ?, NOW(6) + INTERVAL ? SECOND, NOW(6))";
static const char *SQL_TOKEN_EXPIRES =
    "SELECT DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s+00:00') FROM tokens WHERE token_hash = ?";
static const char *SQL_REVOKE =
    "UPDATE tokens SET revoked_at = NOW(6) WHERE token_hash = ? AND revoked_at IS NULL";
static const char *SQL_INSERT_USER =
    "INSERT IGNORE INTO users (username, password_hash, role, must_change, created_at, updated_at)"
    " VALUES (?, ?, ?, 0, NOW(6), NOW(6))";
//  Deleting is serialized cluster-wide by the named lock USERS_LOCK (a row
//  of named_locks, wa_named_lock.h) that starts the transaction counting
//  the ADMINs and deleting, so two Webapps cannot each delete one of the
//  last two ADMINs: on one server the second finds the lock taken until
//  the first's COMMIT; on Galera the COMMIT certified second fails. The
//  loser tries again, for up to DELETE_LOCK_WAIT, and counts again.
#define USERS_LOCK "users"
#define DELETE_LOCK_WAIT (1000 * 1000)
static const char *SQL_ROLE_AND_ADMINS =
    "SELECT role, (SELECT COUNT(*) FROM users WHERE role = 'ADMIN') FROM users WHERE username = ?";
static const char *SQL_DELETE_USER = "DELETE FROM users WHERE username = ?";
static const char *SQL_REVOKE_USER =
    "UPDATE tokens SET revoked_at = NOW(6) WHERE username = ? AND revoked_at IS NULL";
//  A password change revokes every other token of its user (all of them
//  when another user, an ADMIN, made it: its token is not among them).
static const char *SQL_REVOKE_OTHERS =
    "UPDATE tokens SET revoked_at = NOW(6) WHERE username = ? AND revoked_at IS NULL AND token_hash <> ?";
//  Failed logins (migration 0007): the rows of the user and of the address,
//  with the microseconds left of each one's window (parameters: the window,
//  the address key, the user name, the window).
static const char *SQL_FAILURES =
    "SELECT kind, failures, TIMESTAMPDIFF(MICROSECOND, NOW(6), window_start + INTERVAL ? MICROSECOND)"
    " FROM login_failures WHERE (kind = 'address' AND name = ? OR kind = 'user' AND name = ?)"
    " AND window_start > NOW(6) - INTERVAL ? MICROSECOND";
//  One more failure; a window that has ended starts again (parameters: kind,
//  name, the window twice). Assignments run left to right: window_start is
//  still the old one when failures is set.
static const char *SQL_FAILED =
    "INSERT INTO login_failures (kind, name, failures, window_start) VALUES (?, ?, 1, NOW(6))"
    " ON DUPLICATE KEY UPDATE"
    " failures = IF(window_start > NOW(6) - INTERVAL ? MICROSECOND, failures + 1, 1),"
    " window_start = IF(window_start > NOW(6) - INTERVAL ? MICROSECOND, window_start, NOW(6))";
//  A success clears its user's count, never its address's.
static const char *SQL_SUCCEEDED = "DELETE FROM login_failures WHERE kind = 'user' AND name = ?";

static json_t *
s_users (const char *username, const char *role)
{
    json_t *response = envelope_new ();
    json_t *user = json_pack ("{s:s}", "username", username);
    if (role)
        json_object_set_new (user, "role", json_string (role));
    json_object_set_new (response, "users", json_pack ("[o]", user));
    return response;
}

//  --------------------------------------------------------------------------
//  Jobs

static int
s_user_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    req->found = true;
    snprintf (req->stored_hash, sizeof req->stored_hash, "%s", wa_db_row_str (row, 0));
    snprintf (req->role, sizeof req->role, "%s", wa_db_row_str (row, 1));
    req->must_change = wa_db_row_int (row, 2) != 0;
    return 0;
}

static void
s_user_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    req->found = false;
    job->rc = wa_db_query (db, SQL_USER, s_user_row, req, "s", req->username) < 0 ? -1 : 0;
}

//  The name failures are counted under: a name that no user can have
//  (anything auth_username_valid refuses) is counted for its address only.
static const char *
s_counted_user (const web_req_t *req)
{
    return req->basic_ok && auth_username_valid (req->username) ? req->username : "";
}

static int
s_failures_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    bool user = streq (wa_db_row_str (row, 0), "user");
    int failures = (int) wa_db_row_int (row, 1);
    int64_t left = wa_db_row_int (row, 2);
    if (user)
        req->user_failures = failures;
    else
        req->address_failures = failures;
    if (failures >= req->login_limit && left > req->blocked_for) {
        req->blocked_for = left;
        req->blocked_user = user;
    }
    return 0;
}

//  Out: the failures so far and the block, then (when not blocked) the user's row.
static void
s_login_check_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    req->found = false;
    req->user_failures = req->address_failures = 0;
    req->blocked_for = 0;
    job->rc = -1;
    if (wa_db_query (db, SQL_FAILURES, s_failures_row, req, "issi", req->login_window, req->address_key,
                     s_counted_user (req), req->login_window) < 0)
        return;
    if (req->basic_ok && !req->blocked_for
    &&  wa_db_query (db, SQL_USER, s_user_row, req, "s", req->username) < 0)
        return;
    job->rc = 0;
}

static void
s_login_failed_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    job->rc = -1;
    if (wa_db_exec (db, SQL_FAILED, "ssii", "address", req->address_key, req->login_window,
                    req->login_window) < 0)
        return;
    if (*s_counted_user (req)
    &&  wa_db_exec (db, SQL_FAILED, "ssii", "user", req->username, req->login_window, req->login_window) < 0)
        return;
    job->rc = 0;
}

void
users_hash_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    web_req_t *req = web_job_req (job);
    job->rc = crypto_pwhash_str (req->new_hash, req->password, strlen (req->password), OPSLIMIT, MEMLIMIT);
}

//  Checks the password against the stored hash (a stand-in when there is no
//  such user, so an unknown name costs the same time as a wrong password).
static void
s_verify_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    web_req_t *req = web_job_req (job);
    bool match = crypto_pwhash_str_verify (req->stored_hash, req->password, strlen (req->password)) == 0;
    req->verified = req->found && match;
    job->rc = 0;
}

//  The same for the old password of a self-change.
static void
s_verify_old_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    web_req_t *req = web_job_req (job);
    bool match = crypto_pwhash_str_verify (req->stored_hash, req->old_password, strlen (req->old_password)) == 0;
    req->verified = req->found && match;
    job->rc = 0;
}

static int
s_expires_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    snprintf (req->expires, sizeof req->expires, "%s", wa_db_row_str (row, 0));
    return 0;
}

static void
s_issue_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    job->rc = -1;
    if (wa_db_exec (db, SQL_SUCCEEDED, "s", req->username) < 0)
        return;
    //  A new password: every token issued before is void (this one is not yet).
    if (req->new_password[0]
    &&  (wa_db_exec (db, SQL_SET_PASSWORD, "ss", req->new_hash, req->username) != 1
    ||   wa_db_exec (db, SQL_REVOKE_USER, "s", req->username) < 0))
        return;
    if (wa_db_exec (db, SQL_INSERT_TOKEN, "sssi", req->token_hash, req->username, req->role, req->ttl) != 1)
        return;
    if (wa_db_query (db, SQL_TOKEN_EXPIRES, s_expires_row, req, "s", req->token_hash) != 1)
        return;
    job->rc = 0;
}

static void
s_revoke_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    job->rc = wa_db_exec (db, SQL_REVOKE, "s", req->token_hash) < 0 ? -1 : 0;
}

static void
s_insert_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    int64_t rows = wa_db_exec (db, SQL_INSERT_USER, "sss", req->username, req->new_hash, req->role);
    job->rc = rows < 0 ? -1 : 0;
    req->found = rows == 0;         //  it existed already
}

static void
s_set_password_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    int64_t rows = wa_db_exec (db, SQL_SET_PASSWORD, "ss", req->new_hash, req->username);
    job->rc = rows < 0 ? -1 : 0;
    req->found = rows == 1;
    if (req->found && wa_db_exec (db, SQL_REVOKE_OTHERS, "ss", req->username, req->token_hash) < 0)
        job->rc = -1;
}

static int
s_role_row (const wa_db_row_t *row, void *arg)
{
    web_req_t *req = arg;
    req->found = true;
    snprintf (req->role, sizeof req->role, "%s", wa_db_row_str (row, 0));
    req->admins = (int) wa_db_row_int (row, 1);
    return 0;
}

//  One attempt, one transaction. 0 (found: the user existed; verified: it
//  was deleted), 1 lost to another deletion (try again), -1 a database
//  error.
static int
s_delete_once (web_req_t *req, wa_db_t *db)
{
    req->found = req->verified = false;
    if (wa_db_transaction (db, "START TRANSACTION"))
        return -1;
    int taken = wa_named_lock_take (db, USERS_LOCK);
    bool committing = false;
    if (taken == WA_NAMED_LOCK_TAKEN
    &&  wa_db_query (db, SQL_ROLE_AND_ADMINS, s_role_row, req, "s", req->username) >= 0) {
        if (!req->found || (streq (req->role, "ADMIN") && req->admins <= 1)) {
            wa_db_transaction (db, "ROLLBACK");
            return 0;
        }
        if (wa_db_exec (db, SQL_DELETE_USER, "s", req->username) >= 0
        &&  wa_db_exec (db, SQL_REVOKE_USER, "s", req->username) >= 0) {
            if (wa_db_transaction (db, "COMMIT") == 0) {
                req->verified = true;
                return 0;
            }
            committing = true;
        }
    }
    bool lost = taken == WA_NAMED_LOCK_BUSY || wa_named_lock_lost (db);
    if (!committing)
        wa_db_transaction (db, "ROLLBACK");
    req->found = false;
    return lost ? 1 : -1;
}

//  Out: found, verified (s_delete_once); rc 1 when every attempt lost.
static void
s_delete_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    wa_usec_t until = wa_clock_mono () + DELETE_LOCK_WAIT;
    while ((job->rc = s_delete_once (req, db)) == 1 && wa_clock_mono () + WA_NAMED_LOCK_RETRY <= until)
        zclock_sleep (WA_NAMED_LOCK_RETRY / 1000);
}

//  --------------------------------------------------------------------------
//  Failed logins: counted in the database (login_failures), per user and per
//  client address, so every Webapp applies one limit. The check runs before
//  the password is, the count after a failure; logins in flight at once may
//  pass the limit by their number (at most the hash queue's).

//  What the check and the count need.
static void
s_failures_init (web_t *self, web_req_t *req)
{
    auth_address_key (req->http.client, req->address_key, sizeof req->address_key);
    req->login_limit = web_config (self)->login_failures_limit;
    req->login_window = (int64_t) (web_config (self)->login_failures_window * 1e6);
}

//  0, or -1 when the user or the address is blocked (answered 429).
static int
s_refuse_blocked (web_t *self, web_req_t *req)
{
    if (!req->blocked_for)
        return 0;
    double retry = ceil ((double) req->blocked_for / 1e6);
    if (req->blocked_user)
        web_fail (self, req, 0, WA_ERR_TOO_MANY, "too many failed logins for '%s': try again in %.0f s",
                  req->username, retry);
    else
        web_fail (self, req, 0, WA_ERR_TOO_MANY, "too many failed logins from %s: try again in %.0f s",
                  req->http.client, retry);
    return -1;
}

//  After a failure is counted: 401 for a login, 403 for a wrong old password.
static void s_failure_answer (web_t *self, web_req_t *req);

//  Counts a failure (saying so when it blocks the address or the user), then answers.
static void
s_count_failure (web_t *self, web_req_t *req)
{
    int limit = web_config (self)->login_failures_limit;
    if (req->address_failures + 1 == limit)
        wa_warn ("login: %s has failed %d logins within %g s: refused until the window ends",
                 req->http.client, limit, web_config (self)->login_failures_window);
    if (*s_counted_user (req) && req->user_failures + 1 == limit)
        wa_warn ("login: '%s' has failed %d logins within %g s: refused until the window ends",
                 req->username, limit, web_config (self)->login_failures_window);
    s_failures_init (self, req);
    web_db (self, req, s_login_failed_run, s_failure_answer);
}

static void
s_failure_answer (web_t *self, web_req_t *req)
{
    if (req->job_rc)
        wa_warn ("login: cannot count a failed login of %s: the database failed", req->http.client);
    if (req->route.id == ROUTE_USER_UPDATE)
        web_fail (self, req, 403, WA_ERR_ACCESS_DENIED, "'old_password' is not the current password");
    else
    if (!req->basic_ok)
        web_fail (self, req, 401, WA_ERR_ACCESS_DENIED,
                  "login takes the header 'Authorization: Basic base64(username:password)'");
    else
        web_fail (self, req, 401, WA_ERR_ACCESS_DENIED, "wrong username or password");
}

//  --------------------------------------------------------------------------
//  POST /v1/users/login

static void
s_login_issued (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot store the token");
        return;
    }
    json_t *response = envelope_new ();
    json_object_set_new (response, "users", json_pack ("[{s:s,s:s}]", "token", req->token,
                                                       "expires_after", req->expires));
    sodium_memzero (req->token, sizeof req->token);
    wa_info ("login: '%s' from %s%s", req->username, req->http.client,
             req->new_password[0] ? " (password changed; its other tokens revoked)" : "");
    if (req->new_password[0]) {
        web_forget_user (self, req->username);
        web_password_changed (self);
    }
    web_reply (self, req, 200, response);
}

static void
s_login_issue (web_t *self, web_req_t *req)
{
    if (req->must_change && !req->new_password[0]) {
        web_fail (self, req, 0, WA_ERR_PASSWORD_CHANGE, "the password of '%s' must be changed: log in again "
                  "with the body {\"new_password\": \"...\"}", req->username);
        return;
    }
    auth_token_new (req->token);
    auth_token_hash (req->token, req->token_hash);
    req->ttl = web_config (self)->token_ttl;
    web_db (self, req, s_issue_run, s_login_issued);
}

static void
s_new_hash_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    web_req_t *req = web_job_req (job);
    job->rc = crypto_pwhash_str (req->new_hash, req->new_password, strlen (req->new_password),
                                 OPSLIMIT, MEMLIMIT);
}

static void
s_login_hashed (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_INTERNAL, "cannot hash the new password");
        return;
    }
    s_login_issue (self, req);
}

//  The credentials were good; the body, if any, may hold a new password.
static void
s_login_body (web_t *self, web_req_t *req)
{
    char why[200];
    int code = input_string (req->input, "new_password", false, req->new_password,
                             sizeof req->new_password, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    const char *problem = req->new_password[0] ? auth_password_problem (req->new_password) : NULL;
    if (problem) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'new_password' %s", problem);
        return;
    }
    if (req->new_password[0])
        web_hash (self, req, s_new_hash_run, s_login_hashed);
    else
        s_login_issue (self, req);
}

static void
s_login_verified (web_t *self, web_req_t *req)
{
    if (!req->verified) {
        wa_info ("login failed: '%s' from %s", req->username, req->http.client);
        s_count_failure (self, req);
        return;
    }
    web_with_body (self, req, s_login_body);
}

static void
s_login_checked (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the user");
        return;
    }
    if (s_refuse_blocked (self, req))
        return;
    if (!req->basic_ok) {
        s_count_failure (self, req);
        return;
    }
    if (!req->found)
        snprintf (req->stored_hash, sizeof req->stored_hash, "%s", web_default_hash (self));
    web_hash (self, req, s_verify_run, s_login_verified);
}

//  The Basic credentials are checked before any of the body is read: first
//  whether the user or the address is blocked, then the password.
void
users_login (web_t *self, web_req_t *req)
{
    req->basic_ok = auth_basic_parse (req->http.authorization, req->username, sizeof req->username,
                                      req->password, sizeof req->password) == 0;
    if (!req->basic_ok)
        req->username[0] = 0;
    s_failures_init (self, req);
    web_db (self, req, s_login_check_run, s_login_checked);
}

//  --------------------------------------------------------------------------
//  POST /v1/users/logout

static void
s_logged_out (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot revoke the token");
        return;
    }
    wa_info ("logout: '%s'", req->caller);
    web_reply (self, req, 200, NULL);
}

void
users_logout (web_t *self, web_req_t *req)
{
    web_forget_token (self, req->token_hash);
    web_db (self, req, s_revoke_run, s_logged_out);
}

//  --------------------------------------------------------------------------
//  POST /v1/users, PUT /v1/users/{name}

//  The password field of the body into req->password, checked. 0 / -1
//  (answered).
static int
s_take_password (web_t *self, web_req_t *req)
{
    char why[200];
    int code = input_string (req->input, "password", true, req->password, sizeof req->password,
                             why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return -1;
    }
    const char *problem = auth_password_problem (req->password);
    if (problem) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'password' %s", problem);
        return -1;
    }
    return 0;
}

static void
s_created (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot store the user");
        return;
    }
    if (req->found) {
        web_fail (self, req, 409, WA_ERR_INVALID, "user '%s' already exists", req->username);
        return;
    }
    wa_info ("user '%s' (%s) created by '%s'", req->username, req->role, req->caller);
    web_reply (self, req, 201, s_users (req->username, req->role));
}

static void
s_create_hashed (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_INTERNAL, "cannot hash the password");
        return;
    }
    web_db (self, req, s_insert_run, s_created);
}

void
users_create (web_t *self, web_req_t *req)
{
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a JSON object with 'username' and 'password'");
        return;
    }
    char why[200];
    int code = input_string (req->input, "username", true, req->username, sizeof req->username, why, sizeof why);
    if (code == 0 && !auth_username_valid (req->username)) {
        code = WA_ERR_INVALID;
        snprintf (why, sizeof why, "'username' must be 4 to 32 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    if (s_take_password (self, req))
        return;
    char role[16];
    code = input_string (req->input, "role", false, role, sizeof role, why, sizeof why);
    for (char *c = role; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    if (code == 0 && *role && !streq (role, "ADMIN") && !streq (role, "USER")) {
        code = WA_ERR_INVALID;
        snprintf (why, sizeof why, "'role' must be ADMIN or USER");
    }
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    snprintf (req->role, sizeof req->role, "%s", *role ? role : "USER");
    web_hash (self, req, users_hash_run, s_create_hashed);
}

static void
s_updated (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot store the password");
        return;
    }
    if (!req->found) {
        web_fail (self, req, 0, WA_ERR_NOT_FOUND, "no user '%s'", req->username);
        return;
    }
    wa_info ("password of '%s' changed by '%s'; its other tokens revoked", req->username, req->caller);
    //  This Webapp's cache at once (the caller's own token is looked up
    //  again); every other Webapp's within its cache's 2 s.
    web_forget_user (self, req->username);
    web_password_changed (self);
    web_reply (self, req, 200, s_users (req->username, NULL));
}

static void
s_update_hashed (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_INTERNAL, "cannot hash the password");
        return;
    }
    web_db (self, req, s_set_password_run, s_updated);
}

//  A self-change: the old password was checked.
static void
s_update_verified (web_t *self, web_req_t *req)
{
    if (!req->verified) {
        wa_info ("password change refused: wrong old password for '%s' from %s", req->username, req->http.client);
        s_count_failure (self, req);
        return;
    }
    web_hash (self, req, users_hash_run, s_update_hashed);
}

static void
s_update_checked (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the user");
        return;
    }
    if (s_refuse_blocked (self, req))
        return;
    if (!req->found)
        snprintf (req->stored_hash, sizeof req->stored_hash, "%s", web_default_hash (self));
    web_hash (self, req, s_verify_old_run, s_update_verified);
}

//  The user named in the path into req->username; 0, or -1 (answered 404).
static int
s_take_name (web_t *self, web_req_t *req)
{
    if (!auth_username_valid (req->route.param)) {
        web_fail (self, req, 0, WA_ERR_NOT_FOUND, "no user '%.40s'", req->route.param);
        return -1;
    }
    snprintf (req->username, sizeof req->username, "%.32s", req->route.param);
    return 0;
}

void
users_update (web_t *self, web_req_t *req)
{
    if (s_take_name (self, req))
        return;
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a JSON object with 'password'");
        return;
    }
    if (s_take_password (self, req))
        return;
    if (!streq (req->caller, req->username)) {
        web_hash (self, req, users_hash_run, s_update_hashed);
        return;
    }
    //  A stolen token alone cannot change its user's password: the old one
    //  is checked, and a wrong one counts as a failed login.
    char why[200];
    int code = input_string (req->input, "old_password", true, req->old_password, sizeof req->old_password,
                             why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s (changing your own password needs the current one)", why);
        return;
    }
    req->basic_ok = true;
    s_failures_init (self, req);
    web_db (self, req, s_login_check_run, s_update_checked);
}

//  --------------------------------------------------------------------------
//  GET and DELETE /v1/users/{name}

static void
s_got (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the user");
        return;
    }
    if (!req->found) {
        web_fail (self, req, 0, WA_ERR_NOT_FOUND, "no user '%s'", req->username);
        return;
    }
    web_reply (self, req, 200, s_users (req->username, req->role));
}

void
users_get (web_t *self, web_req_t *req)
{
    if (s_take_name (self, req) == 0)
        web_db (self, req, s_user_run, s_got);
}

static void
s_deleted (web_t *self, web_req_t *req)
{
    if (req->job_rc == 1) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot delete the user: other deletions of users held the "
                  "users lock for %g s; nothing was changed, try again", (double) DELETE_LOCK_WAIT / 1e6);
        return;
    }
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot delete the user");
        return;
    }
    if (!req->found) {
        web_fail (self, req, 0, WA_ERR_NOT_FOUND, "no user '%s'", req->username);
        return;
    }
    if (!req->verified) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'%s' is the last ADMIN: create another ADMIN first",
                  req->username);
        return;
    }
    web_forget_user (self, req->username);
    wa_info ("user '%s' deleted by '%s'", req->username, req->caller);
    web_reply (self, req, 200, NULL);
}

void
users_delete (web_t *self, web_req_t *req)
{
    if (s_take_name (self, req))
        return;
    web_db (self, req, s_delete_run, s_deleted);
}
