/*  auth — the rules for credentials, and their parsing: usernames,
    passwords, the Authorization header (Basic and Bearer), and login tokens
    (random, stored only as their hash). Pure functions, no state. */
#ifndef WAWEB_AUTH_H
#define WAWEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_USERNAME_MIN 4
#define AUTH_USERNAME_MAX 32
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 64
//  32 random bytes in unpadded base64url, and the hex of their hash.
#define AUTH_TOKEN_LEN 43
#define AUTH_TOKEN_HASH_LEN 64

//  Usernames: 4 to 32 of [A-Za-z0-9._-].
bool auth_username_valid (const char *name);
//  NULL when password is acceptable, else why not ("must contain a digit").
//  8 to 64 characters with an upper and a lower case letter, a digit and a
//  special character (printable ASCII that is none of those).
const char *auth_password_problem (const char *password);
//  "Basic base64(user:pass)" into user and pass (NUL-terminated, each at
//  most size-1 bytes). The scheme is case-insensitive. 0, or -1 when header
//  is missing, not Basic, not base64, has no ':' or does not fit.
int auth_basic_parse (const char *header, char *user, size_t user_size, char *pass, size_t pass_size);
//  "Bearer <token>" into token (size at least AUTH_TOKEN_LEN + 1). 0 / -1.
int auth_bearer_parse (const char *header, char *token, size_t size);
//  A new token: AUTH_TOKEN_LEN characters + NUL.
void auth_token_new (char token[AUTH_TOKEN_LEN + 1]);
//  The hex of the BLAKE2b-256 hash (crypto_generichash) of token.
void auth_token_hash (const char *token, char hex[AUTH_TOKEN_HASH_LEN + 1]);
//  True for a client address on this host's loopback: 127.0.0.0/8, ::1,
//  and ::ffff:127.x.x.x.
bool auth_address_loopback (const char *address);
//  The key under which an address's failed logins are counted: an IPv4
//  address as it is (also when mapped into IPv6), an IPv6 address as its
//  /64 ("2001:db8:1:2::/64": one host usually holds a whole /64), anything
//  else as it is, cut to size - 1.
void auth_address_key (const char *address, char *key, size_t size);

#endif
