#!/usr/bin/env bash
# GET, PATCH and DELETE /v1/settings/application: the Webapp forwards them
# to the primary Master, which reads the settings table, checks a change
# (each key and value, then the whole), stores it and broadcasts it. GET
# shows the table's values as numbers; a PATCH is applied by every node;
# every bad input gets 400 with its code, names the key and stores nothing;
# a USER gets 403; a secondary Master answers 1017 at once and the request
# goes on to the primary, also across a frozen then killed primary; with no
# Master the request ends with 500 1017 after request_deadline; DELETE puts
# every setting back to its built-in default. The webhook settings come
# nested as the original's ({"webhooks": {"url", "max_concurrent_requests"}},
# stored as webhooks_url and webhooks_max_concurrent_requests); PATCH takes
# them nested or flat.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
# upstream_idle_timeout 2: the built-in upstream_ping_interval (1) must be at
# most half of it, or DELETE's defaults would fail the cross-key checks.
cluster_init webapp_bind=127.0.0.1 upstream_idle_timeout=2 request_deadline=6 request_attempt_timeout=0.5
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
S=/v1/settings/application

SETTINGS=$(q "SELECT name FROM settings ORDER BY name")
stored() { q "SELECT value FROM settings WHERE name = '$1'"; }
# Every row as name=value@updated_by, to see that nothing changed.
table() { q "SELECT GROUP_CONCAT(name, '=', value, '@', updated_by ORDER BY name SEPARATOR ' ') FROM settings"; }
# value NAME [FILE]: the setting's JSON value in an answer (webhooks_X
# from the nested webhooks.X).
value() {
    local path=".$1"
    case "$1" in
        webhooks_*) path=".webhooks.${1#webhooks_}" ;;
        media_auto_download) path='.media.auto_download | join(",")' ;;
    esac
    jq -c ".settings.application$path" "${2:-$T/body}"
}
application() { jq -ce '.settings.application | objects' "$T/body"; }
# How many settings an answer holds (nested ones counted one each, a list as one).
answered() { jq '[.settings.application | .. | objects | to_entries[] | select(.value | type != "object")] | length' "$T/body"; }
# same JSON TEXT: an answer's JSON value is the setting's canonical text:
# the same number, true for 1 and false for 0, or the same string.
same() {
    case "$1" in
        true) [ "$2" = 1 ] ;;
        false) [ "$2" = 0 ] ;;
        \"*) [ "$1" = "\"$2\"" ] ;;
        *) [ -n "$1" ] && [ "$1" = "$2" ] ;;
    esac
}
# log_of NODE: the log of the Master with that node id.
log_of() {
    local pid name started; pid=$(node_pid "$1")
    for name in m1 m2 m3; do
        eval "started=\${PID_$name:-}"
        [ "$started" = "$pid" ] && { echo "$T/$name.log"; return; }
    done
    fail "no log for master $1 (pid $pid)"
}
has_primary() { [ -n "$(primary_master)" ]; }
no_primary() { [ -z "$(primary_master)" ]; }
applied() { grep -q "setting $2: $3 -> $4 (" "$T/$1.log"; }

note "GET: every cluster setting, as the table holds it, numbers as JSON numbers"
[ "$(wc -w <<<"$SETTINGS")" -ge 15 ] || fail "the settings were not seeded: $SETTINGS"
# Written straight to the table: the answer reads it, not the Master's memory.
q "UPDATE settings SET value = '61', updated_by = 'test' WHERE name = 'promotion_holdoff'"
expect "GET" 200 - "$WEB" GET $S "${AUTH[@]}"
[ -n "$(application)" ] || fail "GET: not {\"settings\":{\"application\":{...}}}: $(body)"
[ "$(answered)" = "$(wc -w <<<"$SETTINGS")" ] || fail "GET: expected the $(wc -w <<<"$SETTINGS") settings: $(body)"
for name in $SETTINGS; do
    same "$(value "$name")" "$(stored "$name")" || fail "GET: $name is $(value "$name"), stored $(stored "$name"): $(body)"
