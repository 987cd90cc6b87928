#!/usr/bin/env bash
# The shard count changed live (issue 14), under a steady load: 1 → 2 → 4
# (the primary Master killed in the middle) → 32 (a primary Coreapp killed in
# the middle; both kills shown to meet a running change: wagate is paused
# before the POST, so the old primaries cannot drain nor log out, GET shows
# the change draining before the kill and the database still draining after
# it) → 1 (with two-step verification: a wrong PIN refused) → 2 (with
# messages accepted and not yet sent, wagate paused: they move to their new
# shards and are sent once), on two Coreapps that hold several shards each while a client POSTs /v1/messages continuously (8
# in flight). Every request is answered 201 (a request that meets the change
# waits and is retried under the new count), every id answered is at wagate
# exactly once, no two sessions serving a recipient in common were ever open
# at once (wagate's overlaps), and each change is recorded with its end. A
# second change while one runs is refused (409), so is a count that is not
# a power of two, and the count asked for the second time is a no-op.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
# Liveness claims every second: a Coreapp taking up 16 shards at once may
# claim late by more than the tests' usual 2 × 0.5 s on a loaded machine.
cluster_init webapp_bind=127.0.0.1 shards=1 db_liveness_interval=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
shards_body() { echo "{\"cc\":\"1\",\"phone_number\":\"6315551234\",\"shards\":$1}"; }
in_force() {    # in_force N: the count in force is N and no change runs
    [ "$(api "$WEB" GET /v1/account/shards "${AUTH[@]}")" = 200 ] \
        && [ "$(jq -c .account "$T/body")" = "{\"shards\":$1}" ]
}
all_held() {    # all_held N: N rows, each with a primary
    [ "$(q "SELECT COUNT(*) FROM shard_map")" = "$1" ] \
        && [ "$(q "SELECT COUNT(*) FROM shard_map WHERE node_id <> 0 AND expires_at > NOW(6)")" = "$1" ]
}
at_least() { local n; n=$(gate_stat messages); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
# Callbacks across the changes: inbound messages from a few customers,
# injected at wagate while a change runs and once it is over. wagate sends
# each on the session that serves its sender under that session's layout,
# so every callback row is under CRC32(conversation) % the count in force
# (rows stored before a change are moved by it), and each conversation's
# rows are in the order wagate emitted them.
INJECTED=()
FROMS=(16505550101 16505550102 16505550103 16505550104 16505550105 16505550106)
inject_some() { # inject_some LABEL: one inbound message from each of FROMS
    local from id
    for from in "${FROMS[@]}"; do
        id=$("$BIN/wagate" -c "$CONF" inject --from "$from" --text "$1" | jq -r .event_id) || fail "inject"
        INJECTED+=("$id")
    done
}
callbacks_under() {     # callbacks_under N: every injected event stored, every row under N shards
    local list
    list=$(printf "'%s'," "${INJECTED[@]}"); list=${list%,}
    stored() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id IN ($list)")" = "${#INJECTED[@]}" ]; }
    if ! wait_for 30 stored; then
        local id missing=
        for id in "${INJECTED[@]}"; do
            [ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id = '$id'")" = 1 ] || missing="$missing $id"
        done
        fail "injected events not stored: $(q "SELECT COUNT(*) FROM callbacks WHERE event_id IN ($list)") of ${#INJECTED[@]}; missing:$missing; wagate: $("$BIN/wagate" -c "$CONF" stats --json | tr -d '\n')"
    fi
    [ "$(q "SELECT COUNT(*) FROM callbacks WHERE shard <> CRC32(conversation) % $1")" = 0 ] \
        || fail "callbacks under the wrong shard of $1: $(q "SELECT shard, conversation, event_id FROM callbacks WHERE shard <> CRC32(conversation) % $1 LIMIT 3")"
}

expect "a count that is not a power of two" 400 1009 "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 3)"
expect "the count in force" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 1)"
[ "$(q "SELECT COUNT(*) FROM shard_changes")" = 0 ] || fail "asking for the count in force recorded a change"

