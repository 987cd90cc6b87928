#!/usr/bin/env bash
# The outage the loss of a database node causes (issue 17; make bench-galera,
# or alone; root). Three Galera nodes (bench/db.sh), wagate, two Masters, two
# Coreapps with two shards (each primary for one), a Webapp; every program
# given the three database nodes in one order (so all use db while it
# serves), the lease lengths docs/DEPLOY.md gives for Galera (lease_ttl and
# shard_lease_ttl 20 s), every other setting at its default. Under a steady
# load of POST /v1/messages through the Webapp (waload, 8 in flight), kill -9
# the database node the primary Coreapp of shard 0 uses, and report:
#   client errors       requests not answered 201, of all sent
#   longest gap         the longest stretch without a 201 answer (waload's),
#                       and where it lies against the kill
#   Coreapp failovers   logins of a shard by another Coreapp than the one
#                       before (wacheck, from wagate's ledger)
#   the moves           when each program moved to another database node (the
#                       first "db: database node ... does not serve" line of
#                       its log after the kill), and the last of them: every
#                       program moved
# The load goes on until wagate has WA_BENCH_AFTER (3000) more messages after
# the last move; the killed node is then started again (its rejoin, by IST,
# timed), the load stops, and wacheck checks what must hold: 0 overlaps,
# 0 lost, 0 duplicates (exit status 1 otherwise). The targets (no Coreapp
# failover, no client error) are reported, not enforced.
#   WA_BENCH_AFTER (3000)  WA_BENCH_KEEP=1 keeps the temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
AFTER=${WA_BENCH_AFTER:-3000}
[[ "$AFTER" =~ ^[1-9][0-9]*$ ]] || { echo "bench-galera-outage: WA_BENCH_AFTER is a positive integer, not '$AFTER'" >&2; exit 2; }
export WA_BENCH_DB=${WA_BENCH_DB:-galera}
[ "$WA_BENCH_DB" = galera ] || { echo "bench-galera-outage: runs on Galera only (WA_BENCH_DB=galera, not '$WA_BENCH_DB')" >&2; exit 2; }
. bench/lib.sh galera-outage
die() { echo "bench-galera-outage: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
q() { bench_db_sql bench -e "$1"; }

load_cluster_up shards=2 lease_ttl=20 shard_lease_ttl=20
PROGRAMS=(m1 m2 c1 c2 w1)
declare -A PID_OF
names=(gate m1 m2 c1 c2 w1)
for i in "${!names[@]}"; do PID_OF[${names[$i]}]=${PIDS[$i]}; done
# The program (m1, c2, ...) a node id runs as.
name_of() {
    local pid n; pid=$(q "SELECT pid FROM nodes WHERE id = $1")
    for n in "${!PID_OF[@]}"; do [ "${PID_OF[$n]}" != "$pid" ] || { echo "$n"; return 0; }; done
    echo "node $1"
}
two_primaries() { [ "$("$BIN/wagate" -c "$CONF" stats --json | jq '.open')" = 2 ]; }
wait_for 60 two_primaries || die "not two upstream sessions open"

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 3600 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!; PIDS+=($LOAD)
going() { local n; n=$(gate messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
wait_for 30 going 2000 || die "the load did not get going"

holder() { q "SELECT node_id FROM shard_map WHERE shard = $1"; }
db_node_of() { q "SELECT db_node FROM nodes WHERE id = $1"; }
known() { [ -n "$(db_node_of "$(holder 0)")" ]; }
wait_for 30 known || die "the database node of shard 0's primary is not known (nodes.db_node)"
c0=$(holder 0); c1=$(holder 1); master=$(q "SELECT holder FROM master_lease WHERE id = 1")
dnode=$(db_node_of "$c0"); dhost=$(topo_host_of "${dnode%:*}") || die "no database host at $dnode"
echo "bench-galera-outage: kill -9 of a Galera node under a steady load (waload, 8 in flight, through the Webapp); two shards"
echo "  database: $(bench_db_describe)"
echo "  settings: lease_ttl 20 s, shard_lease_ttl 20 s (docs/DEPLOY.md, On a Galera cluster), the rest at their defaults"
echo "  shard 0: $(name_of "$c0") (node $c0), shard 1: $(name_of "$c1") (node $c1), primary Master: $(name_of "$master") (node $master)"
# (nodes.db_node is written at a liveness claim: a Webapp's first comes
# db_liveness_interval, 60 s, after its start.)
for n in "${PROGRAMS[@]}"; do
    d=$(db_node_of "$(q "SELECT id FROM nodes WHERE pid = ${PID_OF[$n]} AND stopped_at IS NULL ORDER BY id DESC LIMIT 1")")
    echo "    $n uses ${d:-(not in nodes.db_node yet; db_hosts gives $dnode first)}"
done

# A program's move off the killed node: its log's first line saying so.
declare -A MOVES0
pattern="db: database node $dnode does not serve"
for n in "${PROGRAMS[@]}"; do MOVES0[$n]=$(grep -ac "$pattern" "$T/$n.log" || true); done
moved_at() {
    local line
    line=$(grep -a "$pattern" "$T/$1.log" | sed -n "$(( ${MOVES0[$1]} + 1 ))p")
    [ -n "$line" ] || return 1
    date -d "${line%% *}" +%s.%N
}
all_moved() { local n; for n in "${PROGRAMS[@]}"; do moved_at "$n" >/dev/null || return 1; done; }

t_kill=$(now)
bench_galera galera_kill "$dhost"
echo "  $(date -u -d "@$t_kill" +%T.%3N): kill -9 of $dhost ($dnode), the database node of shard 0's primary"
wait_for 60 all_moved || echo "  not every program moved within 60 s of the kill"
last=0
for n in "${PROGRAMS[@]}"; do
    if at=$(moved_at "$n"); then
        echo "    $n moved after $(secs "$t_kill" "$at") s: $(grep -a "$pattern" "$T/$n.log" | sed -n "$(( ${MOVES0[$n]} + 1 ))p" | sed 's/.*; using /to /')"
        last=$(awk -v a="$last" -v b="$at" 'BEGIN { print (b > a) ? b : a }')
    else
        echo "    $n: not moved"; last=
    fi
done
if [ -n "$last" ]; then MOVED="every program on another database node $(secs "$t_kill" "$last") s after the kill"
else MOVED="not every program moved within 60 s"; fi
echo "  $MOVED"
wait_for 120 going $(( $(gate messages) + AFTER )) || die "the load did not go on after the kill"
t_restart=$(now)
bench_galera galera_restart "$dhost" || die "$dhost did not rejoin"
echo "  $dhost started again: Synced in the primary component after $(secs "$t_restart" "$(now)") s"
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
ok=$(jq -r '.ok' "$T/waload.json")
wait_for 60 going "$ok" || echo "  wagate has $(gate messages) messages of $ok answered 201 after 60 s"
check=$("$BIN/wacheck" --record "$T/record.jsonl" --ledger "$T/ledger.jsonl" --name galera-outage 2>"$T/wacheck.err") \
    && crc=0 || crc=$?
[ "$crc" = 0 ] || cat "$T/wacheck.err" >&2
first=$(jq -s -r 'map(.sent_at) | min' "$T/record.jsonl")
failovers=$(grep -o '  failovers [0-9]*' <<<"$check" | awk '{ print $2 }')
requests=$(jq -r '.requests' "$T/waload.json")
errors=$(( requests - ok ))
echo
echo "bench-galera-outage: kill -9 of the database node $dhost under load, $(date -u '+%Y-%m-%d %H:%M UTC')"
jq -r --argjson k "$(secs "$first" "$t_kill")" \
    '"  \(.requests) requests in \(.seconds) s (\(.req_per_s)/s), answered 201: \(.ok); client errors: \(.requests - .ok)\(if .requests > .ok then " (" + (.failed | tostring) + ", transport " + (.transport_errors | tostring) + ")" else "" end)
  latency p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, max \(.latency_ms.max) ms
  longest gap between 201s: \(.longest_gap_s) s (from \(.longest_gap_from_s) s to \(.longest_gap_to_s) s of the run; the kill at \($k) s)"' "$T/waload.json"
echo "  Coreapp failovers (a shard's login by another Coreapp): $failovers"
echo "  $MOVED"
echo "  $check"
echo "  targets: no Coreapp failover: $([ "$failovers" = 0 ] && echo met || echo missed); no client error: $([ "$errors" = 0 ] && echo met || echo missed)"
[ "$rc" = 0 ] || [ "$errors" != 0 ] || echo "  waload exit status $rc: $(tail -n 3 "$T/waload.err")"
exit "$crc"
