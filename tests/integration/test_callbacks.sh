#!/usr/bin/env bash
# Callbacks (I4), the plain path: the statuses of messages sent through the
# API (sent, delivered, read; failed for a number ending in 0) and inbound
# messages injected at wagate reach the webhook receiver in the shapes of
# docs/API.md (Webhooks) and in order per conversation; every row ends
# delivered and every event acknowledged upstream. Then sent_status, changed
# live: off (PATCH /v1/settings/application), a message's "sent" is stored
# but not POSTed (the row is skipped); on again (wactl settings set), it is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$HOOK_URL" wagate_status_delay=0.2 sent_status=1 \
    wagate_fail_digits=0
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

note "statuses of four messages and six inbound messages"
declare -A ID
for to in 16315551231 16315551232 16315551230 16315551233; do ID[$to]=$(send_message "$to" "hello $to"); done
for i in 1 2 3 4 5; do
    "$BIN/wagate" -c "$CONF" inject --from 16505550001 --text "inbound $i" > "$T/inject.$i" \
        || fail "wagate inject: $(cat "$T/inject.$i")"
done
"$BIN/wagate" -c "$CONF" inject --from 16505550002 --text 'héllo "quoted" \ back' --name Kerry > "$T/inject.k" \
    || fail "wagate inject --name"
KERRY=$(jq -r .event_id "$T/inject.k")
# 3 × 3 statuses, one failed, six inbound.
wait_for 30 all_received 16 || fail "not every event reached the receiver: $(missing_count) of $(emitted_keys | wc -l) missing"
[ "$(emitted_keys | wc -l)" = 16 ] || fail "wagate emitted $(emitted_keys | wc -l) events, expected 16"

note "every POST in one of the two shapes, exactly"
jq -e -s 'map(select(.status == 200) | .body |
    (keys == ["statuses"] and (.statuses | length) == 1
     and (.statuses[0] | keys) == ["id", "recipient_id", "status", "timestamp"]
     and (.statuses[0].timestamp | test("^[0-9]+$"))
     and (.statuses[0].status | IN("sent", "delivered", "read", "failed")))
    or (keys == ["contacts", "messages"] and (.contacts | length) == 1 and (.messages | length) == 1
     and (.contacts[0] | keys) == ["profile", "wa_id"] and (.contacts[0].profile | keys) == ["name"]
     and (.messages[0] | keys) == ["from", "id", "text", "timestamp", "type"]
     and .messages[0].type == "text" and (.messages[0].text | keys) == ["body"]
     and .messages[0].from == .contacts[0].wa_id and (.messages[0].timestamp | test("^[0-9]+$"))))
  | all' "$HOOKS" >/dev/null || fail "a POST in another shape: $(head -3 "$HOOKS")"

note "per message: sent, delivered, read in that order; failed alone for a number ending in 0"
statuses_of() {     # the statuses of message $1 in order of first arrival
    jq -r --arg id "$1" 'select(.status == 200) | .body.statuses[]? | select(.id == $id) | .status' "$HOOKS" \
        | awk '!seen[$0]++' | tr '\n' ' '
}
for to in 16315551231 16315551232 16315551233; do
    [ "$(statuses_of "${ID[$to]}")" = "sent delivered read " ] \
        || fail "statuses of ${ID[$to]} (to $to): $(statuses_of "${ID[$to]}")"
    jq -e -s --arg id "${ID[$to]}" --arg to "$to" 'map(select(.body.statuses[0].id? == $id))
        | length >= 3 and all(.body.statuses[0].recipient_id == $to)' "$HOOKS" >/dev/null \
        || fail "recipient_id of ${ID[$to]}"
done
[ "$(statuses_of "${ID[16315551230]}")" = "failed " ] || fail "statuses to a number ending in 0: $(statuses_of "${ID[16315551230]}")"

note "inbound messages with their text, sender and name; in order per conversation"
jq -r 'select(.status == 200) | .body.messages[]? | select(.from == "16505550001") | .text.body' "$HOOKS" \
    | awk '!seen[$0]++' | tr '\n' ',' > "$T/bodies"