"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 8 --duration 300 \
    --stop-file "$T/stop" --record "$T/record.jsonl" --json > "$T/waload.json" 2> "$T/waload.err" &
LOAD=$!
PIDS+=($LOAD)
wait_for 30 at_least 200 || fail "the load did not get going: $(gate_stat messages) messages at wagate"

# The change held open for a kill (kill_during N WHO PID): wagate paused
# (SIGSTOP) before the POST, the old layout's primaries cannot finish their
# release (no acknowledgements, no LOGOUT_OK: each waits out its drain and
# logout time, then lease_margin), so the change drains for a second or
# more. GET answers it running (draining, to N) just before the kill; the
# change's row still without drained_at just after it proves the kill met
# it before the new layout came into force. wagate resumes at once.
kill_during() {
    local n=$1 who=$2 pid=$3 id state
    kill -STOP "$PID_gate"
    expect "POST shards $n (wagate paused)" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body "$n")"
    expect "GET shards while the change to $n runs" 200 - "$WEB" GET /v1/account/shards "${AUTH[@]}"
    state=$(jq -c '.account.change | {to, state}' "$T/body")
    [ "$state" = "{\"to\":$n,\"state\":\"draining\"}" ] || fail "the change to $n is not running before the kill: $(body)"
    id=$(q "SELECT MAX(id) FROM shard_changes")
    kill -KILL "$pid"
    [ "$(q "SELECT to_shards = $n AND drained_at IS NULL AND done_at IS NULL FROM shard_changes WHERE id = $id")" = 1 ] \
        || fail "the kill of $who came after the change to $n had drained: $(q "SELECT * FROM shard_changes WHERE id = $id")"
    kill -CONT "$PID_gate"
    note "$who killed (kill -9) while change $id to $n shards was draining (GET before: $state)"
}

change_over() { # change_over N: the change asked for is over, every shard served, the load going on
    local n=$1 t0 ms before
    t0=$(now_ms)
    inject_some "while the change to $n runs"
    wait_for 60 in_force "$n" || fail "$n shards not in force: $(body); $(q "SELECT shard, node_id, epoch, draining, expires_at > NOW(6) FROM shard_map")"
    ms=$(( $(now_ms) - t0 ))
    all_held "$n" || fail "not every one of the $n shards has a primary: $(q "SELECT shard, node_id FROM shard_map")"
    [ "$(q "SELECT done_at IS NOT NULL FROM shard_changes ORDER BY id DESC LIMIT 1")" = 1 ] || fail "the change has no end"
    before=$(gate_stat messages)
    wait_for 30 at_least $(( before + 200 )) || fail "the load did not go on under $n shards"
    inject_some "under $n"
    callbacks_under "$n"
    note "$n shards in force and served $ms ms later; $(q "SELECT moved_messages FROM shard_changes ORDER BY id DESC LIMIT 1") pending message(s) moved; ${#INJECTED[@]} inbound messages so far, each stored under its shard of $n"
}

note "1 → 2 under load; a second change while it runs is refused"
inject_some "under 1"
# The primary paused, the change waits for its lease to run out (it cannot
# release its row): long enough to ask for another.
P=$(primary_coreapp); PPID_=$(node_pid "$P")
kill -STOP "$PPID_"
expect "POST shards 2" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 2)"
expect "a second change while one runs" 409 1000 "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 4)"
grep -q "a change of the shard count from 1 to 2 runs" "$T/body" || fail "409's details: $(body)"
CHANGES=$(q "SELECT COUNT(*) FROM shard_changes")
expect "the running change asked again (a retry)" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 2)"
[ "$(q "SELECT COUNT(*) FROM shard_changes")" = "$CHANGES" ] || fail "asking again for the running change started another"
kill -CONT "$PPID_"
inject_some "while the change to 2 runs"
running() { api "$WEB" GET /v1/account/shards "${AUTH[@]}" >/dev/null; jq -e '.account.change.to == 2' "$T/body" >/dev/null; }
running || in_force 2 || fail "GET during the change: $(body)"
wait_for 60 in_force 2 || fail "2 shards not in force: $(body)"
all_held 2 || fail "not both shards have a primary: $(q "SELECT shard, node_id FROM shard_map")"
[ "$(q "SELECT COUNT(DISTINCT node_id) FROM shard_map")" = 2 ] || fail "both shards on one Coreapp"
wait_for 30 at_least $(( $(gate_stat messages) + 200 )) || fail "the load did not go on under 2 shards"
inject_some "under 2"
callbacks_under 2

