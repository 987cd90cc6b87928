#!/usr/bin/env bash
# Two ways the heartbeat rule must NOT replace a healthy primary:
#  1. Coreapps that join Masters running for longer than unhealthy_interval
#     are not "silent since the Master started": the first primary stays.
#  2. A primary that was unhealthy while no candidate existed, and answers
#     again, is not replaced when a candidate shows up later.
. "$(dirname "$0")/lib.sh"
cluster_init heartbeat_interval=0.2 unhealthy_interval=1 shard_lease_ttl=4 db_liveness_interval=20 \
    upstream_idle_timeout=3 upstream_ping_interval=0.5
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster; start m2 wamaster
masters_up() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'master'" 2>/dev/null)" = 2 ]; }
wait_for 15 masters_up || fail "the Masters did not register"
# Masters watching for 3 × unhealthy_interval before any Coreapp exists.
until_db=$(q "SELECT NOW(6) + INTERVAL 3 SECOND"); wait_for 10 db_clock_past "$until_db"
start c1 wacore; start c2 wacore
wait_healthy 20
until_db=$(q "SELECT NOW(6) + INTERVAL 3 SECOND"); wait_for 10 db_clock_past "$until_db"
check "one promotion only: the first ($(q "SELECT GROUP_CONCAT(detail SEPARATOR ' | ') FROM events WHERE kind = 'promoted'"))" \
    [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'promoted'")" = 1 ]

primary=$(primary_coreapp); epoch=$(shard_epoch)
other=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND id <> $primary")
kill -STOP "$(node_pid "$other")"                  # no candidate
kill -STOP "$(node_pid "$primary")"
unhealthy() { [ "$(q "SELECT state FROM node_health WHERE node_id = $primary")" = unhealthy ]; }
wait_for 10 unhealthy || { kill -CONT "$(node_pid "$primary")" "$(node_pid "$other")"; fail "the paused primary was never unhealthy"; }
kill -CONT "$(node_pid "$primary")"               # back well within its 4 s lease
healthy() { [ "$(q "SELECT state FROM node_health WHERE node_id = $primary")" = healthy ]; }
wait_for 10 healthy || { kill -CONT "$(node_pid "$other")"; fail "the primary did not become healthy again"; }
kill -CONT "$(node_pid "$other")"                 # a candidate again
other_healthy() { [ "$(q "SELECT state FROM node_health WHERE node_id = $other")" = healthy ]; }
wait_for 10 other_healthy || fail "the other Coreapp did not come back"
until_db=$(q "SELECT NOW(6) + INTERVAL 3 SECOND"); wait_for 10 db_clock_past "$until_db"
check "the recovered primary was not replaced (epoch $epoch -> $(shard_epoch))" [ "$(shard_epoch)" = "$epoch" ]
check "it still holds its session" [ "$(gate_open_node)" = "$primary" ]
check "0 overlaps at wagate" overlaps_zero
note "late-joining Coreapps kept their primary; a recovered primary was not replaced"
