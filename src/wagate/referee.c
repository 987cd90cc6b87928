/*  referee — see referee.h */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
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
    uint64_t highest_epoch;
    session_t session;          //  at most one per key, by the rule
} account_t;

typedef struct {
    uint64_t id;
    const char *reason;
} closed_t;

struct _referee_t {
    wa_usec_t idle_timeout;
    FILE *ledger;
    account_t *accounts;
    size_t accounts_count;
    size_t accounts_cap;
    uint64_t next_session;
    closed_t closed [S_CLOSED_KEPT];
    size_t closed_next;
    referee_overlap_t overlaps [REFEREE_OVERLAPS_KEPT];
    size_t overlaps_next;
    referee_gone_t *gone;       //  queue of owners to tell, drained by the caller
    size_t gone_head;
    size_t gone_count;
    size_t gone_cap;
    //  counters
    uint64_t sessions;
    uint64_t overlap_total;
    uint64_t refused_stale_epoch;
    uint64_t expired;
    uint64_t kicked;
    uint64_t logouts;
    uint64_t malformed;
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

referee_t *
referee_new (wa_usec_t idle_timeout, FILE *ledger)
{
    assert (idle_timeout > 0);
    referee_t *self = (referee_t *) calloc (1, sizeof (referee_t));
    if (!self)
        return NULL;
    self->idle_timeout = idle_timeout;
    self->ledger = ledger;
    self->next_session = 1;
    return self;
}

void
referee_destroy (referee_t **self_p)
{
    assert (self_p);
    referee_t *self = *self_p;
    if (self) {
        free (self->accounts);
        free (self->gone);
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
s_account_find (referee_t *self, const char *account, uint32_t shard)
{
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *acct = &self->accounts [index];
        if (acct->shard == shard && strcmp (acct->account, account) == 0)
            return acct;
    }
    return NULL;
}

static account_t *
s_account_add (referee_t *self, const char *account, uint32_t shard)
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
//  decided. extra (may be NULL) is merged in and released.
static void
s_ledger (referee_t *self, const char *event, const account_t *acct, uint64_t node,
          uint64_t epoch, uint64_t session, json_t *extra)
{
    if (!self->ledger) {
        json_decref (extra);
        return;
    }
    json_t *line = json_object ();
    json_object_set_new (line, "at", s_time_json (s_wall_now (), 6));
    json_object_set_new (line, "event", json_string (event));
    json_object_set_new (line, "account", json_string (acct->account));
    json_object_set_new (line, "shard", json_integer (acct->shard));
    json_object_set_new (line, "node", s_uint_json (node));
    json_object_set_new (line, "epoch", s_uint_json (epoch));
    json_object_set_new (line, "session", session? s_uint_json (session): json_null ());
    if (extra) {
        json_object_update (line, extra);
        json_decref (extra);
    }
    char *text = json_dumps (line, JSON_COMPACT);
    if (text) {
        fprintf (self->ledger, "%s\n", text);
        fflush (self->ledger);
        free (text);
    }
    json_decref (line);
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

static void
s_overlap_record (referee_t *self, account_t *acct, uint64_t node, uint64_t epoch,
                  uint64_t session, referee_result_t *result)
{
    referee_overlap_t *record = &self->overlaps [self->overlaps_next];
    self->overlaps_next = (self->overlaps_next + 1) % REFEREE_OVERLAPS_KEPT;
    self->overlap_total++;
    memset (record, 0, sizeof (referee_overlap_t));
    snprintf (record->account, sizeof record->account, "%s", acct->account);
    record->shard = acct->shard;
    record->old_node = acct->session.node;
    record->old_epoch = acct->session.epoch;
    record->old_session = acct->session.id;
    record->old_since = acct->session.since;
    record->new_node = node;
    record->new_epoch = epoch;
    record->new_session = session;
    record->at = s_wall_now ();
    result->overlap = true;
    result->overlap_record = *record;

    json_t *old = json_object ();
    json_object_set_new (old, "node", s_uint_json (record->old_node));
    json_object_set_new (old, "epoch", s_uint_json (record->old_epoch));
    json_object_set_new (old, "session", s_uint_json (record->old_session));
    json_object_set_new (old, "since", s_time_json (record->old_since, 3));
    json_t *extra = json_object ();
    json_object_set_new (extra, "old", old);
    s_ledger (self, "overlap", acct, node, epoch, session, extra);
}

int
referee_login (referee_t *self, const referee_owner_t *owner, const char *account,
               uint32_t shard, uint64_t node, uint64_t epoch, wa_usec_t now,
               referee_result_t *result)
{
    assert (self);
    assert (owner);
    assert (account);
    assert (result);
    memset (result, 0, sizeof (referee_result_t));
    referee_expire (self, now);

    account_t *acct = s_account_find (self, account, shard);
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
        acct = s_account_add (self, account, shard);
        if (!acct) {
            snprintf (result->text, sizeof result->text, "out of memory");
            return -1;
        }
    }
    //  One connection holds one session: a second login on it replaces the
    //  first (when that is the same key, the overlap below records it).
    for (size_t index = 0; index < self->accounts_count; index++) {
        account_t *other = &self->accounts [index];
        if (other != acct && other->session.open && s_owner_equal (&other->session.owner, owner))
            s_session_close (self, other, "kicked");
    }
    uint64_t id = self->next_session++;
    if (acct->session.open) {
        s_overlap_record (self, acct, node, epoch, id, result);
        s_session_close (self, acct, "kicked");
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

static json_t *
s_overlap_json (const referee_overlap_t *record)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "account", json_string (record->account));
    json_object_set_new (entry, "shard", json_integer (record->shard));
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
s_account_json (const account_t *acct)
{
    json_t *entry = json_object ();
    json_object_set_new (entry, "account", json_string (acct->account));
    json_object_set_new (entry, "shard", json_integer (acct->shard));
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

char *
referee_stats_json (referee_t *self, size_t max_len)
{
    assert (self);
    json_t *root = json_object ();
    json_object_set_new (root, "sessions", s_uint_json (self->sessions));
    json_object_set_new (root, "open", s_uint_json (referee_open_count (self)));
    json_object_set_new (root, "overlaps", s_uint_json (self->overlap_total));
    json_object_set_new (root, "refused_stale_epoch", s_uint_json (self->refused_stale_epoch));
    json_object_set_new (root, "expired", s_uint_json (self->expired));
    json_object_set_new (root, "kicked", s_uint_json (self->kicked));
    json_object_set_new (root, "logouts", s_uint_json (self->logouts));
    json_object_set_new (root, "malformed", s_uint_json (self->malformed));

    json_t *list = json_array ();
    size_t kept = self->overlap_total < REFEREE_OVERLAPS_KEPT?
                  (size_t) self->overlap_total: REFEREE_OVERLAPS_KEPT;
    size_t first = (self->overlaps_next + REFEREE_OVERLAPS_KEPT - kept) % REFEREE_OVERLAPS_KEPT;
    for (size_t index = 0; index < kept; index++)
        json_array_append_new (list, s_overlap_json (&self->overlaps [(first + index) % REFEREE_OVERLAPS_KEPT]));
    json_object_set_new (root, "overlap_list", list);

    json_t *accounts = json_array ();
    for (size_t index = 0; index < self->accounts_count; index++)
        json_array_append_new (accounts, s_account_json (&self->accounts [index]));
    json_object_set_new (root, "accounts", accounts);

    //  The counters always fit; the lists give way, oldest overlaps first.
    char *text = json_dumps (root, JSON_COMPACT);
    while (text && strlen (text) > max_len
    &&    (json_array_size (list) > 0 || json_array_size (accounts) > 0)) {
        free (text);
        if (json_array_size (list) > 0)
            json_array_remove (list, 0);
        else
            json_array_remove (accounts, json_array_size (accounts) - 1);
        text = json_dumps (root, JSON_COMPACT);
    }
    json_decref (root);
    return text;
}
