/*  events — see events.h */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "wa_config.h"
#include "wa_jsonl.h"
#include "wa_message.h"
#include "events.h"

#define S_ACCOUNTS_MAX 32               //  accounts with events, each EVENTS_FINE_KEYS keys
#define S_ACCOUNT_MAX 32
#define S_MESSAGE_ID_MAX 64
#define S_TO_MAX 20
#define S_INBOUND_POOL 100
#define S_INBOUND_PER_TICK 10000        //  a late tick does not flood
#define S_INDEX_MIN 1024                //  slots of the seq index, at least

_Static_assert (EVENTS_FINE_KEYS == WA_SHARDS_MAX, "every layout's count divides the fine keys");

typedef struct queue_s queue_t;

typedef struct {
    uint64_t seq;               //  unique across keys
    bool acked;
    bool out;                   //  sent on the key's session, counted in its out
    wa_usec_t sent_at;          //  last sent (on any session)
    queue_t *queue;
    char id[EVENTS_ID_MAX + 1];
    char *text;                 //  the UP_EVENT JSON; freed once acknowledged
} event_t;

//  One (account, fine key): its pending events in seq order, in a ring.
struct queue_s {
    char account[S_ACCOUNT_MAX + 1];
    uint32_t fine;
    event_t **ring;
    size_t head;
    size_t count;
    size_t cap;
    size_t next_send;           //  offset from head of the next to send
    size_t out;                 //  unacknowledged before next_send: out on the session
    uint64_t session;           //  the session the first next_send went on
    wa_usec_t resend_check;     //  no sent event is due again before; 0: none out
};

//  An account's keys, created as events come.
typedef struct {
    char name[S_ACCOUNT_MAX + 1];
    queue_t *keys[EVENTS_FINE_KEYS];
    uint32_t turn;              //  the key the next pump starts from
} account_t;

//  The seq index: seq → pending event, open addressing (linear probing,
//  deletion by backward shift). seq 0 marks an empty slot.
typedef struct {
    uint64_t seq;
    event_t *event;
} slot_t;

//  A status to emit later: "delivered", then "read".
typedef struct sched_s {
    struct sched_s *next;
    wa_usec_t due;
    queue_t *queue;
    uint32_t shard;             //  for the ledger: the sending session's
    int stage;                  //  1 delivered, 2 read
    char id[S_MESSAGE_ID_MAX + 1];
    char to[S_TO_MAX + 1];
} sched_t;

typedef struct {
    sched_t *first;
    sched_t *last;
} fifo_t;

struct _events_t {
    events_config_t config;
    wa_jsonl_t line;            //  the ledger line being written
    char fail_digits[16];
    char account[S_ACCOUNT_MAX + 1];
    char prefix[24];            //  "w" + start time in hex
    uint64_t counter;
    uint64_t next_seq;
    account_t *accounts[S_ACCOUNTS_MAX];
    size_t naccounts;
    slot_t *slots;
    size_t slots_cap;           //  a power of two
    size_t slots_used;
    fifo_t stages[2];           //  due for delivered, due for read
    wa_usec_t last_tick;
    double credit;              //  inbound messages owed to the rate
    uint64_t generated;
    events_stats_t stats;
    //  The last EVENTS_INBOUND_KEPT inbound messages, for READ: id →
    //  {"from", "read"}, and the ids in a ring, oldest first.
    json_t *inbound;
    char **inbound_ring;
    size_t inbound_head;
    size_t inbound_count;
};

static wa_usec_t
s_wall_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (wa_usec_t) ts.tv_sec * WA_USEC_PER_SEC + ts.tv_nsec / 1000;
}

