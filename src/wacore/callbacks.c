/*  callbacks — see callbacks.h */
#include <inttypes.h>
#include "wa_dbworker.h"
#include "wa_log.h"
#include "wa_node.h"
#include "callbacks.h"
#include "cbevent.h"
#include "cbqueue.h"
#include "webhook.h"

#define STORE_BATCH 512         //  events per insert transaction
#define LOAD_PAGE 256
#define MARK_BATCH 1024
#define ACKS_MAX 100000         //  acknowledgements waiting for room on the socket
#define RECOUNT_USEC (5 * WA_USEC_PER_SEC)
#define TICK_SEC 0.1
#define DB_WARN_USEC (5 * WA_USEC_PER_SEC)
#define STORE_RETRY_USEC (WA_USEC_PER_SEC / 10)   //  after a store refused or failed

//  An event received, waiting to be stored.
typedef struct {
    uint64_t session;
    uint64_t seq;
    cbevent_t event;
} incoming_t;

//  A row's outcome, waiting to be written.
typedef struct {
    char event_id[CBQUEUE_EVENT_ID_MAX + 1];
    const char *status;         //  "delivered", "skipped", "rejected"; NULL: a failed attempt
    int64_t attempts;           //  added to the row's count
    char error[WEBHOOK_ERROR_MAX + 1];
    int shard;
} mark_t;

typedef struct {
    uint64_t session;
    uint64_t seq;
} ack_t;

//  A POST in flight.
typedef struct {
    uint64_t token;
    uint64_t generation;
    cbentry_t *entry;           //  valid while generation is current
    char event_id[CBQUEUE_EVENT_ID_MAX + 1];
    int shard;
} flight_t;

typedef struct {
    wa_job_t job;
    int shard;
    uint64_t node;
    uint64_t epoch;
    unsigned int count;
    incoming_t *rows[STORE_BATCH];
    const char *ids[STORE_BATCH];
    int64_t shards[STORE_BATCH];
    const char *kinds[STORE_BATCH];
    const char *conversations[STORE_BATCH];
    const char *payloads[STORE_BATCH];
    //  The inbound messages among them: their ids kept (inbound_ids).
    unsigned int inbound;
    const char *inbound_ids[STORE_BATCH];
    int64_t inbound_shards[STORE_BATCH];
    const char *inbound_senders[STORE_BATCH];
    int result;                 //  0 committed, 1 fenced off, -1 database error
    int64_t inserted;
    char error[200];
} store_job_t;

typedef struct {
    wa_job_t job;
    int shard;
    uint64_t after;
    uint64_t generation;
    unsigned int count;         //  rows read
    uint64_t last_seq;
    char error[200];
    cbentry_t *entries[LOAD_PAGE];      //  NULL for a row that failed the checks
    char ids[LOAD_PAGE][CBQUEUE_EVENT_ID_MAX + 1];
    char why[LOAD_PAGE][120];
} load_job_t;

typedef struct {
    wa_job_t job;
    int shard;
    unsigned int done_count;
    unsigned int fail_count;
    mark_t *rows[MARK_BATCH];
    const char *done_statuses[MARK_BATCH];
    int64_t done_attempts[MARK_BATCH];
    const char *done_ids[MARK_BATCH];
    const char *fail_errors[MARK_BATCH];
    const char *fail_ids[MARK_BATCH];
    int64_t marked;
    char error[200];
} mark_job_t;

typedef struct {
    wa_job_t job;
    int shard;
    uint64_t generation;
    int64_t pending;
} count_job_t;

typedef struct trust_job_t trust_job_t;

struct callbacks_t {
    const wa_config_t *config;
    const wa_config_t *settings;
    callbacks_io_t io;
    void *arg;
    wa_loop_t *loop;
    wa_dbworker_t *db;
    wa_actor_t *webhook;
    int tick_timer;
    int due_timer;
    wa_usec_t armed_due;        //  what due_timer fires for
    int shard;                  //  -1 while not holding
    uint64_t node;
    uint64_t epoch;
    uint64_t generation;        //  changes with each hold
    uint64_t session;           //  the open session, 0 when none
    //  storing
    zlistx_t *incoming;         //  incoming_t, in arrival order
    zhashx_t *incoming_ids;     //  event_id → incoming_t
    zlistx_t *acks;             //  ack_t that found the socket full
    int64_t pending;            //  pending rows of the shard, -1 unknown
    wa_usec_t store_after;      //  no store before (a retry's pause)
    bool fenced;                //  the last store was refused by its fence
    wa_usec_t counted_at;
    bool full;
    //  delivering
    cbqueue_t *queue;
    uint64_t load_after;        //  seq of the last row read
    bool caught_up;             //  the last page was short
    bool load_more;             //  rows were stored since the last read began
    zhashx_t *flights;          //  token → flight_t
    uint64_t next_token;
    zlistx_t *marks;            //  mark_t
    wa_usec_t warned_at;        //  database warnings: one per DB_WARN_USEC
    uint64_t unwarned;          //  failures not logged since
    bool failing;               //  the last POST failed (for the log)
    uint64_t failures_in_row;
    //  The webhooks CA's watch.
    uint64_t trust_version;     //  applied
    wa_usec_t trust_next;       //  the next read
    //  The jobs, NULL while the worker has them.
    trust_job_t *trust;
    store_job_t *store;
    load_job_t *load;
    mark_job_t *mark;
    count_job_t *count;
    callbacks_stats_t stats;
};

