# The chaos suite's database as a three-node MariaDB Galera cluster
# (issue 17): one mariadbd on each of the hosts db, db2 and db3 of
# tests/chaos/topology.sh (which adds db2 .6 and db3 .7 when CHAOS_DB=galera).
# Sourced by tests/chaos/lib.sh when CHAOS_DB=galera, and by
# tests/chaos/galera-selftest.sh; needs topology.sh and scripts/cluster-lib.sh
# (wait_for) sourced first, and T, the run's folder.
#
#            +---------------------- CHAOS_NS-br ----------------------+
#            |                       bridge br0                         |
#            +--+--------------+--------------+-------------------------+
#               |              |              |         (and the other hosts)
#              db             db2            db3
#             .2             .6             .7
#          mariadbd        mariadbd       mariadbd     port 3306 on the host's address
#                                                      and 127.0.0.1; Galera 4567,
#                                                      IST 4568, SST (mariabackup) 4444
#
#   galera_start                 the three nodes: db bootstraps the cluster
#                                (--wsrep-new-cluster), db2 and db3 join it (SST);
#                                returns once all three are Synced in a Primary
#                                component of size 3; then the cluster's user
#                                'wacluster'@'10.77.0.%' (made once, replicated)
#   galera_sql HOST ARGS...      the mariadb client on HOST's node (its Unix socket,
#                                as root; -N -B), e.g. galera_sql db3 -e 'SELECT 1'
#   galera_kill HOST             kill -9 HOST's node (and its SST helpers); returns
#                                once it is gone
#   galera_stop HOST             clean shutdown of HOST's node (SIGTERM; SIGKILL
#                                after 60 s)
#   galera_restart HOST          HOST's node (stopped first if it runs) started again:
#                                it rejoins (IST, or SST) and is Synced in the
#                                Primary component with every running node
#   galera_partition HOST        cut HOST from the other two database hosts only
#                                (topo_cut, both ways); returns once HOST is in a
#                                non-Primary component and the other two in a
#                                Primary one of size 2
#   galera_heal HOST             undo galera_partition HOST (only those cuts);
#                                returns once HOST is Synced in the Primary component
#   galera_clock HOST OFFSET     HOST's node's wall clock OFFSET s (+2, -5, +0) from
#                                the true one (libfaketime, CLOCK_MONOTONIC untouched);
#                                returns once SELECT NOW(6) there shows it
#   galera_rolling_restart [CMD...]
#                                each node in turn stopped and restarted, waiting
#                                for Synced and size 3 before the next; CMD, when
#                                given, runs as `CMD HOST down` while HOST is
#                                stopped and `CMD HOST up` once it is back
#   galera_status                one line per node: state comment, cluster status,
#                                size (or down / no answer), for logs
#   galera_down                  stop everything galera_start made (SIGTERM to all,
#                                SIGKILL after 60 s); the data stays in $GALERA_DIR
#
#   galera_ensure                whatever of the three is down started again (when
#                                none runs, galera_start: db bootstraps, from the
#                                data it has), then all Synced, size 3 (lib.sh's
#                                chaos_db_start)
#   galera_all_synced            true when all three are Synced, Primary, size 3
#   galera_db_hosts              the three nodes as host:port, comma-separated
#
# Each node: datadir, socket and pid file under $GALERA_DIR/HOST ($T/galera/HOST),
# its log in $T/logs/galera-HOST.log, its clock offset in $T/clock/HOST (as for
# the single server: libfaketime with FAKETIME_TIMESTAMP_FILE and
# FAKETIME_DONT_FAKE_MONOTONIC=1), its options in $GALERA_DIR/HOST/my.cnf.
# GALERA_PROVIDER_OPTIONS adds to wsrep_provider_options (e.g.
# "evs.suspect_timeout=PT2S"), GALERA_SERVER_OPTIONS adds options (words) to
# mariadbd's. GALERA_WAIT (120) bounds every wait in s. GALERA_BUFFER_POOL
# (48M) is each node's innodb-buffer-pool-size: three nodes beside the
# cluster's programs on one test machine (the benchmarks give 64M, the
# single server's, for a like-for-like comparison: bench/db.sh).
#
# State transfers: wsrep_sst_method=mariabackup (GALERA_SST). rsync does not
# work here: its joiner runs an rsync daemon, which, started by a mariadbd
# running as root, switches to the user nobody and cannot write the datadir.
# A node that rejoins with its data (a restart, a healed partition) gets what
# it missed by IST from a donor's gcache (32 MB here); only a node without
# data gets a full copy (SST), and the script then sleeps 10 s before sending.

