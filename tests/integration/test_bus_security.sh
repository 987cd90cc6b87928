#!/usr/bin/env bash
# A rogue host on the node bus (issue 11): tools/warogue sends valid-looking
# frames, made with the cluster's own codec, to the nodes' ports. Without a
# key (no CURVE) every attack gets no answer and changes nothing (wagate's
# ledger, the settings, account and events tables), and each node counts
# and logs the refusals; with a key not in the allow-list it is refused at
# the handshake, counted, and the log names the key; with a stolen
# Coreapp's key the API answers 403 and the Masters refuse forged reports,
# settings changes and heartbeat replies (a Coreapp's key speaks for its
# own node only: a forged reply does not keep a silent Coreapp healthy).
# A key revoked while its node runs is refused within a second and the
# node is healthy again once trusted again; a node started with a key the
# cluster does not trust yet joins once it is trusted, without a restart.
# And the start-up refusals: no certificate, one others can read, one of
# another role, bus_security = off on a non-loopback address; off on "*"
# binds loopback only.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 heartbeat_interval=0.2 unhealthy_interval=1
standard_cluster
web_start w1 "$WEB"
ADMIN=$(admin_token "$WEB")
JSON='Content-Type: application/json'

# Where things are: a node's port (1 api, 2 bus, 3 control) and key, the
# name we started a node under, a node's stats (asked with wactl's key).
port() { q "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(ports, ',', $2), ',', -1) FROM nodes WHERE id = $1"; }
at() { echo "tcp://127.0.0.1:$(port "$1" "$2")"; }
key_of() { q "SELECT bus_key FROM node_keys WHERE node_id = $1"; }
public_key() { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$1"; }
name_of() {
    local pid name started; pid=$(node_pid "$1")
    for name in m1 m2 c1 c2 c3; do
        eval "started=\${PID_$name:-}"
        [ "$started" = "$pid" ] && { echo "$name"; return; }
    done
    fail "no name for node $1 (pid $pid)"
}
id_of() { q "SELECT id FROM nodes WHERE pid = $(pid_of "$1") AND stopped_at IS NULL ORDER BY id DESC LIMIT 1"; }
rogue() { "$BIN/warogue" --timeout 1 "$@"; }
stats() { "$BIN/warogue" --cert "$T/keys/wactl.key_secret" --server-key "$(key_of "$1")" stats "$(at "$1" 3)"; }
bus_count() {   # bus_count NODE FIELD: a counter of the node's "bus" stats
    stats "$1" | sed -n 's/^answered STATS 0 //p' | jq -e ".bus.$2"
}
bus_count_above() { [ "$(bus_count "$1" "$2")" -gt "$3" ]; }
logged() { grep -qF -- "$2" "$T/$1.log"; }
liveness() { "$BIN/wactl" -c "$CONF" status --json | jq -r ".nodes[] | select(.id == $1) | .liveness.state"; }
is_healthy() { [ "$(liveness "$1")" = healthy ]; }
is_unhealthy() { [ "$(liveness "$1")" = unhealthy ]; }

PM=$(primary_master); PC=$(primary_coreapp)
[ -n "$PM" ] && [ -n "$PC" ] || fail "no primary Master or Coreapp"
SM=$(q "SELECT id FROM nodes WHERE kind = 'master' AND id <> $PM AND stopped_at IS NULL LIMIT 1")
SC=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND id <> $PC AND stopped_at IS NULL LIMIT 1")
PMN=$(name_of "$PM"); PCN=$(name_of "$PC"); SCN=$(name_of "$SC")

note "a USER's message through the Webapp: the cluster works"
expect "create a USER" 201 - "$WEB" POST /v1/users -H "Authorization: Bearer $ADMIN" -H "$JSON" \
    -d '{"username":"carol","password":"Car0l-Passw0rd"}'
expect "the USER's login" 200 - "$WEB" POST /v1/users/login -u 'carol:Car0l-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)" -H "$JSON")
expect "the USER's message" 201 - "$WEB" POST /v1/messages "${USER_AUTH[@]}" \
    -d '{"to":"16315550101","type":"text","text":{"body":"hello"}}'
wait_for 10 grep -q '"to":"16315550101"' "$T/ledger.jsonl" || fail "the USER's message did not reach wagate"

# What a rogue must not change.
ROGUE_TO=15550006660
snapshot() {
    q "SELECT GROUP_CONCAT(name, '=', value, '@', updated_by ORDER BY name SEPARATOR ' ') FROM settings"
    q "SELECT * FROM account"
    q "SELECT shards FROM cluster_info"
}
BEFORE=$(snapshot)
# Messages wagate took (its ledger also records the statuses it emits).
sent_upstream() { grep -c '"event":"message"' "$T/ledger.jsonl"; }
LEDGER=$(sent_upstream)
EVENTS=$(q "SELECT COALESCE(MAX(id), 0) FROM events")
unchanged() {
    [ "$(snapshot)" = "$BEFORE" ] || fail "$1: the settings, account or shards changed: $(snapshot)"
    ! grep -q "$ROGUE_TO" "$T/ledger.jsonl" || fail "$1: the rogue's message reached wagate"
    [ "$(sent_upstream)" = "$LEDGER" ] || fail "$1: new messages in wagate's ledger: $(grep '"event":"message"' "$T/ledger.jsonl")"
    # Only the cluster's own lifecycle may write events meanwhile (a lease
    # renewed late on a busy machine), never a settings, account or shards one.
    local odd; odd=$(q "SELECT GROUP_CONCAT(kind) FROM events WHERE id > $EVENTS AND kind NOT IN
        ('lease_acquired', 'lease_lost', 'promoted', 'demoted', 'primary', 'session_opened', 'session_closed')")
    [ -z "$odd" ] || [ "$odd" = NULL ] || fail "$1: events written: $odd"
}
# attack_all OUT [warogue options]: every attack at its port, at once;
# the answers in OUT.NAME.
attack_all() {
    local out=$1; shift
    local pids=() a
    for a in "send-message $ROGUE_TO@$PC 1" "set-webhook@$PM 1" "settings-reset@$PM 1" "shards-set@$PM 1" \
             "register@$PM 1" "verify@$PM 1" "stats@$PM 3" "stats@$PC 3" "hb-reply $SC@$PM 3" "report@$PM 3" \
             "settings-changed@$PM 3" "switchover@$PM 3" "handed-over $SC@$PM 3" "subscribe@$PM 2"; do
        local what=${a%@*} where=${a#*@}
        local name=${what%% *} arg=${what#* } node=${where% *} index=${where#* }
        [ "$arg" != "$what" ] || arg=
        [ "$name" != set-webhook ] || arg=http://127.0.0.1:9/rogue
        local opts=("$@")
        [ "${opts[0]:-}" != --cert ] || opts+=(--server-key "$(key_of "$node")")
        rogue "${opts[@]}" "$name" "$(at "$node" "$index")" $arg > "$out.$name.$node" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
}

note "a rogue without a key: every attack unanswered, nothing changed, counted and logged"
attack_all "$T/keyless"
for f in "$T"/keyless.*; do
    case "$f" in
        *.subscribe.*) [ "$(cat "$f")" = "received 0" ] || fail "keyless $(basename "$f"): $(cat "$f")" ;;
        *) [ "$(cat "$f")" = "no answer within 1 s" ] || fail "keyless $(basename "$f"): $(cat "$f")" ;;
    esac
done
unchanged "keyless"
for node in "$PM" "$PC"; do
    bus_count_above "$node" refused_keyless 0 || fail "node $node counted no key-less refusal: $(stats "$node")"
done
expect "the Webapp's stats" 200 - "$WEB" GET /v1/stats/app -H "Authorization: Bearer $ADMIN"
[ "$(jq '[.. | objects | .refused_keyless? // empty] | max // 0' "$T/body")" -gt 0 ] \
    || fail "GET /v1/stats/app shows no key-less refusal: $(body)"
check "the primary Master logs the key-less refusals" logged "$PMN" "that offered no CURVE key"
check "the primary Coreapp logs the key-less refusals" logged "$PCN" "that offered no CURVE key"

note "a rogue with a key not in the allow-list: refused at the handshake, counted, the key logged"
mkdir -p "$T/rogue"
"$BIN/wactl" -c /dev/null keys new rogue --role webapp --out "$T/rogue" >/dev/null || fail "cannot make the rogue's key"
ROGUE_KEY=$(public_key "$T/rogue/rogue.key")
[ ${#ROGUE_KEY} = 40 ] || fail "the rogue's public key: '$ROGUE_KEY'"
handshakes=$(bus_count "$PM" refused_handshakes)
attack_all "$T/unknown" --cert "$T/rogue/rogue.key_secret"
for f in "$T"/unknown.*; do
    case "$f" in
        *.subscribe.*) [ "$(cat "$f")" = "received 0" ] || fail "unknown key $(basename "$f"): $(cat "$f")" ;;
        *) [ "$(cat "$f")" = "no answer within 1 s" ] || fail "unknown key $(basename "$f"): $(cat "$f")" ;;
    esac
done
unchanged "unknown key"
bus_count_above "$PM" refused_handshakes "$handshakes" || fail "no refused handshake counted: $(stats "$PM")"
bus_count_above "$PC" refused_handshakes 0 || fail "no refused handshake counted: $(stats "$PC")"
for n in "$PMN" "$PCN"; do
    check "$n logs the rogue's key" logged "$n" "key $ROGUE_KEY is not in the allow-list"
done

note "a rogue with a stolen Coreapp key ($PCN's): 403 from the APIs, forged control frames refused"
STOLEN=(--cert "$T/keys/$PCN.key_secret")
STOLEN_KEY=$(public_key "$T/keys/$PCN.key")
messages=$(bus_count "$PM" refused_messages)
# A Coreapp's key speaks for its own node only.
got=$(rogue "${STOLEN[@]}" --server-key "$(key_of "$PM")" hb-reply "$(at "$PM" 3)" "$SC")
[ "$got" = "no answer within 1 s" ] || fail "a forged heartbeat reply: $got"
check "the forged reply is refused and logged" logged "$PMN" \
    "from key $STOLEN_KEY (coreapp $PCN): it speaks for coreapp $SC, whose key is another"
attack_all "$T/stolen" "${STOLEN[@]}"
for f in "$T"/stolen.*; do
    case "$f" in
        *.send-message.*|*.set-webhook.*|*.settings-reset.*|*.shards-set.*|*.register.*|*.verify.*)
            grep -q '^answered API_REP 403 .*"code":1005' "$f" || fail "stolen key $(basename "$f"): $(cat "$f")" ;;
        *.settings-changed.*|*.switchover.*)
            grep -q '^answered ERROR 403 forbidden' "$f" || fail "stolen key $(basename "$f"): $(cat "$f")" ;;
        *.hb-reply.*|*.report.*|*.handed-over.*)
            [ "$(cat "$f")" = "no answer within 1 s" ] || fail "stolen key $(basename "$f"): $(cat "$f")" ;;
        *.stats.*)      # any trusted key may read the stats
            grep -q '^answered STATS 0 {' "$f" || fail "stolen key $(basename "$f"): $(cat "$f")" ;;
        *.subscribe.*)  # a Coreapp hears the Masters' bus
            grep -q '^received [1-9]' "$f" || fail "stolen key $(basename "$f"): $(cat "$f")" ;;
    esac
