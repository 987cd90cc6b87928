#!/usr/bin/env bash
# lane: alone
# waweb's edge against a client on the LAN with no token: connections past
# webapp_max_connections_per_address are closed while another address is
# served; 30 slow-loris header senders and a trickling body (an upload) are
# cut at webapp_header_timeout / webapp_body_timeout while a valid client is
# served; a 90 MiB upload without a token gets its 401 at once and nothing
# reaches media_dir; a flood of 1 MiB bodies without a token does not hold a
# valid request up; half-open connections from 30 addresses are cut at the
# header deadline, a valid client is served again, and libmicrohttpd's
# warnings are rate-limited in the log (10 per 10 s, then a count); the body
# total (webapp_max_body_total) answers 503 1016; HTTPS refuses TLS 1.0 and
# 1.1 and speaks TLS 1.2.
. "$(dirname "$0")/lib.sh"

W1=$(free_port); W2=$(free_port)
MEDIA=$T/media
cluster_init webapp_bind=127.0.0.1 webapp_header_timeout=1.5 webapp_body_timeout=2 webapp_max_connections_per_address=1000
start gate wagate
start m1 wamaster
web_start w1 "$W1"
TOKEN=$(admin_token "$W1")
AUTH=(-H "Authorization: Bearer $TOKEN")
uploads() { find "$MEDIA" -type f | wc -l; }
no_uploads() { [ "$(uploads)" = 0 ]; }
# elapsed_ms CMD...: run it, print the milliseconds it took.
elapsed_ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1 || true; echo $(( $(now_ms) - t0 )); }

note "a slow-loris header sender is cut at webapp_header_timeout"
# One header line every 0.2 s, until a write fails (the server closed); 40 s at most.
loris() {
    trap '' PIPE
    exec 3<>"/dev/tcp/127.0.0.1/$W1"
    printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\n' >&3
    local i
    for i in $(seq 1 200); do
        printf 'X-Slow-%d: 1\r\n' "$i" >&3 2>/dev/null || return 0
        sleep 0.2       # the trickle's pace
    done
    return 1
}
# worst_ms N: the longest of N valid requests (a token, one after another).
worst_ms() {
    local i ms worst=0
    for i in $(seq 1 "$1"); do
        ms=$(elapsed_ms curl -sf -m 10 "${AUTH[@]}" "http://127.0.0.1:$W1/v1/users/admin")
        [ "$ms" -le "$worst" ] || worst=$ms
    done
    echo "$worst"
}
# 30 of them at once; a valid client is served meanwhile.
LORIS=()
for i in $(seq 1 30); do { elapsed_ms loris > "$T/loris.$i"; } & LORIS+=($!); done
lorising() { [ "$(ss -Htn state established "( sport = :$W1 )" | wc -l)" -ge 30 ]; }
wait_for 5 lorising || fail "the slow-loris senders did not connect"
worst=$(worst_ms 5)
for pid in "${LORIS[@]}"; do wait "$pid" || true; done
[ "$worst" -lt 1000 ] || fail "a valid request took $worst ms among 30 slow-loris senders"
for i in $(seq 1 30); do
    ms=$(cat "$T/loris.$i")
    [ "$ms" -ge 1300 ] && [ "$ms" -lt 4500 ] || fail "a slow-loris connection lasted $ms ms (webapp_header_timeout 1.5 s)"
done
note "30 slow-loris senders cut in $(sort -n "$T"/loris.* | head -1)-$(sort -n "$T"/loris.* | tail -1) ms; a valid request took at most $worst ms"

note "a trickling body (an upload, with a valid token) is cut at webapp_body_timeout; its file goes"
trickle() {
    trap '' PIPE
    exec 3<>"/dev/tcp/127.0.0.1/$W1"
    printf 'POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n' "$TOKEN" >&3
    local i
    for i in $(seq 1 200); do
        printf 'xxxxxxxxxx' >&3 2>/dev/null || return 0
        sleep 0.2       # the trickle's pace
    done
    return 1
}
{ elapsed_ms trickle > "$T/trickle.ms"; } & TRICKLE=$!
trickling() { [ -n "$(find "$MEDIA" -type f)" ]; }
wait_for 5 trickling || fail "the trickling upload did not reach media_dir"
worst=$(worst_ms 5)
wait "$TRICKLE" || true
ms=$(cat "$T/trickle.ms")
[ "$worst" -lt 1000 ] || fail "a valid request took $worst ms beside a trickling upload"
[ "$ms" -ge 1800 ] && [ "$ms" -lt 5500 ] || fail "the trickling upload lasted $ms ms (webapp_body_timeout 2 s)"
note "the trickling upload cut after $ms ms; a valid request took at most $worst ms"
wait_for 5 no_uploads || fail "the cut upload left files: $(find "$MEDIA" -type f)"