GALERA_HOSTS=(db db2 db3)
GALERA_DIR=${GALERA_DIR:-$T/galera}
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
GALERA_SST=${GALERA_SST:-mariabackup}
GALERA_WAIT=${GALERA_WAIT:-120}
GALERA_BUFFER_POOL=${GALERA_BUFFER_POOL:-48M}
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
DB_APP_PASSWORD=${DB_APP_PASSWORD:-wacluster}

galera__dir() { echo "$GALERA_DIR/$1"; }
galera__log() { echo "$T/logs/galera-$1.log"; }
galera__pid() { cat "$(galera__dir "$1")/pid" 2>/dev/null; }
galera__check_host() {
    case " ${GALERA_HOSTS[*]} " in *" $1 "*) return 0 ;; esac
    echo "galera: no database host '$1' (${GALERA_HOSTS[*]})" >&2
    return 1
}
# A process that exists and is not a zombie.
galera__pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local st; st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$st" != Z ]
}
galera__alive() { galera__pid_alive "$(galera__pid "$1")"; }
galera__running() {     # the hosts whose node runs
    local h; for h in "${GALERA_HOSTS[@]}"; do galera__alive "$h" && echo "$h"; done; return 0
}
galera__addrs() {
    local h out=
    for h in "${GALERA_HOSTS[@]}"; do out="${out:+$out,}$(topo_ip "$h")"; done
    echo "$out"
}
galera_db_hosts() {
    local h out=
    for h in "${GALERA_HOSTS[@]}"; do out="${out:+$out,}$(topo_ip "$h"):3306"; done
    echo "$out"
}

galera_sql() {
    local h=$1; shift
    mariadb --no-defaults -S "$(galera__dir "$h")/mariadb.sock" -uroot -N -B "$@"
}

# galera__state HOST: "comment status size", e.g. "Synced Primary 3",
# "Initialized non-Primary 1"; "down" when its process is gone, "no answer"
# when it runs but does not answer (starting, in SST, stopped).
galera__state() {
    galera__alive "$1" || { echo down; return 0; }
    local out
    out=$(galera_sql "$1" --connect-timeout=3 -e "SHOW GLOBAL STATUS WHERE Variable_name IN
            ('wsrep_local_state_comment', 'wsrep_cluster_status', 'wsrep_cluster_size')" 2>/dev/null) \
        || { echo "no answer"; return 0; }
    echo "$out" | awk '{ v[tolower($1)] = $2 }
        END { printf "%s %s %s\n", v["wsrep_local_state_comment"], v["wsrep_cluster_status"], v["wsrep_cluster_size"] }'
}
# galera__synced HOST [SIZE]: Synced in a Primary component (of SIZE nodes).
galera__synced() {
    local s; s=$(galera__state "$1")
    case $s in "Synced Primary ${2:-}"*) return 0 ;; esac
    return 1
}
galera_all_synced() {
    local h
    for h in "${GALERA_HOSTS[@]}"; do galera__synced "$h" 3 || return 1; done
}
galera_status() {
    local h
    for h in "${GALERA_HOSTS[@]}"; do printf '%-4s %s\n' "$h" "$(galera__state "$h")"; done
}

