/*  wa_message — what the Webapp and the Coreapp agree on about a message
    sent through POST /v1/messages: the checks on the client's JSON (each
    failure names the field), the shard it belongs to, the id derived from
    its idempotency key, and the JSON that goes upstream.

    Both sides run the same checks: the Webapp to answer 400 without a round
    trip, the Coreapp because it trusts nothing it receives. */
#ifndef WA_MESSAGE_H
#define WA_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define WA_MESSAGE_TO_MAX 20        //  digits
#define WA_MESSAGE_BODY_MAX 4096    //  bytes of a text body
#define WA_MESSAGE_ID_LEN 27        //  "gBE" + 24 base64url characters
#define WA_MESSAGE_KEY_MAX 100      //  an idempotency key, as stored

typedef struct {
    char to[WA_MESSAGE_TO_MAX + 1]; //  digits only ("+1 631-555" → "1631555")
    const char *type;               //  "text"
    const char *body;               //  points into the checked JSON
} wa_message_t;

//  Check a message object. 0 with *msg filled (pointing into root, which
//  must outlive it), or an API error code (1008 missing, 1009 invalid) with
//  why naming the field.
int wa_message_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size);
//  The shard of a recipient: crc32 of its digits modulo shards, as the
//  original routes.
int wa_message_shard (const char *to, int shards);
//  Is key a usable idempotency key (1 to WA_MESSAGE_KEY_MAX of A-Z a-z 0-9
//  and - _ . :)?
bool wa_message_key_valid (const char *key);
//  The message id for an idempotency key: "gBE" + base64url of its BLAKE2b
//  hash, so a retried request gets the id of its first attempt.
void wa_message_id (const char *key, char id[WA_MESSAGE_ID_LEN + 1]);
//  The JSON the upstream takes: {"id","to","type","body"} (malloc'd).
char *wa_message_upstream (const wa_message_t *msg, const char *id);

#endif
