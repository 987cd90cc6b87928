/*  identity — GET and PUT /v1/contacts/{wa_id}/identity (any token): the
    contact's identity hash as the network has it, and the business's
    acknowledgement of it. Checked here, then forwarded as op "identity"
    to the primary Coreapp of the contact's shard (crc32 of its digits mod
    shards, as a message to it is routed), which asks the upstream on its
    session and reads or stores the acknowledgement (contact_identity,
    src/wacore/identity.h); across a failover the Webapp retries until
    request_deadline, as for a message. */
#include "wa_account.h"
#include "wa_message.h"
#include "web.h"

#define IDENTITY_HASH_MAX 64

void
identity_request (web_t *self, web_req_t *req)
{
    const char *wa_id = req->route.param;
    size_t len = strlen (wa_id);
    if (len == 0 || len > WA_CONTACT_DIGITS_MAX || strspn (wa_id, "0123456789") != len) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "'%.40s' is not a WhatsApp id (1 to %d digits)", wa_id,
                  WA_CONTACT_DIGITS_MAX);
        return;
    }
    json_t *request = json_pack ("{s:s, s:s}", "op", "identity", "wa_id", wa_id);
    if (req->route.id == ROUTE_IDENTITY_ACK) {
        if (!json_is_object (req->input)) {
            json_decref (request);
            web_fail (self, req, 0, req->input ? WA_ERR_INVALID : WA_ERR_MISSING,
                      "the body must be a JSON object: {\"hash\": \"...\"}");
            return;
        }
        const char *key;
        json_t *value;
        json_object_foreach (req->input, key, value)
            if (!streq (key, "hash")) {
                json_decref (request);
                web_fail (self, req, 0, WA_ERR_INVALID, "'%.64s' is not a field this request takes", key);
                return;
            }
        json_t *hash = json_object_get (req->input, "hash");
        const char *text = json_string_value (hash);
        if (!hash || json_is_null (hash) || !text || !*text || strlen (text) > IDENTITY_HASH_MAX
        ||  strlen (text) != json_string_length (hash)) {
            json_decref (request);
            web_fail (self, req, 0, !hash || json_is_null (hash) ? WA_ERR_MISSING : WA_ERR_INVALID,
                      !hash || json_is_null (hash) ? "'hash' is missing: the identity hash GET answered"
                      : "'hash' must be the identity hash GET answered (a string of 1 to 64 characters)");
            return;
        }
        json_object_set_new (request, "hash", json_string (text));
        json_object_set_new (request, "by", json_string (req->caller));
    }
    int shards = web_shards (self);
    if (shards == 0) {
        json_decref (request);
        web_fail (self, req, 503, WA_ERR_NOT_READY, "the shard map has not been read from the database yet");
        return;
    }
    int shard = wa_message_shard (wa_id, shards);
    json_object_set_new (request, "shard", json_integer (shard));
    web_forward_routed (self, req, wa_id, request);
}
