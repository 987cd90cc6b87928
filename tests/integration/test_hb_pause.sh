#!/usr/bin/env bash
# SIGSTOP the primary Coreapp for less than unhealthy_interval: no promotion,
# its session goes on (shard lease longer than the pause), 0 overlaps.
. "$(dirname "$0")/lib.sh"
cluster_init heartbeat_interval=0.2 unhealthy_interval=3 shard_lease_ttl=4 db_liveness_interval=20 \
    upstream_idle_timeout=3 upstream_ping_interval=0.5
standard_cluster
core=$(primary_coreapp); epoch=$(shard_epoch)
hb_healthy() { [ "$(q "SELECT COUNT(*) FROM node_health WHERE node_id = $core AND state = 'healthy'")" = 1 ]; }
wait_for 10 hb_healthy || fail "the primary Master never saw the primary Coreapp healthy by heartbeats"
pid=$(node_pid "$core")
kill -STOP "$pid"
# Paused for 1.5 s (by the database's clock): late, not unhealthy.
until_db=$(q "SELECT NOW(6) + INTERVAL 1500000 MICROSECOND")
late() { [ "$(q "SELECT COUNT(*) FROM node_health WHERE node_id = $core AND state = 'late'")" = 1 ]; }
wait_for 5 late || { kill -CONT "$pid"; fail "the paused Coreapp was never seen late"; }
wait_for 5 db_clock_past "$until_db"
kill -CONT "$pid"
# Then watch for three more unhealthy_intervals.
until_db=$(q "SELECT NOW(6) + INTERVAL 9 SECOND")
wait_for 15 db_clock_past "$until_db"
check "no promotion (epoch $epoch -> $(shard_epoch))" [ "$(shard_epoch)" = "$epoch" ]
check "the same Coreapp holds the shard" [ "$(primary_coreapp)" = "$core" ]
check "its session is still open at wagate" [ "$(gate_open_node)" = "$core" ]
check "healthy again by heartbeats" hb_healthy
check "0 overlaps at wagate" overlaps_zero
note "coreapp $core paused 1.5 s (< unhealthy_interval 3 s): seen late, not replaced"
