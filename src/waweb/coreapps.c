/*  coreapps — see coreapps.h */
#include "wa_log.h"
#include "wa_peers.h"
#include "wa_u64hash.h"
#include "coreapps.h"

#define SHARDS_MAX COREAPPS_SHARDS_MAX
#define SWEEP_MS 20
#define LINKS_MAX 64
//  A parked request tries again after this long (a failed send, an error
//  the Coreapp says may pass), growing to RETRY_MAX.
#define RETRY_MIN (20 * 1000)
#define RETRY_MAX (500 * 1000)

enum { JOB_MAP = 200 };            //  and WA_JOB_MASTERS

typedef coreapps_primary_t shard_entry_t;

typedef struct {
    wa_job_t job;
    coreapps_read_fn *read;
    int shards;                 //  out
    shard_entry_t map[SHARDS_MAX];
    shard_entry_t master;       //  the primary Master (node 0: none)
} map_job_t;

typedef struct {
    uint64_t node;
    char endpoint[300];
    char key[41];
    zsock_t *dealer;
    wa_relink_t *relink;        //  connects again where the node refused our key
} link_t;

struct coreapps_t {
    web_t *web;
    wa_trust_t *trust;
    wa_loop_t *loop;
    wa_dbworker_t *db;
    const wa_config_t *settings;
    coreapps_done_fn *done;
    int shards;
    shard_entry_t map[SHARDS_MAX];
    shard_entry_t master;
    zhashx_t *links;            //  node → link_t
    zhashx_t *in_flight;        //  seq → web_req_t
    zlistx_t *parked;           //  web_req_t waiting to be (re)sent
    uint64_t next_seq;
    coreapps_read_fn *read;     //  how the map is read, copied into each map job
    map_job_t *map_job;         //  NULL while the worker has it (as masters_job)
    bool refresh_again;
    wa_peers_t masters;         //  their buses: promotion notices
    wa_masters_job_t *masters_job;
    int sweep_timer;
    int refresh_timer;
    wa_msg_t msg;
    coreapps_stats_t stats;
    //  The last read of the map, for coreapps_unready: the database's
    //  answer without a query of its own.
    wa_usec_t read_at;          //  when the last good read came back (0: none yet)
    bool read_failed;           //  the last read failed
    int read_shards;            //  the shard count it found (0: none yet)
};

static const char *SQL_SHARDS = "SELECT shards FROM cluster_info WHERE id = 1";
//  The primaries, with the count in force read by the same statement (one
//  snapshot: a change of the count between two reads cannot mix layouts).
//  A draining row's holder is letting go (a change of the count): no
//  primary to send to until the new layout's are promoted.
static const char *SQL_MAP =
    "SELECT s.shard, s.node_id, s.epoch, n.hostname, n.ports, COALESCE(k.bus_key, ''), c.shards FROM shard_map s "
    "JOIN cluster_info c ON c.id = 1 "
    "JOIN nodes n ON n.id = s.node_id LEFT JOIN node_keys k ON k.node_id = n.id "
    "WHERE s.expires_at > NOW(6) AND s.draining = 0 AND s.shard < c.shards AND n.stopped_at IS NULL";

static const char *SQL_MASTER =
    "SELECT m.holder, m.epoch, n.hostname, n.ports, COALESCE(k.bus_key, '') FROM master_lease m "
    "JOIN nodes n ON n.id = m.holder LEFT JOIN node_keys k ON k.node_id = n.id "
    "WHERE m.id = 1 AND m.expires_at > NOW(6)";

//  Where the rows go.
typedef struct {
    int *shards;
    shard_entry_t *map;
    shard_entry_t *master;
} map_read_t;

static int
s_master_row (const wa_db_row_t *row, void *arg)
{
    map_read_t *self = arg;
    shard_entry_t *entry = self->master;
    if (wa_peers_endpoint (wa_db_row_str (row, 2), wa_db_row_str (row, 3), 0, entry->endpoint,
                           sizeof entry->endpoint))
        return 0;
    entry->node = (uint64_t) wa_db_row_int (row, 0);
    entry->epoch = (uint64_t) wa_db_row_int (row, 1);
    snprintf (entry->key, sizeof entry->key, "%s", wa_db_row_str (row, 4));
    return 0;
}

static int
s_shards_row (const wa_db_row_t *row, void *arg)
{
    map_read_t *self = arg;
    int64_t shards = wa_db_row_int (row, 0);
    *self->shards = shards >= 1 && shards <= SHARDS_MAX ? (int) shards : 0;
    return 0;
}

