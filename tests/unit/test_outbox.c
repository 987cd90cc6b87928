/*  Unit tests for the Coreapp's outbox (src/wacore/outbox.c) through its two
    seams: outbox_io_t (the API replies, SEND and QUERY upstream) and
    outbox_db_t (the database side). The jobs run on the outbox's real DB
    worker; the fake database below never connects, and answers from its
    table of rows as the SQL would. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wa_log.h"
#include "outbox.h"

#define ROWS_MAX 64
#define SENT_MAX 64

//  --------------------------------------------------------------------------
//  The fake database: a table of outbox rows. Read and written on the
//  worker's thread while a job runs, by the test only while none does.

typedef struct {
    uint64_t seq;
    int shard;
    char id[64];
    char *payload;
    char status[16];            //  pending, sent, refused
    uint64_t batch;             //  the insert that wrote it
} row_t;

static struct {
    //  What an insert meets: 0 commit, 1 fenced off, -1 error, -2 a COMMIT
    //  that fails but commits (the connection lost, a Galera stall), -3 a
    //  COMMIT that fails and does not commit.
    int insert_result;
    bool count_only;            //  the bounds test: store nothing, every row is new
    int inserts;                //  transactions run
    int committed;              //  rows inserted
    int marks;
    int marks_failing;          //  the next this many marks fail
    int loads;
    row_t rows[ROWS_MAX];
    int count;
    uint64_t next_seq;
    const char *media_type;     //  of any media id; NULL: no such media
} s_db;

static row_t *
s_row (const char *id)
{
    for (int i = 0; i < s_db.count; i++)
        if (streq (s_db.rows[i].id, id))
            return &s_db.rows[i];
    return NULL;
}

static row_t *
s_row_add (int shard, const char *id, const char *payload)
{
    assert_true (s_db.count < ROWS_MAX);
    row_t *row = &s_db.rows[s_db.count++];
    row->seq = ++s_db.next_seq;
    row->shard = shard;
    snprintf (row->id, sizeof row->id, "%s", id);
    row->payload = strdup (payload);
    snprintf (row->status, sizeof row->status, "pending");
    return row;
}

static int
s_fake_insert (wa_db_t *db, const outbox_batch_t *batch, bool *inserted, bool *ambiguous, char *error,
               size_t error_size)
{
    (void) db;
    s_db.inserts++;
    if (s_db.insert_result == 1)
        return 1;
    if (s_db.insert_result == -1 || s_db.insert_result == -3) {
        *ambiguous = s_db.insert_result == -3;
        snprintf (error, error_size, "fake: %s", *ambiguous ? "Lost connection to server during query"
                                                            : "Deadlock found when trying to get lock");
        return -1;
    }
    //  As the SQL: a row is this batch's when this insert or an earlier try
    //  of the same batch wrote it.
    for (unsigned int i = 0; i < batch->count; i++) {
        row_t *row = s_db.count_only ? NULL : s_row (batch->ids[i]);
        inserted[i] = !row || (row->batch == batch->batch && streq (row->status, "pending"));
        if (!row)
            s_db.committed++;
        if (!row && !s_db.count_only)
            s_row_add (batch->shard, batch->ids[i], batch->payloads[i])->batch = batch->batch;
    }
    if (s_db.insert_result == -2) {
        *ambiguous = true;
        snprintf (error, error_size, "fake: Lost connection to server during query");
        return -1;
    }
    return 0;
}

static int
s_fake_mark (wa_db_t *db, unsigned int count, const char *const *ids, const char *const *statuses)
{
    (void) db;
    s_db.marks++;
    if (s_db.marks_failing > 0) {
        s_db.marks_failing--;
        return -1;
    }
    for (unsigned int i = 0; i < count; i++) {
        row_t *row = s_row (ids[i]);
        if (row && streq (row->status, "pending"))
            snprintf (row->status, sizeof row->status, "%s", statuses[i]);
    }
    return 0;
}

static int
s_fake_load (wa_db_t *db, int shard, uint64_t after, outbox_row_fn *fn, void *arg)
{
    (void) db;
    s_db.loads++;
    for (int i = 0; i < s_db.count; i++) {
        row_t *row = &s_db.rows[i];
        if (row->shard == shard && row->seq > after && streq (row->status, "pending"))
            fn (arg, row->seq, row->id, row->payload);
    }
    return 0;
}

static int
s_fake_media (wa_db_t *db, const char *media_id, char *type, size_t type_size)
{
    (void) db;
    (void) media_id;
    if (!s_db.media_type)
        return 0;
    snprintf (type, type_size, "%s", s_db.media_type);
    return 1;
}

static const outbox_db_t s_fake_db = { s_fake_insert, s_fake_mark, s_fake_load, s_fake_media };

//  --------------------------------------------------------------------------
//  The fake I/O: what the Coreapp would answer and send upstream.

typedef struct {
    uint64_t seq;
    int status;
    int code;                   //  the first error's, 0 for none
    char json[300];
} reply_t;

static struct {
    int replies;
    int by_status[600];
    reply_t last;
    int sends;
    uint64_t send_seqs[SENT_MAX];
    char send_ids[SENT_MAX][64];
    int queries;
    char query_ids[SENT_MAX][64];
    int sends_at_first_query;   //  SENDs that went before the first QUERY (-1: no QUERY yet)
} s_io;

static void
s_io_reply (void *arg, zframe_t **peer, uint64_t seq, int status, const char *json)
{
    (void) arg;
    assert_non_null (*peer);
    zframe_destroy (peer);
    assert_true (status > 0 && status < 600);
    s_io.replies++;
    s_io.by_status[status]++;
    s_io.last.seq = seq;
    s_io.last.status = status;
    snprintf (s_io.last.json, sizeof s_io.last.json, "%s", json);
    json_t *root = json_loads (json, 0, NULL);
    assert_non_null (root);
    json_t *first = json_array_get (json_object_get (root, "errors"), 0);
    s_io.last.code = (int) json_integer_value (json_object_get (first, "code"));
    json_decref (root);
}

static int
s_io_send (void *arg, uint64_t seq, const char *payload)
{
    (void) arg;
    json_t *root = json_loads (payload, 0, NULL);
    assert_non_null (root);
    if (s_io.sends < SENT_MAX) {
        s_io.send_seqs[s_io.sends] = seq;
        snprintf (s_io.send_ids[s_io.sends], sizeof s_io.send_ids[0], "%s",
                  json_string_value (json_object_get (root, "id")));
    }
    s_io.sends++;
    json_decref (root);
    return 0;
}

static int
s_io_query (void *arg, const char *id)
{
    (void) arg;
    if (s_io.sends_at_first_query < 0)
        s_io.sends_at_first_query = s_io.sends;
    if (s_io.queries < SENT_MAX)
        snprintf (s_io.query_ids[s_io.queries], sizeof s_io.query_ids[0], "%s", id);
    s_io.queries++;
    return 0;
}

//  --------------------------------------------------------------------------
//  Helpers

static wa_config_t s_config;

static int
s_setup (void **state)
{
    memset (&s_db, 0, sizeof s_db);
    memset (&s_io, 0, sizeof s_io);
    s_io.sends_at_first_query = -1;
    wa_config_defaults (&s_config);
    outbox_io_t io = { s_io_reply, s_io_send, s_io_query };
    outbox_t *outbox = outbox_new (&s_config, io, NULL);
    assert_non_null (outbox);
    outbox_set_db (outbox, &s_fake_db);
    *state = outbox;
    return 0;
}

static int
s_teardown (void **state)
{
    outbox_t *outbox = *state;
    outbox_destroy (&outbox);
    for (int i = 0; i < s_db.count; i++)
        free (s_db.rows[i].payload);
    return 0;
}

//  Let every job run and come back, and the jobs that follows them.
static void
s_settle (outbox_t *outbox)
{
    zsock_t *pipe = wa_dbworker_sock (outbox_worker (outbox));
    while (outbox_busy (outbox)) {
        zpoller_t *poller = zpoller_new (pipe, NULL);
        void *ready = zpoller_wait (poller, 10000);
        zpoller_destroy (&poller);
        assert_non_null (ready);
        outbox_on_worker (outbox);
    }
}

static void
s_accept (outbox_t *outbox, uint64_t seq, const char *key, const char *media_id)
{
    wa_message_t msg = { .type = media_id ? "image" : "text", .body = media_id ? NULL : "hello",
                         .media_id = media_id, .media_count = media_id ? 1 : 0 };
    msg.media[0].kind = "image";
    msg.media[0].id = media_id;
    snprintf (msg.media[0].field, sizeof msg.media[0].field, "image");
    snprintf (msg.to, sizeof msg.to, "15551234567");
    zframe_t *peer = zframe_new ("peer", 4);
    outbox_accept (outbox, &peer, seq, key, &msg);
    assert_null (peer);
}

static const char *
s_id (const char *key)
{
    static char id[WA_MESSAGE_ID_LEN + 1];
    wa_message_id (key, id);
    return id;
}

//  The primary of shard 0 at epoch 1, its session open and reconciled.
static void
s_primary (outbox_t *outbox)
{
    outbox_hold (outbox, 0, 1, 1);
    outbox_session (outbox, true);
    s_settle (outbox);
}

//  --------------------------------------------------------------------------
//  The cases

static void
test_answered_after_commit (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 7, "key-1", NULL);
    //  The insert is on the worker: no answer, nothing upstream.
    assert_true (outbox_busy (outbox));
    assert_int_equal (s_io.replies, 0);
    assert_int_equal (s_io.sends, 0);
    s_settle (outbox);
    assert_int_equal (s_db.inserts, 1);
    assert_int_equal (s_db.committed, 1);
    assert_int_equal (s_io.replies, 1);
    assert_int_equal (s_io.last.seq, 7);
    assert_int_equal (s_io.last.status, 201);
    char expected[128];
    snprintf (expected, sizeof expected, "{\"messages\":[{\"id\":\"%s\"}]}", s_id ("key-1"));
    assert_string_equal (s_io.last.json, expected);
    //  Committed, then sent upstream at once.
    assert_int_equal (s_io.sends, 1);
    assert_string_equal (s_io.send_ids[0], s_id ("key-1"));
    outbox_stats_t stats = outbox_stats (outbox);
    assert_int_equal (stats.accepted, 1);
    assert_int_equal (stats.sent, 1);
    assert_int_equal (stats.depth, 1);
}

static void
test_fence_refusal (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.insert_result = 1;
    s_accept (outbox, 8, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 1);
    assert_int_equal (s_io.last.status, 500);
    assert_int_equal (s_io.last.code, 1018);
    assert_non_null (strstr (s_io.last.json, "no longer holds the message's shard"));
    assert_int_equal (s_io.sends, 0);
    assert_int_equal (s_db.count, 0);
    assert_int_equal (outbox_stats (outbox).depth, 0);
}

static void
test_database_error (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.insert_result = -1;
    s_accept (outbox, 9, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 1);
    assert_int_equal (s_io.last.status, 500);
    assert_int_equal (s_io.last.code, 1023);
    assert_non_null (strstr (s_io.last.json, "Deadlock"));
    assert_int_equal (s_io.sends, 0);
}

static void
test_retry_same_key (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 1, "key-1", NULL);
    s_settle (outbox);
    char first[300];
    snprintf (first, sizeof first, "%s", s_io.last.json);
    //  The client did not see the answer and asks again with the same key.
    s_accept (outbox, 2, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 2);
    assert_int_equal (s_io.last.seq, 2);
    assert_int_equal (s_io.last.status, 201);
    assert_string_equal (s_io.last.json, first);
    assert_int_equal (s_db.count, 1);
    assert_int_equal (s_io.sends, 1);
    outbox_stats_t stats = outbox_stats (outbox);
    assert_int_equal (stats.accepted, 1);
    assert_int_equal (stats.retried, 1);
    //  Also once acknowledged: the row is found, nothing goes again.
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");
    s_settle (outbox);
    s_accept (outbox, 3, "key-1", NULL);
    s_settle (outbox);
    assert_string_equal (s_io.last.json, first);
    assert_int_equal (s_io.sends, 1);
    assert_int_equal (outbox_stats (outbox).retried, 2);
}

static void
test_ack_frees_and_marks (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 1, "key-1", NULL);
    s_accept (outbox, 2, "key-2", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.sends, 2);
    assert_int_equal (outbox_stats (outbox).depth, 2);
    //  An unknown seq changes nothing.
    outbox_on_ack (outbox, 999, 0, "");
    assert_int_equal (outbox_stats (outbox).acked, 0);
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");
    outbox_on_ack (outbox, s_io.send_seqs[1], 2, "blocked recipient");
    s_settle (outbox);
    assert_string_equal (s_row (s_io.send_ids[0])->status, "sent");
    assert_string_equal (s_row (s_io.send_ids[1])->status, "refused");
    outbox_stats_t stats = outbox_stats (outbox);
    assert_int_equal (stats.acked, 2);
    assert_int_equal (stats.refused, 1);
    assert_int_equal (stats.duplicates, 0);
    assert_int_equal (stats.depth, 0);
    //  A second ack of the same seq is ignored.
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");
    assert_int_equal (outbox_stats (outbox).acked, 2);
}

//  A mark that failed is written again, but not at every tick: while the
//  database is away each try would fail at once.
static void
test_mark_retried_after_a_pause (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 1, "key-1", NULL);
    s_settle (outbox);
    s_db.marks_failing = 1;
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");
    s_settle (outbox);
    assert_int_equal (s_db.marks, 1);
    assert_string_equal (s_row (s_io.send_ids[0])->status, "pending");
    //  Ticks right after the failure do not try again.
    for (int i = 0; i < 5; i++) {
        outbox_tick (outbox);
        s_settle (outbox);
    }
    assert_int_equal (s_db.marks, 1);
    //  Within a few seconds one does, and it writes the mark.
    int64_t until = zclock_mono () + 5000;
    while (s_db.marks == 1 && zclock_mono () < until) {
        zclock_sleep (20);      //  the tick's period, shorter than the outbox's 100 ms
        outbox_tick (outbox);
        s_settle (outbox);
    }
    assert_int_equal (s_db.marks, 2);
    assert_string_equal (s_row (s_io.send_ids[0])->status, "sent");
}

static void
test_promotion_queries_first (void **state)
{
    outbox_t *outbox = *state;
    //  An earlier holder left three rows pending (and one of another shard).
    s_row_add (0, "m-a", "{\"id\":\"m-a\"}");
    s_row_add (0, "m-b", "{\"id\":\"m-b\"}");
    s_row_add (1, "m-x", "{\"id\":\"m-x\"}");
    s_row_add (0, "m-c", "{\"id\":\"m-c\"}");
    outbox_hold (outbox, 0, 1, 2);
    //  Nothing happens before the session opens.
    s_settle (outbox);
    assert_int_equal (s_db.loads, 0);
    outbox_session (outbox, true);
    s_settle (outbox);
    assert_int_equal (s_db.loads, 1);
    //  Every pending row of the shard is asked about, none sent.
    assert_int_equal (s_io.queries, 3);
    assert_int_equal (s_io.sends, 0);
    assert_string_equal (s_io.query_ids[0], "m-a");
    assert_string_equal (s_io.query_ids[1], "m-b");
    assert_string_equal (s_io.query_ids[2], "m-c");
    //  The upstream has a and c; only b goes.
    outbox_on_query_reply (outbox, 1, "m-a");
    outbox_on_query_reply (outbox, 0, "m-b");
    outbox_on_query_reply (outbox, 1, "m-c");
    s_settle (outbox);
    assert_int_equal (s_io.sends, 1);
    assert_string_equal (s_io.send_ids[0], "m-b");
    assert_string_equal (s_row ("m-a")->status, "sent");
    assert_string_equal (s_row ("m-b")->status, "pending");
    assert_string_equal (s_row ("m-c")->status, "sent");
    assert_string_equal (s_row ("m-x")->status, "pending");
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");
    s_settle (outbox);
    assert_string_equal (s_row ("m-b")->status, "sent");
    outbox_stats_t stats = outbox_stats (outbox);
    assert_int_equal (stats.queried, 3);
    assert_int_equal (stats.found, 2);
    assert_int_equal (stats.depth, 0);
}

static void
test_session_lost_queries_first (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 1, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.sends, 1);
    //  The session ends before the SEND_ACK: it may or may not have arrived.
    outbox_session (outbox, false);
    outbox_on_ack (outbox, s_io.send_seqs[0], 0, "");     //  of the old session: ignored
    assert_int_equal (outbox_stats (outbox).acked, 0);
    outbox_session (outbox, true);
    s_settle (outbox);
    assert_int_equal (s_io.sends_at_first_query, 1);
    assert_int_equal (s_io.queries, 1);
    assert_string_equal (s_io.query_ids[0], s_id ("key-1"));
    assert_int_equal (s_io.sends, 1);
    //  It never arrived: sent again, once.
    outbox_on_query_reply (outbox, 0, s_id ("key-1"));
    s_settle (outbox);
    assert_int_equal (s_io.sends, 2);
    assert_string_equal (s_io.send_ids[1], s_id ("key-1"));
    outbox_on_query_reply (outbox, 0, s_id ("key-1"));     //  a repeated answer: ignored
    assert_int_equal (s_io.sends, 2);
}

static void
test_waiting_max (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.count_only = true;
    //  The first goes to the worker; the next 8192 wait for the insert.
    char key[32];
    for (int i = 0; i <= 8192; i++) {
        snprintf (key, sizeof key, "key-%d", i);
        s_accept (outbox, (uint64_t) i, key, NULL);
    }
    assert_int_equal (s_io.replies, 0);
    assert_int_equal (outbox_stats (outbox).waiting, 8192);
    s_accept (outbox, 9000, "one-too-many", NULL);
    assert_int_equal (s_io.replies, 1);
    assert_int_equal (s_io.last.seq, 9000);
    assert_int_equal (s_io.last.status, 503);
    assert_int_equal (s_io.last.code, 1016);
    s_settle (outbox);
    assert_int_equal (s_io.by_status[201], 8193);
    assert_int_equal (s_db.inserts, 1 + 8192 / 512);
}

static void
test_memory_max (void **state)
{
    outbox_t *outbox = *state;
    //  No session: what is committed stays in memory, unacknowledged.
    outbox_hold (outbox, 0, 1, 1);
    s_db.count_only = true;
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf (key, sizeof key, "key-%d", i);
        s_accept (outbox, (uint64_t) i, key, NULL);
        if (outbox_stats (outbox).waiting >= 4096)
            s_settle (outbox);
    }
    s_settle (outbox);
    assert_int_equal (s_io.by_status[201], 100000);
    assert_int_equal (outbox_stats (outbox).depth, 100000);
    s_accept (outbox, 100001, "one-too-many", NULL);
    assert_int_equal (s_io.last.seq, 100001);
    assert_int_equal (s_io.last.status, 503);
    assert_int_equal (s_io.last.code, 1016);
    assert_false (outbox_busy (outbox));
}

//  Settle, and tick until n answers came (a batch tried again waits a
//  moment between tries), for 10 s at most.
static void
s_until_replies (outbox_t *outbox, int n)
{
    int64_t until = zclock_mono () + 10000;
    s_settle (outbox);
    while (s_io.replies < n && zclock_mono () < until) {
        zclock_sleep (10);
        outbox_tick (outbox);
        s_settle (outbox);
    }
    assert_int_equal (s_io.replies, n);
}

//  A COMMIT that fails but committed (the connection lost in it; on Galera
//  a stall): no answer until a try of the same batch knows; then one 201,
//  one SEND. The client's retry, queued meanwhile, finds the row: 201, not
//  sent again. Before, the batch was answered 500 and the retry's 201 named
//  a row nobody would send.
static void
test_ambiguous_commit_landed (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.insert_result = -2;
    s_accept (outbox, 9, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 0);
    assert_int_equal (s_db.count, 1);
    assert_int_equal (outbox_stats (outbox).unresolved, 1);
    s_accept (outbox, 10, "key-1", NULL);
    s_accept (outbox, 11, "key-2", NULL);
    s_db.insert_result = 0;
    s_until_replies (outbox, 3);
    assert_int_equal (s_io.by_status[201], 3);
    assert_int_equal (s_db.count, 2);
    assert_int_equal (s_io.sends, 2);
    assert_string_equal (s_io.send_ids[0], s_id ("key-1"));
    assert_string_equal (s_io.send_ids[1], s_id ("key-2"));
    outbox_stats_t stats = outbox_stats (outbox);
    assert_int_equal (stats.accepted, 2);
    assert_int_equal (stats.retried, 1);
    assert_int_equal (stats.unresolved, 1);
}

//  A COMMIT that fails and did not commit: tried again until it does.
static void
test_ambiguous_commit_lost (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.insert_result = -3;
    s_accept (outbox, 9, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 0);
    assert_int_equal (s_db.count, 0);
    //  Every try fails alike while the database does: still no answer.
    int64_t until = zclock_mono () + 200;
    while (zclock_mono () < until) {
        zclock_sleep (10);
        outbox_tick (outbox);
        s_settle (outbox);
    }
    assert_int_equal (s_io.replies, 0);
    assert_true (s_db.inserts >= 2);
    assert_true (outbox_stats (outbox).unresolved >= 2);
    s_db.insert_result = 0;
    s_until_replies (outbox, 1);
    assert_int_equal (s_io.last.status, 201);
    assert_int_equal (s_db.count, 1);
    assert_int_equal (s_io.sends, 1);
}

//  The shard lost while a batch is unresolved: its requests are answered
//  1018 (retried at the next holder, which finds the row if it committed);
//  nothing more is tried or sent.
static void
test_ambiguous_commit_demoted (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_db.insert_result = -2;
    s_accept (outbox, 9, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.replies, 0);
    int inserts = s_db.inserts;
    outbox_hold (outbox, -1, 1, 0);
    assert_int_equal (s_io.replies, 1);
    assert_int_equal (s_io.last.status, 500);
    assert_int_equal (s_io.last.code, 1018);
    s_db.insert_result = 0;
    zclock_sleep (100);
    outbox_tick (outbox);
    s_settle (outbox);
    assert_int_equal (s_db.inserts, inserts);
    assert_int_equal (s_io.sends, 0);
    assert_int_equal (s_io.replies, 1);
}

static void
test_demotion_stops (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    s_accept (outbox, 1, "key-1", NULL);
    s_settle (outbox);
    assert_int_equal (s_io.sends, 1);
    uint64_t sent_seq = s_io.send_seqs[0];
    //  One insert on the worker, one request waiting behind it.
    s_accept (outbox, 2, "key-2", NULL);
    s_accept (outbox, 3, "key-3", NULL);
    outbox_hold (outbox, -1, 1, 0);
    //  The waiting one is refused at once.
    assert_int_equal (s_io.replies, 2);
    assert_int_equal (s_io.last.seq, 3);
    assert_int_equal (s_io.last.status, 500);
    assert_int_equal (s_io.last.code, 1018);
    //  The running insert committed before the fence moved: 201, but not sent.
    s_settle (outbox);
    assert_int_equal (s_io.replies, 3);
    assert_int_equal (s_io.last.seq, 2);
    assert_int_equal (s_io.last.status, 201);
    assert_int_equal (s_io.sends, 1);
    assert_int_equal (outbox_stats (outbox).depth, 0);
    //  An ack of what went before: nothing to mark (the next holder asks).
    outbox_on_ack (outbox, sent_seq, 0, "");
    assert_int_equal (outbox_stats (outbox).acked, 0);
    //  New requests: refused; nothing goes to the worker or upstream.
    s_accept (outbox, 4, "key-4", NULL);
    assert_int_equal (s_io.last.seq, 4);
    assert_int_equal (s_io.last.code, 1018);
    outbox_tick (outbox);
    outbox_session (outbox, false);
    outbox_session (outbox, true);
    outbox_tick (outbox);
    assert_false (outbox_busy (outbox));
    assert_int_equal (s_io.sends, 1);
    assert_int_equal (s_io.queries, 0);
    assert_int_equal (s_db.inserts, 2);
    assert_int_equal (s_db.loads, 1);
}

static void
test_media_lookup (void **state)
{
    outbox_t *outbox = *state;
    s_primary (outbox);
    const char *media = "0f8fad5b-d9cb-469f-a165-70867728950e";
    s_accept (outbox, 1, "key-1", media);
    s_settle (outbox);
    assert_int_equal (s_io.last.status, 404);
    assert_int_equal (s_io.last.code, 1006);
    s_db.media_type = "audio/mpeg";
    s_accept (outbox, 2, "key-2", media);
    s_settle (outbox);
    assert_int_equal (s_io.last.status, 400);
    assert_int_equal (s_io.last.code, 1009);
    assert_int_equal (s_db.inserts, 0);
    s_db.media_type = "image/png";
    s_accept (outbox, 3, "key-3", media);
    s_settle (outbox);
    assert_int_equal (s_io.last.status, 201);
    assert_int_equal (s_io.sends, 1);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_answered_after_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fence_refusal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_database_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_same_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ack_frees_and_marks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_mark_retried_after_a_pause, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_promotion_queries_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_session_lost_queries_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_waiting_max, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_memory_max, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ambiguous_commit_landed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ambiguous_commit_lost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ambiguous_commit_demoted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_demotion_stops, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_media_lookup, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
