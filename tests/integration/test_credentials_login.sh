#!/usr/bin/env bash
# Credentials at the HTTP edge (issue 11, item 4), with two Webapps on one
# database:
# - before an ADMIN has a password of its own, a client from another address
#   (this host's non-loopback address) is refused with 403, a loopback one
#   served; wactl users set-password sets it locally, and then both are;
# - the failed-login limit counts per address and per user, in the database:
#   one good login interleaved clears neither the address's count nor
#   another user's, the other Webapp refuses too, and a success clears only
#   its own user's count; wactl users unlock clears a user's;
# - a password change revokes the user's other tokens (on both Webapps), a
#   self-change needs old_password, and a wrong one counts as a failure;
# - a Basic user name with a newline is logged escaped, on one line;
# - admin_password_file sets the first admin's password at a Webapp's start.
. "$(dirname "$0")/lib.sh"

# A non-loopback address of this host: "the network" for the first part.
LAN=$(ip -4 -o addr show scope global 2>/dev/null | awk '!seen++ { split($4, a, "/"); print a[1] }')  # every line read: no SIGPIPE for ip
WEB1=$(free_port); WEB2=$(free_port)
cluster_init webapp_bind=0.0.0.0 login_failures_limit=4 login_failures_window=30
start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster; start c1 wacore
wait_healthy 30
web_start w1 "$WEB1"
WEBAPP_EXTERNAL_PORTS=$WEB2 start w2 waweb
wait_for 30 grep -q "ready: serving" "$T/w2.log" || fail "waweb 2 not ready"
bearer() { echo "Authorization: Bearer $1"; }
lan() { local port=$1; shift; curl -s -o "$T/body" -w '%{http_code}' "http://$LAN:$port$@"; }
ADMIN_PW='Adm1n-Passw0rd!'
ALICE_PW='Al1ce-Passw0rd'
MALLORY_PW='Mall0ry-Passw0rd'

note "no ADMIN password yet: loopback only"
check "the Webapp says so" grep -q "serving only clients on this host" "$T/w1.log"
if [ -n "$LAN" ]; then
    got=$(lan "$WEB1" /v1/users/login -X POST -u admin:secret -d "{\"new_password\":\"$ADMIN_PW\"}")
    [ "$got" = 403 ] || fail "a login from $LAN before the first password: HTTP $got: $(body)"
    grep -q '"code":1005,.*no ADMIN has a password of its own yet' "$T/body" || fail "the refusal: $(body)"
    got=$(lan "$WEB1" /v1/health)
    [ "$got" = 403 ] || fail "GET /v1/health from $LAN: HTTP $got"
else
    note "skip: this host has no non-loopback IPv4 address"
fi
[ "$(q "SELECT must_change FROM users WHERE username = 'admin'")" = 1 ] || fail "the default admin changed"
expect "a loopback client is served" 401 1024 "$WEB1" POST /v1/users/login -u admin:secret
printf '%s\n' "$ADMIN_PW" > "$T/admin-pw"
"$BIN/wactl" -c "$CONF" users set-password admin --password-file "$T/admin-pw" > "$T/wactl.out" \
    || fail "wactl users set-password: $(cat "$T/wactl.out")"
grep -q "the password of 'admin' (ADMIN) is set" "$T/wactl.out" || fail "wactl said: $(cat "$T/wactl.out")"
echo weak > "$T/weak-pw"
! "$BIN/wactl" -c "$CONF" users set-password admin --password-file "$T/weak-pw" 2> "$T/wactl.err" \
    || fail "wactl took a weak password"
grep -q "must be 8 to 64 characters long" "$T/wactl.err" || fail "wactl's refusal: $(cat "$T/wactl.err")"
if [ -n "$LAN" ]; then
    served() { [ "$(lan "$1" /v1/users/login -X POST -u "admin:$ADMIN_PW")" = 200 ]; }
    wait_for 5 served "$WEB1" || fail "the first password set, a login from $LAN is still refused: $(body)"
    wait_for 5 served "$WEB2" || fail "the other Webapp still refuses $LAN: $(body)"
