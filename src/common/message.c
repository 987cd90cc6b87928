/*  wa_message — see wa_message.h */
#include <string.h>
#include <stdio.h>
#include <sodium.h>
#include <zlib.h>
#include "wa_message.h"

#define API_MISSING 1008
#define API_INVALID 1009

static int
s_fail (char *why, size_t why_size, int code, const char *text)
{
    snprintf (why, why_size, "%s", text);
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

int
wa_message_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size)
{
    memset (msg, 0, sizeof *msg);
    if (!json_is_object (root))
        return s_fail (why, why_size, API_INVALID, "the body must be a JSON object");
    const json_t *to = json_object_get (root, "to");
    if (!to)
        return s_fail (why, why_size, API_MISSING, "'to' is missing");
    if (!json_is_string (to) || s_recipient (json_string_value (to), msg->to))
        return s_fail (why, why_size, API_INVALID,
                       "'to' must be a phone number: up to 20 digits, optionally with a leading '+'");
    const json_t *recipient_type = json_object_get (root, "recipient_type");
    if (recipient_type && !(json_is_string (recipient_type)
                         && strcmp (json_string_value (recipient_type), "individual") == 0))
        return s_fail (why, why_size, API_INVALID, "'recipient_type' must be \"individual\"");
    const json_t *type = json_object_get (root, "type");
    if (type && !json_is_string (type))
        return s_fail (why, why_size, API_INVALID, "'type' must be a string");
    msg->type = type ? json_string_value (type) : "text";
    if (strcmp (msg->type, "text") != 0)
        return s_fail (why, why_size, API_INVALID,
                       "'type' must be \"text\" (other message types are not served yet)");
    const json_t *text = json_object_get (root, "text");
    if (!text)
        return s_fail (why, why_size, API_MISSING, "'text' is missing (a text message needs text.body)");
    if (!json_is_object (text))
        return s_fail (why, why_size, API_INVALID, "'text' must be an object with a 'body'");
    const json_t *body = json_object_get (text, "body");
    if (!body)
        return s_fail (why, why_size, API_MISSING, "'text.body' is missing");
    if (!json_is_string (body))
        return s_fail (why, why_size, API_INVALID, "'text.body' must be a string");
    size_t len = json_string_length (body);
    if (len == 0 || len > WA_MESSAGE_BODY_MAX)
        return s_fail (why, why_size, API_INVALID, "'text.body' must be 1 to 4096 bytes long");
    if (memchr (json_string_value (body), 0, len))
        return s_fail (why, why_size, API_INVALID, "'text.body' may not contain a NUL character");
    const json_t *preview = json_object_get (root, "preview_url");
    if (preview && !json_is_boolean (preview))
        return s_fail (why, why_size, API_INVALID, "'preview_url' must be true or false");
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
    json_t *out = json_pack ("{s:s, s:s, s:s, s:s}", "id", id, "to", msg->to, "type", msg->type,
                             "body", msg->body);
    char *text = out ? json_dumps (out, JSON_COMPACT) : NULL;
    json_decref (out);
    return text;
}
