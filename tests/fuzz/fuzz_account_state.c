/*  fuzz_account_state — the account-wide state as the Webapp and the
    primary Master check it (src/common/account_state.c): the business
    profile (merged over a stored one), the compliance info, About, the
    two-step PIN, each row as stored (wa_state_value_check) and a backup's
    content before a restore (wa_backup_content_check, its media providers
    by src/common/providers.c). The same bytes as a photo's first bytes.
    What a check takes must pass the stored-value check of its row, and
    every code is 0, 1008 or 1009 with a reason. */
#include <jansson.h>
#include "wa_account_state.h"
#include "wa_errors.h"
#include "wa_providers.h"
#include "fuzz.h"

static const char *const s_rows[] = {
    WA_STATE_PROFILE, WA_STATE_COMPLIANCE, WA_STATE_ABOUT, WA_STATE_TWO_STEP, WA_STATE_PHOTO, NULL
};

static void
s_code (int code, const char *why)
{
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    FUZZ_ASSERT (code == 0 || *why);
}

//  A stored value of a row: its GET answer exists.
static void
s_stored (const char *name, const json_t *value)
{
    char why[400] = "";
    FUZZ_ASSERT (wa_state_value_check (name, value, why, sizeof why) == 0);
    json_t *body = wa_state_body (name, value);
    FUZZ_ASSERT (body);
    json_decref (body);
}

static void
s_checks (const json_t *root)
{
    char why[400] = "";
    json_t *value = NULL;
    //  The profile, on nothing stored and over itself when it is whole.
    int code = wa_state_profile_check (root, NULL, &value, why, sizeof why);
    s_code (code, why);
    FUZZ_ASSERT ((code == 0) == (value != NULL));
    if (value) {
        s_stored (WA_STATE_PROFILE, value);
        json_t *again = NULL;
        FUZZ_ASSERT (wa_state_profile_check (root, value, &again, why, sizeof why) == 0);
        FUZZ_ASSERT (json_equal (again, value));
        json_decref (again);
        json_decref (value);
    }
    why[0] = 0;
    code = wa_state_compliance_check (root, &value, why, sizeof why);
    s_code (code, why);
    FUZZ_ASSERT ((code == 0) == (value != NULL));
    if (value) {
        s_stored (WA_STATE_COMPLIANCE, value);
        FUZZ_ASSERT (json_is_boolean (json_object_get (value, "is_registered")));
        FUZZ_ASSERT (json_is_string (json_object_get (value, "entity_type_custom")));
        json_decref (value);
    }
    why[0] = 0;
    code = wa_state_about_check (root, &value, why, sizeof why);
    s_code (code, why);
    FUZZ_ASSERT ((code == 0) == (value != NULL));
    if (value) {
        s_stored (WA_STATE_ABOUT, value);
        json_decref (value);
    }
    char pin[7];
    why[0] = 0;
    code = wa_state_pin_check (root, pin, why, sizeof why);
    s_code (code, why);
    if (code == 0)
        FUZZ_ASSERT (strlen (pin) == 6 && strspn (pin, "0123456789") == 6);
    //  As each stored row, and as a backup's content.
    for (const char *const *name = s_rows; *name; name++) {
        why[0] = 0;
        code = wa_state_value_check (*name, root, why, sizeof why);
        FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
        if (code == 0)
            s_stored (*name, root);
    }
    why[0] = 0;
    code = wa_backup_content_check (root, why, sizeof why);
    FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
    if (code == 0) {
        //  What a restore writes: each state row and provider as checked.
        const char *key;
        json_t *state;
        json_object_foreach (json_object_get (root, "state"), key, state)
            s_stored (key, state);
        size_t i;
        json_t *provider;
        json_array_foreach (json_object_get (root, "media_providers"), i, provider) {
            FUZZ_ASSERT (wa_providers_name_ok (json_string_value (json_object_get (provider, "name"))));
            FUZZ_ASSERT (strcmp (json_string_value (json_object_get (provider, "type")), "www") == 0);
            json_t *config = json_loads (json_string_value (json_object_get (provider, "config")), 0, NULL);
            FUZZ_ASSERT (json_is_object (config));
            json_decref (config);
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  As the Webapp's bodies (input.c) and the Master's stored rows.
    json_t *root = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (root) {
        s_checks (root);
        //  An object member named as a row: that row's stored value.
        const char *key;
        json_t *value;
        if (json_is_object (root))
            json_object_foreach (root, key, value) {
                char why[400] = "";
                int code = wa_state_value_check (key, value, why, sizeof why);
                FUZZ_ASSERT (code == 0 || (code == WA_ERR_INVALID && *why));
                if (code == 0)
                    s_stored (key, value);
            }
        json_decref (root);
    }
    const char *type = wa_photo_type (data, size);
    FUZZ_ASSERT (!type || size >= 3);
    return 0;
}
