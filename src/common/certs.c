/*  wa_certs — see include/wa_certs.h */
#define _GNU_SOURCE     //  memmem
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include "wa_errors.h"
#include "wa_certs.h"

//  The PEM blocks of an upload, as found.
typedef struct {
    gnutls_x509_crt_t certs[WA_CERTS_CHAIN_MAX];
    int ncerts;
    gnutls_x509_privkey_t key;
    int nkeys;
} parsed_t;

static void
s_parsed_free (parsed_t *parsed)
{
    for (int i = 0; i < parsed->ncerts; i++)
        gnutls_x509_crt_deinit (parsed->certs[i]);
    if (parsed->key)
        gnutls_x509_privkey_deinit (parsed->key);
    memset (parsed, 0, sizeof *parsed);
}

static int
s_fail (char *why, size_t whylen, int code, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static int
s_fail (char *why, size_t whylen, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (why, whylen, fmt, args);
    va_end (args);
    return code;
}

static bool
s_is_key_label (const char *label, size_t len)
{
    static const char *labels[] = { "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY" };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strlen (labels[i]) == len && memcmp (labels[i], label, len) == 0)
            return true;
    return false;
}

//  Every PEM block of text into parsed: certificates in their order, at
//  most one key (with keys false, none). Text between blocks is ignored
//  (what openssl writes before them: "Bag Attributes", "subject=").
static int
s_parse (const char *text, size_t len, bool keys, parsed_t *parsed, char *why, size_t whylen)
{
    static const char begin[] = "-----BEGIN ";
    if (!text || len == 0)
        return s_fail (why, whylen, WA_ERR_MISSING, "the body is empty: it must be the certificate%s in PEM format",
                       keys ? " chain and its private key" : "s");
    if (len > WA_CERTS_UPLOAD_MAX)
        return s_fail (why, whylen, WA_ERR_INVALID, "the body is %zu bytes: at most %d", len, WA_CERTS_UPLOAD_MAX);
    if (memchr (text, 0, len))
        return s_fail (why, whylen, WA_ERR_INVALID, "the body holds a NUL byte: it must be PEM text");
    const char *at = text, *end = text + len;
    int blocks = 0;
    while (at < end) {
        const char *start = memmem (at, (size_t) (end - at), begin, sizeof begin - 1);
        if (!start)
            break;
        const char *label = start + sizeof begin - 1;
        const char *dashes = memmem (label, (size_t) (end - label), "-----", 5);
        const char *newline = memchr (label, '\n', (size_t) (end - label));
        if (!dashes || (newline && newline < dashes) || dashes - label > 40)
            return s_fail (why, whylen, WA_ERR_INVALID, "PEM block %d: a malformed BEGIN line", blocks + 1);
        size_t label_len = (size_t) (dashes - label);
        char end_line[64];
        snprintf (end_line, sizeof end_line, "-----END %.*s-----", (int) label_len, label);
        const char *stop = memmem (dashes, (size_t) (end - dashes), end_line, strlen (end_line));
        if (!stop)
            return s_fail (why, whylen, WA_ERR_INVALID, "PEM block %d (%.*s) has no END line", blocks + 1,
                           (int) label_len, label);
        stop += strlen (end_line);
        blocks++;
        gnutls_datum_t datum = { (unsigned char *) start, (unsigned int) (stop - start) };
        if (label_len == 11 && memcmp (label, "CERTIFICATE", 11) == 0) {
            if (parsed->ncerts == WA_CERTS_CHAIN_MAX)
                return s_fail (why, whylen, WA_ERR_INVALID, "more than %d certificates", WA_CERTS_CHAIN_MAX);
            gnutls_x509_crt_t crt;
            if (gnutls_x509_crt_init (&crt) < 0)
                return s_fail (why, whylen, WA_ERR_INVALID, "out of memory");
            int rc = gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM);
            if (rc < 0) {
                gnutls_x509_crt_deinit (crt);
                return s_fail (why, whylen, WA_ERR_INVALID, "certificate %d cannot be parsed: %s",
                               parsed->ncerts + 1, gnutls_strerror (rc));
            }
            parsed->certs[parsed->ncerts++] = crt;
        }
        else
        if (keys && s_is_key_label (label, label_len)) {
            if (parsed->nkeys++)
                return s_fail (why, whylen, WA_ERR_INVALID, "more than one private key: give the server "
                               "certificate's key only");
            if (memmem (start, datum.size, "ENCRYPTED", 9))
                return s_fail (why, whylen, WA_ERR_INVALID, "the private key is encrypted: give it without "
                               "a passphrase");
            if (gnutls_x509_privkey_init (&parsed->key) < 0)
                return s_fail (why, whylen, WA_ERR_INVALID, "out of memory");
            int rc = gnutls_x509_privkey_import2 (parsed->key, &datum, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
            if (rc < 0)
                return s_fail (why, whylen, WA_ERR_INVALID, "the private key cannot be parsed: %s",
                               gnutls_strerror (rc));
        }
        else
        if (keys && label_len == 21 && memcmp (label, "ENCRYPTED PRIVATE KEY", 21) == 0)
            return s_fail (why, whylen, WA_ERR_INVALID, "the private key is encrypted: give it without a passphrase");
        else
            return s_fail (why, whylen, WA_ERR_INVALID, "PEM block %d is a '%.*s': expected %s", blocks,
                           (int) label_len, label, keys ? "a PRIVATE KEY or a CERTIFICATE" : "a CERTIFICATE");
        at = stop;
    }
    if (blocks == 0)
        return s_fail (why, whylen, WA_ERR_INVALID, "the body holds no PEM block: it must be the certificate%s "
                       "in PEM format (-----BEGIN CERTIFICATE----- ...)", keys ? " chain and its private key" : "s");
    if (parsed->ncerts == 0)
        return s_fail (why, whylen, WA_ERR_MISSING, "no certificate in the body");
    return 0;
}

