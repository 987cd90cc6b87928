/*  fetch — see fetch.h */
#define _GNU_SOURCE     //  mkostemp
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <sodium.h>
#include "wa_actor.h"
#include "wa_log.h"
#include "http.h"
#include "fetch.h"

struct fetch_t {
    wa_actor_t *actor;
    wa_loop_t *loop;
    fetch_done_fn *done;
    void *arg;
    size_t running;
};

//  --------------------------------------------------------------------------
//  Addresses

bool
fetch_address_private (const char *address)
{
    unsigned char ip[16];
    if (inet_pton (AF_INET, address, ip) == 1) {
        unsigned a = ip[0], b = ip[1];
        return a == 0 || a == 10 || a == 127 || a >= 224             //  this, private, loopback, multicast, reserved
            || (a == 100 && b >= 64 && b <= 127)                      //  shared (carrier-grade NAT)
            || (a == 169 && b == 254)                                 //  link-local (cloud metadata)
            || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168)
            || (a == 192 && b == 0 && ip[2] == 0)                     //  IETF protocol assignments
            || (a == 198 && (b == 18 || b == 19));                    //  benchmarking
    }
    if (inet_pton (AF_INET6, address, ip) != 1)
        return true;                    //  not an address we can judge: refused
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp (ip, mapped, 12) == 0) {
        char v4[INET_ADDRSTRLEN];
        inet_ntop (AF_INET, ip + 12, v4, sizeof v4);
        return fetch_address_private (v4);
    }
    if (memcmp (ip, zero, 15) == 0 && (ip[15] == 0 || ip[15] == 1))
        return true;                    //  unspecified, loopback
    return (ip[0] & 0xfe) == 0xfc        //  unique local fc00::/7
        || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)    //  link-local fe80::/10
        || ip[0] == 0xff                //  multicast
        || (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8);   //  documentation
}

//  --------------------------------------------------------------------------
//  The actor

typedef struct {
    uint64_t token;
    CURL *easy;
    fetch_spec_t spec;
    uint64_t max;
    int fd;
    char path[PATH_MAX + 64];
    crypto_hash_sha256_state sha;
    uint64_t size;
    bool typed;                 //  the Content-Type was checked
    char mime[128];
    int refused;                //  0, or the rc a callback decided (-1 the link's fault, -2 ours)
    char why[300];
    char error[CURL_ERROR_SIZE];
    void *handle;               //  in the list of requests running
} request_t;

static const char *
s_a (const char *word)
{
    return strchr ("aeiou", word[0]) && word[0] ? "an" : "a";
}

static void
s_refuse (request_t *request, int rc, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static void
s_refuse (request_t *request, int rc, const char *fmt, ...)
{
    if (request->refused)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (request->why, sizeof request->why, fmt, args);
    va_end (args);
    request->refused = rc;
}

//  The body, piece by piece: its type checked once, its size bounded,
//  written and hashed.
static size_t
s_write (char *data, size_t size, size_t count, void *arg)
{
    request_t *request = arg;
    size_t len = size * count;
    if (!request->typed) {
        char *type = NULL;
        curl_easy_getinfo (request->easy, CURLINFO_CONTENT_TYPE, &type);
        if (!type) {
            s_refuse (request, -1, "the server did not say the file's type (no Content-Type)");
            return 0;
        }
        if (wa_media_type (type, request->mime, sizeof request->mime)) {
            s_refuse (request, -1, "the server says the file is '%.80s', which is not a supported media type", type);
            return 0;
        }
        if (!wa_media_fits (request->spec.kind, request->mime)) {
            s_refuse (request, -1, "the server says the file is %s, which %s %s cannot be (image: image/jpeg or "
                      "image/png; audio: audio/*; video: video/*; sticker: image/webp; document: any)",
                      request->mime, s_a (request->spec.kind), request->spec.kind);
            return 0;
        }
        request->typed = true;
    }
    if (request->size + len > request->max) {
        s_refuse (request, -1, "the file is larger than %" PRIu64 " bytes, the most %s %s may be", request->max,
                  s_a (request->spec.kind), request->spec.kind);
        return 0;
    }
    for (size_t done = 0; done < len; ) {
        ssize_t wrote = write (request->fd, data + done, len - done);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0) {
            s_refuse (request, -2, "cannot write the file in media_dir: %s", strerror (wrote < 0 ? errno : ENOSPC));
            return 0;
        }
        done += (size_t) wrote;
    }
    crypto_hash_sha256_update (&request->sha, (const unsigned char *) data, len);
    request->size += len;
    return len;
}

