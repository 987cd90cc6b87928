/*  referee — see referee.h */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include <jansson.h>
#include "wa_message.h"
#include "wa_jsonl.h"
#include "referee.h"

//  Closed sessions remembered so that a late ping learns why its session is
//  gone; older ones are answered "unknown".
#define S_CLOSED_KEPT 1024

typedef struct {
    bool open;
    uint64_t id;
    uint64_t node;
    uint64_t epoch;
    referee_owner_t owner;
    wa_usec_t login_at;         //  monotonic, when the LOGIN arrived
    wa_usec_t last_activity;    //  monotonic
    wa_usec_t since;            //  wall clock
} session_t;

typedef struct {
    char account [REFEREE_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint32_t shards;            //  the layout's count, 0: unknown (part of the key)
    uint64_t highest_epoch;
    session_t session;          //  at most one per key, by the rule
} account_t;

typedef struct {
    uint64_t id;
    const char *reason;
} closed_t;

//  What every session was, indexed by session id - 1 (ids are issued in
//  order from 1): what a duplicate reports about an earlier arrival.
typedef struct {
    uint32_t account;           //  index into accounts, which only grows
    uint64_t node;
    uint64_t epoch;
} session_info_t;

//  One received message id: kept small, there may be millions (referee.h).
//  The hash table's key points into it.
typedef struct {
    wa_usec_t at;               //  wall clock, first arrival
    uint64_t session;
    char id [];
} message_t;

//  A SEND's JSON, validated.
typedef struct {
    char id [REFEREE_MESSAGE_ID_MAX + 1];
    char to [REFEREE_MESSAGE_TO_MAX + 1];
    char type [16];
    json_t *body;               //  a reference: the caller drops it
} message_fields_t;

struct _referee_t {
    wa_usec_t idle_timeout;
    FILE *ledger;
    wa_jsonl_t line;            //  the ledger line being written
    account_t *accounts;
    size_t accounts_count;
    size_t accounts_cap;
    uint64_t next_session;
    closed_t closed [S_CLOSED_KEPT];
    size_t closed_next;
    referee_overlap_t overlaps [REFEREE_OVERLAPS_KEPT];
    size_t overlaps_next;
    session_info_t *session_info;
    size_t session_info_cap;    //  entries in use: next_session - 1
    zhashx_t *messages;         //  id → message_t
    referee_duplicate_t duplicates [REFEREE_DUPLICATES_KEPT];
    size_t duplicates_next;
    referee_gone_t *gone;       //  queue of owners to tell, drained by the caller
    size_t gone_head;
    size_t gone_count;
    size_t gone_cap;
    //  counters
    uint64_t sessions;
    uint64_t overlap_total;
    uint64_t refused_stale_epoch;
    uint64_t refused_layout;
    uint64_t misrouted;
    uint64_t expired;
    uint64_t kicked;
    uint64_t logouts;
    uint64_t malformed;
    uint64_t duplicate_total;
    uint64_t refused_messages;
    uint64_t queries;
};

//  Wall-clock stamps only label records; the rules run on `now`.
static wa_usec_t
s_wall_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (wa_usec_t) ts.tv_sec * WA_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void
referee_format_time (wa_usec_t wall, int decimals, char *buf, size_t size)
{
    time_t secs = (time_t) (wall / WA_USEC_PER_SEC);
    long usec = (long) (wall % WA_USEC_PER_SEC);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (decimals == 6)
        snprintf (buf, size, "%s.%06ldZ", stamp, usec);
    else
        snprintf (buf, size, "%s.%03ldZ", stamp, usec / 1000);
}

static json_t *
s_time_json (wa_usec_t wall, int decimals)
{
    char buf [48];
    referee_format_time (wall, decimals, buf, sizeof buf);
    return json_string (buf);
}

static json_t *
s_uint_json (uint64_t value)
{
    return json_integer ((json_int_t) value);
}

//  A layout's shard count; null when unknown.
static json_t *
s_shards_json (uint32_t shards)
{
    return shards? json_integer (shards): json_null ();
}

const char *
referee_layout_check (uint32_t shard, uint32_t shards, char *why, size_t why_size)
{
    assert (why && why_size);
    if (shards == 0)
        return NULL;
    if (shards > REFEREE_SHARDS_MAX || (shards & (shards - 1)) != 0)
        snprintf (why, why_size, "invalid shard count %" PRIu32 ": must be 1, 2, 4, 8, 16 or 32", shards);
    else
    if (shard >= shards)
        snprintf (why, why_size, "invalid shard %" PRIu32 ": not below the shard count %" PRIu32, shard, shards);
    else
        return NULL;
    return why;
}

//  Counts are powers of two: the recipients of (s, N) are those whose CRC32
//  is s mod N; with N <= N', every one of (s', N') has CRC32 = s' mod N',
//  hence = s' mod N mod N (N divides N'): all of them are (s' mod N, N)'s.
//  So the two sets are nested or disjoint, and meet iff s' mod N == s.
bool
referee_layouts_intersect (uint32_t shard_a, uint32_t shards_a, uint32_t shard_b, uint32_t shards_b)
{
    if (shards_a == 0 || shards_b == 0)
        return shard_a == shard_b;
    if (shards_a <= shards_b)
        return shard_b % shards_a == shard_a;
    return shard_a % shards_b == shard_b;
}

//  FNV-1a: zhashx's default hash is weak on ids that differ in a few
//  characters.
static size_t
s_id_hash (const void *key)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *byte = (const unsigned char *) key; *byte; byte++) {
        hash ^= *byte;
        hash *= 1099511628211ULL;
    }
    return (size_t) hash;
}

