#!/usr/bin/env bash
# make bench-api: POST /v1/messages under load, twice, with wrk and
# bench/messages.lua (a different number each time, a bearer token):
#   1. the full path: a private cluster in a temp folder (its own MariaDB,
#      wagate, two Masters, two Coreapps, one Webapp, every port free), so
#      each message goes waweb -> wacore -> outbox committed -> wagate;
#   2. the bare anchor (bench/anchor/anchor.c): waweb's HTTP layer and one
#      API_REQ per request over a DEALER to a ROUTER echo, nothing else.
# Prints req/s, p50, p90, p99, max and errors for both, their ratio, the CPU each
# process used, what one message cost (bench/costs.sh: per process CPU µs,
# system calls and context switches; the database's statements, commits,
# redo bytes and fsyncs), and wagate's messages, duplicates and overlaps
# (must be 0).
#   WA_BENCH_SECONDS (20)  WA_BENCH_CONNECTIONS (64)  WA_BENCH_THREADS (2, wrk's)
#   WA_BENCH_SHARDS (1, as make run)  shards of the cluster: with 2, each
#                          Coreapp is primary for one; with 4, for two
#   WA_BENCH_ONLY=full|anchor   one of the two runs
#   WA_BENCH_PERF=DIR      perf record (cpu-clock, call graphs) of the cluster's
#                          processes during the full-path run; reports in DIR
#   WA_BENCH_KEEP=1        keep the temp folder (logs, wrk output)
#   WA_BENCH_DB=single|galera  the full path's database: its own MariaDB
#                          (default), or three Galera nodes (bench/db.sh; root)
#   WA_BENCH_DB_FLUSH=2|1  the single server's innodb_flush_log_at_trx_commit:
#                          2 as make run, 1 a production server's default
#   WA_ANCHOR              the anchor binary (default build/bench/wa-anchor)
#   WA_BENCH_CPUS="web=0-1 core=2-3 db=4-5 gate=6 wrk=7"
#                          each role on CPUs of its own (taskset), as if on
#                          a host of its own: web = the Webapp, and the anchor
#                          in its run; core = the Coreapps, the Masters, and
#                          the anchor's echo; db = the database; gate =
#                          wagate; wrk = the load. A role not named runs on
#                          any CPU. Needs a machine with a core or more a role.
# Exit status 1 when a run cannot start, a request failed, or wagate counted
# a duplicate or an overlap; 130 when interrupted. The targets are
# reported, not enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/db.sh
bench_db_enter "$PWD/bench/api.sh" "$@"
DURATION=${WA_BENCH_SECONDS:-20}
CONNS=${WA_BENCH_CONNECTIONS:-64}
THREADS=${WA_BENCH_THREADS:-2}
SHARDS=${WA_BENCH_SHARDS:-1}
ONLY=${WA_BENCH_ONLY:-}
ANCHOR=${WA_ANCHOR:-$PWD/build/bench/wa-anchor}
BIN=$PWD/bin
PASSWORD='Wacluster-2024!'
case "$ONLY" in ''|full|anchor) ;; *) echo "bench-api: WA_BENCH_ONLY is full or anchor, not '$ONLY'" >&2; exit 2 ;; esac
for v in "$DURATION" "$CONNS" "$THREADS" "$SHARDS"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-api: WA_BENCH_SECONDS, _CONNECTIONS, _THREADS and _SHARDS are positive integers, not '$v'" >&2; exit 2; }
done
# The CPU layout: one taskset prefix a role (env, a no-op, when not pinned).
declare -A CPUS
for kv in ${WA_BENCH_CPUS:-}; do
    role=${kv%%=*} list=${kv#*=}
    [[ "$kv" == *=* && "$list" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] \
        || { echo "bench-api: WA_BENCH_CPUS: '$kv' is not ROLE=CPUS (such as web=0-1 or db=2,3)" >&2; exit 2; }
    case "$role" in web|core|db|gate|wrk) ;;
        *) echo "bench-api: WA_BENCH_CPUS: '$role' is not a role (web, core, db, gate, wrk)" >&2; exit 2 ;;
    esac
    [ -z "${CPUS[$role]:-}" ] || { echo "bench-api: WA_BENCH_CPUS names $role twice" >&2; exit 2; }
    command -v taskset >/dev/null || { echo "bench-api: WA_BENCH_CPUS needs taskset (util-linux)" >&2; exit 1; }
    taskset -c "$list" true 2>/dev/null \
        || { echo "bench-api: WA_BENCH_CPUS: $role=$list names a CPU this process may not use (this machine's: $(taskset -cp $$ | sed 's/.*: //'))" >&2; exit 2; }
    CPUS[$role]=$list
