/*  wa_message — see wa_message.h. The structured types' checks are in
    message_types.c; the checker they share is wa_message_check.h. */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <sodium.h>
#include <zlib.h>
#include "wa_errors.h"
#include "wa_message.h"
#include "wa_message_check.h"
#include "wa_config.h"

const char *const wa_message_types[] = {
    "text", "image", "audio", "video", "document", "sticker", "template", "interactive", "contacts",
    "location", "reaction", NULL
};

static bool
s_streq (const char *a, const char *b)
{
    return strcmp (a, b) == 0;
}

size_t
wa_utf8_chars (const char *text, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) text[i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

//  --------------------------------------------------------------------------
//  The checker (wa_message_check.h)

static size_t
s_append (chk_t *c, const char *text)
{
    size_t before = c->len;
    int n = snprintf (c->path + c->len, sizeof c->path - c->len, "%s", text);
    if (n > 0)
        c->len = c->len + (size_t) n < sizeof c->path ? c->len + (size_t) n : sizeof c->path - 1;
    return before;
}

size_t
chk_enter (chk_t *c, const char *member)
{
    if (c->len == 0)
        return s_append (c, member);
    size_t before = c->len;
    s_append (c, ".");
    s_append (c, member);
    return before;
}

size_t
chk_enter_index (chk_t *c, size_t index)
{
    char text[24];
    snprintf (text, sizeof text, "[%zu]", index);
    return s_append (c, text);
}

void
chk_leave (chk_t *c, size_t len)
{
    c->len = len;
    c->path[len] = 0;
}

int
chk_fail (chk_t *c, int code, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    snprintf (c->why, c->why_size, "'%s' %s", c->path, text);
    return code;
}

const json_t *
chk_get (const json_t *obj, const char *name)
{
    const json_t *value = json_object_get (obj, name);
    return json_is_null (value) ? NULL : value;
}

int
chk_object (chk_t *c, const json_t *value, const char *const *members)
{
    if (!json_is_object (value))
        return chk_fail (c, WA_ERR_INVALID, "must be an object");
    const char *key;
    json_t *member;
    json_object_foreach ((json_t *) value, key, member) {
        bool known = false;
        for (size_t i = 0; members[i] && !known; i++)
            known = s_streq (members[i], key);
        if (!known) {
            char list[160] = "";
            for (size_t i = 0; members[i]; i++) {
                size_t used = strlen (list);
                snprintf (list + used, sizeof list - used, "%s%s", i ? ", " : "", members[i]);
            }
            size_t len = chk_enter (c, key);
            //  A key is any string: only a bounded, printable part of it.
            for (char *p = c->path + len; *p; p++)
                if ((unsigned char) *p < ' ' || *p == '\'')
                    *p = '?';
            return chk_fail (c, WA_ERR_INVALID, "is not a field of this object (it takes %s)", list);
        }
    }
    return 0;
}

//  Is text of len bytes free of what allow does not let in?
static bool
s_clean (const char *text, size_t len, int allow)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char) text[i];
        if (b == 0)
            return false;
        if (allow == CHK_ANY)
            continue;
        if (b < ' ' || b == 0x7F) {
            if (allow == CHK_LINES && (b == '\n' || b == '\t'))
                continue;
            return false;
        }
    }
    return true;
}

int
chk_string (chk_t *c, const json_t *obj, const char *name, bool required, size_t min, size_t max, int allow,
            const char **out)
{
    if (out)
        *out = NULL;
    const json_t *value = chk_get (obj, name);
    size_t len = chk_enter (c, name);
    int code = 0;
    if (!value) {
        if (required)
            code = chk_fail (c, WA_ERR_MISSING, "is missing");
    }
    else
    if (!json_is_string (value))
        code = chk_fail (c, WA_ERR_INVALID, "must be a string");
    else {
        size_t bytes = json_string_length (value);
        size_t chars = wa_utf8_chars (json_string_value (value), bytes);
        if (chars < min || chars > max) {
            if (min == max)
                code = chk_fail (c, WA_ERR_INVALID, "must be %zu characters long", min);
            else
                code = chk_fail (c, WA_ERR_INVALID, "must be %zu to %zu characters long", min, max);
        }
        else
        if (!s_clean (json_string_value (value), bytes, allow))
            code = chk_fail (c, WA_ERR_INVALID, "%s", allow == CHK_ANY ? "may not contain a NUL character"
                             : allow == CHK_LINES ? "may not contain control characters other than line breaks "
                             "and tabs" : "may not contain line breaks, tabs or other control characters");
        else
        if (out)
            *out = json_string_value (value);
    }
    chk_leave (c, len);
    return code;
}

