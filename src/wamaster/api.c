/*  api — see api.h */
#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <sodium.h>
#include "wa_account.h"
#include "wa_codec.h"
#include "wa_errors.h"
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_named_lock.h"
#include "wa_node.h"
#include "wa_settings.h"
#include "account_state.h"
#include "api.h"
#include "appsettings.h"
#include "reshard.h"
#include "gatelink.h"
#include "wa_providers.h"
#include "docstore.h"

//  Requests accepted and not yet answered; past this, 503 (1016).
#define API_SLOTS 32
//  A change finding the settings lock taken (a `wactl settings set` under
//  way), or that lost to a change made at the same time (on Galera, on
//  another database node: our COMMIT failed certification), tries its
//  whole transaction again after LOCK_RETRY, for up to LOCK_WAIT, then
//  gets 1023. Taking the lock's row never waits (wa_named_lock.h): a wait
//  inside the worker would hold up the lease renewals queued behind it.
#define LOCK_RETRY (50 * 1000)
#define LOCK_WAIT (1000 * 1000)
//  Requests answered 1017 are logged at most this often.
#define NOT_PRIMARY_LOG_EVERY (1000 * 1000)
//  The account row follows the upstream's registration state: asked for
//  at once when this Master becomes primary, then every
//  db_liveness_interval, or after SYNC_RETRY when the upstream did not
//  answer. SYNC_POLL is how often the timer looks.
#define SYNC_POLL 0.2
#define SYNC_RETRY (1000 * 1000)
//  The upstream answers within this share of request_attempt_timeout, so
//  the Webapp hears why before it gives the attempt up.
#define UPSTREAM_TIMEOUT_SHARE 0.5

//  OP_SYNC is the Master's own (the account row), not a request. The ops
//  from OP_SHARDS_GET to OP_SYNC are the account's (s_check_account).
//  OP_STATE stands for the account state's ops (account_state.h), named
//  there.
typedef enum { OP_GET, OP_PATCH, OP_RESET, OP_PROVIDERS_GET, OP_PROVIDERS_SET, OP_PROVIDERS_DELETE, OP_GC,
               OP_SHARDS_GET, OP_SHARDS_SET, OP_REGISTER, OP_VERIFY, OP_SYNC, OP_STATE } api_op_t;
static const char *s_op_names[] = { "settings_get", "settings_patch", "settings_reset", "providers_get",
                                    "providers_set", "providers_delete", "message_gc", "shards_get",
                                    "shards_set", "register", "verify", "sync", "account_state" };
#define OPS_REQUESTED OP_SYNC

//  What a job's run says.
enum { RC_OK = 0, RC_DATABASE = -1, RC_LOCKED = 1, RC_INVALID = 2, RC_NOT_PRIMARY = 3, RC_NOT_FOUND = 4,
       RC_CONFLICT = 5 };

typedef struct {
    wa_job_t job;
    int slot;                   //  its slot's index (the reactor's, never read on the worker)
    //  in
    api_op_t op;
    wa_config_t base;           //  the live settings: for a setting the table lacks or holds invalid
    wa_config_t changes;        //  PATCH: base with the values sent (each checked)
    uint64_t changed;           //  PATCH: the settings sent
    char by[65];                //  settings.updated_by
    uint64_t node;
    uint64_t epoch;
    wa_usec_t deadline;
    //  the account ops: shards_set's request; the row to store (register,
    //  verify, sync: "" keeps what the row holds) and the answer's status
    wa_shards_request_t shards_request;
    char cc[WA_ACCOUNT_CC_MAX + 1];
    char phone_number[WA_ACCOUNT_NUMBER_MAX + 1];
    char vname[WA_ACCOUNT_VNAME_MAX + 1];
    char state[16];
    int status;
    account_state_req_t account_state;  //  OP_STATE's, in and out
    //  the providers: in, those to store (checked); out, those stored as
    //  shown (providers_get); the one to delete
    json_t *providers;
    char provider[WA_PROVIDERS_NAME_MAX + 1];
    //  out
    wa_config_t result;         //  the settings as stored (after the change)
    wa_settings_write_t write;  //  the change, through the settings store
    int shards;                 //  cluster_info's
    reshard_status_t reshard;   //  shards_get, shards_set: where a change is
    reshard_begin_t reshard_outcome;    //  shards_set
    char error[900];
} api_job_t;

//  SLOT_UPSTREAM: waiting for the upstream (gatelink), before its job;
//  SLOT_GC: for the retention pass a message_gc asked for (api_gc_ended).
typedef enum { SLOT_FREE, SLOT_UPSTREAM, SLOT_QUEUED, SLOT_RUNNING, SLOT_GC } slot_state_t;

typedef struct slot_t slot_t;
struct slot_t {
    api_t *api;
    api_job_t *job;             //  NULL while the worker has it (SLOT_RUNNING)
    api_op_t op;                //  the job's, also while the worker has it
    slot_state_t state;
    zframe_t *peer;
    uint64_t seq;
    uint64_t order;             //  first come, first run
    wa_usec_t not_before;       //  waiting for the lock: not run before this
    wa_usec_t locked_since;     //  0, or when the lock was first found taken
    wa_usec_t gc_until;         //  SLOT_GC: answered "processing" then, if the pass goes on
};

struct api_t {
    wa_loop_t *loop;
    zsock_t *sock;
    wa_trust_t *trust;          //  the roles of the keys that send requests
    wa_dbworker_t *db;
    const wa_config_t *settings;
    api_hooks_t hooks;
    slot_t slots[API_SLOTS];
    slot_t *running;
    uint64_t next_order;
    int timer;
    wa_msg_t msg;               //  received, then reused for replies
    uint64_t not_primary;       //  answered 1017 since the last log line
    wa_usec_t not_primary_logged;
    gatelink_t *gate;           //  the upstream's control socket
    int sync_timer;
    bool syncing;
    uint64_t synced_epoch;      //  the lease under which the row was last written
    char synced_state[16];      //  what it says
    wa_usec_t next_sync;
    bool sync_failing;          //  logged once per episode
    docstore_t *docstore;       //  certificates, first-party stickers (docstore.h)
};

static const char *SQL_PROVIDERS = "SELECT name, type, config FROM media_providers ORDER BY name";
static const char *SQL_PROVIDER_CONFIG = "SELECT config FROM media_providers WHERE name = ? FOR UPDATE";
static const char *SQL_PROVIDER_STORE =
    "INSERT INTO media_providers (name, type, config, updated_at, updated_by) VALUES (?, ?, ?, NOW(6), ?)"
    " ON DUPLICATE KEY UPDATE type = VALUES(type), config = VALUES(config), updated_at = NOW(6),"
    " updated_by = VALUES(updated_by)";
