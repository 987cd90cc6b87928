#!/usr/bin/env bash
# wactl switchover: a planned move of shard 0's primary under a steady load
# of POST /v1/messages. Each round the old primary drains, logs out (the
# gateway confirms), hands the row over; the new one logs in at once (no
# lease wait). Across every round: no client error (each request 201, some
# retried through the pause), each id at wagate exactly once, the outbox
# all sent, no two sessions of the account at once. The longest pause a
# client saw is printed. Bad requests are refused with a reason and change
# nothing.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
ctl() { "$BIN/wactl" -c "$CONF" "$@"; }

note "bad requests: refused, nothing moves"
P=$(primary_coreapp); E=$(shard_epoch)
refused() { # refused STATUS PATTERN ARGS...: wactl exits STATUS saying PATTERN
    local want=$1 pattern=$2 rc=0; shift 2
    ctl switchover "$@" > "$T/out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || fail "switchover $*: exit $rc, expected $want: $(cat "$T/out")"
    grep -qF -- "$pattern" "$T/out" || fail "switchover $*: expected '$pattern': $(cat "$T/out")"
}
refused 2 "which shard?"
refused 2 "--shard 'x'" --shard x
refused 2 "--shard '-1'" --shard -1
refused 2 "--to '0'" --shard 0 --to 0
refused 2 "--timeout '0'" --shard 0 --timeout 0
refused 1 "no shard 7" --shard 7
refused 1 "is shard 0's primary already" --shard 0 --to "$P"
refused 1 "coreapp 987654 is not a Coreapp that is up" --shard 0 --to 987654
[ "$(primary_coreapp)" = "$P" ] && [ "$(shard_epoch)" = "$E" ] || fail "a refused switchover moved shard 0"

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 600 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!
PIDS+=($LOAD)
at_least() { local n; n=$(gate_stat messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 at_least 200 || fail "the load did not get going: $(gate_stat messages) messages at wagate"

ROUNDS=6
for round in $(seq 1 $ROUNDS); do
    P=$(primary_coreapp); E=$(shard_epoch)
    ctl switchover --shard 0 --json > "$T/so.json" 2> "$T/so.err" \
        || fail "round $round: switchover failed: $(cat "$T/so.err")"
    TO=$(jq -r .to "$T/so.json")
    [ "$TO" != "$P" ] && [ "$(jq -r .from "$T/so.json")" = "$P" ] || fail "round $round: $(cat "$T/so.json")"
    [ "$(primary_coreapp)" = "$TO" ] || fail "round $round: shard_map names $(primary_coreapp), not $TO"
    [ "$(shard_epoch)" = $(( E + 1 )) ] || fail "round $round: epoch $(shard_epoch) after $E"
    [ "$(q "SELECT prev_closed FROM shard_map WHERE shard = 0")" = 1 ] \
        || fail "round $round: the logout was not confirmed (prev_closed): $(cat "$T/so.json")"
    note "round $round: $P -> $TO in $(jq -r .total_ms "$T/so.json") ms (drain $(jq -r '.handover.drain_ms // "?"' "$T/so.json") ms, logout $(jq -r '.handover.logout_ms // "?"' "$T/so.json") ms)"
    # The new primary did not wait for the old lease: its login was due at once.
    grep -q "coreapp $TO holds shard 0; login in 0.000 s" "$T"/c*.log \
        || fail "round $round: coreapp $TO waited before its login: $(grep -h "coreapp $TO holds shard 0" "$T"/c*.log | tail -1)"
    BEFORE=$(gate_stat messages)
    wait_for 20 at_least $(( BEFORE + 100 )) || fail "round $round: the load did not go on"
done

note "a named target: back to the other Coreapp"
P=$(primary_coreapp); OTHER=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND stopped_at IS NULL AND id <> $P")
ctl switchover --shard 0 --to "$OTHER" > "$T/so.txt" 2>&1 || fail "switchover --to $OTHER: $(cat "$T/so.txt")"
grep -q "coreapp $P -> coreapp $OTHER" "$T/so.txt" || fail "unexpected report: $(cat "$T/so.txt")"
[ "$(primary_coreapp)" = "$OTHER" ] || fail "shard 0 is on $(primary_coreapp), not $OTHER"

touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
[ "$rc" = 0 ] || fail "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -5)"
note "the longest pause a client saw: $(jq -r .latency_ms.max "$T/waload.json") ms (p99 $(jq -r .latency_ms.p99 "$T/waload.json") ms) over $(( ROUNDS + 1 )) switchovers"

note "every id answered 201 is at wagate exactly once; the outbox is all sent; no overlap"
grep -o '"id":"[^"]*"' "$T/record.jsonl" | cut -d'"' -f4 | sort > "$T/answered"
ANSWERED=$(wc -l < "$T/answered")
[ "$ANSWERED" = "$(wc -l < "$T/record.jsonl")" ] || fail "records without an id"
[ "$(uniq -d "$T/answered" | wc -l)" = 0 ] || fail "an id answered twice"
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
all_upstream() { [ -z "$(ledger_ids | comm -23 "$T/answered" -)" ]; }
wait_for 30 all_upstream || fail "answered 201 but never upstream: $(ledger_ids | comm -23 "$T/answered" - | head -3)"
[ "$(ledger_ids | uniq -d | wc -l)" = 0 ] || fail "ids upstream twice: $(ledger_ids | uniq -d | head -3)"
[ "$(gate_stat duplicates)" = 0 ] || fail "wagate counted $(gate_stat duplicates) duplicates"
none_pending() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")" = 0 ]; }
wait_for 30 none_pending || fail "rows not sent: $(q "SELECT status, COUNT(*) FROM outbox GROUP BY status")"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"

note "audited: who asked, and each handover"
ctl events -n 200 > "$T/events.txt"
[ "$(grep -c "wactl:wactl asked to move shard 0" "$T/events.txt")" = $(( ROUNDS + 1 )) ] \
    || fail "switchover requests in the audit log: $(grep -c "asked to move shard 0" "$T/events.txt")"
[ "$(grep -c "handed shard 0 over" "$T/events.txt")" = $(( ROUNDS + 1 )) ] || fail "handovers in the audit log"
note "$ANSWERED messages through $(( ROUNDS + 1 )) switchovers: all 201, each upstream once, 0 overlaps"
