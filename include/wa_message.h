/*  wa_message — what the Webapp and the Coreapp agree on about a message
    sent through POST /v1/messages: the checks on the client's JSON (each
    failure names the field), the shard it belongs to, the id derived from
    its idempotency key, and the JSON that goes upstream. Also what a media
    id looks like and which stored types each media message takes.

    Types: text ({"text":{"body"}}), and image, document, audio and video,
    each an object named by its type holding the "id" of a file uploaded
    with POST /v1/media, and a "caption" (image, video, document) and a
    "filename" (document). A "link" instead of an id is refused: only
    uploaded media are sent.

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
#define WA_MESSAGE_CAPTION_MAX 1024 //  bytes of a media caption
#define WA_MESSAGE_FILENAME_MAX 240 //  bytes of a document's file name
#define WA_MEDIA_ID_LEN 36          //  a UUID: 8-4-4-4-12 lower case hex digits

typedef struct {
    char to[WA_MESSAGE_TO_MAX + 1]; //  digits only ("+1 631-555" → "1631555")
    const char *type;               //  "text", "image", "document", "audio" or "video"
    //  These point into the checked JSON; NULL when the type has none.
    const char *body;               //  text
    const char *media_id;           //  the others
    const char *caption;            //  image, video, document: optional
    const char *filename;           //  document: optional
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
//  The JSON the upstream takes: {"id","to","type","body"} (malloc'd); the
//  body is the text's string, or a media message's object {"id"} with its
//  "caption" and "filename" when it has them.
char *wa_message_upstream (const wa_message_t *msg, const char *id);
//  Is id a media id as POST /v1/media makes them (a UUID in lower case)?
//  Checked before an id names a file or a row.
bool wa_media_id_valid (const char *id);
//  The type a file is stored with, from an upload's Content-Type header:
//  the base type in lower case ("Image/PNG; x=y" is "image/png"), and for
//  audio/ogg the codec, which must be opus ("audio/ogg; codecs=opus").
//  Only the original's types are taken (WA_MEDIA_TYPES). 0 with the stored
//  form in out, or -1 with what was read of the base type in out.
#define WA_MEDIA_TYPES "image/jpeg, image/png, image/webp, audio/aac, audio/mp4, audio/amr, audio/mpeg, " \
    "audio/ogg; codecs=opus, video/mp4, video/3gpp, application/pdf, text/plain, application/msword, " \
    "application/vnd.ms-excel, application/vnd.ms-powerpoint and the OOXML document, sheet and " \
    "presentation types"
int wa_media_type (const char *header, char *out, size_t size);
//  Does a stored file of this type (as stored: "image/png", "audio/ogg;
//  codecs=opus") fit a message of this type? image: image/jpeg and
//  image/png; audio: audio/*; video: video/*; document: any.
bool wa_media_fits (const char *message_type, const char *mime_type);

#endif
