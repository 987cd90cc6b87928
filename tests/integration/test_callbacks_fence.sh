#!/usr/bin/env bash
# Issue 18: an upstream event whose store is refused by its fence (the
# shard_map row does not name the Coreapp with a lease in force, by the
# database's clock) while the Coreapp still holds the shard by its own
# deadline is kept and stored on a later try, then delivered exactly once,
# on the same upstream session and without wagate sending it again.
#
# The refusal is made as a database clock step makes it: the shard's
# expires_at is put in the past by hand, and stays there until the holder's
# next renewal (shard_renew_interval 3 s). The Master is stopped first, so
# nobody promotes anyone meanwhile (Coreapps serve while every Master is down).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"

hook_start
cluster_init "webhooks_url=$HOOK_URL" shard_lease_ttl=8 shard_renew_interval=3 lease_margin=1
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster; start c1 wacore
wait_healthy 30
"$BIN/wagate" -c "$CONF" inject --from 16505550001 --text "before" >/dev/null || fail "wagate inject"
wait_for 20 all_received 1 || fail "the first event did not reach the receiver"
sessions=$(grep -c "event session_opened" "$T/c1.log")
kill -TERM "$PID_m1"
wait_for 20 bash -c "! kill -0 $PID_m1" || fail "the Master did not stop"

refused() { grep -q "storing [0-9]* events was refused" "$T/c1.log"; }
for try in 1 2 3 4 5; do
    q "UPDATE shard_map SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE shard = 0"
    "$BIN/wagate" -c "$CONF" inject --from 16505550002 --text "fenced $try" > "$T/inject.$try" || fail "wagate inject"
    wait_for 2 refused && break
done
refused || fail "the fence never refused a store (the renewal always came first)"
note "the fence refused a store (try $try); the events are kept"

wait_for 20 all_received 2 || fail "$(missing_count) events never reached the receiver"
check "the Coreapp said it stores again" grep -q "storing events again" "$T/c1.log"
check "wagate sent nothing again: the Coreapp kept the events itself" [ "$(gate_stat resent)" = 0 ]
check "no session was closed" [ "$(grep -c 'session_closed' "$T/c1.log")" = 0 ]
check "no session opened since" [ "$(grep -c "event session_opened" "$T/c1.log")" = "$sessions" ]
for f in "$T"/inject.*; do
    id=$(jq -r .event_id "$f")
    n=$(jq -r "select(.status == 200) | .body.messages[0].id // empty" "$HOOKS" | grep -cx "$id" || true)
    [ "$n" = 1 ] || fail "event $id reached the receiver $n times, expected once"
done
check "every event acknowledged upstream" [ "$(gate_stat pending)" = 0 ]
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order)"
check "0 overlaps at wagate" overlaps_zero
note "every injected event reached the webhook once, on the session that was open"
