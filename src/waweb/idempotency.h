/*  idempotency — the key a POST /v1/messages is sent under, from which
    the Coreapp derives the message id (wa_message_id): the client's
    Idempotency-Key header, scoped to the caller so that two users' keys
    never meet, or a random one when there is none. Pure but for the
    random bytes. */
#ifndef WAWEB_IDEMPOTENCY_H
#define WAWEB_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>

//  The client's key: 1 to this many printable ASCII characters, no spaces.
#define IDEMPOTENCY_CLIENT_MAX 64
//  A request's key: "c." or "w." and 32 hex digits, and its NUL.
#define IDEMPOTENCY_KEY_SIZE 35

//  Is the header's value (a C string, as libmicrohttpd gives it) a key
//  the client may send?
bool idempotency_client_valid (const char *value);
//  The request's key into key (size at least IDEMPOTENCY_KEY_SIZE):
//  "c." and the BLAKE2b of the caller (the user) and the client's key,
//  which must be valid; "w." and random bytes when client is NULL.
void idempotency_key (const char *caller, const char *client, char *key, size_t size);

#endif
