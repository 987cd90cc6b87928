/*  idempotency — see idempotency.h */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "idempotency.h"

bool
idempotency_client_valid (const char *value)
{
    size_t len = strlen (value);
    if (len == 0 || len > IDEMPOTENCY_CLIENT_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (value[i] <= ' ' || value[i] > '~')
            return false;
    return true;
}

void
idempotency_key (const char *caller, const char *client, char *key, size_t size)
{
    assert (size >= IDEMPOTENCY_KEY_SIZE);
    unsigned char bytes[16];
    char text[sizeof bytes * 2 + 1];
    if (client) {
        //  The caller's NUL is hashed too: ("ab", "c") and ("a", "bc") differ.
        crypto_generichash_state state;
        crypto_generichash_init (&state, NULL, 0, sizeof bytes);
        crypto_generichash_update (&state, (const unsigned char *) caller, strlen (caller) + 1);
        crypto_generichash_update (&state, (const unsigned char *) client, strlen (client));
        crypto_generichash_final (&state, bytes, sizeof bytes);
        snprintf (key, size, "c.%s", sodium_bin2hex (text, sizeof text, bytes, sizeof bytes));
    }
    else {
        randombytes_buf (bytes, sizeof bytes);
        snprintf (key, size, "w.%s", sodium_bin2hex (text, sizeof text, bytes, sizeof bytes));
    }
}
