/*  wa_settings — see include/wa_settings.h */
#include <jansson.h>
#include <mysqld_error.h>
#include <inttypes.h>
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_named_lock.h"
#include "wa_settings.h"

static const char *SQL_LOAD = "SELECT name, value FROM settings ORDER BY name";
static const char *SQL_SEED =
    "INSERT IGNORE INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, NOW(6), 'seed')";

//  A stored row the node cannot take (wa_settings_read's note): said, ignored.
static void
s_refused_row (void *arg, const char *name, const char *err)
{
    (void) arg;
    if (!wa_config_is_setting (name))
        wa_warn ("settings: the database holds an unknown setting '%s': ignored", name);
    else
        wa_warn ("settings: stored value refused, keeping the current one: %s", err);
}

void
wa_settings_load_run (wa_job_t *job, wa_db_t *db)
{
    wa_settings_job_t *self = (wa_settings_job_t *) job;
    wa_config_t candidate = self->current;
    self->result = self->current;
    self->changed = false;
    int rc = wa_settings_read (db, &candidate, s_refused_row, NULL);
    if (rc != WA_SETTINGS_OK) {
        //  A database from before the settings existed has no table: no change.
        job->rc = rc == WA_SETTINGS_NO_TABLE ? 0 : -1;
        return;
    }
    char err[512];
    if (wa_config_check (&candidate, err, sizeof err)) {
        wa_warn ("settings: the stored combination is refused, keeping the current settings: %s", err);
        job->rc = 0;
        return;
    }
    self->result = candidate;
    self->changed = wa_settings_differ (&self->current, &candidate);
    job->rc = 0;
}

void
wa_settings_seed_run (wa_job_t *job, wa_db_t *db)
{
    wa_settings_seed_job_t *self = (wa_settings_seed_job_t *) job;
    job->rc = 0;
    for (int i = 0; wa_config_setting_name (i); i++) {
        char value[WA_CONFIG_STR];
        wa_config_get (&self->seed, wa_config_setting_name (i), value, sizeof value);
        if (wa_db_exec (db, SQL_SEED, "ss", wa_config_setting_name (i), value) < 0) {
            job->rc = -1;
            return;
        }
    }
}

int
wa_settings_to_json (const wa_config_t *config, char *buf, size_t len)
{
    json_t *object = json_object ();
    for (int i = 0; wa_config_setting_name (i); i++) {
        char value[WA_CONFIG_STR], shown[WA_CONFIG_STR];
        wa_config_get (config, wa_config_setting_name (i), value, sizeof value);
        wa_config_display (config, wa_config_setting_name (i), shown, sizeof shown);
        //  A secret stays off the bus: the nodes read it from the table.
        if (strcmp (value, shown) == 0)
            json_object_set_new (object, wa_config_setting_name (i), json_string (value));
    }
    char *text = json_dumps (object, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (object);
    int rc = text && strlen (text) < len ? 0 : -1;
    if (rc == 0)
        strcpy (buf, text);
    free (text);
    return rc;
}

int
wa_settings_from_json (const char *json, const wa_config_t *current, wa_config_t *out,
                       char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *object = json_loads (json, JSON_REJECT_DUPLICATES, &jerr);
    if (!object || !json_is_object (object)) {
        snprintf (err, errlen, "settings broadcast is not a JSON object: %s", object ? "wrong type" : jerr.text);
        json_decref (object);
        return -1;
    }
    wa_config_t candidate = *current;
    const char *name;
    json_t *value;
    int rc = 0;
    json_object_foreach (object, name, value) {
        if (!wa_config_is_setting (name)) {
            snprintf (err, errlen, "settings broadcast names an unknown setting '%.64s'", name);
            rc = -1;
            break;
        }
        if (!json_is_string (value)) {
            snprintf (err, errlen, "settings broadcast: '%s' is not a string", name);
            rc = -1;
            break;
        }
        if (wa_config_set (&candidate, name, json_string_value (value), err, errlen)) {
            rc = -1;
            break;
        }
    }
    int named = (int) json_object_size (object);
    json_decref (object);
    if (rc == 0 && wa_config_check (&candidate, err, errlen))
        rc = -1;
    if (rc == 0)
        *out = candidate;
    //  Every name was checked and is a setting, so fewer means some withheld.
    if (rc == 0 && wa_config_setting_name (named))
        rc = 1;
    return rc;
}

bool
wa_settings_differ (const wa_config_t *a, const wa_config_t *b)
{
    for (int i = 0; wa_config_setting_name (i); i++) {
        char va[WA_CONFIG_STR], vb[WA_CONFIG_STR];
        wa_config_get (a, wa_config_setting_name (i), va, sizeof va);
        wa_config_get (b, wa_config_setting_name (i), vb, sizeof vb);
        if (strcmp (va, vb))
            return true;
    }
    return false;
}

int
wa_settings_changes (const wa_config_t *before, const wa_config_t *after, const char *source,
                     char *buf, size_t len)
{
    int count = 0;
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; wa_config_setting_name (i); i++) {
        const char *name = wa_config_setting_name (i);
        char old_value[WA_CONFIG_STR], new_value[WA_CONFIG_STR];
        wa_config_get (before, name, old_value, sizeof old_value);
        wa_config_get (after, name, new_value, sizeof new_value);
        if (strcmp (old_value, new_value) == 0)
            continue;
        count++;
        //  Logged and published as they may be shown (no secret).
        wa_config_display (before, name, old_value, sizeof old_value);
        wa_config_display (after, name, new_value, sizeof new_value);
        wa_info ("setting %s: %s -> %s (%s)", name, old_value, new_value, source);
        int n = snprintf (buf + used, len - used, "%s%s=%s", used ? " " : "", name, new_value);
        if (n > 0 && (size_t) n < len - used)
            used += (size_t) n;
    }
    return count;
}

