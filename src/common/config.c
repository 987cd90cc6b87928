/*  wa_config — see include/wa_config.h. One table: name, the original's
    environment variable, type, default, bounds, help. Every key is also
    WA_ and its name in upper case in the environment. Defaults go through
    the same parser as user input, so a default can never be out of bounds
    unnoticed. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wa_config.h"
#include "wa_log.h"

//  T_DAYS is a number with fractions like T_SEC, in days (retention).
typedef enum { T_STR, T_INT, T_SEC, T_DAYS, T_BOOL, T_PORTS, T_ENUM } key_type_t;

typedef struct {
    const char *name;
    const char *alias;          //  the original's variable when it is not WA_NAME, or NULL
    key_type_t type;
    size_t offset;
    size_t size;                //  for strings: buffer size
    const char *dflt;
    double min, max;            //  numbers: bounds; strings: min/max length
    const char *choices;        //  T_ENUM: "a|b|c"; T_INT (optional): the numbers allowed
    const char *help;
} key_t_;

#define K(n, e, t, f, d, lo, hi, ch, h) \
    { n, e, t, offsetof (wa_config_t, f), sizeof (((wa_config_t *) 0)->f), d, lo, hi, ch, h }

static const key_t_ s_keys[] = {
    K ("db_engine", NULL, T_ENUM, db_engine, "mysql", 0, 0, "mysql|mariadb",
       "informational: what the server reports decides (MySQL 8.0.11+ or MariaDB 10.6+; docs/DEPLOY.md)"),
    K ("db_hostname", NULL, T_STR, db_hostname, "127.0.0.1", 1, 253, NULL, "database host"),
    K ("db_port", NULL, T_INT, db_port, "3306", 1, 65535, NULL, "database TCP port"),
    K ("db_hosts", NULL, T_STR, db_hosts, "", 0, 255, NULL,
       "database nodes to use, in order of preference (\"host:port,host:port\"; a MariaDB Galera "
       "cluster's nodes, docs/DEPLOY.md): a node that cannot be reached, or that is not a synced member "
       "of the Galera cluster's primary component, is passed over for the next; empty: db_hostname:db_port"),
    K ("db_failback_interval", NULL, T_INT, db_failback_interval, "30", 0, 3600, NULL,
       "seconds: a process connected to a database node after the first of db_hosts tries the earlier "
       "ones again this often, and goes back to the first that serves (0: never)"),
    K ("db_clock_skew", NULL, T_INT, db_clock_skew, "250", 0, 10000, NULL,
       "milliseconds: the most the clocks of two Galera database nodes may differ; a lease written by one "
       "node is judged by another's clock, so a new primary Coreapp waits this much longer before its "
       "login (not used with a single database server); below half of lease_margin"),
    K ("db_username", NULL, T_STR, db_username, "root", 1, 63, NULL, "database user"),
    K ("db_password", NULL, T_STR, db_password, "", 0, 127, NULL, "database password"),
    K ("db_password_file", NULL, T_STR, db_password_file, "", 0, 255, NULL,
       "a file whose first line is db_password (instead of db_password)"),
    K ("db_name", NULL, T_STR, db_name, "wacluster", 1, 63, NULL,
       "database (schema) name; [A-Za-z0-9_] only"),
    K ("db_bulk", NULL, T_ENUM, db_bulk, "auto", 0, 0, "auto|array|rows",
       "how a batch of rows is written: array (MariaDB's array binding, one round trip), rows (multi-row "
       "statements, any server), or auto (array when the server has it); array against a server without "
       "it refuses to connect"),
    K ("db_connect_timeout", NULL, T_INT, db_connect_timeout, "3", 1, 60, NULL, "seconds to connect"),
    K ("db_statement_timeout", NULL, T_INT, db_statement_timeout, "2", 1, 60, NULL,
       "seconds before a statement counts as failed"),
    K ("db_connection_idle_timeout", NULL, T_INT, db_connection_idle_timeout, "0", 0, 86400000, NULL,
       "milliseconds (the original's unit): a database connection that ran no statement this long is "
       "closed, and opened again for the next one (0: kept open, pinged)"),
    K ("db_tls", NULL, T_BOOL, db_tls, "0", 0, 0, NULL,
       "1 talks TLS to the database, and refuses a server without it (on by itself with db_tls_ca)"),
    K ("db_tls_ca", NULL, T_STR, db_tls_ca, "", 0, 255, NULL,
       "PEM file of the CA certificates the database server's certificate must chain to; "
       "turns db_tls on (empty: the system's CA store)"),
    K ("db_tls_cert", NULL, T_STR, db_tls_cert, "", 0, 255, NULL,
       "PEM client certificate for the database (with db_tls_key), for a user that REQUIRE X509"),
    K ("db_tls_key", NULL, T_STR, db_tls_key, "", 0, 255, NULL, "PEM private key of db_tls_cert"),
    K ("db_tls_verify", NULL, T_BOOL, db_tls_verify, "1", 0, 0, NULL,
       "with TLS, check the server's certificate and that it names db_hostname (0: encrypted, "
       "but anyone on the path can pose as the database)"),
    K ("master_node", NULL, T_BOOL, master_node, "0", 0, 0, NULL,
       "1 makes wacore run as a Master (the original's single image)"),
    K ("hostname", "COREAPP_HOSTNAME", T_STR, hostname, "127.0.0.1", 1, 253, NULL,
       "host name other nodes use to reach this one"),
    K ("external_hostname", "EXTERNAL_HOSTNAME", T_STR, external_hostname, "", 0, 253, NULL,
       "this machine's host name, used when hostname is not set"),
    K ("ports", "COREAPP_EXTERNAL_PORTS", T_PORTS, ports, "6250,6251,6252,6253", 0, 65535, NULL,
       "four ports: api, bus, control, health (\"a,b,c,d\", \"a-d\", or 0 for any free port)"),
    K ("bind_ports", NULL, T_PORTS, bind_ports, "", 0, 65535, NULL,
       "the four ports bound when they differ from those advertised (ports), as behind a container's "
       "published ports: \"6250-6253\" binds those and tells the others ports (empty: binds ports)"),
    K ("bind_address", NULL, T_STR, bind_address, "*", 1, 63, NULL, "address to bind the four ports on"),
    K ("bus_security", NULL, T_ENUM, bus_security, "curve", 0, 0, "curve|off",
       "the node bus: curve (every connection authenticated by its key and encrypted) or off (no "
       "keys; every port binds loopback only)"),
    K ("bus_cert", NULL, T_STR, bus_cert, "", 0, 255, NULL,
       "this program's secret certificate (NAME.key_secret from `wactl keys new`, mode 0600)"),
    K ("bus_keys_dir", NULL, T_STR, bus_keys_dir, "/etc/wacluster/keys/trusted", 1, 255, NULL,
       "the allow-list: a directory of the public certificates (NAME.key) the cluster trusts; "
       "read again when it changes"),
    K ("shards", NULL, T_INT, shards, "1", 1, WA_SHARDS_MAX, "1|2|4|8|16|32",
       "number of shards when the cluster is first started; later changed live with POST /v1/account/shards"),
    K ("lease_ttl", NULL, T_SEC, lease_ttl, "10", 0.1, 3600, NULL, "master lease length, seconds"),
    K ("lease_renew_interval", NULL, T_SEC, lease_renew_interval, "2", 0.02, 600, NULL,
       "seconds between master lease renewals"),
    K ("lease_margin", NULL, T_SEC, lease_margin, "1", 0.01, 600, NULL,
       "a holder stops this many seconds before its lease can expire"),
    K ("shard_lease_ttl", NULL, T_SEC, shard_lease_ttl, "10", 0.1, 3600, NULL, "shard lease length, seconds"),
    K ("shard_renew_interval", NULL, T_SEC, shard_renew_interval, "2", 0.02, 600, NULL,
       "seconds between shard lease renewals (and secondary polls)"),
    K ("db_liveness_interval", NULL, T_SEC, db_liveness_interval, "60", 0.1, 3600, NULL,
       "seconds between liveness claims; silent for twice this is unhealthy"),
    K ("heartbeat_interval", NULL, T_SEC, heartbeat_interval, "5", 0.01, 3600, NULL,
       "seconds between Master heartbeats on the bus"),
    K ("unhealthy_interval", NULL, T_SEC, unhealthy_interval, "30", 0.02, 86400, NULL,
       "a primary Coreapp silent to the primary and a secondary Master this long is replaced"),
    K ("upstream_unhealthy_interval", NULL, T_SEC, upstream_unhealthy_interval, "60", 0, 86400, NULL,
       "a primary Coreapp whose heartbeat replies say it cannot reach the upstream this long is replaced "
       "by a healthy secondary that can (0: never)"),
    K ("promotion_holdoff", NULL, T_SEC, promotion_holdoff, "60", 0, 86400, NULL,
       "a Coreapp replaced as primary is not promoted again for this many seconds"),
    K ("failover_limit", NULL, T_INT, failover_limit, "5", 1, 1000, NULL,
       "at most this many failovers (promotions that replaced a primary) per shard within failover_window"),
    K ("failover_window", NULL, T_SEC, failover_window, "300", 1, 86400, NULL,
       "the window of failover_limit, seconds"),
    K ("db_garbagecollector_enable", NULL, T_BOOL, db_garbagecollector_enable, "1", 0, 0, NULL,
       "1: the primary Master deletes sent outbox rows, delivered callbacks and audit events older "
       "than their retention_*_days, in batches of gc_batch_size every gc_interval (0: keeps them all)"),
    K ("retention_outbox_days", NULL, T_DAYS, retention_outbox_days, "7", 0, 36500, NULL,
       "days an outbox row is kept once its message is sent (or refused); it is the message's "
       "idempotency record for that long (0: kept forever)"),
    K ("retention_callbacks_days", NULL, T_DAYS, retention_callbacks_days, "7", 0, 36500, NULL,
       "days a callback is kept once delivered (or skipped, or rejected), and an inbound message's id "
       "(inbound_ids, for marking it read) once stored, pass_through or not (0: kept forever)"),
    K ("retention_events_days", NULL, T_DAYS, retention_events_days, "30", 0, 36500, NULL,
       "days an audit event (wactl events) is kept (0: kept forever)"),
    K ("gc_interval", NULL, T_SEC, gc_interval, "60", 0.1, 86400, NULL,
       "seconds between the primary Master's retention passes"),
    K ("gc_batch_size", NULL, T_INT, gc_batch_size, "1000", 1, 10000, NULL,
       "rows one retention DELETE may remove (each batch is a short transaction of its own)"),
    K ("upstream_endpoint", NULL, T_STR, upstream_endpoint, "tcp://127.0.0.1:6300", 6, 255, NULL,
       "ZeroMQ endpoint of the upstream network (wagate binds it)"),
    K ("upstream_control_endpoint", NULL, T_STR, upstream_control_endpoint, "tcp://127.0.0.1:6301", 6, 255, NULL,
       "wagate's control endpoint (stats)"),
    K ("account", NULL, T_STR, account, "15550000000", 1, 32, NULL, "the business account (phone number)"),
    K ("upstream_ping_interval", NULL, T_SEC, upstream_ping_interval, "1", 0.01, 60, NULL,
       "seconds between session keepalives"),
    K ("upstream_idle_timeout", NULL, T_SEC, upstream_idle_timeout, "3", 0.03, 600, NULL,
       "upstream drops a session silent this long; a new primary waits this long past the old lease. "
       "A property of the upstream, not a cluster setting: every node and wagate must have the same"),
    K ("upstream_login_timeout", NULL, T_SEC, upstream_login_timeout, "3", 0.05, 60, NULL,
       "seconds to wait for a login answer"),
    K ("wagate_ledger", NULL, T_STR, wagate_ledger, "", 0, 255, NULL,
       "wagate: file where sessions and overlaps are recorded as JSON lines"),
    K ("wagate_status_delay", NULL, T_SEC, wagate_status_delay, "0.2", 0, 3600, NULL,
       "wagate: seconds between a message's statuses (sent, then delivered, then read)"),
    K ("wagate_fail_digits", NULL, T_STR, wagate_fail_digits, "0", 0, 10, NULL,
       "wagate: a message to a number ending in one of these digits gets the status failed"),
    K ("wagate_invalid_digits", NULL, T_STR, wagate_invalid_digits, "9", 0, 10, NULL,
       "wagate: a contact check of a number ending in one of these digits answers invalid"),
    K ("wagate_inbound_rate", NULL, T_SEC, wagate_inbound_rate, "0", 0, 100000, NULL,
       "wagate: inbound messages generated per second (0: only those injected)"),
    K ("wagate_registered", NULL, T_BOOL, wagate_registered, "1", 0, 0, NULL,
       "wagate: 1 starts with the account registered; 0 requires POST /v1/account and verify first"),
    K ("app_multiconnect", NULL, T_BOOL, app_multiconnect, "1", 0, 0, NULL,
       "the original's switch to High Availability / Multiconnect: the only mode wacluster has, so "
       "it must be 1 (0 is refused)"),
    K ("webapp_hostname", "WEBAPP_HOSTNAME", T_STR, webapp_hostname, "", 0, 253, NULL,
       "waweb: the host name this Webapp registers under (/v1/health, /v1/stats, wactl status) and "
       "puts in a self-signed certificate; empty: hostname"),
    K ("orchestration", "ORCHESTRATION", T_STR, orchestration, "", 0, 31, NULL,
       "informational: how the node was deployed (DOCKER-COMPOSE, ...), logged at start"),
    K ("running_env_version", NULL, T_STR, running_env_version, "", 0, 31, NULL,
       "informational: the version of the deployment files, logged at start"),
    K ("log_level", NULL, T_ENUM, log_level, "info", 0, 0, "error|warn|info|debug", "log level"),
    K ("log_syslog", NULL, T_BOOL, log_syslog, "0", 0, 0, NULL, "1 logs to syslog instead of stderr"),
    K ("webhooks_url", NULL, T_STR, webhooks_url, "", 0, 255, NULL,
       "where the primary Coreapps POST statuses and inbound messages (http:// or https://; empty: none)"),
    K ("webhooks_url_file", NULL, T_STR, webhooks_url_file, "", 0, 255, NULL,
       "a file whose first line is webhooks_url (instead of webhooks_url)"),
    K ("webhooks_max_concurrent_requests", NULL, T_INT, webhooks_max_concurrent_requests, "12", 1, 1000, NULL,
       "webhook POSTs in flight at once, per primary Coreapp"),
    K ("callback_backoff_delay_ms", NULL, T_INT, callback_backoff_delay_ms, "3000", 1, 3600000, NULL,
       "a failed webhook POST waits this many milliseconds more at each retry"),
    K ("max_callback_backoff_delay_ms", NULL, T_INT, max_callback_backoff_delay_ms, "900000", 1, 86400000, NULL,
       "the longest wait between webhook retries, milliseconds"),
    K ("sent_status", NULL, T_BOOL, sent_status, "0", 0, 0, NULL,
       "1 also POSTs the status sent (delivered, read and failed always go)"),
    K ("callback_persist", NULL, T_BOOL, callback_persist, "1", 0, 0, NULL,
       "the original's switch to keep callbacks on disk until delivered; accepted, no effect: every "
       "callback is stored before it is acknowledged upstream, or it could not survive a failover"),
    K ("pass_through", NULL, T_BOOL, pass_through, "0", 0, 0, NULL,
       "1: keep no history of messages: the retention passes delete sent outbox rows and delivered "
       "callbacks once older than request_deadline (their retry window), whatever retention_*_days say, "
       "also while db_garbagecollector_enable is 0"),
    K ("media_auto_download", NULL, T_STR, media_auto_download, "", 0, 63, NULL,
       "media types of inbound messages to download at once, comma-separated (audio, document, image, "
       "sticker, video, voice; the API's media.auto_download); accepted, no effect: the upstream here "
       "sends no inbound media"),
    K ("notify_user_change_number", NULL, T_BOOL, notify_user_change_number, "1", 0, 0, NULL,
       "the original's webhook notice of a contact's new number; accepted, no effect: the upstream "
       "here sends no number changes"),
    K ("show_security_notifications", NULL, T_BOOL, show_security_notifications, "0", 0, 0, NULL,
       "the original's webhook notice of a contact's new identity key; accepted, no effect: the upstream "
       "here sends no identity changes"),
    K ("on_call_pager", NULL, T_STR, on_call_pager, "", 0, 32, NULL,
       "the original's WhatsApp number for alerts (digits, or empty); accepted, no effect: alerts go to the "
       "log and the events table (wactl events) here"),
    K ("webhooks_secret", NULL, T_STR, webhooks_secret, "", 0, 255, NULL,
       "16 to 255 characters: each webhook POST carries X-Hub-Signature-256, the HMAC-SHA256 of its "
       "body with this key (empty: no signature)"),
    K ("webhooks_secret_file", NULL, T_STR, webhooks_secret_file, "", 0, 255, NULL,
       "a file whose first line is webhooks_secret (instead of webhooks_secret)"),
    K ("callbacks_queue_max", NULL, T_INT, callbacks_queue_max, "100000", 1, 10000000, NULL,
       "pending callbacks per shard (as the original: 100000); when full the primary Coreapp stops "
       "acknowledging new events, which wait upstream"),
    K ("media_dir", NULL, T_STR, media_dir, "/usr/local/wamedia", 1, 255, NULL,
       "the media folder, shared by every Webapp and Coreapp (NFS across hosts)"),
    K ("media_download_timeout", NULL, T_SEC, media_download_timeout, "30", 0.1, 3600, NULL,
       "waweb: seconds a message's media link may take to download in all (connection, redirects, "
       "body); past it the message is refused"),
    K ("media_download_private", NULL, T_BOOL, media_download_private, "0", 0, 0, NULL,
       "waweb: 1 lets media links reach loopback, private and link-local addresses (an internal media "
       "server, tests); 0 refuses them, so a link cannot make a Webapp fetch from inside the network"),
    K ("webapp_port", "WEBAPP_EXTERNAL_PORTS", T_INT, webapp_port, "9090", 0, 65535, NULL,
       "waweb: the HTTP API's TCP port, the one clients reach and the Webapp registers (0: any free port, "
       "logged); bound too unless webapp_bind_port is set"),
    K ("webapp_bind_port", NULL, T_INT, webapp_bind_port, "", 0, 65535, NULL,
       "waweb: the port bound when it differs from webapp_port, as behind a container's published port: "
       "443 binds 443 and registers webapp_port (WEBAPP_EXTERNAL_PORTS, the published one); empty: binds "
       "webapp_port"),
    K ("webapp_bind", NULL, T_STR, webapp_bind, "*", 1, 63, NULL,
       "waweb: address to listen on (\"*\": every IPv4 address)"),
    K ("webapp_tls_cert", NULL, T_STR, webapp_tls_cert, "", 0, 255, NULL,
       "waweb: PEM certificate file; with webapp_tls_key the API speaks HTTPS"),
    K ("webapp_tls_key", NULL, T_STR, webapp_tls_key, "", 0, 255, NULL,
       "waweb: PEM private key file of webapp_tls_cert"),
    K ("webapp_tls_self_signed", NULL, T_BOOL, webapp_tls_self_signed, "0", 0, 0, NULL,
       "waweb: when neither webapp_tls_cert nor webapp_tls_key exists, make a self-signed pair there at "
       "the first start (its fingerprint is logged) and use it from then on"),
    K ("webapp_max_body", NULL, T_INT, webapp_max_body, "1048576", 1024, 104857600, NULL,
       "waweb: largest request body in bytes; a larger one gets 413"),
    K ("webapp_max_body_total", NULL, T_INT, webapp_max_body_total, "67108864", 1024, 2147483647, NULL,
       "waweb: request bodies held in memory at once, in bytes, across all requests; past it 503 (1016)"),
    K ("webapp_max_connections", NULL, T_INT, webapp_max_connections, "10000", 1, 1000000, NULL,
       "waweb: HTTP connections open at once; past it new ones are refused"),
    K ("webapp_max_connections_per_address", NULL, T_INT, webapp_max_connections_per_address, "256", 0,
       1000000, NULL,
       "waweb: HTTP connections open at once from one client address (0: no limit; behind a proxy, "
       "raise it); past it new ones are closed"),
    K ("webapp_header_timeout", NULL, T_SEC, webapp_header_timeout, "10", 0.1, 3600, NULL,
       "waweb: seconds a connection has to send a request's line and headers (counted from the "
       "connection, or from the previous response), however it trickles; then it is closed"),
    K ("webapp_body_timeout", NULL, T_SEC, webapp_body_timeout, "120", 0.1, 86400, NULL,
       "waweb: seconds a request has to send its whole body once its credentials were accepted "
       "(an upload of 100 MiB too); then the connection is closed"),
    K ("request_deadline", NULL, T_SEC, request_deadline, "45", 0.1, 3600, NULL,
       "waweb: seconds a request forwarded to a Coreapp is retried (with the same idempotency key) "
       "before the client gets an error"),
    K ("request_attempt_timeout", NULL, T_SEC, request_attempt_timeout, "2", 0.05, 600, NULL,
       "waweb: seconds to wait for one Coreapp's answer before trying again (same key)"),
    K ("token_ttl", NULL, T_INT, token_ttl, "604800", 1, 31536000, NULL,
       "waweb: seconds a login token stays valid"),
    K ("login_failures_limit", NULL, T_INT, login_failures_limit, "10", 1, 1000000, NULL,
       "waweb: failed logins allowed per client address within login_failures_window"),
    K ("login_failures_window", NULL, T_SEC, login_failures_window, "60", 0.1, 86400, NULL,
       "waweb: the window of login_failures_limit, seconds"),
    K ("admin_password_file", NULL, T_STR, admin_password_file, "", 0, 255, NULL,
       "waweb: a file whose first line is the password of 'admin', set when no ADMIN has one yet "
       "(otherwise the API serves only loopback clients until one is set)"),
};
#define NKEYS (sizeof s_keys / sizeof s_keys[0])

static const char *s_settings[] = {
    "heartbeat_interval", "unhealthy_interval", "upstream_unhealthy_interval", "db_liveness_interval",
    "lease_ttl", "lease_renew_interval", "lease_margin",
    "shard_lease_ttl", "shard_renew_interval",
    "upstream_ping_interval", "upstream_login_timeout",
    "promotion_holdoff", "failover_limit", "failover_window",
    "db_garbagecollector_enable", "retention_outbox_days", "retention_callbacks_days",
    "retention_events_days", "gc_interval", "gc_batch_size",
    "request_deadline", "request_attempt_timeout",
    "webhooks_url", "webhooks_max_concurrent_requests", "callback_backoff_delay_ms",
    "max_callback_backoff_delay_ms", "sent_status", "webhooks_secret",
    "callback_persist", "pass_through", "media_auto_download", "notify_user_change_number",
    "show_security_notifications", "on_call_pager",
    NULL
};

//  Keys whose values are never shown (wa_config_display), and those that
//  are URLs whose credentials are not.
static const char *s_secrets[] = { "db_password", "webhooks_secret", NULL };
static const char *s_urls[] = { "webhooks_url", NULL };

static bool
s_listed (const char *const *list, const char *key)
{
    for (int i = 0; list[i]; i++)
        if (strcmp (list[i], key) == 0)
            return true;
    return false;
}

static int
s_fail (char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
    return -1;
}

static const key_t_ *
s_find (const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp (s_keys[i].name, name) == 0)
            return &s_keys[i];
    return NULL;
}

//  Is n one of the numbers of choices ("1|2|4")?
static bool
s_choice_number (const char *choices, long n)
{
    for (const char *p = choices; *p; ) {
        char *end;
        long c = strtol (p, &end, 10);
        if (end == p)
            return false;
        if (c == n)
            return true;
        p = *end == '|' ? end + 1 : end;
    }
    return false;
}

static int
s_parse_long (const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (errno || end == text || *end)
        return -1;
    *out = v;
    return 0;
}

static int
s_parse_ports (const char *text, int ports[4])
{
    long v[4], a, b;
    char buf[64];
    if (strlen (text) >= sizeof buf)
        return -1;
    strcpy (buf, text);
    char *dash = strchr (buf, '-');
    if (strcmp (buf, "0") == 0) {
        for (int i = 0; i < 4; i++) ports[i] = 0;
        return 0;
    }
    if (dash) {
        *dash = 0;
        if (s_parse_long (buf, &a) || s_parse_long (dash + 1, &b) || b != a + 3)
            return -1;
        for (int i = 0; i < 4; i++) v[i] = a + i;
    }
    else {
        char *save = NULL, *tok = strtok_r (buf, ",", &save);
        int n = 0;
        for (; tok && n < 4; tok = strtok_r (NULL, ",", &save))
            if (s_parse_long (tok, &v[n++]))
                return -1;
        if (n != 4 || tok)
            return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (v[i] < 1 || v[i] > 65535)
            return -1;
        for (int j = 0; j < i; j++)
            if (v[j] == v[i])
                return -1;
        ports[i] = (int) v[i];
    }
    return 0;
}

static bool
s_in_choices (const char *choices, const char *value)
{
    size_t n = strlen (value);
    for (const char *p = choices; p; ) {
        const char *bar = strchr (p, '|');
        size_t len = bar ? (size_t) (bar - p) : strlen (p);
        if (len == n && strncasecmp (p, value, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static const char *s_media_types[] = { "audio", "document", "image", "sticker", "video", "voice", NULL };

int
wa_config_media_types_check (const char *list, char *err, size_t errlen)
{
    const char *p = list;
    char seen[8] = { 0 };
    while (*p) {
        size_t len = strcspn (p, ",");
        int found = -1;
        for (int i = 0; s_media_types[i]; i++)
            if (strlen (s_media_types[i]) == len && strncmp (s_media_types[i], p, len) == 0)
                found = i;
        if (found < 0)
            return s_fail (err, errlen, "key 'media_auto_download': '%.*s' is not a media type (audio, document, "
                           "image, sticker, video, voice)", (int) (len > 32 ? 32 : len), p);
        if (seen[found]++)
            return s_fail (err, errlen, "key 'media_auto_download': '%s' is named twice", s_media_types[found]);
        p += len;
        if (*p == ',' && !*++p)
            return s_fail (err, errlen, "key 'media_auto_download': a comma ends the list");
    }
    return 0;
}

//  Check value for key k and store it; on an error self may be half
//  changed (callers work on a copy).
static int
s_apply_value (wa_config_t *self, const key_t_ *k, const char *value, char *err, size_t errlen)
{
    void *field = (char *) self + k->offset;
    //  A secret never appears in an error message (they end up in logs).
    if (s_listed (s_secrets, k->name)) {
        size_t len = strlen (value);
        if (len > (size_t) k->max || len >= k->size)
            return s_fail (err, errlen, "key '%s': value is longer than %g characters", k->name, k->max);
        for (const char *c = value; *c; c++)
            if (iscntrl ((unsigned char) *c))
                return s_fail (err, errlen, "key '%s': value contains a control character", k->name);
        if (strcmp (k->name, "webhooks_secret") == 0 && len > 0 && len < 16)
            return s_fail (err, errlen, "key 'webhooks_secret': value must be empty or 16 to 255 characters long "
                           "(a random string: openssl rand -hex 32)");
    }
    if (s_listed (s_urls, k->name) && strchr (value, '@')) {
        //  Its credentials stay out of the message too.
        char shown[WA_CONFIG_STR];
        wa_config_redact_url (value, shown, sizeof shown);
        if (strlen (value) > (size_t) k->max || strlen (value) >= k->size)
            return s_fail (err, errlen, "key '%s': value '%s' must be %g to %g characters long",
                           k->name, shown, k->min, k->max);
    }
    long lv;
    switch (k->type) {
        case T_STR: {
            size_t len = strlen (value);
            if (len < (size_t) k->min || len > (size_t) k->max || len >= k->size)
                return s_fail (err, errlen, "key '%s': value '%s' must be %g to %g characters long",
                               k->name, value, k->min, k->max);
            for (const char *c = value; *c; c++)
                if (iscntrl ((unsigned char) *c))
                    return s_fail (err, errlen, "key '%s': value contains a control character", k->name);
            if (strcmp (k->name, "db_name") == 0)
                for (const char *c = value; *c; c++)
                    if (!isalnum ((unsigned char) *c) && *c != '_')
                        return s_fail (err, errlen, "key 'db_name': value '%s' may hold only letters, digits and '_'", value);
            if (strcmp (k->name, "media_auto_download") == 0 && wa_config_media_types_check (value, err, errlen))
                return -1;
            if (strcmp (k->name, "on_call_pager") == 0)
                for (const char *c = value; *c; c++)
                    if (!isdigit ((unsigned char) *c))
                        return s_fail (err, errlen, "key 'on_call_pager': value '%s' must be a phone number "
                                       "(digits only) or empty", value);
            if (strcmp (k->name, "account") == 0)
                for (const char *c = value; *c; c++)
                    if (!isdigit ((unsigned char) *c))
                        return s_fail (err, errlen, "key 'account': value '%s' must be a phone number (digits only)", value);
            memcpy (field, value, len + 1);
            return 0;
        }
        case T_ENUM:
            if (!s_in_choices (k->choices, value) || strlen (value) >= k->size)
                return s_fail (err, errlen, "key '%s': value '%s' is not one of %s", k->name, value, k->choices);
            for (size_t i = 0; value[i]; i++)
                ((char *) field)[i] = (char) tolower ((unsigned char) value[i]);
            ((char *) field)[strlen (value)] = 0;
            return 0;
        case T_INT:
            //  A key whose default is empty (webapp_bind_port) may be unset: -1.
            if (!*value && !*k->dflt) {
                *(int *) field = -1;
                return 0;
            }
            if (s_parse_long (value, &lv))
                return s_fail (err, errlen, "key '%s': value '%s' is not a whole number", k->name, value);
            if (lv < k->min || lv > k->max)
                return s_fail (err, errlen, "key '%s': value '%s' is out of bounds (%g to %g)",
                               k->name, value, k->min, k->max);
            //  A number among choices ("1|2|4"): the whole number, not a prefix.
            if (k->choices && !s_choice_number (k->choices, lv))
                return s_fail (err, errlen, "key '%s': value '%s' must be one of %s", k->name, value, k->choices);
            *(int *) field = (int) lv;
            return 0;
        case T_SEC:
        case T_DAYS: {
            const char *unit = k->type == T_DAYS ? "days" : "seconds";
            char *end;
            errno = 0;
            double d = strtod (value, &end);
            if (errno || end == value || *end || !isfinite (d))
                return s_fail (err, errlen, "key '%s': value '%s' is not a number of %s", k->name, value, unit);
            //  Kept to 15 significant digits (DBL_DIG): every JSON answer
            //  writes numbers so (JSON_REAL_PRECISION (15)), and a value
            //  with more (0.10000000000000002) came back from GET as
            //  another (0.1), so a PATCH of what GET showed changed it.
            //  And -0 is 0: it was kept as "-0", which GET shows as 0.
            char digits[32];
            snprintf (digits, sizeof digits, "%.15g", d);
            d = strtod (digits, NULL) + 0.0;
            if (d < k->min || d > k->max)
                return s_fail (err, errlen, "key '%s': value '%s' is out of bounds (%g to %g %s)",
                               k->name, value, k->min, k->max, unit);
            *(double *) field = d;
            return 0;
        }
        case T_BOOL:
            if (!strcmp (value, "1") || !strcasecmp (value, "true") || !strcasecmp (value, "yes") || !strcasecmp (value, "on"))
                *(bool *) field = true;
            else
            if (!strcmp (value, "0") || !strcasecmp (value, "false") || !strcasecmp (value, "no") || !strcasecmp (value, "off"))
                *(bool *) field = false;
            else
                return s_fail (err, errlen, "key '%s': value '%s' is not a boolean (1/0, true/false, yes/no)", k->name, value);
            return 0;
        case T_PORTS:
            //  A key whose default is empty (bind_ports) may be unset: -1s.
            if (!*value && !*k->dflt) {
                for (int i = 0; i < 4; i++)
                    ((int *) field)[i] = -1;
                return 0;
            }
            if (s_parse_ports (value, (int *) field))
                return s_fail (err, errlen, "key '%s': value '%s' is not four distinct ports "
                               "(\"6250,6251,6252,6253\", \"6250-6253\" or \"0\")", k->name, value);
            return 0;
    }
    return s_fail (err, errlen, "key '%s': unknown type", k->name);
}

//  For key X_file where X is a secret: X; for any other key NULL.
static const key_t_ *
s_file_target (const key_t_ *k)
{
    char name[64];
    size_t len = strlen (k->name);
    if (len <= 5 || len - 5 >= sizeof name || strcmp (k->name + len - 5, "_file") != 0)
        return NULL;
    memcpy (name, k->name, len - 5);
    name[len - 5] = 0;
    return wa_config_is_secret (name) ? s_find (name) : NULL;
}

//  For a secret X: its key X_file; for any other key NULL.
static const key_t_ *
s_file_key (const key_t_ *k)
{
    char name[64];
    if (!wa_config_is_secret (k->name))
        return NULL;
    snprintf (name, sizeof name, "%s_file", k->name);
    return s_find (name);
}

//  A secret's file holds one line; anything much larger is not one.
#define SECRET_FILE_MAX 4096

//  The first line of the file at path, without its line ending, into line
//  (SECRET_FILE_MAX + 1 bytes). Not a FIFO or a device: opening one could
//  hang or read forever.
static int
s_read_first_line (const char *path, char *line, char *err, size_t errlen)
{
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return s_fail (err, errlen, "cannot read %s: %s", path, strerror (errno));
    struct stat info;
    if (fstat (fd, &info) || !S_ISREG (info.st_mode)) {
        close (fd);
        return s_fail (err, errlen, "%s is not a regular file", path);
    }
    ssize_t size = 0, n = 1;
    while (n > 0 && size <= SECRET_FILE_MAX) {
        n = read (fd, line + size, (size_t) (SECRET_FILE_MAX + 1 - size));
        if (n > 0)
            size += n;
    }
    int error = errno;
    close (fd);
    if (n < 0)
        return s_fail (err, errlen, "cannot read %s: %s", path, strerror (error));
    if (size > SECRET_FILE_MAX)
        return s_fail (err, errlen, "%s is larger than %d bytes: it should hold one line, the value",
                       path, SECRET_FILE_MAX);
    char *end = memchr (line, '\n', (size_t) size);
    size_t len = end ? (size_t) (end - line) : (size_t) size;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = 0;
    if (memchr (line, 0, len))
        return s_fail (err, errlen, "the first line of %s holds a NUL byte", path);
    if (len == 0)
        return s_fail (err, errlen, "the first line of %s is empty", path);
    if (info.st_mode & S_IROTH)
        wa_warn ("%s can be read by every user (mode %03o): chmod o-r it", path,
                 (unsigned int) (info.st_mode & 0777));
    return 0;
}

//  Key X_file = path: X is the first line of that file; "" leaves X as it
//  is. The secret goes through X's own checks, and never into err.
static int
s_apply_file (wa_config_t *self, const key_t_ *k, const key_t_ *secret, const char *path,
              char *err, size_t errlen)
{
    if (s_apply_value (self, k, path, err, errlen))
        return -1;
    if (!*path)
        return 0;
    char line[SECRET_FILE_MAX + 1], why[512];
    int rc = s_read_first_line (path, line, why, sizeof why);
    if (rc == 0 && s_apply_value (self, secret, line, why, sizeof why))
        rc = s_fail (err, errlen, "key '%s': the first line of %s: %s", k->name, path, why);
    else
    if (rc)
        s_fail (err, errlen, "key '%s': %s", k->name, why);
    explicit_bzero (line, sizeof line);
    return rc;
}

//  Check value for key k and store it. A secret set directly no longer
//  comes from its file.
static int
s_apply (wa_config_t *self, const key_t_ *k, const char *value, char *err, size_t errlen)
{
    const key_t_ *secret = s_file_target (k);
    if (secret)
        return s_apply_file (self, k, secret, value, err, errlen);
    if (s_apply_value (self, k, value, err, errlen))
        return -1;
    const key_t_ *file = s_file_key (k);
    if (file)
        *((char *) self + file->offset) = 0;
    return 0;
}

int
wa_config_set (wa_config_t *self, const char *key, const char *value, char *err, size_t errlen)
{
    const key_t_ *k = s_find (key);
    if (!k)
        return s_fail (err, errlen, "unknown key '%s'", key);
    //  Parse into a copy: a bad value leaves self untouched.
    wa_config_t copy = *self;
    if (s_apply (&copy, k, value, err, errlen))
        return -1;
    *self = copy;
    return 0;
}

void
wa_config_defaults (wa_config_t *self)
{
    char err[256];
    memset (self, 0, sizeof *self);
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = s_apply (self, &s_keys[i], s_keys[i].dflt, err, sizeof err);
        if (rc) {
            fprintf (stderr, "wa_config: bad built-in default: %s\n", err);
            abort ();
        }
        //  Every secret can be kept out of the config file and the environment.
        if (wa_config_is_secret (s_keys[i].name) && !s_file_key (&s_keys[i])) {
            fprintf (stderr, "wa_config: secret %s has no key %s_file\n", s_keys[i].name, s_keys[i].name);
            abort ();
        }
    }
}

static char *
s_trim (char *s)
{
    while (isspace ((unsigned char) *s))
        s++;
    char *end = s + strlen (s);
    while (end > s && isspace ((unsigned char) end[-1]))
        *--end = 0;
    return s;
}

//  A quoted value, text at its opening '"': the characters up to the
//  closing one, \" and \\ standing for " and \; then only a comment.
//  Unquoted in place; NULL with why (never the value: it may be a secret).
static char *
s_unquote (char *text, char *why, size_t whylen)
{
    char *out = text, *in = text + 1;
    for (; *in != '"'; in++) {
        if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
            in++;
        else
        if (*in == '\\' && in[1]) {
            s_fail (why, whylen, "in double quotes a backslash escapes only \" and \\ (write \\\\ for one)");
            return NULL;
        }
        if (*in == 0) {
            s_fail (why, whylen, "the closing double quote is missing");
            return NULL;
        }
        *out++ = *in;
    }
    *out = 0;
    for (in++; isspace ((unsigned char) *in); in++)
        ;
    if (*in && *in != '#') {
        s_fail (why, whylen, "text after the closing double quote (a comment starts with '#')");
        return NULL;
    }
    return text;
}

//  The value after '=': double quoted (s_unquote), or the text up to a
//  comment, trimmed. A comment is '#' at the start or after white space;
//  '#' inside a word is an error, not a silently shortened value.
static char *
s_parse_value (char *text, char *why, size_t whylen)
{
    while (isspace ((unsigned char) *text))
        text++;
    if (*text == '"')
        return s_unquote (text, why, whylen);
    for (char *c = text; *c; c++) {
        if (*c != '#')
            continue;
        if (c > text && !isspace ((unsigned char) c[-1])) {
            s_fail (why, whylen, "'#' inside the value: a comment needs white space before it, "
                    "and a value that holds '#' goes in double quotes");
            return NULL;
        }
        *c = 0;
        break;
    }
    return s_trim (text);
}

//  A secret X and its X_file, both given a value in one file: which one
//  was meant? lines[] holds the line that gave each key a value (0: none).
//  An empty one is as if absent: 1 to skip this line, 0 to apply it.
static int
s_file_conflict (const key_t_ *k, const char *value, const int *lines, char *why, size_t whylen)
{
    const key_t_ *other = s_file_target (k) ? s_file_target (k) : s_file_key (k);
    int line = other ? lines[other - s_keys] : 0;
    if (!line)
        return 0;
    if (!*value)
        return 1;
    return s_fail (why, whylen, "key '%s': '%s' is set too (line %d): set one of them", k->name, other->name, line);
}

//  One line, trimmed and not a comment: "key = value", set on self.
static int
s_file_line (wa_config_t *self, char *text, int *lines, int lineno, char *why, size_t whylen)
{
    char *eq = strchr (text, '=');
    if (!eq)
        return s_fail (why, whylen, "expected 'key = value', got '%s'", text);
    *eq = 0;
    char *key = s_trim (text);
    if (!*key)
        return s_fail (why, whylen, "expected 'key = value': the key before '=' is missing");
    const key_t_ *k = s_find (key);
    if (!k)
        return s_fail (why, whylen, "unknown key '%s' (--help lists them)", key);
    char *value = s_parse_value (eq + 1, why, whylen);
    if (!value) {
        char what[512];
        snprintf (what, sizeof what, "%s", why);
        return s_fail (why, whylen, "key '%s': %s", k->name, what);
    }
    int conflict = s_file_conflict (k, value, lines, why, whylen);
    if (conflict)
        return conflict > 0 ? 0 : -1;
    if (*value)
        lines[k - s_keys] = lineno;
    return s_apply (self, k, value, why, whylen);
}

int
wa_config_load_file (wa_config_t *self, const char *path, char *err, size_t errlen)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return s_fail (err, errlen, "%s: cannot open: %s", path, strerror (errno));
    wa_config_t copy = *self;
    char line[1024], why[512];
    int lineno = 0, rc = 0, lines[NKEYS] = { 0 };
    while (fgets (line, sizeof line, file)) {
        lineno++;
        if (!strchr (line, '\n') && !feof (file)) {
            rc = s_fail (err, errlen, "%s:%d: line longer than %zu characters", path, lineno, sizeof line - 2);
            break;
        }
        char *text = s_trim (line);
        if (*text == 0 || *text == '#')
            continue;
        if (s_file_line (&copy, text, lines, lineno, why, sizeof why)) {
            rc = s_fail (err, errlen, "%s:%d: %s", path, lineno, why);
            break;
        }
    }
    explicit_bzero (line, sizeof line);
    if (rc == 0 && ferror (file))
        rc = s_fail (err, errlen, "%s: read error", path);
    fclose (file);
    if (rc == 0) {
        *self = copy;
        snprintf (self->source, sizeof self->source, "%s", path);
    }
    return rc;
}

//  The environment variable of key: WA_ and its name in upper case.
static void
s_env_name (const key_t_ *k, char *buf, size_t len)
{
    snprintf (buf, len, "WA_%s", k->name);
    for (char *c = buf; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
}

//  The variable that sets key k (WA_NAME, else the original's), or NULL.
static const char *
s_env_set (const key_t_ *k, char *name, size_t len)
{
    s_env_name (k, name, len);
    if (getenv (name))
        return name;
    return k->alias && getenv (k->alias) ? k->alias : NULL;
}

//  WA_NAME and the original's variable both set (self has WA_NAME's
//  value): they must mean the same, or neither is taken.
static int
s_env_agree (const wa_config_t *self, const key_t_ *k, const char *name, char *err, size_t errlen)
{
    wa_config_t other = *self;
    const char *value = getenv (name), *alias = getenv (k->alias);
    char why[512];
    if (s_apply (&other, k, alias, why, sizeof why))
        return s_fail (err, errlen, "environment %s: %s", k->alias, why);
    if (memcmp ((const char *) self + k->offset, (const char *) &other + k->offset, k->size) == 0)
        return 0;
    if (wa_config_is_secret (k->name))
        return s_fail (err, errlen, "environment %s and %s disagree (both set key '%s'): set one of them",
                       name, k->alias, k->name);
    return s_fail (err, errlen, "environment %s ('%s') and %s ('%s') disagree (both set key '%s'): "
                   "set one of them", name, value, k->alias, alias, k->name);
}

//  Key k from the environment, checked as a file's value is.
static int
s_env_key (wa_config_t *self, const key_t_ *k, char *err, size_t errlen)
{
    char name[64], other[64], why[512];
    const char *used = s_env_set (k, name, sizeof name);
    if (!used)
        return 0;
    //  As in a file, an empty one of X and X_file is as if not set.
    const key_t_ *secret = s_file_target (k);
    const char *both = secret && *getenv (used) ? s_env_set (secret, other, sizeof other) : NULL;
    if (both && *getenv (both))
        return s_fail (err, errlen, "environment %s and %s are both set: set one of them "
                       "(%s holds the path of a file whose first line is the value)", both, used, used);
    if (s_apply (self, k, getenv (used), why, sizeof why))
        return s_fail (err, errlen, "environment %s: %s", used, why);
    if (used == name && k->alias && getenv (k->alias))
        return s_env_agree (self, k, name, err, errlen);
    return 0;
}

//  The original's variables that mean nothing here: refused, naming them,
//  rather than ignored (a user would believe they took effect).
#define DB_CONTAINER_WHY "the database container's variable in the original's files: a node reaches the " \
    "database as WA_DB_USERNAME with WA_DB_PASSWORD (db.env), and the db service makes that user from " \
    "them (root has no TCP login there); remove it"
#define POSTGRES_WHY "the original's PostgreSQL container's variable: the database here is MariaDB or MySQL " \
    "(WA_DB_ENGINE), reached as WA_DB_USERNAME with WA_DB_PASSWORD (db.env); remove it"
static const struct {
    const char *name;
    const char *why;
} s_refused_env[] = {
    { "WACORE_HOSTNAME", "the original's single-Coreapp setting: here every Webapp finds the Coreapps "
      "through the database (shard_map), so there is nothing to point it at; remove it" },
    { "WA_DB_UPGRADE", "the original's one-off upgrade container: here the primary Master migrates the "
      "schema when it takes the lease (docs/OPERATIONS.md, Upgrade); remove it" },
    //  The database container's, in the original's files (the mysql and
    //  postgres images) and their images' siblings: a node given one would
    //  seem to set the database's user or password, and would not.
    { "MYSQL_ROOT_PASSWORD", DB_CONTAINER_WHY },
    { "MYSQL_USER", DB_CONTAINER_WHY },
    { "MYSQL_PASSWORD", DB_CONTAINER_WHY },
    { "MYSQL_DATABASE", DB_CONTAINER_WHY },
    { "MARIADB_ROOT_PASSWORD", DB_CONTAINER_WHY },
    { "MARIADB_USER", DB_CONTAINER_WHY },
    { "MARIADB_PASSWORD", DB_CONTAINER_WHY },
    { "MARIADB_DATABASE", DB_CONTAINER_WHY },
    { "POSTGRES_PASSWORD", POSTGRES_WHY },
    { "POSTGRES_USER", POSTGRES_WHY },
    { "POSTGRES_DB", POSTGRES_WHY },
};

int
wa_config_load_env (wa_config_t *self, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof s_refused_env / sizeof s_refused_env[0]; i++)
        if (getenv (s_refused_env[i].name))
            return s_fail (err, errlen, "environment %s is not supported: %s", s_refused_env[i].name,
                           s_refused_env[i].why);
    wa_config_t copy = *self;
    for (size_t i = 0; i < NKEYS; i++)
        if (s_env_key (&copy, &s_keys[i], err, errlen))
            return -1;
    *self = copy;
    return 0;
}

int
wa_config_db_hosts (const wa_config_t *self, wa_db_host_t *hosts, int max, char *err, size_t errlen)
{
    if (!*self->db_hosts) {
        if (max < 1)
            return s_fail (err, errlen, "no room for a database node");
        snprintf (hosts[0].host, sizeof hosts[0].host, "%.253s", self->db_hostname);
        hosts[0].port = self->db_port;
        return 1;
    }
    int count = 0;
    const char *at = self->db_hosts;
    while (true) {
        const char *end = strchr (at, ',');
        size_t len = end ? (size_t) (end - at) : strlen (at);
        char entry[WA_CONFIG_STR];
        snprintf (entry, sizeof entry, "%.*s", (int) len, at);
        //  White space around an entry is allowed ("a:3306, b:3306").
        char *e = entry;
        while (isspace ((unsigned char) *e))
            e++;
        for (size_t n = strlen (e); n && isspace ((unsigned char) e[n - 1]); n--)
            e[n - 1] = 0;
        if (!*e)
            return s_fail (err, errlen, "db_hosts (%s): an empty entry; give host:port pairs separated by commas",
                           self->db_hosts);
        if (count == max)
            return s_fail (err, errlen, "db_hosts (%s): more than %d database nodes", self->db_hosts, max);
        wa_db_host_t *h = &hosts[count];
        const char *port = NULL;
        if (*e == '[') {
            char *close = strchr (e, ']');
            if (!close || close == e + 1 || (close[1] && close[1] != ':'))
                return s_fail (err, errlen, "db_hosts entry '%s': an IPv6 address goes in brackets, "
                               "as [::1]:3306", e);
            *close = 0;
            struct in6_addr a6;
            if (inet_pton (AF_INET6, e + 1, &a6) != 1)
                return s_fail (err, errlen, "db_hosts entry '%s]': not an IPv6 address", e);
            snprintf (h->host, sizeof h->host, "%s", e + 1);
            port = close[1] ? close + 2 : NULL;
        }
        else {
            char *colon = strchr (e, ':');
            if (colon && strchr (colon + 1, ':'))
                return s_fail (err, errlen, "db_hosts entry '%s': an IPv6 address goes in brackets, "
                               "as [::1]:3306", e);
            if (colon) {
                *colon = 0;
                port = colon + 1;
            }
            if (!*e || strlen (e) > 253)
                return s_fail (err, errlen, "db_hosts entry '%s': the host name is empty or longer than "
                               "253 characters", e);
            for (const char *c = e; *c; c++)
                if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '-' && *c != '_')
                    return s_fail (err, errlen, "db_hosts entry '%s': a host name has only letters, digits, "
                                   "'.', '-' and '_'", e);
            snprintf (h->host, sizeof h->host, "%s", e);
        }
        h->port = self->db_port;
        if (port) {
            char *rest;
            errno = 0;
            long p = strtol (port, &rest, 10);
            if (!*port || *rest || errno || p < 1 || p > 65535 || !isdigit ((unsigned char) *port))
                return s_fail (err, errlen, "db_hosts entry for %s: the port '%s' is not a number from 1 to "
                               "65535", h->host, port);
            h->port = (int) p;
        }
        for (int i = 0; i < count; i++)
            if (strcmp (hosts[i].host, h->host) == 0 && hosts[i].port == h->port)
                return s_fail (err, errlen, "db_hosts: %s:%d is given twice", h->host, h->port);
        count++;
        if (!end)
            break;
        at = end + 1;
    }
    return count;
}

int
wa_config_check (const wa_config_t *self, char *err, size_t errlen)
{
    wa_db_host_t hosts[WA_DB_HOSTS_MAX];
    if (wa_config_db_hosts (self, hosts, WA_DB_HOSTS_MAX, err, errlen) < 0)
        return -1;
    if (self->lease_renew_interval + self->lease_margin >= self->lease_ttl)
        return s_fail (err, errlen, "lease_renew_interval (%g) + lease_margin (%g) must be below lease_ttl (%g): "
                       "otherwise a healthy primary Master would lose its lease between renewals",
                       self->lease_renew_interval, self->lease_margin, self->lease_ttl);
    if (self->shard_renew_interval + self->lease_margin >= self->shard_lease_ttl)
        return s_fail (err, errlen, "shard_renew_interval (%g) + lease_margin (%g) must be below shard_lease_ttl (%g): "
                       "otherwise a healthy primary Coreapp would drop its session between renewals",
                       self->shard_renew_interval, self->lease_margin, self->shard_lease_ttl);
    //  A node that moves to another database node reads a clock up to the
    //  skew away: below half the margin, that is no step (clockwatch.h).
    //  (Only with several nodes to move between: a single server has no skew.)
    if (*self->db_hosts && strchr (self->db_hosts, ',') && self->db_clock_skew / 1000.0 >= self->lease_margin / 2)
        return s_fail (err, errlen, "db_clock_skew (%d ms) must be below half of lease_margin (%g s): a node "
                       "that moves to another database node would take the clocks' difference for a step",
                       self->db_clock_skew, self->lease_margin);
    if (self->upstream_unhealthy_interval > 0 && self->upstream_unhealthy_interval < 2 * self->heartbeat_interval)
        return s_fail (err, errlen, "upstream_unhealthy_interval (%g) must be 0 (off) or at least two "
                       "heartbeat_intervals (%g): replies come once a heartbeat",
                       self->upstream_unhealthy_interval, self->heartbeat_interval);
    if (self->unhealthy_interval < 2 * self->heartbeat_interval)
        return s_fail (err, errlen, "unhealthy_interval (%g) must be at least two heartbeat_intervals (%g): "
                       "otherwise one late heartbeat would replace a healthy primary",
                       self->unhealthy_interval, self->heartbeat_interval);
    if (self->upstream_ping_interval * 2 > self->upstream_idle_timeout)
        return s_fail (err, errlen, "upstream_ping_interval (%g) must be at most half of upstream_idle_timeout (%g)",
                       self->upstream_ping_interval, self->upstream_idle_timeout);
    if (*self->webhooks_url && strncmp (self->webhooks_url, "http://", 7) != 0
    &&  strncmp (self->webhooks_url, "https://", 8) != 0) {
        char shown[WA_CONFIG_STR];
        wa_config_redact_url (self->webhooks_url, shown, sizeof shown);
        return s_fail (err, errlen, "webhooks_url (%s) must start with http:// or https:// (or be empty)", shown);
    }
    for (const char *c = self->webhooks_url; *c; c++)
        if (*c <= ' ' || *c > '~')
            return s_fail (err, errlen, "webhooks_url may hold only printable characters without spaces");
    if (self->max_callback_backoff_delay_ms < self->callback_backoff_delay_ms)
        return s_fail (err, errlen, "max_callback_backoff_delay_ms (%d) must be at least callback_backoff_delay_ms (%d)",
                       self->max_callback_backoff_delay_ms, self->callback_backoff_delay_ms);
    for (const char *c = self->wagate_fail_digits; *c; c++)
        if (*c < '0' || *c > '9')
            return s_fail (err, errlen, "wagate_fail_digits (%s) may hold only digits", self->wagate_fail_digits);
    for (const char *c = self->wagate_invalid_digits; *c; c++)
        if (*c < '0' || *c > '9')
            return s_fail (err, errlen, "wagate_invalid_digits (%s) may hold only digits", self->wagate_invalid_digits);
    if (!*self->db_tls_cert != !*self->db_tls_key)
        return s_fail (err, errlen, "db_tls_cert and db_tls_key go together: set both (a client certificate "
                       "and its key) or neither");
    if (!self->app_multiconnect)
        return s_fail (err, errlen, "app_multiconnect (WA_APP_MULTICONNECT) is 0: the original's single-Coreapp "
                       "mode does not exist here, every deployment is Multiconnect; set it to 1 or remove it");
    if (self->bind_ports[0] >= 0) {
        if (self->bind_ports[0] == 0)
            return s_fail (err, errlen, "bind_ports is 0 (any free port): the ports advertised (ports) would "
                           "lead nowhere; give the four ports to bind, or leave bind_ports empty");
        if (self->ports[0] == 0)
            return s_fail (err, errlen, "bind_ports is set but ports (COREAPP_EXTERNAL_PORTS) is 0: give the "
                           "four ports the others reach this node by (the published ones)");
    }
    if (self->webapp_bind_port >= 0 && self->webapp_port == 0)
        return s_fail (err, errlen, "webapp_bind_port is set but webapp_port (WEBAPP_EXTERNAL_PORTS) is 0: give "
                       "the port clients reach this Webapp by (the published one)");
    if (self->request_attempt_timeout > self->request_deadline)
        return s_fail (err, errlen, "request_attempt_timeout (%g) must be at most request_deadline (%g)",
                       self->request_attempt_timeout, self->request_deadline);
    //  An outbox row is its message's idempotency record: a Webapp retries
    //  a request with the same key for up to request_deadline after it was
    //  first sent, so a row deleted sooner could let a retry send it twice.
    if (self->retention_outbox_days > 0 && self->retention_outbox_days * 86400 <= self->request_deadline)
        return s_fail (err, errlen, "retention_outbox_days (%g, %g s) must be 0 or longer than request_deadline "
                       "(%g s): a sent message's outbox row is its idempotency record while the Webapps may "
                       "still retry it", self->retention_outbox_days, self->retention_outbox_days * 86400,
                       self->request_deadline);
    return 0;
}

//  value as a config file reads it back: in double quotes when it holds
//  '#', starts with '"' or starts or ends with white space.
static void
s_print_value (FILE *out, const char *value)
{
    size_t len = strlen (value);
    if (!strchr (value, '#') && *value != '"'
    &&  !(len && (isspace ((unsigned char) value[0]) || isspace ((unsigned char) value[len - 1])))) {
        fputs (value, out);
        return;
    }
    fputc ('"', out);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc ('\\', out);
        fputc (*c, out);
    }
    fputc ('"', out);
}

void
wa_config_print (const wa_config_t *self, FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const key_t_ *k = &s_keys[i];
        //  As wa_config_get, so what is printed loads back as it was (but
        //  for the secrets).
        char value[WA_CONFIG_STR + 64];
        wa_config_display (self, k->name, value, sizeof value);
        fprintf (out, "%s = ", k->name);
        s_print_value (out, value);
        fputc ('\n', out);
    }
}

void
wa_config_print_help (FILE *out)
{
    fprintf (out, "Configuration keys, each with its environment variable(s), which override the file.\n"
             "File: key = value lines; '#' after white space starts a comment; a value with '#' or\n"
             "leading or trailing spaces goes in double quotes (\\\" and \\\\ inside). A secret KEY\n"
             "can come from a file instead: KEY_file (WA_KEY_FILE) names it, its first line is the value.\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const key_t_ *k = &s_keys[i];
        char env[96];
        s_env_name (k, env, sizeof env);
        if (k->alias)
            snprintf (env + strlen (env), sizeof env - strlen (env), ", %s", k->alias);
        char bounds[64] = "";
        if (k->type == T_INT && k->choices)
            snprintf (bounds, sizeof bounds, " [%s]", k->choices);
        else
        if (k->type == T_INT || k->type == T_SEC || k->type == T_DAYS)
            snprintf (bounds, sizeof bounds, " [%g..%g]", k->min, k->max);
        else
        if (k->type == T_ENUM)
            snprintf (bounds, sizeof bounds, " [%s]", k->choices);
        fprintf (out, "  %-26s %-28s default '%s'%s\n      %s\n", k->name, env, k->dflt, bounds, k->help);
    }
}

int
wa_config_load (wa_config_t *self, const char *path, char *err, size_t errlen)
{
    wa_config_defaults (self);
    if (!path)
        path = getenv ("WACLUSTER_CONF");
    if (!path) {
        static const char *candidates[] = { "run/cluster.conf", "/etc/wacluster/wacluster.conf" };
        for (size_t i = 0; i < 2 && !path; i++)
            if (access (candidates[i], R_OK) == 0)
                path = candidates[i];
    }
    if (path && wa_config_load_file (self, path, err, errlen))
        return -1;
    if (wa_config_load_env (self, err, errlen))
        return -1;
    //  EXTERNAL_HOSTNAME stands in for COREAPP_HOSTNAME (or WA_HOSTNAME)
    //  when only it is given.
    char name[64];
    if (!s_env_set (s_find ("hostname"), name, sizeof name)
    &&  *self->external_hostname && strcmp (self->hostname, "127.0.0.1") == 0)
        snprintf (self->hostname, sizeof self->hostname, "%s", self->external_hostname);
    if (wa_config_check (self, err, errlen))
        return -1;
    int level = wa_log_level_parse (self->log_level);
    wa_log_set_level ((wa_log_level_t) (level < 0 ? WA_LOG_INFO : level));
    return 0;
}

void
wa_config_for_program (wa_config_t *self, const char *program)
{
    if (strcmp (program, "waweb") == 0 && *self->webapp_hostname)
        snprintf (self->hostname, sizeof self->hostname, "%s", self->webapp_hostname);
}

const int *
wa_config_bind_ports (const wa_config_t *self)
{
    return self->bind_ports[0] >= 0 ? self->bind_ports : self->ports;
}

int
wa_config_webapp_bind_port (const wa_config_t *self)
{
    return self->webapp_bind_port >= 0 ? self->webapp_bind_port : self->webapp_port;
}

const char *
wa_config_source (const wa_config_t *self)
{
    return self->source;
}

bool
wa_config_is_setting (const char *key)
{
    for (int i = 0; s_settings[i]; i++)
        if (strcmp (s_settings[i], key) == 0)
            return true;
    return false;
}

const char *
wa_config_setting_name (int index)
{
    if (index < 0 || index >= (int) (sizeof s_settings / sizeof s_settings[0]))
        return NULL;
    return s_settings[index];
}

const char *
wa_config_type (const char *key)
{
    const key_t_ *k = s_find (key);
    if (!k)
        return NULL;
    switch (k->type) {
        case T_SEC:   return "seconds";
        case T_DAYS:  return "days";
        case T_INT:   return "integer";
        case T_BOOL:  return "boolean";
        case T_ENUM:  return "choice";
        case T_PORTS: return "ports";
        case T_STR:   break;
    }
    return "string";
}

int
wa_config_get (const wa_config_t *self, const char *key, char *buf, size_t len)
{
    const key_t_ *k = s_find (key);
    if (!k)
        return -1;
    const void *field = (const char *) self + k->offset;
    switch (k->type) {
        case T_STR:
        case T_ENUM:  snprintf (buf, len, "%s", (const char *) field); break;
        case T_INT:
            if (*(const int *) field < 0 && !*k->dflt)
                snprintf (buf, len, "%s", "");
            else
                snprintf (buf, len, "%d", *(const int *) field);
            break;
        case T_SEC:
        case T_DAYS:  snprintf (buf, len, "%.17g", *(const double *) field); break;
        case T_BOOL:  snprintf (buf, len, "%d", *(const bool *) field ? 1 : 0); break;
        case T_PORTS: {
            //  "0" (any free ports) is the one way to say it: "0,0,0,0" is refused.
            const int *p = field;
            if (p[0] < 0)
                snprintf (buf, len, "%s", "");
            else
            if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0)
                snprintf (buf, len, "0");
            else
                snprintf (buf, len, "%d,%d,%d,%d", p[0], p[1], p[2], p[3]);
            break;
        }
    }
    //  The shortest plain decimal that reads back as the same double
    //  ("30", "0.25"), never an exponent. Days take more decimals: a test's
    //  few seconds of retention are 0.00005 days.
    if (k->type == T_SEC || k->type == T_DAYS) {
        for (int decimals = 0; decimals <= (k->type == T_DAYS ? 15 : 9); decimals++) {
            char probe[64];
            snprintf (probe, sizeof probe, "%.*f", decimals, *(const double *) field);
            if (strtod (probe, NULL) == *(const double *) field) {
                snprintf (buf, len, "%s", probe);
                break;
            }
        }
    }
    return 0;
}

bool
wa_config_is_secret (const char *key)
{
    return s_listed (s_secrets, key) || s_listed (s_urls, key);
}

bool
wa_config_is_loopback (const char *address)
{
    char text[64];
    struct in_addr v4;
    struct in6_addr v6;
    size_t len = strlen (address);
    if (!strcasecmp (address, "localhost") || !strcmp (address, "lo")
    ||  (len > 10 && !strcasecmp (address + len - 10, ".localhost")))
        return true;
    if (inet_pton (AF_INET, address, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    //  ZeroMQ writes an IPv6 address in brackets: tcp://[::1]:6250.
    if (len >= 2 && len < sizeof text && address[0] == '[' && address[len - 1] == ']') {
        memcpy (text, address + 1, len - 2);
        text[len - 2] = 0;
        address = text;
    }
    return inet_pton (AF_INET6, address, &v6) == 1 && IN6_IS_ADDR_LOOPBACK (&v6);
}

void
wa_config_redact_url (const char *url, char *buf, size_t len)
{
    const char *scheme = strstr (url, "://");
    const char *user = scheme ? scheme + 3 : NULL;
    size_t host = user ? strcspn (user, "/?#") : 0;
    const char *at = NULL;
    for (size_t i = 0; i < host; i++)
        if (user[i] == '@')
            at = user + i;
    if (!at) {
        snprintf (buf, len, "%s", url);
        return;
    }
    const char *colon = memchr (user, ':', (size_t) (at - user));
    if (colon)
        snprintf (buf, len, "%.*s:***%s", (int) (colon - url), url, at);
    else
        snprintf (buf, len, "%.*s***%s", (int) (user - url), url, at);
}

int
wa_config_display (const wa_config_t *self, const char *key, char *buf, size_t len)
{
    char value[WA_CONFIG_STR + 64];
    if (wa_config_get (self, key, value, sizeof value))
        return -1;
    if (s_listed (s_secrets, key))
        snprintf (buf, len, "%s", *value ? "(set)" : "");
    else
    if (s_listed (s_urls, key))
        wa_config_redact_url (value, buf, len);
    else
        snprintf (buf, len, "%s", value);
    return 0;
}

void
wa_config_copy_settings (wa_config_t *self, const wa_config_t *source)
{
    for (int i = 0; s_settings[i]; i++) {
        const key_t_ *k = s_find (s_settings[i]);
        memcpy ((char *) self + k->offset, (const char *) source + k->offset, k->size);
    }
}

wa_usec_t
wa_alive_window (double db_liveness_interval)
{
    return 2 * wa_clock_from_sec (db_liveness_interval);
}
