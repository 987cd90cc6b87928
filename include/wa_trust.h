/*  wa_trust — who may talk on the node bus.

    Every ZeroMQ socket between the cluster's programs speaks CURVE: each
    program has its own certificate (bus_cert, made by `wactl keys new`, with
    its role in the certificate's metadata), and the cluster trusts the
    public certificates in one directory, the allow-list (bus_keys_dir). A
    connection is accepted at the handshake only from a key in that list
    (our ZAP handler answers libzmq; a refusal is logged with the peer's
    address and key, and counted); a message is then accepted only if the
    role of its sender's key may send it there (wa_trust_allow), whatever
    the message says about itself. A client connects only to a server whose
    key (from the nodes' rows) is in the list with the role it expects.

    The list is read again when its directory changes (at most once a
    second): trusting a new key or revoking one needs no restart, and a
    revoked key's messages are refused at once, on connections it already
    had too.

    bus_security = off turns all of that off, and then every port binds
    only loopback: for one machine's tests and demos. */
#ifndef WA_TRUST_H
#define WA_TRUST_H

#include <czmq.h>
#include <jansson.h>
#include "wa_codec.h"
#include "wa_config.h"

//  Roles, as bits so that a check can name several.
typedef enum {
    WA_ROLE_NONE = 0,
    WA_ROLE_MASTER = 1,
    WA_ROLE_COREAPP = 2,
    WA_ROLE_WEBAPP = 4,
    WA_ROLE_WACTL = 8,
    WA_ROLE_TAP = 16,
} wa_role_t;
#define WA_ROLE_ANY (WA_ROLE_MASTER | WA_ROLE_COREAPP | WA_ROLE_WEBAPP | WA_ROLE_WACTL | WA_ROLE_TAP)
#define WA_KEY_TEXT 41              //  a Z85 public key and its NUL

//  "master", "coreapp", ... or NULL; and back (WA_ROLE_NONE when unknown).
const char *wa_role_name (wa_role_t role);
wa_role_t wa_role_from_name (const char *name);
//  The role a node kind ("master", "coreapp", "webapp") runs as.
wa_role_t wa_role_of_kind (const char *kind);

typedef struct wa_trust_t wa_trust_t;

//  Load this program's certificate and the allow-list for a program of
//  role; with CURVE, start the handshake checker. NULL with err set when
//  the settings do not allow it (no certificate, a certificate of another
//  role, a secret key others can read, no allow-list, bus_security = off
//  with a bind_address that is not loopback, or, for a master or coreapp,
//  another such trust alive in this program: a process has one ZAP handler).
wa_trust_t *wa_trust_new (const wa_config_t *config, wa_role_t role, char *err, size_t errlen);
void wa_trust_destroy (wa_trust_t **self_p);
//  false with bus_security = off.
bool wa_trust_secure (wa_trust_t *self);
//  This program's public key (Z85), "" with bus_security = off.
const char *wa_trust_public_key (wa_trust_t *self);
//  The address the node's ports bind: bind_address, or 127.0.0.1 for "*"
//  with bus_security = off.
const char *wa_trust_bind_address (wa_trust_t *self);

//  Make sock a server (before it binds): CURVE with our certificate, the
//  handshake checked against the allow-list; a message larger than a frame
//  is refused (ZMQ_MAXMSGSIZE) whatever the security.
void wa_trust_server (wa_trust_t *self, zsock_t *sock);
//  Make sock a client of the server whose public key is server_key (before
//  it connects). -1 with err set when that key is not in the allow-list
//  with one of roles (or is not a key): do not connect then.
int wa_trust_client (wa_trust_t *self, zsock_t *sock, const char *server_key, unsigned roles,
                     char *err, size_t errlen);

//  The role of the key that sent msg (its handshake's key; ANY with
//  bus_security = off); WA_ROLE_NONE for a key no longer trusted.
wa_role_t wa_trust_sender (wa_trust_t *self, const wa_msg_t *msg);
//  The name in the certificate of that key ("" when none).
const char *wa_trust_sender_name (wa_trust_t *self, const wa_msg_t *msg);
//  May msg's sender, by the role of its key, send it here? A refusal is
//  counted and logged (where names the socket: "api", "control", ...).
bool wa_trust_allow (wa_trust_t *self, const wa_msg_t *msg, unsigned roles, const char *where);

//  The handshake checker's socket: poll it, and call wa_trust_on_refusal
//  when it is readable (it reports each refused handshake). NULL with
//  bus_security = off.
zsock_t *wa_trust_sock (wa_trust_t *self);
void wa_trust_on_refusal (wa_trust_t *self);
//  Count a handshake that failed before any key was offered (a client
//  without CURVE: the socket monitor's HANDSHAKE_FAILED_PROTOCOL).
void wa_trust_on_protocol_failure (wa_trust_t *self, const char *where, const char *endpoint);

//  {"security", "key", "role", "trusted_keys", "refused_handshakes",
//   "refused_keyless", "refused_messages"} as a new object.
json_t *wa_trust_stats_json (wa_trust_t *self);

//  The allow-list, for wactl keys: every trusted certificate in dir, as
//  an array of {"name","role","key","file"}; NULL with err when dir cannot
//  be read.
json_t *wa_trust_list (const char *dir, char *err, size_t errlen);

#endif
