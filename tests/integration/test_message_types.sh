#!/usr/bin/env bash
# Every message type through a Webapp, end to end: text (with preview_url),
# image, audio, video, document and sticker by id, template (every parameter
# type), interactive (list, button, product, product_list), contacts,
# location, reaction; each answered 201, at wagate once with the body the
# API took, and its statuses (sent, delivered, read) at the webhook. A
# template wagate's catalogue cannot fill fails at the webhook with the
# original's error (2001, 2000, 2012). Bad input of every type is refused
# with the envelope naming the field, and nothing is stored. An inbound
# message marked read (PUT /v1/messages/{id}) goes upstream and its status
# "read" reaches the webhook, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$HOOK_URL" wagate_status_delay=0.1 sent_status=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
msg_id() { jq -r '.messages[0].id' "$T/body"; }
rows() { q "SELECT COUNT(*) FROM outbox"; }
# wagate's ledger, its complete lines only (it may be writing the last one).
ledger() { jq -R -c 'fromjson? // empty' "$T/ledger.jsonl"; }
# The body wagate recorded for a message id (its ledger line), compact.
gate_body() { ledger | jq -c --arg id "$1" 'select(.event == "message" and .id == $id) | .body'; }
gate_count() { ledger | jq -r --arg id "$1" 'select(.event == "message" and .id == $id) | .id' | wc -l; }
gate_has() { [ "$(gate_count "$1")" = 1 ]; }
# The statuses of a message at the webhook, in order of first arrival.
statuses_of() {
    jq -r --arg id "$1" 'select(.status == 200) | .body.statuses[]? | select(.id == $id) | .status' "$HOOKS" \
        | awk '!seen[$0]++' | tr '\n' ' '
}
all_three() { [ "$(statuses_of "$1")" = "sent delivered read " ]; }
failed_with() {     # failed_with ID CODE: one failed status with that error code
    jq -e -s --arg id "$1" --argjson code "$2" 'map(select(.status == 200) | .body.statuses[]? | select(.id == $id))
        | length >= 1 and all(.status == "failed" and .errors[0].code == $code and (.errors[0].title | length) > 0)' \
        "$HOOKS" >/dev/null
}
upload() {          # upload TYPE: a media id
    head -c 2048 /dev/urandom > "$T/upload"
    expect "upload $1" 201 - "$WEB" POST /v1/media -H "Authorization: Bearer $TOKEN" -H "Content-Type: $1" \
        --data-binary @"$T/upload"
    jq -r '.media[0].id' "$T/body"
}
# send WHAT JSON [PATH]: 201, the message reaches wagate once with the body
# the API sent (jq filter EXPECT on the message, default: the type's member;
# text: its body string), and records its id in IDS.
declare -A IDS
send() {
    local what=$1 json=$2 path=${3:-/v1/messages}
    expect "$what" 201 - "$WEB" POST "$path" "${AUTH[@]}" -d "$json"
    local id; id=$(msg_id)
    [[ "$id" =~ ^gBE[A-Za-z0-9_-]{24}$ ]] || fail "$what: id '$id': $(body)"
    IDS[$what]=$id
    wait_for 10 gate_has "$id" || fail "$what: wagate has $(gate_count "$id") of $id"
    local type want got
    type=$(jq -r '.type // "text"' <<<"$json")
    if [ "$type" = text ]; then want=$(jq -c '.text.body' <<<"$json"); else want=$(jq -c --arg t "$type" '.[$t]' <<<"$json"); fi
    got=$(gate_body "$id")
    [ "$(jq -S -c . <<<"$got")" = "$(jq -S -c . <<<"$want")" ] || fail "$what: upstream body $got, sent $want"
    ledger | jq -e -s --arg id "$id" --arg t "$type" 'any (.[]; .event == "message" and .id == $id and .type == $t)' \
        >/dev/null || fail "$what: upstream type"
}

note "media to send by id"
IMG=$(upload image/png); AUD=$(upload 'audio/ogg; codecs=opus'); VID=$(upload video/mp4)
DOC=$(upload application/pdf); STK=$(upload image/webp)

