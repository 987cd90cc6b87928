/*  Unit tests for wa_trust (src/common/trust.c): who may talk on the node
    bus. What a cluster relies on is that a node refuses to start with
    settings that would leave its bus open or its key readable, that a
    connection is served only when its CURVE key is in the allow-list (and
    that a refusal is seen, in the stats), that a message is judged by the
    role of the key it came with, that a revoked key stops counting without
    a restart, and that no frame larger than WA_FRAME_MAX gets in.

    The certificates are made here with czmq (zcert) in a directory under
    /tmp, as `wactl keys new` makes them: a secret certificate per program
    (NAME.key_secret, mode 0600) and the public ones the cluster trusts in
    the allow-list (bus_keys_dir). The handshakes are real ones, over
    tcp://127.0.0.1, with libzmq asking our ZAP handler. A process has one
    ZAP endpoint, so at most one server trust (role coreapp or master) is
    alive at a time; the trusts live in the fixture, so that teardown
    destroys them even after a failed assertion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wa_actor.h"
#include "wa_codec.h"
#include "wa_config.h"
#include "wa_log.h"
#include "wa_trust.h"

#define WAIT_MS 5000            //  the longest a positive condition may take
#define QUIET_MS 1000           //  how long a negative is watched for

//  A directory of certificates: secret/ holds every program's secret (and
//  public) certificate, trusted/ the allow-list.
typedef struct {
    char base[64];
    char secret[128];
    char trusted[128];
    char core_key[WA_KEY_TEXT];         //  core1, coreapp, trusted
    char web_key[WA_KEY_TEXT];          //  web1, webapp, trusted
    char master_key[WA_KEY_TEXT];       //  master1, master, trusted
    char stranger_key[WA_KEY_TEXT];     //  stranger, webapp, not trusted
    //  A test's trusts, destroyed in teardown also when an assertion failed:
    //  a server left alive would hold the process's one ZAP endpoint.
    wa_trust_t *server;
    wa_trust_t *client;
    wa_trust_t *other;
} fixture_t;

//  Make NAME's certificate of role in secret/ (the secret one chmod 600),
//  and put its public one in the allow-list when trusted.
static void
s_cert_new (fixture_t *f, const char *role, const char *name, bool trusted, char key[WA_KEY_TEXT])
{
    zcert_t *cert = zcert_new ();
    assert_non_null (cert);
    zcert_set_meta (cert, "role", "%s", role);
    zcert_set_meta (cert, "name", "%s", name);
    char path[256];
    snprintf (path, sizeof path, "%s/%s.key", f->secret, name);
    assert_int_equal (zcert_save (cert, path), 0);
    snprintf (path, sizeof path, "%s/%s.key_secret", f->secret, name);
    assert_int_equal (chmod (path, 0600), 0);
    if (trusted) {
        snprintf (path, sizeof path, "%s/%s.key", f->trusted, name);
        assert_int_equal (zcert_save_public (cert, path), 0);
    }
    snprintf (key, WA_KEY_TEXT, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  Settings of the program whose certificate is NAME's.
static void
s_config (fixture_t *f, wa_config_t *config, const char *name)
{
    wa_config_defaults (config);
    snprintf (config->bus_security, sizeof config->bus_security, "curve");
    snprintf (config->bus_cert, sizeof config->bus_cert, "%s/%s.key_secret", f->secret, name);
    snprintf (config->bus_keys_dir, sizeof config->bus_keys_dir, "%s", f->trusted);
}

static wa_trust_t *
s_trust_new (fixture_t *f, const char *name, wa_role_t role)
{
    wa_config_t config;
    s_config (f, &config, name);
    char err[512] = "";
    wa_trust_t *trust = wa_trust_new (&config, role, err, sizeof err);
    if (!trust)
        fail_msg ("wa_trust_new (%s): %s", name, err);
    return trust;
}

static void
s_rmtree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *ent;
        while ((ent = readdir (dir))) {
            if (streq (ent->d_name, ".") || streq (ent->d_name, ".."))
                continue;
            char child[512];
            snprintf (child, sizeof child, "%s/%s", path, ent->d_name);
            struct stat st;
            if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
                s_rmtree (child);
            else
                unlink (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

static int
s_setup (void **state)
{
    fixture_t *f = (fixture_t *) calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    snprintf (f->base, sizeof f->base, "/tmp/wa-test-trust-XXXXXX");
    assert_non_null (mkdtemp (f->base));
    snprintf (f->secret, sizeof f->secret, "%s/secret", f->base);
    snprintf (f->trusted, sizeof f->trusted, "%s/trusted", f->base);
    assert_int_equal (mkdir (f->secret, 0700), 0);
    assert_int_equal (mkdir (f->trusted, 0755), 0);
    s_cert_new (f, "coreapp", "core1", true, f->core_key);
    s_cert_new (f, "webapp", "web1", true, f->web_key);
    s_cert_new (f, "master", "master1", true, f->master_key);
    s_cert_new (f, "webapp", "stranger", false, f->stranger_key);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    wa_trust_destroy (&f->other);
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->server);
    s_rmtree (f->base);
    free (f);
    return 0;
}

//  One of wa_trust_stats_json's numbers.
static json_int_t
s_stat (wa_trust_t *trust, const char *name)
{
    json_t *stats = wa_trust_stats_json (trust);
    assert_non_null (stats);
    json_t *value = json_object_get (stats, name);
    assert_true (json_is_integer (value));
    json_int_t result = json_integer_value (value);
    json_decref (stats);
    return result;
}

//  Wait up to ms for sock to be readable.
static bool
s_readable (zsock_t *sock, int ms)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert_non_null (poller);
    bool readable = zpoller_wait (poller, ms) == sock;
    zpoller_destroy (&poller);
    return readable;
}

//  A ROUTER on tcp://127.0.0.1, any free port, made a server by trust.
static zsock_t *
s_server (wa_trust_t *trust)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_linger (router, 0);
    wa_trust_server (trust, router);
    assert_true (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    return router;
}

//  A DEALER made a client of the server (role coreapp) by trust, connected.
static zsock_t *
s_client (wa_trust_t *trust, zsock_t *server, const char *server_key)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    char err[512] = "";
    if (wa_trust_client (trust, dealer, server_key, WA_ROLE_COREAPP, err, sizeof err))
        fail_msg ("wa_trust_client: %s", err);
    assert_int_equal (zsock_connect (dealer, "%s", zsock_endpoint (server)), 0);
    return dealer;
}

static void
s_send_request (zsock_t *sock, uint64_t seq)
{
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_API_REQ);
    msg.seq = seq;
    wa_msg_set_text (&msg, "{\"op\":\"status\"}");
    assert_int_equal (wa_codec_send (sock, NULL, &msg), 0);
}

//  The next request on router, within WAIT_MS; its sender's id in *id
//  when id is not NULL.
static void
s_recv_request (zsock_t *router, wa_msg_t *msg, zframe_t **id)
{
    assert_true (s_readable (router, WAIT_MS));
    zframe_t *routing_id = NULL;
    int why = 0;
    assert_int_equal (wa_codec_recv (router, &routing_id, msg, &why), 0);
    assert_non_null (routing_id);
    assert_int_equal (msg->type, WA_MSG_API_REQ);
    if (id)
        *id = routing_id;
    else
        zframe_destroy (&routing_id);
}

//  ---------------------------------------------------------------------

static void
test_role_names (void **state)
{
    (void) state;
    const wa_role_t roles[] = { WA_ROLE_MASTER, WA_ROLE_COREAPP, WA_ROLE_WEBAPP, WA_ROLE_WACTL, WA_ROLE_TAP };
    const char *names[] = { "master", "coreapp", "webapp", "wactl", "tap" };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        assert_string_equal (wa_role_name (roles[i]), names[i]);
        assert_int_equal (wa_role_from_name (names[i]), roles[i]);
        assert_int_equal (wa_role_from_name (wa_role_name (roles[i])), roles[i]);
    }
    //  A node's kind is its role; anything else is no role at all.
    assert_int_equal (wa_role_of_kind ("coreapp"), WA_ROLE_COREAPP);
    assert_int_equal (wa_role_from_name ("Master"), WA_ROLE_NONE);
    assert_int_equal (wa_role_from_name ("admin"), WA_ROLE_NONE);
    assert_int_equal (wa_role_from_name (""), WA_ROLE_NONE);
    assert_int_equal (wa_role_from_name (NULL), WA_ROLE_NONE);
    assert_null (wa_role_name (WA_ROLE_NONE));
    assert_null (wa_role_name ((wa_role_t) (WA_ROLE_MASTER | WA_ROLE_WEBAPP)));
}

//  wa_trust_new with config; NULL expected, and err must contain expected.
static void
s_expect_refused (const wa_config_t *config, wa_role_t role, const char *expected)
{
    char err[512] = "";
    wa_trust_t *trust = wa_trust_new (config, role, err, sizeof err);
    if (trust) {
        wa_trust_destroy (&trust);
        fail_msg ("wa_trust_new accepted what should be refused with '%s'", expected);
    }
    if (!strstr (err, expected))
        fail_msg ("err '%s' does not say '%s'", err, expected);
}

static void
test_new_refuses_bad_settings (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    wa_config_t config;

    //  curve without a certificate
    s_config (f, &config, "core1");
    config.bus_cert[0] = 0;
    s_expect_refused (&config, WA_ROLE_COREAPP, "bus_cert is not set");

    //  the public certificate given for the secret one
    s_config (f, &config, "core1");
    snprintf (config.bus_cert, sizeof config.bus_cert, "%s/core1.key", f->secret);
    s_expect_refused (&config, WA_ROLE_COREAPP, "must name a secret certificate");

    //  a secret others can read
    s_config (f, &config, "core1");
    assert_int_equal (chmod (config.bus_cert, 0644), 0);
    s_expect_refused (&config, WA_ROLE_COREAPP, "can be read by others");
    assert_int_equal (chmod (config.bus_cert, 0600), 0);

    //  a certificate that does not exist
    s_config (f, &config, "nobody");
    s_expect_refused (&config, WA_ROLE_COREAPP, "nobody.key_secret");

    //  a Webapp's certificate for a Coreapp
    s_config (f, &config, "web1");
    s_expect_refused (&config, WA_ROLE_COREAPP, "certificate of role 'webapp'");

    //  no allow-list
    s_config (f, &config, "core1");
    snprintf (config.bus_keys_dir, sizeof config.bus_keys_dir, "%s/nowhere", f->base);
    s_expect_refused (&config, WA_ROLE_COREAPP, "is not a directory");

    //  without CURVE, only loopback
    s_config (f, &config, "core1");
    snprintf (config.bus_security, sizeof config.bus_security, "off");
    snprintf (config.bind_address, sizeof config.bind_address, "10.1.2.3");
    s_expect_refused (&config, WA_ROLE_COREAPP, "bind_address is '10.1.2.3'");
    snprintf (config.bind_address, sizeof config.bind_address, "0.0.0.0");
    s_expect_refused (&config, WA_ROLE_COREAPP, "bind_address is '0.0.0.0'");

    //  ... to which "*" is narrowed
    char err[512] = "";
    snprintf (config.bind_address, sizeof config.bind_address, "*");
    f->server = wa_trust_new (&config, WA_ROLE_COREAPP, err, sizeof err);
    assert_non_null (f->server);
    assert_false (wa_trust_secure (f->server));
    assert_string_equal (wa_trust_bind_address (f->server), "127.0.0.1");
    assert_string_equal (wa_trust_public_key (f->server), "");
    assert_null (wa_trust_sock (f->server));
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_API_REQ);
    assert_int_equal (wa_trust_sender (f->server, &msg), WA_ROLE_ANY);
    assert_true (wa_trust_allow (f->server, &msg, WA_ROLE_MASTER, "api"));
    wa_trust_destroy (&f->server);
    assert_null (f->server);
    snprintf (config.bind_address, sizeof config.bind_address, "::1");
    f->server = wa_trust_new (&config, WA_ROLE_COREAPP, err, sizeof err);
    assert_non_null (f->server);
    assert_string_equal (wa_trust_bind_address (f->server), "::1");
    wa_trust_destroy (&f->server);

    //  and the settings that are right
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    assert_true (wa_trust_secure (f->server));
    assert_string_equal (wa_trust_public_key (f->server), f->core_key);
    assert_string_equal (wa_trust_bind_address (f->server), "*");
    assert_non_null (wa_trust_sock (f->server));
    json_t *stats = wa_trust_stats_json (f->server);
    assert_string_equal (json_string_value (json_object_get (stats, "security")), "curve");
    assert_string_equal (json_string_value (json_object_get (stats, "role")), "coreapp");
    assert_string_equal (json_string_value (json_object_get (stats, "key")), f->core_key);
    assert_int_equal (json_integer_value (json_object_get (stats, "trusted_keys")), 3);
    json_decref (stats);
    wa_trust_destroy (&f->server);
}

//  The ZAP endpoint is one per process: a second handshake checker would
//  answer nothing, and when the first went, libzmq would let every key in.
static void
test_one_handshake_checker (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    wa_config_t config;
    s_config (f, &config, "master1");
    char err[512] = "";
    f->other = wa_trust_new (&config, WA_ROLE_MASTER, err, sizeof err);
    if (f->other)
        fail_msg ("a second handshake checker was accepted");
    assert_non_null (strstr (err, "handshake checker"));
    //  A client has none, so it may live beside a server.
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    assert_null (wa_trust_sock (f->client));
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->server);
    //  Once the first is gone, another may start, at once: libzmq gives
    //  the endpoint back a moment after the socket closes. (An empty
    //  allow-list: the handler, reading none, binds the soonest.)
    snprintf (config.bus_keys_dir, sizeof config.bus_keys_dir, "%s/empty", f->base);
    assert_int_equal (mkdir (config.bus_keys_dir, 0755), 0);
    for (int i = 0; i < 20; i++) {
        f->other = wa_trust_new (&config, WA_ROLE_MASTER, err, sizeof err);
        if (!f->other)
            fail_msg ("attempt %d: %s", i, err);
        assert_non_null (wa_trust_sock (f->other));
        wa_trust_destroy (&f->other);
    }
}

static void
test_trusted_client_is_served (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    zsock_t *router = s_server (f->server);
    zsock_t *dealer = s_client (f->client, router, wa_trust_public_key (f->server));

    s_send_request (dealer, 7);
    wa_msg_t msg;
    zframe_t *id = NULL;
    s_recv_request (router, &msg, &id);
    assert_int_equal (msg.seq, 7);
    assert_string_equal (msg.text, "{\"op\":\"status\"}");
    //  Who sent it is the key of its handshake, and that key's role.
    assert_string_equal (msg.sender_key, f->web_key);
    assert_int_equal (wa_trust_sender (f->server, &msg), WA_ROLE_WEBAPP);
    assert_string_equal (wa_trust_sender_name (f->server, &msg), "web1");
    assert_true (wa_trust_allow (f->server, &msg, WA_ROLE_WEBAPP | WA_ROLE_MASTER, "api"));
    assert_int_equal (s_stat (f->server, "refused_messages"), 0);
    assert_false (wa_trust_allow (f->server, &msg, WA_ROLE_COREAPP, "api"));
    assert_int_equal (s_stat (f->server, "refused_messages"), 1);
    assert_int_equal (s_stat (f->server, "refused_handshakes"), 0);

    //  The answer goes back over the same encrypted connection.
    wa_msg_t reply;
    wa_msg_init (&reply, WA_MSG_API_REP);
    reply.seq = 7;
    reply.code = 200;
    wa_msg_set_text (&reply, "{}");
    assert_int_equal (wa_codec_send (router, id, &reply), 0);
    zframe_destroy (&id);
    assert_true (s_readable (dealer, WAIT_MS));
    assert_int_equal (wa_codec_recv (dealer, NULL, &msg, NULL), 0);
    assert_int_equal (msg.type, WA_MSG_API_REP);
    assert_int_equal (msg.code, 200);

    zsock_destroy (&dealer);
    zsock_destroy (&router);
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->server);
}

static void
test_unknown_key_is_refused (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    //  The stranger has a good certificate and knows the server's key; the
    //  cluster just does not trust it.
    f->other = s_trust_new (f, "stranger", WA_ROLE_WEBAPP);
    zsock_t *router = s_server (f->server);
    zsock_t *stranger = s_client (f->other, router, f->core_key);
    s_send_request (stranger, 1);

    zsock_t *refusals = wa_trust_sock (f->server);
    assert_non_null (refusals);
    zpoller_t *poller = zpoller_new (router, refusals, NULL);
    int64_t deadline = zclock_mono () + WAIT_MS;
    void *which = NULL;
    while (!which && zclock_mono () < deadline)
        which = zpoller_wait (poller, (int) (deadline - zclock_mono ()));
    zpoller_destroy (&poller);
    if (which == router)
        fail_msg ("a message from an untrusted key arrived");
    assert_ptr_equal (which, refusals);
    wa_trust_on_refusal (f->server);
    assert_int_equal (s_stat (f->server, "refused_handshakes"), 1);
    assert_int_equal (s_stat (f->server, "refused_keyless"), 0);
    //  ... and however long it tries, nothing of it gets through.
    assert_false (s_readable (router, QUIET_MS));
    zsock_destroy (&stranger);

    //  The same server serves a trusted client: the first message it
    //  reads is that one.
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    zsock_t *dealer = s_client (f->client, router, f->core_key);
    s_send_request (dealer, 2);
    wa_msg_t msg;
    s_recv_request (router, &msg, NULL);
    assert_int_equal (msg.seq, 2);
    assert_string_equal (msg.sender_key, f->web_key);

    zsock_destroy (&dealer);
    zsock_destroy (&router);
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->other);
    wa_trust_destroy (&f->server);
}

static void
test_client_without_curve_is_not_served (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    zsock_t *router = s_server (f->server);
    //  How a node sees these: its socket monitor.
    wa_actor_t *monitor = wa_actor_new (zmonitor, router);
    assert_non_null (monitor);
    zstr_sendx (wa_actor_sock (monitor), "LISTEN", "HANDSHAKE_FAILED_PROTOCOL",
                "HANDSHAKE_FAILED_NO_DETAIL", "HANDSHAKE_FAILED_AUTH", NULL);
    zstr_send (wa_actor_sock (monitor), "START");
    zsock_wait (wa_actor_sock (monitor));

    zsock_t *plain = zsock_new (ZMQ_DEALER);
    assert_non_null (plain);
    zsock_set_linger (plain, 0);
    assert_int_equal (zsock_connect (plain, "%s", zsock_endpoint (router)), 0);
    s_send_request (plain, 1);

    assert_true (s_readable (wa_actor_sock (monitor), WAIT_MS));
    char *event = NULL, *value = NULL, *endpoint = NULL;
    assert_int_equal (zstr_recvx (wa_actor_sock (monitor), &event, &value, &endpoint, NULL), 3);
    assert_string_equal (event, "HANDSHAKE_FAILED_PROTOCOL");
    wa_trust_on_protocol_failure (f->server, "api", endpoint);
    zstr_free (&event);
    zstr_free (&value);
    zstr_free (&endpoint);
    assert_int_equal (s_stat (f->server, "refused_keyless"), 1);

    assert_false (s_readable (router, QUIET_MS));
    //  No key was offered: the handshake checker was not asked.
    assert_false (s_readable (wa_trust_sock (f->server), 0));
    assert_int_equal (s_stat (f->server, "refused_handshakes"), 0);
    zsock_destroy (&plain);
    wa_actor_destroy (&monitor);

    //  The server works: a trusted client's message is the first it reads.
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    zsock_t *dealer = s_client (f->client, router, f->core_key);
    s_send_request (dealer, 2);
    wa_msg_t msg;
    s_recv_request (router, &msg, NULL);
    assert_int_equal (msg.seq, 2);
    assert_string_equal (msg.sender_key, f->web_key);

    zsock_destroy (&dealer);
    zsock_destroy (&router);
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->server);
}

//  wa_trust_client refuses key (roles), and err says why.
static void
s_expect_client_refused (wa_trust_t *trust, const char *key, unsigned roles, const char *expected)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    char err[512] = "";
    int rc = wa_trust_client (trust, dealer, key, roles, err, sizeof err);
    zsock_destroy (&dealer);
    if (rc != -1)
        fail_msg ("wa_trust_client accepted %s", key ? key : "NULL");
    if (!strstr (err, expected))
        fail_msg ("err '%s' does not say '%s'", err, expected);
}

static void
test_client_checks_the_server_key (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    s_expect_client_refused (f->client, f->stranger_key, WA_ROLE_ANY, "not in the allow-list");
    //  A trusted key, but a Webapp's where a Coreapp or Master should be
    s_expect_client_refused (f->client, f->web_key, WA_ROLE_COREAPP | WA_ROLE_MASTER, "webapp");
    s_expect_client_refused (f->client, f->master_key, WA_ROLE_COREAPP, "master");
    s_expect_client_refused (f->client, "not a key", WA_ROLE_ANY, "no bus key");
    s_expect_client_refused (f->client, "", WA_ROLE_ANY, "no bus key");
    s_expect_client_refused (f->client, NULL, WA_ROLE_ANY, "no bus key");
    //  41 characters: one too many
    char longer[64];
    snprintf (longer, sizeof longer, "%sA", f->core_key);
    s_expect_client_refused (f->client, longer, WA_ROLE_ANY, "no bus key");

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    char err[512] = "";
    assert_int_equal (wa_trust_client (f->client, dealer, f->core_key, WA_ROLE_COREAPP | WA_ROLE_MASTER,
                                       err, sizeof err), 0);
    zsock_destroy (&dealer);
    wa_trust_destroy (&f->client);
}

//  Move dir's mtime on by a second: a change the list cannot miss, however
//  coarse the file system's clock.
static void
s_bump_mtime (const char *dir)
{
    struct stat st;
    assert_int_equal (stat (dir, &st), 0);
    struct timespec times[2] = { { 0, UTIME_OMIT }, st.st_mtim };
    times[1].tv_sec++;
    assert_int_equal (utimensat (AT_FDCWD, dir, times, 0), 0);
}

static void
test_revoked_key_stops_counting (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->server = s_trust_new (f, "core1", WA_ROLE_COREAPP);
    f->client = s_trust_new (f, "web1", WA_ROLE_WEBAPP);
    zsock_t *router = s_server (f->server);
    zsock_t *dealer = s_client (f->client, router, f->core_key);
    s_send_request (dealer, 1);
    wa_msg_t msg;
    s_recv_request (router, &msg, NULL);
    assert_int_equal (wa_trust_sender (f->server, &msg), WA_ROLE_WEBAPP);
    assert_int_equal (s_stat (f->server, "trusted_keys"), 3);

    char path[256];
    snprintf (path, sizeof path, "%s/web1.key", f->trusted);
    assert_int_equal (unlink (path), 0);
    s_bump_mtime (f->trusted);
    //  The list is read again at most once a second.
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (wa_trust_sender (f->server, &msg) != WA_ROLE_NONE && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (wa_trust_sender (f->server, &msg), WA_ROLE_NONE);
    assert_string_equal (wa_trust_sender_name (f->server, &msg), "");
    assert_int_equal (s_stat (f->server, "trusted_keys"), 2);

    //  The connection it already had still carries its messages, and each
    //  is refused.
    s_send_request (dealer, 2);
    s_recv_request (router, &msg, NULL);
    assert_int_equal (msg.seq, 2);
    assert_string_equal (msg.sender_key, f->web_key);
    assert_int_equal (wa_trust_sender (f->server, &msg), WA_ROLE_NONE);
    assert_false (wa_trust_allow (f->server, &msg, WA_ROLE_ANY, "api"));
    assert_int_equal (s_stat (f->server, "refused_messages"), 1);

    //  A new connection with that key is refused at the handshake.
    zsock_t *again = s_client (f->client, router, f->core_key);
    s_send_request (again, 3);
    assert_true (s_readable (wa_trust_sock (f->server), WAIT_MS));
    wa_trust_on_refusal (f->server);
    assert_int_equal (s_stat (f->server, "refused_handshakes"), 1);
    assert_false (s_readable (router, QUIET_MS));

    zsock_destroy (&again);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    wa_trust_destroy (&f->client);
    wa_trust_destroy (&f->server);
}

//  The entry of list whose name is name.
static json_t *
s_listed (json_t *list, const char *name)
{
    size_t index;
    json_t *entry;
    json_array_foreach (list, index, entry) {
        if (streq (json_string_value (json_object_get (entry, "name")), name))
            return entry;
    }
    return NULL;
}

static void
s_expect_listed (fixture_t *f, json_t *list, const char *name, const char *role, const char *key)
{
    json_t *entry = s_listed (list, name);
    if (!entry)
        fail_msg ("%s is not listed", name);
    assert_string_equal (json_string_value (json_object_get (entry, "role")), role);
    assert_string_equal (json_string_value (json_object_get (entry, "key")), key);
    char file[256];
    snprintf (file, sizeof file, "%s/%s.key", f->trusted, name);
    assert_string_equal (json_string_value (json_object_get (entry, "file")), file);
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static void
test_list (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    char path[256];
    //  What is not a trusted certificate is left out: a secret one (of a
    //  key not trusted otherwise), a file of something else, a certificate
    //  without a role or of an unknown one.
    char from[256];
    snprintf (from, sizeof from, "%s/stranger.key_secret", f->secret);
    snprintf (path, sizeof path, "%s/stranger.key_secret", f->trusted);
    assert_int_equal (link (from, path), 0);
    snprintf (path, sizeof path, "%s/README", f->trusted);
    s_write (path, "#   The public certificates the cluster trusts\n");
    zcert_t *cert = zcert_new ();
    snprintf (path, sizeof path, "%s/norole.key", f->trusted);
    assert_int_equal (zcert_save_public (cert, path), 0);
    zcert_set_meta (cert, "role", "%s", "admin");
    snprintf (path, sizeof path, "%s/admin.key", f->trusted);
    assert_int_equal (zcert_save_public (cert, path), 0);
    zcert_destroy (&cert);

    char err[512] = "";
    json_t *list = wa_trust_list (f->trusted, err, sizeof err);
    assert_non_null (list);
    assert_int_equal (json_array_size (list), 3);
    s_expect_listed (f, list, "core1", "coreapp", f->core_key);
    s_expect_listed (f, list, "web1", "webapp", f->web_key);
    s_expect_listed (f, list, "master1", "master", f->master_key);
    json_decref (list);

    snprintf (path, sizeof path, "%s/nowhere", f->base);
    assert_null (wa_trust_list (path, err, sizeof err));
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "cannot read"));
}

static void
s_send_bytes (zsock_t *sock, size_t size, char fill)
{
    char *data = (char *) malloc (size);
    assert_non_null (data);
    memset (data, fill, size);
    zframe_t *frame = zframe_new (data, size);
    free (data);
    assert_int_equal (zframe_send (&frame, sock, 0), 0);
}

static void
test_frame_size_limit (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    wa_config_t config;
    s_config (f, &config, "core1");
    snprintf (config.bus_security, sizeof config.bus_security, "off");
    char err[512] = "";
    f->server = wa_trust_new (&config, WA_ROLE_COREAPP, err, sizeof err);
    assert_non_null (f->server);
    zsock_t *router = s_server (f->server);
    zsock_t *first = s_client (f->server, router, NULL);

    //  WA_FRAME_MAX itself gets in ...
    s_send_bytes (first, WA_FRAME_MAX, 'a');
    assert_true (s_readable (router, WAIT_MS));
    zmsg_t *msg = zmsg_recv (router);
    assert_int_equal (zmsg_size (msg), 2);
    assert_int_equal (zframe_size (zmsg_last (msg)), WA_FRAME_MAX);
    zmsg_destroy (&msg);
    //  ... one byte more does not,
    s_send_bytes (first, WA_FRAME_MAX + 1, 'b');
    assert_false (s_readable (router, QUIET_MS));
    //  and the server still serves the next connection.
    zsock_t *second = s_client (f->server, router, NULL);
    s_send_bytes (second, 5, 'c');
    assert_true (s_readable (router, WAIT_MS));
    msg = zmsg_recv (router);
    assert_int_equal (zmsg_size (msg), 2);
    assert_int_equal (zframe_size (zmsg_last (msg)), 5);
    assert_true (zframe_streq (zmsg_last (msg), "ccccc"));
    zmsg_destroy (&msg);

    zsock_destroy (&second);
    zsock_destroy (&first);
    zsock_destroy (&router);
    wa_trust_destroy (&f->server);
}

int
main (void)
{
    wa_log_set_level (WA_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_role_names),
        cmocka_unit_test_setup_teardown (test_new_refuses_bad_settings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_one_handshake_checker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_trusted_client_is_served, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_key_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_without_curve_is_not_served, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_checks_the_server_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_revoked_key_stops_counting, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_frame_size_limit, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
