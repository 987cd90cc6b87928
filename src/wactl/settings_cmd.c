/*  wactl settings — the cluster settings as the database holds them, and
    `wactl settings set KEY VALUE`: checked against every other stored
    setting, stored in one statement, then broadcast by the primary Master.

    Values read from the database are input like any other: each is checked
    with the same table as the config file before it is shown as valid or
    used to judge a change. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <mysqld_error.h>
#include "wa_codec.h"
#include "wa_trust.h"
#include "wa_settings.h"
#include "wactl.h"

//  How long the primary Master has to answer a SETTINGS_CHANGED.
#define NOTIFY_TIMEOUT_MSEC 2000
//  How long a `settings set` waits for another one to finish.
#define LOCK_TIMEOUT_SEC 5

static const char *SQL_SETTINGS =
    "SELECT name, value, " WACTL_ISO ("updated_at") ", updated_by FROM settings ORDER BY name";

//  Two `settings set` at once could each pass the cross-key checks against
//  the other's old value and store a combination no node accepts: the
//  check and the store run in one transaction that starts by taking the
//  settings lock (a row of named_locks, schema 16: a wactl that dies
//  drops it with its transaction), in wa_settings_write.
#define SCHEMA_NAMED_LOCKS 16
//  The settings table came with version 3.
#define SCHEMA_SETTINGS 3


static int
s_setting_row (const wa_db_row_t *row, void *arg)
{
    //  NULL only for text that is not UTF-8, which a utf8mb4 column cannot hold.
    json_t *entry = json_pack ("{s:s,s:s,s:s}", "value", wa_db_row_str (row, 1),
                               "updated_at", wa_db_row_str (row, 2),
                               "updated_by", wa_db_row_str (row, 3));
    if (entry)
        json_object_set_new (arg, wa_db_row_str (row, 0), entry);
    return 0;
}

json_t *
wactl_settings_read (wactl_t *self, bool *missing)
{
    json_t *stored = json_object ();
    *missing = false;
    if (wa_db_query (self->db, SQL_SETTINGS, s_setting_row, stored, "") >= 0)
        return stored;
    //  A schema older than the settings table has none stored.
    if (wa_db_errno (self->db) == ER_NO_SUCH_TABLE) {
        *missing = true;
        return stored;
    }
    json_decref (stored);
    return NULL;
}

const char *
wactl_settings_value (json_t *stored, const char *name)
{
    return json_string_value (json_object_get (json_object_get (stored, name), "value"));
}

void
wactl_settings_apply (wa_config_t *config, json_t *stored, const char *skip, bool warn)
{
    const char *name;
    for (int i = 0; (name = wa_config_setting_name (i)); i++) {
        const char *value = wactl_settings_value (stored, name);
        if (!value || (skip && strcmp (name, skip) == 0))
            continue;
        char err[512];
        if (wa_config_set (config, name, value, err, sizeof err) && warn)
            fprintf (stderr, "wactl: note: the stored %s is invalid, so this check uses the "
                     "config's value instead: %s\n", name, err);
    }
}

//  The reason without the "key 'name': " that the table's row already says.
static const char *
s_reason (const char *name, const char *err)
{
    char prefix[96];
    snprintf (prefix, sizeof prefix, "key '%s': ", name);
    size_t len = strlen (prefix);
    return strncmp (err, prefix, len) == 0 ? err + len : err;
}

static void
s_print_human (json_t *doc, bool missing, int version)
{
    wactl_table_t *table = wactl_table_new (4, "NAME", "VALUE", "UPDATED AT", "BY");
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get (doc, "settings"), i, item) {
        const char *name = json_string_value (json_object_get (item, "name"));
        const char *value = json_string_value (json_object_get (item, "value"));
        const char *invalid = json_string_value (json_object_get (item, "invalid"));
        const char *at = json_string_value (json_object_get (item, "updated_at"));
        const char *by = json_string_value (json_object_get (item, "updated_by"));
        char when[32];
        wactl_table_cell (table, "%s", name);
        if (!json_is_true (json_object_get (item, "stored")))
            wactl_table_cell (table, "%s (not stored: config value)", value);
        else
        if (invalid)
            wactl_table_cell (table, "%s (invalid: %s)", value, s_reason (name, invalid));
        else
            wactl_table_cell (table, "%s", value);
        wactl_table_cell (table, "%s", wactl_human_time (at, when, sizeof when));
        wactl_table_cell (table, "%s", by && *by ? by : "-");
    }
    wactl_table_print (table, stdout);
    wactl_table_destroy (&table);
    if (missing)
        printf ("(schema version %d has no settings table yet: every value is this wactl's "
                "configuration until the primary Master upgrades it)\n", version);
    const char *combination = json_string_value (json_object_get (doc, "invalid_combination"));
    if (combination)
        printf ("invalid combination: %s\n", combination);
}

static int
s_list (wactl_t *self)
{
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    bool missing;
    json_t *stored = wactl_settings_read (self, &missing);
    if (!stored)
        return wactl_fail (self, "database error: %s", wa_db_error (self->db));
    json_t *list = json_array ();
    //  What a node with this configuration runs: its values overlaid with
    //  every valid stored one.
    wa_config_t effective = *self->config;
    const char *name;
    for (int i = 0; (name = wa_config_setting_name (i)); i++) {
        json_t *row = json_object_get (stored, name);
        json_t *item;
        if (row) {
            const char *value = wactl_settings_value (stored, name);
            char err[512], shown[WA_CONFIG_STR];
            wa_config_t probe = *self->config;
            bool valid = wa_config_set (&probe, name, value, err, sizeof err) == 0;
            if (valid)
                wa_config_set (&effective, name, value, err, sizeof err);
            //  A secret is never printed (a stored one that is refused: not at all).
            if (valid)
                wa_config_display (&probe, name, shown, sizeof shown);
            else
                snprintf (shown, sizeof shown, "%s", wa_config_is_secret (name) ? "(hidden)" : value);
            item = json_pack ("{s:s,s:s,s:b,s:O,s:O,s:o}", "name", name, "value", shown,
                              "stored", 1, "updated_at", json_object_get (row, "updated_at"),
                              "updated_by", json_object_get (row, "updated_by"),
                              "invalid", valid ? json_null () : json_string (err));
        }
        else {
            char value[WA_CONFIG_STR];
            wa_config_display (self->config, name, value, sizeof value);
            item = json_pack ("{s:s,s:s,s:b,s:n,s:n,s:n}", "name", name, "value", value,
                              "stored", 0, "updated_at", "updated_by", "invalid");
        }
        json_array_append_new (list, item);
    }
    json_decref (stored);
    char why[768];
    json_t *doc = json_pack ("{s:o,s:o}", "settings", list, "invalid_combination",
                             wa_config_check (&effective, why, sizeof why) ? json_string (why) : json_null ());
    if (self->json)
        wactl_print_json (doc, false);
    else
        s_print_human (doc, missing, version);
    json_decref (doc);
    return 0;
}

//  Asks the primary Master to re-read the settings and broadcast them.
//  0 when it answered SETTINGS (its id in *master), else -1 and why.
static int
s_notify (wactl_t *self, int version, const char *key, long long *master, char *why, size_t whylen)
{
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (msg);
    wa_msg_init (msg, WA_MSG_SETTINGS_CHANGED);
    wa_msg_set_text (msg, key);
    int rc = wactl_ask_master (self, version, msg, NOTIFY_TIMEOUT_MSEC, master, why, whylen);
    if (rc == 0 && msg->type != WA_MSG_SETTINGS) {
        snprintf (why, whylen, "primary Master %lld answered %s: %.200s", *master,
                  wa_codec_type_name (msg->type), msg->text);
        rc = -1;
    }
    free (msg);
    return rc;
}

//  A stored value the checks refuse: the check uses the config's value.
static void
s_stored_invalid (void *arg, const char *name, const char *err)
{
    const char *key = arg;
    if (wa_config_is_setting (name) && strcmp (name, key) != 0)
        fprintf (stderr, "wactl: note: the stored %s is invalid, so this check uses the "
                 "config's value instead: %s\n", name, err);
}

//  Through the settings store (wa_settings_write): under the settings lock,
//  this wactl's configuration with every stored setting over it, then key =
//  text, checked, stored as its canonical text, fenced by the master lease.
static int
s_set (wactl_t *self, const char *key, const char *value)
{
    const char *text = value;
    if (!wa_config_is_setting (key))
        return wactl_fail (self, "'%s' is not a cluster setting; see wactl settings", key);
    if (wactl_connect (self))
        return 1;
    int version = wactl_require_schema (self);
    if (version < 0)
        return 1;
    wa_settings_write_t *write = (wa_settings_write_t *) zmalloc (sizeof (wa_settings_write_t));
    write->base = *self->config;
    write->changes = *self->config;
    char err[768], shown_text[WA_CONFIG_STR];
    //  A secret's value stays out of what is printed.
    if (wa_config_is_secret (key)) {
        wa_config_t probe = *self->config;
        if (wa_config_set (&probe, key, text, err, sizeof err) == 0)
            wa_config_display (&probe, key, shown_text, sizeof shown_text);
        else
            snprintf (shown_text, sizeof shown_text, "(hidden)");
        text = shown_text;
    }
    if (wa_config_set (&write->changes, key, value, err, sizeof err)) {
        free (write);
        return wactl_fail (self, "%s = %s refused, nothing changed: %s", key, text, err);
    }
    write->changed = wa_settings_bit (key);
    write->lock_wait = LOCK_TIMEOUT_SEC;
    write->note = s_stored_invalid;
    write->note_arg = (void *) key;
    wactl_who (write->by, sizeof write->by);
    write->result = write->base;
    int rc = version < SCHEMA_NAMED_LOCKS ? WA_SETTINGS_NO_TABLE : wa_settings_write (self->db, write);
    char canonical[WA_CONFIG_STR];
    wa_config_display (&write->result, key, canonical, sizeof canonical);
    double liveness = write->result.db_liveness_interval;
    int status = 0;
    if (rc == WA_SETTINGS_LOCKED)
        status = wactl_fail (self, "another 'wactl settings set' held the settings for %d s; nothing "
                             "changed, try again", LOCK_TIMEOUT_SEC);
    else
    if (rc == WA_SETTINGS_NO_TABLE)
        status = wactl_fail (self, "the cluster's database '%s' has schema version %d: no settings "
                             "%s until the primary Master upgrades it", self->config->db_name, version,
                             version < SCHEMA_SETTINGS ? "table" : "lock (named_locks, version 16)");
    else
    if (rc == WA_SETTINGS_REFUSED)
        status = wactl_fail (self, "%s = %s refused, nothing changed: %s", key, text, write->error);
    else
    if (rc != WA_SETTINGS_OK)
        status = wactl_fail (self, "database error: %s", write->error);
    free (write);
    if (status)
        return status;
    long long master = 0;
    char why[512];
    if (s_notify (self, version, key, &master, why, sizeof why) == 0)
        printf ("%s = %s (stored); broadcast to the cluster by primary Master %lld\n", key, canonical, master);
    else {
        printf ("%s = %s (stored); no primary Master answered: nodes apply it from the database "
                "within db_liveness_interval (%g s)\n", key, canonical, liveness);
        fprintf (stderr, "wactl: note: %s\n", why);
    }
    return 0;
}

int
wactl_settings (wactl_t *self, int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    wactl_options_start ();
    //  '+': options end at "set", so a VALUE such as -1 is a value.
    while ((opt = wactl_option (self, argc, argv, "+:jh", options)) != -1) {
        switch (opt) {
            case 'j': self->json = true; break;
            case 'h': printf ("usage: wactl settings [--json]\n"
                              "       wactl settings set KEY VALUE   (VALUE '-': read it from stdin)\n"); return 0;
            default: return 2;
        }
    }
    if (optind < argc && strcmp (argv[optind], "set") == 0) {
        self->command = "settings set";
        if (self->json)
            return wactl_usage_error (self, "--json is for the listing; try 'wactl --help'");
        int first = optind + 1;
        if (first < argc && strcmp (argv[first], "--") == 0)
            first++;
        if (argc - first != 2)
            return wactl_usage_error (self, "expected KEY VALUE; try 'wactl --help'");
        //  "-": the first line of stdin, so that a secret stays out of ps.
        if (strcmp (argv[first + 1], "-") == 0) {
            char line[WA_CONFIG_STR + 2];
            if (!fgets (line, sizeof line, stdin))
                return wactl_usage_error (self, "VALUE '-' reads the value from stdin, which is empty");
            line[strcspn (line, "\r\n")] = 0;
            int status = s_set (self, argv[first], line);
            memset (line, 0, sizeof line);
            return status;
        }
        return s_set (self, argv[first], argv[first + 1]);
    }
    if (optind < argc)
        return wactl_usage_error (self, "unknown command '%s' (there is 'set'); try 'wactl --help'",
                                  argv[optind]);
    return s_list (self);
}
