#!/usr/bin/env bash
# Runs bench/fleet-sim against a fresh wfmd on 127.0.0.1 (temporary data dir, port 0) and
# prints per run a summary (throughput, errors, wfmd's peak RSS). Usage: bench/fleet-sim.sh [BUILD_DIR]
# Environment: DEVICES (1000), CONCURRENCY (32), PHASES (onboard,poll,git,status),
# DURATION (10: seconds of the poll and git phases), RATE (unset: no cap),
# CONN_MODE (device: a device reuses its connection within a visit; request: a new
# connection per request), POLLS_PER_VISIT (10), RUNS (3: each run a fresh wfmd and data dir;
# the figures are medians, the peak RSS the max), TIMEOUT (900 s per run), VERBOSE (0; 1: the
# simulator's whole output, per route and status; always shown when a request failed),
# WFMD (BUILD_DIR/server/wfmd). Prints one summary line per run on stderr.
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
runs=${RUNS:-3}
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

dur=${DURATION:-10}
dur=${dur%s} # bench/run's DURATION is wrk's (10s); fleet-sim wants seconds
conc=${CONCURRENCY:-32}
mode=${CONN_MODE:-device}
polls=${POLLS_PER_VISIT:-10}
phases=${PHASES:-onboard,poll,git,status}
echo "fleet-sim benchmark: $devices devices, concurrency $conc, phases $phases, connections $mode," \
	"$polls polls per visit, ${dur} s poll/git, median of $runs runs, $(nproc) cores" >&2
failed=0
for ((run = 1; run <= runs; run++)); do
	rm -rf "$data/wfm"
	"$wfmd" serve --data-dir "$data/wfm" --listen 127.0.0.1:0 --log-level warn >"$data/wfmd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$data/wfm/public-url" ] && break; sleep 0.1; done
	[ -s "$data/wfm/public-url" ] || { echo "fleet-sim.sh: wfmd did not start" >&2; cat "$data/wfmd.log" >&2; exit 1; }
	set +e
	timeout "${TIMEOUT:-900}" "$sim" --url "$(cat "$data/wfm/public-url")" --ca-file "$data/wfm/ca.crt" \
		--admin-token-file "$data/wfm/admin.token" --devices "$devices" --concurrency "$conc" \
		--phases "$phases" --duration "$dur" --connections "$mode" --polls-per-visit "$polls" \
		${RATE:+--rate "$RATE"} >"$data/out.$run"
	rc=$?
	set -e
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
	echo "wfmd peak_rss_kib=$hwm devices=$devices" >>"$data/out.$run"
	echo "$hwm" >>"$data/hwm"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
	# The whole output (per route and status) with VERBOSE=1 or when a request failed.
	if [ "${VERBOSE:-0}" = 1 ] || [ "$rc" -ne 0 ]; then cat "$data/out.$run"; fi
	o=$data/out.$run
	summary=
	[ -n "$(field onboard errors "$o")" ] && summary+="onboard $(field onboard devices_per_s "$o") devices/s ($(field onboard errors "$o") errors, p50 $(field onboard p50_ms "$o") ms, p99 $(field onboard p99_ms "$o") ms), "
	[ -n "$(field poll errors "$o")" ] && summary+="poll $(field poll req_per_s "$o") req/s ($(field poll errors "$o") errors), "
	[ -n "$(field git errors "$o")" ] && summary+="git $(field git ops_per_s "$o") ops/s ($(field git errors "$o") errors), "
	[ -n "$(field status errors "$o")" ] && summary+="status $(field status req_per_s "$o") req/s ($(field status errors "$o") errors), "
	summary+="wfmd VmHWM $hwm KiB"
	echo "  run $run: $summary" >&2
	[ "$rc" -eq 0 ] || { failed=1; echo "fleet-sim.sh: run $run: fleet-sim exited $rc" >&2; }
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
		echo "fleet.wfmd_hwm_kib $(sort -n "$data/hwm" | tail -1)"
	} >>"$BENCH_RESULTS"
fi
exit $failed
