/*  selfsigned — see selfsigned.h */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include "wa_log.h"
#include "selfsigned.h"

#define VALID_DAYS 825


//  Writes data to path through a temporary file and a rename, with mode.
static int
s_write (const char *what, const char *path, const gnutls_datum_t *data, mode_t mode, char *err, size_t errlen)
{
    char tmp[WA_CONFIG_STR + 32];
    snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid ());
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return wa_errf (err, errlen, "%s: cannot write '%s': %s", what, tmp, strerror (errno));
    bool ok = fchmod (fd, mode) == 0 && write (fd, data->data, data->size) == (ssize_t) data->size
           && fsync (fd) == 0;
    int saved = errno;
    close (fd);
    if (!ok || link (tmp, path)) {
        //  link, not rename: a file that appeared meanwhile is never replaced.
        if (ok)
            saved = errno;
        unlink (tmp);
        return wa_errf (err, errlen, "%s: cannot write '%s': %s", what, path, strerror (saved));
    }
    unlink (tmp);
    return 0;
}

//  One subject alternative name: an IP address when name is one, else a
//  DNS name.
static void
s_add_name (gnutls_x509_crt_t crt, const char *name)
{
    unsigned char raw[16];
    if (inet_pton (AF_INET, name, raw) == 1)
        gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, raw, 4, GNUTLS_FSAN_APPEND);
    else
    if (inet_pton (AF_INET6, name, raw) == 1)
        gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, raw, 16, GNUTLS_FSAN_APPEND);
    else
    if (*name && strcmp (name, "*") != 0)
        gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, name, (unsigned) strlen (name),
                                              GNUTLS_FSAN_APPEND);
}

static int
s_generate (const wa_config_t *config, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t key_pem = { NULL, 0 }, crt_pem = { NULL, 0 };
    int rc = -1, grc;
    if ((grc = gnutls_x509_privkey_init (&key)) < 0
    ||  (grc = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                             GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0
    ||  (grc = gnutls_x509_crt_init (&crt)) < 0) {
        wa_errf (err, errlen, "cannot make a key: %s", gnutls_strerror (grc));
        goto done;
    }
    unsigned char serial[16];
    randombytes_buf (serial, sizeof serial);
    serial[0] &= 0x7f;              //  a positive number
    time_t now = time (NULL);
    const char *name = *config->hostname ? config->hostname : "localhost";
    gnutls_x509_crt_set_version (crt, 3);
    gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
    gnutls_x509_crt_set_activation_time (crt, now - 3600);
    gnutls_x509_crt_set_expiration_time (crt, now + (time_t) VALID_DAYS * 86400);
    gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned) strlen (name));
    gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "wacluster (self-signed)", 23);
    s_add_name (crt, name);
    s_add_name (crt, config->webapp_bind);
    s_add_name (crt, "localhost");
    s_add_name (crt, "127.0.0.1");
    s_add_name (crt, "::1");
    gnutls_x509_crt_set_basic_constraints (crt, 0, -1);
    gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if ((grc = gnutls_x509_crt_set_key (crt, key)) < 0
    ||  (grc = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0
    ||  (grc = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &crt_pem)) < 0
    ||  (grc = gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &key_pem)) < 0) {
        wa_errf (err, errlen, "cannot make the certificate: %s", gnutls_strerror (grc));
        goto done;
    }
    if (s_write ("webapp_tls_key", config->webapp_tls_key, &key_pem, 0600, err, errlen))
        goto done;
    if (s_write ("webapp_tls_cert", config->webapp_tls_cert, &crt_pem, 0644, err, errlen)) {
        unlink (config->webapp_tls_key);
        goto done;
    }
    unsigned char digest[32];
    size_t size = sizeof digest;
    char hex[3 * sizeof digest] = "";
    if (gnutls_x509_crt_get_fingerprint (crt, GNUTLS_DIG_SHA256, digest, &size) == 0)
        for (size_t i = 0; i < size; i++)
            snprintf (hex + 3 * i, sizeof hex - 3 * i, i + 1 < size ? "%02X:" : "%02X", digest[i]);
    wa_info ("HTTPS: made a self-signed certificate for %s, valid %d days: %s (key %s, mode 0600); "
             "SHA-256 fingerprint %s", name, VALID_DAYS, config->webapp_tls_cert, config->webapp_tls_key, hex);
    rc = 0;
done:
    if (key_pem.data) {
        sodium_memzero (key_pem.data, key_pem.size);
        gnutls_free (key_pem.data);
    }
    gnutls_free (crt_pem.data);
    if (crt)
        gnutls_x509_crt_deinit (crt);
    if (key)
        gnutls_x509_privkey_deinit (key);
    return rc;
}

int
selfsigned_ensure (const wa_config_t *config, char *err, size_t errlen)
{
    if (!config->webapp_tls_self_signed)
        return 0;
    if (!*config->webapp_tls_cert || !*config->webapp_tls_key)
        return wa_errf (err, errlen, "webapp_tls_self_signed needs webapp_tls_cert and webapp_tls_key: the "
                        "files the certificate and its key are kept in (made at the first start)");
    struct stat st;
    bool has_cert = stat (config->webapp_tls_cert, &st) == 0;
    bool has_key = stat (config->webapp_tls_key, &st) == 0;
    if (has_cert && has_key)
        return 0;               //  made before, or given: used as they are
    if (has_cert != has_key)
        return wa_errf (err, errlen, "webapp_tls_self_signed: '%s' exists but '%s' does not; a certificate "
                        "is made only when neither exists (remove the other to make a new pair)",
                        has_cert ? config->webapp_tls_cert : config->webapp_tls_key,
                        has_cert ? config->webapp_tls_key : config->webapp_tls_cert);
    return s_generate (config, err, errlen);
}
