#!/usr/bin/env bash
# Registration, on a cluster whose account starts unregistered
# (wagate_registered = 0): wagate answers every LOGIN with UNREGISTERED, so
# the primary Coreapp keeps its shard (same epoch, no demotion) with
# gateway_status unregistered and tries again every upstream_login_timeout,
# and GET /v1/health shows both primaries "unregistered". A message is
# still accepted (201, into the outbox) and reaches wagate once the account
# is registered, exactly once. POST /v1/account (through the primary
# Master to wagate) answers 202 with the verified name; `wagate code` shows
# the code; a wrong code is refused; the right one answers 201, the account
# row says registered, and health turns "connected". Registering again
# answers 201. Bad input is refused with its code, a USER gets 403. The
# shard count: GET answers it, POST with the same count 201, another 400.
# With wagate frozen the Master keeps its lease while requests time out;
# with no Master a request ends 500 1017 after request_deadline.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 wagate_registered=0 request_deadline=5 request_attempt_timeout=2 \
    upstream_login_timeout=1
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster; start m2 wamaster
start c1 wacore; start c2 wacore
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
CERT=$(printf 'Acme Shop' | base64)
REGISTER="{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"$CERT\"}"

coreapp_unregistered() {
    local c; c=$(primary_coreapp)
    [ -n "$c" ] && [ "$(q "SELECT gateway_status FROM nodes WHERE id = $c")" = unregistered ]
}
account_state() { q "SELECT state FROM account WHERE id = 1"; }
account_is() { [ "$(account_state)" = "$1" ]; }
# health_is STATUS: both primaries have this gateway_status in GET /v1/health.
health_is() {
    [ "$(api "$WEB" GET /v1/health "${AUTH[@]}")" = 200 ] || return 1
    [ "$(jq -r "[.health[] | select(.role == \"primary_master\" or .primary == true)
                 | .gateway_status] | join(\" \")" "$T/body")" = "$1 $1" ]
}
in_ledger() { grep -c "\"event\":\"message\".*\"id\":\"$1\"" "$T/ledger.jsonl" 2>/dev/null || true; }
in_ledger_once() { [ "$(in_ledger "$1")" = 1 ]; }

note "unregistered: no session, the Coreapp keeps its shard, health says unregistered"
wait_for 30 coreapp_unregistered || fail "no primary Coreapp told unregistered: $(q "SELECT id, gateway_status FROM nodes")"
wait_for 10 account_is unregistered || fail "the Master did not store the account's state: '$(account_state)'"
wait_for 10 health_is unregistered || fail "health: $(body)"
[ "$(gate_stat sessions)" = 0 ] || fail "wagate opened a session: $(gate_stat sessions)"
EPOCH=$(shard_epoch); HOLDER=$(primary_coreapp)
grep -q "the account is not registered" "$T/gate.log" || fail "wagate did not log the refused login"

note "a message is accepted meanwhile, and waits in the outbox"
expect "send" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d '{"to":"16315550001","text":{"body":"while unregistered"}}'
ID=$(jq -r '.messages[0].id' "$T/body")
[ "$(q "SELECT status FROM outbox WHERE id = '$ID'")" = pending ] || fail "outbox row: $(q "SELECT * FROM outbox")"

note "contacts wait for a session: after request_deadline, 503 naming the reason"
expect "contacts while unregistered" 503 1011 "$WEB" POST /v1/contacts "${AUTH[@]}" \
    -d '{"blocking":"wait","contacts":["16315551234"]}'
grep -q "not registered" "$T/body" || fail "the reason: $(body)"

note "bad input: refused with its code, nothing sent upstream"
# bad WHAT CODE PATTERN PATH BODY
bad() {
    expect "$1" 400 "$2" "$WEB" POST "$4" "${AUTH[@]}" ${5:+-d "$5"}
    grep -q -- "$3" "$T/body" || fail "$1: expected '$3' in $(body)"
}
bad "no body" 1008 "the body must be" /v1/account ""
bad "not an object" 1009 "JSON object" /v1/account '[1]'
bad "cc missing" 1008 "'cc' is missing" /v1/account '{"phone_number":"6315551234","method":"sms","cert":"QQ=="}'
bad "cc a number" 1009 "'cc' must be a string" /v1/account '{"cc":1,"phone_number":"6315551234"}'
bad "cc letters" 1009 "'cc' must be a country calling code" /v1/account '{"cc":"US","phone_number":"6315551234"}'
bad "phone_number missing" 1008 "'phone_number' is missing" /v1/account '{"cc":"1"}'
bad "phone_number too long" 1009 "'phone_number' must be" /v1/account '{"cc":"1","phone_number":"6315551234567890"}'
bad "method missing" 1008 "'method' is missing" /v1/account '{"cc":"1","phone_number":"6315551234"}'
bad "method" 1009 "'method' must be" /v1/account \
    '{"cc":"1","phone_number":"6315551234","method":"email","cert":"QQ=="}'
bad "cert missing" 1008 "'cert' is missing" /v1/account '{"cc":"1","phone_number":"6315551234","method":"sms"}'
bad "cert not base64" 1009 "'cert' must be" /v1/account '{"cc":"1","phone_number":"6315551234","method":"sms","cert":"no!"}'
bad "cert binary" 1009 "'cert' must be" /v1/account "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"method\":\"sms\",\"cert\":\"$(printf '\001\002' | base64)\"}"
bad "pin" 1009 "'pin' must be" /v1/account "${REGISTER%\}},\"pin\":\"12ab56\"}"
bad "verify without code" 1008 "'code' is missing" /v1/account/verify '{}'
bad "verify code letters" 1009 "'code' must be the 6-digit" /v1/account/verify '{"code":"12345a"}'
bad "verify code short" 1009 "'code' must be the 6-digit" /v1/account/verify '{"code":"12345"}'
bad "verify code number" 1009 "'code' must be a string" /v1/account/verify '{"code":123456}'
bad "verify with nothing pending" 1009 "no registration is under way" /v1/account/verify '{"code":"123456"}'
"$BIN/wagate" -c "$CONF" code 2>/dev/null && fail "wagate has a code before any request"

note "a USER may not register"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)" -H 'Content-Type: application/json')
expect "a USER's register" 403 1005 "$WEB" POST /v1/account "${USER_AUTH[@]}" -d "$REGISTER"
expect "a USER's verify" 403 1005 "$WEB" POST /v1/account/verify "${USER_AUTH[@]}" -d '{"code":"123456"}'
expect "a USER's shards" 403 1005 "$WEB" GET /v1/account/shards "${USER_AUTH[@]}"

note "register: 202 with the verified name; wagate code shows the code"
expect "register" 202 - "$WEB" POST /v1/account "${AUTH[@]}" -d "$REGISTER"
[ "$(jq -c .account "$T/body")" = '[{"vname":"Acme Shop"}]' ] || fail "register answered $(body)"
CODE=$("$BIN/wagate" -c "$CONF" code) || fail "wagate code: no code"
[[ "$CODE" =~ ^[0-9]{6}$ ]] || fail "wagate code printed '$CODE'"
[ "$(q "SELECT CONCAT(cc, ' ', phone_number, ' ', state, ' ', vname) FROM account")" = "1 6315551234 pending Acme Shop" ] \
    || fail "account row: $(q "SELECT * FROM account")"
expect "register again while pending" 202 - "$WEB" POST /v1/account "${AUTH[@]}" -d "$REGISTER"
[ "$("$BIN/wagate" -c "$CONF" code)" = "$CODE" ] || fail "a repeated register changed the code"
health_is unregistered || fail "health while pending: $(body)"

note "a wrong code: refused, still unregistered"
WRONG=$(printf '%06d' $(( (10#$CODE + 1) % 1000000 )))
expect "wrong code" 400 1009 "$WEB" POST /v1/account/verify "${AUTH[@]}" -d "{\"code\":\"$WRONG\"}"
grep -q "the code is wrong" "$T/body" || fail "wrong code: $(body)"
[ "$(gate_stat sessions)" = 0 ] && [ "$(in_ledger "$ID")" = 0 ] || fail "a session opened with a wrong code"

note "verify: 201; the Coreapp logs in, health says connected, the waiting message goes out once"
expect "verify" 201 - "$WEB" POST /v1/account/verify "${AUTH[@]}" -d "{\"code\":\"${CODE:0:3}-${CODE:3}\"}"
account_is registered || fail "account row after verify: $(q "SELECT * FROM account")"
wait_for 10 health_is connected || fail "health after verify: $(body)"
wait_for 10 in_ledger_once "$ID" || fail "the message accepted while unregistered did not reach wagate once: $(in_ledger "$ID")"
[ "$(shard_epoch)" = "$EPOCH" ] && [ "$(primary_coreapp)" = "$HOLDER" ] \
    || fail "the shard changed hands while unregistered: epoch $EPOCH -> $(shard_epoch), holder $HOLDER -> $(primary_coreapp)"
! grep -q "demoted" "$T/c1.log" "$T/c2.log" || fail "a Coreapp demoted itself: $(grep demoted "$T"/c?.log)"
[ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'unregistered'")" = 1 ] \
    || fail "unregistered events: $(q "SELECT detail FROM events WHERE kind = 'unregistered'")"
"$BIN/wagate" -c "$CONF" code 2>/dev/null && fail "wagate still shows a code"
expect "contacts now" 200 - "$WEB" POST /v1/contacts "${AUTH[@]}" -d '{"blocking":"wait","contacts":["16315551234"]}'

note "after: register again 201, the same verify again 201, another code 400"
expect "register when registered" 201 - "$WEB" POST /v1/account "${AUTH[@]}" -d "$REGISTER"
expect "verify repeated" 201 - "$WEB" POST /v1/account/verify "${AUTH[@]}" -d "{\"code\":\"$CODE\"}"
expect "verify another code" 400 1009 "$WEB" POST /v1/account/verify "${AUTH[@]}" -d "{\"code\":\"$WRONG\"}"
expect "register another number" 400 1009 "$WEB" POST /v1/account "${AUTH[@]}" \
    -d "{\"cc\":\"44\",\"phone_number\":\"2079460018\",\"method\":\"voice\",\"cert\":\"$CERT\"}"
grep -q "registered as +1 6315551234" "$T/body" || fail "another number: $(body)"
account_is registered || fail "account row: $(q "SELECT * FROM account")"

note "shards: the count in force (changed live: test_reshard)"
expect "GET shards" 200 - "$WEB" GET /v1/account/shards "${AUTH[@]}"
[ "$(jq -c .account "$T/body")" = '{"shards":1}' ] || fail "GET shards: $(body)"
SHARDS='{"cc":"1","phone_number":"6315551234","shards":1}'
expect "POST the same count" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$SHARDS"
bad "shards another number" 1009 "is not this cluster's account" /v1/account/shards \
    '{"cc":"1","phone_number":"6315550000","shards":1}'
bad "shards no body" 1008 "the body must be" /v1/account/shards ""
bad "shards missing" 1008 "'shards' is missing" /v1/account/shards '{"cc":"1","phone_number":"6315551234"}'
bad "shards 3" 1009 "'shards' must be one of" /v1/account/shards '{"cc":"1","phone_number":"6315551234","shards":3}'
bad "shards a string" 1009 "'shards' must be one of" /v1/account/shards '{"cc":"1","phone_number":"6315551234","shards":"2"}'
bad "shards 64" 1009 "'shards' must be one of" /v1/account/shards '{"cc":"1","phone_number":"6315551234","shards":64}'
bad "shards cc" 1008 "'cc' is missing" /v1/account/shards '{"phone_number":"6315551234","shards":1}'

note "wagate frozen: requests time out, the Master keeps its lease"
MASTER=$(primary_master); MEPOCH=$(lease_epoch)
kill -STOP "$PID_gate"
t0=$(now_ms)
expect "register, wagate frozen" 503 1011 "$WEB" POST /v1/account "${AUTH[@]}" -d "$REGISTER"
took=$(( $(now_ms) - t0 ))
kill -CONT "$PID_gate"
grep -q "no primary Master accepted the request within request_deadline (5 s); last attempt: master [0-9]" "$T/body" || fail "the reason: $(body)"
grep -q "api: register: the upstream (.*) did not answer within 1 s" "$T/m1.log" "$T/m2.log" \
    || fail "the Master did not say why"
[ "$took" -ge 4500 ] && [ "$took" -lt 9000 ] || fail "answered after $took ms; request_deadline is 5 s"
[ "$(primary_master)" = "$MASTER" ] && [ "$(lease_epoch)" = "$MEPOCH" ] \
    || fail "the Master lost its lease while wagate was frozen: $MASTER/$MEPOCH -> $(primary_master)/$(lease_epoch)"
wait_for 10 health_is connected || fail "health after wagate came back: $(body)"
expect "register once wagate is back" 201 - "$WEB" POST /v1/account "${AUTH[@]}" -d "$REGISTER"

note "no Master: 500 1017 once request_deadline (5 s) has passed"
kill -KILL "$PID_m1" "$PID_m2"; wait "$PID_m1" "$PID_m2" 2>/dev/null || true
no_primary_master() { [ -z "$(primary_master)" ]; }
wait_for 10 no_primary_master || fail "the master lease did not expire"
t0=$(now_ms)
expect "no Master" 500 1017 "$WEB" POST /v1/account/verify "${AUTH[@]}" -d "{\"code\":\"$CODE\"}"
took=$(( $(now_ms) - t0 ))
[ "$took" -ge 4500 ] && [ "$took" -lt 9000 ] || fail "answered after $took ms; request_deadline is 5 s"
grep -q "no primary Master accepted the request within request_deadline" "$T/body" || fail "the reason: $(body)"
expect "no Master, shards" 500 1017 "$WEB" GET /v1/account/shards "${AUTH[@]}"
[ "$(in_ledger "$ID")" = 1 ] && [ "$(gate_stat duplicates)" = 0 ] || fail "the message: $(in_ledger "$ID") times at wagate"
check "0 overlaps at wagate" overlaps_zero
note "unregistered, register, code, wrong code, verify, connected, the waiting message once, shards, timeouts, 1017: as expected"