# galera__wait SECONDS WHAT CMD...: poll CMD (every 0.2 s) until it succeeds;
# on timeout, say WHAT did not happen and show every node's state.
galera__wait() {
    local secs=$1 what=$2; shift 2
    local until=$(( $(date +%s%N) + secs * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s%N)" -ge "$until" ]; then
            echo "galera: $what: not within $secs s; $(galera_status | tr '\n' ';')" >&2
            return 1
        fi
        sleep 0.2       # poll interval
    done
}
# galera__wait_nodes SIZE HOST...: every HOST Synced in a Primary component
# of SIZE, giving up at once when one's process exits.
galera__wait_nodes() {
    local size=$1 h ok until=$(( $(date +%s%N) + GALERA_WAIT * 1000000000 ))
    shift
    while :; do
        ok=1
        for h in "$@"; do
            galera__alive "$h" && continue
            echo "galera: the node on $h exited: $(grep -E '\[ERROR\]' "$(galera__log "$h")" | tail -n 3 | cut -c 1-300)" >&2
            return 1
        done
        for h in "$@"; do galera__synced "$h" "$size" || { ok=0; break; }; done
        [ "$ok" = 0 ] || return 0
        if [ "$(date +%s%N)" -ge "$until" ]; then
            echo "galera: $* not Synced in a Primary component of $size within $GALERA_WAIT s; $(galera_status | tr '\n' ';')" >&2
            return 1
        fi
        sleep 0.2       # poll interval
    done
}

# galera__launch HOST [--wsrep-new-cluster]: start HOST's node in its namespace,
# under libfaketime (wall clock only, offset from $T/clock/HOST).
galera__launch() {
    local h=$1 dir ip env=() pid
    shift
    [[ $GALERA_BUFFER_POOL =~ ^[1-9][0-9]*[KMG]?$ ]] \
        || { echo "galera: GALERA_BUFFER_POOL is a size such as 64M, not '$GALERA_BUFFER_POOL'" >&2; return 1; }
    dir=$(galera__dir "$h"); ip=$(topo_ip "$h")
    mkdir -p "$dir/data" "$dir/tmp" "$T/logs" "$T/clock"
    [ -f "$T/clock/$h" ] || echo "+0" > "$T/clock/$h"
    # Only the first node is installed: the others start empty and receive
    # everything from a donor (SST).
    if [ "${1:-}" = --wsrep-new-cluster ] && [ ! -d "$dir/data/mysql" ]; then
        UMASK=0600 UMASK_DIR=0700 mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
            --tmpdir="$dir/tmp" --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
            --skip-test-db >> "$(galera__log "$h")" 2>&1 \
            || { echo "galera: mariadb-install-db failed on $h: see $(galera__log "$h")" >&2; return 1; }
    fi
    # Bootstrapping from a node that was not the last to leave: Galera asks
    # for it to be said so (the harness bootstraps from db, whatever happened).
    if [ "${1:-}" = --wsrep-new-cluster ] && [ -f "$dir/data/grastate.dat" ]; then
        sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$dir/data/grastate.dat"
    fi
    # (No wait for the port's connections in TIME-WAIT: a node killed while
    # clients were connected binds 3306 again at once, SO_REUSEADDR.)
    [ ! -f "$FAKETIME_LIB" ] || env=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/clock/$h"
                                     FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_CACHE_DURATION=1)
    # The node's options in a file of its own, given with --defaults-file (not
    # --no-defaults): the SST scripts read the server's options with
    # my_print_defaults, which without it reads the system's /etc/mysql (its
    # [mysqld_safe] syslog sends their errors to a syslog that is not there).
    cat > "$dir/my.cnf" <<CNF
[mysqld]
datadir = $dir/data
socket = $dir/mariadb.sock
tmpdir = $dir/tmp
pid-file = $dir/mariadbd.pid
port = 3306
bind-address = 127.0.0.1,$ip
user = $(id -un)
log-error = $(galera__log "$h")
skip-name-resolve
max-connections = 500
innodb-buffer-pool-size = $GALERA_BUFFER_POOL
innodb-log-file-size = 32M
innodb-flush-log-at-trx-commit = 2
binlog-format = ROW
innodb-autoinc-lock-mode = 2
default-storage-engine = InnoDB
wsrep-on = ON
wsrep-provider = $GALERA_PROVIDER
wsrep-cluster-name = wacluster
wsrep-cluster-address = gcomm://$(galera__addrs)
wsrep-node-address = $ip
wsrep-node-name = $h
wsrep-provider-options = "gcache.size=32M;gcache.page_size=32M${GALERA_PROVIDER_OPTIONS:+;$GALERA_PROVIDER_OPTIONS}"
wsrep-sst-method = $GALERA_SST
[sst]
sst-log-archive = 0
CNF
    echo "---- $(date -u +%FT%T.%3NZ) start $*" >> "$(galera__log "$h")"
    # A node that did not shut down cleanly (kill -9) has no position in
    # grastate.dat (seqno -1): without one it would need a full copy (SST).
    # Its position is recovered from InnoDB first, as galera_recovery does
    # under systemd, so that it can rejoin by IST.
    local start_pos=()
    if [ -d "$dir/data/mysql" ] && grep -q '^seqno: *-1' "$dir/data/grastate.dat" 2>/dev/null; then
        local pos
        pos=$(ip netns exec "$(topo_ns "$h")" env "${env[@]}" mariadbd --defaults-file="$dir/my.cnf" --wsrep-recover --log-error="$dir/recover.log" \
                  >/dev/null 2>&1; grep -a 'WSREP: Recovered position:' "$dir/recover.log" | tail -n 1 \
                  | sed 's/.*Recovered position: *//')
        cat "$dir/recover.log" >> "$(galera__log "$h")" 2>/dev/null; rm -f "$dir/recover.log"
        [ -z "$pos" ] || start_pos=(--wsrep-start-position="$pos")
    fi
    # setsid: a session (and process group) of its own, which galera_kill ends
    # whole (the SST script and the mariadb-backup, socat it runs are in it).
    UMASK=0600 UMASK_DIR=0700 ip netns exec "$(topo_ns "$h")" env "${env[@]}" setsid mariadbd \
        --defaults-file="$dir/my.cnf" ${GALERA_SERVER_OPTIONS:-} ${start_pos[@]+"${start_pos[@]}"} "$@" \
        >> "$(galera__log "$h")" 2>&1 &
    pid=$!
    # Out of the shell's job table: its kill -9 is not reported as "Killed"
    # (the shell still reaps it).
    disown "$pid" 2>/dev/null || true
    echo "$pid" > "$dir/pid"
}

