#!/usr/bin/env bash
# The self-test of the chaos suite's Galera harness (tests/chaos/galera.sh):
# the three database hosts (and client) of the topology with CHAOS_DB=galera,
# in namespaces wagl<pid>-* of its own, and every fault the harness makes,
# each checked from the nodes themselves:
#
#   start          three nodes Synced, size 3; the user wacluster logs in over
#                  TCP from the client host to each (made once, replicated)
#   replicate      a write on db is read on db3
#   kill-db2       kill -9 db2 (a client in a query on it loses its connection):
#                  size 2, writes on db still accepted
#   restart-db2    db2 rejoins, Synced, and has the write made while it was down
#   partition-db3  db3 cut from db and db2: non-Primary there, a write on it fails
#                  with error 1047, db and db2 (size 2) keep accepting writes
#   heal-db3       db3 Synced in the Primary component again, with those writes
#   clock-db3      db3's wall clock +2 s: NOW() there about 2 s ahead of db's
#   rolling        each node stopped and started again, a write while it is down,
#                  read on it once it is back
#
# and prints how long each step took. Needs root; removes what it made at the
# end, also when a step fails or it is interrupted (its logs are then kept, and
# with WA_KEEP=1 always).
#
#   tests/chaos/galera-selftest.sh        (make galera-selftest)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CHAOS_DB=galera
CHAOS_NS=wagl$$
. "$ROOT/scripts/cluster-lib.sh"
. "$ROOT/tests/chaos/topology.sh"

[ "$(id -u)" = 0 ] || { echo "skip: the Galera self-test needs root (network namespaces)"; exit 0; }
for cmd in ip nft mariadbd mariadb mariadb-install-db mariadb-backup socat "wsrep_sst_${GALERA_SST:-mariabackup}"; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "galera-selftest: missing '$cmd' (make deps)"; exit 1; }
done
[ -f /usr/lib/galera/libgalera_smm.so ] || { echo "galera-selftest: missing the Galera provider (make deps: galera-4)"; exit 1; }

T=$(mktemp -d /tmp/wa-galera.XXXXXX)
mkdir -p "$T/logs" "$T/clock"
. "$ROOT/tests/chaos/galera.sh"
TOPO_HOSTS=(db db2 db3 client)      # only these of the topology

