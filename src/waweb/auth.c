/*  auth — see auth.h */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sodium.h>
#include "auth.h"

bool
auth_username_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len < AUTH_USERNAME_MIN || len > AUTH_USERNAME_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

const char *
auth_password_problem (const char *password)
{
    size_t len = password ? strlen (password) : 0;
    if (len < AUTH_PASSWORD_MIN || len > AUTH_PASSWORD_MAX)
        return "must be 8 to 64 characters long";
    bool upper = false, lower = false, digit = false, special = false;
    for (const unsigned char *c = (const unsigned char *) password; *c; c++) {
        if (*c < 0x20 || *c > 0x7e)
            return "may hold printable ASCII characters only";
        if (isupper (*c)) upper = true;
        else if (islower (*c)) lower = true;
        else if (isdigit (*c)) digit = true;
        else special = true;
    }
    if (!upper)
        return "must contain an upper case letter";
    if (!lower)
        return "must contain a lower case letter";
    if (!digit)
        return "must contain a digit";
    if (!special)
        return "must contain a special character";
    return NULL;
}

//  The value after "<scheme> " (case-insensitive scheme, spaces skipped).
static const char *
s_after_scheme (const char *header, const char *scheme)
{
    size_t n = strlen (scheme);
    if (!header || strncasecmp (header, scheme, n) != 0 || header[n] != ' ')
        return NULL;
    header += n;
    while (*header == ' ')
        header++;
    return header;
}

int
auth_basic_parse (const char *header, char *user, size_t user_size, char *pass, size_t pass_size)
{
    const char *value = s_after_scheme (header, "Basic");
    if (!value || !*value || user_size == 0 || pass_size == 0)
        return -1;
    size_t vlen = strlen (value);
    while (vlen && value[vlen - 1] == ' ')
        vlen--;
    unsigned char decoded[512];
    size_t dlen = 0;
    if (vlen > 680
    ||  sodium_base642bin (decoded, sizeof decoded - 1, value, vlen, NULL, &dlen, NULL,
                           sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    decoded[dlen] = 0;
    if (memchr (decoded, 0, dlen))
        return -1;
    char *colon = strchr ((char *) decoded, ':');
    if (!colon)
        return -1;
    size_t ulen = (size_t) (colon - (char *) decoded);
    size_t plen = dlen - ulen - 1;
    if (ulen >= user_size || plen >= pass_size)
        return -1;
    memcpy (user, decoded, ulen);
    user[ulen] = 0;
    memcpy (pass, colon + 1, plen);
    pass[plen] = 0;
    sodium_memzero (decoded, sizeof decoded);
    return 0;
}

int
auth_bearer_parse (const char *header, char *token, size_t size)
{
    const char *value = s_after_scheme (header, "Bearer");
    if (!value)
        return -1;
    size_t len = strlen (value);
    while (len && value[len - 1] == ' ')
        len--;
    if (len == 0 || len >= size)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) value[i]) && value[i] != '-' && value[i] != '_')
            return -1;
    memcpy (token, value, len);
    token[len] = 0;
    return 0;
}

void
auth_token_new (char token[AUTH_TOKEN_LEN + 1])
{
    unsigned char bytes[32];
    randombytes_buf (bytes, sizeof bytes);
    sodium_bin2base64 (token, AUTH_TOKEN_LEN + 1, bytes, sizeof bytes,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero (bytes, sizeof bytes);
}

void
auth_token_hash (const char *token, char hex[AUTH_TOKEN_HASH_LEN + 1])
{
    unsigned char hash[32];
    crypto_generichash (hash, sizeof hash, (const unsigned char *) token, strlen (token), NULL, 0);
    sodium_bin2hex (hex, AUTH_TOKEN_HASH_LEN + 1, hash, sizeof hash);
}

bool
auth_address_loopback (const char *address)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, address, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, address, &v6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK (&v6))
        return true;
    return IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr[12] == 127;
}

void
auth_address_key (const char *address, char *key, size_t size)
{
    struct in6_addr v6;
    if (size == 0)
        return;
    if (inet_pton (AF_INET6, address, &v6) != 1) {
        snprintf (key, size, "%s", address);
        return;
    }
    char text[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED (&v6)) {
        inet_ntop (AF_INET, &v6.s6_addr[12], text, sizeof text);
        snprintf (key, size, "%s", text);
        return;
    }
    memset (&v6.s6_addr[8], 0, 8);
    inet_ntop (AF_INET6, &v6, text, sizeof text);
    snprintf (key, size, "%s/64", text);
}
