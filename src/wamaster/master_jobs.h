/*  master_jobs — the Master's database work, run on its DB worker.
    Every write a primary makes is fenced twice: locally (nothing is sent
    after the lease deadline) and in the database (the statement matches
    only while master_lease still names this holder and epoch, unexpired). */
#ifndef MASTER_JOBS_H
#define MASTER_JOBS_H

#include "wa_clockwatch.h"
#include "wa_dbworker.h"
#include "promote.h"
#include "reshard.h"

#define MASTER_MAX_SHARDS WA_SHARDS_MAX
#define MASTER_MAX_NODES 64

//  Their kinds (the settings read and the Masters' list are wa_node's; the
//  retention's batches, JOB_GC, are gc.h's).
enum { JOB_BOOTSTRAP = 1, JOB_LEASE, JOB_MIGRATE, JOB_MONITOR, JOB_RELEASE, JOB_HEALTH, JOB_SEED, JOB_KEYS,
       JOB_GC };

typedef struct {
    wa_job_t job;
} bootstrap_job_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    uint64_t known_epoch;       //  the epoch we believe we hold, 0 if none
    wa_usec_t ttl;
    wa_clockwatch_t clock;      //  the reactor's, as it was (a copy)
    wa_usec_t clock_threshold;  //  what counts as a step
    bool clock_suspect;         //  a step was seen lately: renew, take nothing over
    //  out: rc 1 held, 0 held by another, -1 error
    wa_clockread_t reading;
    bool took_over_blocked;     //  the lease looked free but a step was seen: not taken
    uint64_t epoch;             //  ours when held, else the holder's
    uint64_t holder;            //  the holder when not ours
    uint64_t previous_holder;   //  who held it before a takeover
} lease_job_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    uint64_t epoch;
    wa_usec_t deadline;         //  local lease deadline: no write after it
    int shards;                 //  from config, used at creation only
    //  out
    int cluster_shards;
} migrate_job_t;

typedef struct {
    int shard;
    uint64_t node;
    uint64_t previous;
    uint64_t epoch;
    char reason[160];
} promotion_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    uint64_t epoch;
    wa_usec_t deadline;
    wa_usec_t liveness_limit;   //  a node silent this long is unhealthy
    wa_usec_t shard_ttl;
    wa_usec_t holdoff;          //  a replaced primary is no candidate this long
    wa_usec_t failover_window;  //  the rate limit: at most failover_limit failovers
    int failover_limit;         //  per shard within failover_window (table failovers)
    promote_policy_t policy;    //  heartbeat verdicts, exclusions, clock suspicion (the job sets blocked)
    char force_reason[160];     //  policy.force_reason points here
    char upstream_reason[160];  //  and policy.upstream_reason here
    wa_clockwatch_t clock;      //  the reactor's, as it was (a copy)
    wa_usec_t clock_threshold;  //  what counts as a step
    //  out
    reshard_step_t reshard;     //  what the run did to a change of the shard count
    wa_clockread_t reading;
    bool clock_ignored;         //  a verdict by the database's clock was set aside
    int promotions;
    promotion_t promoted[MASTER_MAX_SHARDS];
    int unserved;               //  shards needing a primary with no candidate
    uint32_t limited;           //  shards that needed a promotion but are blocked
    //  Maintenance mode (wactl pause), read by every run (rc 0): whether
    //  the cluster is paused and who paused, why (the rebalancing asks it
    //  too); the shards that needed a promotion and got none (node 0;
    //  previous is the holder, reason the verdict).
    bool cluster_paused;
    int npaused;
    promotion_t paused[MASTER_MAX_SHARDS];
    char paused_by[65];
    char pause_reason[256];
    int shards;
    uint64_t holders[MASTER_MAX_SHARDS];    //  node per shard (0: none) after the run
    uint64_t epochs[MASTER_MAX_SHARDS];     //  and its shard lease's epoch
    int ncoreapps;
    uint64_t coreapps[MASTER_MAX_NODES];    //  Coreapps alive by their liveness claim
} monitor_job_t;

typedef struct {
    uint64_t node;
    char state[16];
    int64_t age_ms;
    int votes;
    int observers;
} health_row_t;

typedef struct {
    wa_job_t job;
    int count;
    health_row_t rows[MASTER_MAX_NODES];
} health_job_t;

typedef struct {
    wa_job_t job;
    uint64_t node;
    uint64_t epoch;
} release_job_t;

//  The Coreapps' bus keys (node_keys): whose key may speak for which node.
typedef struct {
    uint64_t node;
    char key[41];               //  "" when the node stored none
} node_key_t;

typedef struct {
    wa_job_t job;
    //  out
    int count;
    node_key_t keys[MASTER_MAX_NODES];
} keys_job_t;

void master_bootstrap_run (wa_job_t *job, wa_db_t *db);
void master_lease_run (wa_job_t *job, wa_db_t *db);
void master_migrate_run (wa_job_t *job, wa_db_t *db);
void master_monitor_run (wa_job_t *job, wa_db_t *db);
void master_release_run (wa_job_t *job, wa_db_t *db);
void master_health_run (wa_job_t *job, wa_db_t *db);
void master_keys_run (wa_job_t *job, wa_db_t *db);

#endif
