/*  fuzz_app_settings — the body of PATCH /v1/settings/application as the
    primary Master checks it (src/wamaster/appsettings.c) over the default
    settings, and the GET body of what it took. A change that is taken
    must travel: each changed setting's text reads back the same
    (wa_config_get, wa_config_set), and the GET answer, as the Master
    encodes it, PATCHed back over the result is taken and changes nothing.
    A refusal has a code, a status and a reason. */
#include <jansson.h>
#include "wa_config.h"
#include "wa_errors.h"
#include "wa_log.h"
#include "appsettings.h"
#include "fuzz.h"

static void
s_same (const wa_config_t *a, const wa_config_t *b)
{
    for (int i = 0; wa_config_setting_name (i); i++) {
        char x[WA_CONFIG_STR + 64], y[WA_CONFIG_STR + 64];
        FUZZ_ASSERT (wa_config_get (a, wa_config_setting_name (i), x, sizeof x) == 0);
        FUZZ_ASSERT (wa_config_get (b, wa_config_setting_name (i), y, sizeof y) == 0);
        if (strcmp (x, y) != 0) {
            fprintf (stderr, "fuzz: %s: '%s' came back as '%s'\n", wa_config_setting_name (i), x, y);
            FUZZ_ASSERT (strcmp (x, y) == 0);
        }
    }
}

static void
s_taken (const wa_config_t *current, const wa_config_t *out, uint64_t changed)
{
    char err[768];
    for (int i = 0; wa_config_setting_name (i); i++) {
        const char *name = wa_config_setting_name (i);
        char text[WA_CONFIG_STR + 64], again[WA_CONFIG_STR + 64], before[WA_CONFIG_STR + 64];
        FUZZ_ASSERT (wa_config_get (out, name, text, sizeof text) == 0);
        if (!(changed & ((uint64_t) 1 << i))) {
            FUZZ_ASSERT (wa_config_get (current, name, before, sizeof before) == 0);
            FUZZ_ASSERT (strcmp (text, before) == 0);
            continue;
        }
        //  The text a changed setting is stored as reads back as itself.
        wa_config_t copy = *out;
        FUZZ_ASSERT (wa_config_set (&copy, name, text, err, sizeof err) == 0);
        FUZZ_ASSERT (wa_config_get (&copy, name, again, sizeof again) == 0);
        if (strcmp (text, again) != 0) {
            fprintf (stderr, "fuzz: %s: stored '%s', read back '%s'\n", name, text, again);
            FUZZ_ASSERT (strcmp (text, again) == 0);
        }
    }
    //  GET's answer as the Master encodes it (api.c), PATCHed back.
    json_t *body = appsettings_body (out);
    FUZZ_ASSERT (body);
    char *text = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION (15));
    FUZZ_ASSERT (text);
    json_decref (body);
    json_t *read = json_loads (text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_ASSERT (read);
    json_t *application = json_object_get (json_object_get (read, "settings"), "application");
    wa_config_t again;
    uint64_t changed_again = 0;
    int status = 0;
    char why[1024] = "";
    int code = appsettings_check (out, application, &again, &changed_again, &status, why, sizeof why);
    if (code)
        fprintf (stderr, "fuzz: GET's answer %s PATCHed back: %s\n", text, why);
    FUZZ_ASSERT (code == 0);
    s_same (out, &again);
    json_decref (read);
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        wa_log_set_level (WA_LOG_ERROR);
        quiet = true;
    }
    //  As the Webapp parses a body (input.c) and the Master the frame.
    json_t *changes = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!changes)
        return 0;
    wa_config_t current, out;
    wa_config_defaults (&current);
    uint64_t changed = 0;
    int status = 0;
    char why[1024] = "";
    int code = appsettings_check (&current, changes, &out, &changed, &status, why, sizeof why);
    if (code == 0) {
        FUZZ_ASSERT (changed != 0 || json_object_size (changes) > 0);
        s_taken (&current, &out, changed);
    }
    else {
        FUZZ_ASSERT (*why);
        FUZZ_ASSERT ((status == 400 && (code == WA_ERR_MISSING || code == WA_ERR_INVALID))
                     || (status == 500 && code == WA_ERR_INTERNAL));
    }
    json_decref (changes);
    return 0;
}
