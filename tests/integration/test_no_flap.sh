#!/usr/bin/env bash
# No flapping: a Coreapp just replaced as primary is not promoted again
# within promotion_holdoff, and failovers beyond failover_limit within
# failover_window are held back and logged as rate-limited.
. "$(dirname "$0")/lib.sh"
cluster_init heartbeat_interval=0.2 unhealthy_interval=1 promotion_holdoff=6 failover_limit=2 failover_window=120
standard_cluster                                   # the first promotion: no failover
a=$(primary_coreapp); pid_a=$(node_pid "$a")
kill -STOP "$pid_a"
wait_for 15 gate_open_other "$a" || fail "no takeover while the primary was stopped"
b=$(primary_coreapp)                               # failover 1
kill -CONT "$pid_a"
demoted() { [ "$(q "SELECT COUNT(*) FROM node_health WHERE node_id = $a AND demoted_at IS NOT NULL")" = 1 ]; }
wait_for 5 demoted || fail "no hold-off recorded for the replaced Coreapp $a"
# Its only rival dies: the one left is in its hold-off.
kill -KILL "$(node_pid "$b")"
promoted_a() { [ "$(primary_coreapp)" = "$a" ]; }
wait_for 20 promoted_a || fail "coreapp $a was never promoted again"   # failover 2
gap=$(q "SELECT TIMESTAMPDIFF(MICROSECOND, h.demoted_at, s.promoted_at) / 1e6 FROM shard_map s, node_health h WHERE s.shard = 0 AND h.node_id = $a")
check "promoted again only after the 6 s hold-off (after ${gap} s)" awk "BEGIN { exit !($gap >= 5.9) }"
check "the Master said it had no candidate meanwhile" grep -q "no healthy secondary is available" "$T/m1.log" "$T/m2.log"
# A third failover within the window is held back.
epoch=$(shard_epoch)
kill -STOP "$pid_a"
limited() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'failover_rate_limited'")" -ge 1 ]; }
start c3 wacore
wait_for 20 limited || { kill -CONT "$pid_a"; fail "the third failover was not rate-limited"; }
check "no promotion past the limit" [ "$(shard_epoch)" = "$epoch" ]
kill -CONT "$pid_a"
check "0 overlaps at wagate" overlaps_zero
note "hold-off kept $a out for ${gap} s; the 3rd failover within the window was rate-limited"
