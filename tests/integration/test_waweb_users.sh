#!/usr/bin/env bash
# waweb: users and tokens, the error envelope for every kind of bad input,
# tokens shared between two Webapps (and their revocation), and the cluster
# form of GET /v1/health (an unreachable node's entry holds errors).
. "$(dirname "$0")/lib.sh"

WEB1=$(free_port); WEB2=$(free_port)
# The limit is above this test's failed logins before its rate limit part
# (a success no longer clears its address's count).
cluster_init webapp_bind=127.0.0.1 login_failures_limit=6 login_failures_window=30
# The second Webapp issues short-lived tokens, to see one expire.
{ cat "$CONF"; echo "token_ttl = 2"; echo "webapp_port = $WEB2"; } > "$T/web2.conf"

start gate wagate
wait_for 10 "$BIN/wagate" -c "$CONF" stats --json || fail "wagate did not start"
start m1 wamaster; start c1 wacore
wait_healthy 30
# Stale token rows (expired, revoked) that a Webapp's purge must delete.
q "INSERT INTO tokens VALUES (REPEAT('a', 64), 'gone', 'USER', NOW(6) - INTERVAL 2 HOUR, NULL, NOW(6) - INTERVAL 9 DAY),
   (REPEAT('b', 64), 'gone', 'USER', NOW(6) + INTERVAL 1 DAY, NOW(6) - INTERVAL 2 HOUR, NOW(6) - INTERVAL 1 DAY),
   (REPEAT('c', 64), 'kept', 'USER', NOW(6) - INTERVAL 1 MINUTE, NULL, NOW(6) - INTERVAL 7 DAY)"
WEBAPP_EXTERNAL_PORTS=$WEB1 start w1 waweb
WA_BUS_CERT=$(cert w2 waweb) "$BIN/waweb" -c "$T/web2.conf" >>"$T/w2.log" 2>&1 & PIDS+=($!); PID_w2=$!
wait_for 30 grep -q "ready: serving" "$T/w1.log" || fail "waweb 1 not ready"

bearer() { echo "Authorization: Bearer $1"; }
JSON='Content-Type: application/json'
ADMIN_PW='Adm1n-Passw0rd!'
ALICE_PW='Al1ce-Passw0rd'