//  Written, not read under a lock: see the outbox's fence (outbox.c).
static const char *SQL_FENCE =
    "UPDATE shard_map SET fence = fence + 1 WHERE shard = ? AND node_id = ? AND epoch = ? "
    "AND expires_at > NOW(6)";
static const char *SQL_INSERT =
    "INSERT IGNORE INTO callbacks (event_id, shard, kind, conversation, payload, created_at) "
    "VALUES (?, ?, ?, ?, ?, NOW(6))";
//  What PUT /v1/messages/{id} needs of an inbound message, kept after its
//  callback is gone (schema 17).
static const char *SQL_INSERT_INBOUND =
    "INSERT IGNORE INTO inbound_ids (message_id, shard, sender, created_at) VALUES (?, ?, ?, NOW(6))";
static const char *SQL_COUNT =
    "SELECT COUNT(*) FROM callbacks WHERE shard = ? AND status = 'pending'";
static const char *SQL_LOAD =
    "SELECT seq, event_id, payload, attempts FROM callbacks WHERE shard = ? AND status = 'pending' "
    "AND seq > ? ORDER BY seq LIMIT 256";
static const char *SQL_DONE =
    "UPDATE callbacks SET status = ?, attempts = attempts + ?, delivered_at = NOW(6) "
    "WHERE event_id = ? AND status = 'pending'";
static const char *SQL_FAIL =
    "UPDATE callbacks SET attempts = attempts + 1, last_error = ? WHERE event_id = ?";

enum { JOB_STORE = 1, JOB_LOAD, JOB_MARK, JOB_COUNT, JOB_TRUST };

//  The webhooks CA (POST /v1/certificates/webhooks/ca): its row, read when
//  its version is not the one we have (nothing comes back otherwise), every
//  shard_renew_interval. The PEM is read in three columns (wa_db's column
//  limit; WA_CERTS_PEM_MAX fits).
struct trust_job_t {
    wa_job_t job;
    uint64_t known;             //  in
    bool found;                 //  out
    uint64_t version;
    char *pem;
};

static const char *SQL_TRUST =
    "SELECT version, SUBSTRING(pem, 1, 5000), SUBSTRING(pem, 5001, 5000), SUBSTRING(pem, 10001, 5000)"
    " FROM certificates WHERE name = 'webhooks_ca' AND version <> ?";

static int
s_trust_row (const wa_db_row_t *row, void *arg)
{
    trust_job_t *self = arg;
    self->found = true;
    self->version = (uint64_t) wa_db_row_int (row, 0);
    free (self->pem);
    self->pem = zsys_sprintf ("%s%s%s", wa_db_row_str (row, 1), wa_db_row_str (row, 2), wa_db_row_str (row, 3));
    return 0;
}

static void
s_trust_run (wa_job_t *job, wa_db_t *db)
{
    trust_job_t *self = (trust_job_t *) job;
    self->found = false;
    job->rc = wa_db_query (db, SQL_TRUST, s_trust_row, self, "u", self->known) < 0 || (self->found && !self->pem)
            ? -1 : 0;
}

static void
s_trust_job_destroy (wa_job_t *job)
{
    trust_job_t *self = (trust_job_t *) job;
    zstr_free (&self->pem);
}

static void s_pump (callbacks_t *self);
static void s_db_warn (callbacks_t *self, const char *what, const char *error);
static void s_tick (callbacks_t *self);

//  --------------------------------------------------------------------------
//  The jobs (on the callbacks' DB worker)

static void
s_store_run (wa_job_t *job, wa_db_t *db)
{
    store_job_t *self = (store_job_t *) job;
    self->result = -1;
    self->inserted = 0;
    self->error[0] = 0;
    if (wa_db_transaction (db, "START TRANSACTION"))
        goto failed;
    int64_t holding = wa_db_exec (db, SQL_FENCE, "iuu", (int64_t) self->shard, self->node, self->epoch);
    if (holding < 0)
        goto rollback;
    if (holding == 0) {
        self->result = 1;
        wa_db_transaction (db, "ROLLBACK");
        return;
    }
    const void *cols[] = { self->ids, self->shards, self->kinds, self->conversations, self->payloads };
    int64_t rows = wa_db_exec_bulk (db, SQL_INSERT, "sisss", self->count, cols);
    if (rows < 0)
        goto rollback;
    const void *inbound[] = { self->inbound_ids, self->inbound_shards, self->inbound_senders };
    if (self->inbound > 0 && wa_db_exec_bulk (db, SQL_INSERT_INBOUND, "sis", self->inbound, inbound) < 0)
        goto rollback;
    if (wa_db_transaction (db, "COMMIT"))
        goto failed;
    self->inserted = rows;
    self->result = 0;
    return;
rollback:
    snprintf (self->error, sizeof self->error, "%s", wa_db_error (db));
    wa_db_transaction (db, "ROLLBACK");
    return;
failed:
    snprintf (self->error, sizeof self->error, "%s", wa_db_error (db));
}

