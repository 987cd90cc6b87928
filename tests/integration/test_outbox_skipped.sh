#!/usr/bin/env bash
# A request the outbox's INSERT IGNORE skips is answered 201 only when its
# row is in the table: the Coreapp takes a skipped row for one an earlier
# try of the same request wrote, and answers 201 with the id it derives
# from the idempotency key. A row that holds the key under another id (the
# INSERT skips on the key, and the id the 201 would carry is nowhere) is
# refused instead: 500 (1023, retried by the Webapp until
# request_deadline), the Coreapp's log naming the missing id, and no row
# or upstream message for that id. (The make chaos nemesis of 2026-12-06
# met 18 requests answered 201 whose rows were never there; this is the
# check that keeps such a 201 from being given, whatever skipped the row.)
# The same key sent again when its row is there: 201, as before.
# And a batch whose COMMIT answered OK is read back before its 201: a row
# that is not there under its id then (here a trigger writes it under
# another one) is logged, not answered 201, and the batch tried again under
# its id until its rows are there; then 201, and the message goes upstream.
# Those tries (every 50 ms) are logged once and then every 10 s, not each;
# so are inserts that fail (here a trigger refuses them): the first, how
# many more every 10 s, and when they succeed again.
. "$(dirname "$0")/lib.sh"

WEB=$(free_port)
cluster_init webapp_bind=127.0.0.1 request_deadline=4 request_attempt_timeout=1
standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
send() {        # send KEY: POST a text message under Idempotency-Key KEY; the status
    curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$WEB/v1/messages" "${AUTH[@]}" \
        -H "Idempotency-Key: $1" -d '{"to":"16315550123","type":"text","text":{"body":"skipped?"}}'
}
# The Webapp's key for the admin's Idempotency-Key (src/waweb/idempotency.c)
# and the id the Coreapp derives from it (src/common/message.c).
key_of() { python3 -c 'import hashlib,sys; print("c." + hashlib.blake2b(b"admin\0" + sys.argv[1].encode(), digest_size=16).hexdigest())' "$1"; }
id_of() { python3 -c 'import base64,hashlib,sys; print("gBE" + base64.urlsafe_b64encode(hashlib.blake2b(sys.argv[1].encode(), digest_size=18).digest()).decode().rstrip("="))' "$1"; }

note "the same key twice when its row is there: 201 and the same id both times"
[ "$(send twice)" = 201 ] || fail "first send: $(cat "$T/body")"
first=$(jq -r '.messages[0].id' "$T/body")
[ "$first" = "$(id_of "$(key_of twice)")" ] || fail "the id $first is not the one derived from the key"
[ "$(send twice)" = 201 ] || fail "second send: $(cat "$T/body")"
[ "$(jq -r '.messages[0].id' "$T/body")" = "$first" ] || fail "another id the second time: $(cat "$T/body")"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id = '$first'")" = 1 ] || fail "the row of $first is not there once"

note "a key whose row holds another id: refused, not 201"
key=$(key_of skipped); id=$(id_of "$key")
q "INSERT INTO outbox (id, idem_key, shard, epoch, batch, recipient, payload, status, created_at, sent_at)
   VALUES ('gBEnot-the-derived-id', '$key', 0, 0, 0, '16315550123', '{}', 'sent', NOW(6), NOW(6))"
code=$(send skipped)
[ "$code" != 201 ] || fail "answered 201 for $id, whose row is nowhere: $(cat "$T/body")"
[ "$code" = 500 ] && [ "$(jq -r '.errors[0].code' "$T/body")" = 1023 ] \
    || fail "not 500 (1023): $code $(cat "$T/body")"
grep -q "rows were neither written nor found (the first: $id)" "$T"/c[12].log \
    || fail "no Coreapp log names $id: $(grep -h 'outbox:' "$T"/c[12].log | tail -n 3)"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id = '$id'")" = 0 ] || fail "a row of $id appeared"
! grep -q "\"id\":\"$id\"" "$T/ledger.jsonl" || fail "$id went upstream"

note "the outbox goes on: a new key is 201"
[ "$(send after)" = 201 ] || fail "after: $(cat "$T/body")"

note "a row committed under another id: not 201 until the row is there under its own"
# The request waits while the batch is tried again, past the 10 s after
# which that is said again: a longer deadline, set as an operator would.
out=$("$BIN/wactl" -c "$CONF" settings set request_deadline 30 2>&1) || fail "settings set failed: $out"
wait_for 10 grep -q "setting request_deadline: 4 -> 30" "$T/w1.log" || fail "the Webapp did not apply request_deadline 30"
key=$(key_of moved); id=$(id_of "$key")
q "CREATE TRIGGER test_moved BEFORE INSERT ON outbox FOR EACH ROW
   SET NEW.id = IF(NEW.idem_key = '$key', CONCAT('moved-', NEW.id), NEW.id)"