note "256 keep-alive clients sending messages for 4 header deadlines: none cut, every one answered 201"
# Each request is handed to the reactor (its connection suspended) and
# resumed when the Coreapp has answered: with libmicrohttpd's epoll mode a
# resume could go unnoticed while every connection was suspended, and the
# server stalled until the header deadline cut every connection (bench-api
# at 256 connections: 3 runs in 3).
start c1 wacore
wait_healthy 30
cuts() { grep -c 'connections past webapp_header_timeout' "$T/w1.log" || true; }
cuts0=$(cuts)
WA_BENCH_TOKEN=$TOKEN wrk -t2 -c256 -d6s --timeout 5s -s "$ROOT/bench/messages.lua" "http://127.0.0.1:$W1" > "$T/wrk.out" 2>&1 \
    || fail "wrk failed: $(cat "$T/wrk.out")"
line=$(grep '^WA_BENCH ' "$T/wrk.out") || fail "wrk printed no WA_BENCH line: $(cat "$T/wrk.out")"
field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
[ "$(cuts)" = "$cuts0" ] || fail "busy connections were cut at the header deadline: $(grep 'connections past' "$T/w1.log" | tail -1); $line"
[ "$(field socket_errors)" = 0 ] && [ "$(field non2xx)" = 0 ] || fail "not every request answered 201: $line"
[ "$(field ok)" -ge 1000 ] || fail "only $(field ok) messages in 6 s: $line"
note "$(field ok) messages in 6 s on 256 connections, every one 201, none cut"

note "a 90 MiB upload without a token: 401 at once, nothing under media_dir"
head -c $((90 * 1024 * 1024)) /dev/zero > "$T/big"
t0=$(now_ms)
status=$(curl -s -o "$T/body" -w '%{http_code}' -m 20 -X POST -H 'Content-Type: image/png' -H 'Expect:' \
         --data-binary @"$T/big" "http://127.0.0.1:$W1/v1/media" || true)
ms=$(( $(now_ms) - t0 ))
[ "$status" = 401 ] && grep -q '"code":1005' "$T/body" || fail "90 MiB without a token: HTTP $status: $(body)"
[ "$ms" -lt 3000 ] || fail "the 401 took $ms ms"
[ "$(uploads)" = 0 ] || fail "bytes of an upload without a token reached media_dir: $(find "$MEDIA" -type f)"
# A client that waits for "100 Continue" gets the 401 instead and never sends the body.
t0=$(now_ms)
status=$(curl -s -o "$T/body" -w '%{http_code}' -m 20 -X POST -H 'Content-Type: image/png' \
         -H 'Expect: 100-continue' --expect100-timeout 10 --data-binary @"$T/big" "http://127.0.0.1:$W1/v1/media" || true)
ms=$(( $(now_ms) - t0 ))
[ "$status" = 401 ] && [ "$ms" -lt 3000 ] || fail "90 MiB without a token, Expect: 100-continue: HTTP $status in $ms ms"
[ "$(uploads)" = 0 ] || fail "bytes of an upload without a token reached media_dir: $(find "$MEDIA" -type f)"
rm -f "$T/big"

