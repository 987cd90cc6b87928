/*  wa_codec — every frame that moves between nodes and to the upstream.

    A frame is one msgpack array: [version, type, field, field, ...] where the
    fields present, their order and their msgpack types are fixed per message
    type by the table in wa_codec.c. Decoding is strict: a frame that is
    malformed, truncated, larger than WA_FRAME_MAX, of an unknown type, of
    another protocol version, with a field missing, of the wrong type or too
    long is rejected with an error code, and nothing is read past its end. */
#ifndef WA_CODEC_H
#define WA_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

#define WA_PROTO_VERSION 1
#define WA_FRAME_MAX 65536
#define WA_ACCOUNT_MAX 32
#define WA_TEXT_MAX 16384

typedef enum {
    WA_MSG_LOGIN = 1,           //  coreapp → upstream: account shard node epoch [code] (code, optional:
                                //  the shard count of the layout the session serves; absent or 0: unknown)
    WA_MSG_LOGIN_OK,            //  upstream → coreapp: session
    WA_MSG_LOGIN_REFUSED,       //  upstream → coreapp: epoch text (reason)
    WA_MSG_PING,                //  coreapp → upstream: session seq
    WA_MSG_PONG,                //  upstream → coreapp: session seq
    WA_MSG_LOGOUT,              //  coreapp → upstream: session
    WA_MSG_LOGOUT_OK,           //  upstream → coreapp: session
    WA_MSG_SESSION_GONE,        //  upstream → coreapp: session text (expired, kicked, unknown)
    WA_MSG_STATS_REQ,           //  tool → any node
    WA_MSG_STATS,               //  node → tool: text (JSON)
    WA_MSG_HEALTH_REQ,          //  probe → node
    WA_MSG_HEALTH,              //  node → probe: node epoch text (role)
    WA_MSG_EVENT,               //  node bus: node epoch shard text (event kind and detail)
    WA_MSG_ERROR,               //  any: code text
    WA_MSG_HEARTBEAT,           //  master bus: node epoch seq text (role)
    WA_MSG_HB_REPLY,            //  coreapp → master control: shard node epoch seq code (bits: 1 its upstream
                                //  session is open, 2 it reaches the gateway) text (role)
    WA_MSG_REPORT,              //  secondary → primary master control: node epoch text ("coreapp:age_ms ...")
    WA_MSG_SETTINGS,            //  master bus: epoch seq text (JSON object of every setting)
    WA_MSG_SETTINGS_CHANGED,    //  tool → primary master control: text (key); re-read and broadcast
    WA_MSG_SEND,                //  coreapp → upstream: session seq text (JSON {"id","to","type","body"})
    WA_MSG_SEND_ACK,            //  upstream → coreapp: session seq code (0 new, 1 duplicate, 2 refused) text (id or reason)
    WA_MSG_QUERY,               //  coreapp → upstream: session text (message id): did you receive it?
    WA_MSG_QUERY_REPLY,         //  upstream → coreapp: session code (1 received, 0 not) text (message id)
    WA_MSG_API_REQ,             //  webapp → coreapp/master api: seq text (JSON request)
    WA_MSG_API_REP,             //  coreapp/master → webapp: seq code (HTTP status) text (JSON response)
    WA_MSG_UP_EVENT,            //  upstream → coreapp: session seq text (JSON: a status or an inbound message)
    WA_MSG_UP_EVENT_ACK,        //  coreapp → upstream: session seq (that event is persisted)
    WA_MSG_CONTACTS,            //  coreapp → upstream: session seq text (JSON {"contacts":[...]})
    WA_MSG_CONTACTS_REPLY,      //  upstream → coreapp: session seq text (JSON {"contacts":[{"input","status","wa_id"}]})
    WA_MSG_UNREGISTERED,        //  upstream → coreapp: text: the account is not registered (no session)
    WA_MSG_CONTROL,             //  tool/master → upstream control: text (JSON {"op": ...})
    WA_MSG_CONTROL_REPLY,       //  upstream control → tool/master: code (HTTP status) text (JSON)
    //  A planned switchover (wactl switchover, docs/OPERATIONS.md):
    WA_MSG_SWITCHOVER,          //  wactl → primary master control: shard node (the new holder, 0: the
                                //  Master picks) code (how long to wait, ms)
    WA_MSG_SWITCHOVER_OK,       //  primary master → wactl: shard node (new holder) epoch text (JSON: how it went)
    WA_MSG_HANDOVER,            //  master bus → coreapp: shard node (the holder) epoch (its shard lease's)
                                //  seq (the new holder) text (JSON {"master","master_epoch"})
    WA_MSG_HANDED_OVER,         //  coreapp → master control: shard node (the old holder) epoch (the new
                                //  lease's) seq (the new holder) code (0 done, else an error code) text (JSON)
    //  PUT /v1/messages/{id}: an inbound message marked read.
    WA_MSG_READ,                //  coreapp → upstream: session seq text (JSON {"id","from"})
    WA_MSG_READ_ACK,            //  upstream → coreapp: session seq code (0 marked read, 1 read already,
                                //  2 refused: no such inbound message) text (the id, or why refused)
    WA_MSG_TYPE_MAX
} wa_msg_type_t;

