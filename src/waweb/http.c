/*  http — see http.h */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sodium.h>
#include "wa_clock.h"
#include "wa_log.h"
#include "envelope.h"
#include "http.h"
#include "tlscert.h"

//  Request line and headers of one request: past this MHD answers 431.
#define HEADER_MEMORY (32 * 1024)
//  Seconds an idle connection stays open (a suspended one never times out);
//  the absolute deadlines (webapp_header_timeout, webapp_body_timeout) are
//  the sweep's.
#define IDLE_TIMEOUT 60
//  Requests handed over and not yet read by the reactor; past this: 503.
#define HANDOVER_MAX 50000
//  Uploads streaming in at once (each after its credentials were checked,
//  each within webapp_body_timeout). Past this: 503.
#define UPLOADS_MAX 64
//  libmicrohttpd's own messages (one per connection it gives up on, say)
//  and the sweep's: at most LOG_BURST per LOG_WINDOW, then a count.
#define LOG_BURST 10
#define LOG_WINDOW (10 * WA_USEC_PER_SEC)
//  HTTPS: TLS 1.2 and 1.3 only (GnuTLS priority string).
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
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

//  A connection, for its absolute deadline: in the server's list from
//  libmicrohttpd's "started" to its "closed", under the server's lock (so
//  the sweep never touches a closed descriptor).
typedef struct conn_t {
    int fd;
    wa_usec_t deadline;         //  monotonic; 0 when none runs
    struct conn_t *prev, *next;
} conn_t;

enum { REQ_READING = 0, REQ_HANDED, REQ_BODY, REQ_ANSWERED };

struct http_server_t {
    struct MHD_Daemon *daemon;
    zsock_t *push;              //  the MHD thread's end of the handover
    size_t req_size;
    size_t max_body;
    int port;
    bool tls;
    tlscert_t *certs;           //  what HTTPS offers (changed while running: tlscert.h)
    atomic_int waiting;         //  handed over, not yet answered
    atomic_bool stopping;
    char upload_dir[PATH_MAX];  //  where uploads stream to
    atomic_int uploads;         //  streaming in now
    uint64_t max_body_total;
    atomic_ullong body_total;   //  bytes of bodies held in memory now
    wa_usec_t header_timeout;
    wa_usec_t body_timeout;
    pthread_mutex_t lock;       //  conns and their deadlines
    conn_t *conns;
    pthread_mutex_t log_lock;
    wa_usec_t log_until;        //  end of the current window
    int log_count;              //  messages in it
    int log_suppressed;         //  not logged in it
};

//  A message, within LOG_BURST per LOG_WINDOW; past it only counted, and
//  the count logged once the window is over.
static void
s_log_va (http_server_t *self, const char *fmt, va_list args)
{
    pthread_mutex_lock (&self->log_lock);
    wa_usec_t now = wa_clock_mono ();
    if (now >= self->log_until) {
        if (self->log_suppressed)
            wa_warn ("http: %d more messages were not logged in the last %d s", self->log_suppressed,
                     (int) (LOG_WINDOW / WA_USEC_PER_SEC));
        self->log_until = now + LOG_WINDOW;
        self->log_count = 0;
        self->log_suppressed = 0;
    }
    if (fmt && self->log_count < LOG_BURST) {
        self->log_count++;
        char text[512];
        vsnprintf (text, sizeof text, fmt, args);
        size_t len = strlen (text);
        while (len && text[len - 1] == '\n')
            text[--len] = 0;
        wa_warn ("http: %s", text);
    }
    else
    if (fmt)
        self->log_suppressed++;
    pthread_mutex_unlock (&self->log_lock);
}

static void
s_log (http_server_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    s_log_va (self, fmt, args);
    va_end (args);
}

static void
s_conn_deadline (http_server_t *self, conn_t *conn, wa_usec_t deadline)
{
    if (!conn)
        return;
    pthread_mutex_lock (&self->lock);
    conn->deadline = deadline;
    pthread_mutex_unlock (&self->lock);
}

//  Count bytes more of body in memory; false (nothing counted) past the total.
static bool
s_reserve (http_server_t *self, http_req_t *req, uint64_t bytes)
{
    if (atomic_fetch_add (&self->body_total, bytes) + bytes > self->max_body_total) {
        atomic_fetch_sub (&self->body_total, bytes);
        return false;
    }
    req->reserved += bytes;
    return true;
}

