#!/usr/bin/env bash
# lane: alone
# waweb's HTTP side: it listens before the schema is there and answers 1011
# until it is; port 0 picks a free port and logs it; HTTPS with a certificate
# and key, and a clear startup error for a bad one; a self-signed pair made
# at the first start and kept (webapp_tls_self_signed); SIGTERM with requests in
# flight ends it cleanly.
. "$(dirname "$0")/lib.sh"

cluster_init webapp_bind=127.0.0.1 webapp_port=0
web_port() { grep -o 'listening on https\?://127.0.0.1:[0-9]*' "$T/$1.log" | head -1 | grep -o '[0-9]*$'; }

note "no schema yet: it listens and answers 1011"
start w1 waweb
wait_for 10 web_port w1 || fail "waweb did not log its port"
P1=$(web_port w1)
status=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -u admin:secret "http://127.0.0.1:$P1/v1/users/login")
[ "$status" = 503 ] && grep -q '"code":1011' "$T/body" || fail "before the schema: $status $(cat "$T/body")"
wait_for 10 grep -q "waiting for schema version" "$T/w1.log" || fail "waweb did not say what it waits for"

note "the Master brings the schema; waweb serves"
start gate wagate
start m1 wamaster
wait_for 30 grep -q "ready: serving" "$T/w1.log" || fail "waweb not ready after the schema came"
status=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -u admin:secret "http://127.0.0.1:$P1/v1/users/login")
[ "$status" = 401 ] && grep -q '"code":1024' "$T/body" || fail "after the schema: $status $(cat "$T/body")"
[ "$(q "SELECT COUNT(*) FROM users WHERE username = 'admin' AND must_change = 1")" = 1 ] || fail "no default admin"

note "HTTPS"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=127.0.0.1 >/dev/null 2>&1 || fail "openssl could not make a certificate"
{ cat "$CONF"; echo "webapp_tls_cert = $T/cert.pem"; echo "webapp_tls_key = $T/key.pem"; } > "$T/tls.conf"
WA_BUS_CERT=$(cert w2 waweb) "$BIN/waweb" -c "$T/tls.conf" >>"$T/w2.log" 2>&1 & PIDS+=($!)
wait_for 20 grep -q "ready: serving the API on https" "$T/w2.log" || fail "waweb over TLS not ready"
P2=$(web_port w2)
status=$(curl -sk -o "$T/body" -w '%{http_code}' "https://127.0.0.1:$P2/v1/health")
[ "$status" = 401 ] && grep -q '"code":1005' "$T/body" || fail "over TLS: $status $(cat "$T/body")"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/v1/health" || true)
[ "$status" != 401 ] || fail "plain HTTP answered on the TLS port"

note "bad TLS configuration: a clear error at start"
{ cat "$CONF"; echo "webapp_tls_cert = $T/missing.pem"; echo "webapp_tls_key = $T/key.pem"; } > "$T/bad.conf"
rc=0; WA_BUS_CERT=$(cert w2 waweb) timeout 10 "$BIN/waweb" -c "$T/bad.conf" >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "webapp_tls_cert: cannot read '$T/missing.pem'" "$T/bad.log" || fail "missing cert: rc $rc: $(cat "$T/bad.log")"
{ cat "$CONF"; echo "webapp_tls_cert = $T/cert.pem"; } > "$T/half.conf"
rc=0; WA_BUS_CERT=$(cert w2 waweb) timeout 10 "$BIN/waweb" -c "$T/half.conf" >"$T/half.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "go together" "$T/half.log" || fail "cert without key: rc $rc: $(cat "$T/half.log")"
{ cat "$CONF"; echo "webapp_tls_cert = $T/key.pem"; echo "webapp_tls_key = $T/cert.pem"; } > "$T/swap.conf"
rc=0; WA_BUS_CERT=$(cert w2 waweb) timeout 10 "$BIN/waweb" -c "$T/swap.conf" >"$T/swap.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cannot serve HTTPS" "$T/swap.log" || fail "swapped cert and key: rc $rc: $(cat "$T/swap.log")"

