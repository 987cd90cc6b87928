# The chaos suite's cluster: MariaDB, wagate, two Masters, three Coreapps,
# a Webapp and the client, each on its own host (tests/chaos/topology.sh);
# the faults; the load; the checker. Sourced by tests/chaos/chaos.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/scripts/cluster-lib.sh"
. "$ROOT/tests/chaos/topology.sh"

T=${CHAOS_DIR:-$(mktemp -d /tmp/wa-chaos.XXXXXX)}
mkdir -p "$T/logs" "$T/clock" "$T/scenarios" "$T/bin"
# The binaries of this run, copied: a rebuild during the run (bin/ is shared)
# must not change what a restarted node runs.
# A binary copied while a linker writes it is caught by running it.
snapshot_bins() {
    local try p
    for try in 1 2 3 4 5 6 7 8 9 10; do
        [ "$try" = 1 ] || sleep 1       # retry: a build under way finishes
        cp -p "${WA_BIN:-$ROOT/bin}"/* "$T/bin/"
        for p in wamaster wacore wagate wactl waweb waload wacheck wadelay wahook warogue; do
            "$T/bin/$p" --help >/dev/null 2>&1 || continue 2
        done
        return 0
    done
    echo "chaos: the binaries in ${WA_BIN:-$ROOT/bin} do not run (a build under way?)" >&2
    return 1
}
snapshot_bins
BIN=$T/bin
HOOKS_LOG=$T/webhooks.jsonl
RUN=$T/dbrun                # cluster-lib's db_* keep MariaDB under $RUN/db
LEDGER=$T/ledger.jsonl
SUMMARY=$T/summary.md
SHARDS=2
RATE=${CHAOS_RATE:-25}      # requests per second from the client
RELAY_PORT=7000             # wadelay on every Coreapp host, in the path of its bus
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
declare -gA PID=()          # host -> pid of the node it runs
declare -gA RELAY=()        # Coreapp host -> pid of its wadelay
ALL_PIDS=()                 # every process started here, for the cleanup

now_s() { date +%s.%N; }
CHAOS_T0=$(now_s)
say() { echo "chaos: [$(awk -v a="$CHAOS_T0" -v b="$(now_s)" 'BEGIN { printf "%6.1f", b - a }')] $*"; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- the cluster

# The settings every node starts with: short timings set through the keys a
# user sets, as the integration tests do, but with more room for a machine
# shared with other work (a spurious failover is not a violation, but it
# blurs what a scenario shows).
chaos_config() {
    # Leases of 3 s; on Galera 20 s: a database node that is gone or cut
    # off stalls every commit on every node until Galera has evicted it
    # (measured here with its default evs.suspect_timeout of 5 s, kept:
    # shorter ones evicted joiners in the middle of their state transfer:
    # about 6 s after a kill -9, 10 s after a partition), and a holder must
    # renew through the next node within its lease (docs/ARCHITECTURE.md,
    # On a Galera cluster, 5; docs/DEPLOY.md).
    # The DB-based rule's liveness claims likewise: a holder whose database
    # node is the one cut off cannot claim until it has moved to another,
    # while a Master on the majority writes again at once; claims every 1 s
    # (silent after 2 s) replaced such a holder, every 10 s (20 s) do not.
    CHAOS_LEASE=3 CHAOS_LIVENESS=1
    [ "${CHAOS_DB:-single}" != galera ] || { CHAOS_LEASE=20; CHAOS_LIVENESS=10; }
    cat > "$T/cluster.conf" <<CONF
db_hostname = $(topo_ip db)
db_port = 3306
db_username = wacluster
db_password = wacluster
db_name = wacluster
db_connect_timeout = 1
db_statement_timeout = 1
ports = 6250-6253
shards = $SHARDS
lease_ttl = $CHAOS_LEASE
lease_renew_interval = 0.3
lease_margin = 0.6
shard_lease_ttl = $CHAOS_LEASE
shard_renew_interval = 0.3
db_liveness_interval = $CHAOS_LIVENESS
heartbeat_interval = 0.25
unhealthy_interval = 1.5
promotion_holdoff = 2
failover_limit = 1000
failover_window = 60
upstream_endpoint = tcp://$(topo_ip gate):6300
upstream_control_endpoint = tcp://$(topo_ip gate):6301
upstream_ping_interval = 0.2
upstream_idle_timeout = 0.8
upstream_login_timeout = 1
request_attempt_timeout = 1
wagate_ledger = $LEDGER
wagate_status_delay = 0.5
wagate_inbound_rate = 2
webhooks_url = http://$(topo_ip client):9091/webhook
callback_backoff_delay_ms = 200
max_callback_backoff_delay_ms = 2000
sent_status = 1
webapp_port = 9090
media_dir = $T/media
admin_password_file = $T/admin-password
bus_keys_dir = $T/keys/trusted
bus_cert = $T/keys/wactl.key_secret
CONF
    mkdir -p "$T/media"
    # The node bus: every host's program has its own certificate, all
    # trusted; the shared config's bus_cert is the tools' (wactl).
    bus_cert "$T/keys" wactl wactl >/dev/null || { say "cannot make the bus certificates"; exit 1; }
    # The client logs in from its own host: no default password is served there.
    (umask 077; echo 'Wacluster-2024!' > "$T/admin-password")
    local h
    # On Galera every program is given the three database nodes, in an
    # order of its own (the first it prefers): the nodes write through
    # different database nodes, so what rests on certification is exercised
    # all the time (docs/ARCHITECTURE.md, On a Galera cluster); wactl and
    # the tools, in cluster.conf, start with db.
    [ "${CHAOS_DB:-single}" != galera ] || printf 'db_hosts = %s\ndb_failback_interval = 5\n' "$(galera_db_hosts)" >> "$T/cluster.conf"
    for h in gate m1 m2 c1 c2 c3 web; do
        local role; role=$(role_of "$(prog_of "$h")")
        { grep -v '^db_hosts = ' "$T/cluster.conf"; echo "bind_address = $(topo_ip "$h")"; echo "webapp_bind = $(topo_ip "$h")"
          [ "${CHAOS_DB:-single}" != galera ] || echo "db_hosts = $(chaos_db_order "$h")"
          [ -z "$role" ] || echo "bus_cert = $(bus_cert "$T/keys" "$h" "$role")"; } > "$T/$h.conf"
        echo "+0" > "$T/clock/$h"
    done
}

# The program a host runs.
prog_of() {
    case $1 in
        gate) echo wagate ;; m?) echo wamaster ;; c?) echo wacore ;; web) echo waweb ;;
        *) echo "no program for host $1" >&2; return 1 ;;
    esac
}

# node_start HOST: its program, in its namespace. Masters, Coreapps and the
# Webapp run under libfaketime with only the wall clock faked (offset read
# from $T/clock/HOST), so that a scenario can step one process's clock.
node_start() {
    local h=$1 prog env=()
    prog=$(prog_of "$h")
    env=(COREAPP_HOSTNAME="$(topo_ip "$h")")
    if [ "$h" != gate ] && [ -f "$FAKETIME_LIB" ]; then
        env+=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/clock/$h" FAKETIME_DONT_FAKE_MONOTONIC=1
              FAKETIME_CACHE_DURATION=1
              # make asan: the sanitizer's runtime then is not first to load
              ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
    fi
    echo "---- $(date -u +%FT%T.%3NZ) start" >> "$T/logs/$h.log"
    ip netns exec "$(topo_ns "$h")" env "${env[@]}" "$BIN/$prog" -c "$T/$h.conf" >> "$T/logs/$h.log" 2>&1 &
    PID[$h]=$!
    ALL_PIDS+=($!)
}

node_alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
node_signal() { [ -z "${PID[$1]:-}" ] || kill "-$2" "${PID[$1]}" 2>/dev/null || true; }
# node_stop HOST: SIGTERM, SIGKILL after 15 s.
node_stop() {
    local pid=${PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 15 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$1]"     # reaped: its number may be another process's soon
}
# node_kill HOST: kill -9, and reap it.
node_kill() {
    local pid=${PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$1]"     # reaped: its number may be another process's soon
}

# wadelay on a Coreapp host: the host's TCP to every Master's bus and control
# port goes through it (an nftables redirect); its delay is 0 until a
# scenario writes $T/delay.HOST.
relay_start() {
    local h=$1
    echo "0" > "$T/delay.$h"
    ip netns exec "$(topo_ns "$h")" "$BIN/wadelay" --listen "127.0.0.1:$RELAY_PORT" --mark "$CHAOS_MARK" \
        --control "$T/delay.$h" >> "$T/logs/wadelay.$h.log" 2>&1 &
    RELAY[$h]=$!
    ALL_PIDS+=($!)
}

# wahook, the webhook receiver, on the client's host.
hook_start() {
    ip netns exec "$(topo_ns client)" "$BIN/wahook" --bind "$(topo_ip client)" --port 9091 --out "$HOOKS_LOG" \
        >> "$T/logs/wahook.log" 2>&1 &
    HOOK_PID=$!
    ALL_PIDS+=($!)
    wait_for 10 grep -q "listening on" "$T/logs/wahook.log"
}
# hook_fail SECONDS: the receiver answers 500 for that long.
hook_fail() {
    topo_exec client curl -s -o /dev/null -X POST "http://$(topo_ip client):9091/fail?seconds=$1"
}

# MariaDB runs under libfaketime too (the offset in $T/clock/db; its
# CLOCK_MONOTONIC untouched), so that a scenario can step the database
# host's clock, which judges every lease.
chaos_db_start() {
    local net=$CHAOS_NET env=()
    [ -f "$T/clock/db" ] || echo "+0" > "$T/clock/db"
    [ ! -f "$FAKETIME_LIB" ] || env=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T/clock/db"
                                     FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_CACHE_DURATION=1)
    topo_exec db env "${env[@]}" bash -c "RUN='$RUN'; . '$ROOT/scripts/cluster-lib.sh'; db_start 3306 '127.0.0.1,$(topo_ip db)'" || return 1
    db_sql -e "CREATE USER IF NOT EXISTS 'wacluster'@'$net.%' IDENTIFIED BY 'wacluster';
               GRANT ALL PRIVILEGES ON *.* TO 'wacluster'@'$net.%';"
}
chaos_db_stop() { db_stop; }
chaos_db_kill() {
    local pid; pid=$(cat "$RUN/db/mariadbd.pid" 2>/dev/null) || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 30 bash -c "! kill -0 $pid" || true
    rm -f "$RUN/db/mariadbd.pid"
}
db_alive() { db_sql -e 'SELECT 1' >/dev/null 2>&1; }

q() { db_sql wacluster -e "$1"; }

# The database nodes in HOST's order of preference (Galera): m1, c1 db first;
# m2, c2 db2 first; c3, web db3 first.
chaos_db_order() {
    local a=db b=db2 c=db3
    case $1 in m2|c2) a=db2 b=db3 c=db ;; c3|web) a=db3 b=db c=db2 ;; esac
    echo "$(topo_ip $a):3306,$(topo_ip $b):3306,$(topo_ip $c):3306"
}
# The database host a node (by id) uses now (nodes.db_node), or nothing.
db_host_of_node() {
    local n; n=$(q "SELECT db_node FROM nodes WHERE id = $1" 2>/dev/null) || return 1
    [ -n "$n" ] && topo_host_of "${n%:*}"
}

# CHAOS_DB=galera: the database is a three-node Galera cluster on db, db2 and
# db3 (tests/chaos/galera.sh; topology.sh adds the two hosts). The functions
# above then act on it: chaos_db_start starts whatever of the three is down
# (the whole cluster when none runs) and waits until all are Synced;
# chaos_db_stop and chaos_db_kill stop or kill -9 node db only (the one q and
# wactl use, the first of galera_db_hosts), the other two carry on; db_alive
# is all three Synced in a Primary component of 3; q asks node db.
if [ "${CHAOS_DB:-single}" = galera ]; then
    . "$ROOT/tests/chaos/galera.sh"
    chaos_db_start() { galera_ensure; }
    chaos_db_stop() { galera_stop db; }
    chaos_db_kill() { galera_kill db; }
    db_alive() { galera_all_synced; }
    # Any node that serves (db may be the one a scenario killed or cut off).
    q() {
        local h
        for h in "${GALERA_HOSTS[@]}"; do
            galera__alive "$h" && galera_sql "$h" --connect-timeout=2 wacluster -e "$1" 2>/dev/null && return 0
        done
        return 1
    }
fi

# Tools: wactl from the database's host, wagate's stats from its own.
wactl() { topo_exec db "$BIN/wactl" -c "$T/cluster.conf" "$@"; }
gate_stats() { topo_exec gate "$BIN/wagate" -c "$T/cluster.conf" stats --json 2>/dev/null | tr -d '\n '; }
gate_stat() { gate_stats | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
# The node whose session wagate has open for SHARD, or nothing.
# The node of the session open at wagate for shard SHARD (of any layout).
gate_open_node() {
    gate_stats | jq -r --argjson s "$1" '[.accounts[]? | select(.shard == $s and .open != null) | .open.node] | last // empty'
}
# Sessions open at wagate (one per shard of the layout in force when served),
# and that count (it changes with POST /v1/account/shards).
gate_open_shards() { gate_stats | grep -o '"highest_epoch":[0-9]*,"open":{' | wc -l; }
shards_in_force() { q "SELECT shards FROM cluster_info WHERE id = 1"; }

# The shard count through the API, from the client's host, as an operator
# changes it (docs/OPERATIONS.md, Changing the shard count).
#   shards_api GET | shards_api POST N
# prints the HTTP status (000: no answer); the body is in $T/shards.body.
# A token refused (a clock step of the database ages it) is taken again.
shards_api() {
    local url=http://$(topo_ip web):9090/v1/account/shards code try args
    for try in 1 2; do
        args=(-s -m 10 -o "$T/shards.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN")
        [ "$1" = GET ] || args+=(-X POST -H 'Content-Type: application/json'
                                 -d "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"shards\":$2}")
        code=$(topo_exec client curl "${args[@]}" "$url" 2>/dev/null) || true
        [ "$code" = 401 ] && [ "$try" = 1 ] && TOKEN=$(login 2>/dev/null || echo "$TOKEN") && continue
        break
    done
    echo "${code:-000}"
}
# What GET answers: the count and the change's state, e.g. "4 draining",
# "4 promoting 3/4", "2" (no change), or the status when not 200.
shards_state() {
    local code; code=$(shards_api GET)
    [ "$code" = 200 ] || { echo "HTTP $code"; return 0; }
    jq -r '.account | "\(.shards)" + (if .change then " \(.change.from)->\(.change.to) \(.change.state)"
           + (if .change.state == "draining" then " released \(.change.released)/\(.change.of)"
              else " serving \(.change.serving)/\(.change.of)" end) else "" end)' "$T/shards.body" 2>/dev/null \
        || echo "unreadable: $(head -c 200 "$T/shards.body")"
}
# The same from the database (the suite's bookkeeping, answered with no
# Master): "shards 2, draining to 4, layout 3".
shards_db_state() {
    q "SELECT CONCAT('shards ', shards, IF(change_state = '', '', CONCAT(', ', change_state, ' to ', target_shards)),
                     ', layout ', layout) FROM cluster_info WHERE id = 1"
}
# shards_over N: the API answers N in force and no change running, and
# wagate has a session open for each of the N shards.
shards_over() {
    [ "$(shards_api GET)" = 200 ] && [ "$(jq -c .account "$T/shards.body" 2>/dev/null)" = "{\"shards\":$1}" ] \
        && [ "$(gate_open_shards)" -ge "$1" ]
}
# shards_settle N: a condition for wait_for that also acts: while a change
# runs it waits; with none running and another count in force it asks for
# N (201, or 409 when a change began meanwhile); true once N is in force,
# no change runs and each shard is served upstream.
shards_settle() {
    [ "$(shards_api GET)" = 200 ] || return 1
    local acc; acc=$(jq -c .account "$T/shards.body" 2>/dev/null) || return 1
    case $acc in
        "{\"shards\":$1}") [ "$(gate_open_shards)" -ge "$1" ] ;;
        *'"change"'*) return 1 ;;
        *) shards_api POST "$1" >/dev/null; return 1 ;;
    esac
}

healthy() { wactl wait --timeout 0.1 >/dev/null 2>&1; }
# Monitoring whole again: the three Coreapps up, each healthy in the primary
# Master's heartbeat view, reported by the secondary Master and unhealthy to
# none (node_health, written by the primary Master at its heartbeats). A
# fault that left a Master deaf to a Coreapp shows here, long before it
# costs a failover.
monitoring_whole() {
    [ "$(q "SELECT COUNT(*) FROM nodes n JOIN node_health h ON h.node_id = n.id
            WHERE n.kind = 'coreapp' AND n.stopped_at IS NULL AND n.last_seen > NOW(6) - INTERVAL 2 SECOND
              AND h.state = 'healthy' AND h.votes = 0 AND h.observers >= 1
              AND h.updated_at > NOW(6) - INTERVAL 2 SECOND")" = 3 ] \
    && [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'coreapp' AND stopped_at IS NULL
               AND last_seen > NOW(6) - INTERVAL 2 SECOND")" = 3 ]
}
monitoring_state() {
    q "SELECT CONCAT(n.id, ':', COALESCE(h.state, '-'), '/', COALESCE(h.votes, '-'), '/', COALESCE(h.observers, '-'))
       FROM nodes n LEFT JOIN node_health h ON h.node_id = n.id
       WHERE n.kind = 'coreapp' AND n.stopped_at IS NULL AND n.last_seen > NOW(6) - INTERVAL 2 SECOND" | tr '\n' ' '
}

# Who is who, from the database (the suite's own bookkeeping; the checker
# uses none of it).
host_of_node() { topo_host_of "$(q "SELECT hostname FROM nodes WHERE id = $1")"; }
shard_holder() { q "SELECT node_id FROM shard_map WHERE shard = $1"; }
shard_host() { local n; n=$(shard_holder "$1"); [ -n "$n" ] && host_of_node "$n"; }
master_host() {
    local n; n=$(q "SELECT holder FROM master_lease WHERE id = 1 AND expires_at > NOW(6)")
    [ -n "$n" ] && host_of_node "$n"
}
master_node() { q "SELECT holder FROM master_lease WHERE id = 1 AND expires_at > NOW(6)"; }
lease_moved_from() { local n; n=$(master_node); [ -n "$n" ] && [ "$n" != "$1" ]; }
other_master() { [ "$1" = m1 ] && echo m2 || echo m1; }
# A Coreapp host that holds no shard.
spare_coreapp() {
    local h held=" $(shard_host 0) $(shard_host 1) "
    for h in c1 c2 c3; do case $held in *" $h "*) ;; *) echo "$h"; return 0 ;; esac; done
    return 1
}

# The login of SHARD's session at wagate is by another node than NODE.
gate_moved() { local n; n=$(gate_open_node "$1"); [ -n "$n" ] && [ "$n" != "$2" ]; }
lease_moved() { local m; m=$(master_host); [ -n "$m" ] && [ "$m" != "$1" ]; }

# Served again: every shard has a session upstream and wagate has received
# 20 more messages since MARK (gate_stat messages).
served_since() {
    [ "$(gate_open_shards)" -ge "$(shards_in_force)" ] || return 1
    local n; n=$(gate_stat messages)
    [ -n "$n" ] && [ "$n" -ge $(( $1 + 20 )) ]
}
wait_served() {
    local mark; mark=$(gate_stat messages || true); mark=${mark:-0}
    wait_for "${1:-60}" served_since "$mark"
}

chaos_up() {
    topo_check || { echo "skip: $(topo_check)"; exit 0; }
    topo_clean_stale
    say "hosts in namespaces $CHAOS_NS-*; logs in $T"
    topo_up || { say "cannot build the topology"; exit 1; }
    chaos_config
    chaos_db_start || { say "MariaDB did not start in $(topo_ns db)"; exit 1; }
    hook_start || { say "wahook did not start"; exit 1; }
    node_start gate
    wait_for 10 gate_stats || { say "wagate did not start"; exit 1; }
    local h m
    for h in c1 c2 c3; do
        relay_start "$h"
        for m in m1 m2; do topo_redirect "$h" "$(topo_ip "$m")" 6251 6252 "$RELAY_PORT"; done
    done
    node_start m1; node_start m2
    node_start c1; node_start c2; node_start c3
    wait_for 60 healthy || { say "the cluster is not healthy: $(wactl wait --timeout 0.1 2>&1)"; exit 1; }
    node_start web
    wait_for 30 grep -q "ready: serving" "$T/logs/web.log" || { say "the Webapp is not ready"; exit 1; }
    TOKEN=$(login) || { say "cannot log in to the Webapp"; exit 1; }
    wait_for 60 monitoring_whole || { say "monitoring not whole (coreapp:state/votes/observers $(monitoring_state))"; exit 1; }
}

# A token of admin, from the client's host (admin_password_file set the password).
login() {
    local url=http://$(topo_ip web):9090/v1/users/login body
    body=$(topo_exec client curl -s -u 'admin:Wacluster-2024!' -X POST "$url")
    case $body in *'"token"'*) ;; *)
        body=$(topo_exec client curl -s -u admin:secret -X POST "$url" -H 'Content-Type: application/json' \
               -d '{"new_password":"Wacluster-2024!"}') ;;
    esac
    echo "$body" | grep -o '"token":"[^"]*"' | cut -d'"' -f4 | grep .
}

# Everything back to normal: the network healed, no delay, every clock true,
# every process running and resumed, then healthy and serving.
chaos_restore() {
    local h
    for h in "${TOPO_HOSTS[@]}"; do topo_heal "$h"; done
    for h in c1 c2 c3; do
        echo 0 > "$T/delay.$h"
        kill -0 "${RELAY[$h]}" 2>/dev/null || relay_start "$h"
    done
    for h in m1 m2 c1 c2 c3 web; do echo "+0" > "$T/clock/$h"; node_signal "$h" CONT; done
    echo "+0" > "$T/clock/db"
    [ "${CHAOS_DB:-single}" != galera ] || { echo "+0" > "$T/clock/db2"; echo "+0" > "$T/clock/db3"; }
    db_alive || chaos_db_start || true
    for h in gate m1 m2 c1 c2 c3 web; do node_alive "$h" || node_start "$h"; done
    kill -0 "$HOOK_PID" 2>/dev/null || hook_start || true
    hook_fail 0 || true
    wait_for 60 healthy || { say "not healthy 60 s after restoring: $(wactl wait --timeout 0.1 2>&1 | tr '\n' ' ')"; return 1; }
    wait_for 60 monitoring_whole || { say "monitoring not whole 60 s after restoring (coreapp:state/votes/observers $(monitoring_state))"; return 1; }
    wait_served 60 || { say "not serving 60 s after restoring (sessions open: $(gate_open_shards))"; return 1; }
}

chaos_down() {
    local pid ours=()
    set +e
    # Only our children not reaped yet: a process that ended and was reaped
    # left its number free, and with pid_max at 32768 (as here) another
    # process on the machine may have it by now (a signal sent to the old
    # number once stopped another test's Webapp). The database is stopped
    # by its pid file below.
    local live; live=" $(jobs -p | tr '\n' ' ') "
    for pid in "${ALL_PIDS[@]}"; do [[ $live == *" $pid "* ]] && ours+=("$pid"); done
    for pid in "${ours[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
    for pid in "${ours[@]}"; do
        wait_for 15 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    done
    if [ "${CHAOS_DB:-single}" = galera ]; then galera_down; else db_stop 2>/dev/null; fi
    topo_down
}

# ---------------------------------------------------------------- the load

# load_start DIR: waload on the client's host, recording into DIR.
load_start() {
    local dir=$1
    mkdir -p "$dir"
    rm -f "$dir/stop"
    ip netns exec "$(topo_ns client)" "$BIN/waload" --url "http://$(topo_ip web):9090" --token "$TOKEN" \
        --concurrency 400 --rate "$RATE" --duration 86400 --timeout 60 \
        --run-id "$(basename "$dir")-$RANDOM" --stop-file "$dir/stop" --record "$dir/record.jsonl" --json \
        > "$dir/waload.json" 2> "$dir/waload.err" &
    LOAD_PID=$!
    ALL_PIDS+=($!)
}
load_stop() {
    local dir=$1
    touch "$dir/stop"
    wait_for 90 bash -c "! kill -0 $LOAD_PID" || { kill -TERM "$LOAD_PID" 2>/dev/null; wait_for 10 bash -c "! kill -0 $LOAD_PID"; }
    wait "$LOAD_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------- scenarios

# scenario_begin NAME: the load starts; the window opens.
scenario_begin() {
    S_NAME=$1
    S_DIR=$T/scenarios/$1
    S_SINCE=$(now_s)
    say "---- $S_NAME"
    load_start "$S_DIR"
    # The load is flowing before the fault.
    wait_served 30 || say "$S_NAME: the load is slow to start"
}

# scenario_end [wacheck expectations...]: everything restored, the load
# stopped, the window closed, then the checker's line (retried for up to
# 30 s while the only complaint is what is still on its way: messages or
# callbacks not arrived yet).
scenario_end() {
    local restored=1 out deadline
    chaos_restore || restored=0
    load_stop "$S_DIR"
    local until; until=$(now_s)
    local args=(--name "$S_NAME" --record "$S_DIR/record.jsonl" --ledger "$LEDGER" --since "$S_SINCE" --until "$until" "$@")
    args+=(--hooks "$HOOKS_LOG")
    [ "$restored" = 1 ] || args+=(--fail "the cluster did not recover")
    [ -z "${S_FAIL:-}" ] || args+=(--fail "$S_FAIL")
    S_FAIL=
    deadline=$(( $(date +%s) + 30 ))
    while :; do
        out=$("$BIN/wacheck" "${args[@]}" 2> "$S_DIR/wacheck.err") && break
        [ "$(date +%s)" -lt "$deadline" ] || break
        echo "$out" | grep -Eq 'FAILED: (messages lost|callbacks lost|messages lost; callbacks lost)$' || break
        sleep 0.5       # poll interval: what is on its way arrives; read the ledger again
    done
    local rc=0
    "$BIN/wacheck" "${args[@]}" --row "$SUMMARY_ROWS" > "$S_DIR/result" 2>> "$S_DIR/wacheck.err" || rc=$?
    cat "$S_DIR/result"
    sort -u "$S_DIR/wacheck.err" | sed 's/^/    /'
    [ "$rc" = 0 ] || FAILED+=("$S_NAME")
}

# A step of a scenario that did not happen (no failover where one must be):
# the scenario fails with this reason.
scenario_fail() { say "$S_NAME: $*"; S_FAIL="${S_FAIL:+$S_FAIL; }$*"; }

# The summary: what ran where, then the table of the result rows
# (wacheck --row appends them to $SUMMARY_ROWS).
SUMMARY_ROWS=$T/summary.rows
summary_write() {
    local out=$1 rows
    rows=$(wc -l < "$SUMMARY_ROWS" 2>/dev/null || echo 0)
    [ "$rows" -gt 0 ] || return 1
    {
        echo "Chaos suite run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname): $(nproc) CPUs" \
             "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))," \
             "kernel $(uname -r), build $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?');" \
             "$CHAOS_WHAT, $(elapsed "$STARTED") s in all."
        echo
        echo "| scenario | result | overlaps (wagate) | lost | duplicates (wagate) | misrouted (wagate) | callbacks lost | longest unavailability | failovers | 201s | failed requests | longest delay: 201 → upstream / emitted → webhook | why |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        cat "$SUMMARY_ROWS"
    } > "$out"
}