static void
s_subject (gnutls_x509_crt_t crt, char *buf, size_t size)
{
    size_t len = size;
    if (gnutls_x509_crt_get_dn (crt, buf, &len) < 0)
        snprintf (buf, size, "(a name that cannot be shown)");
}

static void
s_time (time_t when, char *buf, size_t size)
{
    struct tm tm;
    if (when == (time_t) -1 || !gmtime_r (&when, &tm) || !strftime (buf, size, "%Y-%m-%d %H:%M:%S+00:00", &tm))
        snprintf (buf, size, "(unknown)");
}

//  Each certificate valid at now.
static int
s_check_times (parsed_t *parsed, time_t now, char *why, size_t whylen)
{
    for (int i = 0; i < parsed->ncerts; i++) {
        char subject[256], when[40];
        time_t from = gnutls_x509_crt_get_activation_time (parsed->certs[i]);
        time_t until = gnutls_x509_crt_get_expiration_time (parsed->certs[i]);
        s_subject (parsed->certs[i], subject, sizeof subject);
        if (until == (time_t) -1 || until <= now) {
            s_time (until, when, sizeof when);
            return s_fail (why, whylen, WA_ERR_INVALID, "certificate %d (%s) expired on %s", i + 1, subject, when);
        }
        if (from == (time_t) -1 || from > now) {
            s_time (from, when, sizeof when);
            return s_fail (why, whylen, WA_ERR_INVALID, "certificate %d (%s) is not valid before %s", i + 1,
                           subject, when);
        }
    }
    return 0;
}

//  The key is the first certificate's; each certificate is issued and
//  signed by the next; the last is a CA.
static int
s_check_chain (parsed_t *parsed, char *why, size_t whylen)
{
    unsigned char key_id[64], crt_id[64];
    size_t key_len = sizeof key_id, crt_len = sizeof crt_id;
    if (gnutls_x509_privkey_get_key_id (parsed->key, GNUTLS_KEYID_USE_SHA256, key_id, &key_len) < 0
    ||  gnutls_x509_crt_get_key_id (parsed->certs[0], GNUTLS_KEYID_USE_SHA256, crt_id, &crt_len) < 0
    ||  key_len != crt_len || memcmp (key_id, crt_id, key_len) != 0)
        return s_fail (why, whylen, WA_ERR_INVALID, "the private key does not match the certificate (the first "
                       "certificate must be the server's, the key its own)");
    for (int i = 0; i + 1 < parsed->ncerts; i++) {
        char subject[256], issuer[256];
        s_subject (parsed->certs[i], subject, sizeof subject);
        s_subject (parsed->certs[i + 1], issuer, sizeof issuer);
        if (!gnutls_x509_crt_check_issuer (parsed->certs[i], parsed->certs[i + 1]))
            return s_fail (why, whylen, WA_ERR_INVALID, "certificate %d (%s) was not issued by certificate %d (%s): "
                           "give the server's certificate first, then each issuer in order", i + 1, subject, i + 2,
                           issuer);
        unsigned int status = 0;
        unsigned int flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS
                           | GNUTLS_VERIFY_ALLOW_X509_V1_CA_CRT;
        int rc = gnutls_x509_crt_verify (parsed->certs[i], &parsed->certs[i + 1], 1, flags, &status);
        if (rc < 0 || status) {
            const char *what = rc < 0 ? gnutls_strerror (rc)
                             : (status & GNUTLS_CERT_SIGNER_NOT_CA) ? "its issuer is not a CA certificate"
                             : (status & GNUTLS_CERT_INSECURE_ALGORITHM) ? "it is signed with an insecure algorithm"
                             : (status & GNUTLS_CERT_SIGNATURE_FAILURE) ? "its signature does not verify"
                             : "it does not verify";
            return s_fail (why, whylen, WA_ERR_INVALID, "certificate %d (%s): %s (issuer: certificate %d, %s)", i + 1,
                           subject, what, i + 2, issuer);
        }
    }
    return 0;
}

//  Append datum to *buf (grown); false when out of memory.
static bool
s_append (char **buf, size_t *len, const gnutls_datum_t *datum)
{
    char *grown = realloc (*buf, *len + datum->size + 1);
    if (!grown)
        return false;
    memcpy (grown + *len, datum->data, datum->size);
    *len += datum->size;
    grown[*len] = 0;
    *buf = grown;
    return true;
}

