/*  check — see check.h */
#define _GNU_SOURCE
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include <jansson.h>
#include <zlib.h>
#include "check.h"

//  One (account, shard, shards) of the upstream: its session as the ledger
//  tells it. shards is the count of the layout the session serves, 0 when
//  the ledger does not say (a login without it).
typedef struct {
    char account [40];
    uint32_t shard;
    uint32_t shards;
    bool open;                  //  a login with no logout, expired or kicked yet
    uint64_t session;
    uint64_t node;
    uint64_t since_line;        //  the login's line number, for the example
    bool logged_in_before;
    uint64_t last_node;         //  of the key's latest login
    bool kick_pending;          //  kicked by the login that is being written
} upkey_t;

//  One message id the upstream received.
typedef struct {
    uint32_t shard;
    uint32_t arrivals;          //  message and duplicate lines
    uint32_t extra_in_window;   //  arrivals after the first, within the window
    uint32_t dup_lines;         //  "duplicate" lines
    uint32_t dup_lines_in_window;
    double first_at;
} msg_t;

//  One request of the record.
typedef struct {
    char *key;
    char *id;                   //  NULL: no id
    bool ok;
    double sent_at;
    double done_at;
} req_t;

//  One event the upstream emitted, to be POSTed to the webhook.
typedef struct {
    char *match;                //  "s:<id>:<status>" or "m:<id>"
    char *conversation;         //  "" when the ledger does not say
    double at;                  //  when the upstream emitted it
} emitted_t;

struct _check_t {
    double since, until;
    zhashx_t *keys;             //  "account/shard/shards" → upkey_t
    zhashx_t *messages;         //  id → msg_t
    zhashx_t *answered;         //  id → the request key it was answered to
    zhashx_t *hooks;            //  match → its first accepted POST's index (from 1), as a pointer-sized integer
    req_t *reqs;
    size_t reqs_count, reqs_cap;
    emitted_t *emitted;
    size_t emitted_count, emitted_cap;
    uint64_t hook_index;
    double *hook_times;         //  arrival time per hook index (index - 1), -1 when unknown
    size_t hook_times_cap;
    bool hooks_present;
    uint64_t ledger_line;
    uint32_t shards_seen [64];  //  bit set of the shards the ledger names (up to 2048)
    check_result_t r;           //  the counters kept while reading
};

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

check_t *
check_new (void)
{
    check_t *self = (check_t *) calloc (1, sizeof (check_t));
    if (!self)
        return NULL;
    self->keys = zhashx_new ();
    self->messages = zhashx_new ();
    self->answered = zhashx_new ();
    self->hooks = zhashx_new ();
    if (!self->keys || !self->messages || !self->answered || !self->hooks) {
        check_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->keys, s_free_item);
    zhashx_set_destructor (self->messages, s_free_item);
    zhashx_set_destructor (self->answered, s_free_item);
    //  hooks hold integers, not pointers: no destructor.
    return self;
}

void
check_destroy (check_t **self_p)
{
    assert (self_p);
    check_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->keys);
    zhashx_destroy (&self->messages);
    zhashx_destroy (&self->answered);
    zhashx_destroy (&self->hooks);
    for (size_t index = 0; index < self->reqs_count; index++) {
        free (self->reqs [index].key);
        free (self->reqs [index].id);
    }
    free (self->reqs);
    for (size_t index = 0; index < self->emitted_count; index++) {
        free (self->emitted [index].match);
        free (self->emitted [index].conversation);
    }
    free (self->emitted);
    free (self->hook_times);
    free (self);
    *self_p = NULL;
}

void
check_window (check_t *self, double since, double until)
{
    assert (self);
    self->since = since;
    self->until = until;
}

static bool
s_in_window (const check_t *self, double at)
{
    return (self->since <= 0 || at >= self->since) && (self->until <= 0 || at <= self->until);
}

