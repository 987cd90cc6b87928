/*  tap — see tap.h */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include "wa_codec.h"
#include "wa_db.h"
#include "wa_dbworker.h"
#include "wa_log.h"
#include "wa_trust.h"
#include "tap.h"

#define REFRESH_MSEC 2000
#define SUMMARY_MSEC 5000
#define NODES_MAX 256
//  Messages taken from one bus before the others get a turn.
#define RECV_BURST 100
#define ENDPOINT_MAX (WA_CONFIG_STR + 16)
#define LINE_MAX_ (2 * WA_TEXT_MAX + 256)

typedef struct {
    uint64_t id;
    char kind[16];
    char endpoint[ENDPOINT_MAX];
    char key[WA_KEY_TEXT];      //  its bus key, "" when it published none
} found_t;

//  The refresh: which nodes are up, by the database's clock.
enum { JOB_REFRESH = 1 };
typedef struct {
    wa_job_t job;
    const wa_config_t *config;  //  the tap's, read-only once started
    //  out
    double liveness_interval;
    int count;
    int skipped;                //  beyond NODES_MAX, or with no bus port
    found_t nodes[NODES_MAX];
    char error[512];
} refresh_job_t;

typedef struct {
    tap_t *tap;
    char endpoint[ENDPOINT_MAX];
    uint64_t node;              //  0 until known (from the database or the feed)
    char kind[16];              //  "master", "coreapp", "" when not known
    char key[WA_KEY_TEXT];      //  the key its bus was subscribed with
    bool from_db;
    bool seen;                  //  in the latest refresh
    zsock_t *sub;
    uint64_t malformed;
} bus_t;

//  What a summary counts: the heartbeats of one Master (coreapp 0), or the
//  replies one Master got from one Coreapp.
typedef struct {
    uint64_t master;
    uint64_t coreapp;
    uint64_t count;
    uint64_t seq;
    uint64_t epoch;
    char role[64];
    bool has_shard;
    uint32_t shard;
    bool connected;
    wa_usec_t since;            //  monotonic: start of this source's window
} source_t;

typedef struct {
    source_t *items;
    size_t size;
    size_t capacity;
} sources_t;

typedef enum { CLUSTER_UNKNOWN, CLUSTER_UP, CLUSTER_DOWN } cluster_state_t;

struct _tap_t {
    const wa_config_t *config;
    tap_options_t options;
    char db_name[WA_CONFIG_STR + 96];   //  "host:port/db", for messages
    wa_loop_t *loop;
    zlistx_t *buses;            //  bus_t *
    wa_dbworker_t *db;               //  NULL when the buses are given
    wa_trust_t *trust;          //  the bus's keys: ours, and those we accept
    zhashx_t *refused;          //  "endpoint key" we said we do not follow
    refresh_job_t *refresh;
    cluster_state_t cluster;
    sources_t beats;
    sources_t replies;
    wa_msg_t *msg;              //  16 KB each: kept off the stack
    char *line;
    uint64_t printed;
    uint64_t malformed;
    bool done;
};

static wa_usec_t
s_wall_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (wa_usec_t) now.tv_sec * WA_USEC_PER_SEC + now.tv_nsec / 1000;
}

static void
s_emit (tap_t *self, const tap_item_t *item)
{
    if (self->done || !tap_filter_match (&self->options.filter, item))
        return;
    if (self->options.json) {
        char *json = tap_format_json (item);
        if (!json)
            return;
        puts (json);
        free (json);
    }
    else {
        tap_format_text (item, self->line, LINE_MAX_);
        puts (self->line);
    }
    fflush (stdout);
    self->printed++;
    if (self->options.count && self->printed >= self->options.count)
        self->done = true;
}

//  --------------------------------------------------------------------------
//  Summaries

static source_t *
s_source (sources_t *sources, uint64_t master, uint64_t coreapp)
{
    for (size_t i = 0; i < sources->size; i++)
        if (sources->items[i].master == master && sources->items[i].coreapp == coreapp)
            return &sources->items[i];
    if (sources->size == sources->capacity) {
        sources->capacity = sources->capacity ? sources->capacity * 2 : 16;
        sources->items = realloc (sources->items, sources->capacity * sizeof *sources->items);
        assert (sources->items);
    }
    source_t *source = &sources->items[sources->size++];
    memset (source, 0, sizeof *source);
    source->master = master;
    source->coreapp = coreapp;
    source->since = wa_clock_mono ();
    return source;
}

