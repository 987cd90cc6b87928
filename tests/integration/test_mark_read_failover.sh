#!/usr/bin/env bash
# PUT /v1/messages/{id} (mark an inbound message read) across a failover,
# with pass_through off and on, and across a change of the shard count
# (issue 12). Two shards, two Coreapps. For each case an inbound message
# reaches the webhook, then the primary Coreapp of its sender's shard is
# killed (kill -9) before the PUT, which is answered 200 through the Webapp
# once the new primary has sent the read upstream; the status "read" is
# emitted by wagate once and reaches the webhook once, and marking it again
# changes nothing:
#   - pass_through off: the message's callback row is still there;
#   - pass_through on: its callback is deleted once delivered (the
#     retention's pass_through window), and the kept id (inbound_ids)
#     still finds it; wactl status shows both retentions;
#   - after POST /v1/account/shards 2 → 1, a message that came under
#     shard 1 (of 2), its callback gone: routed to the one shard of the
#     count in force.
# An unknown id answers 404 (1006) and sends nothing upstream.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
# pass_through keeps a delivered callback request_deadline + 1 s: 13 s here,
# long enough for the failover the PUT waits through.
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$HOOK_URL" shards=2 gc_interval=0.5 request_deadline=12 \
    db_liveness_interval=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
# wagate's ledger, its complete lines only (it may be writing the last one).
ledger() { jq -R -c 'fromjson? // empty' "$T/ledger.jsonl"; }
# The "read" statuses of message $1: emitted by wagate, POSTed to the webhook.
reads_emitted() { ledger | jq -r --arg id "$1" 'select(.event == "emitted" and .kind == "status" and .id == $id
    and .status == "read") | .id' | wc -l; }
reads_posted() { jq -r --arg id "$1" 'select(.status == 200) | .body.statuses[]? | select(.id == $id and .status == "read")
    | .recipient_id' "$HOOKS"; }
read_once_at_hook() { [ "$(reads_posted "$1")" = "$2" ]; }
shard_primary() { q "SELECT node_id FROM shard_map WHERE shard = $1 AND expires_at > NOW(6)"; }
shard_count() { q "SELECT shards FROM cluster_info"; }
# A sender whose shard of 2 is $1 (crc32, as the cluster routes).
sender_of_shard() {
    local n=16505550300
    while [ "$(q "SELECT CRC32('$n') % 2")" != "$1" ]; do n=$((n + 1)); done
    echo "$n"
}
at_hook() {     # the webhook has the inbound message with body $TEXT: its id in IN
    IN=$(jq -r -s --arg text "$TEXT" 'map(select(.status == 200) | .body.messages[]? | select(.text.body == $text) | .id)
        | first // empty' "$HOOKS")
    [ -n "$IN" ]
}
# inbound FROM TEXT: inject it at wagate, wait for it at the webhook; its
# id (the one the webhook got) in IN.
inbound() {
    "$BIN/wagate" -c "$CONF" inject --from "$1" --text "$2" > "$T/inject" || fail "inject: $(cat "$T/inject")"
    local event; event=$(jq -r .event_id "$T/inject")
    TEXT=$2
    wait_for 20 at_hook || fail "inbound $event from $1 not at the webhook"
}
N=0     # Coreapps started so far (c1, c2 by standard_cluster)
# kill_primary SHARD: kill -9 the primary Coreapp of SHARD, start another
# Coreapp in its place (it becomes a secondary).
kill_primary() {
    KILLED=$(shard_primary "$1")
    [ -n "$KILLED" ] || fail "no primary for shard $1"
    local pid; pid=$(node_pid "$KILLED")
    { kill -KILL "$pid"; wait "$pid"; } 2>/dev/null || true
    N=$((N + 1)); start "c_new$N" wacore
}
# mark_read_across_failover LABEL: the PUT of $IN (sender $FROM) while the
# shard's primary was just killed: 200 from the new primary; read once.
mark_read_across_failover() {
    local shard; shard=$(q "SELECT CRC32('$FROM') % $(shard_count)")
    kill_primary "$shard"
    expect "$1: mark read across the failover" 200 - "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read"}'
    [ "$(jq -c 'del(.meta)' "$T/body")" = '{}' ] || fail "$1: mark read answered $(body)"
    local now; now=$(shard_primary "$shard")
    [ -n "$now" ] && [ "$now" != "$KILLED" ] || fail "$1: shard $shard is still held by the killed $KILLED"
    [ "$(reads_emitted "$IN")" = 1 ] || fail "$1: wagate emitted the read of $IN $(reads_emitted "$IN") times"
    wait_for 20 read_once_at_hook "$IN" "$FROM" || fail "$1: the read status at the webhook: '$(reads_posted "$IN")'"
    # Answered only once the upstream had it: a second read is acknowledged
    # as read already, and nothing more is emitted.
    expect "$1: mark read again" 200 - "$WEB" PUT "/v1/messages/$IN" "${AUTH[@]}" -d '{"status":"read"}'
    [ "$(reads_emitted "$IN")" = 1 ] || fail "$1: a second read emitted by wagate"
    wait_healthy 30
}

note "an unknown id: 404, nothing upstream"
READS_BEFORE=$(ledger | jq -r 'select(.event == "emitted" and .status == "read")' | wc -l)
expect "an unknown id" 404 1006 "$WEB" PUT /v1/messages/w9-unknown "${AUTH[@]}" -d '{"status":"read"}'
expect "an id that cannot be one" 404 1006 "$WEB" PUT '/v1/messages/a%20b' "${AUTH[@]}" -d '{"status":"read"}'
[ "$(ledger | jq -r 'select(.event == "emitted" and .status == "read")' | wc -l)" = "$READS_BEFORE" ] \
    || fail "a read emitted for an unknown id"

note "pass_through off: the primary Coreapp killed (kill -9) between the inbound message and the PUT"
FROM=$(sender_of_shard 0)
inbound "$FROM" "read me across a failover"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id = '$IN'")" = 1 ] || fail "pass_through off: no callback row"
[ "$(q "SELECT sender FROM inbound_ids WHERE message_id = '$IN'")" = "$FROM" ] || fail "no inbound_ids row for $IN"
mark_read_across_failover "pass_through off"

