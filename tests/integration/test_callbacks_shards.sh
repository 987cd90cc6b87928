#!/usr/bin/env bash
# Callbacks (I4) with two shards, one primary Coreapp each: a status goes to
# the shard of the session that sent its message, an inbound message to
# crc32(from) mod 2; each primary stores and delivers its own shard's
# events, and every event arrives, in order per conversation. Each session
# says its layout (2 shards) and wagate counts no message misrouted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 shards=2 "webhooks_url=$HOOK_URL" sent_status=1 wagate_status_delay=0.05
standard_cluster
two_primaries() { [ "$(q "SELECT COUNT(DISTINCT node_id) FROM shard_map WHERE expires_at > NOW(6)")" = 2 ]; }
wait_for 30 two_primaries || fail "not one primary per shard: $(q "SELECT shard, node_id FROM shard_map")"
both_open() { [ "$(gate_stat open)" = 2 ]; }
wait_for 30 both_open || fail "not two sessions at wagate"
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

note "8 messages and 12 inbound messages over both shards"
for i in 1 2 3 4 5 6 7 8; do send_message "1631555000$i" > /dev/null; done
for i in 1 2 3 4 5 6; do
    for from in 16505550011 16505550012; do
        "$BIN/wagate" -c "$CONF" inject --from "$(( from + i * 100 ))" --text "m$i" > /dev/null || fail "inject"
    done
done
wait_for 30 all_received $(( 8 * 3 + 12 )) || fail "$(missing_count) of $(emitted_keys | wc -l) events missing"

note "each event stored under its shard, by the primary of that shard"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE shard <> CRC32(conversation) % 2")" = 0 ] \
    || fail "rows under the wrong shard: $(q "SELECT shard, conversation FROM callbacks WHERE shard <> CRC32(conversation) % 2 LIMIT 3")"
[ "$(q "SELECT COUNT(DISTINCT shard) FROM callbacks")" = 2 ] || fail "the events did not spread over both shards"
jq -r 'select(.event == "emitted") | "\(.shard) \(.conversation)"' "$T/ledger.jsonl" | sort -u > "$T/ledger_shards"
[ "$(q "SELECT DISTINCT CONCAT(shard, ' ', conversation) FROM callbacks" | sort -u)" = "$(cat "$T/ledger_shards")" ] \
    || fail "wagate's shards differ from the rows'"
delivered_by_each() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/v1/stats/app" \
        | jq -e '[.stats.app[] | select(.role == "primary_coreapp") | .callbacks.delivered > 0] | length == 2 and all' >/dev/null
}
wait_for 10 delivered_by_each || fail "both primaries did not deliver"
all_delivered() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE status <> 'delivered'")" = 0 ]; }
wait_for 20 all_delivered || fail "rows: $(q "SELECT shard, status, COUNT(*) FROM callbacks GROUP BY shard, status")"
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -3)"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "each message went up on the session of its recipient's shard, which said its count"
misrouted_zero || fail "misrouted: $(gate_stat misrouted)"
[ "$(jq -s '[.[] | select(.event == "message")] | length' "$T/ledger.jsonl")" = 8 ] || fail "not 8 message lines"
[ "$(jq -s '[.[] | select(.event == "login" and .shards != 2)] | length' "$T/ledger.jsonl")" = 0 ] \
    || fail "a login without the count 2: $(jq -c 'select(.event == "login")' "$T/ledger.jsonl" | head -3)"
note "$(emitted_keys | wc -l) events over two shards, all delivered by their own primary"
