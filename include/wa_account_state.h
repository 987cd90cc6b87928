/*  wa_account_state — the account-wide state besides the settings, as the
    Webapp, the primary Master and a backup agree on it: the business
    profile, the compliance info, the profile's About text, the two-step
    verification PIN and the profile photo (rows of account_state, each a
    JSON value; conf/migrations/0013), and the backup's sealed format.

    Checks take what a client sent and name the field they refuse: 1008
    when a required one is missing (or null), 1009 for a wrong type or
    value or a member the object does not take. The Webapp runs them to
    answer 400 at once; the primary Master runs them again on what it
    stores (and on a restore's content), because it trusts nothing it
    receives. Limits are the original's (its public documentation).

    The backup (POST /v1/settings/backup, /restore): a JSON object of the
    settings rows, the users with their password hashes, and the state,
    sealed with a key derived from the client's password (Argon2id,
    libsodium's crypto_pwhash, a random salt) by XChaCha20-Poly1305 (AEAD,
    a random nonce, the header as associated data), then base64. Any
    change to a byte (header, salt, nonce, ciphertext or tag), a truncation
    or a wrong password fails the tag: the data cannot be opened, and
    nothing is restored. Pure but for the random salt and nonce. */
#ifndef WA_ACCOUNT_STATE_H
#define WA_ACCOUNT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

//  The rows of account_state.
#define WA_STATE_PROFILE "business_profile"
#define WA_STATE_COMPLIANCE "compliance_info"
#define WA_STATE_ABOUT "about"
#define WA_STATE_TWO_STEP "two_step"
#define WA_STATE_PHOTO "photo"

#define WA_PROFILE_ADDRESS_MAX 256
#define WA_PROFILE_DESCRIPTION_MAX 512
#define WA_PROFILE_EMAIL_MAX 128
#define WA_PROFILE_WEBSITE_MAX 256
#define WA_PROFILE_WEBSITES_MAX 2
#define WA_ABOUT_MAX 139
#define WA_COMPLIANCE_TEXT_MAX 256
#define WA_PIN_HASH_MAX 128
//  The profile photo: a JPEG or a PNG of at most this many bytes.
#define WA_PHOTO_MAX ((size_t) 5 * 1024 * 1024)
//  Bytes of a blob per account_blobs row (base64: 8000 characters).
#define WA_BLOB_CHUNK 6000
//  A backup's plain content (the photo and the rest).
#define WA_BACKUP_CONTENT_MAX ((size_t) 12 * 1024 * 1024)
//  The base64 data a restore takes: the content sealed, and its base64.
#define WA_BACKUP_DATA_MAX (((WA_BACKUP_CONTENT_MAX + 128) / 3 + 1) * 4)
#define WA_BACKUP_PASSWORD_MIN 1
#define WA_BACKUP_PASSWORD_MAX 128
#define WA_BACKUP_VERSION 1

//  POST /v1/settings/business/profile: the fields sent, over current (the
//  stored value, NULL when none). 0 with *merged (a new object of every
//  field) or a code with why.
int wa_state_profile_check (const json_t *input, const json_t *current, json_t **merged, char *why, size_t size);
//  POST /v1/settings/business/compliance_info: the whole object. 0 with
//  *value (a new copy) or a code.
int wa_state_compliance_check (const json_t *input, json_t **value, char *why, size_t size);
//  PATCH /v1/settings/profile/about: {"text"}. 0 with *value or a code.
int wa_state_about_check (const json_t *input, json_t **value, char *why, size_t size);
//  POST /v1/settings/account/two-step: {"pin": "6 digits"}. 0 / code.
int wa_state_pin_check (const json_t *input, char pin[7], char *why, size_t size);
//  A value as stored under name (what the Master writes and a restore
//  brings): 0, or 1009 with why. The profile, compliance and about as
//  their checks take them; two_step {"pin_hash"}; photo {"sha256",
//  "type", "size"}.
int wa_state_value_check (const char *name, const json_t *value, char *why, size_t size);
//  Whether name is one of the rows above.
bool wa_state_name_valid (const char *name);
//  The GET answer of a row in the original's shape (a new object):
//  {"settings":{"business":{"profile":{...}}}}, ...; value NULL when
//  the row does not exist (the empty profile, About "", ...).
json_t *wa_state_body (const char *name, const json_t *value);

