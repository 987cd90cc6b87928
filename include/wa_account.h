/*  wa_account — what the Webapp, the primary Master, the Coreapps and
    wagate agree on about the business account's requests: registration
    (POST /v1/account), its verification (POST /v1/account/verify), the
    shard count (POST /v1/account/shards) and contact checks (POST
    /v1/contacts).

    Each check takes the request's JSON object and names the field it
    refuses: 1008 when a required one is missing (or null), 1009 when one
    has the wrong type or value. Every side runs the same checks: the
    Webapp to answer 400 without a round trip, the others because they
    trust nothing they receive.

    The limits come from the original where it has them (a 6-digit code
    and PIN, E.164 numbers of at most 15 digits, shards 1 to 32) and from
    our wire otherwise: a contact check and its answer each travel in one
    frame (WA_TEXT_MAX, 16 KiB), which holds WA_CONTACTS_MAX answers of
    the longest input. */
#ifndef WA_ACCOUNT_H
#define WA_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define WA_ACCOUNT_CC_MAX 3         //  digits of a country calling code
#define WA_ACCOUNT_NUMBER_MAX 15    //  digits of cc + phone_number (E.164)
#define WA_ACCOUNT_CERT_MAX 4096    //  base64 characters
#define WA_ACCOUNT_VNAME_MAX 64     //  bytes of the verified name
#define WA_ACCOUNT_CODE_LEN 6       //  digits of a registration code
#define WA_ACCOUNT_PIN_LEN 6        //  digits of a two-step verification PIN
#define WA_CONTACTS_MAX 100         //  contacts per check
#define WA_CONTACT_INPUT_MAX 32     //  bytes of one contact as the client wrote it
#define WA_CONTACT_DIGITS_MAX 20    //  digits of a wa_id

//  POST /v1/account: {"cc","phone_number","method","cert"[,"pin"]}.
typedef struct {
    char cc[WA_ACCOUNT_CC_MAX + 1];
    char phone_number[WA_ACCOUNT_NUMBER_MAX + 1];
    char method[8];                     //  "sms" or "voice"
    char cert[WA_ACCOUNT_CERT_MAX + 1]; //  base64, as sent
    char vname[WA_ACCOUNT_VNAME_MAX + 1];   //  what the cert names
    char pin[WA_ACCOUNT_PIN_LEN + 1];   //  "" when none was sent
} wa_registration_t;

//  POST /v1/account/shards: {"cc","phone_number","shards"[,"pin"]}.
typedef struct {
    char cc[WA_ACCOUNT_CC_MAX + 1];
    char phone_number[WA_ACCOUNT_NUMBER_MAX + 1];
    int shards;                         //  1, 2, 4, 8, 16 or 32
    char pin[WA_ACCOUNT_PIN_LEN + 1];
} wa_shards_request_t;

//  POST /v1/contacts: {"blocking","contacts","force_check"}.
typedef struct {
    bool wait;                          //  "blocking": "wait" (default "no_wait")
    bool force_check;                   //  default false
    size_t count;
    const char *contacts[WA_CONTACTS_MAX];  //  point into the checked JSON
} wa_contacts_t;

//  Each: 0 with *out filled, or 1008 / 1009 with why naming the field.
int wa_account_register_check (const json_t *root, wa_registration_t *out, char *why, size_t why_size);
int wa_account_verify_check (const json_t *root, char code[WA_ACCOUNT_CODE_LEN + 1], char *why, size_t why_size);
int wa_account_shards_check (const json_t *root, wa_shards_request_t *out, char *why, size_t why_size);
//  The pointers in *out point into root, which must outlive them.
int wa_contacts_check (const json_t *root, wa_contacts_t *out, char *why, size_t why_size);

//  The verified name a certificate holds. Our network's certificates are
//  the base64 (standard alphabet, padded) of the business's display name:
//  1 to WA_ACCOUNT_VNAME_MAX bytes of UTF-8 without control characters.
//  0, or -1 when cert is no such certificate.
int wa_account_cert_vname (const char *cert, char *vname, size_t size);

//  A contact as the network reads it: an optional leading '+', then
//  digits, with spaces, dashes, dots and parentheses between them (the
//  rule of a message's recipient). 0 with its digits in out (1 to
//  WA_CONTACT_DIGITS_MAX), or -1 when input is no phone number.
int wa_contact_digits (const char *input, char out[WA_CONTACT_DIGITS_MAX + 1]);

#endif