static const char *SQL_PROVIDERS_COUNT = "SELECT COUNT(*) FROM media_providers";
static const char *SQL_PROVIDER_DELETE = "DELETE FROM media_providers WHERE name = ?";
static const char *SQL_ACCOUNT = "SELECT cc, phone_number, state FROM account WHERE id = 1";
//  Parameters: cc, phone_number, state, vname; an empty one keeps the row's.
static const char *SQL_ACCOUNT_STORE =
    "INSERT INTO account (id, cc, phone_number, state, vname, updated_at) VALUES (1, ?, ?, ?, ?, NOW(6))"
    " ON DUPLICATE KEY UPDATE cc = IF(VALUES(cc) = '', cc, VALUES(cc)),"
    " phone_number = IF(VALUES(phone_number) = '', phone_number, VALUES(phone_number)),"
    " state = VALUES(state), vname = IF(VALUES(vname) = '', vname, VALUES(vname)), updated_at = NOW(6)";

//  --------------------------------------------------------------------------
//  The DB worker's side

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static int
s_failed (api_job_t *self, wa_db_t *db, const char *what, bool rollback)
{
    snprintf (self->error, sizeof self->error, "%s: %s", what, wa_db_error (db));
    if (rollback)
        wa_db_transaction (db, "ROLLBACK");
    return RC_DATABASE;
}

static bool
s_in_time (const api_job_t *self)
{
    return wa_clock_mono () < self->deadline;
}

//  A statement of a transaction that took a named lock failed: rolled
//  back; RC_LOCKED when it lost to a change made at the same time
//  (wa_named_lock_lost: tried again), else RC_DATABASE.
static int
s_failed_locked (api_job_t *self, wa_db_t *db, const char *what)
{
    bool lost = wa_named_lock_lost (db);
    int rc = s_failed (self, db, what, true);
    return lost ? RC_LOCKED : rc;
}

//  Starts a transaction that has written the master lease row
//  (wa_lease_fence_master): this Master still holds it (and its own
//  deadline has not passed): every write the API makes is fenced so. With
//  a lock, its first statements take that named lock (wa_named_lock.h;
//  RC_LOCKED when another transaction holds it). 0, or an RC_ code with
//  self->error saying what happened ("...; outcome").
static int
s_fenced_begin_locked (api_job_t *self, wa_db_t *db, const char *lock, const char *outcome)
{
    if (!s_in_time (self)) {
        snprintf (self->error, sizeof self->error, "master %" PRIu64 "'s lease deadline passed; %s",
                  self->node, outcome);
        return RC_NOT_PRIMARY;
    }
    if (wa_db_transaction (db, "START TRANSACTION"))
        return s_failed (self, db, "cannot start a transaction", false);
    if (lock) {
        int taken = wa_named_lock_take (db, lock);
        if (taken == WA_NAMED_LOCK_BUSY) {
            wa_db_transaction (db, "ROLLBACK");
            snprintf (self->error, sizeof self->error, "the %s lock is taken; %s", lock, outcome);
            return RC_LOCKED;
        }
        if (taken != WA_NAMED_LOCK_TAKEN) {
            char what[96];
            snprintf (what, sizeof what, "cannot take the %s lock", lock);
            return s_failed (self, db, what, true);
        }
    }
    int64_t holds = 0;
    if ((holds = wa_lease_fence_master (db, self->node, self->epoch)) < 0)
        return lock ? s_failed_locked (self, db, "cannot read the master lease")
                    : s_failed (self, db, "cannot read the master lease", true);
    if (holds != 1) {
        wa_db_transaction (db, "ROLLBACK");
        snprintf (self->error, sizeof self->error, "master %" PRIu64 " no longer holds the master lease "
                  "(epoch %" PRIu64 "); %s", self->node, self->epoch, outcome);
        return RC_NOT_PRIMARY;
    }
    return 0;
}

static int
s_fenced_begin (api_job_t *self, wa_db_t *db, const char *outcome)
{
    return s_fenced_begin_locked (self, db, NULL, outcome);
}

//  The settings: read, or changed through the settings store
//  (wa_settings_write: one transaction, the lock, the checks, the rows
//  fenced by our lease; tried once here: RC_LOCKED tries it again later).
static int
s_run_settings (api_job_t *self, wa_db_t *db)
{
    if (self->op == OP_GET) {
        self->result = self->base;
        if (wa_settings_read (db, &self->result, NULL, NULL) != WA_SETTINGS_OK)
            return s_failed (self, db, "cannot read the settings", false);
        return RC_OK;
    }
    wa_settings_write_t *write = &self->write;
    write->base = self->base;
    write->reset = self->op == OP_RESET;
    write->changed = self->changed;
    write->changes = self->changes;
    write->lock_wait = 0;
    write->master = self->node;
    write->epoch = self->epoch;
    write->deadline = self->deadline;
    write->note = NULL;
    snprintf (write->by, sizeof write->by, "%s", self->by);
    int rc = wa_settings_write (db, write);
    self->result = write->result;
    if (rc == WA_SETTINGS_REFUSED && write->combination)
        snprintf (self->error, sizeof self->error, "%s, so nothing was changed: %s",
                  self->op == OP_RESET ? "the built-in defaults would be refused with this "
                                         "Master's configuration" : "the settings would be refused", write->error);
    else
        snprintf (self->error, sizeof self->error, "%s", write->error);
    switch (rc) {
        case WA_SETTINGS_OK: return RC_OK;
        case WA_SETTINGS_LOCKED: return RC_LOCKED;
        case WA_SETTINGS_REFUSED: return RC_INVALID;
        case WA_SETTINGS_NOT_PRIMARY: return RC_NOT_PRIMARY;
        default: return RC_DATABASE;
    }
}

typedef struct {
    char cc[WA_ACCOUNT_CC_MAX + 1];
    char phone_number[WA_ACCOUNT_NUMBER_MAX + 1];
    char state[16];
} account_row_t;

static int
s_account_row (const wa_db_row_t *row, void *arg)
{
    account_row_t *account = arg;
    snprintf (account->cc, sizeof account->cc, "%s", wa_db_row_str (row, 0));
    snprintf (account->phone_number, sizeof account->phone_number, "%s", wa_db_row_str (row, 1));
    snprintf (account->state, sizeof account->state, "%s", wa_db_row_str (row, 2));
    return 0;
}

//  The shard count: read with the change that runs, if one does; or a
//  change started (reshard.h): the account checked, then, fenced by our
//  lease, the layout in force marked draining. Answered once started; the
//  monitor takes it on from there.
static int
s_run_shards (api_job_t *self, wa_db_t *db)
{
    if (reshard_read (db, &self->reshard))
        return s_failed (self, db, "cannot read the shard count", false);
    self->shards = self->reshard.shards;
    if (self->op == OP_SHARDS_GET)
        return RC_OK;
    account_row_t account = { "", "", "" };
    if (wa_db_query (db, SQL_ACCOUNT, s_account_row, &account, "") < 0)
        return s_failed (self, db, "cannot read the account", false);
    const wa_shards_request_t *request = &self->shards_request;
    if (*account.cc && (!streq (account.cc, request->cc) || !streq (account.phone_number, request->phone_number))) {
        snprintf (self->error, sizeof self->error, "+%s %s is not this cluster's account (+%s %s)", request->cc,
                  request->phone_number, account.cc, account.phone_number);
        return RC_INVALID;
    }
    int rc = s_fenced_begin (self, db, "the shard count was not changed");
    if (rc)
        return rc;
    self->reshard_outcome = reshard_begin (db, request->shards, self->by, self->node, self->error,
                                           sizeof self->error);
    switch (self->reshard_outcome) {
        case RESHARD_STARTED:
            if (wa_db_transaction (db, "COMMIT"))
                return s_failed (self, db, "cannot commit the change of the shard count", false);
            return RC_OK;
        case RESHARD_SAME:
            wa_db_transaction (db, "ROLLBACK");
            return RC_OK;
        case RESHARD_BUSY:
            wa_db_transaction (db, "ROLLBACK");
            return RC_CONFLICT;
        case RESHARD_FAILED:
            break;
    }
    wa_db_transaction (db, "ROLLBACK");
    return RC_DATABASE;
}