done
# pin ROLE: the command prefix that runs a program on ROLE's CPUs.
pin() { if [ -n "${CPUS[$1]:-}" ]; then echo "taskset -c ${CPUS[$1]}"; else echo env; fi; }
# pin_pids ROLE PID...: move running processes, every thread, to ROLE's CPUs.
pin_pids() {
    local role=$1 pid; shift
    [ -n "${CPUS[$role]:-}" ] || return 0
    for pid in "$@"; do taskset -a -p -c "${CPUS[$role]}" "$pid" >/dev/null || die "could not move process $pid to CPUs ${CPUS[$role]}"; done
}
LAYOUT=$(for role in web core db gate wrk; do [ -z "${CPUS[$role]:-}" ] || printf '%s=%s ' "$role" "${CPUS[$role]}"; done)
command -v wrk >/dev/null || { echo "bench-api: wrk is not installed (make deps, or apt-get install wrk)" >&2; exit 1; }
[ "$ONLY" = anchor ] || [ -x "$BIN/waweb" ] || { echo "bench-api: $BIN/waweb is missing; run make all" >&2; exit 1; }
[ "$ONLY" = full ] || [ -x "$ANCHOR" ] || { echo "bench-api: $ANCHOR is missing; run make anchor" >&2; exit 1; }
if [ -n "${WA_BENCH_PERF:-}" ]; then
    command -v perf >/dev/null || { echo "bench-api: WA_BENCH_PERF needs perf (linux-perf)" >&2; exit 1; }
    mkdir -p "$WA_BENCH_PERF"; WA_BENCH_PERF=$(cd "$WA_BENCH_PERF" && pwd)
fi

RUN=$(mktemp -d /tmp/wa-bench-api.XXXXXX)
. scripts/cluster-lib.sh
. bench/costs.sh
CONF=$RUN/bench.conf
NAMES="webapp1 coreapp1 coreapp2 master1 master2 wagate anchor echo"
PERF_PID=
stop_all() {
    local name
    for name in $NAMES; do proc_stop "$name"; done
    bench_db_down
}
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; fi
    stop_all
    if [ -n "${WA_BENCH_KEEP:-}" ]; then echo "bench-api: kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'echo; echo "bench-api: interrupted; stopping" >&2; exit 130' INT TERM

die() { echo "bench-api: $*" >&2; exit 1; }

# CPU time (user + system, every thread) of a process in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Busy ticks of the whole machine.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
# The database's processes: mariadbd, or galera-db, galera-db2, galera-db3.
declare -A DB_PID
pid_of() { if [ -n "${DB_PID[$1]:-}" ]; then echo "${DB_PID[$1]}"; else proc_pid "$1"; fi; }

# CPU ticks of this script's finished children (wrk, above all), into
# CHILDREN. `times` must run in this shell, not in a $(...) subshell.
children_ticks() {
    times > "$RUN/times"
    CHILDREN=$(awk -v hz="$HZ" 'NR == 2 { gsub(/[ms]/, " "); print int(($1 * 60 + $2 + $3 * 60 + $4) * hz) }' "$RUN/times")
}

