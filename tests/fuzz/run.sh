#!/usr/bin/env bash
# Run the libFuzzer harnesses built by `make fuzz` (build-fuzz/bin/fuzz_*),
# each for FUZZ_SECONDS (20) over its working corpus build-fuzz/corpus/<t>
# (what it finds is added there) and its committed seeds tests/fuzz/corpus/<t>
# (read only), with its dictionary when there is one. A crash, a leak or a
# sanitizer report stops everything: the status is non-zero and the input
# that did it is under build-fuzz/artifacts/<t>/. Each run's log is
# build-fuzz/logs/<t>.log; a summary line per target is printed.
#
#   tests/fuzz/run.sh [target ...]      (default: every harness)
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
# The longest input worth trying per target: a little over the largest input
# the parser takes, so the "too long" paths are reached too.
declare -A MAX_LEN=(
    [codec]=17000           # a frame with a full text (WA_TEXT_MAX 16384)
    [http_input]=4096
    [http_auth]=1024        # a Basic header is refused past 680 base64 characters
    [http_route]=512
    [message]=8192          # a text body of WA_MESSAGE_BODY_MAX (4096) and its escapes
    [account]=8192          # a cert of WA_ACCOUNT_CERT_MAX (4096), 100 contacts
    [config]=4096           # lines of up to 1022 characters
    [settings]=4096
    [cbevent]=10000         # a payload of CBEVENT_PAYLOAD_MAX (8000)
    [account_state]=8192    # a backup's content with users, state and providers
    [providers]=6000        # 16 providers, or a bearer token of 2048
    [app_settings]=4096     # every setting, nested and flat
    [idempotency]=128       # a caller and a key of 64
    [account_blobs]=20000   # three chunks of WA_BLOB_CHUNK (6000) and their rows
)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(codec http_input http_auth http_route message account config settings cbevent certs
                                     account_state providers app_settings idempotency account_blobs)
mkdir -p "$BUILD/logs"
printf '%-13s %6s %11s %9s %6s %6s %7s\n' target secs execs exec/s cov ft corpus
for t in "${targets[@]}"; do
    bin=$BUILD/bin/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz-build)" >&2; exit 2; }
    work=$BUILD/corpus/$t artifacts=$BUILD/artifacts/$t log=$BUILD/logs/$t.log
    mkdir -p "$work" "$artifacts"
    args=(-max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN[$t]:-4096}" -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" "${args[@]}" "$work" "tests/fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    # The last status line: "#N DONE cov: C ft: F corp: K/..." and the stats.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
    printf '%-13s %6s %11s %9s %6s %6s %7s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    if [ $rc -ne 0 ]; then
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz: $t failed (status $rc); the log is $log" >&2
        grep -m 5 -E 'ERROR: |runtime error|fuzz: property failed|SUMMARY' "$log" >&2
        [ -n "$crash" ] && echo "fuzz: the input is $crash (replay: $bin $crash)" >&2
        exit 1
    fi
done
