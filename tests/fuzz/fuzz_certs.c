/*  fuzz_certs — what an ADMIN uploads as a certificate (wa_certs: the
    external chain and key, a webhooks CA bundle) and as a stickerpack or
    a sticker (wa_stickers): the same bytes as PEM text and as JSON. */
#include <time.h>
#include <jansson.h>
#include "wa_certs.h"
#include "wa_errors.h"
#include "wa_stickers.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char why[600];
    wa_certs_t certs;
    int code = wa_certs_check_external ((const char *) data, size, time (NULL), &certs, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0)
        FUZZ_ASSERT (certs.pem && certs.ca_pem && strlen (certs.pem) <= WA_CERTS_PEM_MAX && certs.certs >= 2);
    else
        FUZZ_ASSERT (!certs.pem && *why);
    wa_certs_free (&certs);
    code = wa_certs_check_ca ((const char *) data, size, time (NULL), &certs, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0)
        FUZZ_ASSERT (certs.pem && !certs.ca_pem && certs.certs >= 1);
    wa_certs_free (&certs);

    json_t *root = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    if (root) {
        for (int create = 0; create < 2; create++) {
            wa_stickerpack_t pack;
            code = wa_stickerpack_check (root, create, &pack, why, sizeof why);
            FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
            if (code == 0 && create)
                FUZZ_ASSERT (*pack.publisher && *pack.name);
            wa_sticker_t sticker;
            code = wa_sticker_check (root, create, &sticker, why, sizeof why);
            FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
            if (code == 0)
                FUZZ_ASSERT (strlen (sticker.emojis) <= WA_STICKER_EMOJIS_TEXT);
        }
        json_decref (root);
    }
    char *text = fuzz_cstr (data, size);
    long index = wa_sticker_index (text);
    FUZZ_ASSERT (index >= 0 && index <= 2147483647L);
    free (text);
    return 0;
}
