#!/usr/bin/env bash
# make bench-api: bench/api.sh three times, the runs issue 15 keeps
# measured, then their tables together:
#   1. 64 connections, 1 shard, the full path and the anchor (the ratio);
#   2. 256 connections, the full path and the anchor;
#   3. 64 connections, 2 shards, the full path only.
# With WA_BENCH_CONNECTIONS, WA_BENCH_SHARDS or WA_BENCH_ONLY set, the one
# run they describe instead. Every other WA_BENCH_* setting reaches each run
# (bench/api.sh lists them). Exit status 1 when any run failed, 130 when
# interrupted (the runs after it are not made). A Ctrl-C while a cluster
# starts may be taken by the command the script waits on (a wactl that
# stops cleanly on it, so bash goes on): press it again once the load runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${WA_BENCH_CONNECTIONS:-}${WA_BENCH_SHARDS:-}${WA_BENCH_ONLY:-}" ]; then
    exec bench/api.sh
fi
OUT=$(mktemp -d /tmp/wa-bench-runs.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# A Ctrl-C stops the run under way (bench/api.sh stops its cluster) and
# the runs after it.
trap 'echo "bench-api: interrupted" >&2; exit 130' INT TERM
rc=0
run() {
    local n=$1 status; shift
    echo "==== bench-api, run $n of 3: $*"
    # tee ignores a Ctrl-C, so that bench/api.sh's last lines still show;
    # bench/api.sh's status 130 (interrupted) ends the runs.
    set +e
    env "$@" bench/api.sh 2>&1 | (trap '' INT; exec tee "$OUT/$n")
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" != 130 ] || { echo "bench-api: interrupted" >&2; exit 130; }
    [ "$status" = 0 ] || rc=1
}
run 1 WA_BENCH_CONNECTIONS=64 WA_BENCH_SHARDS=1
run 2 WA_BENCH_CONNECTIONS=256 WA_BENCH_SHARDS=1
run 3 WA_BENCH_CONNECTIONS=64 WA_BENCH_SHARDS=2 WA_BENCH_ONLY=full
echo
echo "==== bench-api: the three runs"
for n in 1 2 3; do
    sed -n '/^bench-api: POST/,$p' "$OUT/$n"
    grep -q '^bench-api: POST' "$OUT/$n" || echo "run $n printed no table (see above)"
done
exit "$rc"
