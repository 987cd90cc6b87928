/*  wa_codec — msgpack frames between nodes and to the upstream; see wa_codec.h. */

#include <string.h>
#include <msgpack.h>
#include "wa_codec.h"
#include "wa_loop.h"

//  Version, type and at most every field once.
#define S_ELEMENTS_MAX 10

//  The decoder's zone: room for S_ELEMENTS_MAX objects, the most a frame
//  that passed s_prescan makes msgpack allocate.
#define S_ZONE_CHUNK (S_ELEMENTS_MAX * sizeof (msgpack_object))

//  Largest frame wa_codec_encode can produce: array header, version, type,
//  str8 account, uint32 shard and code, four uint64, str16 text.
#define S_ENCODED_MAX (3 + 2 + WA_ACCOUNT_MAX + 2 * 5 + 4 * 9 + 3 + WA_TEXT_MAX)

static const uint32_t s_fields [WA_MSG_TYPE_MAX] = {
    [WA_MSG_LOGIN]          = WA_F_ACCOUNT | WA_F_SHARD | WA_F_NODE | WA_F_EPOCH,
    [WA_MSG_LOGIN_OK]       = WA_F_SESSION,
    [WA_MSG_LOGIN_REFUSED]  = WA_F_EPOCH | WA_F_TEXT,
    [WA_MSG_PING]           = WA_F_SESSION | WA_F_SEQ,
    [WA_MSG_PONG]           = WA_F_SESSION | WA_F_SEQ,
    [WA_MSG_LOGOUT]         = WA_F_SESSION,
    [WA_MSG_LOGOUT_OK]      = WA_F_SESSION,
    [WA_MSG_SESSION_GONE]   = WA_F_SESSION | WA_F_TEXT,
    [WA_MSG_STATS_REQ]      = 0,
    [WA_MSG_STATS]          = WA_F_TEXT,
    [WA_MSG_HEALTH_REQ]     = 0,
    [WA_MSG_HEALTH]         = WA_F_NODE | WA_F_EPOCH | WA_F_TEXT,
    [WA_MSG_EVENT]          = WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_TEXT,
    [WA_MSG_ERROR]          = WA_F_CODE | WA_F_TEXT,
    [WA_MSG_HEARTBEAT]      = WA_F_NODE | WA_F_EPOCH | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_HB_REPLY]       = WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_SEQ | WA_F_CODE | WA_F_TEXT,
    [WA_MSG_REPORT]         = WA_F_NODE | WA_F_EPOCH | WA_F_TEXT,
    [WA_MSG_SETTINGS]       = WA_F_EPOCH | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_SETTINGS_CHANGED] = WA_F_TEXT,
    [WA_MSG_SEND]           = WA_F_SESSION | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_SEND_ACK]       = WA_F_SESSION | WA_F_SEQ | WA_F_CODE | WA_F_TEXT,
    [WA_MSG_QUERY]          = WA_F_SESSION | WA_F_TEXT,
    [WA_MSG_QUERY_REPLY]    = WA_F_SESSION | WA_F_CODE | WA_F_TEXT,
    [WA_MSG_API_REQ]        = WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_API_REP]        = WA_F_SEQ | WA_F_CODE | WA_F_TEXT,
    [WA_MSG_UP_EVENT]       = WA_F_SESSION | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_UP_EVENT_ACK]   = WA_F_SESSION | WA_F_SEQ,
    [WA_MSG_CONTACTS]       = WA_F_SESSION | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_CONTACTS_REPLY] = WA_F_SESSION | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_UNREGISTERED]   = WA_F_TEXT,
    [WA_MSG_CONTROL]        = WA_F_TEXT,
    [WA_MSG_CONTROL_REPLY]  = WA_F_CODE | WA_F_TEXT,
    [WA_MSG_SWITCHOVER]     = WA_F_SHARD | WA_F_NODE | WA_F_CODE,
    [WA_MSG_SWITCHOVER_OK]  = WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_TEXT,
    [WA_MSG_HANDOVER]       = WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_HANDED_OVER]    = WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_SEQ | WA_F_CODE | WA_F_TEXT,
    [WA_MSG_READ]           = WA_F_SESSION | WA_F_SEQ | WA_F_TEXT,
    [WA_MSG_READ_ACK]       = WA_F_SESSION | WA_F_SEQ | WA_F_CODE | WA_F_TEXT,
};

