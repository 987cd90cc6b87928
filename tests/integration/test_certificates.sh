#!/usr/bin/env bash
# Certificates (issue 12, item 6): POST /v1/certificates/external is checked
# (a bad chain is refused naming the problem, nothing changes), stored by the
# primary Master, and served by every HTTPS Webapp to new connections without
# a restart; GET /v1/certificates/external/ca gives its CA. The webhooks CA
# (POST, GET, DELETE /v1/certificates/webhooks/ca) makes the Coreapps trust a
# webhook receiver on HTTPS with its own CA: its deliveries fail before, pass
# after, also when set through a Master that took over.
. "$(dirname "$0")/lib.sh"

# --- certificates made with openssl: two CAs, a server certificate of each,
# an expired one, a receiver's own CA and certificate.
P=$T/pki; mkdir -p "$P"
ossl() { openssl "$@" 2>>"$P/openssl.log" || fail "openssl $1"; }
mkca() {   # mkca NAME
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" -out "$P/$1.pem" \
        -days 30 -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign
}
mkleaf() { # mkleaf NAME CA DAYS
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$P/$1.ext"
    ossl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" -CAcreateserial -out "$P/$1.pem" \
        -days "$3" -extfile "$P/$1.ext"
}
mkca ca1; mkca ca2; mkca hookca
mkleaf web1 ca1 20
mkleaf web2 ca2 20
mkleaf hook hookca 20
# An expired server certificate: signed by ca2 with dates in the past (openssl ca).
mkdir -p "$P/ca2db"; : > "$P/ca2db/index"; echo 01 > "$P/ca2db/serial"
cat > "$P/ca2.cnf" <<CNF
[ca]
default_ca = ca2
[ca2]
database = $P/ca2db/index
serial = $P/ca2db/serial
new_certs_dir = $P/ca2db
certificate = $P/ca2.pem
private_key = $P/ca2.key
default_md = sha256
policy = any
[any]
commonName = supplied
CNF
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/old.key" -out "$P/old.csr" -subj "/CN=old"
ossl ca -batch -config "$P/ca2.cnf" -in "$P/old.csr" -out "$P/old.pem" -notext \
    -startdate 20200101000000Z -enddate 20200201000000Z
cat "$P/web2.key" "$P/web2.pem" "$P/ca2.pem" > "$P/upload-good.pem"
cat "$P/old.key" "$P/old.pem" "$P/ca2.pem" > "$P/upload-expired.pem"
cat "$P/web1.key" "$P/web2.pem" "$P/ca2.pem" > "$P/upload-wrongkey.pem"
cat "$P/web2.key" "$P/web2.pem" > "$P/upload-noca.pem"

# --- the HTTPS webhook receiver, with its own CA: a few lines of python.
HOOK_PORT=$(free_port)
HOOKS=$T/hooks.jsonl
cat > "$T/hook.py" <<'PY'
import http.server, ssl, sys
port, cert, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write(body.decode() + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", port), Hook)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
PY
python3 "$T/hook.py" "$HOOK_PORT" "$P/hook.pem" "$P/hook.key" "$HOOKS" >>"$T/hook.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q listening "$T/hook.log" || fail "the https receiver did not start: $(cat "$T/hook.log")"

WEB=$(free_port); WEB2=$(free_port)
cluster_init webapp_bind=127.0.0.1 "webapp_tls_cert=$P/web1.pem" "webapp_tls_key=$P/web1.key" \
    "webhooks_url=https://127.0.0.1:$HOOK_PORT/webhook" callback_backoff_delay_ms=100 max_callback_backoff_delay_ms=300
standard_cluster
web_start w1 "$WEB"
web_start w2 "$WEB2"

# HTTPS versions of lib.sh's api and expect (-k: the checks below are the
# certificate's own).
api() {
    local port=$1 method=$2 path=$3; shift 3
    curl -sk -o "$T/body" -w '%{http_code}' -X "$method" "https://127.0.0.1:$port$path" "$@"
}
TOKEN=$(admin_token "$WEB")
AUTH=(-H "Authorization: Bearer $TOKEN")
PEM=(-H "Content-Type: text/plain")
# served_by CA PORT: a new connection to PORT verifies with CA only.
served_by() { curl -s -o /dev/null --cacert "$P/$1.pem" "https://127.0.0.1:$2/v1/health/live"; }
version() { q "SELECT COALESCE(MAX(version), 0) FROM certificates WHERE name = '$1'"; }

note "before: each Webapp serves its file's certificate"
served_by ca1 "$WEB" || fail "w1 does not serve web1 (ca1)"
! served_by ca2 "$WEB" || fail "w1 verifies with ca2 before any upload"
expect "GET external/ca, none" 404 1006 "$WEB" GET /v1/certificates/external/ca "${AUTH[@]}"

note "bad certificates are refused, naming the problem; nothing is stored"
expect "expired" 400 1009 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-expired.pem"
grep -q "expired on 2020-02-01" "$T/body" || fail "expired: $(body)"
expect "wrong key" 400 1009 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-wrongkey.pem"
grep -q "does not match" "$T/body" || fail "wrong key: $(body)"
expect "no CA" 400 1008 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-noca.pem"
grep -q "no CA certificate" "$T/body" || fail "no CA: $(body)"
expect "no body" 400 1008 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}"
expect "not PEM" 400 1009 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary 'hello'
head -c 70000 /dev/zero | tr '\0' A > "$P/huge"
expect "too large" 400 1009 "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/huge"
expect "a CA bundle with a key" 400 1009 "$WEB" POST /v1/certificates/webhooks/ca "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-good.pem"
expect "no token" 401 1005 "$WEB" POST /v1/certificates/external "${PEM[@]}" --data-binary @"$P/upload-good.pem"
expect "create a USER" 201 - "$WEB" POST /v1/users "${AUTH[@]}" -d '{"username":"certuser","password":"Cert-User-2024!"}'
expect "USER login" 200 - "$WEB" POST /v1/users/login -u 'certuser:Cert-User-2024!'
USER_AUTH=(-H "Authorization: Bearer $(token)")
expect "a USER uploads" 403 1005 "$WEB" POST /v1/certificates/external "${USER_AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-good.pem"
expect "a USER reads the webhooks CA" 403 1005 "$WEB" GET /v1/certificates/webhooks/ca "${USER_AUTH[@]}"
[ "$(version external)" = 0 ] || fail "a refused upload was stored"
served_by ca1 "$WEB" || fail "a refused upload changed the certificate"

