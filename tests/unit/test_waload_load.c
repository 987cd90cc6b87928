/*  The pure parts of waload: the command line and its checks, reading the
    Webapp's answers, the JSON line recorded per request, the statistics
    (percentiles, the longest gap, ids given twice) and the summary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>
#include <jansson.h>
#include "load.h"

//  Parse a NULL-terminated list of arguments (after the program name).
static waload_parse_t
s_parse (waload_opts_t *opts, char *err, size_t size, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "waload";
    va_list args;
    va_start (args, size);
    char *arg;
    while ((arg = va_arg (args, char *)) && argc < 63)
        argv[argc++] = arg;
    va_end (args);
    argv[argc] = NULL;
    return waload_opts_parse (opts, argc, argv, err, size);
}

static void
s_clear_env (void)
{
    unsetenv ("WALOAD_TOKEN");
    unsetenv ("WALOAD_PASSWORD");
}

static void
test_opts_defaults (void **state)
{
    (void) state;
    s_clear_env ();
    waload_opts_t o;
    char err[512];
    assert_int_equal (s_parse (&o, err, sizeof err, "--url", "http://127.0.0.1:9090//", "--token", "abc", NULL),
                      WALOAD_GO);
    assert_string_equal (o.url, "http://127.0.0.1:9090");
    assert_string_equal (o.token, "abc");
    assert_null (o.user);
    assert_int_equal (o.concurrency, 8);
    assert_true (o.duration == 10.0);           //  neither --count nor --duration
    assert_int_equal (o.count, 0);
    assert_true (o.rate == 0);
    assert_true (o.timeout == 60.0);
    assert_null (o.record);
    assert_null (o.stop_file);
    assert_string_equal (o.run_id, "");
    assert_false (o.json);
    assert_false (o.insecure);
}

static void
test_opts_all (void **state)
{
    (void) state;
    s_clear_env ();
    waload_opts_t o;
    char err[512];
    assert_int_equal (s_parse (&o, err, sizeof err, "-u", "HTTPS://h:1/", "--user", "admin", "--password", "Pw-1",
                               "-c", "16", "-n", "2000", "--rate", "250.5", "-t", "0.5", "-o", "/tmp/r.jsonl",
                               "--to-base", "1631555", "--stop-file", "/tmp/stop", "--json", "-k",
                               "--run-id", "run-1.a:b_c", "--progress", "2", NULL), WALOAD_GO);
    assert_string_equal (o.url, "HTTPS://h:1");
    assert_null (o.token);
    assert_string_equal (o.user, "admin");
    assert_string_equal (o.password, "Pw-1");
    assert_int_equal (o.concurrency, 16);
    assert_int_equal (o.count, 2000);
    assert_true (o.duration == 0);              //  --count alone: no duration limit
    assert_true (o.rate == 250.5);
    assert_true (o.timeout == 0.5);
    assert_string_equal (o.record, "/tmp/r.jsonl");
    assert_true (o.to_base == 1631555);
    assert_string_equal (o.stop_file, "/tmp/stop");
    assert_true (o.json);
    assert_true (o.insecure);
    assert_string_equal (o.run_id, "run-1.a:b_c");
    assert_true (o.progress == 2);
    //  Both limits: kept, whichever comes first.
    assert_int_equal (s_parse (&o, err, sizeof err, "--url", "http://h", "-T", "t", "-n", "5", "-d", "1.5", NULL),
                      WALOAD_GO);
    assert_int_equal (o.count, 5);
    assert_true (o.duration == 1.5);
    assert_int_equal (s_parse (&o, err, sizeof err, "--help", NULL), WALOAD_HELP);
    assert_int_equal (s_parse (&o, err, sizeof err, "-V", NULL), WALOAD_VERSION);
}

static void
test_opts_env (void **state)
{
    (void) state;
    s_clear_env ();
    waload_opts_t o;
    char err[512];
    setenv ("WALOAD_TOKEN", "from-env", 1);
    assert_int_equal (s_parse (&o, err, sizeof err, "--url", "http://h", NULL), WALOAD_GO);
    assert_string_equal (o.token, "from-env");
    assert_int_equal (s_parse (&o, err, sizeof err, "--url", "http://h", "--token", "opt", NULL), WALOAD_GO);
    assert_string_equal (o.token, "opt");
    //  --user takes over from $WALOAD_TOKEN; the password from the environment.
    setenv ("WALOAD_PASSWORD", "env-pw", 1);
    assert_int_equal (s_parse (&o, err, sizeof err, "--url", "http://h", "--user", "u", NULL), WALOAD_GO);
    assert_null (o.token);
    assert_string_equal (o.password, "env-pw");
    s_clear_env ();
}

//  Each: the arguments and a piece of the message naming the problem.
static void
test_opts_bad (void **state)
{
    (void) state;
    s_clear_env ();
    struct { const char *args[8]; const char *says; } cases[] = {
        { { "--token", "t" }, "--url is required" },
        { { "--url", "", "--token", "t" }, "--url is required" },
        { { "--url", "ftp://h", "--token", "t" }, "must start with http://" },
        { { "--url", "http://", "--token", "t" }, "no host" },
        { { "--url", "http://h h", "--token", "t" }, "spaces" },
        { { "--url", "http://h" }, "no credentials" },
        { { "--url", "http://h", "--token", "t", "--user", "u", "--password", "p" }, "not both" },
        { { "--url", "http://h", "--password", "p" }, "--password needs --user" },
        { { "--url", "http://h", "--user", "u" }, "--user needs --password" },
        { { "--url", "http://h", "--user", "a:b", "--password", "p" }, "--user 'a:b'" },
        { { "--url", "http://h", "--token", "a b" }, "--token" },
        { { "--url", "http://h", "--token", "t", "-c", "0" }, "--concurrency '0'" },
        { { "--url", "http://h", "--token", "t", "-c", "10001" }, "--concurrency '10001'" },
        { { "--url", "http://h", "--token", "t", "-c", "-3" }, "--concurrency '-3'" },
        { { "--url", "http://h", "--token", "t", "-c", "8x" }, "--concurrency '8x'" },
        { { "--url", "http://h", "--token", "t", "-d", "0" }, "--duration '0'" },
        { { "--url", "http://h", "--token", "t", "-d", "nan" }, "--duration 'nan'" },
        { { "--url", "http://h", "--token", "t", "-d", "1e3" }, "--duration '1e3'" },
        { { "--url", "http://h", "--token", "t", "-d", "." }, "--duration '.'" },
        { { "--url", "http://h", "--token", "t", "-n", "0" }, "--count '0'" },
        { { "--url", "http://h", "--token", "t", "-n", "1000000000001" }, "--count" },
        { { "--url", "http://h", "--token", "t", "-n", "99999999999999999999999" }, "--count" },
        { { "--url", "http://h", "--token", "t", "-r", "-1" }, "--rate '-1'" },
        { { "--url", "http://h", "--token", "t", "-r", "1000001" }, "--rate" },
        { { "--url", "http://h", "--token", "t", "-t", "0" }, "--timeout '0'" },
        { { "--url", "http://h", "--token", "t", "-t", "3601" }, "--timeout '3601'" },
        { { "--url", "http://h", "--token", "t", "--to-base", "1000000000000000001" }, "--to-base" },
        { { "--url", "http://h", "--token", "t", "--to-base", "+1" }, "--to-base '+1'" },
        { { "--url", "http://h", "--token", "t", "--run-id", "" }, "--run-id ''" },
        { { "--url", "http://h", "--token", "t", "--run-id", "a b" }, "--run-id 'a b'" },
        { { "--url", "http://h", "--token", "t", "--run-id", "12345678901234567890123456789012345678901" },
          "--run-id" },
        { { "--url", "http://h", "--token", "t", "--progress", "0.05" }, "--progress '0.05'" },
        { { "--url", "http://h", "--token", "t", "--record", "" }, "--record" },
        { { "--url", "http://h", "--token", "t", "--stop-file", "" }, "--stop-file" },
        { { "--url", "http://h", "--token", "t", "--nope" }, "unknown option '--nope'" },
        { { "--url", "http://h", "--token", "t", "-z" }, "unknown option '-z'" },
        { { "--url", "http://h", "--token", "t", "--rate" }, "'--rate' needs a value" },
        { { "--url", "http://h", "--token", "t", "extra" }, "unexpected argument 'extra'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[10] = { "waload" };
        int argc = 1;
        for (int j = 0; j < 8 && cases[i].args[j]; j++)
            argv[argc++] = (char *) cases[i].args[j];
        waload_opts_t o;
        char err[512] = "";
        waload_parse_t rc = waload_opts_parse (&o, argc, argv, err, sizeof err);
        if (rc != WALOAD_USAGE || !strstr (err, cases[i].says))
            fail_msg ("case %zu (%s): rc %d, err '%s'", i, cases[i].says, rc, err);
    }
    assert_true (waload_run_id_valid ("abc-1"));
    assert_false (waload_run_id_valid ("a\"b"));
}

static void
test_answers (void **state)
{
    (void) state;
    waload_answer_t a;
    const char *ok = "{\"meta\":{},\"messages\":[{\"id\":\"gBE123\"}]}";
    waload_answer_parse (201, ok, strlen (ok), false, &a);
    assert_true (a.ok);
    assert_string_equal (a.id, "gBE123");
    assert_string_equal (a.label, "");
    assert_string_equal (a.error, "");
    //  The same with another 2xx: not good, but the id is kept.
    waload_answer_parse (200, ok, strlen (ok), false, &a);
    assert_false (a.ok);
    assert_string_equal (a.id, "gBE123");
    assert_string_equal (a.label, "200/-");
    //  An error envelope.
    const char *e = "{\"meta\":{},\"errors\":[{\"code\":1011,\"title\":\"Service not ready\",\"details\":\"starting\"}]}";
    waload_answer_parse (503, e, strlen (e), false, &a);
    assert_false (a.ok);
    assert_string_equal (a.label, "503/1011");
    assert_string_equal (a.error, "1011: starting");
    const char *t = "{\"errors\":[{\"code\":1005,\"title\":\"Access denied\"}]}";
    waload_answer_parse (401, t, strlen (t), false, &a);
    assert_string_equal (a.error, "1005: Access denied");
    //  201 without an id, with an empty id, with a number for an id.
    const char *bad[] = { "{\"messages\":[]}", "{\"messages\":[{\"id\":\"\"}]}", "{\"messages\":[{\"id\":7}]}", "{}" };
    for (size_t i = 0; i < 4; i++) {
        waload_answer_parse (201, bad[i], strlen (bad[i]), false, &a);
        assert_false (a.ok);
        assert_string_equal (a.label, "201/no id");
        assert_non_null (strstr (a.error, "messages[0].id"));
    }
    //  Not JSON, a JSON array, nothing, binary; a 502 without the envelope.
    const char *html = "<html>\x01\xff</html>";
    waload_answer_parse (502, html, strlen (html), false, &a);
    assert_string_equal (a.label, "502/not JSON");
    assert_non_null (strstr (a.error, "<html>..</html>"));
    waload_answer_parse (201, "[1]", 3, false, &a);
    assert_string_equal (a.label, "201/not JSON");
    waload_answer_parse (201, NULL, 0, false, &a);
    assert_string_equal (a.label, "201/not JSON");
    assert_non_null (strstr (a.error, "(empty)"));
    waload_answer_parse (500, "{\"x\":1}", 7, false, &a);
    assert_string_equal (a.label, "500/-");
    //  Cut short: not parsed at all.
    waload_answer_parse (201, ok, 10, true, &a);
    assert_false (a.ok);
    assert_string_equal (a.label, "201/too large");
    //  A long body is quoted in part.
    char big[5000];
    memset (big, 'x', sizeof big);
    waload_answer_parse (500, big, sizeof big, false, &a);
    assert_true (strlen (a.error) < 200);
    assert_non_null (strstr (a.error, "..."));
}

static void
test_login_answers (void **state)
{
    (void) state;
    char token[64], err[256];
    const char *ok = "{\"meta\":{},\"users\":[{\"token\":\"abc_DEF-1\",\"expires_after\":\"x\"}]}";
    assert_int_equal (waload_login_parse (200, ok, strlen (ok), token, sizeof token, err, sizeof err), 0);
    assert_string_equal (token, "abc_DEF-1");
    assert_int_equal (waload_login_parse (200, ok, strlen (ok), token, 5, err, sizeof err), -1);
    const char *e = "{\"errors\":[{\"code\":1024,\"title\":\"Password change required\",\"details\":\"change it\"}]}";
    assert_int_equal (waload_login_parse (401, e, strlen (e), token, sizeof token, err, sizeof err), -1);
    assert_string_equal (err, "HTTP 401, 1024: change it");
    assert_int_equal (waload_login_parse (502, "oops", 4, token, sizeof token, err, sizeof err), -1);
    assert_non_null (strstr (err, "not a JSON object: oops"));
    const char *spaced = "{\"users\":[{\"token\":\"a b\"}]}";
    assert_int_equal (waload_login_parse (200, spaced, strlen (spaced), token, sizeof token, err, sizeof err), -1);
}

//  What f wrote, as a string the caller frees.
static char *
s_written (void (*write) (FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    write (out, arg);
    fclose (out);
    return text;
}

static void
s_write_string (FILE *out, const void *arg)
{
    waload_json_string (out, arg);
}

static void
s_write_record (FILE *out, const void *arg)
{
    waload_record_write (out, arg);
}

static void
test_json_string (void **state)
{
    (void) state;
    const char *inputs[] = { "plain", "q\"b\\s/", "tab\tnl\ncr\r\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                             "bad \xff \xc3 \xed\xa0\x80 \xc0\xaf end", "" };
    const char *expect[] = { "plain", "q\"b\\s/", "tab\tnl\ncr\r\x01\x1f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                             NULL, "" };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *text = s_written (s_write_string, inputs[i]);
        json_error_t error;
        json_t *value = json_loads (text, JSON_DECODE_ANY, &error);
        if (!value)
            fail_msg ("case %zu: %s is not JSON: %s", i, text, error.text);
        assert_true (json_is_string (value));
        if (expect[i])
            assert_string_equal (json_string_value (value), expect[i]);
        else {
            //  Every bad byte became U+FFFD; the good ones stayed.
            assert_non_null (strstr (json_string_value (value), "bad \xef\xbf\xbd "));
            assert_non_null (strstr (json_string_value (value), " end"));
        }
        json_decref (value);
        free (text);
    }
}

static void
test_record (void **state)
{
    (void) state;
    waload_rec_t rec = {
        .n = 42, .key = "run1-42", .to = "16315550042", .sent_at = 1700000000.1234564, .done_at = 1700000000.2500001,
        .status = 201, .id = "gBEabc", .error = NULL
    };
    char *text = s_written (s_write_record, &rec);
    assert_non_null (strstr (text, "\"sent_at\":1700000000.123456,"));
    assert_non_null (strstr (text, "\"done_at\":1700000000.250000,"));
    assert_non_null (strstr (text, "\"latency_ms\":126.544,"));
    assert_int_equal (text[strlen (text) - 1], '\n');
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    assert_non_null (root);
    assert_int_equal (json_integer_value (json_object_get (root, "n")), 42);
    assert_string_equal (json_string_value (json_object_get (root, "key")), "run1-42");
    assert_string_equal (json_string_value (json_object_get (root, "to")), "16315550042");
    assert_int_equal (json_integer_value (json_object_get (root, "status")), 201);
    assert_string_equal (json_string_value (json_object_get (root, "id")), "gBEabc");
    assert_true (json_is_null (json_object_get (root, "error")));
    json_decref (root);
    free (text);

    rec.status = 0;
    rec.id = NULL;
    rec.error = "Failed to connect to \"x\"\n";
    text = s_written (s_write_record, &rec);
    root = json_loads (text, 0, &error);
    assert_non_null (root);
    assert_int_equal (json_integer_value (json_object_get (root, "status")), 0);
    assert_true (json_is_null (json_object_get (root, "id")));
    assert_string_equal (json_string_value (json_object_get (root, "error")), "Failed to connect to \"x\"\n");
    json_decref (root);
    free (text);
}

static waload_answer_t
s_ok (const char *id)
{
    waload_answer_t a;
    memset (&a, 0, sizeof a);
    a.ok = true;
    snprintf (a.id, sizeof a.id, "%s", id);
    return a;
}

static waload_answer_t
s_failed (const char *label)
{
    waload_answer_t a;
    memset (&a, 0, sizeof a);
    snprintf (a.label, sizeof a.label, "%s", label);
    snprintf (a.error, sizeof a.error, "x");
    return a;
}

static void
test_stats (void **state)
{
    (void) state;
    waload_stats_t s;
    waload_stats_init (&s);
    waload_answer_t a1 = s_ok ("id1"), a2 = s_ok ("id2"), a3 = s_ok ("id3"), f = s_failed ("503/1011");
    waload_stats_add (&s, 0.0, 0.1, 201, &a1, NULL);
    waload_stats_add (&s, 0.1, 0.3, 201, &a2, NULL);
    waload_stats_add (&s, 0.2, 0.5, 503, &f, NULL);             //  from 0.3 nothing good ...
    waload_stats_add (&s, 0.3, 0.4, 0, NULL, "Couldn't connect to server");
    waload_stats_add (&s, 0.4, 1.4, 0, NULL, "Couldn't connect to server");
    waload_stats_add (&s, 0.5, 2.0, 0, NULL, "Timeout was reached");
    waload_stats_add (&s, 1.0, 2.3, 201, &a3, NULL);            //  ... until 2.3: the gap, 2.0 s
    waload_stats_add (&s, 2.0, 2.4, 503, &f, NULL);
    waload_stats_finish (&s, 2.45);
    assert_int_equal (s.requests, 8);
    assert_int_equal (s.ok, 3);
    assert_int_equal (s.status_2xx, 3);
    assert_int_equal (s.answered, 5);
    assert_int_equal (s.transport_errors, 3);
    assert_int_equal (s.duplicate_ids, 0);
    assert_true (fabs (s.gap - 2.0) < 1e-9);
    assert_true (fabs (s.gap_from - 0.3) < 1e-9);
    assert_true (fabs (s.gap_to - 2.3) < 1e-9);
    assert_true (fabs (s.end - 2.45) < 1e-9);
    assert_int_equal (s.nfailed, 1);
    assert_string_equal (s.failed[0].label, "503/1011");
    assert_int_equal (s.failed[0].count, 2);
    //  Groups by count, most first.
    assert_int_equal (s.ntransport, 2);
    assert_string_equal (s.transport[0].label, "Couldn't connect to server");
    assert_int_equal (s.transport[0].count, 2);
    assert_string_equal (s.transport[1].label, "Timeout was reached");
    //  Latencies of the 5 answered: 100, 200, 300, 1300, 400 ms.
    assert_int_equal (s.nlatency, 5);
    assert_true (fabs (waload_percentile_ms (s.latency_us, s.nlatency, 50) - 300) < 1e-6);
    assert_true (fabs (waload_percentile_ms (s.latency_us, s.nlatency, 90) - 1300) < 1e-6);
    assert_true (fabs (waload_percentile_ms (s.latency_us, s.nlatency, 20) - 100) < 1e-6);
    assert_int_equal (waload_exit_status (&s), 1);
    waload_stats_free (&s);
}

static void
test_stats_edges (void **state)
{
    (void) state;
    waload_stats_t s;
    //  Nothing at all: exit 1, the whole run is the gap.
    waload_stats_init (&s);
    waload_stats_finish (&s, 1.5);
    assert_int_equal (waload_exit_status (&s), 1);
    assert_true (fabs (s.gap - 1.5) < 1e-9);
    assert_true (waload_percentile_ms (s.latency_us, s.nlatency, 99) == 0);
    waload_stats_free (&s);
    //  All good: exit 0; the tail after the last 201 counts as a gap.
    waload_stats_init (&s);
    char id[32];
    for (int i = 0; i < 3000; i++) {
        snprintf (id, sizeof id, "gBE%d", i);
        waload_answer_t a = s_ok (id);
        waload_stats_add (&s, i * 0.001, i * 0.001 + 0.002, 201, &a, NULL);
    }
    waload_stats_finish (&s, 4.0);
    assert_int_equal (s.ok, 3000);
    assert_int_equal (s.nlatency, 3000);
    assert_int_equal (waload_exit_status (&s), 0);
    assert_true (fabs (s.gap - (4.0 - 3.001)) < 1e-9);
    waload_stats_free (&s);
    //  The same id for two requests: exit 1.
    waload_stats_init (&s);
    waload_answer_t a = s_ok ("same"), b = s_ok ("other");
    waload_stats_add (&s, 0, 0.1, 201, &a, NULL);
    waload_stats_add (&s, 0, 0.1, 201, &b, NULL);
    waload_stats_add (&s, 0, 0.2, 201, &a, NULL);
    waload_stats_finish (&s, 0.2);
    assert_int_equal (s.duplicate_ids, 1);
    assert_int_equal (waload_exit_status (&s), 1);
    waload_stats_free (&s);
    //  More labels than kept: the rest go to "other".
    waload_stats_init (&s);
    for (int i = 0; i < WALOAD_GROUPS_MAX + 10; i++) {
        char label[16];
        snprintf (label, sizeof label, "500/%d", i);
        waload_answer_t f = s_failed (label);
        waload_stats_add (&s, 0, 0.1, 500, &f, NULL);
    }
    assert_int_equal (s.nfailed, WALOAD_GROUPS_MAX + 1);
    waload_stats_finish (&s, 1);
    assert_string_equal (s.failed[0].label, "other");
    assert_int_equal (s.failed[0].count, 10);
    waload_stats_free (&s);
    assert_true (waload_hash ("a") != waload_hash ("b"));
}

static void
test_summary (void **state)
{
    (void) state;
    waload_stats_t s;
    waload_stats_init (&s);
    waload_answer_t a = s_ok ("id1"), f = s_failed ("503/1011");
    waload_stats_add (&s, 0, 0.004, 201, &a, NULL);
    waload_stats_add (&s, 0, 0.5, 503, &f, NULL);
    waload_stats_add (&s, 0, 1.0, 0, NULL, "Timeout \"was\" reached");
    waload_stats_finish (&s, 1.0);
    waload_run_t run = { .run_id = "r1", .url = "http://h", .concurrency = 4, .rate = 0, .seconds = 1.0,
                         .stopped_by = "count" };
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    waload_summary_json (out, &s, &run);
    fclose (out);
    json_error_t error;
    json_t *root = json_loads (text, 0, &error);
    if (!root)
        fail_msg ("not JSON: %s", text);
    assert_int_equal (json_integer_value (json_object_get (root, "requests")), 3);
    assert_int_equal (json_integer_value (json_object_get (root, "ok")), 1);
    assert_int_equal (json_integer_value (json_object_get (root, "transport_errors")), 1);
    assert_int_equal (json_integer_value (json_object_get (json_object_get (root, "failed"), "503/1011")), 1);
    assert_int_equal (json_integer_value (json_object_get (json_object_get (root, "transport"),
                                                           "Timeout \"was\" reached")), 1);
    assert_true (json_real_value (json_object_get (json_object_get (root, "latency_ms"), "p50")) == 4.0);
    assert_true (json_real_value (json_object_get (json_object_get (root, "latency_ms"), "max")) == 500.0);
    assert_true (json_real_value (json_object_get (root, "longest_gap_s")) == 0.996);
    assert_true (json_real_value (json_object_get (root, "req_per_s")) == 3.0);
    assert_int_equal (json_integer_value (json_object_get (root, "exit_status")), 1);
    assert_string_equal (json_string_value (json_object_get (root, "stopped_by")), "count");
    json_decref (root);
    free (text);

    text = NULL;
    out = open_memstream (&text, &size);
    waload_summary_text (out, &s, &run);
    fclose (out);
    assert_non_null (strstr (text, "waload r1: 3 requests in 1.000 s, 3.0 req/s"));
    assert_non_null (strstr (text, "201 with an id     1\n"));
    assert_non_null (strstr (text, "       1  503/1011\n"));
    assert_non_null (strstr (text, "longest gap        0.996 s"));
    free (text);
    waload_stats_free (&s);

    //  --help names every option.
    text = NULL;
    out = open_memstream (&text, &size);
    waload_usage (out);
    fclose (out);
    const char *options[] = { "--url", "--token", "--user", "--password", "--insecure", "--concurrency",
                              "--duration", "--count", "--rate", "--timeout", "--to-base", "--run-id",
                              "--stop-file", "--record", "--json", "--progress", "--help", "--version",
                              "Exit status" };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (!strstr (text, options[i]))
            fail_msg ("--help does not mention %s", options[i]);
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_opts_defaults),
        cmocka_unit_test (test_opts_all),
        cmocka_unit_test (test_opts_env),
        cmocka_unit_test (test_opts_bad),
        cmocka_unit_test (test_answers),
        cmocka_unit_test (test_login_answers),
        cmocka_unit_test (test_json_string),
        cmocka_unit_test (test_record),
        cmocka_unit_test (test_stats),
        cmocka_unit_test (test_stats_edges),
        cmocka_unit_test (test_summary),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
