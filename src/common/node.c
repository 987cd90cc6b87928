/*  wa_node — see include/wa_node.h */
#include <stdarg.h>
#include <unistd.h>
#include "wa_log.h"
#include "wa_migrations.h"
#include "wa_node.h"

#ifndef WA_VERSION
#define WA_VERSION "dev"
#endif

static int
s_bind (zsock_t *sock, const char *address, int port)
{
    int rc = port ? zsock_bind (sock, "tcp://%s:%d", address, port)
                  : zsock_bind (sock, "tcp://%s:*", address);
    if (rc < 0)
        wa_error ("cannot bind tcp://%s:%d: %s", address, port, zmq_strerror (zmq_errno ()));
    return rc;
}

//  Bound where other hosts can connect, but registered under a loopback
//  name: the peers that read it from `nodes` connect to themselves.
static void
s_warn_loopback (const wa_node_t *self)
{
    const char *bound = wa_trust_bind_address (self->trust);
    const char *hostname = self->config->hostname;
    if (wa_config_is_loopback (bound) || !wa_config_is_loopback (hostname))
        return;
    wa_warn ("this %s binds %s but its hostname is %s: other hosts will be told to connect to a loopback "
             "address, which is their own, not this %s. Set hostname (WA_HOSTNAME) to a name the other "
             "hosts reach this one by, or bind_address to 127.0.0.1 for a cluster on one host",
             self->kind, bound, hostname, self->kind);
}

static void s_register_run (wa_job_t *job, wa_db_t *db);
static void s_liveness_run (wa_job_t *job, wa_db_t *db);
static void s_events_run (wa_job_t *job, wa_db_t *db);

int
wa_node_start (wa_node_t *self, const wa_config_t *config, const char *kind)
{
    memset (self, 0, sizeof *self);
    self->config = config;
    self->kind = kind;
    self->role = "starting";
    char err[512];
    self->trust = wa_trust_new (config, wa_role_of_kind (kind), err, sizeof err);
    if (!self->trust) {
        wa_error ("%s", err);
        return -1;
    }
    self->api = zsock_new (ZMQ_ROUTER);
    self->bus = zsock_new (ZMQ_PUB);
    self->control = zsock_new (ZMQ_ROUTER);
    self->health = zsock_new (ZMQ_REP);
    zsock_t *socks[4] = { self->api, self->bus, self->control, self->health };
    for (int i = 0; i < 4; i++) {
        zsock_set_linger (socks[i], 0);
        wa_trust_server (self->trust, socks[i]);
        int port = s_bind (socks[i], wa_trust_bind_address (self->trust), wa_config_bind_ports (config)[i]);
        if (port < 0)
            return -1;
        self->ports[i] = port;
    }
    s_warn_loopback (self);
    self->db = wa_dbworker_new (config);
    self->register_job = wa_register_job_new ();
    self->liveness_job = WA_JOB_NEW (wa_liveness_job_t, WA_JOB_LIVENESS, s_liveness_run, NULL);
    self->event_job = WA_JOB_NEW (wa_event_job_t, WA_JOB_EVENTS, s_events_run, NULL);
    return 0;
}

void
wa_node_stop (wa_node_t *self)
{
    for (int i = 0; i < self->monitor_count; i++)
        wa_actor_destroy (&self->monitors[i]);
    self->monitor_count = 0;
    //  Destroying the worker lets it run the jobs queued before the stop
    //  (each bounded by the statement timeout: the daemons queue at most a
    //  few); those that come back are destroyed, so nothing leaks.
    wa_dbworker_destroy (&self->db, NULL, NULL);
    WA_JOB_DESTROY (self->register_job);
    WA_JOB_DESTROY (self->liveness_job);
    WA_JOB_DESTROY (self->event_job);
    zsock_destroy (&self->api);
    zsock_destroy (&self->bus);
    zsock_destroy (&self->control);
    zsock_destroy (&self->health);
    wa_trust_destroy (&self->trust);
}

static const char *SQL_REGISTER =
    "INSERT INTO nodes (kind, hostname, ports, pid, version, started_at, last_seen, gateway_status) "
    "VALUES (?, ?, ?, ?, ?, NOW(6), NOW(6), IF(? = 'coreapp', 'disconnected', 'n/a'))";