done
[ "$(value promotion_holdoff)" = 61 ] && [ "$(value upstream_ping_interval)" = 0.1 ] && [ "$(value lease_ttl)" = 2 ] \
    || fail "GET: values as stored, as numbers: $(body)"
grep -q '"upstream_idle_timeout"' "$T/body" && fail "GET lists a config key: $(body)"

note "PATCH heartbeat_interval and unhealthy_interval: stored, broadcast, applied by every node"
primary=$(primary_master)
bus=$(q "SELECT SUBSTRING_INDEX(SUBSTRING_INDEX(ports, ',', 2), ',', -1) FROM nodes WHERE id = $primary")
beats() {   # heartbeats the primary Master publishes in 2 s
    "$BIN/watap" -c "$CONF" --json --all --kind heartbeat --timeout 2 "tcp://127.0.0.1:$bus" 2>/dev/null \
        | grep -c '"kind": *"heartbeat"' || true
}
before=$(beats)
others=$(table | tr ' ' '\n' | grep -v '^heartbeat_interval=\|^unhealthy_interval=')
expect "PATCH" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"heartbeat_interval":0.25,"unhealthy_interval":"5"}'
[ "$(value heartbeat_interval)" = 0.25 ] && [ "$(value unhealthy_interval)" = 5 ] && [ "$(value promotion_holdoff)" = 61 ] \
    || fail "PATCH answers the new settings: $(body)"
[ "$(answered)" = "$(wc -w <<<"$SETTINGS")" ] || fail "PATCH: not the GET shape: $(body)"
[ "$(stored heartbeat_interval)" = 0.25 ] && [ "$(stored unhealthy_interval)" = 5 ] \
    || fail "stored: $(stored heartbeat_interval) $(stored unhealthy_interval)"
[ "$(q "SELECT COUNT(*) FROM settings WHERE updated_by = 'api:admin'")" = 2 ] || fail "updated_by: $(table)"
[ "$(table | tr ' ' '\n' | grep -v '^heartbeat_interval=\|^unhealthy_interval=')" = "$others" ] \
    || fail "PATCH changed other rows: $(table)"
grep -q "api: admin changed heartbeat_interval=0.25 unhealthy_interval=5: stored; broadcasting" "$(log_of "$primary")" \
    || fail "the primary Master did not log the change"
for n in m1 m2 c1 c2; do
    wait_for 5 applied "$n" heartbeat_interval 5 0.25 || fail "$n did not apply heartbeat_interval 0.25"
    wait_for 5 applied "$n" unhealthy_interval 30 5 || fail "$n did not apply unhealthy_interval 5"
done
for n in c1 c2; do   # from the broadcast (or the table, a few ms later, for one that missed it)
    grep -q "setting heartbeat_interval: 5 -> 0.25 (broadcast)" "$T/$n.log" || note "$n took it from the table"
done
after=$(beats)
[ "$before" -le 1 ] && [ "$after" -ge 5 ] && [ "$after" -le 10 ] \
    || fail "heartbeats in 2 s: $before at 5 s, $after at 0.25 s"
expect "GET after PATCH" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(value heartbeat_interval)" = 0.25 ] || fail "GET after PATCH: $(body)"

# Settings of other types, where the build has them.
if grep -qx sent_status <<<"$SETTINGS"; then
    note "a boolean setting: true or false"
    expect "PATCH a boolean" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"sent_status":true}'
    [ "$(value sent_status)" = true ] && [ "$(stored sent_status)" = 1 ] || fail "sent_status true: $(body)"
    expect "PATCH a boolean as text" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"sent_status":"off"}'
    [ "$(value sent_status)" = false ] && [ "$(stored sent_status)" = 0 ] || fail "sent_status off: $(body)"
fi

