#!/usr/bin/env bash
# Heartbeat-based monitoring: kill -9 the primary Coreapp and it is replaced
# by the heartbeat rule, within unhealthy_interval + heartbeat_interval +
# the shard lease + slack, long before DB-based monitoring would notice;
# 0 overlaps.
. "$(dirname "$0")/lib.sh"
# A liveness claim every 20 s: DB-based monitoring would need 40 s.
cluster_init heartbeat_interval=0.2 unhealthy_interval=1 shard_lease_ttl=3 db_liveness_interval=20
standard_cluster
old=$(primary_coreapp); epoch=$(shard_epoch)
# Both Masters must hear the Coreapps before the kill, or nobody can vote.
hb_healthy() { [ "$(q "SELECT COUNT(*) FROM node_health WHERE node_id = $old AND state = 'healthy'")" = 1 ]; }
wait_for 10 hb_healthy || fail "the primary Master never saw the primary Coreapp healthy by heartbeats"
kill -KILL "$(node_pid "$old")"
t0=$(now_ms)
wait_for 15 gate_open_other "$old" || fail "no other Coreapp logged in upstream within 15 s"
took=$(( $(now_ms) - t0 ))
check "promoted by the heartbeat rule ($(q "SELECT detail FROM events WHERE kind = 'promoted' ORDER BY id DESC LIMIT 1"))" \
    [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'promoted' AND epoch = $((epoch + 1)) AND detail LIKE '%no heartbeat reply%'")" = 1 ]
# unhealthy 1 s + heartbeat 0.2 s + shard lease 3 s + idle 0.6 s, and 2 s of slack.
check "replaced within unhealthy + heartbeat + lease + slack (took ${took} ms)" [ "$took" -le 6800 ]
check "0 overlaps at wagate" overlaps_zero
note "coreapp $old killed; replaced by heartbeats, new login after ${took} ms"
