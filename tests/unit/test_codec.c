/*  Unit tests for wa_codec: round trips, every rejection, fuzzing, sockets. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "wa_codec.h"

#define ACCOUNT_CHARS "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._-"
#define FRAME_CAP (WA_TEXT_MAX + 256)

static const int s_codes [] = {
    WA_CODEC_EMALFORMED, WA_CODEC_ETRUNCATED, WA_CODEC_ETOOBIG, WA_CODEC_ETYPE,
    WA_CODEC_EVERSION, WA_CODEC_EFIELD, WA_CODEC_ETRAILING, WA_CODEC_ENOMEM
};

//  splitmix64: fixed seed, same sequence on every run and platform
static uint64_t s_rng_state;

static uint64_t
s_rand (void)
{
    uint64_t z = (s_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t
s_rand_below (size_t bound)
{
    return (size_t) (s_rand () % bound);
}

static long
s_fuzz_iterations (void)
{
    const char *env = getenv ("WA_FUZZ_ITERATIONS");
    long iterations = env? strtol (env, NULL, 10): 0;
    return iterations > 0? iterations: 200000;
}

static wa_msg_t *
s_msg_new (wa_msg_type_t type)
{
    wa_msg_t *msg = (wa_msg_t *) malloc (sizeof (wa_msg_t));
    assert_non_null (msg);
    wa_msg_init (msg, type);
    return msg;
}

//  Every field, carried or not: decode leaves the others cleared.
static void
s_assert_msg_equal (const wa_msg_t *a, const wa_msg_t *b)
{
    assert_int_equal (a->type, b->type);
    assert_string_equal (a->account, b->account);
    assert_int_equal (a->shard, b->shard);
    assert_true (a->node == b->node);
    assert_true (a->epoch == b->epoch);
    assert_true (a->session == b->session);
    assert_true (a->seq == b->seq);
    assert_int_equal (a->code, b->code);
    assert_int_equal (a->text_len, b->text_len);
    assert_memory_equal (a->text, b->text, a->text_len + 1);
}

//  Compare only what the type carries, for a source message that may hold
//  values in fields its type does not send.
static void
s_assert_carried_equal (const wa_msg_t *sent, const wa_msg_t *got)
{
    //  An optional field travels when not zero: either way it comes back.
    uint32_t fields = wa_codec_fields (sent->type) | wa_codec_optional (sent->type);
    assert_int_equal (sent->type, got->type);
    if (fields & WA_F_ACCOUNT)
        assert_string_equal (sent->account, got->account);
    else
        assert_string_equal (got->account, "");
    assert_int_equal (got->shard, (fields & WA_F_SHARD)? sent->shard: 0);
    assert_true (got->node == ((fields & WA_F_NODE)? sent->node: 0));
    assert_true (got->epoch == ((fields & WA_F_EPOCH)? sent->epoch: 0));
    assert_true (got->session == ((fields & WA_F_SESSION)? sent->session: 0));
    assert_true (got->seq == ((fields & WA_F_SEQ)? sent->seq: 0));
    assert_int_equal (got->code, (fields & WA_F_CODE)? sent->code: 0);
    if (fields & WA_F_TEXT) {
        assert_int_equal (got->text_len, sent->text_len);
        assert_memory_equal (got->text, sent->text, sent->text_len);
    }
    else
        assert_int_equal (got->text_len, 0);
    assert_int_equal (got->text [got->text_len], 0);
}

static void
s_fill_text (wa_msg_t *msg, size_t size, uint64_t salt)
{
    for (size_t index = 0; index < size; index++)
        msg->text [index] = (char) (1 + (index * 131 + salt) % 255);
    msg->text [size] = 0;
    msg->text_len = size;
}

static void
s_fill_max (wa_msg_t *msg)
{
    memcpy (msg->account, ACCOUNT_CHARS, WA_ACCOUNT_MAX);
    msg->account [WA_ACCOUNT_MAX] = 0;
    msg->shard = UINT32_MAX;
    msg->node = UINT64_MAX;
    msg->epoch = UINT64_MAX;
    msg->session = UINT64_MAX;
    msg->seq = UINT64_MAX;
    msg->code = UINT32_MAX;
    s_fill_text (msg, WA_TEXT_MAX, 7);
}

static void
s_fill_random (wa_msg_t *msg, size_t text_max)
{
    static const uint64_t edges [] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t) UINT32_MAX + 1, UINT64_MAX
    };
    uint64_t values [6];
    //  One draw per statement: argument and operand order is unspecified,
    //  and the sequence must not depend on the compiler.
    for (int index = 0; index < 6; index++) {
        if (s_rand () & 1)
            values [index] = edges [s_rand_below (11)];
        else {
            uint64_t value = s_rand ();
            values [index] = value >> s_rand_below (64);
        }
    }
    size_t account_len = 1 + s_rand_below (WA_ACCOUNT_MAX);
    for (size_t index = 0; index < account_len; index++)
        msg->account [index] = ACCOUNT_CHARS [s_rand_below (sizeof (ACCOUNT_CHARS) - 1)];
    msg->account [account_len] = 0;
    msg->shard = (uint32_t) values [0];
    msg->node = values [1];
    msg->epoch = values [2];
    msg->session = values [3];
    msg->seq = values [4];
    msg->code = (uint32_t) values [5];
    size_t text_len = s_rand_below (text_max + 1);
    s_fill_text (msg, text_len, s_rand ());
}

static int
s_decode_bytes (const uint8_t *bytes, size_t len)
{
    //  An exact-size copy, so that any read past the end is caught by ASan
    //  and valgrind.
    uint8_t *copy = (uint8_t *) malloc (len? len: 1);
    assert_non_null (copy);
    if (len)
        memcpy (copy, bytes, len);
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    int rc = wa_codec_decode (copy, len, msg);
    free (msg);
    free (copy);
    return rc;
}

#define DECODES_TO(rc, ...) do { \
    const uint8_t bytes_ [] = { __VA_ARGS__ }; \
    assert_int_equal (s_decode_bytes (bytes_, sizeof (bytes_)), (rc)); \
} while (0)


//  --------------------------------------------------------------------------

static void
test_tables (void **state)
{
    (void) state;
    assert_int_equal (wa_codec_fields (WA_MSG_LOGIN), WA_F_ACCOUNT | WA_F_SHARD | WA_F_NODE | WA_F_EPOCH);
    assert_int_equal (wa_codec_fields (WA_MSG_LOGIN_OK), WA_F_SESSION);
    assert_int_equal (wa_codec_fields (WA_MSG_LOGIN_REFUSED), WA_F_EPOCH | WA_F_TEXT);
    assert_int_equal (wa_codec_fields (WA_MSG_PING), WA_F_SESSION | WA_F_SEQ);
    assert_int_equal (wa_codec_fields (WA_MSG_PONG), WA_F_SESSION | WA_F_SEQ);
    assert_int_equal (wa_codec_fields (WA_MSG_LOGOUT), WA_F_SESSION);
    assert_int_equal (wa_codec_fields (WA_MSG_LOGOUT_OK), WA_F_SESSION);
    assert_int_equal (wa_codec_fields (WA_MSG_SESSION_GONE), WA_F_SESSION | WA_F_TEXT);
    assert_int_equal (wa_codec_fields (WA_MSG_STATS_REQ), 0);
    assert_int_equal (wa_codec_fields (WA_MSG_STATS), WA_F_TEXT);
    assert_int_equal (wa_codec_fields (WA_MSG_HEALTH_REQ), 0);
    assert_int_equal (wa_codec_fields (WA_MSG_HEALTH), WA_F_NODE | WA_F_EPOCH | WA_F_TEXT);
    assert_int_equal (wa_codec_fields (WA_MSG_EVENT), WA_F_SHARD | WA_F_NODE | WA_F_EPOCH | WA_F_TEXT);
    assert_int_equal (wa_codec_fields (WA_MSG_ERROR), WA_F_CODE | WA_F_TEXT);
    assert_int_equal (wa_codec_fields (0), 0);
    assert_int_equal (wa_codec_optional (WA_MSG_LOGIN), WA_F_CODE);
    assert_int_equal (wa_codec_optional (WA_MSG_LOGIN_OK), 0);
    assert_int_equal (wa_codec_optional (WA_MSG_ERROR), 0);
    assert_int_equal (wa_codec_optional (0), 0);
    assert_int_equal (wa_codec_optional (WA_MSG_TYPE_MAX), 0);
    assert_int_equal (wa_codec_fields (WA_MSG_TYPE_MAX), 0);
    assert_int_equal (wa_codec_fields (-1), 0);
    assert_int_equal (wa_codec_fields (200), 0);

    assert_string_equal (wa_codec_type_name (WA_MSG_LOGIN), "LOGIN");
    assert_string_equal (wa_codec_type_name (WA_MSG_LOGIN_REFUSED), "LOGIN_REFUSED");
    assert_string_equal (wa_codec_type_name (WA_MSG_SESSION_GONE), "SESSION_GONE");
    assert_string_equal (wa_codec_type_name (WA_MSG_HEALTH_REQ), "HEALTH_REQ");
    assert_string_equal (wa_codec_type_name (WA_MSG_ERROR), "ERROR");
    assert_string_equal (wa_codec_type_name (0), "UNKNOWN");
    assert_string_equal (wa_codec_type_name (WA_MSG_TYPE_MAX), "UNKNOWN");
    assert_string_equal (wa_codec_type_name (-5), "UNKNOWN");
    for (int type = 1; type < WA_MSG_TYPE_MAX; type++) {
        assert_string_not_equal (wa_codec_type_name (type), "UNKNOWN");
        for (int other = 1; other < type; other++)
            assert_string_not_equal (wa_codec_type_name (type), wa_codec_type_name (other));
    }

    size_t ncodes = sizeof (s_codes) / sizeof (s_codes [0]);
    for (size_t index = 0; index < ncodes; index++) {
        const char *phrase = wa_codec_strerror (s_codes [index]);
        assert_non_null (phrase);
        assert_true (strlen (phrase) > 5);
        assert_string_not_equal (phrase, wa_codec_strerror (WA_CODEC_OK));
        assert_string_not_equal (phrase, wa_codec_strerror (-99));
        for (size_t other = 0; other < index; other++)
            assert_string_not_equal (phrase, wa_codec_strerror (s_codes [other]));
    }
}

static void
test_msg_helpers (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_PING);
    msg->session = 5;
    wa_msg_init (msg, WA_MSG_STATS);
    assert_int_equal (msg->type, WA_MSG_STATS);
    assert_true (msg->session == 0);
    assert_int_equal (msg->text_len, 0);

    wa_msg_set_text (msg, "role=primary");
    assert_int_equal (msg->text_len, 12);
    assert_string_equal (msg->text, "role=primary");
    wa_msg_set_text (msg, NULL);
    assert_int_equal (msg->text_len, 0);
    assert_string_equal (msg->text, "");

    char *big = (char *) malloc (WA_TEXT_MAX + 100);
    assert_non_null (big);
    memset (big, 'x', WA_TEXT_MAX + 99);
    big [WA_TEXT_MAX + 99] = 0;
    wa_msg_set_text (msg, big);
    assert_int_equal (msg->text_len, WA_TEXT_MAX);
    assert_int_equal (msg->text [WA_TEXT_MAX], 0);
    assert_memory_equal (msg->text, big, WA_TEXT_MAX);
    free (big);
    free (msg);
}

//  The wire layout, pinned byte for byte: fields in bit order.
static void
test_wire_format (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_EVENT);
    uint8_t buf [64];
    msg->shard = 1;
    msg->node = 2;
    msg->epoch = 3;
    wa_msg_set_text (msg, "x");
    const uint8_t event [] = { 0x96, 0x01, 0x0d, 0x01, 0x02, 0x03, 0xa1, 'x' };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (event));
    assert_memory_equal (buf, event, sizeof (event));

    wa_msg_init (msg, WA_MSG_LOGIN);
    strcpy (msg->account, "a");
    msg->shard = 1;
    msg->node = 300;
    msg->epoch = 3;
    const uint8_t login [] = { 0x96, 0x01, 0x01, 0xa1, 'a', 0x01, 0xcd, 0x01, 0x2c, 0x03 };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (login));
    assert_memory_equal (buf, login, sizeof (login));

    wa_msg_init (msg, WA_MSG_ERROR);
    msg->code = 7;
    const uint8_t error [] = { 0x94, 0x01, 0x0e, 0x07, 0xa0 };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (error));
    assert_memory_equal (buf, error, sizeof (error));

    wa_msg_init (msg, WA_MSG_HEALTH_REQ);
    const uint8_t health_req [] = { 0x92, 0x01, 0x0b };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (health_req));
    assert_memory_equal (buf, health_req, sizeof (health_req));

    //  Non-canonical but valid msgpack is accepted: array16, wide integers
    DECODES_TO (WA_CODEC_OK, 0xdc, 0x00, 0x03, 0x01, 0x02, 0x05);
    DECODES_TO (WA_CODEC_OK, 0x93, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xd0, 0x02,
                             0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05);
    DECODES_TO (WA_CODEC_OK, 0x93, 0x01, 0x0a, 0xda, 0x00, 0x01, 'y');
    DECODES_TO (WA_CODEC_OK, 0x93, 0x01, 0x0a, 0xdb, 0x00, 0x00, 0x00, 0x00);
    free (msg);
}

//  A LOGIN's shard count (code) is optional: left out when 0, and a LOGIN
//  without it (from a sender that predates it) decodes with code 0.
static void
test_login_shard_count (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    wa_msg_t *got = s_msg_new (WA_MSG_LOGIN);
    uint8_t buf [64];
    strcpy (msg->account, "a");
    msg->shard = 1;
    msg->node = 300;
    msg->epoch = 3;
    msg->code = 4;
    const uint8_t with_count [] = { 0x97, 0x01, 0x01, 0xa1, 'a', 0x01, 0xcd, 0x01, 0x2c, 0x03, 0x04 };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (with_count));
    assert_memory_equal (buf, with_count, sizeof (with_count));
    assert_int_equal (wa_codec_decode (with_count, sizeof (with_count), got), WA_CODEC_OK);
    assert_int_equal (got->code, 4);
    assert_int_equal (got->shard, 1);
    assert_true (got->epoch == 3);

    //  Without: the frame of before, decoded as count unknown
    msg->code = 0;
    const uint8_t without [] = { 0x96, 0x01, 0x01, 0xa1, 'a', 0x01, 0xcd, 0x01, 0x2c, 0x03 };
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), sizeof (without));
    assert_memory_equal (buf, without, sizeof (without));
    got->code = 99;
    assert_int_equal (wa_codec_decode (without, sizeof (without), got), WA_CODEC_OK);
    assert_int_equal (got->code, 0);
    assert_true (got->node == 300);

    //  An explicit 0 is accepted (unknown); one field more, or a count that
    //  is no uint32, is not
    DECODES_TO (WA_CODEC_OK, 0x97, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0x01, 0x02, 0x03, 0x00);
    DECODES_TO (WA_CODEC_EFIELD, 0x98, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0x01, 0x02, 0x03, 0x04, 0x05);
    DECODES_TO (WA_CODEC_EFIELD, 0x97, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0x01, 0x02, 0x03, 0xa1, '4');
    DECODES_TO (WA_CODEC_EFIELD, 0x97, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0x01, 0x02, 0x03,
                0xcf, 0, 0, 0, 1, 0, 0, 0, 0);
    //  Optional only where the table says so
    DECODES_TO (WA_CODEC_EFIELD, 0x94, 0x01, WA_MSG_LOGIN_OK, 0x05, 0x06);
    free (got);
    free (msg);
}

static void
s_round_trip (const wa_msg_t *msg)
{
    uint8_t *buf = (uint8_t *) malloc (FRAME_CAP);
    uint8_t *again = (uint8_t *) malloc (FRAME_CAP);
    assert_non_null (buf);
    assert_non_null (again);
    int len = wa_codec_encode (msg, buf, FRAME_CAP);
    assert_true (len > 0);
    assert_true (len <= WA_FRAME_MAX);

    wa_msg_t *got = s_msg_new (WA_MSG_ERROR);
    s_fill_max (got);           //  decode must clear what it does not set
    assert_int_equal (wa_codec_decode (buf, (size_t) len, got), WA_CODEC_OK);
    s_assert_carried_equal (msg, got);

    //  Canonical: encoding what was decoded gives the same bytes
    assert_int_equal (wa_codec_encode (got, again, FRAME_CAP), len);
    assert_memory_equal (buf, again, (size_t) len);

    //  Exact capacity fits, one byte less does not
    assert_int_equal (wa_codec_encode (msg, again, (size_t) len), len);
    assert_int_equal (wa_codec_encode (msg, again, (size_t) len - 1), -1);
    assert_int_equal (wa_codec_encode (msg, again, 0), -1);
    free (got);
    free (again);
    free (buf);
}

static void
test_round_trip_extremes (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    for (int type = 1; type < WA_MSG_TYPE_MAX; type++) {
        //  Zeros, a one-character account, empty text
        wa_msg_init (msg, (wa_msg_type_t) type);
        strcpy (msg->account, "Z");
        s_round_trip (msg);
        //  Largest of everything
        wa_msg_init (msg, (wa_msg_type_t) type);
        s_fill_max (msg);
        s_round_trip (msg);
        //  Around every msgpack width boundary
        static const uint64_t edges [] = {
            127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t) UINT32_MAX + 1
        };
        static const size_t text_sizes [] = { 1, 31, 32, 255, 256, WA_TEXT_MAX - 1 };
        for (int index = 0; index < 8; index++) {
            wa_msg_init (msg, (wa_msg_type_t) type);
            strcpy (msg->account, "._-");
            msg->shard = (uint32_t) edges [index % 7];
            msg->code = (uint32_t) edges [(index + 3) % 7];
            msg->node = edges [index];
            msg->epoch = edges [(index + 1) % 8];
            msg->session = edges [(index + 2) % 8];
            msg->seq = edges [(index + 3) % 8];
            s_fill_text (msg, text_sizes [index % 6], (uint64_t) index);
            s_round_trip (msg);
        }
    }
    free (msg);
}

static void
test_encode_rejects (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    uint8_t buf [256];
    int types [] = { 0, WA_MSG_TYPE_MAX, 200, 255 };
    for (int index = 0; index < 4; index++) {
        wa_msg_init (msg, WA_MSG_STATS_REQ);
        msg->type = (uint8_t) types [index];
        assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    }
    wa_msg_init (msg, WA_MSG_LOGIN);
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);       //  empty account
    strcpy (msg->account, "bad@account");
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    strcpy (msg->account, "has space");
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    memset (msg->account, 'a', sizeof (msg->account));                    //  no NUL
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    //  The account only matters to the type that carries it
    msg->type = WA_MSG_PING;
    assert_true (wa_codec_encode (msg, buf, sizeof (buf)) > 0);

    wa_msg_init (msg, WA_MSG_STATS);
    msg->text_len = WA_TEXT_MAX + 1;
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    memcpy (msg->text, "a\0b", 4);
    msg->text_len = 3;
    assert_int_equal (wa_codec_encode (msg, buf, sizeof (buf)), -1);
    msg->type = WA_MSG_PONG;
    assert_true (wa_codec_encode (msg, buf, sizeof (buf)) > 0);
    free (msg);
}

static void
test_reject_version (void **state)
{
    (void) state;
    DECODES_TO (WA_CODEC_EVERSION, 0x93, 0x02, 0x02, 0x05);
    DECODES_TO (WA_CODEC_EVERSION, 0x93, 0x00, 0x02, 0x05);
    DECODES_TO (WA_CODEC_EVERSION, 0x93, 0xff, 0x02, 0x05);
    DECODES_TO (WA_CODEC_EVERSION, 0x93, 0xcf, 1, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x05);
    //  A later version may change the shape, so the version decides first
    DECODES_TO (WA_CODEC_EVERSION, 0x92, 0x02, 0xa1, 'x');
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0xa1, '1', 0x02, 0x05);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0xc0, 0x02, 0x05);
}

static void
test_reject_type (void **state)
{
    (void) state;
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, 0x00);
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, 0xcc, 200);
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, WA_MSG_TYPE_MAX);
    DECODES_TO (WA_CODEC_ETYPE, 0x93, 0x01, 0xcc, 200, 0x05);
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, 0xcd, 0x01, 0x02);          //  258: 2 modulo 256
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, 0xcf, 1, 0, 0, 0, 0, 0, 0, 2);
    DECODES_TO (WA_CODEC_ETYPE, 0x92, 0x01, 0xff);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x92, 0x01, 0xc3);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x92, 0x01, 0xa1, 'P');
}

static void
test_reject_field_count (void **state)
{
    (void) state;
    //  Missing
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_PING, 0x05);
    DECODES_TO (WA_CODEC_EFIELD, 0x92, 0x01, WA_MSG_LOGIN_OK);
    DECODES_TO (WA_CODEC_EFIELD, 0x95, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0x01, 0x02);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_ERROR, 0xa0);
    //  Extra
    DECODES_TO (WA_CODEC_EFIELD, 0x94, 0x01, WA_MSG_LOGIN_OK, 0x05, 0x06);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS_REQ, 0x00);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_HEALTH_REQ, 0xc0);
    DECODES_TO (WA_CODEC_EFIELD, 0x95, 0x01, WA_MSG_ERROR, 0x07, 0xa0, 0xa0);
    DECODES_TO (WA_CODEC_EFIELD, 0x9a, 0x01, WA_MSG_PING, 1, 2, 3, 4, 5, 6, 7, 8);
    //  No room for a type at all is not the frame shape
    DECODES_TO (WA_CODEC_EMALFORMED, 0x90);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x91, 0x01);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdc, 0x00, 0x00);
}

static void
test_reject_field_type (void **state)
{
    (void) state;
    //  Integers: no str, nil, bool, negative, float, bin
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xa1, '5');
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xc0);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xc3);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xff);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xca, 0x3f, 0x80, 0, 0);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xc4, 0x01, 0x05);
    DECODES_TO (WA_CODEC_EFIELD, 0x94, 0x01, WA_MSG_PING, 0x01, 0xa0);
    //  shard and code are uint32
    DECODES_TO (WA_CODEC_OK, 0x96, 0x01, WA_MSG_LOGIN, 0xa1, 'a', 0xce, 0xff, 0xff, 0xff, 0xff, 0x02, 0x03);
    DECODES_TO (WA_CODEC_EFIELD, 0x96, 0x01, WA_MSG_LOGIN, 0xa1, 'a',
                0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0x02, 0x03);
    DECODES_TO (WA_CODEC_OK, 0x94, 0x01, WA_MSG_ERROR, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa0);
    DECODES_TO (WA_CODEC_EFIELD, 0x94, 0x01, WA_MSG_ERROR, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0);
    //  Strings: not an integer, not bin, not nil
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0x00);
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0xc4, 0x01, 'x');
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0xc0);
    DECODES_TO (WA_CODEC_EFIELD, 0x96, 0x01, WA_MSG_LOGIN, 0x07, 0x01, 0x02, 0x03);
    DECODES_TO (WA_CODEC_EFIELD, 0x96, 0x01, WA_MSG_LOGIN, 0xc4, 0x01, 'a', 0x01, 0x02, 0x03);
    //  Order matters: LOGIN with the account last
    DECODES_TO (WA_CODEC_EFIELD, 0x96, 0x01, WA_MSG_LOGIN, 0x01, 0x02, 0x03, 0xa1, 'a');
}

static void
test_reject_account (void **state)
{
    (void) state;
    uint8_t frame [64] = { 0x96, 0x01, WA_MSG_LOGIN, 0xd9 };
    //  1..32 bytes of the allowed set are fine, 0 and 33 are not
    for (size_t size = 0; size <= WA_ACCOUNT_MAX + 1; size++) {
        frame [4] = (uint8_t) size;
        memset (frame + 5, 'q', size);
        memcpy (frame + 5 + size, "\x01\x02\x03", 3);
        int expect = (size >= 1 && size <= WA_ACCOUNT_MAX)? WA_CODEC_OK: WA_CODEC_EFIELD;
        assert_int_equal (s_decode_bytes (frame, 8 + size), expect);
    }
    //  Every byte outside [0-9A-Za-z._-] is refused, in any position
    for (int byte = 0; byte < 256; byte++) {
        bool allowed = byte && strchr (ACCOUNT_CHARS, byte) != NULL;
        uint8_t bad [] = { 0x96, 0x01, WA_MSG_LOGIN, 0xa3, 'a', (uint8_t) byte, 'b', 0x01, 0x02, 0x03 };
        assert_int_equal (s_decode_bytes (bad, sizeof (bad)), allowed? WA_CODEC_OK: WA_CODEC_EFIELD);
        bad [4] = (uint8_t) byte;
        bad [5] = 'a';
        assert_int_equal (s_decode_bytes (bad, sizeof (bad)), allowed? WA_CODEC_OK: WA_CODEC_EFIELD);
    }
    DECODES_TO (WA_CODEC_EFIELD, 0x96, 0x01, WA_MSG_LOGIN, 0xa0, 0x01, 0x02, 0x03);
}

static void
test_reject_text (void **state)
{
    (void) state;
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0xa3, 'a', 0x00, 'b');
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0xa1, 0x00);
    DECODES_TO (WA_CODEC_EFIELD, 0x94, 0x01, WA_MSG_ERROR, 0x01, 0xa2, 'a', 0x00);
    DECODES_TO (WA_CODEC_OK, 0x93, 0x01, WA_MSG_STATS, 0xa2, 0xff, 0x01);

    //  WA_TEXT_MAX is fine, one more is too long
    size_t cap = 6 + WA_TEXT_MAX + 1;
    uint8_t *frame = (uint8_t *) malloc (cap);
    assert_non_null (frame);
    for (size_t size = WA_TEXT_MAX; size <= WA_TEXT_MAX + 1; size++) {
        frame [0] = 0x93;
        frame [1] = 0x01;
        frame [2] = WA_MSG_STATS;
        frame [3] = 0xda;
        frame [4] = (uint8_t) (size >> 8);
        frame [5] = (uint8_t) size;
        memset (frame + 6, 'j', size);
        int expect = size <= WA_TEXT_MAX? WA_CODEC_OK: WA_CODEC_EFIELD;
        assert_int_equal (s_decode_bytes (frame, 6 + size), expect);
    }
    free (frame);
}

static void
s_assert_prefixes_truncated (const wa_msg_t *msg)
{
    uint8_t *buf = (uint8_t *) malloc (FRAME_CAP);
    assert_non_null (buf);
    int len = wa_codec_encode (msg, buf, FRAME_CAP);
    assert_true (len > 0);
    assert_int_equal (s_decode_bytes (buf, (size_t) len), WA_CODEC_OK);
    for (int prefix = 0; prefix < len; prefix++)
        assert_int_equal (s_decode_bytes (buf, (size_t) prefix), WA_CODEC_ETRUNCATED);
    free (buf);
}

static void
test_reject_truncated (void **state)
{
    (void) state;
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    for (int type = 1; type < WA_MSG_TYPE_MAX; type++) {
        wa_msg_init (msg, (wa_msg_type_t) type);
        s_fill_max (msg);
        s_fill_text (msg, 300, 1);          //  str16
        s_assert_prefixes_truncated (msg);
        s_fill_text (msg, 40, 2);           //  str8
        s_assert_prefixes_truncated (msg);
    }
    wa_msg_init (msg, WA_MSG_STATS);
    s_fill_text (msg, WA_TEXT_MAX, 3);
    s_assert_prefixes_truncated (msg);
    free (msg);

    assert_int_equal (wa_codec_decode (NULL, 0, &(wa_msg_t) { 0 }), WA_CODEC_ETRUNCATED);
    //  Length prefixes that claim more than remains
    DECODES_TO (WA_CODEC_ETRUNCATED, 0xdc);
    DECODES_TO (WA_CODEC_ETRUNCATED, 0xdc, 0x00);
    DECODES_TO (WA_CODEC_ETRUNCATED, 0x93, 0x01, WA_MSG_STATS, 0xdb, 0xff, 0xff, 0xff, 0xff);
    DECODES_TO (WA_CODEC_ETRUNCATED, 0x93, 0x01, WA_MSG_STATS, 0xc6, 0xff, 0xff, 0xff, 0xff, 'a');
    DECODES_TO (WA_CODEC_ETRUNCATED, 0x93, 0x01, WA_MSG_STATS, 0xda, 0x00);
    DECODES_TO (WA_CODEC_ETRUNCATED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xcf, 0, 0, 0, 0, 0, 0, 0);
    DECODES_TO (WA_CODEC_ETRUNCATED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xcb, 0, 0);
}

static void
test_reject_trailing (void **state)
{
    (void) state;
    DECODES_TO (WA_CODEC_ETRAILING, 0x93, 0x01, WA_MSG_LOGIN_OK, 0x05, 0x00);
    DECODES_TO (WA_CODEC_ETRAILING, 0x92, 0x01, WA_MSG_STATS_REQ, 0x92, 0x01, WA_MSG_STATS_REQ);
    DECODES_TO (WA_CODEC_ETRAILING, 0x92, 0x01, WA_MSG_STATS_REQ, 0xdd);
    DECODES_TO (WA_CODEC_ETRAILING, 0x92, 0x01, WA_MSG_STATS_REQ, 0xc1);
    //  A bad frame stays bad with bytes after it
    DECODES_TO (WA_CODEC_EFIELD, 0x93, 0x01, WA_MSG_STATS, 0x00, 0x00);
    DECODES_TO (WA_CODEC_EVERSION, 0x92, 0x07, WA_MSG_STATS_REQ, 0x00);
}

static void
test_reject_malformed (void **state)
{
    (void) state;
    //  Nested containers, anywhere
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0x90);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0x91, 0x05);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x90, WA_MSG_LOGIN_OK, 0x05);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0x80);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xdc, 0x00, 0x00);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xde, 0x00, 0x00);
    //  Huge counts in a few bytes never reach msgpack's allocator
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdd, 0xff, 0xff, 0xff, 0xff);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdd, 0x00, 0x00, 0x00, 0x03, 0x01, WA_MSG_LOGIN_OK, 0x05);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdc, 0xff, 0xff);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdf, 0xff, 0xff, 0xff, 0xff);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xdd, 0xff, 0xff, 0xff, 0xff);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xdf, 0xff, 0xff, 0xff, 0xff);
    //  More elements than any frame has
    DECODES_TO (WA_CODEC_EMALFORMED, 0x9b, 0x01, WA_MSG_PING, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xdc, 0x00, 0x0b);
    //  Not an array, not msgpack, extensions
    DECODES_TO (WA_CODEC_EMALFORMED, 0x01);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x82, 0x01, 0x01, 0x02, 0x02);
    DECODES_TO (WA_CODEC_EMALFORMED, 0xa2, 'h', 'i');
    DECODES_TO (WA_CODEC_EMALFORMED, 0xc1);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_LOGIN_OK, 0xc1);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_STATS, 0xd4, 0x01, 0x00);
    DECODES_TO (WA_CODEC_EMALFORMED, 0x93, 0x01, WA_MSG_STATS, 0xc7, 0x00, 0x01);
    DECODES_TO (WA_CODEC_EMALFORMED, 'G', 'E', 'T', ' ', '/');
}

static void
test_reject_too_big (void **state)
{
    (void) state;
    //  A valid frame followed by padding, at the limit and one past it
    uint8_t *buf = (uint8_t *) calloc (1, WA_FRAME_MAX + 1);
    assert_non_null (buf);
    const uint8_t frame [] = { 0x92, 0x01, WA_MSG_STATS_REQ };
    memcpy (buf, frame, sizeof (frame));
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    assert_int_equal (wa_codec_decode (buf, WA_FRAME_MAX + 1, msg), WA_CODEC_ETOOBIG);
    assert_int_equal (wa_codec_decode (buf, SIZE_MAX, msg), WA_CODEC_ETOOBIG);
    assert_int_equal (wa_codec_decode (buf, WA_FRAME_MAX, msg), WA_CODEC_ETRAILING);
    assert_int_equal (wa_codec_decode (buf, sizeof (frame), msg), WA_CODEC_OK);
    free (msg);
    free (buf);
}

//  Result must be OK or a known code; when OK, the message must survive a
//  re-encode and decode unchanged.
static void
s_fuzz_check (const uint8_t *data, size_t len, wa_msg_t *got, wa_msg_t *again, uint8_t *scratch)
{
    int rc = wa_codec_decode (data, len, got);
    if (rc != WA_CODEC_OK) {
        assert_true (rc >= WA_CODEC_ETRAILING && rc <= WA_CODEC_EMALFORMED);
        return;
    }
    int relen = wa_codec_encode (got, scratch, FRAME_CAP);
    assert_true (relen > 0);
    assert_true ((size_t) relen <= len);    //  canonical is never longer
    assert_int_equal (wa_codec_decode (scratch, (size_t) relen, again), WA_CODEC_OK);
    s_assert_msg_equal (got, again);
}

static void
test_fuzz_random (void **state)
{
    (void) state;
    s_rng_state = 0x5eed0001;
    long iterations = s_fuzz_iterations ();
    wa_msg_t *got = s_msg_new (WA_MSG_LOGIN);
    wa_msg_t *again = s_msg_new (WA_MSG_LOGIN);
    uint8_t *scratch = (uint8_t *) malloc (FRAME_CAP);
    assert_non_null (scratch);
    long ok = 0;
    for (long iteration = 0; iteration < iterations; iteration++) {
        size_t len = s_rand_below (65);
        uint8_t *data = (uint8_t *) malloc (len? len: 1);
        assert_non_null (data);
        for (size_t index = 0; index < len; index++)
            data [index] = (uint8_t) s_rand ();
        //  Three in four start like a frame so the decoder gets past the header
        if (len >= 3 && s_rand_below (4)) {
            int type = (int) s_rand_below (WA_MSG_TYPE_MAX + 1);
            size_t count = s_rand_below (2)? 2 + (size_t) __builtin_popcount (wa_codec_fields (type))
                                           : 2 + s_rand_below (5);
            data [0] = (uint8_t) (0x90 + count);
            data [1] = WA_PROTO_VERSION;
            data [2] = (uint8_t) type;
            //  Small values and short strings make real fields likelier
            for (size_t index = 3; index < len; index++)
                if (s_rand_below (2))
                    data [index] = (uint8_t) (s_rand_below (2)? s_rand_below (0x80): 0xa0 + s_rand_below (8));
        }
        s_fuzz_check (data, len, got, again, scratch);
        ok += got->type != 0;
        free (data);
    }
    print_message ("random: %ld buffers, %ld decoded\n", iterations, ok);
    free (scratch);
    free (again);
    free (got);
}

static void
test_fuzz_mutations (void **state)
{
    (void) state;
    s_rng_state = 0x5eed0002;
    long iterations = s_fuzz_iterations ();
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    wa_msg_t *got = s_msg_new (WA_MSG_LOGIN);
    wa_msg_t *again = s_msg_new (WA_MSG_LOGIN);
    uint8_t *scratch = (uint8_t *) malloc (FRAME_CAP);
    uint8_t work [512];
    assert_non_null (scratch);
    long ok = 0;
    for (long iteration = 0; iteration < iterations; iteration++) {
        wa_msg_init (msg, (wa_msg_type_t) (1 + s_rand_below (WA_MSG_TYPE_MAX - 1)));
        s_fill_random (msg, 300);
        int encoded = wa_codec_encode (msg, work, sizeof (work));
        assert_true (encoded > 0);
        size_t len = (size_t) encoded;

        size_t mutations = 1 + s_rand_below (4);
        for (size_t count = 0; count < mutations; count++) {
            size_t at = len? s_rand_below (len): 0;
            switch (s_rand_below (6)) {
                case 0:             //  bit flip
                    if (len)
                        work [at] ^= (uint8_t) (1u << s_rand_below (8));
                    break;
                case 1:             //  byte replaced
                    if (len)
                        work [at] = (uint8_t) s_rand ();
                    break;
                case 2:             //  byte inserted
                    if (len < sizeof (work)) {
                        at = s_rand_below (len + 1);
                        memmove (work + at + 1, work + at, len - at);
                        work [at] = (uint8_t) s_rand ();
                        len++;
                    }
                    break;
                case 3:             //  byte deleted
                    if (len) {
                        memmove (work + at, work + at + 1, len - at - 1);
                        len--;
                    }
                    break;
                case 4:             //  truncated
                    len = s_rand_below (len + 1);
                    break;
                default:            //  byte appended
                    if (len < sizeof (work))
                        work [len++] = (uint8_t) s_rand ();
                    break;
            }
        }
        uint8_t *data = (uint8_t *) malloc (len? len: 1);
        assert_non_null (data);
        if (len)
            memcpy (data, work, len);
        s_fuzz_check (data, len, got, again, scratch);
        ok += got->type != 0;
        free (data);
    }
    print_message ("mutations: %ld frames, %ld still decoded\n", iterations, ok);
    free (scratch);
    free (again);
    free (got);
    free (msg);
}


//  --------------------------------------------------------------------------
//  Sockets

static void
s_send_raw (zsock_t *sock, int frames, ...)
{
    va_list args;
    va_start (args, frames);
    zmsg_t *msg = zmsg_new ();
    for (int index = 0; index < frames; index++) {
        const char *data = va_arg (args, const char *);
        size_t size = va_arg (args, size_t);
        assert_int_equal (zmsg_addmem (msg, data, size), 0);
    }
    va_end (args);
    assert_int_equal (zmsg_send (&msg, sock), 0);
}

//  The socket tests run with each receive: the waiting one and the one
//  that drains without waiting.
static int (*s_recv) (zsock_t *sock, zframe_t **routing_id, wa_msg_t *self, int *why) = wa_codec_recv;

static void
test_socket_pair (void **state)
{
    (void) state;
    //  Each run its own endpoint: an inproc name is free again only once
    //  the socket that bound it is gone, which zsock_destroy does not wait for.
    const char *name = s_recv == wa_codec_try_recv ? "test-codec-pair-try" : "test-codec-pair";
    zsock_t *server = zsock_new (ZMQ_PAIR);
    zsock_t *client = zsock_new (ZMQ_PAIR);
    assert_int_equal (zsock_bind (server, "inproc://%s", name), 0);
    assert_int_equal (zsock_connect (client, "inproc://%s", name), 0);
    assert_non_null (server);
    assert_non_null (client);
    zsock_set_rcvtimeo (server, 2000);
    zsock_set_rcvtimeo (client, 2000);
    wa_msg_t *msg = s_msg_new (WA_MSG_LOGIN);
    wa_msg_t *got = s_msg_new (WA_MSG_LOGIN);
    int why = 12345;

    for (int type = 1; type < WA_MSG_TYPE_MAX; type++) {
        wa_msg_init (msg, (wa_msg_type_t) type);
        s_fill_max (msg);
        assert_int_equal (wa_codec_send (client, NULL, msg), 0);
        assert_int_equal (s_recv (server, NULL, got, &why), 0);
        s_assert_carried_equal (msg, got);
    }
    //  An invalid message is not sent
    wa_msg_init (msg, WA_MSG_LOGIN);
    assert_int_equal (wa_codec_send (client, NULL, msg), -1);

    //  Garbage, an empty frame, extra frames: dropped with the reason
    s_send_raw (client, 1, "\x93\x01\x02\x90", (size_t) 4);
    assert_int_equal (s_recv (server, NULL, got, &why), -2);
    assert_int_equal (why, WA_CODEC_EMALFORMED);
    s_send_raw (client, 1, "\x92\x02\x09", (size_t) 3);
    assert_int_equal (s_recv (server, NULL, got, &why), -2);
    assert_int_equal (why, WA_CODEC_EVERSION);
    s_send_raw (client, 1, "", (size_t) 0);
    assert_int_equal (s_recv (server, NULL, got, &why), -2);
    assert_int_equal (why, WA_CODEC_ETRUNCATED);
    s_send_raw (client, 3, "junk", (size_t) 4, "\x92\x01\x09", (size_t) 3, "\xdd\xff\xff\xff\xff", (size_t) 5);
    assert_int_equal (s_recv (server, NULL, got, &why), -2);
    assert_int_equal (why, WA_CODEC_EMALFORMED);
    s_send_raw (client, 2, "\x92\x01\x09", (size_t) 3, "\x92\x01\x09", (size_t) 3);
    assert_int_equal (s_recv (server, NULL, got, NULL), -2);
    //  A routing id wanted where there is none: no frame left to decode
    s_send_raw (client, 1, "\x92\x01\x09", (size_t) 3);
    zframe_t *id = (zframe_t *) 1;
    assert_int_equal (s_recv (server, &id, got, &why), -2);
    assert_null (id);
    assert_int_equal (why, WA_CODEC_EMALFORMED);

    //  Still in step afterwards
    wa_msg_init (msg, WA_MSG_PONG);
    msg->session = 77;
    msg->seq = 78;
    assert_int_equal (wa_codec_send (server, NULL, msg), 0);
    assert_int_equal (s_recv (client, NULL, got, &why), 0);
    assert_int_equal (why, WA_CODEC_OK);
    s_assert_msg_equal (msg, got);

    //  Nothing to receive: -1 after the timeout, 1 at once without waiting
    zsock_set_rcvtimeo (server, 20);
    assert_int_equal (s_recv (server, NULL, got, &why), s_recv == wa_codec_try_recv ? 1 : -1);

    free (got);
    free (msg);
    zsock_destroy (&client);
    zsock_destroy (&server);
}

static void
test_socket_router_dealer (void **state)
{
    (void) state;
    const char *name = s_recv == wa_codec_try_recv ? "test-codec-router-try" : "test-codec-router";
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_int_equal (zsock_bind (router, "inproc://%s", name), 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (router);
    assert_non_null (dealer);
    zsock_set_identity (dealer, "dealer-1");
    assert_int_equal (zsock_connect (dealer, "inproc://%s", name), 0);
    zsock_set_rcvtimeo (router, 2000);
    zsock_set_rcvtimeo (dealer, 2000);
    wa_msg_t *msg = s_msg_new (WA_MSG_PING);
    wa_msg_t *got = s_msg_new (WA_MSG_LOGIN);
    int why = 0;

    msg->session = UINT64_MAX;
    msg->seq = 1;
    assert_int_equal (wa_codec_send (dealer, NULL, msg), 0);
    zframe_t *id = NULL;
    assert_int_equal (s_recv (router, &id, got, &why), 0);
    assert_non_null (id);
    assert_true (zframe_streq (id, "dealer-1"));
    s_assert_msg_equal (msg, got);

    //  Reply twice with the same id: send does not take it
    wa_msg_init (msg, WA_MSG_PONG);
    msg->session = UINT64_MAX;
    msg->seq = 1;
    assert_int_equal (wa_codec_send (router, id, msg), 0);
    assert_int_equal (wa_codec_send (router, id, msg), 0);
    assert_true (zframe_streq (id, "dealer-1"));
    for (int reply = 0; reply < 2; reply++) {
        assert_int_equal (s_recv (dealer, NULL, got, &why), 0);
        s_assert_msg_equal (msg, got);
    }
    zframe_destroy (&id);

    //  Malformed from the dealer: dropped, but its sender handed back so
    //  that it can be answered
    s_send_raw (dealer, 1, "\x93\x01\x02\xc1", (size_t) 4);
    id = NULL;
    assert_int_equal (s_recv (router, &id, got, &why), -2);
    assert_non_null (id);
    assert_true (zframe_streq (id, "dealer-1"));
    zframe_destroy (&id);
    assert_int_equal (why, WA_CODEC_EMALFORMED);
    s_send_raw (dealer, 1, "\x92\x01\x00", (size_t) 3);
    assert_int_equal (s_recv (router, &id, got, &why), -2);
    assert_int_equal (why, WA_CODEC_ETYPE);
    assert_true (id && zframe_streq (id, "dealer-1"));
    zframe_destroy (&id);
    s_send_raw (dealer, 4, "a", (size_t) 1, "b", (size_t) 1, "", (size_t) 0, "\xff", (size_t) 1);
    assert_int_equal (s_recv (router, &id, got, &why), -2);
    assert_int_equal (why, WA_CODEC_EMALFORMED);
    assert_true (id && zframe_streq (id, "dealer-1"));
    zframe_destroy (&id);
    //  Without asking for the id a ROUTER message has one frame too many
    s_send_raw (dealer, 1, "\x92\x01\x09", (size_t) 3);
    assert_int_equal (s_recv (router, NULL, got, &why), -2);
    assert_int_equal (why, WA_CODEC_EMALFORMED);

    //  And a good one still goes through
    wa_msg_init (msg, WA_MSG_HEALTH_REQ);
    assert_int_equal (wa_codec_send (dealer, NULL, msg), 0);
    assert_int_equal (s_recv (router, &id, got, &why), 0);
    assert_int_equal (got->type, WA_MSG_HEALTH_REQ);
    assert_true (zframe_streq (id, "dealer-1"));
    zframe_destroy (&id);

    free (got);
    free (msg);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}

static void
test_socket_pair_try (void **state)
{
    s_recv = wa_codec_try_recv;
    test_socket_pair (state);
    s_recv = wa_codec_recv;
}

static void
test_socket_router_dealer_try (void **state)
{
    s_recv = wa_codec_try_recv;
    test_socket_router_dealer (state);
    s_recv = wa_codec_recv;
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_tables),
        cmocka_unit_test (test_msg_helpers),
        cmocka_unit_test (test_wire_format),
        cmocka_unit_test (test_login_shard_count),
        cmocka_unit_test (test_round_trip_extremes),
        cmocka_unit_test (test_encode_rejects),
        cmocka_unit_test (test_reject_version),
        cmocka_unit_test (test_reject_type),
        cmocka_unit_test (test_reject_field_count),
        cmocka_unit_test (test_reject_field_type),
        cmocka_unit_test (test_reject_account),
        cmocka_unit_test (test_reject_text),
        cmocka_unit_test (test_reject_truncated),
        cmocka_unit_test (test_reject_trailing),
        cmocka_unit_test (test_reject_malformed),
        cmocka_unit_test (test_reject_too_big),
        cmocka_unit_test (test_fuzz_random),
        cmocka_unit_test (test_fuzz_mutations),
        cmocka_unit_test (test_socket_pair),
        cmocka_unit_test (test_socket_router_dealer),
        cmocka_unit_test (test_socket_pair_try),
        cmocka_unit_test (test_socket_router_dealer_try),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
