#!/usr/bin/env bash
# SIGSTOP the primary Master past its ttl, then SIGCONT: it performs no
# primary action (no promotion, no write as primary) until it holds the lease again.
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
old=$(primary_master); pid=$(node_pid "$old")
kill -STOP "$pid"
wait_for 8 lease_taken_from "$old" \
    || fail "no takeover while the primary Master was stopped"
new=$(primary_master)
# While the old one sleeps, make work for a primary: kill the primary Coreapp.
core=$(primary_coreapp); kill -KILL "$(node_pid "$core")"
resumed_at=$(q "SELECT NOW(6)")
kill -CONT "$pid"
# The old Master must notice it lost the lease (its log says so) ...
wait_for 10 grep -q "stepping down as primary Master" "$T/m1.log" "$T/m2.log" \
    || fail "the resumed Master never stepped down"
replaced() { local n; n=$(primary_coreapp); [ -n "$n" ] && [ "$n" != "$core" ]; }
wait_for 20 replaced || fail "the killed Coreapp was not replaced"
wait_healthy 20
# ... and never have promoted anything or written as primary after resuming.
check "no promotion by the paused Master after it resumed" \
    [ "$(q "SELECT COUNT(*) FROM shard_map WHERE promoted_by = $old AND promoted_at >= '$resumed_at'")" = 0 ]
check "no 'promoted' event by the paused Master after it resumed" \
    [ "$(q "SELECT COUNT(*) FROM events WHERE node_id = $old AND kind IN ('promoted','lease_acquired') AND at >= '$resumed_at'")" = 0 ]
check "the new Master holds the lease" [ "$(primary_master)" = "$new" ]
check "the replacement Coreapp was promoted by the new Master" \
    [ "$(q "SELECT promoted_by FROM shard_map WHERE shard = 0")" = "$new" ]
check "0 overlaps at wagate" overlaps_zero
note "master $old paused past its ttl; $new took over and promoted; $old did nothing after resuming"
