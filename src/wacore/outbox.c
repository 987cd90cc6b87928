/*  outbox — see outbox.h */
#include <sodium.h>
#include "wa_dbworker.h"
#include "wa_errors.h"
#include "wa_log.h"
#include "wa_u64hash.h"
#include "outbox.h"

#define OUTBOX_BATCH 512        //  requests per insert transaction
#define WAITING_MAX 8192        //  requests waiting for an insert, then 1016
#define MEMORY_MAX 100000       //  unacknowledged messages held, then 1016
#define WINDOW 1000             //  SENDs and QUERYs unanswered at once
#define MARK_BATCH 2048
#define LOAD_PAGE 256
#define ID_MAX 40               //  the outbox.id column
#define MEDIA_BATCH 64          //  media ids looked up per job
#define INSERT_RETRY_USEC (WA_USEC_PER_SEC / 20)        //  an unresolved batch tried again after
#define INSERT_RETRY_LOG_USEC (10 * WA_USEC_PER_SEC)    //  and said to be still unresolved every
#define INSERT_FAIL_LOG_USEC (10 * WA_USEC_PER_SEC)     //  failed inserts counted, said every
#define MARK_RETRY_USEC WA_USEC_PER_SEC                 //  marks that failed written again after

typedef enum { E_UNSENT, E_SENT, E_QUERY, E_QUERIED } estate_t;

typedef struct {
    char id[ID_MAX + 1];
    char *payload;
    estate_t state;
    uint64_t seq;               //  of the SEND in flight
    void *action;               //  handle in the action list, NULL when none
} entry_t;

typedef struct {
    zframe_t *peer;
    uint64_t seq;
    char id[WA_MESSAGE_ID_LEN + 1];
    char key[WA_MESSAGE_KEY_MAX + 1];
    char to[WA_MESSAGE_TO_MAX + 1];
    char *payload;
    //  The media the message names (wa_message_t's, by id): each looked up.
    int media_count;
    char media_ids[WA_MESSAGE_MEDIA_MAX][WA_MEDIA_ID_LEN + 1];
    char media_kinds[WA_MESSAGE_MEDIA_MAX][12];
    char media_fields[WA_MESSAGE_MEDIA_MAX][96];
} accept_t;

typedef struct {
    char id[ID_MAX + 1];
    const char *status;         //  "sent" or "refused"
} mark_t;

typedef struct {
    wa_job_t job;
    const outbox_db_t *ops;
    int shard;
    uint64_t node;
    uint64_t epoch;
    uint64_t batch;
    unsigned int count;
    accept_t *rows[OUTBOX_BATCH];
    const char *ids[OUTBOX_BATCH];
    const char *keys[OUTBOX_BATCH];
    const char *tos[OUTBOX_BATCH];
    const char *payloads[OUTBOX_BATCH];
    bool inserted[OUTBOX_BATCH];
    int result;                 //  0 committed, 1 fenced off, -1 database error
    bool ambiguous;             //  the error came after the insert ran
    //  Held in its slot, rows and batch id kept, until tried again: an
    //  earlier try of this batch may have committed (its outcome unknown).
    bool retry;
    unsigned int tries;         //  of this batch id before this one
    wa_usec_t retry_since;      //  the first try that left it unresolved
    wa_usec_t retry_logged;     //  when that was last said
    char error[200];
} insert_job_t;

typedef struct {
    wa_job_t job;
    const outbox_db_t *ops;
    unsigned int count;
    mark_t *rows[MARK_BATCH];
    const char *ids[MARK_BATCH];
    const char *statuses[MARK_BATCH];
} mark_job_t;

typedef struct {
    wa_job_t job;
    const outbox_db_t *ops;
    int shard;
    uint64_t after;
    uint64_t generation;
    unsigned int count;
    uint64_t seqs[LOAD_PAGE];
    char ids[LOAD_PAGE][ID_MAX + 1];
    char *payloads[LOAD_PAGE];
} load_job_t;

//  Media messages wait for this before the insert: the media id must name a
//  stored file of a type the message can carry. The media table is the
//  proof (the Webapp inserts a row only once its file is in place), read on
//  this worker: the reactor never waits on the shared file system.
typedef struct {
    wa_job_t job;
    const outbox_db_t *ops;
    unsigned int count;
    accept_t *rows[MEDIA_BATCH];
    bool found[MEDIA_BATCH][WA_MESSAGE_MEDIA_MAX];
    char types[MEDIA_BATCH][WA_MESSAGE_MEDIA_MAX][128];
} media_job_t;

struct outbox_t {
    const wa_config_t *config;
    outbox_io_t io;
    void *arg;
    wa_dbworker_t *db;
    int shard;                  //  -1 while not holding
    uint64_t node;
    uint64_t epoch;
    uint64_t generation;        //  changes with the hold and each session
    bool open;
    zhashx_t *entries;          //  id → entry_t (owned)
    zhashx_t *by_seq;           //  SEND seq → entry_t
    zlistx_t *actions;          //  entries to SEND or QUERY, in order
    zlistx_t *waiting;          //  accept_t waiting for an insert
    zlistx_t *checking;         //  accept_t waiting for their media to be looked up
    zlistx_t *marks;            //  mark_t waiting to be written
    size_t outstanding;         //  SENDs + QUERYs unanswered
    uint64_t next_seq;
    bool reconcile;             //  a reconciliation is wanted or running
    bool reconcile_again;       //  start over when this one ends
    uint64_t load_after;
    wa_usec_t insert_retry_at;  //  an unresolved batch is tried again then
    wa_usec_t mark_retry_at;    //  marks that failed are written again then
    //  A streak of failed inserts (the database away): its first logged,
    //  then how many more every INSERT_FAIL_LOG_USEC, then its end.
    unsigned int fail_total;    //  in the streak; 0 when none
    unsigned int fail_unlogged; //  since the last line
    wa_usec_t fail_since;
    wa_usec_t fail_logged;
    const outbox_db_t *ops;     //  the database side, copied into each job
    //  The jobs, NULL while the worker has them.
    insert_job_t *insert;
    mark_job_t *mark;
    load_job_t *load;
    media_job_t *media;
    outbox_stats_t stats;
};