note "a flood of 1 MiB bodies without a token does not hold a valid request up"
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' > "$T/mib"
flood() {
    local i
    for i in $(seq 1 15); do
        curl -s -o /dev/null -w '%{http_code}\n' -m 20 -X POST -H 'Content-Type: application/json' -H 'Expect:' \
             --data-binary @"$T/mib" "http://127.0.0.1:$W1/v1/users" || true
    done
}
FLOOD=()
for i in $(seq 1 12); do flood > "$T/flood.$i" & FLOOD+=($!); done
flooded() { [ "$(cat "$T"/flood.* | wc -l)" -ge 24 ]; }
wait_for 20 flooded || fail "the flood did not get going"
worst=$(worst_ms 5)
for pid in "${FLOOD[@]}"; do wait "$pid" || true; done
[ "$worst" -lt 2000 ] || fail "a valid request took $worst ms during the flood"
api "$W1" GET /v1/users/admin "${AUTH[@]}" >/dev/null
bad=$(cat "$T"/flood.* | grep -cv '^401$\|^000$' || true)
[ "$bad" = 0 ] || fail "the flood got answers other than 401: $(sort "$T"/flood.* | uniq -c)"
grep -q '^401$' "$T"/flood.* || fail "the flood got no 401 at all"

note "connections past webapp_max_connections_per_address are closed; another address is served"
{ cat "$CONF"; echo "webapp_max_connections = 50"; echo "webapp_max_connections_per_address = 20"
  echo "webapp_header_timeout = 60"; echo "webapp_max_body = 8192"; echo "webapp_max_body_total = 4096"; } > "$T/w2.conf"
WEBAPP_EXTERNAL_PORTS=$W2 WA_BUS_CERT=$(cert w2 waweb) "$BIN/waweb" -c "$T/w2.conf" >>"$T/w2.log" 2>&1 & PIDS+=($!)
wait_for 30 grep -q "ready: serving" "$T/w2.log" || fail "waweb w2 not ready"
HALF=()
for i in $(seq 1 80); do exec {fd}<>"/dev/tcp/127.0.0.1/$W2"; HALF+=("$fd"); done
held() { [ "$(ss -Htn state established "( sport = :$W2 )" | wc -l)" = 20 ]; }
wait_for 10 held || fail "the server holds $(ss -Htn state established "( sport = :$W2 )" | wc -l) connections of one address, not 20"
t0=$(now_ms)
status=$(curl -s -o "$T/body" -w '%{http_code}' -m 10 --interface 127.0.0.2 "${AUTH[@]}" \
         "http://127.0.0.1:$W2/v1/users/admin" || true)
ms=$(( $(now_ms) - t0 ))
[ "$status" = 200 ] || fail "another address with 80 half-open connections around: HTTP $status: $(body)"
[ "$ms" -lt 2000 ] || fail "another address was served in $ms ms"
held || fail "the half-open connections did not stay until the valid request was served"
for fd in "${HALF[@]}"; do exec {fd}>&-; done

note "many addresses: half-open connections fill webapp_max_connections, are cut at webapp_header_timeout, and the log stays short"
# 30 addresses x 4 connections against 60 slots: 60 held, the other 60 wait
# in the listen queue and are held in their turn. Each is cut at the header
# deadline (libmicrohttpd logs every cut: the Webapp at most 10 lines per
# 10 s, then a count). A valid client from another address, queued behind
# them, is served after about two deadlines.
W4=$(free_port)
{ cat "$CONF"; echo "webapp_max_connections = 60"; echo "webapp_max_connections_per_address = 4"
  echo "webapp_header_timeout = 1.5"; } > "$T/w4.conf"
WEBAPP_EXTERNAL_PORTS=$W4 WA_BUS_CERT=$(cert w4 waweb) "$BIN/waweb" -c "$T/w4.conf" >>"$T/w4.log" 2>&1 & PIDS+=($!)
wait_for 30 grep -q "ready: serving" "$T/w4.log" || fail "waweb w4 not ready"
http_lines() { grep -c ' http: ' "$T/w4.log" || true; }
before=$(http_lines)
# Each socket from its own source address; each reports when the server closed it.
python3 - "$W4" > "$T/many.out" 2>&1 <<'PY' &
import socket, sys, time, select
port = int(sys.argv[1]); socks = []
t0 = time.monotonic()
for a in range(10, 40):
    for _ in range(4):
        s = socket.socket(); s.bind(("127.0.0.%d" % a, 0)); s.connect(("127.0.0.1", port))
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
print("open", len(socks), flush=True)
left = set(socks)
while left and time.monotonic() - t0 < 20:
    r, _, _ = select.select(list(left), [], [], 0.5)
    for s in r:
        if not s.recv(4096):
            left.discard(s); print("closed %.2f" % (time.monotonic() - t0), flush=True)
