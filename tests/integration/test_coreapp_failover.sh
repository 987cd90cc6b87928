#!/usr/bin/env bash
# kill -9 the primary Coreapp: the other one becomes primary and logs in upstream.
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
old=$(primary_coreapp); epoch=$(shard_epoch)
check "wagate has the primary's session open" [ "$(gate_open_node)" = "$old" ]
kill -KILL "$(node_pid "$old")"
t0=$(now_ms)
wait_for 15 gate_open_other "$old" \
    || fail "no other Coreapp logged in upstream within 15 s"
took=$(( $(now_ms) - t0 ))
new=$(primary_coreapp)
check "the new primary is the other Coreapp" [ -n "$new" ] && [ "$new" != "$old" ]
check "wagate's open session is the new primary's" [ "$(gate_open_node)" = "$new" ]
check "the shard epoch grew ($epoch -> $(shard_epoch))" [ "$(shard_epoch)" -gt "$epoch" ]
check "0 overlaps at wagate" overlaps_zero
check "no stale-epoch login was needed" [ "$(gate_stat refused_stale_epoch)" = 0 ]
note "coreapp $old killed; $new logged in upstream after ${took} ms"