events_t *
events_new (const events_config_t *config, wa_usec_t now)
{
    assert (config);
    //  A count that divides EVENTS_FINE_KEYS: the fallback for sessions of
    //  an unknown count is then a union of fine keys too.
    assert (wa_shards_valid (config->shards));
    events_t *self = (events_t *) calloc (1, sizeof (events_t));
    if (!self)
        return NULL;
    self->config = *config;
    wa_jsonl_init (&self->line);
    snprintf (self->fail_digits, sizeof self->fail_digits, "%s", config->fail_digits? config->fail_digits: "");
    snprintf (self->account, sizeof self->account, "%s", config->account? config->account: "");
    self->config.fail_digits = self->fail_digits;
    self->config.account = self->account;
    snprintf (self->prefix, sizeof self->prefix, "w%" PRIx64, (uint64_t) config->wall_start);
    self->last_tick = now;
    self->next_seq = 1;
    self->slots_cap = S_INDEX_MIN;
    self->slots = (slot_t *) calloc (self->slots_cap, sizeof (slot_t));
    self->inbound = json_object ();
    self->inbound_ring = (char **) calloc (EVENTS_INBOUND_KEPT, sizeof (char *));
    if (!self->slots || !self->inbound || !self->inbound_ring) {
        events_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_queue_destroy (queue_t *queue)
{
    for (size_t index = 0; index < queue->count; index++) {
        event_t *event = queue->ring [(queue->head + index) % queue->cap];
        free (event->text);
        free (event);
    }
    free (queue->ring);
    free (queue);
}

void
events_destroy (events_t **self_p)
{
    assert (self_p);
    events_t *self = *self_p;
    if (self) {
        for (size_t index = 0; index < self->naccounts; index++) {
            for (size_t fine = 0; fine < EVENTS_FINE_KEYS; fine++)
                if (self->accounts [index]->keys [fine])
                    s_queue_destroy (self->accounts [index]->keys [fine]);
            free (self->accounts [index]);
        }
        free (self->slots);
        for (size_t index = 0; self->inbound_ring && index < self->inbound_count; index++)
            free (self->inbound_ring [(self->inbound_head + index) % EVENTS_INBOUND_KEPT]);
        free (self->inbound_ring);
        json_decref (self->inbound);
        wa_jsonl_release (&self->line);
        for (int stage = 0; stage < 2; stage++)
            while (self->stages [stage].first) {
                sched_t *next = self->stages [stage].first->next;
                free (self->stages [stage].first);
                self->stages [stage].first = next;
            }
        free (self);
        *self_p = NULL;
    }
}

uint32_t
events_fine_key (const char *conversation)
{
    assert (conversation);
    return (uint32_t) wa_message_shard (conversation, EVENTS_FINE_KEYS);
}

//  The queue of (account, fine key), created when new; NULL when there is
//  no room.
static queue_t *
s_key (events_t *self, const char *account, uint32_t fine)
{
    assert (fine < EVENTS_FINE_KEYS);
    account_t *acct = NULL;
    for (size_t index = 0; index < self->naccounts && !acct; index++)
        if (strcmp (self->accounts [index]->name, account) == 0)
            acct = self->accounts [index];
    if (!acct) {
        if (self->naccounts == S_ACCOUNTS_MAX || strlen (account) > S_ACCOUNT_MAX)
            return NULL;
        acct = (account_t *) calloc (1, sizeof (account_t));
        if (!acct)
            return NULL;
        snprintf (acct->name, sizeof acct->name, "%s", account);
        self->accounts [self->naccounts++] = acct;
    }
    if (!acct->keys [fine]) {
        queue_t *queue = (queue_t *) calloc (1, sizeof (queue_t));
        if (!queue)
            return NULL;
        snprintf (queue->account, sizeof queue->account, "%s", account);
        queue->fine = fine;
        acct->keys [fine] = queue;
    }
    return acct->keys [fine];
}

//  Does a session of (shard, shards) serve the conversations of the fine
//  key? A count 0 (unknown) is taken as the configured one.
static bool
s_covers (events_t *self, uint32_t shard, uint32_t shards, uint32_t fine)
{
    uint32_t count = shards? shards: (uint32_t) self->config.shards;
    return wa_shards_valid ((int) count) && fine % count == shard;
}

//  --------------------------------------------------------------------------
//  The seq index

static size_t
s_slot_home (events_t *self, uint64_t seq)
{
    //  Fibonacci hashing: seqs are consecutive, the product spreads them.
    return (size_t) ((seq * 0x9E3779B97F4A7C15ULL) >> 20) & (self->slots_cap - 1);
}

static size_t
s_slot_find (events_t *self, uint64_t seq)
{
    size_t mask = self->slots_cap - 1;
    size_t index = s_slot_home (self, seq);
    while (self->slots [index].seq && self->slots [index].seq != seq)
        index = (index + 1) & mask;
    return index;
}

static int
s_index_put (events_t *self, event_t *event)
{
    if ((self->slots_used + 1) * 2 > self->slots_cap) {
        slot_t *old = self->slots;
        size_t old_cap = self->slots_cap;
        slot_t *slots = (slot_t *) calloc (old_cap * 2, sizeof (slot_t));
        if (!slots)
            return -1;
        self->slots = slots;
        self->slots_cap = old_cap * 2;
        for (size_t index = 0; index < old_cap; index++)
            if (old [index].seq)
                self->slots [s_slot_find (self, old [index].seq)] = old [index];
        free (old);
    }
    size_t index = s_slot_find (self, event->seq);
    assert (self->slots [index].seq == 0);
    self->slots [index].seq = event->seq;
    self->slots [index].event = event;
    self->slots_used++;
    return 0;
}

static event_t *
s_index_get (events_t *self, uint64_t seq)
{
    if (seq == 0)
        return NULL;
    return self->slots [s_slot_find (self, seq)].event;
}

static void
s_index_del (events_t *self, uint64_t seq)
{
    size_t mask = self->slots_cap - 1;
    size_t hole = s_slot_find (self, seq);
    assert (self->slots [hole].seq == seq);
    self->slots [hole].seq = 0;
    self->slots [hole].event = NULL;
    self->slots_used--;
    //  Move back every later entry of the run whose home is not in (hole, next].
    for (size_t next = (hole + 1) & mask; self->slots [next].seq; next = (next + 1) & mask) {
        size_t home = s_slot_home (self, self->slots [next].seq);
        bool stays = hole < next? (home > hole && home <= next): (home > hole || home <= next);
        if (!stays) {
            self->slots [hole] = self->slots [next];
            self->slots [next].seq = 0;
            self->slots [next].event = NULL;
            hole = next;
        }
    }
}

static event_t *
s_at (queue_t *queue, size_t offset)
{
    return queue->ring [(queue->head + offset) % queue->cap];
}

static int
s_push (queue_t *queue, event_t *event)
{
    if (queue->count == queue->cap) {
        size_t cap = queue->cap? queue->cap * 2: 64;
        event_t **ring = (event_t **) malloc (cap * sizeof (event_t *));
        if (!ring)
            return -1;
        for (size_t index = 0; index < queue->count; index++)
            ring [index] = s_at (queue, index);
        free (queue->ring);
        queue->ring = ring;
        queue->cap = cap;
        queue->head = 0;
    }
    queue->ring [(queue->head + queue->count) % queue->cap] = event;
    queue->count++;
    return 0;
}

//  A ledger line's first members: "at" ("2026-01-02T03:04:05.678901Z", as
//  the referee's lines), "t" (seconds, a number) and "event".
static void
s_line_begin (events_t *self, wa_usec_t wall, const char *event)
{
    wa_jsonl_begin (&self->line);
    wa_jsonl_iso (&self->line, "at", wall, 6);
    wa_jsonl_seconds (&self->line, "t", wall);
    wa_jsonl_str (&self->line, "event", event);
}

//  Queue one event of the key; payload is taken. The ledger line gets
//  the extra fields (taken); shard is its label (events.h). 0 / -1.
static int
s_emit (events_t *self, queue_t *queue, uint32_t shard, const char *kind, const char *conversation,
        json_t *payload, json_t *extra, char *id_out)
{
    wa_usec_t wall = s_wall_now ();
    event_t *event = (event_t *) calloc (1, sizeof (event_t));
    json_t *root = json_object ();
    int rc = -1;
    if (!event || !root || !payload)
        goto done;
    snprintf (event->id, sizeof event->id, "%s-%" PRIu64, self->prefix, ++self->counter);
    //  An inbound message's id is its event id.
    json_t *messages = json_object_get (payload, "messages");
    if (json_is_array (messages))
        json_object_set_new (json_array_get (messages, 0), "id", json_string (event->id));
    json_object_set_new (root, "event_id", json_string (event->id));
    json_object_set (root, "payload", payload);
    event->text = json_dumps (root, JSON_COMPACT);
    if (!event->text || strlen (event->text) > EVENTS_TEXT_MAX)
        goto done;
    event->seq = self->next_seq;
    event->queue = queue;
    if (s_index_put (self, event))
        goto done;
    if (s_push (queue, event)) {
        s_index_del (self, event->seq);
        goto done;
    }
    self->next_seq++;
    self->stats.emitted++;
    self->stats.pending++;
    if (id_out)
        memcpy (id_out, event->id, sizeof event->id);
    if (self->config.ledger) {
        s_line_begin (self, wall, "emitted");
        wa_jsonl_str (&self->line, "account", queue->account);
        wa_jsonl_uint (&self->line, "shard", shard);
        wa_jsonl_uint (&self->line, "fine", queue->fine);
        wa_jsonl_uint (&self->line, "seq", event->seq);
        wa_jsonl_str (&self->line, "event_id", event->id);
        wa_jsonl_str (&self->line, "kind", kind);
        wa_jsonl_str (&self->line, "conversation", conversation);
        //  (extra's keys are none of the above, nor "id" for a message)
        if (extra)
            wa_jsonl_members (&self->line, extra);
        //  What the webhook will show: an inbound message's id is its event id.
        if (strcmp (kind, "message") == 0)
            wa_jsonl_str (&self->line, "id", event->id);
        wa_jsonl_end (&self->line, self->config.ledger);
    }
    event = NULL;
    rc = 0;
done:
    if (event) {
        free (event->text);
        free (event);
    }
    json_decref (root);
    json_decref (payload);
    json_decref (extra);
    return rc;
}

static void
s_timestamp (char *buf, size_t size)
{
    snprintf (buf, size, "%" PRId64, (int64_t) (s_wall_now () / WA_USEC_PER_SEC));
}

//  A status; errors (taken; NULL: none) go with a "failed" one.
static int
s_status (events_t *self, queue_t *queue, uint32_t shard, const char *id, const char *to, const char *status,
          json_t *errors)
{
    if (self->stats.pending >= EVENTS_PENDING_MAX) {
        self->stats.dropped++;
        json_decref (errors);
        return -1;
    }
    char timestamp [24];
    s_timestamp (timestamp, sizeof timestamp);
    json_t *payload = json_pack ("{s:[{s:s, s:s, s:s, s:s}]}", "statuses", "id", id, "recipient_id", to,
                                 "status", status, "timestamp", timestamp);
    json_t *extra = json_pack ("{s:s, s:s}", "id", id, "status", status);
    if (errors) {
        json_object_set (json_array_get (json_object_get (payload, "statuses"), 0), "errors", errors);
        json_object_set_new (extra, "errors", errors);
    }
    int rc = s_emit (self, queue, shard, "status", to, payload, extra, NULL);
    if (rc == 0)
        self->stats.statuses++;
    else
        self->stats.dropped++;
    return rc;
}

static bool
s_digits (const char *text, size_t max)
{
    size_t len = strlen (text);
    return len >= 1 && len <= max && strspn (text, "0123456789") == len;
}

static void
s_schedule (events_t *self, int stage, queue_t *queue, uint32_t shard, const char *id, const char *to,
            wa_usec_t due)
{
    sched_t *entry = (sched_t *) calloc (1, sizeof (sched_t));
    if (!entry) {
        self->stats.dropped++;
        return;
    }
    entry->due = due;
    entry->queue = queue;
    entry->shard = shard;
    entry->stage = stage;
    snprintf (entry->id, sizeof entry->id, "%s", id);
    snprintf (entry->to, sizeof entry->to, "%s", to);
    //  One delay for every message: each stage's list stays in due order.
    fifo_t *fifo = &self->stages [stage - 1];
    if (fifo->last)
        fifo->last->next = entry;
    else
        fifo->first = entry;
    fifo->last = entry;
    self->stats.scheduled++;
}

int
events_message (events_t *self, const char *account, uint32_t shard, const char *id,
                const char *to, wa_usec_t now)
{
    assert (self);
    assert (account && id && to);
    if (strlen (id) > S_MESSAGE_ID_MAX || !s_digits (to, S_TO_MAX))
        return -1;
    queue_t *queue = s_key (self, account, events_fine_key (to));
    if (!queue)
        return -1;
    char last = to [strlen (to) - 1];
    if (strchr (self->fail_digits, last))
        return s_status (self, queue, shard, id, to, "failed", NULL);
    if (s_status (self, queue, shard, id, to, "sent", NULL))
        return -1;
    s_schedule (self, 1, queue, shard, id, to, now + self->config.status_delay);
    return 0;
}

//  An inbound message, for a READ later; the oldest is forgotten past
//  EVENTS_INBOUND_KEPT.
static void
s_remember (events_t *self, const char *id, const char *from)
{
    char *copy = strdup (id);
    json_t *inbound = json_pack ("{s:s, s:b}", "from", from, "read", 0);
    if (!copy || !inbound) {
        free (copy);
        json_decref (inbound);
        return;
    }
    if (self->inbound_count == EVENTS_INBOUND_KEPT) {
        char *oldest = self->inbound_ring [self->inbound_head];
        json_object_del (self->inbound, oldest);
        free (oldest);
        self->inbound_head = (self->inbound_head + 1) % EVENTS_INBOUND_KEPT;
        self->inbound_count--;
    }
    json_object_set_new (self->inbound, id, inbound);
    self->inbound_ring [(self->inbound_head + self->inbound_count) % EVENTS_INBOUND_KEPT] = copy;
    self->inbound_count++;
}

static int
s_inbound (events_t *self, const char *from, const char *name, const char *text, char *id)
{
    queue_t *queue = s_key (self, self->account, events_fine_key (from));
    if (!queue)
        return -1;
    char timestamp [24], profile [EVENTS_NAME_MAX + 1];
    s_timestamp (timestamp, sizeof timestamp);
    if (name)
        snprintf (profile, sizeof profile, "%s", name);
    else {
        size_t len = strlen (from);
        snprintf (profile, sizeof profile, "Customer %s", len > 4? from + len - 4: from);
    }
    //  The id is set by s_emit (the event id).
    json_t *payload = json_pack ("{s:[{s:{s:s}, s:s}], s:[{s:s, s:s, s:s, s:s, s:{s:s}}]}",
                                 "contacts", "profile", "name", profile, "wa_id", from,
                                 "messages", "from", from, "id", "", "timestamp", timestamp,
                                 "type", "text", "text", "body", text);
    json_t *extra = json_pack ("{s:s}", "from", from);
    char event_id [EVENTS_ID_MAX + 1];
    int rc = s_emit (self, queue, (uint32_t) wa_message_shard (from, self->config.shards), "message", from,
                     payload, extra, event_id);
    if (rc == 0) {
        self->stats.inbound++;
        s_remember (self, event_id, from);
        if (id)
            memcpy (id, event_id, sizeof event_id);
    }
    return rc;
}

int
events_inject (events_t *self, const char *from, const char *name, const char *text,
               char *id, char *why, size_t why_size)
{
    assert (self);
    assert (why);
    if (!from || !s_digits (from, S_TO_MAX)) {
        snprintf (why, why_size, "'from' must be 1 to 20 digits");
        return -1;
    }
    if (!text || !*text || strlen (text) > EVENTS_BODY_MAX) {
        snprintf (why, why_size, "'text' must be 1 to %d bytes", EVENTS_BODY_MAX);
        return -1;
    }
    if (name && (!*name || strlen (name) > EVENTS_NAME_MAX)) {
        snprintf (why, why_size, "'name' must be 1 to %d bytes", EVENTS_NAME_MAX);
        return -1;
    }
    if (self->stats.pending >= EVENTS_PENDING_MAX) {
        snprintf (why, why_size, "%d events wait for an acknowledgement already", EVENTS_PENDING_MAX);
        return -2;
    }
    if (s_inbound (self, from, name, text, id)) {
        snprintf (why, why_size, "the event is too large once encoded (over %d bytes), or no memory",
                  EVENTS_TEXT_MAX);
        return -1;
    }
    return 0;
}

int
events_message_failed (events_t *self, const char *account, uint32_t shard, const char *id, const char *to,
                       int code, const char *title, const char *details)
{
    assert (self);
    assert (account && id && to && title && details);
    if (strlen (id) > S_MESSAGE_ID_MAX || !s_digits (to, S_TO_MAX))
        return -1;
    queue_t *queue = s_key (self, account, events_fine_key (to));
    if (!queue)
        return -1;
    json_t *errors = json_pack ("[{s:i, s:s, s:s}]", "code", code, "title", title, "details", details);
    return s_status (self, queue, shard, id, to, "failed", errors);
}

int
events_read (events_t *self, const char *id, const char *from)
{
    assert (self);
    json_t *inbound = id ? json_object_get (self->inbound, id) : NULL;
    const char *sender = json_string_value (json_object_get (inbound, "from"));
    if (!inbound || !from || !sender || strcmp (sender, from) != 0)
        return -1;
    if (json_is_true (json_object_get (inbound, "read")))
        return 1;
    //  The conversation's key, as the message's; labelled as it was.
    queue_t *queue = s_key (self, self->account, events_fine_key (from));
    if (!queue
    ||  s_status (self, queue, (uint32_t) wa_message_shard (from, self->config.shards), id, from, "read", NULL))
        return -2;
    json_object_set_new (inbound, "read", json_true ());
    return 0;
}

int
events_set_rate (events_t *self, double rate)
{
    assert (self);
    if (!(rate >= 0 && rate <= 100000))
        return -1;
    self->config.inbound_rate = rate;
    self->credit = 0;
    return 0;
}

void
events_tick (events_t *self, wa_usec_t now)
{
    assert (self);
    for (int stage = 1; stage <= 2; stage++) {
        fifo_t *fifo = &self->stages [stage - 1];
        while (fifo->first && fifo->first->due <= now) {
            sched_t *entry = fifo->first;
            fifo->first = entry->next;
            if (!fifo->first)
                fifo->last = NULL;
            self->stats.scheduled--;
            if (s_status (self, entry->queue, entry->shard, entry->id, entry->to,
                          stage == 1? "delivered": "read", NULL) == 0
            &&  stage == 1) {
                //  From its own due time, so a late tick does not add up.
                entry->next = NULL;
                s_schedule (self, 2, entry->queue, entry->shard, entry->id, entry->to,
                            entry->due + self->config.status_delay);
            }
            free (entry);
        }
    }
    if (self->config.inbound_rate > 0 && now > self->last_tick) {
        self->credit += self->config.inbound_rate * (double) (now - self->last_tick) / 1e6;
        int made = 0;
        while (self->credit >= 1 && made < S_INBOUND_PER_TICK
           &&  self->stats.pending < EVENTS_PENDING_MAX) {
            char from [24], text [64];
            uint64_t n = ++self->generated;
            snprintf (from, sizeof from, "%" PRIu64, (uint64_t) 16505550000ULL + n % S_INBOUND_POOL);
            snprintf (text, sizeof text, "inbound message %" PRIu64, n);
            s_inbound (self, from, NULL, text, NULL);
            self->credit -= 1;
            made++;
        }
        //  Owed beyond a tick's worth (a stall, or full): not made up later.
        if (self->credit > 1)
            self->credit = 1;
    }
    self->last_tick = now;
}

//  Each event sent and not acknowledged for EVENTS_RESEND_AFTER goes again
//  on the same session, whatever happened to the others (a network with
//  at-least-once delivery: a frame the receiver dropped is not lost). Sets
//  the time of the next one due. -1 when the socket is full.
static int
s_resend_due (events_t *self, queue_t *queue, events_send_fn *send, void *arg, wa_usec_t now)
{
    wa_usec_t next = 0;
    int rc = 0;
    for (size_t offset = 0; offset < queue->next_send; offset++) {
        event_t *event = s_at (queue, offset);
        if (event->acked)
            continue;
        if (now - event->sent_at >= EVENTS_RESEND_AFTER) {
            if (send (arg, queue->account, queue->session, event->seq, event->text)) {
                next = now;             //  the socket is full: on the next pump
                rc = -1;
                break;
            }
            self->stats.sent++;
            self->stats.resent++;
            event->sent_at = now;
        }
        wa_usec_t due = event->sent_at + EVENTS_RESEND_AFTER;
        if (!next || due < next)
            next = due;
    }
    queue->resend_check = next;
    return rc;
}

//  The session that serves the fine key: one whose layout's shard of it is
//  its shard, a known count before an unknown one (taken as the configured
//  count), the newest (highest id) of equals. -1 when none.
static int
s_choose (events_t *self, const events_session_t *sessions, size_t count, uint32_t fine)
{
    int best = -1;
    for (size_t index = 0; index < count; index++) {
        const events_session_t *candidate = &sessions [index];
        if (!candidate->session || !s_covers (self, candidate->shard, candidate->shards, fine))
            continue;
        if (best >= 0) {
            const events_session_t *chosen = &sessions [best];
            bool known = candidate->shards != 0, chosen_known = chosen->shards != 0;
            if (known != chosen_known? !known: candidate->session < chosen->session)
                continue;
        }
        best = (int) index;
    }
    return best;
}

//  A key whose session is not the one it last sent on: every unacknowledged
//  event goes again, in order, from the first.
static void
s_rewind (events_t *self, queue_t *queue, uint64_t session)
{
    for (size_t offset = 0; offset < queue->next_send; offset++) {
        event_t *event = s_at (queue, offset);
        if (!event->acked)
            self->stats.resent++;
        event->out = false;
    }
    queue->next_send = 0;
    queue->out = 0;
    queue->session = session;
    queue->resend_check = 0;
}

//  One account: each fine key with events goes to the session that serves
//  it; at most EVENTS_WINDOW events out per session, shared by its keys,
//  which take turns: a pump starts from the key after the last one that
//  sent.
static void
s_pump_account (events_t *self, account_t *acct, events_sessions_fn *sessions_of, events_send_fn *send,
                void *arg, wa_usec_t now)
{
    events_session_t sessions [EVENTS_SESSIONS_MAX];
    size_t count = sessions_of (arg, acct->name, sessions, EVENTS_SESSIONS_MAX);
    if (count == 0)
        return;
    if (count > EVENTS_SESSIONS_MAX)
        count = EVENTS_SESSIONS_MAX;
    int chosen [EVENTS_FINE_KEYS];
    size_t used [EVENTS_SESSIONS_MAX] = { 0 };
    bool full [EVENTS_SESSIONS_MAX] = { false };
    for (uint32_t fine = 0; fine < EVENTS_FINE_KEYS; fine++) {
        queue_t *queue = acct->keys [fine];
        chosen [fine] = queue && queue->count? s_choose (self, sessions, count, fine): -1;
        if (chosen [fine] < 0)
            continue;
        if (sessions [chosen [fine]].session != queue->session)
            s_rewind (self, queue, sessions [chosen [fine]].session);
        used [chosen [fine]] += queue->out;
    }
    uint32_t start = acct->turn;
    for (uint32_t turn = 0; turn < EVENTS_FINE_KEYS; turn++) {
        uint32_t fine = (start + turn) % EVENTS_FINE_KEYS;
        int index = chosen [fine];
        if (index < 0 || full [index])
            continue;
        queue_t *queue = acct->keys [fine];
        if (queue->resend_check && now >= queue->resend_check
        &&  s_resend_due (self, queue, send, arg, now)) {
            full [index] = true;
            continue;
        }
        while (queue->next_send < queue->count && used [index] < EVENTS_WINDOW) {
            event_t *event = s_at (queue, queue->next_send);
            if (!event->acked) {
                if (send (arg, queue->account, queue->session, event->seq, event->text)) {
                    full [index] = true;
                    break;
                }
                self->stats.sent++;
                acct->turn = (fine + 1) % EVENTS_FINE_KEYS;
                event->sent_at = now;
                event->out = true;
                queue->out++;
                used [index]++;
                if (!queue->resend_check)
                    queue->resend_check = now + EVENTS_RESEND_AFTER;
            }
            queue->next_send++;
        }
    }
}

void
events_pump (events_t *self, events_sessions_fn *sessions, events_send_fn *send, void *arg, wa_usec_t now)
{
    assert (self);
    for (size_t index = 0; index < self->naccounts; index++)
        s_pump_account (self, self->accounts [index], sessions, send, arg, now);
}

int
events_ack (events_t *self, const char *account, uint32_t shard, uint32_t shards, uint64_t session,
            uint64_t seq)
{
    assert (self);
    assert (account);
    //  The seq is unique: the event, if the acknowledging session serves its key.
    event_t *event = s_index_get (self, seq);
    queue_t *queue = event? event->queue: NULL;
    if (!event || strcmp (queue->account, account) != 0 || !s_covers (self, shard, shards, queue->fine)) {
        self->stats.ack_unknown++;
        return -1;
    }
    assert (!event->acked);
    s_index_del (self, seq);
    event->acked = true;
    if (event->out) {
        event->out = false;
        queue->out--;
    }
    free (event->text);
    event->text = NULL;
    self->stats.acked++;
    self->stats.pending--;
    if (self->config.ledger) {
        s_line_begin (self, s_wall_now (), "event_ack");
        wa_jsonl_str (&self->line, "account", queue->account);
        wa_jsonl_uint (&self->line, "shard", shard);
        if (shards)
            wa_jsonl_uint (&self->line, "shards", shards);
        else
            wa_jsonl_null (&self->line, "shards");
        wa_jsonl_uint (&self->line, "fine", queue->fine);
        wa_jsonl_uint (&self->line, "session", session);
        wa_jsonl_uint (&self->line, "seq", seq);
        wa_jsonl_str (&self->line, "event_id", event->id);
        wa_jsonl_end (&self->line, self->config.ledger);
    }
    //  Acknowledged events leave from the head, in order.
    while (queue->count > 0 && s_at (queue, 0)->acked) {
        free (s_at (queue, 0));
        queue->head = (queue->head + 1) % queue->cap;
        queue->count--;
        if (queue->next_send > 0)
            queue->next_send--;
    }
    return 0;
}

events_stats_t
events_stats (events_t *self)
{
    assert (self);
    return self->stats;
}

json_t *
events_stats_json (events_t *self)
{
    assert (self);
    events_stats_t s = self->stats;
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                              "emitted", (json_int_t) s.emitted, "statuses", (json_int_t) s.statuses,
                              "inbound", (json_int_t) s.inbound, "acked", (json_int_t) s.acked,
                              "pending", (json_int_t) s.pending, "sent", (json_int_t) s.sent,
                              "resent", (json_int_t) s.resent, "dropped", (json_int_t) s.dropped,
                              "ack_unknown", (json_int_t) s.ack_unknown,
                              "scheduled", (json_int_t) s.scheduled);
}
