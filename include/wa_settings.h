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
void wa_settings_load_run (wa_job_t *job, wa_db_t *db);
//  Submit that job with current as the base, unless it is already running.
void wa_settings_load (wa_settings_job_t *job, wa_actor_t *db, const wa_config_t *current);

typedef struct {
    wa_job_t job;
    wa_config_t seed;           //  in: values for the rows that do not exist
} wa_settings_seed_job_t;

//  Inserts every setting that has no row yet (the first primary Master).
void wa_settings_seed_run (wa_job_t *job, wa_db_t *db);

//  The settings of config as a JSON object {"name": "value", ...}. 0 / -1.
int wa_settings_to_json (const wa_config_t *config, char *buf, size_t len);
//  Overlay the JSON object on current into out; 0, or -1 with err set.
int wa_settings_from_json (const char *json, const wa_config_t *current, wa_config_t *out,
                           char *err, size_t errlen);
//  Log each setting that differs between before and after ("setting x:
//  a -> b (source)") and write "x=b y=c" into buf. Returns how many differ.
int wa_settings_changes (const wa_config_t *before, const wa_config_t *after, const char *source,
                         char *buf, size_t len);
//  True when a and b differ in any setting.
bool wa_settings_differ (const wa_config_t *a, const wa_config_t *b);

#endif