if grep -qx webhooks_url <<<"$SETTINGS"; then
    note "the webhook settings: nested as the original's, taken nested or flat"
    expect "GET" 200 - "$WEB" GET $S "${AUTH[@]}"
    [ "$(jq -c '.settings.application.webhooks | keys' "$T/body")" = '["max_concurrent_requests","secret","url"]' ] \
        || fail "GET: webhooks not nested: $(body)"
    jq -e '.settings.application | has("webhooks_url") or has("webhooks_max_concurrent_requests")' "$T/body" \
        >/dev/null && fail "GET: the flat names too: $(body)"
    expect "PATCH nested" 200 - "$WEB" PATCH $S "${AUTH[@]}" \
        -d '{"webhooks":{"url":"http://127.0.0.1:1/hook","max_concurrent_requests":5}}'
    [ "$(jq -c .settings.application.webhooks "$T/body")" = '{"max_concurrent_requests":5,"secret":"","url":"http://127.0.0.1:1/hook"}' ] \
        || fail "PATCH nested answered $(body)"
    [ "$(stored webhooks_url)" = http://127.0.0.1:1/hook ] && [ "$(stored webhooks_max_concurrent_requests)" = 5 ] \
        || fail "PATCH nested stored $(stored webhooks_url) $(stored webhooks_max_concurrent_requests)"
    expect "PATCH flat" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"webhooks_url":""}'
    [ "$(value webhooks_url)" = '""' ] && [ "$(value webhooks_max_concurrent_requests)" = 5 ] && [ "$(stored webhooks_url)" = "" ] \
        || fail "PATCH flat: $(body)"
fi

note "bad input: 400 with its code and the key named; nothing stored"
snapshot=$(table)
changes_logged() { cat "$T"/m?.log | grep -c "api: admin changed" || true; }
logged=$(changes_logged)
# bad WHAT CODE PATTERN [curl args]
bad() {
    local what=$1 code=$2 pattern=$3; shift 3
    expect "$what" 400 "$code" "$WEB" PATCH $S "${AUTH[@]}" "$@"
    grep -q -- "$pattern" "$T/body" || fail "$what: expected '$pattern' in $(body)"
    [ "$(table)" = "$snapshot" ] || fail "$what changed the table: $(table)"
}
bad "no body" 1008 "JSON object"
bad "malformed JSON" 1009 "" -d '{"heartbeat_interval":'
bad "not an object" 1009 "JSON object" -d '["heartbeat_interval", 1]'
bad "empty object" 1009 "JSON object" -d '{}'
bad "unknown key" 1009 "unknown setting 'frobnicate'" -d '{"frobnicate":1}'
bad "a config key" 1009 "'upstream_idle_timeout' is not a cluster setting" -d '{"upstream_idle_timeout":1}'
bad "shards" 1009 "'shards' is not a cluster setting" -d '{"shards":2}'
bad "a boolean" 1009 "'heartbeat_interval' must be a number, not a boolean" -d '{"heartbeat_interval":true}'
bad "null" 1009 "'failover_limit' must be a number, not null" -d '{"failover_limit":null}'
bad "an object" 1009 "'lease_ttl' must be a number, not an object" -d '{"lease_ttl":{"s":2}}'
if grep -qx sent_status <<<"$SETTINGS"; then
    bad "a boolean's bad value" 1009 "key 'sent_status': value '2'" -d '{"sent_status":2}'
fi
if grep -qx webhooks_url <<<"$SETTINGS"; then
    bad "a number for a string" 1009 "'webhooks_url' must be a string, not a number" -d '{"webhooks_url":5}'
    bad "nested, a number for a string" 1009 "'webhooks.url' must be a string, not a number" -d '{"webhooks":{"url":5}}'
    bad "nested, out of bounds" 1009 "key 'webhooks_max_concurrent_requests': value '0' is out of bounds" \
        -d '{"webhooks":{"max_concurrent_requests":0}}'
    bad "nested, unknown" 1009 "unknown setting 'webhooks.retries'" -d '{"webhooks":{"retries":3}}'
    bad "nested, not an object" 1009 "'webhooks' must be an object" -d '{"webhooks":"http://127.0.0.1:1/hook"}'
    bad "nested and flat" 1009 "'webhooks_url' names a setting given already" \
        -d '{"webhooks":{"url":"http://127.0.0.1:1/a"},"webhooks_url":"http://127.0.0.1:1/b"}'
