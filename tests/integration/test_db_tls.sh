#!/usr/bin/env bash
# TLS to the database (db_tls_ca and friends): a MariaDB of this test's own
# that takes only TLS connections, with a certificate of a CA made here for
# 127.0.0.1. A Master sets the schema up through it with verification, and
# wactl reads it; refused are a client without TLS, a wrong CA, a server
# reached by a name its certificate does not hold (127.0.0.2), and a user
# that REQUIRE X509 without a client certificate (with one, it connects).
# db_tls_verify = 0 connects whatever the certificate, and says so.
. "$(dirname "$0")/lib.sh"
cluster_init

P=$T/pki
mkdir -p "$P"
pki() { openssl "$@" >>"$T/openssl.log" 2>&1 || fail "openssl $1: $(tail -n 3 "$T/openssl.log")"; }
ca() {      # ca NAME: a CA's key and certificate
    pki req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$P/$1.key" -out "$P/$1.pem"
}
issue() {   # issue NAME CA SAN: a key and certificate NAME signed by CA
    pki req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$P/$1.key" -out "$P/$1.csr"
    printf 'subjectAltName = %s\n' "$3" > "$P/$1.ext"
    pki x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" -CAcreateserial -days 2 \
        -extfile "$P/$1.ext" -out "$P/$1.pem"
}
ca test-ca; ca other-ca
issue server test-ca "IP:127.0.0.1"
issue client test-ca "DNS:wacluster-node"

PORT=$(free_port); HERE=$T/db
( RUN=$HERE; umask 077; mkdir -p "$RUN"
  DB_SERVER_OPTIONS="--ssl-ca=$P/test-ca.pem --ssl-cert=$P/server.pem --ssl-key=$P/server.key --require-secure-transport=ON"
  db_start "$PORT" "127.0.0.1,127.0.0.2" ) > "$T/db_start.log" 2>&1 || fail "db_start: $(cat "$T/db_start.log")"
trap 'WA_EXIT_STATUS=$?; ( RUN=$HERE; db_stop ); cleanup' EXIT
( RUN=$HERE; db_sql -e "CREATE USER 'x509'@'127.0.0.1' IDENTIFIED BY 'wacluster' REQUIRE X509;
                        GRANT ALL PRIVILEGES ON *.* TO 'x509'@'127.0.0.1';" ) || fail "cannot create the X509 user"

# conf NAME KEY=VALUE...: this test's config on that MariaDB, with changes.
conf() {
    local name=$1; shift
    { grep -v '^db_port' "$CONF"; echo "db_port = $PORT"; echo "db_name = tls_$$"
      local kv; for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } > "$T/$name.conf"
}
schema() { "$BIN/wactl" -c "$T/$1.conf" schema > "$T/$1.out" 2>&1; }

note "a Master through TLS, verified"
conf tls "db_tls_ca=$P/test-ca.pem"
WA_BUS_CERT=$(cert m1 wamaster) "$BIN/wamaster" -c "$T/tls.conf" >>"$T/m1.log" 2>&1 & PIDS+=($!)
wait_for 20 grep -q "schema at version" "$T/m1.log" || fail "no schema through TLS: $(tail -n 5 "$T/m1.log")"
schema tls || fail "wactl with TLS: $(cat "$T/tls.out")"
grep -q "up to date" "$T/tls.out" || fail "wactl schema: $(cat "$T/tls.out")"

note "refused: no TLS, a wrong CA, a wrong name"
conf plain
! schema plain || fail "a connection without TLS was taken"
grep -qi "secure transport\|SSL\|TLS\|denied" "$T/plain.out" || fail "why no TLS was refused: $(cat "$T/plain.out")"
conf wrongca "db_tls_ca=$P/other-ca.pem"
! schema wrongca || fail "a server whose certificate a wrong CA did not sign was taken"
grep -qi "certificate\|verif\|SSL\|TLS" "$T/wrongca.out" || fail "why: $(cat "$T/wrongca.out")"
conf wrongname "db_tls_ca=$P/test-ca.pem" "db_hostname=127.0.0.2"
! schema wrongname || fail "a certificate for 127.0.0.1 was taken for 127.0.0.2"
conf tlsoff "db_tls=1" "db_tls_ca=$P/other-ca.pem" "db_tls_verify=0"
schema tlsoff || fail "db_tls_verify = 0: $(cat "$T/tlsoff.out")"
grep -q "TLS without verification" "$T/tlsoff.out" || fail "no warning without verification: $(cat "$T/tlsoff.out")"

note "a client certificate for a user that REQUIRE X509"
conf nocert "db_tls_ca=$P/test-ca.pem" "db_username=x509"
! schema nocert || fail "REQUIRE X509 without a client certificate was taken"
conf cert "db_tls_ca=$P/test-ca.pem" "db_username=x509" "db_tls_cert=$P/client.pem" "db_tls_key=$P/client.key"
schema cert || fail "with a client certificate: $(cat "$T/cert.out")"
conf half "db_tls_cert=$P/client.pem"
! "$BIN/wactl" -c "$T/half.conf" schema > "$T/half.out" 2>&1 || fail "a certificate without its key was taken"
grep -q "db_tls_cert and db_tls_key go together" "$T/half.out" || fail "why: $(cat "$T/half.out")"
note "TLS verified; no TLS, a wrong CA or name, a missing client certificate refused: as expected"
