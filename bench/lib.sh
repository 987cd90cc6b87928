# The set-up the cluster benchmarks share, sourced from the top of the
# checkout:  . bench/lib.sh NAME
# A temp folder ($RUN, also $T) with the config path $CONF, the database
# (bench/db.sh, WA_BENCH_DB: a private MariaDB on $DBPORT, or three Galera
# nodes; started here; bench_db_conf gives the config lines that reach
# it), free ports $GATE and $CTL, the
# programs in $BIN, and PIDS: every process a benchmark starts goes there
# and is stopped (TERM, then KILL after 15 s) on exit, with the database.
# WA_BENCH_KEEP=1 keeps the temp folder.
. bench/db.sh
bench_db_enter "$PWD/bench/$(basename "$0")"
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
    bench_db_down
    [ -n "${WA_BENCH_KEEP:-}" ] || rm -rf "$RUN"
}
trap cleanup EXIT
bench_db_up "$DBPORT" || { echo "bench: the database did not start" >&2; exit 1; }

# start NAME PROGRAM [ARGS...]: a program of this checkout, in the
# background, logging to $T/NAME.log, with NAME's own bus certificate when
# it is a node; stopped on exit.
start() {
    local name=$1 prog=$2 role crt=""; shift 2; role=$(role_of "$prog")
    [ -z "$role" ] || crt=$(bus_cert "$T/keys" "$name" "$role")
    WA_BUS_CERT=$crt "$BIN/$prog" -c "$CONF" "$@" >>"$T/$name.log" 2>&1 & PIDS+=($!)
}
# A number from wagate's stats (gate messages, gate overlaps, ...).
gate() { "$BIN/wagate" -c "$CONF" stats --json | tr -d '\n ' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

# load_cluster_up [KEY=VALUE...]: the cluster most benchmarks run under
# load, every setting at its default but those given: its config ($CONF),
# wagate, two Masters, two Coreapps, a Webapp on $WEB with an admin
# password of its own; $TOKEN an admin token.
load_cluster_up() {
    local kv
    PASSWORD="Bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')!1"
    echo "$PASSWORD" > "$T/admin.password"
    chmod 600 "$T/admin.password"
    WEB=$(free_port)
    mkdir -p "$T/media"
    cat > "$CONF" <<CONF
$(bench_db_conf "$DBPORT")
db_username = wacluster
db_password = wacluster
db_name = bench
bind_address = 127.0.0.1
ports = 0
webapp_bind = 127.0.0.1
upstream_endpoint = tcp://127.0.0.1:$GATE
upstream_control_endpoint = tcp://127.0.0.1:$CTL
wagate_ledger = $T/ledger.jsonl
media_dir = $T/media
admin_password_file = $T/admin.password
bus_keys_dir = $T/keys/trusted
bus_cert = $(bus_cert "$T/keys" wactl wactl)
CONF
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}" >> "$CONF"; done
    start gate wagate
    wait_for 10 "$BIN/wagate" -c "$CONF" stats --json >/dev/null || die "wagate did not start"
    start m1 wamaster; start m2 wamaster
    start c1 wacore; start c2 wacore
    wait_for 90 "$BIN/wactl" -c "$CONF" wait --timeout 0.1 >/dev/null || die "cluster not healthy"
    WEBAPP_EXTERNAL_PORTS=$WEB start w1 waweb
    wait_for 30 grep -q "ready: serving" "$T/w1.log" || die "the Webapp did not start"
    TOKEN=$(curl -sS -u "admin:$PASSWORD" -X POST "http://127.0.0.1:$WEB/v1/users/login" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
    [ -n "$TOKEN" ] || die "no token"
}