wa_settings_job_t *
wa_settings_job_new (void)
{
    return WA_JOB_NEW (wa_settings_job_t, WA_JOB_SETTINGS, wa_settings_load_run, NULL);
}

void
wa_settings_load (wa_settings_job_t **job_p, wa_dbworker_t *db, const wa_config_t *current)
{
    if (!*job_p)
        return;
    (*job_p)->current = *current;
    WA_JOB_SUBMIT (db, *job_p);
}

//  --------------------------------------------------------------------------
//  The settings store

static const char *SQL_STORE =
    "INSERT INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(6), updated_by = VALUES(updated_by)";
//  A shared lock on the lease row until COMMIT: no Master takes the lease
//  over while the change is being stored, on one server (a Master's own
//  change is fenced by wa_lease_fence_master, which holds on Galera too;
//  this read serves wactl, which tells the holder, and a holder that
//  changes meanwhile reads the table at its next start of the lease).
static const char *SQL_HOLDER =
    "SELECT IF(expires_at > NOW(6), holder, 0) FROM master_lease WHERE id = 1 LOCK IN SHARE MODE";

typedef struct {
    wa_config_t *config;
    void (*note) (void *arg, const char *name, const char *err);
    void *note_arg;
} read_t;

static int
s_read_row (const wa_db_row_t *row, void *arg)
{
    read_t *read = arg;
    const char *name = wa_db_row_str (row, 0);
    char err[512] = "not a cluster setting";
    bool known = wa_config_is_setting (name);
    if ((!known || wa_config_set (read->config, name, wa_db_row_str (row, 1), err, sizeof err)) && read->note)
        read->note (read->note_arg, name, err);
    return 0;
}

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

uint64_t
wa_settings_bit (const char *name)
{
    const char *setting;
    for (int i = 0; i < 64 && (setting = wa_config_setting_name (i)); i++)
        if (streq (setting, name))
            return (uint64_t) 1 << i;
    return 0;
}

int
wa_settings_read (wa_db_t *db, wa_config_t *config, void (*note) (void *arg, const char *name, const char *err),
                  void *note_arg)
{
    read_t read = { config, note, note_arg };
    if (wa_db_query (db, SQL_LOAD, s_read_row, &read, "") >= 0)
        return WA_SETTINGS_OK;
    return wa_db_errno (db) == ER_NO_SUCH_TABLE ? WA_SETTINGS_NO_TABLE : WA_SETTINGS_DATABASE;
}

static int
s_failed (wa_settings_write_t *self, wa_db_t *db, const char *what, bool rollback)
{
    snprintf (self->error, sizeof self->error, "%s: %s", what, wa_db_error (db));
    if (rollback)
        wa_db_transaction (db, "ROLLBACK");
    return WA_SETTINGS_DATABASE;
}

//  The change over the stored settings, and the checks.
static int
s_change (wa_settings_write_t *self)
{
    if (self->reset) {
        wa_config_t defaults;
        wa_config_defaults (&defaults);
        wa_config_copy_settings (&self->result, &defaults);
        self->changed = 0;
        for (int i = 0; wa_config_setting_name (i) && i < 64; i++)
            self->changed |= (uint64_t) 1 << i;
    }
    char value[WA_CONFIG_STR];
    for (int i = 0; wa_config_setting_name (i) && i < 64; i++) {
        if (self->reset || !(self->changed & ((uint64_t) 1 << i)))
            continue;
        wa_config_get (&self->changes, wa_config_setting_name (i), value, sizeof value);
        if (wa_config_set (&self->result, wa_config_setting_name (i), value, self->error, sizeof self->error))
            return WA_SETTINGS_REFUSED;
    }
    if (wa_config_check (&self->result, self->error, sizeof self->error)) {
        self->combination = true;
        return WA_SETTINGS_REFUSED;
    }
    return WA_SETTINGS_OK;
}

