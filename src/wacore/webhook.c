/*  webhook — see webhook.h */
#include <pthread.h>
#include <signal.h>
#include <curl/curl.h>
#include <sodium.h>
#include "wa_loop.h"
#include "webhook.h"

typedef struct {
    uint64_t token;
    CURL *easy;
    struct curl_slist *headers;
    void *handle;               //  in the list of requests running
    char error[CURL_ERROR_SIZE];
} request_t;

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

static void
s_answer (zsock_t *pipe, uint64_t token, int status, const char *error)
{
    char text[WEBHOOK_ERROR_MAX + 1];
    snprintf (text, sizeof text, "%s", error);
    zsock_send (pipe, "8is", token, status, text);
}

static void
s_request_free (request_t *request)
{
    curl_slist_free_all (request->headers);
    free (request);
}

void
webhook_signature (const char *secret, const char *body, size_t len, char out[WEBHOOK_SIGNATURE_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, (const unsigned char *) secret, strlen (secret));
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) body, len);
    crypto_auth_hmacsha256_final (&state, mac);
    memcpy (out, "sha256=", 7);
    sodium_bin2hex (out + 7, WEBHOOK_SIGNATURE_LEN + 1 - 7, mac, sizeof mac);
    sodium_memzero (&state, sizeof state);
}

//  What libcurl trusts for https webhooks: its default bundle, and with
//  a webhooks CA (POST /v1/certificates/webhooks/ca) the default bundle
//  and that CA together in one blob, so that public receivers still pass.
typedef struct {
    char *blob;                 //  NULL: libcurl's default
    size_t len;
} trust_t;

//  The most of the system's bundle read into the blob.
#define SYSTEM_BUNDLE_MAX (16 * 1024 * 1024)

//  A CA message: "CA", the PEM ("": back to the default).
static void
s_trust (trust_t *trust, zmsg_t *msg)
{
    char *pem = zmsg_popstr (msg);
    free (trust->blob);
    trust->blob = NULL;
    trust->len = 0;
    if (!pem || !*pem) {
        zstr_free (&pem);
        return;
    }
    curl_version_info_data *info = curl_version_info (CURLVERSION_NOW);
    const char *path = info && info->cainfo ? info->cainfo : "/etc/ssl/certs/ca-certificates.crt";
    char *bundle = NULL;
    size_t len = 0;
    FILE *file = fopen (path, "r");
    if (file) {
        bundle = malloc (SYSTEM_BUNDLE_MAX);
        if (bundle)
            len = fread (bundle, 1, SYSTEM_BUNDLE_MAX, file);
        fclose (file);
    }
    size_t pem_len = strlen (pem);
    trust->blob = malloc (len + pem_len + 2);
    if (trust->blob) {
        if (len)
            memcpy (trust->blob, bundle, len);
        trust->blob[len] = '\n';
        memcpy (trust->blob + len + 1, pem, pem_len + 1);
        trust->len = len + 1 + pem_len;
    }
    free (bundle);
    zstr_free (&pem);
}

//  A POST message: "POST", token (8 bytes), url, body, secret ("": none).
static void
s_start (CURLM *multi, zlistx_t *running, zsock_t *pipe, zmsg_t *msg, const trust_t *trust)
{
    zframe_t *token_frame = zmsg_pop (msg);
    char *url = zmsg_popstr (msg);
    char *body = zmsg_popstr (msg);
    char *secret = zmsg_popstr (msg);
    uint64_t token = 0;
    if (token_frame && zframe_size (token_frame) == sizeof token)
        memcpy (&token, zframe_data (token_frame), sizeof token);
    zframe_destroy (&token_frame);
    request_t *request = (request_t *) calloc (1, sizeof (request_t));
    CURL *easy = curl_easy_init ();
    if (!url || !body || !secret || !request || !easy) {
        s_answer (pipe, token, 0, "cannot start the request (no memory)");
        curl_easy_cleanup (easy);
        free (request);
        goto done;
    }
    request->token = token;
    request->easy = easy;
    request->headers = curl_slist_append (NULL, "Content-Type: application/json");
    //  No "Expect: 100-continue" round trip for larger bodies.
    request->headers = curl_slist_append (request->headers, "Expect:");
    if (*secret) {
        char header[32 + WEBHOOK_SIGNATURE_LEN];
        memcpy (header, "X-Hub-Signature-256: ", 21);
        webhook_signature (secret, body, strlen (body), header + 21);
        request->headers = curl_slist_append (request->headers, header);
    }
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    curl_easy_setopt (easy, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, request->headers);
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "wacluster/" WA_VERSION);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, (long) WEBHOOK_CONNECT_TIMEOUT_MS);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, request->error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
    if (trust->blob) {
        //  Copied: a change of CA leaves the requests already made theirs.
        struct curl_blob blob = { trust->blob, trust->len, CURL_BLOB_COPY };
        curl_easy_setopt (easy, CURLOPT_CAINFO_BLOB, &blob);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (curl_multi_add_handle (multi, easy) != CURLM_OK) {
        s_answer (pipe, token, 0, "cannot start the request");
        curl_easy_cleanup (easy);
        s_request_free (request);
    }
    else
        request->handle = zlistx_add_end (running, request);
done:
    zstr_free (&url);
    zstr_free (&body);
    if (secret)
        sodium_memzero (secret, strlen (secret));
    zstr_free (&secret);
}

