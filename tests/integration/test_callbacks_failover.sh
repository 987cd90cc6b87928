#!/usr/bin/env bash
# Callbacks (I4) across a failover: while waload sends messages (each gets
# its statuses) and wagate generates inbound messages, the primary Coreapp
# is killed -9, while the receiver fails for a few seconds so that the old
# primary holds stored, acknowledged, undelivered events. The new primary
# delivers what the old one left (rows stored but not delivered, or
# delivered but not marked) and stores what wagate sends again (events not
# acknowledged). Every event in wagate's ledger up to a cut after the
# failover reaches the receiver at least once, among them events the old
# primary acknowledged; first arrivals in order per conversation; no two
# sessions overlapped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
hook_start
cluster_init webapp_bind=127.0.0.1 "webhooks_url=$HOOK_URL" sent_status=1 wagate_status_delay=0.1 \
    wagate_inbound_rate=30
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 4 --rate 20 --duration 120 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!
PIDS+=($LOAD)
received_at_least() { [ "$(received_keys | wc -l)" -ge "$1" ]; }
wait_for 60 received_at_least 300 || fail "the stream did not get going: $(received_keys | wc -l) events received"

note "the receiver fails for 4 s: the primary piles up stored, acknowledged events"
hook_fail 4
piled_up() { [ "$(primary_callbacks pending)" -ge 50 ]; }
wait_for 10 piled_up || fail "no pending callbacks at the primary: $(primary_callbacks pending)"
P=$(primary_coreapp)
OLD_SESSION=$("$BIN/wagate" -c "$CONF" stats --json | jq '.accounts[0].open.session')
note "kill -9 the primary Coreapp ($P, $(primary_callbacks pending) callbacks pending) in the middle of the stream"
KILL_AT=$(date +%s.%N)
PPID_=$(node_pid "$P")
{ kill -KILL "$PPID_"; wait "$PPID_"; } 2>/dev/null || true
BEFORE=$(received_keys | wc -l)
wait_for 30 gate_open_other "$P" || fail "no new primary session at wagate"
wait_for 60 received_at_least $(( BEFORE + 300 )) || fail "callbacks did not resume on the new primary"

note "stop the load; cut the ledger; every event up to the cut is received"
touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
[ "$rc" = 0 ] || fail "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -3)"
outbox_sent() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")" = 0 ]; }
wait_for 30 outbox_sent || fail "messages still pending in the outbox"
# Complete lines only: the ledger is being written.
head -n "$(wc -l < "$T/ledger.jsonl")" "$T/ledger.jsonl" > "$T/ledger.cut"
emitted_cut() {
    jq -r 'select(.event == "emitted") | if .kind == "status" then "s:\(.id):\(.status)" else "m:\(.id)" end' \
        "$T/ledger.cut" | sort -u
}
EMITTED=$(emitted_cut | wc -l)
lost() { comm -23 <(emitted_cut) <(received_keys) | wc -l; }
none_lost() { [ "$(lost)" = 0 ]; }
wait_for 60 none_lost \
    || fail "$(lost) of $EMITTED events emitted before the cut never reached the receiver, e.g. $(comm -23 <(emitted_cut) <(received_keys) | head -3 | tr '\n' ' ')"

note "every message answered 201 has its statuses among them"
STATUSES=$(grep -c '"kind":"status"' "$T/ledger.cut")
INBOUND=$(grep -c '"kind":"message"' "$T/ledger.cut")
ANSWERED=$(grep -c '"status":201' "$T/record.jsonl")
jq -r 'select(.status == 201) | .id' "$T/record.jsonl" | sort > "$T/answered"
jq -r 'select(.event == "emitted" and .kind == "status") | .id' "$T/ledger.cut" | sort -u > "$T/with_status"
[ -z "$(comm -23 "$T/answered" "$T/with_status")" ] \
    || fail "messages with no status: $(comm -23 "$T/answered" "$T/with_status" | head -3)"
[ -z "$(out_of_order)" ] || fail "first arrivals out of order: $(out_of_order | head -3)"

note "events the old primary stored and acknowledged, delivered by the new one"
jq -r --argjson s "$OLD_SESSION" 'select(.event == "event_ack" and .session == $s) | .event_id' "$T/ledger.cut" \
    | sort -u > "$T/acked_old"
jq -r 'select(.event == "emitted") | "\(.event_id) " + (if .kind == "status" then "s:\(.id):\(.status)" else "m:\(.id)" end)' \
    "$T/ledger.cut" | sort -k1,1 > "$T/key_of"
jq -r 'select(.status == 200) | .at as $at | .body | (((.statuses // [])[] | "s:\(.id):\(.status)"), ((.messages // [])[] | "m:\(.id)")) + " \($at)"' \
    "$HOOKS" | awk '!seen[$1]++' | awk -v k="$KILL_AT" '$2 > k { print $1 }' | sort > "$T/after_kill"
LEFT=$(join "$T/acked_old" "$T/key_of" | awk '{ print $2 }' | sort | comm -12 - "$T/after_kill" | wc -l)
[ "$LEFT" -ge 1 ] || fail "no event acknowledged by the old primary was delivered after the kill"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
jq -r 'select(.status == 200) | .body | ((.statuses // [])[] | "s:\(.id):\(.status)"), ((.messages // [])[] | "m:\(.id)")' \
    "$HOOKS" > "$T/posts"
POSTS=$(wc -l < "$T/posts")
TWICE=$(( POSTS - $(sort -u "$T/posts" | wc -l) ))
RESENT=$("$BIN/wagate" -c "$CONF" stats --json | jq .events.resent)
note "$EMITTED events ($STATUSES statuses of $ANSWERED messages, $INBOUND inbound) all received," \
     "$LEFT of them stored by the old primary and delivered by the new;" \
     "$TWICE POSTed twice across the failover; wagate sent $RESENT again"
