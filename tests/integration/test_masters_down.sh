#!/usr/bin/env bash
# kill -9 both Masters: the primary Coreapp keeps its session (the Masters
# are not needed to keep a shard lease, only to hand one out).
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
core=$(primary_coreapp)
session=$("$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"session":[0-9]*' | cut -d: -f2)
kill -KILL "$PID_m1" "$PID_m2"
# Wait out several shard lease lengths (2 s each): the lease is renewed by
# the Coreapp itself. Waiting on the database clock, not on sleep.
until_db=$(q "SELECT NOW(6) + INTERVAL 7 SECOND")
wait_for 12 db_clock_past "$until_db" || fail "the database clock did not advance"
now_session=$("$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"session":[0-9]*' | cut -d: -f2)
check "the same upstream session is still open ($session -> $now_session)" [ "$now_session" = "$session" ]
check "the primary Coreapp still holds a valid shard lease" [ "$(primary_coreapp)" = "$core" ]
check "no demotion happened" [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'demoted'")" = 0 ]
check "0 overlaps at wagate" overlaps_zero
note "both Masters killed; coreapp $core kept session $session for 7 s"