static void
s_body_drop (http_server_t *self, http_req_t *req)
{
    free (req->body);
    req->body = NULL;
    req->body_len = 0;
    atomic_fetch_sub (&self->body_total, req->reserved);
    req->reserved = 0;
}

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
    if (req->upload_size + size > req->limit) {
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

//  A piece of a body kept in memory: within webapp_max_body (then 413)
//  and, with every other request's, webapp_max_body_total (then 503). Past
//  either the body is read on and thrown away, and refused at its end.
static enum MHD_Result
s_body_data (http_server_t *self, http_req_t *req, const char *data, size_t size)
{
    if (req->too_big || req->overloaded)
        return MHD_YES;
    size_t need = req->body_len + size;
    if (need > req->limit) {
        req->too_big = true;
        s_body_drop (self, req);
        return MHD_YES;
    }
    if (need > req->reserved && !s_reserve (self, req, need - req->reserved)) {
        req->overloaded = true;
        s_body_drop (self, req);
        return MHD_YES;
    }
    char *grown = realloc (req->body, need + 1);
    if (!grown)
        return MHD_NO;
    memcpy (grown + req->body_len, data, size);
    req->body = grown;
    req->body_len = need;
    req->body[need] = 0;
    return MHD_YES;
}

//  To the reactor, the connection suspended until it answers (or, at the
//  headers, until it lets the body be read).
static enum MHD_Result
s_handover (http_server_t *self, http_req_t *req, struct MHD_Connection *connection)
{
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

//  The first call: the request line and headers are in, nothing of the body.
static enum MHD_Result
s_on_headers (http_server_t *self, struct MHD_Connection *connection, const char *url, const char *method,
              void **con_cls)
{
    http_req_t *req = calloc (1, self->req_size);
    if (!req)
        return MHD_NO;
    *con_cls = req;
    req->server = self;
    req->connection = connection;
    req->upload_fd = -1;
    req->response_fd = -1;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn = info ? info->socket_context : NULL;
    s_conn_deadline (self, req->conn, 0);
    //  The profile photo streams in as a media upload does; a restore's
    //  body (a backup, the photo in it) may pass webapp_max_body.
    bool post = streq (method, MHD_HTTP_METHOD_POST);
    bool photo = post && streq (url, HTTP_PHOTO_PATH);
    req->upload = (post && streq (url, HTTP_UPLOAD_PATH)) || photo;
    uint64_t limit = photo ? HTTP_PHOTO_MAX : req->upload ? HTTP_UPLOAD_MAX
                   : post && streq (url, HTTP_RESTORE_PATH) && HTTP_RESTORE_MAX > self->max_body ? HTTP_RESTORE_MAX
                   : self->max_body;
    req->limit = limit;
    snprintf (req->method, sizeof req->method, "%s", method);
    req->path = s_strdup (url);
    const char *auth = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth)
        req->authorization = s_strdup (auth);
    const char *format = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "format");
    if (format)
        req->format = s_strdup (format);
    const char *space = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "namespace");
    if (space)
        req->namespace_ = s_strdup (space);
    const char *key = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Idempotency-Key");
    if (key)
        req->idempotency_key = s_strdup (key);
    s_client_address (connection, req->client, sizeof req->client);
    const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    req->declared = length ? strtoull (length, NULL, 10) : 0;
    const char *encoding = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_TRANSFER_ENCODING);
    req->has_body = req->declared > 0 || (encoding && *encoding);     //  chunked
    //  A declared length over the limit is refused before the body comes.
    if (req->declared > limit) {
        req->too_big = true;
        req->state = REQ_ANSWERED;
        char details[96];
        snprintf (details, sizeof details, "the request body is larger than %" PRIu64 " bytes", limit);
        return s_queue_error (connection, 413, WA_ERR_INVALID, details);
    }
    const char *expect = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    req->expect_continue = expect && strcasecmp (expect, "100-continue") == 0;
    if (req->upload) {
        const char *type = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_CONTENT_TYPE);
        if (type)
            req->upload_type = s_strdup (type);
    }
    return s_handover (self, req, connection);
}