note "the external certificate: stored once, served by every Webapp without a restart"
expect "upload" 200 - "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-good.pem"
[ "$(version external)" = 1 ] || fail "version $(version external) after the upload"
wait_for 10 served_by ca2 "$WEB" || fail "w1 does not serve the uploaded certificate: $(tail -5 "$T/w1.log")"
wait_for 10 served_by ca2 "$WEB2" || fail "w2 does not serve the uploaded certificate: $(tail -5 "$T/w2.log")"
! served_by ca1 "$WEB2" || fail "w2 still serves web1"
grep -q "serving the external certificate (version 1)" "$T/w2.log" || fail "w2 did not log the change"
kill -0 "$(pid_of w1)" && kill -0 "$(pid_of w2)" || fail "a Webapp restarted"
got=$(api "$WEB2" GET /v1/certificates/external/ca "${USER_AUTH[@]}")
[ "$got" = 200 ] || fail "GET external/ca: HTTP $got: $(body)"
cmp -s <(openssl x509 -in "$T/body" -noout -fingerprint) <(openssl x509 -in "$P/ca2.pem" -noout -fingerprint) \
    || fail "GET external/ca is not ca2: $(body)"

note "webhooks over HTTPS with their own CA: refused before the CA is set"
"$BIN/wagate" -c "$CONF" inject --from 16505550001 --text before-ca > /dev/null || fail "wagate inject"
tls_refused() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE attempts > 0 AND last_error LIKE '%certificate%'")" -ge 1 ]; }
wait_for 20 tls_refused || fail "no delivery failed on the receiver's certificate: $(q "SELECT attempts, last_error FROM callbacks")"
[ ! -s "$HOOKS" ] || fail "the receiver got a POST without its CA: $(cat "$HOOKS")"
expect "GET webhooks CA, none" 404 1006 "$WEB" GET /v1/certificates/webhooks/ca "${AUTH[@]}"
expect "DELETE webhooks CA, none" 404 1006 "$WEB" DELETE /v1/certificates/webhooks/ca "${AUTH[@]}"

note "the primary Master goes; the CA is set through the next one; deliveries pass"
OLD=$(primary_master)
for m in m1 m2; do [ "$(node_pid "$OLD")" = "$(pid_of $m)" ] && kill -KILL "$(pid_of $m)"; done
expect "upload the webhooks CA" 200 - "$WEB2" POST /v1/certificates/webhooks/ca "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/hookca.pem"
lease_taken_from "$OLD" || fail "the lease was not taken over"
cat "$P/web1.key" "$P/web1.pem" "$P/ca1.pem" > "$P/upload-again.pem"
expect "upload another external certificate" 200 - "$WEB" POST /v1/certificates/external "${AUTH[@]}" "${PEM[@]}" --data-binary @"$P/upload-again.pem"
[ "$(version external)" = 2 ] || fail "version $(version external) after the second upload"
wait_for 10 served_by ca1 "$WEB2" || fail "w2 does not serve the second upload"
delivered() { [ -s "$HOOKS" ] && grep -q before-ca "$HOOKS"; }
wait_for 20 delivered || fail "not delivered with the CA set: $(q "SELECT attempts, last_error FROM callbacks")"
got=$(api "$WEB" GET /v1/certificates/webhooks/ca "${AUTH[@]}")
[ "$got" = 200 ] && cmp -s "$T/body" "$P/hookca.pem" || fail "GET webhooks CA: HTTP $got: $(body)"

note "removed: the next deliveries fail again"
expect "DELETE webhooks CA" 200 - "$WEB" DELETE /v1/certificates/webhooks/ca "${AUTH[@]}"
expect "GET webhooks CA, removed" 404 1006 "$WEB" GET /v1/certificates/webhooks/ca "${AUTH[@]}"
wait_for 10 grep -q "webhooks trust the default CAs only" "$T/c1.log" "$T/c2.log" || fail "no Coreapp dropped the CA"
"$BIN/wagate" -c "$CONF" inject --from 16505550001 --text after-delete > /dev/null || fail "wagate inject"
refused_again() { [ "$(q "SELECT COUNT(*) FROM callbacks WHERE attempts > 0 AND delivered_at IS NULL AND last_error LIKE '%certificate%'")" -ge 1 ]; }
wait_for 20 refused_again || fail "a delivery passed without the CA: $(q "SELECT attempts, last_error FROM callbacks")"
! grep -q after-delete "$HOOKS" || fail "delivered without the CA"
overlaps_zero || fail "overlaps"
note "ok"
