# Integration test helpers. A test script sources this, calls cluster_init,
# starts what it needs, and asserts with check/fail. The runner provides
# WA_TEST_DB_PORT and WA_TEST_DB_RUN (a private MariaDB it started) and BIN.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${WA_BIN:-$ROOT/bin}
RUN=${WA_TEST_DB_RUN:?run by scripts/run-tests.sh}
. "$ROOT/scripts/cluster-lib.sh"

TEST=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/wa-$TEST.XXXXXX")
CONF=$T/cluster.conf
DB=t_$(echo "$TEST" | tr -c 'a-z0-9_\n' _)_$$

DUMPED=
fail() { echo "FAIL $TEST: $*" >&2; dump_logs; DUMPED=1; exit 1; }
check() { local what=$1; shift; "$@" || fail "$what"; }
note() { echo "  $TEST: $*"; }

dump_logs() {
    local f
    # An overlap is the one failure that must never pass unexplained: what
    # wagate recorded of it (nodes, epochs, sessions, times) and the ledger
    # lines around it.
    if [ -s "$T/ledger.jsonl" ] && grep -Eq '"event": ?"overlap"' "$T/ledger.jsonl"; then
        echo "---- wagate's overlap records" >&2
        grep -E -B 8 -A 2 '"event": ?"overlap"' "$T/ledger.jsonl" | grep -Ev '"event": ?"(message|status|ack)"' | tail -n 60 >&2
    fi
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f") (last 25 lines)" >&2
        tail -n 25 "$f" >&2
    done
}