//  MHD calls this for the headers, again after a resume, for each piece of
//  the body, and once more at the end of the body.
static enum MHD_Result
s_on_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    http_server_t *self = cls;
    http_req_t *req = *con_cls;
    if (!req)
        return s_on_headers (self, connection, url, method, con_cls);
    if (req->state == REQ_HANDED)
        return MHD_YES;
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
        //  Answered at the headers (a 401, say): libmicrohttpd reads none of
        //  the body and closes the connection once the answer is sent.
        return s_queue_typed (connection, req->status, body, req->response_len, req->allow,
                              req->content_type ? req->content_type : "application/json");
    }
    //  An answer given at the headers, the body read and thrown away.
    if (req->discard) {
        if (*upload_data_size) {
            req->repeat_call = false;
            req->discarded += *upload_data_size;
            *upload_data_size = 0;
            return req->discarded > UPLOAD_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (req->repeat_call) {
            req->repeat_call = false;
            return MHD_YES;
        }
        s_conn_deadline (self, req->conn, 0);
        req->state = REQ_ANSWERED;
        char *body = req->response;
        req->response = NULL;
        return s_queue_typed (connection, req->status, body, req->response_len, req->allow,
                              req->content_type ? req->content_type : "application/json");
    }
    //  REQ_BODY: the reactor accepted the credentials.
    if (*upload_data_size) {
        req->repeat_call = false;
        enum MHD_Result rc = req->upload ? s_upload_data (self, req, upload_data, *upload_data_size)
                                         : s_body_data (self, req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return rc;
    }
    if (req->repeat_call) {         //  the headers' call again, after the resume
        req->repeat_call = false;
        return MHD_YES;
    }
    //  The end of the body.
    s_conn_deadline (self, req->conn, 0);
    if (req->too_big) {
        char details[96];
        snprintf (details, sizeof details, "the request body is larger than %" PRIu64 " bytes",
                  req->limit);
        req->state = REQ_ANSWERED;
        return s_queue_error (connection, 413, WA_ERR_INVALID, details);
    }
    if (req->overloaded) {
        req->state = REQ_ANSWERED;
        return s_queue_error (connection, 503, WA_ERR_OVERLOADED,
                              "too many request bodies are held in memory: try again later");
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
    req->body_read = true;
    return s_handover (self, req, connection);
}

//  A connection starts (its header deadline runs) or ends.
static void
s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
    http_server_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_t *conn = calloc (1, sizeof *conn);
        if (!conn)
            return;
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn->fd = info ? info->connect_fd : -1;
        pthread_mutex_lock (&self->lock);
        conn->deadline = wa_clock_mono () + self->header_timeout;
        conn->next = self->conns;
        if (self->conns)
            self->conns->prev = conn;
        self->conns = conn;
        pthread_mutex_unlock (&self->lock);
        *socket_context = conn;
    }
    else
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_t *conn = *socket_context;
        if (!conn)
            return;
        pthread_mutex_lock (&self->lock);
        if (conn->prev)
            conn->prev->next = conn->next;
        else
            self->conns = conn->next;
        if (conn->next)
            conn->next->prev = conn->prev;
        pthread_mutex_unlock (&self->lock);
        free (conn);
        *socket_context = NULL;
    }
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
    //  The next request on this connection has webapp_header_timeout.
    s_conn_deadline (self, req->conn, wa_clock_mono () + self->header_timeout);
    s_body_drop (self, req);
    s_upload_drop (req);
    free (req->upload_state);
    free (req->upload_type);
    if (req->response_fd >= 0)
        close (req->response_fd);
    free (req->path);
    free (req->authorization);
    free (req->idempotency_key);
    free (req->format);
    free (req->namespace_);
    free (req->response);
    free (req);
    *con_cls = NULL;
}