//  The canonical text: the key (when there is one), then the certificates
//  from first (the whole) or from the second (ca, when ca is not NULL).
static int
s_export (parsed_t *parsed, wa_certs_t *out, char *why, size_t whylen)
{
    size_t len = 0, ca_len = 0;
    gnutls_datum_t datum = { NULL, 0 };
    if (parsed->key) {
        //  PKCS #8: GnuTLS's own form of an EC key it read from PKCS #8
        //  (openssl's) leaves the curve out, and then cannot read it back.
        if (gnutls_x509_privkey_export2_pkcs8 (parsed->key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &datum) < 0
        ||  !s_append (&out->pem, &len, &datum))
            goto failed;
        sodium_memzero (datum.data, datum.size);
        gnutls_free (datum.data);
        datum.data = NULL;
    }
    for (int i = 0; i < parsed->ncerts; i++) {
        if (gnutls_x509_crt_export2 (parsed->certs[i], GNUTLS_X509_FMT_PEM, &datum) < 0
        ||  !s_append (&out->pem, &len, &datum))
            goto failed;
        if (parsed->key && i > 0 && !s_append (&out->ca_pem, &ca_len, &datum))
            goto failed;
        gnutls_free (datum.data);
        datum.data = NULL;
    }
    if (len > WA_CERTS_PEM_MAX)
        return s_fail (why, whylen, WA_ERR_INVALID, "the certificate%s take %zu bytes of PEM once re-encoded: at "
                       "most %d", parsed->key ? " chain and key" : "s", len, WA_CERTS_PEM_MAX);
    return 0;
failed:
    if (datum.data) {
        sodium_memzero (datum.data, datum.size);
        gnutls_free (datum.data);
    }
    return s_fail (why, whylen, WA_ERR_INVALID, "cannot re-encode the certificates (out of memory?)");
}

static void
s_describe (parsed_t *parsed, wa_certs_t *out)
{
    out->certs = parsed->ncerts;
    s_subject (parsed->certs[0], out->subject, sizeof out->subject);
    s_time (gnutls_x509_crt_get_expiration_time (parsed->certs[0]), out->not_after, sizeof out->not_after);
    unsigned char digest[32];
    size_t size = sizeof digest;
    if (gnutls_x509_crt_get_fingerprint (parsed->certs[0], GNUTLS_DIG_SHA256, digest, &size) == 0)
        for (size_t i = 0; i < size; i++)
            snprintf (out->fingerprint + 3 * i, sizeof out->fingerprint - 3 * i, i + 1 < size ? "%02X:" : "%02X",
                      digest[i]);
}

//  What GnuTLS (and so libmicrohttpd) will do with it: load it as a
//  server's credentials.
static int
s_check_loads (const wa_certs_t *out, char *why, size_t whylen)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials (&cred) < 0)
        return s_fail (why, whylen, WA_ERR_INVALID, "out of memory");
    gnutls_datum_t datum = { (unsigned char *) out->pem, (unsigned int) strlen (out->pem) };
    int rc = gnutls_certificate_set_x509_key_mem2 (cred, &datum, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials (cred);
    if (rc < 0)
        return s_fail (why, whylen, WA_ERR_INVALID, "the certificate and key cannot serve HTTPS: %s",
                       gnutls_strerror (rc));
    return 0;
}

static int
s_check (const char *text, size_t len, time_t now, bool external, wa_certs_t *out, char *why, size_t whylen)
{
    memset (out, 0, sizeof *out);
    parsed_t parsed;
    memset (&parsed, 0, sizeof parsed);
    int code = s_parse (text, len, external, &parsed, why, whylen);
    if (!code && external && !parsed.key)
        code = s_fail (why, whylen, WA_ERR_MISSING, "no private key: the body must hold the private key, the "
                       "server's certificate and at least one CA certificate, in PEM format, in this order");
    if (!code && external && parsed.ncerts < 2)
        code = s_fail (why, whylen, WA_ERR_MISSING, "no CA certificate: after the server's certificate the body "
                       "must hold at least one CA certificate (its issuer), as the original requires");
    if (!code)
        code = s_check_times (&parsed, now, why, whylen);
    if (!code && external)
        code = s_check_chain (&parsed, why, whylen);
    if (!code)
        code = s_export (&parsed, out, why, whylen);
    if (!code && external)
        code = s_check_loads (out, why, whylen);
    if (!code)
        s_describe (&parsed, out);
    s_parsed_free (&parsed);
    if (code)
        wa_certs_free (out);
    return code;
}

int
wa_certs_check_external (const char *text, size_t len, time_t now, wa_certs_t *out, char *why, size_t whylen)
{
    return s_check (text, len, now, true, out, why, whylen);
}

int
wa_certs_check_ca (const char *text, size_t len, time_t now, wa_certs_t *out, char *why, size_t whylen)
{
    return s_check (text, len, now, false, out, why, whylen);
}

void
wa_certs_free (wa_certs_t *self)
{
    if (self->pem) {
        sodium_memzero (self->pem, strlen (self->pem));
        free (self->pem);
    }
    free (self->ca_pem);
    memset (self, 0, sizeof *self);
}
