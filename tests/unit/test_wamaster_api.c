/*  The Master's API port (src/wamaster/api.c) without a database: every
    request that can be answered on the reactor is answered there, exactly
    once, with the right status and code — malformed frames and JSON,
    unknown ops, bad changes (flat and nested), bad account requests, a
    secondary Master (1017 at once), a primary still preparing (1011), the
    upstream refusing, silent or unreachable (a fake wagate) — and settings
    go out as JSON of their types, the webhooks nested as the original. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "wa_codec.h"
#include "wa_log.h"
#include "api.h"
#include "appsettings.h"
#include "wa_providers.h"
#include "test_loop.h"

typedef struct {
    bool primary;
    bool ready;
    int stored;
    int gc_asked;               //  the gc hook's calls
    bool gc_refuse;             //  it answers -1
    bool gc_at_once;            //  the pass ends within the hook (nothing to do)
    api_t **api;
} fake_master_t;

static bool
s_fake_primary (void *arg, api_lease_t *lease)
{
    fake_master_t *master = arg;
    lease->node = 7;
    lease->role = master->primary ? "primary_master" : "secondary_master";
    lease->epoch = 3;
    lease->deadline = wa_clock_mono () + 10 * 1000 * 1000;
    lease->ready = master->primary && master->ready;
    return master->primary;
}

static void
s_fake_stored (void *arg)
{
    ((fake_master_t *) arg)->stored++;
}

static int
s_fake_gc (void *arg)
{
    fake_master_t *master = arg;
    master->gc_asked++;
    if (master->gc_refuse)
        return -1;
    if (master->gc_at_once) {
        int64_t none[4] = { 0, 0, 0, 0 };
        api_gc_ended (*master->api, none, false, "");
    }
    return 0;
}

typedef struct {
    wa_loop_t *loop;
    zsock_t *router;
    zsock_t *dealer;
    wa_config_t settings;
    fake_master_t master;
    api_t *api;
    wa_trust_t *trust;          //  bus_security = off: inproc has no keys
    wa_msg_t msg;
    char gate_endpoint[64];
} fixture_t;

static void
s_api_start (fixture_t *f)
{
    api_hooks_t hooks = { .arg = &f->master, .primary = s_fake_primary, .stored = s_fake_stored, .gc = s_fake_gc };
    f->master.api = &f->api;
    //  No DB worker: nothing here may reach one.
    f->api = api_new (f->loop, f->router, f->trust, NULL, &f->settings, &hooks);
}

static int
s_setup (void **state)
{
    static int instance;
    fixture_t *f = (fixture_t *) zmalloc (sizeof (fixture_t));
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "inproc://api-test-%d", ++instance);
    f->loop = wa_loop_new ();
    f->router = zsock_new_router (endpoint);
    f->dealer = zsock_new_dealer (endpoint);
    assert_non_null (f->router);
    assert_non_null (f->dealer);
    wa_config_defaults (&f->settings);
    //  The upstream's control socket: a fake wagate binds it when a test needs one.
    snprintf (f->gate_endpoint, sizeof f->gate_endpoint, "inproc://api-test-gate-%d", instance);
    snprintf (f->settings.upstream_control_endpoint, sizeof f->settings.upstream_control_endpoint, "%s",
              f->gate_endpoint);
    f->settings.request_attempt_timeout = 0.4;      //  the upstream gets 0.2 s
    snprintf (f->settings.bus_security, sizeof f->settings.bus_security, "off");
    char err[256];
    f->trust = wa_trust_new (&f->settings, WA_ROLE_MASTER, err, sizeof err);
    assert_non_null (f->trust);
    s_api_start (f);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    api_destroy (&f->api);
    wa_trust_destroy (&f->trust);
    wa_loop_destroy (&f->loop);
    zsock_destroy (&f->dealer);
    zsock_destroy (&f->router);
    free (f);
    return 0;
}

static void
s_run_loop (fixture_t *f, int ms)
{
    test_run_loop (f->loop, ms);
}

//  Let the API read what the dealer sent (its reader on the loop).
static void
s_serve (fixture_t *f)
{
    zpoller_t *poller = zpoller_new (f->router, NULL);
    assert_ptr_equal (zpoller_wait (poller, 2000), f->router);
    zpoller_destroy (&poller);
    do
        s_run_loop (f, 5);
    while (zsock_events (f->router) & ZMQ_POLLIN);
}

static void
s_answer (fixture_t *f, uint64_t seq, uint32_t status, int code, const char *details)
{
    zpoller_t *poller = zpoller_new (f->dealer, NULL);
    assert_ptr_equal (zpoller_wait (poller, 2000), f->dealer);
    assert_int_equal (wa_codec_recv (f->dealer, NULL, &f->msg, NULL), 0);
    assert_int_equal (f->msg.type, WA_MSG_API_REP);
    assert_int_equal (f->msg.seq, seq);
    assert_int_equal (f->msg.code, status);
    json_t *body = json_loads (f->msg.text, 0, NULL);
    assert_non_null (body);
    json_t *first = json_array_get (json_object_get (body, "errors"), 0);
    assert_int_equal (json_integer_value (json_object_get (first, "code")), code);
    const char *text = json_string_value (json_object_get (first, "details"));
    assert_non_null (text);
    if (!strstr (text, details))
        fail_msg ("details '%s' do not hold '%s'", text, details);
    json_decref (body);
    //  Exactly one answer.
    assert_null (zpoller_wait (poller, 20));
    zpoller_destroy (&poller);
}

static void
t_send (fixture_t *f, uint64_t seq, const char *json)
{
    wa_msg_init (&f->msg, WA_MSG_API_REQ);
    f->msg.seq = seq;
    wa_msg_set_text (&f->msg, json);
    assert_int_equal (wa_codec_send (f->dealer, NULL, &f->msg), 0);
    s_serve (f);
}

static void
s_expect (fixture_t *f, const char *json, uint32_t status, int code, const char *details)
{
    static uint64_t seq = 100;
    t_send (f, ++seq, json);
    s_answer (f, seq, status, code, details);
}

static void
test_malformed_frames (void **state)
{
    fixture_t *f = *state;
    zstr_send (f->dealer, "not msgpack");
    s_serve (f);
    s_answer (f, 0, 400, 1009, "malformed frame");
    wa_msg_init (&f->msg, WA_MSG_STATS_REQ);
    assert_int_equal (wa_codec_send (f->dealer, NULL, &f->msg), 0);
    s_serve (f);
    s_answer (f, 0, 400, 1009, "unexpected STATS_REQ");
}

static void
test_malformed_requests (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    s_expect (f, "not json", 400, 1009, "not a JSON object with an 'op'");
    s_expect (f, "[1,2]", 400, 1009, "not a JSON object with an 'op'");
    s_expect (f, "{\"op\":5}", 400, 1009, "not a JSON object with an 'op'");
    s_expect (f, "{\"op\":\"settings_get\",\"op\":\"x\"}", 400, 1009, "not a JSON object");
    s_expect (f, "{\"op\":\"send\"}", 400, 1009, "unknown op 'send'");
    s_expect (f, "{\"op\":\"settings_reset\"}", 400, 1008, "'by' is missing");
    s_expect (f, "{\"op\":\"settings_patch\",\"by\":\"\",\"changes\":{\"heartbeat_interval\":1}}", 400, 1008,
              "'by' is missing");
}

static void
test_bad_changes (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    const char *head = "{\"op\":\"settings_patch\",\"by\":\"admin\"";
    char json[512];
#define PATCH(changes) (snprintf (json, sizeof json, "%s%s}", head, changes), json)
    s_expect (f, PATCH (""), 400, 1008, "'changes' is missing");
    s_expect (f, PATCH (",\"changes\":[1]"), 400, 1009, "must be a JSON object");
    s_expect (f, PATCH (",\"changes\":{}"), 400, 1009, "must be a JSON object");
    s_expect (f, PATCH (",\"changes\":{\"frobnicate\":1}"), 400, 1009, "unknown setting 'frobnicate'");
    s_expect (f, PATCH (",\"changes\":{\"upstream_idle_timeout\":1}"), 400, 1009,
              "'upstream_idle_timeout' is not a cluster setting");
    s_expect (f, PATCH (",\"changes\":{\"heartbeat_interval\":true}"), 400, 1009,
              "'heartbeat_interval' must be a number, not a boolean");
    s_expect (f, PATCH (",\"changes\":{\"heartbeat_interval\":[]}"), 400, 1009, "not an array");
    s_expect (f, PATCH (",\"changes\":{\"heartbeat_interval\":\"soon\"}"), 400, 1009,
              "key 'heartbeat_interval': value 'soon'");
    s_expect (f, PATCH (",\"changes\":{\"heartbeat_interval\":0.001}"), 400, 1009,
              "key 'heartbeat_interval': value '0.001' is out of bounds");
    s_expect (f, PATCH (",\"changes\":{\"promotion_holdoff\":5,\"failover_limit\":0}"), 400, 1009,
              "key 'failover_limit': value '0'");
#undef PATCH
    assert_int_equal (f->master.stored, 0);
}

static void
test_not_primary_at_once (void **state)
{
    fixture_t *f = *state;
    f->master.primary = false;
    s_expect (f, "{\"op\":\"settings_get\"}", 500, 1017, "master 7 is not the primary Master (secondary_master)");
    s_expect (f, "{\"op\":\"settings_reset\",\"by\":\"admin\"}", 500, 1017, "is not the primary Master");
    s_expect (f, "{\"op\":\"settings_patch\",\"by\":\"admin\",\"changes\":{\"heartbeat_interval\":1}}", 500, 1017,
              "is not the primary Master");
    //  A primary still migrating or seeding: the Webapp retries 1011.
    f->master.primary = true;
    f->master.ready = false;
    s_expect (f, "{\"op\":\"settings_get\"}", 503, 1011, "still preparing the database");
    assert_int_equal (f->master.stored, 0);
}

static void
test_settings_as_json (void **state)
{
    (void) state;
    wa_config_t settings;
    wa_config_defaults (&settings);
    char err[256];
    assert_int_equal (wa_config_set (&settings, "heartbeat_interval", "0.1", err, sizeof err), 0);
    json_t *body = appsettings_body (&settings);
    json_t *application = json_object_get (json_object_get (body, "settings"), "application");
    assert_non_null (application);
    int count = 0;
    while (wa_config_setting_name (count))
        count++;
    //  webhooks_url, _max_concurrent_requests and _secret are one object.
    assert_int_equal ((int) json_object_size (application), count - 2);
    json_t *webhooks = json_object_get (application, "webhooks");
    assert_true (json_is_string (json_object_get (webhooks, "url")));
    assert_int_equal (json_integer_value (json_object_get (webhooks, "max_concurrent_requests")), 12);
    assert_int_equal ((int) json_object_size (webhooks), 3);
    assert_string_equal (json_string_value (json_object_get (webhooks, "secret")), "");
    assert_null (json_object_get (application, "webhooks_url"));
    assert_true (json_is_real (json_object_get (application, "heartbeat_interval")));
    assert_true (json_is_integer (json_object_get (application, "unhealthy_interval")));
    assert_int_equal (json_integer_value (json_object_get (application, "failover_limit")), 5);
    assert_null (json_object_get (application, "upstream_idle_timeout"));
    const char *name;
    for (int i = 0; (name = wa_config_setting_name (i)); i++) {
        json_t *value = json_object_get (application, name);
        if (strncmp (name, "webhooks_", 9) == 0)
            value = json_object_get (webhooks, name + 9);
        if (streq (name, "media_auto_download"))
            assert_true (json_is_array (json_object_get (json_object_get (application, "media"), "auto_download")));
        else
        if (streq (wa_config_type (name), "boolean"))
            assert_true (json_is_boolean (value));
        else
        if (streq (wa_config_type (name), "string"))
            assert_true (json_is_string (value));
        else
            assert_true (json_is_number (value));
    }
    //  As the Webapp writes it: 0.1, not 0.10000000000000001.
    char *text = json_dumps (application, JSON_COMPACT | JSON_REAL_PRECISION (15));
    assert_non_null (strstr (text, "\"heartbeat_interval\":0.1,"));
    free (text);
    json_decref (body);
}

static void
test_media_list (void **state)
{
    (void) state;
    wa_config_t settings;
    wa_config_defaults (&settings);
    char err[256], buf[128];
    //  The original's nested array, stored comma-separated, shown back as the array.
    json_t *list = json_pack ("[s, s]", "image", "voice");
    const char *text = appsettings_value_text ("media_auto_download", list, buf, sizeof buf);
    assert_string_equal (text, "image,voice");
    assert_int_equal (wa_config_set (&settings, "media_auto_download", text, err, sizeof err), 0);
    json_t *body = appsettings_body (&settings);
    json_t *shown = json_object_get (json_object_get (json_object_get (json_object_get (body, "settings"),
                                                                       "application"), "media"), "auto_download");
    assert_true (json_equal (shown, list));
    json_decref (body);
    json_decref (list);
    //  Empty is none; anything but an array of plain strings is refused.
    list = json_array ();
    assert_string_equal (appsettings_value_text ("media_auto_download", list, buf, sizeof buf), "");
    json_decref (list);
    list = json_pack ("[i]", 1);
    assert_null (appsettings_value_text ("media_auto_download", list, buf, sizeof buf));
    json_decref (list);
    list = json_pack ("[s]", "image,video");
    assert_null (appsettings_value_text ("media_auto_download", list, buf, sizeof buf));
    json_decref (list);
    json_t *string = json_string ("image");
    assert_null (appsettings_value_text ("media_auto_download", string, buf, sizeof buf));
    json_decref (string);
    //  The items are checked by the configuration's table.
    assert_int_equal (wa_config_set (&settings, "media_auto_download", "image,gif", err, sizeof err), -1);
    assert_non_null (strstr (err, "'gif' is not a media type"));
    assert_int_equal (wa_config_set (&settings, "media_auto_download", "image,image", err, sizeof err), -1);
    assert_non_null (strstr (err, "'image' is named twice"));
    assert_int_equal (wa_config_set (&settings, "media_auto_download", "image,", err, sizeof err), -1);
    assert_int_equal (wa_config_set (&settings, "on_call_pager", "+1555", err, sizeof err), -1);
    assert_non_null (strstr (err, "on_call_pager"));
}

static void
test_value_text (void **state)
{
    (void) state;
    char buf[64];
    json_t *real = json_real (0.1), *whole = json_integer (30), *yes = json_true (), *text = json_string ("2.5");
    assert_string_equal (appsettings_value_text ("heartbeat_interval", real, buf, sizeof buf), "0.1");
    assert_string_equal (appsettings_value_text ("unhealthy_interval", whole, buf, sizeof buf), "30");
    assert_string_equal (appsettings_value_text ("unhealthy_interval", text, buf, sizeof buf), "2.5");
    assert_null (appsettings_value_text ("unhealthy_interval", yes, buf, sizeof buf));
    //  A whole real for a count is its digits: "3e+01" was refused by the count.
    json_t *whole_real = json_real (30.0);
    assert_string_equal (appsettings_value_text ("failover_limit", whole_real, buf, sizeof buf), "30");
    json_decref (whole_real);
    json_decref (real);
    json_decref (whole);
    json_decref (yes);
    json_decref (text);
}

static void
test_nested_changes (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    const char *head = "{\"op\":\"settings_patch\",\"by\":\"admin\"";
    char json[512];
#define PATCH(changes) (snprintf (json, sizeof json, "%s%s}", head, changes), json)
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"url\":5}}"), 400, 1009,
              "'webhooks.url' must be a string, not a number");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"max_concurrent_requests\":\"many\"}}"), 400, 1009,
              "key 'webhooks_max_concurrent_requests': value 'many'");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"retries\":1}}"), 400, 1009,
              "unknown setting 'webhooks.retries'");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":\"http://x\"}"), 400, 1009, "'webhooks' must be an object");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{}}"), 400, 1009, "'webhooks' must be an object");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"url\":\"http://127.0.0.1:1/a\"},"
                        "\"webhooks_url\":\"http://127.0.0.1:1/b\"}"), 400, 1009,
              "'webhooks_url' names a setting given already");
    //  The newer versions' names: aliases, and what this cluster does.
    s_expect (f, PATCH (",\"changes\":{\"garbagecollector_enable\":{\"messages\":\"sometimes\"}}"), 400, 1009,
              "key 'db_garbagecollector_enable': value 'sometimes'");
    s_expect (f, PATCH (",\"changes\":{\"garbagecollector_enable\":{\"messages\":true},"
                        "\"db_garbagecollector_enable\":false}"), 400, 1009, "names a setting given already");
    s_expect (f, PATCH (",\"changes\":{\"garbagecollector_enable\":{\"media\":1}}"), 400, 1009,
              "'garbagecollector_enable.media' must be true or false, not a number");
    s_expect (f, PATCH (",\"changes\":{\"garbagecollector_enable\":{\"files\":true}}"), 400, 1009,
              "unknown setting 'garbagecollector_enable.files'");
    s_expect (f, PATCH (",\"changes\":{\"garbagecollector_enable\":true}"), 400, 1009,
              "'garbagecollector_enable' must be an object");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"message\":{\"read\":false}}}"), 400, 1009,
              "'webhooks.message.read' can only be true: read statuses are always POSTed here");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"message\":{\"sent\":[]}}}"), 400, 1009,
              "'webhooks.message.sent' must be true or false, not an array");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"message\":{\"sent\":true}},\"sent_status\":false}"), 400,
              1009, "names a setting given already");
    s_expect (f, PATCH (",\"changes\":{\"webhooks\":{\"message\":{}}}"), 400, 1009,
              "'webhooks.message' must be an object");
#undef PATCH
    assert_int_equal (f->master.stored, 0);
}

static void
test_bad_providers (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    char json[600];
#define SET(list) (snprintf (json, sizeof json, "{\"op\":\"providers_set\",\"by\":\"admin\"%s}", list), json)
    s_expect (f, SET (""), 400, 1008, "the body must be the providers to set");
    s_expect (f, SET (",\"providers\":[]"), 400, 1009, "1 to 16 providers, not 0");
    s_expect (f, SET (",\"providers\":[1]"), 400, 1009, "'[0]' must be an object");
    s_expect (f, SET (",\"providers\":{\"type\":\"www\"}"), 400, 1008, "'name' is required");
    s_expect (f, SET (",\"providers\":[{\"name\":\"a b\",\"type\":\"www\"}]"), 400, 1009,
              "'[0].name' may hold only letters, digits");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"s3\",\"config\":{\"bearer\":\"t\"}}]"),
              400, 1009, "'[0].type' must be \"www\"");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\"}]"), 400, 1008, "'[0].config' is required");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{}}]"), 400, 1008,
              "'[0].config' must hold one of 'basic' and 'bearer'");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"bearer\":\"t\","
                      "\"basic\":{}}}]"), 400, 1009, "must hold one of 'basic' and 'bearer'");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"basic\":"
                      "{\"username\":\"u\"}}}]"), 400, 1008, "'[0].config.basic.password' is required");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"basic\":"
                      "{\"username\":\"u:x\",\"password\":\"p\"}}}]"), 400, 1009, "holds a ':'");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"bearer\":\"t\"},"
                      "\"extra\":1}]"), 400, 1009, "'[0].extra' is not a field");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"bearer\":\"a b\"}}]"),
              400, 1009, "'[0].config.bearer' holds a space");
    s_expect (f, SET (",\"providers\":[{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"bearer\":\"t\"}},"
                      "{\"name\":\"cdn\",\"type\":\"www\",\"config\":{\"bearer\":\"u\"}}]"), 400, 1009,
              "'[1].name': 'cdn' is named twice");
#undef SET
    s_expect (f, "{\"op\":\"providers_delete\",\"by\":\"admin\",\"name\":\"no/such\"}", 404, 1006,
              "no media provider is named 'no/such'");
    s_expect (f, "{\"op\":\"providers_delete\",\"by\":\"admin\"}", 404, 1006, "no media provider is named ''");
    s_expect (f, "{\"op\":\"providers_delete\",\"name\":\"cdn\"}", 400, 1008, "'by' is missing");
    //  A secondary answers 1017 at once; the Webapp looks for the primary.
    f->master.primary = false;
    s_expect (f, "{\"op\":\"providers_get\"}", 500, 1017, "is not the primary Master");
    s_expect (f, "{\"op\":\"message_gc\",\"by\":\"admin\"}", 500, 1017, "is not the primary Master");
    assert_int_equal (f->master.stored, 0);
}

static void
test_providers_shown (void **state)
{
    (void) state;
    json_t *shown = wa_providers_shown ("cdn", "www", "{\"basic\":{\"username\":\"bob\",\"password\":\"hunter2\"}}");
    char *text = json_dumps (shown, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal (text, "{\"config\":{\"basic\":{\"password\":\"(set)\",\"username\":\"bob\"}},"
                               "\"name\":\"cdn\",\"type\":\"www\"}");
    free (text);
    json_decref (shown);
    shown = wa_providers_shown ("t", "www", "{\"bearer\":\"secret-token\"}");
    text = json_dumps (shown, JSON_COMPACT | JSON_SORT_KEYS);
    assert_null (strstr (text, "secret-token"));
    assert_non_null (strstr (text, "\"bearer\":\"(set)\""));
    free (text);
    json_decref (shown);
    //  Damaged stored JSON: shown without credentials, no crash.
    shown = wa_providers_shown ("x", "www", "{not json");
    assert_int_equal ((int) json_object_size (json_object_get (shown, "config")), 0);
    json_decref (shown);
    //  "(set)" sent back keeps the stored credential, and only one of its kind.
    char why[300];
    json_t *config = json_pack ("{s:{s:s, s:s}}", "basic", "username", "bob", "password", "(set)");
    assert_int_equal (wa_providers_keep (config, "{\"basic\":{\"username\":\"al\",\"password\":\"pw\"}}",
                                      "config", why, sizeof why), 0);
    assert_string_equal (json_string_value (json_object_get (json_object_get (config, "basic"), "password")), "pw");
    assert_int_equal (wa_providers_keep (config, NULL, "config", why, sizeof why), 0);     //  a real one stays
    json_decref (config);
    config = json_pack ("{s:s}", "bearer", "(set)");
    assert_int_equal (wa_providers_keep (config, "{\"basic\":{\"username\":\"al\",\"password\":\"pw\"}}",
                                      "config", why, sizeof why), -1);
    assert_non_null (strstr (why, "'config.bearer' is \"(set)\""));
    assert_int_equal (wa_providers_keep (config, NULL, "config", why, sizeof why), -1);
    json_decref (config);
}

//  The next answer's body (no errors), as JSON text with sorted keys.
static char *
s_ok_body (fixture_t *f, uint64_t seq)
{
    zpoller_t *poller = zpoller_new (f->dealer, NULL);
    assert_ptr_equal (zpoller_wait (poller, 2000), f->dealer);
    zpoller_destroy (&poller);
    assert_int_equal (wa_codec_recv (f->dealer, NULL, &f->msg, NULL), 0);
    assert_int_equal (f->msg.seq, seq);
    assert_int_equal (f->msg.code, 200);
    json_t *body = json_loads (f->msg.text, 0, NULL);
    char *text = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (body);
    return text;
}

static void
test_message_gc (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    //  Answered when the pass ends, with what it deleted.
    t_send (f, 501, "{\"op\":\"message_gc\",\"by\":\"admin\"}");
    assert_int_equal (f->master.gc_asked, 1);
    int64_t deleted[4] = { 495, 297, 40, 12 };
    api_gc_ended (f->api, deleted, true, "");
    char *text = s_ok_body (f, 501);
    assert_string_equal (text, "{\"services\":{\"message\":{\"gc\":{\"callbacks_deleted\":297,\"events_deleted\":40,"
                               "\"inbound_ids_deleted\":12,\"messages_deleted\":495,\"more\":true,"
                               "\"status\":\"complete\"}}}}");
    free (text);
    //  Two waiting for one pass: both answered, once.
    t_send (f, 502, "{\"op\":\"message_gc\",\"by\":\"admin\"}");
    t_send (f, 503, "{\"op\":\"message_gc\",\"by\":\"bob\"}");
    api_gc_ended (f->api, deleted, false, "");
    free (s_ok_body (f, 502));
    free (s_ok_body (f, 503));
    //  A pass with nothing to do ends within the hook: answered at once.
    f->master.gc_at_once = true;
    t_send (f, 504, "{\"op\":\"message_gc\",\"by\":\"admin\"}");
    text = s_ok_body (f, 504);
    assert_non_null (strstr (text, "\"messages_deleted\":0"));
    free (text);
    f->master.gc_at_once = false;
    //  A failed pass, a lost lease, a Master that cannot: the errors.
    t_send (f, 505, "{\"op\":\"message_gc\",\"by\":\"admin\"}");
    api_gc_ended (f->api, deleted, false, "Lock wait timeout");
    s_answer (f, 505, 500, 1023, "the retention pass failed after deleting 495 outbox rows");
    t_send (f, 506, "{\"op\":\"message_gc\",\"by\":\"admin\"}");
    api_gc_ended (f->api, NULL, false, NULL);
    s_answer (f, 506, 500, 1017, "lost its lease");
    f->master.gc_refuse = true;
    s_expect (f, "{\"op\":\"message_gc\",\"by\":\"admin\"}", 500, 1017, "is not the primary Master");
    s_expect (f, "{\"op\":\"message_gc\"}", 400, 1008, "'by' is missing");
    //  Nothing is left waiting: a late end answers nobody.
    api_gc_ended (f->api, deleted, false, "");
    zpoller_t *poller = zpoller_new (f->dealer, NULL);
    assert_null (zpoller_wait (poller, 20));
    zpoller_destroy (&poller);
}

#define CERT "QWNtZSBTaG9w"         //  base64 of "Acme Shop"

static void
test_account_input (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    s_expect (f, "{\"op\":\"register\",\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\","
              "\"cert\":\"" CERT "\"}", 400, 1008, "'by' is missing");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\"}", 400, 1008, "'cc' is missing");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":1}", 400, 1009, "'cc' must be a string");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"0\"}", 400, 1009, "'cc' must be a country");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"631555123456789\"}", 400,
              1009, "'phone_number' must be");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\","
              "\"method\":\"fax\"}", 400, 1009, "'method' must be");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\","
              "\"method\":\"sms\",\"cert\":\"%%%%\"}", 400, 1009, "'cert' must be");
    s_expect (f, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\","
              "\"method\":\"sms\",\"cert\":\"" CERT "\",\"pin\":\"12\"}", 400, 1009, "'pin' must be");
    s_expect (f, "{\"op\":\"verify\",\"by\":\"admin\"}", 400, 1008, "'code' is missing");
    s_expect (f, "{\"op\":\"verify\",\"by\":\"admin\",\"code\":\"12345\"}", 400, 1009, "'code' must be");
    s_expect (f, "{\"op\":\"shards_set\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\","
              "\"shards\":3}", 400, 1009, "'shards' must be one of");
    s_expect (f, "{\"op\":\"shards_set\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\"}",
              400, 1008, "'shards' is missing");
    f->master.primary = false;
    s_expect (f, "{\"op\":\"shards_get\"}", 500, 1017, "is not the primary Master");
    s_expect (f, "{\"op\":\"verify\",\"by\":\"admin\",\"code\":\"123-456\"}", 500, 1017,
              "is not the primary Master");
}

//  Run the reactor for ms (the upstream's timeout fires on it).
//  The fake wagate takes one CONTROL: its JSON (the caller frees) and sender.
static json_t *
s_gate_take (zsock_t *gate, zframe_t **sender)
{
    zpoller_t *poller = zpoller_new (gate, NULL);
    assert_ptr_equal (zpoller_wait (poller, 2000), gate);
    zpoller_destroy (&poller);
    wa_msg_t msg;
    assert_int_equal (wa_codec_recv (gate, sender, &msg, NULL), 0);
    assert_int_equal (msg.type, WA_MSG_CONTROL);
    json_t *request = json_loads (msg.text, 0, NULL);
    assert_non_null (request);
    return request;
}

static void
s_gate_answer (zsock_t *gate, zframe_t *sender, uint32_t status, json_t *body)
{
    char *text = json_dumps (body, JSON_COMPACT);
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_CONTROL_REPLY);
    msg.code = status;
    wa_msg_set_text (&msg, text);
    assert_int_equal (wa_codec_send (gate, sender, &msg), 0);
    free (text);
    json_decref (body);
}

//  The API again, its link to the upstream connected to endpoint (a new
//  loop: the old one holds the old API's readers).
static void
s_api_restart (fixture_t *f, const char *endpoint)
{
    api_destroy (&f->api);
    wa_loop_destroy (&f->loop);
    f->loop = wa_loop_new ();
    snprintf (f->settings.upstream_control_endpoint, sizeof f->settings.upstream_control_endpoint, "%s", endpoint);
    s_api_start (f);
}

static void
test_upstream (void **state)
{
    fixture_t *f = *state;
    f->master.primary = f->master.ready = true;
    //  Nobody listening (port 1 over TCP: an inproc connect would queue):
    //  the request cannot go, and the Webapp may retry.
    s_api_restart (f, "tcp://127.0.0.1:1");
    s_expect (f, "{\"op\":\"verify\",\"by\":\"admin\",\"code\":\"123456\"}", 503, 1011,
              "cannot reach the upstream's control endpoint tcp://127.0.0.1:1");
    zsock_t *gate = zsock_new_router (f->gate_endpoint);
    assert_non_null (gate);
    s_api_restart (f, f->gate_endpoint);

    //  Refused upstream: 400 with the upstream's reason.
    t_send (f, 501, "{\"op\":\"register\",\"by\":\"admin\",\"cc\":\"1\",\"phone_number\":\"6315551234\","
            "\"method\":\"voice\",\"cert\":\"" CERT "\",\"pin\":\"123456\"}");
    zframe_t *sender = NULL;
    json_t *request = s_gate_take (gate, &sender);
    assert_string_equal (json_string_value (json_object_get (request, "op")), "register");
    assert_string_equal (json_string_value (json_object_get (request, "method")), "voice");
    assert_string_equal (json_string_value (json_object_get (request, "pin")), "123456");
    assert_null (json_object_get (request, "by"));
    json_t *id = json_object_get (request, "id");
    assert_true (json_is_integer (id));
    s_gate_answer (gate, sender, 400, json_pack ("{s:s, s:O}", "error", "the account is registered as +44 1",
                                                 "id", id));
    s_run_loop (f, 50);
    s_answer (f, 501, 400, 1009, "the account is registered as +44 1");
    json_decref (request);
    zframe_destroy (&sender);

    //  Silent upstream: 1011 after its timeout; the late answer is dropped.
    t_send (f, 502, "{\"op\":\"verify\",\"by\":\"admin\",\"code\":\"123456\"}");
    request = s_gate_take (gate, &sender);
    assert_string_equal (json_string_value (json_object_get (request, "code")), "123456");
    s_run_loop (f, 400);
    s_answer (f, 502, 503, 1011, "did not answer within 0.2 s");
    s_gate_answer (gate, sender, 201, json_pack ("{s:O}", "id", json_object_get (request, "id")));
    s_run_loop (f, 50);
    zpoller_t *poller = zpoller_new (f->dealer, NULL);
    assert_null (zpoller_wait (poller, 50));
    zpoller_destroy (&poller);
    json_decref (request);
    zframe_destroy (&sender);
    assert_int_equal (f->master.stored, 0);
    zsock_destroy (&gate);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_malformed_frames, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_requests, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_changes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_not_primary_at_once, s_setup, s_teardown),
        cmocka_unit_test (test_settings_as_json),
        cmocka_unit_test (test_value_text),
        cmocka_unit_test (test_media_list),
        cmocka_unit_test (test_providers_shown),
        cmocka_unit_test_setup_teardown (test_message_gc, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_providers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_nested_changes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_account_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_upstream, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
