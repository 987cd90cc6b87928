#!/usr/bin/env bash
# GET /v1/stats/app and /v1/stats/db keyed per node (an unreachable node's
# entry holds errors), and GET /metrics?format=prometheus: request counts
# and latency histograms, lease epochs, promotions, outbox depth, liveness
# and heartbeat ages, matching what the database says.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
node_id() { q "SELECT id FROM nodes WHERE pid = $1 AND stopped_at IS NULL"; }
M1=$(node_id "$PID_m1"); C1=$(node_id "$PID_c1"); C2=$(node_id "$PID_c2"); W1=$(node_id "$PID_w1")
for i in 1 2 3 4 5; do
    expect "send $i" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "{\"to\":\"1631555000$i\",\"text\":{\"body\":\"m$i\"}}"
done

note "stats/app: one entry per node, the Coreapp's outbox counters"
expect "stats app" 200 - "$WEB" GET /v1/stats/app "${AUTH[@]}"
for n in "$M1" "$C1" "$C2" "$W1"; do
    grep -q "\"127.0.0.1:$n\":{\"node\":$n," "$T/body" || fail "stats/app has no entry for node $n: $(body)"
done
P=$(primary_coreapp)
grep -o "\"127.0.0.1:$P\":{[^}]*\"outbox\":{[^}]*}" "$T/body" | grep -q '"accepted":5,' || fail "the primary's outbox counters: $(body)"
! grep -q '"db":' "$T/body" || fail "stats/app carries db stats: $(body)"

note "stats/db: each node's database client"
expect "stats db" 200 - "$WEB" GET /v1/stats/db "${AUTH[@]}"
for n in "$M1" "$C1" "$C2" "$W1"; do
    grep -q "\"127.0.0.1:$n\":{\"statements\":[1-9][0-9]*,\"statement_errors\":[0-9]*,\"connects\":[1-9]" "$T/body" \
        || fail "stats/db for node $n: $(body)"
done

note "a node that does not answer: an errors entry, the others still there"
# The secondary Coreapp: pausing the primary would (rightly) fail it over.
if [ "$P" = "$C1" ]; then S=$C2; SPID=$PID_c2; else S=$C1; SPID=$PID_c1; fi
kill -STOP "$SPID"
got=$(api "$WEB" GET /v1/stats/app "${AUTH[@]}")
kill -CONT "$SPID"
[ "$got" = 200 ] || fail "stats with a stopped node: HTTP $got: $(body)"
grep -q "\"127.0.0.1:$S\":{\"errors\":\[{\"code\":1011" "$T/body" || fail "no errors entry for the stopped node: $(body)"
grep -q "\"127.0.0.1:$P\":{\"node\":$P," "$T/body" || fail "the other nodes are missing: $(body)"

note "access: ADMIN only for stats; any token for metrics"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"viewer","password":"Viewer-Pass-1"}'
expect "USER login" 200 - "$WEB" POST /v1/users/login -u 'viewer:Viewer-Pass-1'
USER_TOKEN=$(token)
expect "USER stats" 403 1005 "$WEB" GET /v1/stats/app -H "Authorization: Bearer $USER_TOKEN"
expect "no token" 401 1005 "$WEB" GET /v1/stats/db
got=$(api "$WEB" GET /metrics)
[ "$got" = 401 ] || fail "metrics without a token: HTTP $got"
expect "metrics in another format" 400 1009 "$WEB" GET '/metrics?format=json' "${AUTH[@]}"

note "metrics"
got=$(curl -s -o "$T/metrics" -w '%{http_code} %{content_type}' "http://127.0.0.1:$WEB/metrics?format=prometheus" \
      -H "Authorization: Bearer $USER_TOKEN")
[ "$got" = "200 text/plain; version=0.0.4; charset=utf-8" ] || fail "metrics: $got"
metric() { grep "^$1 " "$T/metrics" | awk '{print $2}'; }
[ "$(metric 'wacluster_http_requests_total{route="messages",status="201"}')" = 5 ] || fail "request count: $(grep messages "$T/metrics" | head -3)"
[ "$(metric 'wacluster_http_request_duration_seconds_count{route="messages"}')" = 5 ] || fail "histogram count"
[ "$(metric 'wacluster_http_request_duration_seconds_bucket{route="messages",le="+Inf"}')" = 5 ] || fail "histogram +Inf"
[ "$(metric wacluster_master_lease_epoch)" = "$(lease_epoch)" ] || fail "master epoch $(metric wacluster_master_lease_epoch) vs $(lease_epoch)"
[ "$(metric wacluster_master_lease_holder)" = "$(primary_master)" ] || fail "master holder"
[ "$(metric 'wacluster_shard_lease_epoch{shard="0"}')" = "$(shard_epoch)" ] || fail "shard epoch"
[ "$(metric 'wacluster_shard_primary{shard="0"}')" = "$P" ] || fail "shard primary: $(metric 'wacluster_shard_primary{shard="0"}') vs $P, now $(primary_coreapp)"
[ "$(metric 'wacluster_promotions_total{shard="0"}')" = "$(shard_epoch)" ] \
    || fail "promotions $(metric 'wacluster_promotions_total{shard="0"}')"
[ "$(metric 'wacluster_outbox_pending{shard="0"}')" = "$(q "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")" ] || fail "outbox depth"
grep -q "^wacluster_node_liveness_age_seconds{node=\"$C1\",kind=\"coreapp\"} [0-9.]*$" "$T/metrics" || fail "liveness age"
grep -q '^wacluster_forward_attempts_total [5-9]' "$T/metrics" || fail "forward attempts"
# Every sample line is "name{labels} value" or "name value"; every family has HELP and TYPE.
bad=$(grep -v '^#' "$T/metrics" | grep -Ev '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$' || true)
[ -z "$bad" ] || fail "malformed sample lines: $bad"
for family in $(grep -v '^#' "$T/metrics" | sed 's/[{ ].*//; s/_bucket$//; s/_sum$//; s/_count$//' | sort -u); do
    grep -q "^# TYPE $family " "$T/metrics" || fail "no TYPE for $family"
done

note "after a failover the metrics count it"
kill -KILL "$(node_pid "$P")"
new_primary() { local n; n=$(primary_coreapp); [ -n "$n" ] && [ "$n" != "$P" ]; }
wait_for 20 new_primary || fail "no new primary"
curl -s -o "$T/metrics" "http://127.0.0.1:$WEB/metrics?format=prometheus" "${AUTH[@]}"
[ "$(metric 'wacluster_failovers_total{shard="0"}')" -ge 1 ] || fail "failovers: $(grep failovers "$T/metrics")"
note "stats per node with errors for the unreachable, metrics that match the database: as expected"
