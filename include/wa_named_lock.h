/*  wa_named_lock — a lock by name that serializes writers on one database
    server and on a Galera cluster alike: a row of named_locks (migration
    0016) written at the start of the transaction it serializes.

    GET_LOCK() is local to one Galera node (and refused outright by some
    versions, MDEV-30473), and a locking read locks on its own node only:
    only writes are certified across the nodes. So the lock is a write of
    its row (taken + 1, every time a real change, so that it is in the
    write-set) as the transaction's first statement:
      - on one server a second taker finds the row locked until the first
        one's COMMIT or ROLLBACK;
      - on Galera, two takers on different nodes both go on, and the one
        certified second fails at COMMIT (or at any statement, when the
        first one's write-set aborts it) with 1213, its whole transaction
        rolled back.
    Either way the loser has changed nothing and may try the whole
    transaction again.

    The taker never waits for the row: a second taker on the same server
    gets WA_NAMED_LOCK_BUSY at once (a program's DB worker must not stall
    its other jobs — a Master's lease renewals — behind a lock, and a wait
    as long as the statement timeout would end in the client's read
    timeout, not in an answer). The caller rolls back and tries again
    after WA_NAMED_LOCK_RETRY, for as long as it may wait. */
#ifndef WA_NAMED_LOCK_H
#define WA_NAMED_LOCK_H

#include <stdbool.h>
#include "wa_db.h"

enum {
    WA_NAMED_LOCK_TAKEN = 0,
    WA_NAMED_LOCK_BUSY = 1,             //  another transaction holds it: roll back
    WA_NAMED_LOCK_FAILED = -1           //  a database error (wa_db_error): roll back
};

//  The pause before trying a lost transaction again, microseconds.
#define WA_NAMED_LOCK_RETRY (50 * 1000)

//  Take the lock name (at most 64 characters) in the transaction just
//  started on db: its first statements. Held until COMMIT or ROLLBACK.
int wa_named_lock_take (wa_db_t *db, const char *name);
//  True when db's last error says another transaction ran at the same
//  time (the lock held, a deadlock, a Galera certification failure):
//  1205, 1213, and MySQL's 3572 (a NOWAIT read of a locked row). The
//  transaction is rolled back, or must be: try it again.
bool wa_named_lock_lost (wa_db_t *db);

#endif
