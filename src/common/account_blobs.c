/*  account_blobs — see wa_account_state.h (account_blobs, migration 0013).
    A blob is base64 in rows of WA_BLOB_CHUNK bytes each, because the
    client library reads every column into a buffer of 8 KiB (wa_db). */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "wa_account_state.h"
#include "wa_db.h"
#include "wa_log.h"

static const char *SQL_CHUNK =
    "INSERT IGNORE INTO account_blobs (sha256, seq, kind, content_type, size, data, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, NOW(6))";
static const char *SQL_LOAD =
    "SELECT seq, content_type, size, data FROM account_blobs WHERE sha256 = ? AND kind = ? ORDER BY seq";

void
wa_sha256_hex (const void *bytes, size_t len, char hex[65])
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, bytes, len);
    sodium_bin2hex (hex, 65, hash, sizeof hash);
}

int
wa_blob_chunks (const void *bytes, size_t len, int (*row) (void *arg, int64_t seq, const char *data), void *arg)
{
    char chunk[sodium_base64_ENCODED_LEN (WA_BLOB_CHUNK, sodium_base64_VARIANT_ORIGINAL)];
    int64_t seq = 0;
    size_t at = 0;
    do {
        size_t part = len - at < WA_BLOB_CHUNK ? len - at : WA_BLOB_CHUNK;
        sodium_bin2base64 (chunk, sizeof chunk, (const unsigned char *) bytes + at, part,
                           sodium_base64_VARIANT_ORIGINAL);
        int rc = row (arg, seq++, chunk);
        if (rc)
            return rc;
        at += part;
    } while (at < len);
    return 0;
}

typedef struct {
    wa_db_t *db;
    const char *hex;
    const char *kind;
    const char *type;
    size_t len;
} store_t;

static int
s_store_row (void *arg, int64_t seq, const char *data)
{
    store_t *store = arg;
    return wa_db_exec (store->db, SQL_CHUNK, "sissis", store->hex, seq, store->kind, store->type,
                       (int64_t) store->len, data) < 0 ? -1 : 0;
}

int
wa_blob_store (wa_db_t *db, const char *kind, const char *type, const void *bytes, size_t len, char sha256[65])
{
    char hex[65];
    wa_sha256_hex (bytes, len, hex);
    if (sha256)
        memcpy (sha256, hex, sizeof hex);
    store_t store = { db, hex, kind, type, len };
    return wa_blob_chunks (bytes, len, s_store_row, &store);
}

int
wa_blob_reader_row (wa_blob_reader_t *self, int64_t seq, const char *type, int64_t size, const char *data)
{
    if (self->broken)
        return 1;
    //  Rows in order from 0, each saying the same size, no larger than a
    //  blob can be (a damaged row's size is never allocated).
    if (seq != self->next || size < 0 || (uint64_t) size > WA_BLOB_MAX
    ||  (self->next > 0 && (size_t) size != self->size)) {
        self->broken = true;
        return 1;
    }
    if (!self->bytes) {
        self->size = (size_t) size;
        self->bytes = malloc (self->size + 1);
        snprintf (self->type, sizeof self->type, "%s", type ? type : "");
        if (!self->bytes) {
            self->broken = true;
            return 1;
        }
    }
    size_t part = 0;
    if (!data || sodium_base642bin (self->bytes + self->len, self->size - self->len + 1, data, strlen (data), NULL,
                                    &part, NULL, sodium_base64_VARIANT_ORIGINAL) || part > WA_BLOB_CHUNK) {
        self->broken = true;
        return 1;
    }
    self->len += part;
    self->next++;
    return 0;
}

int
wa_blob_reader_end (wa_blob_reader_t *self, const char *sha256, unsigned char **bytes, size_t *len, char *type,
                    size_t type_size)
{
    *bytes = NULL;
    *len = 0;
    char hex[65] = "";
    if (!self->broken && self->bytes && self->len == self->size)
        wa_sha256_hex (self->bytes, self->len, hex);
    if (self->broken || !self->bytes || self->len != self->size || strcmp (hex, sha256) != 0) {
        free (self->bytes);
        memset (self, 0, sizeof *self);
        return 1;
    }
    self->bytes[self->len] = 0;
    *bytes = self->bytes;
    *len = self->len;
    if (type)
        snprintf (type, type_size, "%s", self->type);
    memset (self, 0, sizeof *self);
    return 0;
}

static int
s_chunk_row (const wa_db_row_t *row, void *arg)
{
    return wa_blob_reader_row (arg, wa_db_row_int (row, 0), wa_db_row_str (row, 1), wa_db_row_int (row, 2),
                               wa_db_row_str (row, 3));
}

int
wa_blob_load (wa_db_t *db, const char *kind, const char *sha256, unsigned char **bytes, size_t *len,
              char *type, size_t type_size)
{
    *bytes = NULL;
    *len = 0;
    wa_blob_reader_t reader = { 0 };
    int64_t rows = wa_db_query (db, SQL_LOAD, s_chunk_row, &reader, "ss", sha256, kind);
    if (rows < 0) {
        free (reader.bytes);
        return -1;
    }
    return wa_blob_reader_end (&reader, sha256, bytes, len, type, type_size);
}
