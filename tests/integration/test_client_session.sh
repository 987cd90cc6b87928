#!/usr/bin/env bash
# A whole client session, as client code written for the original
# On-Premises API runs one (issue 12, last deliverable): log in (Basic auth,
# a bearer token back), set the webhook and sent_status (PATCH
# /v1/settings/application), check the contact (POST /v1/contacts/), upload
# media, send every message type through POST /v1/messages/ (text, image by
# id, document, audio, video, sticker, location, contacts, interactive list
# and button, template with parameters, reaction), each at wagate once and
# its statuses (sent, delivered, read) at the webhook; an inbound message
# reaches the webhook, is marked read (PUT /v1/messages/{id}) and the read
# goes upstream and comes back as a status; then the settings are backed up
# and restored into a second, fresh cluster (its own database, wagate,
# Master, Coreapp, Webapp), whose settings are then the first's and whose
# Coreapp delivers to the restored webhook url.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port); WEB2=$(free_port)
hook_start
# No webhook in the config: the client sets it through the API.
cluster_init webapp_bind=127.0.0.1 wagate_status_delay=0.1 request_deadline=10 request_attempt_timeout=2
standard_cluster
web_start w1 "$WEB"
TO=16315551234

# wagate's ledger, its complete lines only (it may be writing the last one).
ledger() { jq -R -c 'fromjson? // empty' "$T/ledger.jsonl"; }
gate_count() { ledger | jq -r --arg id "$1" 'select(.event == "message" and .id == $id) | .id' | wc -l; }
gate_has() { [ "$(gate_count "$1")" = 1 ]; }
statuses_of() {     # a message's statuses at the webhook, in order of first arrival
    jq -r --arg id "$1" 'select(.status == 200) | .body.statuses[]? | select(.id == $id) | .status' "$HOOKS" \
        | awk '!seen[$0]++' | tr '\n' ' '
}
all_three() { [ "$(statuses_of "$1")" = "sent delivered read " ]; }
app() { jq -c ".settings.application$1" "$T/body"; }

note "log in: Basic auth, a bearer token"
# A fresh cluster's admin logs in with the default password and sets its own.
expect "first login" 200 - "$WEB" POST /v1/users/login -u admin:secret -d "{\"new_password\":\"$ADMIN_PASSWORD\"}"
expect "login" 200 - "$WEB" POST /v1/users/login -u "admin:$ADMIN_PASSWORD"
TOKEN=$(token)
[ -n "$TOKEN" ] || fail "no token: $(body)"
jq -e '.users[0].expires_after | length > 0' "$T/body" >/dev/null || fail "login answered $(body)"
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
expect "no token" 401 1005 "$WEB" POST /v1/messages/ -H 'Content-Type: application/json' -d "{\"to\":\"$TO\",\"text\":{\"body\":\"x\"}}"
# The application's own user, created as a client's setup script does.
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"shopbot","password":"Sh0p-Bot-Passw0rd"}'

note "set the webhook (and sent_status) through PATCH /v1/settings/application"
expect "PATCH settings" 200 - "$WEB" PATCH /v1/settings/application "${AUTH[@]}" \
    -d "{\"webhooks\":{\"url\":\"$HOOK_URL\",\"max_concurrent_requests\":9},\"sent_status\":true,\"callback_backoff_delay_ms\":\"700\"}"
expect "GET settings" 200 - "$WEB" GET /v1/settings/application "${AUTH[@]}"
[ "$(app '| [.webhooks.url, .webhooks.max_concurrent_requests, .sent_status, .callback_backoff_delay_ms]')" = "[\"$HOOK_URL\",9,true,700]" ] \
    || fail "settings after PATCH: $(body)"
# Both Coreapps applied them (the primary delivers, the secondary may take over).
applied() { grep -q "setting sent_status" "$T/c1.log" && grep -q "setting sent_status" "$T/c2.log"; }
wait_for 10 applied || fail "the Coreapps did not apply sent_status"

note "check the contact (POST /v1/contacts/)"
expect "contacts" 200 - "$WEB" POST /v1/contacts/ "${AUTH[@]}" -d "{\"blocking\":\"wait\",\"contacts\":[\"+$TO\"]}"
[ "$(jq -r '.contacts[0] | "\(.input) \(.status) \(.wa_id)"' "$T/body")" = "+$TO valid $TO" ] || fail "contacts: $(body)"

