/*  core_jobs — the Coreapp's database work: its shard lease. */
#ifndef CORE_JOBS_H
#define CORE_JOBS_H

#include "wa_dbworker.h"

enum { JOB_SHARD = 1, JOB_RELEASE };

typedef struct {
    wa_job_t job;
    uint64_t node;
    bool holding;               //  in: renew (shard, epoch) rather than look for a promotion
    int shard;                  //  in when holding, out when found
    uint64_t epoch;             //  idem
    wa_usec_t ttl;
    wa_usec_t idle;             //  upstream idle timeout
    //  out: rc 1 held (found or renewed), 0 not held / lost, -1 error
    wa_usec_t login_wait;       //  how long before a login may go out (0: now)
    int shards;                 //  the shard count in force (cluster_info), read with the renewal
    wa_clockread_t readings[2]; //  the database's clock: at the start, and with the wait
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
