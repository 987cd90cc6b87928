/*  stickers — see stickers.h */
#include <stdio.h>
#include <string.h>
#include "stickers.h"

typedef struct {
    const char *id;
    const char *publisher;
    const char *name;
    const char *stickers[3];        //  media ids
    const char *emojis[3];          //  JSON arrays
} pack_t;

static const pack_t s_packs[] = {
    { "7b6ff7d4-6c1a-4c53-9d3e-0a1b2c3d4e01", "WhatsApp", "Cuppy",
      { "5d3f1a2b-0c4e-4f60-8a71-1b2c3d4e5f01", "5d3f1a2b-0c4e-4f60-8a71-1b2c3d4e5f02",
        "5d3f1a2b-0c4e-4f60-8a71-1b2c3d4e5f03" },
      { "[\"\\u2615\"]", "[\"\\ud83d\\ude03\",\"\\u2615\"]", "[\"\\ud83d\\udc4b\"]" } },
    { "7b6ff7d4-6c1a-4c53-9d3e-0a1b2c3d4e02", "WhatsApp", "Bibimbap Friends",
      { "6e4a2b3c-1d5f-4a71-9b82-2c3d4e5f6a01", "6e4a2b3c-1d5f-4a71-9b82-2c3d4e5f6a02",
        "6e4a2b3c-1d5f-4a71-9b82-2c3d4e5f6a03" },
      { "[\"\\ud83c\\udf5a\"]", "[\"\\ud83d\\ude0b\"]", "[\"\\ud83c\\udf89\",\"\\ud83d\\ude03\"]" } },
};
#define PACKS (sizeof s_packs / sizeof s_packs[0])
#define STICKERS 3

static json_t *
s_not_found (int *status, const char *what)
{
    *status = 404;
    return json_pack ("{s:s}", "error", what);
}

static json_t *
s_answer (const json_t *request, int *status)
{
    const char *pack_id = json_string_value (json_object_get (request, "pack"));
    const char *index = json_string_value (json_object_get (request, "index"));
    *status = 200;
    if (!pack_id) {
        json_t *list = json_array ();
        for (size_t i = 0; i < PACKS; i++)
            json_array_append_new (list, json_pack ("{s:s}", "id", s_packs[i].id));
        return json_pack ("{s:o}", "stickerpacks", list);
    }
    const pack_t *pack = NULL;
    for (size_t i = 0; i < PACKS; i++)
        if (strcmp (s_packs[i].id, pack_id) == 0)
            pack = &s_packs[i];
    if (!pack)
        return s_not_found (status, "no such stickerpack");
    if (index) {
        int n = 0;
        if (sscanf (index, "%d", &n) != 1 || n < 1 || n > STICKERS)
            return s_not_found (status, "no such sticker");
        json_t *emojis = json_loads (pack->emojis[n - 1], 0, NULL);
        return json_pack ("{s:[{s:s, s:o}]}", "stickers", "id", pack->stickers[n - 1], "emojis",
                          emojis ? emojis : json_array ());
    }
    if (json_is_true (json_object_get (request, "stickers"))) {
        json_t *list = json_array ();
        for (int i = 1; i <= STICKERS; i++) {
            char text[8];
            snprintf (text, sizeof text, "%d", i);
            json_array_append_new (list, json_pack ("{s:s}", "index", text));
        }
        return json_pack ("{s:o}", "stickers", list);
    }
    return json_pack ("{s:[{s:s, s:s}]}", "stickerpacks", "publisher", pack->publisher, "name", pack->name);
}

bool
stickers_control (const char *op, const json_t *request, int *status, json_t **reply)
{
    if (strcmp (op, "stickerpacks") != 0)
        return false;
    *reply = s_answer (request, status);
    json_t *id = json_object_get (request, "id");
    if (*reply && json_is_integer (id))
        json_object_set (*reply, "id", id);
    return true;
}