//  A statement of the transaction failed: rolled back. Lost to another
//  change that ran at the same time (wa_named_lock_lost): LOCKED, so that
//  the caller tries again; else what failed.
static int
s_failed_in (wa_settings_write_t *self, wa_db_t *db, const char *what)
{
    if (!wa_named_lock_lost (db))
        return s_failed (self, db, what, true);
    snprintf (self->error, sizeof self->error, "another change of the settings ran at the same time: %s",
              wa_db_error (db));
    wa_db_transaction (db, "ROLLBACK");
    return WA_SETTINGS_LOCKED;
}

//  One attempt, one transaction: the settings lock (its row, the first
//  statement), the stored rows over base, the change and the checks, the
//  fence of the master lease, the changed rows, COMMIT. Whatever ran before
//  our lock's row was taken is in what we read: a change made at the same
//  time is either kept out by the row's lock (one server) or fails, ours or
//  the other, at COMMIT (Galera).
static int
s_attempt (wa_settings_write_t *self, wa_db_t *db)
{
    self->error[0] = 0;
    self->combination = false;
    self->holder = 0;
    self->result = self->base;
    if (self->deadline && wa_clock_mono () >= self->deadline) {
        snprintf (self->error, sizeof self->error, "master %" PRIu64 "'s lease deadline passed; nothing was changed",
                  self->master);
        return WA_SETTINGS_NOT_PRIMARY;
    }
    if (wa_db_transaction (db, "START TRANSACTION"))
        return s_failed (self, db, "cannot start a transaction", false);
    int rc = wa_named_lock_take (db, WA_SETTINGS_LOCK);
    if (rc == WA_NAMED_LOCK_BUSY) {
        snprintf (self->error, sizeof self->error, "the settings lock is taken");
        wa_db_transaction (db, "ROLLBACK");
        return WA_SETTINGS_LOCKED;
    }
    if (rc != WA_NAMED_LOCK_TAKEN)
        return s_failed (self, db, "cannot take the settings lock", true);
    rc = wa_settings_read (db, &self->result, self->note, self->note_arg);
    if (rc == WA_SETTINGS_DATABASE)
        return s_failed_in (self, db, "cannot read the settings");
    if (rc == WA_SETTINGS_OK)
        rc = s_change (self);
    if (rc != WA_SETTINGS_OK) {
        wa_db_transaction (db, "ROLLBACK");
        return rc;
    }
    int64_t fence = 0;
    if (self->master) {
        if ((fence = wa_lease_fence_master (db, self->master, self->epoch)) < 0)
            return s_failed_in (self, db, "cannot read the master lease");
        if (fence != 1) {
            wa_db_transaction (db, "ROLLBACK");
            snprintf (self->error, sizeof self->error, "master %" PRIu64 " no longer holds the master lease "
                      "(epoch %" PRIu64 "); nothing was changed", self->master, self->epoch);
            return WA_SETTINGS_NOT_PRIMARY;
        }
    }
    else {
        if (wa_db_query (db, SQL_HOLDER, s_int_row, &fence, "") < 0)
            return s_failed_in (self, db, "cannot read the master lease");
        self->holder = (uint64_t) fence;
    }
    char value[WA_CONFIG_STR];
    for (int i = 0; wa_config_setting_name (i) && i < 64; i++) {
        if (!(self->changed & ((uint64_t) 1 << i)))
            continue;
        wa_config_get (&self->result, wa_config_setting_name (i), value, sizeof value);
        if (wa_db_exec (db, SQL_STORE, "sss", wa_config_setting_name (i), value, self->by) < 0)
            return s_failed_in (self, db, "cannot store the settings");
    }
    //  On Galera, the COMMIT of a change made at the same time on another
    //  database node as ours fails certification (1213): nothing stored.
    if (wa_db_transaction (db, "COMMIT"))
        return wa_named_lock_lost (db) ? s_failed_in (self, db, "cannot commit the settings")
                                       : s_failed (self, db, "cannot commit the settings", false);
    return WA_SETTINGS_OK;
}

int
wa_settings_write (wa_db_t *db, wa_settings_write_t *self)
{
    wa_usec_t until = wa_clock_mono () + wa_clock_from_sec (self->lock_wait > 0 ? self->lock_wait : 0);
    while (true) {
        int rc = s_attempt (self, db);
        if (rc != WA_SETTINGS_LOCKED || wa_clock_mono () + WA_NAMED_LOCK_RETRY > until)
            return rc;
        zclock_sleep (WA_NAMED_LOCK_RETRY / 1000);
    }
}