done
unchanged "stolen key"
# Two heartbeat replies for another node, the report, the settings change.
refused=$(( $(bus_count "$PM" refused_messages) - messages ))
[ "$refused" -ge 4 ] || fail "the primary Master refused $refused of 4 forged frames"

note "revoking $SCN's key: refused within a second, unhealthy; a forged reply for it does not help; trusted again: healthy"
check "$SCN is healthy first" is_healthy "$SC"
SC_KEY=$(key_of "$SC")
"$BIN/wactl" -c "$CONF" keys revoke "$SCN" >/dev/null || fail "cannot revoke $SCN's key"
wait_for 5 logged "$PMN" "from key $SC_KEY (no longer trusted)" || fail "the primary Master does not refuse $SCN's replies"
# The stolen key speaks for $PCN only: its replies for $SCN are refused.
forged=0
forge() {
    "$BIN/warogue" --timeout 0.2 "${STOLEN[@]}" --server-key "$(key_of "$PM")" hb-reply "$(at "$PM" 3)" "$SC" >/dev/null
    forged=$((forged + 1))
}
forge_until_unhealthy() { forge; is_unhealthy "$SC"; }
wait_for 10 forge_until_unhealthy || fail "$SCN stays $(liveness "$SC") though revoked ($forged forged replies)"
"$BIN/wactl" -c "$CONF" keys trust "$T/keys/$SCN.key" --keys-dir "$T/keys/trusted" >/dev/null || fail "cannot trust $SCN again"
wait_for 10 is_healthy "$SC" || fail "$SCN is $(liveness "$SC") after its key was trusted again"