static int
s_map_row (const wa_db_row_t *row, void *arg)
{
    map_read_t *self = arg;
    int64_t shard = wa_db_row_int (row, 0), shards = wa_db_row_int (row, 6);
    if (shard < 0 || shard >= SHARDS_MAX || shards < 1 || shards > SHARDS_MAX)
        return 0;
    //  The count this statement saw wins over the one read before it.
    if (*self->shards != shards) {
        *self->shards = (int) shards;
        memset (self->map, 0, sizeof (shard_entry_t) * SHARDS_MAX);
    }
    shard_entry_t *entry = &self->map[shard];
    if (wa_peers_endpoint (wa_db_row_str (row, 3), wa_db_row_str (row, 4), 0, entry->endpoint,
                           sizeof entry->endpoint))
        return 0;
    entry->node = (uint64_t) wa_db_row_int (row, 1);
    entry->epoch = (uint64_t) wa_db_row_int (row, 2);
    snprintf (entry->key, sizeof entry->key, "%s", wa_db_row_str (row, 5));
    return 0;
}

int
coreapps_read_sql (wa_db_t *db, int *shards, coreapps_primary_t *map, coreapps_primary_t *master)
{
    map_read_t self = { shards, map, master };
    if (wa_db_query (db, SQL_SHARDS, s_shards_row, &self, "") < 0
    ||  wa_db_query (db, SQL_MAP, s_map_row, &self, "") < 0
    ||  wa_db_query (db, SQL_MASTER, s_master_row, &self, "") < 0)
        return -1;
    return 0;
}

static void
s_map_run (wa_job_t *job, wa_db_t *db)
{
    map_job_t *self = (map_job_t *) job;
    memset (self->map, 0, sizeof self->map);
    memset (&self->master, 0, sizeof self->master);
    self->shards = 0;
    job->rc = self->read (db, &self->shards, self->map, &self->master);
}

//  --------------------------------------------------------------------------

static void s_park (coreapps_t *self, web_req_t *req, int code, const char *why, bool at_once);

static int
s_on_reply (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    coreapps_t *self = arg;
    for (int i = 0; i < 1000; i++) {
        int why = 0;
        int rc = wa_codec_try_recv (reader, NULL, &self->msg, &why);
        if (rc == 1)
            break;
        if (rc == -2)
            wa_warn ("a Coreapp sent a malformed frame: %s", wa_codec_strerror (why));
        if (rc || self->msg.type != WA_MSG_API_REP)
            continue;
        web_req_t *req = zhashx_lookup (self->in_flight, WA_U64_KEY (self->msg.seq));
        if (!req)
            continue;           //  an attempt given up on: its retry answers
        zhashx_delete (self->in_flight, WA_U64_KEY (self->msg.seq));
        req->fwd_seq = 0;
        json_error_t error;
        json_t *response = json_loadb (self->msg.text, self->msg.text_len, 0, &error);
        if (!json_is_object (response)) {
            json_decref (response);
            s_park (self, req, WA_ERR_INTERNAL, "a Coreapp answered something that is not JSON", false);
            continue;
        }
        //  Errors that another attempt may not meet: not primary (the map is
        //  old), not ready, database trouble. Anything else is the answer.
        json_t *first = json_array_get (json_object_get (response, "errors"), 0);
        int code = (int) json_integer_value (json_object_get (first, "code"));
        bool moved = code == WA_ERR_NOT_PRIMARY_COREAPP || code == WA_ERR_NOT_PRIMARY_MASTER;
        if (moved || code == WA_ERR_NOT_READY || code == WA_ERR_DATABASE) {
            char reason[120];
            snprintf (reason, sizeof reason, "%s %" PRIu64 ": %.90s", req->fwd_shard < 0 ? "master" : "coreapp",
                      req->fwd_node, json_string_value (json_object_get (first, "details")) ?: "");
            json_decref (response);
            if (moved)
                coreapps_refresh (self);
            s_park (self, req, code, reason, moved);
            continue;
        }
        self->stats.answered++;
        free (req->fwd_text);
        req->fwd_text = NULL;
        self->done (self->web, req, (int) self->msg.code, response);
    }
    return 0;
}

