/*  contacts — see contacts.h */
#include <stdarg.h>
#include "wa_account.h"
#include "wa_codec.h"
#include "wa_errors.h"
#include "wa_log.h"
#include "wa_node.h"
#include "wa_u64hash.h"
#include "contacts.h"

#define SWEEP_SECONDS 0.05

//  A cached result.
typedef struct {
    char input[WA_CONTACT_INPUT_MAX + 1];
    bool valid;
    char wa_id[WA_CONTACT_DIGITS_MAX + 1];
    wa_usec_t at;
    void *handle;               //  in order
} entry_t;

//  A CONTACTS upstream, waiting for its CONTACTS_REPLY.
typedef struct {
    uint64_t seq;
    wa_usec_t deadline;
    zframe_t *peer;             //  the waiting request; NULL for a background check
    uint64_t api_seq;
    json_t *inputs;             //  wait: every contact, in the request's order
    json_t *known;              //  wait: contact → its answer
    json_t *asked;              //  what went upstream
} check_t;

struct contacts_t {
    const wa_config_t *settings;
    contacts_io_t io;
    void *arg;
    wa_loop_t *loop;
    int sweep_timer;
    zhashx_t *cache;            //  input → entry_t
    zlistx_t *order;            //  entry_t, oldest first
    zhashx_t *checks;           //  seq → check_t
    json_t *background;         //  inputs checked in the background now
    uint64_t next_seq;
    contacts_stats_t stats;
};

static void
s_check_destroy (void **item)
{
    check_t *check = *item;
    zframe_destroy (&check->peer);
    json_decref (check->inputs);
    json_decref (check->known);
    json_decref (check->asked);
    free (check);
    *item = NULL;
}

static void
s_reply_json (contacts_t *self, zframe_t **peer, uint64_t seq, int status, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    self->io.reply (self->arg, peer, seq, text ? status : 500,
                    text ? text : "{\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS ",\"details\":\"out of memory\"}]}");
    free (text);
    json_decref (body);
}