double
check_parse_time (const char *text)
{
    if (!text)
        return -1;
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    const char *rest = strptime (text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    double fraction = 0;
    if (*rest == '.') {
        double scale = 0.1;
        rest++;
        if (*rest < '0' || *rest > '9')
            return -1;
        while (*rest >= '0' && *rest <= '9') {
            fraction += (*rest - '0') * scale;
            scale /= 10;
            rest++;
        }
    }
    if (strcmp (rest, "Z") != 0 && strcmp (rest, "+00:00") != 0)
        return -1;
    time_t secs = timegm (&tm);
    if (secs == (time_t) -1)
        return -1;
    return (double) secs + fraction;
}

//  A time member: unix seconds as a number, or an ISO UTC string; -1 if neither.
static double
s_time_member (json_t *root, const char *name)
{
    json_t *value = json_object_get (root, name);
    if (json_is_number (value))
        return json_number_value (value);
    if (json_is_string (value))
        return check_parse_time (json_string_value (value));
    return -1;
}

static const char *
s_string_member (json_t *root, const char *name)
{
    json_t *value = json_object_get (root, name);
    return json_is_string (value)? json_string_value (value): NULL;
}

static bool
s_uint_member (json_t *root, const char *name, uint64_t *out)
{
    json_t *value = json_object_get (root, name);
    if (!json_is_integer (value) || json_integer_value (value) < 0)
        return false;
    *out = (uint64_t) json_integer_value (value);
    return true;
}

static bool
s_blank (const char *line)
{
    for (; *line; line++)
        if (*line != ' ' && *line != '\t' && *line != '\r' && *line != '\n')
            return false;
    return true;
}

static json_t *
s_parse_object (const char *line)
{
    json_error_t error;
    json_t *root = json_loads (line, 0, &error);
    if (root && !json_is_object (root)) {
        json_decref (root);
        root = NULL;
    }
    return root;
}

static void
s_example (char *buffer, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_example (char *buffer, const char *format, ...)
{
    if (*buffer)
        return;                 //  the first one is kept
    va_list args;
    va_start (args, format);
    vsnprintf (buffer, CHECK_EXAMPLE_MAX, format, args);
    va_end (args);
}

static void
s_clear_kicks (check_t *self)
{
    for (upkey_t *key = (upkey_t *) zhashx_first (self->keys); key; key = (upkey_t *) zhashx_next (self->keys))
        key->kick_pending = false;
}

static upkey_t *
s_key (check_t *self, const char *account, uint32_t shard, uint32_t shards)
{
    char name [96];
    snprintf (name, sizeof name, "%s/%" PRIu32 "/%" PRIu32, account, shard, shards);
    upkey_t *key = (upkey_t *) zhashx_lookup (self->keys, name);
    if (!key) {
        key = (upkey_t *) calloc (1, sizeof (upkey_t));
        if (!key)
            return NULL;
        snprintf (key->account, sizeof key->account, "%s", account);
        key->shard = shard;
        key->shards = shards;
        zhashx_insert (self->keys, name, key);
    }
    if (shard < 64 * 32)
        self->shards_seen [shard / 32] |= 1u << (shard % 32);
    return key;
}

//  Do (s, N) and (s', N') serve common recipients, those whose CRC32 mod
//  the count is the shard? Counts are powers of two, so with N <= N' iff
//  s' mod N == s; a count unknown (0): the same shard, as before counts.
static bool
s_layouts_intersect (uint32_t shard_a, uint32_t shards_a, uint32_t shard_b, uint32_t shards_b)
{
    if (shards_a == 0 || shards_b == 0)
        return shard_a == shard_b;
    return shards_a <= shards_b? shard_b % shards_a == shard_a: shard_a % shards_b == shard_b;
}

//  A message or duplicate line on a session whose layout is known: is its
//  recipient another shard's (zlib's CRC32 of the digits, mod the count)?
//  And did wagate say so?
static void
s_misrouted (check_t *self, json_t *root, uint64_t shard, double at)
{
    if (!s_in_window (self, at))
        return;
    uint64_t shards = 0;
    const char *to = s_string_member (root, "to");
    if (to && s_uint_member (root, "shards", &shards) && shards > 0) {
        uLong crc = crc32 (0L, (const Bytef *) to, (uInt) strlen (to));
        if (crc % shards != shard) {
            self->r.misrouted++;
            s_example (self->r.misrouted_example,
                       "message %s to %s (shard %lu of %" PRIu64 ") went up on shard %" PRIu64 " (ledger line %" PRIu64 ")",
                       s_string_member (root, "id")? s_string_member (root, "id"): "?", to,
                       (unsigned long) (crc % shards), shards, shard, self->ledger_line);
        }
    }
    if (json_is_true (json_object_get (root, "misrouted")))
        self->r.misrouted_wagate++;
}

//  A message or duplicate line: one arrival of an id.
static void
s_arrival (check_t *self, json_t *root, uint32_t shard, double at, bool duplicate_line)
{
    const char *id = s_string_member (root, "id");
    if (!id)
        return;
    msg_t *msg = (msg_t *) zhashx_lookup (self->messages, id);
    if (!msg) {
        msg = (msg_t *) calloc (1, sizeof (msg_t));
        if (!msg)
            return;
        msg->shard = shard;
        msg->first_at = at;
        zhashx_insert (self->messages, id, msg);
    }
    else
    if (s_in_window (self, at))
        msg->extra_in_window++;
    msg->arrivals++;
    if (duplicate_line) {
        msg->dup_lines++;
        if (s_in_window (self, at))
            msg->dup_lines_in_window++;
    }
}

//  What a callback is matched by: a status by its message id and status, an
//  inbound message by its id; or the upstream's event id when it gives one.
static char *
s_match_key (json_t *item, const char *kind_hint)
{
    const char *event_id = s_string_member (item, "event_id");
    const char *id = s_string_member (item, "id");
    const char *status = s_string_member (item, "status");
    const char *kind = s_string_member (item, "kind");
    if (!kind)
        kind = kind_hint;
    char *match = NULL;
    if (id && status && (!kind || strcmp (kind, "status") == 0)) {
        if (asprintf (&match, "s:%s:%s", id, status) < 0)
            match = NULL;
    }
    else
    if (id && kind && strcmp (kind, "message") == 0) {
        if (asprintf (&match, "m:%s", id) < 0)
            match = NULL;
    }
    else
    if (event_id) {
        if (asprintf (&match, "e:%s", event_id) < 0)
            match = NULL;
    }
    return match;
}

static void
s_emitted (check_t *self, json_t *root, double at)
{
    if (!s_in_window (self, at))
        return;
    //  The event may be the line itself or sit under "payload".
    json_t *item = json_object_get (root, "payload");
    if (!json_is_object (item))
        item = root;
    const char *kind = s_string_member (root, "kind");
    char *match = s_match_key (item, kind);
    if (!match && item != root)
        match = s_match_key (root, kind);
    if (!match) {
        self->r.bad_ledger_lines++;
        return;
    }
    if (self->emitted_count == self->emitted_cap) {
        size_t cap = self->emitted_cap? self->emitted_cap * 2: 256;
        emitted_t *grown = (emitted_t *) realloc (self->emitted, cap * sizeof (emitted_t));
        if (!grown) {
            free (match);
            return;
        }
        self->emitted = grown;
        self->emitted_cap = cap;
    }
    const char *conversation = s_string_member (root, "conversation");
    if (!conversation)
        conversation = s_string_member (item, "recipient_id");
    if (!conversation)
        conversation = s_string_member (item, "from");
    emitted_t *entry = &self->emitted [self->emitted_count++];
    entry->at = at;
    entry->match = match;
    entry->conversation = strdup (conversation? conversation: "");
}

int
check_ledger_line (check_t *self, const char *line)
{
    assert (self);
    assert (line);
    if (s_blank (line))
        return 0;
    self->ledger_line++;
    json_t *root = s_parse_object (line);
    const char *event = root? s_string_member (root, "event"): NULL;
    double at = root? s_time_member (root, "at"): -1;
    if (!event || at < 0) {
        json_decref (root);
        self->r.bad_ledger_lines++;
        return -1;
    }
    const char *account = s_string_member (root, "account");
    uint64_t shard = 0, shards = 0, node = 0, session = 0;
    bool keyed = account && s_uint_member (root, "shard", &shard) && shard <= UINT32_MAX;
    //  Absent or null: unknown (0)
    if (!s_uint_member (root, "shards", &shards) || shards > UINT32_MAX)
        shards = 0;
    s_uint_member (root, "node", &node);
    s_uint_member (root, "session", &session);
    upkey_t *key = keyed? s_key (self, account, (uint32_t) shard, (uint32_t) shards): NULL;
    bool in_window = s_in_window (self, at);
    bool is_kick = strcmp (event, "kicked") == 0;
    bool is_overlap = strcmp (event, "overlap") == 0;
    bool is_login = strcmp (event, "login") == 0;

    if (is_login && key) {
        //  wagate writes an overlap as "overlap", "kicked" (the old session),
        //  then "login": a key of the account that serves some of the same
        //  recipients (this key, or an intersecting layout's) whose session
        //  is still open, or was kicked by this very login, overlapped; one
        //  overlap per such session.
        for (upkey_t *other = (upkey_t *) zhashx_first (self->keys); other;
             other = (upkey_t *) zhashx_next (self->keys)) {
            if ((other->open || other->kick_pending) && in_window
            &&  strcmp (other->account, key->account) == 0
            &&  s_layouts_intersect (other->shard, other->shards, key->shard, key->shards)) {
                self->r.overlaps++;
                //  shard/count, the count 0 when unknown
                s_example (self->r.overlap_example,
                           "shard %" PRIu64 "/%" PRIu64 ": session %" PRIu64 " of node %" PRIu64 " logged in (ledger line %"
                           PRIu64 ") while session %" PRIu64 " of node %" PRIu64 " (shard %" PRIu32 "/%" PRIu32
                           ", line %" PRIu64 ") was open",
                           shard, shards, session, node, self->ledger_line, other->session, other->node,
                           other->shard, other->shards, other->since_line);
            }
        }
        if (in_window) {
            self->r.sessions++;
            if (key->logged_in_before && key->last_node != node)
                self->r.failovers++;
        }
        key->open = true;
        key->session = session;
        key->node = node;
        key->since_line = self->ledger_line;
        key->logged_in_before = true;
        key->last_node = node;
    }
    else
    if ((is_kick || strcmp (event, "logout") == 0 || strcmp (event, "expired") == 0) && key) {
        if (key->open && key->session == session)
            key->open = false;
        if (is_kick)
            key->kick_pending = true;
    }
    else
    if (is_overlap) {
        if (in_window)
            self->r.overlaps_wagate++;
    }
    else
    if (strcmp (event, "refused") == 0) {
        //  a count that is no layout's says why ("reason"); a stale epoch
        //  (the fence) the highest epoch
        if (in_window && s_string_member (root, "reason"))
            self->r.refused_layout++;
        else
        if (in_window)
            self->r.refused++;
    }
    else
    if (strcmp (event, "message") == 0 || strcmp (event, "duplicate") == 0) {
        s_arrival (self, root, key? key->shard: 0, at, strcmp (event, "duplicate") == 0);
        if (key)
            s_misrouted (self, root, key->shard, at);
    }
    else
    if (strcmp (event, "emitted") == 0)
        s_emitted (self, root, at);
    //  A kick is pending only until the login that caused it.
    if (!is_kick && !is_overlap)
        s_clear_kicks (self);
    json_decref (root);
    return 0;
}

int
check_record_line (check_t *self, const char *line)
{
    assert (self);
    assert (line);
    if (s_blank (line))
        return 0;
    json_t *root = s_parse_object (line);
    const char *key = root? s_string_member (root, "key"): NULL;
    json_t *status = root? json_object_get (root, "status"): NULL;
    double sent_at = root? s_time_member (root, "sent_at"): -1;
    double done_at = root? s_time_member (root, "done_at"): -1;
    if (!key || !json_is_integer (status) || sent_at < 0 || done_at < 0) {
        json_decref (root);
        self->r.bad_record_lines++;
        return -1;
    }
    const char *id = s_string_member (root, "id");
    if (self->reqs_count == self->reqs_cap) {
        size_t cap = self->reqs_cap? self->reqs_cap * 2: 1024;
        req_t *grown = (req_t *) realloc (self->reqs, cap * sizeof (req_t));
        if (!grown) {
            json_decref (root);
            return -1;
        }
        self->reqs = grown;
        self->reqs_cap = cap;
    }
    req_t *req = &self->reqs [self->reqs_count++];
    req->key = strdup (key);
    req->id = id? strdup (id): NULL;
    req->ok = json_integer_value (status) == 201 && id && *id;
    req->sent_at = sent_at;
    req->done_at = done_at;
    json_decref (root);
    return 0;
}

//  One callback item of a webhook body.
static void
s_hook_item (check_t *self, json_t *item, const char *kind)
{
    if (!json_is_object (item))
        return;
    char *match = s_match_key (item, kind);
    if (!match)
        return;
    if (!zhashx_lookup (self->hooks, match))
        zhashx_insert (self->hooks, match, (void *) (uintptr_t) self->hook_index);      //  from 1
    free (match);
}

int
check_hook_line (check_t *self, const char *line)
{
    assert (self);
    assert (line);
    self->hooks_present = true;
    if (s_blank (line))
        return 0;
    json_t *root = s_parse_object (line);
    if (!root) {
        self->r.bad_hook_lines++;
        return -1;
    }
    json_t *body = json_object_get (root, "body");
    json_t *status = json_object_get (root, "status");
    if (body && json_is_integer (status)
    && (json_integer_value (status) < 200 || json_integer_value (status) > 299)) {
        json_decref (root);     //  the receiver refused it: not delivered
        return 0;
    }
    json_t *parsed = NULL;
    if (json_is_string (body))              //  the body as it came, as text
        body = parsed = s_parse_object (json_string_value (body));
    else
    if (!body)
        body = root;                        //  the line is the body
    if (!json_is_object (body)) {
        json_decref (parsed);
        json_decref (root);
        self->r.bad_hook_lines++;
        return -1;
    }
    self->hook_index++;
    if (self->hook_index > self->hook_times_cap) {
        size_t cap = self->hook_times_cap? self->hook_times_cap * 2: 1024;
        double *grown = (double *) realloc (self->hook_times, cap * sizeof (double));
        if (grown) {
            self->hook_times = grown;
            self->hook_times_cap = cap;
        }
    }
    if (self->hook_index <= self->hook_times_cap)
        self->hook_times [self->hook_index - 1] = s_time_member (root, "at");
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (body, "statuses"), index, item)
        s_hook_item (self, item, "status");
    json_array_foreach (json_object_get (body, "messages"), index, item)
        s_hook_item (self, item, "message");
    json_decref (parsed);
    json_decref (root);
    return 0;
}

void
check_hooks_present (check_t *self)
{
    assert (self);
    self->hooks_present = true;
}

static int
s_double_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}

