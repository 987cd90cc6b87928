#!/usr/bin/env bash
# make bench-reshard: the shard count changed live (POST /v1/account/shards)
# through WA_BENCH_COUNTS ("2 4 1") from 1, under a steady load of POST
# /v1/messages (waload, 8 in flight, through a Webapp), at the default
# settings, on two Coreapps. For each change: the time from the POST to the
# new count in force, to every new shard with a primary (the change over),
# and to every new shard's upstream session open (serving: wagate's open
# sessions); and the pause a client saw (the longest latency of a request in
# flight during the change). Checks what must hold: every request 201, no
# overlap at wagate, no duplicate.
#   WA_BENCH_COUNTS ("2 4 1")  WA_BENCH_KEEP=1 keeps the temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${WA_BENCH_COUNTS:-2 4 1}
for n in $COUNTS; do
    case $n in 1|2|4|8|16|32) ;; *) echo "bench-reshard: WA_BENCH_COUNTS takes 1, 2, 4, 8, 16 or 32, not '$n'" >&2; exit 2 ;; esac
done
. bench/lib.sh reshard
die() { echo "bench-reshard: $*" >&2; exit 1; }
load_cluster_up shards=1
shards_get() { curl -sS "http://127.0.0.1:$WEB/v1/account/shards" -H "Authorization: Bearer $TOKEN"; }
in_force() { shards_get | jq -e --argjson n "$1" '.account.shards == $n' >/dev/null; }
over() { shards_get | jq -e --argjson n "$1" '.account.shards == $n and (.account.change == null)' >/dev/null; }
open_sessions() { [ "$(gate open)" = "$1" ]; }
"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 3600 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!; PIDS+=($LOAD)
going() { local n; n=$(gate messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 going 500 || die "the load did not get going"
echo "bench-reshard: the shard count 1 -> ${COUNTS// / -> } under a steady load (waload, 8 in flight), two Coreapps; default settings"
: > "$T/rounds"
now() { date +%s.%N; }
for n in $COUNTS; do
    before=$(gate messages)
    t0=$(now)
    code=$(curl -sS -o "$T/post.json" -w '%{http_code}' -X POST "http://127.0.0.1:$WEB/v1/account/shards" \
        -H "Authorization: Bearer $TOKEN" -d "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"shards\":$n}")
    [ "$code" = 201 ] || die "POST shards $n: HTTP $code: $(cat "$T/post.json")"
    wait_for 120 in_force "$n" || die "$n shards not in force"
    t1=$(now)
    wait_for 120 over "$n" || die "the change to $n shards did not end"
    t2=$(now)
    wait_for 120 open_sessions "$n" || die "not $n upstream sessions open"
    t3=$(now)
    echo "$t0 $t3 $n $t1 $t2" >> "$T/rounds"
    wait_for 60 going $(( before + 500 )) || die "the load did not go on under $n shards"
done
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
[ "$rc" = 0 ] || die "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -3)"
jq -s -r --rawfile rounds "$T/rounds" '
    ($rounds | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))) as $r
    | . as $recs
    | range(0; $r | length) as $i
    | $r[$i] as $w
    | ([$recs[] | select(.sent_at < $w[1] and .done_at > $w[0]) | .latency_ms] | max) as $pause
    | "\($w[2]) \(($w[3] - $w[0]) * 1000) \(($w[4] - $w[0]) * 1000) \(($w[1] - $w[0]) * 1000) \($pause)"' \
    "$T/record.jsonl" > "$T/table"
prev=1
while read -r n force over serving pause; do
    printf '  %2d -> %2d shards: in force %6.0f ms, every shard with a primary %6.0f ms, every session open %6.0f ms; longest client pause %6.0f ms\n' \
        "$prev" "$n" "$force" "$over" "$serving" "$pause"
    prev=$n
done < "$T/table"
overlaps=$(gate overlaps); duplicates=$(gate duplicates)
echo "$(jq -r '.answered' "$T/waload.json") requests, all 201; overlaps at wagate: $overlaps, duplicates: $duplicates"
[ "$overlaps" = 0 ] && [ "$duplicates" = 0 ]
