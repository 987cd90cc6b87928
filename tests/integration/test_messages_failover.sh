#!/usr/bin/env bash
# The load test of the send path: a client POSTs /v1/messages continuously
# (8 in flight) while the primary Coreapp is killed -9, and then while the
# next one is paused (SIGSTOP) until it is replaced and resumed. With the default
# request_deadline no request fails: each is answered 201 (retried on the
# new primary with its idempotency key), every id answered appears exactly
# once at wagate, the outbox holds each once and ends all sent, and no two
# sessions of the account overlapped.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 120 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!
PIDS+=($LOAD)
at_least() { local n; n=$(gate_stat messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 at_least 300 || fail "the load did not get going: $(gate_stat messages) messages at wagate"

P=$(primary_coreapp)
note "kill -9 the primary Coreapp ($P) under load"
kill -KILL "$(node_pid "$P")"
BEFORE=$(gate_stat messages)
wait_for 30 gate_open_other "$P" || fail "no new primary session at wagate"
wait_for 30 at_least $(( BEFORE + 300 )) || fail "the load did not resume on the new primary"

start c3 wacore
three() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'coreapp' AND stopped_at IS NULL AND last_seen > NOW(6) - INTERVAL 1 SECOND")" -ge 2 ]; }
wait_for 20 three || fail "the third Coreapp did not register"
P2=$(primary_coreapp)
P2PID=$(node_pid "$P2")
note "SIGSTOP the new primary ($P2) under load until another replaces it, then SIGCONT"
kill -STOP "$P2PID"
wait_for 30 gate_open_other "$P2" || { kill -CONT "$P2PID"; fail "the paused primary was not replaced"; }
kill -CONT "$P2PID"
demoted() { grep -q "coreapp $P2 is no longer primary" "$T"/c*.log; }
wait_for 20 demoted || fail "the resumed primary did not step down"
BEFORE=$(gate_stat messages)
wait_for 30 at_least $(( BEFORE + 300 )) || fail "the load did not resume after the pause"
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
cat "$T/waload.json"
[ "$rc" = 0 ] || fail "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -5)"

note "every id answered 201 is at wagate exactly once"
grep -o '"id":"[^"]*"' "$T/record.jsonl" | cut -d'"' -f4 | sort > "$T/answered"
ANSWERED=$(wc -l < "$T/answered")
[ "$ANSWERED" = "$(wc -l < "$T/record.jsonl")" ] || fail "records without an id"
[ "$(uniq -d "$T/answered" | wc -l)" = 0 ] || fail "an id answered twice: $(uniq -d "$T/answered" | head -3)"
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
all_upstream() { [ -z "$(ledger_ids | comm -23 "$T/answered" -)" ]; }
wait_for 30 all_upstream || fail "answered 201 but never upstream: $(ledger_ids | comm -23 "$T/answered" - | wc -l) ids, e.g. $(ledger_ids | comm -23 "$T/answered" - | head -3)"
[ "$(ledger_ids | uniq -d | wc -l)" = 0 ] || fail "ids upstream twice: $(ledger_ids | uniq -d | head -3)"
[ "$(gate_stat duplicates)" = 0 ] || fail "wagate counted $(gate_stat duplicates) duplicates"
[ "$(ledger_ids | comm -13 "$T/answered" - | wc -l)" = 0 ] || fail "messages upstream that no client was answered"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"

note "the outbox holds each message once and ends with all sent"
[ "$(q "SELECT COUNT(*) FROM outbox")" = "$ANSWERED" ] || fail "outbox rows $(q "SELECT COUNT(*) FROM outbox") vs $ANSWERED answered"
none_pending() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")" = 0 ]; }
wait_for 30 none_pending || fail "rows not sent: $(q "SELECT status, COUNT(*) FROM outbox GROUP BY status")"
retried=$(curl -s "http://127.0.0.1:$WEB/metrics" -H "Authorization: Bearer $TOKEN" | grep '^wacluster_forward_retries_total ' | awk '{print $2}')
note "$ANSWERED messages, all 201, $retried attempts retried across the failover, 0 duplicates, 0 overlaps"
[ "${retried:-0}" -ge 1 ] || fail "no request was retried: the failover happened with nothing in flight"
