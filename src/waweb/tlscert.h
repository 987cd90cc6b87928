/*  tlscert — the certificate the HTTPS server offers, changed while it
    runs: libmicrohttpd asks for it at each TLS handshake
    (MHD_OPTION_HTTPS_CERT_CALLBACK, tlscert_retrieve), so a new one
    (POST /v1/certificates/external, read from the database by every
    Webapp) serves each connection made after tlscert_set, and the
    connections already open keep theirs. No restart, no lost request.

    A certificate replaced stays in memory for RETIRED_KEEP (GnuTLS reads
    it during a handshake that may have started before the change), then
    is freed at a later change. One tlscert_t per process: the handshake
    callback has no argument of its own. */
#ifndef WAWEB_TLSCERT_H
#define WAWEB_TLSCERT_H

#include <stddef.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

typedef struct tlscert_t tlscert_t;

//  From PEM texts: the certificate chain (the server's first) and its
//  private key; source names them in logs ("webapp_tls_cert"). NULL with
//  err when GnuTLS refuses them.
tlscert_t *tlscert_new (const char *chain_pem, const char *key_pem, const char *source, char *err, size_t errlen);
//  tlscert_set's pem holds both, the key and the chain.
//  After the TLS server has stopped.
void tlscert_destroy (tlscert_t **self_p);
//  Offer pem (the same form) to the connections made from now on. 0, or
//  -1 with err (the certificate offered stays as it was).
int tlscert_set (tlscert_t *self, const char *pem, const char *source, char *err, size_t errlen);
//  Where the certificate offered now came from (tlscert_set's source).
const char *tlscert_source (tlscert_t *self);
//  The CA certificates of the chain offered now, as PEM (malloc'd): those
//  after the server's, or the server's own when it is self-signed; NULL
//  when there are none.
char *tlscert_ca (tlscert_t *self);
//  MHD_OPTION_HTTPS_CERT_CALLBACK's callback (gnutls_certificate_retrieve_function2).
int tlscert_retrieve (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *pkey);

#endif
