/*  wa_peers — see include/wa_peers.h */
#include <ctype.h>
#include "wa_log.h"
#include "wa_peers.h"

void
wa_peers_init (wa_peers_t *self, wa_trust_t *trust, wa_loop_t *loop, wa_loop_reader_fn *on_bus,
               wa_relink_event_fn *on_event, void *arg)
{
    memset (self, 0, sizeof *self);
    self->trust = trust;
    self->loop = loop;
    self->on_bus = on_bus;
    self->on_event = on_event;
    self->arg = arg;
}

//  The peer other than skip whose SUB has this bus and key, or -1. A
//  Master restarted on the same host and ports has the same endpoints as
//  its previous incarnation, whose row stays up for a while: one SUB per
//  bus, or every heartbeat would arrive twice (tests/chaos,
//  cluster-restart).
static int
s_bus_owner (const wa_peers_t *self, const char *bus, const char *key, int skip)
{
    for (int i = 0; i < self->count; i++)
        if (i != skip && self->peers[i].sub && streq (self->peers[i].bus, bus) && streq (self->peers[i].key, key))
            return i;
    return -1;
}

static void
s_sub_close (wa_peers_t *self, wa_peer_t *peer)
{
    if (!peer->sub)
        return;
    if (self->loop)
        wa_loop_reader_end (self->loop, peer->sub);
    wa_relink_destroy (&peer->sub_relink);
    zsock_destroy (&peer->sub);
}

//  A SUB to peer's bus, read on our loop; -1 if it cannot connect.
static int
s_sub_open (wa_peers_t *self, wa_peer_t *peer)
{
    char why[200];
    peer->sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (peer->sub, "");
    zsock_set_linger (peer->sub, 0);
    if (wa_trust_client (self->trust, peer->sub, peer->key, WA_ROLE_MASTER, why, sizeof why)
    ||  zsock_connect (peer->sub, "%s", peer->bus)) {
        zsock_destroy (&peer->sub);
        return -1;
    }
    if (self->loop && self->on_bus)
        wa_loop_reader (self->loop, peer->sub, self->on_bus, self->arg);
    char what[64];
    snprintf (what, sizeof what, "master %" PRIu64 "'s bus", peer->id);
    peer->sub_relink = wa_relink_new (self->trust, peer->sub, self->loop, what, self->on_event, self->arg);
    wa_relink_server_key (peer->sub_relink, peer->bus, peer->key);
    return 0;
}

static void
s_drop (wa_peers_t *self, int index, wa_loop_t *loop)
{
    wa_peer_t *peer = &self->peers[index];
    if (peer->sub) {
        //  Another peer with the same bus and key keeps the connection.
        for (int i = 0; i < self->count; i++)
            if (i != index && !self->peers[i].sub && streq (self->peers[i].bus, peer->bus)
            &&  streq (self->peers[i].key, peer->key)) {
                self->peers[i].sub = peer->sub;
                self->peers[i].sub_relink = peer->sub_relink;
                peer->sub = NULL;
                peer->sub_relink = NULL;
                break;
            }
        s_sub_close (self, peer);
    }
    if (loop)
        wa_loop_reader_end (loop, peer->dealer);
    wa_relink_destroy (&peer->relink);
    zsock_destroy (&peer->dealer);
    self->peers[index] = self->peers[--self->count];
}

void
wa_peers_destroy (wa_peers_t *self, wa_loop_t *loop)
{
    while (self->count)
        s_drop (self, self->count - 1, loop);
}

wa_peer_t *
wa_peers_find (wa_peers_t *self, uint64_t id)
{
    for (int i = 0; i < self->count; i++)
        if (self->peers[i].id == id)
            return &self->peers[i];
    return NULL;
}

