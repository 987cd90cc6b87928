#!/usr/bin/env bash
# Batches without MariaDB's array binding (issue 13: MySQL). With db_bulk =
# rows, set in the config file as a user would, every program says so when
# it connects, and the send path writes its batches as multi-row statements
# (the outbox's, the callbacks'; their marks row by row): 600 messages
# through the Webapp, 150 at a time, each at wagate once and its outbox row
# there and sent, batches of many rows among them; one Idempotency-Key sent
# 20 times at once stored and sent once; every status and inbound message
# at the webhook, through a failing spell of it, and every callback row
# delivered. A bad db_bulk is refused at start, naming the key. A server that
# greets as MySQL 8 (tests/integration/fake_mysql.py: no MySQL server here)
# gets multi-row statements under auto and its own way of bounding idle
# sessions (no idle_transaction_timeout), and refuses db_bulk = array at
# connect, saying why; against MariaDB db_bulk = array binds arrays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callbacks_lib.sh"
# The config file decides here, whatever the suite runs with (make test-db-rows).
unset WA_DB_BULK

WEB=$(free_port)
hook_start
cluster_init db_bulk=rows webapp_bind=127.0.0.1 webapp_max_connections_per_address=0 "webhooks_url=$HOOK_URL" \
    wagate_status_delay=0.05 sent_status=1 callback_backoff_delay_ms=200 max_callback_backoff_delay_ms=400