static void
s_count (sources_t *sources, const wa_msg_t *msg, uint64_t master, uint64_t coreapp)
{
    source_t *source = s_source (sources, master, coreapp);
    source->count++;
    source->seq = msg->seq;
    source->epoch = msg->epoch;
    snprintf (source->role, sizeof source->role, "%.*s", (int) sizeof source->role - 1, msg->text);
    source->has_shard = msg->type == WA_MSG_HB_REPLY && msg->shard != UINT32_MAX;
    source->shard = msg->shard;
    source->connected = (msg->code & 1) != 0;
}

static int
s_source_order (const void *a, const void *b)
{
    const source_t *x = a, *y = b;
    if (x->master != y->master)
        return x->master < y->master ? -1 : 1;
    if (x->coreapp != y->coreapp)
        return x->coreapp < y->coreapp ? -1 : 1;
    return 0;
}

//  One line per source for the window that ends now; a source that said
//  nothing in it is reported silent once and forgotten.
static void
s_summarise (tap_t *self, sources_t *sources, tap_type_t type)
{
    if (sources->size == 0)
        return;
    wa_usec_t now = wa_clock_mono ();
    wa_usec_t wall = s_wall_now ();
    qsort (sources->items, sources->size, sizeof *sources->items, s_source_order);
    size_t kept = 0;
    for (size_t i = 0; i < sources->size; i++) {
        source_t *source = &sources->items[i];
        tap_item_t item;
        memset (&item, 0, sizeof item);
        item.type = type;
        item.at = wall;
        snprintf (item.kind, sizeof item.kind, "%s",
                  type == TAP_HEARTBEAT_SUMMARY ? "heartbeat_summary" : "reply_summary");
        item.node = source->master;
        item.epoch = source->epoch;
        item.detail = "";
        item.seq = source->seq;
        item.role = source->role;
        item.count = source->count;
        item.seconds = (double) (now - source->since) / WA_USEC_PER_SEC;
        if (type == TAP_REPLY_SUMMARY) {
            item.subject = source->coreapp;
            item.coreapp = source->coreapp;
            item.has_shard = source->has_shard;
            item.shard = source->shard;
            item.connected = source->connected;
        }
        s_emit (self, &item);
        if (source->count) {
            source->count = 0;
            source->since = now;
            sources->items[kept++] = *source;
        }
    }
    sources->size = kept;
}

static void
s_summaries (tap_t *self)
{
    s_summarise (self, &self->beats, TAP_HEARTBEAT_SUMMARY);
    s_summarise (self, &self->replies, TAP_REPLY_SUMMARY);
}

static int
s_on_summary (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    tap_t *self = arg;
    s_summaries (self);
    return self->done ? -1 : 0;
}

static int
s_on_timeout (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    tap_t *self = arg;
    //  A script that watches for a few seconds still learns who beat.
    if (!self->options.all)
        s_summaries (self);
    self->done = true;
    return -1;
}

//  --------------------------------------------------------------------------
//  The buses

static void
s_on_message (tap_t *self, bus_t *bus)
{
    const wa_msg_t *msg = self->msg;
    //  A bus given on the command line is named by what it carries: only a
    //  Master beats on its own bus, and a node publishes its own events. The
    //  database names the others.
    if (!bus->from_db && msg->type == WA_MSG_HEARTBEAT && msg->node) {
        bus->node = msg->node;
        snprintf (bus->kind, sizeof bus->kind, "master");
    }
    else
    if (!bus->from_db && msg->type == WA_MSG_EVENT && msg->node && !bus->node)
        bus->node = msg->node;

    if (!self->options.all && msg->type == WA_MSG_HEARTBEAT) {
        s_count (&self->beats, msg, msg->node ? msg->node : bus->node, 0);
        return;
    }
    if (!self->options.all && msg->type == WA_MSG_HB_REPLY) {
        s_count (&self->replies, msg, bus->node, msg->node);
        return;
    }
    tap_item_t item;
    tap_item_from_msg (&item, msg, bus->node, s_wall_now ());
    s_emit (self, &item);
}