//  Fields a type may carry or leave out, each in its place in wire order
//  (every optional field of a frame, or none). Encoded when not zero; a
//  frame without them decodes to 0: a LOGIN's code, the shard count of
//  the layout the session serves, is 0 (unknown) from a sender that
//  predates it.
static const uint32_t s_optional [WA_MSG_TYPE_MAX] = {
    [WA_MSG_LOGIN]          = WA_F_CODE,
};

static const char *s_names [WA_MSG_TYPE_MAX] = {
    [WA_MSG_LOGIN]          = "LOGIN",
    [WA_MSG_LOGIN_OK]       = "LOGIN_OK",
    [WA_MSG_LOGIN_REFUSED]  = "LOGIN_REFUSED",
    [WA_MSG_PING]           = "PING",
    [WA_MSG_PONG]           = "PONG",
    [WA_MSG_LOGOUT]         = "LOGOUT",
    [WA_MSG_LOGOUT_OK]      = "LOGOUT_OK",
    [WA_MSG_SESSION_GONE]   = "SESSION_GONE",
    [WA_MSG_STATS_REQ]      = "STATS_REQ",
    [WA_MSG_STATS]          = "STATS",
    [WA_MSG_HEALTH_REQ]     = "HEALTH_REQ",
    [WA_MSG_HEALTH]         = "HEALTH",
    [WA_MSG_EVENT]          = "EVENT",
    [WA_MSG_ERROR]          = "ERROR",
    [WA_MSG_HEARTBEAT]      = "HEARTBEAT",
    [WA_MSG_HB_REPLY]       = "HB_REPLY",
    [WA_MSG_REPORT]         = "REPORT",
    [WA_MSG_SETTINGS]       = "SETTINGS",
    [WA_MSG_SETTINGS_CHANGED] = "SETTINGS_CHANGED",
    [WA_MSG_SEND]           = "SEND",
    [WA_MSG_SEND_ACK]       = "SEND_ACK",
    [WA_MSG_QUERY]          = "QUERY",
    [WA_MSG_QUERY_REPLY]    = "QUERY_REPLY",
    [WA_MSG_API_REQ]        = "API_REQ",
    [WA_MSG_API_REP]        = "API_REP",
    [WA_MSG_UP_EVENT]       = "UP_EVENT",
    [WA_MSG_UP_EVENT_ACK]   = "UP_EVENT_ACK",
    [WA_MSG_CONTACTS]       = "CONTACTS",
    [WA_MSG_CONTACTS_REPLY] = "CONTACTS_REPLY",
    [WA_MSG_UNREGISTERED]   = "UNREGISTERED",
    [WA_MSG_CONTROL]        = "CONTROL",
    [WA_MSG_CONTROL_REPLY]  = "CONTROL_REPLY",
    [WA_MSG_SWITCHOVER]     = "SWITCHOVER",
    [WA_MSG_SWITCHOVER_OK]  = "SWITCHOVER_OK",
    [WA_MSG_HANDOVER]       = "HANDOVER",
    [WA_MSG_HANDED_OVER]    = "HANDED_OVER",
    [WA_MSG_READ]           = "READ",
    [WA_MSG_READ_ACK]       = "READ_ACK",
};

static bool
s_type_known (int type)
{
    return type > 0 && type < WA_MSG_TYPE_MAX;
}