static void
s_message_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

referee_t *
referee_new (wa_usec_t idle_timeout, FILE *ledger)
{
    assert (idle_timeout > 0);
    referee_t *self = (referee_t *) calloc (1, sizeof (referee_t));
    if (!self)
        return NULL;
    self->idle_timeout = idle_timeout;
    self->ledger = ledger;
    wa_jsonl_init (&self->line);
    self->next_session = 1;
    self->messages = zhashx_new ();
    if (!self->messages) {
        free (self);
        return NULL;
    }
    //  The key is the record's own id: no copy, nothing to free but the record.
    zhashx_set_key_duplicator (self->messages, NULL);
    zhashx_set_key_destructor (self->messages, NULL);
    zhashx_set_key_hasher (self->messages, s_id_hash);
    zhashx_set_destructor (self->messages, s_message_destroy);
    return self;
}

void
referee_destroy (referee_t **self_p)
{
    assert (self_p);
    referee_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->messages);
        wa_jsonl_release (&self->line);
        free (self->accounts);
        free (self->gone);
        free (self->session_info);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_owner_equal (const referee_owner_t *a, const referee_owner_t *b)
{
    return a->size == b->size && memcmp (a->data, b->data, a->size) == 0;
}

static account_t *
s_account_find (referee_t *self, const char *account, uint32_t shard, uint32_t shards)
{
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *acct = &self->accounts [index];
        if (acct->shard == shard && acct->shards == shards && strcmp (acct->account, account) == 0)
            return acct;
    }
    return NULL;
}

static account_t *
s_account_add (referee_t *self, const char *account, uint32_t shard, uint32_t shards)
{
    if (self->accounts_count == self->accounts_cap) {
        size_t cap = self->accounts_cap? self->accounts_cap * 2: 16;
        account_t *accounts = (account_t *) realloc (self->accounts, cap * sizeof (account_t));
        if (!accounts)
            return NULL;
        self->accounts = accounts;
        self->accounts_cap = cap;
    }
    account_t *acct = &self->accounts [self->accounts_count++];
    memset (acct, 0, sizeof (account_t));
    snprintf (acct->account, sizeof acct->account, "%s", account);
    acct->shard = shard;
    acct->shards = shards;
    return acct;
}

static account_t *
s_session_find (referee_t *self, uint64_t session)
{
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *acct = &self->accounts [index];
        if (acct->session.open && acct->session.id == session)
            return acct;
    }
    return NULL;
}

//  One JSON line per event; flushed so that a crash loses nothing already
//  decided — except message lines, which come by thousands a second: they
//  are flushed by referee_flush (wagate's sweep, every few milliseconds)
//  and by the next session event. extra (may be NULL) is merged in and
//  released.
static void
s_ledger (referee_t *self, const char *event, const account_t *acct, uint64_t node,
          uint64_t epoch, uint64_t session, json_t *extra)
{
    if (!self->ledger) {
        json_decref (extra);
        return;
    }
    wa_jsonl_t *line = &self->line;
    wa_jsonl_begin (line);
    wa_jsonl_iso (line, "at", s_wall_now (), 6);
    wa_jsonl_str (line, "event", event);
    wa_jsonl_str (line, "account", acct->account);
    wa_jsonl_uint (line, "shard", acct->shard);
    if (acct->shards)
        wa_jsonl_uint (line, "shards", acct->shards);
    else
        wa_jsonl_null (line, "shards");
    wa_jsonl_uint (line, "node", node);
    wa_jsonl_uint (line, "epoch", epoch);
    if (session)
        wa_jsonl_uint (line, "session", session);
    else
        wa_jsonl_null (line, "session");
    //  (extra's keys are none of the above)
    if (extra) {
        wa_jsonl_members (line, extra);
        json_decref (extra);
    }
    if (wa_jsonl_end (line, self->ledger) == 0 && strcmp (event, "message") != 0)
        fflush (self->ledger);
}