//  The account row, in a transaction fenced by the master lease.
static int
s_run_account (api_job_t *self, wa_db_t *db)
{
    int rc = s_fenced_begin (self, db, "the account was not stored");
    if (rc)
        return rc;
    if (wa_db_exec (db, SQL_ACCOUNT_STORE, "ssss", self->cc, self->phone_number, self->state, self->vname) < 0)
        return s_failed (self, db, "cannot store the account", true);
    if (wa_db_transaction (db, "COMMIT"))
        return s_failed (self, db, "cannot commit the account", false);
    return RC_OK;
}

//  The account state's ops: reads alone, writes fenced by the master lease.
//  A restore writes settings rows: its transaction starts with the settings
//  lock (as wa_settings_write's does), and one that lost to another change
//  of the settings (the lock taken; on Galera, a failed certification) is
//  tried again (RC_LOCKED).
static int
s_run_account_state (api_job_t *self, wa_db_t *db)
{
    account_state_req_t *req = &self->account_state;
    snprintf (req->by, sizeof req->by, "%s", self->by);
    free (req->answer);
    req->answer = NULL;
    req->settings_changed = false;
    bool writes = account_state_writes (req);
    const char *lock = req->op == STATE_RESTORE ? WA_SETTINGS_LOCK : NULL;
    if (writes) {
        int rc = s_fenced_begin_locked (self, db, lock, "nothing was changed");
        if (rc)
            return rc;
    }
    int rc = account_state_run (req, db, &self->base, self->error, sizeof self->error);
    rc = rc == 0 ? RC_OK : rc == 2 ? RC_INVALID : RC_DATABASE;
    if (lock && rc == RC_DATABASE && wa_named_lock_lost (db))
        rc = RC_LOCKED;
    if (writes) {
        if (rc == RC_OK && wa_db_transaction (db, "COMMIT"))
            rc = lock ? s_failed_locked (self, db, "cannot commit the account state")
                      : s_failed (self, db, "cannot commit the account state", false);
        else
        if (rc != RC_OK)
            wa_db_transaction (db, "ROLLBACK");
    }
    if (rc != RC_OK) {
        free (req->answer);
        req->answer = NULL;
        req->settings_changed = false;
    }
    return rc;
}

static int
s_provider_row (const wa_db_row_t *row, void *arg)
{
    json_array_append_new ((json_t *) arg, wa_providers_shown (wa_db_row_str (row, 0), wa_db_row_str (row, 1),
                                                            wa_db_row_str (row, 2)));
    return 0;
}

static int
s_config_row (const wa_db_row_t *row, void *arg)
{
    char **config = arg;
    free (*config);
    *config = strdup (wa_db_row_str (row, 0));
    return 0;
}

//  The providers checked (wa_providers.h) into the table, in one transaction
//  fenced by the master lease: all or none.
static int
s_run_providers_set (api_job_t *self, wa_db_t *db)
{
    int rc = s_fenced_begin (self, db, "no provider was changed");
    if (rc)
        return rc;
    for (size_t i = 0; i < json_array_size (self->providers); i++) {
        json_t *provider = json_array_get (self->providers, i);
        const char *name = json_string_value (json_object_get (provider, "name"));
        json_t *config = json_object_get (provider, "config");
        char *stored = NULL;
        if (wa_db_query (db, SQL_PROVIDER_CONFIG, s_config_row, &stored, "s", name) < 0)
            return s_failed (self, db, "cannot read the media providers", true);
        char field[48];
        snprintf (field, sizeof field, json_array_size (self->providers) > 1 ? "[%zu].config" : "config", i);
        rc = wa_providers_keep (config, stored, field, self->error, sizeof self->error);
        free (stored);
        if (rc) {
            wa_db_transaction (db, "ROLLBACK");
            return RC_INVALID;
        }
        char *text = json_dumps (config, JSON_COMPACT);
        int64_t stored_rows = text ? wa_db_exec (db, SQL_PROVIDER_STORE, "ssss", name, "www", text, self->by) : -1;
        if (text) {
            sodium_memzero (text, strlen (text));
            free (text);
        }
        if (stored_rows < 0)
            return s_failed (self, db, "cannot store the media provider", true);
    }
    int64_t count = 0;
    if (wa_db_query (db, SQL_PROVIDERS_COUNT, s_int_row, &count, "") < 0)
        return s_failed (self, db, "cannot count the media providers", true);
    if (count > WA_PROVIDERS_MAX) {
        wa_db_transaction (db, "ROLLBACK");
        snprintf (self->error, sizeof self->error, "at most %d media providers may be stored; delete some first "
                  "(nothing was changed)", WA_PROVIDERS_MAX);
        return RC_INVALID;
    }
    if (wa_db_transaction (db, "COMMIT"))
        return s_failed (self, db, "cannot commit the media providers", false);
    return RC_OK;
}

static int
s_run_providers (api_job_t *self, wa_db_t *db)
{
    if (self->op == OP_PROVIDERS_GET) {
        self->providers = json_array ();
        if (wa_db_query (db, SQL_PROVIDERS, s_provider_row, self->providers, "") < 0)
            return s_failed (self, db, "cannot read the media providers", false);
        return RC_OK;
    }
    if (self->op == OP_PROVIDERS_SET)
        return s_run_providers_set (self, db);
    int rc = s_fenced_begin (self, db, "no provider was deleted");
    if (rc)
        return rc;
    int64_t gone = wa_db_exec (db, SQL_PROVIDER_DELETE, "s", self->provider);
    if (gone < 0)
        return s_failed (self, db, "cannot delete the media provider", true);
    if (wa_db_transaction (db, "COMMIT"))
        return s_failed (self, db, "cannot commit the deletion", false);
    if (gone == 0) {
        snprintf (self->error, sizeof self->error, "no media provider is named '%s'", self->provider);
        return RC_NOT_FOUND;
    }
    return RC_OK;
}

