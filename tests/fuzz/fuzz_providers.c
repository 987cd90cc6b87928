/*  fuzz_providers — the media providers' settings (src/common/providers.c)
    as POST /v1/settings/application/media/providers sends them to the
    primary Master, as GET shows them, as a POST keeps a stored credential,
    and as a restore takes a backup's row. What the check takes is
    checked again unchanged (it is what the Master stores), as a backup's
    row it passes, and GET never shows a credential. */
#include <jansson.h>
#include "wa_errors.h"
#include "wa_providers.h"
#include "fuzz.h"

static void
s_stored (json_t *provider, const char *stored_config)
{
    const char *name = json_string_value (json_object_get (provider, "name"));
    const char *type = json_string_value (json_object_get (provider, "type"));
    json_t *config = json_object_get (provider, "config");
    FUZZ_ASSERT (name && wa_providers_name_ok (name) && type && strcmp (type, "www") == 0);
    FUZZ_ASSERT (json_is_object (config) && json_object_size (config) == 1);
    char why[400] = "";
    //  "(set)" takes the stored credential, or is refused with a reason.
    if (wa_providers_keep (config, stored_config, "config", why, sizeof why))
        FUZZ_ASSERT (*why);
    char *text = json_dumps (config, JSON_COMPACT);
    FUZZ_ASSERT (text);
    why[0] = 0;
    int code = wa_providers_row_check (name, type, text, "media_providers[0]", why, sizeof why);
    FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
    if (strlen (text) <= WA_PROVIDERS_CONFIG_MAX)
        FUZZ_ASSERT (code == 0);
    //  GET shows the user name at most, never a password or token.
    json_t *shown = wa_providers_shown (name, type, text);
    FUZZ_ASSERT (shown);
    json_t *shown_config = json_object_get (shown, "config");
    json_t *basic = json_object_get (shown_config, "basic");
    if (basic)
        FUZZ_ASSERT (strcmp (json_string_value (json_object_get (basic, "password")), WA_PROVIDERS_SHOWN) == 0);
    if (json_object_get (shown_config, "bearer"))
        FUZZ_ASSERT (strcmp (json_string_value (json_object_get (shown_config, "bearer")), WA_PROVIDERS_SHOWN) == 0);
    json_decref (shown);
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  The Webapp parses the body (input.c) and forwards it as JSON.
    json_t *root = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (root) {
        json_t *checked = NULL;
        char why[400] = "";
        int code = wa_providers_check (root, &checked, why, sizeof why);
        FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
        FUZZ_ASSERT ((code == 0) == (checked != NULL));
        FUZZ_ASSERT (code == 0 || *why);
        if (checked) {
            size_t count = json_array_size (checked);
            FUZZ_ASSERT (count >= 1 && count <= WA_PROVIDERS_PER_REQUEST);
            json_t *again = NULL;
            FUZZ_ASSERT (wa_providers_check (checked, &again, why, sizeof why) == 0);
            FUZZ_ASSERT (json_equal (again, checked));
            json_decref (again);
            const char *stored = "{\"basic\":{\"username\":\"u\",\"password\":\"p\"}}";
            for (size_t i = 0; i < count; i++)
                s_stored (json_array_get (checked, i), i % 2 ? stored : NULL);
        }
        json_decref (checked);
        //  The same JSON as a stored config (a backup's row, GET of a row).
        char *text = json_dumps (root, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) {
            why[0] = 0;
            code = wa_providers_row_check ("cdn", "www", text, "media_providers[0]", why, sizeof why);
            FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
            json_decref (wa_providers_shown ("cdn", "www", text));
            free (text);
        }
        json_decref (root);
    }
    //  The raw bytes as a stored config and as a name from the path.
    char *text = fuzz_cstr (data, size);
    char why[400] = "";
    int code = wa_providers_row_check (text, "www", text, "media_providers[0]", why, sizeof why);
    FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
    json_decref (wa_providers_shown (text, "www", text));
    if (wa_providers_name_ok (text))
        FUZZ_ASSERT (strlen (text) >= 1 && strlen (text) <= WA_PROVIDERS_NAME_MAX);
    free (text);
    return 0;
}
