/*  metrics: counting requests and rendering the Prometheus text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"

static bool
s_has_line (const char *text, const char *line)
{
    size_t len = strlen (line);
    for (const char *p = text; (p = strstr (p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == 0))
            return true;
    return false;
}

static void
test_counts_and_histogram (void **state)
{
    (void) state;
    metrics_t *m = metrics_new ();
    metrics_request (m, "messages", 201, 300);          //  0.3 ms
    metrics_request (m, "messages", 201, 4000);         //  4 ms
    metrics_request (m, "messages", 503, 45 * 1000000); //  45 s
    metrics_request (m, "login", 401, 1);
    size_t len = 0;
    char *text = metrics_render (m, NULL, NULL, &len);
    assert_non_null (text);
    assert_int_equal (len, strlen (text));
    assert_true (s_has_line (text, "wacluster_http_requests_total{route=\"messages\",status=\"201\"} 2"));
    assert_true (s_has_line (text, "wacluster_http_requests_total{route=\"messages\",status=\"503\"} 1"));
    assert_true (s_has_line (text, "wacluster_http_requests_total{route=\"login\",status=\"401\"} 1"));
    //  Buckets are cumulative; +Inf holds every request
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_bucket{route=\"messages\",le=\"0.0005\"} 1"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_bucket{route=\"messages\",le=\"0.005\"} 2"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_bucket{route=\"messages\",le=\"30\"} 2"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_bucket{route=\"messages\",le=\"60\"} 3"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_bucket{route=\"messages\",le=\"+Inf\"} 3"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_count{route=\"messages\"} 3"));
    assert_true (s_has_line (text, "wacluster_http_request_duration_seconds_sum{route=\"messages\"} 45.004300"));
    assert_true (s_has_line (text, "# TYPE wacluster_http_request_duration_seconds histogram"));
    //  No cluster part without a cluster
    assert_null (strstr (text, "wacluster_master_lease_epoch"));
    free (text);
    metrics_destroy (&m);
    assert_null (m);
}

static void
test_cluster_part (void **state)
{
    (void) state;
    metrics_t *m = metrics_new ();
    metrics_cluster_t *c = calloc (1, sizeof *c);
    c->read = true;
    c->master_epoch = 7;
    c->master_holder = 3;
    c->shards = 2;
    c->shard[0].shard = 0; c->shard[0].epoch = 5; c->shard[0].node = 4; c->shard[0].promotions = 3; c->shard[0].pending = 12;
    c->shard[1].shard = 1; c->shard[1].epoch = 1; c->shard[1].node = 0; c->shard[1].promotions = 0;
    c->nodes = 1;
    c->node[0].id = 4;
    strcpy (c->node[0].kind, "coreapp");
    c->node[0].liveness_age = 0.25;
    c->node[0].reply_age = -1;
    strcpy (c->node[0].health, "unknown");
    metrics_forward_t f = { 10, 2, 8, 1, 5, 0, 1 };
    char *text = metrics_render (m, c, &f, NULL);
    assert_true (s_has_line (text, "wacluster_master_lease_epoch 7"));
    assert_true (s_has_line (text, "wacluster_master_lease_holder 3"));
    assert_true (s_has_line (text, "wacluster_shard_primary{shard=\"1\"} 0"));
    assert_true (s_has_line (text, "wacluster_promotions_total{shard=\"0\"} 3"));
    assert_true (s_has_line (text, "wacluster_failovers_total{shard=\"0\"} 2"));
    assert_true (s_has_line (text, "wacluster_failovers_total{shard=\"1\"} 0"));
    assert_true (s_has_line (text, "wacluster_outbox_pending{shard=\"0\"} 12"));
    assert_true (s_has_line (text, "wacluster_node_liveness_age_seconds{node=\"4\",kind=\"coreapp\"} 0.250"));
    assert_null (strstr (text, "wacluster_heartbeat_reply_age_seconds{"));     //  no reply: no sample
    assert_true (s_has_line (text, "wacluster_forward_retries_total 2"));
    assert_true (s_has_line (text, "wacluster_forward_parked 1"));
    assert_true (s_has_line (text, "# TYPE wacluster_paused gauge"));
    assert_true (s_has_line (text, "wacluster_paused 0"));
    free (text);
    //  Maintenance mode (wactl pause)
    c->paused = true;
    text = metrics_render (m, c, &f, NULL);
    assert_true (s_has_line (text, "wacluster_paused 1"));
    free (text);
    //  A failed read shows only the Webapp's own part
    c->read = false;
    text = metrics_render (m, c, &f, NULL);
    assert_null (strstr (text, "wacluster_master_lease_epoch"));
    assert_null (strstr (text, "wacluster_paused"));
    assert_non_null (strstr (text, "wacluster_forward_attempts_total 10"));
    free (text);
    free (c);
    metrics_destroy (&m);
}

static void
test_many_routes (void **state)
{
    (void) state;
    metrics_t *m = metrics_new ();
    char name[32];
    //  More names than the table holds: no crash, every request counted
    for (int i = 0; i < 100; i++) {
        snprintf (name, sizeof name, "r%d", i);
        metrics_request (m, name, 200 + i % 40, 10);
    }
    char *text = metrics_render (m, NULL, NULL, NULL);
    assert_non_null (text);
    uint64_t total = 0;
    for (const char *p = text; (p = strstr (p, "wacluster_http_request_duration_seconds_count{")); p++)
        total += strtoull (strchr (p, '}') + 2, NULL, 10);
    assert_int_equal (total, 100);
    free (text);
    metrics_destroy (&m);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_counts_and_histogram),
        cmocka_unit_test (test_cluster_part),
        cmocka_unit_test (test_many_routes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