note "2 → 4, the primary Master killed (kill -9) in the middle: the other carries the change on"
M=$(primary_master)
kill_during 4 "the primary Master $M" "$(node_pid "$M")"
change_over 4
start m3 wamaster
[ "$(primary_master)" != "$M" ] || fail "master $M, killed, holds the lease"

note "4 → 32 on three Coreapps, a primary Coreapp killed (kill -9) in the middle: the two others share its shards"
start c3 wacore
three() { [ "$(q "SELECT COUNT(*) FROM nodes WHERE kind = 'coreapp' AND stopped_at IS NULL AND last_seen > NOW(6) - INTERVAL 1 SECOND")" = 3 ]; }
wait_for 20 three || fail "the third Coreapp did not register"
# A candidate once the primary Master has heard its heartbeat replies.
c3_healthy() { [ "$(q "SELECT state FROM node_health WHERE node_id = (SELECT MAX(id) FROM nodes WHERE kind = 'coreapp') AND updated_at > NOW(6) - INTERVAL 2 SECOND")" = healthy ]; }
wait_for 30 c3_healthy || fail "the third Coreapp is not healthy to the primary Master"
C=$(q "SELECT node_id FROM shard_map WHERE shard = 0")
kill_during 32 "coreapp $C, primary of shard 0 of 4" "$(node_pid "$C")"
change_over 32
[ "$(q "SELECT COUNT(*) FROM shard_map WHERE node_id = $C")" = 0 ] || fail "coreapp $C, killed, holds shards"
spread() { [ "$(q "SELECT MAX(n) - MIN(n) FROM (SELECT COUNT(*) n FROM shard_map s JOIN nodes d ON d.id = s.node_id WHERE d.stopped_at IS NULL AND s.expires_at > NOW(6) GROUP BY s.node_id) x")" -le 1 ] \
    && [ "$(q "SELECT COUNT(DISTINCT node_id) FROM shard_map WHERE expires_at > NOW(6)")" = 2 ]; }
wait_for 30 spread || fail "32 shards not spread over the two live Coreapps: $(q "SELECT node_id, COUNT(*) FROM shard_map GROUP BY node_id")"
wait_for 30 gate_open_count 32 || fail "not 32 sessions open at wagate: $(gate_stat open)"

note "a change with two-step verification on: a wrong PIN refused, nothing changes"
expect "two-step on" 200 - "$WEB" POST /v1/settings/account/two-step "${AUTH[@]}" -d '{"pin":"246810"}'
CHANGES=$(q "SELECT COUNT(*) FROM shard_changes")
expect "a wrong PIN" 400 1009 "$WEB" POST /v1/account/shards "${AUTH[@]}" \
    -d '{"cc":"1","phone_number":"6315551234","shards":1,"pin":"111111"}'
[ "$(q "SELECT COUNT(*) FROM shard_changes")" = "$CHANGES" ] && in_force 32 || fail "a wrong PIN changed something"

note "32 → 1 under load (with the PIN)"
expect "POST shards 1" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" \
    -d '{"cc":"1","phone_number":"6315551234","shards":1,"pin":"246810"}'
change_over 1
expect "two-step off" 200 - "$WEB" DELETE /v1/settings/account/two-step "${AUTH[@]}"

