/*  fuzz_settings — the settings a Master broadcasts (WA_MSG_SETTINGS), as
    every node reads them (src/common/settings_store.c:
    wa_settings_from_json). Settings that are taken must travel again:
    wa_settings_to_json of the result, read by another node, gives the same
    settings, and wa_settings_differ sees no difference. */
#include <jansson.h>
#include "wa_config.h"
#include "wa_log.h"
#include "wa_settings.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        wa_log_set_level (WA_LOG_ERROR);
        quiet = true;
    }
    char *json = fuzz_cstr (data, size);
    wa_config_t current, out, again;
    wa_config_defaults (&current);
    char err[512] = "";
    if (wa_settings_from_json (json, &current, &out, err, sizeof err) >= 0) {
        FUZZ_ASSERT (wa_config_check (&out, err, sizeof err) == 0);
        char broadcast[2048];           //  as the Master's (master.c)
        FUZZ_ASSERT (wa_settings_to_json (&out, broadcast, sizeof broadcast) == 0);
        //  Over out: a secret the broadcast withholds stays what it was.
        FUZZ_ASSERT (wa_settings_from_json (broadcast, &out, &again, err, sizeof err) >= 0);
        for (int i = 0; wa_config_setting_name (i); i++) {
            char a[WA_CONFIG_STR + 64], b[WA_CONFIG_STR + 64];
            FUZZ_ASSERT (wa_config_get (&out, wa_config_setting_name (i), a, sizeof a) == 0);
            FUZZ_ASSERT (wa_config_get (&again, wa_config_setting_name (i), b, sizeof b) == 0);
            FUZZ_ASSERT (strcmp (a, b) == 0);
        }
        FUZZ_ASSERT (!wa_settings_differ (&out, &again));
        char changes[2048];
        (void) wa_settings_changes (&current, &out, "fuzz", changes, sizeof changes);
    }
    else
        FUZZ_ASSERT (*err);
    free (json);
    return 0;
}
