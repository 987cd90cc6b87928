#!/usr/bin/env bash
# The load balancers' probes (issue 13, item 6): GET /v1/health/live and
# /v1/health/ready, without a token, on every address even before the first
# ADMIN password (this host's non-loopback address stands for the network):
# - live is 200 whenever the Webapp serves, also before it reached its
#   database (a Webapp pointed at a closed port);
# - ready is 503 while no primary Coreapp holds the shard, 200 once one
#   does, 503 again within a bounded wait once the Coreapps stop (and 200
#   when one is back), 503 while the Webapp's own database user is locked
#   out (its connections killed; the shared MariaDB keeps running for the
#   other nodes), 200 once it is let in again;
# - HEAD is served, POST is 405 with Allow and the error envelope, the
#   authenticated GET /v1/health is unchanged (401 without a token, 403
#   from the network before the first password);
# - a burst of 2000 probes is answered quickly and costs the Webapp no
#   database statement (its own counter in /v1/stats/db, against an idle
#   period as long), and /metrics counts them as health_ready / health_live.
. "$(dirname "$0")/lib.sh"

LAN=$(ip -4 -o addr show scope global 2>/dev/null | awk '!seen++ { split($4, a, "/"); print a[1] }')  # every line read: no SIGPIPE for ip
WEB=$(free_port); DEAD=$(free_port); DEAD_DB=$(free_port)
PROBES=2000
cluster_init webapp_bind=0.0.0.0
# The Webapp's own database user, to cut it alone off the database.
DBUSER=lbweb_$$
db_sql -e "CREATE USER '$DBUSER'@'127.0.0.1' IDENTIFIED BY 'wacluster';
           GRANT ALL PRIVILEGES ON \`$DB\`.* TO '$DBUSER'@'127.0.0.1'" || fail "cannot create $DBUSER"
drop_user() { db_sql -e "DROP USER IF EXISTS '$DBUSER'@'127.0.0.1'" 2>/dev/null || true; }
trap 'WA_EXIT_STATUS=$?; cleanup; drop_user' EXIT
sed "s/^db_username = .*/db_username = $DBUSER/" "$CONF" > "$T/web.conf"
# A Webapp whose database is a closed port: it never gets past its start.
{ sed "s/^db_port = .*/db_port = $DEAD_DB/" "$CONF"; echo "webapp_port = $DEAD"; } > "$T/dead.conf"

# probe PORT live|ready [curl args]: the HTTP status, the body in $T/body;
# from the network (LAN) with PROBE_HOST.
probe() {
    local port=$1 which=$2; shift 2
    curl -s -o "$T/body" -w '%{http_code}' "http://${PROBE_HOST:-127.0.0.1}:$port/v1/health/$which" "$@"
}
is() { [ "$(probe "$1" "$2")" = "$3" ]; }
# expect_probe WHAT STATUS PORT live|ready: the status and the minimal body.
expect_probe() {
    local what=$1 status=$2 got; shift 2
    got=$(probe "$@")
    [ "$got" = "$status" ] || fail "$what: HTTP $got, expected $status: $(body)"
    if [ "$status" = 200 ]; then
        grep -qx '{"meta":{"version":"[^"]*","api_status":"stable"},"status":"ok"}' "$T/body" \
            || fail "$what: body $(body)"
    else
        grep -qx '{"meta":{"version":"[^"]*","api_status":"stable"},"errors":\[{"code":1011,"title":"Service not ready","details":"not ready to serve requests"}\],"status":"unavailable"}' \
            "$T/body" || fail "$what: body $(body)"
    fi
}

start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster
master_up() { [ -n "$(primary_master 2>/dev/null)" ]; }
wait_for 30 master_up || fail "no primary Master"
WA_BUS_CERT=$(cert w1 waweb) WEBAPP_EXTERNAL_PORTS=$WEB "$BIN/waweb" -c "$T/web.conf" >>"$T/w1.log" 2>&1 &
PIDS+=($!); PID_w1=$!
WA_BUS_CERT=$(cert w2 waweb) "$BIN/waweb" -c "$T/dead.conf" >>"$T/w2.log" 2>&1 &
PIDS+=($!)
wait_for 30 grep -q "ready: serving" "$T/w1.log" || fail "waweb not ready"

note "a Webapp without its database: live, not ready"
wait_for 10 is "$DEAD" live 200 || fail "live on the Webapp without a database: HTTP $(probe "$DEAD" live): $(body)"
expect_probe "ready without a database" 503 "$DEAD" ready
expect "its other routes say it is starting" 503 1011 "$DEAD" GET /v1/health

note "no Coreapp yet, no ADMIN password yet: live, not ready, from anywhere"
check "the Webapp serves loopback only" grep -q "serving only clients on this host" "$T/w1.log"
expect_probe "live" 200 "$WEB" live
expect_probe "ready without a primary Coreapp" 503 "$WEB" ready
if [ -n "$LAN" ]; then
    PROBE_HOST=$LAN expect_probe "live from $LAN" 200 "$WEB" live
    PROBE_HOST=$LAN expect_probe "ready from $LAN" 503 "$WEB" ready
    got=$(curl -s -o "$T/body" -w '%{http_code}' "http://$LAN:$WEB/v1/health")
    [ "$got" = 403 ] || fail "GET /v1/health from $LAN before the first password: HTTP $got: $(body)"
else
    note "skip the network part: this host has no non-loopback IPv4 address"
fi
# The reason is logged at a probe that finds it changed (the first map read
# may still have found no shard count).
logged_no_primary() {
    probe "$WEB" ready
    grep -q "not ready for load balancers (GET /v1/health/ready answers 503): shard 0 has no primary coreapp" "$T/w1.log"
}
wait_for 10 logged_no_primary || fail "the log does not say why: $(grep 'load balancers' "$T/w1.log")"

note "a primary Coreapp: ready"
start c1 wacore; start c2 wacore
wait_healthy 30
wait_for 10 is "$WEB" ready 200 || fail "ready with a primary Coreapp: HTTP $(probe "$WEB" ready): $(body)"
expect_probe "ready" 200 "$WEB" ready
[ -z "$LAN" ] || PROBE_HOST=$LAN expect_probe "ready from $LAN" 200 "$WEB" ready
check "the log says it is back" grep -q "ready for load balancers again" "$T/w1.log"

note "methods: HEAD served, others 405; GET /v1/health unchanged"
for which in live ready; do
    got=$(curl -s -I -o "$T/head" -w '%{http_code} %{size_download}' "http://127.0.0.1:$WEB/v1/health/$which")
    [ "$got" = "200 0" ] || fail "HEAD $which: $got"
    grep -qi '^content-type: application/json' "$T/head" || fail "HEAD $which: $(cat "$T/head")"
    for method in POST PUT DELETE; do
        expect "$method $which" 405 1006 "$WEB" "$method" "/v1/health/$which" -d '{}' -D "$T/headers"
        grep -qi '^allow: GET, HEAD' "$T/headers" || fail "$method $which: no Allow: $(cat "$T/headers")"
    done
done
[ -z "$LAN" ] || { got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://$LAN:$WEB/v1/health/ready");
                   [ "$got" = 405 ] || fail "POST from $LAN: HTTP $got"; }
expect "GET /v1/health still needs a token" 401 1005 "$WEB" GET /v1/health
expect "a probe's path with a slash (as every path)" 200 - "$WEB" GET /v1/health/ready/
expect "a probe's path, longer" 404 1006 "$WEB" GET /v1/health/ready/x
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
expect "GET /v1/health with a token" 200 - "$WEB" GET /v1/health "${AUTH[@]}"
grep -q '"role":"coreapp","primary":true,"shard":0' "$T/body" || fail "GET /v1/health: $(body)"

note "a burst of $PROBES probes: quick, no database statement"
W1=$(q "SELECT id FROM nodes WHERE pid = $PID_w1 AND stopped_at IS NULL")
statements() {
    api "$WEB" GET /v1/stats/db "${AUTH[@]}" >/dev/null
    grep -o "\"[^\"]*:$W1\":{\"statements\":[0-9]*" "$T/body" | sed 's/.*://'
}
for i in $(seq "$PROBES"); do
    printf 'url = "http://127.0.0.1:%s/v1/health/ready"\noutput = "/dev/null"\n' "$WEB"
done > "$T/burst.curl"
before=$(statements); [ -n "$before" ] || fail "no statement counter for node $W1: $(body)"
start_ms=$(now_ms)
curl -s --no-progress-meter -K "$T/burst.curl" -w '%{http_code}\n' --parallel --parallel-max 8 \
    > "$T/burst.out" 2> "$T/burst.err"
took=$(( $(now_ms) - start_ms ))
after=$(statements)
ok=$(grep -c '^200$' "$T/burst.out" || true)
[ "$ok" = "$PROBES" ] || fail "the burst: $ok of $PROBES answered 200: $(sort "$T/burst.out" | uniq -c) $(head -3 "$T/burst.err")"
[ "$took" -lt 10000 ] || fail "the burst took $took ms"
# The same time idle: what the Webapp's own work (map reads, liveness,
# settings) costs without probes.
idle_ms=$(( took > 1000 ? took : 1000 ))
sleep "$(( idle_ms / 1000 )).$(printf '%03d' $(( idle_ms % 1000 )))"
idle=$(statements)
burst_statements=$(( after - before )); idle_statements=$(( idle - after ))
note "$PROBES probes in $took ms; statements: $burst_statements during the burst, $idle_statements idle as long"
[ "$burst_statements" -lt $(( PROBES / 4 )) ] || fail "the burst ran $burst_statements statements"
[ "$burst_statements" -le $(( idle_statements * 2 + 100 )) ] \
    || fail "the burst ran $burst_statements statements, $idle_statements idle as long"

note "metrics: the probes under their own route names"
got=$(curl -s -o "$T/metrics" -w '%{http_code}' "http://127.0.0.1:$WEB/metrics" "${AUTH[@]}")
[ "$got" = 200 ] || fail "metrics: HTTP $got"
metric() { grep "^$1 " "$T/metrics" | awk '{print $2}'; }
ready_ok=$(metric 'wacluster_http_requests_total{route="health_ready",status="200"}')
[ "${ready_ok:-0}" -ge "$PROBES" ] || fail "health_ready 200s: ${ready_ok:-none}"
[ "$(metric 'wacluster_http_requests_total{route="health_ready",status="503"}')" -ge 1 ] || fail "health_ready 503s"
[ "$(metric 'wacluster_http_requests_total{route="health_live",status="200"}')" -ge 2 ] || fail "health_live 200s"
[ "$(metric 'wacluster_http_request_duration_seconds_count{route="health_ready"}')" -ge "$PROBES" ] \
    || fail "health_ready histogram"

note "the Coreapps stop: not ready within a bounded wait, live still; one back: ready"
kill -TERM "$PID_c1" "$PID_c2"
wait_for 15 bash -c "! kill -0 $PID_c1 && ! kill -0 $PID_c2" || fail "the Coreapps did not stop"
start_ms=$(now_ms)
wait_for 10 is "$WEB" ready 503 || fail "still ready without Coreapps: $(body)"
note "ready answered 503 $(( $(now_ms) - start_ms )) ms after the Coreapps exited"
expect_probe "ready without Coreapps" 503 "$WEB" ready
expect_probe "live without Coreapps" 200 "$WEB" live
start c1 wacore
wait_for 30 is "$WEB" ready 200 || fail "not ready again with a new Coreapp: $(body)"

note "the Webapp's database user locked out: not ready, live still; let in: ready"
db_sql -e "ALTER USER '$DBUSER'@'127.0.0.1' ACCOUNT LOCK" || fail "cannot lock $DBUSER"
db_sql -e "SELECT CONCAT('KILL ', id, ';') FROM information_schema.processlist WHERE user = '$DBUSER'" \
    | db_sql 2>/dev/null || true
start_ms=$(now_ms)
wait_for 10 is "$WEB" ready 503 || fail "still ready without the database: $(body)"
note "ready answered 503 $(( $(now_ms) - start_ms )) ms after the database was cut"
expect_probe "ready without the database" 503 "$WEB" ready
expect_probe "live without the database" 200 "$WEB" live
check "the log says why" grep -q "not ready for load balancers.*the database does not answer" "$T/w1.log"
db_sql -e "ALTER USER '$DBUSER'@'127.0.0.1' ACCOUNT UNLOCK" || fail "cannot unlock $DBUSER"
wait_for 15 is "$WEB" ready 200 || fail "not ready again with the database back: $(body)"
expect_probe "ready again" 200 "$WEB" ready

note "live and ready: public, cheap, 503 without a primary or the database, as expected"
