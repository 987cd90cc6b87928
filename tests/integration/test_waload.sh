#!/usr/bin/env bash
# waload, the load generator: 2000 requests at concurrency 16 all answered
# 201 with distinct ids, each id once upstream, spread over both shards, the
# record and the summary agreeing; the same run id again gets the same ids
# and sends nothing twice; its own login; error answers and transport errors
# recorded (exit 1); bad usage (exit 2); the stop file and SIGTERM end a run
# with the requests in flight answered; --rate holds the rate.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 shards=2
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
URL=http://127.0.0.1:$WEB
L=$BIN/waload

# jnum FILE KEY: a number from the one-line JSON summary in FILE.
jnum() { grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
gate_messages_are() { [ "$(gate_stat messages)" = "$1" ]; }
all_sent() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")" = 0 ]; }
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4; }
record_ids() { grep -o '"id":"[^"]*"' "$1" | cut -d'"' -f4; }
# "key id" of every record, sorted by key.
key_ids() { sed 's/.*"key":"\([^"]*\)".*"id":"\([^"]*\)".*/\1 \2/' "$1" | LC_ALL=C sort; }

note "bad usage: exit 2, a message naming the option, no run"
usage() {   # usage TEXT ARGS...
    local says=$1 rc=0; shift
    "$L" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "waload $*: exit $rc, expected 2: $(cat "$T/err")"
    grep -qF -- "$says" "$T/err" || fail "waload $*: the message does not say \"$says\": $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "waload $*: printed $(cat "$T/out")"
}
usage "--url is required" --token "$TOKEN" -n 1
usage "--url 'ftp://x'" --url ftp://x --token "$TOKEN"
usage "no credentials" --url "$URL" -n 1
usage "not both" --url "$URL" --token "$TOKEN" --user admin --password x
usage "--user needs --password" --url "$URL" --user admin
usage "--concurrency '0'" --url "$URL" --token "$TOKEN" -c 0
usage "--concurrency '10001'" --url "$URL" --token "$TOKEN" -c 10001
usage "--count 'ten'" --url "$URL" --token "$TOKEN" --count ten
usage "--duration '-1'" --url "$URL" --token "$TOKEN" --duration -1
usage "--rate '1e9'" --url "$URL" --token "$TOKEN" --rate 1e9
usage "--timeout '0'" --url "$URL" --token "$TOKEN" --timeout 0
usage "--run-id 'a b'" --url "$URL" --token "$TOKEN" --run-id 'a b'
usage "unknown option '--bogus'" --url "$URL" --token "$TOKEN" --bogus
usage "unexpected argument 'more'" --url "$URL" --token "$TOKEN" more
usage "--record '$T/no/such/dir/r.jsonl'" --url "$URL" --token "$TOKEN" -n 1 --record "$T/no/such/dir/r.jsonl"
"$L" --help > "$T/help" || fail "--help: exit $?"
for opt in --url --token --user --password --concurrency --duration --count --rate --timeout --record \
    --to-base --stop-file --run-id --json --progress "Exit status"; do
    grep -q -- "$opt" "$T/help" || fail "--help does not explain $opt"
done

# The Webapp may need a moment to read the shard map: one request until it is a 201.
wait_for 30 "$L" --url "$URL" --token "$TOKEN" -n 1 -t 5 || fail "POST /v1/messages never answered 201"

note "2000 requests at concurrency 16: each 201 with its own id, each id once upstream"
wait_for 30 all_sent || fail "the warm-up request was not sent upstream"
before=$(gate_stat messages)
rows_before=$(q "SELECT COUNT(*) FROM outbox")
rc=0
"$L" --url "$URL" --token "$TOKEN" -n 2000 -c 16 --run-id "run1-$$" --record "$T/run1.jsonl" --json \
    >"$T/run1.json" 2>"$T/run1.err" || rc=$?
[ "$rc" = 0 ] || fail "exit $rc: $(cat "$T/run1.json" "$T/run1.err")"
[ "$(jnum "$T/run1.json" requests)" = 2000 ] && [ "$(jnum "$T/run1.json" ok)" = 2000 ] \
    && [ "$(jnum "$T/run1.json" transport_errors)" = 0 ] && [ "$(jnum "$T/run1.json" duplicate_ids)" = 0 ] \
    || fail "summary: $(cat "$T/run1.json")"
