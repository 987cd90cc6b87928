/*  stickers — the network's first-party stickerpacks, a small fixed
    catalogue the emulator answers from (GET /v1/stickerpacks?namespace=
    whatsapp, through the primary Master). */
#ifndef WAGATE_STICKERS_H
#define WAGATE_STICKERS_H

#include <stdbool.h>
#include <jansson.h>

//  CONTROL {"op":"stickerpacks"[, "pack"[, "stickers": true | "index"]]}:
//  the packs' ids; a pack; its stickers' indexes; a sticker. False when op
//  is another; else *status (200, 404) and *reply (the answer's JSON, the
//  request's "id" echoed).
bool stickers_control (const char *op, const json_t *request, int *status, json_t **reply);

#endif