# Processes this test started, stopped at exit whatever happens.
PIDS=()
cleanup() {
    # An exit trap of a test's own that runs other commands first sets
    # WA_EXIT_STATUS=$? before them.
    local rc=${WA_EXIT_STATUS:-$?} pid
    # A test ended by something other than fail (set -e, a daemon that
    # aborted under a command the test waited for): its logs all the same.
    if [ "$rc" != 0 ] && [ -z "$DUMPED" ]; then
        echo "FAIL $TEST: exit status $rc at a command that failed (set -e)" >&2
        dump_logs
    fi
    # Only our children still running: a node the test killed was reaped,
    # and with pid_max at 32768 its number may be another test's process
    # by now (the other lane's).
    local live ours=(); live=" $(jobs -p | tr '\n' ' ') "
    for pid in "${PIDS[@]}"; do [[ $live == *" $pid "* ]] && ours+=("$pid"); done
    for pid in "${ours[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${ours[@]}"; do
        wait_for 15 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    done
    db_sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
    [ -n "${WA_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# cluster_init [key=value ...]: a config for this test with short timings
# (through the same keys a user sets), its own database, wagate ports and
# media folder ($T/media).
cluster_init() {
    GATE_PORT=$(free_port); CTL_PORT=$(free_port)
    mkdir -p "$T/media"
    cat > "$CONF" <<CONF
db_hostname = 127.0.0.1
db_port = $WA_TEST_DB_PORT
db_username = wacluster
db_password = wacluster
db_name = $DB
db_connect_timeout = 1
db_statement_timeout = 1
bind_address = 127.0.0.1
ports = 0
lease_ttl = 2
lease_renew_interval = 0.25
lease_margin = 0.5
shard_lease_ttl = 2
shard_renew_interval = 0.25
db_liveness_interval = 0.5
upstream_endpoint = tcp://127.0.0.1:$GATE_PORT
upstream_control_endpoint = tcp://127.0.0.1:$CTL_PORT
upstream_ping_interval = 0.1
upstream_idle_timeout = 0.6
upstream_login_timeout = 1
wagate_ledger = $T/ledger.jsonl
media_dir = $T/media
bus_keys_dir = $T/keys/trusted
bus_cert = $T/keys/wactl.key_secret
CONF
    # The node bus's keys: this test's own; wactl's (and watap's) is the
    # config's bus_cert, each node gets its own as it starts (start).
    bus_cert "$T/keys" wactl wactl >/dev/null || fail "cannot make wactl's bus certificate"
    local kv
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}" >> "$CONF"; done
}

# cert NAME PROGRAM: the bus certificate of the node NAME running PROGRAM
# (made and trusted the first time), for WA_BUS_CERT; "" for a program
# that is not on the bus (wagate).
cert() {
    local role; role=$(role_of "$2")
    [ -z "$role" ] || bus_cert "$T/keys" "$1" "$role" || fail "cannot make $1's bus certificate"
}
# start NAME PROGRAM: start bin/PROGRAM with this test's config (and NAME's
# own bus certificate).
start() {
    local name=$1 prog=$2 crt
    crt=$(cert "$name" "$prog")
    WA_BUS_CERT=${crt:-} "$BIN/$prog" -c "$CONF" >>"$T/$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
}
pid_of() { eval "echo \${PID_$1}"; }

q() { db_sql "$DB" -e "$1"; }

gate_stat() {   # gate_stat KEY: a number from wagate stats --json
    "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
}
overlaps_zero() { [ "$(gate_stat overlaps)" = 0 ]; }
# No SEND on a session whose layout does not serve its recipient.
misrouted_zero() { [ "$(gate_stat misrouted)" = 0 ]; }

primary_master() { q "SELECT holder FROM master_lease WHERE id = 1 AND expires_at > NOW(6)"; }
primary_coreapp() { q "SELECT node_id FROM shard_map WHERE shard = 0 AND expires_at > NOW(6)"; }
node_pid() { q "SELECT pid FROM nodes WHERE id = $1"; }
lease_epoch() { q "SELECT epoch FROM master_lease WHERE id = 1"; }
shard_epoch() { q "SELECT epoch FROM shard_map WHERE shard = 0"; }
# The coreapp node whose session wagate has open for shard 0, or nothing.
gate_open_node() {
    "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o '"open":{[^}]*}' | grep -o '"node":[0-9]*' | cut -d: -f2
}
healthy() { "$BIN/wactl" -c "$CONF" wait --timeout 0.1; }
wait_healthy() { wait_for "${1:-30}" healthy || fail "cluster not healthy within ${1:-30}s: $("$BIN/wactl" -c "$CONF" wait --timeout 0.1 2>&1)"; }
# standard cluster: wagate, two Masters, two Coreapps, healthy.
standard_cluster() {
    start gate wagate
    wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
    start m1 wamaster; start m2 wamaster
    start c1 wacore; start c2 wacore
    wait_healthy 30
}
# The HTTP API.
# api PORT METHOD PATH [curl args]: the HTTP status; the body in $T/body.
api() {
    local port=$1 method=$2 path=$3; shift 3
    curl -s -o "$T/body" -w '%{http_code}' -X "$method" "http://127.0.0.1:$port$path" "$@"
}
body() { cat "$T/body"; }
# expect WHAT STATUS CODE|- PORT METHOD PATH [curl args]: status, the meta,
# and errors[0].code (or no errors at all for -).
expect() {
    local what=$1 status=$2 code=$3; shift 3
    local got; got=$(api "$@")
    [ "$got" = "$status" ] || fail "$what: HTTP $got, expected $status: $(body)"
    grep -q '"meta":{"version":"[^"]*","api_status":"stable"}' "$T/body" || fail "$what: no meta: $(body)"
    if [ "$code" = - ]; then
        ! grep -q '"errors"' "$T/body" || fail "$what: unexpected errors: $(body)"
    else
        grep -q "\"errors\":\[{\"code\":$code,\"title\":\"[^\"]*\",\"details\":\"" "$T/body" \
            || fail "$what: expected error $code: $(body)"
    fi
}
token() { grep -o '"token":"[^"]*"' "$T/body" | cut -d'"' -f4; }
# admin_token PORT: a token of admin (whose first login sets the password).
ADMIN_PASSWORD='Wacluster-2024!'
admin_token() {
    local port=$1 got
    got=$(api "$port" POST /v1/users/login -u "admin:$ADMIN_PASSWORD")
    [ "$got" = 200 ] || got=$(api "$port" POST /v1/users/login -u admin:secret -d "{\"new_password\":\"$ADMIN_PASSWORD\"}")
    [ "$got" = 200 ] || fail "admin login: HTTP $got: $(body)"
    token
}
# web_start NAME PORT: a Webapp on PORT with this test's config, ready.
web_start() {
    WEBAPP_EXTERNAL_PORTS=$2 start "$1" waweb
    wait_for 30 grep -q "ready: serving" "$T/$1.log" || fail "waweb $1 not ready"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Predicates for wait_for.
lease_taken_from() { local m; m=$(primary_master); [ -n "$m" ] && [ "$m" != "$1" ]; }
gate_open_other() { local n; n=$(gate_open_node); [ -n "$n" ] && [ "$n" != "$1" ]; }
gate_open_count() { [ "$(gate_stat open)" = "$1" ]; }
db_clock_past() { [ "$(q "SELECT NOW(6) >= '$1'")" = 1 ]; }
db_down() { ! db_sql -e 'SELECT 1' 2>/dev/null; }
# Named locks (wa_named_lock.h): lock_held NAME is true while a transaction
# holds the row (a NOWAIT read of it fails). hold_lock NAME SECONDS [SQL]:
# in the background, a transaction that takes the lock as the nodes do (its
# row written first), runs SQL, sleeps SECONDS and commits; returns once the
# lock is held, its pid in HOLDER.
lock_held() { ! db_sql "$DB" -e "SELECT 1 FROM named_locks WHERE name = '$1' FOR UPDATE NOWAIT" >/dev/null 2>&1; }
hold_lock() {
    db_sql "$DB" -e "START TRANSACTION;
        INSERT INTO named_locks (name, taken, taken_at) VALUES ('$1', 1, NOW(6))
            ON DUPLICATE KEY UPDATE taken = taken + 1, taken_at = NOW(6);
        ${3:-} DO SLEEP($2); COMMIT" >/dev/null &
    HOLDER=$!
    wait_for 5 lock_held "$1" || fail "the test could not take the $1 lock"
}
