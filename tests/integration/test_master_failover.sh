#!/usr/bin/env bash
# kill -9 the primary Master: a secondary holds the lease within
# ttl + one renew interval (+ slack), with the epoch one higher.
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
old=$(primary_master); epoch=$(lease_epoch)
pid=$(node_pid "$old")
kill -KILL "$pid"
t0=$(now_ms)
# ttl 2 s + renew 0.25 s; a generous slack for a loaded machine.
wait_for 6 lease_taken_from "$old" \
    || fail "no other Master took the lease within 6 s"
took=$(( $(now_ms) - t0 ))
new=$(primary_master); new_epoch=$(lease_epoch)
check "epoch grows by one on takeover ($epoch -> $new_epoch)" [ "$new_epoch" -eq $((epoch + 1)) ]
check "takeover within ttl + renew + slack (took ${took} ms)" [ "$took" -le 4000 ]
takeover_logged() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'lease_acquired' AND node_id = $new AND epoch = $new_epoch")" = 1 ]; }
wait_for 5 takeover_logged || fail "the audit log does not record the takeover"
wait_healthy 10
check "0 overlaps at wagate" overlaps_zero
note "master $old killed; master $new took the lease at epoch $new_epoch after ${took} ms"