T0=$(date +%s.%N)
say() { echo "galera-selftest: [$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%6.1f", b - a }')] $*"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# The namespaces of earlier self-tests whose shell is gone.
clean_stale() {
    local ns id
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^wagl[0-9]+-' || true); do
        id=${ns%%-*}; id=${id#wagl}
        [ "$id" != "$$" ] || continue
        [ ! -d "/proc/$id" ] || continue
        say "removing $ns (an earlier self-test's)"
        topo__delete_ns "$ns"
    done
}

FAILED=
finish() {
    local rc=$? h
    trap - EXIT INT TERM HUP
    set +e
    [ -z "${SLEEPER:-}" ] || kill "$SLEEPER" 2>/dev/null
    for h in "${!PROBE[@]}"; do touch "$T/probe.$h.stop"; done
    galera_down         # (a probe's write hanging on a node returns)
    for h in "${!PROBE[@]}"; do wait "${PROBE[$h]}"; done
    topo_down
    if [ -n "$FAILED" ] || [ "$rc" != 0 ]; then
        say "FAILED${FAILED:+: $FAILED}; logs kept in $T"
        [ "$rc" != 0 ] || rc=1
    elif [ -z "${WA_KEEP:-}" ]; then
        rm -rf "$T"
    else
        say "logs kept in $T (WA_KEEP)"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- helpers

STEPS=()
# step NAME FUNCTION: run it, time it; the first failure ends the test.
step() {
    local name=$1 t rc=0
    t=$(date +%s.%N)
    say "---- $name"
    "$2" || rc=$?
    STEPS+=("$(printf '%-14s %7s s  %s' "$name" "$(since "$t")" "$([ "$rc" = 0 ] && echo ok || echo FAILED)")")
    if [ "$rc" != 0 ]; then
        FAILED=$name
        say "$name failed; $(galera_status | tr '\n' ';')"
        exit 1
    fi
}
fail() { say "FAIL: $*"; return 1; }
# expect WHAT ACTUAL EXPECTED
expect() { [ "$2" = "$3" ] || fail "$1: '$2', expected '$3'"; }

# Reads wait for the node to have applied everything committed before
# (wsrep_sync_wait = 1: reads), as the cluster's own reads will.
rows() { galera_sql "$1" -e "SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM selftest.t WHERE step = '$2'"; }
put() { galera_sql "$1" -e "INSERT INTO selftest.t (step, node) VALUES ('$2', '$1')"; }
# The mariadb client over TCP from the client host, as the cluster's user.
tcp_sql() {
    local h=$1; shift
    topo_exec client mariadb --no-defaults -h "$(topo_ip "$h")" -P 3306 -u wacluster -p"$DB_APP_PASSWORD" \
        --connect-timeout=5 -N -B "$@"
}
# log_mark HOST: where HOST's log ends now; transfer_since HOST MARK: how the
# node got the state it lacked since then: SST (a full copy), IST (the missing
# writesets from a donor's gcache) or none.
log_mark() { wc -l < "$(galera__log "$1")"; }
transfer_since() {
    local log; log=$(tail -n "+$(( $2 + 1 ))" "$(galera__log "$1")")
    if echo "$log" | grep -q "SST completed on joiner"; then echo "SST (full copy)"
    elif echo "$log" | grep -q "IST received\|IST completed on joiner"; then echo "IST"
    else echo "none"; fi
}

# A write every 0.1 s on HOST while a fault happens: probe_start HOST, then
# probe_stop HOST; probe_summary HOST prints how many, the longest, how many
# failed and with what.
declare -A PROBE=()
probe_start() {
    rm -f "$T/probe.$1.stop" "$T/probe.$1.out"
    (
        while [ ! -e "$T/probe.$1.stop" ]; do
            t=$(date +%s%N)
            err=$(galera_sql "$1" -e "INSERT INTO selftest.probe (node) VALUES ('$1')" 2>&1 | grep -o 'ERROR [0-9]*' | head -1) || true
            echo "$(( ($(date +%s%N) - t) / 1000000 )) ${err:-ok}" >> "$T/probe.$1.out"
            sleep 0.1       # the probe's interval
        done
    ) &
    PROBE[$1]=$!
}
probe_stop() {
    touch "$T/probe.$1.stop"
    wait "${PROBE[$1]}" 2>/dev/null || true
    unset "PROBE[$1]"
}
probe_summary() {
    awk '{ n++; if ($1 > max) max = $1; if ($2 != "ok") { f++; e[$2 " " $3]++ } }
         END { printf "%d writes, longest %.2f s, %d failed", n, max / 1000, f
               for (k in e) printf " (%s x%d)", k, e[k]; printf "\n" }' "$T/probe.$1.out"
}

# ---------------------------------------------------------------- steps

s_start() {
    galera_start || return 1
    local h
    for h in db db2 db3; do
        expect "state of $h" "$(galera__state "$h")" "Synced Primary 3" || return 1
        expect "the user wacluster over TCP on $h" "$(tcp_sql "$h" -e 'SELECT CURRENT_USER()' 2>&1)" "wacluster@$CHAOS_NET.%" || return 1
    done
    say "joins: db2 by $(transfer_since db2 0), db3 by $(transfer_since db3 0)"
    galera_status | sed 's/^/    /'
}

s_replicate() {
    galera_sql db -e "CREATE DATABASE selftest;
        CREATE TABLE selftest.t (id INT AUTO_INCREMENT PRIMARY KEY, step VARCHAR(40) NOT NULL,
                                 node VARCHAR(8) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6));
        CREATE TABLE selftest.probe (id INT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(8) NOT NULL);
        CREATE TABLE selftest.moves (id INT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(8) NOT NULL)" || return 1
    put db start || return 1
    expect "rows of 'start' on db3" "$(rows db3 start)" 1
    # A writer that moves from node to node, as a process does when its node
    # fails, gets rising auto-increment ids: each node's counter moves past
    # the rows it applied, and with wsrep_sync_wait = 5 (reads and inserts,
    # as every session of the cluster sets it) an insert waits until its node
    # applied everything committed before it (docs/ARCHITECTURE.md, On a
    # Galera cluster, 6). The callbacks' order rests on it.
    local i h id last=0
    for i in $(seq 1 30); do
        for h in db db2 db3; do
            id=$(galera_sql "$h" -e "SET SESSION wsrep_sync_wait = 5; INSERT INTO selftest.moves (node)
                                    VALUES ('$h'); SELECT LAST_INSERT_ID()") || return 1
            [ "$id" -gt "$last" ] || { fail "an insert on $h after one at id $last got id $id"; return 1; }
            last=$id
        done
    done
    say "90 inserts moving between the three nodes: ids rose each time (the last $last)"
}

s_kill_db2() {
    local t
    # A client in the middle of a query on db2 when it dies.
    tcp_sql db2 -e 'SELECT SLEEP(30)' > "$T/killed-client.out" 2>&1 & SLEEPER=$!
    wait_for 5 eval "[ \"\$(galera_sql db2 -e \"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'\")\" = 1 ]" \
        || fail "the client's query on db2 did not start" || return 1
    probe_start db
    t=$(date +%s.%N)
    galera_kill db2 || return 1
    wait "$SLEEPER" || true; SLEEPER=
    say "the client in a query on db2 saw: $(grep ERROR "$T/killed-client.out")"
    # Galera holds every commit until the dead node is evicted from the view.
    galera__wait 60 "db in a Primary component of 2" galera__synced db 2 || return 1
    say "db and db3 at size 2 after $(since "$t") s"
    put db while-db2-down || return 1
    probe_stop db
    say "writes on db from the kill on: $(probe_summary db)"
    expect "rows of 'while-db2-down' on db3" "$(rows db3 while-db2-down)" 1 || return 1
    expect "state of db2" "$(galera__state db2)" down
}

s_restart_db2() {
    local m; m=$(log_mark db2)
    galera_restart db2 || return 1
    say "db2 rejoined by $(transfer_since db2 "$m")"
    expect "rows of 'while-db2-down' on db2" "$(rows db2 while-db2-down)" 1 || return 1
    galera__wait 30 "all three Synced, size 3" galera_all_synced
}

s_partition_db3() {
    local t out rc
    probe_start db; probe_start db3
    t=$(date +%s.%N)
    galera_partition db3 || return 1
    say "db3 a minority after $(since "$t") s: db3 $(galera__state db3), db $(galera__state db), db2 $(galera__state db2)"
    probe_stop db; probe_stop db3
    say "writes from the cut on: on db $(probe_summary db); on db3 $(probe_summary db3)"
    say "db3: $(galera_sql db3 -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_connected', 'wsrep_local_state_comment', 'wsrep_cluster_status')" | tr '\t\n' '= ')"
    case $(galera__state db3) in *" non-Primary "*) ;; *) fail "db3 is not non-Primary: $(galera__state db3)"; return 1 ;; esac
    out=$(galera_sql db3 -e "INSERT INTO selftest.t (step, node) VALUES ('minority', 'db3')" 2>&1) && rc=0 || rc=$?
    say "a write on db3: $out"
    [ "$rc" != 0 ] && echo "$out" | grep -q "ERROR 1047" || fail "a write on the minority node did not fail with 1047" || return 1
    out=$(galera_sql db3 -e "SELECT COUNT(*) FROM selftest.t" 2>&1) || true
    say "a read of a table on db3: $out"
    out=$(galera_sql db3 -e "SELECT 1" 2>&1) || true
    say "SELECT 1 on db3: $out"
    out=$(galera_sql db3 -e "SET SESSION wsrep_dirty_reads = ON; SELECT COUNT(*) FROM selftest.t" 2>&1) || true
    say "a read with wsrep_dirty_reads on db3: $out"
    out=$(tcp_sql db3 -e "SELECT 1" 2>&1) || true
    say "the cluster's user over TCP on db3 (SELECT 1): $out"
    out=$(galera_sql db3 -e "SET SESSION wsrep_sync_wait = 1; SELECT 1" 2>&1) || true
    say "SELECT 1 with wsrep_sync_wait = 1 on db3: $out"
    put db partition-db || return 1
    put db2 partition-db2 || return 1
    expect "rows of 'partition-db' on db2" "$(rows db2 partition-db)" 1 || return 1
    expect "rows of 'partition-db2' on db" "$(rows db partition-db2)" 1
}

