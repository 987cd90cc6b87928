/*  wa_config — the one validated table of settings.

    Every key has a type, a default, bounds and an environment variable
    (WA_ and its name in upper case; also the original client's name where
    it had another). Values come from the built-in defaults, then the
    config file, then the environment, which wins over the file. A bad value is an error that names the key, the value and where it
    came from; nothing is half-applied. */
#ifndef WA_CONFIG_H
#define WA_CONFIG_H

#include "wa_clock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define WA_CONFIG_STR 256
//  Shards of an account: 1, 2, 4, 8, 16 or 32 (the original's Multiconnect).
#define WA_SHARDS_MAX 32
//  Database nodes in db_hosts.
#define WA_DB_HOSTS_MAX 8

typedef struct {
    //  database
    char db_engine[16];             //  mysql | mariadb
    char db_hostname[WA_CONFIG_STR];
    int db_port;
    char db_hosts[WA_CONFIG_STR];   //  "host:port,host:port,...": tried in order (Galera); empty: db_hostname:db_port
    int db_failback_interval;       //  seconds between tries of a database node earlier in db_hosts; 0 never
    int db_clock_skew;              //  ms: the most two database nodes' clocks differ (Galera)
    char db_username[64];
    char db_password[128];
    char db_password_file[WA_CONFIG_STR];   //  db_password came from this file's first line
    char db_name[64];
    char db_bulk[8];                //  auto | array | rows: how wa_db_exec_bulk writes
    int db_connect_timeout;         //  seconds
    int db_statement_timeout;       //  seconds: a statement slower than this has failed
    int db_connection_idle_timeout; //  ms: a connection without a statement this long is closed; 0 never
    bool db_tls;                    //  TLS to the database (also on with db_tls_ca)
    char db_tls_ca[WA_CONFIG_STR];  //  PEM CA file the server's certificate must chain to
    char db_tls_cert[WA_CONFIG_STR];        //  PEM client certificate, with db_tls_key
    char db_tls_key[WA_CONFIG_STR];
    bool db_tls_verify;             //  check the server's certificate and its name
    //  this node
    bool master_node;               //  WA_MASTER_NODE: run as a Master
    char hostname[WA_CONFIG_STR];   //  COREAPP_HOSTNAME: how peers reach this node
    char external_hostname[WA_CONFIG_STR];
    int ports[4];                   //  COREAPP_EXTERNAL_PORTS: api, bus, control, health (advertised)
    int bind_ports[4];              //  the ports bound when they differ from ports; -1: ports
    char bind_address[64];
    //  the node bus's security (wa_trust)
    char bus_security[8];           //  curve | off
    char bus_cert[WA_CONFIG_STR];   //  this program's secret certificate
    char bus_keys_dir[WA_CONFIG_STR];   //  the allow-list: trusted public certificates
    //  cluster
    int shards;
    double lease_ttl;
    double lease_renew_interval;
    double lease_margin;
    double shard_lease_ttl;
    double shard_renew_interval;
    double db_liveness_interval;
    double heartbeat_interval;
    double unhealthy_interval;
    double upstream_unhealthy_interval;
    double promotion_holdoff;
    int failover_limit;
    double failover_window;
    //  retention: the primary Master's garbage collector (wamaster/gc.h)
    bool db_garbagecollector_enable;
    double retention_outbox_days;   //  days; 0 keeps them
    double retention_callbacks_days;
    double retention_events_days;
    double gc_interval;             //  seconds between passes
    int gc_batch_size;              //  rows per DELETE
    //  upstream (the messaging network, wagate locally)
    char upstream_endpoint[WA_CONFIG_STR];
    char upstream_control_endpoint[WA_CONFIG_STR];
    char account[33];
    double upstream_ping_interval;
    double upstream_idle_timeout;
    double upstream_login_timeout;
    char wagate_ledger[WA_CONFIG_STR];
    //  wagate playing the network
    double wagate_status_delay;     //  between sent, delivered, read
    char wagate_fail_digits[11];    //  recipients ending so: status failed
    char wagate_invalid_digits[11]; //  contacts ending so: invalid
    double wagate_inbound_rate;     //  generated per second, 0: none
    bool wagate_registered;         //  the account starts registered
    //  callbacks (webhooks) and media
    char webhooks_url[WA_CONFIG_STR];
    char webhooks_url_file[WA_CONFIG_STR];
    int webhooks_max_concurrent_requests;
    int callback_backoff_delay_ms;
    int max_callback_backoff_delay_ms;
    bool sent_status;
    //  The original's other application settings (docs/API.md says which
    //  have an effect here and why the others have none).
    bool callback_persist;
    bool pass_through;              //  outbox and callback rows go once past the retry window
    char media_auto_download[64];   //  "image,video,...": media of inbound messages to fetch
    bool notify_user_change_number;
    bool show_security_notifications;
    char on_call_pager[33];         //  a wa_id, or ""
    char webhooks_secret[WA_CONFIG_STR];    //  HMAC key of X-Hub-Signature-256; "": none
    char webhooks_secret_file[WA_CONFIG_STR];
    int callbacks_queue_max;        //  pending callbacks per shard, then events wait upstream
    char media_dir[WA_CONFIG_STR];
    double media_download_timeout;  //  waweb: a media link's whole download
    bool media_download_private;    //  waweb: links may reach private addresses
    //  the deployment (the original's variables)
    bool app_multiconnect;          //  WA_APP_MULTICONNECT: must be 1, the only mode there is
    char webapp_hostname[WA_CONFIG_STR];    //  WEBAPP_HOSTNAME: a Webapp's hostname
    char orchestration[32];         //  ORCHESTRATION: informational, logged at start
    char running_env_version[32];   //  WA_RUNNING_ENV_VERSION: informational, logged at start
    //  logging
    char log_level[8];
    bool log_syslog;
    //  where the values came from (not a key)
    char source[WA_CONFIG_STR];
    //  the Webapp (waweb): the HTTP API
    int webapp_port;                //  WEBAPP_EXTERNAL_PORTS; 0 = any free port
    int webapp_bind_port;           //  the port bound when it differs from webapp_port; -1: webapp_port
    char webapp_bind[64];           //  "*" = every IPv4 address
    char webapp_tls_cert[WA_CONFIG_STR];    //  PEM file; with the key: HTTPS
    char webapp_tls_key[WA_CONFIG_STR];
    bool webapp_tls_self_signed;    //  make the pair at the first start when neither file exists
    int webapp_max_body;            //  bytes; a larger request body gets 413
    int webapp_max_body_total;      //  bytes of bodies in memory at once; past it 503
    int webapp_max_connections;     //  open at once
    int webapp_max_connections_per_address;     //  0: no limit
    double webapp_header_timeout;   //  absolute: request line and headers
    double webapp_body_timeout;     //  absolute: the whole body, once accepted
    double request_deadline;        //  a forwarded request is retried this long
    double request_attempt_timeout; //  one attempt waits this long for its answer
    int token_ttl;                  //  seconds a login token stays valid
    int login_failures_limit;       //  failed logins per client address ...
    double login_failures_window;   //  ... within this many seconds, then 429
    char admin_password_file[WA_CONFIG_STR];    //  the first admin password, from a file
} wa_config_t;

