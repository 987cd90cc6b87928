#!/usr/bin/env bash
# Retention (issue 13, item 8; docs/OPERATIONS.md, Retention): the primary
# Master deletes sent (or refused) outbox rows, delivered (skipped,
# rejected) callbacks, audit events and inbound message ids (inbound_ids,
# kept for PUT /v1/messages/{id}) older than their retention, in batches of
# gc_batch_size, and nothing else:
#   - off from the config file (db_garbagecollector_enable = 0, seeded):
#     nothing goes;
#   - turned on with wactl settings set, under a steady stream of
#     POST /v1/messages: every old finished row goes in batches, while no
#     request takes long; old pending rows, recent rows, and a row created
#     long ago but sent just now, all stay; gc_state, wactl status (text
#     and --json) and the primary Master's stats count exactly what went;
#     the secondary Master ran no pass;
#   - turned off live: rows that have aged stay;
#   - after a takeover the new primary Master deletes, and a retention of
#     seconds (a fraction of a day, the same setting) deletes real events.
# Old rows are written with SQL, a day old, before any message is sent: seq
# grows with created_at, as it does in a running cluster.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
BATCH=1000
# Days: 0.01 is 14.4 min (longer than this test), 0.5 is 12 h.
cluster_init webapp_bind=127.0.0.1 db_garbagecollector_enable=0 gc_interval=0.5 gc_batch_size=$BATCH \
    retention_outbox_days=0.01 retention_callbacks_days=0.01 retention_events_days=0.5
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
wactl() { "$BIN/wactl" -c "$CONF" "$@"; }
gc() { q "SELECT $1 FROM gc_state WHERE id = 1"; }

note "old rows: outbox, callbacks, events, inbound ids, a day old; the pending ones on shard 1 (no Coreapp sends them)"
# 80000 outbox rows: every 400th pending, every 50th (else) refused, the rest sent.
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('gc-old-', seq), CONCAT('gc-old-', seq), IF(seq % 400 = 0, 1, 0), 1, 0, '16315550000', '{}',
          CASE WHEN seq % 400 = 0 THEN 'pending' WHEN seq % 50 = 0 THEN 'refused' ELSE 'sent' END,
          NOW(6) - INTERVAL 1 DAY, IF(seq % 400 = 0, NULL, NOW(6) - INTERVAL 1 DAY + INTERVAL 1 SECOND)
   FROM seq_1_to_80000"
# Created a day ago, sent just now: kept for its retention from now.
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   SELECT CONCAT('gc-now-', seq), CONCAT('gc-now-', seq), 0, 1, 0, '16315550000', '{}', 'sent',
          NOW(6) - INTERVAL 1 DAY, NOW(6) FROM seq_1_to_20"
# 40000 callbacks: every 400th pending, every 100th rejected, every 50th skipped, the rest delivered.
q "INSERT INTO callbacks (event_id, shard, kind, conversation, payload, status, created_at, delivered_at)
   SELECT CONCAT('gc-old-', seq), IF(seq % 400 = 0, 1, 0), 'status', '16315550000', '{}',
          CASE WHEN seq % 400 = 0 THEN 'pending' WHEN seq % 100 = 0 THEN 'rejected'
               WHEN seq % 50 = 0 THEN 'skipped' ELSE 'delivered' END,
          NOW(6) - INTERVAL 1 DAY, IF(seq % 400 = 0, NULL, NOW(6) - INTERVAL 1 DAY + INTERVAL 1 SECOND)
   FROM seq_1_to_40000"
q "INSERT INTO callbacks (event_id, shard, kind, conversation, payload, status, created_at, delivered_at)
   SELECT CONCAT('gc-now-', seq), 0, 'status', '16315550000', '{}', 'delivered', NOW(6), NOW(6) FROM seq_1_to_20"
q "INSERT INTO events (at, node_id, kind, detail) SELECT NOW(6) - INTERVAL 1 DAY, 0, 'gc_test', 'old' FROM seq_1_to_40000"
q "INSERT INTO inbound_ids (message_id, shard, sender, created_at)
   SELECT CONCAT('gc-old-', seq), seq % 2, '16505550000', NOW(6) - INTERVAL 1 DAY FROM seq_1_to_10000"
q "INSERT INTO inbound_ids (message_id, shard, sender, created_at)
   SELECT CONCAT('gc-now-', seq), 0, '16505550000', NOW(6) FROM seq_1_to_20"
