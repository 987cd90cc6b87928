#!/usr/bin/env bash
# Maintenance mode on two shards: while the cluster is paused (wactl pause)
# a planned switchover still runs, but nothing moves a primary by itself:
# the rebalancing does not undo the 2 + 0 the switchover left (the primary
# Master records rebalance_paused once), and a primary Coreapp killed with
# -9 is not replaced (failover_paused once per shard); wactl status and
# /metrics show the pause. wactl resume lets the next check promote a
# secondary for both shards, and a Coreapp started after it gets one back
# by the rebalancing. Both are audited with who and why, and said, not
# done, a second time; bad arguments are refused.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 shards=2 heartbeat_interval=0.2 unhealthy_interval=2
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
wactl() { "$BIN/wactl" -c "$CONF" "$@"; }
metric() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/metrics" | grep "^$1 " | awk '{ print $2 }'
}
events_of() { q "SELECT COUNT(*) FROM events WHERE kind = '$1'"; }
paused_json() { wactl status --json | jq -c .paused; }
# Each shard's holder and epoch ("0:NODE:EPOCH 1:NODE:EPOCH"), a lapsed lease as node 0.
shard_map() {
    q "SELECT GROUP_CONCAT(CONCAT(shard, ':', IF(expires_at > NOW(6), node_id, 0), ':', epoch)
       ORDER BY shard SEPARATOR ' ') FROM shard_map"
}
held_by() { q "SELECT COUNT(*) FROM shard_map WHERE node_id = $1 AND expires_at > NOW(6)"; }
# The shards' open sessions at wagate, "shard:session:node" by shard.
open_sessions() {
    "$BIN/wagate" -c "$CONF" stats --json \
        | jq -r '[.accounts[] | select(.open != null) | "\(.shard):\(.open.session):\(.open.node)"] | sort | join(" ")'
}
# Each shard open at wagate by NODE.
open_by() { [ "$(open_sessions | tr ' ' '\n' | grep -c ":$1\$")" = 2 ]; }
spread() { [ "$(q "SELECT COUNT(DISTINCT node_id) FROM shard_map WHERE expires_at > NOW(6)")" = 2 ]; }
rebalances() { q "SELECT COUNT(*) FROM events WHERE kind = 'switchover' AND detail LIKE 'rebalance asked %'"; }
wait_for 30 spread || fail "2 shards on 2 Coreapps are not 1 + 1: $(shard_map)"

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

note "a planned switchover still runs while paused, and the rebalancing does not undo it"
# Failovers before the pause (a loaded machine may have made one) are not this test's.
failovers() { q "SELECT COUNT(*) FROM failovers"; }
base=$(failovers)
from=$(q "SELECT node_id FROM shard_map WHERE shard = 0")
to=$(q "SELECT node_id FROM shard_map WHERE shard = 1")
# A switchover needs both Coreapps answering the primary Master's heartbeats.
heard() { [ "$(wactl status --json | jq '[.nodes[] | select(.kind == "coreapp" and .liveness.state == "healthy")] | length')" = 2 ]; }
wait_for 15 heard || fail "the primary Master does not see both Coreapps healthy: $(wactl status)"
# Rebalancings before the pause (a slow start may have needed one for the
# 1 + 1) are not this test's either.
rebalanced=$(rebalances)
out=$(wactl switchover --shard 0 --to "$to" 2>&1) || fail "wactl switchover while paused failed: $out"
both() { [ "$(held_by "$to")" = 2 ]; }
wait_for 10 both || fail "the switchover did not move shard 0 to coreapp $to while paused: $out; $(shard_map)"
check "a switchover is no failover" [ "$(failovers)" = "$base" ]
wait_for 10 open_by "$to" || fail "coreapp $to does not hold both sessions at wagate: $(open_sessions)"
# 2 + 0 with both Coreapps healthy is what the rebalancing evens out: the
# primary Master says what it would move, and moves nothing.
master=$(primary_master)
held_back() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'rebalance_paused' AND subject = $to")" -ge 1 ]; }
wait_for 15 held_back || fail "the primary Master did not record rebalance_paused: $(shard_map)"
check "the Master logs what it would have moved" \
    grep -q "paused: shard [01] would be moved from coreapp $to to coreapp $from to even out the primaries; no rebalancing until 'wactl resume' (paused by wactl@[^:]*: $REASON)" "$T/m1.log" "$T/m2.log"
MAP=$(shard_map); SESSIONS=$(open_sessions)
# Two more renewals of the master lease, each followed by a check of the
# shards (and ten heartbeats, each a chance to rebalance): nothing moved.
until=$(q "SELECT expires_at + INTERVAL 0.6 SECOND FROM master_lease WHERE id = 1")
renewed() { [ "$(q "SELECT expires_at >= '$until' FROM master_lease WHERE id = 1 AND holder = $master")" = 1 ]; }
wait_for 10 renewed || fail "the primary Master did not renew its lease twice"
check "coreapp $to still holds both shards, at the same epochs ($MAP, now $(shard_map))" [ "$(shard_map)" = "$MAP" ]
check "the same sessions at wagate ($SESSIONS, now $(open_sessions))" [ "$(open_sessions)" = "$SESSIONS" ]
check "no switchover asked by the rebalancing ($rebalanced before, now $(rebalances))" [ "$(rebalances)" = "$rebalanced" ]
check "rebalance_paused once for the pause ($(events_of rebalance_paused))" [ "$(events_of rebalance_paused)" = 1 ]