static void
s_run (wa_job_t *job, wa_db_t *db)
{
    api_job_t *self = (api_job_t *) job;
    self->error[0] = 0;
    if (self->op == OP_STATE) {
        job->rc = s_run_account_state (self, db);
        return;
    }
    if (self->op == OP_PROVIDERS_GET || self->op == OP_PROVIDERS_SET || self->op == OP_PROVIDERS_DELETE) {
        job->rc = s_run_providers (self, db);
        return;
    }
    if (self->op == OP_SHARDS_GET || self->op == OP_SHARDS_SET) {
        job->rc = s_run_shards (self, db);
        return;
    }
    if (self->op == OP_REGISTER || self->op == OP_VERIFY || self->op == OP_SYNC) {
        job->rc = s_run_account (self, db);
        return;
    }
    job->rc = s_run_settings (self, db);
}

//  --------------------------------------------------------------------------
//  Answers

static void
s_reply (api_t *self, zframe_t *peer, uint64_t seq, int status, json_t *body)
{
    if (!peer)
        return;                 //  the Master's own request (the account sync)
    char *text = body ? json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION (15)) : NULL;
    wa_msg_init (&self->msg, WA_MSG_API_REP);
    self->msg.seq = seq;
    if (!text || strlen (text) > WA_TEXT_MAX) {
        //  Never silent: an answer the Webapp can read.
        self->msg.code = 500;
        wa_msg_set_text (&self->msg, "{\"errors\":[{\"code\":" WA_ERR_INTERNAL_DIGITS
                                     ",\"details\":\"the answer could not be encoded\"}]}");
    }
    else {
        self->msg.code = (uint32_t) status;
        wa_msg_set_text (&self->msg, text);
    }
    free (text);
    if (wa_codec_send (self->sock, peer, &self->msg))
        wa_warn ("api: could not send the answer to request %" PRIu64, seq);
}