galera_start() {
    local h
    for h in "${GALERA_HOSTS[@]}"; do
        ! galera__alive "$h" || { echo "galera: the node on $h already runs" >&2; return 1; }
    done
    galera__launch db --wsrep-new-cluster || return 1
    galera__wait_nodes 1 db || return 1
    galera__launch db2 || return 1
    galera__launch db3 || return 1
    galera__wait_nodes 3 "${GALERA_HOSTS[@]}" || return 1
    galera__users
}

# The administrator only through the socket (db_harden), and the cluster's
# user for the test network and loopback, made on db: Galera replicates
# account statements (TOI), so all three have them.
galera__users() {
    galera_sql db -e "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'%', 'root'@'$(hostname)',
                                      ''@'localhost', ''@'$(hostname)';
        CREATE USER IF NOT EXISTS 'wacluster'@'$CHAOS_NET.%' IDENTIFIED BY '$DB_APP_PASSWORD';
        GRANT ALL PRIVILEGES ON *.* TO 'wacluster'@'$CHAOS_NET.%';
        CREATE USER IF NOT EXISTS 'wacluster'@'127.0.0.1' IDENTIFIED BY '$DB_APP_PASSWORD';
        GRANT ALL PRIVILEGES ON *.* TO 'wacluster'@'127.0.0.1';"
}

# galera__signal_wait HOST SIGNAL SECONDS: signal the node's process group
# (or the node alone when it leads none), wait until it is gone.
galera__signal_wait() {
    local h=$1 sig=$2 secs=$3 pid pgid
    pid=$(galera__pid "$h") || return 0
    if galera__pid_alive "$pid"; then
        kill -CONT "$pid" 2>/dev/null || true
        pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
        if [ "$pgid" = "$pid" ]; then kill "-$sig" -- "-$pid" 2>/dev/null || true
        else kill "-$sig" "$pid" 2>/dev/null || true; fi
        wait_for "$secs" eval "! galera__pid_alive $pid" || return 1
    fi
    wait "$pid" 2>/dev/null || true     # reap it when it is this shell's child
    rm -f "$(galera__dir "$h")/pid"
}

