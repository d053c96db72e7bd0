# shellcheck shell=bash
# Shared set-up of the wrk benchmarks (bench/http.sh, bench/git.sh): locations, the e2e
# fixtures (tests/e2e/lib.sh: a wfmd on a free loopback port in a temp dir, stopped on exit)
# and bench/wrk.sh (load parameters, wrk script writer, median, bench_result).
# Env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3 BENCH_STORE=(unset: SQLite).
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
. "$SRC_DIR/bench/wrk.sh"
. "$SRC_DIR/tests/e2e/lib.sh"
e2e_setup
# BENCH_STORE: a postgresql:// URL runs wfmd on that store (bench/pg.sh); unset, on SQLite.
wfmd_start --log-level warn ${BENCH_STORE:+--store "$BENCH_STORE"} ${BENCH_WFMD_ARGS:-}

# wfmd_hwm: wfmd's peak resident set (VmHWM) in KiB.
wfmd_hwm() { awk '/VmHWM/ {print $2}' "/proc/$WFMD_PID/status"; }

