/*  messages — POST /v1/messages and PUT /v1/messages/{id}.

    POST: checked here (wa_message_check: every type, field by field),
    then forwarded to the primary Coreapp of the recipient's shard
    (coreapps.h), which commits it to the outbox and answers 201 with its
    id.

    Every request gets an idempotency key before its first attempt: from
    the client's Idempotency-Key header (scoped to the caller, so two users'
    keys never meet), or a random one. The Coreapp derives the message id
    from it, so however often the request is retried — after a timeout, a
    1018, a failover — the message is accepted once and keeps one id.

    Media by link. Before it forwards a message, the Webapp downloads every
    media "link" in it (fetch.h: on the downloader's thread, under the
    kind's size, type and time limits, with the credentials of the media
    provider the link names), stores the file once in media_dir under its
    content id, inserts its row in the media table (INSERT IGNORE: the same
    file downloaded again is the same row), and puts the id in place of
    the link. So what reaches the Coreapp, the outbox and the upstream is
    always a media id, and the Coreapp, which keeps no files, never touches
    media_dir. Anything the download refuses answers 400 (1009) naming the
    link's field; nothing is forwarded.

    PUT: an inbound message marked read. Its sender comes from its row in
    inbound_ids (written with its callback, kept for
    retention_callbacks_days whatever pass_through says), or, for one
    stored before schema 17, from its callback row. The request goes, as
    op "read" routed by the sender, to the primary Coreapp of the shard
    that serves the sender under the shard count in force at each attempt
    (not the shard it came under: the count may have changed since), which
    sends it upstream and answers once the upstream has it
    (src/wacore/reads.h). An id found in neither answers 404 (1006). */
#include <sodium.h>
#include "wa_message.h"
#include "wa_log.h"
#include "idempotency.h"
#include "web.h"

//  --------------------------------------------------------------------------
//  POST /v1/messages

//  A message on its way (req->extra): its links being downloaded.
typedef struct {
    wa_message_t msg;           //  points into req->input
    char key[WA_MESSAGE_KEY_MAX + 1];
    int shard;
    int next;                   //  the media being resolved
    fetch_spec_t spec;
    fetch_result_t result;
    bool provider_found;
    char provider_type[16];
    char *provider_config;      //  its JSON, from the database
} send_t;

static void
s_send_free (void *extra)
{
    send_t *send = extra;
    if (!send)
        return;
    if (send->provider_config) {
        sodium_memzero (send->provider_config, strlen (send->provider_config));
        free (send->provider_config);
    }
    sodium_memzero (&send->spec, sizeof send->spec);
    free (send);
}

static void
s_forward (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    json_t *request = json_pack ("{s:s, s:s, s:i, s:O}", "op", "send", "key", send->key, "shard", send->shard,
                                 "message", req->input);
    web_forward_routed (self, req, send->msg.to, request);
}

static void s_next_link (web_t *self, web_req_t *req);

static const char *SQL_MEDIA_ROW =
    "INSERT IGNORE INTO media (id, mime_type, sha256, size, created_by, created_at) VALUES (?, ?, ?, ?, ?, NOW(6))";

static void
s_media_row_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    send_t *send = req->extra;
    job->rc = wa_db_exec (db, SQL_MEDIA_ROW, "sssus", send->result.id, send->result.mime, send->result.sha256,
                          send->result.size, req->caller) < 0 ? -1 : 0;
    if (job->rc)
        wa_warn ("db: cannot insert media %s: %s", send->result.id, wa_db_error (db));
}

//  The file's row is there: the id in place of the link, then the next.
static void
s_media_row_done (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot record the downloaded media: the database failed");
        return;
    }
    wa_media_ref_t *ref = &send->msg.media[send->next];
    json_object_del (ref->object, "link");
    json_object_del (ref->object, "provider");
    json_object_set_new (ref->object, "id", json_string (send->result.id));
    wa_info ("media %s downloaded for %s: %s, %" PRIu64 " bytes, sha256 %s, by %s", send->result.id, ref->field,
             send->result.mime, send->result.size, send->result.sha256, req->caller);
    send->next++;
    s_next_link (self, req);
}

