/*  warogue — a rogue host on the node bus, for the security tests (issue
    11): it sends one valid-looking frame, built with the cluster's own
    codec, to one endpoint and says what came back. Without --cert it
    offers no CURVE at all (a host holding no key); with --cert it
    handshakes with that secret certificate (a stolen node's, or one that
    nobody trusts) against --server-key. It never waits longer than
    --timeout, and exits 0 whatever the cluster did: the test reads the
    line it prints. */
#include <getopt.h>
#include <unistd.h>
#include <czmq.h>
#include <jansson.h>
#include "wa_codec.h"

//  What a rogue may try, and where: the attacks as data.
typedef enum {
    ATTACK_SEND_MESSAGE, ATTACK_SET_WEBHOOK, ATTACK_SETTINGS_RESET, ATTACK_SHARDS_SET,
    ATTACK_REGISTER, ATTACK_VERIFY, ATTACK_STATS, ATTACK_HB_REPLY, ATTACK_REPORT,
    ATTACK_SETTINGS_CHANGED, ATTACK_SWITCHOVER, ATTACK_HANDED_OVER, ATTACK_SUBSCRIBE, ATTACKS
} attack_id_t;

static const struct {
    const char *name;
    const char *arg;            //  "[X]" optional, "X" required, NULL none
    const char *port;
    const char *what;
} s_attacks[ATTACKS] = {
    { "send-message", "[TO]", "a Coreapp's api", "API_REQ op send: a text message to TO (15550006660), shard 0" },
    { "set-webhook", "URL", "a Master's api", "API_REQ op settings_patch: webhooks.url = URL, \"by\":\"admin\"" },
    { "settings-reset", NULL, "a Master's api", "API_REQ op settings_reset, \"by\":\"admin\"" },
    { "shards-set", "[N]", "a Master's api", "API_REQ op shards_set: N shards (2)" },
    { "register", NULL, "a Master's api", "API_REQ op register: a new account number" },
    { "verify", "[CODE]", "a Master's api", "API_REQ op verify: registration code CODE (123456)" },
    { "stats", NULL, "a node's control", "STATS_REQ" },
    { "hb-reply", "[NODE]", "a Master's control", "HB_REPLY for Coreapp NODE (1): alive, connected" },
    { "report", "[TEXT]", "a Master's control", "REPORT from master 999 with TEXT (\"1:0\": Coreapp 1 fresh)" },
    { "settings-changed", NULL, "a Master's control", "SETTINGS_CHANGED webhooks_url" },
    { "switchover", "[SHARD]", "a Master's control", "SWITCHOVER of shard SHARD (0) to a Coreapp the Master picks" },
    { "handed-over", "[NODE]", "a Master's control", "HANDED_OVER from Coreapp NODE (1): shard 0 handed over to 2" },
    { "subscribe", NULL, "a node's bus", "SUB to everything for --timeout s; prints received N" },
};

static void
s_usage (FILE *out)
{
    fprintf (out,
             "warogue " WA_VERSION " — a rogue host on the node bus, for the security tests\n\n"
             "Usage: warogue [options] ATTACK tcp://HOST:PORT [ARG]\n\n"
             "Sends one frame, made with the cluster's own codec, to the endpoint and\n"
             "prints one line: \"answered TYPE CODE TEXT\" (the first frame that came back)\n"
             "or \"no answer within N s\"; subscribe prints \"received N\". It exits 0 in\n"
             "either case (1 when it cannot run, 2 on bad usage): whether the cluster\n"
             "refused is for the caller to judge, in the answer, the node's stats and log.\n\n"
             "Attacks (the port to aim at, what is sent):\n");
    for (int i = 0; i < ATTACKS; i++) {
        char head[40];
        snprintf (head, sizeof head, "%s%s%s", s_attacks[i].name, s_attacks[i].arg ? " " : "",
                  s_attacks[i].arg ? s_attacks[i].arg : "");
        fprintf (out, "  %-22s to %s port:\n  %-22s %s\n", head, s_attacks[i].port, "", s_attacks[i].what);
    }
    fprintf (out,
             "\nOptions:\n"
             "  -c, --cert FILE        CURVE with this secret certificate (NAME.key_secret, as\n"
             "                         `wactl keys new` writes it); without it no CURVE at all\n"
             "  -k, --server-key Z85   the node's public key (its node_keys.bus_key), with --cert\n"
             "  -t, --timeout S        wait at most S seconds for an answer (default 2)\n"
             "  -h, --help             this text\n"
             "  -V, --version          print the version\n");
}

