/*  account_state — see account_state.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wa_account_state.h"
#include "wa_errors.h"
#include "wa_log.h"
#include "account_state.h"

static const char *s_ops[] = { "state_get", "state_set", "state_delete", "photo_set", "restore", NULL };

static const char *SQL_GET = "SELECT value FROM account_state WHERE name = ?";
static const char *SQL_GET_LOCKED = "SELECT value FROM account_state WHERE name = ? FOR UPDATE";
static const char *SQL_PUT =
    "INSERT INTO account_state (name, value, updated_at, updated_by) VALUES (?, ?, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(6), updated_by = VALUES(updated_by)";
static const char *SQL_DELETE = "DELETE FROM account_state WHERE name = ?";
static const char *SQL_PHOTOS_OTHER = "DELETE FROM account_blobs WHERE kind = 'photo' AND sha256 <> ?";
static const char *SQL_PHOTOS_ALL = "DELETE FROM account_blobs WHERE kind = 'photo'";
//  A staged backup stays for an hour after it was applied: a restore the
//  Webapp retries (its answer lost in a failover) applies it again, the
//  same content, instead of failing for a blob already gone.
static const char *SQL_STAGED_GONE =
    "DELETE FROM account_blobs WHERE kind = 'restore' AND sha256 <> ? AND created_at < NOW(6) - INTERVAL 1 HOUR";
static const char *SQL_SETTING =
    "INSERT INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(6), updated_by = VALUES(updated_by)";
static const char *SQL_USERS = "SELECT username, password_hash FROM users";
static const char *SQL_USER_PUT =
    "INSERT INTO users (username, password_hash, role, must_change, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, NOW(6), NOW(6)) ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash),"
    " role = VALUES(role), must_change = VALUES(must_change), updated_at = NOW(6)";
static const char *SQL_USER_DELETE = "DELETE FROM users WHERE username = ?";
static const char *SQL_TOKENS_REVOKE =
    "UPDATE tokens SET revoked_at = NOW(6) WHERE username = ? AND revoked_at IS NULL";
static const char *SQL_STATE_CLEAR = "DELETE FROM account_state";
static const char *SQL_PROVIDERS_CLEAR = "DELETE FROM media_providers";
static const char *SQL_PROVIDER_PUT =
    "INSERT INTO media_providers (name, type, config, updated_at, updated_by) VALUES (?, ?, ?, NOW(6), ?)";

enum { RUN_OK = 0, RUN_REFUSED = 2, RUN_DATABASE = -1 };

static int
s_refuse (char *error, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int
s_refuse (char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (error, size, fmt, args);
    va_end (args);
    return RUN_REFUSED;
}

static int
s_db_failed (wa_db_t *db, char *error, size_t size, const char *what)
{
    snprintf (error, size, "%s: %s", what, wa_db_error (db));
    return RUN_DATABASE;
}

int
account_state_op (const char *op)
{
    for (int i = 0; op && s_ops[i]; i++)
        if (strcmp (op, s_ops[i]) == 0)
            return i;
    return -1;
}

bool
account_state_writes (const account_state_req_t *req)
{
    return req->op != STATE_GET;
}

void
account_state_clear (account_state_req_t *req)
{
    free (req->answer);
    req->answer = NULL;
    req->settings_changed = false;
    req->summary[0] = 0;
}

static bool
s_hex64 (const char *text)
{
    return text && strlen (text) == 64 && strspn (text, "0123456789abcdef") == 64;
}

int
account_state_check (const json_t *root, account_state_req_t *req, char *why, size_t size)
{
    account_state_clear (req);
    req->name[0] = req->value[0] = req->sha256[0] = 0;
    const char *name = json_string_value (json_object_get (root, "name"));
    const char *sha = json_string_value (json_object_get (root, "sha256"));
    if (req->op == STATE_GET || req->op == STATE_SET || req->op == STATE_DELETE) {
        if (!wa_state_name_valid (name))
            return snprintf (why, size, "'name' must name a piece of the account state"), WA_ERR_INVALID;
        snprintf (req->name, sizeof req->name, "%s", name);
    }
    if (req->op == STATE_SET) {
        json_t *value = json_object_get (root, "value");
        if (!value)
            return snprintf (why, size, "'value' is missing"), WA_ERR_MISSING;
        if (strcmp (name, WA_STATE_PHOTO) == 0)
            return snprintf (why, size, "the photo is set with photo_set"), WA_ERR_INVALID;
        char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text || strlen (text) > WA_TEXT_MAX) {
            free (text);
            return snprintf (why, size, "'value' is too large"), WA_ERR_INVALID;
        }
        snprintf (req->value, sizeof req->value, "%s", text);
        free (text);
    }
    if (req->op == STATE_PHOTO || req->op == STATE_RESTORE) {
        if (!s_hex64 (sha))
            return snprintf (why, size, "'sha256' must be the blob's SHA-256 (64 hex digits)"), WA_ERR_INVALID;
        snprintf (req->sha256, sizeof req->sha256, "%s", sha);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  On the DB worker

typedef struct {
    bool found;
    char text[8192];
} value_row_t;

static int
s_value_row (const wa_db_row_t *row, void *arg)
{
    value_row_t *value = arg;
    value->found = true;
    snprintf (value->text, sizeof value->text, "%s", wa_db_row_str (row, 0));
    return 0;
}

static int
s_read (wa_db_t *db, const char *name, bool lock, json_t **value, char *error, size_t size)
{
    value_row_t *row = calloc (1, sizeof (value_row_t));
    *value = NULL;
    if (!row)
        return snprintf (error, size, "out of memory"), RUN_DATABASE;
    if (wa_db_query (db, lock ? SQL_GET_LOCKED : SQL_GET, s_value_row, row, "s", name) < 0) {
        free (row);
        return s_db_failed (db, error, size, "cannot read the account state");
    }
    if (row->found)
        *value = json_loads (row->text, JSON_REJECT_DUPLICATES, NULL);
    free (row);
    return RUN_OK;
}

static int
s_put (wa_db_t *db, const char *name, const json_t *value, const char *by, char *error, size_t size)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = text && wa_db_exec (db, SQL_PUT, "sss", name, text, by) >= 0 ? RUN_OK : RUN_DATABASE;
    free (text);
    if (rc)
        return s_db_failed (db, error, size, "cannot store the account state");
    return RUN_OK;
}

static int
s_run_set (account_state_req_t *req, wa_db_t *db, char *error, size_t size)
{
    json_t *input = json_loads (req->value, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    json_t *value = NULL;
    char why[400];
    int code = 0, rc = RUN_OK;
    if (strcmp (req->name, WA_STATE_PROFILE) == 0) {
        json_t *current = NULL;
        rc = s_read (db, req->name, true, &current, error, size);
        if (rc == RUN_OK)
            code = wa_state_profile_check (input, current, &value, why, sizeof why);
        json_decref (current);
    }
    else
    if (strcmp (req->name, WA_STATE_COMPLIANCE) == 0)
        code = wa_state_compliance_check (input, &value, why, sizeof why);
    else
    if (strcmp (req->name, WA_STATE_ABOUT) == 0)
        code = wa_state_about_check (input, &value, why, sizeof why);
    else
    if ((code = wa_state_value_check (req->name, input, why, sizeof why)) == 0)
        value = json_incref (input);
    json_decref (input);
    if (rc == RUN_OK && code)
        rc = s_refuse (error, size, "%s", why);
    if (rc == RUN_OK)
        rc = s_put (db, req->name, value, req->by, error, size);
    json_decref (value);
    return rc;
}

static int
s_run_photo (account_state_req_t *req, wa_db_t *db, char *error, size_t size)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int found = wa_blob_load (db, "photo", req->sha256, &bytes, &len, NULL, 0);
    if (found < 0)
        return s_db_failed (db, error, size, "cannot read the photo");
    if (found > 0)
        return s_refuse (error, size, "no whole photo %s is stored: upload it again", req->sha256);
    const char *type = wa_photo_type (bytes, len);
    free (bytes);
    if (!type || len > WA_PHOTO_MAX)
        return s_refuse (error, size, "the photo must be a JPEG or a PNG of at most %zu bytes", WA_PHOTO_MAX);
    json_t *value = json_pack ("{s:s, s:s, s:I}", "sha256", req->sha256, "type", type, "size", (json_int_t) len);
    int rc = s_put (db, WA_STATE_PHOTO, value, req->by, error, size);
    json_decref (value);
    if (rc == RUN_OK && wa_db_exec (db, SQL_PHOTOS_OTHER, "s", req->sha256) < 0)
        return s_db_failed (db, error, size, "cannot remove the previous photo");
    return rc;
}

static int
s_run_delete (account_state_req_t *req, wa_db_t *db, char *error, size_t size)
{
    if (wa_db_exec (db, SQL_DELETE, "s", req->name) < 0)
        return s_db_failed (db, error, size, "cannot delete the account state");
    if (strcmp (req->name, WA_STATE_PHOTO) == 0 && wa_db_exec (db, SQL_PHOTOS_ALL, "") < 0)
        return s_db_failed (db, error, size, "cannot delete the photo");
    return RUN_OK;
}

//  The users as they are before a restore: name and hash.
static int
s_user_row (const wa_db_row_t *row, void *arg)
{
    json_object_set_new ((json_t *) arg, wa_db_row_str (row, 0), json_string (wa_db_row_str (row, 1)));
    return 0;
}

//  Applies a checked backup content (the transaction is the caller's).
static int
s_apply (account_state_req_t *req, wa_db_t *db, const wa_config_t *base, json_t *content, char *error,
         size_t size)
{
    //  The settings: each through the same checks as a PATCH, then the whole.
    json_t *settings = json_object_get (content, "settings");
    wa_config_t config = *base;
    char err[768];
    const char *key;
    json_t *value;
    int restored_settings = 0, skipped = 0;
    json_object_foreach (settings, key, value) {
        bool setting = false;
        for (int i = 0; wa_config_setting_name (i) && !setting; i++)
            setting = strcmp (wa_config_setting_name (i), key) == 0;
        if (!setting) {
            skipped++;
            continue;
        }
        if (wa_config_set (&config, key, json_string_value (value), err, sizeof err))
            return s_refuse (error, size, "the backup's setting %s: %s", key, err);
    }
    if (wa_config_check (&config, err, sizeof err))
        return s_refuse (error, size, "the backup's settings would be refused: %s", err);
    json_object_foreach (settings, key, value) {
        bool setting = false;
        for (int i = 0; wa_config_setting_name (i) && !setting; i++)
            setting = strcmp (wa_config_setting_name (i), key) == 0;
        if (!setting)
            continue;
        if (wa_db_exec (db, SQL_SETTING, "sss", key, json_string_value (value), req->by) < 0)
            return s_db_failed (db, error, size, "cannot store a setting");
        restored_settings++;
    }
    req->settings_changed = restored_settings > 0;
    //  The users: the backup's, with their hashes; the others go. A user
    //  whose password changed, or who went, loses its tokens.
    json_t *before = json_object ();
    if (wa_db_query (db, SQL_USERS, s_user_row, before, "") < 0) {
        json_decref (before);
        return s_db_failed (db, error, size, "cannot read the users");
    }
    json_t *users = json_object_get (content, "users");
    size_t i;
    json_t *user;
    int revoked = 0;
    json_array_foreach (users, i, user) {
        const char *name = json_string_value (json_object_get (user, "username"));
        const char *hash = json_string_value (json_object_get (user, "password_hash"));
        const char *old = json_string_value (json_object_get (before, name));
        if (wa_db_exec (db, SQL_USER_PUT, "sssi", name, hash, json_string_value (json_object_get (user, "role")),
                        (int64_t) json_is_true (json_object_get (user, "must_change"))) < 0
        ||  (old && strcmp (old, hash) != 0 && wa_db_exec (db, SQL_TOKENS_REVOKE, "s", name) < 0)) {
            json_decref (before);
            return s_db_failed (db, error, size, "cannot store a user");
        }
        revoked += old && strcmp (old, hash) != 0;
        json_object_del (before, name);
    }
    int removed = 0;
    json_object_foreach (before, key, value) {
        if (wa_db_exec (db, SQL_TOKENS_REVOKE, "s", key) < 0 || wa_db_exec (db, SQL_USER_DELETE, "s", key) < 0) {
            json_decref (before);
            return s_db_failed (db, error, size, "cannot remove a user");
        }
        removed++;
    }
    json_decref (before);
    //  The account state and the photo.
    if (wa_db_exec (db, SQL_STATE_CLEAR, "") < 0)
        return s_db_failed (db, error, size, "cannot clear the account state");
    json_t *state = json_object_get (content, "state");
    json_object_foreach (state, key, value) {
        int rc = s_put (db, key, value, req->by, error, size);
        if (rc)
            return rc;
    }
    json_t *photo = json_object_get (content, "photo");
    if (wa_db_exec (db, photo ? SQL_PHOTOS_OTHER : SQL_PHOTOS_ALL, photo ? "s" : "",
                    json_string_value (json_object_get (json_object_get (state, WA_STATE_PHOTO), "sha256"))) < 0)
        return s_db_failed (db, error, size, "cannot clear the photo");
    if (photo) {
        const char *data = json_string_value (json_object_get (photo, "data"));
        size_t data_len = strlen (data);
        unsigned char *bytes = malloc (data_len / 4 * 3 + 3);
        size_t len = 0;
        if (!bytes || sodium_base642bin (bytes, data_len / 4 * 3 + 3, data, data_len, NULL, &len, NULL,
                                         sodium_base64_VARIANT_ORIGINAL)) {
            free (bytes);
            return s_refuse (error, size, "the backup's photo is not base64");
        }
        json_t *photo_state = json_object_get (state, WA_STATE_PHOTO);
        char sha[65];
        wa_sha256_hex (bytes, len, sha);
        const char *type = wa_photo_type (bytes, len);
        if (strcmp (sha, json_string_value (json_object_get (photo_state, "sha256"))) != 0 || !type
        ||  (json_int_t) len != json_integer_value (json_object_get (photo_state, "size"))) {
            free (bytes);
            return s_refuse (error, size, "the backup's photo does not match its state");
        }
        int rc = wa_blob_store (db, "photo", type, bytes, len, NULL);
        free (bytes);
        if (rc)
            return s_db_failed (db, error, size, "cannot store the photo");
    }
    //  The media providers, when the backup has them.
    json_t *providers = json_object_get (content, "media_providers");
    if (providers) {
        if (wa_db_exec (db, SQL_PROVIDERS_CLEAR, "") < 0)
            return s_db_failed (db, error, size, "cannot clear the media providers");
        json_t *provider;
        json_array_foreach (providers, i, provider)
            if (wa_db_exec (db, SQL_PROVIDER_PUT, "ssss", json_string_value (json_object_get (provider, "name")),
                            json_string_value (json_object_get (provider, "type")),
                            json_string_value (json_object_get (provider, "config")), req->by) < 0)
                return s_db_failed (db, error, size, "cannot store a media provider (a name twice?)");
    }
    json_t *counts = json_pack ("{s:i, s:i, s:i, s:i, s:i, s:b, s:i}", "settings", restored_settings,
                                "users", (int) json_array_size (users), "users_removed", removed,
                                "users_tokens_revoked", revoked, "account_state", (int) json_object_size (state),
                                "photo", photo != NULL, "media_providers", (int) json_array_size (providers));
    json_t *answer = json_pack ("{s:o}", "restored", counts);
    req->answer = answer ? json_dumps (answer, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (answer);
    snprintf (req->summary, sizeof req->summary, "%d setting(s) (%d unknown skipped), %zu user(s) (%d removed), "
              "%zu state row(s)%s", restored_settings, skipped, json_array_size (users), removed,
              json_object_size (state), photo ? ", the photo" : "");
    return RUN_OK;
}

static int
s_run_restore (account_state_req_t *req, wa_db_t *db, const wa_config_t *base, char *error, size_t size)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int found = wa_blob_load (db, "restore", req->sha256, &bytes, &len, NULL, 0);
    if (found < 0)
        return s_db_failed (db, error, size, "cannot read the staged backup");
    if (found > 0)
        return s_refuse (error, size, "the staged backup %s is not whole in the database: send the restore again",
                         req->sha256);
    json_error_t parse;
    json_t *content = json_loadb ((const char *) bytes, len, JSON_REJECT_DUPLICATES, &parse);
    free (bytes);
    char why[400];
    int code = content ? wa_backup_content_check (content, why, sizeof why) : WA_ERR_INVALID;
    int rc = code ? s_refuse (error, size, "the backup cannot be restored: %s", content ? why : parse.text)
                  : s_apply (req, db, base, content, error, size);
    json_decref (content);
    if (rc == RUN_OK && wa_db_exec (db, SQL_STAGED_GONE, "s", req->sha256) < 0)
        return s_db_failed (db, error, size, "cannot remove the staged backup");
    return rc;
}

int
account_state_run (account_state_req_t *req, wa_db_t *db, const wa_config_t *base, char *error, size_t size)
{
    switch (req->op) {
        case STATE_GET: {
            json_t *value = NULL;
            int rc = s_read (db, req->name, false, &value, error, size);
            if (rc == RUN_OK) {
                json_t *body = wa_state_body (req->name, value);
                req->answer = body ? json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                json_decref (body);
            }
            json_decref (value);
            return rc;
        }
        case STATE_SET: return s_run_set (req, db, error, size);
        case STATE_DELETE: return s_run_delete (req, db, error, size);
        case STATE_PHOTO: return s_run_photo (req, db, error, size);
        case STATE_RESTORE: return s_run_restore (req, db, base, error, size);
    }
    return s_refuse (error, size, "unknown op");
}
