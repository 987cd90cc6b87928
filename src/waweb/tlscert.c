/*  tlscert — see tlscert.h */
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/x509.h>
#include "wa_certs.h"
#include "wa_clock.h"
#include "tlscert.h"

//  A handshake that began before a change may still read the old chain:
//  libmicrohttpd bounds a connection's silence to 60 s, so ten minutes is
//  past any handshake.
#define RETIRED_KEEP (600 * WA_USEC_PER_SEC)

typedef struct generation_t {
    gnutls_pcert_st pcerts[WA_CERTS_CHAIN_MAX];
    unsigned int npcerts;
    gnutls_privkey_t key;
    char *ca_pem;
    char source[80];
    wa_usec_t retired_at;
    struct generation_t *next;          //  in the retired list
} generation_t;

struct tlscert_t {
    pthread_mutex_t lock;               //  current, between the reactor and MHD's thread
    generation_t *current;
    generation_t *retired;
};

//  The handshake callback's: the one tlscert_t of the process.
static tlscert_t *s_instance;

static void
s_generation_free (generation_t *gen)
{
    if (!gen)
        return;
    for (unsigned int i = 0; i < gen->npcerts; i++)
        gnutls_pcert_deinit (&gen->pcerts[i]);
    if (gen->key)
        gnutls_privkey_deinit (gen->key);
    free (gen->ca_pem);
    free (gen);
}

//  The certificates of chain from index first on, as PEM (malloc'd).
static char *
s_chain_pem (gnutls_x509_crt_t *chain, unsigned int count, unsigned int first)
{
    char *text = NULL;
    size_t len = 0;
    for (unsigned int i = first; i < count; i++) {
        gnutls_datum_t datum;
        if (gnutls_x509_crt_export2 (chain[i], GNUTLS_X509_FMT_PEM, &datum) < 0)
            continue;
        char *grown = realloc (text, len + datum.size + 1);
        if (grown) {
            memcpy (grown + len, datum.data, datum.size);
            len += datum.size;
            grown[len] = 0;
            text = grown;
        }
        gnutls_free (datum.data);
    }
    return text;
}

