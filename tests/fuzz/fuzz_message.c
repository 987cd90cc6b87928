/*  fuzz_message — the body of POST /v1/messages as both the Webapp and the
    Coreapp check it (src/common/message.c): wa_message_check, then what a
    checked message feeds (its shard, the upstream JSON, which must be JSON
    again). The same bytes as header text: the upload's Content-Type
    (wa_media_type), the idempotency key, a media id. Every type; a media
    object by link never reaches the upstream JSON. */
#include <strings.h>
#include <jansson.h>
#include "wa_errors.h"
#include "wa_message.h"
#include "fuzz.h"

static void
s_json (const uint8_t *data, size_t size)
{
    json_t *root = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return;
    wa_message_t msg;
    char why[256] = "";
    int code = wa_message_check (root, &msg, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0) {
        FUZZ_ASSERT (*msg.to && strlen (msg.to) <= WA_MESSAGE_TO_MAX);
        for (int shards = 1; shards <= 32; shards *= 2) {
            int shard = wa_message_shard (msg.to, shards);
            FUZZ_ASSERT (shard >= 0 && shard < shards);
        }
        char id[WA_MESSAGE_ID_LEN + 1];
        wa_message_id ("fuzz-key", id);
        //  Every media object is by id (a valid one) or by an http(s) link.
        int links = 0;
        FUZZ_ASSERT (msg.media_count >= 0 && msg.media_count <= WA_MESSAGE_MEDIA_MAX);
        for (int m = 0; m < msg.media_count; m++) {
            const wa_media_ref_t *ref = &msg.media[m];
            FUZZ_ASSERT (ref->kind && wa_media_limit (ref->kind) > 0 && ref->object && *ref->field);
            FUZZ_ASSERT ((ref->id != NULL) != (ref->link != NULL));
            if (ref->id)
                FUZZ_ASSERT (wa_media_id_valid (ref->id) && !ref->provider);
            else {
                FUZZ_ASSERT (strncasecmp (ref->link, "http", 4) == 0);
                links++;
            }
        }
        FUZZ_ASSERT (links == msg.links);
        char *upstream = wa_message_upstream (&msg, id);
        //  A link never goes upstream; anything else does, as JSON.
        FUZZ_ASSERT (links ? upstream == NULL : upstream != NULL);
        json_t *again = upstream ? json_loads (upstream, 0, NULL) : NULL;
        FUZZ_ASSERT (!upstream || json_is_object (again));
        json_decref (again);
        free (upstream);
        if (msg.media_id)
            FUZZ_ASSERT (wa_media_id_valid (msg.media_id));
    }
    else
        FUZZ_ASSERT (*why);
    json_decref (root);
}

static void
s_text (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    char out[128];
    memset (out, 'x', sizeof out);
    if (wa_media_type (text, out, sizeof out) == 0) {
        static const char *types[] = { "image", "document", "audio", "video", "sticker", "text", NULL };
        for (int i = 0; types[i]; i++)
            (void) wa_media_fits (types[i], out);
    }
    FUZZ_ASSERT (memchr (out, 0, sizeof out) != NULL);
    char small[4];
    (void) wa_media_type (text, small, sizeof small);
    FUZZ_ASSERT (memchr (small, 0, sizeof small) != NULL);
    if (wa_message_key_valid (text)) {
        char id[WA_MESSAGE_ID_LEN + 1];
        wa_message_id (text, id);
        FUZZ_ASSERT (strlen (id) == WA_MESSAGE_ID_LEN);
    }
    (void) wa_media_id_valid (text);
    (void) wa_message_ref_valid (text);
    (void) wa_media_limit (text);
    (void) wa_media_fits (text, text);
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_json (data, size);
    s_text (data, size);
    return 0;
}
