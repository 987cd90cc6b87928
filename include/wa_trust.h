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

    The list is read again when its directory changes: trusting a new key
    or revoking one needs no restart. A key it does not know makes it look
    at once (a key trusted a moment ago is accepted); a key it knows is
    checked against the directory at most once a second, so a revoked
    key's messages are refused within a second, on connections it already
    had too; a handshake always sees the directory as it is (one stat), so
    a revoked key cannot connect again.

    bus_security = off turns all of that off, and then every port binds
    only loopback: for one machine's tests and demos. */
#ifndef WA_TRUST_H
#define WA_TRUST_H

#include <czmq.h>
#include "wa_loop.h"
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
//  Refuse msg for a reason of the caller's (a trusted key that speaks for
//  another node than its own): counted and logged as wa_trust_allow does.
void wa_trust_refuse (wa_trust_t *self, const wa_msg_t *msg, const char *where, const char *why);

//  The handshake checker's socket: poll it, and call wa_trust_on_refusal
//  when it is readable (it reports each refused handshake). NULL with
//  bus_security = off.
zsock_t *wa_trust_sock (wa_trust_t *self);
void wa_trust_on_refusal (wa_trust_t *self);
//  Count a handshake that failed before any key was offered (a client
//  without CURVE: the socket monitor's HANDSHAKE_FAILED_PROTOCOL).
void wa_trust_on_protocol_failure (wa_trust_t *self, const char *where, const char *endpoint);

//  A client socket whose handshake a server refused is never connected
//  again by libzmq (4.3: the refused session ends). A relink watches sock's
//  handshakes (a monitor read on loop, no thread) and connects a refused
//  endpoint again after a pause, 1 s doubling to 10 s, so that a key
//  trusted after it was first refused is taken without a restart; each
//  refusal is logged, rate-limited, naming what (e.g. "master 3's
//  control"). It is sock's monitor (libzmq allows one): on_event, when not
//  NULL, hears its other events too (CONNECTED, DISCONNECTED,
//  CONNECT_RETRIED, as czmq's zmonitor names them). Destroy it before
//  sock. NULL with bus_security = off and no on_event.
typedef struct wa_relink_t wa_relink_t;
typedef void (wa_relink_event_fn) (void *arg, const char *event, const char *endpoint);
wa_relink_t *wa_relink_new (wa_trust_t *trust, zsock_t *sock, wa_loop_t *loop, const char *what,
                            wa_relink_event_fn *on_event, void *arg);
void wa_relink_destroy (wa_relink_t **self_p);
//  On a socket connected to servers of different keys (a SUB to every
//  Master's bus), each endpoint must be connected again with its own
//  server's key: tell the relink which (after connecting endpoint), and
//  forget it (server_key NULL) once disconnected.
void wa_relink_server_key (wa_relink_t *self, const char *endpoint, const char *server_key);

//  The refusals so far: unknown keys, handshakes without CURVE, messages
//  a role may not send.
void wa_trust_counts (wa_trust_t *self, uint64_t *handshakes, uint64_t *keyless, uint64_t *messages);

//  {"security", "key", "role", "trusted_keys", "refused_handshakes",
//   "refused_keyless", "refused_messages"} as a new object.
json_t *wa_trust_stats_json (wa_trust_t *self);

//  A public certificate file as the allow-list reads it: its key, role
//  and name (name of size WA_KEY_TEXT + 24 at least). -1 with err when it
//  is not one (unreadable, larger than 4 KiB, no valid public key, no known
//  role, or it holds a secret key: a secret certificate is never trusted
//  by copying it into the list).
int wa_trust_read_public (const char *path, char key[WA_KEY_TEXT], wa_role_t *role, char *name,
                          size_t namelen, char *err, size_t errlen);

//  The allow-list, for wactl keys: every trusted certificate in dir, as
//  an array of {"name","role","key","file"}; NULL with err when dir cannot
//  be read.
json_t *wa_trust_list (const char *dir, char *err, size_t errlen);

#endif
