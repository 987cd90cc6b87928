#!/usr/bin/env bash
# Every daemon stops its own threads before it exits, whichever way it stops:
# a signal (SIGTERM, SIGINT) as primary and as secondary, after it lost its
# lease, on a fatal error (a database schema newer than the build) and on a
# failed start (a port taken). Each must exit with the status that way
# promises, log "stopped (exit status N)" as its last word (wa_cli_exit says
# so only once every thread of its own was joined) and, under make asan,
# leave no sanitizer report behind (a thread still running at exit races the
# libraries' exit-time cleanup: issue 19's double free).
. "$(dirname "$0")/lib.sh"
cluster_init
standard_cluster
WEB_PORT=$(free_port)
web_start w1 "$WEB_PORT"

name_of_pid() {
    local n
    for n in m1 m2 c1 c2 w1 m3 c3 w2; do
        [ "$(eval "echo \${PID_$n:-}")" = "$1" ] && { echo "$n"; return; }
    done
}

# stopped_clean NAME RC: NAME's process ends within 20 s with status RC, its
# last log line says so, and no sanitizer wrote about it.
stopped_clean() {
    local name=$1 want=$2 pid rc
    pid=$(pid_of "$name")
    wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "$name (pid $pid) did not stop within 20 s"
    set +e; wait "$pid"; rc=$?; set -e
    [ "$rc" = "$want" ] || fail "$name exited $rc, expected $want"
    tail -n 1 "$T/$name.log" | grep -q "stopped (exit status $want)" \
        || fail "$name's last log line is not 'stopped (exit status $want)': $(tail -n 3 "$T/$name.log")"
    if [ -n "${WA_SANITIZER_REPORTS:-}" ]; then
        local r
        for r in "$WA_SANITIZER_REPORTS"/*."$pid"; do
            [ -e "$r" ] || continue
            head -n 30 "$r" >&2
            fail "$name (pid $pid) left a sanitizer report: $r"
        done
    fi
}

# A callback on its way makes the Coreapps' webhook thread (libcurl) work
# before the stops; its receiver answers nothing useful, which is enough.
token=$(admin_token "$WEB_PORT")
got=$(api "$WEB_PORT" POST /v1/messages -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d '{"to":"15551230001","type":"text","text":{"body":"before the stops"}}')
[ "$got" = 201 ] || fail "a message before the stops: HTTP $got: $(body)"

# 1. Lost lease, then a signal: the primary Coreapp paused past its shard
#    lease comes back demoted; the primary Master paused past its lease
#    comes back stepped down. Each then stops on SIGTERM.
# lose_then_stop NAME TAKEN LOST: pause NAME until TAKEN (a predicate) holds,
# resume it, wait for LOST in its log, then SIGTERM it.
lose_then_stop() {
    local name=$1 taken=$2 lost=$3
    kill -STOP "$(pid_of "$name")"
    wait_for 15 eval "$taken" || fail "nobody took over while $name was paused"
    kill -CONT "$(pid_of "$name")"
    wait_for 10 grep -q "$lost" "$T/$name.log" || fail "$name did not log '$lost'"
    kill -TERM "$(pid_of "$name")"
    stopped_clean "$name" 0
}
core=$(primary_coreapp); cname=$(name_of_pid "$(node_pid "$core")")
lose_then_stop "$cname" "gate_open_other $core" "is no longer primary for shard 0"
note "$cname stopped cleanly after losing its shard lease"
master=$(primary_master); mname=$(name_of_pid "$(node_pid "$master")")
lose_then_stop "$mname" "lease_taken_from $master" "stepping down as primary Master"
note "$mname stopped cleanly after losing the master lease"

# 2. Signals: the primaries and the Webapp on SIGTERM, and SIGINT (Ctrl-C)
#    for a secondary Coreapp started for it.
start c3 wacore
wait_for 20 grep -q "registered as node" "$T/c3.log" || fail "c3 did not register"
kill -INT "$(pid_of c3)"
stopped_clean c3 0
core=$(primary_coreapp); cname=$(name_of_pid "$(node_pid "$core")")
kill -TERM "$(pid_of "$cname")"
stopped_clean "$cname" 0
kill -TERM "$(pid_of w1)"
stopped_clean w1 0
master=$(primary_master); mname=$(name_of_pid "$(node_pid "$master")")
kill -INT "$(pid_of "$mname")"
stopped_clean "$mname" 0
note "SIGINT and SIGTERM: primary and secondary Coreapps, the primary Master and the Webapp stopped cleanly"

# 3. A failed start: a port another program holds. The Coreapp's control
#    port is the one taken (its api and bus ports are bound first); the
#    Webapp's HTTP port.
start m3 wamaster                      # holds its ports while the others try
wait_for 20 grep -q "registered as node" "$T/m3.log" || fail "m3 did not register"
taken=$(sed -n 's/.*ready: bus \([0-9]*\), control \([0-9]*\),.*/\2/p' "$T/m3.log" | head -1)
[ -n "$taken" ] || fail "m3's control port not in its log"
COREAPP_EXTERNAL_PORTS="$(free_port),$(free_port),$taken,$(free_port)" start c3 wacore
stopped_clean c3 1
grep -q "cannot bind tcp://127.0.0.1:$taken" "$T/c3.log" || fail "c3 did not say which port it could not bind"
WEBAPP_EXTERNAL_PORTS=$taken start w2 waweb
stopped_clean w2 1
note "a Coreapp and a Webapp that could not bind a taken port stopped cleanly with status 1"

# 4. A fatal error: the database's schema is newer than this build. The
#    running Master meets it at registration only, so fresh daemons do.
schema=$(q "SELECT version FROM schema_version WHERE id = 1")
q "UPDATE schema_version SET version = 99 WHERE id = 1"
rm -f "$T/c3.log" "$T/w2.log"
start c3 wacore
stopped_clean c3 1
grep -q "schema version 99 is newer than this build" "$T/c3.log" || fail "c3 did not say why it stopped"
WEBAPP_EXTERNAL_PORTS=$(free_port) start w2 waweb
stopped_clean w2 1
kill -TERM "$(pid_of m3)"
stopped_clean m3 0
rm -f "$T/m3.log"
start m3 wamaster
stopped_clean m3 1
q "UPDATE schema_version SET version = $schema WHERE id = 1"
note "a Coreapp, a Webapp and a Master that met a newer schema stopped cleanly with status 1"
check "0 overlaps at wagate" overlaps_zero