note "every type: 201, at wagate once with its body"
TO=16315551234
send text "{\"to\":\"$TO\",\"type\":\"text\",\"preview_url\":true,\"text\":{\"body\":\"see https://example.com\"}}"
q "SELECT payload FROM outbox WHERE id = '${IDS[text]}'" | grep -q '"preview_url":true' || fail "preview_url upstream"
send "text, trailing slash" "{\"to\":\"$TO\",\"text\":{\"body\":\"hi\"}}" /v1/messages/
send image "{\"to\":\"$TO\",\"type\":\"image\",\"image\":{\"id\":\"$IMG\",\"caption\":\"the menu\"}}"
send audio "{\"to\":\"$TO\",\"type\":\"audio\",\"audio\":{\"id\":\"$AUD\"}}"
send video "{\"to\":\"$TO\",\"type\":\"video\",\"video\":{\"id\":\"$VID\",\"caption\":\"a tour\"}}"
send document "{\"to\":\"$TO\",\"type\":\"document\",\"document\":{\"id\":\"$DOC\",\"caption\":\"May\",\"filename\":\"invoice.pdf\"}}"
send sticker "{\"to\":\"$TO\",\"type\":\"sticker\",\"sticker\":{\"id\":\"$STK\"}}"
send template "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",\"name\":\"order_update\",
  \"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"text\",\"text\":\"Order 1234\"}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},
    {\"type\":\"currency\",\"currency\":{\"fallback_value\":\"\$100.99\",\"code\":\"USD\",\"amount_1000\":100990}},
    {\"type\":\"date_time\",\"date_time\":{\"fallback_value\":\"February 25, 1977\",\"day_of_week\":5,\"year\":1977,
      \"month\":2,\"day_of_month\":25,\"hour\":15,\"minute\":33,\"calendar\":\"GREGORIAN\"}}]},
  {\"type\":\"button\",\"sub_type\":\"quick_reply\",\"index\":0,\"parameters\":[{\"type\":\"payload\",\"payload\":\"track\"}]},
  {\"type\":\"button\",\"sub_type\":\"quick_reply\",\"index\":\"1\",\"parameters\":[{\"type\":\"payload\",\"payload\":\"cancel\"}]}]}}"
send "template, image header" "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",
  \"name\":\"shipping_update\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"image\",\"image\":{\"id\":\"$IMG\"}}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},{\"type\":\"date_time\",\"date_time\":{\"fallback_value\":\"tomorrow\",\"timestamp\":1800000000}}]},
  {\"type\":\"button\",\"sub_type\":\"url\",\"index\":0,\"parameters\":[{\"type\":\"text\",\"text\":\"track/1234\"}]}]}}"
send "template, document header" "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",
  \"name\":\"invoice_ready\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"document\",\"document\":{\"id\":\"$DOC\",\"filename\":\"invoice.pdf\"}}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"},{\"type\":\"text\",\"text\":\"May\"}]}]}}"
send "template, video header" "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",
  \"name\":\"product_demo\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"},\"components\":[
  {\"type\":\"header\",\"parameters\":[{\"type\":\"video\",\"video\":{\"id\":\"$VID\"}}]},
  {\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"the kettle\"}]}]}}"
send "template, no parameters" "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"wacluster\",
  \"name\":\"hello_world\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en_US\"}}}"
send "interactive list" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list\",
  \"header\":{\"type\":\"text\",\"text\":\"Menu\"},\"body\":{\"text\":\"What would you like?\"},\"footer\":{\"text\":\"Kitchen open till 10\"},
  \"action\":{\"button\":\"Choose\",\"sections\":[{\"title\":\"Food\",\"rows\":[{\"id\":\"f1\",\"title\":\"Pizza\",\"description\":\"Margherita\"},
  {\"id\":\"f2\",\"title\":\"Pasta\"}]},{\"title\":\"Drinks\",\"rows\":[{\"id\":\"d1\",\"title\":\"Water\"}]}]}}}"
send "interactive button" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",
  \"header\":{\"type\":\"image\",\"image\":{\"id\":\"$IMG\"}},\"body\":{\"text\":\"Confirm your booking?\"},
  \"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"yes\",\"title\":\"Yes\"}},{\"type\":\"reply\",\"reply\":{\"id\":\"no\",\"title\":\"No\"}}]}}}"
send "interactive product" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"product\",
  \"body\":{\"text\":\"Back in stock\"},\"action\":{\"catalog_id\":\"367025965434465\",\"product_retailer_id\":\"sku-42\"}}}"
send "interactive product_list" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"product_list\",
  \"header\":{\"type\":\"text\",\"text\":\"Our picks\"},\"body\":{\"text\":\"For you\"},\"action\":{\"catalog_id\":\"367025965434465\",
  \"sections\":[{\"title\":\"Shoes\",\"product_items\":[{\"product_retailer_id\":\"s1\"},{\"product_retailer_id\":\"s2\"}]}]}}}"
send contacts "{\"to\":\"$TO\",\"type\":\"contacts\",\"contacts\":[{\"name\":{\"formatted_name\":\"John Smith\",\"first_name\":\"John\",
  \"last_name\":\"Smith\"},\"birthday\":\"2012-08-18\",\"phones\":[{\"phone\":\"+1 (650) 555-1234\",\"type\":\"WORK\",\"wa_id\":\"16505551234\"}],
  \"emails\":[{\"email\":\"john@example.com\",\"type\":\"WORK\"}],\"org\":{\"company\":\"Acme\"},
  \"addresses\":[{\"street\":\"1 Hacker Way\",\"city\":\"Menlo Park\",\"country_code\":\"us\",\"type\":\"WORK\"}],\"urls\":[{\"url\":\"https://acme.example\"}]}]}"
send location "{\"to\":\"$TO\",\"type\":\"location\",\"location\":{\"longitude\":-122.425332,\"latitude\":37.758056,
  \"name\":\"Acme HQ\",\"address\":\"1 Hacker Way, Menlo Park, CA 94025\"}}"
send reaction "{\"to\":\"$TO\",\"type\":\"reaction\",\"reaction\":{\"message_id\":\"${IDS[text]}\",\"emoji\":\"\\ud83d\\udc4d\"}}"

note "each one's statuses reach the webhook: sent, delivered, read"
for what in "${!IDS[@]}"; do
    wait_for 20 all_three "${IDS[$what]}" || fail "$what (${IDS[$what]}): statuses '$(statuses_of "${IDS[$what]}")'"
done

note "templates the network cannot fill fail at the webhook, as the original's"
tpl() { echo "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"namespace\":\"$1\",\"name\":\"$2\",\"language\":{\"policy\":\"deterministic\",\"code\":\"$3\"}${4:-}}}"; }
expect "unknown template" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl wacluster spring_sale en)"
MISSING=$(msg_id)
expect "unknown language" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl wacluster hello_world fr)"
NO_LANG=$(msg_id)
expect "other namespace" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl someone_else hello_world en)"
NO_SPACE=$(msg_id)
expect "parameter count" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl wacluster invoice_ready en \
    ",\"components\":[{\"type\":\"header\",\"parameters\":[{\"type\":\"document\",\"document\":{\"id\":\"$DOC\"}}]},{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Ana\"}]}]")"
COUNT=$(msg_id)
expect "parameter format" 201 - "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl wacluster product_demo en \
    ",\"components\":[{\"type\":\"header\",\"parameters\":[{\"type\":\"image\",\"image\":{\"id\":\"$IMG\"}}]},{\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"x\"}]}]")"
FORMAT=$(msg_id)
wait_for 20 failed_with "$MISSING" 2001 || fail "unknown template: $(grep -F "$MISSING" "$HOOKS" | tail -1)"
failed_with "$NO_LANG" 2001 && failed_with "$NO_SPACE" 2001 || fail "language / namespace: $(grep -F -e "$NO_LANG" -e "$NO_SPACE" "$HOOKS")"
wait_for 10 failed_with "$COUNT" 2000 || fail "parameter count: $(grep -F "$COUNT" "$HOOKS")"
wait_for 10 failed_with "$FORMAT" 2012 || fail "parameter format: $(grep -F "$FORMAT" "$HOOKS")"
grep -F "$COUNT" "$HOOKS" | grep -q 'body: number of localizable_params (1) does not match the expected number of params (2)' \
    || fail "the 2000's details: $(grep -F "$COUNT" "$HOOKS")"
for id in "$MISSING" "$COUNT" "$FORMAT"; do
    [ "$(statuses_of "$id")" = "failed " ] || fail "$id: statuses '$(statuses_of "$id")', only failed expected"
done

note "bad input of every type: the envelope naming the field, nothing stored"
before=$(rows)
bad() {     # bad WHAT CODE FIELD JSON
    expect "$1" 400 "$2" "$WEB" POST /v1/messages "${AUTH[@]}" -d "$4"
    grep -qF "\"details\":\"'$3'" "$T/body" || fail "$1: the error does not name '$3': $(body)"
}
bad "text: unknown member" 1009 text.font "{\"to\":\"$TO\",\"text\":{\"body\":\"x\",\"font\":\"serif\"}}"
bad "preview_url on an image" 1009 preview_url "{\"to\":\"$TO\",\"type\":\"image\",\"preview_url\":true,\"image\":{\"id\":\"$IMG\"}}"
bad "sticker caption" 1009 sticker.caption "{\"to\":\"$TO\",\"type\":\"sticker\",\"sticker\":{\"id\":\"$STK\",\"caption\":\"x\"}}"
bad "image: id and link" 1009 image "{\"to\":\"$TO\",\"type\":\"image\",\"image\":{\"id\":\"$IMG\",\"link\":\"https://x.example/a.png\"}}"
bad "template: no namespace" 1008 template.namespace "{\"to\":\"$TO\",\"type\":\"template\",\"template\":{\"name\":\"hello_world\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"}}}"
bad "template: bad currency" 1009 "template.components[0].parameters[0].currency.code" "$(tpl wacluster x en \
    ",\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":\"currency\",\"currency\":{\"fallback_value\":\"1\",\"code\":\"usd\",\"amount_1000\":1}}]}]")"