static int
s_load_row (const wa_db_row_t *row, void *arg)
{
    load_job_t *self = arg;
    if (self->count == LOAD_PAGE)
        return 1;
    unsigned int i = self->count++;
    self->last_seq = (uint64_t) wa_db_row_int (row, 0);
    snprintf (self->ids[i], sizeof self->ids[i], "%s", wa_db_row_str (row, 1));
    self->entries[i] = NULL;
    self->why[i][0] = 0;
    cbevent_t event;
    if (cbevent_check_payload (wa_db_row_str (row, 2), wa_db_row_str (row, 1), &event, self->why[i],
                               sizeof self->why[i]))
        return 0;
    cbentry_t *entry = (cbentry_t *) calloc (1, sizeof (cbentry_t));
    if (!entry) {
        free (event.payload);
        snprintf (self->why[i], sizeof self->why[i], "out of memory");
        return 0;
    }
    entry->seq = self->last_seq;
    memcpy (entry->event_id, event.event_id, sizeof entry->event_id);
    snprintf (entry->kind, sizeof entry->kind, "%s", event.kind);
    memcpy (entry->conversation, event.conversation, sizeof entry->conversation);
    entry->sent_status = event.sent_status;
    entry->payload = event.payload;
    int64_t attempts = wa_db_row_int (row, 3);
    entry->attempts = attempts < 0 ? 0 : attempts > 1000000 ? 1000000 : (int) attempts;
    self->entries[i] = entry;
    return 0;
}

static void
s_load_run (wa_job_t *job, wa_db_t *db)
{
    load_job_t *self = (load_job_t *) job;
    self->count = 0;
    self->last_seq = self->after;
    job->rc = wa_db_query (db, SQL_LOAD, s_load_row, self, "iu", (int64_t) self->shard, self->after) < 0 ? -1 : 0;
    snprintf (self->error, sizeof self->error, "%s", job->rc ? wa_db_error (db) : "");
}

static void
s_mark_run (wa_job_t *job, wa_db_t *db)
{
    mark_job_t *self = (mark_job_t *) job;
    self->marked = 0;
    job->rc = 0;
    if (self->done_count) {
        const void *cols[] = { self->done_statuses, self->done_attempts, self->done_ids };
        self->marked = wa_db_exec_bulk (db, SQL_DONE, "sis", self->done_count, cols);
        if (self->marked < 0)
            job->rc = -1;
    }
    if (job->rc == 0 && self->fail_count) {
        const void *cols[] = { self->fail_errors, self->fail_ids };
        if (wa_db_exec_bulk (db, SQL_FAIL, "ss", self->fail_count, cols) < 0)
            job->rc = -1;
    }
    snprintf (self->error, sizeof self->error, "%s", job->rc ? wa_db_error (db) : "");
}

static int
s_count_row (const wa_db_row_t *row, void *arg)
{
    count_job_t *self = arg;
    self->pending = wa_db_row_int (row, 0);
    return 0;
}

