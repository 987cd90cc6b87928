/*  wa_providers — the media providers as the original's
    /v1/settings/application/media/providers takes and shows them:
    [{"name": "cdn", "type": "www", "config": {"basic": {"username", "password"}}}]
    or {"bearer": "<token>"} as the config. Rows of media_providers
    (conf/migrations/0011), written only by the primary Master; the Webapps
    read them when a media link names a provider.

    Pure (no database, no socket): the checks of a POST, what GET shows
    (never a credential: a password or bearer token reads "(set)"), and a
    POST that sends "(set)" back keeping the stored one, so that a client
    may POST what it read. */
#ifndef WA_PROVIDERS_H
#define WA_PROVIDERS_H

#include <stddef.h>
#include <jansson.h>

#define WA_PROVIDERS_NAME_MAX 100       //  media_providers.name
#define WA_PROVIDERS_PER_REQUEST 16
#define WA_PROVIDERS_MAX 256            //  rows stored at most (a POST past it is refused)
#define WA_PROVIDERS_FIELD_MAX 255      //  a user name, a password
#define WA_PROVIDERS_TOKEN_MAX 2048     //  a bearer token
#define WA_PROVIDERS_CONFIG_MAX 8000    //  media_providers.config, as JSON text
#define WA_PROVIDERS_SHOWN "(set)"      //  a credential, as GET shows it

//  Check a POST's body — an array of 1 to WA_PROVIDERS_PER_REQUEST providers,
//  or one provider object — into *out: a new array of {"name", "type",
//  "config"}, config with only its credentials. 0, or WA_ERR_MISSING /
//  WA_ERR_INVALID with why naming the field ("[1].config.basic.password").
int wa_providers_check (json_t *input, json_t **out, char *why, size_t size);
//  A name as the path gives it: 1 to WA_PROVIDERS_NAME_MAX of [A-Za-z0-9_-].
int wa_providers_name_ok (const char *name);
//  A stored row as GET shows it (a new object; the credentials "(set)").
json_t *wa_providers_shown (const char *name, const char *type, const char *config);
//  A checked config (changed in place) that says "(set)" for a credential
//  takes the stored one: stored is the row's config (NULL: no row). 0, or
//  -1 with why when there is none of that kind to keep.
int wa_providers_keep (json_t *config, const char *stored, const char *field, char *why, size_t size);
//  A row as a backup carries it (name, type, config as JSON text), to be
//  stored as it is by a restore: 0 when it is what wa_providers_check
//  stores (the config's JSON is that of a checked config, nothing more),
//  or WA_ERR_INVALID with why naming at (e.g. "media_providers[2]").
int wa_providers_row_check (const char *name, const char *type, const char *config, const char *at, char *why,
                            size_t size);

#endif