static void
s_fetched (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    wa_media_ref_t *ref = &send->msg.media[send->next];
    if (send->result.rc == -1) {
        web_fail (self, req, 400, WA_ERR_INVALID, "'%s.link' cannot be sent: %s", ref->field, send->result.why);
        return;
    }
    if (send->result.rc) {
        wa_warn ("cannot download %s for %s: %s", ref->field, req->caller, send->result.why);
        web_fail (self, req, 500, WA_ERR_INTERNAL, "cannot store the media of '%s.link': %s", ref->field,
                  send->result.why);
        return;
    }
    web_db (self, req, s_media_row_run, s_media_row_done);
}

//  The provider's credentials into the download's spec. 0, or -1 (answered).
static int
s_credentials (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    wa_media_ref_t *ref = &send->msg.media[send->next];
    json_t *config = send->provider_config ? json_loads (send->provider_config, 0, NULL) : NULL;
    json_t *basic = json_object_get (config, "basic");
    const char *user = json_string_value (json_object_get (basic, "username"));
    const char *password = json_string_value (json_object_get (basic, "password"));
    const char *bearer = json_string_value (json_object_get (config, "bearer"));
    int rc = 0;
    if (bearer && strlen (bearer) < sizeof send->spec.bearer)
        snprintf (send->spec.bearer, sizeof send->spec.bearer, "%s", bearer);
    else
    if (user && password && strlen (user) < sizeof send->spec.username
    &&  strlen (password) < sizeof send->spec.password && !strchr (user, ':')) {
        snprintf (send->spec.username, sizeof send->spec.username, "%s", user);
        snprintf (send->spec.password, sizeof send->spec.password, "%s", password);
    }
    else {
        wa_warn ("media provider '%s' has no usable credentials (config: basic {username, password}, or bearer)",
                 ref->provider);
        web_fail (self, req, 400, WA_ERR_INVALID, "'%s.provider.name': media provider '%.100s' has no usable "
                  "credentials", ref->field, ref->provider);
        rc = -1;
    }
    if (config) {
        //  Wipe the parsed secrets before they go.
        if (bearer)
            sodium_memzero ((char *) bearer, strlen (bearer));
        if (password)
            sodium_memzero ((char *) password, strlen (password));
        json_decref (config);
    }
    return rc;
}

static void
s_download (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    wa_media_ref_t *ref = &send->msg.media[send->next];
    const wa_config_t *config = web_config (self);
    snprintf (send->spec.url, sizeof send->spec.url, "%s", ref->link);
    snprintf (send->spec.kind, sizeof send->spec.kind, "%s", ref->kind);
    snprintf (send->spec.dir, sizeof send->spec.dir, "%s", config->media_dir);
    send->spec.timeout_ms = (long) (config->media_download_timeout * 1000);
    send->spec.allow_private = config->media_download_private;
    memset (&send->result, 0, sizeof send->result);
    //  The credentials are wiped once handed over (fetch_start); send may
    //  be gone after this (answered at once when too many downloads run).
    web_fetch (self, req, &send->spec, &send->result, s_fetched);
}

static const char *SQL_PROVIDER = "SELECT type, config FROM media_providers WHERE name = ?";

static int
s_provider_row (const wa_db_row_t *row, void *arg)
{
    send_t *send = arg;
    send->provider_found = true;
    snprintf (send->provider_type, sizeof send->provider_type, "%s", wa_db_row_str (row, 0));
    free (send->provider_config);
    send->provider_config = strdup (wa_db_row_str (row, 1));
    return 0;
}

static void
s_provider_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    send_t *send = req->extra;
    send->provider_found = false;
    job->rc = wa_db_query (db, SQL_PROVIDER, s_provider_row, send, "s", send->msg.media[send->next].provider) < 0
            ? -1 : 0;
}

static void
s_provider_done (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    wa_media_ref_t *ref = &send->msg.media[send->next];
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot look up the media provider now: the database failed");
        return;
    }
    if (!send->provider_found) {
        web_fail (self, req, 400, WA_ERR_INVALID, "'%s.provider.name': no media provider named '%.100s'", ref->field,
                  ref->provider);
        return;
    }
    if (s_credentials (self, req) == 0)
        s_download (self, req);
}

//  The next media by link, or the message on its way once there is none.
static void
s_next_link (web_t *self, web_req_t *req)
{
    send_t *send = req->extra;
    while (send->next < send->msg.media_count && !send->msg.media[send->next].link)
        send->next++;
    if (send->next == send->msg.media_count) {
        s_forward (self, req);
        return;
    }
    memset (&send->spec, 0, sizeof send->spec);
    if (send->msg.media[send->next].provider)
        web_db (self, req, s_provider_run, s_provider_done);
    else
        s_download (self, req);
}