grep -q '"stopped_by":"count"' "$T/run1.json" || fail "stopped_by: $(cat "$T/run1.json")"
[ "$(wc -l < "$T/run1.jsonl")" = 2000 ] || fail "$(wc -l < "$T/run1.jsonl") records, not 2000"
[ "$(grep -c '"status":201,"id":"gBE[A-Za-z0-9_-]\{24\}","error":null}$' "$T/run1.jsonl")" = 2000 ] \
    || fail "not every record is a 201 with an id: $(grep -v '"status":201' "$T/run1.jsonl" | head -n 3)"
# n is 1..2000, once each, and its key is run1-PID-n.
[ "$(sed -n 's/^{"n":\([0-9]*\),"key":"run1-'$$'-\([0-9]*\)".*/\1 \2/p' "$T/run1.jsonl" | awk '$1 == $2 { print $1 }' \
    | sort -n | uniq | awk 'NR == $1' | wc -l)" = 2000 ] || fail "the records do not hold n = 1..2000 once each, with key run1-$$-n"
[ "$(record_ids "$T/run1.jsonl" | sort -u | wc -l)" = 2000 ] || fail "ids are not distinct"
wait_for 30 gate_messages_are $((before + 2000)) || fail "wagate has $(gate_stat messages) messages, expected $((before + 2000))"
[ "$(gate_stat duplicates)" = 0 ] || fail "wagate counted $(gate_stat duplicates) duplicates"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
[ "$(q "SELECT COUNT(*) FROM outbox")" = $((rows_before + 2000)) ] || fail "outbox rows: $(q "SELECT COUNT(*) FROM outbox")"
[ "$(q "SELECT COUNT(DISTINCT shard) FROM outbox")" = 2 ] || fail "the recipients did not spread over both shards"
# Every id answered 201 is in wagate's ledger exactly once.
wait_for 10 bash -c "[ \$(grep -c '\"event\":\"message\"' '$T/ledger.jsonl') -ge $((before + 2000)) ]" \
    || fail "the ledger holds $(grep -c '"event":"message"' "$T/ledger.jsonl") messages"
[ -z "$(ledger_ids | sort | uniq -d)" ] || fail "ids twice in the ledger: $(ledger_ids | sort | uniq -d | head -n 3)"
missing=$(LC_ALL=C comm -23 <(record_ids "$T/run1.jsonl" | LC_ALL=C sort) <(ledger_ids | LC_ALL=C sort) | wc -l)
[ "$missing" = 0 ] || fail "$missing ids answered 201 never reached wagate"

note "the same run id again: the same ids, nothing sent twice"
rc=0
"$L" --url "$URL" --token "$TOKEN" -n 300 -c 8 --run-id "run1-$$" --record "$T/replay.jsonl" >"$T/replay.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "replay: exit $rc: $(cat "$T/replay.txt")"
changed=$(LC_ALL=C comm -23 <(key_ids "$T/replay.jsonl") <(key_ids "$T/run1.jsonl"))
[ -z "$changed" ] || fail "replayed keys got other ids: $(head -n 3 <<<"$changed")"
[ "$(wc -l < "$T/replay.jsonl")" = 300 ] || fail "replay: $(wc -l < "$T/replay.jsonl") records"
[ "$(q "SELECT COUNT(*) FROM outbox")" = $((rows_before + 2000)) ] || fail "the replay stored new rows"
wait_for 30 all_sent || fail "outbox rows left unsent"
[ "$(gate_stat messages)" = $((before + 2000)) ] && [ "$(gate_stat duplicates)" = 0 ] \
    || fail "after the replay wagate has $(gate_stat messages) messages, $(gate_stat duplicates) duplicates"