static void
s_error (contacts_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_error (contacts_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    char details[300];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    s_reply_json (self, peer, seq, status, json_pack ("{s:[{s:i, s:s}]}", "errors", "code", code,
                                                      "details", details));
}

//  --------------------------------------------------------------------------
//  The cache

static json_t *
s_answer (const char *input, const char *status, const char *wa_id)
{
    return wa_id ? json_pack ("{s:s, s:s, s:s}", "input", input, "status", status, "wa_id", wa_id)
                 : json_pack ("{s:s, s:s}", "input", input, "status", status);
}

static void
s_forget (contacts_t *self, entry_t *entry)
{
    zlistx_delete (self->order, entry->handle);
    zhashx_delete (self->cache, entry->input);
}

static entry_t *
s_cached (contacts_t *self, const char *input, wa_usec_t now)
{
    entry_t *entry = zhashx_lookup (self->cache, input);
    if (entry && now - entry->at >= CONTACTS_CACHE_TTL) {
        s_forget (self, entry);
        entry = NULL;
    }
    return entry;
}

static void
s_remember (contacts_t *self, const char *input, bool valid, const char *wa_id, wa_usec_t now)
{
    entry_t *entry = zhashx_lookup (self->cache, input);
    if (entry)
        s_forget (self, entry);
    while (zhashx_size (self->cache) >= CONTACTS_CACHE_MAX)
        s_forget (self, zlistx_first (self->order));
    entry = (entry_t *) zmalloc (sizeof (entry_t));
    snprintf (entry->input, sizeof entry->input, "%s", input);
    entry->valid = valid;
    snprintf (entry->wa_id, sizeof entry->wa_id, "%s", valid ? wa_id : "");
    entry->at = now;
    entry->handle = zlistx_add_end (self->order, entry);
    zhashx_insert (self->cache, entry->input, entry);
}

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
//  Checks

//  One CONTACTS upstream for asked (taken). For a waiting request, peer
//  (taken), inputs and known (taken) come along. 0, or -1 (nothing kept).
static int
s_ask (contacts_t *self, json_t *asked, zframe_t **peer, uint64_t api_seq, json_t *inputs, json_t *known)
{
    uint64_t seq = ++self->next_seq;
    json_t *request = json_pack ("{s:O}", "contacts", asked);
    char *payload = request ? json_dumps (request, JSON_COMPACT) : NULL;
    json_decref (request);
    int rc = payload && strlen (payload) <= WA_TEXT_MAX ? self->io.ask (self->arg, seq, payload) : -1;
    free (payload);
    if (rc) {
        json_decref (asked);
        json_decref (inputs);
        json_decref (known);
        return -1;
    }
    self->stats.asked++;
    check_t *check = (check_t *) zmalloc (sizeof (check_t));
    check->seq = seq;
    check->deadline = wa_clock_mono ()
                    + wa_clock_from_sec (CONTACTS_TIMEOUT_SHARE * self->settings->request_attempt_timeout);
    if (peer) {
        check->peer = *peer;
        *peer = NULL;
    }
    check->api_seq = api_seq;
    check->inputs = inputs;
    check->known = known;
    check->asked = asked;
    if (!peer) {
        size_t index;
        json_t *input;
        json_array_foreach (asked, index, input)
            json_object_set (self->background, json_string_value (input), json_true ());
    }
    zhashx_insert (self->checks, WA_U64_KEY (seq), check);
    return 0;
}

//  The request's answer, in its order, from known.
static json_t *
s_answers (const json_t *inputs, const json_t *known)
{
    json_t *answers = json_array ();
    size_t index;
    json_t *input;
    json_array_foreach (inputs, index, input) {
        json_t *answer = json_object_get (known, json_string_value (input));
        json_array_append_new (answers, answer ? json_incref (answer)
                                               : s_answer (json_string_value (input), "processing", NULL));
    }
    return json_pack ("{s:o}", "contacts", answers);
}

//  Done with a check: taken out of the table, its background inputs freed.
static check_t *
s_take (contacts_t *self, uint64_t seq)
{
    check_t *check = zhashx_lookup (self->checks, WA_U64_KEY (seq));
    if (!check)
        return NULL;
    zhashx_delete (self->checks, WA_U64_KEY (seq));
    if (!check->peer) {
        size_t index;
        json_t *input;
        json_array_foreach (check->asked, index, input)
            json_object_del (self->background, json_string_value (input));
    }
    return check;
}

//  Every check ends: waiting requests get status and code.
static void
s_end_all (contacts_t *self, int status, int code, const char *why)
{
    zlistx_t *seqs = zlistx_new ();
    for (check_t *check = zhashx_first (self->checks); check; check = zhashx_next (self->checks))
        zlistx_add_end (seqs, WA_U64_KEY (check->seq));
    for (void *key = zlistx_first (seqs); key; key = zlistx_next (seqs)) {
        check_t *check = s_take (self, (uint64_t) (uintptr_t) key);
        if (check->peer)
            s_error (self, &check->peer, check->api_seq, status, code, "%s", why);
        s_check_destroy ((void **) &check);
    }
    zlistx_destroy (&seqs);
}

static int
s_on_sweep (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    contacts_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    zlistx_t *late = NULL;
    for (check_t *check = zhashx_first (self->checks); check; check = zhashx_next (self->checks))
        if (now >= check->deadline) {
            if (!late)
                late = zlistx_new ();
            zlistx_add_end (late, WA_U64_KEY (check->seq));
        }
    if (!late)
        return 0;
    for (void *key = zlistx_first (late); key; key = zlistx_next (late)) {
        check_t *check = s_take (self, (uint64_t) (uintptr_t) key);
        self->stats.timeouts++;
        if (check->peer)
            s_error (self, &check->peer, check->api_seq, 503, WA_ERR_NOT_READY,
                     "the upstream did not answer the contact check within %g s",
                     CONTACTS_TIMEOUT_SHARE * self->settings->request_attempt_timeout);
        s_check_destroy ((void **) &check);
    }
    wa_warn ("contacts: %zu check(s) got no answer from the upstream in time", zlistx_size (late));
    zlistx_destroy (&late);
    return 0;
}

//  --------------------------------------------------------------------------

contacts_t *
contacts_new (const wa_config_t *settings, contacts_io_t io, void *arg, wa_loop_t *loop)
{
    contacts_t *self = (contacts_t *) zmalloc (sizeof (contacts_t));
    self->settings = settings;
    self->io = io;
    self->arg = arg;
    self->loop = loop;
    self->cache = zhashx_new ();
    zhashx_set_destructor (self->cache, s_entry_free);
    //  Keys point into their entries: no copies.
    zhashx_set_key_duplicator (self->cache, NULL);
    zhashx_set_key_destructor (self->cache, NULL);
    self->order = zlistx_new ();
    self->checks = wa_u64hash_new ();     //  its checks are freed by whoever takes them
    self->background = json_object ();
    self->sweep_timer = -1;
    wa_timer_every (loop, &self->sweep_timer, SWEEP_SECONDS, s_on_sweep, self);
    return self;
}

void
contacts_destroy (contacts_t **self_p)
{
    contacts_t *self = *self_p;
    if (!self)
        return;
    s_end_all (self, 503, WA_ERR_NOT_READY, "the Coreapp is stopping");
    if (self->sweep_timer >= 0)
        wa_loop_timer_end (self->loop, self->sweep_timer);
    zhashx_destroy (&self->checks);
    zlistx_destroy (&self->order);
    zhashx_destroy (&self->cache);
    json_decref (self->background);
    free (self);
    *self_p = NULL;
}

void
contacts_request (contacts_t *self, zframe_t **peer, uint64_t seq, const json_t *request, const char *unavailable)
{
    self->stats.requests++;
    wa_contacts_t contacts;
    char why[300];
    int code = wa_contacts_check (request, &contacts, why, sizeof why);
    if (code) {
        s_error (self, peer, seq, 400, code, "%s", why);
        return;
    }
    wa_usec_t now = wa_clock_mono ();
    json_t *inputs = json_array ();
    json_t *known = json_object ();
    json_t *asked = json_array ();
    json_t *asking = json_object ();    //  each unknown input once
    for (size_t i = 0; i < contacts.count; i++) {
        const char *input = contacts.contacts[i];
        json_array_append_new (inputs, json_string (input));
        if (json_object_get (known, input) || json_object_get (asking, input))
            continue;
        entry_t *entry = contacts.force_check ? NULL : s_cached (self, input, now);
        if (entry) {
            self->stats.cache_hits++;
            json_object_set_new (known, input, s_answer (input, entry->valid ? "valid" : "invalid",
                                                         entry->valid ? entry->wa_id : NULL));
        }
        else {
            json_object_set (asking, input, json_true ());
            json_array_append_new (asked, json_string (input));
        }
    }
    json_decref (asking);
    if (!contacts.wait || json_array_size (asked) == 0) {
        s_reply_json (self, peer, seq, 200, s_answers (inputs, known));
        json_decref (inputs);
        json_decref (known);
        //  Checked in the background, once: what is under way already is not asked again.
        json_t *unknown = json_array ();
        size_t index;
        json_t *input;
        json_array_foreach (asked, index, input)
            if (!json_object_get (self->background, json_string_value (input)))
                json_array_append (unknown, input);
        json_decref (asked);
        if (json_array_size (unknown) == 0 || unavailable || zhashx_size (self->checks) >= CONTACTS_CHECKS_MAX)
            json_decref (unknown);
        else
            s_ask (self, unknown, NULL, 0, NULL, NULL);
        return;
    }
    if (unavailable || zhashx_size (self->checks) >= CONTACTS_CHECKS_MAX) {
        json_decref (inputs);
        json_decref (known);
        json_decref (asked);
        if (unavailable)
            s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "%s", unavailable);
        else
            s_error (self, peer, seq, 503, WA_ERR_OVERLOADED, "%d contact checks wait for the upstream already",
                     CONTACTS_CHECKS_MAX);
        return;
    }
    if (s_ask (self, asked, peer, seq, inputs, known))
        s_error (self, peer, seq, 503, WA_ERR_NOT_READY, "the upstream session cannot take the contact check now");
}

