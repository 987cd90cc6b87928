#!/usr/bin/env bash
# POST /v1/messages end to end: 201 with an id, the outbox row marked sent,
# the message at wagate once; a retried Idempotency-Key keeps its id and is
# not sent again; every kind of bad input answered with the envelope and
# nothing stored; 2000 requests in flight at once on a few threads; with no primary Coreapp the request waits up to
# request_deadline, is then refused 503, and a Coreapp that comes back
# within the deadline serves it.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
# Its 2000 clients at once all come from 127.0.0.1 (as they would through a
# proxy): no limit per address.
cluster_init webapp_bind=127.0.0.1 webapp_max_connections_per_address=0
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
msg() { echo "{\"to\":\"$1\",\"type\":\"text\",\"recipient_type\":\"individual\",\"text\":{\"body\":\"$2\"}}"; }
msg_id() { grep -o '"messages":\[{"id":"[^"]*"}\]' "$T/body" | cut -d'"' -f6; }
sent_rows() { q "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"; }
rows() { q "SELECT COUNT(*) FROM outbox"; }
# Predicates for wait_for (evaluated at each try).
status_is() { [ "$(q "SELECT status FROM outbox WHERE id = '$1'")" = "$2" ]; }
in_ledger() { grep -c "\"event\":\"message\".*\"id\":\"$1\"" "$T/ledger.jsonl" 2>/dev/null; }
in_ledger_once() { [ "$(in_ledger "$1")" = 1 ]; }
sent_rows_are() { [ "$(sent_rows)" = "$1" ]; }
gate_messages_are() { [ "$(gate_stat messages)" = "$1" ]; }
no_primary() { [ -z "$(primary_coreapp)" ]; }

note "a message: 201, its id, sent upstream once"
expect "send" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(msg '+1 (631) 555-1234' hello)"
ID1=$(msg_id)
[[ "$ID1" =~ ^gBE[A-Za-z0-9_-]{24}$ ]] || fail "message id: '$ID1' from $(body)"
[ "$(q "SELECT CONCAT(recipient, ' ', shard) FROM outbox WHERE id = '$ID1'")" = "16315551234 0" ] \
    || fail "outbox row: $(q "SELECT * FROM outbox WHERE id = '$ID1'")"
wait_for 10 status_is "$ID1" sent || fail "row not marked sent: $(q "SELECT status FROM outbox WHERE id = '$ID1'")"
wait_for 10 in_ledger_once "$ID1" || fail "wagate's ledger does not hold $ID1 once"
grep "\"id\":\"$ID1\"" "$T/ledger.jsonl" | grep -q '"to":"16315551234","type":"text"' || fail "ledger line: $(grep "$ID1" "$T/ledger.jsonl")"
[ "$(gate_stat messages)" = 1 ] || fail "wagate messages $(gate_stat messages)"

note "the same Idempotency-Key: the same id, not sent again"
expect "keyed" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -H 'Idempotency-Key: order-77' -d "$(msg 16315550001 first)"
ID2=$(msg_id)
expect "keyed again" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -H 'Idempotency-Key: order-77' -d "$(msg 16315550001 first)"
[ "$(msg_id)" = "$ID2" ] || fail "a retried key got another id: $(msg_id) vs $ID2"
[ "$ID2" != "$ID1" ] || fail "two messages share an id"
wait_for 10 sent_rows_are 2 || fail "sent rows: $(sent_rows)"
[ "$(rows)" = 2 ] || fail "outbox rows: $(rows)"
[ "$(gate_stat messages)" = 2 ] && [ "$(gate_stat duplicates)" = 0 ] || fail "wagate: $(gate_stat messages) messages, $(gate_stat duplicates) duplicates"

