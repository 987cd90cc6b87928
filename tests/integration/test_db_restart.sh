#!/usr/bin/env bash
# lane: alone
# Restart MariaDB under a running cluster: it recovers with exactly one
# primary Master and one primary Coreapp, and no overlap at any moment.
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
db_stop
check "the database is down" db_down
# Stay down longer than the shard lease: every holder must drop its session.
wait_for 10 gate_open_count 0 \
    || fail "the primary Coreapp kept its session with the database down past its lease"
db_start "$WA_TEST_DB_PORT" || fail "the database did not come back"
wait_healthy 40
check "exactly one primary Master" [ "$(q "SELECT COUNT(*) FROM master_lease WHERE expires_at > NOW(6)")" = 1 ]
check "exactly one primary Coreapp" [ "$(q "SELECT COUNT(*) FROM shard_map WHERE expires_at > NOW(6)")" = 1 ]
check "wagate has exactly one session open" [ "$(gate_stat open)" = 1 ]
check "0 overlaps at wagate" overlaps_zero
note "database restarted; one primary Master ($(primary_master)), one primary Coreapp ($(primary_coreapp)), 0 overlaps"