fi
bad "not a number" 1009 "key 'heartbeat_interval': value 'fast' is not a number of seconds" -d '{"heartbeat_interval":"fast"}'
bad "zero" 1009 "key 'heartbeat_interval': value '0' is out of bounds" -d '{"heartbeat_interval":0}'
bad "too large" 1009 "key 'unhealthy_interval': value '100000' is out of bounds" -d '{"unhealthy_interval":100000}'
bad "negative" 1009 "key 'promotion_holdoff': value '-1' is out of bounds" -d '{"promotion_holdoff":-1}'
bad "not whole" 1009 "key 'failover_limit': value '2.5' is not a whole number" -d '{"failover_limit":2.5}'
bad "cross-key" 1009 "unhealthy_interval (0.4) must be at least two heartbeat_intervals (0.25)" \
    -d '{"unhealthy_interval":0.4}'
bad "cross-key within the request" 1009 "unhealthy_interval (1) must be at least two heartbeat_intervals (1)" \
    -d '{"heartbeat_interval":1,"unhealthy_interval":1}'
bad "lease timings" 1009 "lease_renew_interval (0.25) + lease_margin (2) must be below lease_ttl (2)" \
    -d '{"lease_margin":2}'
bad "a good key beside a bad one" 1009 "key 'failover_limit': value '0' is out of bounds" \
    -d '{"promotion_holdoff":30,"failover_limit":0}'
[ "$(changes_logged)" = "$logged" ] || fail "a refused change was logged as made"

note "a change waits for the settings lock of 'wactl settings set' (its row, here held by another client)"
hold_lock settings 2
t0=$(now_ms)
expect "PATCH while locked" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d '{"failover_limit":6}'
took=$(( $(now_ms) - t0 ))
wait "$HOLDER"
[ "$took" -ge 1000 ] || fail "the PATCH did not wait for the lock (answered after $took ms)"
[ "$(stored failover_limit)" = 6 ] || fail "failover_limit: stored $(stored failover_limit)"
if grep -qx max_callback_backoff_delay_ms <<<"$SETTINGS"; then
    note "two changes at once are checked one after the other: the second against the first's values"
    # The holder raises callback_backoff_delay_ms inside its transaction; the
    # PATCH, fine against the old value, must be checked against the new one.
    hold_lock settings 1.5 "UPDATE settings SET value = '600000', updated_by = 'test'
        WHERE name = 'callback_backoff_delay_ms';"
    expect "PATCH beside a change" 400 1009 "$WEB" PATCH $S "${AUTH[@]}" -d '{"max_callback_backoff_delay_ms":300000}'
    wait "$HOLDER"
    grep -q "max_callback_backoff_delay_ms (300000) must be at least callback_backoff_delay_ms (600000)" "$T/body" \
        || fail "the PATCH was not checked against the change before it: $(body)"
    [ "$(stored max_callback_backoff_delay_ms)" = 900000 ] || fail "stored $(stored max_callback_backoff_delay_ms)"
    # wactl and the API at once, each fine alone, refused together: one of
    # them is refused, whichever comes second, and the pair stored is valid.
    for round in 1 2 3 4 5; do
        expect "back to the defaults" 200 - "$WEB" PATCH $S "${AUTH[@]}" \
            -d '{"callback_backoff_delay_ms":3000,"max_callback_backoff_delay_ms":900000}'
        "$BIN/wactl" -c "$CONF" settings set callback_backoff_delay_ms 600000 >"$T/race.out" 2>&1 &
        CLI=$!
        status=$(api "$WEB" PATCH $S "${AUTH[@]}" -d '{"max_callback_backoff_delay_ms":300000}')
        cli=0; wait "$CLI" || cli=$?
        pair="$(stored callback_backoff_delay_ms)/$(stored max_callback_backoff_delay_ms)"
        case "$status:$cli:$pair" in
            200:1:3000/300000|400:0:600000/900000) ;;
            *) fail "round $round: PATCH $status, wactl exit $cli ($(cat "$T/race.out")), stored $pair: $(body)" ;;
        esac
    done
    expect "back to the defaults" 200 - "$WEB" PATCH $S "${AUTH[@]}" \
        -d '{"callback_backoff_delay_ms":3000,"max_callback_backoff_delay_ms":900000}'