static const char *SQL_NODE_KEY =
    "INSERT INTO node_keys (node_id, bus_key) VALUES (?, ?) ON DUPLICATE KEY UPDATE bus_key = VALUES(bus_key)";

static void
s_register_run (wa_job_t *job, wa_db_t *db)
{
    wa_register_job_t *self = (wa_register_job_t *) job;
    self->schema = wa_db_schema_version (db);
    if (self->schema > wa_schema_version) {
        job->rc = -2;
        return;
    }
    if (self->schema < self->min_schema) {
        job->rc = -1;
        return;
    }
    if (wa_db_exec (db, SQL_REGISTER, "sssiss", self->kind, self->hostname, self->ports,
                    (int64_t) self->pid, WA_VERSION, self->kind) != 1) {
        wa_warn ("db: registration failed: %s", wa_db_error (db));
        job->rc = -1;
        return;
    }
    self->id = wa_db_insert_id (db);
    job->rc = 0;
    //  Before the Master's upgrade the table is not there yet: the
    //  liveness claims store the key then.
    self->key_stored = !*self->bus_key
                    || (self->schema >= 8 && wa_db_exec (db, SQL_NODE_KEY, "us", self->id, self->bus_key) >= 0);
}

wa_register_job_t *
wa_register_job_new (void)
{
    wa_register_job_t *job = WA_JOB_NEW (wa_register_job_t, WA_JOB_REGISTER, s_register_run, NULL);
    job->schema_logged = -1;
    return job;
}

void
wa_register_submit (wa_register_job_t **job_p, wa_dbworker_t *db, const char *kind, const char *hostname,
                    const char *ports, const char *bus_key, int min_schema)
{
    wa_register_job_t *job = *job_p;
    if (!job)
        return;
    job->min_schema = min_schema;
    snprintf (job->kind, sizeof job->kind, "%s", kind);
    snprintf (job->hostname, sizeof job->hostname, "%s", hostname);
    snprintf (job->ports, sizeof job->ports, "%s", ports);
    snprintf (job->bus_key, sizeof job->bus_key, "%s", bus_key ? bus_key : "");
    job->pid = getpid ();
    WA_JOB_SUBMIT (db, *job_p);
}

int
wa_register_done (wa_register_job_t *job)
{
    if (job->job.rc == 0)
        return 1;
    if (job->job.rc == -2) {
        wa_error ("the database's schema version %d is newer than this build's %d: upgrade this node",
                  job->schema, wa_schema_version);
        return -1;
    }
    if (job->schema >= 0 && job->schema < job->min_schema && job->schema != job->schema_logged) {
        job->schema_logged = job->schema;
        wa_info ("waiting for schema version %d (database has %d)", job->min_schema, job->schema);
    }
    return 0;
}

void
wa_node_register (wa_node_t *self, int min_schema)
{
    if (self->id)
        return;
    //  The ports bound, or with bind_ports those the others reach them by.
    const int *p = self->config->bind_ports[0] >= 0 ? self->config->ports : self->ports;
    char ports[32];
    snprintf (ports, sizeof ports, "%d,%d,%d,%d", p[0], p[1], p[2], p[3]);
    wa_register_submit (&self->register_job, self->db, self->kind, self->config->hostname, ports,
                        wa_trust_public_key (self->trust), min_schema);
}

static const char *SQL_BUS_REFUSED =
    "UPDATE node_keys SET refused_handshakes = ?, refused_keyless = ?, refused_messages = ? WHERE node_id = ?";

static const char *SQL_LIVENESS =
    "UPDATE nodes SET last_seen = NOW(6), gateway_status = ? WHERE id = ? AND stopped_at IS NULL";
static const char *SQL_STOPPED =
    "UPDATE nodes SET last_seen = NOW(6), gateway_status = ?, stopped_at = NOW(6) WHERE id = ?";

//  The database node this node's connections use, for wactl status
//  (schema 16; refused by an older schema, and tried again at the next claim).
static const char *SQL_DB_NODE = "UPDATE nodes SET db_node = ? WHERE id = ?";