s_heal_db3() {
    local m; m=$(log_mark db3)
    probe_start db
    galera_heal db3 || return 1
    probe_stop db
    say "db3 rejoined by $(transfer_since db3 "$m"); writes on db meanwhile: $(probe_summary db)"
    expect "rows of 'partition-db' on db3" "$(rows db3 partition-db)" 1 || return 1
    expect "rows of 'partition-db2' on db3" "$(rows db3 partition-db2)" 1 || return 1
    expect "rows of 'minority' anywhere" "$(rows db minority)" 0 || return 1
    galera__wait 30 "all three Synced, size 3" galera_all_synced
}

s_clock_db3() {
    local a b d
    galera_clock db3 +2 || return 1
    a=$(galera_sql db -e 'SELECT UNIX_TIMESTAMP(NOW(6))') || return 1
    b=$(galera_sql db3 -e 'SELECT UNIX_TIMESTAMP(NOW(6))') || return 1
    d=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
    say "NOW() on db3 - NOW() on db: $d s"
    awk -v d="$d" 'BEGIN { exit !(d > 1.5 && d < 2.5) }' || fail "db3's clock is $d s from db's, not about 2" || return 1
    # A write there still commits, stamped by db3's clock.
    put db3 clock-db3 || return 1
    expect "rows of 'clock-db3' on db" "$(rows db clock-db3)" 1 || return 1
    expect "state of db3" "$(galera__state db3)" "Synced Primary 3" || return 1
    galera_clock db3 +0
}

