/*  route — the API's paths as one table: method and path pattern to an
    endpoint, with the authentication each needs. Matching is pure, so the
    table is unit-tested and new endpoints (messages, settings, stats) are
    one line each. */
#ifndef WAWEB_ROUTE_H
#define WAWEB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    ROUTE_NONE = 0,
    ROUTE_LOGIN,
    ROUTE_LOGOUT,
    ROUTE_USER_CREATE,
    ROUTE_USER_GET,
    ROUTE_USER_UPDATE,
    ROUTE_USER_DELETE,
    ROUTE_HEALTH,
    ROUTE_MESSAGES,
    ROUTE_SETTINGS_GET,
    ROUTE_SETTINGS_PATCH,
    ROUTE_SETTINGS_DELETE,
    ROUTE_STATS_APP,
    ROUTE_STATS_DB,
    ROUTE_METRICS,
    ROUTE_CONTACTS,
    ROUTE_MEDIA_UPLOAD,
    ROUTE_MEDIA_GET,
    ROUTE_MEDIA_DELETE,
    ROUTE_ACCOUNT,
    ROUTE_ACCOUNT_VERIFY,
    ROUTE_SHARDS_GET,
    ROUTE_SHARDS_SET,
    ROUTE_HEALTH_LIVE,
    ROUTE_HEALTH_READY,
    ROUTE_MESSAGE_READ,         //  PUT /v1/messages/{id}: an inbound message marked read
    //  The account-wide state (profile.c), through the primary Master.
    ROUTE_BUSINESS_PROFILE_GET,
    ROUTE_BUSINESS_PROFILE_SET,
    ROUTE_COMPLIANCE_GET,
    ROUTE_COMPLIANCE_SET,
    ROUTE_ABOUT_GET,
    ROUTE_ABOUT_SET,
    ROUTE_PHOTO_GET,
    ROUTE_PHOTO_SET,
    ROUTE_PHOTO_DELETE,
    ROUTE_TWO_STEP_SET,
    ROUTE_TWO_STEP_DELETE,
    ROUTE_BACKUP,
    ROUTE_RESTORE,
    //  A contact's identity (identity.c), through its shard's primary Coreapp.
    ROUTE_IDENTITY_GET,
    ROUTE_IDENTITY_ACK,
    ROUTE_PROVIDERS_GET,        //  /v1/settings/application/media/providers
    ROUTE_PROVIDERS_SET,
    ROUTE_PROVIDERS_DELETE,     //  .../providers/{name}
    ROUTE_STATS_APP_INTERNAL,
    ROUTE_STATS_DB_INTERNAL,
    ROUTE_MESSAGE_GC,           //  PUT /v1/services/message/gc
    ROUTE_SUPPORT,
    ROUTE_CERT_EXTERNAL_SET,    //  certs.c
    ROUTE_CERT_EXTERNAL_CA,
    ROUTE_CERT_WEBHOOKS_SET,
    ROUTE_CERT_WEBHOOKS_GET,
    ROUTE_CERT_WEBHOOKS_DELETE,
    ROUTE_STICKERPACKS_LIST,    //  stickers.c
    ROUTE_STICKERPACK_CREATE,
    ROUTE_STICKERPACK_GET,
    ROUTE_STICKERPACK_UPDATE,
    ROUTE_STICKERPACK_DELETE,
    ROUTE_STICKERS_LIST,
    ROUTE_STICKER_ADD,
    ROUTE_STICKER_GET,
    ROUTE_STICKER_UPDATE,
    ROUTE_STICKER_DELETE,
    ROUTE_COUNT
} route_id_t;

typedef enum {
    ROUTE_AUTH_BASIC,           //  login: username and password
    ROUTE_AUTH_BEARER,          //  any valid token
    ROUTE_AUTH_SELF,            //  a token of an ADMIN, or of the user named in the path
    ROUTE_AUTH_ADMIN,           //  a token of an ADMIN
    ROUTE_AUTH_NONE,            //  public, on every address from the start: load balancers' probes
} route_auth_t;

#define ROUTE_PARAM_MAX 128
//  A longer path matches no route (none is near this long).
#define ROUTE_PATH_MAX 512
#define ROUTE_PARAMS 2              //  {} segments a path may have

typedef struct {
    route_id_t id;
    route_auth_t auth;
    char param[ROUTE_PARAM_MAX];    //  the path's {name} segment, "" when none
    char param2[ROUTE_PARAM_MAX];   //  its second one (/v1/stickerpacks/{id}/stickers/{index})
    bool raw_body;                  //  the body is text, not JSON: not parsed (certificates' PEM)
    char allow[64];                 //  405: the methods the path takes ("GET, PUT")
} route_t;

//  Match method and path (no query string), with or without one trailing
//  slash. 0 with *route filled; 404 when
//  no pattern matches the path; 405 when one does but not with this method
//  (route->allow lists those that do).
int route_match (const char *method, const char *path, route_t *route);
//  A route's name for logs and metrics ("none" for ROUTE_NONE).
const char *route_name (route_id_t id);

#endif
