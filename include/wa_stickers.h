/*  wa_stickers — what /v1/stickerpacks takes (docs/API.md, Stickerpacks):
    a third-party pack's fields and a sticker's, checked field by field
    with the original's codes (1008 missing, 1009 not valid), naming the
    field. Pure: the Webapp stores what passes (src/waweb/stickers.c). */
#ifndef WA_STICKERS_H
#define WA_STICKERS_H

#include <stdbool.h>
#include <jansson.h>

#define WA_STICKERPACK_TEXT_MAX 128         //  publisher, name: characters
#define WA_STICKERPACK_LINK_MAX 512         //  the store links: bytes
#define WA_STICKERPACK_ID_LEN 36            //  a UUID
#define WA_STICKERPACKS_MAX 1000            //  third-party packs in a cluster
#define WA_STICKERS_MAX 30                  //  stickers in a pack (WhatsApp's own limit)
#define WA_STICKER_EMOJIS_MAX 3             //  emojis of a sticker
#define WA_STICKER_EMOJI_MAX 32             //  bytes of one
#define WA_STICKER_EMOJIS_TEXT 256          //  their JSON, compact

//  A pack's fields; each has_ says whether the body named it.
typedef struct {
    bool has_publisher, has_name, has_ios, has_android;
    char publisher[WA_STICKERPACK_TEXT_MAX * 4 + 1];
    char name[WA_STICKERPACK_TEXT_MAX * 4 + 1];
    char ios[WA_STICKERPACK_LINK_MAX + 1];
    char android[WA_STICKERPACK_LINK_MAX + 1];
} wa_stickerpack_t;

//  A sticker's fields.
typedef struct {
    bool has_image, has_emojis;
    char image_data_id[65];
    char emojis[WA_STICKER_EMOJIS_TEXT + 1];    //  a JSON array of strings
} wa_sticker_t;

//  Check a POST (create: publisher and name required) or a PATCH (at
//  least one field) body. 0, or the error code with why.
int wa_stickerpack_check (json_t *body, bool create, wa_stickerpack_t *out, char *why, size_t whylen);
//  The same for a sticker (create: image_data_id required).
int wa_sticker_check (json_t *body, bool create, wa_sticker_t *out, char *why, size_t whylen);
//  A sticker's index in a path: 1 to 2^31 - 1 in decimal, no sign, no
//  leading zero; 0 when it is none.
long wa_sticker_index (const char *text);
//  A new pack id: a random UUID (version 4), lower case.
void wa_stickerpack_id (char id[WA_STICKERPACK_ID_LEN + 1]);

#endif