void
messages_send (web_t *self, web_req_t *req)
{
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be a message: {\"to\":..., \"type\":\"text\", "
                  "\"text\":{\"body\":...}}");
        return;
    }
    send_t *send = (send_t *) zmalloc (sizeof (send_t));
    req->extra = send;
    req->extra_free = s_send_free;
    char why[300];
    int code = wa_message_check (req->input, &send->msg, why, sizeof why);
    if (code) {
        web_fail (self, req, 0, code, "%s", why);
        return;
    }
    if (req->http.idempotency_key && !idempotency_client_valid (req->http.idempotency_key)) {
        web_fail (self, req, 0, WA_ERR_INVALID, "the Idempotency-Key header must be 1 to %d printable "
                  "characters without spaces", IDEMPOTENCY_CLIENT_MAX);
        return;
    }
    int shards = web_shards (self);
    if (shards == 0) {
        web_fail (self, req, 503, WA_ERR_NOT_READY, "the shard map has not been read from the database yet");
        return;
    }
    idempotency_key (req->caller, req->http.idempotency_key, send->key, sizeof send->key);
    send->shard = wa_message_shard (send->msg.to, shards);
    s_next_link (self, req);
}

//  --------------------------------------------------------------------------
//  PUT /v1/messages/{id}

typedef struct {
    char id[WA_MESSAGE_REF_MAX + 1];
    bool found;
    char from[WA_MESSAGE_TO_MAX + 1];
} read_t;

//  The kept id first; a callback row for a message stored before schema 17.
static const char *SQL_INBOUND =
    "(SELECT sender FROM inbound_ids WHERE message_id = ?) UNION ALL "
    "(SELECT conversation FROM callbacks WHERE event_id = ? AND kind = 'message') LIMIT 1";

static int
s_inbound_row (const wa_db_row_t *row, void *arg)
{
    read_t *read = arg;
    read->found = true;
    snprintf (read->from, sizeof read->from, "%s", wa_db_row_str (row, 0));
    return 1;
}

static void
s_inbound_run (wa_job_t *job, wa_db_t *db)
{
    web_req_t *req = web_job_req (job);
    read_t *read = req->extra;
    job->rc = wa_db_query (db, SQL_INBOUND, s_inbound_row, read, "ss", read->id, read->id) < 0 ? -1 : 0;
}

static void
s_inbound_done (web_t *self, web_req_t *req)
{
    read_t *read = req->extra;
    if (req->job_rc) {
        web_fail (self, req, 0, WA_ERR_DATABASE, "cannot look the message up now: the database failed");
        return;
    }
    if (!read->found) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no inbound message with id '%s'", read->id);
        return;
    }
    if (web_shards (self) == 0) {
        web_fail (self, req, 503, WA_ERR_NOT_READY, "the shard map has not been read from the database yet");
        return;
    }
    //  Routed by the sender: each attempt goes to the shard that serves it
    //  under the count in force then, and the Coreapp checks it by "route".
    json_t *request = json_pack ("{s:s, s:s, s:s}", "op", "read", "id", read->id, "from", read->from);
    web_forward_routed (self, req, read->from, request);
}

void
messages_read (web_t *self, web_req_t *req)
{
    if (!req->input) {
        web_fail (self, req, 0, WA_ERR_MISSING, "the body must be {\"status\": \"read\"}");
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach (req->input, key, value)
        if (!streq (key, "status")) {
            web_fail (self, req, 0, WA_ERR_INVALID, "'%.64s' is not a field of this request (it takes status)", key);
            return;
        }
    const json_t *status = json_object_get (req->input, "status");
    if (!status || json_is_null (status)) {
        web_fail (self, req, 0, WA_ERR_MISSING, "'status' is missing");
        return;
    }
    if (!json_is_string (status) || !streq (json_string_value (status), "read")) {
        web_fail (self, req, 0, WA_ERR_INVALID, "'status' must be \"read\"");
        return;
    }
    if (!wa_message_ref_valid (req->route.param)) {
        web_fail (self, req, 404, WA_ERR_NOT_FOUND, "no inbound message with id '%.64s'", req->route.param);
        return;
    }
    read_t *read = (read_t *) zmalloc (sizeof (read_t));
    snprintf (read->id, sizeof read->id, "%s", req->route.param);
    req->extra = read;
    web_db (self, req, s_inbound_run, s_inbound_done);
}