bad "template: month 13" 1009 "template.components[0].parameters[0].date_time.month" "$(tpl wacluster x en \
    ",\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":\"date_time\",\"date_time\":{\"fallback_value\":\"x\",\"month\":13}}]}]")"
bad "template: button index" 1008 "template.components[0].index" "$(tpl wacluster x en \
    ",\"components\":[{\"type\":\"button\",\"sub_type\":\"url\",\"parameters\":[{\"type\":\"text\",\"text\":\"x\"}]}]")"
bad "list: 11 rows" 1009 "interactive.action.sections[0].rows" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list\",\"body\":{\"text\":\"b\"},\"action\":{\"button\":\"B\",\"sections\":[{\"rows\":$(jq -c -n '[range(11) | {id: "r\(.)", title: "t"}]')}]}}}"
bad "buttons: title too long" 1009 "interactive.action.buttons[0].reply.title" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",\"body\":{\"text\":\"b\"},\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"1\",\"title\":\"123456789012345678901\"}}]}}}"
bad "buttons: four" 1009 "interactive.action.buttons" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",\"body\":{\"text\":\"b\"},\"action\":{\"buttons\":$(jq -c -n '[range(4) | {type: "reply", reply: {id: "b\(.)", title: "t\(.)"}}]')}}}"
bad "product: no retailer id" 1008 "interactive.action.product_retailer_id" "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"product\",\"action\":{\"catalog_id\":\"1\"}}}"
bad "contacts: no formatted_name" 1008 "contacts[0].name.formatted_name" "{\"to\":\"$TO\",\"type\":\"contacts\",\"contacts\":[{\"name\":{\"first_name\":\"J\"}}]}"
bad "location: latitude" 1009 location.latitude "{\"to\":\"$TO\",\"type\":\"location\",\"location\":{\"longitude\":1,\"latitude\":95}}"
bad "reaction: two emoji" 1009 reaction.emoji "{\"to\":\"$TO\",\"type\":\"reaction\",\"reaction\":{\"message_id\":\"${IDS[text]}\",\"emoji\":\"\\ud83d\\udc4d\\ud83d\\udc4d\"}}"
bad "hsm: not served" 1009 type "{\"to\":\"$TO\",\"type\":\"hsm\",\"hsm\":{\"namespace\":\"wacluster\",\"element_name\":\"hello_world\",\"language\":{\"policy\":\"deterministic\",\"code\":\"en\"},\"localizable_params\":[]}}"
grep -qF 'is not served: send the message as \"template\"' "$T/body" || fail "hsm: $(body)"
bad "reaction: no message_id" 1008 reaction.message_id "{\"to\":\"$TO\",\"type\":\"reaction\",\"reaction\":{\"emoji\":\"\"}}"
expect "unknown media in a template" 404 1006 "$WEB" POST /v1/messages "${AUTH[@]}" -d "$(tpl wacluster product_demo en \
    ",\"components\":[{\"type\":\"header\",\"parameters\":[{\"type\":\"video\",\"video\":{\"id\":\"00000000-0000-4000-8000-000000000000\"}}]}]")"