enum { JOB_INSERT = 1, JOB_MARK, JOB_LOAD, JOB_MEDIA };

//  Not under a draining row (a change of the shard count): a message is
//  accepted under the layout in force, or retried until the new one is.
//  The fence WRITES the shard's row (one row matched: still the holder):
//  a promotion, a handover or a change of the shard count writes it too, so
//  on one server it waits for this batch's COMMIT, and on a Galera cluster,
//  where a locking read locks on its own database node only, whichever of
//  the two commits second fails certification (docs/ARCHITECTURE.md, On a
//  Galera cluster).
static const char *SQL_FENCE =
    "UPDATE shard_map SET fence = fence + 1 WHERE shard = ? AND node_id = ? AND epoch = ? "
    "AND expires_at > NOW(6) AND draining = 0";
static const char *SQL_INSERT =
    "INSERT IGNORE INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, NOW(6))";
//  The batch's rows that are there: a row of this batch is ours, whichever
//  try of it wrote it (an earlier try whose COMMIT failed may have
//  committed); one that a retried request finds is not.
static const char *SQL_NEW =
    "SELECT o.id FROM outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(40) CHARACTER SET ascii PATH '$')) j "
    "ON o.id = j.id WHERE o.batch = ? AND o.status = 'pending'";
//  The ids, of those the batch did not write, that are in the table: a
//  request answered 201 without writing its row must find it there (an
//  earlier try of the request wrote it). A locking read: the newest
//  committed rows, not the transaction's snapshot.
static const char *SQL_THERE =
    "SELECT o.id FROM outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(40) CHARACTER SET ascii PATH '$')) j "
    "ON o.id = j.id LOCK IN SHARE MODE";
//  The batch's rows read back after its COMMIT, each must be there (a
//  consistent read: the committed rows as of now).
static const char *SQL_COMMITTED =
    "SELECT o.id FROM outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(40) CHARACTER SET ascii PATH '$')) j "
    "ON o.id = j.id";
//  One statement for a whole batch: the ids come as a JSON array joined
//  through JSON_TABLE on the id index (an array-bound UPDATE runs once per
//  row on the server, which made marking the database's largest cost).
//  The ids are ASCII. A JSON_TABLE column's collation is otherwise the
//  connection's (MySQL 8), and one other than the table's makes the join
//  an illegal mix of collations; an ascii column compared with the
//  table's utf8mb4 one takes the table's collation, so the join holds
//  whatever the defaults, and the id index serves it.
static const char *SQL_MARK =
    "UPDATE outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(40) CHARACTER SET ascii PATH '$')) j "
    "ON o.id = j.id SET o.status = ?, o.sent_at = NOW(6) WHERE o.status = 'pending'";
static const char *SQL_LOAD =
    "SELECT seq, id, payload FROM outbox WHERE shard = ? AND status = 'pending' AND seq > ? "
    "ORDER BY seq LIMIT 256";
static const char *SQL_MEDIA = "SELECT mime_type FROM media WHERE id = ?";

//  --------------------------------------------------------------------------
//  The database side in SQL (outbox_db_sql)

typedef struct {
    const outbox_batch_t *batch;
    bool *inserted;
} new_rows_t;

static int
s_new_row (const wa_db_row_t *row, void *arg)
{
    new_rows_t *self = arg;
    const char *id = wa_db_row_str (row, 0);
    for (unsigned int i = 0; i < self->batch->count; i++)
        if (!self->inserted[i] && streq (self->batch->ids[i], id)) {
            self->inserted[i] = true;
            break;
        }
    return 0;
}

//  The batch's ids as a JSON array (for JSON_TABLE): every one, or those
//  not written when written is not NULL. NULL when out of memory.
static char *
s_ids_text (const outbox_batch_t *batch, const bool *written)
{
    json_t *array = json_array ();
    for (unsigned int i = 0; i < batch->count; i++)
        if (!written || !written[i])
            json_array_append_new (array, json_string (batch->ids[i]));
    char *text = json_dumps (array, JSON_COMPACT);
    json_decref (array);
    return text;
}

//  Which of the batch's rows this batch wrote (some were there before it).
static int
s_sql_new_rows (wa_db_t *db, const outbox_batch_t *batch, bool *inserted)
{
    char *text = s_ids_text (batch, NULL);
    new_rows_t found = { batch, inserted };
    int rc = text && wa_db_query (db, SQL_NEW, s_new_row, &found, "su", text, batch->batch) >= 0 ? 0 : -1;
    free (text);
    return rc;
}

typedef struct {
    const outbox_batch_t *batch;
    const bool *inserted;
    bool *there;
} there_rows_t;

static int
s_there_row (const wa_db_row_t *row, void *arg)
{
    there_rows_t *self = arg;
    const char *id = wa_db_row_str (row, 0);
    for (unsigned int i = 0; i < self->batch->count; i++)
        if ((!self->inserted || !self->inserted[i]) && streq (self->batch->ids[i], id))
            self->there[i] = true;
    return 0;
}

