#!/usr/bin/env bash
# The database a benchmark runs against, chosen by WA_BENCH_DB:
#   single (the default)  a private MariaDB of the benchmark's own on
#                         127.0.0.1 (scripts/cluster-lib.sh, db_start)
#   galera                three MariaDB Galera nodes (tests/chaos/galera.sh),
#                         each on a network host of its own (db .2, db2 .6 and
#                         db3 .7 of tests/chaos/topology.sh), the benchmark and
#                         its whole cluster on a fourth (client, .41); every
#                         program is given the three as db_hosts, in one order,
#                         so all write through db while it serves (docs/DEPLOY.md,
#                         On a Galera cluster). Needs root (network namespaces),
#                         galera-4 and mariadb-backup (make deps).
#
# As a command:  bench/db.sh galera CMD [ARGS...]
#   makes the four hosts, starts the three nodes (GALERA_BUFFER_POOL 64M
#   each unless set: the single server's), runs CMD on the client host with
#   WA_BENCH_DB=galera and what the functions below need in its environment,
#   then stops the nodes and removes the hosts (their logs kept when CMD
#   failed, and with WA_BENCH_KEEP=1); exits with CMD's status. CMD may run
#   several benchmarks on the one cluster, each with a fresh database, and
#   single-server ones too (WA_BENCH_DB=single: the server then runs on the
#   client host's loopback): make bench-galera (bench/galera.sh).
#
# Sourced by bench/api.sh, bench/failover.sh and bench/lib.sh, with
# scripts/cluster-lib.sh (RUN set before these are called):
#   bench_db_enter SCRIPT [ARGS...]  WA_BENCH_DB=galera outside the hosts:
#                       exec bench/db.sh galera SCRIPT ARGS (a Galera cluster
#                       for this run alone); else returns
#   bench_db_up PORT    single: db_start PORT; galera: every node Synced (one
#                       that is down started again) and the database 'bench'
#                       dropped, so that each run starts from nothing as on a
#                       fresh server (PORT unused)
#   bench_db_conf PORT  the config lines that reach it: db_hostname and
#                       db_port, or db_hosts
#   bench_db_sql ARGS...  the mariadb client as the administrator (-N -B): the
#                       single server, or the first Galera node that answers
#   bench_db_down       single: db_stop; galera: nothing (the wrapper's)
#   bench_db_pids       NAME=PID per database process: mariadbd=PID, or
#                       galera-db=PID galera-db2=PID galera-db3=PID
#   bench_db_describe   one line: what the database is
# and, with WA_BENCH_DB=galera, tests/chaos/galera.sh's functions through
# bench_galera FUNCTION ARGS... (galera_kill db, galera_restart db, ...).
BENCH_DB=${WA_BENCH_DB:-single}
case "$BENCH_DB" in
    single|galera) ;;
    *) echo "bench: WA_BENCH_DB is single or galera, not '$BENCH_DB'" >&2; exit 2 ;;
esac
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The single server's innodb_flush_log_at_trx_commit: 2 as make run (a
# commit survives mariadbd's crash, not the host's), or 1, the default a
# production server keeps (each commit on disk before it is answered).
BENCH_DB_FLUSH=${WA_BENCH_DB_FLUSH:-2}
case "$BENCH_DB_FLUSH" in
    1|2) ;;
    *) echo "bench: WA_BENCH_DB_FLUSH is 1 or 2 (innodb_flush_log_at_trx_commit), not '$BENCH_DB_FLUSH'" >&2; exit 2 ;;
esac

bench_galera_version() { dpkg-query -W -f '${Version}' galera-4 2>/dev/null || echo "?"; }
bench_db_describe() {
    local v; v=$(mariadbd --version 2>/dev/null | awk '{ print $3 }')
    if [ "$BENCH_DB" = galera ]; then
        echo "three MariaDB $v Galera nodes (galera-4 $(bench_galera_version)), each on a network host of its own; db_hosts in one order"
    else
        echo "one MariaDB $v server on the benchmark host's loopback, innodb_flush_log_at_trx_commit $BENCH_DB_FLUSH"
    fi
}

if [ "$BENCH_DB" = galera ] && [ -n "${WA_BENCH_GALERA:-}" ]; then
    # On the client host, inside bench/db.sh galera: its nodes.
    export CHAOS_DB=galera
    [ -n "${CHAOS_NS:-}" ] || { echo "bench: WA_BENCH_GALERA is set but not CHAOS_NS (run through bench/db.sh galera)" >&2; exit 2; }
    GALERA_DIR=$WA_BENCH_GALERA/galera
    . "$BENCH_ROOT/tests/chaos/topology.sh"
    . "$BENCH_ROOT/tests/chaos/galera.sh"
    # galera.sh keeps its logs and clocks under $T: the wrapper's folder.
    bench_galera() { local T=$WA_BENCH_GALERA; "$@"; }
