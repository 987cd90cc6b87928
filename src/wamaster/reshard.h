/*  reshard — a live change of the shard count (POST /v1/account/shards),
    run by the primary Master in two steps, each one transaction fenced by
    its master lease (conf/migrations/0015_reshard.sql has the columns; the
    rule and its proof are in docs/ARCHITECTURE.md, "Changing the shard
    count"):

    1. reshard_begin (an API job): the layout in force is marked draining.
       From then on no holder renews a draining row, the outbox accepts
       nothing under it, and no Master promotes anyone for it; its holder
       closes its upstream session and releases the row, or lets its lease
       run out (a dead or paused holder).
    2. reshard_step (each monitor run): once no row of the old layout has a
       lease left, the new layout replaces it (reshard_plan), every pending
       outbox row and callback moves to its shard under the new count, and
       the count is in force; the monitor then promotes the new rows as it
       does any shard without a holder. When every new shard has a holder
       the change is over.

    A Master that takes the lease over in the middle goes on from where the
    database says the change is. Only one change runs at a time. */
#ifndef RESHARD_H
#define RESHARD_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_config.h"
#include "wa_db.h"

#define RESHARD_TIME 27         //  "YYYY-MM-DD HH:MM:SS.ffffff"

//  A row of the layout being replaced, as the database has it.
typedef struct {
    int shard;
    uint64_t node;              //  0: never held
    uint64_t epoch;
    char expires_at[RESHARD_TIME];
    bool lease_valid;           //  expires_at > NOW(6)
    bool released;              //  its holder closed its session and let go
} reshard_old_t;

//  A row of the new layout: no holder yet; the old leases that covered its
//  recipients, which its first holder waits for.
typedef struct {
    int shard;
    uint64_t epoch;             //  above every old row's: promotions go on from it
    uint64_t prev_node;         //  the holder of the latest of them (0: none held)
    char prev_expires_at[RESHARD_TIME];
    bool prev_closed;           //  every one of them was released: no wait for the gateway
} reshard_new_t;

//  The new layout of shards rows from the old one's nold rows. Pure. 0, or
//  -1 when a count is not valid or an old row still holds a lease.
int reshard_plan (const reshard_old_t *old, int nold, int shards, reshard_new_t *out);

//  Where a change is, for GET /v1/account/shards and wactl status.
typedef struct {
    int shards;                 //  the count in force
    uint64_t layout;            //  grows by one with each change put in force
    char state[16];             //  "", "draining" or "promoting"
    int target;                 //  while draining: the count asked for
    uint64_t change_id;         //  shard_changes.id of the last change (0: none)
    int from, to;               //  ... its counts
    char started_at[RESHARD_TIME];
    char started_by[65];
    int released;               //  draining: old rows without a lease left
    int serving;                //  rows of the count in force with a holder
    int rows;                   //  rows in the shard map
} reshard_status_t;

int reshard_read (wa_db_t *db, reshard_status_t *out);

//  Outcomes of reshard_begin.
typedef enum {
    RESHARD_STARTED,            //  the change runs
    RESHARD_SAME,               //  the count asked for is in force and no change runs, or
                                //  the change that runs is to it (asked again)
    RESHARD_BUSY,               //  another change runs (why says which)
    RESHARD_FAILED,             //  a database error (why); nothing changed
} reshard_begin_t;

//  Inside the caller's transaction, already fenced by its master lease:
//  start a change to shards (valid), asked by by, or say why not. On
//  RESHARD_STARTED the caller commits; on any other outcome it rolls back.
reshard_begin_t reshard_begin (wa_db_t *db, int shards, const char *by, uint64_t master, char *why,
                               size_t why_size);

//  What one monitor run did to a running change.
typedef struct {
    bool running;               //  a change runs (after this step, too)
    bool put_in_force;          //  the new layout replaced the old one now
    bool done;                  //  every new shard has a holder: the change is over
    int from, to;
    uint64_t layout;
    uint64_t change_id;
    int64_t moved_messages;
    int64_t moved_callbacks;
    int waiting;                //  draining: old rows still holding a lease
} reshard_step_t;

//  Take a running change as far as it can go now. Fenced by master's lease
//  (holder, epoch). 0, or -1 on a database error (rolled back; the next run
//  tries again).
int reshard_step (wa_db_t *db, uint64_t master, uint64_t epoch, reshard_step_t *out);

#endif