//  The chain from chain_pem, the key from key_pem (the same text when
//  it holds both).
static generation_t *
s_generation_new (const char *chain_pem, const char *key_pem, const char *source, char *err, size_t errlen)
{
    generation_t *gen = calloc (1, sizeof *gen);
    assert (gen);
    snprintf (gen->source, sizeof gen->source, "%s", source);
    gnutls_datum_t datum = { (unsigned char *) chain_pem, (unsigned int) strlen (chain_pem) };
    gnutls_datum_t key_datum = { (unsigned char *) key_pem, (unsigned int) strlen (key_pem) };
    gnutls_x509_crt_t *chain = NULL;
    unsigned int count = 0;
    int rc = gnutls_x509_crt_list_import2 (&chain, &count, &datum, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || count == 0) {
        snprintf (err, errlen, "cannot serve HTTPS with %s: no certificate GnuTLS can read: %s", source, rc < 0 ? gnutls_strerror (rc) : "none");
        goto failed;
    }
    if (count > WA_CERTS_CHAIN_MAX) {
        snprintf (err, errlen, "cannot serve HTTPS with %s: %u certificates, at most %d", source, count, WA_CERTS_CHAIN_MAX);
        goto failed;
    }
    for (unsigned int i = 0; i < count; i++) {
        if ((rc = gnutls_pcert_import_x509 (&gen->pcerts[i], chain[i], 0)) < 0) {
            snprintf (err, errlen, "cannot serve HTTPS with %s: certificate %u: %s", source, i + 1, gnutls_strerror (rc));
            goto failed;
        }
        gen->npcerts++;
    }
    if ((rc = gnutls_privkey_init (&gen->key)) < 0
    ||  (rc = gnutls_privkey_import_x509_raw (gen->key, &key_datum, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf (err, errlen, "cannot serve HTTPS with %s: no private key GnuTLS can read: %s", source, gnutls_strerror (rc));
        goto failed;
    }
    //  The key must be the server certificate's: compare their public keys.
    gnutls_pubkey_t from_key = NULL;
    unsigned char a[64], b[64];
    size_t a_len = sizeof a, b_len = sizeof b;
    bool match = gnutls_pubkey_init (&from_key) == 0
              && gnutls_pubkey_import_privkey (from_key, gen->key, 0, 0) == 0
              && gnutls_pubkey_get_key_id (from_key, GNUTLS_KEYID_USE_SHA256, a, &a_len) == 0
              && gnutls_pubkey_get_key_id (gen->pcerts[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &b_len) == 0
              && a_len == b_len && memcmp (a, b, a_len) == 0;
    if (from_key)
        gnutls_pubkey_deinit (from_key);
    if (!match) {
        snprintf (err, errlen, "cannot serve HTTPS with %s: the private key is not the certificate's", source);
        goto failed;
    }
    if (count > 1)
        gen->ca_pem = s_chain_pem (chain, count, 1);
    else
    if (gnutls_x509_crt_check_issuer (chain[0], chain[0]))
        gen->ca_pem = s_chain_pem (chain, count, 0);     //  self-signed: its own CA
    for (unsigned int i = 0; i < count; i++)
        gnutls_x509_crt_deinit (chain[i]);
    gnutls_free (chain);
    return gen;

failed:
    for (unsigned int i = 0; i < count; i++)
        gnutls_x509_crt_deinit (chain[i]);
    gnutls_free (chain);
    s_generation_free (gen);
    return NULL;
}

tlscert_t *
tlscert_new (const char *chain_pem, const char *key_pem, const char *source, char *err, size_t errlen)
{
    assert (!s_instance);
    generation_t *gen = s_generation_new (chain_pem, key_pem, source, err, errlen);
    if (!gen)
        return NULL;
    tlscert_t *self = calloc (1, sizeof *self);
    assert (self);
    pthread_mutex_init (&self->lock, NULL);
    self->current = gen;
    s_instance = self;
    return self;
}

void
tlscert_destroy (tlscert_t **self_p)
{
    tlscert_t *self = *self_p;
    if (!self)
        return;
    s_generation_free (self->current);
    while (self->retired) {
        generation_t *next = self->retired->next;
        s_generation_free (self->retired);
        self->retired = next;
    }
    pthread_mutex_destroy (&self->lock);
    if (s_instance == self)
        s_instance = NULL;
    free (self);
    *self_p = NULL;
}

int
tlscert_set (tlscert_t *self, const char *pem, const char *source, char *err, size_t errlen)
{
    generation_t *gen = s_generation_new (pem, pem, source, err, errlen);
    if (!gen)
        return -1;
    wa_usec_t now = wa_clock_mono ();
    pthread_mutex_lock (&self->lock);
    generation_t *old = self->current;
    self->current = gen;
    pthread_mutex_unlock (&self->lock);
    old->retired_at = now;
    old->next = self->retired;
    self->retired = old;
    //  Those retired long enough ago can no longer be in a handshake.
    for (generation_t **at = &self->retired; *at; ) {
        generation_t *gone = *at;
        if (now - gone->retired_at >= RETIRED_KEEP) {
            *at = gone->next;
            s_generation_free (gone);
        }
        else
            at = &gone->next;
    }
    return 0;
}

const char *
tlscert_source (tlscert_t *self)
{
    //  Written only by the reactor's thread, which is the caller.
    return self->current->source;
}

char *
tlscert_ca (tlscert_t *self)
{
    return self->current->ca_pem ? strdup (self->current->ca_pem) : NULL;
}

int
tlscert_retrieve (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                  const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                  unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void) session;
    (void) req_ca_dn;
    (void) nreqs;
    (void) pk_algos;
    (void) pk_algos_length;
    tlscert_t *self = s_instance;
    if (!self)
        return -1;
    //  GnuTLS does not free what a retrieve_function2 gives it.
    pthread_mutex_lock (&self->lock);
    *pcert = self->current->pcerts;
    *pcert_length = self->current->npcerts;
    *pkey = self->current->key;
    pthread_mutex_unlock (&self->lock);
    return 0;
}
