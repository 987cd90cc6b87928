#!/usr/bin/env bash
# The local cluster of `make run` / `make start` / `make stop`: a private
# MariaDB under ./run/, wagate, two Masters, two Coreapps and a Webapp (the
# HTTP API on 127.0.0.1:9090) on loopback, and a webhook receiver (wahook on
# 127.0.0.1:9091, recording to ./run/webhooks.jsonl) the callbacks go to.
#   scripts/cluster.sh run     start, follow the logs; Ctrl-C stops everything
#   scripts/cluster.sh start   start in the background, return once healthy
#   scripts/cluster.sh stop    stop everything start/run started
#   scripts/cluster.sh status  what runs
# Environment: WA_RUN_DB_PORT (default 33306) for the private MariaDB.
#
# Credentials: everything under ./run/ is for this system user only (umask
# 077). The MariaDB's root is socket-only; the cluster uses its own user,
# granted only the wacluster schema, with a random password (run/db-password,
# which run/cluster.conf names as db_password_file). The admin's password is random too, set with
# wactl before the Webapp starts (run/admin-password).
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
RUN=${WA_RUN_DIR:-$PWD/run}
BIN=${WA_BIN:-$PWD/bin}
. scripts/cluster-lib.sh

NODES="master1 master2 coreapp1 coreapp2 webapp1"
WEB_PORT=9090
HOOK_PORT=9091
HOOK_URL=http://127.0.0.1:$HOOK_PORT/webhook
DB_PORT=${WA_RUN_DB_PORT:-33306}

# master1 -> master, ... (the bus role of a node of this script).
role_of_node() { case "$1" in master*) echo master ;; coreapp*) echo coreapp ;; webapp*) echo webapp ;; *) echo "$1" ;; esac; }

running() {
    local name pid any=1
    for name in mariadbd wagate wahook $NODES; do
        if [ "$name" = mariadbd ]; then pid=$(cat "$RUN/db/mariadbd.pid" 2>/dev/null || true)
        else pid=$(proc_pid "$name" || true); fi
        pid_alive "$pid" && { echo "$name $pid"; any=0; }
    done
    return $any
}

write_config() {
    cat > "$RUN/cluster.conf" <<CONF
# Written by scripts/cluster.sh for the local cluster; the tools read it when
# run from the repository root. Every key: bin/wamaster --help.
db_engine = mariadb
db_hostname = 127.0.0.1
db_port = $DB_PORT
db_username = wacluster
db_password_file = $RUN/db-password
db_name = wacluster
bind_address = 127.0.0.1
hostname = 127.0.0.1
upstream_endpoint = tcp://127.0.0.1:6300
upstream_control_endpoint = tcp://127.0.0.1:6301
wagate_ledger = $RUN/wagate-ledger.jsonl
webapp_bind = 127.0.0.1
webapp_port = $WEB_PORT
media_dir = $RUN/media
# The node bus: CURVE, each program with its own certificate (made by
# wactl keys new under $RUN/keys); the allow-list of trusted public keys.
# This bus_cert is wactl's and watap's; each node gets its own through
# WA_BUS_CERT.
bus_security = curve
bus_keys_dir = $RUN/keys/trusted
bus_cert = $RUN/keys/wactl.key_secret
# Seeds the cluster setting: statuses and inbound messages go to wahook.
webhooks_url = $HOOK_URL
CONF
}