//  Fill with the built-in defaults.
void wa_config_defaults (wa_config_t *self);
//  Read key = value lines from path: '#' at the start of a line or after
//  white space starts a comment; a value in double quotes keeps its '#'
//  and spaces (\" and \\ inside). On error returns -1 with a message in
//  err ("FILE:LINE: key 'x': ..."), and self is left as it was. A secret's
//  key X_file reads X from the first line of that file; X and X_file in
//  one file is an error.
int wa_config_load_file (wa_config_t *self, const char *path, char *err, size_t errlen);
//  Apply the environment: WA_ and a key's name in upper case for every
//  key (WA_DB_HOSTNAME, WA_LEASE_TTL, ...), and the original's name where
//  it had another (COREAPP_HOSTNAME, ...): both set must agree; WA_X and
//  WA_X_FILE both given a value is an error. Values are checked as a
//  file's are.
int wa_config_load_env (wa_config_t *self, char *err, size_t errlen);
//  Set one key from text, checking type and bounds.
int wa_config_set (wa_config_t *self, const char *key, const char *value, char *err, size_t errlen);
//  Checks that involve several keys (renew shorter than ttl, ...).
int wa_config_check (const wa_config_t *self, char *err, size_t errlen);

//  One database node of db_hosts.
typedef struct {
    char host[254];                 //  a name, an IPv4 address, or an IPv6 address (without brackets)
    int port;
} wa_db_host_t;