# cpu_begin NAME...: note the CPU time of these processes and the machine.
declare -A CPU0
cpu_begin() {
    local name
    CPU_NAMES="$*"
    for name in "$@"; do CPU0[$name]=$(cpu_ticks "$(pid_of "$name")"); done
    children_ticks; CPU0[_children]=$CHILDREN
    CPU0[_machine]=$(machine_ticks)
}
# cpu_end SECONDS: one line per process: CPU seconds used and the share of
# one core over SECONDS; then wrk; then the rest (the kernel's network work
# not charged to a process, and anything else running on the machine); then
# the machine's total.
cpu_end() {
    local seconds=$1 name used sum=0 total wrk
    for name in $CPU_NAMES; do
        used=$(( $(cpu_ticks "$(pid_of "$name")") - ${CPU0[$name]} ))
        sum=$((sum + used))
        cpu_line "$name" "$used" "$seconds"
    done
    total=$(( $(machine_ticks) - ${CPU0[_machine]} ))
    children_ticks; wrk=$((CHILDREN - ${CPU0[_children]}))
    cpu_line "wrk" "$wrk" "$seconds"
    cpu_line "rest" "$((total - sum - wrk))" "$seconds"
    cpu_line "machine" "$total" "$seconds"
    # On an idle machine the rest stays well under 30 % of one core.
    if awk -v r="$((total - sum - wrk))" -v hz="$HZ" -v s="$seconds" 'BEGIN { exit !(r / hz / s > 0.3) }'; then
        echo "  WARNING: the rest is over 30 % of one core: other work ran during this run, the figures are not clean"
        LOADED=1
    fi
}
# idle_check: the machine's load over one second before a run; other work
# running makes the figures worth less, so say so.
idle_check() {
    local t0 busy
    t0=$(machine_ticks)
    sleep 1     # the measuring interval
    busy=$(( $(machine_ticks) - t0 ))
    if [ $((busy * 100 / HZ)) -gt 30 ]; then
        echo "  WARNING: the machine was $((busy * 100 / HZ)) % busy (of one core) just before this run: other work runs, the figures are not clean"
        LOADED=1
    fi
}
LOADED=
cpu_line() {
    awk -v n="$1" -v t="$2" -v hz="$HZ" -v s="$3" \
        'BEGIN { printf "    %-10s %6.1f CPU-s  %5.1f %% of one core\n", n, t / hz, 100 * t / hz / s }'
}

# post URL [TOKEN]: one message; prints the status, the body goes to $RUN/post.json.
post() {
    curl -sS -o "$RUN/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        ${2:+-H "Authorization: Bearer $2"} \
        -d '{"to":"15550000001","type":"text","recipient_type":"individual","text":{"body":"bench"}}' \
        "$1/v1/messages" 2>/dev/null || echo 000
}
# Answered, for good or bad: anything but a 5xx (not ready yet) or no answer.
post_settled() { local code; code=$(post "$@"); [ "$code" != 000 ] && [ "${code:0:1}" != 5 ]; }
# wait_post URL TOKEN: 0 once one POST answers 201, polling for up to 30 s
# while the answer is a 5xx; else says what the last answer was.
wait_post() {
    local code
    wait_for 30 post_settled "$@" || true
    code=$(post "$@")
    [ "$code" = 201 ] && return 0
    echo "POST /v1/messages answers $code, not 201: $(cat "$RUN/post.json")"
    return 1
}

# run_wrk LABEL URL: the load; wrk's output into $RUN/LABEL.txt, the
# WA_BENCH line of bench/messages.lua into RESULT[LABEL].
declare -A RESULT
run_wrk() {
    local label=$1 url=$2
    echo "  wrk -t$THREADS -c$CONNS -d${DURATION}s --latency -s bench/messages.lua $url"
    WA_BENCH_TOKEN=${TOKEN:-} $(pin wrk) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
        -s bench/messages.lua "$url" > "$RUN/$label.txt" 2>&1 || die "wrk failed: $(tail -n 3 "$RUN/$label.txt")"
    sed -n '/Latency Distribution/,/requests in/p' "$RUN/$label.txt" | sed 's/^/  /'
    RESULT[$label]=$(grep '^WA_BENCH ' "$RUN/$label.txt") || die "wrk printed no WA_BENCH line (see $RUN/$label.txt)"
    # wrk ends early on Ctrl-C (and exits 0, so this shell does not act on
    # the signal itself): no figures then, and the status of an interrupt.
    awk -v s="$(field "$label" seconds)" -v d="$DURATION" 'BEGIN { exit !(s >= d - 0.5) }' \
        || { echo "bench-api: wrk stopped after $(field "$label" seconds) s of $DURATION (interrupted?)" >&2; exit 130; }
}
field() { tr ' ' '\n' <<<"${RESULT[$1]:-}" | sed -n "s/^$2=//p"; }