static void
s_gone_push (referee_t *self, const account_t *acct, const char *reason)
{
    if (self->gone_count == self->gone_cap) {
        size_t cap = self->gone_cap? self->gone_cap * 2: 16;
        referee_gone_t *gone = (referee_gone_t *) realloc (self->gone, cap * sizeof (referee_gone_t));
        if (!gone)
            return;             //  the owner learns at its next ping instead
        self->gone = gone;
        self->gone_cap = cap;
    }
    referee_gone_t *entry = &self->gone [self->gone_count++];
    entry->owner = acct->session.owner;
    entry->session = acct->session.id;
    entry->reason = reason;
    memcpy (entry->account, acct->account, sizeof entry->account);
    entry->shard = acct->shard;
    entry->node = acct->session.node;
    entry->epoch = acct->session.epoch;
}

bool
referee_next_gone (referee_t *self, referee_gone_t *gone)
{
    assert (self);
    assert (gone);
    if (self->gone_head == self->gone_count) {
        self->gone_head = self->gone_count = 0;
        return false;
    }
    *gone = self->gone [self->gone_head++];
    return true;
}

//  reason is "expired", "kicked" or "logged out"
static void
s_session_close (referee_t *self, account_t *acct, const char *reason)
{
    session_t *session = &acct->session;
    assert (session->open);
    session->open = false;
    self->closed [self->closed_next].id = session->id;
    self->closed [self->closed_next].reason = reason;
    self->closed_next = (self->closed_next + 1) % S_CLOSED_KEPT;
    const char *event = reason;
    if (strcmp (reason, "expired") == 0)
        self->expired++;
    else
    if (strcmp (reason, "kicked") == 0)
        self->kicked++;
    else {
        self->logouts++;
        event = "logout";
    }
    s_ledger (self, event, acct, session->node, session->epoch, session->id, NULL);
    if (strcmp (reason, "logged out") != 0)
        s_gone_push (self, acct, reason);
}

//  "unknown" also for an open session of another owner: not the sender's business.
static void
s_result_gone (referee_t *self, uint64_t session, referee_result_t *result)
{
    const char *reason = "unknown";
    if (!s_session_find (self, session)) {
        for (size_t index = 0; index < S_CLOSED_KEPT; index++)
            if (self->closed [index].reason && self->closed [index].id == session) {
                reason = self->closed [index].reason;
                break;
            }
    }
    result->session = session;
    snprintf (result->text, sizeof result->text, "%s", reason);
}

size_t
referee_expire (referee_t *self, wa_usec_t now)
{
    assert (self);
    size_t count = 0;
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *acct = &self->accounts [index];
        if (acct->session.open && now - acct->session.last_activity > self->idle_timeout) {
            s_session_close (self, acct, "expired");
            count++;
        }
    }
    return count;
}

//  The login of acct (node, epoch, session) found old's session open.
static void
s_overlap_record (referee_t *self, const account_t *acct, const account_t *old, uint64_t node,
                  uint64_t epoch, uint64_t session, referee_result_t *result)
{
    referee_overlap_t *record = &self->overlaps [self->overlaps_next];
    self->overlaps_next = (self->overlaps_next + 1) % REFEREE_OVERLAPS_KEPT;
    self->overlap_total++;
    memset (record, 0, sizeof (referee_overlap_t));
    snprintf (record->account, sizeof record->account, "%s", acct->account);
    record->shard = acct->shard;
    record->shards = acct->shards;
    record->old_shard = old->shard;
    record->old_shards = old->shards;
    record->old_node = old->session.node;
    record->old_epoch = old->session.epoch;
    record->old_session = old->session.id;
    record->old_since = old->session.since;
    record->new_node = node;
    record->new_epoch = epoch;
    record->new_session = session;
    record->at = s_wall_now ();
    result->overlap = true;
    result->overlap_record = *record;
    result->overlaps++;

    json_t *prior = json_object ();
    json_object_set_new (prior, "shard", json_integer (record->old_shard));
    json_object_set_new (prior, "shards", s_shards_json (record->old_shards));
    json_object_set_new (prior, "node", s_uint_json (record->old_node));
    json_object_set_new (prior, "epoch", s_uint_json (record->old_epoch));
    json_object_set_new (prior, "session", s_uint_json (record->old_session));
    json_object_set_new (prior, "since", s_time_json (record->old_since, 3));
    json_t *extra = json_object ();
    json_object_set_new (extra, "old", prior);
    s_ledger (self, "overlap", acct, node, epoch, session, extra);
}

