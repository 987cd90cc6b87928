/*  waload — the cluster's HTTP load generator and recorder: POST
    /v1/messages on a Webapp from one thread over up to N kept-alive
    connections (libcurl's multi interface), one JSON line per request
    recorded, a summary at the end. See waload --help and load.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "load.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

#define RECORD_BUFFER (1 << 20)
#define POLL_MAX_MS 50
#define STOP_FILE_EVERY 0.01

static volatile sig_atomic_t s_signals;

static void
s_on_signal (int signum)
{
    (void) signum;
    if (s_signals < 100)
        s_signals++;
}

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    bool busy;
    uint64_t n;
    char key[WALOAD_RUN_ID_MAX + 32];
    char to[32];
    char body[WALOAD_RUN_ID_MAX + 200];
    char *answer;
    size_t answer_len, answer_cap;
    bool truncated;
    double sent;                //  seconds from the start
    char errbuf[CURL_ERROR_SIZE];
} slot_t;

typedef struct {
    waload_opts_t opts;
    char token[600];
    char auth_header[700];
    char messages_url[WALOAD_URL_MAX + 32];
    CURLM *multi;
    slot_t *slots;
    slot_t **idle;              //  a stack of the slots not in flight
    int nidle;
    int in_flight;
    FILE *record;
    char *record_buffer;
    struct timespec mono0;
    double real0;               //  unix seconds at the start
    uint64_t next_n;            //  the next request's number
    uint64_t sent;
    waload_stats_t stats;
    const char *stopped_by;
    bool failed;
} load_t;

static double
s_now (const load_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) (ts.tv_sec - self->mono0.tv_sec) + (ts.tv_nsec - self->mono0.tv_nsec) / 1e9;
}

static void
s_start_clock (load_t *self)
{
    struct timespec real;
    clock_gettime (CLOCK_MONOTONIC, &self->mono0);
    clock_gettime (CLOCK_REALTIME, &real);
    self->real0 = (double) real.tv_sec + real.tv_nsec / 1e9;
}

static size_t
s_on_data (char *data, size_t size, size_t nmemb, void *arg)
{
    slot_t *slot = arg;
    size_t n = size * nmemb;
    if (slot->truncated)
        return n;
    if (slot->answer_len + n > WALOAD_BODY_MAX) {
        slot->truncated = true;         //  read on, keep nothing more
        return n;
    }
    if (slot->answer_len + n > slot->answer_cap) {
        size_t cap = slot->answer_cap ? slot->answer_cap : 1024;
        while (cap < slot->answer_len + n)
            cap *= 2;
        char *bigger = realloc (slot->answer, cap);
        if (!bigger) {
            slot->truncated = true;
            return n;
        }
        slot->answer = bigger;
        slot->answer_cap = cap;
    }
    memcpy (slot->answer + slot->answer_len, data, n);
    slot->answer_len += n;
    return n;
}

//  Options every request shares (set once per handle).
static int
s_easy_setup (CURL *easy, const waload_opts_t *opts)
{
    long timeout_ms = lround (opts->timeout * 1000);
    if (timeout_ms < 1)
        timeout_ms = 1;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    rc |= curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    //  Straight to the Webapp, whatever http_proxy says.
    rc |= curl_easy_setopt (easy, CURLOPT_PROXY, "");
    rc |= curl_easy_setopt (easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    rc |= curl_easy_setopt (easy, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_data);
    if (opts->insecure) {
        rc |= curl_easy_setopt (easy, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt (easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc == CURLE_OK ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  Login: POST /v1/users/login with Basic credentials, blocking

static int
s_login_abort (void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void) arg; (void) a; (void) b; (void) c; (void) d;
    return s_signals > 0;           //  nonzero aborts the transfer
}

static int
s_login (load_t *self)
{
    const waload_opts_t *opts = &self->opts;
    char url[WALOAD_URL_MAX + 32];
    snprintf (url, sizeof url, "%s/v1/users/login", opts->url);
    slot_t answer;
    memset (&answer, 0, sizeof answer);
    CURL *easy = curl_easy_init ();
    if (!easy || s_easy_setup (easy, opts)) {
        fprintf (stderr, "waload: login: cannot set up libcurl\n");
        curl_easy_cleanup (easy);
        return -1;
    }
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt (easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    curl_easy_setopt (easy, CURLOPT_USERNAME, opts->user);
    curl_easy_setopt (easy, CURLOPT_PASSWORD, opts->password);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, answer.errbuf);
    curl_easy_setopt (easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (easy, CURLOPT_XFERINFOFUNCTION, s_login_abort);
    CURLcode rc = curl_easy_perform (easy);
    int result = -1;
    if (rc != CURLE_OK)
        fprintf (stderr, "waload: login as '%s' at %s failed: %s\n", opts->user, url,
                 s_signals ? "interrupted" : *answer.errbuf ? answer.errbuf : curl_easy_strerror (rc));
    else {
        long status = 0;
        char err[600];
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        if (answer.truncated)
            fprintf (stderr, "waload: login as '%s' at %s failed: HTTP %ld, an answer larger than %d bytes\n",
                     opts->user, url, status, WALOAD_BODY_MAX);
        else if (waload_login_parse (status, answer.answer, answer.answer_len, self->token, sizeof self->token,
                                     err, sizeof err))
            fprintf (stderr, "waload: login as '%s' at %s failed: %s\n", opts->user, url, err);
        else
            result = 0;
    }
    free (answer.answer);
    curl_easy_cleanup (easy);
    return result;
}

//  ---------------------------------------------------------------------
//  Requests

static int
s_slots_new (load_t *self)
{
    self->slots = calloc ((size_t) self->opts.concurrency, sizeof (slot_t));
    self->idle = calloc ((size_t) self->opts.concurrency, sizeof (slot_t *));
    if (!self->slots || !self->idle)
        return -1;
    for (int i = self->opts.concurrency - 1; i >= 0; i--) {
        slot_t *slot = &self->slots[i];
        self->idle[self->nidle++] = slot;
        slot->easy = curl_easy_init ();
        if (!slot->easy || s_easy_setup (slot->easy, &self->opts))
            return -1;
        CURLcode rc = CURLE_OK;
        rc |= curl_easy_setopt (slot->easy, CURLOPT_URL, self->messages_url);
        rc |= curl_easy_setopt (slot->easy, CURLOPT_POST, 1L);
        rc |= curl_easy_setopt (slot->easy, CURLOPT_WRITEDATA, slot);
        rc |= curl_easy_setopt (slot->easy, CURLOPT_PRIVATE, slot);
        rc |= curl_easy_setopt (slot->easy, CURLOPT_ERRORBUFFER, slot->errbuf);
        if (rc != CURLE_OK)
            return -1;
    }
    return 0;
}

static void
s_slots_destroy (load_t *self)
{
    free (self->idle);
    self->idle = NULL;
    if (!self->slots)
        return;
    for (int i = 0; i < self->opts.concurrency; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->busy)
            curl_multi_remove_handle (self->multi, slot->easy);
        curl_easy_cleanup (slot->easy);
        curl_slist_free_all (slot->headers);
        free (slot->answer);
    }
    free (self->slots);
    self->slots = NULL;
}

static slot_t *
s_free_slot (load_t *self)
{
    return self->nidle > 0 ? self->idle[self->nidle - 1] : NULL;
}

static int
s_send (load_t *self, slot_t *slot, double now)
{
    uint64_t n = self->next_n;
    slot->n = n;
    snprintf (slot->key, sizeof slot->key, "%s-%" PRIu64, self->opts.run_id, n);
    snprintf (slot->to, sizeof slot->to, "%" PRIu64, self->opts.to_base + n);
    snprintf (slot->body, sizeof slot->body,
              "{\"to\":\"%s\",\"type\":\"text\",\"recipient_type\":\"individual\","
              "\"text\":{\"body\":\"waload %s %" PRIu64 "\"}}", slot->to, self->opts.run_id, n);
    char key_header[sizeof slot->key + 32];
    snprintf (key_header, sizeof key_header, "Idempotency-Key: %s", slot->key);
    curl_slist_free_all (slot->headers);
    slot->headers = NULL;
    const char *lines[] = { self->auth_header, "Content-Type: application/json", key_header, "Expect:" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *list = curl_slist_append (slot->headers, lines[i]);
        if (!list)
            return -1;
        slot->headers = list;
    }
    curl_easy_setopt (slot->easy, CURLOPT_HTTPHEADER, slot->headers);
    curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDS, slot->body);
    curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDSIZE, (long) strlen (slot->body));
    slot->answer_len = 0;
    slot->truncated = false;
    slot->errbuf[0] = 0;
    slot->sent = now;
    if (curl_multi_add_handle (self->multi, slot->easy) != CURLM_OK)
        return -1;
    slot->busy = true;
    self->nidle--;                      //  it was the top of the stack
    self->in_flight++;
    self->next_n++;
    self->sent++;
    return 0;
}

static void
s_record (load_t *self, const slot_t *slot, double done, long status, const char *id, const char *error)
{
    if (!self->record)
        return;
    waload_rec_t rec = {
        .n = slot->n, .key = slot->key, .to = slot->to,
        .sent_at = self->real0 + slot->sent, .done_at = self->real0 + done,
        .status = status, .id = id, .error = error
    };
    waload_record_write (self->record, &rec);
}

//  A request ended: result is curl's, or aborted (no answer waited for).
static void
s_finish (load_t *self, slot_t *slot, CURLcode result, bool aborted)
{
    double done = s_now (self);
    long status = 0;
    waload_answer_t answer;
    memset (&answer, 0, sizeof answer);
    const char *error, *label;
    if (aborted) {
        label = "aborted";
        error = "aborted: waload stopped waiting before the answer";
    }
    else if (result != CURLE_OK) {
        label = curl_easy_strerror (result);
        error = *slot->errbuf ? slot->errbuf : label;
    }
    else {
        curl_easy_getinfo (slot->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status <= 0) {
            status = 0;
            label = error = "no HTTP status";
        }
        else {
            waload_answer_parse (status, slot->answer, slot->answer_len, slot->truncated, &answer);
            label = answer.label;
            error = answer.ok ? NULL : answer.error;
        }
    }
    s_record (self, slot, done, status, *answer.id ? answer.id : NULL, error);
    waload_stats_add (&self->stats, slot->sent, done, status, &answer, label);
    curl_multi_remove_handle (self->multi, slot->easy);
    slot->busy = false;
    self->idle[self->nidle++] = slot;
    self->in_flight--;
}

static void
s_collect (load_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read (self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *private = NULL;
        curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, &private);
        slot_t *slot = (slot_t *) (void *) private;
        if (slot)
            s_finish (self, slot, msg->data.result, false);
    }
}

static bool
s_stop_file_exists (const load_t *self)
{
    struct stat st;
    return self->opts.stop_file && stat (self->opts.stop_file, &st) == 0;
}

//  Why to stop sending, or NULL to go on.
static const char *
s_stop_reason (load_t *self, double now, double *stop_file_checked)
{
    if (s_signals)
        return "signal";
    if (self->opts.count && self->next_n > self->opts.count)
        return "count";
    if (self->opts.duration > 0 && now >= self->opts.duration)
        return "duration";
    if (self->opts.stop_file && now - *stop_file_checked >= STOP_FILE_EVERY) {
        *stop_file_checked = now;
        if (s_stop_file_exists (self))
            return "stop-file";
    }
    return NULL;
}

static void
s_progress (load_t *self, double now, double *last_at, uint64_t *last_done)
{
    double span = now - *last_at;
    fprintf (stderr, "waload: +%.1f s: %" PRIu64 " sent, %" PRIu64 " answered, %" PRIu64 " 201, %"
             PRIu64 " transport errors, %d in flight, %.1f req/s over the last %.1f s\n",
             now, self->sent, self->stats.answered, self->stats.ok, self->stats.transport_errors,
             self->in_flight, span > 0 ? (double) (self->stats.requests - *last_done) / span : 0, span);
    *last_at = now;
    *last_done = self->stats.requests;
}

static int
s_run (load_t *self)
{
    const waload_opts_t *opts = &self->opts;
    double stop_file_checked = -1, stop_at = 0, progress_at = 0;
    uint64_t progress_done = 0;
    bool sending = true;
    self->next_n = 1;
    s_start_clock (self);
    while (true) {
        double now = s_now (self);
        if (sending) {
            self->stopped_by = s_stop_reason (self, now, &stop_file_checked);
            if (self->stopped_by) {
                sending = false;
                stop_at = now;
            }
        }
        if (sending) {
            slot_t *slot;
            while ((!opts->count || self->next_n <= opts->count) && (slot = s_free_slot (self))) {
                if (opts->rate > 0 && now < (double) (self->next_n - 1) / opts->rate)
                    break;
                if (s_send (self, slot, now)) {
                    fprintf (stderr, "waload: out of memory or libcurl refused a request; stopping\n");
                    self->failed = true;
                    self->stopped_by = "error";
                    sending = false;
                    stop_at = now;
                    break;
                }
            }
        }
        else {
            if (self->in_flight == 0)
                break;
            //  Past every request's own timeout, or a second signal: stop waiting.
            if (s_signals >= 2 || now > stop_at + opts->timeout + 1) {
                for (int i = 0; i < opts->concurrency; i++)
                    if (self->slots[i].busy)
                        s_finish (self, &self->slots[i], CURLE_OK, true);
                break;
            }
        }
        int running;
        curl_multi_perform (self->multi, &running);
        s_collect (self);
        now = s_now (self);
        if (opts->progress > 0 && now - progress_at >= opts->progress)
            s_progress (self, now, &progress_at, &progress_done);

        //  How long to wait for the sockets: until the next request is due,
        //  the duration ends, the next progress line, at most POLL_MAX_MS.
        double wait = POLL_MAX_MS / 1000.0;
        if (sending) {
            if (opts->rate > 0 && self->in_flight < opts->concurrency) {
                double due = (double) (self->next_n - 1) / opts->rate - now;
                if (due < wait)
                    wait = due;
            }
            if (opts->duration > 0 && opts->duration - now < wait)
                wait = opts->duration - now;
            if (opts->stop_file && wait > STOP_FILE_EVERY)
                wait = STOP_FILE_EVERY;
        }
        if (opts->progress > 0 && progress_at + opts->progress - now < wait)
            wait = progress_at + opts->progress - now;
        //  A connection is free and the next request is due: no waiting.
        if (sending && self->in_flight < opts->concurrency && (!opts->count || self->next_n <= opts->count)
            && (opts->rate <= 0 || (double) (self->next_n - 1) / opts->rate <= now))
            wait = 0;
        if (wait > 0) {
            int ms = (int) ceil (wait * 1000);
            curl_multi_poll (self->multi, NULL, 0, ms, NULL);
        }
    }
    waload_stats_finish (&self->stats, s_now (self));
    return 0;
}

//  ---------------------------------------------------------------------

static void
s_random_run_id (char *out, size_t size)
{
    unsigned char bytes[6];
    if (getrandom (bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes) {
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        uint64_t mix = (uint64_t) ts.tv_sec * 1000000007ULL ^ (uint64_t) ts.tv_nsec ^ ((uint64_t) getpid () << 32);
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (unsigned char) (mix >> (8 * i));
    }
    snprintf (out, size, "%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
}

static void
s_signals_on (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

//  One descriptor per connection: raise the soft limit towards the hard one
//  when the connections may need more.
static void
s_raise_fd_limit (int concurrency)
{
    struct rlimit limit;
    rlim_t need = (rlim_t) concurrency + 64;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur >= need)
        return;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > need ? need : limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < need)
        fprintf (stderr, "waload: warning: at most %llu open files (ulimit -n): %d connections may not fit\n",
                 (unsigned long long) limit.rlim_cur, concurrency);
}

static void
s_destroy (load_t *self)
{
    s_slots_destroy (self);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    self->multi = NULL;
    if (self->record)
        fclose (self->record);
    self->record = NULL;
    free (self->record_buffer);
    self->record_buffer = NULL;
    waload_stats_free (&self->stats);
}

int
main (int argc, char **argv)
{
    static load_t self;             //  static: its buffers are large
    char err[1200];
    switch (waload_opts_parse (&self.opts, argc, argv, err, sizeof err)) {
        case WALOAD_GO: break;
        case WALOAD_HELP: waload_usage (stdout); return 0;
        case WALOAD_VERSION: printf ("waload %s (%s)\n", WA_VERSION, curl_version ()); return 0;
        case WALOAD_USAGE:
            fprintf (stderr, "waload: %s; try 'waload --help'\n", err);
            return 2;
    }
    waload_opts_t *opts = &self.opts;
    if (!*opts->run_id)
        s_random_run_id (opts->run_id, sizeof opts->run_id);
    snprintf (self.messages_url, sizeof self.messages_url, "%s/v1/messages", opts->url);
    waload_stats_init (&self.stats);
    s_signals_on ();
    s_raise_fd_limit (opts->concurrency);

    if (opts->record) {
        self.record = fopen (opts->record, "w");
        if (!self.record) {
            fprintf (stderr, "waload: --record '%s': cannot open it: %s; try 'waload --help'\n",
                     opts->record, strerror (errno));
            return 2;
        }
        self.record_buffer = malloc (RECORD_BUFFER);
        if (self.record_buffer)
            setvbuf (self.record, self.record_buffer, _IOFBF, RECORD_BUFFER);
    }
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "waload: cannot initialise libcurl\n");
        s_destroy (&self);
        return 1;
    }
    int status = 1;
    if (opts->user) {
        if (s_login (&self))
            goto done;
    }
    else
        snprintf (self.token, sizeof self.token, "%s", opts->token);
    snprintf (self.auth_header, sizeof self.auth_header, "Authorization: Bearer %s", self.token);

    self.multi = curl_multi_init ();
    if (!self.multi || s_slots_new (&self)) {
        fprintf (stderr, "waload: cannot set up libcurl for %d connections\n", opts->concurrency);
        goto done;
    }
    //  At most one connection per request in flight, kept for the next one.
    curl_multi_setopt (self.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) opts->concurrency);
    curl_multi_setopt (self.multi, CURLMOPT_MAXCONNECTS, (long) opts->concurrency);

    s_run (&self);
    if (self.record) {
        bool failed = fflush (self.record) != 0 || ferror (self.record);
        failed |= fclose (self.record) != 0;
        self.record = NULL;
        if (failed) {
            fprintf (stderr, "waload: --record '%s': writing failed: %s\n", opts->record, strerror (errno));
            self.failed = true;             //  the run is not whole: exit 1
        }
    }
    waload_run_t run = {
        .run_id = opts->run_id, .url = opts->url, .concurrency = opts->concurrency,
        .rate = opts->rate, .seconds = self.stats.end, .stopped_by = self.stopped_by,
    };
    if (opts->json)
        waload_summary_json (stdout, &self.stats, &run);
    else
        waload_summary_text (stdout, &self.stats, &run);
    fflush (stdout);
    status = waload_exit_status (&self.stats);
    if (self.stats.requests == 0)
        fprintf (stderr, "waload: no request was sent (stopped by %s)\n", self.stopped_by ? self.stopped_by : "?");
    if (self.failed)
        status = 1;
done:
    s_destroy (&self);
    curl_global_cleanup ();
    return status;
}
