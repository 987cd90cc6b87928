/*  fuzz_http_auth — the Authorization header (src/waweb/auth.c): Basic and
    Bearer parsing into the buffers the Webapp uses, then the checks on
    what they yield (username, password, token hash). */
#include "auth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *header = fuzz_cstr (data, size);
    char user[AUTH_USERNAME_MAX + 1], pass[AUTH_PASSWORD_MAX + 1];
    if (auth_basic_parse (header, user, sizeof user, pass, sizeof pass) == 0) {
        FUZZ_ASSERT (strlen (user) < sizeof user && strlen (pass) < sizeof pass);
        FUZZ_ASSERT (strchr (user, ':') == NULL);
        (void) auth_username_valid (user);
        (void) auth_password_problem (pass);
    }
    //  A one-byte buffer: nothing fits, and nothing is written past it.
    char tiny_user[1], tiny_pass[1];
    FUZZ_ASSERT (auth_basic_parse (header, tiny_user, sizeof tiny_user, tiny_pass, sizeof tiny_pass) == -1);
    //  As web.c: one byte more than a token, so a longer one is seen (and
    //  refused there by its length).
    char token[AUTH_TOKEN_LEN + 2];
    if (auth_bearer_parse (header, token, sizeof token) == 0) {
        FUZZ_ASSERT (*token && strlen (token) < sizeof token);
        FUZZ_ASSERT (strspn (token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen (token));
        char hex[AUTH_TOKEN_HASH_LEN + 1];
        auth_token_hash (token, hex);
        FUZZ_ASSERT (strlen (hex) == AUTH_TOKEN_HASH_LEN);
    }
    //  The raw text as a username or password (POST /v1/users, PUT).
    (void) auth_username_valid (header);
    (void) auth_password_problem (header);
    free (header);
    return 0;
}
