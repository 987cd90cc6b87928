/*  Unit tests for the Webapp's routing to the primary Coreapps
    (src/waweb/coreapps.c), without a cluster: the map is read through the
    coreapps_read_fn seam from a table the test sets, its jobs go to a fake
    DB worker that hands them back untouched (the test runs them), the
    Coreapps are ROUTERs on inproc endpoints, and time is a fake clock. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "wa_codec.h"
#include "wa_log.h"
#include "wa_message.h"
#include "wa_peers.h"
#include "coreapps.h"
#include "test_loop.h"

#define COREAPPS 4

//  --------------------------------------------------------------------------
//  The fake clock and the map the database holds

static wa_usec_t s_now;

static wa_usec_t
s_fake_now (void)
{
    return s_now;
}

static struct {
    int shards;
    coreapps_primary_t map[COREAPPS_SHARDS_MAX];
    coreapps_primary_t master;
    int reads;
    bool down;                  //  a read fails, as with the database gone
} s_db;

static int
s_fake_read (wa_db_t *db, int *shards, coreapps_primary_t *map, coreapps_primary_t *master)
{
    assert_null (db);
    s_db.reads++;
    if (s_db.down)
        return -1;
    *shards = s_db.shards;
    memcpy (map, s_db.map, sizeof s_db.map);
    *master = s_db.master;
    return 0;
}

//  A worker that runs nothing: each job comes straight back, for the test
//  to run on its own thread.
static void
s_fake_worker (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    char *command = NULL;
    void *job = NULL;
    while (zsock_recv (pipe, "sp", &command, &job) == 0 && !streq (command, "$TERM")) {
        zsock_send (pipe, "p", job);
        zstr_free (&command);
    }
    zstr_free (&command);
}

//  --------------------------------------------------------------------------
//  The fixture

typedef struct {
    wa_loop_t *loop;
    wa_dbworker_t *worker;
    wa_config_t settings;
    coreapps_t *coreapps;
    wa_trust_t *trust;          //  bus_security = off: inproc has no keys
    zsock_t *router[COREAPPS];  //  Coreapp i is node 10 + i
    char endpoint[COREAPPS][64];
    wa_msg_t msg;
    //  what done was called with
    int answers;
    web_req_t *answered;
    int status;
    json_t *response;
} fixture_t;

static fixture_t *s_fixture;

static void
s_done (web_t *web, web_req_t *req, int status, json_t *response)
{
    assert_null (web);
    fixture_t *f = s_fixture;
    f->answers++;
    f->answered = req;
    f->status = status;
    json_decref (f->response);
    f->response = response;
}

//  Every job on the fake worker: the map read through the seam, the
//  Masters' list as if the database were down.
static void
s_run_jobs (fixture_t *f)
{
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (f->worker), NULL);
    while (zpoller_wait (poller, 50)) {
        wa_job_t *job = wa_dbworker_recv (f->worker);
        assert_non_null (job);
        if (job->run == wa_masters_job_run)
            job->rc = -1;
        else
            job->run (job, NULL);
        assert_true (coreapps_job_done (f->coreapps, job));
    }
    zpoller_destroy (&poller);
}

//  Let the reactor run (its sweep every 20 ms, the Coreapps' replies).
static void
s_run_loop (fixture_t *f, int ms)
{
    test_run_loop (f->loop, ms);
}

static void
s_advance (fixture_t *f, double seconds)
{
    s_now += wa_clock_from_sec (seconds);
    s_run_loop (f, 60);
}

//  Shard s's primary is Coreapp coreapp (-1: none).
static void
s_primary (fixture_t *f, int shard, int coreapp)
{
    coreapps_primary_t *entry = &s_db.map[shard];
    memset (entry, 0, sizeof *entry);
    if (coreapp < 0)
        return;
    entry->node = 10 + (uint64_t) coreapp;
    entry->epoch = 1;
    snprintf (entry->endpoint, sizeof entry->endpoint, "%s", f->endpoint[coreapp]);
}

static int
s_setup (void **state)
{
    static int instance;
    instance++;
    fixture_t *f = (fixture_t *) zmalloc (sizeof (fixture_t));
    s_fixture = f;
    memset (&s_db, 0, sizeof s_db);
    s_now = 1000 * WA_USEC_PER_SEC;
    wa_clock_set_fake (s_fake_now);
    for (int i = 0; i < COREAPPS; i++) {
        snprintf (f->endpoint[i], sizeof f->endpoint[i], "inproc://coreapps-test-%d-%d", instance, i);
        f->router[i] = zsock_new_router (f->endpoint[i]);
        assert_non_null (f->router[i]);
    }
    //  Four shards, shard s on Coreapp s.
    s_db.shards = 4;
    for (int s = 0; s < 4; s++)
        s_primary (f, s, s);
    wa_config_defaults (&f->settings);
    f->settings.request_deadline = 10;
    f->settings.request_attempt_timeout = 2;
    f->settings.shard_renew_interval = 3600;    //  the map is read when a test says
    f->loop = wa_loop_new ();
    f->worker = wa_dbworker_new_with (s_fake_worker, NULL);
    snprintf (f->settings.bus_security, sizeof f->settings.bus_security, "off");
    char err[256];
    f->trust = wa_trust_new (&f->settings, WA_ROLE_WEBAPP, err, sizeof err);
    assert_non_null (f->trust);
    f->coreapps = coreapps_new (NULL, f->loop, f->trust, f->worker, &f->settings, s_fake_read, s_done);
    s_run_jobs (f);
    assert_int_equal (coreapps_shards (f->coreapps), 4);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    coreapps_abandon (f->coreapps);
    coreapps_destroy (&f->coreapps);
    wa_trust_destroy (&f->trust);
    wa_loop_destroy (&f->loop);
    wa_dbworker_destroy (&f->worker, NULL, NULL);
    for (int i = 0; i < COREAPPS; i++)
        zsock_destroy (&f->router[i]);
    json_decref (f->response);
    free (f);
    wa_clock_set_fake (NULL);
    return 0;
}

//  A request to forward, as messages.c makes it (its fwd_text).
static web_req_t *
s_request (const char *key, const char *to)
{
    web_req_t *req = (web_req_t *) zmalloc (sizeof (web_req_t));
    char text[200];
    snprintf (text, sizeof text, "{\"op\":\"send\",\"key\":\"%s\",\"message\":{\"to\":\"%s\"}}", key, to);
    req->fwd_text = strdup (text);
    return req;
}

//  Forward a new request to shard; text gets what the Coreapps should see.
static web_req_t *
s_forward (fixture_t *f, const char *key, int shard, char *text, size_t size)
{
    web_req_t *req = s_request (key, shard == COREAPPS_MASTER ? "" : "16315551234");
    snprintf (text, size, "%s", req->fwd_text);
    coreapps_forward (f->coreapps, req, shard);
    return req;
}

//  The one API_REQ Coreapp coreapp got (its sender kept for the answer);
//  none at all when text is NULL.
static uint64_t
s_take (fixture_t *f, int coreapp, const char *text, zframe_t **sender)
{
    zpoller_t *poller = zpoller_new (f->router[coreapp], NULL);
    void *ready = zpoller_wait (poller, text ? 1000 : 30);
    zpoller_destroy (&poller);
    if (!text) {
        assert_null (ready);
        return 0;
    }
    assert_non_null (ready);
    assert_int_equal (wa_codec_recv (f->router[coreapp], sender, &f->msg, NULL), 0);
    assert_int_equal (f->msg.type, WA_MSG_API_REQ);
    assert_string_equal (f->msg.text, text);
    return f->msg.seq;
}

//  A new request forwarded to shard, taken at Coreapp coreapp (text: 200 bytes).
static web_req_t *
s_forward_to (fixture_t *f, const char *key, int shard, int coreapp, char *text, zframe_t **sender,
              uint64_t *seq)
{
    web_req_t *req = s_forward (f, key, shard, text, 200);
    *seq = s_take (f, coreapp, text, sender);
    return req;
}

static void
s_reply (fixture_t *f, int coreapp, zframe_t **sender, uint64_t seq, int status, const char *json)
{
    wa_msg_init (&f->msg, WA_MSG_API_REP);
    f->msg.seq = seq;
    f->msg.code = (uint32_t) status;
    wa_msg_set_text (&f->msg, json);
    assert_int_equal (wa_codec_send (f->router[coreapp], *sender, &f->msg), 0);
    zframe_destroy (sender);
    s_run_loop (f, 30);
}

//  Coreapp coreapp accepts the message: the request is answered (the
//  answers-th answer).
static void
s_accepted (fixture_t *f, int coreapp, zframe_t **sender, uint64_t seq, int answers)
{
    s_reply (f, coreapp, sender, seq, 201, "{\"messages\":[{\"id\":\"gBEx\"}]}");
    assert_int_equal (f->answers, answers);
    assert_int_equal (f->status, 201);
    json_t *message = json_array_get (json_object_get (f->response, "messages"), 0);
    assert_string_equal (json_string_value (json_object_get (message, "id")), "gBEx");
}

static void
s_reply_error (fixture_t *f, int coreapp, zframe_t **sender, uint64_t seq, int code, const char *details)
{
    char json[200];
    snprintf (json, sizeof json, "{\"errors\":[{\"code\":%d,\"details\":\"%s\"}]}", code, details);
    s_reply (f, coreapp, sender, seq, 500, json);
}

//  A request parked at once goes out again on the next sweep, perhaps to
//  the old primary before the new map came: it says the same again.
static void
s_refuse (fixture_t *f, int coreapp, const char *text, int code, const char *details)
{
    zpoller_t *poller = zpoller_new (f->router[coreapp], NULL);
    while (zpoller_wait (poller, 30)) {
        zframe_t *sender = NULL;
        uint64_t seq = s_take (f, coreapp, text, &sender);
        s_reply_error (f, coreapp, &sender, seq, code, details);
    }
    zpoller_destroy (&poller);
}

//  --------------------------------------------------------------------------
//  The cases

static void
test_routing_by_shard (void **state)
{
    fixture_t *f = *state;
    const char *recipients[] = { "16315551234", "447700900123", "5511987654321", "33612345678", "12025550100",
                                 "4915112345678", "819012345678", "61412345678" };
    for (size_t i = 0; i < sizeof recipients / sizeof recipients[0]; i++) {
        const char *to = recipients[i];
        int shard = wa_message_shard (to, coreapps_shards (f->coreapps));
        assert_int_equal (shard, (int) (crc32 (0L, (const Bytef *) to, (uInt) strlen (to)) % 4));
        char key[32];
        snprintf (key, sizeof key, "key-%zu", i);
        web_req_t *req = s_request (key, to);
        char text[200];
        snprintf (text, sizeof text, "%s", req->fwd_text);
        coreapps_forward (f->coreapps, req, shard);
        zframe_t *sender = NULL;
        uint64_t seq = s_take (f, shard, text, &sender);
        for (int other = 0; other < COREAPPS; other++)
            if (other != shard)
                s_take (f, other, NULL, NULL);
        assert_int_equal (req->fwd_node, 10 + (uint64_t) shard);
        s_accepted (f, shard, &sender, seq, (int) i + 1);
        assert_ptr_equal (f->answered, req);
        assert_null (req->fwd_text);
        free (req);
    }
    coreapps_stats_t stats = coreapps_stats (f->coreapps);
    assert_int_equal (stats.forwarded, 8);
    assert_int_equal (stats.retries, 0);
    assert_int_equal (stats.answered, 8);
    assert_int_equal (stats.in_flight, 0);
}

//  1018 from a Coreapp that is no longer primary: the map is read again
//  and the request goes to the new primary at once, with its key.
static void
test_refresh_on_not_primary (void **state)
{
    fixture_t *f = *state;
    char text[200];
    zframe_t *sender = NULL;
    uint64_t seq;
    web_req_t *req = s_forward_to (f, "key-1", 1, 1, text, &sender, &seq);
    int reads = s_db.reads;
    s_primary (f, 1, 3);
    s_reply_error (f, 1, &sender, seq, 1018, "this Coreapp no longer holds the message's shard");
    assert_int_equal (f->answers, 0);
    assert_int_equal (coreapps_stats (f->coreapps).map_refreshes, 1);
    coreapps_stats_t stats = coreapps_stats (f->coreapps);
    assert_int_equal (stats.parked + stats.in_flight, 1);     //  perhaps sent again already
    assert_int_equal (req->fwd_last_code, 1018);
    s_run_jobs (f);
    assert_true (s_db.reads > reads);
    s_refuse (f, 1, text, 1018, "this Coreapp no longer holds the message's shard");
    //  No backoff: the map changed.
    s_run_loop (f, 60);
    seq = s_take (f, 3, text, &sender);
    assert_true (coreapps_stats (f->coreapps).retries >= 1);
    s_accepted (f, 3, &sender, seq, 1);
    free (req);
}

//  1017 from a Master that is no longer primary: the same.
static void
test_refresh_on_not_primary_master (void **state)
{
    fixture_t *f = *state;
    coreapps_primary_t *master = &s_db.master;
    master->node = 10;
    snprintf (master->endpoint, sizeof master->endpoint, "%s", f->endpoint[0]);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    char text[200];
    zframe_t *sender = NULL;
    uint64_t seq;
    web_req_t *req = s_forward_to (f, "key-1", COREAPPS_MASTER, 0, text, &sender, &seq);
    int refreshes = (int) coreapps_stats (f->coreapps).map_refreshes;
    master->node = 12;
    snprintf (master->endpoint, sizeof master->endpoint, "%s", f->endpoint[2]);
    s_reply_error (f, 0, &sender, seq, 1017, "not the primary Master");
    assert_int_equal (coreapps_stats (f->coreapps).map_refreshes, refreshes + 1);
    s_run_jobs (f);
    s_refuse (f, 0, text, 1017, "not the primary Master");
    s_run_loop (f, 60);
    seq = s_take (f, 2, text, &sender);
    s_reply (f, 2, &sender, seq, 200, "{\"settings\":{}}");
    assert_int_equal (f->answers, 1);
    assert_int_equal (f->status, 200);
    free (req);
}

//  No answer within request_attempt_timeout: the map is read again and the
//  request tried again at once; the late answer to the first is dropped.
static void
test_refresh_on_attempt_timeout (void **state)
{
    fixture_t *f = *state;
    char text[200];
    zframe_t *first = NULL;
    uint64_t first_seq;
    web_req_t *req = s_forward_to (f, "key-1", 2, 2, text, &first, &first_seq);
    s_advance (f, 1.9);
    assert_int_equal (coreapps_stats (f->coreapps).map_refreshes, 0);
    s_take (f, 2, NULL, NULL);
    s_advance (f, 0.2);
    assert_int_equal (coreapps_stats (f->coreapps).map_refreshes, 1);
    assert_int_equal (req->fwd_last_code, 1011);
    assert_non_null (strstr (req->fwd_last_why, "coreapp 12 did not answer within 2 s"));
    s_run_jobs (f);
    s_run_loop (f, 60);
    zframe_t *second = NULL;
    uint64_t second_seq = s_take (f, 2, text, &second);
    assert_true (second_seq != first_seq);
    s_reply (f, 2, &first, first_seq, 201, "{\"messages\":[{\"id\":\"late\"}]}");
    assert_int_equal (f->answers, 0);
    s_accepted (f, 2, &second, second_seq, 1);
    free (req);
}

//  An error the Coreapp says may pass (1011): parked, tried again after a
//  backoff with the same request (its idempotency key), no map read.
static void
test_parked_retry_same_key (void **state)
{
    fixture_t *f = *state;
    char text[200];
    zframe_t *sender = NULL;
    uint64_t seq;
    web_req_t *req = s_forward_to (f, "key-7", 0, 0, text, &sender, &seq);
    s_reply_error (f, 0, &sender, seq, 1011, "not ready");
    assert_int_equal (coreapps_stats (f->coreapps).parked, 1);
    assert_int_equal (req->fwd_last_code, 1011);
    assert_string_equal (req->fwd_last_why, "coreapp 10: not ready");
    //  The backoff after one attempt: 40 ms.
    s_advance (f, 0.03);
    s_take (f, 0, NULL, NULL);
    s_advance (f, 0.02);
    seq = s_take (f, 0, text, &sender);
    assert_int_equal (coreapps_stats (f->coreapps).map_refreshes, 0);
    s_accepted (f, 0, &sender, seq, 1);
    assert_int_equal (req->fwd_attempts, 2);
    free (req);
}

//  No primary Coreapp for the shard: parked until the map names one.
static void
test_parked_until_primary (void **state)
{
    fixture_t *f = *state;
    s_primary (f, 3, -1);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    char text[200];
    web_req_t *req = s_forward (f, "key-1", 3, text, sizeof text);
    assert_int_equal (coreapps_stats (f->coreapps).parked, 1);
    assert_int_equal (req->fwd_last_code, 1018);
    assert_string_equal (req->fwd_last_why, "no primary Coreapp for the shard");
    s_advance (f, 1);
    for (int i = 0; i < COREAPPS; i++)
        s_take (f, i, NULL, NULL);
    s_primary (f, 3, 1);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    s_run_loop (f, 60);
    zframe_t *sender = NULL;
    uint64_t seq = s_take (f, 1, text, &sender);
    s_accepted (f, 1, &sender, seq, 1);
    free (req);
}

//  After request_deadline: done with status 0 and what the last attempt
//  met, from which the Webapp's error is made (web.c: no primary Master
//  1017, a database error 1023, anything else 1011).
static void
s_expire (fixture_t *f, web_req_t *req)
{
    s_advance (f, 10);
    assert_int_equal (f->answers, 1);
    assert_ptr_equal (f->answered, req);
    assert_int_equal (f->status, 0);
    assert_null (f->response);
    assert_null (req->fwd_text);
    assert_int_equal (coreapps_stats (f->coreapps).expired, 1);
    assert_int_equal (coreapps_stats (f->coreapps).parked, 0);
    assert_int_equal (coreapps_stats (f->coreapps).in_flight, 0);
}

static void
test_deadline_no_master (void **state)
{
    fixture_t *f = *state;
    web_req_t *req = s_request ("key-1", "");
    coreapps_forward (f->coreapps, req, COREAPPS_MASTER);
    s_expire (f, req);
    assert_int_equal (req->fwd_last_code, 1017);
    assert_string_equal (req->fwd_last_why, "no primary Master");
    free (req);
}

static void
test_deadline_database (void **state)
{
    fixture_t *f = *state;
    char text[200];
    zframe_t *sender = NULL;
    uint64_t seq;
    web_req_t *req = s_forward_to (f, "key-1", 1, 1, text, &sender, &seq);
    s_reply_error (f, 1, &sender, seq, 1023, "Lock wait timeout exceeded");
    s_expire (f, req);
    assert_int_equal (req->fwd_last_code, 1023);
    assert_string_equal (req->fwd_last_why, "coreapp 11: Lock wait timeout exceeded");
    free (req);
}

static void
test_deadline_silent (void **state)
{
    fixture_t *f = *state;
    web_req_t *req = s_request ("key-1", "16315551234");
    coreapps_forward (f->coreapps, req, 1);
    //  Attempts of 2 s, each unanswered, until the deadline.
    for (int i = 0; i < 4; i++) {
        s_advance (f, 2.1);
        s_run_jobs (f);
    }
    s_expire (f, req);
    assert_int_equal (req->fwd_last_code, 1011);
    assert_string_equal (req->fwd_last_why, "coreapp 11 did not answer within 2 s");
    assert_true (req->fwd_attempts >= 4);
    free (req);
}

static void
test_deadline_no_primary (void **state)
{
    fixture_t *f = *state;
    s_primary (f, 2, -1);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    web_req_t *req = s_request ("key-1", "16315551234");
    coreapps_forward (f->coreapps, req, 2);
    s_expire (f, req);
    assert_int_equal (req->fwd_last_code, 1018);
    assert_string_equal (req->fwd_last_why, "no primary Coreapp for the shard");
    free (req);
}

//  GET /v1/health/ready's view: every shard has a primary in the last map
//  read, which succeeded and is recent; nothing read for it.
static void
test_unready (void **state)
{
    fixture_t *f = *state;
    char why[200];
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    int reads = s_db.reads;
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    assert_int_equal (s_db.reads, reads);
    //  A shard without a primary (its lease expired), then back.
    s_primary (f, 2, -1);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_non_null (coreapps_unready (f->coreapps, why, sizeof why));
    assert_string_equal (why, "shard 2 has no primary coreapp");
    s_primary (f, 2, 1);
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    //  The database gone: the map is kept for forwarding, but not ready.
    s_db.down = true;
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_int_equal (coreapps_shards (f->coreapps), 4);
    assert_non_null (coreapps_unready (f->coreapps, why, sizeof why));
    assert_non_null (strstr (why, "the last read of the shard map failed"));
    s_db.down = false;
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    //  No read comes back (a hung worker): ready for 3 renew intervals plus
    //  the connect and statement timeouts, then not.
    f->settings.shard_renew_interval = 1;
    f->settings.db_connect_timeout = 3;
    f->settings.db_statement_timeout = 2;
    s_now += wa_clock_from_sec (7.9);
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    s_now += wa_clock_from_sec (0.2);
    assert_non_null (coreapps_unready (f->coreapps, why, sizeof why));
    assert_string_equal (why, "no read of the shard map came back within 8.0 s: the database does not answer");
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_null (coreapps_unready (f->coreapps, why, sizeof why));
    //  A cluster whose shard count is not known yet.
    s_db.shards = 0;
    coreapps_refresh (f->coreapps);
    s_run_jobs (f);
    assert_non_null (coreapps_unready (f->coreapps, why, sizeof why));
    assert_string_equal (why, "the cluster's shard count is not known yet");
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_routing_by_shard, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refresh_on_not_primary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refresh_on_not_primary_master, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refresh_on_attempt_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_parked_retry_same_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_parked_until_primary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_no_master, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_database, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_silent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline_no_primary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unready, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