int
referee_login (referee_t *self, const referee_owner_t *owner, const char *account,
               uint32_t shard, uint32_t shards, uint64_t node, uint64_t epoch, wa_usec_t now,
               referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (account);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    referee_expire (self, now);

    if (referee_layout_check (shard, shards, result->text, sizeof result->text)) {
        //  No layout's: nothing is opened, nothing remembered but the line.
        self->refused_layout++;
        account_t invalid;
        memset (&invalid, 0, sizeof invalid);
        snprintf (invalid.account, sizeof invalid.account, "%s", account);
        invalid.shard = shard;
        invalid.shards = shards;
        json_t *extra = json_object ();
        json_object_set_new (extra, "reason", json_string (result->text));
        s_ledger (self, "refused", &invalid, node, epoch, 0, extra);
        return -1;
    }
    account_t *acct = s_account_find (self, account, shard, shards);
    if (acct && epoch < acct->highest_epoch) {
        self->refused_stale_epoch++;
        result->epoch = acct->highest_epoch;
        snprintf (result->text, sizeof result->text, "stale epoch %" PRIu64 " below %" PRIu64,
                  epoch, acct->highest_epoch);
        json_t *extra = json_object ();
        json_object_set_new (extra, "highest_epoch", s_uint_json (acct->highest_epoch));
        s_ledger (self, "refused", acct, node, epoch, 0, extra);
        return -1;
    }
    if (!acct) {
        acct = s_account_add (self, account, shard, shards);
        if (!acct) {
            snprintf (result->text, sizeof result->text, "out of memory");
            return -1;
        }
    }
    //  Room to remember the session, before anything changes.
    if (self->next_session > self->session_info_cap) {
        size_t cap = self->session_info_cap? self->session_info_cap * 2: 64;
        session_info_t *info = (session_info_t *) realloc (self->session_info, cap * sizeof (session_info_t));
        if (!info) {
            snprintf (result->text, sizeof result->text, "out of memory");
            return -1;
        }
        self->session_info = info;
        self->session_info_cap = cap;
    }
    //  One connection holds one session: a second login on it replaces the
    //  first (when they intersect, the overlap below records it).
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *other = &self->accounts [index];
        if (other != acct && other->session.open && s_owner_equal (&other->session.owner, owner)
        &&  !(strcmp (other->account, acct->account) == 0
        &&    referee_layouts_intersect (other->shard, other->shards, shard, shards)))
            s_session_close (self, other, "kicked");
    }
    uint64_t id = self->next_session++;
    session_info_t *info = &self->session_info [id - 1];
    info->account = (uint32_t) (acct - self->accounts);
    info->node = node;
    info->epoch = epoch;
    //  Every open session that serves some of the same recipients, of this
    //  key or of another layout, overlaps: each is recorded and kicked (the
    //  real network bans; the emulator keeps the newest, as for one key).
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *other = &self->accounts [index];
        if (other->session.open && strcmp (other->account, acct->account) == 0
        &&  referee_layouts_intersect (other->shard, other->shards, shard, shards)) {
            s_overlap_record (self, acct, other, node, epoch, id, result);
            s_session_close (self, other, "kicked");
        }
    }
    if (epoch > acct->highest_epoch)
        acct->highest_epoch = epoch;
    session_t *session = &acct->session;
    session->open = true;
    session->id = id;
    session->node = node;
    session->epoch = epoch;
    session->owner = *owner;
    session->login_at = now;
    session->last_activity = now;
    session->since = s_wall_now ();
    self->sessions++;
    s_ledger (self, "login", acct, node, epoch, id, NULL);
    result->session = id;
    return 0;
}

int
referee_ping (referee_t *self, const referee_owner_t *owner, uint64_t session,
              uint64_t seq, wa_usec_t now, referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    //  Expire first: a ping that arrives after the deadline finds its
    //  session already gone, whether or not the sweep has run yet.
    referee_expire (self, now);
    account_t *acct = s_session_find (self, session);
    if (!acct || !s_owner_equal (&acct->session.owner, owner)) {
        s_result_gone (self, session, result);
        return -1;
    }
    //  seq is the client's time since it sent LOGIN; the login took at least
    //  no time in transit, so the ping left no later than login_at + seq.
    session_t *state = &acct->session;
    wa_usec_t elapsed = now > state->login_at? now - state->login_at: 0;
    wa_usec_t lag = seq >= (uint64_t) elapsed? 0: elapsed - (wa_usec_t) seq;
    wa_usec_t sent_at = now - lag;
    if (sent_at > state->last_activity)
        state->last_activity = sent_at;
    result->session = session;
    result->seq = seq;
    return 0;
}