//  The type of a photo by its first bytes: "image/jpeg", "image/png", or
//  NULL for anything else.
const char *wa_photo_type (const unsigned char *bytes, size_t len);

//  Seal content (len bytes) with password: a malloc'd base64 text (its
//  length in *out_len), or NULL (out of memory, or a key that could not be
//  derived: not enough memory for Argon2id).
char *wa_backup_seal (const char *password, const void *content, size_t len, size_t *out_len);
//  Open data (base64, len characters) with password: 0 with *content
//  (malloc'd, NUL-terminated, *content_len bytes); -1 when data is no
//  backup (not base64, too short, another format or version), -2 when it
//  does not open (a wrong password, or damaged), -3 out of memory; why
//  says which for the client.
int wa_backup_open (const char *password, const char *data, size_t len, char **content, size_t *content_len,
                    char *why, size_t size);
//  A backup's content, checked whole before anything is restored:
//  {"version":1, "settings":{name: text}, "users":[{"username",
//  "password_hash", "role", "must_change"}], "state":{name: value},
//  "photo":{"type", "data" (base64)} or absent, "media_providers":[{"name",
//  "type", "config"}] or absent, each row what a POST would have stored:
//  wa_providers_row_check, names once}. 0, or 1009 with why naming the
//  field. Settings names and values are left to the restorer (wa_config_set).
int wa_backup_content_check (const json_t *content, char *why, size_t size);

//  account_blobs (needs a wa_db_t: the DB workers').
typedef struct wa_db_t wa_db_t;
//  Store bytes as the blob of their SHA-256 (hex, into sha256 when not
//  NULL), in chunks, each row inserted unless it exists. Not atomic by
//  itself: a reader checks the whole (wa_blob_load). 0 / -1.
int wa_blob_store (wa_db_t *db, const char *kind, const char *type, const void *bytes, size_t len,
                   char sha256[65]);
//  The blob sha256 of kind: 0 with *bytes (malloc'd, *len bytes) and its
//  type (type_size bytes, may be NULL); 1 when there is none, or it is not
//  whole (a chunk missing, a hash that does not match); -1 on a database
//  error.
int wa_blob_load (wa_db_t *db, const char *kind, const char *sha256, unsigned char **bytes, size_t *len,
                  char *type, size_t type_size);
//  The SHA-256 of bytes as hex.
void wa_sha256_hex (const void *bytes, size_t len, char hex[65]);

//  What the two above do without the database. No blob is larger than a
//  backup's data (a row saying more is damaged).
#define WA_BLOB_MAX WA_BACKUP_DATA_MAX
//  The rows of bytes as wa_blob_store writes them: row (seq from 0, data
//  the chunk's base64) for each chunk in order, one for no bytes; stops at
//  the first non-zero answer of row, and returns it (else 0).
int wa_blob_chunks (const void *bytes, size_t len, int (*row) (void *arg, int64_t seq, const char *data), void *arg);
//  A blob read back from its rows, in seq order (zeroed to start).
typedef struct {
    unsigned char *bytes;
    size_t len;
    size_t size;
    int64_t next;
    char type[64];
    bool broken;
} wa_blob_reader_t;
//  One row (type and data may be NULL, as a NULL column reads): 0, or 1
//  once the blob is broken (a row missing or out of order, another size,
//  a size over WA_BLOB_MAX, data that is not base64 or overflows it).
int wa_blob_reader_row (wa_blob_reader_t *self, int64_t seq, const char *type, int64_t size, const char *data);
//  The end: 0 with *bytes (malloc'd, NUL-terminated, *len bytes) and its
//  type (type_size bytes; type may be NULL) when it is whole and its
//  SHA-256 is sha256, else 1. The reader holds nothing after.
int wa_blob_reader_end (wa_blob_reader_t *self, const char *sha256, unsigned char **bytes, size_t *len, char *type,
                        size_t type_size);

#endif