fi
expect "admin/secret is gone" 401 1005 "$WEB1" POST /v1/users/login -u admin:secret
expect "admin logs in" 200 - "$WEB1" POST /v1/users/login -u "admin:$ADMIN_PW"
ADMIN=$(token)
for u in alice mallory; do
    pw=$ALICE_PW; [ $u = mallory ] && pw=$MALLORY_PW
    expect "create $u" 201 - "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d "{\"username\":\"$u\",\"password\":\"$pw\"}"
done
"$BIN/wactl" -c "$CONF" users > "$T/users.out" || fail "wactl users"
grep -q "^mallory  *USER  *set" "$T/users.out" || fail "wactl users: $(cat "$T/users.out")"
# What the first part counted (the refused default password) starts nothing below.
q "DELETE FROM login_failures"

note "the limit per address: a good login interleaved clears nothing of it"
# From 127.0.0.1: guesses at alice's password, with mallory's own good
# logins between them; the old rule cleared the address's count on each.
for i in 1 2 3; do
    expect "guess $i at alice" 401 1005 "$WEB1" POST /v1/users/login -u "alice:Guess-$i-Passw0rd"
    expect "mallory's good login $i" 200 - "$WEB1" POST /v1/users/login -u "mallory:$MALLORY_PW"
done
expect "guess 4 at alice" 401 1005 "$WEB1" POST /v1/users/login -u "alice:Guess-4-Passw0rd"
expect "the address is blocked, even for a good password" 429 1015 "$WEB1" POST /v1/users/login -u "mallory:$MALLORY_PW"
grep -q "too many failed logins from 127.0.0.1: try again in [0-9]* s" "$T/body" || fail "429 details: $(body)"
expect "on the other Webapp too" 429 1015 "$WEB2" POST /v1/users/login -u "admin:$ADMIN_PW"
check "the block is logged" grep -q "login: 127.0.0.1 has failed 4 logins within 30 s" "$T/w1.log"
[ "$(q "SELECT failures FROM login_failures WHERE kind = 'address' AND name = '127.0.0.1'")" = 4 ] \
    || fail "address row: $(q "SELECT * FROM login_failures")"
[ "$(q "SELECT failures FROM login_failures WHERE kind = 'user' AND name = 'alice'")" = 4 ] \
    || fail "alice's row: $(q "SELECT * FROM login_failures")"

note "the limit per user, from other addresses (127.0.0.2, 127.0.0.3: no address reaches the limit)"
q "DELETE FROM login_failures WHERE kind = 'address'"
expect "alice's good password: alice is blocked" 429 1015 "$WEB1" POST /v1/users/login -u "alice:$ALICE_PW"
grep -q "too many failed logins for 'alice'" "$T/body" || fail "429 details: $(body)"
q "DELETE FROM login_failures"
from() { local addr=$1 port=$2; shift 2; curl -s -o "$T/body" -w '%{http_code}' --interface "$addr" "http://127.0.0.1:$port$@"; }
for i in 1 2; do
    [ "$(from 127.0.0.2 "$WEB1" /v1/users/login -X POST -u "alice:Spray-$i-Passw0rd")" = 401 ] || fail "spray $i: $(body)"
    [ "$(from 127.0.0.3 "$WEB2" /v1/users/login -X POST -u "alice:Spray-$i-Passw0rd")" = 401 ] || fail "spray $i': $(body)"
done
[ "$(from 127.0.0.4 "$WEB1" /v1/users/login -X POST -u "alice:$ALICE_PW")" = 429 ] \
    || fail "alice after 4 failures from two addresses and two Webapps: $(body)"
[ "$(from 127.0.0.4 "$WEB1" /v1/users/login -X POST -u "mallory:$MALLORY_PW")" = 200 ] \
    || fail "another user from a fresh address: $(body)"
"$BIN/wactl" -c "$CONF" users | grep -q "^alice .*4: blocked for" || fail "wactl users shows no block: $("$BIN/wactl" -c "$CONF" users)"
"$BIN/wactl" -c "$CONF" users unlock alice | grep -q "cleared" || fail "wactl users unlock"
[ "$(from 127.0.0.4 "$WEB1" /v1/users/login -X POST -u "alice:$ALICE_PW")" = 200 ] || fail "alice after unlock: $(body)"

note "a success clears its own user's count only"
q "DELETE FROM login_failures"
for i in 1 2 3; do
    [ "$(from 127.0.0.5 "$WEB1" /v1/users/login -X POST -u "alice:Wrong-$i-Passw0rd")" = 401 ] || fail "wrong $i: $(body)"
done
[ "$(from 127.0.0.6 "$WEB1" /v1/users/login -X POST -u "alice:$ALICE_PW")" = 200 ] || fail "alice's login: $(body)"
[ "$(q "SELECT COUNT(*) FROM login_failures WHERE kind = 'user' AND name = 'alice'")" = 0 ] || fail "alice's count stays"
[ "$(q "SELECT failures FROM login_failures WHERE kind = 'address' AND name = '127.0.0.5'")" = 3 ] \
    || fail "the address's count went: $(q "SELECT * FROM login_failures")"

note "a password change revokes the user's other tokens; a self-change needs the old one"
q "DELETE FROM login_failures"
expect "alice on Webapp 1" 200 - "$WEB1" POST /v1/users/login -u "alice:$ALICE_PW"
A1=$(token)
expect "alice on Webapp 2" 200 - "$WEB2" POST /v1/users/login -u "alice:$ALICE_PW"
A2=$(token)
expect "her other token works on Webapp 1 (cached)" 200 - "$WEB1" GET /v1/users/alice -H "$(bearer "$A2")"
expect "without old_password" 400 1008 "$WEB1" PUT /v1/users/alice -H "$(bearer "$A1")" -d '{"password":"N3w-Passw0rd!"}'
grep -q "'old_password'" "$T/body" || fail "names the field: $(body)"
expect "with a wrong old_password" 403 1005 "$WEB1" PUT /v1/users/alice -H "$(bearer "$A1")" \
    -d '{"password":"N3w-Passw0rd!","old_password":"Not-Her-Passw0rd"}'
[ "$(q "SELECT failures FROM login_failures WHERE kind = 'user' AND name = 'alice'")" = 1 ] || fail "a wrong old password is not counted"
expect "with the old password" 200 - "$WEB1" PUT /v1/users/alice -H "$(bearer "$A1")" \
    -d "{\"password\":\"N3w-Passw0rd!\",\"old_password\":\"$ALICE_PW\"}"
expect "the token that changed it stays" 200 - "$WEB1" GET /v1/users/alice -H "$(bearer "$A1")"
expect "her other token is revoked on Webapp 2" 401 1005 "$WEB2" GET /v1/users/alice -H "$(bearer "$A2")"
revoked_on_1() { [ "$(api "$WEB1" GET /v1/users/alice -H "$(bearer "$A2")")" = 401 ]; }
wait_for 4 revoked_on_1 || fail "Webapp 1 still takes the revoked token"
expect "an ADMIN changes alice's password (no old one needed)" 200 - "$WEB2" PUT /v1/users/alice -H "$(bearer "$ADMIN")" \
    -d '{"password":"Adm1n-Set-Passw0rd"}'
expect "every token of alice is revoked" 401 1005 "$WEB2" GET /v1/users/alice -H "$(bearer "$A1")"
expect "the ADMIN's own token stays" 200 - "$WEB2" GET /v1/users/alice -H "$(bearer "$ADMIN")"
expect "alice logs in, setting a new password" 200 - "$WEB1" POST /v1/users/login -u 'alice:Adm1n-Set-Passw0rd' \
    -d '{"new_password":"Her-0wn-Passw0rd"}'
A3=$(token)
expect "and the token she got works" 200 - "$WEB1" GET /v1/users/alice -H "$(bearer "$A3")"
expect "an ADMIN's self-change needs its old password too" 400 1008 "$WEB1" PUT /v1/users/admin -H "$(bearer "$ADMIN")" \
    -d '{"password":"An0ther-Passw0rd"}'
"$BIN/wactl" -c "$CONF" users set-password alice --password-file "$T/admin-pw" >/dev/null || fail "wactl set-password alice"
expect "wactl revoked alice's tokens" 401 1005 "$WEB2" GET /v1/users/alice -H "$(bearer "$A3")"
[ "$(q "SELECT role FROM users WHERE username = 'alice'")" = USER ] || fail "wactl changed alice's role"

note "log escaping"
q "DELETE FROM login_failures"
# At most 32 bytes: the longest user name a Basic header may carry.
EVIL=$(printf 'eve\nFORGED INFO root ok\x1b[2J')
expect "a user name with a newline" 401 1005 "$WEB1" POST /v1/users/login -H "Authorization: Basic $(printf '%s:x' "$EVIL" | base64 -w0)"
wait_for 5 grep -q "login failed: 'eve\\\\nFORGED INFO root ok\\\\x1b\\[2J' from 127.0.0.1" "$T/w1.log" \
    || fail "not logged escaped: $(grep -a -A1 eve "$T/w1.log")"
! grep -aq '^FORGED' "$T/w1.log" || fail "a forged line in the log"

note "admin_password_file"
printf 'F1le-Passw0rd!\n' > "$T/file-pw"; chmod 600 "$T/file-pw"
DB2=${DB}_f
q "DROP DATABASE IF EXISTS $DB2"
sed "s/^db_name = .*/db_name = $DB2/" "$CONF" > "$T/file.conf"
echo "admin_password_file = $T/file-pw" >> "$T/file.conf"
WEB3=$(free_port)
# A Master of its own to migrate that database; no Coreapp is needed.
WA_BUS_CERT=$(cert m2 wamaster) "$BIN/wamaster" -c "$T/file.conf" >>"$T/m2.log" 2>&1 & PIDS+=($!); PID_m2=$!
WEBAPP_EXTERNAL_PORTS=$WEB3 WA_BUS_CERT=$(cert w3 waweb) "$BIN/waweb" -c "$T/file.conf" >>"$T/w3.log" 2>&1 & PIDS+=($!); PID_w3=$!
wait_for 30 grep -q "ready: serving" "$T/w3.log" || fail "waweb 3 not ready"
check "it says so" grep -q "set the password of 'admin' from admin_password_file" "$T/w3.log"
check "and serves every address" grep -q "serving clients on every address" "$T/w3.log"
expect "admin logs in with the file's password" 200 - "$WEB3" POST /v1/users/login -u 'admin:F1le-Passw0rd!'
expect "admin/secret never existed" 401 1005 "$WEB3" POST /v1/users/login -u admin:secret
echo short > "$T/bad-pw"
sed "s|^admin_password_file = .*|admin_password_file = $T/bad-pw|" "$T/file.conf" > "$T/bad.conf"
set +e; WEBAPP_EXTERNAL_PORTS=0 WA_BUS_CERT=$(cert w4 waweb) timeout 20 "$BIN/waweb" -c "$T/bad.conf" >"$T/w4.log" 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || fail "a weak admin_password_file: exit $rc: $(cat "$T/w4.log")"
grep -q "admin_password_file .*: the password must be 8 to 64 characters long" "$T/w4.log" || fail "why: $(cat "$T/w4.log")"
! grep -q short "$T/w4.log" || fail "the password is in the log"
kill -TERM "$PID_w3" "$PID_m2"
wait "$PID_w3" "$PID_m2" || true
db_sql -e "DROP DATABASE IF EXISTS $DB2"
check "0 overlaps" overlaps_zero
note "loopback until the first password, limits per address and user, revocation, old_password, escaping, admin_password_file: as expected"
