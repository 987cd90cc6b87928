/*  handover — a planned switchover, on the primary Coreapp's side.

    The primary Master publishes HANDOVER (shard, holder, epoch, new holder)
    when an operator runs `wactl switchover`. The holder named, at that
    epoch, then:
      1. stops taking requests for the shard (they get 1011 "not ready", and
         the Webapp tries again: a client sees a pause, not an error);
      2. drains: waits until no insert is queued or running and every
         message sent is acknowledged, at most HANDOVER_DRAIN;
      3. closes its upstream session with LOGOUT and waits for the gateway's
         LOGOUT_OK, at most HANDOVER_LOGOUT;
      4. in one transaction, fenced by its own shard lease and the Master's
         lease, moves the shard_map row to the new holder (who may hold
         other shards: a Coreapp holds several) with prev_closed =
         1 when the gateway confirmed the logout: the new holder then logs
         in at once, since the old session is known to be gone. Without the
         confirmation prev_closed is 0 and the new holder waits, as after any
         promotion, for the old lease plus the gateway's idle timeout
         (prev_expires_at is the handover's time plus lease_margin);
      5. answers the Master with HANDED_OVER.
    A handover that cannot finish (the row moved on, the new holder is not
    fit, a lease ended) gives the shard back to the holder: it logs in again
    and serves. When the transaction's outcome is unknown (the connection
    failed around the COMMIT) the holder logs in only once a renewal says
    the row still names it at its epoch.

    A release (handover_release) is the same steps for a change of the
    shard count: the row is draining, so nobody takes it over; step 4
    instead shortens our own lease, fenced by our row alone (names us at
    our epoch, draining): with the logout confirmed, released = 1 and the
    lease ends now, so the new layout's holders log in at once; without
    it, the lease ends lease_margin from now and they wait out the old
    session (prev_closed 0). No Master is told: the change's own step sees
    the row without a lease (src/wamaster/reshard.h).

    This module is the decision and the database work; the Coreapp carries
    out its verdicts (coreapp.c). */
#ifndef HANDOVER_H
#define HANDOVER_H

#include "wa_clock.h"
#include "wa_dbworker.h"

#define HANDOVER_DRAIN (1000 * 1000)
#define HANDOVER_LOGOUT (1000 * 1000)

enum { JOB_HANDOVER = 50 };

typedef enum {
    HANDOVER_IDLE,
    HANDOVER_DRAINING,          //  no new requests; waiting for the outbox
    HANDOVER_LOGGING_OUT,       //  LOGOUT sent; waiting for LOGOUT_OK
    HANDOVER_STORING,           //  the shard_map transaction is on the worker
} handover_phase_t;

typedef struct {
    wa_job_t job;
    void *owner;                //  whose handover it is (the Coreapp's shard slot)
    //  in
    int shard;
    uint64_t node;              //  we, the holder
    uint64_t epoch;             //  our shard lease's
    uint64_t to;                //  0: a release for a change of the shard count
    uint64_t master;            //  the Master that asked, and its lease's epoch (the fence)
    uint64_t master_epoch;
    bool closed;                //  the gateway confirmed our logout
    wa_usec_t ttl;              //  shard_lease_ttl, for the new holder's lease
    wa_usec_t margin;           //  lease_margin
    wa_usec_t liveness_limit;   //  the new holder must be up (WA_SQL_ALIVE)
    //  out: rc 1 handed over, 0 refused (why says), -1 failed (outcome unknown
    //  when unsure)
    uint64_t new_epoch;
    bool unsure;
    char why[160];
} handover_job_t;

typedef struct {
    handover_phase_t phase;
    int shard;
    uint64_t epoch;
    uint64_t to;
    uint64_t master;
    uint64_t master_epoch;
    wa_usec_t started;
    wa_usec_t phase_at;         //  when the current phase began
    wa_usec_t drained_us;       //  how long each phase took
    wa_usec_t logout_us;
    bool closed;
    bool store_due;             //  closed: the transaction is to be sent
    //  A handover's transaction ended without an answer: no login until a
    //  renewal says we still hold the shard at our epoch.
    bool unsure;
    handover_job_t *job;        //  NULL while the worker has it
    uint64_t done;              //  handovers made, and refused or failed
    uint64_t failed;
} handover_t;

//  What the Coreapp must do next.
typedef enum {
    HANDOVER_WAIT,              //  nothing yet
    HANDOVER_LOGOUT_NOW,        //  send LOGOUT (session_logout)
    HANDOVER_CLOSE,             //  close the session unconfirmed (no LOGOUT_OK in time, or not open)
    HANDOVER_STORE,             //  submit the transaction
} handover_action_t;

void handover_init (handover_t *self);
void handover_destroy (handover_t *self);
//  A HANDOVER for us: 0 begun, -1 refused (why says: not ours, not now).
int handover_begin (handover_t *self, int holding_shard, uint64_t holding_epoch, uint64_t node,
                    int shard, uint64_t epoch, uint64_t to, const char *text, wa_usec_t now,
                    char *why, size_t why_size);
bool handover_active (const handover_t *self);
//  Our row of shard at epoch is draining (a change of the shard count): a
//  release begins. 0 begun, -1 not now (a handover or release under way).
int handover_release (handover_t *self, int shard, uint64_t epoch, wa_usec_t now);
//  The next step, from what the outbox and the session say now.
handover_action_t handover_step (handover_t *self, wa_usec_t now, bool outbox_idle, bool session_open,
                                 bool session_closing);
//  The session ended: confirmed by the gateway (LOGOUT_OK, or it said the
//  session is gone), or not. Does nothing unless draining or logging out.
void handover_closed (handover_t *self, wa_usec_t now, bool confirmed);
//  We lost the shard before the transaction went: the handover is over.
//  true if one was under way.
bool handover_abort (handover_t *self);
//  Fill the job for the worker; NULL when it is away.
handover_job_t *handover_job (handover_t *self, uint64_t node, wa_usec_t ttl, wa_usec_t margin,
                              wa_usec_t liveness_limit);
//  The job came back; the handover is over (phase IDLE) whatever it says.
void handover_job_back (handover_t *self, handover_job_t *job);
void handover_run (wa_job_t *job, wa_db_t *db);

#endif
