#!/usr/bin/env bash
# Maintenance mode: while the cluster is paused (wactl pause) a planned
# switchover still runs, but a primary Coreapp killed with -9 is not
# replaced: the primary Master records failover_paused once, wactl status
# and /metrics show the pause. wactl
# resume lets the next check promote a secondary. Both are audited with who
# and why, and said, not done, a second time; bad arguments are refused.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
wactl() { "$BIN/wactl" -c "$CONF" "$@"; }
metric() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/metrics" | grep "^$1 " | awk '{ print $2 }'
}
events_of() { q "SELECT COUNT(*) FROM events WHERE kind = '$1'"; }
paused_json() { wactl status --json | jq -c .paused; }

note "bad arguments: exit 2 with the reason, nothing changed"
# usage WHAT TEXT ARGS...: wactl ARGS exits 2 and says TEXT.
usage() {
    local what=$1 want=$2 out rc=0; shift 2
    out=$(wactl "$@" 2>&1) || rc=$?
    [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2: $out"
    grep -qF -- "$want" <<<"$out" || fail "$what: '$out' does not say '$want'"
}
usage "--reason without its text" "option '--reason' needs a value" pause --reason
usage "an argument" "unexpected argument 'now'" pause now
usage "an unknown option" "unknown option '--force'" pause --force
usage "resume takes no reason" "unknown option '--reason'" resume --reason x
usage "a reason too long" "the reason is longer than 255 characters" pause --reason "$(printf 'x%.0s' $(seq 256))"
usage "a control character" "the reason has a control character" pause --reason $'two\nlines'
check "nothing paused by a refused command" [ "$(q "SELECT paused_at IS NULL FROM cluster_info")" = 1 ]
check "nothing audited for a refused command" [ "$(events_of paused)" = 0 ]

note "not paused: resume says so; status and /metrics say not paused"
out=$(wactl resume) || fail "wactl resume when not paused failed: $out"
check "resume when not paused says so ($out)" grep -q "^not paused; nothing changed" <<<"$out"
check "nothing audited for it" [ "$(events_of resumed)" = 0 ]
check "wactl status: not paused" bash -c "'$BIN/wactl' -c '$CONF' status | grep -q '^automatic failover: on (not paused)'"
check "wactl status --json: paused is null" [ "$(paused_json)" = null ]
check "/metrics: wacluster_paused 0" [ "$(metric wacluster_paused)" = 0 ]

note "pause, twice"
REASON="kernel upgrade on db1"
out=$(wactl pause --reason "$REASON") || fail "wactl pause failed: $out"
check "pause says who ($out)" grep -q "^paused by wactl@" <<<"$out"
out=$(wactl pause --reason other) || fail "wactl pause when paused failed: $out"
check "a second pause says it is paused already ($out)" \
    grep -q "^already paused since .* by wactl@[^:]*: $REASON; nothing changed" <<<"$out"
check "one audit row for two pauses" [ "$(events_of paused)" = 1 ]
check "the second pause changed nothing" [ "$(q "SELECT pause_reason FROM cluster_info")" = "$REASON" ]
json=$(paused_json)
check "wactl status --json: who and why ($json)" \
    [ "$(jq -r '"\(.by | startswith("wactl@")) \(.reason) \(.at | test("^[0-9-]{10}T"))"' <<<"$json")" = "true $REASON true" ]
out=$(wactl status)
check "wactl status: PAUSED with who ($out)" grep -q "^PAUSED since .* UTC by wactl@[^:]*: no automatic failover until 'wactl resume'$" <<<"$out"
check "wactl status: and why ($out)" grep -q "^reason: $REASON$" <<<"$out"
check "/metrics: wacluster_paused 1" [ "$(metric wacluster_paused)" = 1 ]

note "a planned switchover still runs while paused"
# Failovers before the pause (a loaded machine may have made one) are not this test's.
failovers() { q "SELECT COUNT(*) FROM failovers"; }
base=$(failovers)
from=$(primary_coreapp)
# A switchover needs both Coreapps answering the primary Master's heartbeats.
heard() { [ "$(wactl status --json | jq '[.nodes[] | select(.kind == "coreapp" and .liveness.state == "healthy")] | length')" = 2 ]; }
wait_for 15 heard || fail "the primary Master does not see both Coreapps healthy: $(wactl status)"
out=$(wactl switchover --shard 0 2>&1) || fail "wactl switchover while paused failed: $out"
moved() { local p; p=$(primary_coreapp); [ -n "$p" ] && [ "$p" != "$from" ]; }
wait_for 10 moved || fail "the switchover did not move shard 0 while paused: $out"
check "a switchover is no failover" [ "$(failovers)" = "$base" ]
wait_for 10 gate_open_other "$from" || fail "the new primary did not log in upstream after the switchover"

note "kill -9 the primary Coreapp while paused: not replaced"
old=$(primary_coreapp); epoch=$(shard_epoch)
master=$(primary_master)
kill -KILL "$(node_pid "$old")"
told() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'failover_paused' AND shard = 0 AND subject = $old")" -ge 1 ]; }
wait_for 20 told || fail "the primary Master did not record failover_paused for shard 0"
check "no promotion while paused (epoch $epoch, now $(shard_epoch))" [ "$(shard_epoch)" = "$epoch" ]
check "the Master logs what it would have done" \
    grep -q "paused: shard 0 would be replaced (.*); no failover until 'wactl resume' (paused by wactl@[^:]*: $REASON)" "$T/m1.log" "$T/m2.log"