note "a bad db_bulk is refused at start, naming the key"
out=$(WA_DB_BULK=multi "$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "WA_DB_BULK=multi passed -n"
grep -q "environment WA_DB_BULK: key 'db_bulk': value 'multi' is not one of auto|array|rows" <<<"$out" \
    || fail "the error does not name db_bulk: $out"
sed 's/^db_bulk = rows$/db_bulk = arrays/' "$CONF" > "$T/bad.conf"
out=$("$BIN/wacore" -c "$T/bad.conf" -n 2>&1) && fail "db_bulk = arrays passed -n"
grep -q "db_bulk" <<<"$out" || fail "the error does not name db_bulk: $out"
"$BIN/wamaster" -c "$CONF" -n | grep -qx "db_bulk = rows" || fail "-n does not show db_bulk = rows"

standard_cluster
web_start w1 "$WEB"
TOKEN=$(admin_token "$WEB")
for name in m1 m2 c1 c2 w1; do
    grep -q "db: the server is MariaDB [0-9.]*: bulk writes as multi-row statements (db_bulk = rows)" "$T/$name.log" \
        || fail "$name does not log the batches' path: $(grep 'db:' "$T/$name.log" | head -n 3)"
done
! grep -h "bulk writes bind arrays" "$T"/*.log || fail "a program binds arrays with db_bulk = rows"

note "600 messages, 150 at a time: each once upstream, each row there and sent"
sent_rows_are() { [ "$(q "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")" = "$1" ]; }
"$BIN/waload" --url "http://127.0.0.1:$WEB" --token "$TOKEN" --concurrency 150 --count 600 --timeout 60 --json \
    > "$T/load.json" 2> "$T/load.err" || fail "waload: $(cat "$T/load.json" "$T/load.err")"
wait_for 30 sent_rows_are 600 || fail "sent rows: $(q "SELECT status, COUNT(*) FROM outbox GROUP BY status")"
[ "$(q "SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT idem_key) FROM outbox")" = "600	600	600" ] \
    || fail "outbox: $(q "SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT idem_key) FROM outbox")"
[ "$(gate_stat messages)" = 600 ] && [ "$(gate_stat duplicates)" = 0 ] \
    || fail "wagate: $(gate_stat messages) messages, $(gate_stat duplicates) duplicates"
# Each insert transaction has its batch number: many rows to one are many
# rows in multi-row statements.
widest=$(q "SELECT MAX(n) FROM (SELECT COUNT(*) n FROM outbox GROUP BY batch) b")
batches=$(q "SELECT COUNT(DISTINCT batch) FROM outbox")
[ "$widest" -ge 2 ] || fail "no insert wrote more than one row ($batches batches)"
note "600 rows in $batches inserts, up to $widest rows each"

note "one Idempotency-Key 20 times at once: one row, one id, sent once"
CURLS=()
for i in $(seq 20); do
    curl -s -o "$T/same-body.$i" -w '%{http_code}\n' -X POST "http://127.0.0.1:$WEB/v1/messages" \
        -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: same-20' \
        -d '{"to":"16315550123","type":"text","text":{"body":"once"}}' > "$T/same-status.$i" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
[ "$(cat "$T"/same-status.* | sort -u)" = 201 ] || fail "statuses: $(cat "$T"/same-status.* | sort | uniq -c)"
[ "$(jq -r '.messages[0].id' "$T"/same-body.* | sort -u | wc -l)" = 1 ] || fail "ids: $(jq -r '.messages[0].id' "$T"/same-body.* | sort | uniq -c)"
ONCE=$(jq -r '.messages[0].id' "$T/same-body.1")
[ "$(q "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%\"body\":\"once\"%'")" = 1 ] \
    || fail "rows of the key: $(q "SELECT id, idem_key FROM outbox WHERE payload LIKE '%once%'")"
wait_for 10 sent_rows_are 601 || fail "the keyed message is not sent"
[ "$(gate_stat messages)" = 601 ] && [ "$(gate_stat duplicates)" = 0 ] \
    || fail "wagate: $(gate_stat messages) messages, $(gate_stat duplicates) duplicates"
[ "$(grep -c "\"event\":\"message\".*\"id\":\"$ONCE\"" "$T/ledger.jsonl")" = 1 ] || fail "$ONCE is not at wagate once"

note "statuses and inbound messages at the webhook, through a failing spell: every row delivered"
hook_fail 1
for i in 1 2 3; do
    "$BIN/wagate" -c "$CONF" inject --from 16505550001 --text "inbound $i" > "$T/inject.$i" || fail "wagate inject"
done
# wagate reports sent, delivered and read, or only failed to a number
# ending in 0 (wagate_fail_digits).
events=$(( $(q "SELECT SUM(IF(recipient LIKE '%0', 1, 3)) FROM outbox") + 3 ))
wait_for 90 all_received "$events" || fail "not every event reached the receiver: $(missing_count) of $(emitted_keys | wc -l) missing"
[ "$(emitted_keys | wc -l)" = "$events" ] || fail "wagate emitted $(emitted_keys | wc -l) events, expected $events"
all_delivered() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE status <> 'delivered'")" = 0 ]; }
wait_for 30 all_delivered || fail "callbacks: $(q "SELECT status, COUNT(*) FROM callbacks GROUP BY status")"
[ "$(q "SELECT COUNT(*) FROM callbacks")" = "$(emitted_keys | wc -l)" ] \
    || fail "$(q "SELECT COUNT(*) FROM callbacks") callback rows for $(emitted_keys | wc -l) events"
[ "$(q "SELECT COUNT(*) FROM callbacks WHERE last_error <> '' AND attempts > 1")" -ge 1 ] \
    || fail "no failed attempt was recorded: $(q "SELECT attempts, COUNT(*) FROM callbacks GROUP BY attempts")"
[ -z "$(out_of_order)" ] || fail "out of order: $(out_of_order | head -n 5)"

note "db_bulk = array against MariaDB binds arrays"
WA_DB_BULK=array start c3 wacore
wait_for 10 grep -q "bulk writes bind arrays, one round trip a batch (db_bulk = array)" "$T/c3.log" \
    || fail "c3: $(grep 'db:' "$T/c3.log" | head -n 3)"

if ! command -v python3 >/dev/null; then
    note "SKIP the MySQL handshake: python3 (the stand-in server) is not installed"
else
    note "a server that greets as MySQL 8: multi-row statements, wait_timeout, no array binding"
    FAKE=$(free_port)
    python3 "$(dirname "$0")/fake_mysql.py" "$FAKE" "$T/fake.txt" 2>>"$T/fake.log" &
    PIDS+=($!)
    wait_for 10 grep -q LISTENING "$T/fake.txt" || fail "the stand-in server did not start: $(cat "$T/fake.log")"
    WA_DB_PORT=$FAKE WA_DB_BULK=auto start fm1 wamaster
    wait_for 10 grep -q "db: the server is MySQL 8.0.36: bulk writes as multi-row statements (the server has no array binding; db_bulk = auto)" "$T/fm1.log" \
        || fail "fm1: $(grep 'db:' "$T/fm1.log" | head -n 3)"
    grep -qx "QUERY SET SESSION wait_timeout = 1, innodb_lock_wait_timeout = 1" "$T/fake.txt" \
        || fail "the session's bounds: $(grep SESSION "$T/fake.txt")"
    # An idle connection is pinged, or MySQL would end it after wait_timeout.
    wait_for 10 grep -q PING "$T/fake.txt" || fail "no keepalive ping: $(sort "$T/fake.txt" | uniq -c)"
    kill -TERM "$PID_fm1"
    wait_for 15 bash -c "! kill -0 $PID_fm1" || fail "fm1 did not stop"
    : > "$T/fake.txt"
    WA_DB_PORT=$FAKE WA_DB_BULK=array start fm2 wamaster
    wait_for 10 grep -q "ERROR.*db: db_bulk = array, but the server (MySQL 8.0.36) has no array binding (MariaDB's bulk operations): set db_bulk = auto or rows" "$T/fm2.log" \
        || fail "fm2: $(grep 'db:' "$T/fm2.log" | head -n 3)"
    ! grep -q "bulk writes" "$T/fm2.log" || fail "fm2 wrote batches anyway: $(grep 'bulk writes' "$T/fm2.log")"
    ! grep -q "SESSION\|INIT_DB" "$T/fake.txt" || fail "fm2 went on with the connection: $(cat "$T/fake.txt")"
    kill -TERM "$PID_fm2"
fi
overlaps_zero || fail "overlaps: $(gate_stat overlaps)"
note "multi-row batches: each message once, every callback delivered; the path logged, array refused where it cannot be"