static void
s_error (api_t *self, zframe_t *peer, uint64_t seq, int status, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_error (api_t *self, zframe_t *peer, uint64_t seq, int status, int code, const char *fmt, ...)
{
    char details[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (details, sizeof details, fmt, args);
    va_end (args);
    //  Details may quote the request: json_string refuses text that is not UTF-8.
    json_t *text = json_string (details);
    if (!text)
        text = json_string ("(details not valid UTF-8)");
    json_t *body = json_pack ("{s:[{s:i,s:o}]}", "errors", "code", code, "details", text);
    s_reply (self, peer, seq, status, body);
    json_decref (body);
}

static void
s_not_primary (api_t *self, zframe_t *peer, uint64_t seq, const api_lease_t *lease, const char *op)
{
    s_error (self, peer, seq, 500, WA_ERR_NOT_PRIMARY_MASTER, "master %" PRIu64 " is not the primary Master (%s)",
             lease->node, lease->role ? lease->role : "secondary_master");
    //  A Webapp asks a secondary when its view of the lease is old: worth a
    //  line, not one per retry.
    self->not_primary++;
    wa_usec_t now = wa_clock_mono ();
    if (!self->not_primary_logged || now - self->not_primary_logged >= NOT_PRIMARY_LOG_EVERY) {
        wa_info ("api: not the primary Master: answered %d to %" PRIu64 " request(s) (last: %s)",
                 WA_ERR_NOT_PRIMARY_MASTER, self->not_primary, op);
        self->not_primary = 0;
        self->not_primary_logged = now;
    }
}

//  --------------------------------------------------------------------------
//  Requests

static void
s_free (slot_t *slot)
{
    if (slot->state == SLOT_UPSTREAM)
        gatelink_cancel (slot->api->gate, slot);
    if (slot->op == OP_SYNC)
        slot->api->syncing = false;
    zframe_destroy (&slot->peer);
    slot->state = SLOT_FREE;
    slot->locked_since = 0;
}

static int s_on_timer (wa_loop_t *loop, int timer_id, void *arg);

//  Hand the next request to the DB worker, unless one is there already.
static void
s_pump (api_t *self)
{
    while (!self->running) {
        wa_usec_t now = wa_clock_mono ();
        slot_t *next = NULL;
        wa_usec_t wake = 0;
        for (int i = 0; i < API_SLOTS; i++) {
            slot_t *slot = &self->slots[i];
            if (slot->state != SLOT_QUEUED)
                continue;
            if (slot->not_before > now) {
                if (!wake || slot->not_before < wake)
                    wake = slot->not_before;
            }
            else
            if (!next || slot->order < next->order)
                next = slot;
        }
        if (!next) {
            if (wake)
                wa_timer_once (self->loop, &self->timer, wake - now, s_on_timer, self);
            return;
        }
        api_job_t *job = next->job;
        api_lease_t lease = { 0 };
        if (!self->hooks.primary (self->hooks.arg, &lease)) {
            if (next->peer)
                s_not_primary (self, next->peer, next->seq, &lease, s_op_names[job->op]);
            s_free (next);
            continue;
        }
        if (!lease.ready) {
            //  The lease was lost and taken again meanwhile: migrating again.
            s_error (self, next->peer, next->seq, 503, WA_ERR_NOT_READY, "master %" PRIu64 " is primary but "
                     "still preparing the database (schema, settings)", lease.node);
            s_free (next);
            continue;
        }
        job->base = *self->settings;
        job->node = lease.node;
        job->epoch = lease.epoch;
        job->deadline = lease.deadline;
        if (WA_JOB_SUBMIT (self->db, next->job)) {
            s_error (self, next->peer, next->seq, 500, WA_ERR_INTERNAL, "the Master's database worker refused the job");
            s_free (next);
            continue;
        }
        next->state = SLOT_RUNNING;
        self->running = next;
    }
}

static int
s_on_timer (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    api_t *self = arg;
    self->timer = -1;
    s_pump (self);
    return 0;
}

static wa_usec_t
s_upstream_timeout (api_t *self)
{
    double seconds = UPSTREAM_TIMEOUT_SHARE * self->settings->request_attempt_timeout;
    return wa_clock_from_sec (seconds < 0.05 ? 0.05 : seconds);
}

static void s_on_upstream (void *arg, int status, json_t *reply, const char *why);
static void s_gc_expire (api_t *self);
static void s_providers_done (api_t *self, slot_t *slot);

//  A PATCH's changes checked into the slot's job (appsettings.h): 0, or -1 answered.
static int
s_check_changes (api_t *self, slot_t *slot, json_t *changes)
{
    char why[1024];
    int status = 400;
    int code = appsettings_check (self->settings, changes, &slot->job->changes, &slot->job->changed, &status, why,
                                  sizeof why);
    if (code)
        return s_error (self, slot->peer, slot->seq, status, code, "%s", why), -1;
    return 0;
}

//  Checks an account request into its slot's job, and builds what goes
//  upstream (register, verify; NULL for the others). 0, or -1 answered.
static int
s_check_account (api_t *self, slot_t *slot, json_t *root, json_t **upstream)
{
    api_job_t *job = slot->job;
    char why[400];
    int code = 0;
    *upstream = NULL;
    job->cc[0] = job->phone_number[0] = job->vname[0] = job->state[0] = 0;
    job->status = 0;
    if (job->op == OP_SHARDS_SET)
        code = wa_account_shards_check (root, &job->shards_request, why, sizeof why);
    else
    if (job->op == OP_REGISTER) {
        wa_registration_t reg;
        code = wa_account_register_check (root, &reg, why, sizeof why);
        if (!code) {
            snprintf (job->cc, sizeof job->cc, "%s", reg.cc);
            snprintf (job->phone_number, sizeof job->phone_number, "%s", reg.phone_number);
            snprintf (job->vname, sizeof job->vname, "%s", reg.vname);
            *upstream = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "op", "register", "cc", reg.cc, "phone_number",
                                   reg.phone_number, "method", reg.method, "cert", reg.cert);
            if (*upstream && *reg.pin)
                json_object_set_new (*upstream, "pin", json_string (reg.pin));
        }
    }
    else
    if (job->op == OP_VERIFY) {
        char digits[WA_ACCOUNT_CODE_LEN + 1];
        code = wa_account_verify_check (root, digits, why, sizeof why);
        if (!code)
            *upstream = json_pack ("{s:s, s:s}", "op", "verify", "code", digits);
    }
    if (code)
        return s_error (self, slot->peer, slot->seq, 400, code, "%s", why), -1;
    if ((job->op == OP_REGISTER || job->op == OP_VERIFY) && !*upstream)
        return s_error (self, slot->peer, slot->seq, 500, WA_ERR_INTERNAL, "out of memory"), -1;
    return 0;
}

//  Checks an account state request into its slot's job. 0, or -1 answered.
static int
s_check_state (api_t *self, slot_t *slot, json_t *root, account_state_op_t op)
{
    account_state_req_t *req = &slot->job->account_state;
    req->op = op;
    char why[300];
    int code = account_state_check (root, req, why, sizeof why);
    if (code)
        return s_error (self, slot->peer, slot->seq, 400, code, "%s", why), -1;
    return 0;
}

//  A providers_set's list or a providers_delete's name, checked into the
//  slot's job. 0, or -1 answered.
static int
s_check_providers (api_t *self, slot_t *slot, json_t *root)
{
    api_job_t *job = slot->job;
    char why[400];
    if (job->op == OP_PROVIDERS_DELETE) {
        const char *name = json_string_value (json_object_get (root, "name"));
        if (!name || !wa_providers_name_ok (name))
            return s_error (self, slot->peer, slot->seq, 404, WA_ERR_NOT_FOUND, "no media provider is named "
                            "'%.100s'", name ? name : ""), -1;
        snprintf (job->provider, sizeof job->provider, "%s", name);
        return 0;
    }
    int code = wa_providers_check (json_object_get (root, "providers"), &job->providers, why, sizeof why);
    if (code)
        return s_error (self, slot->peer, slot->seq, 400, code, "%s", why), -1;
    return 0;
}

//  Queue a slot for the DB worker.
static void
s_queue (api_t *self, slot_t *slot)
{
    slot->order = ++self->next_order;
    slot->not_before = 0;
    slot->locked_since = 0;
    slot->state = SLOT_QUEUED;
    s_pump (self);
}

//  One API_REQ: answered at once, or queued for the upstream or the DB worker.
static void
s_request (api_t *self, zframe_t *peer, const wa_msg_t *msg)
{
    json_error_t error;
    json_t *root = json_loadb (msg->text, msg->text_len, JSON_REJECT_DUPLICATES, &error);
    const char *op = json_string_value (json_object_get (root, "op"));
    int kind = -1;
    for (int i = 0; op && i < OPS_REQUESTED; i++)
        if (streq (op, s_op_names[i]))
            kind = i;
    int state_op = account_state_op (op);
    if (kind < 0 && state_op >= 0)
        kind = OP_STATE;
    if (!json_is_object (root) || !op)
        s_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "the request is not a JSON object with an 'op'");
    else
    if (kind < 0 && docstore_handles (op))
        docstore_request (self->docstore, peer, msg, root);
    else
    if (kind < 0)
        s_error (self, peer, msg->seq, 400, WA_ERR_INVALID, "unknown op '%.40s' for a Master", op);
    else {
        const char *by = json_string_value (json_object_get (root, "by"));
        bool reads = kind == OP_GET || kind == OP_SHARDS_GET || kind == OP_PROVIDERS_GET
                  || (kind == OP_STATE && state_op == STATE_GET);
        slot_t *slot = NULL;
        for (int i = 0; i < API_SLOTS && !slot; i++)
            if (self->slots[i].state == SLOT_FREE && self->slots[i].job)
                slot = &self->slots[i];
        api_lease_t lease = { 0 };
        json_t *upstream = NULL;
        if (!reads && (!by || !*by))
            s_error (self, peer, msg->seq, 400, WA_ERR_MISSING, "'by' is missing: the user making the change");
        else
        if (!slot)
            s_error (self, peer, msg->seq, 503, WA_ERR_OVERLOADED, "%d requests are waiting already", API_SLOTS);
        else {
            slot->peer = zframe_dup (peer);
            slot->seq = msg->seq;
            slot->op = slot->job->op = (api_op_t) kind;
            json_decref (slot->job->providers);
            slot->job->providers = NULL;
            if (kind == OP_PATCH && s_check_changes (self, slot, json_object_get (root, "changes")))
                zframe_destroy (&slot->peer);
            else
            if ((kind == OP_PROVIDERS_SET || kind == OP_PROVIDERS_DELETE) && s_check_providers (self, slot, root))
                zframe_destroy (&slot->peer);
            else
            if (kind >= OP_SHARDS_GET && kind < OP_SYNC && s_check_account (self, slot, root, &upstream))
                zframe_destroy (&slot->peer);
            else
            if (kind == OP_STATE && s_check_state (self, slot, root, (account_state_op_t) state_op))
                zframe_destroy (&slot->peer);
            else
            if (!self->hooks.primary (self->hooks.arg, &lease)) {
                s_not_primary (self, peer, msg->seq, &lease, op);
                zframe_destroy (&slot->peer);
            }
            else
            if (!lease.ready) {
                s_error (self, peer, msg->seq, 503, WA_ERR_NOT_READY, "master %" PRIu64 " is primary but still "
                         "preparing the database (schema, settings)", lease.node);
                zframe_destroy (&slot->peer);
            }
            else {
                api_job_t *job = slot->job;
                //  "api:NAME" in settings.updated_by (64 characters): the
                //  user a Webapp vouches for by its key; wactl is named by
                //  its certificate.
                if (wa_trust_sender (self->trust, msg) == WA_ROLE_WACTL)
                    snprintf (job->by, sizeof job->by, "wactl:%.58s", wa_trust_sender_name (self->trust, msg));
                else
                    snprintf (job->by, sizeof job->by, "api:%.60s", by ? by : "");
                for (char *c = job->by; *c; c++)
                    if (!isprint ((unsigned char) *c))
                        *c = '?';
                if (kind == OP_GC) {
                    //  The Master's retention pass (gc.h), now or the one
                    //  under way; answered when it ends (api_gc_ended), or
                    //  "processing" before the Webapp would give up.
                    //  Waiting before the hook runs: a pass with nothing to
                    //  do ends (api_gc_ended) within it.
                    slot->state = SLOT_GC;
                    slot->gc_until = wa_clock_mono () + s_upstream_timeout (self);
                    wa_info ("api: %s asked for a retention pass now", job->by + 4);
                    if (!self->hooks.gc || self->hooks.gc (self->hooks.arg)) {
                        s_not_primary (self, peer, msg->seq, &lease, op);
                        s_free (slot);
                    }
                }
                else
                if (upstream) {
                    slot->state = SLOT_UPSTREAM;
                    if (gatelink_ask (self->gate, upstream, s_upstream_timeout (self), s_on_upstream, slot)) {
                        slot->state = SLOT_QUEUED;  //  nothing to cancel
                        s_error (self, peer, msg->seq, 503, WA_ERR_OVERLOADED, "%d requests wait for the upstream "
                                 "already", GATELINK_QUEUE_MAX);
                        s_free (slot);
                    }
                    upstream = NULL;
                }
                else
                    s_queue (self, slot);
            }
        }
        json_decref (upstream);
    }
    json_decref (root);
}