static int
s_on_bus (wa_loop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    bus_t *bus = arg;
    tap_t *self = bus->tap;
    for (int i = 0; i < RECV_BURST && !self->done; i++) {
        if (i && !(zsock_events (sock) & ZMQ_POLLIN))
            break;
        int why = 0;
        int rc = wa_codec_recv (sock, NULL, self->msg, &why);
        if (rc == -1)
            break;
        if (rc == -2) {
            bus->malformed++;
            self->malformed++;
            wa_debug ("%s: malformed frame ignored (%s); %" PRIu64 " from this bus so far",
                      bus->endpoint, wa_codec_strerror (why), bus->malformed);
            continue;
        }
        s_on_message (self, bus);
    }
    return self->done ? -1 : 0;
}

static const char *
s_bus_name (const bus_t *bus, char *buf, size_t size)
{
    if (bus->node)
        snprintf (buf, size, "%s %" PRIu64 " at %s", *bus->kind ? bus->kind : "node", bus->node,
                  bus->endpoint);
    else
        snprintf (buf, size, "%s", bus->endpoint);
    return buf;
}

static bus_t *
s_bus_find (tap_t *self, const char *endpoint)
{
    for (bus_t *bus = zlistx_first (self->buses); bus; bus = zlistx_next (self->buses))
        if (strcmp (bus->endpoint, endpoint) == 0)
            return bus;
    return NULL;
}

static bus_t *
s_bus_add (tap_t *self, const char *endpoint, uint64_t node, const char *kind, const char *key, bool from_db)
{
    //  Only a node whose key the allow-list trusts as a Master's or a
    //  Coreapp's: a bus is followed for what it says, so it must be theirs.
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert (sub);
    char why[512];
    if (wa_trust_client (self->trust, sub, key, WA_ROLE_MASTER | WA_ROLE_COREAPP, why, sizeof why)) {
        char noted[ENDPOINT_MAX + WA_KEY_TEXT + 2];
        snprintf (noted, sizeof noted, "%s %s", endpoint, key);
        if (!zhashx_lookup (self->refused, noted)) {
            zhashx_insert (self->refused, noted, (void *) 1);
            if (node)
                fprintf (stderr, "watap: not following %s %" PRIu64 " at %s: %s\n", *kind ? kind : "node", node,
                         endpoint, why);
            else
                fprintf (stderr, "watap: not following %s: %s\n", endpoint, why);
        }
        zsock_destroy (&sub);
        return NULL;
    }
    bus_t *bus = calloc (1, sizeof *bus);
    assert (bus);
    snprintf (bus->key, sizeof bus->key, "%s", key);
    bus->tap = self;
    snprintf (bus->endpoint, sizeof bus->endpoint, "%s", endpoint);
    bus->node = node;
    snprintf (bus->kind, sizeof bus->kind, "%s", kind);
    bus->from_db = from_db;
    bus->seen = true;
    bus->sub = sub;
    zsock_set_linger (bus->sub, 0);
    zsock_set_subscribe (bus->sub, "");
    char name[ENDPOINT_MAX + 64];
    if (zsock_connect (bus->sub, "%s", endpoint) == -1) {
        fprintf (stderr, "watap: cannot subscribe to %s: %s\n", s_bus_name (bus, name, sizeof name),
                 zmq_strerror (zmq_errno ()));
        zsock_destroy (&bus->sub);
        free (bus);
        return NULL;
    }
    int rc = wa_loop_reader (self->loop, bus->sub, s_on_bus, bus);
    assert (rc == 0);
    zlistx_add_end (self->buses, bus);
    fprintf (stderr, "watap: following %s\n", s_bus_name (bus, name, sizeof name));
    return bus;
}

static void
s_bus_drop (tap_t *self, bus_t *bus, const char *why)
{
    char name[ENDPOINT_MAX + 64];
    fprintf (stderr, "watap: no longer following %s (%s)\n", s_bus_name (bus, name, sizeof name), why);
    wa_loop_reader_end (self->loop, bus->sub);
    zsock_destroy (&bus->sub);
    void *handle = zlistx_find (self->buses, bus);
    assert (handle);
    zlistx_delete (self->buses, handle);
    free (bus);
}

