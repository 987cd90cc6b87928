#!/usr/bin/env bash
# make bench-failover: kill -9 the primary Coreapp N times (default 20) and
# time kill → the new primary's upstream login, as wagate records it.
# DB-based monitoring with db_liveness_interval = 1 s; the leases and the
# gateway's idle timeout tuned to match (the keys a user would set):
#   WA_BENCH_ROUNDS (20)  WA_BENCH_KEEP=1 keeps the temp folder.
# Prints min / median / max and the overlap count (must be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${WA_BENCH_ROUNDS:-20}
RUN=$(mktemp -d /tmp/wa-bench.XXXXXX)
BIN=$PWD/bin
. scripts/cluster-lib.sh
T=$RUN; CONF=$T/bench.conf
DBPORT=$(free_port); GATE=$(free_port); CTL=$(free_port)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait_for 15 bash -c "! kill -0 $p" || kill -KILL "$p" 2>/dev/null || true; done
    db_stop
    [ -n "${WA_BENCH_KEEP:-}" ] || rm -rf "$RUN"
}
trap cleanup EXIT
db_start "$DBPORT" >/dev/null
cat > "$CONF" <<CONF
db_port = $DBPORT
db_username = wacluster
db_password = wacluster
db_name = bench
db_statement_timeout = 1
bind_address = 127.0.0.1
ports = 0
lease_ttl = 3
lease_renew_interval = 0.5
lease_margin = 0.5
shard_lease_ttl = 2
shard_renew_interval = 0.25
db_liveness_interval = 1
upstream_endpoint = tcp://127.0.0.1:$GATE
upstream_control_endpoint = tcp://127.0.0.1:$CTL
upstream_ping_interval = 0.1
upstream_idle_timeout = 0.5
wagate_ledger = $T/ledger.jsonl
CONF
start() { "$BIN/$2" -c "$CONF" >>"$T/$1.log" 2>&1 & PIDS+=($!); }
q() { db_sql bench -e "$1"; }
open_node() {
    "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"node":[0-9]*' | cut -d: -f2
}
other_open() { local n; n=$(open_node); [ -n "$n" ] && [ "$n" != "$1" ]; }
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json
start m1 wamaster; start m2 wamaster
start c0 wacore; start c1 wacore
wait_for 60 "$BIN/wactl" -c "$CONF" wait --timeout 0.1 || { echo "bench: cluster not healthy" >&2; exit 1; }
echo "bench-failover: $ROUNDS × kill -9 of the primary Coreapp (db_liveness_interval 1 s, shard lease 2 s, idle 0.5 s)"
times=()
for i in $(seq 1 "$ROUNDS"); do
    wait_for 30 bash -c "[ -n \"\$('$BIN/wagate' -c '$CONF' stats --json | tr -d '\n ' | grep -o '\"open\":{')\" ]" \
        || { echo "bench: no session open before round $i" >&2; exit 1; }
    old=$(open_node)
    pid=$(q "SELECT pid FROM nodes WHERE id = $old")
    t0=$(date +%s%N)
    kill -KILL "$pid"
    wait_for 60 other_open "$old" || { echo "bench: no new primary after round $i" >&2; exit 1; }
    # The login instant as wagate recorded it, against the kill instant.
    login=$(tr -d ' ' < "$T/ledger.jsonl" | grep '"event":"login"' | tail -1 | grep -o '"at":"[^"]*"' | cut -d'"' -f4)
    t1=$(date -d "$login" +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    times+=("$ms")
    printf '  round %2d: coreapp %s killed, new primary logged in after %d ms\n' "$i" "$old" "$ms"
    start "c$((i + 1))" wacore      # keep two Coreapps
done
overlaps=$("$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"overlaps":[0-9]*' | cut -d: -f2)
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
if [ $((n % 2)) -eq 1 ]; then median=${sorted[$((n / 2))]}
else median=$(( (sorted[n / 2 - 1] + sorted[n / 2]) / 2 )); fi
echo
echo "kill -> new primary's upstream login over $n failovers: min ${sorted[0]} ms, median ${median} ms, max ${sorted[$((n - 1))]} ms"
echo "overlaps at wagate: $overlaps"
[ "$overlaps" = 0 ]
