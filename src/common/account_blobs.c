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
wa_blob_store (wa_db_t *db, const char *kind, const char *type, const void *bytes, size_t len, char sha256[65])
{
    char hex[65];
    wa_sha256_hex (bytes, len, hex);
    if (sha256)
        memcpy (sha256, hex, sizeof hex);
    char chunk[sodium_base64_ENCODED_LEN (WA_BLOB_CHUNK, sodium_base64_VARIANT_ORIGINAL)];
    size_t seq = 0;
    for (size_t at = 0; at < len || (len == 0 && seq == 0); at += WA_BLOB_CHUNK, seq++) {
        size_t part = len - at < WA_BLOB_CHUNK ? len - at : WA_BLOB_CHUNK;
        sodium_bin2base64 (chunk, sizeof chunk, (const unsigned char *) bytes + at, part,
                           sodium_base64_VARIANT_ORIGINAL);
        if (wa_db_exec (db, SQL_CHUNK, "sissis", hex, (int64_t) seq, kind, type, (int64_t) len, chunk) < 0)
            return -1;
        if (len == 0)
            break;
    }
    return 0;
}

typedef struct {
    unsigned char *bytes;
    size_t len;
    size_t size;
    int64_t next;
    char type[64];
    bool broken;
} load_t;

static int
s_chunk_row (const wa_db_row_t *row, void *arg)
{
    load_t *load = arg;
    if (load->broken)
        return 1;
    int64_t size = wa_db_row_int (row, 2);
    if (wa_db_row_int (row, 0) != load->next || size < 0 || (load->size && (size_t) size != load->size)) {
        load->broken = true;
        return 1;
    }
    if (!load->bytes) {
        load->size = (size_t) size;
        load->bytes = malloc (load->size + 1);
        snprintf (load->type, sizeof load->type, "%s", wa_db_row_str (row, 1));
        if (!load->bytes) {
            load->broken = true;
            return 1;
        }
    }
    const char *text = wa_db_row_str (row, 3);
    size_t part = 0;
    if (sodium_base642bin (load->bytes + load->len, load->size - load->len + 1, text, strlen (text), NULL, &part,
                           NULL, sodium_base64_VARIANT_ORIGINAL) || part > WA_BLOB_CHUNK) {
        load->broken = true;
        return 1;
    }
    load->len += part;
    load->next++;
    return 0;
}

int
wa_blob_load (wa_db_t *db, const char *kind, const char *sha256, unsigned char **bytes, size_t *len,
              char *type, size_t type_size)
{
    *bytes = NULL;
    *len = 0;
    load_t load = { NULL, 0, 0, 0, "", false };
    int64_t rows = wa_db_query (db, SQL_LOAD, s_chunk_row, &load, "ss", sha256, kind);
    if (rows < 0) {
        free (load.bytes);
        return -1;
    }
    char hex[65] = "";
    if (!load.broken && load.bytes && load.len == load.size)
        wa_sha256_hex (load.bytes, load.len, hex);
    if (rows == 0 || load.broken || !load.bytes || load.len != load.size || strcmp (hex, sha256) != 0) {
        free (load.bytes);
        return 1;
    }
    load.bytes[load.len] = 0;
    *bytes = load.bytes;
    *len = load.len;
    if (type)
        snprintf (type, type_size, "%s", load.type);
    return 0;
}
