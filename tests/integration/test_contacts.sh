#!/usr/bin/env bash
# POST /v1/contacts end to end: the Webapp checks the request and forwards
# it to a primary Coreapp, which asks wagate on its session. wagate's rule:
# a number ending in one of wagate_invalid_digits is invalid, any other
# valid with its digits as wa_id, what is no phone number invalid.
# "wait" answers every contact in the request's order; "no_wait" answers
# "processing" for what the Coreapp has not checked yet, checks it in the
# background, and answers from its cache afterwards (without asking
# wagate again); force_check asks again. A USER may check contacts; every
# kind of bad input is refused with its code; 100 contacts, the most one
# request takes, fit.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 wagate_invalid_digits=9 request_deadline=10 request_attempt_timeout=2
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
C=/v1/contacts

# answers: "input status wa_id" per contact of the last answer, one a line.
answers() { jq -r '.contacts[] | "\(.input) \(.status) \(.wa_id // "-")"' "$T/body"; }
# primary_contacts KEY: the primary Coreapp's contacts counter (its stats).
primary_contacts() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/v1/stats/app" \
        | jq -r "[.stats.app[] | select(.role == \"primary_coreapp\") | .contacts.$1][0]"
}
check_contacts() {   # check_contacts BODY -> 200 (any token in AUTH)
    local got; got=$(api "$WEB" POST $C "${AUTH[@]}" -d "$1")
    [ "$got" = 200 ] || fail "POST $C $1: HTTP $got: $(body)"
}

note "wait: valid with its digits, invalid by the rule, and what is no number, in the request's order"
expect "wait" 200 - "$WEB" POST $C "${AUTH[@]}" \
    -d '{"blocking":"wait","contacts":["+1 (631) 555-1234","16315550009","1+631","16315551234","+1 (631) 555-1234"]}'
[ "$(answers)" = "+1 (631) 555-1234 valid 16315551234
16315550009 invalid -
1+631 invalid -
16315551234 valid 16315551234
+1 (631) 555-1234 valid 16315551234" ] || fail "wait: $(body)"
[ "$(primary_contacts asked)" = 1 ] || fail "one CONTACTS upstream for one request: $(primary_contacts asked)"

note "wait again: from the cache, wagate not asked"
check_contacts '{"blocking":"wait","contacts":["16315551234","16315550009"]}'
[ "$(answers)" = "16315551234 valid 16315551234
16315550009 invalid -" ] || fail "wait from the cache: $(body)"
[ "$(primary_contacts asked)" = 1 ] || fail "the cached contacts were asked again: $(primary_contacts asked)"

note "force_check: asked again"
check_contacts '{"blocking":"wait","contacts":["16315551234"],"force_check":true}'
[ "$(answers)" = "16315551234 valid 16315551234" ] || fail "force_check: $(body)"
[ "$(primary_contacts asked)" = 2 ] || fail "force_check did not ask wagate: $(primary_contacts asked)"

note "no_wait: processing for the unknown, the known from the cache; then checked in the background"
check_contacts '{"blocking":"no_wait","contacts":["16315552001","16315552009","16315551234"]}'
[ "$(answers)" = "16315552001 processing -
16315552009 processing -
16315551234 valid 16315551234" ] || fail "no_wait: $(body)"
asked=$(primary_contacts asked)
known_now() {
    check_contacts '{"contacts":["16315552001","16315552009"]}'    # no_wait is the default
    [ "$(answers)" = "16315552001 valid 16315552001
16315552009 invalid -" ]
}
wait_for 10 known_now || fail "no_wait never learnt the contacts: $(body)"
[ "$(primary_contacts asked)" = "$asked" ] || fail "answers from the cache asked wagate: $asked, then $(primary_contacts asked)"
note "no_wait with force_check: processing again, checked again"
check_contacts '{"blocking":"no_wait","contacts":["16315552001"],"force_check":true}'
[ "$(answers)" = "16315552001 processing -" ] || fail "no_wait force_check: $(body)"
asked_again() { [ "$(primary_contacts asked)" -gt "$asked" ]; }
wait_for 10 asked_again || fail "no_wait force_check did not ask wagate"

note "a USER may check contacts"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)" -H 'Content-Type: application/json')
expect "a USER's check" 200 - "$WEB" POST $C "${USER_AUTH[@]}" -d '{"blocking":"wait","contacts":["+44 20 7946 0018"]}'
[ "$(answers)" = "+44 20 7946 0018 valid 442079460018" ] || fail "a USER's check: $(body)"

note "100 contacts, the most a request takes: every one answered, in order"
many=$(seq 16315560000 16315560099 | jq -R . | jq -sc .)
check_contacts "{\"blocking\":\"wait\",\"contacts\":$many}"
[ "$(jq '.contacts | length' "$T/body")" = 100 ] || fail "100 contacts: $(body)"
[ "$(jq -r '[.contacts[] | select(.status == "invalid")] | length' "$T/body")" = 10 ] || fail "the rule over 100: $(body)"
[ "$(jq -r '.contacts[37].input + " " + .contacts[37].wa_id' "$T/body")" = "16315560037 16315560037" ] \
    || fail "100 contacts out of order: $(body)"

note "bad input: each refused with its code, naming the field"
B=(POST $C "${AUTH[@]}")
# bad WHAT CODE PATTERN BODY
bad() {
    expect "$1" 400 "$2" "$WEB" "${B[@]}" ${4:+-d "$4"}
    grep -q -- "$3" "$T/body" || fail "$1: expected '$3' in $(body)"
}
bad "no body" 1008 "contact check" ""
bad "malformed JSON" 1009 "not valid JSON" '{"contacts":['
bad "not an object" 1009 "JSON object" '["16315551234"]'
bad "contacts missing" 1008 "'contacts' is missing" '{"blocking":"wait"}'
bad "contacts null" 1008 "'contacts' is missing" '{"contacts":null}'
bad "contacts a string" 1009 "'contacts' must be an array" '{"contacts":"16315551234"}'
bad "contacts empty" 1009 "'contacts' must be an array of 1 to 100" '{"contacts":[]}'
bad "101 contacts" 1009 "1 to 100" "{\"contacts\":$(seq 16315560000 16315560100 | jq -R . | jq -sc .)}"
bad "a number" 1009 "'contacts\[1\]' must be a string" '{"contacts":["1631",16315551234]}'
bad "letters" 1009 "'contacts\[0\]' must be a phone number" '{"contacts":["call me"]}'
bad "too long" 1009 "'contacts\[0\]' must be a phone number" "{\"contacts\":[\"$(printf '1%.0s' $(seq 33))\"]}"
bad "empty string" 1009 "'contacts\[0\]' must be a phone number" '{"contacts":[""]}'
bad "blocking" 1009 "'blocking' must be" '{"blocking":"maybe","contacts":["1631"]}'
bad "blocking a boolean" 1009 "'blocking' must be" '{"blocking":true,"contacts":["1631"]}'
bad "force_check" 1009 "'force_check' must be true or false" '{"force_check":"yes","contacts":["1631"]}'
expect "no token" 401 1005 "$WEB" POST $C -d '{"contacts":["1631"]}'
expect "wrong method" 405 1006 "$WEB" GET $C "${AUTH[@]}"
check "0 overlaps at wagate" overlaps_zero
note "wait, no_wait, cache, force_check, a USER, 100 contacts, bad input: as expected"
