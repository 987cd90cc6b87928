/*  stickers — /v1/stickerpacks as the original has it:

    third-party packs (no namespace, or ?namespace=third_party): created
    (POST, 201 {"stickerpacks":[{"id"}]}), listed, read, updated (PATCH),
    deleted with their stickers; their stickers added (POST
    .../{id}/stickers with an uploaded image/webp media id, 201
    {"stickers":[{"index"}]}), listed, read, updated, deleted. Checked
    here (wa_stickers) and stored by this Webapp in the database, each
    change one transaction: a pack is plain account data owned by no node
    (no lease, no upstream session), so any Webapp writes it and every
    Webapp reads the same rows; no Master or Coreapp failover touches it.

    first-party packs (?namespace=whatsapp): the network's catalogue, read
    through the primary Master (op stickers_firstparty), which asks the
    upstream (wagate's op "stickerpacks"); they cannot be changed.

    Reads take any token, changes an ADMIN's (the route table). */
#include "wa_log.h"
#include "wa_message.h"
#include "wa_stickers.h"
#include "coreapps.h"
#include "web.h"

typedef struct {
    route_id_t op;
    char pack[WA_STICKERPACK_ID_LEN + 1];
    long index;
    wa_stickerpack_t in_pack;
    wa_sticker_t in_sticker;
    char by[40];
    //  out
    int status;
    int code;                   //  0: success
    char why[300];
    json_t *result;             //  the payload
    //  a row being read
    int64_t count;
    int64_t next_index;
    char mime_type[128];
    bool found;
} sticker_state_t;

static void
s_state_free (void *extra)
{
    sticker_state_t *self = extra;
    json_decref (self->result);
    free (self);
}

static int
s_failed (sticker_state_t *self, int status, int code, const char *why)
{
    self->status = status;
    self->code = code;
    snprintf (self->why, sizeof self->why, "%s", why);
    return 0;
}

static int
s_db_error (sticker_state_t *self, wa_db_t *db, bool rollback)
{
    if (rollback)
        wa_db_transaction (db, "ROLLBACK");
    snprintf (self->why, sizeof self->why, "database error: %.200s", wa_db_error (db));
    self->status = 500;
    self->code = WA_ERR_DATABASE;
    return -1;
}

//  Rows.
static int
s_id_row (const wa_db_row_t *row, void *arg)
{
    json_array_append_new (arg, json_pack ("{s:s}", "id", wa_db_row_str (row, 0)));
    return 0;
}

static int
s_index_row (const wa_db_row_t *row, void *arg)
{
    char index[24];
    snprintf (index, sizeof index, "%" PRId64, wa_db_row_int (row, 0));
    json_array_append_new (arg, json_pack ("{s:s}", "index", index));
    return 0;
}

static int
s_pack_row (const wa_db_row_t *row, void *arg)
{
    sticker_state_t *self = arg;
    json_t *pack = json_pack ("{s:s, s:s}", "publisher", wa_db_row_str (row, 0), "name", wa_db_row_str (row, 1));
    if (*wa_db_row_str (row, 2))
        json_object_set_new (pack, "ios_app_store_link", json_string (wa_db_row_str (row, 2)));
    if (*wa_db_row_str (row, 3))
        json_object_set_new (pack, "android_app_store_link", json_string (wa_db_row_str (row, 3)));
    self->result = json_pack ("{s:[o]}", "stickerpacks", pack);
    return 0;
}

static int
s_sticker_row (const wa_db_row_t *row, void *arg)
{
    sticker_state_t *self = arg;
    json_t *emojis = json_loads (wa_db_row_str (row, 1), 0, NULL);
    if (!json_is_array (emojis)) {
        json_decref (emojis);
        emojis = json_array ();
    }
    self->result = json_pack ("{s:[{s:s, s:s, s:o}]}", "stickers", "id", wa_db_row_str (row, 0), "image_data_id",
                              wa_db_row_str (row, 0), "emojis", emojis);
    return 0;
}

static int
s_count_row (const wa_db_row_t *row, void *arg)
{
    sticker_state_t *self = arg;
    self->found = true;
    self->count = wa_db_row_int (row, 0);
    if (wa_db_row_columns (row) > 1)
        self->next_index = wa_db_row_int (row, 1);
    return 0;
}

