/*  cbevent — the checks on an event the upstream reports (UP_EVENT) and on
    a callbacks row read back: nothing from outside is trusted. The text of
    an UP_EVENT is {"event_id": ID, "payload": P}, and P must be exactly one
    of the webhook shapes of docs/API.md (Webhooks), nothing more:

        {"statuses":[{"id","recipient_id","status","timestamp"[,"errors"]}]}
            status: sent, delivered, read or failed; "errors" only with
            failed: 1 to 5 {"code" (1 to 999999), "title"[, "details"]}
        {"contacts":[{"profile":{"name"},"wa_id"}],
         "messages":[{"from","id","timestamp","type":"text","text":{"body"}}]}
            from = wa_id

    Ids are 1 to 64 of A-Z a-z 0-9 and . _ : = + / -; numbers 1 to 20
    digits; timestamps 1 to 20 digits; a name 1 to 256 bytes; a body 1 to
    4096 bytes. The payload is what the webhook receives, re-encoded
    compactly (keys in their order), at most CBEVENT_PAYLOAD_MAX bytes. */
#ifndef WACORE_CBEVENT_H
#define WACORE_CBEVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cbqueue.h"

#define CBEVENT_PAYLOAD_MAX 8000

typedef struct {
    char event_id[CBQUEUE_EVENT_ID_MAX + 1];
    const char *kind;                           //  "status" or "message"
    char conversation[CBQUEUE_CONVERSATION_MAX + 1];   //  recipient_id, or from
    char message_id[CBQUEUE_EVENT_ID_MAX + 1];         //  an inbound message's id ("" for a status)
    bool sent_status;                           //  a status "sent"
    char *payload;                              //  malloc'd compact JSON
} cbevent_t;

//  An UP_EVENT's text. 0 with event filled (free event->payload), or -1
//  with why.
int cbevent_parse (const char *text, size_t len, cbevent_t *event, char *why, size_t why_size);
//  A payload alone (a row read back; event_id is the row's). Same result.
int cbevent_check_payload (const char *payload, const char *event_id, cbevent_t *event, char *why,
                           size_t why_size);
//  Is this an acceptable event id?
bool cbevent_id_valid (const char *id);

#endif