OUTBOX_OLD=79800 CALLBACKS_OLD=39900 EVENTS_OLD=40000 INBOUND_OLD=10000 OUTBOX_PENDING=200 CALLBACKS_PENDING=100
old_outbox() { q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'gc-old-%' AND status <> 'pending'"; }
old_callbacks() { q "SELECT COUNT(*) FROM callbacks WHERE event_id LIKE 'gc-old-%' AND status <> 'pending'"; }
old_events() { q "SELECT COUNT(*) FROM events WHERE kind = 'gc_test'"; }
old_inbound() { q "SELECT COUNT(*) FROM inbound_ids WHERE message_id LIKE 'gc-old-%'"; }
[ "$(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound)" = "$OUTBOX_OLD/$CALLBACKS_OLD/$EVENTS_OLD/$INBOUND_OLD" ] \
    || fail "the old rows: $(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound)"

note "db_garbagecollector_enable = 0 (from the config file): nothing goes"
setting() { wactl settings --json | jq -r --arg n "$1" '.settings[] | select(.name == $n) | "\(.value) \(.stored)"'; }
[ "$(setting db_garbagecollector_enable)" = "0 true" ] || fail "not seeded off: $(setting db_garbagecollector_enable)"
sleep 3
[ "$(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound)" = "$OUTBOX_OLD/$CALLBACKS_OLD/$EVENTS_OLD/$INBOUND_OLD" ] \
    || fail "deleted while off: $(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound)"
[ "$(gc passes)" = 0 ] || fail "a pass while off: $(gc passes)"
! grep -q "retention:" "$T/m1.log" "$T/m2.log" || fail "a Master ran a pass while off: $(grep -h "retention:" "$T"/m?.log)"

# send N FILE: N messages one after the other, "start_ms code seconds" per
# line; until $T/stop exists when N is 0.
send() {
    local n=$1 out=$2 i=0
    while [ "$n" -eq 0 ] && [ ! -e "$T/stop" ] || [ "$i" -lt "$n" ]; do
        i=$((i + 1))
        echo "$(now_ms) $(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST "http://127.0.0.1:$WEB/v1/messages" \
            "${AUTH[@]}" -d "{\"to\":\"163155$(printf %05d "$i")1\",\"type\":\"text\",\"text\":{\"body\":\"gc $i\"}}")" >> "$out"
        [ "$n" -gt 0 ] || sleep 0.05
    done
}
send 20 "$T/before"
awk '$2 != 201 { bad++ } END { exit bad }' "$T/before" || fail "sends before: $(grep -v ' 201 ' "$T/before")"

note "on (wactl settings set), while messages are sent"
send 0 "$T/during" &
SENDER=$!; PIDS+=("$SENDER")
T_ON=$(now_ms)
wactl settings set db_garbagecollector_enable 1 > /dev/null || fail "wactl settings set db_garbagecollector_enable 1"
all_gone() { [ "$(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound)" = 0/0/0/0 ] && [ "$(gc passes)" -ge 1 ]; }
wait_for 120 all_gone \
    || fail "old rows left after 120 s: $(old_outbox)/$(old_callbacks)/$(old_events)/$(old_inbound), $(gc passes) passes"
T_OFF=$(now_ms)
touch "$T/stop"; wait "$SENDER" || true
P=$(primary_master); E=$(lease_epoch)
S=$(q "SELECT id FROM nodes WHERE kind = 'master' AND id <> $P AND stopped_at IS NULL")
for name in m1 m2; do
    if [ "$(pid_of $name)" = "$(node_pid "$S")" ]; then SNAME=$name; else PNAME=$name; fi
done
# The passes that took them: the primary's log (a pass that deletes nothing
# logs at debug only). One pass takes them all unless the lease's deadline
# cut it short (a batch is never run past it: under a sanitizer on a loaded
# machine the first pass once stopped part way); the next pass goes on.
grep "retention: pass deleted" "$T/$PNAME.log" > "$T/passes" || fail "the primary logged no pass"
read -r PASSES DEL_OUTBOX DEL_CALLBACKS DEL_EVENTS DEL_INBOUND PASS_BATCHES PASS_S < <(sed -E \
    's/.*pass deleted ([0-9]+) outbox rows, ([0-9]+) callbacks, ([0-9]+) events, ([0-9]+) inbound ids in ([0-9]+) batch\(es\), ([0-9.]+) s.*/\1 \2 \3 \4 \5 \6/' \
    "$T/passes" | awk '{ o += $1; c += $2; e += $3; i += $4; b += $5; s += $6 } END { printf "%d %d %d %d %d %d %.3f\n", NR, o, c, e, i, b, s }')
[ "$DEL_OUTBOX/$DEL_CALLBACKS/$DEL_EVENTS/$DEL_INBOUND" = "$OUTBOX_OLD/$CALLBACKS_OLD/$EVENTS_OLD/$INBOUND_OLD" ] \
    || fail "the passes deleted $DEL_OUTBOX/$DEL_CALLBACKS/$DEL_EVENTS/$DEL_INBOUND: $(cat "$T/passes")"