//  Every row of the batch (those it did not write, when inserted is not
//  NULL) is in the table, as sql (SQL_THERE or SQL_COMMITTED) reads it. 0;
//  1 when some are not (how many in *missing, the first's id in error); -1
//  on a database error.
static int
s_sql_all_there (wa_db_t *db, const char *sql, const outbox_batch_t *batch, const bool *inserted,
                 unsigned int *missing, char *error, size_t error_size)
{
    char *text = s_ids_text (batch, inserted);
    bool there[OUTBOX_BATCH] = { false };
    there_rows_t found = { batch, inserted, there };
    int rc = text && wa_db_query (db, sql, s_there_row, &found, "s", text) >= 0 ? 0 : -1;
    free (text);
    if (rc)
        return -1;
    *missing = 0;
    for (unsigned int i = 0; i < batch->count; i++)
        if ((!inserted || !inserted[i]) && !there[i] && (*missing)++ == 0)
            snprintf (error, error_size, "%s", batch->ids[i]);
    return *missing ? 1 : 0;
}

static int
s_sql_insert (wa_db_t *db, const outbox_batch_t *batch, bool *inserted, bool *ambiguous, char *error,
              size_t error_size)
{
    int64_t shards[OUTBOX_BATCH];
    uint64_t epochs[OUTBOX_BATCH];
    uint64_t batches[OUTBOX_BATCH];
    for (unsigned int i = 0; i < batch->count; i++) {
        shards[i] = batch->shard;
        epochs[i] = batch->epoch;
        batches[i] = batch->batch;
    }
    if (wa_db_transaction (db, "START TRANSACTION"))
        goto failed;
    int64_t holding = wa_db_exec (db, SQL_FENCE, "iuu", (int64_t) batch->shard, batch->node, batch->epoch);
    if (holding < 0)
        goto rollback;
    if (holding == 0) {
        wa_db_transaction (db, "ROLLBACK");
        return 1;
    }
    const void *cols[] = { batch->ids, batch->keys, shards, epochs, batches, batch->tos, batch->payloads };
    int64_t rows = wa_db_exec_bulk (db, SQL_INSERT, "ssiuuss", batch->count, cols);
    if (rows < 0)
        goto rollback;
    if ((unsigned int) rows == batch->count)
        memset (inserted, 1, sizeof inserted[0] * batch->count);
    else {
        if (s_sql_new_rows (db, batch, inserted))
            goto rollback;
        //  What the INSERT IGNORE skipped must be a row already there: a
        //  201 for a row that is neither would be a message lost.
        unsigned int missing = 0;
        char first[64] = "";
        int there = s_sql_all_there (db, SQL_THERE, batch, inserted, &missing, first, sizeof first);
        if (there == -1)
            goto rollback;
        if (there == 1) {
            wa_db_transaction (db, "ROLLBACK");
            snprintf (error, error_size, "%u of %u rows were neither written nor found (the first: %s); "
                      "nothing answered 201", missing, batch->count, first);
            if (batch->tries == 0)
                wa_error ("outbox: insert of %u messages: %s", batch->count, error);
            return -1;
        }
    }
    //  Whether the server still held the transaction the rows went into
    //  (one it ended on its own would make the COMMIT a no-op answered
    //  OK): said when the rows are not there after it.
    bool held = wa_db_server_in_transaction (db);
    *ambiguous = true;
    if (wa_db_transaction (db, "COMMIT"))
        goto failed;
    //  Read back: a 201 stands for a row that is there. One that is not,
    //  after a COMMIT answered OK, is logged and the batch tried again under
    //  its id, as after a COMMIT whose outcome is unknown.
    unsigned int missing = 0;
    char first[64] = "";
    int there = s_sql_all_there (db, SQL_COMMITTED, batch, NULL, &missing, first, sizeof first);
    if (there == -1) {
        snprintf (error, error_size, "%s (reading the rows back after their COMMIT)", wa_db_error (db));
        return -1;
    }
    if (there == 1) {
        snprintf (error, error_size, "%u of %u rows are not in the table after their COMMIT (the first: %s; "
                  "the transaction was %s before it)", missing, batch->count, first,
                  held ? "open" : "ended by the database");
        if (batch->tries == 0)
            wa_error ("outbox: insert of %u messages: %s; nothing answered 201", batch->count, error);
        return -1;
    }
    return 0;
rollback:
    snprintf (error, error_size, "%s", wa_db_error (db));
    wa_db_transaction (db, "ROLLBACK");
    return -1;
failed:
    snprintf (error, error_size, "%s", wa_db_error (db));
    return -1;
}

static int
s_sql_mark (wa_db_t *db, unsigned int count, const char *const *ids, const char *const *statuses)
{
    int rc = 0;
    static const char *kinds[] = { "sent", "refused" };
    for (size_t s = 0; s < sizeof kinds / sizeof kinds[0] && rc == 0; s++) {
        json_t *array = json_array ();
        for (unsigned int i = 0; i < count; i++)
            if (streq (statuses[i], kinds[s]))
                json_array_append_new (array, json_string (ids[i]));
        char *text = json_array_size (array) ? json_dumps (array, JSON_COMPACT) : NULL;
        if (text && wa_db_exec (db, SQL_MARK, "ss", text, kinds[s]) < 0)
            rc = -1;
        free (text);
        json_decref (array);
    }
    if (rc)
        wa_warn ("db: cannot mark %u messages sent (will retry): %s", count, wa_db_error (db));
    return rc;
}

typedef struct {
    outbox_row_fn *fn;
    void *arg;
} load_rows_t;

