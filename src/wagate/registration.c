/*  registration — see registration.h */
#include <stdio.h>
#include <string.h>
#include <czmq.h>
#include <sodium.h>
#include "wa_account.h"
#include "wa_codec.h"
#include "wa_log.h"
#include "registration.h"

#define S_COMMAND_TIMEOUT_MSEC 3000

typedef enum { STATE_UNREGISTERED, STATE_PENDING, STATE_REGISTERED } state_t;
static const char *s_state_names[] = { "unregistered", "pending", "registered" };

struct _account_t {
    state_t state;
    char invalid_digits[16];
    char cc[WA_ACCOUNT_CC_MAX + 1];
    char phone_number[WA_ACCOUNT_NUMBER_MAX + 1];
    char method[8];
    char vname[WA_ACCOUNT_VNAME_MAX + 1];
    char code[WA_ACCOUNT_CODE_LEN + 1];     //  pending, or the one that verified
    int wrong_codes;
    zhashx_t *identities;                   //  wa_id → identity_t, once rotated
};

//  A contact's identity key: generation 0 (never rotated) is the same for a
//  wa_id in every run, so its hash is stable; each rotation makes a new one.
typedef struct {
    uint32_t generation;
    int64_t created_ms;
} identity_t;

#define IDENTITY_CREATED_MS ((int64_t) 1600000000000)

account_t *
account_new (bool registered, const char *invalid_digits)
{
    if (sodium_init () < 0)
        return NULL;
    account_t *self = (account_t *) zmalloc (sizeof (account_t));
    self->state = registered ? STATE_REGISTERED : STATE_UNREGISTERED;
    self->identities = zhashx_new ();
    zhashx_set_destructor (self->identities, (zhashx_destructor_fn *) zstr_free);
    snprintf (self->invalid_digits, sizeof self->invalid_digits, "%s", invalid_digits ? invalid_digits : "");
    return self;
}

