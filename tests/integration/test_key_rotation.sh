#!/usr/bin/env bash
# Rotating every node's bus key on a running cluster, under a steady load,
# as docs/SECURITY.md ("Rotating a key without downtime") tells an operator:
# a new key made and trusted beside the old one, the node restarted on it
# (a primary Coreapp's shard moved away first with `wactl switchover`, a
# primary Master's lease taken by the other, already rotated, Master), the
# old key revoked. Every request is answered 201 and reaches wagate once, no
# two sessions overlap, no node's bus refused a key while both keys were
# trusted (read from the Webapp's /metrics, wacluster_bus_refused_total
# with reason unknown_key; no_curve also counts connections that are not
# ours: a process of another test still reconnecting to a port number the
# system gave us again);
# afterwards a revoked key is refused at the handshake and counted there.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 heartbeat_interval=0.2 unhealthy_interval=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

ctl() { "$BIN/wactl" -c "$CONF" "$@"; }
keys() { "$BIN/wactl" -c /dev/null keys --keys-dir "$T/keys/trusted" "$@"; }
public_key() { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$1"; }
key_of() { q "SELECT bus_key FROM node_keys WHERE node_id = $1"; }
id_of() { q "SELECT id FROM nodes WHERE pid = $(pid_of "$1") AND stopped_at IS NULL ORDER BY id DESC LIMIT 1"; }
name_of() {
    local pid name started; pid=$(node_pid "$1")
    for name in m1 m2 c1 c2; do
        eval "started=\${PID_$name:-}"
        [ "$started" = "$pid" ] && { echo "$name"; return; }
    done
    fail "no name for node $1 (pid $pid)"
}
liveness() { ctl status --json | jq -r ".nodes[] | select(.id == $1) | .liveness.state"; }
is_healthy() { [ "$(liveness "$1")" = healthy ]; }
metrics() { curl -s "http://127.0.0.1:$WEB/metrics" -H "Authorization: Bearer $TOKEN"; }
# The sum of wacluster_bus_refused_total over every node for REASON.
refused_total() {
    metrics | grep "^wacluster_bus_refused_total{.*reason=\"${1:-}" | awk '{ s += $2 } END { print s + 0 }'
}
refused_above() { [ "$(refused_total "$1")" -gt "$2" ]; }

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 300 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!
PIDS+=($LOAD)
at_least() { local n; n=$(gate_stat messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 at_least 200 || fail "the load did not get going: $(gate_stat messages) messages at wagate"
[ "$(refused_total unknown_key)" = 0 ] || fail "unknown keys before any rotation: $(metrics | grep bus_refused)"

# rotate NAME PROGRAM ROLE: the node NAME (running PROGRAM) gets a new key,
# trusted beside its old one; it is restarted on the new key, and once it is
# healthy again and has published the new key, the old key is revoked.
rotate() {
    local name=$1 prog=$2 role=$3 id old new pid
    id=$(id_of "$name")
    old=$(public_key "$T/keys/$name.key")
    [ "$(key_of "$id")" = "$old" ] || fail "$name ($id) published $(key_of "$id"), not its key $old"
    "$BIN/wactl" -c /dev/null keys new "$name-next" --role "$role" --out "$T/keys" \
        --keys-dir "$T/keys/trusted" --trust > /dev/null || fail "keys new $name-next"
    new=$(public_key "$T/keys/$name-next.key")
    pid=$(pid_of "$name")
    kill -TERM "$pid"
    wait_for 20 bash -c "! kill -0 $pid" || fail "$name did not stop"
    WA_BUS_CERT=$T/keys/$name-next.key_secret "$BIN/$prog" -c "$CONF" >> "$T/$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
    registered() { local i; i=$(id_of "$name" 2>/dev/null) && [ -n "$i" ] && [ "$(key_of "$i")" = "$new" ]; }
    wait_for 30 registered || fail "$name did not register with its new key"
    id=$(id_of "$name")
    if [ "$role" = coreapp ]; then
        wait_for 30 is_healthy "$id" || fail "$name ($id) not healthy on its new key: $(liveness "$id")"
    fi
    wait_healthy 30
    [ "$(refused_total unknown_key)" = 0 ] || fail "$name on its new key: a node's bus refused a key: $(metrics | grep bus_refused)"
    keys revoke "$old" > /dev/null || fail "revoke $name's old key"
    note "$name ($role) now $id on key ${new:0:8}..., the old ${old:0:8}... revoked"
}

PC=$(primary_coreapp); SC=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND id <> $PC AND stopped_at IS NULL LIMIT 1")
PCN=$(name_of "$PC"); SCN=$(name_of "$SC")
note "the secondary Coreapp first"
rotate "$SCN" wacore coreapp
note "the primary Coreapp: its shard moved to the rotated one first (wactl switchover)"
NEWSC=$(id_of "$SCN")
ctl switchover --shard 0 --to "$NEWSC" > "$T/so.txt" 2>&1 || fail "switchover to $NEWSC: $(cat "$T/so.txt")"
[ "$(primary_coreapp)" = "$NEWSC" ] || fail "shard 0's primary is $(primary_coreapp), not $NEWSC"
rotate "$PCN" wacore coreapp

PM=$(primary_master); SM=$(q "SELECT id FROM nodes WHERE kind = 'master' AND id <> $PM AND stopped_at IS NULL LIMIT 1")
PMN=$(name_of "$PM"); SMN=$(name_of "$SM")
note "the secondary Master, then the primary (its lease goes to the rotated one)"
rotate "$SMN" wamaster master
rotate "$PMN" wamaster master
[ "$(primary_master)" = "$(id_of "$SMN")" ] || fail "the lease is at $(primary_master), not the rotated $SMN"

BEFORE=$(gate_stat messages)
wait_for 30 at_least $(( BEFORE + 200 )) || fail "the load did not go on after the rotations"
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
cat "$T/waload.json"
[ "$rc" = 0 ] || fail "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -5)"

note "every id answered 201 is at wagate exactly once, no overlap"
grep -o '"id":"[^"]*"' "$T/record.jsonl" | cut -d'"' -f4 | sort > "$T/answered"
[ "$(uniq -d "$T/answered" | wc -l)" = 0 ] || fail "an id answered twice: $(uniq -d "$T/answered" | head -3)"
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
all_upstream() { [ -z "$(ledger_ids | comm -23 "$T/answered" -)" ]; }
wait_for 30 all_upstream || fail "answered 201 but never upstream: $(ledger_ids | comm -23 "$T/answered" - | head -3)"
[ "$(ledger_ids | uniq -d | wc -l)" = 0 ] || fail "ids upstream twice: $(ledger_ids | uniq -d | head -3)"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"

note "a revoked key is refused at the handshake, and counted"
P=$(primary_coreapp)
API=tcp://127.0.0.1:$(q "SELECT SUBSTRING_INDEX(ports, ',', 1) FROM nodes WHERE id = $P")
LEDGER=$(grep -c '"event":"message"' "$T/ledger.jsonl")
R0=$(refused_total unknown_key)
"$BIN/warogue" --timeout 1 --cert "$T/keys/$PCN.key_secret" --server-key "$(key_of "$P")" \
    send-message "$API" > "$T/rogue.out" 2>&1 || fail "warogue: $(cat "$T/rogue.out")"
grep -q '^no answer' "$T/rogue.out" || fail "the revoked key was answered: $(cat "$T/rogue.out")"
wait_for 10 refused_above unknown_key "$R0" || fail "the refusal is not in /metrics: $(metrics | grep bus_refused)"
[ "$(grep -c '"event":"message"' "$T/ledger.jsonl")" = "$LEDGER" ] || fail "the revoked key's message reached wagate"

note "the Webapp rotated last (no load): a message through it on its new key"
oldw=$(public_key "$T/keys/w1.key")
"$BIN/wactl" -c /dev/null keys new w1-next --role webapp --out "$T/keys" --keys-dir "$T/keys/trusted" --trust > /dev/null
kill -TERM "$(pid_of w1)"
wait_for 20 bash -c "! kill -0 $(pid_of w1)" || fail "w1 did not stop"
: > "$T/w1.log"
WEBAPP_EXTERNAL_PORTS=$WEB WA_BUS_CERT=$T/keys/w1-next.key_secret "$BIN/waweb" -c "$CONF" >> "$T/w1.log" 2>&1 &
PIDS+=($!)
PID_w1=$!
wait_for 30 grep -q "ready: serving" "$T/w1.log" || fail "w1 not ready on its new key"
keys revoke "$oldw" > /dev/null || fail "revoke w1's old key"
TOKEN=$(admin_token "$WEB")
expect "a message through the rotated Webapp" 201 - "$WEB" POST /v1/messages \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"to":"16315550199","type":"text","text":{"body":"after the rotation"}}'
wait_for 10 grep -q '"to":"16315550199"' "$T/ledger.jsonl" || fail "the message did not reach wagate"
note "every node rotated under load: $(wc -l < "$T/answered") requests 201, once upstream, 0 overlaps, no key refused; a revoked key refused"
