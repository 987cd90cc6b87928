#!/bin/bash
# The wacluster image's entrypoint: the role is the first argument (or WA_ROLE).
#   master | coreapp | webapp   wamaster, wacore (WA_MASTER_NODE=1: a Master, as the
#                               original's single image), waweb
#   wagate | wahook             the upstream emulator, the webhook receiver (test beds)
#   keys NAME:ROLE ...          make what is missing in /etc/wacluster/keys (or
#                               WA_KEYS_OUT): each node's bus certificate, trusted
#                               in trusted/ (the allow-list), and the secrets
#                               admin-password and db-password; 0600, owned by
#                               the wacluster user (10001)
#   health                      the running role's health check (the HEALTHCHECK)
#   anything else               run as a command (wactl status, wagate stats, ...)
set -euo pipefail

# WA_DB_PASSWORD given (db.env) wins over the secret file the compose files name.
if [ -n "${WA_DB_PASSWORD:-}" ]; then unset WA_DB_PASSWORD_FILE; fi

say() { echo "wacluster-entrypoint: $*" >&2; }

random_text() { head -c "$1" /dev/urandom | base64 | tr -d '\n=' | tr '+/' '._'; }

keys() {
    local dir=${WA_KEYS_OUT:-/etc/wacluster/keys} spec name role made=0
    [ $# -gt 0 ] || { say "keys: name at least one NAME:ROLE (ROLE: master, coreapp, webapp, wactl, tap)"; exit 2; }
    umask 077
    mkdir -p "$dir/trusted"
    for spec in "$@"; do
        name=${spec%%:*}; role=${spec#*:}
        if [ "$name" = "$spec" ] || [ -z "$name" ]; then say "keys: '$spec' is not NAME:ROLE"; exit 2; fi
        [ -s "$dir/$name.key_secret" ] && continue
        wactl -c /dev/null keys new "$name" --role "$role" --out "$dir" --keys-dir "$dir/trusted" --trust >/dev/null
        made=$((made + 1))
    done
    # The first ADMIN password (the Webapp's admin_password_file) and the
    # database user's (WA_DB_PASSWORD_FILE); made once, kept.
    [ -s "$dir/admin-password" ] || { echo "Wa1-$(random_text 18)" > "$dir/admin-password"; made=$((made + 1)); }
    [ -s "$dir/db-password" ] || { random_text 24 > "$dir/db-password"; made=$((made + 1)); }
    if [ "$(id -u)" = 0 ]; then chown -R 10001:10001 "$dir"; fi
    chmod 0700 "$dir" "$dir/trusted"
    chmod 0600 "$dir"/*.key_secret "$dir/admin-password" "$dir/db-password"
    say "keys: $made made, the rest kept, in $dir ($(ls "$dir/trusted" | wc -l) trusted)"
}

# The process the container runs (PID 1, exec'd below) says which role it is.
health() {
    local program port
    program=$(cat /proc/1/comm 2>/dev/null || echo unknown)
    case "$program" in
        wamaster) exec wactl ping --role master --timeout 3 ;;
        wacore) exec wactl ping --role coreapp --timeout 3 ;;
        waweb)
            # The port bound: WA_WEBAPP_BIND_PORT behind a published port.
            port=${WA_WEBAPP_BIND_PORT:-${WA_WEBAPP_PORT:-${WEBAPP_EXTERNAL_PORTS:-9090}}}
            if [ -n "${WA_WEBAPP_TLS_CERT:-}" ]; then
                exec curl -fsk --max-time 4 -o /dev/null "https://127.0.0.1:$port/v1/health/ready"
            fi
            exec curl -fs --max-time 4 -o /dev/null "http://127.0.0.1:$port/v1/health/ready" ;;
        wagate)
            port=${WA_UPSTREAM_CONTROL_ENDPOINT:-tcp://127.0.0.1:6301}
            WA_UPSTREAM_CONTROL_ENDPOINT=tcp://127.0.0.1:${port##*:} exec wagate stats --json >/dev/null ;;
        wahook)
            [ "$(curl -s --max-time 4 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${WAHOOK_PORT:-9091}/")" != 000 ] ;;
        *) say "health: PID 1 is '$program', not a wacluster role"; exit 1 ;;
    esac
}

role=${1:-${WA_ROLE:-help}}
[ $# -eq 0 ] || shift
case "$role" in
    master) exec wamaster "$@" ;;
    coreapp) exec wacore "$@" ;;
    webapp) exec waweb "$@" ;;
    wagate) exec wagate "$@" ;;
    wahook) exec wahook --bind 0.0.0.0 --port "${WAHOOK_PORT:-9091}" \
                --out "${WAHOOK_OUT:-/var/lib/wacluster/hooks/webhooks.jsonl}" "$@" ;;
    keys) keys "$@" ;;
    health) health ;;
    help|--help|-h)
        sed -n '2,14s/^# \{0,1\}//p' "$0" ;;
    *) exec "$role" "$@" ;;
esac