static void
s_liveness_run (wa_job_t *job, wa_db_t *db)
{
    wa_liveness_job_t *self = (wa_liveness_job_t *) job;
    int64_t rows = wa_db_exec (db, self->stopping ? SQL_STOPPED : SQL_LIVENESS, "su",
                               self->gateway_status, self->id);
    job->rc = rows == 1 ? 0 : -1;
    if (rows < 0)
        wa_warn ("db: liveness claim failed: %s", wa_db_error (db));
    if (rows >= 0 && strcmp (self->db_node, wa_db_node (db)) != 0
    &&  wa_db_exec (db, SQL_DB_NODE, "su", wa_db_node (db), self->id) >= 0)
        snprintf (self->db_node, sizeof self->db_node, "%s", wa_db_node (db));
    self->key_stored = !*self->bus_key || wa_db_exec (db, SQL_NODE_KEY, "us", self->id, self->bus_key) >= 0;
    if (self->key_stored)
        wa_db_exec (db, SQL_BUS_REFUSED, "uuuu", self->refused[0], self->refused[1], self->refused[2], self->id);
}

void
wa_node_liveness (wa_node_t *self, const char *gateway_status, bool stopping)
{
    wa_liveness_job_t *job = self->liveness_job;
    if (!self->id)
        return;
    if (!job) {
        //  Claim again when this one is back, so a status change is not lost.
        self->liveness_again = true;
        snprintf (self->gateway_want, sizeof self->gateway_want, "%s", gateway_status);
        self->stopping_want = stopping;
        return;
    }
    job->id = self->id;
    job->stopping = stopping;
    snprintf (job->bus_key, sizeof job->bus_key, "%s", self->key_stored ? "" : wa_trust_public_key (self->trust));
    wa_trust_counts (self->trust, &job->refused[0], &job->refused[1], &job->refused[2]);
    snprintf (job->gateway_status, sizeof job->gateway_status, "%s", gateway_status);
    WA_JOB_SUBMIT (self->db, self->liveness_job);
}

void
wa_node_store_key (wa_node_t *self, const char *gateway_status)
{
    wa_usec_t now = wa_clock_mono ();
    if (self->key_stored || !self->id || !self->liveness_job || now - self->key_tried < WA_USEC_PER_SEC)
        return;
    self->key_tried = now;
    wa_node_liveness (self, gateway_status, false);
}

static const char *SQL_EVENT =
    "INSERT INTO events (at, node_id, kind, shard, epoch, subject, detail) "
    "VALUES (NOW(6), ?, ?, NULLIF(?, -1), ?, ?, ?)";

static void
s_events_run (wa_job_t *job, wa_db_t *db)
{
    wa_event_job_t *self = (wa_event_job_t *) job;
    int written = 0;
    for (; written < self->count; written++) {
        wa_event_t *e = &self->events[written];
        if (wa_db_exec (db, SQL_EVENT, "usiuus", self->node, e->kind, (int64_t) e->shard,
                        e->epoch, e->subject, e->detail) != 1)
            break;
    }
    //  What was not written goes back to the front of the queue.
    job->rc = written;
}

static void s_publish (wa_node_t *self, const char *kind, int shard, uint64_t epoch, uint64_t subject,
                       const char *detail);

void
wa_node_event (wa_node_t *self, const char *kind, int shard, uint64_t epoch,
               uint64_t subject, const char *fmt, ...)
{
    wa_event_t event;
    memset (&event, 0, sizeof event);
    snprintf (event.kind, sizeof event.kind, "%s", kind);
    event.shard = shard;
    event.epoch = epoch;
    event.subject = subject;
    va_list args;
    va_start (args, fmt);
    vsnprintf (event.detail, sizeof event.detail, fmt, args);
    va_end (args);
    wa_info ("event %s (epoch %" PRIu64 "): %s", kind, epoch, event.detail);

    s_publish (self, kind, shard, epoch, subject, event.detail);

    if (self->pending_count == WA_EVENT_QUEUE) {
        memmove (self->pending, self->pending + 1, sizeof self->pending[0] * (WA_EVENT_QUEUE - 1));
        self->pending_count--;
        self->dropped_events++;
    }
    self->pending[self->pending_count++] = event;
    wa_node_flush_events (self);
}