void
wa_peers_set (wa_peers_t *self, const wa_peer_t *list, int count, uint64_t skip_id,
              wa_loop_t *loop, wa_loop_reader_fn handler, void *arg)
{
    for (int i = self->count - 1; i >= 0; i--) {
        bool keep = false;
        for (int j = 0; j < count && !keep; j++)
            keep = list[j].id == self->peers[i].id && streq (list[j].bus, self->peers[i].bus)
                && streq (list[j].control, self->peers[i].control) && streq (list[j].key, self->peers[i].key);
        if (!keep) {
            wa_info ("peer master %" PRIu64 " left (%s)", self->peers[i].id, self->peers[i].bus);
            s_drop (self, i, loop);
        }
    }
    for (int j = 0; j < count && self->count < WA_PEERS_MAX; j++) {
        if (list[j].id == skip_id || wa_peers_find (self, list[j].id))
            continue;
        wa_peer_t *peer = &self->peers[self->count];
        *peer = list[j];
        peer->dealer = peer->sub = NULL;
        peer->relink = peer->sub_relink = NULL;
        char why[200];
        peer->dealer = zsock_new (ZMQ_DEALER);
        if (wa_trust_client (self->trust, peer->dealer, peer->key, WA_ROLE_MASTER, why, sizeof why)) {
            //  Not yet (a Master registered before the schema had keys), or
            //  not trusted: listed again at the next refresh.
            if (*peer->key)
                wa_warn ("not connecting to master %" PRIu64 " at %s: %s", peer->id, peer->bus, why);
            zsock_destroy (&peer->dealer);
            continue;
        }
        //  The same bus with another key is another Master now: the
        //  connection made with the old key is dropped.
        for (int i = 0; i < self->count; i++)
            if (streq (self->peers[i].bus, peer->bus) && !streq (self->peers[i].key, peer->key))
                s_sub_close (self, &self->peers[i]);
        zsock_set_linger (peer->dealer, 0);
        zsock_set_sndhwm (peer->dealer, 100);
        zsock_set_sndtimeo (peer->dealer, 0);
        //  A peer that is gone must not fill our queue with stale replies.
        zsock_set_immediate (peer->dealer, 1);
        if (zsock_connect (peer->dealer, "%s", peer->control)
        ||  (s_bus_owner (self, peer->bus, peer->key, self->count) < 0 && s_sub_open (self, peer))) {
            wa_warn ("cannot connect to master %" PRIu64 " at %s / %s", peer->id, peer->bus, peer->control);
            zsock_destroy (&peer->dealer);
            continue;
        }
        if (loop && handler)
            wa_loop_reader (loop, peer->dealer, handler, arg);
        char what[64];
        snprintf (what, sizeof what, "master %" PRIu64 "'s control port", peer->id);
        peer->relink = wa_relink_new (self->trust, peer->dealer, self->loop, what, NULL, NULL);
        self->count++;
        wa_info ("peer master %" PRIu64 " joined (bus %s, control %s)", peer->id, peer->bus, peer->control);
    }
}

int
wa_peers_send (wa_peers_t *self, uint64_t id, const wa_msg_t *msg)
{
    wa_peer_t *peer = wa_peers_find (self, id);
    if (!peer)
        return -1;
    return wa_codec_send (peer->dealer, NULL, msg);
}

static const char *SQL_MASTERS =
    "SELECT n.id, n.hostname, n.ports, COALESCE(k.bus_key, '') FROM nodes n "
    "LEFT JOIN node_keys k ON k.node_id = n.id WHERE n.kind = 'master' AND n.stopped_at IS NULL "
    "AND " WA_SQL_ALIVE ("n.last_seen") " ORDER BY n.id";

int
wa_peers_endpoint (const char *host, const char *ports, int index, char *out, size_t size)
{
    for (const char *c = host; *c; c++)
        if (!isalnum ((unsigned char) *c) && !strchr (".-:_[]", *c))
            return -1;
    int p[4];
    char tail;
    if (!*host || strlen (host) > 255 || index < 0 || index > 3
    ||  sscanf (ports, "%d,%d,%d,%d%c", &p[0], &p[1], &p[2], &p[3], &tail) != 4
    ||  p[index] < 1 || p[index] > 65535)
        return -1;
    snprintf (out, size, "tcp://%s:%d", host, p[index]);
    return 0;
}

//  Rows come from the database: a host or port list that is not what a node
//  writes is skipped, never used to build an endpoint.
static int
s_master_row (const wa_db_row_t *row, void *arg)
{
    wa_masters_job_t *self = arg;
    if (self->count == WA_PEERS_MAX)
        return 1;
    const char *host = wa_db_row_str (row, 1);
    const char *ports = wa_db_row_str (row, 2);
    wa_peer_t *peer = &self->masters[self->count];
    memset (peer, 0, sizeof *peer);
    if (wa_peers_endpoint (host, ports, 0, peer->api, sizeof peer->api)
    ||  wa_peers_endpoint (host, ports, 1, peer->bus, sizeof peer->bus)
    ||  wa_peers_endpoint (host, ports, 2, peer->control, sizeof peer->control))
        return 0;
    snprintf (peer->key, sizeof peer->key, "%s", wa_db_row_str (row, 3));
    peer->id = (uint64_t) wa_db_row_int (row, 0);
    self->count++;
    return 0;
}

void
wa_masters_job_run (wa_job_t *job, wa_db_t *db)
{
    wa_masters_job_t *self = (wa_masters_job_t *) job;
    self->count = 0;
    job->rc = wa_db_query (db, SQL_MASTERS, s_master_row, self, "i", (int64_t) self->liveness_limit) < 0 ? -1 : 0;
}

wa_masters_job_t *
wa_masters_job_new (void)
{
    return WA_JOB_NEW (wa_masters_job_t, WA_JOB_MASTERS, wa_masters_job_run, NULL);
}

void
wa_masters_job_submit (wa_masters_job_t **job_p, wa_dbworker_t *db, double db_liveness_interval)
{
    if (!*job_p)
        return;
    (*job_p)->liveness_limit = wa_alive_window (db_liveness_interval);
    WA_JOB_SUBMIT (db, *job_p);
}