[ "$(cat "$T/bodies")" = "inbound 1,inbound 2,inbound 3,inbound 4,inbound 5," ] || fail "inbound bodies: $(cat "$T/bodies")"
jq -e -s --arg id "$KERRY" 'map(select(.body.messages[0].id? == $id)) | length >= 1 and all(
    .body.contacts[0].profile.name == "Kerry" and .body.messages[0].text.body == "héllo \"quoted\" \\ back"
    and .body.contacts[0].wa_id == "16505550002")' "$HOOKS" >/dev/null || fail "the injected message with a name: $(grep -F "$KERRY" "$HOOKS")"
jq -e -s 'map(select(.body.messages[0].from? == "16505550001")) | .[0].body.contacts[0].profile.name == "Customer 0001"' \
    "$HOOKS" >/dev/null || fail "the default profile name"
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -3)"

note "every row delivered, every event acknowledged upstream"
all_delivered() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE status <> 'delivered'")" = 0 ]; }
wait_for 20 all_delivered || fail "rows: $(q "SELECT status, COUNT(*) FROM callbacks GROUP BY status")"
[ "$(q "SELECT COUNT(*) FROM callbacks")" = 16 ] || fail "$(q "SELECT COUNT(*) FROM callbacks") rows, expected 16"
acked_all() { [ "$("$BIN/wagate" -c "$CONF" stats --json | jq .events.pending)" = 0 ]; }
wait_for 10 acked_all || fail "events not acknowledged: $("$BIN/wagate" -c "$CONF" stats --json | jq -c .events)"
[ "$(primary_callbacks delivered)" -ge 1 ] || fail "the primary's stats: $(primary_callbacks delivered)"
[ "$(primary_callbacks full)" = false ] || fail "the queue says full"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE attempts <> 1 OR delivered_at IS NULL")" = 0 ] \
    || fail "rows with other than one attempt"

note "sent_status off, live (PATCH): the status sent is stored but not POSTed"
got=$(api "$WEB" PATCH /v1/settings/application -H "Authorization: Bearer $TOKEN" -d '{"sent_status":false}')
[ "$got" = 200 ] || fail "PATCH sent_status: HTTP $got: $(body)"
applied() { [ "$(grep -c "setting sent_status" "$T/c1.log" "$T/c2.log" | awk -F: '{ n += $2 } END { print n }')" -ge "$1" ]; }
wait_for 10 applied 2 || fail "the Coreapps did not apply sent_status"
OFF=$(send_message 16315551234)
read_arrived() { [ -n "$(jq -r --arg id "$1" 'select(.status == 200 and .body.statuses[0].id? == $id and .body.statuses[0].status == "read") | 1' "$HOOKS")" ]; }
wait_for 20 read_arrived "$OFF" || fail "no read status for $OFF"
[ "$(statuses_of "$OFF")" = "delivered read " ] || fail "with sent_status off: $(statuses_of "$OFF")"
[ "$(q "SELECT status FROM callbacks WHERE payload LIKE '%\"id\":\"$OFF\"%\"status\":\"sent\"%'")" = skipped ] \
    || fail "the sent row of $OFF: $(q "SELECT status FROM callbacks WHERE payload LIKE '%$OFF%'")"
[ "$(primary_callbacks skipped)" -ge 1 ] || fail "skipped not counted"

note "sent_status on again (wactl settings set)"
"$BIN/wactl" -c "$CONF" settings set sent_status 1 > /dev/null || fail "wactl settings set sent_status 1"
wait_for 10 applied 4 || fail "the Coreapps did not apply sent_status again"
ON=$(send_message 16315551235)
wait_for 20 read_arrived "$ON" || fail "no read status for $ON"
[ "$(statuses_of "$ON")" = "sent delivered read " ] || fail "with sent_status on: $(statuses_of "$ON")"
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -3)"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "$(wc -l < "$HOOKS") POSTs, every event once or more, in order"
