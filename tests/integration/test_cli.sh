#!/usr/bin/env bash
# Every program: --help, --version, -n; a bad config value or environment
# variable is a clear error naming the key and the value, and changes nothing.
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
note "--help, --version, -n and clear configuration errors for every program"