static link_t *
s_link (coreapps_t *self, const shard_entry_t *entry, unsigned roles)
{
    link_t *link = zhashx_lookup (self->links, WA_U64_KEY (entry->node));
    if (link && streq (link->endpoint, entry->endpoint) && streq (link->key, entry->key))
        return link;
    if (link) {
        wa_loop_reader_end (self->loop, link->dealer);
        zhashx_delete (self->links, WA_U64_KEY (entry->node));
    }
    link = (link_t *) zmalloc (sizeof (link_t));
    link->node = entry->node;
    snprintf (link->endpoint, sizeof link->endpoint, "%s", entry->endpoint);
    snprintf (link->key, sizeof link->key, "%s", entry->key);
    link->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_immediate (link->dealer, 1);
    zsock_set_sndtimeo (link->dealer, 0);
    zsock_set_linger (link->dealer, 0);
    zsock_set_sndhwm (link->dealer, 10000);
    zsock_set_rcvhwm (link->dealer, 10000);
    char why[200] = "";
    if (wa_trust_client (self->trust, link->dealer, link->key, roles, why, sizeof why)
    ||  zsock_connect (link->dealer, "%s", link->endpoint)) {
        wa_warn ("cannot connect to node %" PRIu64 " at %s: %s", link->node, link->endpoint,
                 *why ? why : "connect failed");
        zsock_destroy (&link->dealer);
        free (link);
        return NULL;
    }
    wa_loop_reader (self->loop, link->dealer, s_on_reply, self);
    char what[64];
    snprintf (what, sizeof what, "node %" PRIu64 "'s api port", link->node);
    link->relink = wa_relink_new (self->trust, link->dealer, self->loop, what, NULL, NULL);
    zhashx_insert (self->links, WA_U64_KEY (link->node), link);
    return link;
}

static void
s_link_destroy (void **item)
{
    link_t *link = *item;
    wa_relink_destroy (&link->relink);
    zsock_destroy (&link->dealer);
    free (link);
    *item = NULL;
}

//  One attempt: to the shard's primary as the map knows it. Parked when
//  there is none or it cannot take the request now.
static void
s_send (coreapps_t *self, web_req_t *req)
{
    wa_usec_t now = wa_clock_mono ();
    bool master = req->fwd_shard == COREAPPS_MASTER;
    int missing = master ? WA_ERR_NOT_PRIMARY_MASTER : WA_ERR_NOT_PRIMARY_COREAPP;
    //  A routed request's shard by the count in force now: a change of the
    //  count while it waited sends it where its recipient is served now.
    if (!master && req->fwd_route[0] && self->shards > 0)
        req->fwd_shard = wa_message_shard (req->fwd_route, self->shards);
    const shard_entry_t *entry = master ? &self->master
                               : req->fwd_shard >= 0 && req->fwd_shard < self->shards ? &self->map[req->fwd_shard]
                               : NULL;
    if (!entry || !entry->node) {
        s_park (self, req, missing, master ? "no primary Master" : "no primary Coreapp for the shard", false);
        return;
    }
    link_t *link = s_link (self, entry, master ? WA_ROLE_MASTER : WA_ROLE_COREAPP);
    if (!link) {
        s_park (self, req, missing, "cannot connect to the primary", false);
        return;
    }
    wa_msg_init (&self->msg, WA_MSG_API_REQ);
    self->msg.seq = ++self->next_seq;
    wa_msg_set_text (&self->msg, req->fwd_text);
    if (wa_codec_send (link->dealer, NULL, &self->msg)) {
        s_park (self, req, missing, "the primary is not connected", false);
        return;
    }
    self->stats.forwarded++;
    if (req->fwd_attempts++)
        self->stats.retries++;
    req->fwd_seq = self->msg.seq;
    req->fwd_node = entry->node;
    wa_usec_t attempt = wa_clock_from_sec (self->settings->request_attempt_timeout);
    req->fwd_until = now + attempt < req->fwd_deadline ? now + attempt : req->fwd_deadline;
    zhashx_insert (self->in_flight, WA_U64_KEY (req->fwd_seq), req);
}

//  Wait, then try again: at once (the map changed) or after a backoff.
static void
s_park (coreapps_t *self, web_req_t *req, int code, const char *why, bool at_once)
{
    req->fwd_last_code = code;
    snprintf (req->fwd_last_why, sizeof req->fwd_last_why, "%s", why);
    int step = req->fwd_attempts < 5 ? req->fwd_attempts : 5;
    wa_usec_t backoff = RETRY_MIN << step;
    req->fwd_retry_at = wa_clock_mono () + (at_once ? 0 : (backoff < RETRY_MAX ? backoff : RETRY_MAX));
    if (!req->fwd_handle)
        req->fwd_handle = zlistx_add_end (self->parked, req);
}

static void
s_expire (coreapps_t *self, web_req_t *req)
{
    self->stats.expired++;
    free (req->fwd_text);
    req->fwd_text = NULL;
    self->done (self->web, req, 0, NULL);
}