static int
s_usage_error (const char *fmt, const char *detail)
{
    fprintf (stderr, "warogue: ");
    fprintf (stderr, fmt, detail);
    fprintf (stderr, "; try 'warogue --help'\n");
    return 2;
}

//  The request of an attack, as the real sender would make it.
static int
s_build (attack_id_t attack, const char *arg, wa_msg_t *msg)
{
    json_t *request = NULL;
    wa_msg_init (msg, WA_MSG_API_REQ);
    msg->seq = 1;
    switch (attack) {
        case ATTACK_SEND_MESSAGE: {
            char key[64];
            snprintf (key, sizeof key, "w.rogue-%d-%" PRId64, (int) getpid (), zclock_usecs ());
            request = json_pack ("{s:s, s:s, s:i, s:{s:s, s:s, s:{s:s}}}", "op", "send", "key", key, "shard", 0,
                                 "message", "to", arg ? arg : "15550006660", "type", "text", "text", "body",
                                 "sent by a rogue host");
            break;
        }
        case ATTACK_SET_WEBHOOK:
            request = json_pack ("{s:s, s:{s:{s:s}}, s:s}", "op", "settings_patch", "changes", "webhooks", "url",
                                 arg, "by", "admin");
            break;
        case ATTACK_SETTINGS_RESET:
            request = json_pack ("{s:s, s:s}", "op", "settings_reset", "by", "admin");
            break;
        case ATTACK_SHARDS_SET:
            request = json_pack ("{s:s, s:s, s:s, s:s, s:i}", "op", "shards_set", "by", "admin", "cc", "1",
                                 "phone_number", "5550006660", "shards", arg ? atoi (arg) : 2);
            break;
        case ATTACK_REGISTER:
            //  cert: base64 of the verified name "Rogue".
            request = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", "register", "by", "admin", "cc", "1",
                                 "phone_number", "5550006660", "method", "sms", "cert", "Um9ndWU=");
            break;
        case ATTACK_VERIFY:
            request = json_pack ("{s:s, s:s, s:s}", "op", "verify", "by", "admin", "code", arg ? arg : "123456");
            break;
        case ATTACK_STATS:
            wa_msg_init (msg, WA_MSG_STATS_REQ);
            return 0;
        case ATTACK_HB_REPLY:
            wa_msg_init (msg, WA_MSG_HB_REPLY);
            msg->shard = UINT32_MAX;
            msg->node = arg ? strtoull (arg, NULL, 10) : 1;
            msg->seq = 1;
            msg->code = 1;
            wa_msg_set_text (msg, "secondary_coreapp");
            return 0;
        case ATTACK_REPORT:
            wa_msg_init (msg, WA_MSG_REPORT);
            msg->node = 999;
            wa_msg_set_text (msg, arg ? arg : "1:0");
            return 0;
        case ATTACK_SETTINGS_CHANGED:
            wa_msg_init (msg, WA_MSG_SETTINGS_CHANGED);
            wa_msg_set_text (msg, "webhooks_url");
            return 0;
        case ATTACK_SWITCHOVER:
            wa_msg_init (msg, WA_MSG_SWITCHOVER);
            msg->shard = arg ? (uint32_t) strtoul (arg, NULL, 10) : 0;
            msg->code = 1000;
            return 0;
        case ATTACK_HANDED_OVER:
            wa_msg_init (msg, WA_MSG_HANDED_OVER);
            msg->node = arg ? strtoull (arg, NULL, 10) : 1;
            msg->epoch = 99;
            msg->seq = 2;
            wa_msg_set_text (msg, "{}");
            return 0;
        default:
            return 0;
    }
    char *text = request ? json_dumps (request, JSON_COMPACT) : NULL;
    json_decref (request);
    if (!text)
        return -1;
    wa_msg_set_text (msg, text);
    free (text);
    return 0;
}

static bool
s_z85_key (const char *text)
{
    uint8_t raw[32];
    return text && strlen (text) == 40 && zmq_z85_decode (raw, text) != NULL;
}

//  CURVE as a client with the secret certificate in path. 0 / -1.
static int
s_curve (zsock_t *sock, const char *path, const char *server_key)
{
    zconfig_t *root = zconfig_load (path);
    const char *public_key = root ? zconfig_get (root, "curve/public-key", NULL) : NULL;
    const char *secret_key = root ? zconfig_get (root, "curve/secret-key", NULL) : NULL;
    int rc = -1;
    if (!s_z85_key (public_key) || !s_z85_key (secret_key))
        fprintf (stderr, "warogue: '%s' is not a secret certificate (curve public-key and secret-key)\n", path);
    else {
        zsock_set_curve_publickey (sock, public_key);
        zsock_set_curve_secretkey (sock, secret_key);
        zsock_set_curve_serverkey (sock, server_key);
        rc = 0;
    }
    zconfig_destroy (&root);
    return rc;
}

