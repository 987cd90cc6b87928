#!/usr/bin/env bash
# make bench-failover: kill -9 the primary Coreapp N times (default 20) and
# time kill → the new primary's upstream login, as wagate records it.
#   WA_BENCH_MODE   db (DB-based monitoring, db_liveness_interval 1 s),
#                   heartbeat (heartbeat_interval 0.1 s, unhealthy_interval 0.5 s)
#                   or defaults (every setting at its default)
#   WA_BENCH_ROUNDS (20)  WA_BENCH_KEEP=1 keeps the temp folder.
#   WA_BENCH_DB     single (its own MariaDB, the default) or galera (three
#                   Galera nodes, bench/db.sh; root). On Galera a new primary
#                   waits db_clock_skew longer before its login (docs/
#                   ARCHITECTURE.md, On a Galera cluster): set here to 40 % of
#                   lease_margin, 200 ms (db) and 80 ms (heartbeat), as it must
#                   stay below half of it; defaults keeps its default, 250 ms.
# The timings are set through the config keys a user would set.
# Prints min / median / max and the overlap count (must be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${WA_BENCH_ROUNDS:-20}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: WA_BENCH_ROUNDS is a positive integer, not '$ROUNDS'" >&2; exit 2; }
. bench/lib.sh failover
MODE=${WA_BENCH_MODE:-db}
case "$MODE" in
    db)         # DB-based monitoring only: heartbeats too slow to matter
        TIMINGS="db_liveness_interval = 1
heartbeat_interval = 5
unhealthy_interval = 30
shard_lease_ttl = 2
shard_renew_interval = 0.25
lease_margin = 0.5
upstream_ping_interval = 0.1
upstream_idle_timeout = 0.5"
        DESCRIBE="DB-based monitoring: db_liveness_interval 1 s, shard lease 2 s, idle 0.5 s" ;;
    heartbeat)  # the seed's fast path; leases tuned to match
        TIMINGS="db_liveness_interval = 5
heartbeat_interval = 0.1
unhealthy_interval = 0.5
shard_lease_ttl = 0.6
shard_renew_interval = 0.1
lease_margin = 0.2
upstream_ping_interval = 0.05
upstream_idle_timeout = 0.2"
        DESCRIBE="heartbeats: heartbeat_interval 0.1 s, unhealthy_interval 0.5 s, shard lease 0.6 s, idle 0.2 s" ;;
    defaults)   # every timing at its default
        TIMINGS=""
        DESCRIBE="default settings (heartbeat 5 s, unhealthy 30 s, shard lease 10 s, idle 3 s)" ;;
    *) echo "bench: WA_BENCH_MODE is db, heartbeat or defaults, not '$MODE'" >&2; exit 2 ;;
esac
if [ "$BENCH_DB" = galera ] && [ "$MODE" != defaults ]; then
    case "$MODE" in db) SKEW=200 ;; heartbeat) SKEW=80 ;; esac
    TIMINGS="$TIMINGS
db_clock_skew = $SKEW"
    DESCRIBE="$DESCRIBE, db_clock_skew $SKEW ms"
fi
cat > "$CONF" <<CONF
$(bench_db_conf "$DBPORT")
db_username = wacluster
db_password = wacluster
db_name = bench
db_statement_timeout = 1
bind_address = 127.0.0.1
ports = 0
lease_ttl = 3
lease_renew_interval = 0.5
upstream_endpoint = tcp://127.0.0.1:$GATE
upstream_control_endpoint = tcp://127.0.0.1:$CTL
wagate_ledger = $T/ledger.jsonl
# Repeated failovers are the point here: no rate limit, no hold-off.
failover_limit = 1000
promotion_holdoff = 0
bus_keys_dir = $T/keys/trusted
bus_cert = $(bus_cert "$T/keys" wactl wactl)
$TIMINGS
CONF
# start NAME PROGRAM, with NAME's own bus certificate.
start() {
    local role crt=""; role=$(role_of "$2")
    [ -z "$role" ] || crt=$(bus_cert "$T/keys" "$1" "$role")
    WA_BUS_CERT=$crt "$BIN/$2" -c "$CONF" >>"$T/$1.log" 2>&1 & PIDS+=($!)
}
q() { bench_db_sql bench -e "$1"; }
open_node() {
    "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"node":[0-9]*' | cut -d: -f2
}
# Two Coreapps claim liveness, and the primary Master hears both (heartbeats).
two_healthy() {
    [ "$(q "SELECT COUNT(*) FROM nodes n JOIN node_health h ON h.node_id = n.id WHERE n.kind = 'coreapp'
            AND n.stopped_at IS NULL AND h.state = 'healthy' AND h.updated_at > NOW(6) - INTERVAL 3 SECOND
            AND n.id IN (SELECT id FROM nodes WHERE last_seen > NOW(6) - INTERVAL 60 SECOND)")" -ge 2 ]
}
other_open() { local n; n=$(open_node); [ -n "$n" ] && [ "$n" != "$1" ]; }
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json
start m1 wamaster; start m2 wamaster
start c0 wacore; start c1 wacore
wait_for 60 "$BIN/wactl" -c "$CONF" wait --timeout 0.1 || { echo "bench: cluster not healthy" >&2; exit 1; }
echo "bench-failover ($MODE, $BENCH_DB): $ROUNDS × kill -9 of the primary Coreapp; $DESCRIBE"
echo "  database: $(bench_db_describe)"
times=()
for i in $(seq 1 "$ROUNDS"); do
    wait_for 30 bash -c "[ -n \"\$('$BIN/wagate' -c '$CONF' stats --json | tr -d '\n ' | grep -o '\"open\":{')\" ]" \
        || { echo "bench: no session open before round $i" >&2; exit 1; }
    old=$(open_node)
    pid=$(q "SELECT pid FROM nodes WHERE id = $old")
    t0=$(date +%s%N)
    kill -KILL "$pid"
    wait_for 120 other_open "$old" || { echo "bench: no new primary after round $i" >&2; exit 1; }
    # The login instant as wagate recorded it, against the kill instant.
    login=$(tr -d ' ' < "$T/ledger.jsonl" | grep '"event":"login"' | tail -1 | grep -o '"at":"[^"]*"' | cut -d'"' -f4)
    t1=$(date -d "$login" +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    times+=("$ms")
    printf '  round %2d: coreapp %s killed, new primary logged in after %d ms\n' "$i" "$old" "$ms"
    start "c$((i + 1))" wacore      # keep two Coreapps
    # The fresh one must be up and heard before the next kill.
    wait_for 60 two_healthy || { echo "bench: the new Coreapp did not come up" >&2; exit 1; }
done
overlaps=$("$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"overlaps":[0-9]*' | cut -d: -f2)
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
if [ $((n % 2)) -eq 1 ]; then median=${sorted[$((n / 2))]}
else median=$(( (sorted[n / 2 - 1] + sorted[n / 2]) / 2 )); fi
echo
echo "[$MODE, $BENCH_DB] kill -> new primary's upstream login over $n failovers: min ${sorted[0]} ms, median ${median} ms, max ${sorted[$((n - 1))]} ms"
echo "overlaps at wagate: $overlaps"
[ "$overlaps" = 0 ]
