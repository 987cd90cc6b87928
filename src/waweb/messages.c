/*  messages — POST /v1/messages: checked here, then forwarded to the
    primary Coreapp of the recipient's shard (coreapps.h), which commits it
    to the outbox and answers 201 with its id.

    Every request gets an idempotency key before its first attempt: from
    the client's Idempotency-Key header (scoped to the caller, so two users'
    keys never meet), or a random one. The Coreapp derives the message id
    from it, so however often the request is retried — after a timeout, a
    1018, a failover — the message is accepted once and keeps one id. */
#include <sodium.h>
#include "wa_message.h"
#include "web.h"

#define CLIENT_KEY_MAX 64

//  The client's key: 1 to 64 printable ASCII characters, no spaces.
static bool
s_client_key_valid (const char *key)
{
    size_t len = strlen (key);
    if (len == 0 || len > CLIENT_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] <= ' ' || key[i] > '~')
            return false;
    return true;
}

static void
s_key (web_req_t *req, char *key, size_t size)
{
    unsigned char bytes[16];
    char text[sizeof bytes * 2 + 1];
    if (req->http.idempotency_key) {
        crypto_generichash_state state;
        crypto_generichash_init (&state, NULL, 0, sizeof bytes);
        crypto_generichash_update (&state, (const unsigned char *) req->caller, strlen (req->caller) + 1);
        crypto_generichash_update (&state, (const unsigned char *) req->http.idempotency_key,
                                   strlen (req->http.idempotency_key));
        crypto_generichash_final (&state, bytes, sizeof bytes);
        snprintf (key, size, "c.%s", sodium_bin2hex (text, sizeof text, bytes, sizeof bytes));
    }
    else {
        randombytes_buf (bytes, sizeof bytes);
        snprintf (key, size, "w.%s", sodium_bin2hex (text, sizeof text, bytes, sizeof bytes));
    }
}

void
messages_send (web_t *self, web_req_t *req)
{
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a message: {\"to\":..., \"type\":\"text\", "
                  "\"text\":{\"body\":...}}");
        return;
    }
    wa_message_t msg;
    char why[200];
    int code = wa_message_check (req->input, &msg, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    if (req->http.idempotency_key && !s_client_key_valid (req->http.idempotency_key)) {
        web_fail (self, req, 0, WA_ERR_INVALID, "the Idempotency-Key header must be 1 to %d printable "
                  "characters without spaces", CLIENT_KEY_MAX);
        return;
    }
    int shards = web_shards (self);
    if (shards == 0) {
        web_fail (self, req, 503, WA_ERR_NOT_READY, "the shard map has not been read from the database yet");
        return;
    }
    char key[WA_MESSAGE_KEY_MAX + 1];
    s_key (req, key, sizeof key);
    int shard = wa_message_shard (msg.to, shards);
    json_t *request = json_pack ("{s:s, s:s, s:i, s:O}", "op", "send", "key", key, "shard", shard,
                                 "message", req->input);
    web_forward (self, req, shard, request);
}