fi
snapshot=$(table)

note "a USER: 403"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)" -H 'Content-Type: application/json')
expect "a USER's GET" 403 1005 "$WEB" GET $S "${USER_AUTH[@]}"
expect "a USER's PATCH" 403 1005 "$WEB" PATCH $S "${USER_AUTH[@]}" -d '{"heartbeat_interval":1}'
expect "a USER's DELETE" 403 1005 "$WEB" DELETE $S "${USER_AUTH[@]}"
[ "$(table)" = "$snapshot" ] || fail "a USER changed the table: $(table)"

note "a stale view: the secondary Master answers 1017, the request goes on to the primary"
primary=$(primary_master)
secondary=$(q "SELECT id FROM nodes WHERE kind = 'master' AND stopped_at IS NULL AND id <> $primary ORDER BY id DESC LIMIT 1")
ports=$(q "SELECT ports FROM nodes WHERE id = $primary")
secondary_api=$(q "SELECT SUBSTRING_INDEX(ports, ',', 1) FROM nodes WHERE id = $secondary")
# The primary's row names the secondary's API port (the first one only: the
# Masters and Coreapps use the others) and its bus key (a server is only
# reached with its own key), so the Webapp asks the secondary.
primary_key=$(q "SELECT bus_key FROM node_keys WHERE node_id = $primary")
secondary_key=$(q "SELECT bus_key FROM node_keys WHERE node_id = $secondary")
q "UPDATE nodes SET ports = CONCAT('$secondary_api', SUBSTRING(ports, LOCATE(',', ports))) WHERE id = $primary;
   UPDATE node_keys SET bus_key = '$secondary_key' WHERE node_id = $primary"
stale() { [ "$(api "$WEB" GET $S "${AUTH[@]}")" = 500 ]; }
t0=$(now_ms)
wait_for 20 stale || fail "the Webapp kept asking the primary: $(body)"
grep -q "\"code\":1017,.*request_deadline (6 s); last attempt: master $primary: master $secondary is not the primary Master (secondary_master)" \
    "$T/body" || fail "the secondary's answer: $(body)"
grep -q "api: not the primary Master: answered 1017 to" "$(log_of "$secondary")" || fail "the secondary logged no 1017"
# A change sent meanwhile waits, and is made once the view is right.
curl -s -o "$T/late.body" -w '%{http_code}' -X PATCH "http://127.0.0.1:$WEB$S" "${AUTH[@]}" \
    -d '{"promotion_holdoff":45}' > "$T/late.status" &
LATE=$!
answered_patch() { grep -q "answered 1017 to .*(last: settings_patch)" "$(log_of "$secondary")"; }
wait_for 5 answered_patch || fail "the secondary did not answer the PATCH"
q "UPDATE nodes SET ports = '$ports' WHERE id = $primary; UPDATE node_keys SET bus_key = '$primary_key' WHERE node_id = $primary"
wait "$LATE"
[ "$(cat "$T/late.status")" = 200 ] || fail "the PATCH after a 1017: HTTP $(cat "$T/late.status"): $(cat "$T/late.body")"
[ "$(value promotion_holdoff "$T/late.body")" = 45 ] && [ "$(stored promotion_holdoff)" = 45 ] \
    || fail "promotion_holdoff: stored $(stored promotion_holdoff), answered $(cat "$T/late.body")"
grep -q "api: admin changed promotion_holdoff=45" "$(log_of "$primary")" || fail "the primary did not make the change"

note "the primary Master frozen, then killed: a waiting request is answered by the next one"
primary=$(primary_master)
ppid=$(node_pid "$primary")
kill -STOP "$ppid"
t0=$(now_ms)
curl -s -o "$T/late.body" -w '%{http_code}' -X PATCH "http://127.0.0.1:$WEB$S" "${AUTH[@]}" \
    -d '{"failover_window":200}' > "$T/late.status" &