gate_stats() { "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n '; }
gate_count() { gate_stats | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }
gate_has() { [ "$(gate_count messages)" -ge "$1" ]; }

# Every shard held, and held by the two Coreapps in shares that differ by
# at most one.
shards_spread() {
    "$BIN/wactl" -c "$CONF" status --json 2>/dev/null | jq -e --argjson s "$SHARDS" '
        [.shards[] | select(.valid) | .node] as $held
        | ($held | length) == $s
          and ($held | group_by(.) | map(length) | length == 2 and max - min <= 1)' >/dev/null
}

FAILED=0
TOKEN=

# --------------------------------------------------------------------------
# 1. The full path
full_path() {
    local dbport gate ctl web
    dbport=$(free_port); gate=$(free_port); ctl=$(free_port); web=$(free_port)
    echo "Starting a private cluster in $RUN ($SHARDS shard(s); waweb on $web; the database: $(bench_db_describe)) ..."
    bench_db_up "$dbport" || die "the database did not start"
    local kv
    for kv in $(bench_db_pids); do DB_PID[${kv%%=*}]=${kv#*=}; done
    pin_pids db "${DB_PID[@]}"
    mkdir -p "$RUN/media"
    cat > "$CONF" <<CONF
db_engine = mariadb
$(bench_db_conf "$dbport")
db_username = wacluster
db_password = wacluster
db_name = bench
bind_address = 127.0.0.1
hostname = 127.0.0.1
ports = 0
upstream_endpoint = tcp://127.0.0.1:$gate
upstream_control_endpoint = tcp://127.0.0.1:$ctl
wagate_ledger = $RUN/wagate-ledger.jsonl
webapp_bind = 127.0.0.1
webapp_port = $web
shards = $SHARDS
media_dir = $RUN/media
bus_keys_dir = $RUN/keys/trusted
bus_cert = $(bus_cert "$RUN/keys" wactl wactl)
CONF
    proc_start wagate $(pin gate) "$BIN/wagate" -c "$CONF"
    wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || die "wagate did not start: $(tail -n 3 "$RUN/logs/wagate.log")"
    WA_BUS_CERT=$(bus_cert "$RUN/keys" master1 master) proc_start master1 $(pin core) "$BIN/wamaster" -c "$CONF"
    WA_BUS_CERT=$(bus_cert "$RUN/keys" master2 master) proc_start master2 $(pin core) "$BIN/wamaster" -c "$CONF"
    WA_BUS_CERT=$(bus_cert "$RUN/keys" coreapp1 coreapp) proc_start coreapp1 $(pin core) "$BIN/wacore" -c "$CONF"
    WA_BUS_CERT=$(bus_cert "$RUN/keys" coreapp2 coreapp) proc_start coreapp2 $(pin core) "$BIN/wacore" -c "$CONF"
    "$BIN/wactl" -c "$CONF" wait --timeout 90 >/dev/null || die "the cluster did not become healthy; logs in $RUN/logs (WA_BENCH_KEEP=1 keeps them)"
    if [ "$SHARDS" -gt 1 ]; then
        # Both Coreapps primary for their share before the load: the Master
        # promotes as they come up, and a Coreapp that came up late gets a
        # shard by a rebalancing switchover three heartbeats later
        # (ARCHITECTURE.md), which must not fall inside the run.
        wait_for 90 shards_spread && "$BIN/wactl" -c "$CONF" wait --timeout 30 >/dev/null \
            || die "the $SHARDS shards did not spread over both Coreapps within 90 s: $("$BIN/wactl" -c "$CONF" status 2>&1 | tail -n "$((SHARDS + 2))")"
    fi
    WA_BUS_CERT=$(bus_cert "$RUN/keys" webapp1 webapp) proc_start webapp1 $(pin web) "$BIN/waweb" -c "$CONF"
    wait_for 30 grep -q 'ready: serving' "$RUN/logs/webapp1.log" \
        || die "waweb did not start: $(tail -n 3 "$RUN/logs/webapp1.log")"
    local url=http://127.0.0.1:$web answer
    answer=$(curl -sS -u admin:secret -X POST -H 'Content-Type: application/json' \
        -d "{\"new_password\":\"$PASSWORD\"}" "$url/v1/users/login") || die "login: curl failed"
    TOKEN=$(grep -o '"token":"[^"]*"' <<<"$answer" | cut -d'"' -f4)
    [ -n "$TOKEN" ] || die "login gave no token: $answer"
    # The Webapp may need a moment to reach the primary Coreapps.
    local why
    why=$(wait_post "$url" "$TOKEN") || die "the full path does not work: $why"
    echo "Cluster healthy; POST /v1/messages answers 201. Full path: $DURATION s at $CONNS connections ..."
    local before; before=$(gate_count messages)
    local pids
    if [ -n "${WA_BENCH_PERF:-}" ]; then
        pids=$(for n in webapp1 coreapp1 coreapp2 wagate; do proc_pid "$n"; done | paste -sd,)
        pids="$pids,$(printf '%s\n' "${DB_PID[@]}" | paste -sd,)"
        perf record -e cpu-clock -F 999 -g -o "$WA_BENCH_PERF/full.data" -p "$pids" >"$WA_BENCH_PERF/record.log" 2>&1 &
        PERF_PID=$!
    fi
    idle_check
    local dbs; dbs=$(printf '%s\n' "${!DB_PID[@]}" | sort)
    cpu_begin webapp1 coreapp1 coreapp2 master1 master2 wagate $dbs
    COSTS_SQL=bench_db_sql costs_begin webapp1 coreapp1 coreapp2 master1 master2 wagate $dbs
    run_wrk full "$url"
    echo "  CPU during the run:"
    cpu_end "$(field full seconds)"
    COSTS_SQL=bench_db_sql costs_end "$(field full ok)"
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=
        perf report -i "$WA_BENCH_PERF/full.data" --no-children --sort comm,dso,sym --stdio \
            > "$WA_BENCH_PERF/full-flat.txt" 2>/dev/null || true
        perf report -i "$WA_BENCH_PERF/full.data" --no-children --sort comm --stdio \
            > "$WA_BENCH_PERF/full-comm.txt" 2>/dev/null || true
        echo "  perf: $WA_BENCH_PERF/full.data, reports full-flat.txt and full-comm.txt"
    fi
    # Every accepted message reaches wagate once: wait (up to 60 s) for the
    # 201s of the run on top of what wagate had before it.
    local accepted; accepted=$(field full ok)
    wait_for 60 gate_has "$((before + accepted))" || true
    local messages duplicates overlaps
    messages=$(gate_count messages); duplicates=$(gate_count duplicates); overlaps=$(gate_count overlaps)
    GATE_LINE="wagate after the full path: messages $messages (before the run $before, 201s during it $accepted, + those in flight when wrk stopped), duplicates $duplicates, overlaps $overlaps"
    echo "  $GATE_LINE"
    [ "$duplicates" = 0 ] && [ "$overlaps" = 0 ] || { echo "bench-api: wagate counted duplicates or overlaps" >&2; FAILED=1; }
    echo "Stopping the cluster ..."
    stop_all
}

# --------------------------------------------------------------------------
# 2. The anchor
anchor() {
    local eport web
    eport=$(free_port); web=$(free_port)
    echo "Starting the anchor on 127.0.0.1:$web, its echo on 127.0.0.1:$eport ..."
    proc_start echo $(pin core) "$ANCHOR" echo "tcp://127.0.0.1:$eport"
    wait_for 10 grep -q '^ready' "$RUN/logs/echo.log" || die "the echo did not start: $(tail -n 3 "$RUN/logs/echo.log")"
    proc_start anchor $(pin web) "$ANCHOR" -p "$web" -e "tcp://127.0.0.1:$eport"
    wait_for 10 grep -q '^ready' "$RUN/logs/anchor.log" || die "the anchor did not start: $(tail -n 3 "$RUN/logs/anchor.log")"
    local url=http://127.0.0.1:$web
    local why
    why=$(wait_post "$url" "${TOKEN:-}") || die "the anchor does not work: $why"
    echo "Anchor: $DURATION s at $CONNS connections ..."
    idle_check
    cpu_begin anchor echo
    costs_begin anchor echo
    run_wrk anchor "$url"
    echo "  CPU during the run:"
    cpu_end "$(field anchor seconds)"
    COSTS_SQL=false costs_end "$(field anchor ok)"
    proc_stop anchor; proc_stop echo
}

[ "$ONLY" = anchor ] || full_path
[ "$ONLY" = full ] || anchor

# --------------------------------------------------------------------------
# The table
echo
echo "bench-api: POST /v1/messages, wrk -t$THREADS -c$CONNS -d${DURATION}s, $SHARDS shard(s); $(nproc) × $(lscpu | sed -n 's/^Model name: *//p'); $(date -u '+%Y-%m-%d %H:%M UTC')"
[ "$ONLY" = anchor ] || echo "  database ($BENCH_DB): $(bench_db_describe)"
[ -z "$LAYOUT" ] || echo "  CPUs (WA_BENCH_CPUS): ${LAYOUT% }"
printf '  %-12s %10s %10s %10s %10s %10s %10s %10s %14s\n' "" "requests" "req/s" "p50" "p90" "p99" "max" "non-2xx" "socket errors"
for label in full anchor; do
    [ -n "${RESULT[$label]:-}" ] || continue
    name=$([ "$label" = full ] && echo "full path" || echo "anchor")
    ms() { awk -v u="$(field "$label" "$1")" 'BEGIN { print u / 1000 }'; }
    printf '  %-12s %10s %10s %7.2f ms %7.2f ms %7.2f ms %7.1f ms %10s %14s\n' "$name" "$(field "$label" requests)" \
        "$(field "$label" rps)" "$(ms p50_us)" "$(ms p90_us)" "$(ms p99_us)" "$(ms max_us)" \
        "$(field "$label" non2xx)" "$(field "$label" socket_errors)"
    [ "$(field "$label" non2xx)" = 0 ] && [ "$(field "$label" socket_errors)" = 0 ] || FAILED=1
    [ "$(field "$label" non2xx)" = 0 ] || echo "    statuses: $(field "$label" statuses)"
done
if [ -n "${RESULT[full]:-}" ] && [ -n "${RESULT[anchor]:-}" ]; then
    awk -v f="$(field full rps)" -v a="$(field anchor rps)" 'BEGIN { printf "  full / anchor: %.1f %%\n", 100 * f / a }'
fi
[ -z "${GATE_LINE:-}" ] || echo "  $GATE_LINE"
[ -z "$LOADED" ] || echo "  WARNING: other work ran on the machine during a run (see above): the figures are not clean"
if [ -n "${RESULT[full]:-}" ]; then
    awk -v f="$(field full rps)" -v p="$(field full p99_us)" -v a="$(field anchor rps)" -v c="$CONNS" 'BEGIN {
        printf "  targets (issue 15): p99 <= 10 ms at 64 connections: %s", (c != 64 ? "not measured (" c " connections)" : p <= 10000 ? "met" : "missed")
        if (a != "") printf "; >= 50 %% of the anchor: %s (%.1f %%)", (f >= 0.5 * a ? "met" : "missed"), 100 * f / a
        printf "\n" }'
fi
exit "$FAILED"