void
wa_node_flush_events (wa_node_t *self)
{
    wa_event_job_t *job = self->event_job;
    if (!job || !self->id || self->pending_count == 0)
        return;
    job->node = self->id;
    job->count = self->pending_count;
    memcpy (job->events, self->pending, sizeof self->pending[0] * (size_t) self->pending_count);
    self->pending_count = 0;
    if (WA_JOB_SUBMIT (self->db, self->event_job)) {
        //  Not sent: the events wait for the next flush.
        memcpy (self->pending, job->events, sizeof self->pending[0] * (size_t) job->count);
        self->pending_count = job->count;
    }
}

bool
wa_node_job_done (wa_node_t *self, wa_job_t *job)
{
    if (job->kind == WA_JOB_REGISTER) {
        wa_register_job_t *rj = self->register_job = (wa_register_job_t *) job;
        int done = wa_register_done (rj);
        if (done == 1) {
            self->id = rj->id;
            self->key_stored = rj->key_stored;
            wa_log_set_prefix ("%s %" PRIu64 " %s", self->kind, self->id, self->role);
            wa_info ("registered as node %" PRIu64 " (ports %s)", self->id, rj->ports);
        }
        else
        if (done < 0)
            self->fatal = true;
        return true;
    }
    if (job->kind == WA_JOB_LIVENESS) {
        self->liveness_job = (wa_liveness_job_t *) job;
        if (self->liveness_job->key_stored && !self->key_stored) {
            self->key_stored = true;
            wa_info ("bus: our key is in node_keys now");
        }
        if (self->liveness_again) {
            self->liveness_again = false;
            char status[16];
            snprintf (status, sizeof status, "%s", self->gateway_want);
            wa_node_liveness (self, status, self->stopping_want);
        }
        return true;
    }
    if (job->kind == WA_JOB_EVENTS) {
        wa_event_job_t *ej = self->event_job = (wa_event_job_t *) job;
        int unwritten = ej->count - job->rc;
        if (unwritten > 0) {
            //  Unwritten events go back in front of those queued since; past
            //  the queue's size the oldest are dropped (and counted).
            wa_event_t merged[2 * WA_EVENT_QUEUE];
            memcpy (merged, ej->events + job->rc, sizeof merged[0] * (size_t) unwritten);
            memcpy (merged + unwritten, self->pending, sizeof merged[0] * (size_t) self->pending_count);
            int total = unwritten + self->pending_count;
            int skip = total > WA_EVENT_QUEUE ? total - WA_EVENT_QUEUE : 0;
            self->dropped_events += skip;
            self->pending_count = total - skip;
            memcpy (self->pending, merged + skip, sizeof merged[0] * (size_t) self->pending_count);
        }
        return true;
    }
    return false;
}

void
wa_node_on_health (wa_node_t *self)
{
    wa_msg_t msg;
    int why = 0;
    int rc = wa_codec_recv (self->health, NULL, &msg, &why);
    if (rc == -1)
        return;
    wa_msg_t reply;
    if (rc == 0 && !wa_trust_allow (self->trust, &msg, WA_ROLE_ANY, "health")) {
        wa_msg_init (&reply, WA_MSG_ERROR);
        reply.code = 403;
        wa_msg_set_text (&reply, "forbidden: that key is no longer trusted");
    }
    else
    if (rc == 0 && msg.type == WA_MSG_HEALTH_REQ) {
        wa_msg_init (&reply, WA_MSG_HEALTH);
        reply.node = self->id;
        reply.epoch = self->epoch;
        wa_msg_set_text (&reply, self->role);
    }
    else {
        wa_msg_init (&reply, WA_MSG_ERROR);
        reply.code = 400;
        wa_msg_set_text (&reply, rc ? wa_codec_strerror (why) : "expected HEALTH_REQ");
    }
    //  REP must answer every request, even a malformed one, or it stalls.
    wa_codec_send (self->health, NULL, &reply);
}

//  A job that came back while stopping: to done, or to the node.
static void
s_job_back (wa_node_t *self, wa_job_t *job, wa_job_done_fn *done, void *arg)
{
    if (done)
        done (job, arg);
    else
    if (!wa_node_job_done (self, job))
        wa_job_destroy (&job);
}

