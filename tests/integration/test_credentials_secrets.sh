#!/usr/bin/env bash
# Secrets (issue 11, item 4): a webhooks_url with credentials and the
# webhooks_secret are never logged, answered, listed, broadcast or stored
# in the audit log in clear; what a GET shows can be PATCHed back without
# changing them. Each webhook POST carries X-Hub-Signature-256, checked by
# wahook on its own; a new secret applies live on every Coreapp (they read
# it from the table: the broadcast withholds it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

SECRET=Hmac-Secret-0123456789abcdef
OTHER=Another-Secret-0123456789abcdef
HOOK_PW=H00k-Passw0rd-xyz
printf '%s\n' "$SECRET" > "$T/secret"
hook_start --secret-file "$T/secret"
URL="http://hookuser:$HOOK_PW@127.0.0.1:$HOOK_PORT/webhook"
SHOWN="http://hookuser:***@127.0.0.1:$HOOK_PORT/webhook"
WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$URL" "webhooks_secret=$SECRET" callback_backoff_delay_ms=200
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
S=/v1/settings/application
leaks() {      # leaks FILE...: the lines of FILE holding a secret
    grep -aF -e "$SECRET" -e "$OTHER" -e "$HOOK_PW" "$@" 2>/dev/null || true
}

note "signed webhooks"
"$BIN/wagate" -c "$CONF" inject --from 16505550001 --text hello > /dev/null || fail "wagate inject"
signed() { [ -s "$HOOKS" ] && jq -e -s 'map(select(.status == 200 and .signature == "valid")) | length >= 1' "$HOOKS" >/dev/null; }
wait_for 20 signed || fail "no POST with a valid signature: $(cat "$HOOKS" 2>/dev/null)"
[ "$(jq -s 'map(select(.signature != "valid")) | length' "$HOOKS")" = 0 ] || fail "unsigned or badly signed POSTs: $(cat "$HOOKS")"

note "the settings, as answered and listed"
expect "GET" 200 - "$WEB" GET $S "${AUTH[@]}"
[ "$(jq -r .settings.application.webhooks.url "$T/body")" = "$SHOWN" ] || fail "GET url: $(body)"
[ "$(jq -r .settings.application.webhooks.secret "$T/body")" = "(set)" ] || fail "GET secret: $(body)"
[ -z "$(leaks "$T/body")" ] || fail "GET holds a secret"
cp "$T/body" "$T/get.json"
"$BIN/wactl" -c "$CONF" settings > "$T/wactl-settings.out" || fail "wactl settings"
"$BIN/wactl" -c "$CONF" settings --json >> "$T/wactl-settings.out" || fail "wactl settings --json"
grep -qF "$SHOWN" "$T/wactl-settings.out" || fail "wactl settings: $(cat "$T/wactl-settings.out")"
[ -z "$(leaks "$T/wactl-settings.out")" ] || fail "wactl settings shows a secret"
"$BIN/wamaster" -c "$CONF" -n > "$T/check.out" || fail "-n"
grep -qx "webhooks_secret = (set)" "$T/check.out" || fail "-n secret: $(grep webhooks "$T/check.out")"
grep -qx "db_password = (set)" "$T/check.out" || fail "-n db_password"
[ -z "$(leaks "$T/check.out")" ] || fail "-n prints a secret"

note "what GET shows, PATCHed back, changes nothing"
jq -c '{webhooks: .settings.application.webhooks}' "$T/get.json" > "$T/patch.json"
expect "PATCH the GET's webhooks" 200 - "$WEB" PATCH $S "${AUTH[@]}" --data-binary @"$T/patch.json"
[ "$(q "SELECT value FROM settings WHERE name = 'webhooks_url'")" = "$URL" ] || fail "the url changed"
[ "$(q "SELECT value FROM settings WHERE name = 'webhooks_secret'")" = "$SECRET" ] || fail "the secret changed"

note "a new secret, live, through wactl (stdin), not through the bus"
"$BIN/watap" -c "$CONF" --json --kind settings --kind settings_applied --timeout 8 > "$T/tap.jsonl" 2>"$T/tap.log" &
TAP=$!
sleep 1
printf '%s\n' "$OTHER" | "$BIN/wactl" -c "$CONF" settings set webhooks_secret - > "$T/set.out" \
    || fail "wactl settings set webhooks_secret -: $(cat "$T/set.out")"
grep -q "webhooks_secret = (set) (stored)" "$T/set.out" || fail "wactl said: $(cat "$T/set.out")"
applied() { [ "$(grep -c "setting webhooks_secret: (set) -> (set) (database)" "$T/c1.log" "$T/c2.log" | awk -F: '{ n += $2 } END { print n }')" = 2 ]; }
wait_for 5 applied || fail "the Coreapps did not read the new secret: $(grep -h "setting webhooks_secret" "$T"/c*.log)"
"$BIN/wagate" -c "$CONF" inject --from 16505550002 --text again > /dev/null || fail "wagate inject"
refused() { jq -e -s 'map(select(.status == 401 and .signature == "invalid")) | length >= 1' "$HOOKS" >/dev/null; }
wait_for 20 refused || fail "a POST signed with the new secret was taken with the old one: $(tail -n 3 "$HOOKS")"
expect "PATCH the secret back" 200 - "$WEB" PATCH $S "${AUTH[@]}" -d "{\"webhooks\":{\"secret\":\"$SECRET\"}}"
[ "$(jq -r .settings.application.webhooks.secret "$T/body")" = "(set)" ] || fail "PATCH answer: $(body)"
delivered() { [ "$(primary_callbacks pending)" = 0 ]; }
wait_for 30 delivered || fail "not delivered once the secret matched again: $(primary_callbacks pending) pending"
wait "$TAP" || true
grep -q '"kind":"settings"' "$T/tap.jsonl" || fail "watap saw no settings broadcast: $(cat "$T/tap.log")"
[ -z "$(leaks "$T/tap.jsonl")" ] || fail "the bus carried a secret: $(leaks "$T/tap.jsonl")"
expect "a short secret is refused" 400 1009 "$WEB" PATCH $S "${AUTH[@]}" -d '{"webhooks_secret":"too-short"}'
! grep -q "too-short" "$T/body" || fail "the refusal quotes the secret: $(body)"

note "nothing in the logs, the audit log or the callbacks' errors"
for f in "$T"/*.log; do
    [ -z "$(leaks "$f")" ] || fail "$(basename "$f") holds a secret: $(leaks "$f" | head -n 3)"
done
check "a change is logged, redacted" grep -qF "setting webhooks_secret: (set) -> (set)" "$T/c1.log"
[ "$(q "SELECT COUNT(*) FROM events WHERE detail LIKE '%$HOOK_PW%' OR detail LIKE '%$SECRET%'")" = 0 ] || fail "events hold a secret"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE last_error LIKE '%$HOOK_PW%'")" = 0 ] || fail "callbacks hold a secret"
check "0 overlaps" overlaps_zero
note "signed webhooks; secrets redacted in answers, listings, logs, the bus and the tables: as expected"
