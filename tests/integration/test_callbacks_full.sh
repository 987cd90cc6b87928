#!/usr/bin/env bash
# Callbacks (I4), a full queue: with callbacks_queue_max = 20 and no
# webhooks_url yet, the primary Coreapp stores 20 events and then stops
# acknowledging: the other 30 wait upstream (wagate keeps them). The log
# says so once, the stats say full, /metrics shows the depth. The URL is set
# (wactl settings set) while the receiver fails: still full. Once the
# receiver answers, the queue drains, the waiting events are stored and
# acknowledged, and all 50 arrive, in order per conversation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 callbacks_queue_max=20 \
    callback_backoff_delay_ms=200 max_callback_backoff_delay_ms=1000
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

note "no webhooks_url; 50 inbound messages from 5 customers"
for i in $(seq 1 50); do
    "$BIN/wagate" -c "$CONF" inject --from "1650555000$(( i % 5 + 1 ))" --text "message $i" > /dev/null \
        || fail "inject $i"
done
seen_all() { [ "$(primary_callbacks received)" -ge 50 ]; }
wait_for 20 seen_all || fail "the primary did not receive the 50 events: $(primary_callbacks received)"
full() { [ "$(primary_callbacks full)" = true ]; }
wait_for 10 full || fail "the primary's stats do not say full: $(primary_callbacks full)"
events() { "$BIN/wagate" -c "$CONF" stats --json | jq -r ".events.$1"; }
note "20 stored and acknowledged, 30 waiting upstream"
[ "$(q "SELECT COUNT(*) FROM callbacks")" = 20 ] || fail "$(q "SELECT COUNT(*) FROM callbacks") rows stored, expected 20"
[ "$(events acked)" = 20 ] || fail "wagate: $(events acked) acknowledged, expected 20"
[ "$(events pending)" = 30 ] || fail "wagate: $(events pending) waiting, expected 30"
[ "$(primary_callbacks pending)" = 20 ] || fail "stats pending: $(primary_callbacks pending)"
[ "$(grep -c 'callbacks queue full (20): events wait upstream until the webhook catches up' "$T"/c*.log \
     | awk -F: '{ n += $2 } END { print n }')" = 1 ] || fail "the log line, once: $(grep -h 'queue full' "$T"/c*.log)"
metric() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/metrics" | grep "^$1 " | awk '{ print $2 }'
}
[ "$(metric 'wacluster_callbacks_pending{shard="0"}')" = 20 ] \
    || fail "/metrics: $(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/metrics" | grep callbacks)"
[ ! -s "$HOOKS" ] || fail "something was POSTed with no webhooks_url"

note "webhooks_url set while the receiver fails: still full"
hook_fail 600
"$BIN/wactl" -c "$CONF" settings set webhooks_url "$HOOK_URL" > /dev/null || fail "wactl settings set webhooks_url"
tried() { [ -s "$HOOKS" ] && [ "$(jq -s 'map(select(.status == 500)) | length' "$HOOKS")" -ge 10 ]; }
wait_for 20 tried || fail "no POST tried after webhooks_url was set"
[ "$(events acked)" = 20 ] || fail "wagate: $(events acked) acknowledged while full"
[ "$(missing_count)" = 50 ] || fail "something was delivered while the receiver failed"

note "the receiver answers again: everything arrives"
hook_fail 0
wait_for 60 all_received 50 || fail "$(missing_count) of 50 events never arrived"
acked_all() { [ "$(events pending)" = 0 ] && [ "$(events acked)" = 50 ]; }
wait_for 20 acked_all || fail "wagate: $(events acked) acknowledged, $(events pending) waiting"
all_delivered() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE status = 'delivered'")" = 50 ]; }
wait_for 20 all_delivered || fail "rows: $(q "SELECT status, COUNT(*) FROM callbacks GROUP BY status")"
not_full() { [ "$(primary_callbacks full)" = false ]; }
wait_for 10 not_full || fail "still full"
grep -q "callbacks queue has room again" "$T"/c*.log || fail "no log line for the room"
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -3)"
metric_zero() { [ "$(metric 'wacluster_callbacks_pending{shard="0"}')" = 0 ]; }
wait_for 10 metric_zero || fail "/metrics still shows pending callbacks"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "50 events delivered, none lost; the queue stopped at 20 and said so once"