static int
s_load_row (const wa_db_row_t *row, void *arg)
{
    load_rows_t *self = arg;
    self->fn (self->arg, (uint64_t) wa_db_row_int (row, 0), wa_db_row_str (row, 1), wa_db_row_str (row, 2));
    return 0;
}

static int
s_sql_load (wa_db_t *db, int shard, uint64_t after, outbox_row_fn *fn, void *arg)
{
    load_rows_t rows = { fn, arg };
    return wa_db_query (db, SQL_LOAD, s_load_row, &rows, "iu", (int64_t) shard, after) < 0 ? -1 : 0;
}

typedef struct {
    bool found;
    char *type;
    size_t type_size;
} media_row_t;

static int
s_media_row (const wa_db_row_t *row, void *arg)
{
    media_row_t *self = arg;
    self->found = true;
    snprintf (self->type, self->type_size, "%s", wa_db_row_str (row, 0));
    return 0;
}

static int
s_sql_media (wa_db_t *db, const char *media_id, char *type, size_t type_size)
{
    media_row_t found = { false, type, type_size };
    if (wa_db_query (db, SQL_MEDIA, s_media_row, &found, "s", media_id) < 0)
        return -1;
    return found.found ? 1 : 0;
}

const outbox_db_t outbox_db_sql = { s_sql_insert, s_sql_mark, s_sql_load, s_sql_media };

//  --------------------------------------------------------------------------
//  The jobs (on the outbox's DB worker)

static void
s_insert_run (wa_job_t *job, wa_db_t *db)
{
    insert_job_t *self = (insert_job_t *) job;
    memset (self->inserted, 0, sizeof self->inserted);
    self->ambiguous = false;
    self->error[0] = 0;
    outbox_batch_t batch = { self->shard, self->node, self->epoch, self->batch, self->count,
                             self->ids, self->keys, self->tos, self->payloads, self->tries };
    self->result = self->ops->insert (db, &batch, self->inserted, &self->ambiguous, self->error,
                                      sizeof self->error);
}

static void
s_mark_run (wa_job_t *job, wa_db_t *db)
{
    mark_job_t *self = (mark_job_t *) job;
    job->rc = self->ops->mark (db, self->count, self->ids, self->statuses);
}

static void
s_load_add (void *arg, uint64_t seq, const char *id, const char *payload)
{
    load_job_t *self = arg;
    if (self->count == LOAD_PAGE || strlen (id) > ID_MAX)
        return;
    self->seqs[self->count] = seq;
    snprintf (self->ids[self->count], sizeof self->ids[0], "%s", id);
    self->payloads[self->count] = strdup (payload);
    self->count++;
}

static void
s_load_run (wa_job_t *job, wa_db_t *db)
{
    load_job_t *self = (load_job_t *) job;
    self->count = 0;
    job->rc = self->ops->load (db, self->shard, self->after, s_load_add, self);
}

static void
s_media_run (wa_job_t *job, wa_db_t *db)
{
    media_job_t *self = (media_job_t *) job;
    job->rc = 0;
    for (unsigned int i = 0; i < self->count; i++)
        for (int m = 0; m < self->rows[i]->media_count; m++) {
            int found = self->ops->media (db, self->rows[i]->media_ids[m], self->types[i][m],
                                          sizeof self->types[i][m]);
            self->found[i][m] = found == 1;
            if (found < 0) {
                job->rc = -1;
                return;
            }
        }
}

//  --------------------------------------------------------------------------
//  Memory

static void
s_entry_destroy (void **item)
{
    entry_t *entry = *item;
    free (entry->payload);
    free (entry);
    *item = NULL;
}

//  What a job holds when it is destroyed away from its slot (at a stop):
//  the requests and marks handed over with it, the rows it read. Back in
//  its slot it holds none.
static void s_accept_destroy (accept_t **accept_p);