note "upload media (POST /v1/media)"
upload() {          # upload TYPE: a media id
    head -c 4096 /dev/urandom > "$T/upload"
    expect "upload $1" 201 - "$WEB" POST /v1/media -H "Authorization: Bearer $TOKEN" -H "Content-Type: $1" \
        --data-binary @"$T/upload"
    local id; id=$(jq -r '.media[0].id' "$T/body")
    cmp -s "$T/media/$id" "$T/upload" || fail "upload $1: the stored file differs"
    echo "$id"
}
IMG=$(upload image/jpeg); DOC=$(upload application/pdf); AUD=$(upload 'audio/ogg; codecs=opus')
VID=$(upload video/mp4); STK=$(upload image/webp)

note "send every message type through POST /v1/messages/"
declare -A IDS
send() {            # send WHAT JSON: 201, a message id, at wagate once with its type
    expect "send $1" 201 - "$WEB" POST /v1/messages/ "${AUTH[@]}" -d "$2"
    local id; id=$(jq -r '.messages[0].id' "$T/body")
    [[ "$id" =~ ^gBE[A-Za-z0-9_-]{24}$ ]] || fail "send $1: id '$id': $(body)"
    IDS[$1]=$id
}
send text "{\"to\":\"$TO\",\"type\":\"text\",\"recipient_type\":\"individual\",\"preview_url\":true,\"text\":{\"body\":\"Welcome! https://acme.example\"}}"
send image "{\"to\":\"$TO\",\"type\":\"image\",\"recipient_type\":\"individual\",\"image\":{\"id\":\"$IMG\",\"caption\":\"today's menu\"}}"
send document "{\"to\":\"$TO\",\"type\":\"document\",\"document\":{\"id\":\"$DOC\",\"caption\":\"your invoice\",\"filename\":\"invoice.pdf\"}}"
send audio "{\"to\":\"$TO\",\"type\":\"audio\",\"audio\":{\"id\":\"$AUD\"}}"
send video "{\"to\":\"$TO\",\"type\":\"video\",\"video\":{\"id\":\"$VID\",\"caption\":\"a tour\"}}"
send sticker "{\"to\":\"$TO\",\"type\":\"sticker\",\"sticker\":{\"id\":\"$STK\"}}"
send location "{\"to\":\"$TO\",\"type\":\"location\",\"location\":{\"longitude\":-122.425332,\"latitude\":37.758056,
  \"name\":\"Acme HQ\",\"address\":\"1 Hacker Way, Menlo Park, CA 94025\"}}"
send contacts "{\"to\":\"$TO\",\"type\":\"contacts\",\"contacts\":[{\"name\":{\"formatted_name\":\"John Smith\",\"first_name\":\"John\",
  \"last_name\":\"Smith\"},\"phones\":[{\"phone\":\"+1 (650) 555-1234\",\"type\":\"WORK\",\"wa_id\":\"16505551234\"}],
  \"emails\":[{\"email\":\"john@example.com\",\"type\":\"WORK\"}],\"org\":{\"company\":\"Acme\"}}]}"