//  --------------------------------------------------------------------------
//  The refresh, run by the database worker

static const char *SQL_LIVENESS =
    "SELECT value FROM settings WHERE name = 'db_liveness_interval'";

//  Takes the liveness window in microseconds. Webapps (kind 'webapp')
//  register their HTTP port only: they have no bus to follow.
static const char *SQL_NODES =
    "SELECT n.id, n.kind, n.hostname, n.ports, COALESCE(k.bus_key, '') FROM nodes n"
    " LEFT JOIN node_keys k ON k.node_id = n.id"
    " WHERE n.kind IN ('master', 'coreapp') AND n.stopped_at IS NULL"
    " AND TIMESTAMPDIFF(MICROSECOND, n.last_seen, NOW(6)) <= ?"
    " ORDER BY n.id";
//  Before schema version 8 (no node_keys): no keys.
static const char *SQL_NODES_KEYLESS =
    "SELECT id, kind, hostname, ports, '' FROM nodes"
    " WHERE kind IN ('master', 'coreapp') AND stopped_at IS NULL"
    " AND TIMESTAMPDIFF(MICROSECOND, last_seen, NOW(6)) <= ?"
    " ORDER BY id";

static int
s_liveness_row (const wa_db_row_t *row, void *arg)
{
    refresh_job_t *job = arg;
    //  Checked as every node checks it; a value it would refuse is ignored.
    wa_config_t scratch = *job->config;
    char err[256];
    if (wa_config_set (&scratch, "db_liveness_interval", wa_db_row_str (row, 0), err, sizeof err) == 0)
        job->liveness_interval = scratch.db_liveness_interval;
    return 0;
}

static int
s_node_row (const wa_db_row_t *row, void *arg)
{
    refresh_job_t *job = arg;
    //  ports is "api,bus,control,health".
    const char *ports = wa_db_row_str (row, 3);
    const char *comma = strchr (ports, ',');
    long port = comma ? strtol (comma + 1, NULL, 10) : 0;
    if (job->count == NODES_MAX || port <= 0 || port > 65535) {
        job->skipped++;
        return 0;
    }
    char endpoint[ENDPOINT_MAX];
    const char *host = wa_db_row_str (row, 2);
    snprintf (endpoint, sizeof endpoint, strchr (host, ':') ? "tcp://[%s]:%ld" : "tcp://%s:%ld", host, port);
    //  A node restarted on the same ports while its old row still looks
    //  alive: the newer one (rows come by id) is the one on that bus.
    found_t *node = NULL;
    for (int i = 0; i < job->count && !node; i++)
        if (strcmp (job->nodes[i].endpoint, endpoint) == 0)
            node = &job->nodes[i];
    if (!node)
        node = &job->nodes[job->count++];
    node->id = (uint64_t) wa_db_row_int (row, 0);
    snprintf (node->kind, sizeof node->kind, "%s", wa_db_row_str (row, 1));
    snprintf (node->endpoint, sizeof node->endpoint, "%s", endpoint);
    snprintf (node->key, sizeof node->key, "%s", wa_db_row_str (row, 4));
    return 0;
}

static void
s_refresh_run (wa_job_t *job_, wa_db_t *db)
{
    refresh_job_t *job = (refresh_job_t *) job_;
    job->count = 0;
    job->skipped = 0;
    job->error[0] = 0;
    job->liveness_interval = job->config->db_liveness_interval;
    //  Before schema version 3 there is no settings table: the config's value.
    if (wa_db_query (db, SQL_LIVENESS, s_liveness_row, job, "") < 0 && !wa_db_connected (db)) {
        snprintf (job->error, sizeof job->error, "%s", wa_db_error (db));
        job->job.rc = -1;
        return;
    }
    int64_t window = wa_alive_window (job->liveness_interval);
    if (wa_db_query (db, SQL_NODES, s_node_row, job, "i", window) < 0
    &&  (!wa_db_connected (db) || wa_db_query (db, SQL_NODES_KEYLESS, s_node_row, job, "i", window) < 0)) {
        snprintf (job->error, sizeof job->error, "%s", wa_db_error (db));
        job->job.rc = -1;
        return;
    }
    job->job.rc = 0;
}