wa_job_t *
wa_node_run_sync (wa_node_t *self, wa_job_t *job, int timeout_ms, wa_job_done_fn *done, void *arg)
{
    //  Only its address is kept, to know it when it comes back.
    const wa_job_t *sent = job;
    if (wa_dbworker_submit (self->db, &job)) {
        wa_job_destroy (&job);
        return NULL;
    }
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (self->db), NULL);
    zpoller_set_nonstop (poller, true);
    int64_t until = zclock_mono () + timeout_ms;
    wa_job_t *mine = NULL;
    while (!mine && zclock_mono () < until) {
        if (!zpoller_wait (poller, (int) (until - zclock_mono ())))
            continue;
        wa_job_t *back = wa_dbworker_recv (self->db);
        if (back == sent)
            mine = back;
        else
        if (back)
            s_job_back (self, back, done, arg);
    }
    zpoller_destroy (&poller);
    return mine;
}

void
wa_node_send_stats (wa_node_t *self, zframe_t *peer, const json_t *stats)
{
    //  With the bus's own counters (refused handshakes and messages).
    json_t *all = stats ? json_copy ((json_t *) stats) : json_object ();
    if (all && self->trust)
        json_object_set_new (all, "bus", wa_trust_stats_json (self->trust));
    //  15 significant digits: a mean of 0.1 ms reads 0.1, not 0.10000000000000001.
    char *text = all ? json_dumps (all, JSON_COMPACT | JSON_REAL_PRECISION (15)) : NULL;
    json_decref (all);
    wa_msg_t reply;
    wa_msg_init (&reply, WA_MSG_STATS);
    wa_msg_set_text (&reply, text ? text : "{}");
    free (text);
    wa_codec_send (self->control, peer, &reply);
}

void
wa_node_on_control (wa_node_t *self, const json_t *stats)
{
    zframe_t *peer = NULL;
    wa_msg_t msg;
    int why = 0;
    int rc = wa_codec_recv (self->control, &peer, &msg, &why);
    if (rc == -1 || !peer)
        return;
    if (rc == 0 && !wa_trust_allow (self->trust, &msg, WA_ROLE_ANY, "control"))
        ;   //  a key revoked since its connection: no answer
    else
    if (rc == 0 && msg.type == WA_MSG_STATS_REQ)
        wa_node_send_stats (self, peer, stats);
    else {
        wa_msg_t reply;
        wa_msg_init (&reply, WA_MSG_ERROR);
        reply.code = 400;
        wa_msg_set_text (&reply, rc ? wa_codec_strerror (why) : "unsupported request on the control port");
        wa_codec_send (self->control, peer, &reply);
    }
    zframe_destroy (&peer);
}

void
wa_node_wait_jobs (wa_node_t *self, int timeout_ms, wa_job_done_fn *done, void *arg)
{
    zpoller_t *poller = zpoller_new (wa_dbworker_sock (self->db), NULL);
    //  Used at shutdown, after SIGTERM: the poller must not give up on it.
    zpoller_set_nonstop (poller, true);
    int64_t until = zclock_mono () + timeout_ms;
    while (wa_dbworker_away (self->db) && zclock_mono () < until) {
        if (!zpoller_wait (poller, (int) (until - zclock_mono ())))
            continue;
        wa_job_t *job = wa_dbworker_recv (self->db);
        if (job)
            s_job_back (self, job, done, arg);
    }
    zpoller_destroy (&poller);
}

void
wa_timer_once (wa_loop_t *loop, int *timer_id, wa_usec_t delay, wa_loop_timer_fn handler, void *arg)
{
    if (*timer_id >= 0)
        wa_loop_timer_end (loop, *timer_id);
    //  Rounded up: firing a millisecond late is harmless, early is not.
    size_t ms = delay > 0 ? (size_t) (delay / 1000 + 1) : 1;
    *timer_id = wa_loop_timer (loop, ms, 1, handler, arg);
}

static void
s_publish (wa_node_t *self, const char *kind, int shard, uint64_t epoch, uint64_t subject, const char *detail)
{
    wa_msg_t msg;
    wa_msg_init (&msg, WA_MSG_EVENT);
    msg.node = self->id;
    msg.epoch = epoch;
    msg.shard = shard < 0 ? UINT32_MAX : (uint32_t) shard;
    char text[400];
    snprintf (text, sizeof text, "%s %" PRIu64 " %s", kind, subject, detail);
    wa_msg_set_text (&msg, text);
    wa_codec_send (self->bus, NULL, &msg);
}

