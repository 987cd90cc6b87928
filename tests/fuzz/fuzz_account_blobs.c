/*  fuzz_account_blobs — a blob in account_blobs rows (the profile photo, a
    staged restore: src/common/account_blobs.c) as the reader puts it back
    together. The first byte chooses: even, the rest are bytes stored in
    chunks (wa_blob_chunks) and read back, whole, with a row left out or
    with a row's data changed; odd, the rest are rows as a damaged table
    could hold them, one a line: "seq size type data". Whole rows give the
    bytes back with their type; anything else is refused, never read past
    and never allocated at the size a row claims past WA_BLOB_MAX. */
#include <inttypes.h>
#include "wa_account_state.h"
#include "fuzz.h"

#define ROWS_MAX 8

typedef struct {
    char *data[ROWS_MAX];
    int count;
} rows_t;

static int
s_row (void *arg, int64_t seq, const char *data)
{
    rows_t *rows = arg;
    FUZZ_ASSERT (seq == rows->count);
    if (rows->count == ROWS_MAX)
        return 1;
    rows->data[rows->count++] = strdup (data);
    return 0;
}

//  Read rows back, leaving out skip (-1: none); 0 with the bytes, or 1.
static int
s_read (rows_t *rows, size_t size, const char *sha, int skip, unsigned char **bytes, size_t *len, char type[64])
{
    wa_blob_reader_t reader = { 0 };
    for (int i = 0; i < rows->count; i++)
        if (i != skip)
            (void) wa_blob_reader_row (&reader, i, "image/png", (int64_t) size, rows->data[i]);
    return wa_blob_reader_end (&reader, sha, bytes, len, type, 64);
}

static void
s_stored (const uint8_t *data, size_t size, uint8_t choice)
{
    rows_t rows = { { 0 }, 0 };
    if (wa_blob_chunks (data, size, s_row, &rows))
        goto done;                      //  more rows than kept: not this harness's sizes
    FUZZ_ASSERT (rows.count == (int) (size ? (size + WA_BLOB_CHUNK - 1) / WA_BLOB_CHUNK : 1));
    char sha[65], type[64];
    wa_sha256_hex (data, size, sha);
    unsigned char *bytes = NULL;
    size_t len = 0;
    FUZZ_ASSERT (s_read (&rows, size, sha, -1, &bytes, &len, type) == 0);
    FUZZ_ASSERT (len == size && (size == 0 || memcmp (bytes, data, size) == 0) && bytes[len] == 0);
    FUZZ_ASSERT (strcmp (type, "image/png") == 0);
    free (bytes);
    //  A row missing: never whole.
    FUZZ_ASSERT (s_read (&rows, size, sha, choice % rows.count, &bytes, &len, type) == 1 && !bytes);
    //  A row's data changed: refused, or other bytes that the hash tells.
    char *row = rows.data[choice % rows.count];
    if (*row) {
        row[(choice / 2) % strlen (row)] ^= 1;
        FUZZ_ASSERT (s_read (&rows, size, sha, -1, &bytes, &len, type) == 1 && !bytes);
    }
done:
    for (int i = 0; i < rows.count; i++)
        free (rows.data[i]);
}

static void
s_damaged (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    wa_blob_reader_t reader = { 0 };
    bool broken = false;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        int64_t seq = 0, claimed = 0;
        char type[80] = "";
        int used = 0;
        if (sscanf (line, "%" SCNd64 " %" SCNd64 " %79s %n", &seq, &claimed, type, &used) < 3)
            continue;
        broken |= wa_blob_reader_row (&reader, seq, type, claimed, line + used) != 0;
    }
    //  The hash of what was read, when whole: then it must be given back.
    char sha[65] = "";
    bool whole = !broken && reader.bytes && reader.len == reader.size;
    if (whole)
        wa_sha256_hex (reader.bytes, reader.len, sha);
    size_t expect = reader.len;
    unsigned char *bytes = NULL;
    size_t len = 0;
    char type[64];
    int rc = wa_blob_reader_end (&reader, sha, &bytes, &len, type, sizeof type);
    FUZZ_ASSERT (rc == (whole ? 0 : 1));
    FUZZ_ASSERT (!whole || (bytes && len == expect && len <= WA_BLOB_MAX && bytes[len] == 0));
    FUZZ_ASSERT (reader.bytes == NULL);
    free (bytes);
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        s_stored (data + 1, size - 1, data[0]);
    else
        s_damaged (data + 1, size - 1);
    return 0;
}
