#!/usr/bin/env bash
# The test runner behind make test / unit / integration / asan / memcheck.
#   scripts/run-tests.sh unit|integration|all
# Unit tests are the cmocka programs in $WA_TEST_BIN (build/tests); with
# WA_MEMCHECK=1 each runs under valgrind with an error exit. Integration
# tests are tests/integration/test_*.sh, run against one private MariaDB
# this script starts in a temporary folder (and stops). WA_TESTS=pattern
# selects integration tests by name. The compose suite is
# tests/compose/compose-test.sh short (make test). It runs when a Docker
# engine answers and docker-compose is there; otherwise the summary has
# "skip compose/short: WHY", counted as skipped, not passed. Its images are
# made in the background (nice 10) while the unit and integration tests
# run: the base images first when missing (docker-compose/base-image.sh,
# debootstrap from Debian's packages: 99 s here beside the tests), then
# the wacluster images (a minute, cached layers after). WA_COMPOSE=0
# leaves it out; make compose-test runs all of it.
set -uo pipefail
cd "$(dirname "$0")/.."
export WA_BIN=${WA_BIN:-$PWD/bin}
TEST_BIN=${WA_TEST_BIN:-build/tests}
passed=0; failed=0; failures=(); skipped=()
# An integration test's time limit; a sanitized build runs two to three
# times slower (the chaos suite's short set takes about four minutes).
TEST_LIMIT=300
[ -z "${WA_SANITIZER_REPORTS:-}" ] || TEST_LIMIT=600

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

# One integration test, its output into $LOGS/NAME.log; its verdict is
# appended to $LOGS/results, and the log is printed once it ends (under a
# lock, so the lanes' outputs do not mix).
run_one() {
    local t=$1 name start rc
    name=$(basename "$t" .sh)
    start=$(date +%s)
    timeout "$TEST_LIMIT" bash "$t" > "$LOGS/$name.log" 2>&1; rc=$?
    {
        flock 9
        cat "$LOGS/$name.log"
        if [ "$rc" = 0 ]; then
            echo "ok   integration/$name ($(( $(date +%s) - start )) s)"
            echo "ok $name" >> "$LOGS/results"
        else
            echo "FAIL integration/$name$([ "$rc" = 124 ] && echo " (timed out after $TEST_LIMIT s)")"
            echo "FAIL $name" >> "$LOGS/results"
        fi
    } 9>"$LOGS/lock"
}

# A lane takes the next test nobody has claimed (mkdir is atomic) until
# none is left.
run_lane() {
    local t
    for t in "$@"; do
        mkdir "$LOGS/claims/$(basename "$t")" 2>/dev/null || continue
        run_one "$t"
    done
}

# The integration tests run in lanes (WA_TEST_JOBS, 2 by default; 1 runs
# them one after another). Each test has its own database, temp folder and
# ports, so most share the runner's MariaDB side by side; a test's header
# may say where it must run instead:
#   # lane: hosts   network namespaces, installs, CPU-heavy: one after
#                   another in the first lane (which then helps the others)
#   # lane: alone   touches what every test shares (restarts the runner's
#                   MariaDB) or times what load beside it would slow (the
#                   HTTP edge under a flood): after every other test, with
#                   nothing beside it
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
    LOGS=$RUN/tests; mkdir -p "$LOGS/claims"; : > "$LOGS/results"
    local t name lane shared=() hosts=() alone=()
    for t in tests/integration/test_*.sh; do
        name=$(basename "$t" .sh)
        [ -z "${WA_TESTS:-}" ] || [[ $name == *$WA_TESTS* ]] || continue
        lane=$(sed -n 's/^# lane: *\([a-z]*\).*/\1/p' "$t" | head -n 1)
        case "$lane" in
            hosts) hosts+=("$t") ;;
            alone) alone+=("$t") ;;
            *) shared+=("$t") ;;
        esac
    done
    local jobs=${WA_TEST_JOBS:-2}
    [[ $jobs =~ ^[1-9][0-9]?$ ]] || { echo "WA_TEST_JOBS must be a number from 1 to 99, not '$jobs'" >&2; exit 2; }
    echo "integration tests: ${#shared[@]} + ${#hosts[@]} (lane hosts) + ${#alone[@]} (alone) in $jobs lane(s)"
    local started=$(date +%s)
    if [ "$jobs" = 1 ]; then
        run_lane "${hosts[@]}" "${shared[@]}"
    else
        local lanes=()
        run_lane "${hosts[@]}" "${shared[@]}" & lanes+=($!)
        local i
        for (( i = 2; i <= jobs; i++ )); do
            run_lane "${shared[@]}" & lanes+=($!)
        done
        wait "${lanes[@]}"
    fi
    # A test may have restarted the database; make sure it runs for the next.
    db_sql -e 'SELECT 1' >/dev/null 2>&1 || db_start "$port" || true
    for t in "${alone[@]}"; do
        run_one "$t"
        db_sql -e 'SELECT 1' >/dev/null 2>&1 || db_start "$port" || true
    done
    echo "integration tests took $(( $(date +%s) - started )) s"
    passed=$((passed + $(grep -c '^ok ' "$LOGS/results")))
    local f
    for f in $(sed -n 's/^FAIL //p' "$LOGS/results"); do
        failed=$((failed + 1)); failures+=("integration/$f")
    done
    db_stop
    rm -rf "$RUN"
}

