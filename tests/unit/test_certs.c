/*  Unit tests for wa_certs: what POST /v1/certificates/external and
    /v1/certificates/webhooks/ca accept and refuse. The certificates are
    made here with GnuTLS: a CA, a server certificate it signs, and the
    ways an upload goes wrong (no key, another key, expired, not yet
    valid, no CA, the wrong order, a CA that is not one, garbage). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "wa_errors.h"
#include "wa_certs.h"

#define DAY 86400

typedef struct {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    char *key_pem;
    char *crt_pem;
} pair_t;

static char *
s_pem (gnutls_datum_t *datum)
{
    char *text = calloc (1, datum->size + 1);
    memcpy (text, datum->data, datum->size);
    gnutls_free (datum->data);
    return text;
}

//  A key and a certificate named cn, valid from..until (relative to now),
//  signed by issuer (NULL: self-signed), a CA when ca.
static pair_t *
s_make (const char *cn, bool ca, time_t from, time_t until, pair_t *issuer)
{
    pair_t *self = calloc (1, sizeof *self);
    time_t now = time (NULL);
    assert_int_equal (gnutls_x509_privkey_init (&self->key), 0);
    assert_int_equal (gnutls_x509_privkey_generate (self->key, GNUTLS_PK_ECDSA,
                                                    GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    assert_int_equal (gnutls_x509_crt_init (&self->crt), 0);
    unsigned char serial[8] = { 1, 2, 3, 4, 5, 6, 7, (unsigned char) (rand () & 0x7f) };
    gnutls_x509_crt_set_version (self->crt, 3);
    gnutls_x509_crt_set_serial (self->crt, serial, sizeof serial);
    gnutls_x509_crt_set_activation_time (self->crt, now + from);
    gnutls_x509_crt_set_expiration_time (self->crt, now + until);
    gnutls_x509_crt_set_dn_by_oid (self->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned) strlen (cn));
    gnutls_x509_crt_set_basic_constraints (self->crt, ca ? 1 : 0, -1);
    gnutls_x509_crt_set_key_usage (self->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                                  : GNUTLS_KEY_DIGITAL_SIGNATURE);
    gnutls_x509_crt_set_subject_alt_name (self->crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_SET);
    assert_int_equal (gnutls_x509_crt_set_key (self->crt, self->key), 0);
    assert_int_equal (gnutls_x509_crt_sign2 (self->crt, issuer ? issuer->crt : self->crt,
                                             issuer ? issuer->key : self->key, GNUTLS_DIG_SHA256, 0), 0);
    gnutls_datum_t datum;
    //  PKCS #8, as openssl writes keys (and odd ones out in the other form).
    static int keys;
    if (keys++ % 2)
        assert_int_equal (gnutls_x509_privkey_export2 (self->key, GNUTLS_X509_FMT_PEM, &datum), 0);
    else
        assert_int_equal (gnutls_x509_privkey_export2_pkcs8 (self->key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                                             &datum), 0);
    self->key_pem = s_pem (&datum);
    assert_int_equal (gnutls_x509_crt_export2 (self->crt, GNUTLS_X509_FMT_PEM, &datum), 0);
    self->crt_pem = s_pem (&datum);
    return self;
}

static void
s_free (pair_t *self)
{
    gnutls_x509_crt_deinit (self->crt);
    gnutls_x509_privkey_deinit (self->key);
    free (self->key_pem);
    free (self->crt_pem);
    free (self);
}

//  The parts concatenated.
static char *
s_cat (const char *a, const char *b, const char *c, const char *d)
{
    size_t len = strlen (a) + strlen (b) + strlen (c) + strlen (d);
    char *text = malloc (len + 1);
    snprintf (text, len + 1, "%s%s%s%s", a, b, c, d);
    return text;
}

static int
s_external (const char *text, const char *needle)
{
    wa_certs_t out;
    char why[512] = "";
    int code = wa_certs_check_external (text, text ? strlen (text) : 0, time (NULL), &out, why, sizeof why);
    if (code == 0) {
        assert_non_null (out.pem);
        assert_non_null (out.ca_pem);
        wa_certs_free (&out);
    }
    else {
        assert_null (out.pem);
        if (needle && !strstr (why, needle))
            fail_msg ("'%s' does not hold '%s'", why, needle);
    }
    return code;
}

static void
test_external (void **state)
{
    (void) state;
    pair_t *ca = s_make ("Test CA", true, -DAY, 30 * DAY, NULL);
    pair_t *server = s_make ("localhost", false, -DAY, 10 * DAY, ca);
    pair_t *other = s_make ("other", false, -DAY, 10 * DAY, ca);
    pair_t *old = s_make ("old", false, -10 * DAY, -DAY, ca);
    pair_t *future = s_make ("future", false, DAY, 10 * DAY, ca);
    pair_t *leafca = s_make ("notca", false, -DAY, 10 * DAY, NULL);
    pair_t *under = s_make ("under", false, -DAY, 10 * DAY, leafca);

    //  The original's order: key, certificate, CA. With openssl's bag
    //  attributes around the blocks too.
    char *good = s_cat (server->key_pem, server->crt_pem, "subject=CN = Test CA\n", ca->crt_pem);
    assert_int_equal (s_external (good, NULL), 0);
    wa_certs_t out;
    char why[512];
    assert_int_equal (wa_certs_check_external (good, strlen (good), time (NULL), &out, why, sizeof why), 0);
    assert_int_equal (out.certs, 2);
    assert_string_equal (out.subject, "CN=localhost");
    assert_non_null (strstr (out.pem, "PRIVATE KEY"));
    assert_null (strstr (out.pem, "subject="));
    assert_null (strstr (out.ca_pem, "PRIVATE KEY"));
    assert_string_equal (out.ca_pem, ca->crt_pem);
    assert_int_equal (strlen (out.fingerprint), 95);
    wa_certs_free (&out);
    //  The key after the certificates is still the key.
    char *key_last = s_cat (server->crt_pem, ca->crt_pem, server->key_pem, "");
    assert_int_equal (s_external (key_last, NULL), 0);

    char *no_key = s_cat (server->crt_pem, ca->crt_pem, "", "");
    assert_int_equal (s_external (no_key, "no private key"), WA_ERR_MISSING);
    char *no_ca = s_cat (server->key_pem, server->crt_pem, "", "");
    assert_int_equal (s_external (no_ca, "no CA certificate"), WA_ERR_MISSING);
    char *wrong_key = s_cat (other->key_pem, server->crt_pem, ca->crt_pem, "");
    assert_int_equal (s_external (wrong_key, "does not match"), WA_ERR_INVALID);
    char *expired = s_cat (old->key_pem, old->crt_pem, ca->crt_pem, "");
    assert_int_equal (s_external (expired, "expired on"), WA_ERR_INVALID);
    char *not_yet = s_cat (future->key_pem, future->crt_pem, ca->crt_pem, "");
    assert_int_equal (s_external (not_yet, "not valid before"), WA_ERR_INVALID);
    char *reversed = s_cat (server->key_pem, ca->crt_pem, server->crt_pem, "");
    assert_int_equal (s_external (reversed, "does not match"), WA_ERR_INVALID);
    char *wrong_ca = s_cat (server->key_pem, server->crt_pem, other->crt_pem, "");
    assert_int_equal (s_external (wrong_ca, "was not issued by"), WA_ERR_INVALID);
    char *not_ca = s_cat (under->key_pem, under->crt_pem, leafca->crt_pem, "");
    assert_int_equal (s_external (not_ca, "not a CA"), WA_ERR_INVALID);
    char *two_keys = s_cat (server->key_pem, server->key_pem, server->crt_pem, ca->crt_pem);
    assert_int_equal (s_external (two_keys, "more than one private key"), WA_ERR_INVALID);

    assert_int_equal (s_external ("", "empty"), WA_ERR_MISSING);
    assert_int_equal (s_external ("hello", "no PEM block"), WA_ERR_INVALID);
    assert_int_equal (s_external ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                  "cannot be parsed"), WA_ERR_INVALID);
    assert_int_equal (s_external ("-----BEGIN CERTIFICATE-----\nAAAA\n", "no END line"), WA_ERR_INVALID);
    assert_int_equal (s_external ("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "X509 CRL"),
                      WA_ERR_INVALID);
    assert_int_equal (s_external ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                                  "encrypted"), WA_ERR_INVALID);
    char nul[] = "-----BEGIN CERTIFICATE-----\0";
    assert_int_equal (wa_certs_check_external (nul, sizeof nul, time (NULL), &out, why, sizeof why), WA_ERR_INVALID);
    //  Too many certificates, and too large a body.
    size_t len = 0;
    char *many = calloc (1, (WA_CERTS_CHAIN_MAX + 2) * strlen (ca->crt_pem) + 1);
    for (int i = 0; i < WA_CERTS_CHAIN_MAX + 1; i++) {
        strcpy (many + len, ca->crt_pem);
        len += strlen (ca->crt_pem);
    }
    assert_int_equal (s_external (many, "more than"), WA_ERR_INVALID);
    char *huge = malloc (WA_CERTS_UPLOAD_MAX + 2);
    memset (huge, 'A', WA_CERTS_UPLOAD_MAX + 1);
    huge[WA_CERTS_UPLOAD_MAX + 1] = 0;
    assert_int_equal (s_external (huge, "at most"), WA_ERR_INVALID);

    free (good); free (key_last); free (no_key); free (no_ca); free (wrong_key); free (expired);
    free (not_yet); free (reversed); free (wrong_ca); free (not_ca); free (two_keys); free (many); free (huge);
    s_free (ca); s_free (server); s_free (other); s_free (old); s_free (future); s_free (leafca); s_free (under);
}

static void
test_ca_bundle (void **state)
{
    (void) state;
    pair_t *ca = s_make ("Test CA", true, -DAY, 30 * DAY, NULL);
    pair_t *self_signed = s_make ("localhost", false, -DAY, 30 * DAY, NULL);
    pair_t *old = s_make ("old", true, -10 * DAY, -DAY, NULL);
    wa_certs_t out;
    char why[512] = "";
    char *bundle = s_cat (ca->crt_pem, self_signed->crt_pem, "", "");
    assert_int_equal (wa_certs_check_ca (bundle, strlen (bundle), time (NULL), &out, why, sizeof why), 0);
    assert_int_equal (out.certs, 2);
    assert_string_equal (out.pem, bundle);
    assert_null (out.ca_pem);
    wa_certs_free (&out);
    //  A key has no place in a CA bundle.
    char *with_key = s_cat (ca->key_pem, ca->crt_pem, "", "");
    assert_int_equal (wa_certs_check_ca (with_key, strlen (with_key), time (NULL), &out, why, sizeof why),
                      WA_ERR_INVALID);
    assert_non_null (strstr (why, "PRIVATE KEY"));
    char *expired = s_cat (ca->crt_pem, old->crt_pem, "", "");
    assert_int_equal (wa_certs_check_ca (expired, strlen (expired), time (NULL), &out, why, sizeof why),
                      WA_ERR_INVALID);
    assert_non_null (strstr (why, "certificate 2 (CN=old) expired"));
    assert_int_equal (wa_certs_check_ca (NULL, 0, time (NULL), &out, why, sizeof why), WA_ERR_MISSING);
    free (bundle); free (with_key); free (expired);
    s_free (ca); s_free (self_signed); s_free (old);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_external),
        cmocka_unit_test (test_ca_bundle),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