note "its own login; a failed login; error answers"
rc=0
"$L" --url "$URL" --user admin --password "$ADMIN_PASSWORD" -n 20 -c 4 >"$T/login.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q '201 with an id     20$' "$T/login.txt" || fail "--user: exit $rc: $(cat "$T/login.txt")"
rc=0
WALOAD_PASSWORD=Wrong-Passw0rd! "$L" --url "$URL" --user admin -n 5 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "login as 'admin' at $URL/v1/users/login failed: HTTP 401, 1005" "$T/err" \
    || fail "a wrong password: exit $rc: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "a failed login still ran: $(cat "$T/out")"
rc=0
"$L" --url "$URL" --token not-a-token -n 5 -c 2 --json --record "$T/denied.jsonl" >"$T/denied.json" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a bad token: exit $rc"
grep -q '"failed":{"401/1005":5}' "$T/denied.json" && [ "$(jnum "$T/denied.json" ok)" = 0 ] \
    || fail "a bad token: $(cat "$T/denied.json")"
[ "$(grep -c '"status":401,"id":null,"error":"1005: ' "$T/denied.jsonl")" = 5 ] || fail "denied records: $(cat "$T/denied.jsonl")"

note "nothing listening: transport errors, recorded, exit 1"
DEAD=$(free_port)
rc=0
"$L" --url "http://127.0.0.1:$DEAD" --token "$TOKEN" -n 30 -c 4 --record "$T/dead.jsonl" >"$T/dead.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a closed port: exit $rc: $(cat "$T/dead.txt")"
grep -q 'transport errors   30$' "$T/dead.txt" && grep -q 'Could.*connect' "$T/dead.txt" || fail "summary: $(cat "$T/dead.txt")"
[ "$(grep -c '"status":0,"id":null,"error":"[^"]*Could.*connect' "$T/dead.jsonl")" = 30 ] \
    || fail "records: $(head -n 3 "$T/dead.jsonl")"

note "the stop file and SIGTERM: sending stops, the requests in flight are answered"
answered_some() { grep -q ' answered, [1-9][0-9]* 201,' "$1"; }
for how in stop-file signal; do
    rm -f "$T/stop"
    "$L" --url "$URL" --token "$TOKEN" -d 120 -c 8 --stop-file "$T/stop" --progress 0.2 --json \
        --record "$T/$how.jsonl" >"$T/$how.json" 2>"$T/$how.err" &
    P=$!; PIDS+=($P)
    wait_for 30 answered_some "$T/$how.err" || fail "$how: no 201 within 30 s: $(cat "$T/$how.err")"
    t0=$(now_ms)
    if [ "$how" = stop-file ]; then touch "$T/stop"; else kill -TERM "$P"; fi
    rc=0; wait "$P" || rc=$?
    [ "$rc" = 0 ] || fail "$how: exit $rc: $(cat "$T/$how.json" "$T/$how.err")"
    [ $(( $(now_ms) - t0 )) -lt 10000 ] || fail "$how: took $(( $(now_ms) - t0 )) ms to stop"
    grep -q "\"stopped_by\":\"$how\"" "$T/$how.json" || fail "$how: $(cat "$T/$how.json")"
    n=$(jnum "$T/$how.json" requests)
    [ "$n" -gt 0 ] && [ "$(jnum "$T/$how.json" ok)" = "$n" ] && [ "$(wc -l < "$T/$how.jsonl")" = "$n" ] \
        || fail "$how: $(cat "$T/$how.json"), $(wc -l < "$T/$how.jsonl") records"
done

note "--rate 40 for 2 s: at most 80 requests, and not far below"
rc=0
"$L" --url "$URL" --token "$TOKEN" -r 40 -d 2 -c 4 --json >"$T/rate.json" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "--rate: exit $rc: $(cat "$T/rate.json")"
n=$(jnum "$T/rate.json" requests)
[ "$n" -le 80 ] && [ "$n" -ge 60 ] || fail "--rate 40 for 2 s sent $n requests"

wait_for 30 all_sent || fail "outbox rows left unsent"
[ "$(gate_stat duplicates)" = 0 ] && overlaps_zero || fail "wagate: $(gate_stat duplicates) duplicates, $(gate_stat overlaps) overlaps"
note "2000 at concurrency 16 all 201 and once upstream, replay, login, errors, stop file, SIGTERM, rate: as expected"