# The first verdict may come from the silent liveness claims; then its lease expires.
no_primary() { [ -z "$(primary_coreapp)" ]; }
wait_for 10 no_primary || fail "the killed Coreapp's shard lease did not expire"
# Two more renewals of the master lease, each followed by a check of the
# shards: still not promoted, and told only once.
until=$(q "SELECT expires_at + INTERVAL 0.6 SECOND FROM master_lease WHERE id = 1")
renewed() { [ "$(q "SELECT expires_at >= '$until' FROM master_lease WHERE id = 1 AND holder = $master")" = 1 ]; }
wait_for 10 renewed || fail "the primary Master did not renew its lease twice"
check "still no promotion while paused" [ "$(shard_epoch)" = "$epoch" ]
check "failover_paused once for the episode ($(events_of failover_paused))" [ "$(events_of failover_paused)" = 1 ]
check "no failover recorded while paused" [ "$(failovers)" = "$base" ]
check "/metrics: still wacluster_paused 1" [ "$(metric wacluster_paused)" = 1 ]

note "resume: a secondary is promoted"
out=$(wactl resume) || fail "wactl resume failed: $out"
check "resume says who, and the pause it ended ($out)" grep -q "^resumed by wactl@.* (paused by wactl@[^:]*: $REASON)" <<<"$out"
t0=$(now_ms)
wait_for 15 gate_open_other "$old" || fail "no other Coreapp logged in upstream within 15 s of the resume"
new=$(primary_coreapp)
check "the new primary is another Coreapp ($new)" [ -n "$new" ]
check "the new primary is not the one killed" [ "$new" != "$old" ]
check "one promotion ($epoch -> $(shard_epoch))" [ "$(shard_epoch)" = $((epoch + 1)) ]
check "the failover is recorded for the rate limit" [ "$(failovers)" = $((base + 1)) ]
check "with the Coreapps and the Master" \
    [ "$(q "SELECT CONCAT(shard, ' ', node_id, ' ', prev_node, ' ', promoted_by) FROM failovers ORDER BY id DESC LIMIT 1")" = "0 $new $old $master" ]
check "wactl status --json: paused is null again" [ "$(paused_json)" = null ]
check "/metrics: wacluster_paused 0 again" [ "$(metric wacluster_paused)" = 0 ]
out=$(wactl resume) || fail "a second wactl resume failed: $out"
check "a second resume says not paused ($out)" grep -q "^not paused; nothing changed" <<<"$out"

note "the audit log: paused and resumed, once each, by whom"
check "one paused, one resumed" [ "$(events_of paused) $(events_of resumed)" = "1 1" ]
check "paused: who and why" [ "$(q "SELECT CONCAT(node_id, ' ', detail LIKE 'paused by wactl@%: $REASON') FROM events WHERE kind = 'paused'")" = "0 1" ]
check "resumed: who" [ "$(q "SELECT CONCAT(node_id, ' ', detail LIKE 'resumed by wactl@% after % (paused by wactl@%: $REASON)') FROM events WHERE kind = 'resumed'")" = "0 1" ]
out=$(wactl events)
grep -q " paused  *- .*paused by wactl@" <<<"$out" && grep -q " resumed  *- .*resumed by wactl@" <<<"$out" \
    || fail "wactl events does not list them: $out"
check "0 overlaps at wagate" overlaps_zero
note "coreapp $old killed while paused: failover_paused once, no promotion; $new promoted $(( $(now_ms) - t0 )) ms after the resume"