void
contacts_on_reply (contacts_t *self, uint64_t seq, const char *text, size_t len)
{
    check_t *check = s_take (self, seq);
    if (!check)
        return;                 //  timed out already
    self->stats.answered++;
    wa_usec_t now = wa_clock_mono ();
    json_t *root = json_loadb (text, len, 0, NULL);
    json_t *answers = json_object_get (root, "contacts");
    const char *error = json_string_value (json_object_get (root, "error"));
    size_t index;
    json_t *answer;
    json_t *asked = json_object ();
    json_array_foreach (check->asked, index, answer)
        json_object_set (asked, json_string_value (answer), json_true ());
    size_t taken = 0;
    json_array_foreach (answers, index, answer) {
        const char *input = json_string_value (json_object_get (answer, "input"));
        const char *status = json_string_value (json_object_get (answer, "status"));
        const char *wa_id = json_string_value (json_object_get (answer, "wa_id"));
        char digits[WA_CONTACT_DIGITS_MAX + 1];
        if (!input || !status || !json_object_get (asked, input))
            continue;
        bool valid = streq (status, "valid");
        //  A valid contact's wa_id: its digits, as the upstream says them.
        if ((!valid && !streq (status, "invalid"))
        ||  (valid && (!wa_id || wa_contact_digits (wa_id, digits) || !streq (digits, wa_id))))
            continue;
        s_remember (self, input, valid, wa_id, now);
        if (check->known)
            json_object_set_new (check->known, input, s_answer (input, status, valid ? wa_id : NULL));
        json_object_del (asked, input);
        taken++;
    }
    bool complete = json_object_size (asked) == 0;
    json_decref (asked);
    json_decref (root);
    if (!complete)
        wa_warn ("contacts: the upstream answered %zu of %zu contacts%s%s", taken, json_array_size (check->asked),
                 error ? ": " : "", error ? error : "");
    if (check->peer) {
        if (complete)
            s_reply_json (self, &check->peer, check->api_seq, 200, s_answers (check->inputs, check->known));
        else
            s_error (self, &check->peer, check->api_seq, 500, WA_ERR_INTERNAL,
                     "the upstream did not answer every contact%s%.200s", error ? ": " : "", error ? error : "");
    }
    s_check_destroy ((void **) &check);
}

void
contacts_session_closed (contacts_t *self)
{
    if (!self)
        return;
    s_end_all (self, 503, WA_ERR_NOT_READY, "the upstream session closed before it answered the contact check");
}

void
contacts_demoted (contacts_t *self)
{
    if (!self)
        return;
    s_end_all (self, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp is no longer primary");
}

contacts_stats_t
contacts_stats (contacts_t *self)
{
    contacts_stats_t stats = self->stats;
    stats.cached = zhashx_size (self->cache);
    stats.checking = zhashx_size (self->checks);
    return stats;
}

json_t *
contacts_stats_json (contacts_t *self)
{
    contacts_stats_t stats = contacts_stats (self);
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "requests", (json_int_t) stats.requests, "asked", (json_int_t) stats.asked,
                      "answered", (json_int_t) stats.answered, "timeouts", (json_int_t) stats.timeouts,
                      "cache_hits", (json_int_t) stats.cache_hits, "cached", (json_int_t) stats.cached,
                      "checking", (json_int_t) stats.checking);
}