static bool
s_account_valid (const char *account, size_t size)
{
    if (size < 1 || size > WA_ACCOUNT_MAX)
        return false;
    for (size_t index = 0; index < size; index++) {
        char c = account [index];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
        ||    (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  msgpack-c hands an empty str over as a NULL pointer
static bool
s_text_valid (const char *text, size_t size)
{
    return size == 0 || (size <= WA_TEXT_MAX && memchr (text, 0, size) == NULL);
}

//  Clears without touching the whole 16 KB text buffer: decode runs on every
//  received frame.
static void
s_clear (wa_msg_t *self, uint8_t type)
{
    self->type = type;
    self->account [0] = 0;
    self->shard = 0;
    self->node = 0;
    self->epoch = 0;
    self->session = 0;
    self->seq = 0;
    self->code = 0;
    self->text_len = 0;
    self->sender_key [0] = 0;
    self->text [0] = 0;
}

void
wa_msg_init (wa_msg_t *self, wa_msg_type_t type)
{
    assert (self);
    //  Field by field: clearing the whole text buffer (16 KiB) for every
    //  message was a measurable share of a Coreapp's time.
    s_clear (self, (uint8_t) type);
}

void
wa_msg_set_text (wa_msg_t *self, const char *text)
{
    assert (self);
    size_t size = text? strnlen (text, WA_TEXT_MAX): 0;
    if (size)
        memcpy (self->text, text, size);
    self->text [size] = 0;
    self->text_len = size;
}

uint32_t
wa_codec_fields (int type)
{
    return s_type_known (type)? s_fields [type]: 0;
}

uint32_t
wa_codec_optional (int type)
{
    return s_type_known (type)? s_optional [type]: 0;
}

const char *
wa_codec_type_name (int type)
{
    return s_type_known (type)? s_names [type]: "UNKNOWN";
}

const char *
wa_codec_strerror (int rc)
{
    switch (rc) {
        case WA_CODEC_OK:         return "success";
        case WA_CODEC_EMALFORMED: return "malformed frame";
        case WA_CODEC_ETRUNCATED: return "truncated frame";
        case WA_CODEC_ETOOBIG:    return "frame too large";
        case WA_CODEC_ETYPE:      return "unknown message type";
        case WA_CODEC_EVERSION:   return "unsupported protocol version";
        case WA_CODEC_EFIELD:     return "field missing, extra, of the wrong type or too long";
        case WA_CODEC_ETRAILING:  return "trailing bytes after frame";
        case WA_CODEC_ENOMEM:     return "out of memory";
        default:                  return "unknown codec error";
    }
}


//  --------------------------------------------------------------------------
//  Encoding

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
} s_sink_t;

static int
s_sink_write (void *data, const char *buf, size_t len)
{
    s_sink_t *sink = (s_sink_t *) data;
    if (len > sink->cap - sink->len)
        return -1;
    memcpy (sink->buf + sink->len, buf, len);
    sink->len += len;
    return 0;
}

static int
s_pack_str (msgpack_packer *pk, const char *str, size_t size)
{
    if (msgpack_pack_str (pk, size))
        return -1;
    return msgpack_pack_str_body (pk, str, size);
}

int
wa_codec_encode (const wa_msg_t *self, uint8_t *buf, size_t cap)
{
    assert (self);
    assert (buf || cap == 0);
    if (!s_type_known (self->type))
        return -1;
    uint32_t fields = s_fields [self->type];
    //  Only code is optional so far (s_optional).
    if ((s_optional [self->type] & WA_F_CODE) && self->code)
        fields |= s_optional [self->type];
    size_t account_len = strnlen (self->account, sizeof (self->account));
    if ((fields & WA_F_ACCOUNT) && !s_account_valid (self->account, account_len))
        return -1;
    if ((fields & WA_F_TEXT) && !s_text_valid (self->text, self->text_len))
        return -1;

    s_sink_t sink = { buf, cap, 0 };
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sink, s_sink_write);
    int rc = msgpack_pack_array (&pk, 2 + (size_t) __builtin_popcount (fields));
    rc = rc || msgpack_pack_uint8 (&pk, WA_PROTO_VERSION);
    rc = rc || msgpack_pack_uint8 (&pk, self->type);
    if (fields & WA_F_ACCOUNT)
        rc = rc || s_pack_str (&pk, self->account, account_len);
    if (fields & WA_F_SHARD)
        rc = rc || msgpack_pack_uint32 (&pk, self->shard);
    if (fields & WA_F_NODE)
        rc = rc || msgpack_pack_uint64 (&pk, self->node);
    if (fields & WA_F_EPOCH)
        rc = rc || msgpack_pack_uint64 (&pk, self->epoch);
    if (fields & WA_F_SESSION)
        rc = rc || msgpack_pack_uint64 (&pk, self->session);
    if (fields & WA_F_SEQ)
        rc = rc || msgpack_pack_uint64 (&pk, self->seq);
    if (fields & WA_F_CODE)
        rc = rc || msgpack_pack_uint32 (&pk, self->code);
    if (fields & WA_F_TEXT)
        rc = rc || s_pack_str (&pk, self->text, self->text_len);
    return rc? -1: (int) sink.len;
}


//  --------------------------------------------------------------------------
//  Decoding

static size_t
s_be (const uint8_t *data, size_t width)
{
    size_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | data [index];
    return value;
}

//  Steps over one scalar at *pos. Containers and extensions are not part of
//  any frame, so they are malformed rather than skipped.
static int
s_skip_scalar (const uint8_t *data, size_t len, size_t *pos)
{
    size_t at = *pos;
    if (at >= len)
        return WA_CODEC_ETRUNCATED;
    uint8_t tag = data [at++];
    size_t body = 0;
    if (tag <= 0x7f || tag >= 0xe0)             //  fixint
        body = 0;
    else
    if (tag >= 0xa0 && tag <= 0xbf)             //  fixstr
        body = tag & 0x1f;
    else {
        size_t width = 0;                       //  of a length prefix
        switch (tag) {
            case 0xc0: case 0xc2: case 0xc3:    //  nil, false, true
                break;
            case 0xcc: case 0xd0: body = 1; break;
            case 0xcd: case 0xd1: body = 2; break;
            case 0xca: case 0xce: case 0xd2: body = 4; break;
            case 0xcb: case 0xcf: case 0xd3: body = 8; break;
            case 0xc4: case 0xd9: width = 1; break;
            case 0xc5: case 0xda: width = 2; break;
            case 0xc6: case 0xdb: width = 4; break;
            default:
                return WA_CODEC_EMALFORMED;
        }
        if (width) {
            if (len - at < width)
                return WA_CODEC_ETRUNCATED;
            body = s_be (data + at, width);
            at += width;
        }
    }
    if (len - at < body)
        return WA_CODEC_ETRUNCATED;
    *pos = at + body;
    return WA_CODEC_OK;
}

//  msgpack-c allocates a container's element slots from its header count
//  before it has seen the elements, so a few bytes claiming billions of
//  elements must never reach it. Only a flat, short array gets through; *end
//  is where it stops.
static int
s_prescan (const uint8_t *data, size_t len, size_t *end)
{
    size_t count, pos;
    if (data [0] >= 0x90 && data [0] <= 0x9f) {
        count = data [0] & 0x0f;
        pos = 1;
    }
    else
    if (data [0] == 0xdc) {
        if (len < 3)
            return WA_CODEC_ETRUNCATED;
        count = s_be (data + 1, 2);
        pos = 3;
    }
    else
        return WA_CODEC_EMALFORMED;
    if (count > S_ELEMENTS_MAX)
        return WA_CODEC_EMALFORMED;
    for (size_t index = 0; index < count; index++) {
        int rc = s_skip_scalar (data, len, &pos);
        if (rc)
            return rc;
    }
    *end = pos;
    return WA_CODEC_OK;
}

static int
s_get_uint (const msgpack_object *obj, uint64_t max, uint64_t *value)
{
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj->via.u64 > max)
        return WA_CODEC_EFIELD;
    *value = obj->via.u64;
    return WA_CODEC_OK;
}