static void
s_on_log (void *cls, const char *fmt, va_list args)
{
    s_log_va (cls, fmt, args);
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
    self->max_body_total = (uint64_t) config->webapp_max_body_total;
    self->header_timeout = wa_clock_from_sec (config->webapp_header_timeout);
    self->body_timeout = wa_clock_from_sec (config->webapp_body_timeout);
    pthread_mutex_init (&self->lock, NULL);
    pthread_mutex_init (&self->log_lock, NULL);
    snprintf (self->upload_dir, sizeof self->upload_dir, "%s/%s", config->media_dir, HTTP_UPLOAD_DIR);
    self->tls = *config->webapp_tls_cert != 0;
    if (self->tls) {
        if (!MHD_is_feature_supported (MHD_FEATURE_TLS)) {
            snprintf (err, errlen, "webapp_tls_cert is set but this libmicrohttpd has no TLS support");
            goto failed;
        }
        char *cert = s_read_file ("webapp_tls_cert", config->webapp_tls_cert, err, errlen);
        char *key = cert ? s_read_file ("webapp_tls_key", config->webapp_tls_key, err, errlen) : NULL;
        if (key) {
            self->certs = tlscert_new (cert, key, "webapp_tls_cert", err, errlen);
            sodium_memzero (key, strlen (key));
        }
        free (cert);
        free (key);
        if (!self->certs)
            goto failed;
    }
    struct sockaddr_in6 addr6;
    struct sockaddr_in addr4;
    struct sockaddr *addr = (struct sockaddr *) &addr4;
    memset (&addr4, 0, sizeof addr4);
    memset (&addr6, 0, sizeof addr6);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    //  poll, not epoll: with libmicrohttpd 0.9.75's epoll a resumed
    //  connection could go unnoticed while every connection was suspended
    //  (each request waits suspended for the reactor), and the server then
    //  stalled until the header deadline cut them all (bench-api at 256
    //  connections, 3 runs in 3; test_waweb_edge). poll served as fast at
    //  64 connections and at 256 without a stall.
    flags |= MHD_USE_POLL;
    if (self->tls)
        flags |= MHD_USE_TLS;
    const char *bind = config->webapp_bind;
    //  Behind a container's published port the port bound differs from the
    //  one clients are told (webapp_bind_port).
    int port = wa_config_webapp_bind_port (config);
    addr4.sin_family = AF_INET;
    addr4.sin_port = htons ((uint16_t) port);
    if (streq (bind, "*"))
        addr4.sin_addr.s_addr = htonl (INADDR_ANY);
    else
    if (inet_pton (AF_INET6, bind, &addr6.sin6_addr) == 1) {
        addr6.sin6_family = AF_INET6;
        addr6.sin6_port = htons ((uint16_t) port);
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
    self->daemon = MHD_start_daemon (flags, (uint16_t) port, NULL, NULL, s_on_access, self,
                                     MHD_OPTION_EXTERNAL_LOGGER, s_on_log, self,
                                     MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
                                     MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HEADER_MEMORY,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned int) config->webapp_max_connections,
                                     MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                     (unsigned int) config->webapp_max_connections_per_address,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_TIMEOUT,
                                     MHD_OPTION_SOCK_ADDR, addr,
                                     self->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END,
                                     tlscert_retrieve,
                                     MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
                                     MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (!self->daemon) {
        snprintf (err, errlen, "cannot serve HTTP%s on %s:%d: %s", self->tls ? "S" : "", bind,
                  port, self->tls ? "bad certificate or key, or the port is taken"
                                                 : strerror (saved));
        zsock_destroy (requests);
        goto failed;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    return self;

failed:
    zsock_destroy (&self->push);
    pthread_mutex_destroy (&self->lock);
    pthread_mutex_destroy (&self->log_lock);
    tlscert_destroy (&self->certs);
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

tlscert_t *
http_server_certs (http_server_t *self)
{
    return self->certs;
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
    if (req->has_body && !req->body_read && !req->expect_continue && req->response_fd < 0) {
        //  Its body is coming anyway: read it, keep none of it, then answer.
        req->discard = true;
        req->repeat_call = true;
        req->state = REQ_BODY;
        s_conn_deadline (server, req->conn, wa_clock_mono () + server->body_timeout);
    }
    atomic_fetch_sub (&server->waiting, 1);
    //  From here MHD's thread owns req (and may free it at once).
    MHD_resume_connection (connection);
}

const char *
http_read_body (http_req_t *req)
{
    assert (req->state == REQ_HANDED && req->has_body && !req->body_read);
    http_server_t *self = req->server;
    if (req->upload) {
        if (atomic_fetch_add (&self->uploads, 1) >= UPLOADS_MAX) {
            atomic_fetch_sub (&self->uploads, 1);
            return "too many uploads at once: try again later";
        }
        req->upload_counted = true;
        upload_t *upload = calloc (1, sizeof *upload);
        assert (upload);
        crypto_hash_sha256_init (&upload->hash);
        req->upload_state = upload;
    }
    else
    if (req->declared && !s_reserve (self, req, req->declared))
        return "too many request bodies are held in memory: try again later";
    s_conn_deadline (self, req->conn, wa_clock_mono () + self->body_timeout);
    req->repeat_call = true;
    req->state = REQ_BODY;
    atomic_fetch_sub (&self->waiting, 1);
    //  From here MHD's thread owns req (and may free it at once).
    MHD_resume_connection (req->connection);
    return NULL;
}

int
http_server_sweep (http_server_t *self)
{
    int closed = 0;
    wa_usec_t now = wa_clock_mono ();
    pthread_mutex_lock (&self->lock);
    for (conn_t *conn = self->conns; conn; conn = conn->next)
        if (conn->deadline && now >= conn->deadline && conn->fd >= 0) {
            //  libmicrohttpd sees the end of the stream and closes it (and
            //  ends its request: an upload's file goes).
            shutdown (conn->fd, SHUT_RDWR);
            conn->deadline = 0;
            closed++;
        }
    pthread_mutex_unlock (&self->lock);
    if (closed)
        s_log (self, "closed %d connection%s past webapp_header_timeout or webapp_body_timeout", closed,
               closed == 1 ? "" : "s");
    else
        s_log (self, NULL);         //  the count of a window that is over
    return closed;
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
    pthread_mutex_destroy (&self->lock);
    pthread_mutex_destroy (&self->log_lock);
    tlscert_destroy (&self->certs);
    free (self);
    *self_p = NULL;
}