int
referee_logout (referee_t *self, const referee_owner_t *owner, uint64_t session,
                wa_usec_t now, referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    referee_expire (self, now);
    account_t *acct = s_session_find (self, session);
    if (!acct || !s_owner_equal (&acct->session.owner, owner)) {
        s_result_gone (self, session, result);
        return -1;
    }
    s_session_close (self, acct, "logged out");
    result->session = session;
    return 0;
}

//  The session the owner sends on, expired sessions closed first; NULL
//  (result filled in as for a ping) when it is gone or another's. Its
//  arrival is activity: a message carries no send time.
static account_t *
s_session_active (referee_t *self, const referee_owner_t *owner, uint64_t session,
                  wa_usec_t now, referee_result_t *result)
{
    referee_expire (self, now);
    account_t *acct = s_session_find (self, session);
    if (!acct || !s_owner_equal (&acct->session.owner, owner)) {
        s_result_gone (self, session, result);
        return NULL;
    }
    //  Only a PING, dated by when it was sent, keeps a session alive: a
    //  SEND or QUERY that waited in a queue would stretch the session past
    //  the moment the next primary counts on (its holder pings anyway).
    result->session = session;
    return acct;
}

//  NULL when valid, else why not.
static const char *
s_id_check (const char *id, size_t len)
{
    if (len == 0 || len > REFEREE_MESSAGE_ID_MAX)
        return "id must be 1 to 64 characters";
    for (size_t index = 0; index < len; index++) {
        char c = id [index];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        ||    c == '_' || c == '-'))
            return "id may hold only A-Z a-z 0-9 _ -";
    }
    return NULL;
}

static const char *
s_to_check (const char *to, size_t len)
{
    if (len == 0 || len > REFEREE_MESSAGE_TO_MAX)
        return "to must be 1 to 20 digits";
    for (size_t index = 0; index < len; index++)
        if (to [index] < '0' || to [index] > '9')
            return "to must be 1 to 20 digits";
    return NULL;
}

//  A string member's value and length, or NULL when absent or not a string.
static const char *
s_member_string (json_t *root, const char *key, size_t *len)
{
    json_t *value = json_object_get (root, key);
    if (!json_is_string (value))
        return NULL;
    *len = json_string_length (value);
    return json_string_value (value);
}

//  0 and fields filled in, or -1 with why.
static int
s_message_parse (const char *text, message_fields_t *fields, char *why, size_t why_size)
{
    json_error_t error;
    json_t *root = json_loads (text, JSON_REJECT_DUPLICATES, &error);
    const char *reason = NULL;
    if (!root) {
        snprintf (why, why_size, "invalid JSON: %.60s", error.text);
        return -1;
    }
    size_t id_len = 0, to_len = 0, type_len = 0;
    const char *id = NULL, *to = NULL, *type = NULL;
    json_t *body = json_object_get (root, "body");
    if (!json_is_object (root))
        reason = "not a JSON object";
    else
    if (!(id = s_member_string (root, "id", &id_len)))
        reason = "id missing or not a string";
    else
    if ((reason = s_id_check (id, id_len)))
        ;
    else
    if (!(to = s_member_string (root, "to", &to_len)))
        reason = "to missing or not a string";
    else
    if ((reason = s_to_check (to, to_len)))
        ;
    else
    if (!(type = s_member_string (root, "type", &type_len)))
        reason = "type missing or not a string";
    else {
        //  Every type of the API (wa_message_types): a text's body is its
        //  string, contacts' the array of cards, every other's an object.
        reason = "unknown type";
        for (size_t index = 0; wa_message_types [index]; index++)
            if (strcmp (type, wa_message_types [index]) == 0 && type_len == strlen (wa_message_types [index]))
                reason = NULL;
        if (reason)
            ;
        else
        if (strcmp (type, "text") == 0) {
            if (!json_is_string (body))
                reason = "body missing or not a string";
            else
            if (wa_utf8_chars (json_string_value (body), json_string_length (body)) > REFEREE_MESSAGE_BODY_MAX)
                reason = "body longer than 4096 characters";
        }
        else
        if (strcmp (type, "contacts") == 0) {
            if (!json_is_array (body))
                reason = "body missing or not an array";
        }
        else
        if (!json_is_object (body))
            reason = "body missing or not an object";
    }
    if (reason)
        snprintf (why, why_size, "%s", reason);
    else {
        memcpy (fields->id, id, id_len + 1);
        memcpy (fields->to, to, to_len + 1);
        snprintf (fields->type, sizeof fields->type, "%s", type);
        fields->body = json_incref (body);
    }
    json_decref (root);
    return reason? -1: 0;
}

