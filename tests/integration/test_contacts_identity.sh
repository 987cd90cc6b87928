#!/usr/bin/env bash
# GET and PUT /v1/contacts/{wa_id}/identity (issue 12, item 5): the
# contact's identity hash comes from wagate (stable until `wagate
# rotate-identity` gives the contact a new key), through the primary Coreapp
# of the contact's shard; PUT acknowledges the latest hash only, stored in
# contact_identity, so GET says acknowledged until the key rotates. Bad
# input is refused with its field named and stores nothing; the
# acknowledgement survives a Coreapp failover, and a request made while the
# primary is dead is answered by the new one (the Webapp retries).
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 request_deadline=10 request_attempt_timeout=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
WA=16315551234
ID=/v1/contacts/$WA/identity
acks() { q "SELECT COUNT(*) FROM contact_identity"; }

note "GET: the hash, stable, not acknowledged yet"
expect "GET identity" 200 - "$WEB" GET $ID "${AUTH[@]}"
HASH=$(jq -r .contacts.hash "$T/body")
[[ "$HASH" =~ ^[A-Za-z0-9+/]{11}=$ ]] || fail "hash: $(body)"
[ "$(jq -c '[.contacts.created_timestamp, .contacts.acknowledged]' "$T/body")" = '[1600000000000,false]' ] || fail "GET: $(body)"
expect "GET again" 200 - "$WEB" GET $ID "${AUTH[@]}"
[ "$(jq -r .contacts.hash "$T/body")" = "$HASH" ] || fail "the hash changed by itself: $(body)"
expect "another contact" 200 - "$WEB" GET /v1/contacts/16315550000/identity "${AUTH[@]}"
[ "$(jq -r .contacts.hash "$T/body")" != "$HASH" ] || fail "two contacts with one hash"

note "bad input: refused, nothing stored"
expect "no token" 401 1005 "$WEB" GET $ID
expect "not a wa_id" 404 1006 "$WEB" GET /v1/contacts/abc/identity "${AUTH[@]}"
expect "a wa_id too long" 404 1006 "$WEB" GET /v1/contacts/123456789012345678901/identity "${AUTH[@]}"
expect "a contact the network does not know" 404 1006 "$WEB" GET /v1/contacts/16315551239/identity "${AUTH[@]}"
expect "PUT without a body" 400 1008 "$WEB" PUT $ID "${AUTH[@]}"
expect "PUT without hash" 400 1008 "$WEB" PUT $ID "${AUTH[@]}" -d '{}'
grep -q "'hash' is missing" "$T/body" || fail "names the field: $(body)"
expect "PUT hash a number" 400 1009 "$WEB" PUT $ID "${AUTH[@]}" -d '{"hash":5}'
expect "PUT an unknown field" 400 1009 "$WEB" PUT $ID "${AUTH[@]}" -d "{\"hash\":\"$HASH\",\"x\":1}"
expect "PUT a hash that is not the latest" 400 1009 "$WEB" PUT $ID "${AUTH[@]}" -d '{"hash":"AAAAAAAAAAA="}'
grep -q "'hash' is not the latest" "$T/body" || fail "why: $(body)"
[ "$(acks)" = 0 ] || fail "a refused PUT stored something"

note "PUT the latest: acknowledged (any token may)"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"alice","password":"Al1ce-Passw0rd"}'
expect "the USER logs in" 200 - "$WEB" POST /v1/users/login -u 'alice:Al1ce-Passw0rd'
USER_AUTH=(-H "Authorization: Bearer $(token)" -H 'Content-Type: application/json')
expect "PUT" 200 - "$WEB" PUT $ID "${USER_AUTH[@]}" -d "{\"hash\":\"$HASH\"}"
[ "$(q "SELECT CONCAT(hash, ' ', acknowledged_by) FROM contact_identity WHERE wa_id = '$WA'")" = "$HASH api:alice" ] \
    || fail "stored: $(q "SELECT * FROM contact_identity")"
expect "GET acknowledged" 200 - "$WEB" GET $ID "${AUTH[@]}"
jq -e '.contacts.acknowledged == true' "$T/body" >/dev/null || fail "not acknowledged: $(body)"

note "the key rotates: a new hash, not acknowledged; the old one is refused"
BEFORE=$(now_ms)
"$BIN/wagate" -c "$CONF" rotate-identity $WA >/dev/null || fail "wagate rotate-identity"
expect "GET after the rotation" 200 - "$WEB" GET $ID "${AUTH[@]}"
NEW=$(jq -r .contacts.hash "$T/body")
[ "$NEW" != "$HASH" ] && jq -e ".contacts.acknowledged == false and .contacts.created_timestamp >= $BEFORE" "$T/body" >/dev/null \
    || fail "after the rotation: $(body)"
expect "PUT the old hash" 400 1009 "$WEB" PUT $ID "${AUTH[@]}" -d "{\"hash\":\"$HASH\"}"
expect "PUT the new hash" 200 - "$WEB" PUT $ID "${AUTH[@]}" -d "{\"hash\":\"$NEW\"}"
"$BIN/wagate" -c "$CONF" rotate-identity 16315551239 >/dev/null 2>&1 && fail "rotated an invalid contact"

note "failover: the primary Coreapp dies; the Webapp's retry finds the new one, the acknowledgement stays"
OLD=$(primary_coreapp)
kill -KILL "$(node_pid "$OLD")"
expect "GET across the failover" 200 - "$WEB" GET $ID "${AUTH[@]}"
jq -e ".contacts.hash == \"$NEW\" and .contacts.acknowledged == true" "$T/body" >/dev/null || fail "after failover: $(body)"
[ "$(primary_coreapp)" != "$OLD" ] || fail "the dead Coreapp still holds the shard"
check "no overlap" overlaps_zero
echo "ok $TEST"