//  The account sync could not learn the upstream's state: try again soon.
static void
s_sync_failed (api_t *self, const char *why)
{
    self->next_sync = wa_clock_mono () + SYNC_RETRY;
    if (!self->sync_failing)
        wa_warn ("api: cannot learn the account's registration state: %s; trying again every %g s", why,
                 (double) SYNC_RETRY / 1e6);
    self->sync_failing = true;
}

//  The upstream answered (or not) a register, a verify or the sync's
//  question: what it said goes to the account row, then to the client.
static void
s_on_upstream (void *arg, int status, json_t *reply, const char *why)
{
    slot_t *slot = arg;
    api_t *self = slot->api;
    api_job_t *job = slot->job;
    slot->state = SLOT_QUEUED;          //  no longer the link's: nothing to cancel
    const char *error = json_string_value (json_object_get (reply, "error"));
    if (job->op == OP_SYNC) {
        const char *state = json_string_value (json_object_get (reply, "state"));
        if (status != 200 || !state || strlen (state) >= sizeof job->state) {
            s_sync_failed (self, why ? why : error ? error : "the upstream's answer has no state");
            s_free (slot);
        }
        else {
            if (self->sync_failing)
                wa_info ("api: the upstream answers again: the account is %s", state);
            self->sync_failing = false;
            snprintf (job->state, sizeof job->state, "%s", state);
            snprintf (job->cc, sizeof job->cc, "%s", json_string_value (json_object_get (reply, "cc")) ?: "");
            snprintf (job->phone_number, sizeof job->phone_number, "%s",
                      json_string_value (json_object_get (reply, "phone_number")) ?: "");
            snprintf (job->vname, sizeof job->vname, "%s", json_string_value (json_object_get (reply, "vname")) ?: "");
            api_lease_t lease = { 0 };
            self->hooks.primary (self->hooks.arg, &lease);
            if (lease.epoch == self->synced_epoch && streq (state, self->synced_state)) {
                self->next_sync = wa_clock_mono () + wa_clock_from_sec (self->settings->db_liveness_interval);
                s_free (slot);
            }
            else
                s_queue (self, slot);
        }
    }
    else
    if (status == 0) {
        wa_warn ("api: %s: %s", s_op_names[job->op], why ? why : "no answer from the upstream");
        s_error (self, slot->peer, slot->seq, 503, WA_ERR_NOT_READY, "%s", why ? why : "no answer from the upstream");
        s_free (slot);
    }
    else
    if (status >= 400 && status <= 499) {
        s_error (self, slot->peer, slot->seq, 400, WA_ERR_INVALID, "%s", error ? error : "refused by the upstream");
        s_free (slot);
    }
    else
    if ((job->op == OP_REGISTER && (status == 201 || status == 202)) || (job->op == OP_VERIFY && status == 201)) {
        job->status = status;
        snprintf (job->state, sizeof job->state, "%s", status == 202 ? "pending" : "registered");
        s_queue (self, slot);
    }
    else {
        s_error (self, slot->peer, slot->seq, 500, WA_ERR_INTERNAL, "the upstream answered %s with status %d",
                 s_op_names[job->op], status);
        s_free (slot);
    }
    json_decref (reply);
}

//  The primary keeps the account row as the upstream says it is: at once
//  under a new lease, then every db_liveness_interval.
static int
s_on_sync (wa_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    api_t *self = arg;
    s_gc_expire (self);
    if (self->syncing)
        return 0;
    api_lease_t lease = { 0 };
    if (!self->hooks.primary (self->hooks.arg, &lease) || !lease.ready)
        return 0;
    if (lease.epoch == self->synced_epoch && wa_clock_mono () < self->next_sync)
        return 0;
    slot_t *slot = NULL;
    for (int i = 0; i < API_SLOTS && !slot; i++)
        if (self->slots[i].state == SLOT_FREE && self->slots[i].job)
            slot = &self->slots[i];
    if (!slot)
        return 0;
    slot->peer = NULL;
    slot->seq = 0;
    slot->op = slot->job->op = OP_SYNC;
    slot->job->status = 0;
    snprintf (slot->job->by, sizeof slot->job->by, "sync");
    slot->state = SLOT_UPSTREAM;
    self->syncing = true;
    if (gatelink_ask (self->gate, json_pack ("{s:s}", "op", "registration"), s_upstream_timeout (self),
                      s_on_upstream, slot)) {
        slot->state = SLOT_QUEUED;
        s_sync_failed (self, "the upstream's queue is full");
        s_free (slot);
    }
    return 0;
}

static int
s_on_socket (wa_loop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    api_t *self = arg;
    //  Bounded: other sockets and timers get their turn.
    for (int i = 0; i < 1000 && (zsock_events (self->sock) & ZMQ_POLLIN); i++) {
        zframe_t *peer = NULL;
        int why = WA_CODEC_OK;
        int rc = wa_codec_recv (self->sock, &peer, &self->msg, &why);
        if (rc == -1 || !peer) {
            zframe_destroy (&peer);
            continue;
        }
        if (rc == -2)
            s_error (self, peer, 0, 400, WA_ERR_INVALID, "malformed frame: %s", wa_codec_strerror (why));
        else
        //  Settings, registration and shards: from the Webapps (which
        //  authenticated the user they name) and wactl, by their keys.
        if (!wa_trust_allow (self->trust, &self->msg, WA_ROLE_WEBAPP | WA_ROLE_WACTL, "api"))
            s_error (self, peer, self->msg.seq, 403, WA_ERR_ACCESS_DENIED,
                     "this key may not send API requests to a Master");
        else
        if (self->msg.type != WA_MSG_API_REQ)
            s_error (self, peer, self->msg.seq, 400, WA_ERR_INVALID, "unexpected %s on a Master's API port",
                     wa_codec_type_name (self->msg.type));
        else {
            //  The reply reuses msg: the request is copied out first.
            wa_msg_t *request = (wa_msg_t *) malloc (sizeof (wa_msg_t));
            if (request) {
                *request = self->msg;
                s_request (self, peer, request);
                free (request);
            }
            else
                s_error (self, peer, self->msg.seq, 500, WA_ERR_INTERNAL, "out of memory");
        }
        zframe_destroy (&peer);
    }
    return 0;
}

