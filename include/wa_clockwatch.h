/*  wa_clockwatch — notices a step of the database's clock.

    Leases, fences and liveness are judged by the database's NOW(6); the
    local deadlines by this host's CLOCK_MONOTONIC. Between two readings of
    NOW(6) the two clocks advance alike, within what each reading's round
    trip leaves uncertain. When the database's clock advances much faster
    (a forward step) or slower (a backward step) than ours, every judgement
    by NOW(6) is off by the step for a while (docs/ARCHITECTURE.md, Time
    steps on the database host): a node that sees one says so once and, where
    it matters, stops trusting judgements by the database's clock for a time
    (the Master's DB-based verdicts, a new holder's wait before logging in).

    A reading is NOW(6) as microseconds since 1970 (WA_CLOCKWATCH_NOW_SQL)
    and the monotonic times the statement was sent and its answer received.
    Pure: no clock is read here. */
#ifndef WA_CLOCKWATCH_H
#define WA_CLOCKWATCH_H

#include <stdbool.h>
#include "wa_clock.h"

//  The expression a job selects for a reading.
#define WA_CLOCKWATCH_NOW_SQL "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)"
//  The smallest threshold: below it, scheduling noise.
#define WA_CLOCKWATCH_MIN_THRESHOLD (WA_USEC_PER_SEC / 10)

//  One reading, as a job takes it on its worker (wa_db_read_clock).
typedef struct {
    wa_usec_t db;               //  NOW(6) in usec since 1970; 0: none taken
    wa_usec_t sent;             //  monotonic, before the statement
    wa_usec_t received;         //  monotonic, after its answer
} wa_clockread_t;

typedef struct {
    bool have;                  //  a reading is held
    wa_usec_t db;               //  its NOW(6)
    wa_usec_t sent;             //  its statement's send time (monotonic)
    wa_usec_t received;         //  its answer's time (monotonic)
    wa_usec_t stepped_at;       //  monotonic time of the last step seen (0: none)
    int64_t last_step;          //  its size: + forward, - backward
    uint64_t steps;             //  steps seen
} wa_clockwatch_t;

//  Compare a new reading with the last one and keep it. Returns the step
//  (usec; + forward, - backward) or 0 when the clocks agree within
//  threshold (at least WA_CLOCKWATCH_MIN_THRESHOLD) plus both readings'
//  round trips. The nodes use half of lease_margin: a step that large eats
//  the margin the leases rely on. A reading older than the one held
//  (answers out of order) is ignored.
int64_t wa_clockwatch_feed (wa_clockwatch_t *self, wa_usec_t db_now, wa_usec_t sent, wa_usec_t received,
                            wa_usec_t threshold);
//  The same with a reading (none taken: 0).
int64_t wa_clockwatch_feed_read (wa_clockwatch_t *self, const wa_clockread_t *reading, wa_usec_t threshold);
//  True when a step was seen within window before now (monotonic).
bool wa_clockwatch_recent (const wa_clockwatch_t *self, wa_usec_t now, wa_usec_t window);

#endif
