/*  wa_settings — the cluster settings (see wa_config_is_setting) as they
    travel: rows of the `settings` table, and the JSON object a Master
    broadcasts. Whatever the source, each value goes through wa_config_set
    and the whole through wa_config_check, so a bad row or frame is refused
    (and logged) and changes nothing. */
#ifndef WA_SETTINGS_H
#define WA_SETTINGS_H

#include "wa_config.h"
#include "wa_dbworker.h"

typedef struct {
    wa_job_t job;
    wa_config_t current;        //  in: the settings the node runs with
    wa_config_t result;         //  out: current overlaid with the stored rows
    bool changed;
} wa_settings_job_t;

//  Reads the settings table into result (rc 0; -1 on a database error).
//  Its kind is WA_JOB_SETTINGS.
wa_settings_job_t *wa_settings_job_new (void);
void wa_settings_load_run (wa_job_t *job, wa_db_t *db);
//  Submit that job from *job_p with (a copy of) current as the base, unless
//  the worker has it already.
void wa_settings_load (wa_settings_job_t **job_p, wa_dbworker_t *db, const wa_config_t *current);

typedef struct {
    wa_job_t job;
    wa_config_t seed;           //  in: values for the rows that do not exist
} wa_settings_seed_job_t;

//  Inserts every setting that has no row yet (the first primary Master).
void wa_settings_seed_run (wa_job_t *job, wa_db_t *db);

//  The settings store: the one way a setting is written, by `wactl settings
//  set` and by the Master's API alike. One transaction: the settings lock
//  (the row WA_SETTINGS_LOCK of named_locks, its first statement:
//  wa_named_lock.h), the stored rows over base, the change (some settings,
//  or every one back to its default), the checks of each value and of the
//  combination, then every changed row, fenced by the master lease (a
//  share lock on its row, so no takeover happens while the change is
//  stored): held by master at epoch, or, with master 0, by whoever holds it
//  (or nobody: the nodes then read the change from the table within
//  db_liveness_interval). Another change at the same time (the lock taken
//  on this server; on Galera, a COMMIT that failed certification): the
//  whole transaction again after WA_NAMED_LOCK_RETRY, for lock_wait.
#define WA_SETTINGS_LOCK "settings"
enum {
    WA_SETTINGS_OK = 0,
    WA_SETTINGS_DATABASE = -1,          //  error says what failed
    WA_SETTINGS_LOCKED = 1,             //  another change held the settings for lock_wait
    WA_SETTINGS_REFUSED = 2,            //  a value or the combination (combination true): error says why
    WA_SETTINGS_NOT_PRIMARY = 3,        //  master no longer holds the lease
    WA_SETTINGS_NO_TABLE = 4            //  a schema from before the settings
};

typedef struct {
    //  in
    wa_config_t base;                   //  the writer's own configuration
    bool reset;                         //  every setting back to its built-in default
    uint64_t changed;                   //  bit i: setting i (wa_config_setting_name) is set ...
    wa_config_t changes;                //  ... to its value here
    int lock_wait;                      //  seconds to try again for (0: once, never waits)
    uint64_t master;                    //  the fence (0: whoever holds the lease now)
    uint64_t epoch;
    wa_usec_t deadline;                 //  monotonic; no write from then on (0: none)
    char by[65];                        //  settings.updated_by
    //  A stored value refused while reading (the writer's value stays); may be NULL.
    void (*note) (void *arg, const char *name, const char *err);
    void *note_arg;
    //  out
    wa_config_t result;                 //  what is stored now (or would have been)
    bool combination;                   //  REFUSED: the combination, not one value
    uint64_t holder;                    //  master 0: the lease holder the write was fenced by (0: none)
    char error[768];
} wa_settings_write_t;

//  Store the change (see above). A WA_SETTINGS_ code.
int wa_settings_write (wa_db_t *db, wa_settings_write_t *write);
//  Read the stored settings over config (no lock): rows the checks refuse,
//  and names that are no setting, are left out (note is told, when not NULL). WA_SETTINGS_OK, _NO_TABLE or
//  _DATABASE.
int wa_settings_read (wa_db_t *db, wa_config_t *config, void (*note) (void *arg, const char *name, const char *err),
                      void *note_arg);
//  The bit of a setting in wa_settings_write_t.changed; 0 for none.
uint64_t wa_settings_bit (const char *name);

//  The settings of config as a JSON object {"name": "value", ...}, as a
//  Master broadcasts them: a secret (wa_config_display would hide it: the
//  webhooks_secret, a webhooks_url with credentials) is left out. 0 / -1.
int wa_settings_to_json (const wa_config_t *config, char *buf, size_t len);
//  Overlay the JSON object on current into out; 0, or -1 with err set, or
//  1 when it named only some settings (a broadcast withheld secrets: read
//  the table for them).
int wa_settings_from_json (const char *json, const wa_config_t *current, wa_config_t *out,
                           char *err, size_t errlen);
//  Log each setting that differs between before and after ("setting x:
//  a -> b (source)") and write "x=b y=c" into buf. Returns how many differ.
int wa_settings_changes (const wa_config_t *before, const wa_config_t *after, const char *source,
                         char *buf, size_t len);
//  True when a and b differ in any setting.
bool wa_settings_differ (const wa_config_t *a, const wa_config_t *b);

#endif