note "bad input: each answered with its code, nothing stored"
B=(POST /v1/messages "${AUTH[@]}")
expect "no body" 400 1008 "$WEB" "${B[@]}"
expect "malformed JSON" 400 1009 "$WEB" "${B[@]}" -d '{"to": "1631'
expect "not an object" 400 1009 "$WEB" "${B[@]}" -d '["to"]'
expect "to missing" 400 1008 "$WEB" "${B[@]}" -d '{"type":"text","text":{"body":"x"}}'
grep -q "'to' is missing" "$T/body" || fail "the error does not name 'to': $(body)"
expect "to not a number" 400 1009 "$WEB" "${B[@]}" -d "$(msg 'abc' x)"
expect "to a number type" 400 1009 "$WEB" "${B[@]}" -d '{"to":16315551234,"text":{"body":"x"}}'
expect "to too long" 400 1009 "$WEB" "${B[@]}" -d "$(msg 123456789012345678901 x)"
expect "text missing" 400 1008 "$WEB" "${B[@]}" -d '{"to":"1631"}'
expect "text not an object" 400 1009 "$WEB" "${B[@]}" -d '{"to":"1631","text":"hi"}'
expect "body missing" 400 1008 "$WEB" "${B[@]}" -d '{"to":"1631","text":{}}'
expect "body a number" 400 1009 "$WEB" "${B[@]}" -d '{"to":"1631","text":{"body":5}}'
expect "body empty" 400 1009 "$WEB" "${B[@]}" -d "$(msg 1631 '')"
expect "body too long" 400 1009 "$WEB" "${B[@]}" -d "$(msg 1631 "$(head -c 4097 /dev/zero | tr '\0' x)")"
expect "unknown type" 400 1009 "$WEB" "${B[@]}" -d '{"to":"1631","type":"hologram","text":{"body":"x"}}'
expect "type not a string" 400 1009 "$WEB" "${B[@]}" -d '{"to":"1631","type":7,"text":{"body":"x"}}'
expect "recipient_type" 400 1009 "$WEB" "${B[@]}" -d '{"to":"1631","recipient_type":"group","text":{"body":"x"}}'
expect "bad Idempotency-Key" 400 1009 "$WEB" "${B[@]}" -H "Idempotency-Key: $(head -c 65 /dev/zero | tr '\0' k)" -d "$(msg 1631 x)"
head -c 2000000 /dev/zero | tr '\0' x > "$T/huge"
got=$(api "$WEB" POST /v1/messages "${AUTH[@]}" --data-binary @"$T/huge")
[ "$got" = 413 ] || fail "huge body: HTTP $got"
expect "no token" 401 1005 "$WEB" POST /v1/messages -d "$(msg 1631 x)"
expect "bad token" 401 1005 "$WEB" POST /v1/messages -H "Authorization: Bearer $(head -c 43 /dev/zero | tr '\0' A)" -d "$(msg 1631 x)"
expect "wrong method" 405 1006 "$WEB" GET /v1/messages "${AUTH[@]}"
[ "$(rows)" = 2 ] || fail "bad input stored rows: $(rows)"

note "two thousand requests in flight at once, on a few threads"
# A fresh token, in no Webapp's cache: 2000 requests need one lookup.
FRESH=$(admin_token "$WEB")
"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$FRESH" --concurrency 2000 --count 6000 --timeout 60 \
    --json > "$T/many.json" 2> "$T/many.err" &
MANY=$!
threads() { awk '/^Threads:/ {print $2}' "/proc/$PID_w1/status"; }
connections() { ss -Htn state established "( sport = :$WEB )" | wc -l; }
busy() { [ "$(connections)" -ge 1500 ]; }
wait_for 30 busy || fail "the connections never piled up: $(connections)"
peak_threads=$(threads)
rc=0; wait "$MANY" || rc=$?
[ "$rc" = 0 ] || fail "with 2000 in flight: $(cat "$T/many.json" "$T/many.err")"
[ "$peak_threads" -le 8 ] || fail "waweb ran $peak_threads threads with 2000 requests in flight"
note "6000 requests, 2000 at a time, all 201; waweb on $peak_threads threads"

note "no primary Coreapp: the request waits request_deadline, then 503"
# A short deadline, set the way an operator would; the Webapp reads it from
# the database within db_liveness_interval.
"$BIN/wactl" -c "$CONF" settings set request_attempt_timeout 0.5 >/dev/null || fail "wactl settings set"
"$BIN/wactl" -c "$CONF" settings set request_deadline 3 >/dev/null || fail "wactl settings set"
wait_for 10 grep -q "setting request_deadline: 45 -> 3" "$T/w1.log" || fail "the Webapp did not take the new deadline"
kill -KILL "$PID_c1" "$PID_c2"
wait "$PID_c1" "$PID_c2" 2>/dev/null || true
wait_for 10 no_primary || fail "the shard lease did not expire"
t0=$(now_ms)
expect "no coreapp" 503 1011 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(msg 1631 lost)"
took=$(( $(now_ms) - t0 ))
[ "$took" -ge 2500 ] && [ "$took" -lt 6000 ] || fail "answered after $took ms, request_deadline is 3 s"
grep -q "request_deadline" "$T/body" || fail "the error does not say why: $(body)"

note "a Coreapp that comes within the deadline serves the waiting request"
( api "$WEB" POST /v1/messages "${AUTH[@]}" -H 'Idempotency-Key: late-1' -d "$(msg 1631 late)" > "$T/late.status"; cp "$T/body" "$T/late.body" ) &
LATE=$!
start c3 wacore
wait "$LATE"
[ "$(cat "$T/late.status")" = 201 ] || fail "waiting request: HTTP $(cat "$T/late.status"): $(cat "$T/late.body")"
# The killed Coreapps' unsent messages reach wagate through the new primary's
# reconciliation (a promotion, then QUERY and send): slow under make asan.
wait_for 60 gate_messages_are 6003 || fail "wagate messages $(gate_stat messages)"
[ "$(gate_stat duplicates)" = 0 ] && overlaps_zero || fail "duplicates $(gate_stat duplicates), overlaps $(gate_stat overlaps)"
note "201 with an id, once upstream, idempotent retries, bad input refused, deadline kept: as expected"