//  Every connection, each redirect's too, before it is made.
static curl_socket_t
s_open_socket (void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    request_t *request = arg;
    (void) purpose;
    char text[INET6_ADDRSTRLEN] = "";
    if (address->family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) &address->addr)->sin_addr, text, sizeof text);
    else
    if (address->family == AF_INET6)
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &address->addr)->sin6_addr, text, sizeof text);
    if (!request->spec.allow_private && fetch_address_private (text)) {
        s_refuse (request, -1, "it leads to %s, a loopback, private or link-local address, which this cluster does "
                  "not download from (media_download_private)", *text ? text : "an address of another family");
        return CURL_SOCKET_BAD;
    }
    return socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static void
s_answer (zsock_t *pipe, uint64_t token, const fetch_result_t *result)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, &token, sizeof token);
    zmsg_addmem (msg, result, sizeof *result);
    zmsg_send (&msg, pipe);
}

static void
s_request_free (request_t *request)
{
    if (request->fd >= 0)
        close (request->fd);
    if (*request->path)
        unlink (request->path);
    sodium_memzero (&request->spec, sizeof request->spec);
    free (request);
}

static void
s_start (CURLM *multi, zlistx_t *running, zsock_t *pipe, zmsg_t *msg)
{
    zframe_t *token_frame = zmsg_pop (msg);
    zframe_t *spec_frame = zmsg_pop (msg);
    uint64_t token = 0;
    if (token_frame && zframe_size (token_frame) == sizeof token)
        memcpy (&token, zframe_data (token_frame), sizeof token);
    zframe_destroy (&token_frame);
    fetch_result_t result = { .rc = -2 };
    request_t *request = (request_t *) calloc (1, sizeof (request_t));
    if (!request || !spec_frame || zframe_size (spec_frame) != sizeof request->spec) {
        snprintf (result.why, sizeof result.why, "cannot start the download (no memory)");
        s_answer (pipe, token, &result);
        free (request);
        zframe_destroy (&spec_frame);
        return;
    }
    memcpy (&request->spec, zframe_data (spec_frame), sizeof request->spec);
    sodium_memzero (zframe_data (spec_frame), zframe_size (spec_frame));
    zframe_destroy (&spec_frame);
    request->token = token;
    request->fd = -1;
    request->max = wa_media_limit (request->spec.kind);
    crypto_hash_sha256_init (&request->sha);
    snprintf (request->path, sizeof request->path, "%s/%s/upload-fetch-XXXXXX", request->spec.dir, HTTP_UPLOAD_DIR);
    request->fd = mkostemp (request->path, O_CLOEXEC);
    CURL *easy = request->fd >= 0 ? curl_easy_init () : NULL;
    if (!easy) {
        snprintf (result.why, sizeof result.why, "cannot start the download: %s", request->fd < 0
                  ? strerror (errno) : "no memory");
        if (request->fd < 0)
            *request->path = 0;
        s_answer (pipe, token, &result);
        s_request_free (request);
        return;
    }
    request->easy = easy;
    curl_easy_setopt (easy, CURLOPT_URL, request->spec.url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt (easy, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt (easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt (easy, CURLOPT_MAXREDIRS, (long) FETCH_REDIRECTS);
    curl_easy_setopt (easy, CURLOPT_PROXY, "");
    curl_easy_setopt (easy, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, request->spec.timeout_ms);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, request->spec.timeout_ms < FETCH_CONNECT_TIMEOUT_MS
                      ? request->spec.timeout_ms : (long) FETCH_CONNECT_TIMEOUT_MS);
    curl_easy_setopt (easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) request->max);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "wacluster/" WA_VERSION);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETDATA, request);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, request->error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
    //  Credentials go to the link's host only (CURLOPT_UNRESTRICTED_AUTH
    //  stays off): never to the host of a redirect.
    if (*request->spec.bearer) {
        curl_easy_setopt (easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
        curl_easy_setopt (easy, CURLOPT_XOAUTH2_BEARER, request->spec.bearer);
    }
    else
    if (*request->spec.username) {
        curl_easy_setopt (easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt (easy, CURLOPT_USERNAME, request->spec.username);
        curl_easy_setopt (easy, CURLOPT_PASSWORD, request->spec.password);
    }
    if (curl_multi_add_handle (multi, easy) != CURLM_OK) {
        snprintf (result.why, sizeof result.why, "cannot start the download");
        s_answer (pipe, token, &result);
        curl_easy_cleanup (easy);
        s_request_free (request);
        return;
    }
    request->handle = zlistx_add_end (running, request);
}

//  A download that came through: synced, and into place under its id.
static void
s_store (request_t *request, fetch_result_t *result)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&request->sha, hash);
    sodium_bin2hex (result->sha256, sizeof result->sha256, hash, sizeof hash);
    snprintf (result->mime, sizeof result->mime, "%s", request->mime);
    result->size = request->size;
    wa_media_content_id (result->sha256, result->mime, result->id);
    char target[PATH_MAX + 64];
    snprintf (target, sizeof target, "%s/%s", request->spec.dir, result->id);
    int rc = fdatasync (request->fd);
    if (rc == 0) {
        rc = close (request->fd);
        request->fd = -1;
    }
    //  The same content may be there already (another download of it):
    //  the rename replaces it with identical bytes.
    if (rc == 0)
        rc = rename (request->path, target);
    if (rc) {
        result->rc = -2;
        snprintf (result->why, sizeof result->why, "cannot store the file in media_dir: %s", strerror (errno));
        return;
    }
    *request->path = 0;         //  no longer ours to remove
    result->rc = 0;
}