note "1 → 2 with messages accepted and not yet sent (wagate paused): moved to their new shards, sent once"
kill -STOP "$PID_gate"
pending_some() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")" -ge 50 ]; }
wait_for 30 pending_some || { kill -CONT "$PID_gate"; fail "no messages waiting: $(q "SELECT status, COUNT(*) FROM outbox GROUP BY status")"; }
expect "POST shards 2 (wagate paused)" 201 - "$WEB" POST /v1/account/shards "${AUTH[@]}" -d "$(shards_body 2)"
moved() { [ "$(q "SELECT COUNT(*) FROM shard_changes WHERE id = (SELECT MAX(id) FROM shard_changes) AND drained_at IS NOT NULL")" = 1 ]; }
wait_for 30 moved || { kill -CONT "$PID_gate"; fail "the new count did not come into force"; }
kill -CONT "$PID_gate"
MOVED=$(q "SELECT moved_messages FROM shard_changes ORDER BY id DESC LIMIT 1")
[ "$MOVED" -ge 1 ] || fail "no pending message moved"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND shard <> CRC32(recipient) % 2")" = 0 ] \
    || fail "pending messages left under the old count"
wait_for 60 in_force 2 || fail "2 shards not in force: $(body)"
wait_for 30 at_least $(( $(gate_stat messages) + 200 )) || fail "the load did not go on under 2 shards"
note "$MOVED pending message(s) moved to their new shards"

touch "$T/stop"
rc=0; wait "$LOAD" || rc=$?
cat "$T/waload.json"
[ "$rc" = 0 ] || fail "waload saw errors (exit $rc): $(grep -v '"status":201' "$T/record.jsonl" | head -5)"

note "every id answered 201 is at wagate exactly once; no overlap across the layouts"
grep -o '"id":"[^"]*"' "$T/record.jsonl" | cut -d'"' -f4 | sort > "$T/answered"
ANSWERED=$(wc -l < "$T/answered")
[ "$ANSWERED" = "$(wc -l < "$T/record.jsonl")" ] || fail "records without an id"
[ "$(uniq -d "$T/answered" | wc -l)" = 0 ] || fail "an id answered twice"
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
all_upstream() { [ -z "$(ledger_ids | comm -23 "$T/answered" -)" ]; }
wait_for 30 all_upstream || fail "answered 201 but never upstream: $(ledger_ids | comm -23 "$T/answered" - | wc -l) ids"
[ "$(ledger_ids | uniq -d | wc -l)" = 0 ] || fail "ids upstream twice: $(ledger_ids | uniq -d | head -3)"
[ "$(gate_stat duplicates)" = 0 ] || fail "wagate counted $(gate_stat duplicates) duplicates"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
none_pending() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")" = 0 ]; }
wait_for 30 none_pending || fail "rows not sent: $(q "SELECT status, COUNT(*) FROM outbox GROUP BY status")"
[ "$(q "SELECT COUNT(*) FROM outbox")" = "$ANSWERED" ] || fail "outbox rows vs $ANSWERED answered"
[ "$(q "SELECT COUNT(*) FROM shard_changes WHERE done_at IS NOT NULL")" = 5 ] || fail "changes: $(q "SELECT * FROM shard_changes")"
[ "$(q "SELECT layout FROM cluster_info")" = 6 ] || fail "layout $(q "SELECT layout FROM cluster_info"), expected 6"
misrouted_zero || fail "misrouted at wagate: $(gate_stat misrouted)"
note "each customer's inbound messages stored in the order wagate emitted them, across every change"
callbacks_under 2
for from in "${FROMS[@]}"; do
    emitted=$(jq -r --arg from "$from" 'select(.event == "emitted" and .kind == "message" and .conversation == $from) | .event_id' "$T/ledger.jsonl")
    [ "$(q "SELECT event_id FROM callbacks WHERE conversation = '$from' ORDER BY seq")" = "$emitted" ] \
        || fail "$from's callbacks out of order: $(q "SELECT event_id FROM callbacks WHERE conversation = '$from' ORDER BY seq" | tr '\n' ' ') vs $(echo $emitted)"
done
"$BIN/wactl" -c "$CONF" status --json | jq -e '.shard_count == 2 and .shard_change == null' >/dev/null \
    || fail "wactl status: $("$BIN/wactl" -c "$CONF" status --json | jq -c '{shard_count, shard_change}')"
note "$ANSWERED messages, all 201, through 1 → 2 → 4 → 32 → 1 → 2 shards; 0 duplicates, 0 overlaps, 0 misrouted"
echo "ok $TEST"