# galera_rolling_restart's hook: a write on another node while HOST is down,
# read on HOST once it is back.
ROLL_T= ROLL_MARK=
roll_hook() {
    local h=$1 phase=$2 o
    o=$(galera__others "$h" | head -1)
    case $phase in
        down) put "$o" "rolling-$h" || return 1
              expect "state of $o" "$(galera__state "$o")" "Synced Primary 2" || return 1
              ROLL_T=$(date +%s.%N); ROLL_MARK=$(log_mark "$h") ;;
        up) expect "rows of 'rolling-$h' on $h" "$(rows "$h" "rolling-$h")" 1 || return 1
            say "$h back in $(since "$ROLL_T") s by $(transfer_since "$h" "$ROLL_MARK")" ;;
    esac
}
s_rolling() {
    galera_rolling_restart roll_hook || return 1
    local h n
    for h in db db2 db3; do
        n=$(galera_sql "$h" -e "SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM selftest.t") || return 1
        expect "rows on $h" "$n" 8 || return 1
    done
    galera_status | sed 's/^/    /'
}

# ---------------------------------------------------------------- run

clean_stale
say "hosts in namespaces $CHAOS_NS-*; logs in $T"
topo_up || { FAILED=topology; exit 1; }
step start s_start
step replicate s_replicate
step kill-db2 s_kill_db2
step restart-db2 s_restart_db2
step partition-db3 s_partition_db3
step heal-db3 s_heal_db3
step clock-db3 s_clock_db3
step rolling s_rolling
say "passed in $(since "$T0") s"
printf '    %s\n' "${STEPS[@]}"