galera_kill() {
    galera__check_host "$1" || return 1
    galera__signal_wait "$1" KILL 30 || { echo "galera: the node on $1 survived SIGKILL for 30 s" >&2; return 1; }
}

galera_stop() {
    galera__check_host "$1" || return 1
    galera__signal_wait "$1" TERM 60 || {
        echo "galera: the node on $1 did not stop within 60 s; killing it" >&2
        galera__signal_wait "$1" KILL 30
    }
}

galera_restart() {
    local h=$1 n
    galera__check_host "$h" || return 1
    ! galera__alive "$h" || galera_stop "$h" || return 1
    n=$(galera__running | wc -l)
    if [ "$n" = 0 ]; then galera__launch "$h" --wsrep-new-cluster || return 1
    else galera__launch "$h" || return 1; fi
    galera__wait_nodes $(( n + 1 )) "$h"
}

galera_ensure() {
    local h
    [ -n "$(galera__running)" ] || { galera_start; return; }
    for h in "${GALERA_HOSTS[@]}"; do galera__alive "$h" || galera__launch "$h" || return 1; done
    galera__wait_nodes 3 "${GALERA_HOSTS[@]}"
}

# The other database hosts than HOST.
galera__others() { local h; for h in "${GALERA_HOSTS[@]}"; do [ "$h" = "$1" ] || echo "$h"; done; }

galera__minority() {    # HOST outside the Primary component, the others in one of 2
    local h=$1 o
    case $(galera__state "$h") in *" non-Primary "*) ;; *) return 1 ;; esac
    for o in $(galera__others "$h"); do galera__synced "$o" 2 || return 1; done
}
galera_partition() {
    local h=$1 o
    galera__check_host "$h" || return 1
    for o in $(galera__others "$h"); do topo_cut "$h" "$(topo_ip "$o")" || return 1; done
    galera__wait "$GALERA_WAIT" "$h partitioned into a minority" galera__minority "$h"
}

galera_heal() {
    local h=$1 o ip set
    galera__check_host "$h" || return 1
    for o in $(galera__others "$h"); do
        ip=$(topo_ip "$o")
        for set in cut_out cut_in; do
            topo__nft "$h" delete element inet wachaos "$set" "{ $ip }" 2>/dev/null || true
        done
    done
    galera__wait_nodes "$(galera__running | wc -l)" "$h"
}

# galera__clock_is HOST OFFSET: NOW(6) on HOST is OFFSET s from ours (within 0.15 s: the query's round trip).
galera__clock_is() {
    local now off
    now=$(galera_sql "$1" --connect-timeout=3 -e 'SELECT UNIX_TIMESTAMP(NOW(6))') || return 1
    off=$(awk -v a="$now" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", a - b }')
    awk -v o="$off" -v w="$2" 'BEGIN { d = o - w; exit !(d < 0.15 && d > -0.15) }'
}
galera_clock() {
    local h=$1 off=$2
    galera__check_host "$h" || return 1
    echo "$off" > "$T/clock/$h"
    galera__wait 10 "the clock of $h at $off s" galera__clock_is "$h" "${off#+}"
}

galera_rolling_restart() {
    local h
    for h in "${GALERA_HOSTS[@]}"; do
        galera_stop "$h" || return 1
        [ $# = 0 ] || "$@" "$h" down || return 1
        galera_restart "$h" || return 1
        [ $# = 0 ] || "$@" "$h" up || return 1
    done
    galera__wait "$GALERA_WAIT" "all three Synced, size 3" galera_all_synced
}

galera_down() {
    local h pid pids=()
    for h in "${GALERA_HOSTS[@]}"; do
        pid=$(galera__pid "$h") || continue
        galera__pid_alive "$pid" || continue
        kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
        pids+=("$h")
    done
    for h in ${pids[@]+"${pids[@]}"}; do
        galera__signal_wait "$h" TERM 60 || galera__signal_wait "$h" KILL 30 || true
    done
    return 0
}
