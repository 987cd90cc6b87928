#!/usr/bin/env bash
# A Coreapp holds several shards (issue 14). Four shards on two Coreapps end
# two and two, each shard with its own upstream session at wagate; messages
# to recipients of every shard are answered 201 and reach wagate once each.
# A kill -9 of one Coreapp: the survivor takes its shards and holds all four
# (new sessions for those two, its own two untouched), with 0 overlaps, no
# duplicate and the outbox all sent. A Coreapp started again gets two back,
# by the Master's rebalancing (planned switchovers, one at a time), and
# messages to every shard still reach wagate once each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 shards=4 heartbeat_interval=0.2 unhealthy_interval=2
standard_cluster

held_by() { q "SELECT COUNT(*) FROM shard_map WHERE node_id = $1 AND expires_at > NOW(6)"; }
spread() {
    [ "$(q "SELECT GROUP_CONCAT(c ORDER BY c) FROM (SELECT COUNT(*) c FROM shard_map
            WHERE expires_at > NOW(6) GROUP BY node_id) x")" = "2,2" ]
}
wait_for 30 spread || fail "4 shards on 2 Coreapps are not 2 + 2: $(q "SELECT shard, node_id, expires_at > NOW(6) FROM shard_map")"
wait_for 30 gate_open_count 4 || fail "not 4 sessions at wagate: $(gate_stat open)"
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")

note "each Coreapp's stats list the two shards it holds"
app_shards() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/v1/stats/app" \
        | jq -c '[.stats.app[] | select(.kind == "coreapp") | .shards | length] | sort'
}
[ "$(app_shards)" = "[2,2]" ] || fail "stats: $(app_shards)"
health_shards() {
    curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WEB/v1/health" \
        | jq -c '[.health[] | select(.role == "coreapp" and .primary) | .shards] | add | sort'
}
[ "$(health_shards)" = "[0,1,2,3]" ] || fail "health: each shard once in the Coreapps' \"shards\": $(health_shards)"

# Two recipients of each shard (crc32(to) mod 4, as the Webapp routes).
RECIPIENTS=()
for i in $(seq 10 60); do
    to="1631555$(printf %04d "$i")"
    s=$(q "SELECT CRC32('$to') % 4")
    n=0
    for r in "${RECIPIENTS[@]}"; do [ "${r#* }" = "$s" ] && n=$((n + 1)); done
    [ "$n" -lt 2 ] && RECIPIENTS+=("$to $s")
    [ "${#RECIPIENTS[@]}" = 8 ] && break
done
[ "${#RECIPIENTS[@]}" = 8 ] || fail "no two recipients for every shard: ${RECIPIENTS[*]}"
# send_round NAME: a message to each recipient, every one answered 201; the ids in $T/ids.
send_round() {
    local r
    for r in "${RECIPIENTS[@]}"; do send_message "${r% *}" "$1" >> "$T/ids"; done
}
ledger_ids() { grep '"event":"message"' "$T/ledger.jsonl" | grep -o '"id":"[^"]*"' | cut -d'"' -f4 | sort; }
all_upstream() { [ -z "$(ledger_ids | comm -23 <(sort "$T/ids") -)" ]; }
all_sent() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")" = 0 ]; }

note "messages to recipients of every shard"
send_round before
wait_for 20 all_upstream || fail "answered 201, never upstream: $(ledger_ids | comm -23 <(sort "$T/ids") - | head -3)"
[ "$(q "SELECT COUNT(DISTINCT shard) FROM outbox")" = 4 ] || fail "the messages did not spread over 4 shards"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE shard <> CRC32(recipient) % 4")" = 0 ] \
    || fail "outbox rows under the wrong shard: $(q "SELECT shard, recipient FROM outbox WHERE shard <> CRC32(recipient) % 4 LIMIT 3")"

V=$(q "SELECT node_id FROM shard_map WHERE shard = 0")
S=$(q "SELECT DISTINCT node_id FROM shard_map WHERE node_id <> $V")
KEPT=$(q "SELECT GROUP_CONCAT(shard ORDER BY shard) FROM shard_map WHERE node_id = $S")
open_sessions() {   # "shard:session" of every open session, by shard
    "$BIN/wagate" -c "$CONF" stats --json \
        | jq -r '[.accounts[] | select(.open != null) | "\(.shard):\(.open.session):\(.open.node)"] | sort | join(" ")'
}
BEFORE=$(open_sessions)
SESSIONS=$(gate_stat sessions)
note "kill -9 coreapp $V; coreapp $S (shards $KEPT) takes its shards"
kill -KILL "$(node_pid "$V")"
all_four() { [ "$(held_by "$S")" = 4 ]; }
wait_for 30 all_four || fail "the survivor does not hold all 4: $(q "SELECT shard, node_id, expires_at > NOW(6) FROM shard_map")"
wait_for 30 gate_open_count 4 || fail "not 4 sessions at wagate after the failover: $(open_sessions)"
[ "$(gate_stat sessions)" -ge $(( SESSIONS + 2 )) ] || fail "no new sessions for the moved shards"
for kept in ${KEPT//,/ }; do
    was=$(tr ' ' '\n' <<<"$BEFORE" | grep "^$kept:")
    now=$(tr ' ' '\n' <<<"$(open_sessions)" | grep "^$kept:")
    [ "$was" = "$now" ] || fail "shard $kept's session changed with the other Coreapp's death: $was, now $now"
done
[ "$(app_shards)" = "[4]" ] || fail "stats after the failover: $(app_shards)"

note "messages to every shard on the survivor"
send_round after
wait_for 20 all_upstream || fail "answered 201, never upstream: $(ledger_ids | comm -23 <(sort "$T/ids") - | head -3)"
wait_for 20 all_sent || fail "outbox not all sent: $(q "SELECT shard, status, COUNT(*) FROM outbox GROUP BY shard, status")"

note "a Coreapp starts again: rebalanced to 2 + 2 by planned switchovers"
start c3 wacore
wait_for 40 spread || fail "not rebalanced: $(q "SELECT shard, node_id, expires_at > NOW(6) FROM shard_map")"
[ "$(q "SELECT COUNT(*) FROM shard_map WHERE reason = 'switchover'")" = 2 ] \
    || fail "not moved by switchovers: $(q "SELECT shard, node_id, reason FROM shard_map")"
wait_for 30 gate_open_count 4 || fail "not 4 sessions at wagate after the rebalancing: $(open_sessions)"
send_round rebalanced
wait_for 20 all_upstream || fail "answered 201, never upstream: $(ledger_ids | comm -23 <(sort "$T/ids") - | head -3)"
wait_for 20 all_sent || fail "outbox not all sent: $(q "SELECT shard, status, COUNT(*) FROM outbox GROUP BY shard, status")"

note "exactly once, no overlap"
[ "$(ledger_ids | uniq -d | wc -l)" = 0 ] || fail "ids upstream twice: $(ledger_ids | uniq -d | head -3)"
[ "$(gate_stat duplicates)" = 0 ] || fail "wagate counted $(gate_stat duplicates) duplicates"
[ "$(sort "$T/ids" | uniq -d | wc -l)" = 0 ] || fail "an id answered twice"
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "$(wc -l < "$T/ids") messages over 4 shards, 2 + 2, 4 on the survivor, 2 + 2 again, each once upstream"