start() {
    if procs=$(running); then
        echo "A cluster is already running (from $RUN):"
        echo "$procs" | sed 's/^/  /'
        echo "Leaving it alone. 'make stop' stops it."
        return 0
    fi
    mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/media"
    # A folder from before umask 077 may be readable by others.
    chmod -R go-rwx "$RUN"
    DB_APP_PASSWORD=$(run_db_password)
    DB_APP_GRANT='`wacluster`.*'
    echo "Starting the private MariaDB on 127.0.0.1:$DB_PORT (data in $RUN/db) ..."
    db_start "$DB_PORT"
    write_config
    export WACLUSTER_CONF="$RUN/cluster.conf"
    # Every program's certificate for the node bus, made once, all trusted.
    local name
    for name in $NODES wactl; do
        bus_cert "$RUN/keys" "$name" "$(role_of_node "$name")" >/dev/null \
            || { echo "Cannot make the node bus's certificates (wactl keys new) in $RUN/keys." >&2; return 1; }
    done
    proc_start wahook "$BIN/wahook" --port "$HOOK_PORT" --out "$RUN/webhooks.jsonl"
    if ! wait_for 10 grep -q "listening on http://127.0.0.1:$HOOK_PORT/" "$RUN/logs/wahook.log"; then
        echo "The webhook receiver did not start (is port $HOOK_PORT taken?); see $RUN/logs/wahook.log." >&2
        return 1
    fi
    proc_start wagate "$BIN/wagate"
    COREAPP_EXTERNAL_PORTS=6254-6257 WA_BUS_CERT="$RUN/keys/master1.key_secret" proc_start master1 "$BIN/wamaster"
    COREAPP_EXTERNAL_PORTS=6258-6261 WA_BUS_CERT="$RUN/keys/master2.key_secret" proc_start master2 "$BIN/wamaster"
    COREAPP_EXTERNAL_PORTS=6250-6253 WA_BUS_CERT="$RUN/keys/coreapp1.key_secret" proc_start coreapp1 "$BIN/wacore"
    COREAPP_EXTERNAL_PORTS=6262-6265 WA_BUS_CERT="$RUN/keys/coreapp2.key_secret" proc_start coreapp2 "$BIN/wacore"
    echo "Started wagate, two Masters and two Coreapps; waiting until the cluster is healthy ..."
    if ! "$BIN/wactl" wait --timeout 90; then
        echo "The cluster did not become healthy; logs are in $RUN/logs/." >&2
        return 1
    fi
    # The first ADMIN password, set here (the API serves only loopback
    # clients until one is): random, kept in run/admin-password.
    # (Not over a password chosen before, in a database of an earlier start.)
    if [ ! -s "$RUN/admin-password" ] && ! "$BIN/wactl" users --json \
            | jq -e '.users[] | select(.role == "ADMIN" and (.must_change | not))' >/dev/null; then
        echo "Wa1-$(openssl rand -base64 18 | tr '+/' '._')" > "$RUN/admin-password"
        "$BIN/wactl" users set-password admin --password-file "$RUN/admin-password" >/dev/null \
            || { echo "Cannot set the admin's password (wactl users set-password)." >&2; return 1; }
    fi
    # Its readiness line, in what this start appends to the log.
    local seen=0
    [ ! -f "$RUN/logs/webapp1.log" ] || seen=$(wc -l < "$RUN/logs/webapp1.log")
    WA_BUS_CERT="$RUN/keys/webapp1.key_secret" proc_start webapp1 "$BIN/waweb"
    if ! wait_for 30 bash -c "tail -n +$((seen + 1)) '$RUN/logs/webapp1.log' | grep -q 'ready: serving'"; then
        echo "The Webapp did not start; see $RUN/logs/webapp1.log." >&2
        return 1
    fi
    # A database from an earlier version was seeded with no URL: point it here.
    if [ "$(db_sql wacluster -e "SELECT CONCAT(value, '|', updated_by) FROM settings WHERE name = 'webhooks_url'")" = "|seed" ]; then
        "$BIN/wactl" settings set webhooks_url "$HOOK_URL" > /dev/null || true
    fi
    "$BIN/wactl" status
    local password="\$(cat $RUN/admin-password)"
    [ -s "$RUN/admin-password" ] || password="THE-PASSWORD-YOU-SET"
    cat <<TXT

The cluster runs, with its HTTP API on http://127.0.0.1:$WEB_PORT. Log in as admin
(its password is in $RUN/admin-password when this script made it; set another
with bin/wactl users set-password admin):
  curl -s -u "admin:$password" -X POST http://127.0.0.1:$WEB_PORT/v1/users/login
then, with the token it prints:
  curl -s -H 'Authorization: Bearer TOKEN' http://127.0.0.1:$WEB_PORT/v1/health

From this folder:
  bin/wactl status          roles, the master lease and the shard map
  bin/wactl events          the audit log (promotions, lease changes)
  bin/wagate stats          the upstream referee: sessions and overlaps (must be 0)
  bin/wagate inject --from 16505551234 --text hello
                            an inbound message from a customer; it reaches the
                            webhook (webhooks_url, here wahook) as a callback
  tail -f $RUN/webhooks.jsonl
                            the callbacks as they arrive: statuses of every
                            message you send (POST /v1/messages), inbound messages
  make stop                 stop everything
Logs: $RUN/logs/
TXT
}

stop() {
    local name
    for name in webapp1 coreapp1 coreapp2 master1 master2 wagate wahook; do proc_stop "$name"; done
    db_stop
    echo "Stopped."
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) running || echo "Nothing runs from $RUN." ;;
    run)
        if running >/dev/null; then start; exit 0; fi
        trap 'echo; echo "Stopping ..."; stop; exit 0' INT TERM
        start
        echo "Following the logs; Ctrl-C stops the cluster."
        tail -n 0 -F "$RUN"/logs/{wagate,master1,master2,coreapp1,coreapp2,webapp1}.log "$RUN/webhooks.jsonl" &
        wait $!
        ;;
    *) echo "usage: $0 run|start|stop|status" >&2; exit 2 ;;
esac
