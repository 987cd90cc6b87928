/*  fuzz_http_input — a request body as the Webapp reads it
    (src/waweb/input.c): input_parse, then input_string on the fields the
    endpoints take and on every key the body has, into buffers of the
    sizes the endpoints use. */
#include "envelope.h"
#include "input.h"
#include "fuzz.h"

static const char *s_fields[] = {
    "username", "password", "new_password", "role", "to", "type", "cc", "phone_number",
    "method", "cert", "pin", "code", "blocking", NULL
};
static const size_t s_sizes[] = { 1, 5, 33, 65, 129 };

static void
s_field (json_t *input, const char *name)
{
    char why[256];
    for (size_t i = 0; i < sizeof s_sizes / sizeof s_sizes[0]; i++) {
        char out[129];
        memset (out, 'x', sizeof out);
        int code = input_string (input, name, i % 2 == 0, out, s_sizes[i], why, sizeof why);
        FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
        if (code == 0)
            FUZZ_ASSERT (strlen (out) < s_sizes[i]);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *input = NULL;
    char why[256] = "";
    int code = input_parse ((const char *) data, size, &input, why, sizeof why);
    if (code) {
        FUZZ_ASSERT (input == NULL && code == WA_ERR_INVALID && *why);
        return 0;
    }
    if (!input)
        return 0;
    FUZZ_ASSERT (json_is_object (input));
    for (size_t i = 0; s_fields[i]; i++)
        s_field (input, s_fields[i]);
    const char *key;
    json_t *value;
    json_object_foreach (input, key, value)
        s_field (input, key);
    json_decref (input);
    return 0;
}
