#!/usr/bin/env bash
# Runs bench/fleet-sim against a fresh wfmd on 127.0.0.1 (temporary data dir, port 0) and
# prints its output plus wfmd's peak RSS (VmHWM). Usage: bench/fleet-sim.sh [BUILD_DIR]
# Environment: DEVICES (1000), CONCURRENCY (32), PHASES (onboard,poll,git,status),
# DURATION (10: seconds of the poll and git phases), RATE (unset: no cap),
# CONN_MODE (device: a device reuses its connection within a visit; request: a new
# connection per request), POLLS_PER_VISIT (10), RUNS (1: each run a fresh wfmd; the figures
# are medians), TIMEOUT (900 s per run), WFMD (BUILD_DIR/server/wfmd).
# With BENCH_RESULTS=FILE, appends fleet.devices fleet.onboard_dps fleet.onboard_errors
# fleet.onboard_p50_ms fleet.onboard_p99_ms fleet.poll_rps fleet.poll_errors fleet.git_ops
# fleet.git_errors fleet.status_rps fleet.status_errors fleet.wfmd_hwm_kib (phases not run
# are left out). Exits 1 when any request failed (after writing the figures).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
wfmd=${WFMD:-$build/server/wfmd}
sim=$build/bench/fleet-sim
[ -x "$wfmd" ] && [ -x "$sim" ] || { echo "fleet-sim.sh: build $build first (wfmd, fleet-sim)" >&2; exit 2; }
devices=${DEVICES:-1000}
runs=${RUNS:-1}
data=$(mktemp -d "${TMPDIR:-/tmp}/fleet-sim.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$data"
}
trap cleanup EXIT

# field PHASE KEY FILE: the value of KEY on the "phase=PHASE ..." line of FILE.
field() {
	awk -v p="phase=$1" -v k="$2" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) print kv[2] } }' "$3"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

failed=0
for ((run = 1; run <= runs; run++)); do
	rm -rf "$data/wfm"
	"$wfmd" serve --data-dir "$data/wfm" --listen 127.0.0.1:0 --log-level warn >"$data/wfmd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$data/wfm/public-url" ] && break; sleep 0.1; done
	[ -s "$data/wfm/public-url" ] || { echo "fleet-sim.sh: wfmd did not start" >&2; cat "$data/wfmd.log" >&2; exit 1; }
	[ "$runs" -gt 1 ] && echo "run $run of $runs"
	set +e
	timeout "${TIMEOUT:-900}" "$sim" --url "$(cat "$data/wfm/public-url")" --ca-file "$data/wfm/ca.crt" \
		--admin-token-file "$data/wfm/admin.token" --devices "$devices" \
		--concurrency "${CONCURRENCY:-32}" --phases "${PHASES:-onboard,poll,git,status}" \
		--duration "${DURATION:-10}" --connections "${CONN_MODE:-device}" \
		--polls-per-visit "${POLLS_PER_VISIT:-10}" ${RATE:+--rate "$RATE"} | tee "$data/out.$run"
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" -eq 0 ] || { failed=1; echo "fleet-sim.sh: run $run: fleet-sim exited $rc" >&2; }
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
	echo "wfmd peak_rss_kib=$hwm devices=$devices"
	echo "$hwm" >>"$data/hwm"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
done

# results KEY PHASE FIELD: the median over the runs of FIELD of PHASE, when the phase ran.
results() {
	local v
	v=$(for ((run = 1; run <= runs; run++)); do field "$2" "$3" "$data/out.$run"; done | median)
	[ -n "$v" ] && awk -v k="$1" -v v="$v" 'BEGIN { if (v == int(v)) print k, v; else printf "%s %.1f\n", k, v }'
	return 0
}
if [ -n "${BENCH_RESULTS:-}" ]; then
	{
		echo "fleet.devices $devices"
		results fleet.onboard_dps onboard devices_per_s
		results fleet.onboard_errors onboard errors
		results fleet.onboard_p50_ms onboard p50_ms
		results fleet.onboard_p99_ms onboard p99_ms
		results fleet.poll_rps poll req_per_s
		results fleet.poll_errors poll errors
		results fleet.git_ops git ops_per_s
		results fleet.git_errors git errors
		results fleet.status_rps status req_per_s
		results fleet.status_errors status errors
		echo "fleet.wfmd_hwm_kib $(median <"$data/hwm")"
	} >>"$BENCH_RESULTS"
fi
exit $failed
