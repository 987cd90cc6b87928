#!/usr/bin/env bash
# A node never runs against a schema newer than its build: it says so and
# exits 1 (upgrade the node, not the database). Nodes wait for an older one.
# A migration run again after an earlier run made its ALTER TABLE but not
# the version's update is completed, not stuck on "Duplicate column".
. "$(dirname "$0")/lib.sh"
cluster_init
start c1 wacore
wait_for 10 grep -q "waiting for schema version" "$T/c1.log" || fail "a Coreapp did not wait for the schema"
start gate wagate; start m1 wamaster
wait_healthy 30
check "wactl schema says up to date" bash -c "'$BIN/wactl' -c '$CONF' schema | grep -q 'up to date'"
note "migrations from 17 on run again, as after a run cut short before the version moved: 17's ALTER TABLE is kept"
LATEST=$(q "SELECT version FROM schema_version WHERE id = 1")
q "UPDATE schema_version SET version = 16 WHERE id = 1"
kill -TERM "$PID_m1"; wait "$PID_m1" 2>/dev/null || true
start m2 wamaster
migrated() { [ "$(q "SELECT version FROM schema_version WHERE id = 1")" = "$LATEST" ]; }
wait_for 30 migrated || fail "the migration run again did not end: $(grep "migration" "$T/m2.log" | tail -3)"
grep -q "made by an earlier run, kept" "$T/m2.log" || fail "the Master did not meet the earlier run's ALTER: $(grep migration "$T/m2.log")"
wait_healthy 30
q "UPDATE schema_version SET version = 99 WHERE id = 1"
start c2 wacore
wait_for 15 bash -c "! kill -0 $PID_c2" || fail "a Coreapp ran against a newer schema"
set +e; wait "$PID_c2"; rc=$?; set -e
check "it exits 1 (got $rc)" [ "$rc" = 1 ]
check "its log says why" grep -q "schema version 99 is newer than this build" "$T/c2.log"
check "it never registered" [ "$(q "SELECT COUNT(*) FROM nodes WHERE pid = $PID_c2")" = 0 ]
q "UPDATE schema_version SET version = 2 WHERE id = 1"
check "0 overlaps at wagate" overlaps_zero
note "a Coreapp waited for the schema, and one refused a newer schema"