static void
s_arrival_set (referee_t *self, referee_arrival_t *arrival, uint64_t session, wa_usec_t at)
{
    const session_info_t *info = &self->session_info [session - 1];
    const account_t *acct = &self->accounts [info->account];
    memcpy (arrival->account, acct->account, sizeof arrival->account);
    arrival->shard = acct->shard;
    arrival->shards = acct->shards;
    arrival->node = info->node;
    arrival->epoch = info->epoch;
    arrival->session = session;
    arrival->at = at;
}

static json_t *
s_arrival_json (const referee_arrival_t *arrival)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "account", json_string (arrival->account));
    json_object_set_new (entry, "shard", json_integer (arrival->shard));
    json_object_set_new (entry, "shards", s_shards_json (arrival->shards));
    json_object_set_new (entry, "node", s_uint_json (arrival->node));
    json_object_set_new (entry, "epoch", s_uint_json (arrival->epoch));
    json_object_set_new (entry, "session", s_uint_json (arrival->session));
    json_object_set_new (entry, "at", s_time_json (arrival->at, 3));
    return entry;
}

//  On a message's ledger line: whether the session serves its recipient.
static void
s_misrouted_mark (const referee_result_t *result, json_t *extra)
{
    if (result->misrouted) {
        json_object_set_new (extra, "misrouted", json_true ());
        json_object_set_new (extra, "recipient_shard", json_integer (result->recipient_shard));
    }
}

static void
s_duplicate_record (referee_t *self, account_t *acct, const message_t *first,
                    const message_fields_t *fields, uint64_t session, wa_usec_t at,
                    referee_result_t *result)
{
    referee_duplicate_t *record = &self->duplicates [self->duplicates_next];
    self->duplicates_next = (self->duplicates_next + 1) % REFEREE_DUPLICATES_KEPT;
    self->duplicate_total++;
    memset (record, 0, sizeof (referee_duplicate_t));
    snprintf (record->id, sizeof record->id, "%s", fields->id);
    s_arrival_set (self, &record->first, first->session, first->at);
    s_arrival_set (self, &record->again, session, at);
    result->duplicate = true;
    result->duplicate_record = *record;

    json_t *extra = json_object ();
    json_object_set_new (extra, "id", json_string (fields->id));
    json_object_set_new (extra, "to", json_string (fields->to));
    json_object_set_new (extra, "type", json_string (fields->type));
    json_object_set_new (extra, "first", s_arrival_json (&record->first));
    s_misrouted_mark (result, extra);
    s_ledger (self, "duplicate", acct, acct->session.node, acct->session.epoch, session, extra);
}

int
referee_send (referee_t *self, const referee_owner_t *owner, uint64_t session,
              uint64_t seq, const char *text, wa_usec_t now, referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (text);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    account_t *acct = s_session_active (self, owner, session, now, result);
    if (!acct)
        return -1;
    result->seq = seq;
    message_fields_t fields;
    if (s_message_parse (text, &fields, result->text, sizeof result->text)) {
        self->refused_messages++;
        result->code = REFEREE_SEND_REFUSED;
        return REFEREE_SEND_REFUSED;
    }
    //  Judged on whatever is recorded, new or duplicate (counted below, once
    //  it is: a refusal records nothing).
    if (acct->shards) {
        uint32_t recipient = (uint32_t) wa_message_shard (fields.to, (int) acct->shards);
        if (recipient != acct->shard) {
            result->misrouted = true;
            result->recipient_shard = recipient;
        }
    }
    wa_usec_t at = s_wall_now ();
    message_t *first = (message_t *) zhashx_lookup (self->messages, fields.id);
    if (first) {
        s_duplicate_record (self, acct, first, &fields, session, at, result);
        result->code = REFEREE_SEND_DUPLICATE;
    }
    else {
        size_t id_size = strlen (fields.id) + 1;
        message_t *message = (message_t *) malloc (sizeof (message_t) + id_size);
        if (message) {
            message->at = at;
            message->session = session;
            memcpy (message->id, fields.id, id_size);
        }
        if (!message || zhashx_insert (self->messages, message->id, message)) {
            //  Out of memory. Nothing recorded: the sender sees a refusal
            //  rather than an id being forgotten.
            free (message);
            json_decref (fields.body);
            self->refused_messages++;
            result->misrouted = false;
            snprintf (result->text, sizeof result->text, "out of memory");
            result->code = REFEREE_SEND_REFUSED;
            return REFEREE_SEND_REFUSED;
        }
        json_t *extra = json_object ();
        json_object_set_new (extra, "id", json_string (fields.id));
        json_object_set_new (extra, "to", json_string (fields.to));
        json_object_set_new (extra, "type", json_string (fields.type));
        //  What went upstream, for a checker: the body as sent.
        json_object_set (extra, "body", fields.body);
        s_misrouted_mark (result, extra);
        s_ledger (self, "message", acct, acct->session.node, acct->session.epoch, session, extra);
        result->code = REFEREE_SEND_NEW;
    }
    json_decref (fields.body);
    if (result->misrouted)
        self->misrouted++;
    snprintf (result->text, sizeof result->text, "%s", fields.id);
    return (int) result->code;
}

