#!/usr/bin/env bash
# wa_db's transactions against the test's MariaDB (tests/integration/probes/db.c):
# the server's own "in a transaction" flag is read right; a connection lost
# inside a transaction (KILL CONNECTION from another session) fails every
# later statement of it and its COMMIT, so that none of its work runs on a
# new connection outside of it (autocommitted) and no COMMIT answers OK for
# work that is gone, until a ROLLBACK or a failed COMMIT ends it; a unit of
# work that ends inside its transaction is rolled back (wa_db_settle, which
# each DB worker calls after each job).
. "$(dirname "$0")/lib.sh"

cluster_init
db_sql -e "CREATE DATABASE IF NOT EXISTS \`$DB\`"
q "CREATE TABLE probe_rows (v INT NOT NULL) ENGINE=InnoDB"
PROBE=${WA_TEST_BIN:-$ROOT/build/tests}/probe_db
[ -x "$PROBE" ] || fail "no $PROBE (make all builds it)"
"$PROBE" "$CONF" probe_rows > "$T/probe.out" 2>&1 || fail "$(grep -v '^ok' "$T/probe.out")"
sed 's/^/  /' "$T/probe.out"
[ "$(grep -c '^ok' "$T/probe.out")" = 16 ] || fail "not every step ran: $(cat "$T/probe.out")"
echo "ok $TEST"