//  --------------------------------------------------------------------------

static void
s_log_change (const slot_t *slot)
{
    const api_job_t *job = slot->job;
    char changed[1024] = "";
    size_t used = 0;
    for (int i = 0; wa_config_setting_name (i) && i < APPSETTINGS_MAX; i++) {
        if (!(job->changed & ((uint64_t) 1 << i)))
            continue;
        char value[WA_CONFIG_STR];
        wa_config_display (&job->result, wa_config_setting_name (i), value, sizeof value);
        int n = snprintf (changed + used, sizeof changed - used, "%s%s=%s", used ? " " : "",
                          wa_config_setting_name (i), value);
        if (n > 0 && (size_t) n < sizeof changed - used)
            used += (size_t) n;
    }
    if (job->op == OP_RESET)
        wa_info ("api: %s reset every setting to its default: stored; broadcasting", job->by + 4);
    else
        wa_info ("api: %s changed %s: stored; broadcasting", job->by + 4, changed);
}

//  GET /v1/account/shards: the count in force, and the change that runs:
//  {"account":{"shards":N[,"change":{...}]}}.
static json_t *
s_shards_body (const reshard_status_t *st)
{
    json_t *account = json_pack ("{s:i}", "shards", st->shards);
    if (account && *st->state) {
        //  Draining: the old layout's rows let go, of all; promoting: the
        //  new count is in force and its shards get their holders.
        bool draining = streq (st->state, "draining");
        json_t *change = json_pack ("{s:i, s:i, s:s, s:s, s:s, s:I, s:i, s:i}", "from", st->from, "to", st->to,
                                    "state", st->state, "started_at", st->started_at, "started_by", st->started_by,
                                    "layout", (json_int_t) st->layout, draining ? "released" : "serving",
                                    draining ? st->released : st->serving, "of", st->rows);
        if (change)
            json_object_set_new (account, "change", change);
    }
    return account ? json_pack ("{s:o}", "account", account) : NULL;
}

//  An account op's answer, once its row is stored (or its count read).
static void
s_account_done (api_t *self, slot_t *slot)
{
    api_job_t *job = slot->job;
    json_t *body = NULL;
    int status = 200;
    switch (job->op) {
        case OP_SHARDS_GET:
            body = s_shards_body (&job->reshard);
            break;
        case OP_SHARDS_SET:
            status = 201;
            body = json_object ();
            if (job->reshard_outcome == RESHARD_STARTED)
                wa_info ("api: %s asked for %d shards: %s", job->by + 4, job->shards_request.shards, job->error);
            if (self->hooks.reshard && job->reshard_outcome == RESHARD_STARTED)
                self->hooks.reshard (self->hooks.arg);
            break;
        case OP_REGISTER:
            status = job->status;
            body = status == 202 ? json_pack ("{s:[{s:s}]}", "account", "vname", job->vname) : json_object ();
            wa_info ("api: %s asked to register +%s %s: %s", job->by + 4, job->cc, job->phone_number,
                     status == 202 ? "a code was sent; verify it" : "registered already");
            break;
        case OP_VERIFY:
            status = 201;
            body = json_object ();
            wa_info ("api: %s verified the registration: the account is registered", job->by + 4);
            break;
        default:
            return;
    }
    if (job->op == OP_REGISTER || job->op == OP_VERIFY) {
        //  The row says what the upstream said: the sync need not write it again.
        self->synced_epoch = job->epoch;
        snprintf (self->synced_state, sizeof self->synced_state, "%s", job->state);
    }
    s_reply (self, slot->peer, slot->seq, status, body);
    json_decref (body);
}

//  A providers op's answer, once its rows are read or written.
static void
s_providers_done (api_t *self, slot_t *slot)
{
    api_job_t *job = slot->job;
    json_t *body = NULL;
    switch (job->op) {
        case OP_PROVIDERS_GET:
            body = json_pack ("{s:{s:{s:{s:O}}}}", "settings", "application", "media", "providers",
                              job->providers ? job->providers : json_array ());
            break;
        case OP_PROVIDERS_SET: {
            char names[600] = "";
            size_t used = 0;
            for (size_t i = 0; i < json_array_size (job->providers); i++) {
                int n = snprintf (names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                  json_string_value (json_object_get (json_array_get (job->providers, i), "name")));
                if (n > 0 && (size_t) n < sizeof names - used)
                    used += (size_t) n;
            }
            wa_info ("api: %s set media provider(s) %s", job->by + 4, names);
            body = json_object ();
            break;
        }
        case OP_PROVIDERS_DELETE:
            wa_info ("api: %s deleted media provider %s", job->by + 4, job->provider);
            body = json_object ();
            break;
        default:
            return;
    }
    s_reply (self, slot->peer, slot->seq, 200, body);
    json_decref (body);
    //  The credentials go no further than the table.
    json_decref (job->providers);
    job->providers = NULL;
}

//  --------------------------------------------------------------------------
//  The retention pass a message_gc waits for

void
api_gc_ended (api_t *self, const int64_t deleted[4], bool more, const char *error)
{
    if (!self)
        return;
    for (int i = 0; i < API_SLOTS; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->state != SLOT_GC)
            continue;
        if (!deleted)
            s_error (self, slot->peer, slot->seq, 500, WA_ERR_NOT_PRIMARY_MASTER, "%s",
                     error ? error : "the Master lost its lease during the retention pass");
        else
        if (error && *error)
            s_error (self, slot->peer, slot->seq, 500, WA_ERR_DATABASE, "the retention pass failed after deleting "
                     "%" PRId64 " outbox rows and %" PRId64 " callbacks: %s", deleted[0], deleted[1], error);
        else {
            json_t *body = json_pack ("{s:{s:{s:{s:s, s:I, s:I, s:I, s:I, s:b}}}}", "services", "message", "gc",
                                      "status", "complete", "messages_deleted", (json_int_t) deleted[0],
                                      "callbacks_deleted", (json_int_t) deleted[1],
                                      "events_deleted", (json_int_t) deleted[2],
                                      "inbound_ids_deleted", (json_int_t) deleted[3], "more", more);
            s_reply (self, slot->peer, slot->seq, 200, body);
            json_decref (body);
        }
        s_free (slot);
    }
}

//  A message_gc whose pass goes on past what the Webapp waits: "processing",
//  as the original always answers (the pass goes on; asking again joins it).
static void
s_gc_expire (api_t *self)
{
    wa_usec_t now = wa_clock_mono ();
    for (int i = 0; i < API_SLOTS; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->state != SLOT_GC || now < slot->gc_until)
            continue;
        json_t *body = json_pack ("{s:{s:{s:{s:s}}}}", "services", "message", "gc", "status", "processing");
        s_reply (self, slot->peer, slot->seq, 200, body);
        json_decref (body);
        s_free (slot);
    }
}

