/*  fuzz_codec — the wire codec (src/common/codec.c): any bytes a peer on the
    LAN sends are decoded as a frame. A frame that decodes must encode again,
    and that encoding must decode to the same message. */
#include <czmq.h>
#include "wa_codec.h"
#include "fuzz.h"

static bool
s_same (const wa_msg_t *a, const wa_msg_t *b)
{
    return a->type == b->type && strcmp (a->account, b->account) == 0 && a->shard == b->shard
        && a->node == b->node && a->epoch == b->epoch && a->session == b->session && a->seq == b->seq
        && a->code == b->code && a->text_len == b->text_len && memcmp (a->text, b->text, a->text_len + 1) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  Static: a wa_msg_t holds 16 KiB of text, and every frame is decoded
    //  into a buffer the node reuses.
    static wa_msg_t msg, again;
    static uint8_t buf[WA_FRAME_MAX];
    int rc = wa_codec_decode (data, size, &msg);
    FUZZ_ASSERT (rc <= 0);
    FUZZ_ASSERT (wa_codec_strerror (rc) != NULL);
    if (rc != WA_CODEC_OK)
        return 0;
    FUZZ_ASSERT (msg.type > 0 && msg.type < WA_MSG_TYPE_MAX);
    FUZZ_ASSERT (msg.text_len <= WA_TEXT_MAX && strlen (msg.text) == msg.text_len);
    FUZZ_ASSERT (strlen (msg.account) <= WA_ACCOUNT_MAX);
    FUZZ_ASSERT (wa_codec_type_name (msg.type) != NULL);
    int len = wa_codec_encode (&msg, buf, sizeof buf);
    FUZZ_ASSERT (len > 0);
    FUZZ_ASSERT (wa_codec_decode (buf, (size_t) len, &again) == WA_CODEC_OK);
    FUZZ_ASSERT (s_same (&msg, &again));
    return 0;
}