send moved > "$T/moved.code" &
sender=$!
wait_for 10 grep -q "rows are not in the table after their COMMIT (the first: $id; the transaction was open before it)" "$T"/c1.log "$T"/c2.log \
    || fail "no Coreapp read the batch back and named $id: $(grep -h 'outbox:' "$T"/c[12].log | tail -n 3)"
kill -0 "$sender" 2>/dev/null || fail "answered before the row was there: $(cat "$T/moved.code") $(cat "$T/body")"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id = '$id'")" = 0 ] || fail "a row of $id is there already"
note "the batch tried again every 50 ms, logged once and then every 10 s, not at every try"
# The primary Coreapps' tries of an unresolved batch (GET /v1/stats/app).
unresolved() {
    curl -s "${AUTH[@]}" "http://127.0.0.1:$WEB/v1/stats/app" \
        | jq '[.stats.app[] | select(.role == "primary_coreapp") | .outbox.unresolved] | add // 0'
}
unresolved_over() { [ "$(unresolved)" -gt "$1" ]; }
wait_for 15 unresolved_over 20 || fail "the batch was not tried again 20 times: unresolved $(unresolved)"
lines=$(cat "$T"/c1.log "$T"/c2.log | grep -c "outbox: insert of 1 messages: .*(the first: $id" || true)
[ "$lines" = 1 ] || fail "$lines lines about $id's insert after $(unresolved) tries, not 1: $(grep -h "$id" "$T"/c[12].log | tail -n 3)"
wait_for 15 grep -q "inserting 1 messages still unresolved after [0-9]* tries in 1[0-9] s; the last: .*the first: $id" \
    "$T"/c1.log "$T"/c2.log || fail "no line said every 10 s that the batch is still unresolved"
q "DROP TRIGGER test_moved"
# The Coreapp tries the batch again meanwhile, and a DELETE that meets its
# INSERT's locks may be a deadlock's victim (1213, seen under ASan): tried
# again then, as any client would; any other error fails.
tries=0
until out=$(q "DELETE FROM outbox WHERE id = 'moved-$id'" 2>&1); do
    grep -q 'ERROR 1213' <<<"$out" && [ $((tries += 1)) -lt 50 ] || fail "deleting the moved row: $out"
done
wait "$sender" || true
[ "$(cat "$T/moved.code")" = 201 ] || fail "not 201 once the row could be written: $(cat "$T/moved.code") $(cat "$T/body")"
[ "$(jq -r '.messages[0].id' "$T/body")" = "$id" ] || fail "201 with another id: $(cat "$T/body")"
[ "$(q "SELECT COUNT(*) FROM outbox WHERE id = '$id'")" = 1 ] || fail "the row of $id is not there once"
wait_for 10 grep -q "\"id\":\"$id\"" "$T/ledger.jsonl" || fail "$id never went upstream"
grep -q "inserting 1 messages resolved after [0-9]* tries: committed" "$T"/c1.log "$T"/c2.log \
    || fail "no line said the batch was resolved"

note "inserts the database refuses: the first logged, then how many more every 10 s, then their end"
q "CREATE TRIGGER test_refuse BEFORE INSERT ON outbox FOR EACH ROW
   SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test_refuse: inserts refused'"
send refused > "$T/refused.code" &
sender=$!
wait_for 15 grep -q "outbox: [0-9]* more inserts failed in the last 1[0-9] s; the last, of 1 messages: test_refuse" \
    "$T"/c1.log "$T"/c2.log || fail "no line counted the failed inserts after 10 s: $(grep -h 'outbox:' "$T"/c[12].log | tail -n 3)"
more=$(cat "$T"/c1.log "$T"/c2.log | sed -n 's/.*outbox: \([0-9]*\) more inserts failed in the last.*/\1/p' | head -n 1)
[ "$more" -ge 2 ] || fail "only $more more failed inserts counted: the request was not tried again"
lines=$(cat "$T"/c1.log "$T"/c2.log | grep -c "outbox: insert of 1 messages failed: test_refuse" || true)
[ "$lines" = 1 ] || fail "$lines lines for single failed inserts, not 1 (and $more more counted)"
kill -0 "$sender" 2>/dev/null || fail "answered while every insert was refused: $(cat "$T/refused.code") $(cat "$T/body")"
# (The first step's refusals were a streak too, ended by its next 201.)
ends() { cat "$T"/c1.log "$T"/c2.log | grep -c "outbox: inserts succeed again, after [0-9]* failed in [0-9]* s" || true; }
ended=$(ends)
q "DROP TRIGGER test_refuse"
wait "$sender" || true
[ "$(cat "$T/refused.code")" = 201 ] || fail "not 201 once inserts were taken again: $(cat "$T/refused.code") $(cat "$T/body")"
ended_more() { [ "$(ends)" -gt "$ended" ]; }
wait_for 5 ended_more || fail "no line said inserts succeed again"
note "a skipped row answered 201 only when it is there; refused (1023) and named when not; a committed batch read back; failed inserts logged by the streak"
echo "ok $TEST"