//  The longest stretch of [start, end] that holds none of the times.
static double
s_longest_gap (double *times, size_t count, double start, double end, double *from)
{
    qsort (times, count, sizeof (double), s_double_compare);
    double longest = 0, previous = start;
    *from = start;
    for (size_t index = 0; index <= count; index++) {
        double next = index < count? times [index]: end;
        if (next - previous > longest) {
            longest = next - previous;
            *from = previous;
        }
        if (next > previous)
            previous = next;
    }
    return longest;
}

static void
s_availability (check_t *self, check_result_t *r)
{
    if (self->reqs_count == 0)
        return;
    double start = self->reqs [0].sent_at, end = self->reqs [0].done_at;
    for (size_t index = 0; index < self->reqs_count; index++) {
        if (self->reqs [index].sent_at < start)
            start = self->reqs [index].sent_at;
        if (self->reqs [index].done_at > end)
            end = self->reqs [index].done_at;
    }
    double *times = (double *) malloc ((self->reqs_count + 1) * sizeof (double));
    if (!times)
        return;
    size_t count = 0;
    for (size_t index = 0; index < self->reqs_count; index++)
        if (self->reqs [index].ok)
            times [count++] = self->reqs [index].done_at;
    double from;
    r->unavailable_any = s_longest_gap (times, count, start, end, &from);
    //  Per shard: a shard the ledger names, whose requests all failed, was
    //  unavailable the whole run.
    for (uint32_t shard = 0; shard < 64 * 32; shard++) {
        if (!(self->shards_seen [shard / 32] & (1u << (shard % 32))))
            continue;
        count = 0;
        for (size_t index = 0; index < self->reqs_count; index++) {
            const req_t *req = &self->reqs [index];
            if (!req->ok)
                continue;
            const msg_t *msg = (const msg_t *) zhashx_lookup (self->messages, req->id);
            if (msg && msg->shard == shard)
                times [count++] = req->done_at;
        }
        double gap = s_longest_gap (times, count, start, end, &from);
        if (gap > r->unavailable) {
            r->unavailable = gap;
            r->unavailable_shard = shard;
            r->unavailable_from = from;
        }
    }
    if (r->unavailable < r->unavailable_any) {  //  no shard known: the whole API
        r->unavailable = r->unavailable_any;
        r->unavailable_shard = UINT32_MAX;
    }
    free (times);
}

