/*  wa_message — see wa_message.h */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <sodium.h>
#include <zlib.h>
#include "wa_errors.h"
#include "wa_message.h"

static int
s_fail (char *why, size_t why_size, int code, const char *text)
{
    snprintf (why, why_size, "%s", text);
    return code;
}

static bool
s_streq (const char *a, const char *b)
{
    return strcmp (a, b) == 0;
}

static int
s_failf (char *why, size_t why_size, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (why, why_size, fmt, args);
    va_end (args);
    return code;
}

//  A recipient as clients write it: digits, with an optional leading '+'
//  and spaces, dashes, dots or parentheses between them.
static int
s_recipient (const char *text, char *to)
{
    size_t digits = 0;
    const char *p = text;
    if (*p == '+')
        p++;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (digits == WA_MESSAGE_TO_MAX)
                return -1;
            to[digits++] = *p;
        }
        else
        if (!strchr (" -.()", *p))
            return -1;
    }
    to[digits] = 0;
    return digits > 0 ? 0 : -1;
}

//  An optional string member of a media object: 1 to max bytes, no control
//  characters (so no NUL). 0 with *out set (NULL when absent), or an error
//  code.
static int
s_media_text (const json_t *media, const char *type, const char *name, size_t max, const char **out,
              char *why, size_t why_size)
{
    *out = NULL;
    const json_t *value = json_object_get (media, name);
    if (!value)
        return 0;
    if (!json_is_string (value))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.%s' must be a string", type, name);
    size_t len = json_string_length (value);
    if (len == 0 || len > max)
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.%s' must be 1 to %zu bytes long", type, name, max);
    //  A caption may run over lines; a file name is one line.
    bool lines = s_streq (name, "caption");
    const char *text = json_string_value (value);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text[i] < ' ' && !(lines && (text[i] == '\n' || text[i] == '\t')))
            return s_failf (why, why_size, WA_ERR_INVALID, "'%s.%s' may not contain control characters%s", type, name,
                            lines ? " other than line breaks and tabs" : "");
    *out = text;
    return 0;
}

//  image, document, audio, video: {"id": a media id} with a caption
//  (image, video, document) and a file name (document).
static int
s_media_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size)
{
    const char *type = msg->type;
    const json_t *media = json_object_get (root, type);
    if (!media)
        return s_failf (why, why_size, WA_ERR_MISSING, "'%s' is missing (a%s %s message needs %s.id, the id "
                        "POST /v1/media returned)", type, strchr ("aeiou", type[0]) ? "n" : "", type, type);
    if (!json_is_object (media))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s' must be an object with an 'id'", type);
    if (json_object_get (media, "link"))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.link' is not supported: upload the file with "
                        "POST /v1/media and send its id as '%s.id'", type, type);
    const json_t *id = json_object_get (media, "id");
    if (!id)
        return s_failf (why, why_size, WA_ERR_MISSING, "'%s.id' is missing", type);
    if (!json_is_string (id) || !wa_media_id_valid (json_string_value (id)))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.id' must be a media id as POST /v1/media returns it",
                        type);
    msg->media_id = json_string_value (id);
    bool captioned = !s_streq (type, "audio");
    if (!captioned && json_object_get (media, "caption"))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.caption' is not allowed: %s has no caption", type, type);
    if (!s_streq (type, "document") && json_object_get (media, "filename"))
        return s_failf (why, why_size, WA_ERR_INVALID, "'%s.filename' is not allowed: only a document has one", type);
    int code = s_media_text (media, type, "caption", WA_MESSAGE_CAPTION_MAX, &msg->caption, why, why_size);
    if (code == 0)
        code = s_media_text (media, type, "filename", WA_MESSAGE_FILENAME_MAX, &msg->filename, why, why_size);
    return code;
}

int
wa_message_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size)
{
    memset (msg, 0, sizeof *msg);
    if (!json_is_object (root))
        return s_fail (why, why_size, WA_ERR_INVALID, "the body must be a JSON object");
    const json_t *to = json_object_get (root, "to");
    if (!to)
        return s_fail (why, why_size, WA_ERR_MISSING, "'to' is missing");
    if (!json_is_string (to) || s_recipient (json_string_value (to), msg->to))
        return s_fail (why, why_size, WA_ERR_INVALID,
                       "'to' must be a phone number: up to 20 digits, optionally with a leading '+'");
    const json_t *recipient_type = json_object_get (root, "recipient_type");
    if (recipient_type && !(json_is_string (recipient_type)
                         && strcmp (json_string_value (recipient_type), "individual") == 0))
        return s_fail (why, why_size, WA_ERR_INVALID, "'recipient_type' must be \"individual\"");
    const json_t *type = json_object_get (root, "type");
    if (type && !json_is_string (type))
        return s_fail (why, why_size, WA_ERR_INVALID, "'type' must be a string");
    msg->type = type ? json_string_value (type) : "text";
    const json_t *preview = json_object_get (root, "preview_url");
    if (preview && !json_is_boolean (preview))
        return s_fail (why, why_size, WA_ERR_INVALID, "'preview_url' must be true or false");
    if (strcmp (msg->type, "text") != 0) {
        static const char *media_types[] = { "image", "document", "audio", "video" };
        for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
            if (s_streq (msg->type, media_types[i])) {
                msg->type = media_types[i];
                return s_media_check (root, msg, why, why_size);
            }
        return s_fail (why, why_size, WA_ERR_INVALID,
                       "'type' must be one of \"text\", \"image\", \"document\", \"audio\", \"video\"");
    }
    const json_t *text = json_object_get (root, "text");
    if (!text)
        return s_fail (why, why_size, WA_ERR_MISSING, "'text' is missing (a text message needs text.body)");
    if (!json_is_object (text))
        return s_fail (why, why_size, WA_ERR_INVALID, "'text' must be an object with a 'body'");
    const json_t *body = json_object_get (text, "body");
    if (!body)
        return s_fail (why, why_size, WA_ERR_MISSING, "'text.body' is missing");
    if (!json_is_string (body))
        return s_fail (why, why_size, WA_ERR_INVALID, "'text.body' must be a string");
    size_t len = json_string_length (body);
    if (len == 0 || len > WA_MESSAGE_BODY_MAX)
        return s_fail (why, why_size, WA_ERR_INVALID, "'text.body' must be 1 to 4096 bytes long");
    if (memchr (json_string_value (body), 0, len))
        return s_fail (why, why_size, WA_ERR_INVALID, "'text.body' may not contain a NUL character");
    msg->body = json_string_value (body);
    return 0;
}