int
referee_query (referee_t *self, const referee_owner_t *owner, uint64_t session,
               const char *id, wa_usec_t now, referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (id);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    if (!s_session_active (self, owner, session, now, result))
        return -1;
    self->queries++;
    const char *why = s_id_check (id, strlen (id));
    if (why) {
        snprintf (result->text, sizeof result->text, "%s", why);
        return 1;
    }
    result->code = zhashx_lookup (self->messages, id)? 1: 0;
    snprintf (result->text, sizeof result->text, "%s", id);
    return 0;
}

void
referee_flush (referee_t *self)
{
    assert (self);
    if (self->ledger)
        fflush (self->ledger);
}

bool
referee_message_known (referee_t *self, const char *id)
{
    assert (self);
    assert (id);
    return zhashx_lookup (self->messages, id) != NULL;
}

size_t
referee_message_count (referee_t *self)
{
    assert (self);
    return zhashx_size (self->messages);
}

size_t
referee_duplicate_count (referee_t *self)
{
    assert (self);
    return (size_t) self->duplicate_total;
}

void
referee_count_malformed (referee_t *self)
{
    assert (self);
    self->malformed++;
}

size_t
referee_open_count (referee_t *self)
{
    assert (self);
    size_t count = 0;
    for (size_t index = 0; index < self->accounts_count; index++)
        if (self->accounts [index].session.open)
            count++;
    return count;
}

size_t
referee_overlap_count (referee_t *self)
{
    assert (self);
    return (size_t) self->overlap_total;
}

size_t
referee_misrouted_count (referee_t *self)
{
    assert (self);
    return (size_t) self->misrouted;
}

static json_t *
s_overlap_json (const referee_overlap_t *record)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "account", json_string (record->account));
    json_object_set_new (entry, "shard", json_integer (record->shard));
    json_object_set_new (entry, "shards", s_shards_json (record->shards));
    json_object_set_new (entry, "old_shard", json_integer (record->old_shard));
    json_object_set_new (entry, "old_shards", s_shards_json (record->old_shards));
    json_object_set_new (entry, "old_node", s_uint_json (record->old_node));
    json_object_set_new (entry, "old_epoch", s_uint_json (record->old_epoch));
    json_object_set_new (entry, "old_session", s_uint_json (record->old_session));
    json_object_set_new (entry, "old_since", s_time_json (record->old_since, 3));
    json_object_set_new (entry, "new_node", s_uint_json (record->new_node));
    json_object_set_new (entry, "new_epoch", s_uint_json (record->new_epoch));
    json_object_set_new (entry, "new_session", s_uint_json (record->new_session));
    json_object_set_new (entry, "at", s_time_json (record->at, 3));
    return entry;
}

static json_t *
s_duplicate_json (const referee_duplicate_t *record)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "id", json_string (record->id));
    json_object_set_new (entry, "first", s_arrival_json (&record->first));
    json_object_set_new (entry, "again", s_arrival_json (&record->again));
    return entry;
}

static json_t *
s_account_json (const account_t *acct)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "account", json_string (acct->account));
    json_object_set_new (entry, "shard", json_integer (acct->shard));
    json_object_set_new (entry, "shards", s_shards_json (acct->shards));
    json_object_set_new (entry, "highest_epoch", s_uint_json (acct->highest_epoch));
    json_t *open = json_null ();
    if (acct->session.open) {
        open = json_object ();
        json_object_set_new (open, "session", s_uint_json (acct->session.id));
        json_object_set_new (open, "node", s_uint_json (acct->session.node));
        json_object_set_new (open, "epoch", s_uint_json (acct->session.epoch));
        json_object_set_new (open, "since", s_time_json (acct->session.since, 3));
    }
    json_object_set_new (entry, "open", open);
    return entry;
}