static void
s_cluster_down (tap_t *self, const char *reason)
{
    if (self->cluster == CLUSTER_DOWN)
        return;
    size_t following = zlistx_size (self->buses);
    if (following)
        fprintf (stderr, "watap: lost the database at %s (%s); still following %zu node%s; retrying\n",
                 self->db_name, reason, following, following == 1 ? "" : "s");
    else
        fprintf (stderr, "watap: no cluster reachable at %s (%s); retrying\n", self->db_name, reason);
    self->cluster = CLUSTER_DOWN;
}

static void
s_refreshed (tap_t *self, const refresh_job_t *job)
{
    if (job->job.rc) {
        s_cluster_down (self, *job->error ? job->error : "database error");
        return;
    }
    for (bus_t *bus = zlistx_first (self->buses); bus; bus = zlistx_next (self->buses))
        bus->seen = false;
    for (int i = 0; i < job->count; i++) {
        const found_t *found = &job->nodes[i];
        bus_t *bus = s_bus_find (self, found->endpoint);
        if (bus && bus->node != found->id) {
            fprintf (stderr, "watap: %s is now %s %" PRIu64 " (was %s %" PRIu64 ")\n", found->endpoint,
                     found->kind, found->id, bus->kind, bus->node);
            bus->node = found->id;
            snprintf (bus->kind, sizeof bus->kind, "%s", found->kind);
        }
        if (bus && strcmp (bus->key, found->key) != 0) {
            //  Another key at that address: a new certificate, or another node.
            s_bus_drop (self, bus, "its key changed");
            bus = NULL;
        }
        if (bus)
            bus->seen = true;
        else
            s_bus_add (self, found->endpoint, found->id, found->kind, found->key, true);
    }
    //  Deleting while walking the list would lose the cursor: collect first.
    bus_t *gone[NODES_MAX + 1];
    size_t gone_count = 0;
    for (bus_t *bus = zlistx_first (self->buses); bus; bus = zlistx_next (self->buses))
        if (bus->from_db && !bus->seen && gone_count < NODES_MAX + 1)
            gone[gone_count++] = bus;
    char why[96];
    snprintf (why, sizeof why, "stopped, or silent for more than %g s",
              (double) wa_alive_window (job->liveness_interval) / 1e6);
    for (size_t i = 0; i < gone_count; i++)
        s_bus_drop (self, gone[i], why);
    if (job->skipped)
        wa_warn ("%d node%s without a usable bus port, or past the %d followed, left out",
                 job->skipped, job->skipped == 1 ? "" : "s", NODES_MAX);
    if (job->count == 0) {
        char reason[128];
        snprintf (reason, sizeof reason, "no node up: none has claimed liveness within %g s",
                  (double) wa_alive_window (job->liveness_interval) / 1e6);
        s_cluster_down (self, reason);
    }
    else
    if (self->cluster != CLUSTER_UP) {
        fprintf (stderr, "watap: cluster reachable at %s: %d node%s up\n", self->db_name, job->count,
                 job->count == 1 ? "" : "s");
        self->cluster = CLUSTER_UP;
    }
}

static int
s_on_db (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    tap_t *self = arg;
    wa_job_t *job = wa_dbworker_recv (self->db);
    if (job && job->kind == JOB_REFRESH) {
        self->refresh = (refresh_job_t *) job;
        s_refreshed (self, self->refresh);
    }
    else
        wa_job_destroy (&job);
    return 0;
}

static int
s_on_refresh (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    tap_t *self = arg;
    //  One at a time: a slow database skips refreshes rather than queue them.
    if (self->refresh)
        WA_JOB_SUBMIT (self->db, self->refresh);
    return 0;
}

//  --------------------------------------------------------------------------

static wa_dbworker_t *
s_start_worker (const wa_config_t *config)
{
    //  The worker inherits this mask: Ctrl-C must reach the reactor's thread,
    //  not a thread blocked in the database client.
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    wa_dbworker_t *worker = wa_dbworker_new (config);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    return worker;
}