int
wa_message_shard (const char *to, int shards)
{
    if (shards <= 1)
        return 0;
    uLong crc = crc32 (0L, (const Bytef *) to, (uInt) strlen (to));
    return (int) (crc % (uLong) shards);
}

bool
wa_message_key_valid (const char *key)
{
    size_t len = strlen (key);
    if (len == 0 || len > WA_MESSAGE_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        ||    c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

void
wa_message_id (const char *key, char id[WA_MESSAGE_ID_LEN + 1])
{
    unsigned char hash[18];
    crypto_generichash (hash, sizeof hash, (const unsigned char *) key, strlen (key), NULL, 0);
    memcpy (id, "gBE", 3);
    sodium_bin2base64 (id + 3, WA_MESSAGE_ID_LEN - 3 + 1, hash, sizeof hash,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

char *
wa_message_upstream (const wa_message_t *msg, const char *id)
{
    json_t *body;
    if (msg->media_id) {
        body = json_pack ("{s:s}", "id", msg->media_id);
        if (body && msg->caption)
            json_object_set_new (body, "caption", json_string (msg->caption));
        if (body && msg->filename)
            json_object_set_new (body, "filename", json_string (msg->filename));
    }
    else
        body = msg->body ? json_string (msg->body) : NULL;
    json_t *out = body ? json_pack ("{s:s, s:s, s:s, s:o}", "id", id, "to", msg->to, "type", msg->type,
                                    "body", body) : NULL;
    char *text = out ? json_dumps (out, JSON_COMPACT) : NULL;
    json_decref (out);
    return text;
}

bool
wa_media_id_valid (const char *id)
{
    if (!id || strlen (id) != WA_MEDIA_ID_LEN)
        return false;
    for (int i = 0; i < WA_MEDIA_ID_LEN; i++) {
        char c = id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        }
        else
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool
wa_media_fits (const char *message_type, const char *mime_type)
{
    if (s_streq (message_type, "document"))
        return true;
    if (s_streq (message_type, "image"))
        return s_streq (mime_type, "image/jpeg") || s_streq (mime_type, "image/png");
    if (s_streq (message_type, "audio"))
        return strncmp (mime_type, "audio/", 6) == 0;
    if (s_streq (message_type, "video"))
        return strncmp (mime_type, "video/", 6) == 0;
    return false;
}

//  Copy text[0..len) trimmed of spaces and tabs, in lower case, to out.
static void
s_token (const char *text, size_t len, char *out, size_t size)
{
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    size_t i;
    for (i = 0; i < len && i + 1 < size; i++)
        out[i] = (char) tolower ((unsigned char) text[i]);
    if (size)
        out[i] = 0;
}

int
wa_media_type (const char *header, char *out, size_t size)
{
    static const char *types[] = {
        "image/jpeg", "image/png", "image/webp",
        "audio/aac", "audio/mp4", "audio/amr", "audio/mpeg", "audio/ogg",
        "video/mp4", "video/3gpp",
        "application/pdf", "text/plain",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    };
    char base[96];
    size_t len = strcspn (header, ";");
    s_token (header, len, base, sizeof base);
    snprintf (out, size, "%s", base);
    if (len >= sizeof base)
        return -1;
    for (const unsigned char *c = (const unsigned char *) header; *c; c++)
        if (*c < ' ' || *c > '~')
            return -1;
    bool known = false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        known |= s_streq (base, types[i]);
    if (!known)
        return -1;
    if (!s_streq (base, "audio/ogg"))
        return 0;
    //  Only Opus in Ogg: the parameters must say codecs=opus.
    bool opus = false;
    for (const char *param = header + len; *param == ';'; param += len) {
        param++;
        len = strcspn (param, ";");
        char name[32], value[32];
        size_t eq = strcspn (param, "=");
        if (eq >= len)
            continue;
        s_token (param, eq, name, sizeof name);
        s_token (param + eq + 1, len - eq - 1, value, sizeof value);
        if (s_streq (name, "codecs"))
            opus = s_streq (value, "opus") || s_streq (value, "\"opus\"");
    }
    if (!opus)
        return -1;
    snprintf (out, size, "audio/ogg; codecs=opus");
    return 0;
}
