#!/usr/bin/env bash
# watap --json, following the cluster through the database, shows the
# promotion after a Coreapp is killed, the socket events of the killed node,
# and the lease change after the primary Master is killed.
. "$(dirname "$0")/lib.sh"
cluster_init heartbeat_interval=0.2 unhealthy_interval=1
standard_cluster
"$BIN/watap" -c "$CONF" --json --timeout 60 > "$T/tap.jsonl" 2> "$T/tap.err" &
PIDS+=($!)
tap_has() { tr -d ' ' < "$T/tap.jsonl" | grep -q "$1"; }
# Following every node: heartbeats of both Masters arrive.
wait_for 15 tap_has '"kind":"heartbeat_summary"' || fail "watap shows no heartbeats: $(cat "$T/tap.err")"
core=$(primary_coreapp); master=$(primary_master)
kill -KILL "$(node_pid "$core")"
wait_for 20 tap_has "\"kind\":\"promoted\"" || fail "watap did not show the promotion"
check "the promotion names the shard's new primary" tap_has "\"kind\":\"promoted\",\"shard\":0"
check "a Master's socket saw the killed Coreapp disconnect" tap_has '"kind":"socket".*DISCONNECTED'
kill -KILL "$(node_pid "$master")"
wait_for 20 tap_has '"kind":"lease_acquired"' || fail "watap did not show the lease change"
check "every line is JSON with at, node and kind" bash -c "! grep -v '^{\"at\":' '$T/tap.jsonl' | grep -q ."
check "0 overlaps at wagate" overlaps_zero
note "watap showed the promotion, the socket events and the lease change ($(wc -l < "$T/tap.jsonl") lines)"