int
chk_enum (chk_t *c, const json_t *obj, const char *name, bool required, const char *const *values, const char **out)
{
    const char *value;
    int code = chk_string (c, obj, name, required, 0, 64, CHK_ONE_LINE, &value);
    if (out)
        *out = NULL;
    if (code || !value)
        return code;
    for (size_t i = 0; values[i]; i++)
        if (s_streq (value, values[i])) {
            if (out)
                *out = values[i];
            return 0;
        }
    char list[200] = "";
    for (size_t i = 0; values[i]; i++) {
        size_t used = strlen (list);
        snprintf (list + used, sizeof list - used, "%s\"%s\"", i ? (values[i + 1] ? ", " : " or ") : "", values[i]);
    }
    size_t len = chk_enter (c, name);
    code = chk_fail (c, WA_ERR_INVALID, "must be %s", list);
    chk_leave (c, len);
    return code;
}

int
chk_int (chk_t *c, const json_t *obj, const char *name, bool required, json_int_t min, json_int_t max,
         bool *present, json_int_t *out)
{
    const json_t *value = chk_get (obj, name);
    if (present)
        *present = value != NULL;
    size_t len = chk_enter (c, name);
    int code = 0;
    if (!value) {
        if (required)
            code = chk_fail (c, WA_ERR_MISSING, "is missing");
    }
    else
    if (!json_is_integer (value) || json_integer_value (value) < min || json_integer_value (value) > max)
        code = chk_fail (c, WA_ERR_INVALID, "must be an integer from %" JSON_INTEGER_FORMAT " to %"
                         JSON_INTEGER_FORMAT, min, max);
    else
    if (out)
        *out = json_integer_value (value);
    chk_leave (c, len);
    return code;
}

int
chk_number (chk_t *c, const json_t *obj, const char *name, bool required, double min, double max)
{
    const json_t *value = chk_get (obj, name);
    size_t len = chk_enter (c, name);
    int code = 0;
    if (!value) {
        if (required)
            code = chk_fail (c, WA_ERR_MISSING, "is missing");
    }
    else
    if (!json_is_number (value) || !(json_number_value (value) >= min && json_number_value (value) <= max))
        code = chk_fail (c, WA_ERR_INVALID, "must be a number from %g to %g", min, max);
    chk_leave (c, len);
    return code;
}

int
chk_array (chk_t *c, const json_t *obj, const char *name, bool required, size_t min, size_t max, const json_t **out)
{
    *out = NULL;
    const json_t *value = chk_get (obj, name);
    size_t len = chk_enter (c, name);
    int code = 0;
    if (!value) {
        if (required)
            code = chk_fail (c, WA_ERR_MISSING, "is missing");
    }
    else
    if (!json_is_array (value) || json_array_size (value) < min || json_array_size (value) > max) {
        if (min == max)
            code = chk_fail (c, WA_ERR_INVALID, "must be an array of %zu", min);
        else
            code = chk_fail (c, WA_ERR_INVALID, "must be an array of %zu to %zu", min, max);
    }
    else
        *out = value;
    chk_leave (c, len);
    return code;
}

int
chk_member_object (chk_t *c, const json_t *obj, const char *name, bool required, const char *const *members,
                   const json_t **out)
{
    *out = NULL;
    const json_t *value = chk_get (obj, name);
    size_t len = chk_enter (c, name);
    int code = 0;
    if (!value) {
        if (required)
            code = chk_fail (c, WA_ERR_MISSING, "is missing");
    }
    else
    if ((code = chk_object (c, value, members)) == 0)
        *out = value;
    chk_leave (c, len);
    return code;
}

//  An http:// or https:// URL: a host, nothing that is not printable ASCII.
static bool
s_link_valid (const char *link)
{
    size_t skip = strncasecmp (link, "https://", 8) == 0 ? 8 : strncasecmp (link, "http://", 7) == 0 ? 7 : 0;
    if (!skip || !link[skip] || link[skip] == '/' || link[skip] == '?' || link[skip] == '#')
        return false;
    for (const unsigned char *p = (const unsigned char *) link; *p; p++)
        if (*p <= ' ' || *p >= 0x7F)
            return false;
    return true;
}

