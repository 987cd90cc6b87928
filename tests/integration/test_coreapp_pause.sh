#!/usr/bin/env bash
# SIGSTOP the primary Coreapp past its shard lease, then SIGCONT: the other
# one takes over, and the resumed one closes its session without overlap.
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
old=$(primary_coreapp); pid=$(node_pid "$old")
kill -STOP "$pid"
wait_for 15 gate_open_other "$old" \
    || fail "no other Coreapp logged in upstream while the primary was stopped"
new=$(gate_open_node)
kill -CONT "$pid"
wait_for 10 grep -q "is no longer primary for shard 0" "$T/c1.log" "$T/c2.log" \
    || fail "the resumed Coreapp did not give up the shard"
# Give the resumed one time to do anything wrong: several ping intervals.
demoted() { [ "$(q "SELECT COUNT(*) FROM events WHERE node_id = $old AND kind = 'demoted'")" -ge 1 ]; }
wait_for 5 demoted \
    || fail "no demotion recorded for the resumed Coreapp"
check "the session open at wagate is still the new primary's" [ "$(gate_open_node)" = "$new" ]
check "the shard map names the new primary" [ "$(primary_coreapp)" = "$new" ]
check "0 overlaps at wagate" overlaps_zero
note "coreapp $old paused past its lease; $new took over; $old resumed and stepped down; 0 overlaps"