LATE=$!
wait_for 10 lease_taken_from "$primary" || fail "no Master took the lease over"
{ kill -KILL "$ppid"; wait "$ppid"; } 2>/dev/null || true
wait "$LATE"
took=$(( $(now_ms) - t0 ))
[ "$(cat "$T/late.status")" = 200 ] || fail "the PATCH across a failover: HTTP $(cat "$T/late.status"): $(cat "$T/late.body")"
[ "$(stored failover_window)" = 200 ] || fail "failover_window: stored $(stored failover_window)"
grep -q "api: admin changed failover_window=200" "$(log_of "$(primary_master)")" || fail "the new primary did not make the change"
note "answered by master $(primary_master) after $took ms"

note "no Master at all: 500 1017 once request_deadline (6 s) has passed"
ppid=$(node_pid "$(primary_master)")
{ kill -KILL "$ppid"; wait "$ppid"; } 2>/dev/null || true
wait_for 10 no_primary || fail "the master lease did not expire"
t0=$(now_ms)
expect "no Master" 500 1017 "$WEB" GET $S "${AUTH[@]}"
took=$(( $(now_ms) - t0 ))
[ "$took" -ge 5500 ] && [ "$took" -lt 10000 ] || fail "answered after $took ms, request_deadline is 6 s"
grep -q "no primary Master accepted the request within request_deadline" "$T/body" || fail "the error does not say why: $(body)"

note "DELETE: every setting back to its built-in default, stored, broadcast, applied"
start m3 wamaster
wait_for 15 has_primary || fail "the new Master did not take the lease"
master_epoch=$(lease_epoch)
expect "DELETE" 200 - "$WEB" DELETE $S "${AUTH[@]}"
shard_epoch_then=$(shard_epoch)
"$BIN/wamaster" -n -c /dev/null > "$T/defaults"
for name in $SETTINGS; do
    default=$(grep "^$name = " "$T/defaults" | cut -d' ' -f3-)
    same "$(value "$name")" "$default" || fail "DELETE answered $name $(value "$name"), the default is '$default': $(body)"
    [ "$(stored "$name")" = "$default" ] || fail "DELETE stored $name '$(stored "$name")', the default is '$default'"
done
[ "$(q "SELECT COUNT(*) FROM settings WHERE updated_by <> 'api:admin'")" = 0 ] || fail "updated_by after DELETE: $(table)"
grep -q "api: admin reset every setting to its default" "$T/m3.log" || fail "the new primary did not log the reset"
for n in c1 c2; do
    wait_for 5 applied "$n" heartbeat_interval 0.25 5 || fail "$n did not apply heartbeat_interval 5"
    wait_for 5 applied "$n" promotion_holdoff 45 60 || fail "$n did not apply promotion_holdoff 60"
done
# From 2 s leases renewed every 0.25 s to 10 s leases renewed every 2 s at
# once: each holder renews at once under the new ttl, so neither the master
# lease nor the shard lease runs out before the first renewal at 2 s.
until_db=$(q "SELECT NOW(6) + INTERVAL 3 SECOND"); wait_for 10 db_clock_past "$until_db"
[ "$(lease_epoch)" = "$master_epoch" ] && [ "$(primary_master)" = "$(q "SELECT id FROM nodes WHERE pid = $PID_m3")" ] \
    || fail "the reset cost the Master its lease: epoch $master_epoch -> $(lease_epoch): $(grep 'stepping down' "$T/m3.log")"
[ "$(shard_epoch)" = "$shard_epoch_then" ] && [ -n "$(primary_coreapp)" ] \
    || fail "the reset cost the Coreapp its shard lease: epoch $shard_epoch_then -> $(shard_epoch)"
expect "GET after DELETE" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(value heartbeat_interval)" = 5 ] && [ "$(value upstream_ping_interval)" = 1 ] || fail "GET after DELETE: $(body)"
check "0 overlaps at wagate" overlaps_zero
note "GET, PATCH (applied everywhere), bad input, 403, 1017 and the retry, DELETE: as expected"
