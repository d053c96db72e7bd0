#!/usr/bin/env bash
# Onboarding rate of a fresh wfmd on 127.0.0.1: bench/fleet-sim onboards ONBOARD_DEVICES
# devices (its onboard phase: key, CSR-free signed request with an enrollment token, then
# the first token request), CONCURRENCY at a time; devices/s and errors. With BENCH_STORE
# (a postgresql:// URL) wfmd runs on that store (bench/pg.sh compares the two).
# Usage: bench/onboard.sh [BUILD_DIR]   (env: ONBOARD_DEVICES=2000 CONCURRENCY=64)
# With BENCH_RESULTS=FILE appends wfmd.onboard_dps and wfmd.onboard_errors.
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
"$sim" --url "$WFM_URL" --ca-file "$WFM_CA" --admin-token-file "$WFM_DIR/admin.token" \
	--concurrency "$CONC" --devices "$ONBOARD_DEVICES" --phases onboard \
	--state "$T/devices.state" >"$T/onboard.out" 2>&1 ||
	{ tail -30 "$T/onboard.out" >&2; e2e_die "fleet-sim failed"; }
dps=$(field onboard devices_per_s "$T/onboard.out")
errors=$(field onboard errors "$T/onboard.out")
[[ "$errors" == 0 ]] || e2e_die "onboarding saw $errors errors (log: $T/onboard.out)"
echo "  onboarding ${BENCH_STORE:+(postgresql) }$ONBOARD_DEVICES devices: $dps devices/s, p50 $(field onboard p50_ms "$T/onboard.out") ms" >&2
bench_result wfmd.onboard_dps "$dps"
bench_result wfmd.onboard_errors "$errors"
printf '| onboarding, devices/s (%s devices, %s at a time) | %s |\n' "$ONBOARD_DEVICES" "$CONC" "$dps"
wfmd_stop
