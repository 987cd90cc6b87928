#!/usr/bin/env bash
# The test runner behind make test / unit / integration / asan / memcheck.
#   scripts/run-tests.sh unit|integration|all
# Unit tests are the cmocka programs in $WA_TEST_BIN (build/tests); with
# WA_MEMCHECK=1 each runs under valgrind with an error exit. Integration
# tests are tests/integration/test_*.sh, run against one private MariaDB
# this script starts in a temporary folder (and stops). WA_TESTS=pattern
# selects integration tests by name. The compose suite is
# tests/compose/compose-test.sh short (make test; it says itself when no
# Docker engine answers and passes); WA_COMPOSE=0 leaves it out.
set -uo pipefail
cd "$(dirname "$0")/.."
export WA_BIN=${WA_BIN:-$PWD/bin}
TEST_BIN=${WA_TEST_BIN:-build/tests}
passed=0; failed=0; failures=()

run_unit() {
    local t
    for t in "$TEST_BIN"/test_*; do
        [ -x "$t" ] || continue
        local name; name=$(basename "$t")
        local cmd=("$t")
        if [ -n "${WA_MEMCHECK:-}" ]; then
            cmd=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "$t")
            export WA_FUZZ_ITERATIONS=20000
        fi
        if "${cmd[@]}" > "/tmp/wa-unit-$name.log" 2>&1; then
            passed=$((passed + 1)); echo "ok   unit/$name ($(grep -c '\[       OK \]' "/tmp/wa-unit-$name.log") cases)"
        else
            failed=$((failed + 1)); failures+=("unit/$name"); echo "FAIL unit/$name"; tail -n 30 "/tmp/wa-unit-$name.log"
        fi
    done
}

run_integration() {
    local RUN; RUN=$(mktemp -d /tmp/wa-testdb.XXXXXX)
    . scripts/cluster-lib.sh
    local port tries=0
    # Another program may take the port between the check and the bind: retry.
    while port=$(free_port); echo "starting a private MariaDB for the integration tests on 127.0.0.1:$port ($RUN)"
          ! db_start "$port"; do
        db_stop
        tries=$((tries + 1))
        [ "$tries" -lt 3 ] || break
    done
    if [ "$tries" -ge 3 ]; then
        failed=$((failed + 1)); failures+=("integration/mariadb"); return
    fi
    export WA_TEST_DB_PORT=$port WA_TEST_DB_RUN=$RUN
    local t
    for t in tests/integration/test_*.sh; do
        local name; name=$(basename "$t" .sh)
        [ -z "${WA_TESTS:-}" ] || [[ $name == *$WA_TESTS* ]] || continue
        local start; start=$(date +%s)
        if timeout 300 bash "$t"; then
            passed=$((passed + 1)); echo "ok   integration/$name ($(( $(date +%s) - start )) s)"
        else
            failed=$((failed + 1)); failures+=("integration/$name"); echo "FAIL integration/$name"
        fi
        # A test may have restarted the database; make sure it runs for the next.
        db_sql -e 'SELECT 1' >/dev/null 2>&1 || db_start "$port" || true
    done
    db_stop
    rm -rf "$RUN"
}

run_compose() {
    [ "${WA_COMPOSE:-1}" != 0 ] || { echo "skipped compose tests: WA_COMPOSE=0"; return; }
    # Sanitized builds are for the programs on this host; the images build their own.
    [ -z "${WA_SANITIZER_REPORTS:-}" ] || { echo "skipped compose tests: a sanitizer run"; return; }
    local start; start=$(date +%s)
    if timeout 900 tests/compose/compose-test.sh short; then
        passed=$((passed + 1)); echo "ok   compose/short ($(( $(date +%s) - start )) s)"
    else
        failed=$((failed + 1)); failures+=("compose/short"); echo "FAIL compose/short"
    fi
}

case "${1:-all}" in
    unit) run_unit ;;
    integration) run_integration ;;
    compose) run_compose ;;
    all) run_unit; run_integration; run_compose ;;
    *) echo "usage: $0 unit|integration|compose|all" >&2; exit 2 ;;
esac
# Sanitizers write a report file per process that found something, also for
# daemons whose exit status no test looks at.
if [ -n "${WA_SANITIZER_REPORTS:-}" ]; then
    reports=$(grep -l 'ERROR\|runtime error' "$WA_SANITIZER_REPORTS"/* 2>/dev/null)
    if [ -n "$reports" ]; then
        failed=$((failed + 1)); failures+=("sanitizer reports in $WA_SANITIZER_REPORTS")
        head -n 40 $reports
    fi
fi
echo
[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
