/*  fuzz_account — the account's requests as the Webapp, the primary Master,
    the Coreapps and wagate check them (src/common/account_checks.c):
    registration, verification, the shard count and contact checks, and
    the same bytes as a certificate and as one contact. */
#include <jansson.h>
#include "wa_account.h"
#include "wa_errors.h"
#include "fuzz.h"

static void
s_json (const uint8_t *data, size_t size)
{
    json_t *root = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return;
    char why[256];
    wa_registration_t reg;
    int code = wa_account_register_check (root, &reg, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0) {
        FUZZ_ASSERT (strlen (reg.cc) + strlen (reg.phone_number) <= WA_ACCOUNT_NUMBER_MAX);
        char vname[WA_ACCOUNT_VNAME_MAX + 1];
        FUZZ_ASSERT (wa_account_cert_vname (reg.cert, vname, sizeof vname) == 0);
        FUZZ_ASSERT (strcmp (vname, reg.vname) == 0);
    }
    char verify[WA_ACCOUNT_CODE_LEN + 1];
    code = wa_account_verify_check (root, verify, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0)
        FUZZ_ASSERT (strlen (verify) == WA_ACCOUNT_CODE_LEN);
    wa_shards_request_t shards;
    code = wa_account_shards_check (root, &shards, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0)
        FUZZ_ASSERT (shards.shards >= 1 && shards.shards <= 32 && (shards.shards & (shards.shards - 1)) == 0);
    wa_contacts_t contacts;
    code = wa_contacts_check (root, &contacts, why, sizeof why);
    FUZZ_ASSERT (code == 0 || code == WA_ERR_MISSING || code == WA_ERR_INVALID);
    if (code == 0) {
        FUZZ_ASSERT (contacts.count <= WA_CONTACTS_MAX);
        for (size_t i = 0; i < contacts.count; i++) {
            char digits[WA_CONTACT_DIGITS_MAX + 1];
            FUZZ_ASSERT (contacts.contacts[i]);
            (void) wa_contact_digits (contacts.contacts[i], digits);
        }
    }
    json_decref (root);
}

static void
s_text (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr (data, size);
    char vname[WA_ACCOUNT_VNAME_MAX + 1];
    if (wa_account_cert_vname (text, vname, sizeof vname) == 0)
        FUZZ_ASSERT (*vname && strlen (vname) <= WA_ACCOUNT_VNAME_MAX);
    char small[3];
    (void) wa_account_cert_vname (text, small, sizeof small);
    char digits[WA_CONTACT_DIGITS_MAX + 1];
    if (wa_contact_digits (text, digits) == 0) {
        size_t n = strlen (digits);
        FUZZ_ASSERT (n >= 1 && n <= WA_CONTACT_DIGITS_MAX && strspn (digits, "0123456789") == n);
    }
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_json (data, size);
    s_text (data, size);
    return 0;
}