static int
s_mime_row (const wa_db_row_t *row, void *arg)
{
    sticker_state_t *self = arg;
    snprintf (self->mime_type, sizeof self->mime_type, "%s", wa_db_row_str (row, 0));
    return 0;
}

//  The sticker's image: an uploaded image/webp within the original's limit.
static int
s_check_image (sticker_state_t *self, wa_db_t *db, const char *id)
{
    self->mime_type[0] = 0;
    int64_t rows = wa_db_query (db, "SELECT mime_type FROM media WHERE id = ?", s_mime_row, self, "s", id);
    if (rows < 0)
        return -1;
    if (rows == 0)
        return s_failed (self, 400, WA_ERR_INVALID, "'image_data_id' names no uploaded media"), 1;
    if (!wa_media_fits ("sticker", self->mime_type)) {
        self->status = 400;
        self->code = WA_ERR_INVALID;
        snprintf (self->why, sizeof self->why, "'image_data_id' must be a sticker image (image/webp), not %.60s",
                  self->mime_type);
        return 1;
    }
    return 0;
}

static const char *SQL_PACK_EXISTS = "SELECT COUNT(*) FROM stickerpacks WHERE id = ?";

static int
s_run_op (sticker_state_t *self, wa_db_t *db)
{
    self->status = 200;
    switch (self->op) {
        case ROUTE_STICKERPACKS_LIST: {
            json_t *list = json_array ();
            self->result = json_pack ("{s:o}", "stickerpacks", list);
            return wa_db_query (db, "SELECT id FROM stickerpacks ORDER BY created_at, id LIMIT 1000", s_id_row, list,
                                "") < 0 ? -1 : 0;
        }
        case ROUTE_STICKERPACK_GET: {
            int64_t rows = wa_db_query (db, "SELECT publisher, name, ios_app_store_link, android_app_store_link "
                                        "FROM stickerpacks WHERE id = ?", s_pack_row, self, "s", self->pack);
            if (rows == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
            return rows < 0 ? -1 : 0;
        }
        case ROUTE_STICKERPACK_CREATE: {
            if (wa_db_query (db, "SELECT COUNT(*) FROM stickerpacks", s_count_row, self, "") < 0)
                return -1;
            if (self->count >= WA_STICKERPACKS_MAX)
                return s_failed (self, 400, WA_ERR_INVALID, "the cluster holds the most stickerpacks it takes "
                                 "(1000): delete one first");
            char id[WA_STICKERPACK_ID_LEN + 1];
            wa_stickerpack_id (id);
            const wa_stickerpack_t *in = &self->in_pack;
            if (wa_db_exec (db, "INSERT INTO stickerpacks (id, publisher, name, ios_app_store_link, "
                            "android_app_store_link, next_index, created_at, updated_at, updated_by) "
                            "VALUES (?, ?, ?, ?, ?, 1, NOW(6), NOW(6), ?)", "ssssss", id, in->publisher, in->name,
                            in->ios, in->android, self->by) < 0)
                return -1;
            self->status = 201;
            self->result = json_pack ("{s:[{s:s}]}", "stickerpacks", "id", id);
            return 0;
        }
        case ROUTE_STICKERPACK_UPDATE: {
            const wa_stickerpack_t *in = &self->in_pack;
            int64_t rows = wa_db_exec (db, "UPDATE stickerpacks SET publisher = COALESCE(?, publisher), "
                                       "name = COALESCE(?, name), ios_app_store_link = COALESCE(?, ios_app_store_link), "
                                       "android_app_store_link = COALESCE(?, android_app_store_link), "
                                       "updated_at = NOW(6), updated_by = ? WHERE id = ?", "ssssss",
                                       in->has_publisher ? in->publisher : NULL, in->has_name ? in->name : NULL,
                                       in->has_ios ? in->ios : NULL, in->has_android ? in->android : NULL, self->by,
                                       self->pack);
            if (rows == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
            return rows < 0 ? -1 : 0;
        }
        case ROUTE_STICKERPACK_DELETE: {
            if (wa_db_transaction (db, "START TRANSACTION"))
                return -1;
            if (wa_db_exec (db, "DELETE FROM stickers WHERE pack_id = ?", "s", self->pack) < 0)
                return s_db_error (self, db, true);
            int64_t rows = wa_db_exec (db, "DELETE FROM stickerpacks WHERE id = ?", "s", self->pack);
            if (rows < 0)
                return s_db_error (self, db, true);
            if (rows == 0) {
                wa_db_transaction (db, "ROLLBACK");
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
            }
            return wa_db_transaction (db, "COMMIT") ? -1 : 0;
        }
        case ROUTE_STICKERS_LIST: {
            if (wa_db_query (db, SQL_PACK_EXISTS, s_count_row, self, "s", self->pack) < 0)
                return -1;
            if (self->count == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
            json_t *list = json_array ();
            self->result = json_pack ("{s:o}", "stickers", list);
            return wa_db_query (db, "SELECT idx FROM stickers WHERE pack_id = ? ORDER BY idx", s_index_row, list,
                                "s", self->pack) < 0 ? -1 : 0;
        }
        case ROUTE_STICKER_ADD: {
            if (wa_db_transaction (db, "START TRANSACTION"))
                return -1;
            //  The pack's row locked: two adds at once get two indexes.
            self->found = false;
            if (wa_db_query (db, "SELECT (SELECT COUNT(*) FROM stickers WHERE pack_id = ?), next_index "
                             "FROM stickerpacks WHERE id = ? FOR UPDATE", s_count_row, self, "ss", self->pack,
                             self->pack) < 0)
                return s_db_error (self, db, true);
            if (!self->found) {
                wa_db_transaction (db, "ROLLBACK");
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
            }
            if (self->count >= WA_STICKERS_MAX) {
                wa_db_transaction (db, "ROLLBACK");
                return s_failed (self, 400, WA_ERR_INVALID, "a stickerpack holds at most 30 stickers");
            }
            int image = s_check_image (self, db, self->in_sticker.image_data_id);
            if (image) {
                wa_db_transaction (db, "ROLLBACK");
                return image < 0 ? s_db_error (self, db, false) : 0;
            }
            if (wa_db_exec (db, "INSERT INTO stickers (pack_id, idx, image_data_id, emojis, created_at, updated_at) "
                            "VALUES (?, ?, ?, ?, NOW(6), NOW(6))", "siss", self->pack, self->next_index,
                            self->in_sticker.image_data_id, self->in_sticker.emojis) < 0
            ||  wa_db_exec (db, "UPDATE stickerpacks SET next_index = next_index + 1, updated_at = NOW(6), "
                            "updated_by = ? WHERE id = ?", "ss", self->by, self->pack) < 0)
                return s_db_error (self, db, true);
            if (wa_db_transaction (db, "COMMIT"))
                return -1;
            char index[24];
            snprintf (index, sizeof index, "%" PRId64, self->next_index);
            self->status = 201;
            self->result = json_pack ("{s:[{s:s}]}", "stickers", "index", index);
            return 0;
        }
        case ROUTE_STICKER_GET: {
            int64_t rows = wa_db_query (db, "SELECT image_data_id, emojis FROM stickers WHERE pack_id = ? AND idx = ?",
                                        s_sticker_row, self, "si", self->pack, (int64_t) self->index);
            if (rows == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such sticker");
            return rows < 0 ? -1 : 0;
        }
        case ROUTE_STICKER_UPDATE: {
            const wa_sticker_t *in = &self->in_sticker;
            if (in->has_image) {
                int image = s_check_image (self, db, in->image_data_id);
                if (image)
                    return image < 0 ? -1 : 0;
            }
            int64_t rows = wa_db_exec (db, "UPDATE stickers SET image_data_id = COALESCE(?, image_data_id), "
                                       "emojis = COALESCE(?, emojis), updated_at = NOW(6) WHERE pack_id = ? AND idx = ?",
                                       "sssi", in->has_image ? in->image_data_id : NULL,
                                       in->has_emojis ? in->emojis : NULL, self->pack, (int64_t) self->index);
            if (rows == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such sticker");
            return rows < 0 ? -1 : 0;
        }
        case ROUTE_STICKER_DELETE: {
            int64_t rows = wa_db_exec (db, "DELETE FROM stickers WHERE pack_id = ? AND idx = ?", "si", self->pack,
                                       (int64_t) self->index);
            if (rows == 0)
                return s_failed (self, 404, WA_ERR_NOT_FOUND, "no such sticker");
            return rows < 0 ? -1 : 0;
        }
        default:
            return s_failed (self, 500, WA_ERR_INTERNAL, "no handler for this route");
    }
}

static void
s_run (wa_job_t *job, wa_db_t *db)
{
    sticker_state_t *self = web_job_req (job)->extra;
    self->code = 0;
    if (s_run_op (self, db) < 0 && !self->code) {
        snprintf (self->why, sizeof self->why, "database error: %.200s", wa_db_error (db));
        self->status = 500;
        self->code = WA_ERR_DATABASE;
    }
    job->rc = self->code ? -1 : 0;
}

static void
s_done (web_t *self, web_req_t *req)
{
    sticker_state_t *state = req->extra;
    if (state->code) {
        web_fail (self, req, state->status, state->code, "%s", state->why);
        return;
    }
    json_t *envelope = envelope_new ();
    if (state->result)
        json_object_update (envelope, state->result);
    if (state->status != 200 || state->op != ROUTE_STICKERPACKS_LIST)
        wa_debug ("stickers: %s by %s", route_name (state->op), req->caller);
    web_reply (self, req, state->status, envelope);
}

void
stickers_request (web_t *self, web_req_t *req)
{
    route_id_t op = req->route.id;
    bool reads = op == ROUTE_STICKERPACKS_LIST || op == ROUTE_STICKERPACK_GET || op == ROUTE_STICKERS_LIST
              || op == ROUTE_STICKER_GET;
    const char *space = req->http.namespace_;
    if (space && !streq (space, "whatsapp") && !streq (space, "third_party")) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'namespace' must be 'whatsapp' or 'third_party'");
        return;
    }
    bool first_party = space && streq (space, "whatsapp");
    if (first_party && !reads) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'namespace': first-party stickerpacks (whatsapp) cannot be changed");
        return;
    }
    bool has_pack = op != ROUTE_STICKERPACKS_LIST && op != ROUTE_STICKERPACK_CREATE;
    bool has_index = op == ROUTE_STICKER_GET || op == ROUTE_STICKER_UPDATE || op == ROUTE_STICKER_DELETE;
    //  A name no pack or sticker can have: 404, never a query.
    long index = has_index ? wa_sticker_index (req->route.param2) : 0;
    if ((has_pack && (!*req->route.param || strlen (req->route.param) > 64)) || (has_index && !index)) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no such %s", has_index && !index ? "sticker" : "stickerpack");
        return;
    }
    if (first_party) {
        json_t *request = json_pack ("{s:s}", "op", "stickers_firstparty");
        if (has_pack)
            json_object_set_new (request, "pack", json_string (req->route.param));
        if (has_index)
            json_object_set_new (request, "index", json_string (req->route.param2));
        if (op == ROUTE_STICKERS_LIST)
            json_object_set_new (request, "stickers", json_true ());
        web_forward (self, req, COREAPPS_MASTER, request);
        return;
    }
    if (has_pack && !wa_media_id_valid (req->route.param)) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no such stickerpack");
        return;
    }
    sticker_state_t *state = calloc (1, sizeof *state);
    assert (state);
    state->op = op;
    state->index = index;
    snprintf (state->pack, sizeof state->pack, "%s", has_pack ? req->route.param : "");
    snprintf (state->by, sizeof state->by, "%s", req->caller);
    req->extra = state;
    req->extra_free = s_state_free;
    char why[300];
    int code = 0;
    if (op == ROUTE_STICKERPACK_CREATE || op == ROUTE_STICKERPACK_UPDATE)
        code = wa_stickerpack_check (req->input, op == ROUTE_STICKERPACK_CREATE, &state->in_pack, why, sizeof why);
    else
    if (op == ROUTE_STICKER_ADD || op == ROUTE_STICKER_UPDATE)
        code = wa_sticker_check (req->input, op == ROUTE_STICKER_ADD, &state->in_sticker, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    web_db (self, req, s_run, s_done);
}
