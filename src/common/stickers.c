/*  wa_stickers — see include/wa_stickers.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wa_errors.h"
#include "wa_message.h"
#include "wa_stickers.h"

static int
s_fail (char *why, size_t whylen, int code, const char *fmt, const char *name)
{
    snprintf (why, whylen, fmt, name);
    return code;
}

//  Any control character (C0, DEL)?
static bool
s_has_control (const char *text)
{
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return true;
    return false;
}

//  A string member: *has says whether it was there; min characters at
//  least (1: not empty), at most max (characters when chars, else bytes).
static int
s_text (json_t *body, const char *name, bool *has, char *out, size_t size, size_t max, bool chars,
        char *why, size_t whylen)
{
    json_t *value = json_object_get (body, name);
    *has = value != NULL;
    out[0] = 0;
    if (!value)
        return 0;
    if (!json_is_string (value))
        return s_fail (why, whylen, WA_ERR_INVALID, "'%s' must be a string", name);
    const char *text = json_string_value (value);
    size_t len = json_string_length (value);
    if (memchr (text, 0, len) || s_has_control (text))
        return s_fail (why, whylen, WA_ERR_INVALID, "'%s' must not hold control characters", name);
    size_t count = chars ? wa_utf8_chars (text, len) : len;
    if (count > max || len >= size) {
        snprintf (why, whylen, "'%s' is longer than %zu %s", name, max, chars ? "characters" : "bytes");
        return WA_ERR_INVALID;
    }
    memcpy (out, text, len + 1);
    return 0;
}

//  A store link: empty (none), or https on the store's own host.
static int
s_link (const char *name, const char *value, const char *prefix, char *why, size_t whylen)
{
    if (*value && strncmp (value, prefix, strlen (prefix)) != 0) {
        snprintf (why, whylen, "'%s' must be a link of the form %s...", name, prefix);
        return WA_ERR_INVALID;
    }
    return 0;
}

//  Members other than names: refused, naming the first.
static int
s_known (json_t *body, const char *const *names, char *why, size_t whylen)
{
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        bool known = false;
        for (int i = 0; names[i]; i++)
            known = known || strcmp (key, names[i]) == 0;
        if (!known) {
            snprintf (why, whylen, "'%.64s' is not a field of this object", key);
            return WA_ERR_INVALID;
        }
    }
    return 0;
}

int
wa_stickerpack_check (json_t *body, bool create, wa_stickerpack_t *out, char *why, size_t whylen)
{
    static const char *const names[] = { "publisher", "name", "ios_app_store_link", "android_app_store_link", NULL };
    memset (out, 0, sizeof *out);
    if (!json_is_object (body))
        return s_fail (why, whylen, WA_ERR_MISSING, "the body must be a JSON object: {\"publisher\", \"name\"%s}",
                       "[, \"ios_app_store_link\", \"android_app_store_link\"]");
    int code = s_known (body, names, why, whylen);
    if (!code)
        code = s_text (body, "publisher", &out->has_publisher, out->publisher, sizeof out->publisher,
                       WA_STICKERPACK_TEXT_MAX, true, why, whylen);
    if (!code)
        code = s_text (body, "name", &out->has_name, out->name, sizeof out->name, WA_STICKERPACK_TEXT_MAX, true,
                       why, whylen);
    if (!code)
        code = s_text (body, "ios_app_store_link", &out->has_ios, out->ios, sizeof out->ios,
                       WA_STICKERPACK_LINK_MAX, false, why, whylen);
    if (!code)
        code = s_text (body, "android_app_store_link", &out->has_android, out->android, sizeof out->android,
                       WA_STICKERPACK_LINK_MAX, false, why, whylen);
    if (!code)
        code = s_link ("ios_app_store_link", out->ios, "https://itunes.apple.com/app/", why, whylen);
    if (!code)
        code = s_link ("android_app_store_link", out->android, "https://play.google.com/store/apps/details?id=",
                       why, whylen);
    if (code)
        return code;
    //  Both names say who and what: never empty.
    if (create && !out->has_publisher)
        return s_fail (why, whylen, WA_ERR_MISSING, "'%s' is required", "publisher");
    if (create && !out->has_name)
        return s_fail (why, whylen, WA_ERR_MISSING, "'%s' is required", "name");
    if (out->has_publisher && !*out->publisher)
        return s_fail (why, whylen, WA_ERR_INVALID, "'%s' must not be empty", "publisher");
    if (out->has_name && !*out->name)
        return s_fail (why, whylen, WA_ERR_INVALID, "'%s' must not be empty", "name");
    if (!create && !out->has_publisher && !out->has_name && !out->has_ios && !out->has_android)
        return s_fail (why, whylen, WA_ERR_MISSING, "nothing to change: send %s", "one of 'publisher', 'name', "
                       "'ios_app_store_link', 'android_app_store_link'");
    return 0;
}

int
wa_sticker_check (json_t *body, bool create, wa_sticker_t *out, char *why, size_t whylen)
{
    static const char *const names[] = { "image_data_id", "emojis", NULL };
    memset (out, 0, sizeof *out);
    if (!json_is_object (body))
        return s_fail (why, whylen, WA_ERR_MISSING, "the body must be a JSON object: %s",
                       "{\"image_data_id\": \"<media id>\"[, \"emojis\": [\"...\"]]}");
    int code = s_known (body, names, why, whylen);
    if (code)
        return code;
    json_t *image = json_object_get (body, "image_data_id");
    out->has_image = image != NULL;
    if (!image && create)
        return s_fail (why, whylen, WA_ERR_MISSING, "'%s' is required: the media id of the sticker's image "
                       "(POST /v1/media, image/webp)", "image_data_id");
    if (image && (!json_is_string (image) || !wa_media_id_valid (json_string_value (image))))
        return s_fail (why, whylen, WA_ERR_INVALID, "'%s' must be a media id (POST /v1/media)", "image_data_id");
    if (image)
        snprintf (out->image_data_id, sizeof out->image_data_id, "%s", json_string_value (image));
    json_t *emojis = json_object_get (body, "emojis");
    out->has_emojis = emojis != NULL;
    if (emojis) {
        if (!json_is_array (emojis) || json_array_size (emojis) > WA_STICKER_EMOJIS_MAX) {
            snprintf (why, whylen, "'emojis' must be an array of at most %d strings", WA_STICKER_EMOJIS_MAX);
            return WA_ERR_INVALID;
        }
        size_t i;
        json_t *emoji;
        json_array_foreach (emojis, i, emoji) {
            size_t len = json_string_length (emoji);
            if (!json_is_string (emoji) || len == 0 || len > WA_STICKER_EMOJI_MAX
            ||  memchr (json_string_value (emoji), 0, len) || s_has_control (json_string_value (emoji))) {
                snprintf (why, whylen, "'emojis[%zu]' must be an emoji: a string of 1 to %d bytes", i,
                          WA_STICKER_EMOJI_MAX);
                return WA_ERR_INVALID;
            }
        }
        char *text = json_dumps (emojis, JSON_COMPACT);
        if (!text || strlen (text) > WA_STICKER_EMOJIS_TEXT) {
            free (text);
            return s_fail (why, whylen, WA_ERR_INVALID, "'%s' is too long", "emojis");
        }
        snprintf (out->emojis, sizeof out->emojis, "%s", text);
        free (text);
    }
    if (!create && !out->has_image && !out->has_emojis)
        return s_fail (why, whylen, WA_ERR_MISSING, "nothing to change: send %s", "'image_data_id' or 'emojis'");
    if (create && !out->has_emojis)
        snprintf (out->emojis, sizeof out->emojis, "[]");
    return 0;
}

long
wa_sticker_index (const char *text)
{
    if (!text || !*text || *text == '0' || strlen (text) > 10)
        return 0;
    long value = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return 0;
        value = value * 10 + (*c - '0');
    }
    return value <= 2147483647L ? value : 0;
}

void
wa_stickerpack_id (char id[WA_STICKERPACK_ID_LEN + 1])
{
    unsigned char bytes[16];
    char hex[33];
    randombytes_buf (bytes, sizeof bytes);
    bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);
    sodium_bin2hex (hex, sizeof hex, bytes, sizeof bytes);
    snprintf (id, WA_STICKERPACK_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}