static int
s_on_sweep (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapps_t *self = arg;
    wa_usec_t now = wa_clock_mono ();
    //  Attempts without an answer in time: the Coreapp may be gone.
    zlistx_t *late = NULL;
    for (web_req_t *req = zhashx_first (self->in_flight); req; req = zhashx_next (self->in_flight))
        if (now >= req->fwd_until) {
            if (!late)
                late = zlistx_new ();
            zlistx_add_end (late, req);
        }
    if (late) {
        for (web_req_t *req = zlistx_first (late); req; req = zlistx_next (late)) {
            zhashx_delete (self->in_flight, WA_U64_KEY (req->fwd_seq));
            req->fwd_seq = 0;
            char why[120];
            snprintf (why, sizeof why, "%s %" PRIu64 " did not answer within %g s",
                      req->fwd_shard < 0 ? "master" : "coreapp", req->fwd_node,
                      self->settings->request_attempt_timeout);
            s_park (self, req, WA_ERR_NOT_READY, why, true);
        }
        zlistx_destroy (&late);
        coreapps_refresh (self);
    }
    //  The due ones first, then act: sending may park a request again,
    //  which changes the list (and its cursor) under a running walk.
    zlistx_t *due = NULL;
    for (web_req_t *req = zlistx_first (self->parked); req; req = zlistx_next (self->parked))
        if (now >= req->fwd_deadline || now >= req->fwd_retry_at) {
            if (!due)
                due = zlistx_new ();
            zlistx_add_end (due, req);
        }
    if (!due)
        return 0;
    for (web_req_t *req = zlistx_first (due); req; req = zlistx_next (due)) {
        zlistx_delete (self->parked, req->fwd_handle);
        req->fwd_handle = NULL;
        if (now >= req->fwd_deadline)
            s_expire (self, req);
        else
            s_send (self, req);
    }
    zlistx_destroy (&due);
    return 0;
}

static void
s_refresh_submit (coreapps_t *self)
{
    if (!self->map_job) {
        self->refresh_again = true;
        return;
    }
    self->refresh_again = false;
    self->map_job->read = self->read;
    WA_JOB_SUBMIT (self->db, self->map_job);
}

static int
s_on_refresh (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coreapps_t *self = arg;
    s_refresh_submit (self);
    wa_masters_job_submit (&self->masters_job, self->db, self->settings->db_liveness_interval);
    wa_timer_every (self->loop, &self->refresh_timer, self->settings->shard_renew_interval, s_on_refresh, self);
    return 0;
}

//  A Master's bus: a promotion means the map changed.
static int
s_on_bus (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    coreapps_t *self = arg;
    for (int i = 0; i < 1000; i++) {
        int rc = wa_codec_try_recv (reader, NULL, &self->msg, NULL);
        if (rc == 1)
            break;
        if (rc)
            continue;
        if (self->msg.type == WA_MSG_EVENT && (strncmp (self->msg.text, "promoted ", 9) == 0
                                           || strncmp (self->msg.text, "lease_acquired ", 15) == 0))
            coreapps_refresh (self);
    }
    return 0;
}

coreapps_t *
coreapps_new (web_t *web, wa_loop_t *loop, wa_trust_t *trust, wa_dbworker_t *db, const wa_config_t *settings,
              coreapps_read_fn *read,
              coreapps_done_fn *done)
{
    coreapps_t *self = (coreapps_t *) zmalloc (sizeof (coreapps_t));
    self->web = web;
    self->loop = loop;
    self->db = db;
    self->settings = settings;
    self->done = done;
    self->read = read ? read : coreapps_read_sql;
    self->map_job = WA_JOB_NEW (map_job_t, JOB_MAP, s_map_run, NULL);
    self->masters_job = wa_masters_job_new ();
    self->links = wa_u64hash_new ();
    zhashx_set_destructor (self->links, s_link_destroy);
    self->in_flight = wa_u64hash_new ();
    self->parked = zlistx_new ();
    self->sweep_timer = wa_loop_timer (loop, SWEEP_MS, 0, s_on_sweep, self);
    self->refresh_timer = -1;
    self->trust = trust;
    wa_peers_init (&self->masters, trust, loop, s_on_bus, NULL, self);
    s_on_refresh (loop, 0, self);
    return self;
}

