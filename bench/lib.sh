# The set-up the cluster benchmarks share, sourced from the top of the
# checkout:  . bench/lib.sh NAME
# A temp folder ($RUN, also $T) with the config path $CONF, a private
# MariaDB on $DBPORT (started here), free ports $GATE and $CTL, the
# programs in $BIN, and PIDS: every process a benchmark starts goes there
# and is stopped (TERM, then KILL after 15 s) on exit, with the database.
# WA_BENCH_KEEP=1 keeps the temp folder.
RUN=$(mktemp -d "/tmp/wa-bench-$1.XXXXXX")
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