send "interactive list" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list\",
  \"header\":{\"type\":\"text\",\"text\":\"Menu\"},\"body\":{\"text\":\"What would you like?\"},\"footer\":{\"text\":\"Open till 10\"},
  \"action\":{\"button\":\"Choose\",\"sections\":[{\"title\":\"Food\",\"rows\":[{\"id\":\"f1\",\"title\":\"Pizza\",\"description\":\"Margherita\"},
  {\"id\":\"f2\",\"title\":\"Pasta\"}]}]}}}"
send "interactive button" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",
  \"body\":{\"text\":\"Confirm your booking?\"},
  \"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"yes\",\"title\":\"Yes\"}},{\"type\":\"reply\",\"reply\":{\"id\":\"no\",\"title\":\"No\"}}]}}}"
send template "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",\"name\":\"order_update\",
  \"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"text\",\"text\":\"Order 1234\"}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},
    {\"type\":\"currency\",\"currency\":{\"fallback_value\":\"\$100.99\",\"code\":\"USD\",\"amount_1000\":100990}},
    {\"type\":\"date_time\",\"date_time\":{\"fallback_value\":\"February 25, 1977\",\"year\":1977,\"month\":2,\"day_of_month\":25,
      \"hour\":15,\"minute\":33}}]},
  {\"type\":\"button\",\"sub_type\":\"quick_reply\",\"index\":0,\"parameters\":[{\"type\":\"payload\",\"payload\":\"track\"}]},
  {\"type\":\"button\",\"sub_type\":\"quick_reply\",\"index\":1,\"parameters\":[{\"type\":\"payload\",\"payload\":\"cancel\"}]}]}}"
send reaction "{\"to\":\"$TO\",\"type\":\"reaction\",\"reaction\":{\"message_id\":\"${IDS[text]}\",\"emoji\":\"\\ud83d\\udc4d\"}}"
[ "$(printf '%s\n' "${IDS[@]}" | sort -u | wc -l)" = 12 ] || fail "12 distinct message ids expected: ${IDS[*]}"

note "each at wagate once with its type; its statuses at the webhook: sent, delivered, read"
for what in "${!IDS[@]}"; do
    id=${IDS[$what]}; type=${what%% *}
    wait_for 10 gate_has "$id" || fail "$what: wagate has $(gate_count "$id") of $id"
    ledger | jq -e -s --arg id "$id" --arg t "$type" 'any(.[]; .event == "message" and .id == $id and .type == $t)' \
        >/dev/null || fail "$what: upstream with another type: $(ledger | grep -F "$id" | head -1)"
done
ledger | jq -e -s --arg id "${IDS[template]}" 'map(select(.event == "message" and .id == $id))[0].body
    | .name == "order_update" and (.components[1].parameters[1].currency.amount_1000 == 100990)' >/dev/null \
    || fail "the template's parameters upstream: $(ledger | grep -F "${IDS[template]}" | head -1)"
for what in "${!IDS[@]}"; do
    wait_for 20 all_three "${IDS[$what]}" || fail "$what (${IDS[$what]}): statuses '$(statuses_of "${IDS[$what]}")'"
done
jq -e -s --arg to "$TO" 'map(select(.status == 200) | .body.statuses[]?) | length > 0 and all(.recipient_id == $to)' \
    "$HOOKS" >/dev/null || fail "a status with another recipient_id"

note "an inbound message at the webhook; marked read; the read upstream and back as a status"
"$BIN/wagate" -c "$CONF" inject --from "$TO" --text "is my order ready?" --name Ana > "$T/inject" \
    || fail "inject: $(cat "$T/inject")"
IN=$(jq -r .event_id "$T/inject")
got_inbound() {
    jq -e -s --arg id "$IN" --arg from "$TO" 'map(select(.status == 200) | .body | select(.messages[0].id? == $id))
        | length >= 1 and all(.messages[0].from == $from and .messages[0].type == "text"
              and .messages[0].text.body == "is my order ready?" and .contacts[0].profile.name == "Ana")' "$HOOKS" >/dev/null
}
wait_for 20 got_inbound || fail "the inbound message at the webhook: $(grep -F "$IN" "$HOOKS" || echo none)"
read_statuses() { jq -r --arg id "$IN" 'select(.status == 200) | .body.statuses[]? | select(.id == $id) | .status' "$HOOKS"; }
[ -z "$(read_statuses)" ] || fail "a status of the inbound message before it was marked read: $(read_statuses)"
expect "mark read" 200 - "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read"}'
read_upstream() {
    [ "$(ledger | jq -r --arg id "$IN" 'select(.event == "emitted" and .kind == "status" and .id == $id) | .status')" = read ]
}
wait_for 10 read_upstream || fail "wagate did not take the read of $IN: $(ledger | grep -F "$IN")"
read_once() { [ "$(read_statuses | sort -u)" = read ]; }
wait_for 20 read_once || fail "the read status at the webhook: '$(read_statuses)'"

note "back up the settings"
expect "backup" 200 - "$WEB" POST /v1/settings/backup "${AUTH[@]}" -d '{"password":"Session-Backup-1"}'
DATA=$(jq -r .settings.data "$T/body")
[ "${#DATA}" -gt 100 ] || fail "backup data: $(body)"
printf '%s' "$DATA" | base64 -d 2>/dev/null | tr -cd '[:print:]' | grep -qF "$HOOK_URL" && fail "the backup is not encrypted"
check "no overlap" overlaps_zero

note "restore into a second, fresh cluster: its own database, wagate, Master, Coreapp, Webapp"
DB2=${DB}_b
CONF2=$T/cluster2.conf
GATE2=$(free_port); CTL2=$(free_port)
sed -e "s/^db_name = .*/db_name = $DB2/" -e "s/:$GATE_PORT\$/:$GATE2/" -e "s/:$CTL_PORT\$/:$CTL2/" \
    -e "s|^wagate_ledger = .*|wagate_ledger = $T/ledger2.jsonl|" -e "s|^media_dir = .*|media_dir = $T/media2|" "$CONF" > "$CONF2"
mkdir -p "$T/media2"
trap 'db_sql -e "DROP DATABASE IF EXISTS $DB2" 2>/dev/null || true; cleanup' EXIT
start2() { local crt; crt=$(cert "$1" "$2"); WA_BUS_CERT=${crt:-} "$BIN/$2" -c "$CONF2" >>"$T/$1.log" 2>&1 & PIDS+=($!); }
start2 gate2 wagate
wait_for 10 "$BIN/wagate" -c "$CONF2" stats --json || fail "the second wagate did not start"
start2 m3 wamaster
start2 c3 wacore
WEBAPP_EXTERNAL_PORTS=$WEB2 start2 w2 waweb
healthy2() { "$BIN/wactl" -c "$CONF2" wait --timeout 0.1; }
wait_for 30 healthy2 || fail "the second cluster is not healthy: $("$BIN/wactl" -c "$CONF2" wait --timeout 0.1 2>&1)"
wait_for 30 grep -q "ready: serving" "$T/w2.log" || fail "the second cluster's Webapp is not ready"
TOKEN2=$(admin_token "$WEB2")
AUTH2=(-H "Authorization: Bearer $TOKEN2" -H 'Content-Type: application/json')
expect "fresh: GET settings" 200 - "$WEB2" GET /v1/settings/application "${AUTH2[@]}"
[ "$(app .webhooks.url)" = '""' ] || fail "the fresh cluster has a webhook: $(body)"
expect "fresh: shopbot unknown" 401 1005 "$WEB2" POST /v1/users/login -u 'shopbot:Sh0p-Bot-Passw0rd'
printf '{"password":"Session-Backup-1","data":"%s"}' "$DATA" > "$T/restore.json"
expect "restore" 200 - "$WEB2" POST /v1/settings/restore "${AUTH2[@]}" --data-binary @"$T/restore.json"
# admin's hash is the backup's: its token of the fresh cluster is revoked.
TOKEN2=$(admin_token "$WEB2")
AUTH2=(-H "Authorization: Bearer $TOKEN2" -H 'Content-Type: application/json')
expect "restored: GET settings" 200 - "$WEB2" GET /v1/settings/application "${AUTH2[@]}"
[ "$(app '| [.webhooks.url, .webhooks.max_concurrent_requests, .sent_status, .callback_backoff_delay_ms]')" = "[\"$HOOK_URL\",9,true,700]" ] \
    || fail "restored settings: $(body)"
expect "restored: shopbot logs in" 200 - "$WEB2" POST /v1/users/login -u 'shopbot:Sh0p-Bot-Passw0rd'

note "the second cluster's Coreapp delivers to the restored webhook url"
"$BIN/wagate" -c "$CONF2" inject --from 16505550002 --text "hello, second cluster" > "$T/inject2" \
    || fail "inject into the second cluster: $(cat "$T/inject2")"
IN2=$(jq -r .event_id "$T/inject2")
got_inbound2() {
    jq -e -s --arg id "$IN2" 'map(select(.status == 200) | .body.messages[]? | select(.id == $id and .text.body == "hello, second cluster"))
        | length >= 1' "$HOOKS" >/dev/null
}
wait_for 20 got_inbound2 || fail "the second cluster's inbound message never reached the restored webhook"
note "session: login, webhook, contacts, 5 uploads, 12 messages with their statuses, inbound read, backup restored"