int
chk_media (chk_t *c, const json_t *obj, const char *kind, unsigned allow)
{
    static const char *const members[] = { "id", "link", "provider", "caption", "filename", NULL };
    const json_t *media = chk_get (obj, kind);
    size_t len = chk_enter (c, kind);
    int code = 0;
    const char *id = NULL, *link = NULL, *provider = NULL;
    if (!media) {
        code = chk_fail (c, WA_ERR_MISSING, "is missing (a media object: the 'id' POST /v1/media returned, or "
                         "a 'link')");
        goto done;
    }
    if ((code = chk_object (c, media, members)))
        goto done;
    if (!(allow & CHK_CAPTION) && chk_get (media, "caption")) {
        size_t at = chk_enter (c, "caption");
        code = chk_fail (c, WA_ERR_INVALID, "is not allowed: only an image, a video or a document message "
                         "has a caption");
        chk_leave (c, at);
        goto done;
    }
    if (!(allow & CHK_FILENAME) && chk_get (media, "filename")) {
        size_t at = chk_enter (c, "filename");
        code = chk_fail (c, WA_ERR_INVALID, "is not allowed: only a document has one");
        chk_leave (c, at);
        goto done;
    }
    bool by_id = chk_get (media, "id") != NULL, by_link = chk_get (media, "link") != NULL;
    if (by_id && by_link) {
        code = chk_fail (c, WA_ERR_INVALID, "must have an 'id' or a 'link', not both");
        goto done;
    }
    if (!by_id && !by_link) {
        size_t at = chk_enter (c, "id");
        code = chk_fail (c, WA_ERR_MISSING, "is missing (or a 'link' instead: the media's http or https URL)");
        chk_leave (c, at);
        goto done;
    }
    if (by_id) {
        size_t at = chk_enter (c, "id");
        const json_t *value = chk_get (media, "id");
        if (!json_is_string (value) || !wa_media_id_valid (json_string_value (value)))
            code = chk_fail (c, WA_ERR_INVALID, "must be a media id as POST /v1/media returns it");
        else
            id = json_string_value (value);
        chk_leave (c, at);
        if (code)
            goto done;
        if (chk_get (media, "provider")) {
            at = chk_enter (c, "provider");
            code = chk_fail (c, WA_ERR_INVALID, "goes only with a 'link'");
            chk_leave (c, at);
            goto done;
        }
    }
    else {
        if ((code = chk_string (c, media, "link", true, 1, WA_MESSAGE_LINK_MAX, CHK_ONE_LINE, &link)))
            goto done;
        if (!s_link_valid (link)) {
            size_t at = chk_enter (c, "link");
            code = chk_fail (c, WA_ERR_INVALID, "must be an http:// or https:// URL with a host (no spaces)");
            chk_leave (c, at);
            goto done;
        }
        static const char *const provider_members[] = { "name", NULL };
        const json_t *named;
        if ((code = chk_member_object (c, media, "provider", false, provider_members, &named)))
            goto done;
        if (named) {
            size_t at = chk_enter (c, "provider");
            code = chk_string (c, named, "name", true, 1, WA_MESSAGE_PROVIDER_MAX, CHK_ONE_LINE, &provider);
            chk_leave (c, at);
            if (code)
                goto done;
        }
    }
    if ((code = chk_string (c, media, "caption", false, 1, WA_MESSAGE_CAPTION_MAX, CHK_LINES, NULL))
    ||  (code = chk_string (c, media, "filename", false, 1, WA_MESSAGE_FILENAME_MAX, CHK_ONE_LINE, NULL)))
        goto done;
    wa_message_t *msg = c->msg;
    if (msg->media_count == WA_MESSAGE_MEDIA_MAX) {
        code = chk_fail (c, WA_ERR_INVALID, "is one media object too many: a message names at most %d",
                         WA_MESSAGE_MEDIA_MAX);
        goto done;
    }
    wa_media_ref_t *ref = &msg->media[msg->media_count++];
    ref->kind = kind;
    ref->id = id;
    ref->link = link;
    ref->provider = provider;
    ref->object = (json_t *) media;     //  the Webapp's to rewrite (wa_message.h)
    snprintf (ref->field, sizeof ref->field, "%.*s", (int) sizeof ref->field - 1, c->path);
    if (link)
        msg->links++;
done:
    chk_leave (c, len);
    return code;
}