# Whether the compose test runs here: its reason when not ("" when it does).
compose_skip() {
    [ "${WA_COMPOSE:-1}" != 0 ] || { echo "WA_COMPOSE=0"; return; }
    # Sanitized builds are for the programs on this host; the images build their own.
    [ -z "${WA_SANITIZER_REPORTS:-}" ] || { echo "a sanitizer run"; return; }
    [ -z "${WA_TESTS:-}" ] || { echo "WA_TESTS selects integration tests"; return; }
    command -v docker >/dev/null 2>&1 || { echo "docker is not installed"; return; }
    local why
    why=$(docker info --format '{{.ServerVersion}}' 2>&1) \
        || { echo "no Docker engine answers (docker info: $(grep . <<<"$why" | head -n 1))"; return; }
    command -v docker-compose >/dev/null 2>&1 || { echo "docker-compose is not installed (Debian's package docker-compose)"; return; }
}
# The images, in the background (at a lower priority) from the start: on a
# machine that has none, the base images first, from Debian's packages
# (docker-compose/base-image.sh: a few minutes, once), then the image build.
COMPOSE_PREP_PID=
run_compose_prepare() {
    [ -z "$(compose_skip)" ] || return 0
    local image missing=
    for image in "${WA_BASE_IMAGE:-wacluster-base:bookworm}" "${WA_DB_BASE_IMAGE:-wacluster-db-base:bookworm}" \
                 "${WA_BUILD_BASE_IMAGE:-wacluster-build-base:bookworm}"; do
        docker image inspect "$image" >/dev/null 2>&1 || missing="$missing $image"
    done
    local first=
    [ -z "$missing" ] || first=" (first the base images, from Debian packages, a few minutes:$missing)"
    echo "compose test: making its images in the background$first (log: /tmp/wa-compose-prepare.log)"
    nice -n 10 tests/compose/compose-test.sh prepare > /tmp/wa-compose-prepare.log 2>&1 &
    COMPOSE_PREP_PID=$!
}
# compose/short: passed when it printed its "ok   compose/short" line (the
# one printed), skipped with its reason when it could not run here.
run_compose() {
    local why; why=$(compose_skip)
    if [ -n "$why" ]; then
        skipped+=("compose/short: $why"); echo "skip compose/short: $why (make compose-test runs all of it)"; return
    fi
    local start; start=$(date +%s)
    if [ -n "$COMPOSE_PREP_PID" ]; then
        if ! wait "$COMPOSE_PREP_PID"; then
            failed=$((failed + 1)); failures+=("compose/prepare"); echo "FAIL compose/prepare"
            tail -n 30 /tmp/wa-compose-prepare.log; return
        fi
        sed 's/^/  /' /tmp/wa-compose-prepare.log
        echo "  compose test: the images were ready $(( $(date +%s) - start )) s after the other tests ended"
    fi
    local rc=0 log=/tmp/wa-compose-short.log
    timeout 900 tests/compose/compose-test.sh short 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    if [ "$rc" = 0 ] && grep -q '^ok   compose/short' "$log"; then
        passed=$((passed + 1))
    elif [ "$rc" = 0 ] && why=$(sed -n 's/^skip compose\/short: //p' "$log" | head -n 1) && [ -n "$why" ]; then
        skipped+=("compose/short: $why")
    else
        failed=$((failed + 1)); failures+=("compose/short"); echo "FAIL compose/short (exit $rc after $(( $(date +%s) - start )) s)"
    fi
}

case "${1:-all}" in
    unit) run_unit ;;
    integration) run_integration ;;
    compose) run_compose ;;
    all) run_compose_prepare; run_unit; run_integration; run_compose ;;
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
[ ${#skipped[@]} -eq 0 ] || printf 'skipped: %s\n' "${skipped[@]}"
echo "$passed passed, $failed failed, ${#skipped[@]} skipped"
[ "$failed" -eq 0 ]
