/*  wa_db — see include/wa_db.h */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include "wa_clock.h"
#include "wa_db.h"
#include "wa_log.h"
#include "wa_migrations.h"

#define STMT_CACHE 64
#define MAX_PARAMS 16
#define BULK_MAX 4096
//  A multi-row statement (db_bulk = rows) holds at most this many rows, and
//  fewer when they would pass the servers' 65535 placeholders.
#define CHUNK_MAX 512
#define PLACEHOLDERS_MAX 65535
//  MySQL's "disconnected by the server because of inactivity" (8.0.24+; in
//  MariaDB the number means something else).
#define MYSQL_ER_CLIENT_INTERACTION_TIMEOUT 4031
#define MAX_COLUMNS 24
#define COLUMN_MAX 8192         //  an outbox payload (4096-byte body, escaped) fits
#define BACKOFF_MIN (100 * 1000)
#define BACKOFF_MAX (1000 * 1000)

//  The process's database counters: written by the DB workers' threads,
//  read by the reactor (stats), hence atomic.
static _Atomic uint64_t s_statements;
static _Atomic uint64_t s_errors;
static _Atomic uint64_t s_connects;
static _Atomic uint64_t s_connect_failures;
static _Atomic uint64_t s_disconnects;
static _Atomic uint64_t s_failovers;            //  connections moved to another database node

//  The database node every connection of this process should use: an index
//  into db_hosts (every connection of a process parses the same config).
//  Kept per process, not per connection, so that a node's connections stay
//  on one database node: on Galera, two of them on different nodes writing
//  the same row (a renewal and a fence) would fail each other's
//  certification, where on one node they simply wait for each other. A
//  connection that cannot use it moves it on; the others follow at their
//  next statement outside a transaction.
static _Atomic int s_host_current;
//  When a connection on a later node next tries the earlier ones (fail-back),
//  for the whole process.
static _Atomic int64_t s_failback_at;

typedef struct {
    const char *sql;            //  the caller's string; its address is the key
    unsigned int rows;          //  0, or the rows of its multi-row form
    MYSQL_STMT *stmt;
} cached_t;

struct wa_db_row_t {
    int columns;
    char text[MAX_COLUMNS][COLUMN_MAX];
    unsigned long length[MAX_COLUMNS];
    my_bool null[MAX_COLUMNS];
    my_bool error[MAX_COLUMNS];
};

struct wa_db_t {
    const wa_config_t *config;
    MYSQL *mysql;
    //  The database nodes (db_hosts, or db_hostname:db_port) and the one
    //  this connection uses (-1: none).
    wa_db_host_t hosts[WA_DB_HOSTS_MAX];
    int nhosts;
    int host;
    char node[300];             //  "host:port" of the connection, or ""
    bool galera;                //  that node is a member of a Galera cluster
    bool has_schema;            //  the database exists and is selected
    cached_t cache[STMT_CACHE];
    int cached;
    wa_usec_t retry_at;         //  no connection attempt before this
    wa_usec_t backoff;
    uint64_t insert_id;
    unsigned int last_errno;
    char last_error[512];
    char connect_error[256];    //  why the last connection attempt failed
    bool warned_timeouts;
    //  What the server is, read at each connection (s_server).
    bool mariadb;
    bool array_binding;         //  wa_db_exec_bulk binds arrays (else multi-row statements)
    bool in_transaction;
    //  The connection ended inside a transaction (which the server rolled
    //  back): every statement fails until the caller ends the transaction
    //  (ROLLBACK, or START TRANSACTION anew), so that none of it runs on a
    //  new connection, outside the transaction, and a COMMIT cannot
    //  answer OK for work that is gone.
    bool transaction_lost;
    wa_usec_t used_at;          //  the connection's last round trip began
    wa_usec_t statement_at;     //  its last statement (not a ping) began
    wa_db_row_t row;
};

static pthread_once_t s_library_once = PTHREAD_ONCE_INIT;

static void
s_library_init (void)
{
    if (mysql_library_init (0, NULL, NULL))
        wa_error ("db: the MariaDB client library cannot start");
}

wa_db_t *
wa_db_new (const wa_config_t *config)
{
    //  The client library's global state (and OpenSSL's under it) must be
    //  set up once, before any thread calls mysql_init: the DB workers
    //  start at the same time.
    pthread_once (&s_library_once, s_library_init);
    static _Atomic bool warned;
    if ((config->db_tls || *config->db_tls_ca) && !config->db_tls_verify && !warned) {
        warned = true;
        wa_warn ("db: TLS without verification (db_tls_verify = 0): encrypted, but anyone on the path "
                 "can pose as the database");
    }
    wa_db_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config = config;
    self->backoff = BACKOFF_MIN;
    self->host = -1;
    char err[256];
    self->nhosts = wa_config_db_hosts (config, self->hosts, WA_DB_HOSTS_MAX, err, sizeof err);
    if (self->nhosts < 1) {
        //  A config that passed wa_config_check cannot get here.
        wa_error ("db: %s", err);
        snprintf (self->hosts[0].host, sizeof self->hosts[0].host, "%.253s", config->db_hostname);
        self->hosts[0].port = config->db_port;
        self->nhosts = 1;
    }
    return self;
}

void
wa_db_disconnect (wa_db_t *self)
{
    for (int i = 0; i < self->cached; i++)
        mysql_stmt_close (self->cache[i].stmt);
    self->cached = 0;
    if (self->mysql)
        mysql_close (self->mysql);
    self->mysql = NULL;
    self->has_schema = false;
    if (self->in_transaction)
        self->transaction_lost = true;
    self->in_transaction = false;
    self->host = -1;
    self->node[0] = 0;
    self->galera = false;
}