static void
s_count_run (wa_job_t *job, wa_db_t *db)
{
    count_job_t *self = (count_job_t *) job;
    self->pending = -1;
    job->rc = wa_db_query (db, SQL_COUNT, s_count_row, self, "i", (int64_t) self->shard) < 0 ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Memory

static void
s_incoming_free (incoming_t **incoming_p)
{
    incoming_t *incoming = *incoming_p;
    if (incoming) {
        free (incoming->event.payload);
        free (incoming);
        *incoming_p = NULL;
    }
}

static void
s_incoming_purge (callbacks_t *self)
{
    incoming_t *incoming;
    zhashx_purge (self->incoming_ids);
    while ((incoming = zlistx_first (self->incoming))) {
        zlistx_detach_cur (self->incoming);
        s_incoming_free (&incoming);
    }
}

//  What a job holds when it is destroyed away from its slot (at a stop):
//  the rows handed over with it. Back in its slot it holds none.
static void
s_store_job_destroy (wa_job_t *job)
{
    store_job_t *self = (store_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        s_incoming_free (&self->rows[i]);
}

static void
s_load_job_destroy (wa_job_t *job)
{
    load_job_t *self = (load_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        if (self->entries[i]) {
            free (self->entries[i]->payload);
            free (self->entries[i]);
        }
}

static void
s_mark_job_destroy (wa_job_t *job)
{
    mark_job_t *self = (mark_job_t *) job;
    for (unsigned int i = 0; i < self->done_count + self->fail_count; i++)
        free (self->rows[i]);
}

static void
s_mark (callbacks_t *self, const char *event_id, int shard, const char *status, int64_t attempts,
        const char *error)
{
    mark_t *mark = (mark_t *) zmalloc (sizeof (mark_t));
    snprintf (mark->event_id, sizeof mark->event_id, "%s", event_id);
    mark->status = status;
    mark->attempts = attempts;
    mark->shard = shard;
    snprintf (mark->error, sizeof mark->error, "%s", error ? error : "");
    zlistx_add_end (self->marks, mark);
}

static size_t
s_token_hash (const void *key)
{
    return (size_t) (uintptr_t) key;
}

static int
s_token_compare (const void *a, const void *b)
{
    return (uintptr_t) a < (uintptr_t) b ? -1 : (uintptr_t) a > (uintptr_t) b;
}

static void
s_flight_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  A database that fails fails every retry (each tick): one line per
//  DB_WARN_USEC, with how many went unsaid.
static void
s_db_warn (callbacks_t *self, const char *what, const char *error)
{
    wa_usec_t now = wa_clock_mono ();
    if (self->warned_at && now - self->warned_at < DB_WARN_USEC) {
        self->unwarned++;
        return;
    }
    wa_warn ("callbacks: %s failed (will retry): %s%s", what, error, self->unwarned ? " (and earlier failures)" : "");
    self->warned_at = now;
    self->unwarned = 0;
}

//  --------------------------------------------------------------------------
//  Storing and acknowledging

static bool
s_holding (callbacks_t *self)
{
    return self->shard >= 0 && self->io.holding (self->arg) && self->shard >= 0;
}

static void
s_ack (callbacks_t *self, uint64_t session, uint64_t seq)
{
    if (session != self->session || session == 0)
        return;                 //  the upstream sends it again on the new session
    if (self->io.ack (self->arg, session, seq) == 0)
        self->stats.acked++;
    else
    if (zlistx_size (self->acks) < ACKS_MAX) {
        ack_t *ack = (ack_t *) zmalloc (sizeof (ack_t));
        ack->session = session;
        ack->seq = seq;
        zlistx_add_end (self->acks, ack);
    }
}

static void
s_acks_retry (callbacks_t *self)
{
    ack_t *ack;
    while ((ack = zlistx_first (self->acks))) {
        if (ack->session == self->session && self->session
        &&  self->io.ack (self->arg, ack->session, ack->seq))
            break;
        if (ack->session == self->session && self->session)
            self->stats.acked++;
        zlistx_detach_cur (self->acks);
        free (ack);
    }
}

//  Full when the shard's pending rows reach the bound: log once per episode.
static void
s_set_full (callbacks_t *self, bool full)
{
    if (full == self->full)
        return;
    self->full = full;
    if (full) {
        self->stats.full_episodes++;
        wa_warn ("callbacks queue full (%d): events wait upstream until the webhook catches up",
                 self->settings->callbacks_queue_max);
    }
    else
        wa_info ("callbacks queue has room again (%" PRId64 " of %d pending): storing and acknowledging events",
                 self->pending, self->settings->callbacks_queue_max);
}

static void
s_store_submit (callbacks_t *self)
{
    store_job_t *job = self->store;
    if (self->shard < 0 || self->pending < 0 || wa_clock_mono () < self->store_after)
        return;
    int64_t room = (int64_t) self->settings->callbacks_queue_max - self->pending;
    s_set_full (self, room <= 0);
    if (!job || room <= 0 || zlistx_size (self->incoming) == 0)
        return;
    job->shard = self->shard;
    job->node = self->node;
    job->epoch = self->epoch;
    job->count = 0;
    job->inbound = 0;
    incoming_t *incoming;
    while (job->count < STORE_BATCH && (int64_t) job->count < room
       &&  (incoming = zlistx_first (self->incoming))) {
        zlistx_detach_cur (self->incoming);
        zhashx_delete (self->incoming_ids, incoming->event.event_id);
        unsigned int i = job->count++;
        job->rows[i] = incoming;
        job->ids[i] = incoming->event.event_id;
        job->shards[i] = self->shard;
        job->kinds[i] = incoming->event.kind;
        job->conversations[i] = incoming->event.conversation;
        job->payloads[i] = incoming->event.payload;
        if (incoming->event.message_id[0]) {
            unsigned int m = job->inbound++;
            job->inbound_ids[m] = incoming->event.message_id;
            job->inbound_shards[m] = self->shard;
            job->inbound_senders[m] = incoming->event.conversation;
        }
    }
    WA_JOB_SUBMIT (self->db, self->store);
}

static void
s_store_done (callbacks_t *self)
{
    store_job_t *job = self->store;
    bool current = job->shard == self->shard && job->epoch == self->epoch;
    if (job->result == 0) {
        self->stats.stored += (uint64_t) job->inserted;
        if (self->fenced && current)
            wa_info ("callbacks: storing events again (the fence lets us through at epoch %" PRIu64 ")",
                     job->epoch);
        self->fenced = false;
        if (current) {
            if (self->pending >= 0)
                self->pending += job->inserted;
            //  Read back even when this try inserted nothing: an earlier
            //  try of these events whose COMMIT failed may have committed
            //  them (then this one found them there).
            if (job->count > 0)
                self->load_more = true;
            for (unsigned int i = 0; i < job->count; i++)
                s_ack (self, job->rows[i]->session, job->rows[i]->seq);
        }
    }
    else {
        //  Refused by the fence (the shard_map row does not name us at our
        //  epoch with a lease in force, by the database's clock) or failed:
        //  the events stay ours, back at the head in their order, until we
        //  store them or lose the shard (then the session closes and the
        //  upstream sends them to the next primary). Never acknowledged
        //  unstored, never dropped while the session is open.
        if (job->result == 1) {
            self->stats.fenced++;
            if (current && !self->fenced)
                wa_warn ("callbacks: storing %u events was refused: the shard_map row does not name us "
                         "at epoch %" PRIu64 " by the database's clock; kept, retried while we hold the shard",
                         job->count, job->epoch);
            self->fenced = current;
        }
        else
            s_db_warn (self, "storing events", job->error);
        self->store_after = wa_clock_mono () + STORE_RETRY_USEC;
        //  An ambiguous COMMIT is harmless: the next try holds the same
        //  events first, and the event ids are unique, so an earlier try
        //  either committed before it (found there: INSERT IGNORE) or
        //  fails certification or the key after it; once a try succeeds,
        //  none of these events can land later, behind the load cursor.
        if (current) {
            for (unsigned int i = job->count; i-- > 0;) {
                incoming_t *incoming = job->rows[i];
                //  Sent again while away (a new session): the newer copy,
                //  which answers the upstream, takes this one's place.
                incoming_t *newer = zhashx_lookup (self->incoming_ids, incoming->event.event_id);
                if (newer) {
                    void *handle = zlistx_find (self->incoming, newer);
                    if (handle) {
                        zlistx_detach (self->incoming, handle);
                        zlistx_add_start (self->incoming, newer);
                    }
                    continue;
                }
                zlistx_add_start (self->incoming, incoming);
                zhashx_insert (self->incoming_ids, incoming->event.event_id, incoming);
                job->rows[i] = NULL;
            }
        }
    }
    for (unsigned int i = 0; i < job->count; i++)
        s_incoming_free (&job->rows[i]);
    job->count = 0;
    job->inbound = 0;
}

//  --------------------------------------------------------------------------
//  Reading back and delivering

static void
s_load_submit (callbacks_t *self)
{
    load_job_t *job = self->load;
    if (!job || self->shard < 0 || (self->caught_up && !self->load_more)
    ||  cbqueue_size (self->queue) >= CALLBACKS_MEMORY_MAX)
        return;
    self->load_more = false;
    job->shard = self->shard;
    job->after = self->load_after;
    job->generation = self->generation;
    WA_JOB_SUBMIT (self->db, self->load);
}

static void
s_load_done (callbacks_t *self)
{
    load_job_t *job = self->load;
    bool current = job->job.rc == 0 && job->generation == self->generation;
    for (unsigned int i = 0; i < job->count; i++) {
        if (!current) {
            if (job->entries[i]) {
                free (job->entries[i]->payload);
                free (job->entries[i]);
            }
        }
        else
        if (job->entries[i])
            cbqueue_add (self->queue, job->entries[i]);
        else {
            wa_warn ("callbacks: row %s is not a valid event (%s): marked rejected", job->ids[i], job->why[i]);
            if (cbevent_id_valid (job->ids[i]))
                s_mark (self, job->ids[i], self->shard, "rejected", 0, NULL);
        }
        job->entries[i] = NULL;
    }
    if (job->job.rc)
        s_db_warn (self, "reading pending callbacks", job->error);
    if (!current) {
        if (job->job.rc)
            self->load_more = true;     //  try again
        return;
    }
    self->load_after = job->last_seq;
    self->caught_up = job->count < LOAD_PAGE;
}

static void
s_mark_submit (callbacks_t *self)
{
    mark_job_t *job = self->mark;
    if (!job || zlistx_size (self->marks) == 0)
        return;
    job->done_count = job->fail_count = 0;
    mark_t *mark = zlistx_first (self->marks);
    job->shard = mark->shard;
    unsigned int n = 0;
    while (n < MARK_BATCH && (mark = zlistx_first (self->marks)) && mark->shard == job->shard) {
        zlistx_detach_cur (self->marks);
        job->rows[n++] = mark;
        if (mark->status) {
            job->done_statuses[job->done_count] = mark->status;
            job->done_attempts[job->done_count] = mark->attempts;
            job->done_ids[job->done_count++] = mark->event_id;
        }
        else {
            job->fail_errors[job->fail_count] = mark->error;
            job->fail_ids[job->fail_count++] = mark->event_id;
        }
    }
    WA_JOB_SUBMIT (self->db, self->mark);
}

static void
s_mark_done (callbacks_t *self)
{
    mark_job_t *job = self->mark;
    unsigned int n = job->done_count + job->fail_count;
    for (unsigned int i = n; i-- > 0;) {
        if (job->job.rc)        //  back at the head, tried again later
            zlistx_add_start (self->marks, job->rows[i]);
        else
            free (job->rows[i]);
        job->rows[i] = NULL;
    }
    if (job->job.rc)
        s_db_warn (self, "recording callback outcomes", job->error);
    if (job->job.rc == 0 && job->shard == self->shard && self->pending >= 0) {
        self->pending -= job->marked;
        if (self->pending < 0)
            self->pending = 0;
    }
    job->done_count = job->fail_count = 0;
}

static void
s_count_submit (callbacks_t *self)
{
    count_job_t *job = self->count;
    if (!job || self->shard < 0)
        return;
    if (self->pending >= 0 && wa_clock_mono () - self->counted_at < RECOUNT_USEC)
        return;
    job->shard = self->shard;
    job->generation = self->generation;
    self->counted_at = wa_clock_mono ();
    WA_JOB_SUBMIT (self->db, self->count);
}

static void
s_count_done (callbacks_t *self)
{
    count_job_t *job = self->count;
    //  The worker runs jobs in order: every store and mark that came back
    //  before this count is in it, none that comes back after.
    if (job->job.rc == 0 && job->generation == self->generation && job->pending >= 0) {
        bool first = self->pending < 0;
        self->pending = job->pending;
        if (first)
            wa_info ("callbacks: shard %d has %" PRId64 " pending callbacks", self->shard, self->pending);
    }
    else
    if (job->job.rc)
        self->counted_at = 0;
}

static int
s_on_due (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    callbacks_t *self = arg;
    self->due_timer = -1;
    s_pump (self);
    return 0;
}

static void
s_pump (callbacks_t *self)
{
    if (!s_holding (self) || !*self->settings->webhooks_url)
        return;
    wa_usec_t now = wa_clock_mono ();
    size_t limit = (size_t) self->settings->webhooks_max_concurrent_requests;
    while (zhashx_size (self->flights) < limit) {
        cbentry_t *entry = cbqueue_next (self->queue, now);
        if (!entry)
            break;
        if (entry->sent_status && !self->settings->sent_status) {
            s_mark (self, entry->event_id, self->shard, "skipped", 0, NULL);
            self->stats.skipped++;
            cbqueue_done (self->queue, entry, true, 0);
            continue;
        }
        flight_t *flight = (flight_t *) zmalloc (sizeof (flight_t));
        flight->token = ++self->next_token;
        flight->generation = self->generation;
        flight->entry = entry;
        flight->shard = self->shard;
        memcpy (flight->event_id, entry->event_id, sizeof flight->event_id);
        if (webhook_post (self->webhook, flight->token, self->settings->webhooks_url, entry->payload,
                          self->settings->webhooks_secret)) {
            free (flight);
            cbqueue_done (self->queue, entry, false, now + WA_USEC_PER_SEC);
            break;
        }
        zhashx_insert (self->flights, (void *) (uintptr_t) flight->token, flight);
    }
    //  A retry that comes due while every slot is taken waits for a slot
    //  (each outcome pumps again), not for a timer.
    wa_usec_t due = cbqueue_next_due (self->queue);
    if (due >= 0 && zhashx_size (self->flights) < limit && (self->due_timer < 0 || due != self->armed_due)) {
        self->armed_due = due;
        wa_timer_once (self->loop, &self->due_timer, due > now ? due - now : 1000, s_on_due, self);
    }
}

static void
s_on_outcome (callbacks_t *self, uint64_t token, int status, const char *error)
{
    flight_t *flight = zhashx_lookup (self->flights, (void *) (uintptr_t) token);
    if (!flight)
        return;
    bool delivered = status >= 200 && status <= 299;
    bool current = flight->generation == self->generation;
    if (delivered) {
        self->stats.delivered++;
        s_mark (self, flight->event_id, flight->shard, "delivered", 1, NULL);
        if (self->failing)
            wa_info ("webhook: delivering again after %" PRIu64 " failed attempts", self->failures_in_row);
        self->failing = false;
        self->failures_in_row = 0;
    }
    else {
        self->stats.failed_attempts++;
        self->failures_in_row++;
        s_mark (self, flight->event_id, flight->shard, NULL, 1, error);
        char url[WA_CONFIG_STR];
        wa_config_display (self->settings, "webhooks_url", url, sizeof url);
        if (!self->failing)
            wa_warn ("webhook: POST to %s failed: %s; retrying with a backoff of %d ms per attempt (at most %d ms)",
                     url, error, self->settings->callback_backoff_delay_ms,
                     self->settings->max_callback_backoff_delay_ms);
        self->failing = true;
    }
    if (current && flight->entry) {
        wa_usec_t retry_at = wa_clock_mono ();
        if (!delivered)
            retry_at += 1000 * cbqueue_backoff_ms (flight->entry->attempts + 1,
                                                   self->settings->callback_backoff_delay_ms,
                                                   self->settings->max_callback_backoff_delay_ms);
        cbqueue_done (self->queue, flight->entry, delivered, retry_at);
    }
    zhashx_delete (self->flights, (void *) (uintptr_t) token);
}

//  --------------------------------------------------------------------------
//  The reactor's side

//  A job came back: into its slot, then what it did. False for none.
static bool
s_job_done (callbacks_t *self, wa_job_t *job)
{
    if (!job)
        return false;
    switch (job->kind) {
        case JOB_STORE:
            self->store = (store_job_t *) job;
            s_store_done (self);
            return true;
        case JOB_LOAD:
            self->load = (load_job_t *) job;
            s_load_done (self);
            return true;
        case JOB_MARK:
            self->mark = (mark_job_t *) job;
            s_mark_done (self);
            return true;
        case JOB_COUNT:
            self->count = (count_job_t *) job;
            s_count_done (self);
            return true;
        case JOB_TRUST:
            self->trust = (trust_job_t *) job;
            if (job->rc == 0 && self->trust->found) {
                self->trust_version = self->trust->version;
                webhook_trust (self->webhook, self->trust->pem);
                wa_info ("callbacks: webhooks trust %s (version %" PRIu64 ")", *self->trust->pem
                         ? "the default CAs and the webhooks CA certificate" : "the default CAs only",
                         self->trust_version);
                zstr_free (&self->trust->pem);
            }
            return true;
        default:
            wa_job_destroy (&job);
            return false;
    }
}

static int
s_on_worker (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    callbacks_t *self = arg;
    if (s_job_done (self, wa_dbworker_recv (self->db)))
        s_tick (self);
    return 0;
}

static int
s_on_webhook (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    callbacks_t *self = arg;
    uint64_t token;
    int status;
    char error[WEBHOOK_ERROR_MAX + 1];
    for (int i = 0; i < 1000 && (zsock_events (wa_actor_sock (self->webhook)) & ZMQ_POLLIN); i++)
        if (webhook_recv (self->webhook, &token, &status, error) == 0)
            s_on_outcome (self, token, status, error);
    s_tick (self);
    return 0;
}

static void
s_tick (callbacks_t *self)
{
    wa_usec_t now = wa_clock_mono ();
    if (self->trust && now >= self->trust_next) {
        self->trust_next = now + wa_clock_from_sec (self->settings->shard_renew_interval);
        self->trust->known = self->trust_version;
        WA_JOB_SUBMIT (self->db, self->trust);
    }
    s_acks_retry (self);
    s_count_submit (self);
    s_store_submit (self);
    s_mark_submit (self);
    s_load_submit (self);
    s_pump (self);
}

static int
s_on_tick (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_tick ((callbacks_t *) arg);
    return 0;
}

callbacks_t *
callbacks_new (const wa_config_t *config, const wa_config_t *settings, callbacks_io_t io, void *arg,
               wa_loop_t *loop)
{
    callbacks_t *self = (callbacks_t *) zmalloc (sizeof (callbacks_t));
    self->config = config;
    self->settings = settings;
    self->io = io;
    self->arg = arg;
    self->loop = loop;
    self->shard = -1;
    self->pending = -1;
    self->tick_timer = self->due_timer = -1;
    self->db = wa_dbworker_new (config);
    self->store = WA_JOB_NEW (store_job_t, JOB_STORE, s_store_run, s_store_job_destroy);
    self->load = WA_JOB_NEW (load_job_t, JOB_LOAD, s_load_run, s_load_job_destroy);
    self->mark = WA_JOB_NEW (mark_job_t, JOB_MARK, s_mark_run, s_mark_job_destroy);
    self->count = WA_JOB_NEW (count_job_t, JOB_COUNT, s_count_run, NULL);
    self->trust = WA_JOB_NEW (trust_job_t, JOB_TRUST, s_trust_run, s_trust_job_destroy);
    self->webhook = webhook_new ();
    self->queue = cbqueue_new ();
    self->incoming = zlistx_new ();
    self->incoming_ids = zhashx_new ();
    zhashx_set_key_duplicator (self->incoming_ids, NULL);
    zhashx_set_key_destructor (self->incoming_ids, NULL);
    self->acks = zlistx_new ();
    zlistx_set_destructor (self->acks, (zlistx_destructor_fn *) zstr_free);
    self->marks = zlistx_new ();
    zlistx_set_destructor (self->marks, (zlistx_destructor_fn *) zstr_free);
    self->flights = zhashx_new ();
    zhashx_set_key_hasher (self->flights, s_token_hash);
    zhashx_set_key_comparator (self->flights, s_token_compare);
    zhashx_set_key_duplicator (self->flights, NULL);
    zhashx_set_key_destructor (self->flights, NULL);
    zhashx_set_destructor (self->flights, s_flight_destroy);
    if (!self->db || !self->webhook) {
        wa_error ("callbacks: cannot start the %s", self->db ? "webhook sender (libcurl)" : "DB worker");
        callbacks_destroy (&self);
        return NULL;
    }
    wa_loop_reader (loop, wa_dbworker_sock (self->db), s_on_worker, self);
    wa_loop_reader (loop, wa_actor_sock (self->webhook), s_on_webhook, self);
    wa_timer_every (loop, &self->tick_timer, TICK_SEC, s_on_tick, self);
    return self;
}

void
callbacks_destroy (callbacks_t **self_p)
{
    callbacks_t *self = *self_p;
    if (!self)
        return;
    if (self->loop) {
        if (self->db)
            wa_loop_reader_end (self->loop, wa_dbworker_sock (self->db));
        if (self->webhook)
            wa_loop_reader_end (self->loop, wa_actor_sock (self->webhook));
        if (self->tick_timer >= 0)
            wa_loop_timer_end (self->loop, self->tick_timer);
        if (self->due_timer >= 0)
            wa_loop_timer_end (self->loop, self->due_timer);
    }
    //  No job runs and no answer comes once the actors are gone; a job
    //  still with the worker comes back destroyed, with the rows it holds.
    wa_actor_destroy (&self->webhook);
    wa_dbworker_destroy (&self->db, NULL, NULL);
    WA_JOB_DESTROY (self->store);
    WA_JOB_DESTROY (self->load);
    WA_JOB_DESTROY (self->mark);
    WA_JOB_DESTROY (self->count);
    WA_JOB_DESTROY (self->trust);
    s_incoming_purge (self);
    zlistx_destroy (&self->incoming);
    zhashx_destroy (&self->incoming_ids);
    zlistx_destroy (&self->acks);
    zlistx_destroy (&self->marks);
    zhashx_destroy (&self->flights);
    cbqueue_destroy (&self->queue);
    free (self);
    *self_p = NULL;
}

void
callbacks_hold (callbacks_t *self, int shard, uint64_t node, uint64_t epoch)
{
    if (shard == self->shard && epoch == self->epoch)
        return;
    //  Stop at once: nothing more goes out for the shard we held. POSTs in
    //  flight finish; their outcomes are still written.
    self->generation++;
    cbqueue_purge (self->queue);
    s_incoming_purge (self);
    zlistx_purge (self->acks);
    self->shard = shard;
    self->node = node;
    self->epoch = epoch;
    self->pending = -1;
    self->counted_at = 0;
    self->full = false;
    self->load_after = 0;
    self->caught_up = false;
    self->load_more = false;
    if (self->due_timer >= 0)
        wa_loop_timer_end (self->loop, self->due_timer);
    self->due_timer = -1;
    if (shard >= 0) {
        wa_info ("callbacks: delivering the pending callbacks of shard %d%s", shard,
                 *self->settings->webhooks_url ? "" : " once webhooks_url is set");
        s_tick (self);
    }
}

void
callbacks_session (callbacks_t *self, uint64_t session)
{
    self->session = session;
    if (!session)
        zlistx_purge (self->acks);
}

void
callbacks_on_event (callbacks_t *self, uint64_t session, uint64_t seq, const char *text, size_t len)
{
    self->stats.received++;
    if (self->shard < 0 || session != self->session)
        return;
    char why[160];
    incoming_t *incoming = (incoming_t *) zmalloc (sizeof (incoming_t));
    if (cbevent_parse (text, len, &incoming->event, why, sizeof why)) {
        self->stats.rejected++;
        wa_warn ("callbacks: event seq %" PRIu64 " rejected (acknowledged and dropped): %s", seq, why);
        s_incoming_free (&incoming);
        s_ack (self, session, seq);
        return;
    }
    incoming->session = session;
    incoming->seq = seq;
    //  Sent again (a new session, or a resend): the newest copy answers.
    incoming_t *known = zhashx_lookup (self->incoming_ids, incoming->event.event_id);
    if (known) {
        known->session = session;
        known->seq = seq;
        s_incoming_free (&incoming);
        return;
    }
    if (zlistx_size (self->incoming) >= CALLBACKS_INCOMING_MAX) {
        s_incoming_free (&incoming);       //  not acknowledged: sent again later
        return;
    }
    zlistx_add_end (self->incoming, incoming);
    zhashx_insert (self->incoming_ids, incoming->event.event_id, incoming);
    s_store_submit (self);
}

void
callbacks_settings (callbacks_t *self)
{
    s_tick (self);
}

void
callbacks_drain (callbacks_t *self, int timeout_ms)
{
    //  POSTs in flight finish and their outcomes are written, so that a
    //  planned stop sends nothing twice; nothing new starts.
    int64_t until = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (self->db), wa_actor_sock (self->webhook), NULL);
    zpoller_set_nonstop (poller, true);
    while (zclock_mono () < until
       &&  (!self->store || !self->mark || !self->load || !self->count
        ||  zlistx_size (self->marks) || zhashx_size (self->flights))) {
        s_mark_submit (self);
        void *which = zpoller_wait (poller, (int) (until - zclock_mono ()));
        if (which == wa_actor_sock (self->webhook)) {
            uint64_t token;
            int status;
            char error[WEBHOOK_ERROR_MAX + 1];
            if (webhook_recv (self->webhook, &token, &status, error) == 0)
                s_on_outcome (self, token, status, error);
        }
        else
        if (which)
            s_job_done (self, wa_dbworker_recv (self->db));
    }
    zpoller_destroy (&poller);
}

callbacks_stats_t
callbacks_stats (callbacks_t *self)
{
    callbacks_stats_t stats = self->stats;
    stats.pending = self->pending;
    stats.loaded = cbqueue_size (self->queue);
    stats.in_flight = zhashx_size (self->flights);
    stats.incoming = zlistx_size (self->incoming);
    stats.full = self->full;
    return stats;
}

json_t *
callbacks_stats_json (callbacks_t *self)
{
    callbacks_stats_t s = callbacks_stats (self);
    return json_pack ("{s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
                      "pending", (json_int_t) s.pending, "delivered", (json_int_t) s.delivered,
                      "failed_attempts", (json_int_t) s.failed_attempts, "in_flight", (json_int_t) s.in_flight,
                      "full", s.full, "received", (json_int_t) s.received, "rejected", (json_int_t) s.rejected,
                      "stored", (json_int_t) s.stored, "acked", (json_int_t) s.acked,
                      "skipped", (json_int_t) s.skipped, "full_episodes", (json_int_t) s.full_episodes,
                      "fenced", (json_int_t) s.fenced, "loaded", (json_int_t) s.loaded,
                      "incoming", (json_int_t) s.incoming, "queue_max", self->settings->callbacks_queue_max);
}
