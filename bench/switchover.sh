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
WEB=$(free_port)
die() { echo "bench-switchover: $*" >&2; exit 1; }
PASSWORD="Bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')!1"
echo "$PASSWORD" > "$T/admin.password"
chmod 600 "$T/admin.password"
cat > "$CONF" <<CONF
db_port = $DBPORT
db_username = wacluster
db_password = wacluster
db_name = bench
bind_address = 127.0.0.1
ports = 0
webapp_bind = 127.0.0.1
upstream_endpoint = tcp://127.0.0.1:$GATE
upstream_control_endpoint = tcp://127.0.0.1:$CTL
wagate_ledger = $T/ledger.jsonl
media_dir = $T/media
admin_password_file = $T/admin.password
bus_keys_dir = $T/keys/trusted
bus_cert = $(bus_cert "$T/keys" wactl wactl)
CONF
mkdir -p "$T/media"
start() {
    local role crt=""; role=$(role_of "$2")
    [ -z "$role" ] || crt=$(bus_cert "$T/keys" "$1" "$role")
    WA_BUS_CERT=$crt "$BIN/$2" -c "$CONF" >>"$T/$1.log" 2>&1 & PIDS+=($!)
}
q() { db_sql bench -e "$1"; }
gate() { "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json >/dev/null || die "wagate did not start"
start m1 wamaster; start m2 wamaster
start c1 wacore; start c2 wacore
wait_for 90 "$BIN/wactl" -c "$CONF" wait --timeout 0.1 >/dev/null || die "cluster not healthy"
WEBAPP_EXTERNAL_PORTS=$WEB start w1 waweb
wait_for 30 grep -q "ready: serving" "$T/w1.log" || die "the Webapp did not start"
TOKEN=$(curl -sS -u "admin:$PASSWORD" -X POST "http://127.0.0.1:$WEB/v1/users/login" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
[ -n "$TOKEN" ] || die "no token"
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
