#!/usr/bin/env bash
# Callbacks (I4), a receiver that fails for a while: each failed POST is
# retried after attempts × callback_backoff_delay_ms (400 ms here), at most
# max_callback_backoff_delay_ms (1000 ms), as the receiver's own timestamps
# show; a conversation's next event is not POSTed, not even tried, before
# its previous one was answered 200; once the receiver answers again every
# event arrives, in order per conversation. Then, with a receiver that answers
# slowly, webhooks_max_concurrent_requests (set live to 3) bounds the POSTs
# in flight: the receiver sees 3 at once, never more.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

STEP=400
MAX=1000
WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$HOOK_URL" callback_backoff_delay_ms=$STEP \
    max_callback_backoff_delay_ms=$MAX
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

inject() { "$BIN/wagate" -c "$CONF" inject --from "$1" --text "$2" | jq -r .event_id; }
W=$(inject 16505550009 warm-up)
wait_for 20 all_received 1 || fail "the first event did not arrive"

note "the receiver fails for 4 s; five events of two conversations arrive meanwhile"
hook_fail 4
A1=$(inject 16505550001 a1); A2=$(inject 16505550001 a2); B1=$(inject 16505550002 b1)
A3=$(inject 16505550001 a3); B2=$(inject 16505550002 b2)
wait_for 40 all_received 6 || fail "not everything arrived after the receiver recovered: $(missing_count) missing"

note "the retries of the first event, spaced by the backoff"
# Arrival times (ms) of each POST of A1, with its answer.
jq -r --arg id "$A1" 'select(.body.messages[0].id? == $id) | "\(.at * 1000 | floor) \(.status)"' "$HOOKS" > "$T/a1"
failed=$(grep -c ' 500$' "$T/a1" || true)
[ "$failed" -ge 4 ] || fail "only $failed failed attempts of the first event: $(cat "$T/a1")"
[ "$(tail -1 "$T/a1" | cut -d' ' -f2)" = 200 ] || fail "the first event's last POST: $(tail -1 "$T/a1")"
[ "$(grep -c ' 200$' "$T/a1")" = 1 ] || fail "the first event was delivered more than once: $(cat "$T/a1")"
k=0; prev=
while read -r at status; do
    if [ -n "$prev" ]; then
        k=$((k + 1))
        want=$(( k * STEP < MAX ? k * STEP : MAX ))
        gap=$(( at - prev ))
        note "attempt $((k + 1)) after $gap ms (backoff $want ms)"
        # The wait is never shorter; and far below the next step, also when capped.
        [ "$gap" -ge $(( want - 30 )) ] || fail "retry $k after $gap ms, before its backoff of $want ms"
        [ "$gap" -le $(( want + 500 )) ] || fail "retry $k after $gap ms, far past its backoff of $want ms"
    fi
    prev=$at
done < "$T/a1"
attempts=$(q "SELECT attempts FROM callbacks WHERE event_id = '$A1'")
[ "$attempts" = "$(wc -l < "$T/a1")" ] || fail "the row counts $attempts attempts, the receiver saw $(wc -l < "$T/a1")"
[ "$(q "SELECT last_error FROM callbacks WHERE event_id = '$A1'")" = "HTTP 500" ] || fail "last_error"

note "a conversation's next event waits until its previous one was delivered"
# Line numbers: the first POST of each event, and its 200.
jq -r '"\(input_line_number) \(.status) \(.body.messages[0].id // "-")"' "$HOOKS" > "$T/lines"
first() { awk -v id="$1" '$3 == id { print $1; exit }' "$T/lines"; }
ok() { awk -v id="$1" '$3 == id && $2 == 200 { print $1; exit }' "$T/lines"; }
for pair in "$A1 $A2" "$A2 $A3" "$B1 $B2"; do
    set -- $pair
    [ "$(first "$2")" -gt "$(ok "$1")" ] || fail "$2 was tried (line $(first "$2")) before $1 was delivered (line $(ok "$1"))"
done
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -3)"
[ "$(primary_callbacks failed_attempts)" -ge "$failed" ] || fail "failed_attempts: $(primary_callbacks failed_attempts)"
all_delivered() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE status <> 'delivered'")" = 0 ]; }
wait_for 10 all_delivered || fail "rows: $(q "SELECT status, COUNT(*) FROM callbacks GROUP BY status")"
grep -q "webhook: POST to $HOOK_URL failed: HTTP 500" "$T"/c*.log || fail "no log line for the failing webhook"
grep -q "webhook: delivering again" "$T"/c*.log || fail "no log line for the recovery"

note "webhooks_max_concurrent_requests 3, live; a receiver answering in 1.5 s"
"$BIN/wactl" -c "$CONF" settings set webhooks_max_concurrent_requests 3 > /dev/null || fail "wactl settings set"
applied() { grep -q "setting webhooks_max_concurrent_requests" "$T/c1.log" "$T/c2.log"; }
wait_for 10 applied || fail "the Coreapps did not apply webhooks_max_concurrent_requests"
# Slow enough that the events pile up whatever the pace of the injections
# (each a process start: slow under make asan): 3 at once, never a 4th.
curl -s -o /dev/null -X POST "http://127.0.0.1:$HOOK_PORT/delay?ms=1500"
for i in $(seq 10 21); do inject "165055500$i" "c$i" > /dev/null; done
wait_for 60 all_received 18 || fail "$(missing_count) events missing with a slow receiver"
hook_stat() { curl -s "http://127.0.0.1:$HOOK_PORT/stats" | jq ".$1"; }
[ "$(hook_stat max_in_flight)" = 3 ] || fail "the receiver saw $(hook_stat max_in_flight) POSTs at once, expected 3"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "$failed failed attempts of the first event, then all $(emitted_keys | wc -l) events delivered, 3 at a time"
