/*  profile — the account-wide state (wa_account_state.h), ADMIN only:

      GET, POST /v1/settings/business/profile
      GET, POST /v1/settings/business/compliance_info
      GET, PATCH /v1/settings/profile/about
      GET, POST, DELETE /v1/settings/profile/photo   (GET ?format=link too)
      POST, DELETE /v1/settings/account/two-step
      POST /v1/settings/backup, POST /v1/settings/restore

    Each is checked here, then the primary Master reads or changes the
    state (src/wamaster/account_state.h: ops state_get, state_set,
    state_delete, photo_set, restore), fenced by its lease; with no primary
    Master the request waits up to request_deadline, then gets 1017, as
    for the settings. Bytes larger than a frame between nodes travel
    through the database instead (account_blobs): a photo is stored by the
    Webapp that received it, then named to the Master by its SHA-256; a
    restore's content is opened here (the password never leaves this
    Webapp), checked whole, staged, and applied by the Master in one
    transaction. What only reads the database — the photo's bytes, the
    backup, whether a PIN is set — the Webapp reads itself.

    The PIN is hashed here (Argon2id, on the hash worker, as a password),
    so the Master stores only its hash; registration and shard changes
    check a PIN against it here before they go to the Master
    (profile_two_step_forward). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wa_account.h"
#include "wa_account_state.h"
#include "wa_log.h"
#include "coreapps.h"
#include "web.h"

//  A PIN hash: cheap enough for the Webapp's hash worker, as a password's.
#define PIN_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PIN_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static const char *SQL_STATE = "SELECT value FROM account_state WHERE name = ?";
static const char *SQL_SETTINGS = "SELECT name, value FROM settings ORDER BY name";
static const char *SQL_USERS = "SELECT username, password_hash, role, must_change FROM users ORDER BY username";
static const char *SQL_STATES = "SELECT name, value FROM account_state ORDER BY name";
static const char *SQL_PROVIDERS = "SELECT name, type, config FROM media_providers ORDER BY name";

//  A request's own state (req->extra).
typedef struct {
    json_t *request;            //  to forward once the checks pass
    char pin[WA_ACCOUNT_PIN_LEN + 1];
    char pin_hash[crypto_pwhash_STRBYTES];
    bool pin_set;               //  a two-step PIN is set
    bool pin_ok;
    char password[WA_BACKUP_PASSWORD_MAX + 1];
    char *data;                 //  a backup's sealed data (base64), or a restore's
    size_t data_len;
    json_t *content;            //  a backup's content, or a restore's opened one
    int open_rc;                //  wa_backup_open's
    unsigned char *bytes;       //  the photo's
    size_t len;
    char type[32];
    char sha256[65];
    int found;                  //  wa_blob_load's: 0 found, 1 none
    char why[400];
} profile_t;

static void
s_profile_free (void *extra)
{
    profile_t *profile = extra;
    if (!profile)
        return;
    json_decref (profile->request);
    json_decref (profile->content);
    if (profile->data) {
        sodium_memzero (profile->data, profile->data_len);
        free (profile->data);
    }
    free (profile->bytes);
    sodium_memzero (profile->password, sizeof profile->password);
    sodium_memzero (profile->pin, sizeof profile->pin);
    free (profile);
}

static profile_t *
s_profile_new (web_req_t *req)
{
    profile_t *profile = (profile_t *) zmalloc (sizeof (profile_t));
    req->extra = profile;
    req->extra_free = s_profile_free;
    return profile;
}

//  The stored value of a row (NULL when none), from the DB worker.
static int
s_value_row (const wa_db_row_t *row, void *arg)
{
    *(json_t **) arg = json_loads (wa_db_row_str (row, 0), JSON_REJECT_DUPLICATES, NULL);
    return 0;
}

//  --------------------------------------------------------------------------
//  Two-step verification: set, removed, and checked for registration

static void
s_pin_hash_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    profile_t *profile = web_job_req (job)->extra;
    job->rc = crypto_pwhash_str (profile->pin_hash, profile->pin, strlen (profile->pin), PIN_OPSLIMIT, PIN_MEMLIMIT);
}

static void
s_pin_hashed (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 500, WA_ERR_INTERNAL, "the PIN could not be hashed");
        return;
    }
    web_forward (self, req, COREAPPS_MASTER,
                 json_pack ("{s:s, s:s, s:s, s:{s:s}}", "op", "state_set", "by", req->caller, "name",
                            WA_STATE_TWO_STEP, "value", "pin_hash", profile->pin_hash));
}

static void
s_pin_read_run (wa_job_t *job, wa_db_t *db)
{
    profile_t *profile = web_job_req (job)->extra;
    json_t *value = NULL;
    job->rc = wa_db_query (db, SQL_STATE, s_value_row, &value, "s", WA_STATE_TWO_STEP) < 0 ? -1 : 0;
    const char *hash = json_string_value (json_object_get (value, "pin_hash"));
    profile->pin_set = hash != NULL;
    snprintf (profile->pin_hash, sizeof profile->pin_hash, "%s", hash ? hash : "");
    json_decref (value);
}

static void
s_pin_verify_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    profile_t *profile = web_job_req (job)->extra;
    profile->pin_ok = crypto_pwhash_str_verify (profile->pin_hash, profile->pin, strlen (profile->pin)) == 0;
    job->rc = 0;
}

static void
s_pin_verified (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (!profile->pin_ok) {
        wa_warn ("a wrong two-step verification PIN from %s (%s)", req->caller, req->http.client);
        web_fail (self, req, 0, WA_ERR_INVALID, "'pin' does not match the two-step verification PIN");
        return;
    }
    json_t *request = profile->request;
    profile->request = NULL;
    web_forward (self, req, COREAPPS_MASTER, request);
}

static void
s_pin_read (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the two-step verification: the database failed");
        return;
    }
    if (!profile->pin_set) {
        json_t *request = profile->request;
        profile->request = NULL;
        web_forward (self, req, COREAPPS_MASTER, request);
        return;
    }
    if (!*profile->pin) {
        web_fail (self, req, 0, WA_ERR_MISSING, "'pin' is missing: two-step verification is on, so this needs "
                  "its 6-digit PIN");
        return;
    }
    web_hash (self, req, s_pin_verify_run, s_pin_verified);
}

void
profile_two_step_forward (web_t *self, web_req_t *req, const char *pin, json_t *request)
{
    profile_t *profile = s_profile_new (req);
    profile->request = request;
    snprintf (profile->pin, sizeof profile->pin, "%s", pin);
    web_db (self, req, s_pin_read_run, s_pin_read);
}

//  --------------------------------------------------------------------------
//  The photo

//  Reads the uploaded file and stores it as a blob (on the DB worker).
static void
s_photo_store_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    profile_t *profile = req->extra;
    http_req_t *http = &req->http;
    job->rc = -1;
    profile->bytes = malloc (http->upload_size + 1);
    if (!profile->bytes)
        return;
    size_t got = 0;
    while (got < http->upload_size) {
        ssize_t n = pread (http->upload_fd, profile->bytes + got, http->upload_size - got, (off_t) got);
        if (n <= 0) {
            snprintf (profile->why, sizeof profile->why, "cannot read the upload: %s",
                      n < 0 ? strerror (errno) : "it is shorter than received");
            return;
        }
        got += (size_t) n;
    }
    profile->len = got;
    const char *type = wa_photo_type (profile->bytes, got);
    if (!type) {
        job->rc = 1;
        return;
    }
    snprintf (profile->type, sizeof profile->type, "%s", type);
    if (wa_db_transaction (db, "START TRANSACTION")
    ||  wa_blob_store (db, "photo", type, profile->bytes, got, profile->sha256)
    ||  wa_db_transaction (db, "COMMIT")) {
        snprintf (profile->why, sizeof profile->why, "%s", wa_db_error (db));
        wa_db_transaction (db, "ROLLBACK");
        return;
    }
    job->rc = 0;
}

static void
s_photo_stored (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc == 1) {
        web_fail (self, req, 0, WA_ERR_INVALID, "the photo must be a JPEG or a PNG image (the body's bytes are "
                  "neither)");
        return;
    }
    if (req->job_rc) {
        wa_warn ("cannot store the profile photo: %s", profile->why);
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot store the photo: %s", profile->why);
        return;
    }
    web_forward (self, req, COREAPPS_MASTER,
                 json_pack ("{s:s, s:s, s:s}", "op", "photo_set", "by", req->caller, "sha256", profile->sha256));
}

static void
s_photo_set (web_t *self, web_req_t *req)
{
    http_req_t *http = &req->http;
    if (!http->upload_path || http->upload_size == 0) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body is empty: it must hold the photo's bytes "
                  "(a JPEG or a PNG, Content-Type image/jpeg or image/png)");
        return;
    }
    const char *type = http->upload_type ? http->upload_type : "";
    if (strncmp (type, "image/jpeg", 10) != 0 && strncmp (type, "image/png", 9) != 0) {
        web_fail (self, req, 0, WA_ERR_INVALID, "the Content-Type must be image/jpeg or image/png, not '%.60s'",
                  type);
        return;
    }
    s_profile_new (req);
    web_db (self, req, s_photo_store_run, s_photo_stored);
}

static void
s_photo_read_run (wa_job_t *job, wa_db_t *db)
{
    profile_t *profile = web_job_req (job)->extra;
    json_t *value = NULL;
    job->rc = -1;
    if (wa_db_query (db, SQL_STATE, s_value_row, &value, "s", WA_STATE_PHOTO) < 0)
        return;
    const char *sha = json_string_value (json_object_get (value, "sha256"));
    profile->found = 1;
    if (sha) {
        snprintf (profile->sha256, sizeof profile->sha256, "%s", sha);
        profile->found = wa_blob_load (db, "photo", sha, &profile->bytes, &profile->len, profile->type,
                                       sizeof profile->type);
    }
    json_decref (value);
    job->rc = profile->found < 0 ? -1 : 0;
}

static void
s_photo_read (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read the photo: the database failed");
        return;
    }
    if (profile->found) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no profile photo is set");
        return;
    }
    if (req->http.format && streq (req->http.format, "link")) {
        //  A link this API serves the photo at; the hash tells its versions apart.
        char link[160];
        snprintf (link, sizeof link, "/v1/settings/profile/photo?version=%.16s", profile->sha256);
        json_t *response = envelope_new ();
        json_object_set_new (response, "settings", json_pack ("{s:{s:{s:s}}}", "profile", "photo", "link", link));
        web_reply (self, req, 200, response);
        return;
    }
    //  A type that outlives the request's state (freed as it is answered).
    const char *type = wa_photo_type (profile->bytes, profile->len);
    char *bytes = (char *) profile->bytes;
    profile->bytes = NULL;
    web_reply_text (self, req, 200, bytes, profile->len, type ? type : "application/octet-stream");
}

//  --------------------------------------------------------------------------
//  Backup

static int
s_setting_row (const wa_db_row_t *row, void *arg)
{
    json_object_set_new ((json_t *) arg, wa_db_row_str (row, 0), json_string (wa_db_row_str (row, 1)));
    return 0;
}

static int
s_user_row (const wa_db_row_t *row, void *arg)
{
    json_array_append_new ((json_t *) arg, json_pack ("{s:s, s:s, s:s, s:b}", "username", wa_db_row_str (row, 0),
                                                     "password_hash", wa_db_row_str (row, 1), "role",
                                                     wa_db_row_str (row, 2), "must_change",
                                                     wa_db_row_int (row, 3) != 0));
    return 0;
}

static int
s_state_row (const wa_db_row_t *row, void *arg)
{
    json_t *value = json_loads (wa_db_row_str (row, 1), JSON_REJECT_DUPLICATES, NULL);
    if (value)
        json_object_set_new ((json_t *) arg, wa_db_row_str (row, 0), value);
    return 0;
}

static int
s_provider_row (const wa_db_row_t *row, void *arg)
{
    json_array_append_new ((json_t *) arg, json_pack ("{s:s, s:s, s:s}", "name", wa_db_row_str (row, 0), "type",
                                                     wa_db_row_str (row, 1), "config", wa_db_row_str (row, 2)));
    return 0;
}

//  Everything a backup holds, read in one consistent snapshot.
static void
s_backup_read_run (wa_job_t *job, wa_db_t *db)
{
    profile_t *profile = web_job_req (job)->extra;
    job->rc = -1;
    json_t *settings = json_object (), *users = json_array (), *state = json_object (), *providers = json_array ();
    profile->content = json_pack ("{s:i, s:o, s:o, s:o, s:o}", "version", WA_BACKUP_VERSION, "settings", settings,
                                  "users", users, "state", state, "media_providers", providers);
    if (!profile->content)
        return;
    if (wa_db_transaction (db, "START TRANSACTION"))
        return;
    bool ok = wa_db_query (db, SQL_SETTINGS, s_setting_row, settings, "") >= 0
           && wa_db_query (db, SQL_USERS, s_user_row, users, "") >= 0
           && wa_db_query (db, SQL_STATES, s_state_row, state, "") >= 0
           && wa_db_query (db, SQL_PROVIDERS, s_provider_row, providers, "") >= 0;
    const char *sha = json_string_value (json_object_get (json_object_get (state, WA_STATE_PHOTO), "sha256"));
    if (ok && sha) {
        unsigned char *bytes = NULL;
        size_t len = 0;
        char type[64];
        int found = wa_blob_load (db, "photo", sha, &bytes, &len, type, sizeof type);
        ok = found >= 0;
        if (found == 0) {
            size_t size = sodium_base64_encoded_len (len, sodium_base64_VARIANT_ORIGINAL);
            char *text = malloc (size);
            if (text) {
                sodium_bin2base64 (text, size, bytes, len, sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new (profile->content, "photo", json_pack ("{s:s, s:s}", "type", type, "data", text));
            }
            ok = text != NULL;
            free (text);
        }
        else
        if (found == 1)
            json_object_del (state, WA_STATE_PHOTO);    //  its bytes are gone: a backup without it
        free (bytes);
    }
    wa_db_transaction (db, "COMMIT");
    job->rc = ok ? 0 : -1;
}

static void
s_seal_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    profile_t *profile = web_job_req (job)->extra;
    char *text = json_dumps (profile->content, JSON_COMPACT | JSON_SORT_KEYS);
    profile->data = text ? wa_backup_seal (profile->password, text, strlen (text), &profile->data_len) : NULL;
    if (text) {
        sodium_memzero (text, strlen (text));
        free (text);
    }
    job->rc = profile->data ? 0 : -1;
}

static void
s_sealed (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 500, WA_ERR_INTERNAL, "the backup could not be encrypted (out of memory?)");
        return;
    }
    json_t *response = envelope_new ();
    json_object_set_new (response, "settings", json_pack ("{s:s#}", "data", profile->data, profile->data_len));
    wa_info ("backup made by %s: %zu characters", req->caller, profile->data_len);
    web_reply (self, req, 200, response);
}

static void
s_backup_read (web_t *self, web_req_t *req)
{
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot read what the backup holds: the database failed");
        return;
    }
    web_hash (self, req, s_seal_run, s_sealed);
}

//  The password of a backup or a restore: 0, or answered.
static int
s_password (web_t *self, web_req_t *req, profile_t *profile)
{
    json_t *password = json_object_get (req->input, "password");
    if (!password || json_is_null (password))
        return web_fail (self, req, 0, WA_ERR_MISSING, "'password' is missing: the backup's password"), -1;
    const char *text = json_string_value (password);
    if (!text || strlen (text) != json_string_length (password) || strlen (text) < WA_BACKUP_PASSWORD_MIN
    ||  strlen (text) > WA_BACKUP_PASSWORD_MAX)
        return web_fail (self, req, 0, WA_ERR_INVALID, "'password' must be a string of %d to %d bytes",
                         WA_BACKUP_PASSWORD_MIN, WA_BACKUP_PASSWORD_MAX), -1;
    snprintf (profile->password, sizeof profile->password, "%s", text);
    return 0;
}

//  --------------------------------------------------------------------------
//  Restore

static void
s_open_run (wa_job_t *job, wa_db_t *db)
{
    (void) db;
    profile_t *profile = web_job_req (job)->extra;
    const char *data = json_string_value (json_object_get (web_job_req (job)->input, "data"));
    char *content = NULL;
    size_t len = 0;
    profile->open_rc = wa_backup_open (profile->password, data, strlen (data), &content, &len, profile->why,
                                       sizeof profile->why);
    job->rc = 0;
    if (profile->open_rc)
        return;
    json_error_t error;
    profile->content = json_loadb (content, len, JSON_REJECT_DUPLICATES, &error);
    int code = profile->content ? wa_backup_content_check (profile->content, profile->why, sizeof profile->why)
                                : WA_ERR_INVALID;
    if (!profile->content)
        snprintf (profile->why, sizeof profile->why, "its content is not JSON: %s", error.text);
    if (code)
        profile->open_rc = -4;
    else {
        profile->data = content;        //  staged as it is (checked)
        profile->data_len = len;
        content = NULL;
    }
    if (content) {
        sodium_memzero (content, len);
        free (content);
    }
}

static void
s_stage_run (wa_job_t *job, wa_db_t *db)
{
    profile_t *profile = web_job_req (job)->extra;
    job->rc = -1;
    if (wa_db_transaction (db, "START TRANSACTION")
    ||  wa_blob_store (db, "restore", "application/json", profile->data, profile->data_len, profile->sha256)
    ||  wa_db_transaction (db, "COMMIT")) {
        snprintf (profile->why, sizeof profile->why, "%s", wa_db_error (db));
        wa_db_transaction (db, "ROLLBACK");
        return;
    }
    job->rc = 0;
}

static void
s_staged (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot stage the backup: %s; nothing was restored", profile->why);
        return;
    }
    web_forward (self, req, COREAPPS_MASTER,
                 json_pack ("{s:s, s:s, s:s}", "op", "restore", "by", req->caller, "sha256", profile->sha256));
}

static void
s_opened (web_t *self, web_req_t *req)
{
    profile_t *profile = req->extra;
    switch (profile->open_rc) {
        case 0:
            web_db (self, req, s_stage_run, s_staged);
            return;
        case -3:
            web_fail (self, req, 500, WA_ERR_INTERNAL, "%s; nothing was restored", profile->why);
            return;
        case -4:
            web_fail (self, req, 0, WA_ERR_INVALID, "the backup cannot be restored: %s; nothing was restored",
                      profile->why);
            return;
        default:
            wa_warn ("restore by %s refused: %s", req->caller, profile->why);
            web_fail (self, req, 0, WA_ERR_INVALID, "%s; nothing was restored", profile->why);
            return;
    }
}

static void
s_restore (web_t *self, web_req_t *req, profile_t *profile)
{
    if (s_password (self, req, profile))
        return;
    json_t *data = json_object_get (req->input, "data");
    if (!data || json_is_null (data)) {
        web_fail (self, req, 0, WA_ERR_MISSING, "'data' is missing: what POST /v1/settings/backup answered");
        return;
    }
    if (!json_is_string (data) || json_string_length (data) == 0) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'data' must be the string POST /v1/settings/backup answered");
        return;
    }
    web_hash (self, req, s_open_run, s_opened);
}

//  --------------------------------------------------------------------------

//  Only these members: a misspelt one is refused, never dropped.
static int
s_only (web_t *self, web_req_t *req, const char *const *names)
{
    const char *key;
    json_t *value;
    json_object_foreach (req->input, key, value) {
        bool known = false;
        for (const char *const *name = names; *name && !known; name++)
            known = streq (*name, key);
        if (!known)
            return web_fail (self, req, 0, WA_ERR_INVALID, "'%.64s' is not a field this request takes", key), -1;
    }
    return 0;
}

static json_t *
s_state_op (web_req_t *req, const char *op, const char *name)
{
    return json_pack ("{s:s, s:s, s:s}", "op", op, "by", req->caller, "name", name);
}

void
profile_request (web_t *self, web_req_t *req)
{
    route_id_t id = req->route.id;
    bool needs_body = id == ROUTE_BUSINESS_PROFILE_SET || id == ROUTE_COMPLIANCE_SET || id == ROUTE_ABOUT_SET
                   || id == ROUTE_TWO_STEP_SET || id == ROUTE_BACKUP || id == ROUTE_RESTORE;
    if (needs_body && !json_is_object (req->input)) {
        web_fail (self, req, 0, req->input ? WA_ERR_INVALID : WA_ERR_MISSING, "the body must be a JSON object%s",
                  id == ROUTE_TWO_STEP_SET ? ": {\"pin\": \"123456\"}" : id == ROUTE_ABOUT_SET ? ": {\"text\": \"...\"}"
                  : id == ROUTE_BACKUP ? ": {\"password\": \"...\"}"
                  : id == ROUTE_RESTORE ? ": {\"password\": \"...\", \"data\": \"...\"}" : "");
        return;
    }
    char why[400];
    json_t *value = NULL;
    int code = 0;
    switch (id) {
        case ROUTE_BUSINESS_PROFILE_GET:
            web_forward (self, req, COREAPPS_MASTER, s_state_op (req, "state_get", WA_STATE_PROFILE));
            return;
        case ROUTE_COMPLIANCE_GET:
            web_forward (self, req, COREAPPS_MASTER, s_state_op (req, "state_get", WA_STATE_COMPLIANCE));
            return;
        case ROUTE_ABOUT_GET:
            web_forward (self, req, COREAPPS_MASTER, s_state_op (req, "state_get", WA_STATE_ABOUT));
            return;
        case ROUTE_BUSINESS_PROFILE_SET:
        case ROUTE_COMPLIANCE_SET:
        case ROUTE_ABOUT_SET: {
            const char *name = id == ROUTE_BUSINESS_PROFILE_SET ? WA_STATE_PROFILE
                             : id == ROUTE_COMPLIANCE_SET ? WA_STATE_COMPLIANCE : WA_STATE_ABOUT;
            //  The profile is merged over the stored one on the Master (which
            //  checks it again, with what is stored); the others replace it.
            code = id == ROUTE_BUSINESS_PROFILE_SET ? wa_state_profile_check (req->input, NULL, &value, why, sizeof why)
                 : id == ROUTE_COMPLIANCE_SET ? wa_state_compliance_check (req->input, &value, why, sizeof why)
                 : wa_state_about_check (req->input, &value, why, sizeof why);
            if (code) {
                web_fail (self, req, 0, code, "%s", why);
                return;
            }
            json_t *request = s_state_op (req, "state_set", name);
            json_object_set (request, "value", id == ROUTE_BUSINESS_PROFILE_SET ? req->input : value);
            json_decref (value);
            web_forward (self, req, COREAPPS_MASTER, request);
            return;
        }
        case ROUTE_TWO_STEP_SET: {
            profile_t *profile = s_profile_new (req);
            code = wa_state_pin_check (req->input, profile->pin, why, sizeof why);
            if (code) {
                web_fail (self, req, 0, code, "%s", why);
                return;
            }
            web_hash (self, req, s_pin_hash_run, s_pin_hashed);
            return;
        }
        case ROUTE_TWO_STEP_DELETE:
            web_forward (self, req, COREAPPS_MASTER, s_state_op (req, "state_delete", WA_STATE_TWO_STEP));
            return;
        case ROUTE_PHOTO_DELETE:
            web_forward (self, req, COREAPPS_MASTER, s_state_op (req, "state_delete", WA_STATE_PHOTO));
            return;
        case ROUTE_PHOTO_SET:
            s_photo_set (self, req);
            return;
        case ROUTE_PHOTO_GET:
            s_profile_new (req);
            web_db (self, req, s_photo_read_run, s_photo_read);
            return;
        case ROUTE_BACKUP: {
            static const char *const fields[] = { "password", NULL };
            profile_t *profile = s_profile_new (req);
            if (s_only (self, req, fields) == 0 && s_password (self, req, profile) == 0)
                web_db (self, req, s_backup_read_run, s_backup_read);
            return;
        }
        case ROUTE_RESTORE: {
            static const char *const fields[] = { "password", "data", NULL };
            profile_t *profile = s_profile_new (req);
            if (s_only (self, req, fields) == 0)
                s_restore (self, req, profile);
            return;
        }
        default:
            web_fail (self, req, 0, WA_ERR_INTERNAL, "no handler for this route");
            return;
    }
}
