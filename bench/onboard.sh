#!/usr/bin/env bash
# Onboarding rate of a fresh wfmd on 127.0.0.1: bench/fleet-sim onboards ONBOARD_DEVICES
# devices (its onboard phase: key, CSR-free signed request with an enrollment token, then
# the first token request), CONCURRENCY at a time; devices/s and errors. With BENCH_STORE
# (a postgresql:// URL) wfmd runs on that store (bench/pg.sh compares the two).
# Also the CPU time per device of wfmd and (on PostgreSQL) of the PostgreSQL server processes
# (the postgres user's), from /proc.
# Usage: bench/onboard.sh [BUILD_DIR]   (env: ONBOARD_DEVICES=2000 CONCURRENCY=64)
# With BENCH_RESULTS=FILE appends wfmd.onboard_dps, wfmd.onboard_errors,
# wfmd.onboard_wfmd_cpu_ms and (PostgreSQL) wfmd.onboard_pg_cpu_ms.
set -euo pipefail
ONBOARD_DEVICES=${ONBOARD_DEVICES:-2000}
CONC=${CONCURRENCY:-64}
. "$(dirname "$0")/common.sh"
sim=$BUILD_DIR/bench/fleet-sim
[[ -x "$sim" ]] || e2e_die "build $BUILD_DIR first (fleet-sim)"

field() {
	awk -v p="phase=$1" -v k="$2" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) print kv[2] } }' "$3"
}
# proc_ticks PIDS...: "pid ticks" (user + system) for each live process
proc_ticks() { local p; for p in "$@"; do awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done; }
pg_pids() { pgrep -u postgres -d ' ' postgres || true; }
# ms_per_device BEFORE AFTER: CPU ms per onboarded device of the processes in AFTER (those
# missing in BEFORE started during the run: all their time counts)
ms_per_device() {
	awk -v hz="$(getconf CLK_TCK)" -v n="$ONBOARD_DEVICES" 'NR == FNR { b[$1] = $2; next }
		{ t += $2 - ($1 in b ? b[$1] : 0) } END { printf "%.2f", t * 1000 / hz / n }' "$1" "$2"
}
proc_ticks "$WFMD_PID" >"$T/wfmd.t0"
# shellcheck disable=SC2046
proc_ticks $(pg_pids) >"$T/pg.t0"
"$sim" --url "$WFM_URL" --ca-file "$WFM_CA" --admin-token-file "$WFM_DIR/admin.token" \
	--concurrency "$CONC" --devices "$ONBOARD_DEVICES" --phases onboard \
	--state "$T/devices.state" >"$T/onboard.out" 2>&1 ||
	{ tail -30 "$T/onboard.out" >&2; e2e_die "fleet-sim failed"; }
proc_ticks "$WFMD_PID" >"$T/wfmd.t1"
# shellcheck disable=SC2046
proc_ticks $(pg_pids) >"$T/pg.t1"
wfmd_ms=$(ms_per_device "$T/wfmd.t0" "$T/wfmd.t1")
pg_ms=$(ms_per_device "$T/pg.t0" "$T/pg.t1")
dps=$(field onboard devices_per_s "$T/onboard.out")
errors=$(field onboard errors "$T/onboard.out")
[[ "$errors" == 0 ]] || e2e_die "onboarding saw $errors errors (log: $T/onboard.out)"
echo "  onboarding ${BENCH_STORE:+(postgresql) }$ONBOARD_DEVICES devices: $dps devices/s, p50 $(field onboard p50_ms "$T/onboard.out") ms; CPU per device: wfmd $wfmd_ms ms${BENCH_STORE:+, PostgreSQL $pg_ms ms}" >&2
bench_result wfmd.onboard_dps "$dps"
bench_result wfmd.onboard_errors "$errors"
bench_result wfmd.onboard_wfmd_cpu_ms "$wfmd_ms"
[[ -z "${BENCH_STORE:-}" ]] || bench_result wfmd.onboard_pg_cpu_ms "$pg_ms"
printf '| onboarding, devices/s (%s devices, %s at a time) | %s |\n' "$ONBOARD_DEVICES" "$CONC" "$dps"
wfmd_stop