void
coreapps_destroy (coreapps_t **self_p)
{
    coreapps_t *self = *self_p;
    if (!self)
        return;
    for (link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        wa_loop_reader_end (self->loop, link->dealer);
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->in_flight);
    zlistx_destroy (&self->parked);
    wa_loop_timer_end (self->loop, self->sweep_timer);
    if (self->refresh_timer >= 0)
        wa_loop_timer_end (self->loop, self->refresh_timer);
    wa_peers_destroy (&self->masters, self->loop);
    WA_JOB_DESTROY (self->map_job);
    WA_JOB_DESTROY (self->masters_job);
    free (self);
    *self_p = NULL;
}

void
coreapps_forward (coreapps_t *self, web_req_t *req, int shard)
{
    req->fwd_shard = shard;
    req->fwd_attempts = 0;
    req->fwd_seq = 0;
    req->fwd_handle = NULL;
    req->fwd_deadline = wa_clock_mono () + wa_clock_from_sec (self->settings->request_deadline);
    s_send (self, req);
}

int
coreapps_shards (coreapps_t *self)
{
    return self->shards;
}

void
coreapps_refresh (coreapps_t *self)
{
    self->stats.map_refreshes++;
    s_refresh_submit (self);
}

bool
coreapps_job_done (coreapps_t *self, wa_job_t *job)
{
    if (job->kind == WA_JOB_MASTERS) {
        self->masters_job = (wa_masters_job_t *) job;
        if (job->rc == 0)
            wa_peers_set (&self->masters, self->masters_job->masters, self->masters_job->count, 0, NULL, NULL, NULL);
        return true;
    }
    if (job->kind != JOB_MAP)
        return false;
    map_job_t *map = self->map_job = (map_job_t *) job;
    self->read_failed = job->rc != 0;
    if (job->rc == 0) {
        self->read_at = wa_clock_mono ();
        self->read_shards = map->shards;
    }
    if (job->rc == 0 && map->shards > 0) {
        bool changed = self->shards != map->shards || self->master.node != map->master.node;
        if (self->master.node != map->master.node)
            wa_info ("primary master %" PRIu64, map->master.node);
        self->master = map->master;
        for (int s = 0; s < map->shards; s++)
            if (self->map[s].node != map->map[s].node || self->map[s].epoch != map->map[s].epoch)
                changed = true;
        if (changed) {
            for (int s = 0; s < map->shards; s++)
                if (self->map[s].node != map->map[s].node)
                    wa_info ("shard %d: primary coreapp %" PRIu64 " (epoch %" PRIu64 ")", s,
                             map->map[s].node, map->map[s].epoch);
            self->shards = map->shards;
            memcpy (self->map, map->map, sizeof self->map);
            //  Whoever waits for a primary tries the new one now.
            for (web_req_t *req = zlistx_first (self->parked); req; req = zlistx_next (self->parked))
                req->fwd_retry_at = 0;
        }
    }
    if (self->refresh_again)
        s_refresh_submit (self);
    return true;
}

void
coreapps_abandon (coreapps_t *self)
{
    web_req_t *req;
    while ((req = zlistx_first (self->parked))) {
        zlistx_delete (self->parked, req->fwd_handle);
        req->fwd_handle = NULL;
        s_expire (self, req);
    }
    while ((req = zhashx_first (self->in_flight))) {
        zhashx_delete (self->in_flight, WA_U64_KEY (req->fwd_seq));
        req->fwd_seq = 0;
        s_expire (self, req);
    }
}

const char *
coreapps_unready (coreapps_t *self, char *why, size_t size)
{
    const wa_config_t *settings = self->settings;
    wa_usec_t fresh = wa_clock_from_sec (COREAPPS_FRESH_READS * settings->shard_renew_interval
                                         + settings->db_connect_timeout + settings->db_statement_timeout);
    if (self->read_failed)
        snprintf (why, size, "the last read of the shard map failed: the database does not answer");
    else
    if (!self->read_at)
        snprintf (why, size, "the shard map was not read yet");
    else
    if (wa_clock_mono () - self->read_at > fresh)
        snprintf (why, size, "no read of the shard map came back within %.1f s: the database does not answer",
                  (double) fresh / 1e6);
    else
    if (self->read_shards <= 0 || self->shards <= 0)
        snprintf (why, size, "the cluster's shard count is not known yet");
    else {
        for (int s = 0; s < self->shards; s++)
            if (!self->map[s].node) {
                snprintf (why, size, "shard %d has no primary coreapp", s);
                return why;
            }
        return NULL;
    }
    return why;
}

coreapps_stats_t
coreapps_stats (coreapps_t *self)
{
    coreapps_stats_t stats = self->stats;
    stats.in_flight = zhashx_size (self->in_flight);
    stats.parked = zlistx_size (self->parked);
    return stats;
}