json_t *
referee_stats_json (referee_t *self, size_t max_len)
{
    assert (self);
    json_t *root = json_object ();
    json_object_set_new (root, "sessions", s_uint_json (self->sessions));
    json_object_set_new (root, "open", s_uint_json (referee_open_count (self)));
    json_object_set_new (root, "overlaps", s_uint_json (self->overlap_total));
    json_object_set_new (root, "refused_stale_epoch", s_uint_json (self->refused_stale_epoch));
    json_object_set_new (root, "refused_layout", s_uint_json (self->refused_layout));
    json_object_set_new (root, "expired", s_uint_json (self->expired));
    json_object_set_new (root, "kicked", s_uint_json (self->kicked));
    json_object_set_new (root, "logouts", s_uint_json (self->logouts));
    json_object_set_new (root, "malformed", s_uint_json (self->malformed));
    json_object_set_new (root, "messages", s_uint_json (zhashx_size (self->messages)));
    json_object_set_new (root, "duplicates", s_uint_json (self->duplicate_total));
    json_object_set_new (root, "misrouted", s_uint_json (self->misrouted));
    json_object_set_new (root, "refused_messages", s_uint_json (self->refused_messages));
    json_object_set_new (root, "queries", s_uint_json (self->queries));

    json_t *list = json_array ();
    size_t kept = self->overlap_total < REFEREE_OVERLAPS_KEPT?
                  (size_t) self->overlap_total: REFEREE_OVERLAPS_KEPT;
    size_t first = (self->overlaps_next + REFEREE_OVERLAPS_KEPT - kept) % REFEREE_OVERLAPS_KEPT;
    for (size_t index = 0; index < kept; index++)
        json_array_append_new (list, s_overlap_json (&self->overlaps [(first + index) % REFEREE_OVERLAPS_KEPT]));
    json_object_set_new (root, "overlap_list", list);

    json_t *duplicates = json_array ();
    kept = self->duplicate_total < REFEREE_DUPLICATES_KEPT?
           (size_t) self->duplicate_total: REFEREE_DUPLICATES_KEPT;
    first = (self->duplicates_next + REFEREE_DUPLICATES_KEPT - kept) % REFEREE_DUPLICATES_KEPT;
    for (size_t index = 0; index < kept; index++)
        json_array_append_new (duplicates, s_duplicate_json (&self->duplicates [(first + index) % REFEREE_DUPLICATES_KEPT]));
    json_object_set_new (root, "duplicate_list", duplicates);

    json_t *accounts = json_array ();
    for (size_t index = 0; index < self->accounts_count; index++)
        json_array_append_new (accounts, s_account_json (&self->accounts [index]));
    json_object_set_new (root, "accounts", accounts);

    //  The counters always fit; the lists give way: the oldest entries of
    //  the longer of the overlap and duplicate lists, then the session
    //  table from its end. Entries are dropped by their size, so that a
    //  large excess costs a few dumps, not one per entry.
    char *text = json_dumps (root, JSON_COMPACT);
    while (text && strlen (text) > max_len
    &&    (json_array_size (list) > 0 || json_array_size (duplicates) > 0
    ||     json_array_size (accounts) > 0)) {
        size_t excess = strlen (text) - max_len;
        free (text);
        size_t dropped = 0;
        while (dropped < excess) {
            json_t *from;
            size_t index = 0;
            if (json_array_size (duplicates) > 0
            &&  json_array_size (duplicates) >= json_array_size (list))
                from = duplicates;
            else
            if (json_array_size (list) > 0)
                from = list;
            else
            if (json_array_size (accounts) > 0) {
                from = accounts;
                index = json_array_size (accounts) - 1;
            }
            else
                break;
            char *entry = json_dumps (json_array_get (from, index), JSON_COMPACT);
            dropped += (entry? strlen (entry): 0) + 1;      //  and its comma
            free (entry);
            json_array_remove (from, index);
        }
        text = json_dumps (root, JSON_COMPACT);
    }
    free (text);
    return root;
}

//  --------------------------------------------------------------------------
//  For the events (events.c): which session a key has open, and which key
//  a session belongs to.

size_t
referee_open_sessions (referee_t *self, const char *account, uint64_t *sessions, uint32_t *shard,
                       uint32_t *shards, size_t max)
{
    assert (self);
    assert (account);
    size_t count = 0;
    for (size_t index = 0; index < self->accounts_count && count < max; index++) {
        account_t *acct = &self->accounts [index];
        if (acct->session.open && strcmp (acct->account, account) == 0) {
            sessions [count] = acct->session.id;
            shard [count] = acct->shard;
            shards [count] = acct->shards;
            count++;
        }
    }
    return count;
}

int
referee_open_owner (referee_t *self, uint64_t session, referee_owner_t *owner)
{
    assert (self);
    assert (owner);
    account_t *acct = s_session_find (self, session);
    if (!acct)
        return -1;
    *owner = acct->session.owner;
    return 0;
}

int
referee_session_key (referee_t *self, const referee_owner_t *owner, uint64_t session, wa_usec_t now,
                     referee_result_t *result, char *account, size_t account_size, uint32_t *shard,
                     uint32_t *shards)
{
    assert (self);
    assert (owner);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    account_t *acct = s_session_active (self, owner, session, now, result);
    if (!acct)
        return -1;
    snprintf (account, account_size, "%s", acct->account);
    *shard = acct->shard;
    if (shards)
        *shards = acct->shards;
    return 0;
}