//  Field presence bits, in wire order.
#define WA_F_ACCOUNT  (1u << 0)
#define WA_F_SHARD    (1u << 1)
#define WA_F_NODE     (1u << 2)
#define WA_F_EPOCH    (1u << 3)
#define WA_F_SESSION  (1u << 4)
#define WA_F_SEQ      (1u << 5)
#define WA_F_CODE     (1u << 6)
#define WA_F_TEXT     (1u << 7)

typedef struct {
    uint8_t type;               //  wa_msg_type_t
    char account[WA_ACCOUNT_MAX + 1];
    uint32_t shard;
    uint64_t node;
    uint64_t epoch;
    uint64_t session;
    uint64_t seq;
    uint32_t code;
    size_t text_len;
    char text[WA_TEXT_MAX + 1]; //  NUL-terminated; may not contain NUL
    //  Not on the wire: the CURVE key (Z85) the sender's connection was
    //  accepted with, set by wa_codec_recv ("" when the socket has none).
    char sender_key[41];
} wa_msg_t;

//  Decode results. 0 is success; every failure is negative.
#define WA_CODEC_OK          0
#define WA_CODEC_EMALFORMED (-2)    //  not msgpack, or not the frame shape
#define WA_CODEC_ETRUNCATED (-3)    //  ends before the frame does
#define WA_CODEC_ETOOBIG    (-4)    //  larger than WA_FRAME_MAX
#define WA_CODEC_ETYPE      (-5)    //  unknown message type
#define WA_CODEC_EVERSION   (-6)    //  another protocol version
#define WA_CODEC_EFIELD     (-7)    //  field missing, extra, wrong type or too long
#define WA_CODEC_ETRAILING  (-8)    //  bytes after the frame
#define WA_CODEC_ENOMEM     (-9)    //  the decoder could not allocate

//  Set type and clear every field.
void wa_msg_init (wa_msg_t *self, wa_msg_type_t type);
//  Copy text (truncated at WA_TEXT_MAX) into the text field.
void wa_msg_set_text (wa_msg_t *self, const char *text);
//  Which fields a type carries (0 for an unknown type).
uint32_t wa_codec_fields (int type);
//  Which fields it may also carry (every one or none), in wire order:
//  encoded when not zero, 0 when absent.
uint32_t wa_codec_optional (int type);
const char *wa_codec_type_name (int type);
const char *wa_codec_strerror (int rc);

//  Encode into buf; returns the length, or -1 when it does not fit or the
//  message is invalid (unknown type, account too long).
int wa_codec_encode (const wa_msg_t *self, uint8_t *buf, size_t cap);
//  Decode len bytes; WA_CODEC_OK or a negative code above.
int wa_codec_decode (const uint8_t *data, size_t len, wa_msg_t *self);

//  Send on a socket, preceded by routing_id when not NULL (ROUTER). 0 / -1.
int wa_codec_send (zsock_t *sock, zframe_t *routing_id, const wa_msg_t *self);
//  Receive one message: 0 ok, -1 interrupted or nothing, -2 malformed (the
//  frame is dropped; *why gets the decode code when why is not NULL).
//  With routing_id not NULL, the first frame is taken as the sender's id and
//  returned there, with -2 too, so a malformed request can be answered
//  (caller destroys it; NULL when the message had no frames to take).
int wa_codec_recv (zsock_t *sock, zframe_t **routing_id, wa_msg_t *self, int *why);
//  wa_codec_recv without waiting: 1 when no message is there (nothing
//  taken), else as wa_codec_recv. A reader drains its socket with it at
//  one ZMQ_EVENTS's cost per drain, not one per message (issue 15).
int wa_codec_try_recv (zsock_t *sock, zframe_t **routing_id, wa_msg_t *self, int *why);

#endif
