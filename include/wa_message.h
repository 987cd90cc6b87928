/*  wa_message — what the Webapp and the Coreapp agree on about a message
    sent through POST /v1/messages: the checks on the client's JSON (each
    failure names the field, with its full path), the shard it belongs to,
    the id derived from its idempotency key, and the JSON that goes
    upstream. Also what a media id looks like, which stored types each
    media message takes, and how large each may be.

    Types, as the original On-Premises API writes them (docs/API.md):
    text ({"text":{"body"}}, "preview_url" beside it); image, audio, video,
    document and sticker, each an object named by its type holding the
    "id" of a file uploaded with POST /v1/media or a "link" (http or https)
    the cluster downloads (the Webapp, which then puts the stored file's id
    in place of the link), with an optional "provider" {"name"} whose
    credentials the download uses, a "caption" (image, video, document)
    and a "filename" (document); template (namespace, name, language,
    components with their parameters); interactive (list, button, product,
    product_list); contacts (an array of contact cards); location;
    reaction. Every object is checked member by member: an unknown member
    is refused too. Lengths are in characters (Unicode code points).

    Both sides run the same checks: the Webapp to answer 400 without a round
    trip, the Coreapp because it trusts nothing it receives. */
#ifndef WA_MESSAGE_H
#define WA_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define WA_MESSAGE_TO_MAX 20        //  digits
#define WA_MESSAGE_BODY_MAX 4096    //  characters of a text body
#define WA_MESSAGE_ID_LEN 27        //  "gBE" + 24 base64url characters
#define WA_MESSAGE_KEY_MAX 100      //  an idempotency key, as stored
#define WA_MESSAGE_CAPTION_MAX 1024 //  characters of a media caption
#define WA_MESSAGE_FILENAME_MAX 240 //  characters of a document's file name
#define WA_MESSAGE_LINK_MAX 2048    //  characters of a media link
#define WA_MESSAGE_PROVIDER_MAX 100 //  characters of a media provider's name
#define WA_MEDIA_ID_LEN 36          //  a UUID: 8-4-4-4-12 lower case hex digits
//  Media a message names: a media message's one, or a template's header
//  parameter, or an interactive message's header.
#define WA_MESSAGE_MEDIA_MAX 2
//  The characters of an id a message refers to (a reaction's message_id,
//  an inbound message marked read): A-Z a-z 0-9 and . _ : = + / -
#define WA_MESSAGE_REF_MAX 128

//  A media object of the message: by id, or by link.
typedef struct {
    const char *kind;               //  "image", "audio", "video", "document" or "sticker"
    const char *id;                 //  a media id, NULL when by link
    const char *link;               //  an http(s) URL, NULL when by id
    const char *provider;           //  with a link: the media provider's name, NULL when none
    json_t *object;                 //  the media object in the checked JSON (the Webapp puts
                                    //  the downloaded file's id in place of its link here)
    char field[96];                 //  its path, for errors ("image", "template.components[0]...")
} wa_media_ref_t;

typedef struct {
    char to[WA_MESSAGE_TO_MAX + 1]; //  digits only ("+1 631-555" → "1631555")
    const char *type;               //  one of wa_message_types
    bool preview_url;               //  text: the client asked for a link preview
    //  These point into the checked JSON; NULL when the type has none.
    const char *body;               //  text
    const char *media_id;           //  a media message's by id
    const char *caption;            //  image, video, document: optional
    const char *filename;           //  document: optional
    const json_t *content;          //  template, interactive, contacts, location, reaction:
                                    //  the checked object (an array for contacts)
    wa_media_ref_t media[WA_MESSAGE_MEDIA_MAX];
    int media_count;
    int links;                      //  how many of media are by link
} wa_message_t;

//  The types, NULL-terminated.
extern const char *const wa_message_types[];

//  Check a message object. 0 with *msg filled (pointing into root, which
//  must outlive it), or an API error code (1008 missing, 1009 invalid) with
//  why naming the field. A media object by link is taken here (the
//  Webapp downloads it); the Coreapp refuses a message with links left.
int wa_message_check (const json_t *root, wa_message_t *msg, char *why, size_t why_size);
//  The shard of a recipient: crc32 of its digits modulo shards, as the
//  original routes.
int wa_message_shard (const char *to, int shards);
//  Is n a shard count the cluster takes: 1, 2, 4, 8, 16 or 32 (a power of
//  two, so that every layout's shards split the last layout's evenly)?
bool wa_shards_valid (int n);
//  Do shard s of a layout of n shards and shard s2 of a layout of n2 serve
//  some recipient in common? With valid counts the smaller divides the
//  larger, so they do exactly when s and s2 agree modulo the smaller.
bool wa_shards_intersect (int s, int n, int s2, int n2);
//  Is key a usable idempotency key (1 to WA_MESSAGE_KEY_MAX of A-Z a-z 0-9
//  and - _ . :)?
bool wa_message_key_valid (const char *key);
//  The message id for an idempotency key: "gBE" + base64url of its BLAKE2b
//  hash, so a retried request gets the id of its first attempt.
void wa_message_id (const char *key, char id[WA_MESSAGE_ID_LEN + 1]);
//  The JSON the upstream takes: {"id","to","type","body"} (malloc'd), and
//  "preview_url": true for a text that asked for it. The body is the text's
//  string; a media message's object {"id"} with its "caption" and
//  "filename" when it has them; the checked object of the other types (the
//  array of cards for contacts). NULL when a media object is still by link.
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
//  codecs=opus") fit a media object of this kind? image: image/jpeg and
//  image/png; audio: audio/*; video: video/*; sticker: image/webp;
//  document: any.
bool wa_media_fits (const char *kind, const char *mime_type);
//  The largest file a media object of this kind may name, in bytes (the
//  original's limits): image 5 MiB, audio and video 16 MiB, sticker
//  500 KiB, document 100 MiB; 0 for an unknown kind.
uint64_t wa_media_limit (const char *kind);
//  The id of a file known by its content: a UUID (version 8) made of the
//  BLAKE2b hash of its SHA-256 (hex) and its stored type, so the same file
//  downloaded twice, by any Webapp, is one file and one row.
void wa_media_content_id (const char *sha256_hex, const char *mime_type, char id[WA_MEDIA_ID_LEN + 1]);
//  Is text an id a message may refer to (1 to WA_MESSAGE_REF_MAX of
//  A-Z a-z 0-9 . _ : = + / -)?
bool wa_message_ref_valid (const char *text);
//  Characters (code points) of a UTF-8 string of len bytes.
size_t wa_utf8_chars (const char *text, size_t len);

#endif