//  --------------------------------------------------------------------------
//  The message

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

//  image, audio, video, document, sticker: the object named by the type.
static int
s_media_message (chk_t *c, const json_t *root)
{
    wa_message_t *msg = c->msg;
    const char *type = msg->type;
    if (!chk_get (root, type)) {
        size_t len = chk_enter (c, type);
        int code = chk_fail (c, WA_ERR_MISSING, "is missing (a%s %s message needs %s.id, the id POST /v1/media "
                             "returned, or %s.link)", strchr ("aeiou", type[0]) ? "n" : "", type, type, type);
        chk_leave (c, len);
        return code;
    }
    unsigned allow = s_streq (type, "document") ? CHK_CAPTION | CHK_FILENAME
                   : s_streq (type, "image") || s_streq (type, "video") ? CHK_CAPTION : 0;
    int code = chk_media (c, root, type, allow);
    if (code)
        return code;
    const json_t *media = chk_get (root, type);
    msg->media_id = msg->media[0].id;
    msg->caption = json_string_value (chk_get (media, "caption"));
    msg->filename = json_string_value (chk_get (media, "filename"));
    return 0;
}

static int
s_text_message (chk_t *c, const json_t *root)
{
    static const char *const members[] = { "body", NULL };
    const json_t *text = chk_get (root, "text");
    size_t len = chk_enter (c, "text");
    int code = 0;
    if (!text)
        code = chk_fail (c, WA_ERR_MISSING, "is missing (a text message needs text.body)");
    else
    if (!json_is_object (text))
        code = chk_fail (c, WA_ERR_INVALID, "must be an object with a 'body'");
    else
    if ((code = chk_object (c, text, members)) == 0)
        code = chk_string (c, text, "body", true, 1, WA_MESSAGE_BODY_MAX, CHK_ANY, &c->msg->body);
    chk_leave (c, len);
    return code;
}

