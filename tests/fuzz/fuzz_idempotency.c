/*  fuzz_idempotency — the Idempotency-Key header of POST /v1/messages as
    the Webapp takes it (src/waweb/idempotency.c): the input is the caller
    (up to the first newline, at most a user name's 39 bytes) and the
    header's value. A key taken is printable ASCII of at most 64 bytes;
    the request's key is "c." and 32 hex digits, a usable idempotency key
    for the Coreapp (wa_message_key_valid), the same for the same caller
    and header, another for another caller. */
#include "wa_message.h"
#include "idempotency.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    char caller[40] = "admin";
    const char *value = text;
    char *newline = strchr (text, '\n');
    if (newline && (size_t) (newline - text) < sizeof caller) {
        memcpy (caller, text, (size_t) (newline - text));
        caller[newline - text] = 0;
        value = newline + 1;
    }
    if (idempotency_client_valid (value)) {
        size_t len = strlen (value);
        FUZZ_ASSERT (len >= 1 && len <= IDEMPOTENCY_CLIENT_MAX);
        for (size_t i = 0; i < len; i++)
            FUZZ_ASSERT (value[i] > ' ' && value[i] <= '~');
        char key[IDEMPOTENCY_KEY_SIZE], again[IDEMPOTENCY_KEY_SIZE], other[IDEMPOTENCY_KEY_SIZE];
        idempotency_key (caller, value, key, sizeof key);
        FUZZ_ASSERT (strlen (key) == IDEMPOTENCY_KEY_SIZE - 1 && strncmp (key, "c.", 2) == 0);
        FUZZ_ASSERT (strspn (key + 2, "0123456789abcdef") == 32);
        FUZZ_ASSERT (wa_message_key_valid (key));
        idempotency_key (caller, value, again, sizeof again);
        FUZZ_ASSERT (strcmp (key, again) == 0);
        idempotency_key (strcmp (caller, "admin") ? "admin" : "user1", value, other, sizeof other);
        FUZZ_ASSERT (strcmp (key, other) != 0);
    }
    else {
        size_t len = strlen (value);
        bool printable = len >= 1 && len <= IDEMPOTENCY_CLIENT_MAX;
        for (size_t i = 0; i < len && printable; i++)
            printable = value[i] > ' ' && value[i] <= '~';
        FUZZ_ASSERT (!printable);
    }
    free (text);
    return 0;
}