//  Every finished request gets its answer.
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
        long status = 0;
        char error[WEBHOOK_ERROR_MAX + 1] = "";
        if (info->data.result == CURLE_OK) {
            curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
            if (status < 200 || status > 299)
                snprintf (error, sizeof error, "HTTP %ld", status);
        }
        else
            snprintf (error, sizeof error, "%.*s", WEBHOOK_ERROR_MAX,
                      request && *request->error ? request->error : curl_easy_strerror (info->data.result));
        if (request)
            s_answer (pipe, request->token, (int) status, error);
        curl_multi_remove_handle (multi, easy);
        curl_easy_cleanup (easy);
        if (request) {
            zlistx_delete (running, request->handle);
            s_request_free (request);
        }
    }
}

static void
s_actor (zsock_t *pipe, void *args)
{
    (void) args;
    //  SIGINT and SIGTERM are for the reactor's thread.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    CURLM *multi = curl_multi_init ();
    zlistx_t *running = zlistx_new ();
    zsock_signal (pipe, 0);
    if (!multi || !running) {
        zlistx_destroy (&running);
        return;
    }
    trust_t trust = { NULL, 0 };
    struct curl_waitfd wait = { .fd = zsock_fd (pipe), .events = CURL_WAIT_POLLIN };
    bool stop = false;
    while (!stop) {
        //  The pipe's descriptor signals edges only: read everything that
        //  is there before waiting, and look again after writing to it.
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
            if (command && streq (command, "POST"))
                s_start (multi, running, pipe, msg, &trust);
            else
            if (command && streq (command, "CA"))
                s_trust (&trust, msg);
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
    //  Requests in flight are abandoned: their rows stay pending.
    request_t *request;
    while ((request = zlistx_first (running))) {
        zlistx_detach_cur (running);
        curl_multi_remove_handle (multi, request->easy);
        curl_easy_cleanup (request->easy);
        s_request_free (request);
    }
    zlistx_destroy (&running);
    curl_multi_cleanup (multi);
    free (trust.blob);
}

wa_actor_t *
webhook_new (void)
{
    static bool initialised;
    if (!initialised) {
        if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init () < 0)
            return NULL;
        initialised = true;
    }
    return wa_actor_new (s_actor, NULL);
}

int
webhook_post (wa_actor_t *self, uint64_t token, const char *url, const char *body, const char *secret)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "POST");
    zmsg_addmem (msg, &token, sizeof token);
    zmsg_addstr (msg, url);
    zmsg_addstr (msg, body);
    zmsg_addstr (msg, secret ? secret : "");
    int rc = zmsg_send (&msg, wa_actor_sock (self));
    wa_loop_touched (wa_actor_sock (self));
    return rc;
}

int
webhook_trust (wa_actor_t *self, const char *pem)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "CA");
    zmsg_addstr (msg, pem ? pem : "");
    int rc = zmsg_send (&msg, wa_actor_sock (self));
    wa_loop_touched (wa_actor_sock (self));
    return rc;
}

int
webhook_recv (wa_actor_t *self, uint64_t *token, int *status, char *error)
{
    char *text = NULL;
    if (zsock_recv (wa_actor_sock (self), "8is", token, status, &text))
        return -1;
    snprintf (error, WEBHOOK_ERROR_MAX + 1, "%s", text ? text : "");
    zstr_free (&text);
    return 0;
}