note "login"
expect "admin's first login" 401 1024 "$WEB1" POST /v1/users/login -u admin:secret
expect "a wrong password" 401 1005 "$WEB1" POST /v1/users/login -u admin:wrong
expect "an unknown user" 401 1005 "$WEB1" POST /v1/users/login -u nobody:secret
expect "a weak new password" 400 1009 "$WEB1" POST /v1/users/login -u admin:secret -H "$JSON" -d '{"new_password":"password"}'
expect "new_password not a string" 400 1009 "$WEB1" POST /v1/users/login -u admin:secret -H "$JSON" -d '{"new_password":5}'
expect "login with new_password" 200 - "$WEB1" POST /v1/users/login -u admin:secret -H "$JSON" -d "{\"new_password\":\"$ADMIN_PW\"}"
ADMIN=$(token)
[ ${#ADMIN} = 43 ] || fail "token: $(body)"
grep -q '"expires_after":"[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]+00:00"' "$T/body" \
    || fail "expires_after: $(body)"
expect "the old password is gone" 401 1005 "$WEB1" POST /v1/users/login -u admin:secret
expect "login with the new one" 200 - "$WEB1" POST /v1/users/login -u "admin:$ADMIN_PW"
expect "no Basic credentials" 401 1005 "$WEB1" POST /v1/users/login
expect "garbage Basic credentials" 401 1005 "$WEB1" POST /v1/users/login -H 'Authorization: Basic !!!'
[ "$(q "SELECT COUNT(*) FROM tokens WHERE token_hash = '$ADMIN'")" = 0 ] || fail "a token is stored in clear"

note "users"
expect "create alice" 201 - "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -H "$JSON" -d "{\"username\":\"alice\",\"password\":\"$ALICE_PW\"}"
grep -q '"users":\[{"username":"alice","role":"USER"}\]' "$T/body" || fail "create: $(body)"
expect "create alice again" 409 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -H "$JSON" -d "{\"username\":\"alice\",\"password\":\"$ALICE_PW\"}"
expect "a short username" 400 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d "{\"username\":\"al\",\"password\":\"$ALICE_PW\"}"
expect "a bad role" 400 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d "{\"username\":\"bobby\",\"password\":\"$ALICE_PW\",\"role\":\"ROOT\"}"
expect "alice logs in" 200 - "$WEB1" POST /v1/users/login -u "alice:$ALICE_PW"
ALICE=$(token)
expect "a USER cannot create users" 403 1005 "$WEB1" POST /v1/users -H "$(bearer "$ALICE")" -d "{\"username\":\"bobby\",\"password\":\"$ALICE_PW\"}"
expect "a USER cannot delete users" 403 1005 "$WEB1" DELETE /v1/users/admin -H "$(bearer "$ALICE")"
expect "a USER reads itself" 200 - "$WEB1" GET /v1/users/alice -H "$(bearer "$ALICE")"
grep -q '"role":"USER"' "$T/body" || fail "GET alice: $(body)"
expect "a USER cannot read another" 403 1005 "$WEB1" GET /v1/users/admin -H "$(bearer "$ALICE")"
expect "an ADMIN reads anyone" 200 - "$WEB1" GET /v1/users/alice -H "$(bearer "$ADMIN")"
expect "an unknown user" 404 1006 "$WEB1" GET /v1/users/nobody -H "$(bearer "$ADMIN")"
expect "a self-change needs the old password" 400 1008 "$WEB1" PUT /v1/users/alice -H "$(bearer "$ALICE")" -d '{"password":"N3w-Passw0rd"}'
expect "alice changes her password" 200 - "$WEB1" PUT /v1/users/alice -H "$(bearer "$ALICE")" -d "{\"password\":\"N3w-Passw0rd\",\"old_password\":\"$ALICE_PW\"}"
expect "the new one works" 200 - "$WEB1" POST /v1/users/login -u 'alice:N3w-Passw0rd'
expect "a weak password" 400 1009 "$WEB1" PUT /v1/users/alice -H "$(bearer "$ADMIN")" -d '{"password":"abcdefgh1"}'
expect "the last ADMIN stays" 400 1009 "$WEB1" DELETE /v1/users/admin -H "$(bearer "$ADMIN")"
expect "create an ADMIN" 201 - "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d "{\"username\":\"root2\",\"password\":\"$ALICE_PW\",\"role\":\"admin\"}"
grep -q '"role":"ADMIN"' "$T/body" || fail "create ADMIN: $(body)"
expect "delete alice" 200 - "$WEB1" DELETE /v1/users/alice -H "$(bearer "$ADMIN")"
expect "alice's token died with her" 401 1005 "$WEB1" GET /v1/users/alice -H "$(bearer "$ALICE")"
expect "alice is gone" 404 1006 "$WEB1" GET /v1/users/alice -H "$(bearer "$ADMIN")"

note "deletions one at a time (the users lock): never the last ADMIN"
# Another deletion under way (the lock's row held by a transaction that has
# deleted root2): the Webapp waits for it, then counts again, and admin is
# now the last ADMIN.
hold_lock users 0.5 "DELETE FROM users WHERE username = 'root2';"
expect "the other ADMIN while root2 is being deleted" 400 1009 "$WEB1" DELETE /v1/users/admin -H "$(bearer "$ADMIN")"
grep -q "'admin' is the last ADMIN" "$T/body" || fail "delete beside a deletion: $(body)"
wait "$HOLDER"
[ "$(q "SELECT GROUP_CONCAT(username) FROM users WHERE role = 'ADMIN'")" = admin ] \
    || fail "ADMINs: $(q "SELECT GROUP_CONCAT(username) FROM users WHERE role = 'ADMIN'")"
# One held longer than the Webapp waits (1 s): 500 1023, nothing deleted.
expect "create bobby" 201 - "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d "{\"username\":\"bobby\",\"password\":\"$ALICE_PW\"}"
hold_lock users 2.5
expect "a deletion behind a lock held too long" 500 1023 "$WEB1" DELETE /v1/users/bobby -H "$(bearer "$ADMIN")"
grep -q "held the users lock for 1 s; nothing was changed, try again" "$T/body" || fail "the busy answer: $(body)"
wait "$HOLDER"
expect "bobby is still there" 200 - "$WEB1" GET /v1/users/bobby -H "$(bearer "$ADMIN")"
expect "delete bobby once the lock is free" 200 - "$WEB1" DELETE /v1/users/bobby -H "$(bearer "$ADMIN")"

note "bad input"
for bad in '{"username":' '[1,2]' '"text"' '{"username":"bobby","username":"x"}' $'\xff\xfe'; do
    expect "malformed body $bad" 400 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" --data-binary "$bad"
done
expect "username not a string" 400 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d '{"username":5,"password":"x"}'
expect "password missing" 400 1008 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -d '{"username":"bobby"}'
expect "no body" 400 1008 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")"
head -c 2000000 /dev/zero | tr '\0' a > "$T/huge"
expect "a huge body" 413 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" --data-binary @"$T/huge"
expect "a huge chunked body" 413 1009 "$WEB1" POST /v1/users -H "$(bearer "$ADMIN")" -H 'Transfer-Encoding: chunked' --data-binary @"$T/huge"
expect "an unknown path" 404 1006 "$WEB1" GET /v1/nothing -H "$(bearer "$ADMIN")"
expect "an unknown path, no token" 404 1006 "$WEB1" GET /
expect "a wrong method" 405 1006 "$WEB1" DELETE /v1/health -H "$(bearer "$ADMIN")"
curl -s -D - -o /dev/null -X PATCH "http://127.0.0.1:$WEB1/v1/users/login" | grep -qi '^Allow: POST' || fail "405 without Allow"
expect "no Authorization" 401 1005 "$WEB1" GET /v1/health
expect "a garbage token" 401 1005 "$WEB1" GET /v1/health -H 'Authorization: Bearer xyz'
expect "a well-formed unknown token" 401 1005 "$WEB1" GET /v1/health -H "$(bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
expect "Basic where Bearer is due" 401 1005 "$WEB1" GET /v1/health -u "admin:$ADMIN_PW"
expect "a nasty path" 404 1006 "$WEB1" GET "/v1/users/%00%ff/../x" -H "$(bearer "$ADMIN")"

note "health"
expect "health" 200 - "$WEB1" GET /v1/health -H "$(bearer "$ADMIN")"
M1=$(q "SELECT id FROM nodes WHERE kind = 'master' AND pid = $PID_m1")
C1=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND pid = $PID_c1")
grep -q "\"127.0.0.1:$M1\":{\"gateway_status\":\"connected\",\"role\":\"primary_master\"}" "$T/body" || fail "health (master $M1): $(body)"
grep -q "\"127.0.0.1:$C1\":{\"gateway_status\":\"connected\",\"role\":\"coreapp\",\"primary\":true,\"shard\":0,\"shards\":\\[0\\]}" "$T/body" || fail "health (coreapp $C1): $(body)"
start c2 wacore
wait_for 10 bash -c "[ \"\$(curl -s -H '$(bearer "$ADMIN")' http://127.0.0.1:$WEB1/v1/health | grep -o '\"role\":\"coreapp\",\"primary\":false')\" ]" \
    || fail "health does not list the second Coreapp: $(body)"
C2=$(q "SELECT id FROM nodes WHERE kind = 'coreapp' AND pid = $PID_c2")
kill -KILL "$PID_c2"
c2_unreachable() {
    curl -s -H "$(bearer "$ADMIN")" "http://127.0.0.1:$WEB1/v1/health" > "$T/health"
    grep -q "\"127.0.0.1:$C2\":{\"errors\":\[{\"code\":1011,\"title\":\"Service not ready\",\"details\":\"coreapp $C2 has not claimed liveness" "$T/health"
}
wait_for 10 c2_unreachable || fail "a killed Coreapp has no errors entry: $(cat "$T/health")"
grep -q "\"127.0.0.1:$C1\":{\"gateway_status\":\"connected\"" "$T/health" || fail "health lost the primary: $(cat "$T/health")"
check "wactl status lists the Webapps" bash -c "'$BIN/wactl' -c '$CONF' status | grep -q webapp"

note "two Webapps share tokens"
wait_for 30 grep -q "ready: serving" "$T/w2.log" || fail "waweb 2 not ready"
expect "a token from Webapp 1 on Webapp 2" 200 - "$WEB2" GET /v1/users/admin -H "$(bearer "$ADMIN")"
expect "Webapp 1 caches it" 200 - "$WEB1" GET /v1/users/admin -H "$(bearer "$ADMIN")"
expect "logout on Webapp 2" 200 - "$WEB2" POST /v1/users/logout -H "$(bearer "$ADMIN")"
expect "revoked on Webapp 2" 401 1005 "$WEB2" GET /v1/users/admin -H "$(bearer "$ADMIN")"
revoked_on_1() { [ "$(api "$WEB1" GET /v1/users/admin -H "$(bearer "$ADMIN")")" = 401 ]; }
wait_for 4 revoked_on_1 || fail "Webapp 1 still takes a revoked token"
expect "a short-lived token" 200 - "$WEB2" POST /v1/users/login -u "admin:$ADMIN_PW"
SHORT=$(token)
expect "it works at first" 200 - "$WEB1" GET /v1/users/admin -H "$(bearer "$SHORT")"
expired() { [ "$(api "$WEB1" GET /v1/users/admin -H "$(bearer "$SHORT")")" = 401 ]; }
wait_for 6 expired || fail "an expired token still works"

note "rate limit"
q "DELETE FROM login_failures"
expect "login" 200 - "$WEB1" POST /v1/users/login -u "admin:$ADMIN_PW"
for i in 1 2 3 4 5 6; do expect "failure $i" 401 1005 "$WEB1" POST /v1/users/login -u admin:wrong; done
expect "blocked" 429 1015 "$WEB1" POST /v1/users/login -u "admin:$ADMIN_PW"
expect "every Webapp shares the count" 429 1015 "$WEB2" POST /v1/users/login -u "admin:$ADMIN_PW"

note "clean stop"
W1=$(q "SELECT id FROM nodes WHERE kind = 'webapp' AND pid = $PID_w1")
kill -TERM "$PID_w1"
wait "$PID_w1" || fail "waweb exited with $?"
[ "$(q "SELECT stopped_at IS NOT NULL FROM nodes WHERE id = $W1")" = 1 ] || fail "not marked stopped"
check "overlaps 0" overlaps_zero
stale_gone() { [ "$(q "SELECT GROUP_CONCAT(username) FROM tokens WHERE token_hash IN (REPEAT('a', 64), REPEAT('b', 64), REPEAT('c', 64))")" = kept ]; }
wait_for 20 stale_gone || fail "stale tokens not purged: $(q "SELECT username, expires_at, revoked_at FROM tokens WHERE username IN ('gone', 'kept')")"
note "users, tokens, bad input, health, shared and revoked tokens, rate limit: all as expected"