int
wa_message_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size)
{
    memset (msg, 0, sizeof *msg);
    chk_t check = { .why = why, .why_size = why_size, .msg = msg };
    chk_t *c = &check;
    if (!json_is_object (root)) {
        snprintf (why, why_size, "the body must be a JSON object");
        return WA_ERR_INVALID;
    }
    const json_t *to = chk_get (root, "to");
    if (!to) {
        snprintf (why, why_size, "'to' is missing");
        return WA_ERR_MISSING;
    }
    if (!json_is_string (to) || s_recipient (json_string_value (to), msg->to)) {
        snprintf (why, why_size, "'to' must be a phone number: up to 20 digits, optionally with a leading '+'");
        return WA_ERR_INVALID;
    }
    const json_t *recipient_type = chk_get (root, "recipient_type");
    if (recipient_type && !(json_is_string (recipient_type)
                         && strcmp (json_string_value (recipient_type), "individual") == 0)) {
        snprintf (why, why_size, "'recipient_type' must be \"individual\"");
        return WA_ERR_INVALID;
    }
    const json_t *type = chk_get (root, "type");
    if (type && !json_is_string (type)) {
        snprintf (why, why_size, "'type' must be a string");
        return WA_ERR_INVALID;
    }
    msg->type = NULL;
    const char *asked = type ? json_string_value (type) : "text";
    for (size_t i = 0; wa_message_types[i] && !msg->type; i++)
        if (s_streq (asked, wa_message_types[i]))
            msg->type = wa_message_types[i];
    //  The original's templates before "template": not served (docs/API.md).
    if (!msg->type && s_streq (asked, "hsm")) {
        snprintf (why, why_size, "'type' \"hsm\" (the deprecated templates) is not served: send the message as "
                  "\"template\"");
        return WA_ERR_INVALID;
    }
    if (!msg->type) {
        snprintf (why, why_size, "'type' must be one of \"text\", \"image\", \"audio\", \"video\", \"document\", "
                  "\"sticker\", \"template\", \"interactive\", \"contacts\", \"location\", \"reaction\"");
        return WA_ERR_INVALID;
    }
    const json_t *preview = chk_get (root, "preview_url");
    if (preview && !json_is_boolean (preview)) {
        snprintf (why, why_size, "'preview_url' must be true or false");
        return WA_ERR_INVALID;
    }
    if (preview && !s_streq (msg->type, "text")) {
        snprintf (why, why_size, "'preview_url' goes only with a text message");
        return WA_ERR_INVALID;
    }
    msg->preview_url = json_is_true (preview);
    if (s_streq (msg->type, "text"))
        return s_text_message (c, root);
    if (s_streq (msg->type, "image") || s_streq (msg->type, "audio") || s_streq (msg->type, "video")
    ||  s_streq (msg->type, "document") || s_streq (msg->type, "sticker"))
        return s_media_message (c, root);
    const json_t *content = chk_get (root, msg->type);
    chk_enter (c, msg->type);
    if (!content)
        return chk_fail (c, WA_ERR_MISSING, "is missing (a %s message needs its '%s' %s)", msg->type, msg->type,
                         s_streq (msg->type, "contacts") ? "array" : "object");
    int code = s_streq (msg->type, "template") ? chk_template (c, content)
             : s_streq (msg->type, "interactive") ? chk_interactive (c, content)
             : s_streq (msg->type, "contacts") ? chk_contacts (c, content)
             : s_streq (msg->type, "location") ? chk_location (c, content)
             : chk_reaction (c, content);
    if (code == 0)
        msg->content = content;
    return code;
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
wa_shards_valid (int n)
{
    return n >= 1 && n <= WA_SHARDS_MAX && (n & (n - 1)) == 0;
}

bool
wa_shards_intersect (int s, int n, int s2, int n2)
{
    int least = n < n2 ? n : n2;
    return least > 0 && s % least == s2 % least;
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
    if (msg->links)
        return NULL;
    json_t *body = NULL;
    if (msg->media_id) {
        body = json_pack ("{s:s}", "id", msg->media_id);
        if (body && msg->caption)
            json_object_set_new (body, "caption", json_string (msg->caption));
        if (body && msg->filename)
            json_object_set_new (body, "filename", json_string (msg->filename));
    }
    else
    if (msg->content)
        body = json_deep_copy (msg->content);
    else
    if (msg->body)
        body = json_string (msg->body);
    json_t *out = body ? json_pack ("{s:s, s:s, s:s, s:o}", "id", id, "to", msg->to, "type", msg->type,
                                    "body", body) : NULL;
    if (out && msg->preview_url)
        json_object_set_new (out, "preview_url", json_true ());
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
wa_media_fits (const char *kind, const char *mime_type)
{
    if (s_streq (kind, "document"))
        return true;
    if (s_streq (kind, "image"))
        return s_streq (mime_type, "image/jpeg") || s_streq (mime_type, "image/png");
    if (s_streq (kind, "sticker"))
        return s_streq (mime_type, "image/webp");
    if (s_streq (kind, "audio"))
        return strncmp (mime_type, "audio/", 6) == 0;
    if (s_streq (kind, "video"))
        return strncmp (mime_type, "video/", 6) == 0;
    return false;
}

uint64_t
wa_media_limit (const char *kind)
{
    static const struct {
        const char *kind;
        uint64_t bytes;
    } limits[] = {
        { "image", 5 << 20 }, { "audio", 16 << 20 }, { "video", 16 << 20 }, { "sticker", 500 << 10 },
        { "document", 100 << 20 },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (s_streq (kind, limits[i].kind))
            return limits[i].bytes;
    return 0;
}

void
wa_media_content_id (const char *sha256_hex, const char *mime_type, char id[WA_MEDIA_ID_LEN + 1])
{
    unsigned char bytes[16];
    char hex[33];
    crypto_generichash_state state;
    crypto_generichash_init (&state, (const unsigned char *) "wacluster media", 15, sizeof bytes);
    crypto_generichash_update (&state, (const unsigned char *) sha256_hex, strlen (sha256_hex));
    crypto_generichash_update (&state, (const unsigned char *) "\n", 1);
    crypto_generichash_update (&state, (const unsigned char *) mime_type, strlen (mime_type));
    crypto_generichash_final (&state, bytes, sizeof bytes);
    bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x80);     //  version 8: made here, not random
    bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);
    sodium_bin2hex (hex, sizeof hex, bytes, sizeof bytes);
    snprintf (id, WA_MEDIA_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

bool
wa_message_ref_valid (const char *text)
{
    size_t len = text ? strlen (text) : 0;
    if (len == 0 || len > WA_MESSAGE_REF_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')
        ||    (text[i] >= '0' && text[i] <= '9') || strchr ("._:=+/-", text[i])))
            return false;
    return true;
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
