/*  master_link — wactl's requests to the primary Master's control port,
    made with wactl's own bus key (see wactl.h, wactl_ask_master). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "wa_codec.h"
#include "wa_trust.h"
#include "wactl.h"

//  The primary Master, as its lease says by the database's clock.
static const char *SQL_PRIMARY =
    "SELECT l.holder, n.hostname, n.ports, '' FROM master_lease l JOIN nodes n ON n.id = l.holder"
    " WHERE l.id = 1 AND l.expires_at > NOW(6) AND n.kind = 'master'";
//  From schema version 8 on, with its bus key.
static const char *SQL_PRIMARY_KEY =
    "SELECT l.holder, n.hostname, n.ports, COALESCE(k.bus_key, '') FROM master_lease l"
    " JOIN nodes n ON n.id = l.holder LEFT JOIN node_keys k ON k.node_id = n.id"
    " WHERE l.id = 1 AND l.expires_at > NOW(6) AND n.kind = 'master'";
#define SCHEMA_NODE_KEYS 8

typedef struct {
    bool found;
    long long id;
    char host[WA_CONFIG_STR];
    int port;                   //  its control ROUTER, 0 when not known
    char key[WA_KEY_TEXT];      //  its bus key, "" when not known
} primary_t;

static int
s_primary_row (const wa_db_row_t *row, void *arg)
{
    primary_t *primary = arg;
    primary->found = true;
    primary->id = (long long) wa_db_row_int (row, 0);
    snprintf (primary->host, sizeof primary->host, "%s", wa_db_row_str (row, 1));
    //  nodes.ports is "api,bus,control,health".
    const char *text = wa_db_row_str (row, 2);
    for (int i = 0; i < 3; i++) {
        char *end;
        long port = strtol (text, &end, 10);
        if (i == 2)
            primary->port = end != text && port > 0 && port <= 65535 ? (int) port : 0;
        else
        if (*end != ',')
            break;
        text = end + 1;
    }
    snprintf (primary->key, sizeof primary->key, "%s", wa_db_row_str (row, 3));
    return 0;
}

int
wactl_ask_master (wactl_t *self, int version, wa_msg_t *msg, int timeout_ms, long long *master,
                  char *why, size_t whylen)
{
    primary_t primary = { .found = false };
    const char *sql = version >= SCHEMA_NODE_KEYS ? SQL_PRIMARY_KEY : SQL_PRIMARY;
    if (wa_db_query (self->db, sql, s_primary_row, &primary, "") < 0) {
        snprintf (why, whylen, "cannot read the master lease: %s", wa_db_error (self->db));
        return -1;
    }
    if (!primary.found) {
        snprintf (why, whylen, "no Master holds a valid lease");
        return -1;
    }
    *master = primary.id;
    if (!primary.port) {
        snprintf (why, whylen, "primary Master %lld has not registered its control port", primary.id);
        return -1;
    }
    bool ipv6 = strchr (primary.host, ':') != NULL;
    char endpoint[WA_CONFIG_STR + 16];
    snprintf (endpoint, sizeof endpoint, ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", primary.host, primary.port);
    //  The Master takes these only from a wactl key: ours (bus_cert).
    char err[400];
    wa_trust_t *trust = wa_trust_new (self->config, WA_ROLE_WACTL, err, sizeof err);
    if (!trust) {
        snprintf (why, whylen, "cannot speak on the node bus: %.400s", err);
        return -1;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    int refused = dealer ? wa_trust_client (trust, dealer, primary.key, WA_ROLE_MASTER, err, sizeof err) : -1;
    if (refused) {
        if (dealer)
            snprintf (why, whylen, "primary Master %lld is not one we trust: %.400s", primary.id, err);
        else
            snprintf (why, whylen, "cannot create a socket");
        zsock_destroy (&dealer);
        wa_trust_destroy (&trust);
        return -1;
    }
    zsock_set_linger (dealer, 0);
    if (ipv6)
        zsock_set_ipv6 (dealer, 1);
    zpoller_t *poller = NULL;
    int why_code = 0, rc = -1;
    if (zsock_connect (dealer, "%s", endpoint) != 0)
        snprintf (why, whylen, "cannot connect to %s", endpoint);
    else
    if (wa_codec_send (dealer, NULL, msg))
        snprintf (why, whylen, "cannot send to %s", endpoint);
    else
    if (!(poller = zpoller_new (dealer, NULL)) || !zpoller_wait (poller, timeout_ms))
        snprintf (why, whylen, "primary Master %lld (%s) %s %.1f s", primary.id, endpoint,
                  poller && zpoller_terminated (poller) ? "was interrupted waiting for an answer"
                                                        : "did not answer within", timeout_ms / 1e3);
    else
    if (wa_codec_recv (dealer, NULL, msg, &why_code))
        snprintf (why, whylen, "primary Master %lld sent a bad answer: %s", primary.id,
                  wa_codec_strerror (why_code));
    else
        rc = 0;
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    wa_trust_destroy (&trust);
    return rc;
}
