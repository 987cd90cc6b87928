/*  core_jobs — the Coreapp's database work: its shard leases.

    One job per renewal tick serves every shard the Coreapp holds, and
    looks for new ones: each held shard is renewed by its own statement
    (autocommit), then every row naming us with a lease in force that we
    do not hold yet is taken up the same way. One job, because every
    deadline is then measured from one submit time that precedes each of
    its statements (safe for all of them), and the worker's queue holds
    one renewal however many shards we hold; one statement per shard, not
    one transaction, because a shard's row locked by a promotion or a
    handover must cost that shard only, never delay or fail the others'
    renewals behind a transaction's locks. */
#ifndef CORE_JOBS_H
#define CORE_JOBS_H

#include "wa_config.h"
#include "wa_dbworker.h"

enum { JOB_SHARD = 1, JOB_RELEASE };

//  One shard lease in the job.
typedef struct {
    int shard;
    uint64_t epoch;
    bool held;                  //  in: we hold it (renew); false: found by the search
    //  out: 1 held (renewed), 0 lost (the row names another holder or
    //  epoch), -1 error (nothing known: the last deadline stands)
    int rc;
    wa_usec_t login_wait;       //  how long before a login may go out (0: now; -1: held, not read again)
    bool draining;              //  lost (rc 0) because the row is draining: a change of the shard count
} shard_lease_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    wa_usec_t ttl;
    wa_usec_t idle;             //  upstream idle timeout
    wa_usec_t skew;             //  db_clock_skew: added to the login wait on a Galera cluster
    int count;                  //  in: the held leases; out: and the ones found after them
    shard_lease_t leases[WA_SHARDS_MAX];
    //  out: rc 0 ran (each lease says), -1 the database failed before any
    //  statement. The database's clock: at the start, and with the last wait.
    wa_clockread_t readings[2];
    int shards;                 //  out: the shard count in force, read with the search (kept when none came)
} shard_job_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    int shard;
    uint64_t epoch;
} release_job_t;

void core_shard_run (wa_job_t *job, wa_db_t *db);
void core_release_run (wa_job_t *job, wa_db_t *db);

#endif