static int
s_decode_fields (const msgpack_object_array *array, wa_msg_t *self)
{
    const msgpack_object *head = array->ptr;
    //  Version first: a frame of another version may have any other shape.
    if (head [0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return WA_CODEC_EVERSION;
    if (head [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return WA_CODEC_EMALFORMED;
    if (head [0].via.u64 != WA_PROTO_VERSION)
        return WA_CODEC_EVERSION;
    if (head [1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return WA_CODEC_ETYPE;
    if (head [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return WA_CODEC_EMALFORMED;
    if (head [1].via.u64 >= WA_MSG_TYPE_MAX || !s_type_known ((int) head [1].via.u64))
        return WA_CODEC_ETYPE;

    self->type = (uint8_t) head [1].via.u64;
    uint32_t fields = s_fields [self->type];
    uint32_t optional = s_optional [self->type];
    if (optional && array->size - 2 == (uint32_t) __builtin_popcount (fields | optional))
        fields |= optional;
    if (array->size - 2 != (uint32_t) __builtin_popcount (fields))
        return WA_CODEC_EFIELD;

    const msgpack_object *field = head + 2;
    uint64_t value = 0;
    if (fields & WA_F_ACCOUNT) {
        if (field->type != MSGPACK_OBJECT_STR
        ||  !s_account_valid (field->via.str.ptr, field->via.str.size))
            return WA_CODEC_EFIELD;
        memcpy (self->account, field->via.str.ptr, field->via.str.size);
        self->account [field->via.str.size] = 0;
        field++;
    }
    if (fields & WA_F_SHARD) {
        if (s_get_uint (field++, UINT32_MAX, &value))
            return WA_CODEC_EFIELD;
        self->shard = (uint32_t) value;
    }
    if ((fields & WA_F_NODE) && s_get_uint (field++, UINT64_MAX, &self->node))
        return WA_CODEC_EFIELD;
    if ((fields & WA_F_EPOCH) && s_get_uint (field++, UINT64_MAX, &self->epoch))
        return WA_CODEC_EFIELD;
    if ((fields & WA_F_SESSION) && s_get_uint (field++, UINT64_MAX, &self->session))
        return WA_CODEC_EFIELD;
    if ((fields & WA_F_SEQ) && s_get_uint (field++, UINT64_MAX, &self->seq))
        return WA_CODEC_EFIELD;
    if (fields & WA_F_CODE) {
        if (s_get_uint (field++, UINT32_MAX, &value))
            return WA_CODEC_EFIELD;
        self->code = (uint32_t) value;
    }
    if (fields & WA_F_TEXT) {
        if (field->type != MSGPACK_OBJECT_STR
        ||  !s_text_valid (field->via.str.ptr, field->via.str.size))
            return WA_CODEC_EFIELD;
        if (field->via.str.size)
            memcpy (self->text, field->via.str.ptr, field->via.str.size);
        self->text [field->via.str.size] = 0;
        self->text_len = field->via.str.size;
        field++;
    }
    return WA_CODEC_OK;
}

int
wa_codec_decode (const uint8_t *data, size_t len, wa_msg_t *self)
{
    assert (self);
    s_clear (self, 0);
    if (len > WA_FRAME_MAX)
        return WA_CODEC_ETOOBIG;
    if (len == 0 || !data)
        return WA_CODEC_ETRUNCATED;
    size_t end = 0;
    int rc = s_prescan (data, len, &end);
    if (rc)
        return rc;

    //  The zone holds only the array's slots (strings point into data):
    //  a chunk of S_ZONE_CHUNK bytes is one small allocation that glibc's
    //  per-thread cache serves. msgpack_unpack_next makes a zone of 8 KB
    //  a call, a large allocation, before which glibc consolidates every
    //  freed small chunk: 4 % of a busy Coreapp reactor's time. So the
    //  call that takes the caller's zone (msgpack-c's header calls it
    //  obsolete, and keeps it; docs/BENCHMARKS.md, 2026-12-07 03:41).
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, S_ZONE_CHUNK))
        return WA_CODEC_ENOMEM;
    msgpack_object object;
    size_t offset = 0;
    msgpack_unpack_return ret =
        msgpack_unpack ((const char *) data, end, &offset, &zone, &object);
    if (ret == MSGPACK_UNPACK_CONTINUE)
        rc = WA_CODEC_ETRUNCATED;
    else
    if (ret != MSGPACK_UNPACK_SUCCESS
    ||  offset != end
    ||  object.type != MSGPACK_OBJECT_ARRAY
    ||  object.via.array.size < 2)
        rc = WA_CODEC_EMALFORMED;
    else
        rc = s_decode_fields (&object.via.array, self);
    msgpack_zone_destroy (&zone);

    if (rc == WA_CODEC_OK && end != len)
        rc = WA_CODEC_ETRAILING;
    if (rc)
        s_clear (self, 0);
    return rc;
}


//  --------------------------------------------------------------------------
//  Sockets

int
wa_codec_send (zsock_t *sock, zframe_t *routing_id, const wa_msg_t *self)
{
    assert (sock);
    assert (self);
    uint8_t buf [S_ENCODED_MAX];
    int len = wa_codec_encode (self, buf, sizeof (buf));
    if (len < 0)
        return -1;
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return -1;
    int rc = 0;
    if (routing_id) {
        zframe_t *id = zframe_dup (routing_id);
        rc = id? zmsg_append (msg, &id): -1;
    }
    if (rc == 0)
        rc = zmsg_addmem (msg, buf, (size_t) len);
    if (rc == 0) {
        rc = zmsg_send (&msg, sock);
        //  The send may have taken in the command that made sock readable.
        wa_loop_touched (sock);
    }
    //  zmsg_send leaves the message with the caller when it fails
    zmsg_destroy (&msg);
    return rc == 0? 0: -1;
}

//  The frames a message may have: a sender's id and its data. More are
//  read and dropped (the message is malformed).
#define FRAMES_MAX 2

int
wa_codec_try_recv (zsock_t *sock, zframe_t **routing_id, wa_msg_t *self, int *why)
{
    assert (sock);
    assert (self);
    if (routing_id)
        *routing_id = NULL;
    void *handle = zsock_resolve (sock);
    zmq_msg_t parts [FRAMES_MAX], extra;
    int count = 0, more = 1, dropped = 0;
    zmq_msg_init (&parts [0]);
    if (zmq_msg_recv (&parts [0], handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&parts [0]);
        return zmq_errno () == EAGAIN ? 1 : -1;
    }
    count = 1;
    more = zmq_msg_more (&parts [0]);
    //  The rest of a message is there once its first frame is.
    while (more) {
        zmq_msg_t *part = count < FRAMES_MAX ? &parts [count] : &extra;
        zmq_msg_init (part);
        if (zmq_msg_recv (part, handle, 0) == -1) {
            zmq_msg_close (part);
            break;
        }
        more = zmq_msg_more (part);
        if (part == &extra) {
            zmq_msg_close (&extra);
            dropped++;
        }
        else
            count++;
    }
    zframe_t *id = NULL;
    int data = 0;
    if (routing_id && count == 2) {
        id = zframe_new (zmq_msg_data (&parts [0]), zmq_msg_size (&parts [0]));
        data = 1;
    }
    int rc = WA_CODEC_EMALFORMED;
    //  A lone frame was no sender's id: nothing came after it.
    if (!dropped && (routing_id ? count == 2 : count == 1)) {
        rc = wa_codec_decode ((const uint8_t *) zmq_msg_data (&parts [data]), zmq_msg_size (&parts [data]), self);
        //  The handshake's user id: our ZAP handler makes it the key.
        const char *key = zmq_msg_gets (&parts [data], "User-Id");
        if (key && strlen (key) == sizeof self->sender_key - 1)
            memcpy (self->sender_key, key, sizeof self->sender_key);
    }
    else
        s_clear (self, 0);
    for (int i = 0; i < count; i++)
        zmq_msg_close (&parts [i]);
    if (why)
        *why = rc;
    //  The sender comes back also with a malformed frame, so it can be told.
    if (routing_id)
        *routing_id = id;
    return rc ? -2 : 0;
}

int
wa_codec_recv (zsock_t *sock, zframe_t **routing_id, wa_msg_t *self, int *why)
{
    assert (sock);
    assert (self);
    if (routing_id)
        *routing_id = NULL;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        return -1;
    zframe_t *id = routing_id? zmsg_pop (msg): NULL;
    //  A lone frame was no sender's id: nothing came after it.
    if (id && zmsg_size (msg) == 0)
        zframe_destroy (&id);
    int rc = WA_CODEC_EMALFORMED;
    if (zmsg_size (msg) == 1 && (id || !routing_id)) {
        zframe_t *frame = zmsg_first (msg);
        rc = wa_codec_decode (zframe_data (frame), zframe_size (frame), self);
        //  The handshake's user id: our ZAP handler makes it the key.
        const char *key = zframe_meta (frame, "User-Id");
        if (key && strlen (key) == sizeof self->sender_key - 1)
            memcpy (self->sender_key, key, sizeof self->sender_key);
    }
    else
        s_clear (self, 0);
    zmsg_destroy (&msg);
    if (why)
        *why = rc;
    //  The sender comes back also with a malformed frame, so it can be told.
    if (routing_id)
        *routing_id = id;
    return rc ? -2 : 0;
}
