#!/bin/bash
# Runs every libFuzzer target of a build for SECONDS each, seeded from the committed corpus
# (tests/fuzz/corpus/<target>/, read only) plus a working corpus in BUILD/corpus/<target>/
# that grows across runs. Prints one line per target with its executions; stops with the
# crash input kept in BUILD/artifacts/ when a target fails (crash, leak, sanitizer report or
# a broken invariant). Usage: tests/fuzz/run.sh BUILD SECONDS [TARGET...]
set -euo pipefail
build=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
seconds=${2:?usage: run.sh BUILD SECONDS [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
	set -- $(cd "$src" && ls fuzz_*.c | sed 's/\.c$//')
fi
mkdir -p "$build/artifacts" "$build/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total=0
for t in "$@"; do
	mkdir -p "$build/corpus/$t" "$src/corpus/$t"
	log=$build/logs/$t.log
	if ! "$build/tests/$t" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" -rss_limit_mb=2560 \
		"$build/corpus/$t" "$src/corpus/$t" >"$log" 2>&1; then
		echo "FAIL $t: see $log; input kept in $build/artifacts/" >&2
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 >&2 || true
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	printf '%-24s %12s execs %8s/s  0 crashes\n' "$t" "$execs" "$rate"
	total=$((total + execs))
done
printf '%-24s %12s execs\n' total "$total"
