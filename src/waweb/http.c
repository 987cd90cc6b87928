/*  http — see http.h */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sodium.h>
#include "wa_log.h"
#include "envelope.h"
#include "http.h"

//  Request line and headers of one request: past this MHD answers 431.
#define HEADER_MEMORY (32 * 1024)
#define CONNECTIONS_MAX 10000
//  Seconds an idle connection stays open (a suspended one never times out).
#define IDLE_TIMEOUT 60
//  Requests handed over and not yet read by the reactor; past this: 503.
#define HANDOVER_MAX 50000
//  Uploads streaming in at once: each may put up to HTTP_UPLOAD_MAX on disk
//  before its credentials are checked. Past this: 503.
#define UPLOADS_MAX 64
//  An upload past HTTP_UPLOAD_MAX without a declared length is read on and
//  thrown away, so that the client gets its 413; past this much more, the
//  connection is closed instead.
#define UPLOAD_DISCARD_MAX HTTP_UPLOAD_MAX

//  An upload's state while its body streams in.
typedef struct {
    crypto_hash_sha256_state hash;
    uint64_t discarded;         //  bytes read past the limit or after a failure
    int error;                  //  errno of a failed create or write, 0 when none
} upload_t;

enum { REQ_READING = 0, REQ_HANDED, REQ_ANSWERED };

struct http_server_t {
    struct MHD_Daemon *daemon;
    zsock_t *push;              //  the MHD thread's end of the handover
    size_t req_size;
    size_t max_body;
    int port;
    bool tls;
    char *cert;
    char *key;
    atomic_int waiting;         //  handed over, not yet answered
    atomic_bool stopping;
    char upload_dir[PATH_MAX];  //  where uploads stream to
    atomic_int uploads;         //  streaming in now
};