note "a Coreapp started with a key the cluster does not trust yet: refused, then joins once trusted"
"$BIN/wactl" -c /dev/null keys new c3 --role coreapp --out "$T/keys" >/dev/null || fail "cannot make c3's key"
C3_KEY=$(public_key "$T/keys/c3.key")
start c3 wacore
wait_for 10 logged "$PMN" "key $C3_KEY is not in the allow-list" || fail "the primary Master did not refuse c3's key"
wait_for 10 logged c3 "refused our key" || fail "c3 does not log that its key is refused"
registered() { [ -n "$(id_of c3)" ]; }
wait_for 10 registered || fail "c3 did not register"
C3=$(id_of c3)
# Its replies never reach a Master: unhealthy once unhealthy_interval passed.
wait_for 10 is_unhealthy "$C3" || fail "c3 is $(liveness "$C3") though every Master refuses its key"
"$BIN/wactl" -c "$CONF" keys trust "$T/keys/c3.key" --keys-dir "$T/keys/trusted" >/dev/null || fail "cannot trust c3's key"
wait_for 15 logged c3 "accepts our key now" || fail "c3 did not log that the Masters accept its key"
wait_for 25 is_healthy "$C3" \
    || fail "c3 is $(liveness "$C3") 25 s after its key was trusted; c3's stats: $(stats "$C3" | cut -c1-600)"

