/*  wa_peers — this node's connections to the cluster's Masters: per
    Master, one SUB socket to its bus and one DEALER to its control port.
    A socket per Master, not one SUB connected to every bus: a CURVE
    connection takes the server key its socket has when it is made, and a
    connection made again (wa_relink, after a refused key) on a SUB shared
    by several Masters could end up with another Master's key. The set follows the `nodes` table (refreshed by a DB
    job); connecting and sending never block, so the heartbeat path never
    waits on the database or on a slow peer. */
#ifndef WA_PEERS_H
#define WA_PEERS_H

#include <czmq.h>
#include "wa_loop.h"
#include "wa_codec.h"
#include "wa_dbworker.h"
#include "wa_trust.h"

#define WA_PEERS_MAX 16

typedef struct {
    uint64_t id;
    char api[300];              //  tcp://host:port
    char bus[300];
    char control[300];
    char key[41];               //  its bus key (node_keys), "" when none
    zsock_t *dealer;            //  NULL in a list handed to wa_peers_set
    wa_relink_t *relink;        //  the dealer's (NULL in a list)
    zsock_t *sub;               //  its bus; NULL while another peer's SUB
                                //  has the same bus and key (a Master
                                //  restarted on the same ports)
    wa_relink_t *sub_relink;
} wa_peer_t;

typedef struct {
    wa_trust_t *trust;          //  how we connect (keys), and to whom
    wa_loop_t *loop;              //  where the relinks and the SUBs' readers run
    wa_loop_reader_fn *on_bus;    //  reads a Master's bus (a SUB)
    wa_relink_event_fn *on_event;
    void *arg;
    wa_peer_t peers[WA_PEERS_MAX];
    int count;
} wa_peers_t;

//  The DB job listing the Masters that are up (kind WA_JOB_MASTERS).
typedef struct {
    wa_job_t job;
    wa_usec_t liveness_limit;
    int count;
    wa_peer_t masters[WA_PEERS_MAX];
} wa_masters_job_t;

//  Connections made with trust's keys, to Masters whose key it trusts;
//  a connection a Master refused is made again (wa_relink) on loop. Every
//  Master's bus is read by on_bus (with arg) on loop; on_event, when not
//  NULL, hears the SUBs' socket events (CONNECTED, ...).
void wa_peers_init (wa_peers_t *self, wa_trust_t *trust, wa_loop_t *loop, wa_loop_reader_fn *on_bus,
                    wa_relink_event_fn *on_event, void *arg);
void wa_peers_destroy (wa_peers_t *self, wa_loop_t *loop);
//  Make the set equal to list (skipping skip_id, this node): new peers are
//  connected, gone ones dropped. Each new DEALER is registered with loop and
//  handler when handler is not NULL.
void wa_peers_set (wa_peers_t *self, const wa_peer_t *list, int count, uint64_t skip_id,
                   wa_loop_t *loop, wa_loop_reader_fn handler, void *arg);
wa_peer_t *wa_peers_find (wa_peers_t *self, uint64_t id);
//  Send to a peer's control port without blocking; -1 if unknown or full.
int wa_peers_send (wa_peers_t *self, uint64_t id, const wa_msg_t *msg);
wa_masters_job_t *wa_masters_job_new (void);
void wa_masters_job_run (wa_job_t *job, wa_db_t *db);
//  The endpoint of port index (0 api, 1 bus, 2 control, 3 health) of a
//  node from its `nodes` row, as "tcp://host:port". -1 when the row holds
//  something a node does not write (never used to build an endpoint).
int wa_peers_endpoint (const char *host, const char *ports, int index, char *out, size_t size);
//  List the Masters again from *job_p (up: liveness within 2 ×
//  db_liveness_interval), unless the worker has the last listing still.
void wa_masters_job_submit (wa_masters_job_t **job_p, wa_dbworker_t *db, double db_liveness_interval);

#endif