//  The database nodes to use, in order: db_hosts parsed ("host", "host:port",
//  "[v6]" or "[v6]:port", separated by commas; a missing port is db_port),
//  or db_hostname:db_port when db_hosts is empty. The count (at least 1), or
//  -1 with the reason, naming the bad entry, in err.
int wa_config_db_hosts (const wa_config_t *self, wa_db_host_t *hosts, int max, char *err, size_t errlen);
//  A node is alive while its last liveness claim (nodes.last_seen) is this
//  recent by the database's clock: twice db_liveness_interval. In SQL:
//  WA_SQL_ALIVE ("last_seen") with this window, in microseconds.
wa_usec_t wa_alive_window (double db_liveness_interval);
#define WA_SQL_ALIVE(column) column " > NOW(6) - INTERVAL ? MICROSECOND"
//  What a program takes from the keys of another role's name: waweb's
//  hostname is webapp_hostname (WEBAPP_HOSTNAME) when that is set.
void wa_config_for_program (wa_config_t *self, const char *program);
//  The ports a node binds: bind_ports when set, else ports.
const int *wa_config_bind_ports (const wa_config_t *self);

//  The port a Webapp binds: webapp_bind_port when set, else webapp_port.
int wa_config_webapp_bind_port (const wa_config_t *self);
//  Print every key with its value as "key = value" lines (secrets as
//  wa_config_display shows them), in double quotes where a config file
//  would read the value otherwise.
void wa_config_print (const wa_config_t *self, FILE *out);
//  Print the keys, their env names, defaults and bounds (for --help).
void wa_config_print_help (FILE *out);

//  Cluster settings: the keys that live in the database's `settings` table
//  once a cluster exists, are changed with `wactl settings set`, and apply on
//  every node without a restart. The config file only seeds them.
bool wa_config_is_setting (const char *key);
//  The i-th setting's name, NULL past the last.
const char *wa_config_setting_name (int index);
//  The type of key's value: "seconds", "days", "integer", "boolean",
//  "string", "choice" (one of a list) or "ports"; NULL for an unknown key.
const char *wa_config_type (const char *key);
//  The value of key as text (what wa_config_set accepts). 0 / -1.
int wa_config_get (const wa_config_t *self, const char *key, char *buf, size_t len);
//  The value of key as it may be shown in a log, an answer or a listing:
//  a secret (db_password, webhooks_secret) as "(set)" or "", a URL with
//  its credentials hidden (wa_config_redact_url); any other key as
//  wa_config_get. 0 / -1.
int wa_config_display (const wa_config_t *self, const char *key, char *buf, size_t len);
//  True for a key whose value wa_config_display does not show as it is.
bool wa_config_is_secret (const char *key);
//  The URL with the password of its user information replaced by ***
//  ("https://user:***@host/path"), or all of it when it has no ':'
//  ("https://***@host/path": often a token); other URLs as they are.
void wa_config_redact_url (const char *url, char *buf, size_t len);
//  True for an address only this host reaches: 127.0.0.0/8, ::1 (also
//  in brackets), localhost and names under .localhost, the interface lo.
bool wa_config_is_loopback (const char *address);
//  Copy every setting's value from source into self.
void wa_config_copy_settings (wa_config_t *self, const wa_config_t *source);

//  Defaults, file (explicit path, $WACLUSTER_CONF, ./run/cluster.conf or
//  /etc/wacluster/wacluster.conf, the first that exists), environment, then
//  the cross-key checks. Returns 0 or -1 with the message in err.
int wa_config_load (wa_config_t *self, const char *path, char *err, size_t errlen);
//  The file wa_config_load read, "" when none.
const char *wa_config_source (const wa_config_t *self);

//  A media_auto_download value: media types (audio, document, image,
//  sticker, video, voice), comma-separated, each at most once; "" is none.
//  0, or -1 with err naming the bad one.
int wa_config_media_types_check (const char *list, char *err, size_t errlen);

#endif
