/*  gc — retention, the original's db_garbagecollector: the primary Master
    deletes what is finished and older than its retention, in small
    batches, on its DB worker.

    What goes (each condition is in the DELETE itself, so the walk below
    can only make it find less, never take more):
    - outbox rows sent or refused (status <> 'pending') whose sent_at is
      older than retention_outbox_days; a pending row never goes;
    - callbacks delivered, skipped or rejected (status <> 'pending') whose
      delivered_at is older than retention_callbacks_days;
    - audit events whose `at` is older than retention_events_days;
    - inbound message ids (inbound_ids, what PUT /v1/messages/{id}
      needs) whose created_at is older than retention_callbacks_days.
    0 days keeps a table's rows. Ages are by the database's clock, the one
    the rows were stamped with.

    A pass, every gc_interval while db_garbagecollector_enable, takes the
    tables in turn, one batch per job: the worker also renews the master
    lease, and a renewal waits for at most one batch. Outbox and callbacks
    are walked in primary-key order (seq grows with created_at): a batch
    reads the next gc_batch_size rows after the walk's cursor (a consistent
    read: no locks) and deletes those of them that are due by their keys,
    so it locks only the rows it deletes, never a pending or recent row a
    Coreapp is writing; the walk ends at a window that reaches rows younger
    than the retention (those after it are younger still) or at the table's
    end, and the next pass walks from the first row again. No index on
    sent_at is needed, so the send path pays no extra index write. Events
    and inbound ids (every row finished) go oldest first by their time key
    until a batch deletes fewer than gc_batch_size. A pass takes at most GC_PASS_BATCHES batches per table
    (the next pass goes on from where it stopped), and after each batch the
    reactor waits as long as the batch took (at most GC_GAP_MAX): the
    collector keeps its connection busy half the time at most, and each
    batch is a short transaction of its own.

    Every statement is fenced like the primary's other writes: none is sent
    after the lease deadline, and each matches only while master_lease
    still names this Master and epoch, unexpired.

    The pass's bookkeeping (gc_t) is pure: time comes in as arguments, so
    it is unit-tested; gc_job_run is the database side. */
#ifndef GC_H
#define GC_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "wa_dbworker.h"

typedef enum { GC_OUTBOX, GC_CALLBACKS, GC_EVENTS, GC_INBOUND, GC_TABLES } gc_table_t;

//  Batches per table in one pass.
#define GC_PASS_BATCHES 100
//  The longest wait between two batches.
#define GC_GAP_MAX (1000 * 1000)

//  What one batch did.
typedef struct {
    int rc;                     //  0; -1 a database error; 1 past the lease deadline (nothing sent)
    int64_t examined;           //  rows in the window (outbox, callbacks)
    uint64_t last;              //  the window's last seq
    bool young;                 //  the window reached rows younger than the retention
    int64_t deleted;
} gc_result_t;

typedef enum { GC_JOB_BATCH, GC_JOB_STATE } gc_op_t;

typedef struct {
    wa_job_t job;
    gc_op_t op;
    uint64_t node;              //  the fence: this Master ...
    uint64_t epoch;             //  ... at this master lease epoch
    wa_usec_t deadline;         //  local lease deadline: no statement after it
    //  GC_JOB_BATCH
    int table;
    uint64_t after;             //  the walk's cursor (outbox, callbacks)
    int limit;                  //  gc_batch_size
    int64_t keep;               //  the table's retention, microseconds (> 0)
    gc_result_t result;         //  out
    wa_usec_t took;             //  out: the batch's time on the worker
    //  GC_JOB_STATE: the pass, for gc_state
    int64_t pass_deleted[GC_TABLES];
    int pass_batches;
    wa_usec_t pass_took;
    char error[256];            //  out of a batch, in for the state ("" none)
} gc_job_t;

//  A table's walk in the current pass.
typedef struct {
    uint64_t cursor;            //  seq the next window starts after (0: the first row)
    int batches;                //  this pass
    int64_t deleted;            //  this pass
    bool done;                  //  for this pass
    bool capped;                //  done at GC_PASS_BATCHES: more is left
} gc_walk_t;

typedef struct {
    bool running;               //  a pass is under way
    wa_usec_t started;          //  when it started (monotonic)
    int batches;                //  its batches so far
    char error[256];            //  its first error ("" none)
    gc_walk_t walk[GC_TABLES];
    //  Since this Master started.
    uint64_t passes;            //  ended (not abandoned)
    uint64_t batches_total;
    uint64_t failures;          //  batches that failed
    uint64_t deleted[GC_TABLES];
    wa_usec_t last_ended;       //  when the last pass ended (0: none yet)
    wa_usec_t last_took;        //  its length
    wa_usec_t longest_batch;
} gc_t;

void gc_init (gc_t *self);
//  "outbox", "callbacks", "events", "inbound_ids".
const char *gc_table_name (int table);
//  Start a pass at now. False when one is under way.
bool gc_start (gc_t *self, wa_usec_t now);
//  The table the next batch is for, -1 when the pass has no more. keep
//  holds each table's retention in microseconds: a table at 0 (kept) is
//  done for this pass.
int gc_next (gc_t *self, const int64_t keep[GC_TABLES]);
//  Where the next batch of table starts (gc_job_t.after).
uint64_t gc_cursor (const gc_t *self, int table);
//  A batch of table with limit rows came back, after took on the worker:
//  the walk moves on, or that table is done for this pass; a failed batch
//  (rc -1, error saying why) ends the pass.
void gc_batch_done (gc_t *self, int table, int limit, const gc_result_t *result, wa_usec_t took,
                    const char *error);
//  The wait before the next batch, after one that took took.
wa_usec_t gc_gap (wa_usec_t took);
//  The pass ended at now: counted in the totals.
void gc_finish (gc_t *self, wa_usec_t now);
//  Drop the pass uncounted (the lease is gone); the walks start over.
void gc_abandon (gc_t *self);
//  Rows the current (or last) pass deleted in all.
int64_t gc_pass_deleted (const gc_t *self);
//  True when the current (or last) pass stopped a table at GC_PASS_BATCHES.
bool gc_more (const gc_t *self);
//  The counters as a new JSON object, for the Master's stats.
json_t *gc_stats_json (const gc_t *self, bool enabled, wa_usec_t now);

//  The database side, on the worker (kind JOB_GC of master_jobs.h).
void gc_job_run (wa_job_t *job, wa_db_t *db);

#endif