line="$PASSES pass(es): $(tr '\n' ' ' < "$T/passes")"
# Batches: at least the rows over gc_batch_size per table, plus the last
# (short or young) window of each.
min=$(( (OUTBOX_OLD + OUTBOX_PENDING + BATCH - 1) / BATCH + (CALLBACKS_OLD + CALLBACKS_PENDING + BATCH - 1) / BATCH
       + EVENTS_OLD / BATCH + INBOUND_OLD / BATCH ))
[ "$PASS_BATCHES" -ge "$min" ] || fail "$PASS_BATCHES batches, at least $min expected: $line"
# stats FILE FROM TO: the sends that started within [FROM, TO] ms: count,
# not 201, longest and mean seconds.
stats() { awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { n++; if ($2 != 201) bad++; if ($3 > max) max = $3; sum += $3 }
    END { printf "%d %d %.3f %.3f\n", n, bad, max, n ? sum / n : 0 }' "$1"; }
read -r n_before bad_before max_before avg_before < <(stats "$T/before" 0 99999999999999)
read -r n_during bad_during max_during avg_during < <(stats "$T/during" "$T_ON" "$T_OFF")
note "$PASSES pass(es): $PASS_BATCHES batches of at most $BATCH rows in $PASS_S s; POST /v1/messages before: longest ${max_before} s, mean ${avg_before} s ($n_before); while on: longest ${max_during} s, mean ${avg_during} s ($n_during)"
[ "$bad_during" = 0 ] || fail "$bad_during sends not 201 while the collector ran: $(grep -v ' 201 ' "$T/during" | head -3)"
[ "$n_during" -ge 3 ] || fail "only $n_during sends while the collector ran"
# request_attempt_timeout is 2 s: the send path stays far from it.
awk -v m="$max_during" 'BEGIN { exit !(m < 1.0) }' || fail "a send took ${max_during} s while the collector ran"

note "what stays: pending, recent, sent just now"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'gc-old-%' AND status = 'pending'")" = "$OUTBOX_PENDING" ] || fail "old pending outbox rows deleted"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id LIKE 'gc-old-%' AND status = 'pending'")" = "$CALLBACKS_PENDING" ] || fail "old pending callbacks deleted"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'gc-now-%'")" = 20 ] || fail "rows sent just now deleted"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE event_id LIKE 'gc-now-%'")" = 20 ] || fail "callbacks delivered just now deleted"
[ "$(q "SELECT COUNT(*) FROM inbound_ids WHERE message_id LIKE 'gc-now-%'")" = 20 ] || fail "recent inbound ids deleted"
sent=$(cat "$T/before" "$T/during" | grep -c ' 201 ')
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id NOT LIKE 'gc-%'")" = "$sent" ] || fail "messages sent through the API deleted"
[ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'lease_acquired'")" -ge 1 ] || fail "recent events deleted"

note "counted: gc_state, wactl status, the primary Master's stats; the secondary ran no pass"
[ "$(gc node_id)/$(gc epoch)" = "$P/$E" ] || fail "gc_state names $(gc node_id)/$(gc epoch), the primary is $P/$E"
[ "$(gc outbox_deleted)/$(gc callbacks_deleted)/$(gc events_deleted)/$(gc inbound_ids_deleted)" \
  = "$OUTBOX_OLD/$CALLBACKS_OLD/$EVENTS_OLD/$INBOUND_OLD" ] \
    || fail "gc_state counts $(gc outbox_deleted)/$(gc callbacks_deleted)/$(gc events_deleted)/$(gc inbound_ids_deleted)"
wactl status > "$T/status" || fail "wactl status"
grep -q "^on: a pass every 0.500s by the primary Master" "$T/status" || fail "wactl status: $(sed -n '/RETENTION/,$p' "$T/status")"
grep -Eq "^outbox +14m24s +[0-9]+ +$OUTBOX_OLD$" "$T/status" || fail "wactl status outbox: $(sed -n '/RETENTION/,$p' "$T/status")"
grep -Eq "^callbacks +14m24s +[0-9]+ +$CALLBACKS_OLD$" "$T/status" || fail "wactl status callbacks"
grep -Eq "^events +12h00m +[0-9]+ +$EVENTS_OLD$" "$T/status" || fail "wactl status events"
grep -Eq "^inbound_ids +14m24s +[0-9]+ +$INBOUND_OLD$" "$T/status" || fail "wactl status inbound_ids"
grep -q "^last pass .* by master $P, " "$T/status" || fail "wactl status last pass: $(grep 'last pass' "$T/status")"
wactl status --json > "$T/status.json" || fail "wactl status --json"
[ "$(jq -r '.retention | [.enabled, .tables.outbox.deleted, .tables.callbacks.deleted, .tables.events.deleted,
      .tables.inbound_ids.deleted, .tables.outbox.keep_days, .tables.inbound_ids.keep_days, .last_pass.by]
      | map(tostring) | join(" ")' "$T/status.json")" \
  = "true $OUTBOX_OLD $CALLBACKS_OLD $EVENTS_OLD $INBOUND_OLD 0.01 0.01 $P" ] || fail "wactl status --json: $(jq -c .retention "$T/status.json")"