void
account_destroy (account_t **self_p)
{
    if (*self_p) {
        sodium_memzero ((*self_p)->code, sizeof (*self_p)->code);
        zhashx_destroy (&(*self_p)->identities);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
account_registered (const account_t *self)
{
    return self->state == STATE_REGISTERED;
}

static bool
s_same_number (const account_t *self, const wa_registration_t *reg)
{
    return streq (self->cc, reg->cc) && streq (self->phone_number, reg->phone_number);
}

static json_t *
s_error (int *status, int code, const char *text)
{
    *status = code;
    return json_pack ("{s:s}", "error", text);
}

static json_t *
s_register (account_t *self, const json_t *request, int *status)
{
    wa_registration_t reg;
    char why[300];
    if (wa_account_register_check (request, &reg, why, sizeof why))
        return s_error (status, 400, why);
    if (self->state == STATE_REGISTERED) {
        if (*self->cc && !s_same_number (self, &reg)) {
            snprintf (why, sizeof why, "the account is registered as +%s %s", self->cc, self->phone_number);
            return s_error (status, 400, why);
        }
        //  Registered from the start: the number is learnt now.
        if (!*self->cc) {
            snprintf (self->cc, sizeof self->cc, "%s", reg.cc);
            snprintf (self->phone_number, sizeof self->phone_number, "%s", reg.phone_number);
            snprintf (self->vname, sizeof self->vname, "%s", reg.vname);
        }
        *status = 201;
        return json_object ();
    }
    //  The same number again keeps its code: a retried request changes nothing.
    if (self->state != STATE_PENDING || !s_same_number (self, &reg)) {
        snprintf (self->code, sizeof self->code, "%06" PRIu32, randombytes_uniform (1000000));
        self->wrong_codes = 0;
    }
    self->state = STATE_PENDING;
    snprintf (self->cc, sizeof self->cc, "%s", reg.cc);
    snprintf (self->phone_number, sizeof self->phone_number, "%s", reg.phone_number);
    snprintf (self->method, sizeof self->method, "%s", reg.method);
    snprintf (self->vname, sizeof self->vname, "%s", reg.vname);
    wa_info ("registration: a code went by %s to +%s %s (%s)", self->method, self->cc, self->phone_number,
             self->vname);
    *status = 202;
    return json_pack ("{s:[{s:s}]}", "account", "vname", self->vname);
}

static json_t *
s_verify (account_t *self, const json_t *request, int *status)
{
    char code[WA_ACCOUNT_CODE_LEN + 1], why[300];
    if (wa_account_verify_check (request, code, why, sizeof why))
        return s_error (status, 400, why);
    if (self->state == STATE_REGISTERED) {
        //  The code that verified it, again: a retried request.
        if (streq (code, self->code)) {
            *status = 201;
            return json_object ();
        }
        return s_error (status, 400, "the account is registered already; there is no code to verify");
    }
    if (self->state != STATE_PENDING)
        return s_error (status, 400, "no registration is under way: request a code first (POST /v1/account)");
    if (sodium_memcmp (code, self->code, WA_ACCOUNT_CODE_LEN) != 0) {
        if (++self->wrong_codes >= ACCOUNT_VERIFY_TRIES) {
            self->state = STATE_UNREGISTERED;
            sodium_memzero (self->code, sizeof self->code);
            wa_info ("registration: %d wrong codes; the code is void", ACCOUNT_VERIFY_TRIES);
            return s_error (status, 400, "the code is wrong, for the last time: request a new code "
                            "(POST /v1/account)");
        }
        return s_error (status, 400, "the code is wrong");
    }
    self->state = STATE_REGISTERED;
    wa_info ("registration: +%s %s (%s) is registered", self->cc, self->phone_number, self->vname);
    *status = 201;
    return json_object ();
}

//  The identity of wa_id as the network knows it (a new object).
static json_t *
s_identity (const account_t *self, const char *wa_id)
{
    identity_t *identity = zhashx_lookup (self->identities, wa_id);
    identity_t initial = { 0, IDENTITY_CREATED_MS };
    if (!identity)
        identity = &initial;
    char seed[64];
    snprintf (seed, sizeof seed, "wagate-identity:%s:%" PRIu32, wa_id, identity->generation);
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (hash, (const unsigned char *) seed, strlen (seed));
    char text[sodium_base64_ENCODED_LEN (8, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64 (text, sizeof text, hash, 8, sodium_base64_VARIANT_ORIGINAL);
    return json_pack ("{s:s, s:s, s:I}", "wa_id", wa_id, "hash", text, "created_timestamp",
                      (json_int_t) identity->created_ms);
}

//  A wa_id the network knows: digits, not ending in an invalid digit.
static bool
s_known_contact (const account_t *self, const char *wa_id)
{
    size_t len = wa_id ? strlen (wa_id) : 0;
    return len > 0 && len <= WA_CONTACT_DIGITS_MAX && strspn (wa_id, "0123456789") == len
        && !strchr (self->invalid_digits, wa_id[len - 1]);
}

static json_t *
s_rotate (account_t *self, const json_t *request, int *status)
{
    const char *wa_id = json_string_value (json_object_get (request, "wa_id"));
    if (!s_known_contact (self, wa_id))
        return s_error (status, 400, "'wa_id' must be the digits of a valid contact");
    identity_t *identity = zhashx_lookup (self->identities, wa_id);
    if (!identity) {
        identity = (identity_t *) zmalloc (sizeof (identity_t));
        zhashx_insert (self->identities, wa_id, identity);
    }
    identity->generation++;
    identity->created_ms = zclock_time ();
    wa_info ("identity of %s rotated (generation %" PRIu32 ")", wa_id, identity->generation);
    *status = 200;
    return s_identity (self, wa_id);
}

bool
account_control (account_t *self, const char *op, const json_t *request, int *status, json_t **reply)
{
    if (streq (op, "rotate_identity"))
        *reply = s_rotate (self, request, status);
    else
    if (streq (op, "register"))
        *reply = s_register (self, request, status);
    else
    if (streq (op, "verify"))
        *reply = s_verify (self, request, status);
    else
    if (streq (op, "code")) {
        if (self->state == STATE_PENDING) {
            *status = 200;
            *reply = json_pack ("{s:s}", "code", self->code);
        }
        else
            *reply = s_error (status, 404, "no registration code is pending");
    }
    else
    if (streq (op, "registration")) {
        *status = 200;
        *reply = json_pack ("{s:s, s:s, s:s, s:s}", "state", s_state_names[self->state], "cc", self->cc,
                            "phone_number", self->phone_number, "vname", self->vname);
    }
    else
        return false;
    json_t *id = json_object_get (request, "id");
    if (*reply && json_is_integer (id))
        json_object_set (*reply, "id", id);
    return true;
}

char *
account_contacts (const account_t *self, const char *text, size_t len, char *why, size_t why_size)
{
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *contacts = json_object_get (root, "contacts");
    const char *wa_id = json_string_value (json_object_get (root, "identity"));
    if (wa_id) {
        json_t *reply = s_known_contact (self, wa_id) ? json_pack ("{s:o}", "identity", s_identity (self, wa_id))
                      : json_pack ("{s:s}", "error", "no such contact");
        char *out = reply ? json_dumps (reply, JSON_COMPACT) : NULL;
        json_decref (reply);
        json_decref (root);
        if (!out)
            snprintf (why, why_size, "out of memory");
        return out;
    }
    if (!json_is_array (contacts)) {
        snprintf (why, why_size, "a contact check must be {\"contacts\": [...]}");
        json_decref (root);
        return NULL;
    }
    json_t *answers = json_array ();
    size_t index;
    json_t *contact;
    json_array_foreach (contacts, index, contact) {
        const char *input = json_string_value (contact);
        if (!input || json_string_length (contact) > WA_CONTACT_INPUT_MAX) {
            snprintf (why, why_size, "contacts[%zu] is not a string of at most %d bytes", index,
                      WA_CONTACT_INPUT_MAX);
            json_decref (answers);
            json_decref (root);
            return NULL;
        }
        char digits[WA_CONTACT_DIGITS_MAX + 1];
        bool valid = wa_contact_digits (input, digits) == 0
                  && !strchr (self->invalid_digits, digits[strlen (digits) - 1]);
        json_array_append_new (answers, valid ? json_pack ("{s:s, s:s, s:s}", "input", input, "status", "valid",
                                                           "wa_id", digits)
                                              : json_pack ("{s:s, s:s}", "input", input, "status", "invalid"));
    }
    json_t *reply = json_pack ("{s:o}", "contacts", answers);
    char *out = json_dumps (reply, JSON_COMPACT);
    json_decref (reply);
    json_decref (root);
    if (out && strlen (out) > WA_TEXT_MAX) {
        snprintf (why, why_size, "too many contacts for one answer");
        free (out);
        return NULL;
    }
    return out;
}

int
account_code_command (const wa_config_t *config)
{
    const char *endpoint = config->upstream_control_endpoint;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer || zsock_connect (dealer, "%s", endpoint) != 0) {
        fprintf (stderr, "wagate code: cannot connect to %s\n", endpoint);
        zsock_destroy (&dealer);
        return 1;
    }
    wa_msg_t *msg = (wa_msg_t *) zmalloc (sizeof (wa_msg_t));
    wa_msg_init (msg, WA_MSG_CONTROL);
    wa_msg_set_text (msg, "{\"op\":\"code\"}");
    int status = 1;
    int why = 0;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    if (wa_codec_send (dealer, NULL, msg))
        fprintf (stderr, "wagate code: cannot send to %s\n", endpoint);
    else
    if (!zpoller_wait (poller, S_COMMAND_TIMEOUT_MSEC))
        fprintf (stderr, "wagate code: %s\n", zpoller_terminated (poller) ? "interrupted"
                 : "no answer within 3 s (is wagate running?)");
    else
    if (wa_codec_recv (dealer, NULL, msg, &why))
        fprintf (stderr, "wagate code: bad answer from %s: %s\n", endpoint, wa_codec_strerror (why));
    else
    if (msg->type != WA_MSG_CONTROL_REPLY)
        fprintf (stderr, "wagate code: %s answered %s: %s\n", endpoint, wa_codec_type_name (msg->type), msg->text);
    else {
        json_t *reply = json_loads (msg->text, 0, NULL);
        const char *code = json_string_value (json_object_get (reply, "code"));
        if (msg->code == 200 && code) {
            printf ("%s\n", code);
            status = 0;
        }
        else {
            const char *error = json_string_value (json_object_get (reply, "error"));
            fprintf (stderr, "wagate code: %s\n", error ? error : msg->text);
        }
        json_decref (reply);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    free (msg);
    return status;
}
