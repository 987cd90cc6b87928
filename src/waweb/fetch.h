/*  fetch — media links downloaded into media_dir: the actor that fetches
    a message's "link" with libcurl's multi interface on a thread of its
    own (no download, DNS lookup, TLS handshake or disk write ever runs on
    the reactor), under the limits of its kind:

    - http and https only, also across redirects, at most FETCH_REDIRECTS
      of them; no proxy (the environment's are ignored);
    - the whole download within the timeout (media_download_timeout);
    - the server's Content-Type must be one of the original's media types
      and fit the kind (wa_media_fits), before a byte is written;
    - at most the kind's size (wa_media_limit): refused at once when the
      server declares more, stopped when the body passes it;
    - unless private addresses are allowed (media_download_private), every
      connection (each redirect's too) to a loopback, private, link-local,
      shared, multicast or unspecified address is refused before a request
      is sent;
    - credentials (a media provider's Basic or Bearer), sent only to the
      link's own host, never across a redirect to another.

    The body goes, as it arrives, to a temporary file in
    media_dir/.uploads (named upload-fetch-*, so a Webapp that dies leaves
    nothing a restart does not sweep) and through an incremental SHA-256.
    At the end the file is synced and renamed to media_dir/<id>, where id
    is its content id (wa_media_content_id of its hash and type): the same
    file, however often and by whichever Webapp it is downloaded, is one
    file. Anything refused leaves no file. */
#ifndef WAWEB_FETCH_H
#define WAWEB_FETCH_H

#include <limits.h>
#include <czmq.h>
#include "wa_loop.h"
#include "wa_message.h"

#define FETCH_RUNNING_MAX 32            //  downloads at once per Webapp
#define FETCH_REDIRECTS 5
#define FETCH_CONNECT_TIMEOUT_MS 10000
#define FETCH_SECRET_MAX 512

typedef struct fetch_t fetch_t;

//  What to download (copied: the credentials are wiped after).
typedef struct {
    char url[WA_MESSAGE_LINK_MAX + 1];
    char kind[12];                      //  image, audio, video, document, sticker
    char dir[PATH_MAX];                 //  media_dir
    long timeout_ms;
    bool allow_private;
    char username[FETCH_SECRET_MAX];    //  Basic, "" for none
    char password[FETCH_SECRET_MAX];
    char bearer[FETCH_SECRET_MAX];      //  Bearer, "" for none
} fetch_spec_t;

typedef struct {
    int rc;                             //  0 stored; -1 refused (why); -2 failed here (why)
    char why[300];
    char id[WA_MEDIA_ID_LEN + 1];       //  its content id: media_dir/<id>
    char mime[128];                     //  as stored (wa_media_type)
    char sha256[65];
    uint64_t size;
} fetch_result_t;

//  A download ended: its token, its result.
typedef void (fetch_done_fn) (void *arg, uint64_t token, const fetch_result_t *result);

//  Starts the actor and reads its answers on loop. NULL on failure.
fetch_t *fetch_new (wa_loop_t *loop, fetch_done_fn *done, void *arg);
//  Downloads under way are abandoned (their files removed); done is not
//  called for them.
void fetch_destroy (fetch_t **self_p);
//  Start a download; token comes back with its result. 0, or -1 when
//  FETCH_RUNNING_MAX are running already.
int fetch_start (fetch_t *self, uint64_t token, fetch_spec_t *spec);
//  Is this address (text, as libcurl gives it) loopback, private,
//  link-local, shared, multicast, reserved or unspecified?
bool fetch_address_private (const char *address);

#endif
