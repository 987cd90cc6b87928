#!/usr/bin/env bash
# make bench-webhooks: a sustained rate of inbound messages from wagate,
# through the cluster (the primary Coreapp stores each before acknowledging
# it, then POSTs it), to a webhook receiver (wahook). For each rate it
# prints the events per second delivered and the emit → receive latency
# (wagate's ledger time of the event against wahook's arrival time, one
# clock), p50 / p99 / max.
#   WA_BENCH_RATES    events per second to try, in turn (default "500 1000 2000 4000 8000")
#   WA_BENCH_SECONDS  how long each rate runs (default 20)
#   WA_BENCH_KEEP=1   keeps the temp folder.
# A private cluster (MariaDB, wagate, two Masters, two Coreapps, wahook) in a
# temp folder, with the default callback settings (12 POSTs in flight).
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${WA_BENCH_RATES:-"500 1000 2000 4000 8000"}
SECONDS_PER_RATE=${WA_BENCH_SECONDS:-20}
. bench/lib.sh webhooks
HOOK=$(free_port)
cat > "$CONF" <<CONF
db_port = $DBPORT
db_username = wacluster
db_password = wacluster
db_name = bench
bind_address = 127.0.0.1
ports = 0
upstream_endpoint = tcp://127.0.0.1:$GATE
upstream_control_endpoint = tcp://127.0.0.1:$CTL
wagate_ledger = $T/ledger.jsonl
webhooks_url = http://127.0.0.1:$HOOK/webhook
shard_lease_ttl = 2
shard_renew_interval = 0.25
lease_margin = 0.5
upstream_ping_interval = 0.1
upstream_idle_timeout = 0.6
bus_keys_dir = $T/keys/trusted
bus_cert = $(bus_cert "$T/keys" wactl wactl)
CONF
# start NAME COMMAND..., with NAME's own bus certificate for a node.
start() {
    local name=$1 role crt=""; shift; role=$(role_of "$1")
    [ -z "$role" ] || crt=$(bus_cert "$T/keys" "$name" "$role")
    WA_BUS_CERT=$crt "$@" >>"$T/$name.log" 2>&1 & PIDS+=($!)
}
start hook "$BIN/wahook" --port "$HOOK" --out "$T/hooks.jsonl"
wait_for 10 grep -q "listening on" "$T/hook.log" || { echo "bench: wahook did not start" >&2; exit 1; }
start gate "$BIN/wagate" -c "$CONF"
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || { echo "bench: wagate did not start" >&2; exit 1; }
start m1 "$BIN/wamaster" -c "$CONF"; start m2 "$BIN/wamaster" -c "$CONF"
start c1 "$BIN/wacore" -c "$CONF"; start c2 "$BIN/wacore" -c "$CONF"
wait_for 90 "$BIN/wactl" -c "$CONF" wait --timeout 0.1 || { echo "bench: cluster not healthy" >&2; exit 1; }
# Warm up: a few events through the whole path.
"$BIN/wagate" -c "$CONF" inject --from 16505550000 --text warm-up > /dev/null
wait_for 20 test -s "$T/hooks.jsonl" || { echo "bench: the first callback did not arrive" >&2; exit 1; }

now_s() { date +%s.%N; }
echo "bench-webhooks: inbound messages from wagate through the primary Coreapp to wahook," \
     "${SECONDS_PER_RATE} s per rate; webhooks_max_concurrent_requests 12"
printf '%10s %10s %12s %10s %10s %10s %10s\n' "offered/s" "events" "delivered/s" "p50 ms" "p99 ms" "max ms" "lost"
status=0
for rate in $RATES; do
    t0=$(now_s)
    "$BIN/wagate" -c "$CONF" inbound-rate "$rate" > /dev/null
    sleep "$SECONDS_PER_RATE"
    "$BIN/wagate" -c "$CONF" inbound-rate 0 > /dev/null
    t1=$(now_s)
    # Drain: everything emitted is stored (acknowledged) and delivered (60 s at most).
    drained() {
        [ "$("$BIN/wagate" -c "$CONF" stats --json | jq .events.pending)" = 0 ] \
        && [ "$(db_sql bench -e "SELECT COUNT(*) FROM callbacks WHERE status = 'pending'")" = 0 ]
    }
    wait_for 60 drained || true
    # Emitted in the window: id and time; first arrival: id and time.
    jq -r --argjson t0 "$t0" --argjson t1 "$t1" 'select(.event == "emitted" and .t >= $t0 and .t <= $t1) | "\(.id) \(.t)"' \
        "$T/ledger.jsonl" | sort -k1,1 > "$T/emitted.$rate"
    jq -r 'select(.status == 200) | "\(.body.messages[0].id? // "-") \(.at)"' "$T/hooks.jsonl" \
        | awk '!seen[$1]++' | sort -k1,1 > "$T/received.$rate"
    join "$T/emitted.$rate" "$T/received.$rate" | awk '{ printf "%.3f %.6f\n", ($3 - $2) * 1000, $3 }' \
        | sort -n > "$T/latency.$rate"
    events=$(wc -l < "$T/emitted.$rate")
    got=$(wc -l < "$T/latency.$rate")
    lost=$(( events - got ))
    pct() { awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.1f", v[i] }' "$T/latency.$rate"; }
    # Delivered per second: window's events over first emission to last arrival.
    last=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { printf "%.6f", m }' "$T/latency.$rate")
    first=$(awk 'NR == 1 || $2 < m { m = $2 } END { printf "%.6f", m }' "$T/emitted.$rate")
    per_s=$(awk -v n="$got" -v a="${first:-0}" -v b="$last" 'BEGIN { d = b - a; printf "%.0f", (d > 0 ? n / d : 0) }')
    printf '%10s %10s %12s %10s %10s %10s %10s\n' "$rate" "$events" "$per_s" "$(pct 50)" "$(pct 99)" "$(pct 100)" "$lost"
    [ "$lost" = 0 ] || status=1
done
overlaps=$("$BIN/wagate" -c "$CONF" stats --json | jq .overlaps)
echo "overlaps at wagate: $overlaps; callbacks rows: $(db_sql bench -e "SELECT status, COUNT(*) FROM callbacks GROUP BY status" | tr '\t\n' ': ')"
[ "$overlaps" = 0 ] || status=1
exit "$status"
