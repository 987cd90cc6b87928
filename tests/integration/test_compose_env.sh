#!/usr/bin/env bash
# The original's compose variables on the real programs (issue 10; the
# table of docs/DEPLOY.md, The variables): a connection idle past
# WA_DB_CONNECTION_IDLE_TIMEOUT is closed and made again by its next
# statement (messages sent in between are 201 and upstream once), none is
# closed without it; WA_APP_MULTICONNECT=0, WACORE_HOSTNAME, WA_DB_UPGRADE,
# WA_DB_ENGINE=PGSQL and the original's database containers' MYSQL_* and
# POSTGRES_* are refused at start, naming the variable, by the nodes and by
# the db container's entrypoint (docker-compose/db-entrypoint.sh, run here
# with its server commands stubbed), which also refuses the original's
# command arguments and takes WA_DB_ENGINE=MYSQL; WEBAPP_HOSTNAME is the
# Webapp's registered name; a Webapp with WA_WEBAPP_BIND_PORT binds that
# port and registers WEBAPP_EXTERNAL_PORTS (the published one), and a node
# with bind_ports binds those and registers its ports.
. "$(dirname "$0")/lib.sh"
cluster_init
CLOSED="(db_connection_idle_timeout): closing the connection"

refused() {   # refused VAR=VALUE... PROGRAM: exit 1 and a message naming the first VAR
    local out rc=0 vars=("${@:1:$#-1}") prog=${!#}
    out=$(env "${vars[@]}" "$BIN/$prog" -c "$CONF" -n 2>&1) || rc=$?
    [ "$rc" = 1 ] || fail "${vars[*]} $prog -n: exit $rc, expected 1: $out"
    grep -q "${1%%=*}" <<<"$out" || fail "$1: the message does not name ${1%%=*}: $out"
}
refused WA_APP_MULTICONNECT=0 wamaster
refused WACORE_HOSTNAME=wacore waweb
refused WA_DB_UPGRADE=1 wacore
refused WA_DB_ENGINE=PGSQL wacore
for var in MYSQL_ROOT_PASSWORD MYSQL_USER MYSQL_PASSWORD POSTGRES_PASSWORD POSTGRES_USER; do
    refused "$var=testpass" wacore
    refused "$var=testpass" waweb
done
refused WEBAPP_EXTERNAL_PORTS=0 WA_WEBAPP_BIND_PORT=443 waweb
refused WA_WEBAPP_BIND_PORT=https waweb
check "WA_APP_MULTICONNECT=1 is taken" bash -c "WA_APP_MULTICONNECT=1 $BIN/wamaster -c $CONF -n >/dev/null"
check "WA_DB_ENGINE=MYSQL (the original's db.env) is taken" \
    bash -c "WA_DB_ENGINE=MYSQL $BIN/wacore -c $CONF -n | grep -qx 'db_engine = mysql'"

# The db container's entrypoint, on this host: every command it would run
# past its checks (the server, its tools, and the file changes) is a stub
# that says so and exits 97, so a check that let something through starts
# nothing here.
STUBS=$T/stubs
mkdir -p "$STUBS"
for cmd in mariadbd mariadb-install-db mariadb mariadb-admin mkdir chown rm; do
    printf '#!/bin/sh\necho "STUB %s reached" >&2\nexit 97\n' "$cmd" > "$STUBS/$cmd"
    chmod +x "$STUBS/$cmd"
done
db_entry() {  # db_entry VAR=VALUE... [-- ARGS]: the entrypoint's exit status; its output in $T/db-entry.out
    local vars=() rc=0
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    [ $# -eq 0 ] || shift
    env -i "PATH=$STUBS:/usr/bin:/bin" WA_DB_USERNAME=wacluster WA_DB_PASSWORD=testpass "${vars[@]}" \
        bash "$ROOT/docker-compose/db-entrypoint.sh" "$@" > "$T/db-entry.out" 2>&1 || rc=$?
    echo "$rc"
}
db_refused() {   # db_refused NAME VAR=VALUE... [-- ARGS]: exit 1, no stub reached, NAME in the message
    local name=$1 rc; shift
    rc=$(db_entry "$@")
    [ "$rc" = 1 ] && ! grep -q STUB "$T/db-entry.out" && grep -qF -- "$name" "$T/db-entry.out" \
        || fail "db-entrypoint $*: exit $rc, expected 1 naming $name before starting anything: $(cat "$T/db-entry.out")"
}
for var in MYSQL_ROOT_PASSWORD MYSQL_USER MYSQL_PASSWORD POSTGRES_PASSWORD POSTGRES_USER MARIADB_ROOT_PASSWORD; do
    db_refused "$var" "$var=testpass"
done
db_refused WA_DB_ENGINE WA_DB_ENGINE=PGSQL
db_refused WA_DB_USERNAME WA_DB_USERNAME=root
db_refused "--default-authentication-plugin=mysql_native_password" -- --default-authentication-plugin=mysql_native_password
db_refused "-p 3306 -N 500" -- -p 3306 -N 500
# The original's db.env (but for root, refused above) passes the checks: the
# next step is the server's start (a stub here).
rc=$(db_entry WA_DB_ENGINE=MYSQL WA_DB_HOSTNAME=db WA_DB_PORT=3306 WA_DB_CONNECTION_IDLE_TIMEOUT=180000)
[ "$rc" = 97 ] && grep -q "STUB" "$T/db-entry.out" \
    || fail "db-entrypoint with the original's db.env did not pass its checks (exit $rc): $(cat "$T/db-entry.out")"

start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster
WA_LOG_LEVEL=debug start m2 wamaster
# A Coreapp behind "published" ports: it binds these, tells the others those.
BIND="$(free_port),$(free_port),$(free_port),$(free_port)"
# Both Coreapps with the idle timeout: the primary's outbox and callbacks
# connections idle while no message comes.
export WA_DB_CONNECTION_IDLE_TIMEOUT=300 WA_LOG_LEVEL=debug
WA_BIND_PORTS=$BIND COREAPP_EXTERNAL_PORTS=$BIND start c1 wacore
start c2 wacore
unset WA_DB_CONNECTION_IDLE_TIMEOUT WA_LOG_LEVEL
wait_healthy 30
closed() { cat "$T/c1.log" "$T/c2.log" | grep -cF "$CLOSED"; }
closed_more() { [ "$(closed)" -gt "$1" ]; }
wait_for 15 closed_more 0 || fail "no Coreapp closed an idle connection with WA_DB_CONNECTION_IDLE_TIMEOUT=300"
check "m2 (no idle timeout) closed no connection" bash -c "! grep -qF '$CLOSED' '$T/m2.log'"
# The Webapp behind a "published" port: it binds WEB (WA_WEBAPP_BIND_PORT)
# and registers PUBLISHED (WEBAPP_EXTERNAL_PORTS), where nothing listens.
WEB=$(free_port); PUBLISHED=$(free_port)
WEBAPP_HOSTNAME=web.example.test WA_WEBAPP_BIND_PORT=$WEB web_start w1 "$PUBLISHED"
AUTH=(-H "Authorization: Bearer $(admin_token "$WEB")")
# Made again by the next statement: a message needs the primary's outbox
# connection, closed while idle; 201 means it was made again and the row
# committed. Idle again afterwards, it is closed again.
msg() { echo "{\"to\":\"1631555$1\",\"type\":\"text\",\"text\":{\"body\":\"idle $1\"}}"; }
for i in 1001 1002 1003; do
    closes=$(closed)
    expect "a message after the connections idled" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(msg $i)"
    wait_for 15 closed_more "$closes" || fail "no connection closed again after message $i"
done
gate_messages_are() { [ "$(gate_stat messages)" = "$1" ]; }
wait_for 15 gate_messages_are 3 || fail "wagate has $(gate_stat messages) messages, expected 3"
wait_healthy 10
check "c1 registered the ports it was given" [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'coreapp' AND ports = '$BIND' AND stopped_at IS NULL")" = 1 ]
web_named() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'webapp' AND hostname = 'web.example.test'")" = 1 ]; }
wait_for 10 web_named || fail "the Webapp did not register as WEBAPP_HOSTNAME"
check "the Webapp registered WEBAPP_EXTERNAL_PORTS, not the port it binds" \
    [ "$(q "SELECT ports FROM nodes WHERE kind = 'webapp' AND stopped_at IS NULL")" = "$PUBLISHED" ]
check "the Webapp does not listen on WEBAPP_EXTERNAL_PORTS" bash -c "! curl -s -o /dev/null http://127.0.0.1:$PUBLISHED/v1/health/ready"
grep -q "listening on http://.*:$WEB (published as $PUBLISHED)" "$T/w1.log" || fail "the Webapp's log does not say both ports: $(grep listening "$T/w1.log")"
check "0 overlaps at wagate" overlaps_zero
note "idle connections closed and made again by 3 messages ($(closed) closes), originals refused by the nodes and the db entrypoint, WEBAPP_HOSTNAME registered, the Webapp bound $WEB and registered $PUBLISHED"