static void
s_insert_job_destroy (wa_job_t *job)
{
    insert_job_t *self = (insert_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        s_accept_destroy (&self->rows[i]);
}

static void
s_mark_job_destroy (wa_job_t *job)
{
    mark_job_t *self = (mark_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        free (self->rows[i]);
}

static void
s_load_job_destroy (wa_job_t *job)
{
    load_job_t *self = (load_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        free (self->payloads[i]);
}

static void
s_media_job_destroy (wa_job_t *job)
{
    media_job_t *self = (media_job_t *) job;
    for (unsigned int i = 0; i < self->count; i++)
        s_accept_destroy (&self->rows[i]);
}

static void
s_act (outbox_t *self, entry_t *entry, estate_t state)
{
    entry->state = state;
    if (!entry->action)
        entry->action = zlistx_add_end (self->actions, entry);
}

static void
s_forget (outbox_t *self, entry_t *entry)
{
    if (entry->action)
        zlistx_delete (self->actions, entry->action);
    if (entry->state == E_SENT)
        zhashx_delete (self->by_seq, WA_U64_KEY (entry->seq));
    zhashx_delete (self->entries, entry->id);
}

static void
s_mark (outbox_t *self, const char *id, const char *status)
{
    mark_t *mark = (mark_t *) zmalloc (sizeof (mark_t));
    snprintf (mark->id, sizeof mark->id, "%s", id);
    mark->status = status;
    zlistx_add_end (self->marks, mark);
}

static void
s_reply_error (outbox_t *self, zframe_t **peer, uint64_t seq, int status, int code, const char *details)
{
    char *text = wa_error_json (code, "%s", details);
    self->io.reply (self->arg, peer, seq, text ? status : 500, text ? text : "");
    free (text);
}

static void
s_accept_destroy (accept_t **accept_p)
{
    accept_t *accept = *accept_p;
    zframe_destroy (&accept->peer);
    free (accept->payload);
    free (accept);
    *accept_p = NULL;
}

//  A batch being tried again (s_insert_done), given up with the hold or at
//  a stop: its rows, if they committed, are the next holder's (the fence
//  orders them before its promotion, and its reconcile reads them), and a
//  retried request finds them there.
static void
s_give_up_retry (outbox_t *self, int status, int code, const char *details)
{
    insert_job_t *job = self->insert;
    if (!job || !job->retry)
        return;
    for (unsigned int i = 0; i < job->count; i++) {
        s_reply_error (self, &job->rows[i]->peer, job->rows[i]->seq, status, code, details);
        s_accept_destroy (&job->rows[i]);
    }
    job->count = 0;
    job->retry = false;
}

static void
s_answer_waiting (outbox_t *self, int status, int code, const char *details)
{
    s_give_up_retry (self, status, code, details);
    accept_t *accept;
    while ((accept = zlistx_first (self->waiting))) {
        zlistx_detach_cur (self->waiting);
        s_reply_error (self, &accept->peer, accept->seq, status, code, details);
        s_accept_destroy (&accept);
    }
    while ((accept = zlistx_first (self->checking))) {
        zlistx_detach_cur (self->checking);
        s_reply_error (self, &accept->peer, accept->seq, status, code, details);
        s_accept_destroy (&accept);
    }
}

//  --------------------------------------------------------------------------
//  Moving things along

static void
s_pump (outbox_t *self)
{
    if (!self->open)
        return;
    entry_t *entry;
    while (self->outstanding < WINDOW && (entry = zlistx_first (self->actions))) {
        if (entry->state == E_UNSENT) {
            uint64_t seq = ++self->next_seq;
            if (self->io.send (self->arg, seq, entry->payload))
                break;
            entry->state = E_SENT;
            entry->seq = seq;
            zhashx_insert (self->by_seq, WA_U64_KEY (seq), entry);
            self->stats.sent++;
        }
        else {
            if (self->io.query (self->arg, entry->id))
                break;
            entry->state = E_QUERIED;
            self->stats.queried++;
        }
        zlistx_delete (self->actions, entry->action);
        entry->action = NULL;
        self->outstanding++;
    }
}

static void
s_insert_submit (outbox_t *self)
{
    insert_job_t *job = self->insert;
    if (job && job->retry) {
        //  The same rows under the same batch id, first, until the outcome is known.
        if (wa_clock_mono () < self->insert_retry_at)
            return;
        job->ops = self->ops;
        WA_JOB_SUBMIT (self->db, self->insert);
        return;
    }
    if (!job || self->shard < 0 || zlistx_size (self->waiting) == 0)
        return;
    job->ops = self->ops;
    job->shard = self->shard;
    job->node = self->node;
    job->epoch = self->epoch;
    randombytes_buf (&job->batch, sizeof job->batch);
    job->tries = 0;
    job->count = 0;
    accept_t *accept;
    while (job->count < OUTBOX_BATCH && (accept = zlistx_first (self->waiting))) {
        zlistx_detach_cur (self->waiting);
        unsigned int i = job->count++;
        job->rows[i] = accept;
        job->ids[i] = accept->id;
        job->keys[i] = accept->key;
        job->tos[i] = accept->to;
        job->payloads[i] = accept->payload;
    }
    WA_JOB_SUBMIT (self->db, self->insert);
}

static void
s_mark_submit (outbox_t *self)
{
    mark_job_t *job = self->mark;
    //  Not at every tick after a failure: while the database is away each
    //  try fails at once and logs a line (7,644 in a 10-minute nemesis).
    if (!job || zlistx_size (self->marks) == 0 || wa_clock_mono () < self->mark_retry_at)
        return;
    job->ops = self->ops;
    job->count = 0;
    mark_t *mark;
    while (job->count < MARK_BATCH && (mark = zlistx_first (self->marks))) {
        zlistx_detach_cur (self->marks);
        job->rows[job->count] = mark;
        job->ids[job->count] = mark->id;
        job->statuses[job->count] = mark->status;
        job->count++;
    }
    WA_JOB_SUBMIT (self->db, self->mark);
}

static void
s_load_submit (outbox_t *self)
{
    load_job_t *job = self->load;
    if (!job || !self->reconcile || !self->open || self->shard < 0
    ||  zhashx_size (self->entries) >= MEMORY_MAX)
        return;
    job->ops = self->ops;
    job->shard = self->shard;
    job->after = self->load_after;
    job->generation = self->generation;
    WA_JOB_SUBMIT (self->db, self->load);
}

static void
s_media_submit (outbox_t *self)
{
    media_job_t *job = self->media;
    if (!job || self->shard < 0 || zlistx_size (self->checking) == 0)
        return;
    job->ops = self->ops;
    job->count = 0;
    accept_t *accept;
    while (job->count < MEDIA_BATCH && (accept = zlistx_first (self->checking))) {
        zlistx_detach_cur (self->checking);
        job->rows[job->count++] = accept;
    }
    WA_JOB_SUBMIT (self->db, self->media);
}

static void
s_media_done (outbox_t *self)
{
    media_job_t *job = self->media;
    for (unsigned int i = 0; i < job->count; i++) {
        accept_t *accept = job->rows[i];
        char details[400];
        //  The first media that is missing or does not fit, -1 when none.
        int bad = -1;
        for (int m = 0; m < accept->media_count && bad < 0 && !job->job.rc; m++)
            if (!job->found[i][m] || !wa_media_fits (accept->media_kinds[m], job->types[i][m]))
                bad = m;
        if (job->job.rc)
            s_reply_error (self, &accept->peer, accept->seq, 500, WA_ERR_DATABASE, "cannot look up the media now");
        else
        if (bad >= 0 && !job->found[i][bad]) {
            snprintf (details, sizeof details, "no media with id '%s'", accept->media_ids[bad]);
            s_reply_error (self, &accept->peer, accept->seq, 404, WA_ERR_NOT_FOUND, details);
        }
        else
        if (bad >= 0) {
            const char *kind = accept->media_kinds[bad];
            snprintf (details, sizeof details, "'%s': media '%s' is %s, which a%s %s cannot be (image: image/jpeg "
                      "or image/png; audio: audio/*; video: video/*; sticker: image/webp; document: any)",
                      accept->media_fields[bad], accept->media_ids[bad], job->types[i][bad],
                      strchr ("aeiou", kind[0]) ? "n" : "", kind);
            s_reply_error (self, &accept->peer, accept->seq, 400, WA_ERR_INVALID, details);
        }
        else
        if (self->shard < 0)
            s_reply_error (self, &accept->peer, accept->seq, 500, WA_ERR_NOT_PRIMARY_COREAPP,
                           "this Coreapp no longer holds the message's shard");
        else {
            zlistx_add_end (self->waiting, accept);
            continue;
        }
        s_accept_destroy (&job->rows[i]);
    }
    job->count = 0;
}

//  A failed insert's requests are answered 500 and tried again by the
//  Webapp: while the database is away that is one failure a request
//  attempt, and a line each would grow with the load. The first of a
//  streak is logged, then how many more every 10 s, then its end.
static void
s_insert_failed (outbox_t *self, unsigned int count, const char *error)
{
    wa_usec_t now = wa_clock_mono ();
    if (self->fail_total++ == 0) {
        self->fail_since = self->fail_logged = now;
        self->fail_unlogged = 0;
        wa_warn ("outbox: insert of %u messages failed: %s", count, error);
    }
    else
    if (now - self->fail_logged >= INSERT_FAIL_LOG_USEC) {
        wa_warn ("outbox: %u more inserts failed in the last %.0f s; the last, of %u messages: %s",
                 self->fail_unlogged + 1, (double) (now - self->fail_logged) / WA_USEC_PER_SEC, count, error);
        self->fail_logged = now;
        self->fail_unlogged = 0;
    }
    else
        self->fail_unlogged++;
}

static void
s_insert_done (outbox_t *self)
{
    insert_job_t *job = self->insert;
    self->stats.batches++;
    bool current = self->shard == job->shard && self->epoch == job->epoch;
    //  A COMMIT that failed may have committed, now or later (on a Galera
    //  cluster a stalled COMMIT lands once the cluster moves again): the
    //  rows are neither answered nor given up while we hold the shard, but
    //  tried again under the same batch id until the outcome is known. A
    //  later try finds what an earlier one wrote by the batch id (its rows
    //  go to memory like new ones), and an earlier try that lands after a
    //  later one fails on the rows' unique keys. So no request's retry can
    //  meet a row that committed behind our back and answer 201 for a
    //  message nobody sends.
    if (job->result == -1 && (job->ambiguous || job->retry) && current) {
        wa_usec_t now = wa_clock_mono ();
        if (!job->retry) {
            wa_warn ("outbox: the outcome of inserting %u messages is unknown (%s); tried again under the same "
                     "batch id", job->count, job->error);
            job->retry_since = job->retry_logged = now;
        }
        else
        if (now - job->retry_logged >= INSERT_RETRY_LOG_USEC) {
            //  Tried every INSERT_RETRY_USEC, said every 10 s: a batch that
            //  cannot be resolved (the table holds its rows under other
            //  ids, say) must not fill the log.
            wa_error ("outbox: inserting %u messages still unresolved after %u tries in %.0f s; the last: %s",
                      job->count, job->tries + 1, (double) (now - job->retry_since) / WA_USEC_PER_SEC,
                      job->error);
            job->retry_logged = now;
        }
        job->retry = true;
        job->tries++;
        self->stats.unresolved++;
        self->insert_retry_at = now + INSERT_RETRY_USEC;
        return;
    }
    if (job->retry && job->result != -1)
        wa_info ("outbox: inserting %u messages resolved after %u tries: %s", job->count, job->tries + 1,
                 job->result == 0 ? "committed" : "the shard_map row no longer names us");
    job->retry = false;
    for (unsigned int i = 0; i < job->count; i++) {
        accept_t *accept = job->rows[i];
        if (job->result == 0) {
            char text[128];
            snprintf (text, sizeof text, "{\"messages\":[{\"id\":\"%s\"}]}", accept->id);
            self->io.reply (self->arg, &accept->peer, accept->seq, 201, text);
            if (!job->inserted[i])
                self->stats.retried++;
            else {
                self->stats.accepted++;
                if (current && !zhashx_lookup (self->entries, accept->id)) {
                    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
                    memcpy (entry->id, accept->id, sizeof accept->id);
                    entry->payload = accept->payload;
                    accept->payload = NULL;
                    zhashx_insert (self->entries, entry->id, entry);
                    s_act (self, entry, E_UNSENT);
                }
            }
        }
        else
        if (job->result == 1)
            s_reply_error (self, &accept->peer, accept->seq, 500, WA_ERR_NOT_PRIMARY_COREAPP,
                           "this Coreapp no longer holds the message's shard");
        else
            s_reply_error (self, &accept->peer, accept->seq, 500, WA_ERR_DATABASE, job->error);
        s_accept_destroy (&job->rows[i]);
    }
    if (job->result == 1 && current)
        wa_warn ("outbox: the shard_map row no longer names us at epoch %" PRIu64 "; %u requests refused",
                 job->epoch, job->count);
    //  Given up on with the shard: a row that committed is the next
    //  holder's (the fence orders it before the promotion; its reconcile
    //  reads it).
    if (job->result == -1)
        s_insert_failed (self, job->count, job->error);
    else
    if (job->result == 0 && self->fail_total) {
        wa_info ("outbox: inserts succeed again, after %u failed in %.0f s", self->fail_total,
                 (double) (wa_clock_mono () - self->fail_since) / WA_USEC_PER_SEC);
        self->fail_total = 0;
    }
    job->count = 0;
}

static void
s_load_done (outbox_t *self)
{
    load_job_t *job = self->load;
    bool current = job->job.rc == 0 && job->generation == self->generation;
    for (unsigned int i = 0; i < job->count; i++) {
        if (current && !zhashx_lookup (self->entries, job->ids[i])) {
            entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
            memcpy (entry->id, job->ids[i], sizeof entry->id);
            entry->payload = job->payloads[i];
            job->payloads[i] = NULL;
            zhashx_insert (self->entries, entry->id, entry);
            s_act (self, entry, E_QUERY);
        }
        free (job->payloads[i]);
        job->payloads[i] = NULL;
    }
    if (!current)
        return;                 //  tick tries again if still wanted
    if (job->count == LOAD_PAGE)
        self->load_after = job->seqs[LOAD_PAGE - 1];
    else
    if (self->reconcile_again) {
        self->reconcile_again = false;
        self->load_after = 0;
    }
    else {
        self->reconcile = false;
        wa_info ("outbox: reconciled shard %d: %zu messages to ask the upstream about",
                 self->shard, zlistx_size (self->actions));
    }
}

//  --------------------------------------------------------------------------
//  API

outbox_t *
outbox_new (const wa_config_t *config, outbox_io_t io, void *arg)
{
    outbox_t *self = (outbox_t *) zmalloc (sizeof (outbox_t));
    self->config = config;
    self->io = io;
    self->arg = arg;
    self->shard = -1;
    self->db = wa_dbworker_new (config);
    self->insert = WA_JOB_NEW (insert_job_t, JOB_INSERT, s_insert_run, s_insert_job_destroy);
    self->mark = WA_JOB_NEW (mark_job_t, JOB_MARK, s_mark_run, s_mark_job_destroy);
    self->load = WA_JOB_NEW (load_job_t, JOB_LOAD, s_load_run, s_load_job_destroy);
    self->media = WA_JOB_NEW (media_job_t, JOB_MEDIA, s_media_run, s_media_job_destroy);
    outbox_set_db (self, &outbox_db_sql);
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_entry_destroy);
    self->by_seq = wa_u64hash_new ();
    self->actions = zlistx_new ();
    self->waiting = zlistx_new ();
    self->checking = zlistx_new ();
    self->marks = zlistx_new ();
    zlistx_set_destructor (self->marks, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
outbox_destroy (outbox_t **self_p)
{
    outbox_t *self = *self_p;
    if (!self)
        return;
    //  No job runs once the worker is gone; a job still with it comes back
    //  destroyed, with the requests and marks it holds.
    wa_dbworker_destroy (&self->db, NULL, NULL);
    WA_JOB_DESTROY (self->insert);
    WA_JOB_DESTROY (self->mark);
    WA_JOB_DESTROY (self->load);
    WA_JOB_DESTROY (self->media);
    accept_t *accept;
    while ((accept = zlistx_first (self->waiting))) {
        zlistx_detach_cur (self->waiting);
        s_accept_destroy (&accept);
    }
    while ((accept = zlistx_first (self->checking))) {
        zlistx_detach_cur (self->checking);
        s_accept_destroy (&accept);
    }
    zlistx_destroy (&self->waiting);
    zlistx_destroy (&self->checking);
    zlistx_destroy (&self->marks);
    zlistx_destroy (&self->actions);
    zhashx_destroy (&self->by_seq);
    zhashx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

wa_dbworker_t *
outbox_worker (outbox_t *self)
{
    return self->db;
}

void
outbox_on_worker (outbox_t *self)
{
    wa_job_t *job = wa_dbworker_recv (self->db);
    if (!job)
        return;
    switch (job->kind) {
        case JOB_INSERT:
            self->insert = (insert_job_t *) job;
            s_insert_done (self);
            break;
        case JOB_MARK: {
            mark_job_t *mark = self->mark = (mark_job_t *) job;
            for (unsigned int i = 0; i < mark->count; i++) {
                if (job->rc)        //  back in the queue, tried again later
                    zlistx_add_end (self->marks, mark->rows[i]);
                else
                    free (mark->rows[i]);
            }
            mark->count = 0;
            if (job->rc) {
                self->mark_retry_at = wa_clock_mono () + MARK_RETRY_USEC;
                return;
            }
            break;
        }
        case JOB_LOAD:
            self->load = (load_job_t *) job;
            s_load_done (self);
            break;
        case JOB_MEDIA:
            self->media = (media_job_t *) job;
            s_media_done (self);
            break;
        default:
            wa_job_destroy (&job);
            return;
    }
    outbox_tick (self);
}

void
outbox_set_db (outbox_t *self, const outbox_db_t *db)
{
    self->ops = db;
}

bool
outbox_busy (outbox_t *self)
{
    return !self->insert || !self->mark || !self->load || !self->media;
}

void
outbox_hold (outbox_t *self, int shard, uint64_t node, uint64_t epoch)
{
    if (shard == self->shard && epoch == self->epoch)
        return;
    self->generation++;
    zlistx_purge (self->actions);
    zhashx_purge (self->by_seq);
    zhashx_purge (self->entries);
    self->outstanding = 0;
    self->reconcile = false;
    self->reconcile_again = false;
    s_give_up_retry (self, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp no longer holds the message's shard");
    self->shard = shard;
    self->node = node;
    self->epoch = epoch;
    if (shard < 0)
        s_answer_waiting (self, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp no longer holds the message's shard");
}

void
outbox_session (outbox_t *self, bool open)
{
    if (open == self->open)
        return;
    self->open = open;
    self->generation++;
    if (!open) {
        //  What went out on the ended session may or may not have arrived.
        zhashx_purge (self->by_seq);
        self->outstanding = 0;
        for (entry_t *entry = zhashx_first (self->entries); entry; entry = zhashx_next (self->entries))
            if (entry->state == E_SENT || entry->state == E_QUERIED)
                s_act (self, entry, E_QUERY);
        return;
    }
    self->reconcile = true;
    self->reconcile_again = false;
    self->load_after = 0;
    outbox_tick (self);
}

void
outbox_accept (outbox_t *self, zframe_t **peer, uint64_t seq, const char *key, const wa_message_t *msg)
{
    if (self->shard < 0) {
        s_reply_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_COREAPP, "this Coreapp holds no shard");
        return;
    }
    if (zlistx_size (self->waiting) + zlistx_size (self->checking) >= WAITING_MAX
    ||  zhashx_size (self->entries) >= MEMORY_MAX) {
        s_reply_error (self, peer, seq, 503, WA_ERR_OVERLOADED,
                       "too many messages wait for the database or the upstream");
        return;
    }
    accept_t *accept = (accept_t *) zmalloc (sizeof (accept_t));
    accept->peer = *peer;
    *peer = NULL;
    accept->seq = seq;
    snprintf (accept->key, sizeof accept->key, "%s", key);
    snprintf (accept->to, sizeof accept->to, "%s", msg->to);
    wa_message_id (key, accept->id);
    accept->payload = wa_message_upstream (msg, accept->id);
    if (!accept->payload) {
        s_reply_error (self, &accept->peer, seq, 500, WA_ERR_INTERNAL, "out of memory");
        s_accept_destroy (&accept);
        return;
    }
    for (int m = 0; m < msg->media_count; m++) {
        snprintf (accept->media_ids[m], sizeof accept->media_ids[m], "%s", msg->media[m].id);
        snprintf (accept->media_kinds[m], sizeof accept->media_kinds[m], "%s", msg->media[m].kind);
        snprintf (accept->media_fields[m], sizeof accept->media_fields[m], "%s", msg->media[m].field);
    }
    accept->media_count = msg->media_count;
    if (accept->media_count) {
        zlistx_add_end (self->checking, accept);
        s_media_submit (self);
        return;
    }
    zlistx_add_end (self->waiting, accept);
    s_insert_submit (self);
}

void
outbox_on_ack (outbox_t *self, uint64_t seq, int code, const char *text)
{
    entry_t *entry = zhashx_lookup (self->by_seq, WA_U64_KEY (seq));
    if (!entry)
        return;
    zhashx_delete (self->by_seq, WA_U64_KEY (seq));
    entry->state = E_QUERIED;   //  no longer in by_seq
    self->outstanding--;
    self->stats.acked++;
    if (code == 1) {
        self->stats.duplicates++;
        wa_error ("outbox: the upstream already had message %s (a duplicate send)", entry->id);
    }
    if (code == 2) {
        self->stats.refused++;
        wa_warn ("outbox: the upstream refused message %s: %s", entry->id, text);
    }
    s_mark (self, entry->id, code == 2 ? "refused" : "sent");
    s_forget (self, entry);
    outbox_tick (self);
}

void
outbox_on_query_reply (outbox_t *self, int received, const char *id)
{
    entry_t *entry = zhashx_lookup (self->entries, id);
    if (!entry || entry->state != E_QUERIED || entry->action)
        return;
    self->outstanding--;
    if (received) {
        self->stats.found++;
        s_mark (self, entry->id, "sent");
        s_forget (self, entry);
    }
    else
        s_act (self, entry, E_UNSENT);
    outbox_tick (self);
}

void
outbox_tick (outbox_t *self)
{
    s_media_submit (self);
    s_insert_submit (self);
    s_mark_submit (self);
    s_load_submit (self);
    s_pump (self);
}

void
outbox_drain (outbox_t *self, int timeout_ms)
{
    s_answer_waiting (self, 503, WA_ERR_NOT_READY, "the Coreapp is stopping");
    int64_t until = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (self->db), NULL);
    zpoller_set_nonstop (poller, true);
    while (zclock_mono () < until && (outbox_busy (self) || zlistx_size (self->marks))) {
        s_mark_submit (self);
        //  In steps, for marks that wait out MARK_RETRY_USEC after a failure.
        int64_t left = until - zclock_mono ();
        if (zpoller_wait (poller, (int) (left <= 0 ? 0 : left < 100 ? left : 100)))
            outbox_on_worker (self);
    }
    zpoller_destroy (&poller);
}

outbox_stats_t
outbox_stats (outbox_t *self)
{
    outbox_stats_t stats = self->stats;
    stats.depth = zhashx_size (self->entries);
    stats.waiting = zlistx_size (self->waiting);
    return stats;
}