static void
s_callbacks (check_t *self, check_result_t *r)
{
    r->callbacks_checked = self->hooks_present;
    r->callbacks_expected = self->emitted_count;
    if (!self->hooks_present)
        return;
    //  Per conversation, the latest first arrival among its earlier events.
    zhashx_t *latest = zhashx_new ();
    if (!latest)
        return;
    for (size_t index = 0; index < self->emitted_count; index++) {
        const emitted_t *event = &self->emitted [index];
        uintptr_t arrival = (uintptr_t) zhashx_lookup (self->hooks, event->match);
        if (!arrival) {
            r->callbacks_lost++;
            s_example (r->callback_example, "%s (conversation %s) was never POSTed", event->match,
                       *event->conversation? event->conversation: "?");
            continue;
        }
        double posted = arrival <= self->hook_times_cap? self->hook_times [arrival - 1]: -1;
        if (posted >= 0 && posted - event->at > r->callback_delay) {
            r->callback_delay = posted - event->at;
            snprintf (r->callback_delay_example, CHECK_EXAMPLE_MAX,
                      "%s (conversation %s) was first POSTed %.3f s after the upstream emitted it",
                      event->match, *event->conversation? event->conversation: "?", r->callback_delay);
        }
        if (!*event->conversation)
            continue;
        uintptr_t before = (uintptr_t) zhashx_lookup (latest, event->conversation);
        if (arrival < before) {
            r->callbacks_out_of_order++;
            s_example (r->callback_example, "%s (conversation %s) was POSTed before an earlier event of its conversation",
                       event->match, event->conversation);
        }
        else
            zhashx_update (latest, event->conversation, (void *) arrival);
    }
    zhashx_destroy (&latest);
}

