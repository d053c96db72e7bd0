# shellcheck shell=bash
# wrk for the benchmarks (sourced by bench/common.sh and bench/ha.sh): the load parameters, a
# wrk script writer, a median, and bench_result.
# Env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3.
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

# wrk_script OUT METHOD [HEADER VALUE-FILE]... [--body FILE]: a wrk Lua script sending one
# request shape, its values read from files (secrets stay in the 0600 temp dir, deleted with
# it), and printing one "RESULT rps=... errors=N failed=N" line (failed: status >= 400).
wrk_script() {
	local out=$1 method=$2
	shift 2
	lua_string() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1"; }
	printf 'wrk.method = "%s"\n' "$method" >"$out"
	while [[ $# -gt 0 ]]; do
		if [[ "$1" == --body ]]; then
			printf 'wrk.body = "%s"\n' "$(lua_string "$2")" >>"$out"
		else
			printf 'wrk.headers["%s"] = "%s"\n' "$1" "$(lua_string "$2")" >>"$out"
		fi
		shift 2
	done
	cat >>"$out" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d failed=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# wrk_median NAME SCRIPT PATH: RUNS wrk runs against $WFM_URL$PATH; prints the median
# requests/s; dies when any request failed.
wrk_median() {
	local name=$1 script=$2 path=$3 i out rps=()
	for ((i = 1; i <= RUNS; i++)); do
		out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$script" "$WFM_URL$path" | grep '^RESULT')
		echo "  $name run $i: ${out#RESULT }" >&2
		[[ "$out" == *" errors=0 failed=0" ]] || e2e_die "$name: failed requests during the run"
		rps+=("$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")")
	done
	printf '%s\n' "${rps[@]}" | median
}

# bench_result KEY VALUE: records a figure for bench/results.md when BENCH_RESULTS names a file
# (bench/run sets it); one "KEY VALUE" line.
bench_result() { if [[ -n "${BENCH_RESULTS:-}" ]]; then printf '%s %s\n' "$1" "$2" >>"$BENCH_RESULTS"; fi; }
