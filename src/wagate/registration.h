/*  account — the business account as the network knows it: whether it is
    registered, the registration under way (the number, the method, the
    verified name and the 6-digit code "sent" to the phone), and the
    network's answer to a contact check.

    Registration, as the original's: `register` makes a code and "sends"
    it (202 with the verified name; 201 when the number is registered
    already), then `verify` with that code registers the account (201).
    `wagate code` reads the pending code, as the phone would. A register
    while a code is pending for the same number keeps that code, so a
    retried request changes nothing; ACCOUNT_VERIFY_TRIES wrong codes
    discard it. While the account is not registered, a LOGIN gets
    UNREGISTERED and no session opens (gate.c). wagate_registered = 1 (the
    default) starts registered, with no number known.

    Contacts: a number ending in one of wagate_invalid_digits is invalid,
    any other valid, with its digits as wa_id; what is no phone number
    (wa_contact_digits) is invalid.

    The CONTROL ops (on upstream_control_endpoint), each answered with a
    CONTROL_REPLY of an HTTP status and a JSON object that echoes the
    request's "id" when it has one:
      {"op":"register","cc","phone_number","method","cert"[,"pin"]}
                         202 {"account":[{"vname"}]}, 201 {}, 400 {"error"}
      {"op":"verify","code"}           201 {}, 400 {"error"}
      {"op":"code"}                    200 {"code"}, 404 {"error"} when none is pending
      {"op":"registration"}            200 {"state": "registered" | "pending" |
                                       "unregistered", "cc", "phone_number", "vname"}
      {"op":"rotate_identity","wa_id"} 200 {"wa_id","hash","created_timestamp"}: the
                                       contact's identity key changes (a test's
                                       "the customer reinstalled"), 400 {"error"}

    Identities: every valid contact has an identity key, whose hash (8
    bytes of SHA-256, base64, as the original's) is stable across runs
    until rotated; a CONTACTS request {"identity": wa_id} is answered
    {"identity": {"wa_id", "hash", "created_timestamp" (ms)}}, or
    {"error"} for a contact that is not valid.

    Pure but for the random code (libsodium): no sockets, no clock. */
#ifndef WAGATE_ACCOUNT_H
#define WAGATE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "wa_config.h"

#define ACCOUNT_VERIFY_TRIES 10

typedef struct _account_t account_t;

account_t *account_new (bool registered, const char *invalid_digits);
void account_destroy (account_t **self_p);
bool account_registered (const account_t *self);
//  A CONTROL request: true with *status and *reply (a new object) when op
//  is one of the account's; false, touching nothing, when it is not.
bool account_control (account_t *self, const char *op, const json_t *request, int *status, json_t **reply);
//  A CONTACTS request's text ({"contacts":[...]}) → the CONTACTS_REPLY's
//  text ({"contacts":[{"input","status"[,"wa_id"]}]}, malloc'd), or NULL
//  with why when the request is malformed.
char *account_contacts (const account_t *self, const char *text, size_t len, char *why, size_t why_size);

//  `wagate code`: asks the running wagate for the pending code and prints
//  it. The exit status: 0, or 1 when there is none or no answer.
int account_code_command (const wa_config_t *config);

#endif
