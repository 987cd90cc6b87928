#!/usr/bin/env bash
# make bench-galera: the cluster on one MariaDB server and on three Galera
# nodes in the same run (issue 17; docs/BENCHMARKS.md, The database on
# Galera; root). One Galera cluster is started (bench/db.sh), and on the
# benchmark's own network host, each run with a fresh database:
#   1. make bench-api's full path (no anchor), single server, then Galera
#   2. make bench-failover, db mode, single then Galera; heartbeat mode, the same
#   3. bench/galera-outage.sh: kill -9 of the Galera node shard 0's primary uses
# then every figure again in one summary, with the machine's load (uptime)
# before and after. About 6 minutes on two cores.
#   WA_BENCH_SECONDS (20) bench-api's load   WA_BENCH_ROUNDS (10) failovers per run
#   WA_BENCH_KEEP=1 keeps the temp folders.
# Exit status 1 when a run failed (its own checks: wagate's duplicates and
# overlaps, the checker's lost messages).
set -euo pipefail
cd "$(dirname "$0")/.."
export WA_BENCH_DB=galera
. bench/db.sh
export WA_BENCH_ROUNDS=${WA_BENCH_ROUNDS:-10} WA_BENCH_SECONDS=${WA_BENCH_SECONDS:-20}
bench_db_enter "$PWD/bench/galera.sh"

OUT=$(mktemp -d /tmp/wa-bench-galera-all.XXXXXX)
[ -n "${WA_BENCH_KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT
T0=$(date +%s)
LOAD_BEFORE=$(uptime | sed 's/.*load average/load average/')
echo "bench-galera: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) × $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/ { print $2 }') GiB, kernel $(uname -r); $LOAD_BEFORE"
FAILED=
# step LABEL DB CMD...: one run, its output shown and kept in $OUT/LABEL.
step() {
    local label=$1 db=$2 t; shift 2
    t=$(date +%s)
    echo
    echo "==== $label ($db) ===="
    if WA_BENCH_DB=$db "$@" 2>&1 | tee "$OUT/$label"; then :
    else FAILED="$FAILED $label"; fi
    echo "==== $label: $(( $(date +%s) - t )) s"
}
step api-single single env WA_BENCH_ONLY=full bench/api.sh
step api-galera galera env WA_BENCH_ONLY=full bench/api.sh
for mode in db heartbeat; do
    step "failover-$mode-single" single env WA_BENCH_MODE=$mode bench/failover.sh
    step "failover-$mode-galera" galera env WA_BENCH_MODE=$mode bench/failover.sh
done
step outage galera bench/galera-outage.sh

echo
echo "bench-galera: the summary ($(( $(date +%s) - T0 )) s in all)"
echo "  load before: $LOAD_BEFORE"
echo "  load after:  $(uptime | sed 's/.*load average/load average/')"
echo "  bench-api, full path (wrk -t${WA_BENCH_THREADS:-2} -c${WA_BENCH_CONNECTIONS:-64} -d${WA_BENCH_SECONDS}s):"
printf '    %-8s %10s %10s %10s %10s %10s %14s\n' "" "requests" "req/s" "p50" "p99" "non-2xx" "socket errors"
for db in single galera; do
    row=$(grep -a '^  full path ' "$OUT/api-$db" | tail -n 1 | cut -c 16-) || row="(no figures)"
    printf '    %-8s %s\n' "$db" "$row"
    grep -a 'WARNING: other work ran' "$OUT/api-$db" | tail -n 1 | sed 's/^ */      /' || true
done
echo "  bench-failover, kill -9 of the primary Coreapp -> the new primary's upstream login ($WA_BENCH_ROUNDS rounds):"
for mode in db heartbeat; do
    for db in single galera; do
        line=$(grep -a '^\[.*\] kill -> ' "$OUT/failover-$mode-$db" | sed 's/^\[[^]]*\] kill -> new primary.s upstream login over //') || line="(no figures)"
        printf '    %-10s %-7s %s; %s\n' "$mode" "$db" "$line" "$(grep -a '^overlaps at wagate' "$OUT/failover-$mode-$db" || echo "overlaps: ?")"
    done
done
echo "  the loss of a database node (kill -9 under load):"
sed -n '/^bench-galera-outage: kill -9 of the database node/,$p' "$OUT/outage" | tail -n +2 | sed 's/^  /    /'
[ -z "${WA_BENCH_KEEP:-}" ] || echo "  every run's output: $OUT"
if [ -n "$FAILED" ]; then echo "bench-galera: failed:$FAILED" >&2; exit 1; fi