void
wa_db_destroy (wa_db_t **self_p)
{
    if (*self_p) {
        wa_db_disconnect (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_set_error (wa_db_t *self, unsigned int err, const char *text)
{
    self->last_errno = err;
    snprintf (self->last_error, sizeof self->last_error, "%s", text);
}

//  Client-side errors (2000-2999) and a server going away mean the
//  connection can no longer be trusted: a timed-out statement may still run.
static bool
s_connection_error (const wa_db_t *self, unsigned int err)
{
    //  ER_UNKNOWN_COM_ERROR is what a Galera node answers once it is no
    //  longer a synced member of the primary component ("WSREP has not yet
    //  prepared node for application use"): another node must serve.
    return (err >= 2000 && err < 3000) || err == ER_SERVER_SHUTDOWN
        || err == ER_CONNECTION_KILLED || err == ER_QUERY_INTERRUPTED
        || (self->galera && err == ER_UNKNOWN_COM_ERROR)
        || (!self->mariadb && err == MYSQL_ER_CLIENT_INTERACTION_TIMEOUT);
}

static int
s_select_schema (wa_db_t *self)
{
    if (mysql_select_db (self->mysql, self->config->db_name) == 0) {
        self->has_schema = true;
        return 0;
    }
    s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
    return -1;
}

//  TLS to the server (db_tls, or db_tls_ca), required: a server without it
//  is refused. Verified unless db_tls_verify is off: the certificate must
//  chain to db_tls_ca (the system's CA store when empty) and name
//  db_hostname.
static void
s_set_tls (MYSQL *mysql, const wa_config_t *c)
{
    if (!c->db_tls && !*c->db_tls_ca)
        return;
    my_bool on = 1, verify = c->db_tls_verify ? 1 : 0;
    mysql_options (mysql, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_options (mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    //  The client library checks the chain whenever it has a CA.
    if (*c->db_tls_ca && verify)
        mysql_options (mysql, MYSQL_OPT_SSL_CA, c->db_tls_ca);
    if (*c->db_tls_cert) {
        mysql_options (mysql, MYSQL_OPT_SSL_CERT, c->db_tls_cert);
        mysql_options (mysql, MYSQL_OPT_SSL_KEY, c->db_tls_key);
    }
    mysql_options (mysql, MARIADB_OPT_TLS_VERSION, "TLSv1.2,TLSv1.3");
}

//  A session silent this long (seconds) is ended by the server, and no
//  statement waits longer for a lock: the statement timeout.
static unsigned int
s_idle_limit (const wa_db_t *self)
{
    int limit = self->config->db_statement_timeout;
    return limit > 0 ? (unsigned int) limit : 1;
}

//  One round trip that keeps the session from its idle limit. 0, or -1 when
//  the connection is gone (dropped: the next call connects again).
static int
s_ping (wa_db_t *self)
{
    self->used_at = wa_clock_mono ();
    if (mysql_ping (self->mysql) == 0)
        return 0;
    s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
    wa_debug ("db: an idle connection is gone (%s); connecting again", self->last_error);
    s_disconnects++;
    wa_db_disconnect (self);
    return -1;
}

//  A connection attempt failed (why: text): no other before the backoff.
static int
s_connect_failed (wa_db_t *self, wa_usec_t now, unsigned int err, const char *text)
{
    s_set_error (self, err, text);
    s_connect_failures++;
    snprintf (self->connect_error, sizeof self->connect_error, "%s", text);
    if (self->mysql)
        mysql_close (self->mysql);
    self->mysql = NULL;
    self->retry_at = now + self->backoff;
    self->backoff = self->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : self->backoff * 2;
    return -1;
}

//  What the server is decides how wa_db_exec_bulk writes, at each
//  connection (a server may be replaced by another behind one address):
//  MariaDB's array binding (COM_STMT_BULK_EXECUTE, one round trip for a
//  whole batch) when the server announces it (the extended capability
//  MARIADB_CLIENT_STMT_BULK_OPERATIONS, MariaDB 10.2 and later) and db_bulk
//  allows it, else multi-row statements, which every server runs. The
//  choice is logged once per process, and again if it changes. 0, or -1
//  (the reason in text) when db_bulk = array and the server cannot.
static int
s_server (wa_db_t *self, char *text, size_t size)
{
    static _Atomic int logged;          //  the choice last logged: 1 array, 2 rows (auto), 3 rows (set)
    unsigned long caps = 0, extended = 0;
    mariadb_get_infov (self->mysql, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps);
    mariadb_get_infov (self->mysql, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &extended);
    self->mariadb = mariadb_connection (self->mysql);
    bool can = !(caps & CLIENT_MYSQL) && (extended & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32));
    unsigned long v = mysql_get_server_version (self->mysql);
    char server[48];
    snprintf (server, sizeof server, "%s %lu.%lu.%lu", self->mariadb ? "MariaDB" : "MySQL", v / 10000,
              v / 100 % 100, v % 100);
    const char *mode = self->config->db_bulk;
    if (strcmp (mode, "array") == 0 && !can) {
        snprintf (text, size, "db_bulk = array, but the server (%s) has no array binding (MariaDB's bulk "
                  "operations): set db_bulk = auto or rows", server);
        return -1;
    }
    self->array_binding = can && strcmp (mode, "rows") != 0;
    int choice = self->array_binding ? 1 : strcmp (mode, "rows") ? 2 : 3;
    if (atomic_exchange (&logged, choice) != choice) {
        if (choice == 1)
            wa_info ("db: the server is %s: bulk writes bind arrays, one round trip a batch (db_bulk = %s)",
                     server, mode);
        else
        if (choice == 2)
            wa_info ("db: the server is %s: bulk writes as multi-row statements (the server has no array "
                     "binding; db_bulk = auto)", server);
        else
            wa_info ("db: the server is %s: bulk writes as multi-row statements (db_bulk = rows)", server);
    }
    return 0;
}

//  A Galera node's state, as its status variables say it.
typedef struct {
    char ready[16];             //  wsrep_ready: ON, OFF
    char state[16];             //  wsrep_local_state: 4 is Synced
    char status[32];            //  wsrep_cluster_status: Primary, non-Primary
    char comment[32];           //  wsrep_local_state_comment: Synced, Initialized, ...
} wsrep_state_t;

//  0, or -1 (the query failed: the reason in mysql_error).
static int
s_wsrep_state (MYSQL *mysql, wsrep_state_t *out)
{
    memset (out, 0, sizeof *out);
    if (mysql_query (mysql, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                     "('wsrep_ready', 'wsrep_local_state', 'wsrep_cluster_status', 'wsrep_local_state_comment')"))
        return -1;
    MYSQL_RES *res = mysql_store_result (mysql);
    MYSQL_ROW row;
    while (res && (row = mysql_fetch_row (res))) {
        if (!row[0] || !row[1])
            continue;
        if (strcasecmp (row[0], "wsrep_ready") == 0)
            snprintf (out->ready, sizeof out->ready, "%s", row[1]);
        else
        if (strcasecmp (row[0], "wsrep_local_state") == 0)
            snprintf (out->state, sizeof out->state, "%s", row[1]);
        else
        if (strcasecmp (row[0], "wsrep_cluster_status") == 0)
            snprintf (out->status, sizeof out->status, "%s", row[1]);
        else
            snprintf (out->comment, sizeof out->comment, "%s", row[1]);
    }
    if (res)
        mysql_free_result (res);
    return 0;
}

//  A Galera node serves only as a synced member of the primary component
//  (a node cut off into a minority refuses statements, a joiner or donor
//  may be behind): 0, or -1 with the reason in text. A server without
//  Galera (no wsrep_on, or OFF) is a single server: 0. On a Galera node,
//  every read and every INSERT of the session waits until the node has
//  applied every write committed anywhere before it (wsrep_sync_wait = 1 +
//  4): a lease, the shard map, a setting read on one node may not be older
//  than one written on another, and a row inserted after a move to another
//  node takes an auto-increment seq above every row committed before it
//  (the node's counter moves past the rows it applies), so a shard's
//  callbacks keep their order by seq. Updates need no wait: certification
//  refuses a transaction that wrote a row another node changed since it
//  began (docs/ARCHITECTURE.md, On a Galera cluster).
static int
s_galera (wa_db_t *self, char *text, size_t size)
{
    self->galera = false;
    if (mysql_query (self->mysql, "SHOW VARIABLES LIKE 'wsrep_on'")) {
        snprintf (text, size, "cannot ask whether the server is a Galera node: %s", mysql_error (self->mysql));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result (self->mysql);
    MYSQL_ROW row = res ? mysql_fetch_row (res) : NULL;
    bool on = row && row[1] && strcasecmp (row[1], "ON") == 0;
    if (res)
        mysql_free_result (res);
    if (!on)
        return 0;
    wsrep_state_t w;
    if (s_wsrep_state (self->mysql, &w)) {
        snprintf (text, size, "cannot read the Galera node's state: %s", mysql_error (self->mysql));
        return -1;
    }
    //  4: Synced.
    if (strcasecmp (w.ready, "ON") != 0 || strcmp (w.state, "4") != 0 || strcmp (w.status, "Primary") != 0) {
        snprintf (text, size, "the Galera node is not a synced member of the primary component (wsrep_ready %s, "
                  "state %s, cluster status %s)", *w.ready ? w.ready : "?",
                  *w.comment ? w.comment : *w.state ? w.state : "?", *w.status ? w.status : "?");
        return -1;
    }
    if (mysql_query (self->mysql, "SET SESSION wsrep_sync_wait = 5")) {
        snprintf (text, size, "cannot set wsrep_sync_wait: %s", mysql_error (self->mysql));
        return -1;
    }
    self->galera = true;
    return 0;
}

//  A new connection to database node i: 0, or -1 with the reason in text
//  (the connection closed).
static int
s_connect_to (wa_db_t *self, int i, char *text, size_t size)
{
    const wa_config_t *c = self->config;
    const wa_db_host_t *h = &self->hosts[i];
    self->mysql = mysql_init (NULL);
    assert (self->mysql);
    unsigned int connect_timeout = (unsigned int) c->db_connect_timeout;
    unsigned int io_timeout = (unsigned int) c->db_statement_timeout;
    my_bool off = 0;
    mysql_options (self->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options (self->mysql, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options (self->mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options (self->mysql, MYSQL_OPT_RECONNECT, &off);
    mysql_options (self->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    //  Every session judges time in UTC, so NOW(6) means the same on all nodes.
    mysql_options (self->mysql, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    s_set_tls (self->mysql, c);
    char why[256];
    int rc = 0;
    if (!mysql_real_connect (self->mysql, h->host, c->db_username, c->db_password,
                             NULL, (unsigned int) h->port, NULL, CLIENT_FOUND_ROWS)) {
        s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
        snprintf (why, sizeof why, "%s", mysql_error (self->mysql));
        rc = -1;
    }
    else
    if (s_server (self, why, sizeof why)) {
        static _Atomic bool said;
        if (!atomic_exchange (&said, true))
            wa_error ("db: %s", why);
        s_set_error (self, CR_UNKNOWN_ERROR, why);
        rc = -1;
    }
    else
    if (s_galera (self, why, sizeof why)) {
        s_set_error (self, CR_UNKNOWN_ERROR, why);
        rc = -1;
    }
    if (rc) {
        if (self->nhosts > 1)
            snprintf (text, size, "%s:%d: %s", h->host, h->port, why);
        else
            snprintf (text, size, "%s", why);
        mysql_close (self->mysql);
        self->mysql = NULL;
        self->galera = false;
        return -1;
    }
    self->host = i;
    snprintf (self->node, sizeof self->node, strchr (h->host, ':') ? "[%s]:%d" : "%s:%d", h->host, h->port);
    return 0;
}

//  text added to buf (of size), cut short when it does not fit.
static void
s_append (char *buf, size_t size, const char *text)
{
    size_t len = strlen (buf), add = strlen (text);
    if (len + add >= size)
        add = size - len - 1;
    memcpy (buf + len, text, add);
    buf[len + add] = 0;
}

//  The session's bounds, on a new connection.
static void
s_bound_session (wa_db_t *self)
{
    //  No session may hold locks for long: a node paused (SIGSTOP) or cut
    //  off in the middle of a transaction would otherwise block every
    //  writer of the rows it locked — a promotion among them — for hours.
    //  The server ends a session silent for the statement timeout
    //  (wait_timeout; also idle_transaction_timeout on MariaDB, which MySQL
    //  does not have), and no statement waits for a lock longer than that.
    //  A live node's idle connection is kept from that end by its DB
    //  worker's pings (wa_db_keepalive), or asked again before its next
    //  statement (wa_db_ensure).
    char sql[200];
    unsigned int limit = s_idle_limit (self);
    if (self->mariadb)
        snprintf (sql, sizeof sql, "SET SESSION wait_timeout = %u, idle_transaction_timeout = %u, "
                  "innodb_lock_wait_timeout = %u", limit, limit, limit);
    else
        snprintf (sql, sizeof sql, "SET SESSION wait_timeout = %u, innodb_lock_wait_timeout = %u", limit, limit);
    if (mysql_query (self->mysql, sql)) {
        if (!self->warned_timeouts)
            wa_warn ("db: cannot bound idle sessions (%s): a paused node could hold locks longer",
                     mysql_error (self->mysql));
        self->warned_timeouts = true;
    }
}

//  Connected to a database node earlier in db_hosts than the one in use,
//  when one serves again: the connection (outside a transaction) moves to
//  it, and the process's other connections follow. At most one try per
//  db_failback_interval per process, since a node that is cut off makes
//  each try wait db_connect_timeout.
static void
s_failback (wa_db_t *self, wa_usec_t now)
{
    int interval = self->config->db_failback_interval;
    if (interval <= 0 || self->host <= 0 || self->in_transaction)
        return;
    int64_t due = atomic_load (&s_failback_at);
    if ((int64_t) now < due)
        return;
    if (!atomic_compare_exchange_strong (&s_failback_at, &due, (int64_t) (now + wa_clock_from_sec (interval))))
        return;
    //  Tried on a connection of its own: the one in use stays until another serves.
    wa_db_t *probe = wa_db_new (self->config);
    for (int i = 0; i < self->host; i++) {
        char why[300];
        if (s_connect_to (probe, i, why, sizeof why)) {
            wa_debug ("db: fail-back: %s", why);
            continue;
        }
        wa_info ("db: back to database node %s (earlier in db_hosts than %s)", probe->node, self->node);
        wa_db_disconnect (self);
        self->mysql = probe->mysql;
        self->host = probe->host;
        self->galera = probe->galera;
        self->mariadb = probe->mariadb;
        self->array_binding = probe->array_binding;
        snprintf (self->node, sizeof self->node, "%s", probe->node);
        probe->mysql = NULL;
        s_bound_session (self);
        atomic_store (&s_host_current, i);
        s_failovers++;
        s_connects++;
        self->used_at = self->statement_at = wa_clock_mono ();
        break;
    }
    wa_db_destroy (&probe);
}

int
wa_db_ensure (wa_db_t *self)
{
    //  A connection silent for half its idle limit may be at the server's
    //  end of it: asked first, and made again if it is gone. Not inside a
    //  transaction: one that outlived the limit was rolled back, and its
    //  next statement must fail.
    if (self->mysql && !self->in_transaction
    &&  wa_clock_mono () - self->used_at >= wa_clock_from_sec (s_idle_limit (self)) / 2)
        s_ping (self);
    //  Another connection of this process moved to another database node:
    //  this one follows, between transactions.
    if (self->mysql && !self->in_transaction && self->nhosts > 1) {
        int current = atomic_load (&s_host_current);
        if (current != self->host && current < self->nhosts) {
            wa_debug ("db: following the process's other connections to database node %s:%d",
                      self->hosts[current].host, self->hosts[current].port);
            wa_db_disconnect (self);
        }
        else
            s_failback (self, wa_clock_mono ());
    }
    if (self->mysql)
        return self->has_schema ? 0 : s_select_schema (self);
    wa_usec_t now = wa_clock_mono ();
    if (now < self->retry_at)
        return -1;
    //  Each database node in turn, from the one in use: the first that
    //  serves is used, and becomes the process's.
    int first = atomic_load (&s_host_current);
    if (first < 0 || first >= self->nhosts)
        first = 0;
    char why[sizeof self->connect_error] = "";
    for (int k = 0; k < self->nhosts; k++) {
        int i = (first + k) % self->nhosts;
        char one[300];
        if (s_connect_to (self, i, one, sizeof one) == 0) {
            if (i != first) {
                int expected = first;
                if (atomic_compare_exchange_strong (&s_host_current, &expected, i)) {
                    s_failovers++;
                    wa_warn ("db: database node %s:%d does not serve (%s); using %s", self->hosts[first].host,
                             self->hosts[first].port, why, self->node);
                }
            }
            why[0] = 0;
            break;
        }
        s_append (why, sizeof why, *why ? "; " : "");
        s_append (why, sizeof why, one);
    }
    if (!self->mysql) {
        //  Every node refused: the last error stands, and a backoff begins.
        return s_connect_failed (self, now, self->last_errno ? self->last_errno : CR_CONN_HOST_ERROR, why);
    }
    self->backoff = BACKOFF_MIN;
    self->retry_at = 0;
    self->used_at = self->statement_at = wa_clock_mono ();
    s_connects++;
    s_bound_session (self);
    return s_select_schema (self);
}

const char *
wa_db_node (const wa_db_t *self)
{
    return self->node;
}

bool
wa_db_galera (const wa_db_t *self)
{
    return self->galera;
}

int
wa_db_keepalive (wa_db_t *self)
{
    if (!self->mysql || self->in_transaction)
        return 0;
    //  db_connection_idle_timeout (the original's): a connection nobody
    //  used that long goes back to the server instead of being kept alive
    //  (a proxy or firewall in between may drop it silently otherwise).
    wa_usec_t now = wa_clock_mono ();
    int idle_ms = self->config->db_connection_idle_timeout;
    if (idle_ms > 0 && now - self->statement_at >= (wa_usec_t) idle_ms * 1000) {
        wa_debug ("db: no statement for %d ms (db_connection_idle_timeout): closing the connection; the "
                  "next statement opens another", idle_ms);
        wa_db_disconnect (self);
        return 0;
    }
    if (now - self->used_at < wa_clock_from_sec (s_idle_limit (self)) / 3)
        return 0;
    return s_ping (self);
}

wa_usec_t
wa_db_keepalive_due (const wa_db_t *self)
{
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t interval = wa_clock_from_sec (s_idle_limit (self)) / 3;
    if (!self->mysql || self->in_transaction)
        return now + interval;
    wa_usec_t due = self->used_at + interval;
    int idle_ms = self->config->db_connection_idle_timeout;
    if (idle_ms > 0 && self->statement_at + (wa_usec_t) idle_ms * 1000 < due)
        due = self->statement_at + (wa_usec_t) idle_ms * 1000;
    return due;
}

bool
wa_db_connected (wa_db_t *self)
{
    return self->mysql != NULL;
}

static MYSQL_STMT *
s_cached (wa_db_t *self, const char *sql, unsigned int rows)
{
    for (int i = 0; i < self->cached; i++)
        if (self->cache[i].sql == sql && self->cache[i].rows == rows)
            return self->cache[i].stmt;
    return NULL;
}

//  The statement sql, or its multi-row form of rows rows (text), prepared
//  once and kept. NULL on an error (in last_error).
static MYSQL_STMT *
s_prepare (wa_db_t *self, const char *sql, unsigned int rows, const char *text)
{
    MYSQL_STMT *stmt = s_cached (self, sql, rows);
    if (stmt)
        return stmt;
    stmt = mysql_stmt_init (self->mysql);
    if (!stmt) {
        s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
        return NULL;
    }
    if (mysql_stmt_prepare (stmt, text, strlen (text))) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        mysql_stmt_close (stmt);
        return NULL;
    }
    //  Only statically allocated SQL is cached (the key is its address);
    //  when the cache is full the oldest goes.
    if (self->cached == STMT_CACHE) {
        mysql_stmt_close (self->cache[0].stmt);
        memmove (self->cache, self->cache + 1, sizeof self->cache[0] * (STMT_CACHE - 1));
        self->cached--;
    }
    self->cache[self->cached].sql = sql;
    self->cache[self->cached].rows = rows;
    self->cache[self->cached].stmt = stmt;
    self->cached++;
    return stmt;
}

static void
s_forget (wa_db_t *self, MYSQL_STMT *stmt)
{
    for (int i = 0; i < self->cached; i++)
        if (self->cache[i].stmt == stmt) {
            mysql_stmt_close (stmt);
            memmove (self->cache + i, self->cache + i + 1, sizeof self->cache[0] * (size_t) (self->cached - i - 1));
            self->cached--;
            return;
        }
}

typedef union {
    long long i;
    unsigned long long u;
    double d;
} param_value_t;

//  A Galera node cut off into a minority fails a commit in flight with 1180
//  and, with wsrep_sync_wait, every read with 1205 (a lock wait timeout),
//  while the connection stays up; only writes say 1047. After either error
//  the node is asked whether it still serves: true when it does not (or
//  cannot say), and the connection must go to another node.
static bool
s_left_cluster (wa_db_t *self)
{
    if (!self->galera || !self->mysql
    ||  (self->last_errno != ER_LOCK_WAIT_TIMEOUT && self->last_errno != ER_ERROR_DURING_COMMIT))
        return false;
    wsrep_state_t w;
    if (s_wsrep_state (self->mysql, &w))
        return true;
    bool ready = strcasecmp (w.ready, "ON") == 0;
    if (!ready)
        wa_debug ("db: database node %s is no longer ready (wsrep_ready OFF): connecting to another", self->node);
    return !ready;
}

//  After a failed statement: a lost connection is dropped (the next call
//  reconnects), a statement the server no longer knows is prepared again.
static void
s_failed (wa_db_t *self, MYSQL_STMT *stmt)
{
    s_errors++;
    if (s_connection_error (self, self->last_errno) || s_left_cluster (self)) {
        s_disconnects++;
        wa_db_disconnect (self);
    }
    else
    if (stmt && (self->last_errno == ER_NEED_REPREPARE || self->last_errno == ER_NO_SUCH_TABLE))
        s_forget (self, stmt);
}

//  Connected, or the reason why not in last_error. 0 / -1.
static int
s_ready (wa_db_t *self)
{
    s_statements++;
    self->last_errno = 0;
    self->last_error[0] = 0;
    if (self->transaction_lost) {
        s_errors++;
        s_set_error (self, CR_SERVER_LOST, "the connection was lost inside the transaction, which the server "
                     "rolled back: ROLLBACK before the next statement");
        return -1;
    }
    if (wa_db_ensure (self) == 0) {
        self->used_at = self->statement_at = wa_clock_mono ();
        return 0;
    }
    //  While the backoff runs, keep the reason of the last failure.
    if (!self->last_error[0])
        snprintf (self->last_error, sizeof self->last_error, "not connected (retrying after: %s)",
                  self->connect_error[0] ? self->connect_error : "no attempt yet");
    if (!self->last_errno)
        self->last_errno = CR_CONN_HOST_ERROR;
    return -1;
}

//  The statement prepared (sql, or its multi-row form of rows rows: text)
//  and its parameter count nparams: the statement, or NULL (the reason in
//  last_error).
static MYSQL_STMT *
s_prepared (wa_db_t *self, const char *sql, unsigned int rows, const char *text, size_t nparams)
{
    MYSQL_STMT *stmt = s_prepare (self, sql, rows, text);
    if (!stmt) {
        s_failed (self, NULL);
        return NULL;
    }
    if (nparams != mysql_stmt_param_count (stmt)) {
        s_set_error (self, 0, "parameter count does not match the statement");
        wa_error ("db: %s: %s", self->last_error, sql);
        return NULL;
    }
    return stmt;
}

//  Connected, the statement prepared, and fmt's parameter count the
//  statement's: the statement, or NULL (the reason in last_error).
static MYSQL_STMT *
s_statement (wa_db_t *self, const char *sql, const char *fmt)
{
    if (s_ready (self))
        return NULL;
    size_t nparams = strlen (fmt);
    assert (nparams <= MAX_PARAMS);
    return s_prepared (self, sql, 0, sql, nparams);
}

//  Runs the statement; on success the caller may fetch. Returns 0 / -1.
static int
s_execute (wa_db_t *self, const char *sql, MYSQL_STMT **stmt_p, const char *fmt, va_list args)
{
    MYSQL_STMT *stmt = s_statement (self, sql, fmt);
    if (!stmt)
        return -1;
    size_t nparams = strlen (fmt);
    MYSQL_BIND bind[MAX_PARAMS];
    param_value_t values[MAX_PARAMS];
    unsigned long lengths[MAX_PARAMS];
    my_bool nulls[MAX_PARAMS];
    memset (bind, 0, sizeof bind);
    for (size_t i = 0; i < nparams; i++) {
        nulls[i] = 0;
        bind[i].is_null = &nulls[i];
        switch (fmt[i]) {
            case 'i':
                values[i].i = va_arg (args, int64_t);
                bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
                bind[i].buffer = &values[i].i;
                break;
            case 'u':
                values[i].u = va_arg (args, uint64_t);
                bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
                bind[i].is_unsigned = 1;
                bind[i].buffer = &values[i].u;
                break;
            case 'd':
                values[i].d = va_arg (args, double);
                bind[i].buffer_type = MYSQL_TYPE_DOUBLE;
                bind[i].buffer = &values[i].d;
                break;
            case 's': {
                const char *s = va_arg (args, const char *);
                bind[i].buffer_type = MYSQL_TYPE_STRING;
                if (!s)
                    nulls[i] = 1;
                else {
                    lengths[i] = strlen (s);
                    bind[i].buffer = (void *) s;
                    bind[i].buffer_length = lengths[i];
                    bind[i].length = &lengths[i];
                }
                break;
            }
            default:
                assert (!"bad parameter format");
        }
    }
    if (nparams && mysql_stmt_bind_param (stmt, bind)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        goto failed;
    }
    if (mysql_stmt_execute (stmt)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        goto failed;
    }
    *stmt_p = stmt;
    return 0;

failed:
    s_failed (self, stmt);
    return -1;
}

int64_t
wa_db_exec (wa_db_t *self, const char *sql, const char *fmt, ...)
{
    MYSQL_STMT *stmt = NULL;
    va_list args;
    va_start (args, fmt);
    int rc = s_execute (self, sql, &stmt, fmt, args);
    va_end (args);
    if (rc)
        return -1;
    //  A statement that returns rows here would leave them unread; drain them.
    if (mysql_stmt_field_count (stmt))
        mysql_stmt_free_result (stmt);
    self->insert_id = mysql_stmt_insert_id (stmt);
    my_ulonglong affected = mysql_stmt_affected_rows (stmt);
    return affected == (my_ulonglong) -1 ? 0 : (int64_t) affected;
}

wa_db_stats_t
wa_db_stats (void)
{
    wa_db_stats_t stats = { s_statements, s_errors, s_connects, s_connect_failures, s_disconnects, s_failovers };
    return stats;
}

//  Array binding (MariaDB): column-wise, each parameter's buffer an array
//  of rows values (strings: an array of pointers with their lengths), the
//  whole batch in one round trip.
static int64_t
s_bulk_array (wa_db_t *self, const char *sql, const char *fmt, unsigned int rows, const void *const *cols)
{
    size_t nparams = strlen (fmt);
    MYSQL_STMT *stmt = s_prepared (self, sql, 0, sql, nparams);
    if (!stmt)
        return -1;
    MYSQL_BIND bind[MAX_PARAMS];
    unsigned long *lengths[MAX_PARAMS] = { NULL };
    memset (bind, 0, sizeof bind);
    int rc = 0;
    for (size_t i = 0; i < nparams; i++) {
        bind[i].buffer = (void *) cols[i];
        switch (fmt[i]) {
            case 'i': bind[i].buffer_type = MYSQL_TYPE_LONGLONG; break;
            case 'u': bind[i].buffer_type = MYSQL_TYPE_LONGLONG; bind[i].is_unsigned = 1; break;
            case 'd': bind[i].buffer_type = MYSQL_TYPE_DOUBLE; break;
            case 's': {
                const char *const *strings = cols[i];
                bind[i].buffer_type = MYSQL_TYPE_STRING;
                lengths[i] = malloc (sizeof (unsigned long) * rows);
                assert (lengths[i]);
                for (unsigned int r = 0; r < rows; r++) {
                    assert (strings[r]);
                    lengths[i][r] = strlen (strings[r]);
                }
                bind[i].length = lengths[i];
                break;
            }
            default:
                assert (!"bad parameter format");
        }
    }
    unsigned int size = rows;
    if (mysql_stmt_attr_set (stmt, STMT_ATTR_ARRAY_SIZE, &size)
    ||  mysql_stmt_bind_param (stmt, bind)
    ||  mysql_stmt_execute (stmt)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        rc = -1;
    }
    //  The statement is cached: back to single rows for its next user.
    size = 0;
    mysql_stmt_attr_set (stmt, STMT_ATTR_ARRAY_SIZE, &size);
    for (size_t i = 0; i < nparams; i++)
        free (lengths[i]);
    if (rc) {
        s_failed (self, stmt);
        return -1;
    }
    self->insert_id = mysql_stmt_insert_id (stmt);
    my_ulonglong affected = mysql_stmt_affected_rows (stmt);
    return affected == (my_ulonglong) -1 ? 0 : (int64_t) affected;
}

//  Binds row r of the columns (of fmt's types) to bind[0 .. nparams), the
//  strings' lengths in lengths.
static void
s_bind_row (MYSQL_BIND *bind, unsigned long *lengths, const char *fmt, const void *const *cols, unsigned int r)
{
    for (size_t i = 0; fmt[i]; i++) {
        memset (&bind[i], 0, sizeof bind[i]);
        switch (fmt[i]) {
            case 'i':
                bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
                bind[i].buffer = (void *) &((const int64_t *) cols[i])[r];
                break;
            case 'u':
                bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
                bind[i].is_unsigned = 1;
                bind[i].buffer = (void *) &((const uint64_t *) cols[i])[r];
                break;
            case 'd':
                bind[i].buffer_type = MYSQL_TYPE_DOUBLE;
                bind[i].buffer = (void *) &((const double *) cols[i])[r];
                break;
            case 's': {
                const char *text = ((const char *const *) cols[i])[r];
                assert (text);
                lengths[i] = strlen (text);
                bind[i].buffer_type = MYSQL_TYPE_STRING;
                bind[i].buffer = (void *) text;
                bind[i].buffer_length = lengths[i];
                bind[i].length = &lengths[i];
                break;
            }
            default:
                assert (!"bad parameter format");
        }
    }
}

//  Executes a prepared statement with bind: the rows it affected, or -1
//  (the statement may be gone then: the connection with it).
static int64_t
s_execute_bound (wa_db_t *self, MYSQL_STMT *stmt, MYSQL_BIND *bind)
{
    if (mysql_stmt_bind_param (stmt, bind) || mysql_stmt_execute (stmt)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        s_failed (self, stmt);
        return -1;
    }
    self->insert_id = mysql_stmt_insert_id (stmt);
    my_ulonglong affected = mysql_stmt_affected_rows (stmt);
    return affected == (my_ulonglong) -1 ? 0 : (int64_t) affected;
}

//  The parameter tuple of a single-row INSERT: "INSERT ... VALUES (...)"
//  with nothing after it and nparams placeholders in it. Its offset and
//  length, and true; false for a statement of another shape.
static bool
s_insert_tuple (const char *sql, size_t nparams, size_t *at, size_t *len)
{
    if (strncasecmp (sql, "INSERT ", 7))
        return false;
    const char *values = NULL;
    for (const char *p = sql; (p = strstr (p, " VALUES ")); p++)
        values = p;
    if (!values)
        return false;
    const char *open = values + strlen (" VALUES ");
    while (*open == ' ')
        open++;
    if (*open != '(')
        return false;
    const char *p = open;
    int depth = 0;
    char quote = 0;
    size_t marks = 0;
    for (; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        }
        else
        if (*p == '\'' || *p == '"' || *p == '`')
            quote = *p;
        else
        if (*p == '?')
            marks++;
        else
        if (*p == '(')
            depth++;
        else
        if (*p == ')' && --depth == 0)
            break;
    }
    if (!*p || marks != nparams)
        return false;
    for (const char *end = p + 1; *end; end++)
        if (*end != ' ' && *end != '\n' && *end != '\t')
            return false;           //  ON DUPLICATE KEY UPDATE, and the like
    *at = (size_t) (open - sql);
    *len = (size_t) (p + 1 - open);
    return true;
}

//  Multi-row statements: INSERT ... VALUES (...), (...), ... of a power of
//  two rows each (at most 10 forms of a statement, each prepared once and
//  kept), so a batch of n rows takes as many round trips as n has bits set.
//  A multi-row INSERT inserts, ignores (IGNORE) and counts its rows as the
//  same INSERT run once per row does.
static int64_t
s_bulk_multi_row (wa_db_t *self, const char *sql, const char *fmt, unsigned int rows, const void *const *cols,
                  size_t at, size_t len)
{
    size_t nparams = strlen (fmt);
    unsigned int most = CHUNK_MAX;
    while (most > 1 && most * nparams > PLACEHOLDERS_MAX)
        most /= 2;
    MYSQL_BIND *bind = calloc ((size_t) most * nparams, sizeof *bind);
    unsigned long *lengths = calloc ((size_t) most * nparams, sizeof *lengths);
    assert (bind && lengths);
    int64_t total = 0;
    for (unsigned int done = 0; done < rows; ) {
        unsigned int chunk = most;
        while (chunk > rows - done)
            chunk /= 2;
        MYSQL_STMT *stmt = s_cached (self, sql, chunk);
        if (!stmt) {
            //  The statement up to its tuple, then chunk tuples.
            char *text = malloc (at + (size_t) chunk * (len + 2) + 1);
            assert (text);
            memcpy (text, sql, at);
            char *end = text + at;
            for (unsigned int r = 0; r < chunk; r++) {
                if (r) {
                    memcpy (end, ", ", 2);
                    end += 2;
                }
                memcpy (end, sql + at, len);
                end += len;
            }
            *end = 0;
            stmt = s_prepared (self, sql, chunk, text, nparams * chunk);
            free (text);
        }
        int64_t affected = -1;
        if (stmt) {
            for (unsigned int r = 0; r < chunk; r++)
                s_bind_row (bind + r * nparams, lengths + r * nparams, fmt, cols, done + r);
            affected = s_execute_bound (self, stmt, bind);
        }
        if (affected < 0) {
            total = -1;
            break;
        }
        total += affected;
        done += chunk;
    }
    free (bind);
    free (lengths);
    return total;
}

//  Any other statement: executed once per row.
static int64_t
s_bulk_each_row (wa_db_t *self, const char *sql, const char *fmt, unsigned int rows, const void *const *cols)
{
    size_t nparams = strlen (fmt);
    MYSQL_BIND bind[MAX_PARAMS];
    unsigned long lengths[MAX_PARAMS];
    MYSQL_STMT *stmt = s_prepared (self, sql, 0, sql, nparams);
    if (!stmt)
        return -1;
    int64_t total = 0;
    for (unsigned int r = 0; r < rows; r++) {
        s_bind_row (bind, lengths, fmt, cols, r);
        int64_t affected = s_execute_bound (self, stmt, bind);
        if (affected < 0)
            return -1;
        total += affected;
    }
    return total;
}

int64_t
wa_db_exec_bulk (wa_db_t *self, const char *sql, const char *fmt, unsigned int rows, const void *const *cols)
{
    assert (rows > 0 && rows <= BULK_MAX);
    size_t nparams = strlen (fmt);
    assert (nparams > 0 && nparams <= MAX_PARAMS);
    //  Connected first: the connection tells which way (s_server).
    if (s_ready (self))
        return -1;
    if (self->array_binding)
        return s_bulk_array (self, sql, fmt, rows, cols);
    size_t at, len;
    if (s_insert_tuple (sql, nparams, &at, &len))
        return s_bulk_multi_row (self, sql, fmt, rows, cols, at, len);
    return s_bulk_each_row (self, sql, fmt, rows, cols);
}

int
wa_db_transaction (wa_db_t *self, const char *verb)
{
    assert (strcmp (verb, "START TRANSACTION") == 0 || strcmp (verb, "COMMIT") == 0
    ||      strcmp (verb, "ROLLBACK") == 0);
    //  A ROLLBACK or a new transaction ends one that was lost; a COMMIT
    //  fails then (what it would commit is gone) and ends it too.
    bool start = strcmp (verb, "START TRANSACTION") == 0;
    if (self->transaction_lost && strcmp (verb, "COMMIT") != 0)
        self->transaction_lost = false;
    if (s_ready (self)) {
        self->transaction_lost = false;
        return -1;
    }
    //  A COMMIT or ROLLBACK ends the transaction whatever its outcome.
    self->in_transaction = false;
    if (mysql_query (self->mysql, verb)) {
        s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
        s_failed (self, NULL);
        return -1;
    }
    self->in_transaction = start;
    return 0;
}

void
wa_db_settle (wa_db_t *self, const char *what)
{
    if (self->in_transaction) {
        wa_warn ("db: %s ended inside a transaction: rolled back", what);
        wa_db_transaction (self, "ROLLBACK");
    }
    if (self->transaction_lost)
        wa_warn ("db: %s ended without a ROLLBACK after its connection was lost inside a transaction", what);
    self->transaction_lost = false;
}

bool
wa_db_server_in_transaction (wa_db_t *self)
{
    unsigned int status = 0;
    if (!self->mysql || mariadb_get_infov (self->mysql, MARIADB_CONNECTION_SERVER_STATUS, &status))
        return false;
    return (status & SERVER_STATUS_IN_TRANS) != 0;
}

int64_t
wa_db_query (wa_db_t *self, const char *sql, wa_db_row_fn *fn, void *arg, const char *fmt, ...)
{
    MYSQL_STMT *stmt = NULL;
    va_list args;
    va_start (args, fmt);
    int rc = s_execute (self, sql, &stmt, fmt, args);
    va_end (args);
    if (rc)
        return -1;
    wa_db_row_t *row = &self->row;
    unsigned int columns = mysql_stmt_field_count (stmt);
    assert (columns <= MAX_COLUMNS);
    MYSQL_BIND bind[MAX_COLUMNS];
    memset (bind, 0, sizeof bind);
    row->columns = (int) columns;
    for (unsigned int i = 0; i < columns; i++) {
        bind[i].buffer_type = MYSQL_TYPE_STRING;
        bind[i].buffer = row->text[i];
        bind[i].buffer_length = COLUMN_MAX - 1;
        bind[i].length = &row->length[i];
        bind[i].is_null = &row->null[i];
        bind[i].error = &row->error[i];
    }
    if (mysql_stmt_bind_result (stmt, bind)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        mysql_stmt_free_result (stmt);
        return -1;
    }
    int64_t count = 0;
    bool stopped = false;
    while (true) {
        int f = mysql_stmt_fetch (stmt);
        if (f == MYSQL_NO_DATA)
            break;
        if (f == 1) {
            //  An error packet read while fetching is the connection's.
            if (mysql_stmt_errno (stmt))
                s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
            else
                s_set_error (self, mysql_errno (self->mysql), mysql_error (self->mysql));
            mysql_stmt_free_result (stmt);
            if (s_connection_error (self, self->last_errno) || s_left_cluster (self))
                wa_db_disconnect (self);
            return -1;
        }
        if (f == MYSQL_DATA_TRUNCATED) {
            s_set_error (self, 0, "a column is longer than the client accepts");
            mysql_stmt_free_result (stmt);
            return -1;
        }
        for (unsigned int i = 0; i < columns; i++)
            row->text[i][row->null[i] ? 0 : row->length[i]] = 0;
        count++;
        if (!stopped && fn && fn (row, arg))
            stopped = true;
    }
    mysql_stmt_free_result (stmt);
    return count;
}

uint64_t
wa_db_insert_id (wa_db_t *self)
{
    return self->insert_id;
}

const char *
wa_db_error (wa_db_t *self)
{
    return self->last_error;
}

unsigned int
wa_db_errno (wa_db_t *self)
{
    return self->last_errno;
}

bool
wa_db_row_null (const wa_db_row_t *row, int col)
{
    assert (col >= 0 && col < row->columns);
    return row->null[col];
}

int64_t
wa_db_row_int (const wa_db_row_t *row, int col)
{
    assert (col >= 0 && col < row->columns);
    return row->null[col] ? 0 : strtoll (row->text[col], NULL, 10);
}

double
wa_db_row_double (const wa_db_row_t *row, int col)
{
    assert (col >= 0 && col < row->columns);
    return row->null[col] ? 0 : strtod (row->text[col], NULL);
}

const char *
wa_db_row_str (const wa_db_row_t *row, int col)
{
    assert (col >= 0 && col < row->columns);
    return row->null[col] ? "" : row->text[col];
}

int
wa_db_row_columns (const wa_db_row_t *row)
{
    return row->columns;
}

//  Runs one migration's statements. Each is idempotent, so a migration cut
//  short by a crash is simply run again. The statements are not static
//  strings that live forever in the cache: they run once, so they are
//  prepared, executed and closed here.
static int
s_run_statements (wa_db_t *self, const wa_migration_t *m)
{
    for (const char **sql = m->statements; *sql; sql++) {
        MYSQL_STMT *stmt = mysql_stmt_init (self->mysql);
        assert (stmt);
        if (mysql_stmt_prepare (stmt, *sql, strlen (*sql)) || mysql_stmt_execute (stmt)) {
            s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
            mysql_stmt_close (stmt);
            //  An ALTER TABLE (atomic) that an earlier run of this migration
            //  made before it was cut short, ahead of the version's update:
            //  done already (MySQL has no ADD COLUMN IF NOT EXISTS).
            if ((self->last_errno == ER_DUP_FIELDNAME || self->last_errno == ER_DUP_KEYNAME)
            &&  strncmp (*sql, "ALTER TABLE ", 12) == 0) {
                wa_info ("db: migration %s: %s: made by an earlier run, kept", m->name, self->last_error);
                continue;
            }
            wa_error ("db: migration %s failed: %s", m->name, self->last_error);
            if (s_connection_error (self, self->last_errno))
                wa_db_disconnect (self);
            return -1;
        }
        mysql_stmt_close (stmt);
    }
    return 0;
}

static const char *SQL_SET_VERSION =
    "UPDATE schema_version SET version = ?, updated_at = NOW(6) WHERE id = 1 AND version = ?";

int
wa_db_bootstrap (wa_db_t *self)
{
    if (wa_db_ensure (self) == 0)
        goto have_schema;
    if (!self->mysql)
        return -1;
    if (self->last_errno != ER_BAD_DB_ERROR)
        return -1;
    //  The name is checked by the config ([A-Za-z0-9_]), so quoting it is safe;
    //  an identifier cannot be a bound parameter.
    char sql[160];
    snprintf (sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", self->config->db_name);
    MYSQL_STMT *stmt = mysql_stmt_init (self->mysql);
    assert (stmt);
    if (mysql_stmt_prepare (stmt, sql, strlen (sql)) || mysql_stmt_execute (stmt)) {
        s_set_error (self, mysql_stmt_errno (stmt), mysql_stmt_error (stmt));
        mysql_stmt_close (stmt);
        if (s_connection_error (self, self->last_errno))
            wa_db_disconnect (self);
        return -1;
    }
    mysql_stmt_close (stmt);
    wa_info ("db: created database '%s'", self->config->db_name);
    if (s_select_schema (self))
        return -1;
have_schema:
    if (s_run_statements (self, &wa_migrations[0]))
        return -1;
    if (wa_db_exec (self, SQL_SET_VERSION, "ii", (int64_t) 1, (int64_t) 0) < 0)
        return -1;
    return 0;
}

static int
s_version_row (const wa_db_row_t *row, void *arg)
{
    *(int *) arg = (int) wa_db_row_int (row, 0);
    return 0;
}

static int
s_clock_row (const wa_db_row_t *row, void *arg)
{
    ((wa_clockread_t *) arg)->db = wa_db_row_int (row, 0);
    return 0;
}

int
wa_db_read_clock (wa_db_t *self, wa_clockread_t *reading)
{
    reading->db = 0;
    reading->sent = wa_clock_mono ();
    if (wa_db_query (self, "SELECT " WA_CLOCKWATCH_NOW_SQL, s_clock_row, reading, "") != 1) {
        reading->db = 0;
        return -1;
    }
    reading->received = wa_clock_mono ();
    return 0;
}

int
wa_db_schema_version (wa_db_t *self)
{
    int version = -1;
    int64_t rows = wa_db_query (self, "SELECT version FROM schema_version WHERE id = 1",
                                s_version_row, &version, "");
    if (rows < 0) {
        //  No database or no table yet: nothing is installed.
        if (self->last_errno == ER_NO_SUCH_TABLE || self->last_errno == ER_BAD_DB_ERROR)
            return 0;
        return -1;
    }
    return rows == 0 ? 0 : version;
}

int
wa_db_migrate (wa_db_t *self)
{
    int version = wa_db_schema_version (self);
    if (version < 0)
        return -1;
    if (version > wa_schema_version) {
        s_set_error (self, 0, "the database's schema is newer than this build");
        return -2;
    }
    for (const wa_migration_t *m = wa_migrations; m->version; m++) {
        if (m->version <= version)
            continue;
        wa_info ("db: applying migration %s", m->name);
        if (s_run_statements (self, m))
            return -1;
        //  A compare-and-set: if another Master applied it meanwhile, fine.
        if (wa_db_exec (self, SQL_SET_VERSION, "ii", (int64_t) m->version, (int64_t) version) < 0)
            return -1;
        version = m->version;
    }
    return 0;
}