fi

bench_db_enter() {
    [ "$BENCH_DB" = galera ] && [ -z "${WA_BENCH_GALERA:-}" ] || return 0
    exec "$BENCH_ROOT/bench/db.sh" galera "$@"
}

bench_db_up() {
    if [ "$BENCH_DB" = single ]; then
        DB_SERVER_OPTIONS="--innodb-flush-log-at-trx-commit=$BENCH_DB_FLUSH ${DB_SERVER_OPTIONS:-}" db_start "$1" >/dev/null
        return
    fi
    bench_galera galera_ensure || return 1
    bench_db_sql -e 'DROP DATABASE IF EXISTS bench'
}
bench_db_conf() {
    if [ "$BENCH_DB" = single ]; then printf 'db_hostname = 127.0.0.1\ndb_port = %s\n' "$1"
    else echo "db_hosts = $(galera_db_hosts)"; fi
}
bench_db_sql() {
    [ "$BENCH_DB" = galera ] || { db_sql "$@"; return; }
    local h
    for h in "${GALERA_HOSTS[@]}"; do
        galera__alive "$h" && galera_sql "$h" --connect-timeout=2 "$@" && return 0
    done
    return 1
}
bench_db_down() { [ "$BENCH_DB" = galera ] || db_stop; }
bench_db_pids() {
    if [ "$BENCH_DB" = single ]; then echo "mariadbd=$(cat "$RUN/db/mariadbd.pid" 2>/dev/null)"; return; fi
    local h
    for h in "${GALERA_HOSTS[@]}"; do echo "galera-$h=$(galera__pid "$h")"; done
}

# ---------------------------------------------------------------- the command
bench__galera_wrap() {
    local cmd
    [ $# -gt 0 ] || { echo "usage: bench/db.sh galera CMD [ARGS...]" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "bench: WA_BENCH_DB=galera needs root (network namespaces)" >&2; exit 1; }
    for cmd in ip nft mariadbd mariadb mariadb-install-db mariadb-backup socat wsrep_sst_mariabackup; do
        command -v "$cmd" >/dev/null 2>&1 || { echo "bench: WA_BENCH_DB=galera needs '$cmd' (make deps)" >&2; exit 1; }
    done
    [ -f /usr/lib/galera/libgalera_smm.so ] || { echo "bench: WA_BENCH_DB=galera needs the Galera provider (make deps: galera-4)" >&2; exit 1; }
    export CHAOS_DB=galera CHAOS_NS=wabg$$
    export GALERA_BUFFER_POOL=${GALERA_BUFFER_POOL:-64M}
    T=$(mktemp -d /tmp/wa-bench-galera.XXXXXX)
    mkdir -p "$T/logs" "$T/clock"
    . "$BENCH_ROOT/scripts/cluster-lib.sh"
    . "$BENCH_ROOT/tests/chaos/topology.sh"
    . "$BENCH_ROOT/tests/chaos/galera.sh"
    TOPO_HOSTS=(db db2 db3 client)      # only these of the topology
    # The namespaces of earlier runs whose wrapper is gone.
    local ns id
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^wabg[0-9]+-' || true); do
        id=${ns%%-*}; id=${id#wabg}
        [ "$id" != "$$" ] && [ ! -d "/proc/$id" ] || continue
        echo "bench: removing $ns (an earlier run's)"
        topo__delete_ns "$ns"
    done
    BENCH_RC=1
    bench__galera_finish() {
        trap - EXIT INT TERM HUP
        set +e
        galera_down
        topo_down
        if [ "$BENCH_RC" != 0 ] || [ -n "${WA_BENCH_KEEP:-}" ]; then echo "bench: the Galera nodes' logs are in $T/logs"
        else rm -rf "$T"; fi
        exit "$BENCH_RC"
    }
    trap bench__galera_finish EXIT
    trap 'BENCH_RC=130; exit 130' INT TERM HUP
    topo_up || { echo "bench: cannot make the network hosts" >&2; exit 1; }
    local t0; t0=$(date +%s.%N)
    galera_start || { echo "bench: the Galera cluster did not start" >&2; exit 1; }
    echo "bench: three Galera nodes Synced ($(galera_db_hosts), innodb-buffer-pool-size $GALERA_BUFFER_POOL) after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; running $* on host client ($(topo_ip client))"
    BENCH_RC=0
    WA_BENCH_DB=galera WA_BENCH_GALERA=$T ip netns exec "$(topo_ns client)" "$@" || BENCH_RC=$?
    exit "$BENCH_RC"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        galera) shift; bench__galera_wrap "$@" ;;
        *) echo "usage: bench/db.sh galera CMD [ARGS...]  (run CMD beside a three-node Galera cluster)" >&2; exit 2 ;;
    esac
fi
