/*  wa_certs — the certificates an ADMIN uploads, checked with GnuTLS
    before anything is stored (POST /v1/certificates/external and
    /v1/certificates/webhooks/ca; docs/API.md, Certificates):

    - the external certificate: one PEM file holding the private key (not
      encrypted), the server's certificate and at least one CA certificate
      after it (the original's order and rule), each certificate issued
      and signed by the next, every one valid now, the key the
      certificate's, and the whole accepted by GnuTLS as a server
      credential;
    - a CA bundle for webhook delivery: one or more certificates, each
      valid now (a self-signed server certificate, trusted as its own CA,
      is one).

    What passes is returned in a canonical form (the key, then the
    certificates, re-encoded: no comments, no bag attributes, no other
    blocks), which is what the cluster stores and serves. Pure: no
    database, no network; the Webapp checks before it forwards, the Master
    again before it stores. */
#ifndef WA_CERTS_H
#define WA_CERTS_H

#include <stddef.h>
#include <time.h>

//  What an upload may be, and what is stored (the canonical form travels
//  to the primary Master in one API request: WA_TEXT_MAX with its JSON).
#define WA_CERTS_UPLOAD_MAX 65536
#define WA_CERTS_PEM_MAX 14336
#define WA_CERTS_CHAIN_MAX 8

//  The names of the stored certificates (the `certificates` table).
#define WA_CERTS_EXTERNAL "external"
#define WA_CERTS_WEBHOOKS_CA "webhooks_ca"

typedef struct {
    char *pem;                  //  canonical: the key (external only), then the certificates
    char *ca_pem;               //  external: the certificates after the server's; else NULL
    int certs;                  //  how many certificates
    char subject[256];          //  of the first certificate
    char not_after[32];         //  its expiry, "YYYY-MM-DD HH:MM:SS+00:00"
    char fingerprint[100];      //  its SHA-256, "AB:CD:..."
} wa_certs_t;

//  Check an external certificate (see above) at time now. 0 with *out
//  filled (free with wa_certs_free), or an API error code (WA_ERR_MISSING,
//  WA_ERR_INVALID) with why naming the problem; *out is then empty.
int wa_certs_check_external (const char *text, size_t len, time_t now, wa_certs_t *out, char *why, size_t whylen);
//  Check a CA bundle (see above) the same way.
int wa_certs_check_ca (const char *text, size_t len, time_t now, wa_certs_t *out, char *why, size_t whylen);
void wa_certs_free (wa_certs_t *self);

#endif
