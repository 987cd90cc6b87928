/*  contacts — POST /v1/contacts: checked here (wa_contacts_check), then
    forwarded as op "contacts" to the primary Coreapp of the first
    contact's shard (crc32 of its digits mod shards, as a message to it is
    routed; shard 0 when it has no digits). Any primary could answer — a
    contact belongs to no shard — but the same list then goes to the same
    Coreapp, whose cache (src/wacore/contacts.h) remembers its answers. The
    Coreapp asks the upstream and answers {"contacts":[{"input","status"
    [,"wa_id"]}]}; across a failover the Webapp retries until
    request_deadline, as for a message. Any token may check contacts. */
#include "wa_account.h"
#include "wa_message.h"
#include "web.h"

void
contacts_check (web_t *self, web_req_t *req)
{
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a contact check: {\"blocking\": \"wait\", "
                  "\"contacts\": [\"+16315551234\"]}");
        return;
    }
    wa_contacts_t contacts;
    char why[300];
    int code = wa_contacts_check (req->input, &contacts, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    int shards = web_shards (self);
    if (shards == 0) {
        web_fail (self, req, 503, WA_ERR_NOT_READY, "the shard map has not been read from the database yet");
        return;
    }
    char digits[WA_CONTACT_DIGITS_MAX + 1];
    bool routed = wa_contact_digits (contacts.contacts[0], digits) == 0;
    //  Only what the Coreapp reads goes on: the request's other keys stay here.
    json_t *request = json_pack ("{s:s, s:s, s:O, s:b}", "op", "contacts", "blocking",
                                 contacts.wait ? "wait" : "no_wait", "contacts",
                                 json_object_get (req->input, "contacts"), "force_check", contacts.force_check);
    if (routed)
        web_forward_routed (self, req, digits, request);
    else
        web_forward (self, req, 0, request);
}