note "kill -9 the primary Coreapp of both shards while paused: not replaced"
old=$to
MAP=$(shard_map)
kill -KILL "$(node_pid "$old")"
told() { [ "$(q "SELECT COUNT(DISTINCT shard) FROM events WHERE kind = 'failover_paused' AND subject = $old")" = 2 ]; }
wait_for 20 told || fail "the primary Master did not record failover_paused for both shards: $(q "SELECT shard, detail FROM events WHERE kind = 'failover_paused'")"
check "the Master logs what it would have done" \
    grep -q "paused: shard 0 would be replaced (.*); no failover until 'wactl resume' (paused by wactl@[^:]*: $REASON)" "$T/m1.log" "$T/m2.log"
# The first verdict may come from the heartbeats; then the shard leases expire.
no_primary() { [ "$(q "SELECT COUNT(*) FROM shard_map WHERE expires_at > NOW(6)")" = 0 ]; }
wait_for 10 no_primary || fail "the killed Coreapp's shard leases did not expire: $(shard_map)"
until=$(q "SELECT expires_at + INTERVAL 0.6 SECOND FROM master_lease WHERE id = 1")
wait_for 10 renewed || fail "the primary Master did not renew its lease twice"
check "no promotion while paused (was $MAP, now $(shard_map))" [ "$(shard_map)" = "${MAP//:$old:/:0:}" ]
check "failover_paused once per shard for the episode ($(events_of failover_paused))" [ "$(events_of failover_paused)" = 2 ]
check "no failover recorded while paused" [ "$(failovers)" = "$base" ]
check "no switchover asked by the rebalancing" [ "$(rebalances)" = "$rebalanced" ]
check "/metrics: still wacluster_paused 1" [ "$(metric wacluster_paused)" = 1 ]

note "resume: the other Coreapp is promoted for both shards"
out=$(wactl resume) || fail "wactl resume failed: $out"
check "resume says who, and the pause it ended ($out)" grep -q "^resumed by wactl@.* (paused by wactl@[^:]*: $REASON)" <<<"$out"
t0=$(now_ms)
wait_for 15 open_by "$from" || fail "coreapp $from did not log in upstream for both shards within 15 s of the resume: $(open_sessions)"
check "coreapp $from holds both shards ($(shard_map))" [ "$(held_by "$from")" = 2 ]
promoted_ms=$(( $(now_ms) - t0 ))
check "one promotion per shard (was $MAP, now $(shard_map))" \
    [ "$(q "SELECT GROUP_CONCAT(epoch ORDER BY shard SEPARATOR ' ') FROM shard_map")" = \
      "$(tr ' ' '\n' <<<"$MAP" | awk -F: '{ print $3 + 1 }' | paste -sd' ')" ]
check "the failovers are recorded for the rate limit" [ "$(failovers)" = $((base + 2)) ]
check "with the Coreapps and the Master" \
    [ "$(q "SELECT GROUP_CONCAT(f ORDER BY shard) FROM (SELECT shard,
           CONCAT(shard, ' ', node_id, ' ', prev_node, ' ', promoted_by) f FROM failovers ORDER BY id DESC LIMIT 2) x")" \
      = "0 $from $old $master,1 $from $old $master" ]
check "wactl status --json: paused is null again" [ "$(paused_json)" = null ]
check "/metrics: wacluster_paused 0 again" [ "$(metric wacluster_paused)" = 0 ]
out=$(wactl resume) || fail "a second wactl resume failed: $out"
check "a second resume says not paused ($out)" grep -q "^not paused; nothing changed" <<<"$out"

note "resumed: a Coreapp that starts gets a shard back by the rebalancing"
start c3 wacore
wait_for 30 spread || fail "not rebalanced after the resume: $(shard_map)"
check "moved by a switchover the rebalancing asked for ($rebalanced before, now $(rebalances))" [ "$(rebalances)" -gt "$rebalanced" ]
check "no failover for it" [ "$(failovers)" = $((base + 2)) ]
balanced() { [ "$(open_sessions | wc -w)" = 2 ] && ! open_by "$from"; }
wait_for 15 balanced || fail "wagate does not have the shards' sessions on two Coreapps: $(open_sessions)"

note "the audit log: paused and resumed, once each, by whom"
check "one paused, one resumed" [ "$(events_of paused) $(events_of resumed)" = "1 1" ]
check "paused: who and why" [ "$(q "SELECT CONCAT(node_id, ' ', detail LIKE 'paused by wactl@%: $REASON') FROM events WHERE kind = 'paused'")" = "0 1" ]
check "resumed: who" [ "$(q "SELECT CONCAT(node_id, ' ', detail LIKE 'resumed by wactl@% after % (paused by wactl@%: $REASON)') FROM events WHERE kind = 'resumed'")" = "0 1" ]
out=$(wactl events)
grep -q " paused  *- .*paused by wactl@" <<<"$out" && grep -q " resumed  *- .*resumed by wactl@" <<<"$out" \
    || fail "wactl events does not list them: $out"
check "0 overlaps at wagate" overlaps_zero
note "paused: rebalance_paused once, nothing moved; coreapp $old killed: failover_paused once per shard, no promotion; coreapp $from promoted for both $promoted_ms ms after the resume, a shard rebalanced to the new Coreapp"
