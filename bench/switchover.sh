#!/usr/bin/env bash
# make bench-switchover: WA_BENCH_ROUNDS (20) planned switchovers of shard 0
# (wactl switchover) under a steady load of POST /v1/messages (waload, 8 in
# flight, through a Webapp), at the default settings: a switchover waits for
# no timer. For each round: how long wactl waited (request -> the new
# primary's session open, as the Master reports it) and the pause a client
# saw (the longest latency of a request in flight during the round). Prints
# min / median / max of both, against the load's median latency outside the
# rounds, and checks what must hold: no client error, no overlap at wagate,
# no duplicate. Target (issue 13): median pause <= 100 ms.
#   WA_BENCH_ROUNDS (20)  WA_BENCH_KEEP=1 keeps the temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${WA_BENCH_ROUNDS:-20}
. bench/lib.sh switchover
die() { echo "bench-switchover: $*" >&2; exit 1; }
load_cluster_up
"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 3600 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!; PIDS+=($LOAD)
going() { local n; n=$(gate messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 going 500 || die "the load did not get going"
echo "bench-switchover: $ROUNDS × wactl switchover --shard 0 under a steady load (waload, 8 in flight); default settings"
: > "$T/rounds"
for i in $(seq 1 "$ROUNDS"); do
    before=$(gate messages)
    t0=$(date +%s.%N)
    "$BIN/wactl" -c "$CONF" switchover --shard 0 --json > "$T/so.json" 2> "$T/so.err" \
        || die "round $i: $(cat "$T/so.json" "$T/so.err")"
    t1=$(date +%s.%N)
    echo "$t0 $t1 $(jq -r '.total_ms' "$T/so.json") $(jq -r '.from' "$T/so.json") $(jq -r '.to' "$T/so.json")" >> "$T/rounds"
    # Steady again before the next round.
    wait_for 20 going $(( before + 300 )) || die "round $i: the load did not go on"
done
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
[ "$rc" = 0 ] || die "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -3)"
# Per round: the longest latency among requests in flight during it.
jq -s -r --rawfile rounds "$T/rounds" '
    ($rounds | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))) as $r
    | . as $recs
    | ($r | map(. as $w | [$recs[] | select(.sent_at < $w[1] and .done_at > $w[0]) | .latency_ms] | max)) as $pause
    | ([$recs[] | . as $x | select(all($r[]; $x.done_at < .[0] or $x.sent_at > .[1])) | .latency_ms] | sort) as $calm
    | range(0; $r | length) as $i
    | "\($i + 1) \($r[$i][2]) \($pause[$i]) \($r[$i][3]) \($r[$i][4]) \($calm[($calm | length) / 2 | floor])"' \
    "$T/record.jsonl" > "$T/table"
stats() { sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "min %.1f ms, median %.1f ms, max %.1f ms", a[1], m, a[NR]}'; }
while read -r i total pause from to calm; do
    printf '  round %2d: coreapp %s -> %s: wactl %.1f ms, longest client pause %.1f ms\n' "$i" "$from" "$to" "$total" "$pause"
done < "$T/table"
calm=$(head -1 "$T/table" | awk '{print $6}')
median_pause=$(awk '{print $3}' "$T/table" | sort -n | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo
echo "switchover (request -> new primary's session open): $(awk '{print $2}' "$T/table" | stats)"
echo "longest client pause per round:                      $(awk '{print $3}' "$T/table" | stats)"
echo "median request latency outside the rounds: $(printf '%.1f' "$calm") ms; $(jq -r '.answered // .requests // empty' "$T/waload.json" | head -1) requests, all 201"
overlaps=$(gate overlaps); duplicates=$(gate duplicates)
echo "overlaps at wagate: $overlaps, duplicates: $duplicates; target median pause <= 100 ms: $(awk -v m="$median_pause" 'BEGIN {print (m <= 100) ? "met" : "missed"}')"
[ "$overlaps" = 0 ] && [ "$duplicates" = 0 ]
