/*  wahook — a webhook receiver for tests and demos: it answers every POST
    and appends it, with its arrival time, as one JSON line to a file. It
    can be told to fail (answer 500) for a while, to see the cluster's
    retries and backoff, or to answer slowly, to see how many POSTs the
    cluster has in flight at once. libmicrohttpd with one polling thread;
    a slow answer is a suspended connection that a second thread resumes
    when its time comes, so it holds nothing else up. One lock guards what
    both threads touch. With --secret-file it checks each POST's
    X-Hub-Signature-256 (the cluster's webhooks_secret) on its own, with
    libsodium, and answers a missing or wrong one with 401.

    With --files DIR it is also a media server for the tests of media
    links: GET /files/NAME serves DIR/NAME with the type asked for, late,
    or only with the right credentials; GET /redirect and /loop redirect.
    Each GET is a line of the output file too. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#define BODY_MAX (1024 * 1024)

typedef struct {
    FILE *out;
    const char *path;
    double fail_until;          //  unix seconds; answer fail_status before it
    int fail_status;
    int delay_ms;               //  each POST is answered this much later
    uint64_t received;
    uint64_t failed;
    int in_flight;              //  POSTs being answered now
    int max_in_flight;          //  the most at once since the last reset
    pthread_mutex_t lock;
    pthread_cond_t wake;        //  the resumer has something new to wait for
    struct delayed_s *delayed;  //  suspended connections, by due time
    bool stopping;
    char secret[256];           //  --secret-file's; "": signatures are not checked
    uint64_t bad_signatures;
    const char *files;          //  --files: the folder GET /files/NAME serves; NULL: none
} hook_t;

//  A connection whose answer waits.
typedef struct delayed_s {
    struct delayed_s *next;
    double due;
    struct MHD_Connection *connection;
} delayed_t;

typedef struct {
    char *body;
    size_t len;
    bool too_big;
    bool suspended;             //  answered late: status waits here
    unsigned int status;
    int fd;                     //  GET /files: the file to serve once resumed (-1: none)
    char type[128];
    bool chunked;               //  served without a Content-Length
} request_t;

static hook_t s_hook = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static enum MHD_Result
s_answer (struct MHD_Connection *connection, unsigned int status, json_t *body)
{
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    if (!text)
        return MHD_NO;
    size_t len = strlen (text);
    text[len] = 0;
    struct MHD_Response *response = MHD_create_response_from_buffer (len, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  "valid", "invalid" or "missing": the request's X-Hub-Signature-256
//  against the HMAC-SHA256 of its body with the secret.
static const char *
s_signature (struct MHD_Connection *connection, const request_t *request)
{
    const char *header = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "X-Hub-Signature-256");
    if (!header)
        return "missing";
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, (const unsigned char *) s_hook.secret, strlen (s_hook.secret));
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) (request->body ? request->body : ""),
                                   request->len);
    crypto_auth_hmacsha256_final (&state, mac);
    char expected[7 + 2 * sizeof mac + 1] = "sha256=";
    sodium_bin2hex (expected + 7, sizeof expected - 7, mac, sizeof mac);
    bool valid = strlen (header) == strlen (expected) && sodium_memcmp (header, expected, strlen (expected)) == 0;
    return valid ? "valid" : "invalid";
}

//  --------------------------------------------------------------------------
//  The media server (--files)

//  A chunked body: the file, read as MHD asks for it.
static ssize_t
s_read_file (void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t got = pread ((int) (intptr_t) cls, buf, max, (off_t) pos);
    return got > 0 ? got : got == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
s_close_file (void *cls)
{
    close ((int) (intptr_t) cls);
}

static enum MHD_Result
s_answer_file (struct MHD_Connection *connection, request_t *request)
{
    struct stat st;
    if (fstat (request->fd, &st)) {
        close (request->fd);
        request->fd = -1;
        return s_answer (connection, MHD_HTTP_INTERNAL_SERVER_ERROR, json_pack ("{s:s}", "error", "stat"));
    }
    struct MHD_Response *response = request->chunked
        ? MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 65536, s_read_file, (void *) (intptr_t) request->fd,
                                             s_close_file)
        : MHD_create_response_from_fd ((uint64_t) st.st_size, request->fd);
    request->fd = -1;           //  the response's now
    if (!response)
        return MHD_NO;
    if (*request->type)
        MHD_add_response_header (response, "Content-Type", request->type);
    enum MHD_Result rc = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_redirect (struct MHD_Connection *connection, const char *to)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Location", to);
    enum MHD_Result rc = MHD_queue_response (connection, MHD_HTTP_FOUND, response);
    MHD_destroy_response (response);
    return rc;
}

static void s_delay (struct MHD_Connection *connection, request_t *request, double now, int ms);

//  One line for each GET: {"at","method":"GET","path","status","authorization"}.
static void
s_record_get (const char *url, unsigned int status, const char *authorization, double at)
{
    json_t *line = json_pack ("{s:f, s:s, s:s, s:i, s:s?}", "at", at, "method", "GET", "path", url, "status",
                              (int) status, "authorization", authorization);
    char *text = line ? json_dumps (line, JSON_COMPACT | JSON_REAL_PRECISION (17)) : NULL;
    if (text) {
        pthread_mutex_lock (&s_hook.lock);
        fprintf (s_hook.out, "%s\n", text);
        fflush (s_hook.out);
        pthread_mutex_unlock (&s_hook.lock);
        free (text);
    }
    json_decref (line);
}

//  GET /files/NAME[?type=T][&delay_ms=N][&auth=basic:USER:PASS|bearer:TOKEN]
//  GET /redirect?to=URL, GET /loop
static enum MHD_Result
s_get (struct MHD_Connection *connection, const char *url, request_t *request, double now)
{
    const char *authorization = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Authorization");
    if (strcmp (url, "/loop") == 0) {
        s_record_get (url, MHD_HTTP_FOUND, authorization, now);
        return s_redirect (connection, "/loop");
    }
    if (strcmp (url, "/redirect") == 0) {
        const char *to = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "to");
        s_record_get (url, to ? MHD_HTTP_FOUND : MHD_HTTP_BAD_REQUEST, authorization, now);
        return to ? s_redirect (connection, to)
                  : s_answer (connection, MHD_HTTP_BAD_REQUEST, json_pack ("{s:s}", "error", "GET /redirect?to=URL"));
    }
    const char *name = url + 7;
    if (strncmp (url, "/files/", 7) != 0 || !*name || strchr (name, '/') || strstr (name, "..")) {
        s_record_get (url, MHD_HTTP_NOT_FOUND, authorization, now);
        return s_answer (connection, MHD_HTTP_NOT_FOUND, json_pack ("{s:s}", "error", "GET /files/NAME"));
    }
    //  Credentials: "basic:USER:PASS" wants that Basic header, "bearer:T" that token.
    const char *auth = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "auth");
    if (auth) {
        char expected[600] = "";
        if (strncmp (auth, "bearer:", 7) == 0)
            snprintf (expected, sizeof expected, "Bearer %s", auth + 7);
        else
        if (strncmp (auth, "basic:", 6) == 0) {
            char plain[300], encoded[420];
            snprintf (plain, sizeof plain, "%s", auth + 6);
            sodium_bin2base64 (encoded, sizeof encoded, (const unsigned char *) plain, strlen (plain),
                               sodium_base64_VARIANT_ORIGINAL);
            snprintf (expected, sizeof expected, "Basic %s", encoded);
        }
        if (!authorization || strcmp (authorization, expected) != 0) {
            s_record_get (url, MHD_HTTP_UNAUTHORIZED, authorization, now);
            return s_answer (connection, MHD_HTTP_UNAUTHORIZED, json_pack ("{s:s}", "error", "credentials"));
        }
    }
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", s_hook.files, name);
    request->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (request->fd < 0) {
        s_record_get (url, MHD_HTTP_NOT_FOUND, authorization, now);
        return s_answer (connection, MHD_HTTP_NOT_FOUND, json_pack ("{s:s}", "error", "no such file"));
    }
    const char *type = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "type");
    snprintf (request->type, sizeof request->type, "%s", type ? type : "application/octet-stream");
    if (strcmp (request->type, "none") == 0)
        *request->type = 0;
    request->chunked = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "chunked") != NULL;
    s_record_get (url, MHD_HTTP_OK, authorization, now);
    const char *delay = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "delay_ms");
    int ms = delay ? atoi (delay) : 0;
    if (ms > 0 && ms <= 600000) {
        s_delay (connection, request, now, ms);
        return MHD_YES;
    }
    return s_answer_file (connection, request);
}

//  One line: {"at":UNIX_S,"status":N,"path":"...","body":JSON or text},
//  with "signature" when signatures are checked.
static void
s_record (const char *url, unsigned int status, const request_t *request, double at, const char *signature)
{
    json_t *line = json_object ();
    json_object_set_new (line, "at", json_real (at));
    json_object_set_new (line, "status", json_integer (status));
    json_object_set_new (line, "path", json_string (url));
    if (signature)
        json_object_set_new (line, "signature", json_string (signature));
    json_t *body = request->body ? json_loadb (request->body, request->len, 0, NULL) : NULL;
    if (!body && request->body)
        body = json_stringn (request->body, request->len);     //  NULL unless UTF-8
    json_object_set_new (line, "body", body ? body : json_null ());
    char *text = json_dumps (line, JSON_COMPACT | JSON_REAL_PRECISION (17));
    if (text) {
        fprintf (s_hook.out, "%s\n", text);
        fflush (s_hook.out);
        free (text);
    }
    json_decref (line);
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) cls;
    (void) version;
    request_t *request = *state;
    if (!request) {
        request = calloc (1, sizeof (request_t));
        if (!request)
            return MHD_NO;
        request->fd = -1;
        *state = request;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (request->len + *upload_data_size > BODY_MAX)
            request->too_big = true;
        else {
            char *body = realloc (request->body, request->len + *upload_data_size + 1);
            if (!body)
                return MHD_NO;
            memcpy (body + request->len, upload_data, *upload_data_size);
            request->body = body;
            request->len += *upload_data_size;
            body[request->len] = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (request->suspended && request->fd >= 0)     //  a GET resumed: its file
        return s_answer_file (connection, request);
    if (request->suspended)     //  resumed: its time has come
        return s_answer (connection, request->status, json_object ());
    double now = s_now ();
    if (s_hook.files && strcmp (method, "GET") == 0 && strcmp (url, "/stats") != 0)
        return s_get (connection, url, request, now);
    if (strcmp (url, "/stats") == 0 && strcmp (method, "GET") == 0) {
        pthread_mutex_lock (&s_hook.lock);
        json_t *stats = json_pack ("{s:I, s:I, s:f, s:b, s:i, s:i, s:i, s:I}", "received", (json_int_t) s_hook.received,
                                   "failed", (json_int_t) s_hook.failed, "fail_until", s_hook.fail_until,
                                   "failing", now < s_hook.fail_until, "delay_ms", s_hook.delay_ms,
                                   "in_flight", s_hook.in_flight, "max_in_flight", s_hook.max_in_flight,
                                   "bad_signatures", (json_int_t) s_hook.bad_signatures);
        pthread_mutex_unlock (&s_hook.lock);
        return s_answer (connection, MHD_HTTP_OK, stats);
    }
    if (strcmp (method, "POST") != 0)
        return s_answer (connection, MHD_HTTP_METHOD_NOT_ALLOWED, json_pack ("{s:s}", "error", "POST only"));
    if (strcmp (url, "/fail") == 0) {
        const char *seconds = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "seconds");
        char *end = NULL;
        double value = seconds ? strtod (seconds, &end) : -1;
        if (!seconds || end == seconds || *end || !(value >= 0 && value <= 86400 * 365))
            return s_answer (connection, MHD_HTTP_BAD_REQUEST,
                             json_pack ("{s:s}", "error", "POST /fail?seconds=N (0 to stop failing)"));
        pthread_mutex_lock (&s_hook.lock);
        s_hook.fail_until = value > 0 ? now + value : 0;
        double until = s_hook.fail_until;
        pthread_mutex_unlock (&s_hook.lock);
        fprintf (stderr, "wahook: %s\n", value > 0 ? "failing" : "answering 200 again");
        return s_answer (connection, MHD_HTTP_OK, json_pack ("{s:f}", "fail_until", until));
    }
    if (strcmp (url, "/delay") == 0) {
        const char *ms = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "ms");
        char *end = NULL;
        long value = ms ? strtol (ms, &end, 10) : -1;
        if (!ms || end == ms || *end || value < 0 || value > 60000)
            return s_answer (connection, MHD_HTTP_BAD_REQUEST,
                             json_pack ("{s:s}", "error", "POST /delay?ms=N (0 to 60000; resets max_in_flight)"));
        pthread_mutex_lock (&s_hook.lock);
        s_hook.delay_ms = (int) value;
        s_hook.max_in_flight = s_hook.in_flight;
        pthread_mutex_unlock (&s_hook.lock);
        return s_answer (connection, MHD_HTTP_OK, json_pack ("{s:i}", "delay_ms", (int) value));
    }
    if (request->too_big)
        return s_answer (connection, 413, json_pack ("{s:s}", "error", "body over 1 MiB"));
    const char *signature = *s_hook.secret ? s_signature (connection, request) : NULL;
    pthread_mutex_lock (&s_hook.lock);
    unsigned int status = now < s_hook.fail_until ? (unsigned int) s_hook.fail_status : MHD_HTTP_OK;
    if (signature && strcmp (signature, "valid") != 0) {
        status = MHD_HTTP_UNAUTHORIZED;
        s_hook.bad_signatures++;
    }
    s_hook.received++;
    if (status != MHD_HTTP_OK)
        s_hook.failed++;
    s_record (url, status, request, now, signature);
    if (++s_hook.in_flight > s_hook.max_in_flight)
        s_hook.max_in_flight = s_hook.in_flight;
    delayed_t *delayed = s_hook.delay_ms > 0 && !s_hook.stopping ? calloc (1, sizeof (delayed_t)) : NULL;
    if (delayed) {
        //  Answered when the resumer wakes it; in due order (one delay for all).
        delayed->due = now + s_hook.delay_ms / 1000.0;
        delayed->connection = connection;
        delayed_t **last = &s_hook.delayed;
        while (*last && (*last)->due <= delayed->due)
            last = &(*last)->next;
        delayed->next = *last;
        *last = delayed;
        request->suspended = true;
        request->status = status;
        MHD_suspend_connection (connection);
        pthread_cond_signal (&s_hook.wake);
        pthread_mutex_unlock (&s_hook.lock);
        return MHD_YES;
    }
    s_hook.in_flight--;
    pthread_mutex_unlock (&s_hook.lock);
    return s_answer (connection, status, json_object ());
}

//  A GET answered ms late (a slow media server): suspended, resumed by the
//  resumer; in_flight counts it like a late POST.
static void
s_delay (struct MHD_Connection *connection, request_t *request, double now, int ms)
{
    delayed_t *delayed = calloc (1, sizeof (delayed_t));
    if (!delayed) {
        s_answer_file (connection, request);
        return;
    }
    pthread_mutex_lock (&s_hook.lock);
    s_hook.in_flight++;
    delayed->due = now + ms / 1000.0;
    delayed->connection = connection;
    delayed_t **last = &s_hook.delayed;
    while (*last && (*last)->due <= delayed->due)
        last = &(*last)->next;
    delayed->next = *last;
    *last = delayed;
    request->suspended = true;
    MHD_suspend_connection (connection);
    pthread_cond_signal (&s_hook.wake);
    pthread_mutex_unlock (&s_hook.lock);
}

//  The second thread: resumes each suspended connection at its time (all of
//  them when stopping).
static void *
s_resumer (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_hook.lock);
    while (true) {
        delayed_t *first = s_hook.delayed;
        if (!first && s_hook.stopping)
            break;
        double now = s_now ();
        if (first && (first->due <= now || s_hook.stopping)) {
            s_hook.delayed = first->next;
            s_hook.in_flight--;
            //  Not under our lock: libmicrohttpd takes its own.
            pthread_mutex_unlock (&s_hook.lock);
            MHD_resume_connection (first->connection);
            free (first);
            pthread_mutex_lock (&s_hook.lock);
            continue;
        }
        if (!first)
            pthread_cond_wait (&s_hook.wake, &s_hook.lock);
        else {
            struct timespec until;
            double due = first->due;
            until.tv_sec = (time_t) due;
            until.tv_nsec = (long) ((due - (double) until.tv_sec) * 1e9);
            pthread_cond_timedwait (&s_hook.wake, &s_hook.lock, &until);
        }
    }
    pthread_mutex_unlock (&s_hook.lock);
    return NULL;
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **state, enum MHD_RequestTerminationCode why)
{
    (void) cls;
    (void) connection;
    (void) why;
    request_t *request = *state;
    if (request) {
        if (request->fd >= 0)
            close (request->fd);
        free (request->body);
        free (request);
        *state = NULL;
    }
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "wahook " WA_VERSION " — a webhook receiver for tests and demos\n\n"
             "Usage: wahook [options]\n\n"
             "Answers every POST with 200 and {} and appends it to the output file as one\n"
             "JSON line: {\"at\":UNIX_SECONDS,\"status\":HTTP_STATUS,\"path\":\"...\",\"body\":...}\n"
             "(the body as JSON, or as a string when it is not JSON). While told to fail, it\n"
             "answers --fail-status instead (and records that status), so the cluster's\n"
             "retries show with their times.\n\n"
             "Options:\n"
             "  -p, --port N           TCP port (default 9091; 0: any free port, printed)\n"
             "  -b, --bind ADDR        IPv4 address to listen on (default 127.0.0.1)\n"
             "  -o, --out FILE         append the lines here (default webhooks.jsonl; - for stdout)\n"
             "  -f, --fail-until S     fail until unix time S (fractions allowed)\n"
             "      --fail-status N    the status while failing (default 500; 400 to 599)\n"
             "      --secret-file F    check each POST's X-Hub-Signature-256 against the key in\n"
             "                         F's first line (the cluster's webhooks_secret): the line\n"
             "                         gets \"signature\": \"valid\", \"invalid\" or \"missing\",\n"
             "                         and the last two are answered 401\n"
             "      --files DIR        also serve media for tests of media links (below)\n"
             "  -h, --help             this text\n"
             "  -V, --version          print the version\n\n"
             "Control, while it runs:\n"
             "  POST /fail?seconds=N   fail for N seconds from now (0: stop failing)\n"
             "  POST /delay?ms=N       answer every POST N ms late (0 to 60000; 0: at once);\n"
             "                         also restarts the count of max_in_flight\n"
             "  GET /stats             {\"received\",\"failed\",\"fail_until\",\"failing\",\n"
             "                         \"delay_ms\",\"in_flight\",\"max_in_flight\",\n"
             "                         \"bad_signatures\"}: max_in_flight is\n"
             "                         the most POSTs it was answering at once\n\n"
             "With --files DIR (each GET is a line too: {\"at\",\"method\":\"GET\",\"path\",\n"
             "\"status\",\"authorization\"}):\n"
             "  GET /files/NAME        DIR/NAME, with ?type=T as its Content-Type (default\n"
             "                         application/octet-stream; none: no header), &delay_ms=N\n"
             "                         to answer N ms late, &auth=basic:USER:PASS or\n"
             "                         &auth=bearer:TOKEN to answer 401 without those credentials,\n"
             "                         &chunked=1 to send it chunked (no Content-Length)\n"
             "  GET /redirect?to=URL   302 to URL\n"
             "  GET /loop              302 to itself\n\n"
             "Once listening it prints \"wahook: listening on http://ADDR:PORT/ ...\" to\n"
             "stderr. SIGINT or SIGTERM stops it.\n");
}

static int
s_number (const char *text, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !(value >= min && value <= max))
        return -1;
    *out = value;
    return 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "out", required_argument, NULL, 'o' },
        { "fail-until", required_argument, NULL, 'f' },
        { "fail-status", required_argument, NULL, 's' },
        { "secret-file", required_argument, NULL, 'k' },
        { "files", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    double port = 9091, value;
    const char *bind = "127.0.0.1";
    s_hook.path = "webhooks.jsonl";
    s_hook.fail_status = 500;
    int opt;
    while ((opt = getopt_long (argc, argv, "p:b:o:f:hV", options, NULL)) != -1) {
        switch (opt) {
            case 'p':
                if (s_number (optarg, 0, 65535, &port) || port != (int) port) {
                    fprintf (stderr, "wahook: --port must be 0 to 65535\n");
                    return 2;
                }
                break;
            case 'b': bind = optarg; break;
            case 'o': s_hook.path = optarg; break;
            case 'f':
                if (s_number (optarg, 0, 1e12, &s_hook.fail_until)) {
                    fprintf (stderr, "wahook: --fail-until must be a unix time in seconds\n");
                    return 2;
                }
                break;
            case 's':
                if (s_number (optarg, 400, 599, &value) || value != (int) value) {
                    fprintf (stderr, "wahook: --fail-status must be 400 to 599\n");
                    return 2;
                }
                s_hook.fail_status = (int) value;
                break;
            case 'k': {
                FILE *file = fopen (optarg, "r");
                bool read = file && fgets (s_hook.secret, sizeof s_hook.secret, file);
                if (file)
                    fclose (file);
                if (!read) {
                    fprintf (stderr, "wahook: cannot read a secret from %s\n", optarg);
                    return 2;
                }
                s_hook.secret[strcspn (s_hook.secret, "\r\n")] = 0;
                break;
            }
            case 'F': s_hook.files = optarg; break;
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("wahook %s\n", WA_VERSION); return 0;
            default:
                fprintf (stderr, "wahook: try 'wahook --help'\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "wahook: unexpected argument '%s'; try 'wahook --help'\n", argv[optind]);
        return 2;
    }
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) port);
    if (inet_pton (AF_INET, bind, &address.sin_addr) != 1) {
        fprintf (stderr, "wahook: --bind must be an IPv4 address, not '%s'\n", bind);
        return 2;
    }
    s_hook.out = strcmp (s_hook.path, "-") == 0 ? stdout : fopen (s_hook.path, "a");
    if (!s_hook.out) {
        fprintf (stderr, "wahook: cannot open %s: %s\n", s_hook.path, strerror (errno));
        return 1;
    }
    //  The signals wait for sigwait below, in this thread only.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    struct MHD_Daemon *daemon = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO
                                                  | MHD_ALLOW_SUSPEND_RESUME,
                                                  0, NULL, NULL, s_access, NULL,
                                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                                                  MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
                                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
                                                  MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "wahook: cannot listen on %s:%d (in use?)\n", bind, (int) port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
    fprintf (stderr, "wahook: listening on http://%s:%u/, recording to %s%s\n", bind,
             info ? (unsigned int) info->port : (unsigned int) port, s_hook.path,
             s_hook.fail_until > s_now () ? " (failing for now)" : "");
    pthread_t resumer;
    if (pthread_create (&resumer, NULL, s_resumer, NULL)) {
        fprintf (stderr, "wahook: cannot start a thread\n");
        MHD_stop_daemon (daemon);
        return 1;
    }
    int signal = 0;
    sigwait (&signals, &signal);
    //  Every suspended connection must be resumed before the daemon stops.
    pthread_mutex_lock (&s_hook.lock);
    s_hook.stopping = true;
    pthread_cond_signal (&s_hook.wake);
    pthread_mutex_unlock (&s_hook.lock);
    pthread_join (resumer, NULL);
    MHD_stop_daemon (daemon);
    fprintf (stderr, "wahook: stopped after %" PRIu64 " POSTs (%" PRIu64 " answered %d)\n", s_hook.received,
             s_hook.failed, s_hook.fail_status);
    if (s_hook.out != stdout)
        fclose (s_hook.out);
    return 0;
}
