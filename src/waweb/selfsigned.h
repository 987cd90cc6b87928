/*  selfsigned — HTTPS by default without a certificate to hand: with
    webapp_tls_self_signed, a Webapp whose webapp_tls_cert and
    webapp_tls_key do not exist yet makes a self-signed certificate there
    at its first start (ECDSA P-256, SHA-256, 825 days, named for its
    hostname, webapp_bind, localhost and the loopback addresses; the key
    mode 0600), logs its SHA-256 fingerprint for clients to pin, and uses
    the same pair at every later start. As the original did. Files that
    exist are never replaced. */
#ifndef SELFSIGNED_H
#define SELFSIGNED_H

#include <stddef.h>
#include "wa_config.h"

//  0 when the pair is there (made now, before, or given), or when the
//  setting is off; -1 with err naming what is wrong.
int selfsigned_ensure (const wa_config_t *config, char *err, size_t errlen);

#endif