void
wa_node_publish (wa_node_t *self, const char *kind, int shard, uint64_t epoch,
                 uint64_t subject, const char *fmt, ...)
{
    char detail[300];
    va_list args;
    va_start (args, fmt);
    vsnprintf (detail, sizeof detail, fmt, args);
    va_end (args);
    s_publish (self, kind, shard, epoch, subject, detail);
}

static int
s_on_monitor (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    wa_node_t *self = arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    char *event = zmsg_popstr (msg);
    char *value = zmsg_popstr (msg);
    char *endpoint = zmsg_popstr (msg);
    const char *name = "socket";
    for (int i = 0; i < self->monitor_count; i++)
        if (wa_actor_sock (self->monitors[i]) == reader)
            name = self->monitor_names[i];
    if (event && strncmp (event, "HANDSHAKE_FAILED", 16) == 0) {
        //  Counted and logged (rate-limited), not published: a stranger
        //  knocking must not flood the bus. Unknown keys are reported by
        //  the handshake checker with their address instead.
        if (!streq (event, "HANDSHAKE_FAILED_AUTH"))
            wa_trust_on_protocol_failure (self->trust, name, endpoint);
    }
    else
    if (event)
        wa_node_socket_event (self, name, event, endpoint);
    zstr_free (&event);
    zstr_free (&value);
    zstr_free (&endpoint);
    zmsg_destroy (&msg);
    return 0;
}

void
wa_node_socket_event (wa_node_t *self, const char *name, const char *event, const char *endpoint)
{
    wa_debug ("socket %s: %s %s", name, event, endpoint ? endpoint : "");
    wa_node_publish (self, "socket", -1, self->epoch, 0, "%s %s %s", event, endpoint && *endpoint ? endpoint : "-",
                     name);
}

void
wa_node_monitor (wa_node_t *self, zsock_t *sock, const char *name, wa_loop_t *loop)
{
    if (self->monitor_count == WA_MONITORS_MAX)
        return;
    wa_actor_t *monitor = wa_actor_new (zmonitor, sock);
    zstr_sendx (wa_actor_sock (monitor), "LISTEN", "CONNECTED", "DISCONNECTED", "ACCEPTED", "CLOSED",
                "CONNECT_RETRIED", "BIND_FAILED", "ACCEPT_FAILED", "HANDSHAKE_FAILED_PROTOCOL",
                "HANDSHAKE_FAILED_NO_DETAIL", NULL);
    zstr_send (wa_actor_sock (monitor), "START");
    zsock_wait (wa_actor_sock (monitor));
    self->monitors[self->monitor_count] = monitor;
    self->monitor_names[self->monitor_count] = name;
    self->monitor_count++;
    wa_loop_reader (loop, wa_actor_sock (monitor), s_on_monitor, self);
}

static int
s_on_refusal (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    wa_node_t *self = arg;
    wa_trust_on_refusal (self->trust);
    return 0;
}

void
wa_node_watch (wa_node_t *self, wa_loop_t *loop)
{
    if (wa_trust_sock (self->trust))
        wa_loop_reader (loop, wa_trust_sock (self->trust), s_on_refusal, self);
    wa_node_monitor (self, self->api, "api", loop);
    wa_node_monitor (self, self->bus, "bus", loop);
    wa_node_monitor (self, self->control, "control", loop);
    wa_node_monitor (self, self->health, "health", loop);
}

void
wa_timer_every (wa_loop_t *loop, int *timer_id, double seconds, wa_loop_timer_fn handler, void *arg)
{
    if (*timer_id >= 0)
        wa_loop_timer_end (loop, *timer_id);
    size_t ms = (size_t) (seconds * 1000);
    *timer_id = wa_loop_timer (loop, ms ? ms : 1, 0, handler, arg);
}

void
wa_node_finish (wa_node_t *self, const char *gateway_status, int timeout_ms, wa_job_done_fn *done, void *arg)
{
    if (!self->id)
        return;
    wa_node_flush_events (self);
    wa_node_wait_jobs (self, timeout_ms, done, arg);
    wa_node_liveness (self, gateway_status, true);
    wa_node_flush_events (self);
    wa_node_wait_jobs (self, timeout_ms, done, arg);
}
