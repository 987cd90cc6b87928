/*  Unit tests for tlscert: the certificate HTTPS offers, changed while
    serving. What libmicrohttpd's handshake callback gets before and after
    a change; a change GnuTLS refuses leaves the offered one as it was. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "tlscert.h"

typedef struct {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    char key_pem[4096];
    char crt_pem[4096];
} pair_t;

static void
s_make (pair_t *self, const char *cn, bool ca, pair_t *issuer)
{
    time_t now = time (NULL);
    assert_int_equal (gnutls_x509_privkey_init (&self->key), 0);
    assert_int_equal (gnutls_x509_privkey_generate (self->key, GNUTLS_PK_ECDSA,
                                                    GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    assert_int_equal (gnutls_x509_crt_init (&self->crt), 0);
    unsigned char serial[4] = { 1, 2, 3, (unsigned char) (rand () & 0x7f) };
    gnutls_x509_crt_set_version (self->crt, 3);
    gnutls_x509_crt_set_serial (self->crt, serial, sizeof serial);
    gnutls_x509_crt_set_activation_time (self->crt, now - 60);
    gnutls_x509_crt_set_expiration_time (self->crt, now + 86400);
    gnutls_x509_crt_set_dn_by_oid (self->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned) strlen (cn));
    gnutls_x509_crt_set_basic_constraints (self->crt, ca ? 1 : 0, -1);
    assert_int_equal (gnutls_x509_crt_set_key (self->crt, self->key), 0);
    assert_int_equal (gnutls_x509_crt_sign2 (self->crt, issuer ? issuer->crt : self->crt,
                                             issuer ? issuer->key : self->key, GNUTLS_DIG_SHA256, 0), 0);
    size_t size = sizeof self->key_pem;
    assert_int_equal (gnutls_x509_privkey_export (self->key, GNUTLS_X509_FMT_PEM, self->key_pem, &size), 0);
    size = sizeof self->crt_pem;
    assert_int_equal (gnutls_x509_crt_export (self->crt, GNUTLS_X509_FMT_PEM, self->crt_pem, &size), 0);
}

static void
s_free (pair_t *self)
{
    gnutls_x509_crt_deinit (self->crt);
    gnutls_x509_privkey_deinit (self->key);
}

//  What the handshake callback offers: the count, and whether its first
//  certificate is crt.
static unsigned int
s_offered (pair_t *expected)
{
    gnutls_pcert_st *pcert = NULL;
    unsigned int count = 0;
    gnutls_privkey_t key = NULL;
    assert_int_equal (tlscert_retrieve (NULL, NULL, 0, NULL, 0, &pcert, &count, &key), 0);
    assert_non_null (key);
    gnutls_datum_t der;
    assert_int_equal (gnutls_x509_crt_export2 (expected->crt, GNUTLS_X509_FMT_DER, &der), 0);
    assert_int_equal (pcert[0].cert.size, der.size);
    assert_memory_equal (pcert[0].cert.data, der.data, der.size);
    gnutls_free (der.data);
    return count;
}

static void
test_change (void **state)
{
    (void) state;
    pair_t self_signed, ca, server, other;
    s_make (&self_signed, "localhost", false, NULL);
    s_make (&ca, "Test CA", true, NULL);
    s_make (&server, "server", false, &ca);
    s_make (&other, "other", false, &ca);
    char err[300] = "";

    //  A key file given as the certificate: refused.
    assert_null (tlscert_new (self_signed.key_pem, self_signed.crt_pem, "webapp_tls_cert", err, sizeof err));
    assert_non_null (strstr (err, "cannot serve HTTPS with webapp_tls_cert: no certificate"));
    tlscert_t *certs = tlscert_new (self_signed.crt_pem, self_signed.key_pem, "webapp_tls_cert", err, sizeof err);
    assert_non_null (certs);
    assert_int_equal (s_offered (&self_signed), 1);
    assert_string_equal (tlscert_source (certs), "webapp_tls_cert");
    //  Self-signed: its own CA.
    char *ca_pem = tlscert_ca (certs);
    assert_string_equal (ca_pem, self_signed.crt_pem);
    free (ca_pem);

    //  A chain with its CA, the key first (the stored form).
    char chain[12288];
    snprintf (chain, sizeof chain, "%s%s%s", server.key_pem, server.crt_pem, ca.crt_pem);
    assert_int_equal (tlscert_set (certs, chain, "the external certificate (version 1)", err, sizeof err), 0);
    assert_int_equal (s_offered (&server), 2);
    assert_string_equal (tlscert_source (certs), "the external certificate (version 1)");
    ca_pem = tlscert_ca (certs);
    assert_string_equal (ca_pem, ca.crt_pem);
    free (ca_pem);

    //  Another certificate's key: refused, the chain offered stays.
    snprintf (chain, sizeof chain, "%s%s%s", other.key_pem, server.crt_pem, ca.crt_pem);
    assert_int_equal (tlscert_set (certs, chain, "bad", err, sizeof err), -1);
    assert_non_null (strstr (err, "not the certificate's"));
    assert_int_equal (tlscert_set (certs, "garbage", "bad", err, sizeof err), -1);
    assert_int_equal (s_offered (&server), 2);

    //  And again: the replaced ones stay readable until destroyed.
    snprintf (chain, sizeof chain, "%s%s%s", other.key_pem, other.crt_pem, ca.crt_pem);
    assert_int_equal (tlscert_set (certs, chain, "the external certificate (version 2)", err, sizeof err), 0);
    assert_int_equal (s_offered (&other), 2);
    tlscert_destroy (&certs);
    assert_null (certs);
    s_free (&self_signed);
    s_free (&ca);
    s_free (&server);
    s_free (&other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_change),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