static void
s_finish (CURLM *multi, zlistx_t *running, zsock_t *pipe)
{
    CURLMsg *info;
    int left;
    while ((info = curl_multi_info_read (multi, &left))) {
        if (info->msg != CURLMSG_DONE)
            continue;
        CURL *easy = info->easy_handle;
        request_t *request = NULL;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &request);
        fetch_result_t result = { .rc = -1 };
        CURLcode code = info->data.result;
        long status = 0;
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        if (request->refused) {
            result.rc = request->refused;
            snprintf (result.why, sizeof result.why, "%s", request->why);
        }
        else
        if (code == CURLE_OK && request->size == 0)
            snprintf (result.why, sizeof result.why, "the server sent an empty file");
        else
        if (code == CURLE_OK)
            s_store (request, &result);
        else
        if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf (result.why, sizeof result.why, "the download did not end within %g s "
                      "(media_download_timeout)", (double) request->spec.timeout_ms / 1000);
        else
        if (code == CURLE_TOO_MANY_REDIRECTS)
            snprintf (result.why, sizeof result.why, "more than %d redirects", FETCH_REDIRECTS);
        else
        if (code == CURLE_FILESIZE_EXCEEDED)
            snprintf (result.why, sizeof result.why, "the server says the file is larger than %" PRIu64
                      " bytes, the most %s %s may be", request->max, s_a (request->spec.kind), request->spec.kind);
        else
        if (code == CURLE_HTTP_RETURNED_ERROR)
            snprintf (result.why, sizeof result.why, "the server answered HTTP %ld", status);
        else
        if (code == CURLE_UNSUPPORTED_PROTOCOL)
            snprintf (result.why, sizeof result.why, "a redirect leads to a scheme other than http or https");
        else
            snprintf (result.why, sizeof result.why, "cannot download it: %.200s",
                      *request->error ? request->error : curl_easy_strerror (code));
        s_answer (pipe, request->token, &result);
        curl_multi_remove_handle (multi, easy);
        curl_easy_cleanup (easy);
        zlistx_delete (running, request->handle);
        s_request_free (request);
    }
}

