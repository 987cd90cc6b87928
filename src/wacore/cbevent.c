/*  cbevent — see cbevent.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cbevent.h"

#define NAME_MAX_BYTES 256
#define BODY_MAX_BYTES 4096
#define NUMBER_MAX 20
#define ERRORS_MAX 5
#define ERROR_CODE_MAX 999999
#define ERROR_TITLE_MAX_BYTES 256
#define ERROR_DETAILS_MAX_BYTES 1024

static int
s_fail (char *why, size_t why_size, const char *text)
{
    snprintf (why, why_size, "%s", text);
    return -1;
}

static bool
s_chars (const char *text, size_t min, size_t max, const char *extra)
{
    size_t len = strlen (text);
    if (len < min || len > max)
        return false;
    for (const char *c = text; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (extra && ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
                                                     || strchr (extra, *c)))))
            return false;
    return true;
}

bool
cbevent_id_valid (const char *id)
{
    return id && s_chars (id, 1, CBQUEUE_EVENT_ID_MAX, "._:=+/-");
}

static bool
s_digits (const json_t *value, size_t max)
{
    return json_is_string (value) && json_string_length (value) == strlen (json_string_value (value))
        && s_chars (json_string_value (value), 1, max, NULL);
}

static bool
s_id (const json_t *value)
{
    return json_is_string (value) && json_string_length (value) == strlen (json_string_value (value))
        && cbevent_id_valid (json_string_value (value));
}

//  A string of 1 to max bytes without NUL.
static bool
s_text (const json_t *value, size_t max)
{
    return json_is_string (value) && json_string_length (value) >= 1 && json_string_length (value) <= max
        && strlen (json_string_value (value)) == json_string_length (value);
}

//  An object with exactly these members (NULL-terminated).
static bool
s_exactly (const json_t *object, const char *const *keys)
{
    if (!json_is_object (object))
        return false;
    size_t count = 0;
    for (; keys[count]; count++)
        if (!json_object_get (object, keys[count]))
            return false;
    return json_object_size (object) == count;
}

//  The one element of an array of one.
static json_t *
s_one (json_t *array)
{
    return json_is_array (array) && json_array_size (array) == 1 ? json_array_get (array, 0) : NULL;
}

//  A failed status's "errors": 1 to ERRORS_MAX {code, title[, details]}.
static bool
s_errors (const json_t *errors)
{
    static const char *const with_details[] = { "code", "title", "details", NULL };
    static const char *const without[] = { "code", "title", NULL };
    if (!json_is_array (errors) || json_array_size (errors) < 1 || json_array_size (errors) > ERRORS_MAX)
        return false;
    size_t i;
    json_t *error;
    json_array_foreach (errors, i, error) {
        json_t *code = json_object_get (error, "code");
        json_t *details = json_object_get (error, "details");
        if (!(details ? s_exactly (error, with_details) : s_exactly (error, without))
        ||  !json_is_integer (code) || json_integer_value (code) < 1 || json_integer_value (code) > ERROR_CODE_MAX
        ||  !s_text (json_object_get (error, "title"), ERROR_TITLE_MAX_BYTES)
        ||  (details && !s_text (details, ERROR_DETAILS_MAX_BYTES)))
            return false;
    }
    return true;
}

static int
s_payload (json_t *payload, cbevent_t *event, char *why, size_t why_size)
{
    static const char *const status_keys[] = { "statuses", NULL };
    static const char *const status_fields[] = { "id", "recipient_id", "status", "timestamp", NULL };
    static const char *const failed_fields[] = { "id", "recipient_id", "status", "timestamp", "errors", NULL };
    static const char *const inbound_keys[] = { "contacts", "messages", NULL };
    static const char *const contact_fields[] = { "profile", "wa_id", NULL };
    static const char *const profile_fields[] = { "name", NULL };
    static const char *const message_fields[] = { "from", "id", "timestamp", "type", "text", NULL };
    static const char *const text_fields[] = { "body", NULL };
    if (s_exactly (payload, status_keys)) {
        json_t *status = s_one (json_object_get (payload, "statuses"));
        json_t *errors = json_object_get (status, "errors");
        if (!s_exactly (status, errors ? failed_fields : status_fields))
            return s_fail (why, why_size, "'statuses' must hold one {id, recipient_id, status, timestamp[, errors]}");
        const char *value = json_string_value (json_object_get (status, "status"));
        if (errors && !(value && strcmp (value, "failed") == 0 && s_errors (errors)))
            return s_fail (why, why_size, "a status's 'errors' go only with \"failed\": 1 to 5 {code, title[, details]}");
        if (!s_id (json_object_get (status, "id")))
            return s_fail (why, why_size, "a status's 'id' is not a message id");
        if (!s_digits (json_object_get (status, "recipient_id"), NUMBER_MAX))
            return s_fail (why, why_size, "a status's 'recipient_id' is not 1 to 20 digits");
        if (!value || !(strcmp (value, "sent") == 0 || strcmp (value, "delivered") == 0
                     || strcmp (value, "read") == 0 || strcmp (value, "failed") == 0))
            return s_fail (why, why_size, "a status's 'status' is not sent, delivered, read or failed");
        if (!s_digits (json_object_get (status, "timestamp"), NUMBER_MAX))
            return s_fail (why, why_size, "a status's 'timestamp' is not 1 to 20 digits");
        event->kind = "status";
        event->message_id[0] = 0;
        event->sent_status = strcmp (value, "sent") == 0;
        snprintf (event->conversation, sizeof event->conversation, "%s",
                  json_string_value (json_object_get (status, "recipient_id")));
    }
    else
    if (s_exactly (payload, inbound_keys)) {
        json_t *contact = s_one (json_object_get (payload, "contacts"));
        json_t *message = s_one (json_object_get (payload, "messages"));
        if (!s_exactly (contact, contact_fields) || !s_exactly (json_object_get (contact, "profile"), profile_fields))
            return s_fail (why, why_size, "'contacts' must hold one {profile: {name}, wa_id}");
        if (!s_exactly (message, message_fields) || !s_exactly (json_object_get (message, "text"), text_fields))
            return s_fail (why, why_size, "'messages' must hold one {from, id, timestamp, type, text: {body}}");
        json_t *wa_id = json_object_get (contact, "wa_id");
        json_t *from = json_object_get (message, "from");
        json_t *type = json_object_get (message, "type");
        if (!s_text (json_object_get (json_object_get (contact, "profile"), "name"), NAME_MAX_BYTES))
            return s_fail (why, why_size, "a contact's name is not 1 to 256 bytes");
        if (!s_digits (wa_id, NUMBER_MAX) || !s_digits (from, NUMBER_MAX)
        ||  strcmp (json_string_value (wa_id), json_string_value (from)) != 0)
            return s_fail (why, why_size, "'from' and 'wa_id' must be the same 1 to 20 digits");
        if (!s_id (json_object_get (message, "id")))
            return s_fail (why, why_size, "a message's 'id' is not a message id");
        if (!s_digits (json_object_get (message, "timestamp"), NUMBER_MAX))
            return s_fail (why, why_size, "a message's 'timestamp' is not 1 to 20 digits");
        if (!json_is_string (type) || strcmp (json_string_value (type), "text") != 0)
            return s_fail (why, why_size, "a message's 'type' is not text");
        if (!s_text (json_object_get (json_object_get (message, "text"), "body"), BODY_MAX_BYTES))
            return s_fail (why, why_size, "a message's body is not 1 to 4096 bytes");
        event->kind = "message";
        snprintf (event->message_id, sizeof event->message_id, "%s",
                  json_string_value (json_object_get (message, "id")));
        event->sent_status = false;
        snprintf (event->conversation, sizeof event->conversation, "%s", json_string_value (from));
    }
    else
        return s_fail (why, why_size, "the payload is neither {statuses} nor {contacts, messages}");
    event->payload = json_dumps (payload, JSON_COMPACT);
    if (!event->payload)
        return s_fail (why, why_size, "out of memory");
    if (strlen (event->payload) > CBEVENT_PAYLOAD_MAX) {
        free (event->payload);
        event->payload = NULL;
        return s_fail (why, why_size, "the payload is longer than 8000 bytes");
    }
    return 0;
}

int
cbevent_parse (const char *text, size_t len, cbevent_t *event, char *why, size_t why_size)
{
    static const char *const keys[] = { "event_id", "payload", NULL };
    memset (event, 0, sizeof *event);
    json_error_t error;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &error);
    int rc = -1;
    if (!root)
        snprintf (why, why_size, "not JSON: %.80s", error.text);
    else
    if (!s_exactly (root, keys))
        s_fail (why, why_size, "not an object of exactly event_id and payload");
    else
    if (!s_id (json_object_get (root, "event_id")))
        s_fail (why, why_size, "'event_id' is not 1 to 64 of A-Z a-z 0-9 . _ : = + / -");
    else {
        snprintf (event->event_id, sizeof event->event_id, "%s",
                  json_string_value (json_object_get (root, "event_id")));
        rc = s_payload (json_object_get (root, "payload"), event, why, why_size);
    }
    json_decref (root);
    return rc;
}

int
cbevent_check_payload (const char *payload, const char *event_id, cbevent_t *event, char *why,
                       size_t why_size)
{
    memset (event, 0, sizeof *event);
    if (!cbevent_id_valid (event_id))
        return s_fail (why, why_size, "the event id is not valid");
    snprintf (event->event_id, sizeof event->event_id, "%s", event_id);
    json_error_t error;
    json_t *root = json_loads (payload, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf (why, why_size, "the payload is not JSON: %.80s", error.text);
        return -1;
    }
    int rc = s_payload (root, event, why, why_size);
    json_decref (root);
    return rc;
}
