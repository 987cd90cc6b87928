#!/usr/bin/env bash
# Callbacks (I4) across a failover: while waload sends messages (each gets
# its statuses) and wagate generates inbound messages, the primary Coreapp
# is killed -9. The new primary delivers what the old one left (rows stored
# but not delivered, or delivered but not marked) and stores what wagate
# sends again (events not acknowledged). Every event in wagate's ledger up
# to a cut after the failover reaches the receiver at least once, first
# arrivals in order per conversation, and no two sessions overlapped.
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

P=$(primary_coreapp)
note "kill -9 the primary Coreapp ($P) in the middle of the stream"
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
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
jq -r 'select(.status == 200) | .body | ((.statuses // [])[] | "s:\(.id):\(.status)"), ((.messages // [])[] | "m:\(.id)")' \
    "$HOOKS" > "$T/posts"
POSTS=$(wc -l < "$T/posts")
TWICE=$(( POSTS - $(sort -u "$T/posts" | wc -l) ))
RESENT=$("$BIN/wagate" -c "$CONF" stats --json | jq .events.resent)
note "$EMITTED events ($STATUSES statuses of $ANSWERED messages, $INBOUND inbound) all received;" \
     "$TWICE POSTed twice across the failover; wagate sent $RESENT again"
