/*  appsettings — the cluster settings as /v1/settings/application shows
    and takes them: the body GET answers ({"settings":{"application":
    {...}}}, the original's nested names for some), and the changes of a
    PATCH checked one by one into a configuration, as the primary Master
    does before it stores them (the combination is checked by the store:
    wa_settings.h). Pure: no database, no socket. */
#ifndef WAMASTER_APPSETTINGS_H
#define WAMASTER_APPSETTINGS_H

#include <stdint.h>
#include <jansson.h>
#include "wa_config.h"

//  Bit i of a mask is the i-th setting (wa_config_setting_name).
#define APPSETTINGS_MAX 64

//  The settings as settings_get answers them (a new object):
//  {"settings":{"application":{name: value, ..., "webhooks":{"url": ...}}}}.
json_t *appsettings_body (const wa_config_t *settings);
//  The value of a PATCH key as the text wa_config_set reads (in buf or
//  value's own), or NULL when its JSON type does not fit the setting.
const char *appsettings_value_text (const char *name, json_t *value, char *buf, size_t size);
//  A PATCH's changes (the body's object, NULL when there is none) over
//  current (the Master's settings): 0 with *out current overlaid with each
//  value sent and *changed their bits; else WA_ERR_MISSING or
//  WA_ERR_INVALID (*status 400) or WA_ERR_INTERNAL (*status 500) with why
//  naming the key as the client wrote it. A secret sent back as GET shows
//  it is left as it is (not in *changed).
int appsettings_check (const wa_config_t *current, json_t *changes, wa_config_t *out, uint64_t *changed,
                       int *status, char *why, size_t size);

#endif