tap_t *
tap_new (const wa_config_t *config, const tap_options_t *options)
{
    tap_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config = config;
    self->options = *options;
    snprintf (self->db_name, sizeof self->db_name, "%s:%d/%s", config->db_hostname, config->db_port,
              config->db_name);
    self->msg = malloc (sizeof *self->msg);
    self->line = malloc (LINE_MAX_);
    self->buses = zlistx_new ();
    self->loop = wa_loop_new ();
    self->refused = zhashx_new ();
    assert (self->msg && self->line && self->buses && self->loop && self->refused);
    char err[512];
    self->trust = wa_trust_new (config, WA_ROLE_TAP, err, sizeof err);
    if (!self->trust) {
        fprintf (stderr, "watap: %s\n", err);
        tap_destroy (&self);
        return NULL;
    }
    //  A bus given by its address: with CURVE its key comes from the
    //  database (the node's row), read once here.
    refresh_job_t *known = NULL;
    if (options->endpoint_count && wa_trust_secure (self->trust)) {
        known = WA_JOB_NEW (refresh_job_t, JOB_REFRESH, s_refresh_run, NULL);
        known->config = config;
        wa_db_t *db = wa_db_new (config);
        s_refresh_run (&known->job, db);
        wa_db_destroy (&db);
        if (known->job.rc)
            fprintf (stderr, "watap: cannot read the nodes' bus keys from the database at %s: %s\n",
                     self->db_name, known->error);
    }
    for (int i = 0; i < options->endpoint_count; i++) {
        const char *endpoint = options->endpoints[i];
        if (s_bus_find (self, endpoint))
            continue;
        const found_t *found = NULL;
        for (int n = 0; known && n < known->count && !found; n++)
            if (streq (known->nodes[n].endpoint, endpoint))
                found = &known->nodes[n];
        if (known && !found)
            fprintf (stderr, "watap: %s is the bus of no node up in the database at %s, so its key is not "
                     "known (bus_security = curve)\n", endpoint, self->db_name);
        if (!s_bus_add (self, endpoint, found ? found->id : 0, found ? found->kind : "", found ? found->key : "",
                        false)) {
            WA_JOB_DESTROY (known);
            tap_destroy (&self);
            return NULL;
        }
    }
    WA_JOB_DESTROY (known);
    if (options->endpoint_count == 0) {
        self->refresh = WA_JOB_NEW (refresh_job_t, JOB_REFRESH, s_refresh_run, NULL);
        self->refresh->config = config;
        self->db = s_start_worker (config);
        assert (self->db);
        wa_loop_reader (self->loop, wa_dbworker_sock (self->db), s_on_db, self);
        wa_loop_timer (self->loop, REFRESH_MSEC, 0, s_on_refresh, self);
    }
    //  Also with --all, when there is nothing to summarise: the loop sees a
    //  signal only when its poll returns, and this bounds how long that takes
    //  when the signal lands just before the poll.
    wa_loop_timer (self->loop, SUMMARY_MSEC, 0, s_on_summary, self);
    if (options->timeout > 0) {
        double msec = ceil (options->timeout * 1000);
        wa_loop_timer (self->loop, msec < 1 ? 1 : (size_t) msec, 1, s_on_timeout, self);
    }
    return self;
}

void
tap_destroy (tap_t **self_p)
{
    tap_t *self = *self_p;
    if (!self)
        return;
    wa_loop_destroy (&self->loop);
    //  Waits for a refresh in progress, which the statement timeout bounds
    //  (and destroys it when it comes back).
    wa_dbworker_destroy (&self->db, NULL, NULL);
    WA_JOB_DESTROY (self->refresh);
    for (bus_t *bus = zlistx_first (self->buses); bus; bus = zlistx_next (self->buses)) {
        zsock_destroy (&bus->sub);
        free (bus);
    }
    zlistx_destroy (&self->buses);
    zhashx_destroy (&self->refused);
    wa_trust_destroy (&self->trust);
    if (self->malformed)
        wa_debug ("%" PRIu64 " malformed frame%s ignored", self->malformed, self->malformed == 1 ? "" : "s");
    free (self->beats.items);
    free (self->replies.items);
    free (self->msg);
    free (self->line);
    free (self);
    *self_p = NULL;
}

int
tap_run (tap_t *self)
{
    if (self->db)
        WA_JOB_SUBMIT (self->db, self->refresh);
    //  Returns on SIGINT/SIGTERM (czmq's handler), --count or --timeout:
    //  each is a normal end for a tap.
    wa_loop_start (self->loop);
    return 0;
}