note "a self-signed certificate made at the first start, kept afterwards"
SS=$T/ss
mkdir -p "$SS"
{ cat "$CONF"; echo "webapp_tls_cert = $SS/cert.pem"; echo "webapp_tls_key = $SS/key.pem"; } > "$T/ss.conf"
ss_start() {    # ss_start NAME: waweb with the self-signed config, until it serves or exits
    WA_WEBAPP_TLS_SELF_SIGNED=1 WA_BUS_CERT=$(cert "$1" waweb) "$BIN/waweb" -c "$T/ss.conf" >>"$T/$1.log" 2>&1 &
    PIDS+=($!); eval "PID_$1=$!"
    wait_for 20 grep -q "ready: serving the API on https" "$T/$1.log" || fail "waweb $1 (self-signed) not ready: $(cat "$T/$1.log")"
}
ss_start w3
[ "$(stat -c %a "$SS/key.pem")" = 600 ] && [ "$(stat -c %a "$SS/cert.pem")" = 644 ] \
    || fail "modes: key $(stat -c %a "$SS/key.pem"), cert $(stat -c %a "$SS/cert.pem")"
fp=$(openssl x509 -in "$SS/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "self-signed certificate .*SHA-256 fingerprint $fp" "$T/w3.log" || fail "the fingerprint $fp is not logged: $(grep HTTPS "$T/w3.log")"
openssl x509 -in "$SS/cert.pem" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1" || fail "no SAN 127.0.0.1"
P3=$(web_port w3)
# Verified against the certificate itself, as a client that pins it would.
status=$(curl -s --cacert "$SS/cert.pem" -o "$T/body" -w '%{http_code}' "https://127.0.0.1:$P3/v1/health")
[ "$status" = 401 ] || fail "self-signed, verified by its own certificate: $status $(cat "$T/body")"
for old in --tlsv1.0 --tlsv1.1; do
    ! curl -s -k "$old" --tls-max "${old#--tlsv}" -o /dev/null "https://127.0.0.1:$P3/v1/health" 2>/dev/null \
        || fail "TLS ${old#--tlsv} was accepted"
done
kill -TERM "$PID_w3"; wait_for 15 bash -c "! kill -0 $PID_w3" || fail "w3 did not stop"
ss_start w4
[ "$(openssl x509 -in "$SS/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)" = "$fp" ] || fail "a second start made another certificate"
! grep -q "made a self-signed" "$T/w4.log" || fail "the second start made a certificate"
kill -TERM "$PID_w4"; wait_for 15 bash -c "! kill -0 $PID_w4" || fail "w4 did not stop"
# A lone key is never overwritten: refused, naming both files.
rm "$SS/cert.pem"
rc=0; WA_WEBAPP_TLS_SELF_SIGNED=1 WA_BUS_CERT=$(cert w5 waweb) timeout 10 "$BIN/waweb" -c "$T/ss.conf" >"$T/w5.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "'$SS/key.pem' exists but '$SS/cert.pem' does not" "$T/w5.log" || fail "lone key: rc $rc: $(cat "$T/w5.log")"
[ ! -e "$SS/cert.pem" ] || fail "a certificate was made beside a lone key"
rc=0; WA_WEBAPP_TLS_SELF_SIGNED=1 WA_BUS_CERT=$(cert w5 waweb) timeout 10 "$BIN/waweb" -c "$CONF" >"$T/w6.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "webapp_tls_self_signed needs webapp_tls_cert and webapp_tls_key" "$T/w6.log" || fail "no paths: rc $rc: $(cat "$T/w6.log")"

note "SIGTERM with requests in flight"
CURLS=()
for i in $(seq 1 60); do
    curl -s -o /dev/null -m 20 -X POST -u "admin:wrong$i" "http://127.0.0.1:$P1/v1/users/login" &
    CURLS+=($!)
done
# Wait until requests are connected and in flight, not for a fixed time.
in_flight() { [ "$(ss -Htn state established "( dport = :$P1 )" | wc -l)" -ge 1 ]; }
wait_for 10 in_flight || fail "the logins never got in flight"
W1=$(q "SELECT id FROM nodes WHERE kind = 'webapp' AND pid = $PID_w1")
t0=$(now_ms)
kill -TERM "$PID_w1"
rc=0; wait "$PID_w1" || rc=$?
[ "$rc" = 0 ] || fail "waweb exited with $rc"
[ $(( $(now_ms) - t0 )) -lt 8000 ] || fail "waweb took $(( $(now_ms) - t0 )) ms to stop"
[ "$(q "SELECT stopped_at IS NOT NULL FROM nodes WHERE id = $W1")" = 1 ] || fail "not marked stopped"
# Each client got its answer or saw the connection close: none waits for its timeout.
for pid in "${CURLS[@]}"; do wait "$pid" || true; done
[ $(( $(now_ms) - t0 )) -lt 10000 ] || fail "clients were left hanging"
note "1011 before the schema, port 0, HTTPS, bad TLS settings, a clean stop under load: as expected"
