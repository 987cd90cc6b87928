/*  wa_lease — the local side of a lease held in the database (the master
    lease, I1, and a shard lease, I2).

    The database decides who holds a lease, by its own clock. Locally we only
    know when we SENT the renewal that succeeded: the database set the expiry
    to (its time of execution + ttl), and execution happened after the send.
    So the holder stops acting at (send time + ttl - margin) on its own
    CLOCK_MONOTONIC, which is earlier than the database's expiry whatever the
    delay, provided the two clocks do not drift apart by more than the margin
    during one ttl. A renewal that fails or times out moves nothing. */
#ifndef WA_LEASE_H
#define WA_LEASE_H

#include <stdbool.h>
#include <stdint.h>
#include "wa_clock.h"

typedef struct {
    wa_usec_t ttl;              //  lease length granted by each renewal
    wa_usec_t margin;           //  safety margin against drift and scheduling
    uint64_t epoch;             //  epoch of the held lease, 0 when none
    wa_usec_t deadline;         //  local instant at which we must stop acting
    bool held;                  //  true between success and deadline/loss
} wa_lease_t;

void wa_lease_init (wa_lease_t *self, wa_usec_t ttl, wa_usec_t margin);
//  A renewal sent at sent_at succeeded with epoch.
void wa_lease_renewed (wa_lease_t *self, wa_usec_t sent_at, uint64_t epoch);
//  The same for a renewal that asked for ttl (the ttl setting may have
//  changed since it was sent: the deadline follows what the database granted).
void wa_lease_granted (wa_lease_t *self, wa_usec_t sent_at, wa_usec_t ttl, uint64_t epoch);
//  The database said we no longer hold it (0 rows matched), or we let it go.
void wa_lease_lost (wa_lease_t *self);
//  True while we may act as holder at instant now. Marks the lease lost once
//  the deadline has passed.
bool wa_lease_valid (wa_lease_t *self, wa_usec_t now);
//  Microseconds left before the deadline (0 when not held or past it).
wa_usec_t wa_lease_remaining (const wa_lease_t *self, wa_usec_t now);


//  The master lease's fence, inside a transaction: one statement that
//  WRITES the lease row when master still holds the lease at epoch (by the
//  database's clock). 1: it holds it, and no other Master can take the lease
//  over before this transaction ends (on one server the takeover waits for
//  the row; on a Galera cluster, whichever commits second fails
//  certification); 0: it does not (roll back); -1: the statement failed.
//  A shared lock (LOCK IN SHARE MODE) would fence on one server only: on
//  Galera a lock taken on one database node is unknown to the others.
typedef struct wa_db_t wa_db_t;
int wa_lease_fence_master (wa_db_t *db, uint64_t master, uint64_t epoch);
#endif