expect "a pdf as an interactive image" 400 1009 "$WEB" POST /v1/messages "${AUTH[@]}" -d "{\"to\":\"$TO\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",\"header\":{\"type\":\"image\",\"image\":{\"id\":\"$DOC\"}},\"body\":{\"text\":\"b\"},\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"1\",\"title\":\"a\"}}]}}}"
grep -qF "'interactive.header.image': media '$DOC' is application/pdf" "$T/body" || fail "unfit media: $(body)"
[ "$(rows)" = "$before" ] || fail "bad input stored rows: $(rows), was $before"

note "an inbound message marked read: upstream, then its status at the webhook, once"
"$BIN/wagate" -c "$CONF" inject --from 16505550007 --text "is my order ready?" > "$T/inject" || fail "inject: $(cat "$T/inject")"
IN=$(jq -r .event_id "$T/inject")
got_inbound() { jq -e -s --arg id "$IN" 'map(select(.status == 200) | .body.messages[]? | select(.id == $id)) | length >= 1' "$HOOKS" >/dev/null; }
wait_for 20 got_inbound || fail "the inbound message never reached the webhook"
read_statuses() { jq -r --arg id "$IN" 'select(.status == 200) | .body.statuses[]? | select(.id == $id) | "\(.status) \(.recipient_id)"' "$HOOKS"; }
[ -z "$(read_statuses)" ] || fail "a status before the read: $(read_statuses)"
expect "mark read" 200 - "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read"}'
[ "$(jq -c 'del(.meta)' "$T/body")" = '{}' ] || fail "mark read answered $(body)"
read_once() { [ "$(read_statuses | sort -u)" = "read 16505550007" ]; }
wait_for 20 read_once || fail "the read status: '$(read_statuses)'"
expect "mark read again" 200 - "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read"}'
expect "unknown inbound message" 404 1006 "$WEB" PUT /v1/messages/w0-unknown "${AUTH[@]}" -d '{"status":"read"}'
expect "an outbound id" 404 1006 "$WEB" PUT "/v1/messages/${IDS[text]}" "${AUTH[@]}" -d '{"status":"read"}'
expect "read: no body" 400 1008 "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}"
expect "read: no status" 400 1008 "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{}'
expect "read: another status" 400 1009 "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"delivered"}'
grep -q "'status' must be \\\\\"read\\\\\"" "$T/body" || fail "read: $(body)"
expect "read: unknown field" 400 1009 "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read","at":1}'
expect "read: no token" 401 1005 "$WEB" PUT "/v1/messages/$IN" -d '{"status":"read"}'
expect "read: wrong method" 405 1006 "$WEB" GET "/v1/messages/$IN" "${AUTH[@]}"
# The network emitted it once, however often it was asked for.
acked_all() { [ "$("$BIN/wagate" -c "$CONF" stats --json | jq .events.pending)" = 0 ]; }
wait_for 20 acked_all || fail "events not acknowledged"
emitted=$(ledger | jq -r --arg id "$IN" 'select(.event == "emitted" and .kind == "status" and .id == $id) | .status')
[ "$emitted" = read ] || fail "wagate emitted for $IN: '$emitted'"
[ "$(gate_stat duplicates)" = 0 ] && overlaps_zero || fail "duplicates $(gate_stat duplicates), overlaps $(gate_stat overlaps)"
note "every type sent, its statuses delivered, templates failed as the original's, bad input refused, read receipts: as expected"