void
check_result (check_t *self, check_result_t *result)
{
    assert (self);
    assert (result);
    check_result_t *r = result;
    *r = self->r;
    r->unavailable_shard = UINT32_MAX;
    //  The requests: answered, lost, answered twice.
    zhashx_purge (self->answered);
    for (size_t index = 0; index < self->reqs_count; index++) {
        const req_t *req = &self->reqs [index];
        r->requests++;
        if (!req->ok) {
            r->failed++;
            continue;
        }
        r->ok++;
        const char *earlier = (const char *) zhashx_lookup (self->answered, req->id);
        if (earlier) {
            if (strcmp (earlier, req->key) != 0)
                r->conflicts++;
            continue;           //  the same request key again: the same message
        }
        zhashx_insert (self->answered, req->id, strdup (req->key));
        const msg_t *msg = (const msg_t *) zhashx_lookup (self->messages, req->id);
        if (!msg) {
            r->lost++;
            s_example (r->lost_example, "id %s (request %s, answered 201 at %.3f) never reached the upstream",
                       req->id, req->key, req->done_at);
            continue;
        }
        r->delivered++;
        if (msg->first_at - req->done_at > r->message_delay) {
            r->message_delay = msg->first_at - req->done_at;
            snprintf (r->message_delay_example, CHECK_EXAMPLE_MAX,
                      "id %s (request %s) reached the upstream %.3f s after its 201", req->id, req->key,
                      r->message_delay);
        }
        if (msg->arrivals > 1) {
            r->duplicates += msg->arrivals - 1;
            s_example (r->duplicate_example, "id %s (request %s) reached the upstream %" PRIu32 " times",
                       req->id, req->key, msg->arrivals);
        }
        r->duplicates_wagate += msg->dup_lines;
    }
    //  Ids no request of the record got: their repeats within the window.
    for (msg_t *msg = (msg_t *) zhashx_first (self->messages); msg; msg = (msg_t *) zhashx_next (self->messages)) {
        const char *id = (const char *) zhashx_cursor (self->messages);
        if (zhashx_lookup (self->answered, id))
            continue;
        if (msg->extra_in_window) {
            r->duplicates += msg->extra_in_window;
            s_example (r->duplicate_example, "id %s reached the upstream %" PRIu32 " times", id, msg->arrivals);
        }
        r->duplicates_wagate += msg->dup_lines_in_window;
    }
    s_availability (self, r);
    s_callbacks (self, r);
}

bool
check_result_safe (const check_result_t *r)
{
    assert (r);
    return r->overlaps == 0 && r->overlaps_wagate == 0 && r->lost == 0 && r->conflicts == 0
        && r->duplicates == 0 && r->duplicates_wagate == 0
        && r->misrouted == 0 && r->misrouted_wagate == 0
        && (!r->callbacks_checked || (r->callbacks_lost == 0 && r->callbacks_out_of_order == 0));
}