expect "stats" 200 - "$WEB" GET /v1/stats/app "${AUTH[@]}"
master_gc() { jq -c --argjson id "$1" '.stats.app[] | select(.node == $id) | .gc' "$T/body"; }
[ "$(master_gc "$P" | jq -r '[.deleted.outbox, .deleted.callbacks, .deleted.events, .deleted.inbound_ids, .passes >= 1]
      | map(tostring) | join(" ")')" = "$OUTBOX_OLD $CALLBACKS_OLD $EVENTS_OLD $INBOUND_OLD true" ] || fail "the primary's stats: $(master_gc "$P")"
[ "$(master_gc "$S" | jq -r '[.passes, .batches, .deleted.outbox, .deleted.callbacks, .deleted.events] | map(tostring) | join(" ")')" \
  = "0 0 0 0 0" ] || fail "the secondary's stats: $(master_gc "$S")"
! grep -q "retention:" "$T/$SNAME.log" || fail "the secondary Master logged: $(grep "retention:" "$T/$SNAME.log")"

note "off again (live): rows that have aged stay"
wactl settings set db_garbagecollector_enable 0 > /dev/null || fail "wactl settings set db_garbagecollector_enable 0"
wait_for 5 grep -q "setting db_garbagecollector_enable: 1 -> 0" "$T/$PNAME.log" || fail "not applied by the primary"
# A pass under way ends at its next batch, and records itself.
passes_still() { local a; a=$(gc passes); sleep 1; [ "$(gc passes)" = "$a" ]; }
wait_for 10 passes_still || fail "passes go on after it was turned off"
passes=$(gc passes)
q "INSERT INTO events (at, node_id, kind, detail) SELECT NOW(6) - INTERVAL 1 DAY, 0, 'gc_late', 'old' FROM seq_1_to_500"
sleep 3
[ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'gc_late'")" = 500 ] || fail "deleted while off"
[ "$(gc passes)" = "$passes" ] || fail "passes went on while off: $passes -> $(gc passes)"

note "after a takeover the new primary deletes; seconds of retention (a fraction of a day)"
kill -TERM "$(pid_of "$PNAME")"
wait_for 10 lease_taken_from "$P" || fail "no takeover"
P2=$(primary_master)
wactl settings set db_garbagecollector_enable 1 > /dev/null || fail "wactl settings set db_garbagecollector_enable 1"
late_gone() { [ "$(q "SELECT COUNT(*) FROM events WHERE kind = 'gc_late'")" = 0 ] && [ "$(gc node_id)" = "$P2" ]; }
wait_for 30 late_gone || fail "the new primary did not delete: $(q "SELECT COUNT(*) FROM events WHERE kind = 'gc_late'") left, gc_state names $(gc node_id), the new primary is $P2"
[ "$(gc events_deleted)" = $((EVENTS_OLD + 500)) ] || fail "events deleted in all: $(gc events_deleted)"
# 0.00005 days = 4.32 s: the takeover's own events go too.
wactl settings set retention_events_days 0.00005 > /dev/null || fail "wactl settings set retention_events_days 0.00005"
takeover=$(q "SELECT MAX(id) FROM events WHERE kind = 'lease_acquired'")
takeover_gone() { [ "$(q "SELECT COUNT(*) FROM events WHERE id = $takeover")" = 0 ]; }
wait_for 20 takeover_gone || fail "an event older than 4.32 s stays: $(q "SELECT at, kind FROM events WHERE id = $takeover")"
[ "$(q "SELECT COUNT(*) FROM events WHERE at < NOW(6) - INTERVAL 6 SECOND")" = 0 ] || fail "events older than 6 s stay"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id LIKE 'gc-old-%' AND status = 'pending'")" = "$OUTBOX_PENDING" ] || fail "pending rows went"
check "0 overlaps at wagate" overlaps_zero
note "deleted $OUTBOX_OLD outbox rows, $CALLBACKS_OLD callbacks, $EVENTS_OLD events, $INBOUND_OLD inbound ids in $PASS_BATCHES batches ($PASS_S s); the secondary none; off kept them; master $P2 after the takeover"