note "pass_through on: the callback deleted once delivered; the kept id finds it"
expect "pass_through on" 200 - "$WEB" PATCH /v1/settings/application "${AUTH[@]}" -d '{"pass_through":true}'
FROM=$(sender_of_shard 1)
inbound "$FROM" "read me after my callback is gone"
callback_gone() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id = '$IN'")" = 0 ]; }
wait_for 40 callback_gone || fail "pass_through: the delivered callback of $IN stays"
[ "$(q "SELECT sender FROM inbound_ids WHERE message_id = '$IN'")" = "$FROM" ] || fail "pass_through deleted the kept id"
# wactl status tells it so: callbacks kept for the retry window (13 s), the ids 7 days.
"$BIN/wactl" -c "$CONF" status --json > "$T/status.json" || fail "wactl status --json"
[ "$(jq -c '.retention | [.pass_through, (.tables.callbacks.keep_days * 86400 | round), .tables.inbound_ids.keep_days]' \
      "$T/status.json")" = '[true,13,7]' ] || fail "wactl status --json: $(jq -c .retention "$T/status.json")"
"$BIN/wactl" -c "$CONF" status > "$T/status" || fail "wactl status"
grep -q "^on: a pass every .* (pass_through = 1: " "$T/status" || fail "wactl status: $(sed -n '/RETENTION/,$p' "$T/status")"
grep -Eq "^callbacks +13\.000s " "$T/status" && grep -Eq "^inbound_ids +7d00h " "$T/status" \
    || fail "wactl status keeps: $(sed -n '/RETENTION/,$p' "$T/status")"
mark_read_across_failover "pass_through on"

note "a change of the shard count (2 → 1) after the message came under shard 1: routed by the count in force"
FROM=$(sender_of_shard 1)
inbound "$FROM" "read me under another shard count"
[ "$(q "SELECT shard FROM inbound_ids WHERE message_id = '$IN'")" = 1 ] || fail "$IN did not come under shard 1"
wait_for 40 callback_gone || fail "pass_through: the delivered callback of $IN stays"
expect "POST shards 1" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" \
    -d '{"cc":"1","phone_number":"6315551234","shards":1}'
one_shard() { [ "$(shard_count)" = 1 ] && [ "$(q "SELECT COUNT(*) FROM shard_map")" = 1 ] && [ -n "$(shard_primary 0)" ]; }
wait_for 60 one_shard || fail "1 shard not in force: $(q "SELECT shard, node_id, expires_at > NOW(6) FROM shard_map")"
mark_read_across_failover "after the change to 1 shard"

check "0 overlaps at wagate" overlaps_zero
check "nothing misrouted at wagate" misrouted_zero
note "marked read across a kill -9 with pass_through off and on and after a change of the shard count: each read upstream once, at the webhook once"