print("left", len(left), flush=True)
PY
MANY=$!
wait_for 10 grep -q '^open' "$T/many.out" || fail "the half-open connections did not open: $(cat "$T/many.out")"
t0=$(now_ms)
# One request, waiting (its connection queued while every slot is held).
status=$(curl -s -o "$T/body" -w '%{http_code}' -m 15 --interface 127.0.0.2 "${AUTH[@]}" "http://127.0.0.1:$W4/v1/users/admin" || true)
ms=$(( $(now_ms) - t0 ))
[ "$status" = 200 ] || fail "a valid client beside 120 half-open connections from 30 addresses: HTTP $status: $(body)"
wait "$MANY" || true
[ "$ms" -lt 8000 ] || fail "a valid client waited $ms ms for a slot (webapp_header_timeout 1.5 s)"
grep -q '^left 0$' "$T/many.out" || fail "half-open connections outlived the header deadline: $(tail -1 "$T/many.out")"
late=$(awk '/^closed/ && $2 > 6 {n++} END {print n+0}' "$T/many.out")
[ "$late" = 0 ] || fail "$late half-open connections were closed more than 6 s in (webapp_header_timeout 1.5 s)"
logged=$(( $(http_lines) - before ))
[ "$logged" -le 12 ] || fail "120 refusals and cuts logged $logged lines (at most 10 per 10 s and a count)"
wait_for 15 grep -q 'more messages were not logged' "$T/w4.log" || fail "the refusals past the log's burst were not counted"
note "a valid client served after $ms ms; $logged log lines for 120 half-open connections, then: $(grep -o 'http: [0-9]* more messages were not logged' "$T/w4.log" | head -1)"

note "bodies in memory past webapp_max_body_total: 503 1016, before the body is read"
head -c 6000 /dev/zero | tr '\0' ' ' > "$T/six"
expect "a body over the total" 503 1016 "$W2" POST /v1/users "${AUTH[@]}" -H 'Content-Type: application/json' \
       --data-binary @"$T/six"
expect "a body within it" 400 1008 "$W2" POST /v1/users "${AUTH[@]}" -H 'Content-Type: application/json' -d '{}'

note "HTTPS: TLS 1.0 and 1.1 refused, TLS 1.2 spoken"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 >/dev/null 2>&1 || fail "openssl could not make a certificate"
W3=$(free_port)
{ cat "$CONF"; echo "webapp_tls_cert = $T/cert.pem"; echo "webapp_tls_key = $T/key.pem"; } > "$T/tls.conf"
WEBAPP_EXTERNAL_PORTS=$W3 WA_BUS_CERT=$(cert w3 waweb) "$BIN/waweb" -c "$T/tls.conf" >>"$T/w3.log" 2>&1 & PIDS+=($!)
wait_for 30 grep -q "ready: serving the API on https" "$T/w3.log" || fail "waweb over TLS not ready"
# SECLEVEL=0: this client would offer TLS 1.0 and 1.1; the server must refuse them.
tls() { openssl s_client -connect "127.0.0.1:$W3" -cipher 'DEFAULT:@SECLEVEL=0' "$@" </dev/null >"$T/tls.out" 2>&1; }
! tls -tls1 || fail "TLS 1.0 accepted: $(grep -i protocol "$T/tls.out")"
! tls -tls1_1 || fail "TLS 1.1 accepted: $(grep -i protocol "$T/tls.out")"
tls -tls1_2 && grep -q 'TLSv1.2' "$T/tls.out" || fail "TLS 1.2 refused: $(tail -5 "$T/tls.out")"
status=$(curl -sk -o "$T/body" -w '%{http_code}' --tlsv1.2 --tls-max 1.2 "https://127.0.0.1:$W3/v1/health")
[ "$status" = 401 ] || fail "HTTPS over TLS 1.2: HTTP $status: $(body)"
note "per-address limit, header and body deadlines (a valid client served beside them), many addresses, the log's rate limit, 401 before the body, the flood, the body total, TLS 1.2+: as expected"
