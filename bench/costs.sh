# bench/costs.sh, sourced by bench/api.sh: what one message costs, per
# process and in the database, over a run (issue 15: measure first).
#   costs_begin NAME...   before the load: each process's CPU time and
#                         context switches, perf counting its system calls
#                         (when perf is installed and may trace), and the
#                         database's status counters (COSTS_SQL: a command
#                         that runs SQL on the server the cluster writes to,
#                         like db_sql of scripts/cluster-lib.sh)
#   costs_end MESSAGES    after it: per process, CPU µs, system calls and
#                         context switches (wake-ups, mostly) per message;
#                         then the database's statements, commits, redo
#                         bytes and writes, and fsyncs per message. MESSAGES: the 201s.
# It needs pid_of NAME, cpu_ticks PID and HZ from the caller, and $RUN.

# Context switches of every thread of a process (voluntary + not).
ctx_switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null \
        | awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}
# The database counters a message moves, as NAME VALUE lines.
COSTS_STATUS="'Questions','Com_insert','Com_update','Com_select','Com_delete','Com_commit','Innodb_os_log_written','Innodb_data_fsyncs','Innodb_log_writes'"
db_counters() {
    ${COSTS_SQL:-db_sql} -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
                             WHERE VARIABLE_NAME IN ($(tr 'a-z' 'A-Z' <<<"$COSTS_STATUS"))" 2>/dev/null \
        | tr 'A-Z' 'a-z'
}

declare -A COST0
COST_NAMES=
COST_PERF=
costs_begin() {
    local name pid
    COST_NAMES="$*"
    COST_PERF=
    if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
        COST_PERF=1
    fi
    for name in "$@"; do
        pid=$(pid_of "$name")
        COST0[$name.cpu]=$(cpu_ticks "$pid")
        COST0[$name.ctx]=$(ctx_switches "$pid")
        if [ -n "$COST_PERF" ] && [ -n "$pid" ]; then
            perf stat -e raw_syscalls:sys_enter -x, -o "$RUN/perf-$name.csv" -p "$pid" >/dev/null 2>&1 &
            COST0[$name.perf]=$!
        fi
    done
    db_counters > "$RUN/db-counters.0" || true
}

costs_end() {
    local messages=$1 name pid cpu ctx sys
    [ "${messages:-0}" -gt 0 ] || { echo "  costs: no message was answered 201, nothing to divide by"; return 0; }
    echo "  per message ($messages answered 201), each process:"
    printf '    %-10s %10s %12s %14s\n' "" "CPU µs" "syscalls" "ctx switches"
    for name in $COST_NAMES; do
        pid=$(pid_of "$name")
        cpu=$(( $(cpu_ticks "$pid") - ${COST0[$name.cpu]} ))
        ctx=$(( $(ctx_switches "$pid") - ${COST0[$name.ctx]} ))
        sys=
        if [ -n "${COST0[$name.perf]:-}" ]; then
            kill -INT "${COST0[$name.perf]}" 2>/dev/null || true
            wait "${COST0[$name.perf]}" 2>/dev/null || true
            sys=$(awk -F, '$3 ~ /raw_syscalls:sys_enter/ { print $1 }' "$RUN/perf-$name.csv" 2>/dev/null)
            unset "COST0[$name.perf]"
        fi
        awk -v n="$name" -v c="$cpu" -v hz="$HZ" -v x="$ctx" -v s="$sys" -v m="$messages" 'BEGIN {
            printf "    %-10s %10.0f %12s %14.2f\n", n, c / hz * 1e6 / m, (s ~ /^[0-9]+$/ ? sprintf("%.1f", s / m) : "n/a"), x / m }'
    done
    [ -n "$COST_PERF" ] || echo "    (syscalls: n/a, perf with tracepoints is not available here: apt-get install linux-perf, as root)"
    db_counters > "$RUN/db-counters.1" || true
    if [ -s "$RUN/db-counters.0" ] && [ -s "$RUN/db-counters.1" ]; then
        awk -v m="$messages" 'NR == FNR { a[$1] = $2; next } { d[$1] = $2 - a[$1]; seen[$1] = 1 }
            function per(name, fmt) { return (name in seen) ? sprintf(fmt, d[name] / m) : "n/a" }
            END {
                printf "  per message, the database: %s statements (%s INSERT, %s UPDATE, %s SELECT, %s DELETE), %s COMMIT, %s redo bytes in %s redo log writes, %s fsyncs\n",
                    per("questions", "%.2f"), per("com_insert", "%.2f"), per("com_update", "%.2f"), per("com_select", "%.2f"),
                    per("com_delete", "%.2f"), per("com_commit", "%.2f"), per("innodb_os_log_written", "%.0f"),
                    per("innodb_log_writes", "%.3f"), per("innodb_data_fsyncs", "%.3f") }' \
            "$RUN/db-counters.0" "$RUN/db-counters.1"
    else
        echo "  per message, the database: n/a (its status counters could not be read)"
    fi
}
