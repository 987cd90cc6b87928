#!/usr/bin/env bash
# Every program: --help, --version, -n; a bad config value or environment
# variable is a clear error naming the key and the value, and changes nothing.
# Every key from the environment (WA_NAME), comments after values, the
# database password from a file in a running Master, and the warning of a
# node that binds every address but advertises a loopback one.
. "$(dirname "$0")/lib.sh"
cluster_init
for p in wamaster wacore wagate wactl; do
    check "$p --help explains itself" bash -c "'$BIN/$p' --help | grep -q 'lease_ttl'"
    check "$p --version" bash -c "'$BIN/$p' --version | grep -Eq '^$p [0-9]'"
    check "$p -n accepts the test config" bash -c "'$BIN/$p' -c '$CONF' -n | grep -q 'configuration OK'"
done
out=$("$BIN/wamaster" -c "$CONF" --bogus 2>&1) && fail "an unknown option was accepted"
check "unknown option → usage error" grep -q "try 'wamaster --help'" <<<"$out"

echo "lease_ttl = soon" >> "$CONF"
out=$("$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "a bad value passed -n"
check "bad value names file, line, key and value ($out)" grep -q "cluster.conf:[0-9]*: key 'lease_ttl': value 'soon'" <<<"$out"
sed -i '$d' "$CONF"
echo "lease_renew_interval = 5" >> "$CONF"
out=$("$BIN/wacore" -c "$CONF" -n 2>&1) && fail "renew longer than ttl passed -n"
check "cross-key check says why ($out)" grep -q "lease_renew_interval (5) + lease_margin (0.5) must be below lease_ttl (2)" <<<"$out"
sed -i '$d' "$CONF"
out=$(WA_DB_PORT=70000 "$BIN/wacore" -c "$CONF" -n 2>&1) && fail "WA_DB_PORT=70000 passed -n"
check "bad environment names the variable ($out)" grep -q "environment WA_DB_PORT: key 'db_port': value '70000' is out of bounds" <<<"$out"
out=$(WA_DB_ENGINE=PGSQL "$BIN/wacore" -c "$CONF" -n 2>&1) && fail "WA_DB_ENGINE=PGSQL passed -n"
check "unsupported engine is named ($out)" grep -q "value 'PGSQL' is not one of mysql|mariadb" <<<"$out"
check "environment overrides the file" bash -c "COREAPP_EXTERNAL_PORTS=7000,7001,7002,7003 '$BIN/wacore' -c '$CONF' -n | grep -q '^ports = 7000,7001,7002,7003'"
check "the password is not printed" bash -c "! '$BIN/wacore' -c '$CONF' -n | grep -q 'db_password = wacluster'"
out=$("$BIN/wactl" -c "$CONF" frobnicate 2>&1) && fail "an unknown wactl command was accepted"
check "unknown wactl command is a usage error" grep -qi "unknown command" <<<"$out"
out=$("$BIN/wactl" -c "$CONF" status 2>&1) && fail "wactl status passed with no schema"
check "wactl status before any Master says so ($out)" grep -q "no schema yet" <<<"$out"
check "--help names every key's variable" bash -c "'$BIN/wamaster' --help | grep -q 'WA_HOSTNAME, COREAPP_HOSTNAME'"
check "--help names the secrets' files" bash -c "'$BIN/wamaster' --help | grep -q 'WA_DB_PASSWORD_FILE'"

# docs/OPERATIONS.md's Keys table has every key --help lists, with the
# same environment variables.
"$BIN/wamaster" --help | sed -n 's/^  \([a-z_]*\) \+\(WA_[A-Z_]*\(, [A-Z_]*\)\?\) \+default .*/\1|\2/p' > "$T/help-keys"
check "--help lists the keys with their variables" [ "$(wc -l < "$T/help-keys")" -gt 60 ]
while IFS='|' read -r key env; do
    envs=$(sed 's/\([A-Z_]\+\)/`\1`/g' <<<"$env")
    grep -qF "| \`$key\` | $envs |" "$ROOT/docs/OPERATIONS.md" || grep -qF "| \`$key\` † | $envs |" "$ROOT/docs/OPERATIONS.md" \
        || fail "docs/OPERATIONS.md's Keys table has no row '$key | $envs'"
done < "$T/help-keys"

# Every key from the environment, checked as in the file.
check "WA_LEASE_TTL sets lease_ttl" bash -c "WA_LEASE_TTL=3 '$BIN/wamaster' -c '$CONF' -n | grep -qx 'lease_ttl = 3'"
check "WA_SENT_STATUS sets sent_status" bash -c "WA_SENT_STATUS=yes '$BIN/wamaster' -c '$CONF' -n | grep -qx 'sent_status = 1'"
out=$(WA_LEASE_TTL=soon "$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "WA_LEASE_TTL=soon passed -n"
check "a bad WA_ variable is named ($out)" grep -q "environment WA_LEASE_TTL: key 'lease_ttl': value 'soon'" <<<"$out"
out=$(WA_HOSTNAME=a.example COREAPP_HOSTNAME=b.example "$BIN/wacore" -c "$CONF" -n 2>&1) \
    && fail "WA_HOSTNAME and COREAPP_HOSTNAME disagreeing passed -n"
check "two names of one key that disagree are both named ($out)" \
    grep -q "WA_HOSTNAME ('a.example') and COREAPP_HOSTNAME ('b.example') disagree" <<<"$out"

# '#' after white space starts a comment; glued to the value it is an error.
echo "lease_ttl = 3 # seconds" >> "$CONF"
check "a comment after a value is no part of it" bash -c "'$BIN/wamaster' -c '$CONF' -n | grep -qx 'lease_ttl = 3'"
sed -i '$d' "$CONF"
echo "webhooks_url = http://hook.example.com/in#frag" >> "$CONF"
out=$("$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "a '#' inside a value passed -n"
check "a '#' inside a value names file, line and key ($out)" \
    grep -q "cluster.conf:[0-9]*: key 'webhooks_url': '#' inside the value" <<<"$out"
sed -i '$d' "$CONF"
echo "lease_tl = 3" >> "$CONF"
out=$("$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "an unknown key passed -n"
check "an unknown key names file and line ($out)" grep -q "cluster.conf:[0-9]*: unknown key 'lease_tl'" <<<"$out"
sed -i '$d' "$CONF"
note "--help, --version, -n and clear configuration errors for every program"

# The database password from a file: -n does not show it, and a Master
# logs in with it. That Master binds every address (WA_BIND_ADDRESS) while
# its hostname stays 127.0.0.1: it warns; one bound on loopback does not.
printf 'wacluster\n' > "$T/db.password"
chmod 600 "$T/db.password"
sed -i '/^db_password = /d' "$CONF"
echo "db_password_file = $T/db.password" >> "$CONF"
out=$("$BIN/wamaster" -c "$CONF" -n 2>&1) || fail "db_password_file refused: $out"
check "-n shows that the password is set" grep -qx "db_password = (set)" <<<"$out"
check "-n shows the password's file" grep -qx "db_password_file = $T/db.password" <<<"$out"
grep -q "password = wacluster" <<<"$out" && fail "-n shows the password from the file"
out=$(WA_DB_PASSWORD=wacluster "$BIN/wamaster" -c "$CONF" -n 2>&1) || fail "WA_DB_PASSWORD over the file's db_password_file refused: $out"
out=$(WA_DB_PASSWORD=x WA_DB_PASSWORD_FILE="$T/db.password" "$BIN/wamaster" -c "$CONF" -n 2>&1) \
    && fail "WA_DB_PASSWORD with WA_DB_PASSWORD_FILE passed -n"
check "WA_DB_PASSWORD and WA_DB_PASSWORD_FILE both set are named ($out)" \
    grep -q "WA_DB_PASSWORD and WA_DB_PASSWORD_FILE are both set" <<<"$out"
out=$(WA_DB_PASSWORD_FILE="$T/nothing" "$BIN/wamaster" -c "$CONF" -n 2>&1) && fail "a missing password file passed -n"
check "a missing password file is named ($out)" \
    grep -q "environment WA_DB_PASSWORD_FILE: key 'db_password_file': cannot read $T/nothing" <<<"$out"

WA_BIND_ADDRESS='*' start m1 wamaster
lease_held() { [ -n "$(primary_master 2>/dev/null)" ]; }
wait_for 20 lease_held || fail "the Master with the password from a file did not take the lease"
check "a Master bound on * with hostname 127.0.0.1 warns" \
    grep -q "WARN .*this master binds \* but its hostname is 127.0.0.1: other hosts will be told to connect to a loopback address" "$T/m1.log"
start m2 wamaster
wait_for 20 grep -q "ready:" "$T/m2.log" || fail "the second Master is not ready"
check "a Master bound on 127.0.0.1 does not warn" bash -c "! grep -q 'loopback address' '$T/m2.log'"

# The other roles: a Coreapp bound on * warns as the Master does; a Webapp
# listening on * (webapp_bind) warns while its hostname is 127.0.0.1, not
# with a name of its own (webapp_hostname), nor listening on 127.0.0.1.
# Each is checked once it has registered, which it does after the check.
WA_BIND_ADDRESS='*' start c1 wacore
wait_for 20 grep -q "registered as node" "$T/c1.log" || fail "the Coreapp bound on * did not register"
check "a Coreapp bound on * with hostname 127.0.0.1 warns" \
    grep -q "WARN .*this coreapp binds \* but its hostname is 127.0.0.1: other hosts will be told to connect to a loopback address" "$T/c1.log"
registered() { wait_for 20 grep -q "registered as node" "$T/$1.log" || fail "the Webapp $1 did not register"; }
WARNING="WARN .*this webapp binds .* (webapp_bind) but its hostname is 127.0.0.1: it is registered as a loopback address"
WEBAPP_EXTERNAL_PORTS=$(free_port) WA_WEBAPP_BIND='*' start w1 waweb
registered w1
check "a Webapp on * with hostname 127.0.0.1 warns" grep -q "$WARNING" "$T/w1.log"
WEBAPP_EXTERNAL_PORTS=$(free_port) WA_WEBAPP_BIND='*' WA_WEBAPP_HOSTNAME=web2.example.net start w2 waweb
registered w2
check "a Webapp on * with a hostname of its own does not warn" bash -c "! grep -q 'loopback address' '$T/w2.log'"
WEBAPP_EXTERNAL_PORTS=$(free_port) WA_WEBAPP_BIND=127.0.0.1 start w3 waweb
registered w3
check "a Webapp on 127.0.0.1 does not warn" bash -c "! grep -q 'loopback address' '$T/w3.log'"
note "WA_ variables, comments, db_password_file in a running Master, the loopback warning of each role"