bool
api_job_back (api_t *self, wa_job_t *job)
{
    if (self && docstore_job_back (self->docstore, job))
        return true;
    if (!self || job->kind != API_JOB_KIND)
        return false;
    api_job_t *api_job = (api_job_t *) job;
    assert (api_job->slot >= 0 && api_job->slot < API_SLOTS && !self->slots[api_job->slot].job);
    self->slots[api_job->slot].job = api_job;
    return true;
}

bool
api_job_done (api_t *self, wa_job_t *job)
{
    if (self && docstore_job_done (self->docstore, job))
        return true;
    if (!api_job_back (self, job))
        return false;
    slot_t *slot = &self->slots[((api_job_t *) job)->slot];
    if (self->running == slot)
        self->running = NULL;
    if (slot->state != SLOT_RUNNING) {
        //  Answered already (stopping).
        s_pump (self);
        return true;
    }
    api_job_t *api_job = slot->job;
    wa_usec_t now = wa_clock_mono ();
    if (api_job->op == OP_SYNC) {
        if (job->rc == RC_OK) {
            self->synced_epoch = api_job->epoch;
            snprintf (self->synced_state, sizeof self->synced_state, "%s", api_job->state);
            self->next_sync = now + wa_clock_from_sec (self->settings->db_liveness_interval);
            wa_info ("api: the account is %s (upstream), stored", api_job->state);
        }
        else
            s_sync_failed (self, api_job->error);
        s_free (slot);
        s_pump (self);
        return true;
    }
    switch (job->rc) {
        case RC_OK:
            if (api_job->op == OP_STATE) {
                account_state_req_t *state = &api_job->account_state;
                json_t *body = state->answer ? json_loads (state->answer, 0, NULL) : json_object ();
                s_reply (self, slot->peer, slot->seq, 200, body);
                json_decref (body);
                if (state->op == STATE_RESTORE)
                    wa_info ("api: %s restored a backup: %s", api_job->by + 4, state->summary);
                else
                if (state->op != STATE_GET)
                    wa_info ("api: %s changed the account state (%s %s)", api_job->by + 4,
                             state->op == STATE_DELETE ? "deleted" : "set",
                             state->op == STATE_PHOTO ? "photo" : state->name);
                if (state->settings_changed)
                    self->hooks.stored (self->hooks.arg);
                account_state_clear (state);
            }
            s_account_done (self, slot);
            s_providers_done (self, slot);
            if (api_job->op == OP_GET || api_job->op == OP_PATCH || api_job->op == OP_RESET) {
                json_t *body = appsettings_body (&api_job->result);
                s_reply (self, slot->peer, slot->seq, 200, body);
                json_decref (body);
            }
            if (api_job->op == OP_PATCH || api_job->op == OP_RESET) {
                s_log_change (slot);
                self->hooks.stored (self->hooks.arg);
            }
            s_free (slot);
            break;
        case RC_LOCKED:
            if (!slot->locked_since)
                slot->locked_since = now;
            if (now - slot->locked_since >= LOCK_WAIT) {
                s_error (self, slot->peer, slot->seq, 500, WA_ERR_DATABASE, "the settings stayed locked by "
                         "another change (wactl settings set?) for %g s; nothing was changed",
                         (double) LOCK_WAIT / 1e6);
                s_free (slot);
            }
            else {
                slot->state = SLOT_QUEUED;
                slot->not_before = now + LOCK_RETRY;
            }
            break;
        case RC_INVALID:
            s_error (self, slot->peer, slot->seq, 400, WA_ERR_INVALID, "%s", api_job->error);
            s_free (slot);
            break;
        case RC_NOT_PRIMARY:
            s_error (self, slot->peer, slot->seq, 500, WA_ERR_NOT_PRIMARY_MASTER, "%s", api_job->error);
            s_free (slot);
            break;
        case RC_NOT_FOUND:
            s_error (self, slot->peer, slot->seq, 404, WA_ERR_NOT_FOUND, "%s", api_job->error);
            s_free (slot);
            break;
        case RC_CONFLICT:
            s_error (self, slot->peer, slot->seq, 409, WA_ERR_GENERIC, "%s", api_job->error);
            s_free (slot);
            break;
        default:
            wa_warn ("api: %s failed: %s", s_op_names[api_job->op], api_job->error);
            s_error (self, slot->peer, slot->seq, 500, WA_ERR_DATABASE, "%s", api_job->error);
            s_free (slot);
            break;
    }
    s_pump (self);
    return true;
}

static void
s_job_destroy (wa_job_t *job)
{
    account_state_clear (&((api_job_t *) job)->account_state);
}

api_t *
api_new (wa_loop_t *loop, zsock_t *sock, wa_trust_t *trust, wa_dbworker_t *db, const wa_config_t *settings,
         const api_hooks_t *hooks)
{
    api_t *self = (api_t *) zmalloc (sizeof (api_t));
    self->loop = loop;
    self->trust = trust;
    self->sock = sock;
    self->db = db;
    self->settings = settings;
    self->hooks = *hooks;
    self->timer = -1;
    self->sync_timer = -1;
    for (int i = 0; i < API_SLOTS; i++) {
        self->slots[i].api = self;
        self->slots[i].job = WA_JOB_NEW (api_job_t, API_JOB_KIND, s_run, s_job_destroy);
        self->slots[i].job->slot = i;
    }
    self->gate = gatelink_new (loop, settings->upstream_control_endpoint);
    self->docstore = docstore_new (loop, sock, trust, db, settings, hooks);
    wa_loop_reader (loop, sock, s_on_socket, self);
    //  Without a DB worker (the unit test) there is no row to keep.
    if (db)
        wa_timer_every (loop, &self->sync_timer, SYNC_POLL, s_on_sync, self);
    return self;
}

void
api_stop (api_t *self, bool running)
{
    if (!self)
        return;
    if (self->timer >= 0)
        wa_loop_timer_end (self->loop, self->timer);
    self->timer = -1;
    if (self->sync_timer >= 0)
        wa_loop_timer_end (self->loop, self->sync_timer);
    self->sync_timer = -1;
    docstore_stop (self->docstore);
    for (int i = 0; i < API_SLOTS; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->state == SLOT_QUEUED || slot->state == SLOT_UPSTREAM || slot->state == SLOT_GC
        ||  (running && slot->state == SLOT_RUNNING)) {
            //  The job of a running one may still come back: it is ignored.
            s_error (self, slot->peer, slot->seq, 500, WA_ERR_NOT_PRIMARY_MASTER, "the Master is stopping");
            if (slot->state == SLOT_UPSTREAM)
                gatelink_cancel (self->gate, slot);
            if (slot->op == OP_SYNC)
                self->syncing = false;
            zframe_destroy (&slot->peer);
            slot->state = SLOT_FREE;
        }
    }
}

void
api_destroy (api_t **self_p)
{
    api_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < API_SLOTS; i++) {
        zframe_destroy (&self->slots[i].peer);
        if (self->slots[i].job)
            json_decref (self->slots[i].job->providers);
        WA_JOB_DESTROY (self->slots[i].job);
    }
    gatelink_destroy (&self->gate);
    docstore_destroy (&self->docstore);
    free (self);
    *self_p = NULL;
}
