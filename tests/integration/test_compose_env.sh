#!/usr/bin/env bash
# The original's compose variables on the real programs (issue 10): a
# connection idle past WA_DB_CONNECTION_IDLE_TIMEOUT is closed and made again
# by its next statement (messages sent in between are 201 and upstream once), none is closed without it; WA_APP_MULTICONNECT=0,
# WACORE_HOSTNAME and WA_DB_UPGRADE are refused at start, naming the variable;
# WEBAPP_HOSTNAME is the Webapp's registered name; a node with bind_ports binds
# those and registers its ports.
. "$(dirname "$0")/lib.sh"
cluster_init
CLOSED="(db_connection_idle_timeout): closing the connection"

refused() {   # refused VAR=VALUE PROGRAM: exit 1 and a message naming VAR
    local out rc=0
    out=$(env "$1" "$BIN/$2" -c "$CONF" -n 2>&1) || rc=$?
    [ "$rc" = 1 ] || fail "$1 $2 -n: exit $rc, expected 1: $out"
    grep -q "${1%%=*}" <<<"$out" || fail "$1: the message does not name ${1%%=*}: $out"
}
refused WA_APP_MULTICONNECT=0 wamaster
refused WACORE_HOSTNAME=wacore waweb
refused WA_DB_UPGRADE=1 wacore
check "WA_APP_MULTICONNECT=1 is taken" bash -c "WA_APP_MULTICONNECT=1 $BIN/wamaster -c $CONF -n >/dev/null"

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
WEB=$(free_port)
WEBAPP_HOSTNAME=web.example.test web_start w1 "$WEB"
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
check "0 overlaps at wagate" overlaps_zero
note "idle connections closed and made again by 3 messages ($(closed) closes), originals refused, WEBAPP_HOSTNAME registered"
