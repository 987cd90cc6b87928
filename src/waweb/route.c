/*  route — see route.h */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "route.h"

typedef struct {
    const char *method;
    const char *pattern;        //  "{}" stands for one non-empty segment
    route_id_t id;
    route_auth_t auth;
} route_def_t;

//  Fixed paths before patterns: /v1/users/login is not a user's name.
static const route_def_t s_routes[] = {
    { "POST", "/v1/users/login", ROUTE_LOGIN, ROUTE_AUTH_BASIC },
    { "POST", "/v1/users/logout", ROUTE_LOGOUT, ROUTE_AUTH_BEARER },
    { "POST", "/v1/users", ROUTE_USER_CREATE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/users/{}", ROUTE_USER_GET, ROUTE_AUTH_SELF },
    { "PUT", "/v1/users/{}", ROUTE_USER_UPDATE, ROUTE_AUTH_SELF },
    { "DELETE", "/v1/users/{}", ROUTE_USER_DELETE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/health", ROUTE_HEALTH, ROUTE_AUTH_BEARER },
    //  A balancer's probes: nothing of the cluster in them, so no token (a
    //  balancer has none to send). HEAD too, which some balancers use.
    { "GET", "/v1/health/live", ROUTE_HEALTH_LIVE, ROUTE_AUTH_NONE },
    { "HEAD", "/v1/health/live", ROUTE_HEALTH_LIVE, ROUTE_AUTH_NONE },
    { "GET", "/v1/health/ready", ROUTE_HEALTH_READY, ROUTE_AUTH_NONE },
    { "HEAD", "/v1/health/ready", ROUTE_HEALTH_READY, ROUTE_AUTH_NONE },
    { "POST", "/v1/messages", ROUTE_MESSAGES, ROUTE_AUTH_BEARER },
    { "PUT", "/v1/messages/{}", ROUTE_MESSAGE_READ, ROUTE_AUTH_BEARER },
    { "GET", "/v1/settings/application", ROUTE_SETTINGS_GET, ROUTE_AUTH_ADMIN },
    { "PATCH", "/v1/settings/application", ROUTE_SETTINGS_PATCH, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/settings/application", ROUTE_SETTINGS_DELETE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/settings/application/media/providers", ROUTE_PROVIDERS_GET, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/application/media/providers", ROUTE_PROVIDERS_SET, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/settings/application/media/providers/{}", ROUTE_PROVIDERS_DELETE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stats/app", ROUTE_STATS_APP, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stats/db", ROUTE_STATS_DB, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stats/app/internal", ROUTE_STATS_APP_INTERNAL, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stats/db/internal", ROUTE_STATS_DB_INTERNAL, ROUTE_AUTH_ADMIN },
    { "PUT", "/v1/services/message/gc", ROUTE_MESSAGE_GC, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/support", ROUTE_SUPPORT, ROUTE_AUTH_ADMIN },
    { "GET", "/metrics", ROUTE_METRICS, ROUTE_AUTH_BEARER },
    { "POST", "/v1/contacts", ROUTE_CONTACTS, ROUTE_AUTH_BEARER },
    { "POST", "/v1/media", ROUTE_MEDIA_UPLOAD, ROUTE_AUTH_BEARER },
    { "GET", "/v1/media/{}", ROUTE_MEDIA_GET, ROUTE_AUTH_BEARER },
    { "DELETE", "/v1/media/{}", ROUTE_MEDIA_DELETE, ROUTE_AUTH_BEARER },
    { "POST", "/v1/account", ROUTE_ACCOUNT, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/account/verify", ROUTE_ACCOUNT_VERIFY, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/account/shards", ROUTE_SHARDS_GET, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/account/shards", ROUTE_SHARDS_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/settings/business/profile", ROUTE_BUSINESS_PROFILE_GET, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/business/profile", ROUTE_BUSINESS_PROFILE_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/settings/business/compliance_info", ROUTE_COMPLIANCE_GET, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/business/compliance_info", ROUTE_COMPLIANCE_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/settings/profile/about", ROUTE_ABOUT_GET, ROUTE_AUTH_ADMIN },
    { "PATCH", "/v1/settings/profile/about", ROUTE_ABOUT_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/settings/profile/photo", ROUTE_PHOTO_GET, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/profile/photo", ROUTE_PHOTO_SET, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/settings/profile/photo", ROUTE_PHOTO_DELETE, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/account/two-step", ROUTE_TWO_STEP_SET, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/settings/account/two-step", ROUTE_TWO_STEP_DELETE, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/backup", ROUTE_BACKUP, ROUTE_AUTH_ADMIN },
    { "POST", "/v1/settings/restore", ROUTE_RESTORE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/contacts/{}/identity", ROUTE_IDENTITY_GET, ROUTE_AUTH_BEARER },
    { "PUT", "/v1/contacts/{}/identity", ROUTE_IDENTITY_ACK, ROUTE_AUTH_BEARER },
    //  Certificates (certs.c): uploaded as PEM text, as the original takes them.
    { "POST", "/v1/certificates/external", ROUTE_CERT_EXTERNAL_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/certificates/external/ca", ROUTE_CERT_EXTERNAL_CA, ROUTE_AUTH_BEARER },
    { "POST", "/v1/certificates/webhooks/ca", ROUTE_CERT_WEBHOOKS_SET, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/certificates/webhooks/ca", ROUTE_CERT_WEBHOOKS_GET, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/certificates/webhooks/ca", ROUTE_CERT_WEBHOOKS_DELETE, ROUTE_AUTH_ADMIN },
    //  Stickerpacks (stickers.c): read by any user, changed by an ADMIN.
    { "GET", "/v1/stickerpacks", ROUTE_STICKERPACKS_LIST, ROUTE_AUTH_BEARER },
    { "POST", "/v1/stickerpacks", ROUTE_STICKERPACK_CREATE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stickerpacks/{}", ROUTE_STICKERPACK_GET, ROUTE_AUTH_BEARER },
    { "PATCH", "/v1/stickerpacks/{}", ROUTE_STICKERPACK_UPDATE, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/stickerpacks/{}", ROUTE_STICKERPACK_DELETE, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stickerpacks/{}/stickers", ROUTE_STICKERS_LIST, ROUTE_AUTH_BEARER },
    { "POST", "/v1/stickerpacks/{}/stickers", ROUTE_STICKER_ADD, ROUTE_AUTH_ADMIN },
    { "GET", "/v1/stickerpacks/{}/stickers/{}", ROUTE_STICKER_GET, ROUTE_AUTH_BEARER },
    { "PATCH", "/v1/stickerpacks/{}/stickers/{}", ROUTE_STICKER_UPDATE, ROUTE_AUTH_ADMIN },
    { "DELETE", "/v1/stickerpacks/{}/stickers/{}", ROUTE_STICKER_DELETE, ROUTE_AUTH_ADMIN },
};
#define NROUTES (sizeof s_routes / sizeof s_routes[0])

//  Does path fit pattern? Each {} segment goes to the next of params.
static int
s_fits (const char *pattern, const char *path, char params[ROUTE_PARAMS][ROUTE_PARAM_MAX])
{
    int holes = 0;
    while (*pattern || *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            const char *end = strchr (path, '/');
            size_t len = end ? (size_t) (end - path) : strlen (path);
            if (len == 0)
                return 0;
            //  Too long for any name: still this route, with no name (the
            //  handler says 404), never a truncated one that could name
            //  something else.
            if (holes < ROUTE_PARAMS && len < ROUTE_PARAM_MAX)
                snprintf (params[holes], ROUTE_PARAM_MAX, "%.*s", (int) len, path);
            holes++;
            pattern += 2;
            path += len;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return 1;
}

//  Is a fixed route's path equal to path? Then a pattern must not take it.
static int
s_fixed_path (const char *path)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (!strstr (s_routes[i].pattern, "{}") && strcmp (s_routes[i].pattern, path) == 0)
            return 1;
    return 0;
}

static int
s_match (const char *method, const char *path, route_t *route)
{
    memset (route, 0, sizeof *route);
    int fixed = s_fixed_path (path);
    int path_known = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        const route_def_t *def = &s_routes[i];
        char params[ROUTE_PARAMS][ROUTE_PARAM_MAX] = { "", "" };
        if (fixed && strstr (def->pattern, "{}"))
            continue;
        if (!s_fits (def->pattern, path, params))
            continue;
        path_known = 1;
        if (strcmp (def->method, method) == 0) {
            route->allow[0] = 0;
            route->id = def->id;
            route->auth = def->auth;
            snprintf (route->param, sizeof route->param, "%s", params[0]);
            snprintf (route->param2, sizeof route->param2, "%s", params[1]);
            //  PEM text, as the original takes certificates.
            route->raw_body = def->id == ROUTE_CERT_EXTERNAL_SET || def->id == ROUTE_CERT_WEBHOOKS_SET;
            return 0;
        }
        size_t used = strlen (route->allow);
        snprintf (route->allow + used, sizeof route->allow - used, "%s%s", used ? ", " : "", def->method);
    }
    return path_known ? 405 : 404;
}

//  The original takes every path with or without one trailing slash (its
//  own examples write POST /v1/messages/): a path that matches nothing as
//  it is gets a second try without it.
int
route_match (const char *method, const char *path, route_t *route)
{
    int rc = s_match (method, path, route);
    size_t len = strlen (path);
    if (rc != 404 || len < 2 || path[len - 1] != '/' || path[len - 2] == '/' || len > ROUTE_PATH_MAX)
        return rc;
    char bare[ROUTE_PATH_MAX];
    memcpy (bare, path, len - 1);
    bare[len - 1] = 0;
    return s_match (method, bare, route);
}

const char *
route_name (route_id_t id)
{
    static const char *names[ROUTE_COUNT] = {
        [ROUTE_NONE] = "none", [ROUTE_LOGIN] = "login", [ROUTE_LOGOUT] = "logout",
        [ROUTE_USER_CREATE] = "user_create", [ROUTE_USER_GET] = "user_get", [ROUTE_USER_UPDATE] = "user_update",
        [ROUTE_USER_DELETE] = "user_delete", [ROUTE_HEALTH] = "health", [ROUTE_MESSAGES] = "messages",
        [ROUTE_SETTINGS_GET] = "settings_get", [ROUTE_SETTINGS_PATCH] = "settings_patch",
        [ROUTE_SETTINGS_DELETE] = "settings_delete", [ROUTE_STATS_APP] = "stats_app",
        [ROUTE_STATS_DB] = "stats_db", [ROUTE_METRICS] = "metrics", [ROUTE_CONTACTS] = "contacts",
        [ROUTE_MEDIA_UPLOAD] = "media_upload", [ROUTE_MEDIA_GET] = "media_get",
        [ROUTE_MEDIA_DELETE] = "media_delete", [ROUTE_ACCOUNT] = "account",
        [ROUTE_ACCOUNT_VERIFY] = "account_verify", [ROUTE_SHARDS_GET] = "shards_get",
        [ROUTE_SHARDS_SET] = "shards_set", [ROUTE_HEALTH_LIVE] = "health_live",
        [ROUTE_HEALTH_READY] = "health_ready", [ROUTE_MESSAGE_READ] = "message_read",
        [ROUTE_BUSINESS_PROFILE_GET] = "business_profile_get", [ROUTE_BUSINESS_PROFILE_SET] = "business_profile_set",
        [ROUTE_COMPLIANCE_GET] = "compliance_get", [ROUTE_COMPLIANCE_SET] = "compliance_set",
        [ROUTE_ABOUT_GET] = "about_get", [ROUTE_ABOUT_SET] = "about_set", [ROUTE_PHOTO_GET] = "photo_get",
        [ROUTE_PHOTO_SET] = "photo_set", [ROUTE_PHOTO_DELETE] = "photo_delete",
        [ROUTE_TWO_STEP_SET] = "two_step_set", [ROUTE_TWO_STEP_DELETE] = "two_step_delete",
        [ROUTE_BACKUP] = "backup", [ROUTE_RESTORE] = "restore", [ROUTE_IDENTITY_GET] = "identity_get",
        [ROUTE_IDENTITY_ACK] = "identity_ack",
        [ROUTE_PROVIDERS_GET] = "providers_get", [ROUTE_PROVIDERS_SET] = "providers_set",
        [ROUTE_PROVIDERS_DELETE] = "providers_delete", [ROUTE_STATS_APP_INTERNAL] = "stats_app_internal",
        [ROUTE_STATS_DB_INTERNAL] = "stats_db_internal", [ROUTE_MESSAGE_GC] = "message_gc",
        [ROUTE_SUPPORT] = "support",
        [ROUTE_CERT_EXTERNAL_SET] = "cert_external_set", [ROUTE_CERT_EXTERNAL_CA] = "cert_external_ca",
        [ROUTE_CERT_WEBHOOKS_SET] = "cert_webhooks_set", [ROUTE_CERT_WEBHOOKS_GET] = "cert_webhooks_get",
        [ROUTE_CERT_WEBHOOKS_DELETE] = "cert_webhooks_delete", [ROUTE_STICKERPACKS_LIST] = "stickerpacks_list",
        [ROUTE_STICKERPACK_CREATE] = "stickerpack_create", [ROUTE_STICKERPACK_GET] = "stickerpack_get",
        [ROUTE_STICKERPACK_UPDATE] = "stickerpack_update", [ROUTE_STICKERPACK_DELETE] = "stickerpack_delete",
        [ROUTE_STICKERS_LIST] = "stickers_list", [ROUTE_STICKER_ADD] = "sticker_add",
        [ROUTE_STICKER_GET] = "sticker_get", [ROUTE_STICKER_UPDATE] = "sticker_update",
        [ROUTE_STICKER_DELETE] = "sticker_delete",
    };
    return id < ROUTE_COUNT && names[id] ? names[id] : "none";
}
