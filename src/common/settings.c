/*  wa_settings — see include/wa_settings.h */
#include <jansson.h>
#include <mysqld_error.h>
#include "wa_log.h"
#include "wa_settings.h"

static const char *SQL_LOAD = "SELECT name, value FROM settings ORDER BY name";
static const char *SQL_SEED =
    "INSERT IGNORE INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, NOW(6), 'seed')";

static int
s_setting_row (const wa_db_row_t *row, void *arg)
{
    wa_config_t *candidate = arg;
    const char *name = wa_db_row_str (row, 0);
    const char *value = wa_db_row_str (row, 1);
    char err[512];
    if (!wa_config_is_setting (name))
        wa_warn ("settings: the database holds an unknown setting '%s': ignored", name);
    else
    if (wa_config_set (candidate, name, value, err, sizeof err))
        wa_warn ("settings: stored value refused, keeping the current one: %s", err);
    return 0;
}

void
wa_settings_load_run (wa_job_t *job, wa_db_t *db)
{
    wa_settings_job_t *self = (wa_settings_job_t *) job;
    wa_config_t candidate = self->current;
    self->result = self->current;
    self->changed = false;
    if (wa_db_query (db, SQL_LOAD, s_setting_row, &candidate, "") < 0) {
        //  A database from before the settings existed has no table: no change.
        job->rc = wa_db_errno (db) == ER_NO_SUCH_TABLE ? 0 : -1;
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
        char value[64];
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
        char value[64];
        wa_config_get (config, wa_config_setting_name (i), value, sizeof value);
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
    json_decref (object);
    if (rc == 0 && wa_config_check (&candidate, err, errlen))
        rc = -1;
    if (rc == 0)
        *out = candidate;
    return rc;
}

bool
wa_settings_differ (const wa_config_t *a, const wa_config_t *b)
{
    for (int i = 0; wa_config_setting_name (i); i++) {
        char va[64], vb[64];
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
        char old_value[64], new_value[64];
        wa_config_get (before, name, old_value, sizeof old_value);
        wa_config_get (after, name, new_value, sizeof new_value);
        if (strcmp (old_value, new_value) == 0)
            continue;
        count++;
        wa_info ("setting %s: %s -> %s (%s)", name, old_value, new_value, source);
        int n = snprintf (buf + used, len - used, "%s%s=%s", used ? " " : "", name, new_value);
        if (n > 0 && (size_t) n < len - used)
            used += (size_t) n;
    }
    return count;
}

void
wa_settings_load (wa_settings_job_t *job, wa_actor_t *db, const wa_config_t *current)
{
    if (job->job.busy)
        return;
    job->current = *current;
    job->job.run = wa_settings_load_run;
    wa_dbworker_submit (db, &job->job);
}