static enum MHD_Result
s_queue_typed (struct MHD_Connection *connection, int status, char *body, size_t len, const char *allow,
               const char *type)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (len, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow && *allow)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response (connection, (unsigned int) status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_queue (struct MHD_Connection *connection, int status, char *body, size_t len, const char *allow)
{
    return s_queue_typed (connection, status, body, len, allow, "application/json");
}

static char *
s_error_body (int code, const char *details, size_t *len)
{
    json_t *error = envelope_error (code, "%s", details);
    char *text = envelope_dump (error, len);
    json_decref (error);
    return text;
}

static enum MHD_Result
s_queue_error (struct MHD_Connection *connection, int status, int code, const char *details)
{
    size_t len;
    char *body = s_error_body (code, details, &len);
    return s_queue (connection, status, body, len, NULL);
}

static char *
s_strdup (const char *text)
{
    char *copy = strdup (text);
    assert (copy);
    return copy;
}

//  The file an upload streams to (and the upload's counter) when the request
//  ends or the body is refused: closed, removed.
static void
s_upload_drop (http_req_t *req)
{
    if (req->upload_fd >= 0)
        close (req->upload_fd);
    req->upload_fd = -1;
    if (req->upload_path) {
        if (unlink (req->upload_path) && errno != ENOENT)
            wa_warn ("http: cannot remove '%s': %s", req->upload_path, strerror (errno));
        free (req->upload_path);
        req->upload_path = NULL;
    }
}

static enum MHD_Result
s_queue_file (struct MHD_Connection *connection, int status, int fd, uint64_t size, const char *type)
{
    struct MHD_Response *response = MHD_create_response_from_fd64 (size, fd);
    if (!response) {
        close (fd);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    //  Stored bytes are served as the type they were stored with, never sniffed.
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response (connection, (unsigned int) status, response);
    MHD_destroy_response (response);
    return rc;
}

//  A piece of an upload's body: to its file and its hash. MHD_NO closes
//  the connection.
static enum MHD_Result
s_upload_data (http_server_t *self, http_req_t *req, const char *data, size_t size)
{
    upload_t *upload = req->upload_state;
    if (!upload)
        return MHD_YES;         //  answered at the headers already
    if (req->too_big || upload->error) {
        upload->discarded += size;
        return upload->discarded > UPLOAD_DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    if (req->upload_size + size > HTTP_UPLOAD_MAX) {
        req->too_big = true;
        upload->discarded = size;
        s_upload_drop (req);
        return MHD_YES;
    }
    if (!req->upload_path) {
        char path[PATH_MAX + 32];
        snprintf (path, sizeof path, "%s/upload-XXXXXX", self->upload_dir);
        int fd = mkstemp (path);
        if (fd < 0) {
            upload->error = errno;
            upload->discarded = size;
            wa_warn ("http: cannot create an upload file in '%s': %s", self->upload_dir, strerror (errno));
            return MHD_YES;
        }
        fcntl (fd, F_SETFD, FD_CLOEXEC);
        fchmod (fd, 0640);
        req->upload_fd = fd;
        req->upload_path = s_strdup (path);
    }
    const char *next = data;
    size_t left = size;
    while (left) {
        ssize_t written = write (req->upload_fd, next, left);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            upload->error = written < 0 ? errno : EIO;
            upload->discarded = left;
            wa_warn ("http: cannot write '%s': %s", req->upload_path, strerror (upload->error));
            s_upload_drop (req);
            return MHD_YES;
        }
        next += written;
        left -= (size_t) written;
    }
    crypto_hash_sha256_update (&upload->hash, (const unsigned char *) data, size);
    req->upload_size += size;
    return MHD_YES;
}

static void
s_client_address (struct MHD_Connection *connection, char *buf, size_t size)
{
    snprintf (buf, size, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf, (socklen_t) size);
    else
    if (sa->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, (socklen_t) size);
}

//  MHD calls this for the headers, for each piece of the body, once more at
//  the end of the body, and again after a resume.
static enum MHD_Result
s_on_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    http_server_t *self = cls;
    http_req_t *req = *con_cls;
    if (!req) {
        req = calloc (1, self->req_size);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        req->server = self;
        req->connection = connection;
        req->upload_fd = -1;
        req->response_fd = -1;
        req->upload = streq (method, MHD_HTTP_METHOD_POST) && streq (url, HTTP_UPLOAD_PATH);
        uint64_t limit = req->upload ? HTTP_UPLOAD_MAX : self->max_body;
        snprintf (req->method, sizeof req->method, "%s", method);
        req->path = s_strdup (url);
        const char *auth = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_AUTHORIZATION);
        if (auth)
            req->authorization = s_strdup (auth);
        const char *format = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "format");
        if (format)
            req->format = s_strdup (format);
        const char *key = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Idempotency-Key");
        if (key)
            req->idempotency_key = s_strdup (key);
        s_client_address (connection, req->client, sizeof req->client);
        //  A declared length over the limit is refused before the body comes.
        const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull (length, NULL, 10) > limit) {
            req->too_big = true;
            req->state = REQ_ANSWERED;
            char details[96];
            snprintf (details, sizeof details, "the request body is larger than %" PRIu64 " bytes", limit);
            return s_queue_error (connection, 413, WA_ERR_INVALID, details);
        }
        if (req->upload) {
            const char *type = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_CONTENT_TYPE);
            if (type)
                req->upload_type = s_strdup (type);
            req->upload_counted = true;
            if (atomic_fetch_add (&self->uploads, 1) >= UPLOADS_MAX) {
                req->state = REQ_ANSWERED;
                return s_queue_error (connection, 503, WA_ERR_OVERLOADED, "too many uploads at once: try again later");
            }
            upload_t *upload = calloc (1, sizeof *upload);
            if (!upload)
                return MHD_NO;
            crypto_hash_sha256_init (&upload->hash);
            req->upload_state = upload;
        }
        return MHD_YES;
    }
    if (*upload_data_size && req->upload) {
        enum MHD_Result rc = s_upload_data (self, req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return rc;
    }
    if (*upload_data_size) {
        //  A chunked body over the limit: read on, keep nothing, refuse at the end.
        if (!req->too_big && req->body_len + *upload_data_size > self->max_body) {
            req->too_big = true;
            free (req->body);
            req->body = NULL;
            req->body_len = 0;
        }
        if (!req->too_big) {
            char *grown = realloc (req->body, req->body_len + *upload_data_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy (grown + req->body_len, upload_data, *upload_data_size);
            req->body = grown;
            req->body_len += *upload_data_size;
            req->body[req->body_len] = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_ANSWERED) {
        if (req->response_fd >= 0) {
            int fd = req->response_fd;
            req->response_fd = -1;
            free (req->response);
            req->response = NULL;
            return s_queue_file (connection, req->status, fd, req->response_size, req->response_type);
        }
        if (!req->response)
            return MHD_YES;         //  queued at the first call already
        char *body = req->response;
        req->response = NULL;
        return s_queue_typed (connection, req->status, body, req->response_len, req->allow,
                              req->content_type ? req->content_type : "application/json");
    }
    if (req->state == REQ_HANDED)
        return MHD_YES;
    if (req->too_big) {
        char details[96];
        snprintf (details, sizeof details, "the request body is larger than %" PRIu64 " bytes",
                  req->upload ? HTTP_UPLOAD_MAX : (uint64_t) self->max_body);
        req->state = REQ_ANSWERED;
        return s_queue_error (connection, 413, WA_ERR_INVALID, details);
    }
    upload_t *upload = req->upload_state;
    if (upload) {
        req->upload_state = NULL;
        int error = upload->error;
        unsigned char hash[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final (&upload->hash, hash);
        sodium_bin2hex (req->upload_sha256, sizeof req->upload_sha256, hash, sizeof hash);
        free (upload);
        if (error) {
            char details[160];
            snprintf (details, sizeof details, "cannot store the upload: %s", strerror (error));
            req->state = REQ_ANSWERED;
            return s_queue_error (connection, 500, WA_ERR_INTERNAL, details);
        }
    }
    //  Counted before the flag is read: the reactor, which sets the flag
    //  and then waits for the count to reach 0, cannot miss this request.
    atomic_fetch_add (&self->waiting, 1);
    if (atomic_load (&self->stopping)) {
        atomic_fetch_sub (&self->waiting, 1);
        req->state = REQ_ANSWERED;
        return s_queue_error (connection, 503, WA_ERR_NOT_READY, "the server is shutting down");
    }
    //  Suspended before the handover: the reactor may answer at once.
    req->state = REQ_HANDED;
    MHD_suspend_connection (connection);
    if (zmq_send (zsock_resolve (self->push), &req, sizeof req, ZMQ_DONTWAIT) != (int) sizeof req) {
        atomic_fetch_sub (&self->waiting, 1);
        req->response = s_error_body (WA_ERR_OVERLOADED, "too many requests are waiting", &req->response_len);
        req->status = 503;
        req->state = REQ_ANSWERED;
        MHD_resume_connection (connection);
    }
    return MHD_YES;
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    (void) connection;
    (void) toe;
    http_req_t *req = *con_cls;
    if (!req)
        return;
    //  Never while the reactor holds it: the server stops only once every
    //  handed-over request has been answered.
    assert (req->state != REQ_HANDED);
    http_server_t *self = cls;
    if (req->upload_counted)
        atomic_fetch_sub (&self->uploads, 1);
    s_upload_drop (req);
    free (req->upload_state);
    free (req->upload_type);
    if (req->response_fd >= 0)
        close (req->response_fd);
    free (req->path);
    free (req->authorization);
    free (req->idempotency_key);
    free (req->format);
    free (req->body);
    free (req->response);
    free (req);
    *con_cls = NULL;
}

static void
s_on_log (void *cls, const char *fmt, va_list args)
{
    (void) cls;
    char text[512];
    vsnprintf (text, sizeof text, fmt, args);
    size_t len = strlen (text);
    while (len && text[len - 1] == '\n')
        text[--len] = 0;
    wa_warn ("http: %s", text);
}

static char *
s_read_file (const char *key, const char *path, char *err, size_t errlen)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, errlen, "%s: cannot read '%s': %s", key, path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0, len = 0;
    while (true) {
        if (len + 4097 > size) {
            size = size ? size * 2 : 8192;
            char *grown = realloc (text, size);
            assert (grown);
            text = grown;
        }
        size_t n = fread (text + len, 1, size - len - 1, file);
        len += n;
        if (n == 0)
            break;
    }
    bool failed = ferror (file) || len == 0 || len > 1024 * 1024;
    fclose (file);
    text[len] = 0;
    if (failed || !strstr (text, "-----BEGIN ")) {
        snprintf (err, errlen, "%s: '%s' is not a PEM file", key, path);
        free (text);
        return NULL;
    }
    return text;
}

http_server_t *
http_server_new (const wa_config_t *config, size_t req_size, zsock_t **requests, char *err, size_t errlen)
{
    assert (req_size >= sizeof (http_req_t));
    if (!*config->webapp_tls_cert != !*config->webapp_tls_key) {
        snprintf (err, errlen, "webapp_tls_cert and webapp_tls_key go together: set both for HTTPS, neither for HTTP");
        return NULL;
    }
    http_server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->req_size = req_size;
    self->max_body = (size_t) config->webapp_max_body;
    snprintf (self->upload_dir, sizeof self->upload_dir, "%s/%s", config->media_dir, HTTP_UPLOAD_DIR);
    self->tls = *config->webapp_tls_cert != 0;
    if (self->tls) {
        if (!MHD_is_feature_supported (MHD_FEATURE_TLS)) {
            snprintf (err, errlen, "webapp_tls_cert is set but this libmicrohttpd has no TLS support");
            goto failed;
        }
        self->cert = s_read_file ("webapp_tls_cert", config->webapp_tls_cert, err, errlen);
        if (!self->cert)
            goto failed;
        self->key = s_read_file ("webapp_tls_key", config->webapp_tls_key, err, errlen);
        if (!self->key)
            goto failed;
    }
    struct sockaddr_in6 addr6;
    struct sockaddr_in addr4;
    struct sockaddr *addr = (struct sockaddr *) &addr4;
    memset (&addr4, 0, sizeof addr4);
    memset (&addr6, 0, sizeof addr6);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported (MHD_FEATURE_EPOLL) ? MHD_USE_EPOLL : MHD_USE_POLL;
    if (self->tls)
        flags |= MHD_USE_TLS;
    const char *bind = config->webapp_bind;
    addr4.sin_family = AF_INET;
    addr4.sin_port = htons ((uint16_t) config->webapp_port);
    if (streq (bind, "*"))
        addr4.sin_addr.s_addr = htonl (INADDR_ANY);
    else
    if (inet_pton (AF_INET6, bind, &addr6.sin6_addr) == 1) {
        addr6.sin6_family = AF_INET6;
        addr6.sin6_port = htons ((uint16_t) config->webapp_port);
        addr = (struct sockaddr *) &addr6;
        flags |= MHD_USE_IPv6;
    }
    else
    if (inet_pton (AF_INET, bind, &addr4.sin_addr) != 1) {
        snprintf (err, errlen, "webapp_bind: '%s' is not an IP address (or \"*\")", bind);
        goto failed;
    }
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://waweb-requests-%p", (void *) self);
    *requests = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (*requests, HANDOVER_MAX / 2);
    zsock_bind (*requests, "%s", endpoint);
    self->push = zsock_new (ZMQ_PUSH);
    zsock_set_sndhwm (self->push, HANDOVER_MAX / 2);
    zsock_connect (self->push, "%s", endpoint);

    //  Signals go to the reactor's thread, never to MHD's: the thread it
    //  starts inherits this mask.
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    //  Without TLS the list ends before the TLS options.
    self->daemon = MHD_start_daemon (flags, (uint16_t) config->webapp_port, NULL, NULL, s_on_access, self,
                                     MHD_OPTION_EXTERNAL_LOGGER, s_on_log, self,
                                     MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HEADER_MEMORY,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned int) CONNECTIONS_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_TIMEOUT,
                                     MHD_OPTION_SOCK_ADDR, addr,
                                     self->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, self->key,
                                     MHD_OPTION_HTTPS_MEM_CERT, self->cert,
                                     MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (!self->daemon) {
        snprintf (err, errlen, "cannot serve HTTP%s on %s:%d: %s", self->tls ? "S" : "", bind,
                  config->webapp_port, self->tls ? "bad certificate or key, or the port is taken"
                                                 : strerror (saved));
        zsock_destroy (requests);
        goto failed;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : config->webapp_port;
    return self;

failed:
    zsock_destroy (&self->push);
    free (self->cert);
    free (self->key);
    free (self);
    return NULL;
}

int
http_server_port (http_server_t *self)
{
    return self->port;
}

bool
http_server_tls (http_server_t *self)
{
    return self->tls;
}

http_req_t *
http_server_recv (http_server_t *self, zsock_t *requests)
{
    (void) self;
    http_req_t *req = NULL;
    if (zmq_recv (zsock_resolve (requests), &req, sizeof req, ZMQ_DONTWAIT) != (int) sizeof req)
        return NULL;
    assert (req && req->state == REQ_HANDED);
    return req;
}

void
http_respond (http_req_t *req, int status, char *body, size_t len, const char *allow)
{
    assert (req->state == REQ_HANDED);
    http_server_t *server = req->server;
    struct MHD_Connection *connection = req->connection;
    req->status = status;
    req->response = body;
    req->response_len = len;
    snprintf (req->allow, sizeof req->allow, "%s", allow ? allow : "");
    req->state = REQ_ANSWERED;
    atomic_fetch_sub (&server->waiting, 1);
    //  From here MHD's thread owns req (and may free it at once).
    MHD_resume_connection (connection);
}

void
http_req_send_file (http_req_t *req, int fd, uint64_t size, const char *type)
{
    assert (req->state == REQ_HANDED && fd >= 0);
    if (req->response_fd >= 0)
        close (req->response_fd);
    req->response_fd = fd;
    req->response_size = size;
    snprintf (req->response_type, sizeof req->response_type, "%s", type);
}

void
http_server_stop_handover (http_server_t *self)
{
    atomic_store (&self->stopping, true);
}

int
http_server_waiting (http_server_t *self)
{
    return atomic_load (&self->waiting);
}

void
http_server_destroy (http_server_t **self_p)
{
    http_server_t *self = *self_p;
    if (!self)
        return;
    assert (atomic_load (&self->waiting) == 0);
    MHD_stop_daemon (self->daemon);
    zsock_destroy (&self->push);
    free (self->cert);
    if (self->key)
        sodium_memzero (self->key, strlen (self->key));
    free (self->key);
    free (self);
    *self_p = NULL;
}
