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
# With BENCH_CPU=FILE, also appends "NAME WFMD_US PG_US" to FILE: the CPU time (user +
# system) per request over the runs of wfmd ($WFMD_PID) and of the postgres user's processes
# (a PostgreSQL store on this machine; 0 without), in microseconds.
wrk_median() {
	local name=$1 script=$2 path=$3 i out rps=()
	[[ -z "${BENCH_CPU:-}" ]] || wrk_cpu_ticks >"$BENCH_CPU.t0"
	for ((i = 1; i <= RUNS; i++)); do
		out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$script" "$WFM_URL$path" | grep '^RESULT')
		echo "  $name run $i: ${out#RESULT }" >&2
		[[ "$out" == *" errors=0 failed=0" ]] || e2e_die "$name: failed requests during the run"
		rps+=("$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")")
	done
	if [[ -n "${BENCH_CPU:-}" ]]; then
		wrk_cpu_ticks >"$BENCH_CPU.t1"
		awk -v name="${name// /_}" -v hz="$(getconf CLK_TCK)" -v secs="${DURATION%s}" \
			-v reqs="$(printf '%s+' "${rps[@]}")0" '
			BEGIN { split(reqs, r, "+"); for (i in r) n += r[i] * secs }
			NR == FNR { b[$1 " " $2] = $3; next }
			{ t[$1] += $3 - (($1 " " $2) in b ? b[$1 " " $2] : 0) }
			END { printf "%s %.1f %.1f\n", name, t["wfmd"] * 1e6 / hz / n,
				t["pg"] * 1e6 / hz / n }' "$BENCH_CPU.t0" "$BENCH_CPU.t1" >>"$BENCH_CPU"
	fi
	printf '%s\n' "${rps[@]}" | median
}

# wrk_cpu_ticks: "wfmd PID TICKS" and "pg PID TICKS" lines (user + system clock ticks so far)
# for wfmd and each process of the postgres user.
wrk_cpu_ticks() {
	local p
	awk -v p="$WFMD_PID" '{ print "wfmd", p, $14 + $15 }' "/proc/$WFMD_PID/stat" 2>/dev/null || true
	for p in $(pgrep -u postgres postgres || true); do
		awk -v p="$p" '{ print "pg", p, $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
	done
}

# bench_result KEY VALUE: records a figure for bench/results.md when BENCH_RESULTS names a file
# (bench/run sets it); one "KEY VALUE" line.
bench_result() { if [[ -n "${BENCH_RESULTS:-}" ]]; then printf '%s %s\n' "$1" "$2" >>"$BENCH_RESULTS"; fi; }