//  What comes back within timeout, in one line.
static void
s_listen (zsock_t *sock, wa_msg_t *msg, bool subscribe, double timeout)
{
    int64_t until = zclock_mono () + (int64_t) (timeout * 1000);
    zpoller_t *poller = zpoller_new (sock, NULL);
    uint64_t received = 0;
    bool answered = false;
    while (!answered && zclock_mono () < until) {
        if (!zpoller_wait (poller, (int) (until - zclock_mono ())))
            continue;
        int why = 0;
        int rc = wa_codec_recv (sock, NULL, msg, &why);
        if (subscribe)
            received += rc == 0;
        else
        if (rc == 0) {
            printf ("answered %s %u %s\n", wa_codec_type_name (msg->type), (unsigned) msg->code, msg->text);
            answered = true;
        }
        else
        if (rc == -2) {
            printf ("answered a malformed frame (%s)\n", wa_codec_strerror (why));
            answered = true;
        }
    }
    zpoller_destroy (&poller);
    if (subscribe)
        printf ("received %" PRIu64 "\n", received);
    else
    if (!answered)
        printf ("no answer within %g s\n", timeout);
}

static int
s_run (attack_id_t attack, const char *endpoint, const char *arg, const char *cert, const char *server_key,
       double timeout)
{
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    assert (msg);
    bool subscribe = attack == ATTACK_SUBSCRIBE;
    zsock_t *sock = zsock_new (subscribe ? ZMQ_SUB : ZMQ_DEALER);
    assert (sock);
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, (int) (timeout * 1000));
    int rc = 0;
    if ((cert && s_curve (sock, cert, server_key)) || s_build (attack, arg, msg))
        rc = 1;
    else
    if (zsock_connect (sock, "%s", endpoint)) {
        fprintf (stderr, "warogue: cannot connect to '%s': %s\n", endpoint, zmq_strerror (zmq_errno ()));
        rc = 2;
    }
    else {
        if (subscribe)
            zsock_set_subscribe (sock, "");
        if (!subscribe && wa_codec_send (sock, NULL, msg))
            printf ("no answer within %g s (the frame was not even taken)\n", timeout);
        else
            s_listen (sock, msg, subscribe, timeout);
    }
    zsock_destroy (&sock);
    free (msg);
    return rc;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "cert", required_argument, NULL, 'c' },
        { "server-key", required_argument, NULL, 'k' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *cert = NULL, *server_key = NULL;
    double timeout = 2;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, "c:k:t:hV", options, NULL)) != -1) {
        switch (opt) {
            case 'c': cert = optarg; break;
            case 'k': server_key = optarg; break;
            case 't': {
                char *end = NULL;
                timeout = strtod (optarg, &end);
                if (end == optarg || *end || !(timeout > 0 && timeout <= 3600))
                    return s_usage_error ("--timeout must be seconds, more than 0 and at most 3600, not '%s'",
                                          optarg);
                break;
            }
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("warogue %s\n", WA_VERSION); return 0;
            default: return s_usage_error ("unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return s_usage_error ("%s", "expected ATTACK tcp://HOST:PORT [ARG]");
    const char *name = argv[optind], *endpoint = argv[optind + 1];
    const char *arg = argc - optind > 2 ? argv[optind + 2] : NULL;
    int attack = 0;
    while (attack < ATTACKS && strcmp (s_attacks[attack].name, name) != 0)
        attack++;
    if (attack == ATTACKS)
        return s_usage_error ("unknown attack '%s'", name);
    if (argc - optind > 3 || (arg && !s_attacks[attack].arg))
        return s_usage_error ("too many arguments for %s", name);
    if (!arg && s_attacks[attack].arg && s_attacks[attack].arg[0] != '[')
        return s_usage_error ("%s needs an argument", name);
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return s_usage_error ("the endpoint must be tcp://HOST:PORT, not '%s'", endpoint);
    if (cert && !s_z85_key (server_key))
        return s_usage_error ("%s", "--cert needs --server-key, the node's public key (40 characters of Z85)");
    if (server_key && !cert)
        return s_usage_error ("%s", "--server-key goes with --cert");
    zsys_init ();
    zsys_set_logstream (NULL);
    return s_run ((attack_id_t) attack, endpoint, arg, cert, server_key, timeout);
}