static void
s_actor (zsock_t *pipe, void *args)
{
    (void) args;
    CURLM *multi = curl_multi_init ();
    zlistx_t *running = zlistx_new ();
    zsock_signal (pipe, multi && running ? 0 : 1);
    if (!multi || !running) {
        zlistx_destroy (&running);
        if (multi)
            curl_multi_cleanup (multi);
        return;
    }
    struct curl_waitfd wait = { .fd = zsock_fd (pipe), .events = CURL_WAIT_POLLIN };
    bool stop = false;
    while (!stop) {
        //  The pipe's descriptor signals edges only: read everything first.
        while (!stop && (zsock_events (pipe) & ZMQ_POLLIN)) {
            zmsg_t *msg = zmsg_recv (pipe);
            if (!msg) {
                stop = true;
                break;
            }
            char *command = zmsg_popstr (msg);
            if (command && streq (command, "$TERM"))
                stop = true;
            else
            if (command && streq (command, "GET"))
                s_start (multi, running, pipe, msg);
            zstr_free (&command);
            zmsg_destroy (&msg);
        }
        if (stop)
            break;
        int still = 0;
        curl_multi_perform (multi, &still);
        s_finish (multi, running, pipe);
        if (zsock_events (pipe) & ZMQ_POLLIN)
            continue;
        curl_multi_poll (multi, &wait, 1, 1000, NULL);
    }
    request_t *request;
    while ((request = zlistx_first (running))) {
        zlistx_detach_cur (running);
        curl_multi_remove_handle (multi, request->easy);
        curl_easy_cleanup (request->easy);
        s_request_free (request);
    }
    zlistx_destroy (&running);
    curl_multi_cleanup (multi);
}

//  --------------------------------------------------------------------------
//  The reactor's side

static int
s_on_pipe (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    fetch_t *self = arg;
    for (int i = 0; i < 100 && (zsock_events (reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv (reader);
        if (!msg)
            break;
        zframe_t *token_frame = zmsg_first (msg);
        zframe_t *result_frame = zmsg_next (msg);
        uint64_t token;
        fetch_result_t result;
        if (token_frame && result_frame && zframe_size (token_frame) == sizeof token
        &&  zframe_size (result_frame) == sizeof result) {
            memcpy (&token, zframe_data (token_frame), sizeof token);
            memcpy (&result, zframe_data (result_frame), sizeof result);
            self->running--;
            self->done (self->arg, token, &result);
        }
        zmsg_destroy (&msg);
    }
    return 0;
}

fetch_t *
fetch_new (wa_loop_t *loop, fetch_done_fn *done, void *arg)
{
    static bool initialised;
    if (!initialised) {
        if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        initialised = true;
    }
    fetch_t *self = (fetch_t *) zmalloc (sizeof (fetch_t));
    self->actor = wa_actor_new (s_actor, NULL);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    self->loop = loop;
    self->done = done;
    self->arg = arg;
    wa_loop_reader (loop, wa_actor_sock (self->actor), s_on_pipe, self);
    return self;
}

void
fetch_destroy (fetch_t **self_p)
{
    fetch_t *self = *self_p;
    if (!self)
        return;
    wa_loop_reader_end (self->loop, wa_actor_sock (self->actor));
    wa_actor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}

int
fetch_start (fetch_t *self, uint64_t token, fetch_spec_t *spec)
{
    if (self->running >= FETCH_RUNNING_MAX)
        return -1;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "GET");
    zmsg_addmem (msg, &token, sizeof token);
    zmsg_addmem (msg, spec, sizeof *spec);
    sodium_memzero (spec->password, sizeof spec->password);
    sodium_memzero (spec->bearer, sizeof spec->bearer);
    int rc = zmsg_send (&msg, wa_actor_sock (self->actor));
    wa_loop_touched (wa_actor_sock (self->actor));
    if (rc) {
        zmsg_destroy (&msg);
        return -1;
    }
    self->running++;
    return 0;
}