note "start-up refusals"
# refused WHAT PATTERN [env=value ...]: wamaster exits non-zero at once, saying PATTERN.
refused() {
    local what=$1 pattern=$2; shift 2
    local rc=0
    env "$@" timeout 10 "$BIN/wamaster" -c "$T/f.conf" > "$T/f.out" 2>&1 || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$what: wamaster exit status $rc: $(cat "$T/f.out")"
    grep -qF -- "$pattern" "$T/f.out" || fail "$what: expected '$pattern': $(cat "$T/f.out")"
}
# A database nobody listens on: these must fail before it matters.
{ cat "$CONF"; echo "db_port = $(free_port)"; } > "$T/f.conf"
cp "$T/keys/m1.key_secret" "$T/m-open.key_secret"; chmod 644 "$T/m-open.key_secret"
refused "no certificate" "bus_cert is not set" WA_BUS_CERT=
refused "a readable certificate" "(mode 0644)" WA_BUS_CERT="$T/m-open.key_secret"
refused "a Coreapp's certificate" "a certificate of role 'coreapp'" WA_BUS_CERT="$T/keys/c1.key_secret"
echo "bind_address = 0.0.0.0" >> "$T/f.conf"
refused "off on 0.0.0.0" "bus_security = off binds only loopback, and bind_address is '0.0.0.0'" \
    WA_BUS_SECURITY=off WA_BUS_CERT=
echo "bind_address = *" >> "$T/f.conf"
WA_BUS_SECURITY=off WA_BUS_CERT= "$BIN/wamaster" -c "$T/f.conf" >> "$T/off.log" 2>&1 &
PIDS+=($!); OFF=$!
wait_for 10 grep -q "ready: bus" "$T/off.log" || fail "wamaster with bus_security = off did not start"
for p in $(sed -n 's/.*ready: bus \([0-9]*\), control \([0-9]*\), health \([0-9]*\);.*/\1 \2 \3/p' "$T/off.log"); do
    listening=$(ss -Htln "sport = :$p" | awk '{print $4}')
    [ "$listening" = "127.0.0.1:$p" ] || fail "bus_security = off on '*': port $p listens on '$listening'"
done
kill -TERM "$OFF"

check "0 overlaps at wagate" overlaps_zero
note "every attack refused; revocation, late trust and the start-up checks hold"
