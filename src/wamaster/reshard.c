/*  reshard — see reshard.h */
#include <inttypes.h>
#include <string.h>
#include <stdio.h>
#include "wa_lease.h"
#include "wa_log.h"
#include "wa_message.h"
#include "reshard.h"

//  Before any row of the new layout was held: the old leases were over long ago.
#define RESHARD_EPOCH_START "1970-01-02 00:00:00.000000"

int
reshard_plan (const reshard_old_t *old, int nold, int shards, reshard_new_t *out)
{
    if (!wa_shards_valid (nold) || !wa_shards_valid (shards))
        return -1;
    uint64_t epoch = 0;
    for (int i = 0; i < nold; i++) {
        if (old[i].shard != i || old[i].lease_valid)
            return -1;
        if (old[i].epoch > epoch)
            epoch = old[i].epoch;
    }
    for (int s = 0; s < shards; s++) {
        reshard_new_t *row = &out[s];
        memset (row, 0, sizeof *row);
        row->shard = s;
        row->epoch = epoch;
        row->prev_closed = true;
        snprintf (row->prev_expires_at, sizeof row->prev_expires_at, "%s", RESHARD_EPOCH_START);
        for (int i = 0; i < nold; i++) {
            const reshard_old_t *o = &old[i];
            if (!o->node || !wa_shards_intersect (o->shard, nold, s, shards))
                continue;
            //  Every holder that served some of these recipients: the new
            //  holder logs in after the last of their leases, and at once
            //  only when each of them confirmed its logout.
            if (!o->released)
                row->prev_closed = false;
            if (!row->prev_node || strcmp (o->expires_at, row->prev_expires_at) > 0) {
                snprintf (row->prev_expires_at, sizeof row->prev_expires_at, "%s", o->expires_at);
                row->prev_node = o->node;
            }
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The database's side

static const char *SQL_INFO =
    "SELECT c.shards, c.layout, c.change_state, COALESCE(c.target_shards, 0), c.change_id, "
    "COALESCE(h.from_shards, 0), COALESCE(h.to_shards, 0), "
    "COALESCE(DATE_FORMAT(h.started_at, '%Y-%m-%d %H:%i:%s.%f'), ''), COALESCE(h.started_by, ''), "
    "(SELECT COUNT(*) FROM shard_map WHERE expires_at <= NOW(6)), "
    "(SELECT COUNT(*) FROM shard_map WHERE node_id <> 0 AND expires_at > NOW(6) AND draining = 0), "
    "(SELECT COUNT(*) FROM shard_map), c.paused_at IS NOT NULL "
    "FROM cluster_info c LEFT JOIN shard_changes h ON h.id = c.change_id WHERE c.id = 1";
static const char *SQL_INFO_LOCK =
    "SELECT shards, layout, change_state, COALESCE(target_shards, 0), change_id "
    "FROM cluster_info WHERE id = 1 FOR UPDATE";
static const char *SQL_STATE =
    "SELECT change_state FROM cluster_info WHERE id = 1";
static const char *SQL_CHANGE_ADD =
    "INSERT INTO shard_changes (from_shards, to_shards, started_at, started_by, master_id) "
    "VALUES (?, ?, NOW(6), LEFT(?, 64), ?)";
static const char *SQL_DRAIN_INFO =
    "UPDATE cluster_info SET change_state = 'draining', target_shards = ?, change_id = ? WHERE id = 1";
static const char *SQL_DRAIN_ROWS =
    "UPDATE shard_map SET draining = 1, released = 0";
static const char *SQL_ROWS_LOCK =
    "SELECT shard, node_id, epoch, DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s.%f'), expires_at > NOW(6), released "
    "FROM shard_map ORDER BY shard FOR UPDATE";
static const char *SQL_ROWS_CLEAR = "DELETE FROM shard_map";
static const char *SQL_ROW_ADD =
    "INSERT INTO shard_map (shard, node_id, epoch, expires_at, prev_node, prev_expires_at, prev_closed, reason) "
    "VALUES (?, 0, ?, ?, ?, ?, ?, LEFT(?, 255))";
//  What was accepted or stored under the old count and is not done yet
//  goes to the shard that serves its recipient or conversation now (the
//  same CRC32 as wa_message_shard).
static const char *SQL_MOVE_OUTBOX =
    "UPDATE outbox SET shard = CRC32(recipient) % ? WHERE status = 'pending' AND shard <> CRC32(recipient) % ?";
static const char *SQL_MOVE_CALLBACKS =
    "UPDATE callbacks SET shard = CRC32(conversation) % ? "
    "WHERE status = 'pending' AND shard <> CRC32(conversation) % ?";
static const char *SQL_IN_FORCE =
    "UPDATE cluster_info SET shards = ?, layout = layout + 1, change_state = 'promoting', target_shards = NULL "
    "WHERE id = 1";
static const char *SQL_CHANGE_DRAINED =
    "UPDATE shard_changes SET drained_at = NOW(6), moved_messages = ?, moved_callbacks = ? WHERE id = ?";
static const char *SQL_HELD =
    "SELECT COUNT(*) FROM shard_map WHERE node_id <> 0 AND expires_at > NOW(6)";
static const char *SQL_OVER =
    "UPDATE cluster_info SET change_state = '' WHERE id = 1";
static const char *SQL_CHANGE_DONE =
    "UPDATE shard_changes SET done_at = NOW(6) WHERE id = ?";

static int
s_int_row (const wa_db_row_t *row, void *arg)
{
    *(int64_t *) arg = wa_db_row_int (row, 0);
    return 0;
}

static int
s_str_row (const wa_db_row_t *row, void *arg)
{
    snprintf (arg, 16, "%s", wa_db_row_str (row, 0));
    return 0;
}

static int
s_status_row (const wa_db_row_t *row, void *arg)
{
    reshard_status_t *st = arg;
    st->shards = (int) wa_db_row_int (row, 0);
    st->layout = (uint64_t) wa_db_row_int (row, 1);
    snprintf (st->state, sizeof st->state, "%s", wa_db_row_str (row, 2));
    st->target = (int) wa_db_row_int (row, 3);
    st->change_id = (uint64_t) wa_db_row_int (row, 4);
    st->from = (int) wa_db_row_int (row, 5);
    st->to = (int) wa_db_row_int (row, 6);
    snprintf (st->started_at, sizeof st->started_at, "%s", wa_db_row_str (row, 7));
    snprintf (st->started_by, sizeof st->started_by, "%s", wa_db_row_str (row, 8));
    st->released = (int) wa_db_row_int (row, 9);
    st->serving = (int) wa_db_row_int (row, 10);
    st->rows = (int) wa_db_row_int (row, 11);
    return 0;
}

int
reshard_read (wa_db_t *db, reshard_status_t *out)
{
    memset (out, 0, sizeof *out);
    return wa_db_query (db, SQL_INFO, s_status_row, out, "") == 1 ? 0 : -1;
}

typedef struct {
    int64_t shards, layout, target, change_id;
    char state[16];
} info_t;

static int
s_info_row (const wa_db_row_t *row, void *arg)
{
    info_t *info = arg;
    info->shards = wa_db_row_int (row, 0);
    info->layout = wa_db_row_int (row, 1);
    snprintf (info->state, sizeof info->state, "%s", wa_db_row_str (row, 2));
    info->target = wa_db_row_int (row, 3);
    info->change_id = wa_db_row_int (row, 4);
    return 0;
}

reshard_begin_t
reshard_begin (wa_db_t *db, int shards, const char *by, uint64_t master, char *why, size_t why_size)
{
    reshard_status_t st;
    if (reshard_read (db, &st)) {
        snprintf (why, why_size, "cannot read the shard count: %s", wa_db_error (db));
        return RESHARD_FAILED;
    }
    info_t info = { 0 };
    if (wa_db_query (db, SQL_INFO_LOCK, s_info_row, &info, "") != 1) {
        snprintf (why, why_size, "cannot read the shard count: %s", wa_db_error (db));
        return RESHARD_FAILED;
    }
    //  The same change asked again (a Webapp retrying an attempt whose
    //  answer it did not get): it runs; answered as started.
    if (*info.state && st.to == shards)
        return RESHARD_SAME;
    if (*info.state) {
        snprintf (why, why_size, "a change of the shard count from %d to %d runs (started %.19s by %s, now %s): "
                  "one change at a time", st.from, st.to, st.started_at, *st.started_by ? st.started_by : "?",
                  info.state);
        return RESHARD_BUSY;
    }
    if (info.shards == shards)
        return RESHARD_SAME;
    if (wa_db_exec (db, SQL_CHANGE_ADD, "iisu", info.shards, (int64_t) shards, by, master) != 1) {
        snprintf (why, why_size, "cannot record the change: %s", wa_db_error (db));
        return RESHARD_FAILED;
    }
    uint64_t id = wa_db_insert_id (db);
    if (wa_db_exec (db, SQL_DRAIN_INFO, "iu", (int64_t) shards, id) < 0 || wa_db_exec (db, SQL_DRAIN_ROWS, "") < 0) {
        snprintf (why, why_size, "cannot start the change: %s", wa_db_error (db));
        return RESHARD_FAILED;
    }
    snprintf (why, why_size, "change %" PRIu64 ": %d to %d shards", id, (int) info.shards, shards);
    return RESHARD_STARTED;
}

typedef struct {
    int count;
    reshard_old_t rows[WA_SHARDS_MAX];
    bool overflow;
} old_rows_t;

static int
s_old_row (const wa_db_row_t *row, void *arg)
{
    old_rows_t *list = arg;
    if (list->count == WA_SHARDS_MAX) {
        list->overflow = true;
        return 1;
    }
    reshard_old_t *o = &list->rows[list->count++];
    o->shard = (int) wa_db_row_int (row, 0);
    o->node = (uint64_t) wa_db_row_int (row, 1);
    o->epoch = (uint64_t) wa_db_row_int (row, 2);
    snprintf (o->expires_at, sizeof o->expires_at, "%s", wa_db_row_str (row, 3));
    o->lease_valid = wa_db_row_int (row, 4) != 0;
    o->released = wa_db_row_int (row, 5) != 0;
    return 0;
}

static int
s_fail (wa_db_t *db, const char *what)
{
    wa_warn ("reshard: %s: %s", what, wa_db_error (db));
    wa_db_transaction (db, "ROLLBACK");
    return -1;
}

//  Draining: the new layout in place of the old once no old lease is left.
static int
s_put_in_force (wa_db_t *db, const info_t *info, reshard_step_t *out)
{
    old_rows_t old = { 0 };
    if (wa_db_query (db, SQL_ROWS_LOCK, s_old_row, &old, "") < 0)
        return s_fail (db, "cannot read the shard map");
    for (int i = 0; i < old.count; i++)
        out->waiting += old.rows[i].lease_valid;
    if (out->waiting) {
        wa_db_transaction (db, "ROLLBACK");
        return 0;
    }
    reshard_new_t rows[WA_SHARDS_MAX];
    int shards = (int) info->target;
    if (old.overflow || old.count != info->shards || reshard_plan (old.rows, old.count, shards, rows)) {
        wa_error ("reshard: the shard map has %d rows for %d shards, or the change's count %d is not valid: "
                  "the change waits (see docs/OPERATIONS.md)", old.count, (int) info->shards, shards);
        wa_db_transaction (db, "ROLLBACK");
        return -1;
    }
    if (wa_db_exec (db, SQL_ROWS_CLEAR, "") < 0)
        return s_fail (db, "cannot clear the old layout");
    char reason[80];
    snprintf (reason, sizeof reason, "layout %" PRId64 ": %d shards (was %d)", info->layout + 1, shards,
              (int) info->shards);
    for (int s = 0; s < shards; s++) {
        reshard_new_t *r = &rows[s];
        if (wa_db_exec (db, SQL_ROW_ADD, "iususis", (int64_t) s, r->epoch, r->prev_expires_at, r->prev_node,
                        r->prev_expires_at, (int64_t) r->prev_closed, reason) != 1)
            return s_fail (db, "cannot write the new layout");
    }
    int64_t messages = wa_db_exec (db, SQL_MOVE_OUTBOX, "ii", (int64_t) shards, (int64_t) shards);
    if (messages < 0)
        return s_fail (db, "cannot move the pending messages");
    int64_t callbacks = wa_db_exec (db, SQL_MOVE_CALLBACKS, "ii", (int64_t) shards, (int64_t) shards);
    if (callbacks < 0)
        return s_fail (db, "cannot move the pending callbacks");
    if (wa_db_exec (db, SQL_IN_FORCE, "i", (int64_t) shards) != 1
    ||  wa_db_exec (db, SQL_CHANGE_DRAINED, "iiu", messages, callbacks, (uint64_t) info->change_id) < 0)
        return s_fail (db, "cannot put the new count in force");
    if (wa_db_transaction (db, "COMMIT"))
        return s_fail (db, "cannot commit the new layout");
    out->put_in_force = true;
    out->from = (int) info->shards;
    out->to = shards;
    out->layout = (uint64_t) info->layout + 1;
    out->moved_messages = messages;
    out->moved_callbacks = callbacks;
    return 0;
}

//  Promoting: over once every shard of the new layout has a holder.
static int
s_finish (wa_db_t *db, const info_t *info, reshard_step_t *out)
{
    int64_t held = 0;
    if (wa_db_query (db, SQL_HELD, s_int_row, &held, "") != 1)
        return s_fail (db, "cannot count the new holders");
    if (held < info->shards) {
        wa_db_transaction (db, "ROLLBACK");
        return 0;
    }
    if (wa_db_exec (db, SQL_OVER, "") != 1 || wa_db_exec (db, SQL_CHANGE_DONE, "u", (uint64_t) info->change_id) < 0)
        return s_fail (db, "cannot end the change");
    if (wa_db_transaction (db, "COMMIT"))
        return s_fail (db, "cannot commit the change's end");
    out->done = true;
    out->running = false;
    out->to = (int) info->shards;
    out->layout = (uint64_t) info->layout;
    return 0;
}

int
reshard_step (wa_db_t *db, uint64_t master, uint64_t epoch, reshard_step_t *out)
{
    memset (out, 0, sizeof *out);
    //  Most runs: no change; one read without a lock says so.
    char state[16] = "";
    if (wa_db_query (db, SQL_STATE, s_str_row, state, "") < 0)
        return -1;
    if (!*state)
        return 0;
    if (wa_db_transaction (db, "START TRANSACTION"))
        return -1;
    int64_t holds = 0;
    if ((holds = wa_lease_fence_master (db, master, epoch)) < 0)
        return s_fail (db, "cannot read the master lease");
    if (holds != 1) {
        wa_db_transaction (db, "ROLLBACK");
        return 0;
    }
    info_t info = { 0 };
    if (wa_db_query (db, SQL_INFO_LOCK, s_info_row, &info, "") != 1)
        return s_fail (db, "cannot read the change");
    out->running = *info.state != 0;
    out->change_id = (uint64_t) info.change_id;
    if (strcmp (info.state, "draining") == 0)
        return s_put_in_force (db, &info, out);
    if (strcmp (info.state, "promoting") == 0)
        return s_finish (db, &info, out);
    wa_db_transaction (db, "ROLLBACK");
    return 0;
}
