# Helpers for the callbacks tests (test_callbacks*.sh), sourced after lib.sh:
# a webhook receiver (bin/wahook) for the test, and checks that join wagate's
# ledger ("emitted" lines) with what the receiver recorded.

HOOKS=$T/hooks.jsonl

# hook_start: bin/wahook on a free port, recording to $HOOKS; sets HOOK_PORT
# and HOOK_URL.
hook_start() {
    HOOK_PORT=$(free_port)
    HOOK_URL="http://127.0.0.1:$HOOK_PORT/webhook"
    "$BIN/wahook" --port "$HOOK_PORT" --out "$HOOKS" "$@" >>"$T/hook.log" 2>&1 &
    PIDS+=($!)
    PID_hook=$!
    wait_for 10 grep -q "listening on" "$T/hook.log" || fail "wahook did not start: $(cat "$T/hook.log")"
}
# hook_fail SECONDS: the receiver answers 500 for that long (0: stop).
hook_fail() { curl -s -o /dev/null -X POST "http://127.0.0.1:$HOOK_PORT/fail?seconds=$1"; }

# Every event wagate emitted, as "s:<message id>:<status>" or "m:<message id>".
emitted_keys() {
    jq -r 'select(.event == "emitted") | if .kind == "status" then "s:\(.id):\(.status)" else "m:\(.id)" end' \
        "$T/ledger.jsonl" | sort -u
}
# Every event the receiver answered 200, the same way.
received_keys() {
    [ -s "$HOOKS" ] || return 0
    jq -r 'select(.status == 200) | .body | ((.statuses // [])[] | "s:\(.id):\(.status)"), ((.messages // [])[] | "m:\(.id)")' \
        "$HOOKS" | sort -u
}
# Emitted, never received (a count).
missing_count() { comm -23 <(emitted_keys) <(received_keys) | wc -l; }
# all_received [MIN]: every emitted event received, and at least MIN emitted.
all_received() {
    local n; n=$(emitted_keys | wc -l)
    [ "$n" -ge "${1:-1}" ] && [ "$(missing_count)" = 0 ]
}
# The order of first arrivals per conversation must be the order wagate
# emitted them in: prints the out-of-order events (nothing when none).
out_of_order() {
    jq -r 'select(.status == 200) | .body | ((.statuses // [])[] | "s:\(.id):\(.status) \(.recipient_id)"), ((.messages // [])[] | "m:\(.id) \(.from)")' \
        "$HOOKS" | awk '!seen[$1]++' > "$T/arrivals"
    jq -r 'select(.event == "emitted") | if .kind == "status" then "s:\(.id):\(.status) \(.conversation)" else "m:\(.id) \(.conversation)" end' \
        "$T/ledger.jsonl" | awk '!seen[$1]++' > "$T/emissions"
    # Rank each event by its arrival, then walk the emissions per conversation.
    awk 'NR == FNR { rank[$1] = FNR; next }
         ($1 in rank) { if (rank[$1] < last[$2]) print $1, "conversation", $2; else last[$2] = rank[$1] }' \
        "$T/arrivals" "$T/emissions"
}
# primary_callbacks KEY: the primary Coreapp's "callbacks" KEY from its stats
# (GET /v1/stats/app on the Webapp at $WEB with the ADMIN $TOKEN).
primary_callbacks() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/v1/stats/app" \
        | jq -r "[.stats.app[] | select(.role == \"primary_coreapp\") | .callbacks.$1][0]"
}
# send_message TO [BODY]: POST /v1/messages; prints the message id.
send_message() {
    local got
    got=$(api "$WEB" POST /v1/messages -H "Authorization: Bearer $TOKEN" \
          -d "{\"to\":\"$1\",\"type\":\"text\",\"text\":{\"body\":\"${2:-hello}\"}}")
    [ "$got" = 201 ] || fail "POST /v1/messages to $1: HTTP $got: $(body)"
    jq -r '.messages[0].id' "$T/body"
}
