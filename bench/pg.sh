#!/usr/bin/env bash
# SQLite single node against PostgreSQL single replica (issue 10), on the same machine and
# in the same run: each round runs bench/http.sh (token requests), bench/git.sh
# (desired-state 304s, Git requests with keep-alive, git CLI operations) and bench/onboard.sh
# (fleet-sim onboarding) first on SQLite, then on PostgreSQL (BENCH_STORE: a fresh database
# each time), so that both see the same machine load; the figure is the median over ROUNDS.
#
# PostgreSQL is the tests' throwaway cluster (tests/pg/pgtmp.sh) made durable the way a
# production server is: fsync, full_page_writes and synchronous_commit on, 128 MB of shared
# buffers; wfmd reaches it over TCP on 127.0.0.1 as it would a database host. Onboarding is
# measured twice on it: with synchronous_commit on (PostgreSQL's default: a commit waits for
# its WAL flush) and off (a commit survives a crash of wfmd but not of the database host,
# which is what SQLite's WAL with synchronous=NORMAL, wfmd's setting, promises).
#
# Usage: bench/pg.sh [BUILD_DIR]   (env: ROUNDS=1, and those of the scripts it runs:
#        DURATION=10s CONNECTIONS=32 RUNS=3 COUNT=200 ONBOARD_DEVICES=2000)
# Each figure comes with the CPU time per request (per device for onboarding) of wfmd, and of
# PostgreSQL's processes: what a replica costs when the database has a host of its own.
# With BENCH_RESULTS=FILE appends pg.sqlite.KEY and pg.postgresql.KEY for each KEY below,
# pg.STORE.KEY_wfmd_cpu_us (ms for onboarding) and pg.postgresql.KEY_pg_cpu_us, and
# pg.postgresql_async.onboard_dps.
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
ROUNDS=${ROUNDS:-1}
. "$SRC_DIR/bench/wrk.sh"
KEYS="token_rps desired_304_rps git_inforefs_rps git_lsrefs_rps git_fetch1_rps git_fetch_ops git_clone_ops onboard_dps"

work=$(mktemp -d /tmp/bench-pg.XXXXXX)
chmod 0755 "$work"
pgdir=$work/pg
mkdir "$pgdir"
cleanup() { bash "$SRC_DIR/tests/pg/pgtmp.sh" stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
PGTMP_SETTINGS="-c fsync=on -c full_page_writes=on -c synchronous_commit=on -c shared_buffers=128MB" \
	bash "$SRC_DIR/tests/pg/pgtmp.sh" start "$pgdir"
port=$(<"$pgdir/port")

psql_admin() {
	if [[ "$(id -u)" == 0 ]]; then
		runuser -u postgres -- psql -X -q -h "$pgdir/sock" -p "$port" -d postgres "$@"
	else
		psql -X -q -h "$pgdir/sock" -p "$port" -d postgres "$@"
	fi
}
# fresh_db NAME [SETTING]: an empty database; its URL on stdout.
fresh_db() {
	psql_admin -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
	[[ -z "${2:-}" ]] || psql_admin -c "ALTER DATABASE $1 SET $2" >/dev/null
	echo "postgresql://postgres@127.0.0.1:$port/$1"
}
# one STORE ROUND: the three scripts on STORE (sqlite, postgresql, postgresql_async), their
# figures into $work/STORE.ROUND.
one() {
	local store=$1 round=$2 out=$work/$1.$2 url="" s
	: >"$out"
	for s in http git onboard; do
		[[ "$store" != postgresql_async || "$s" == onboard ]] || continue
		case $store in
		postgresql) url=$(fresh_db "bench_$s") ;;
		postgresql_async) url=$(fresh_db "bench_${s}_async" "synchronous_commit = off") ;;
		esac
		echo "== round $round, $store: bench/$s.sh" >&2
		BENCH_CPU=$out.cpu BENCH_STORE=$url BENCH_RESULTS=$out bash "$SRC_DIR/bench/$s.sh" "$BUILD_DIR" >"$work/last.out" ||
			{ cat "$work/last.out" >&2; echo "bench/pg.sh: bench/$s.sh failed on $store" >&2; exit 1; }
	done
}
# fig STORE KEY: the median of KEY over the rounds
fig() {
	local r
	for ((r = 1; r <= ROUNDS; r++)); do
		awk -v k="wfmd.$2" '$1 == k { print $2 }' "$work/$1.$r"
	done | median
}
# cpu STORE KEY COLUMN: the median over the rounds of the CPU microseconds per request
# (COLUMN 2: wfmd, 3: PostgreSQL) that wrk_median recorded for KEY's load; "" for the git CLI.
cpu() {
	local r load
	case $2 in
	token_rps) load=POST_/oauth2/token ;;
	desired_304_rps) load=desired-state_304 ;;
	git_inforefs_rps) load=git_info/refs_v2 ;;
	git_lsrefs_rps) load=git_ls-refs ;;
	git_fetch1_rps) load=git_fetch_of_one_new_commit ;;
	*) return 0 ;;
	esac
	for ((r = 1; r <= ROUNDS; r++)); do
		awk -v k="$load" -v c="$3" '$1 == k { print $c }' "$work/$1.$r.cpu"
	done | median
}

echo "bench/pg.sh: SQLite against PostgreSQL 15 (durable, TCP on 127.0.0.1), $ROUNDS round(s), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	one sqlite "$r"
	one postgresql "$r"
	one postgresql_async "$r"
done

name() {
	case $1 in
	token_rps) echo "POST /oauth2/token, req/s (keep-alive)" ;;
	desired_304_rps) echo "desired-state 304, req/s (keep-alive)" ;;
	git_inforefs_rps) echo "git info/refs, req/s (keep-alive)" ;;
	git_lsrefs_rps) echo "git ls-refs, req/s (keep-alive)" ;;
	git_fetch1_rps) echo "git fetch of one new commit, req/s (keep-alive)" ;;
	git_fetch_ops) echo "git fetch (no change) by the git CLI, ops/s" ;;
	git_clone_ops) echo "git clone by the git CLI, ops/s" ;;
	onboard_dps) echo "onboarding (fleet-sim), devices/s" ;;
	esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b != "") printf "%.2f", b / a }'; }
printf '| measure | SQLite | PostgreSQL | ratio | target | wfmd CPU per request, SQLite / PostgreSQL (ratio) | PostgreSQL CPU per request |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for k in $KEYS; do
	a=$(fig sqlite "$k") b=$(fig postgresql "$k")
	bench_result "pg.sqlite.$k" "$a"
	bench_result "pg.postgresql.$k" "$b"
	if [[ "$k" == onboard_dps ]]; then
		wa=$(fig sqlite onboard_wfmd_cpu_ms) wb=$(fig postgresql onboard_wfmd_cpu_ms)
		pb=$(fig postgresql onboard_pg_cpu_ms) unit=ms
	else
		wa=$(cpu sqlite "$k" 2) wb=$(cpu postgresql "$k" 2) pb=$(cpu postgresql "$k" 3) unit=us
	fi
	cpucol= pgcol=
	if [[ -n "$wa" ]]; then
		bench_result "pg.sqlite.${k}_wfmd_cpu_$unit" "$wa"
		bench_result "pg.postgresql.${k}_wfmd_cpu_$unit" "$wb"
		bench_result "pg.postgresql.${k}_pg_cpu_$unit" "$pb"
		cpucol="$wa / $wb $unit ($(ratio "$wb" "$wa"))" pgcol="$pb $unit"
	fi
	printf '| %s | %s | %s | %s | >= 0.7 | %s | %s |\n' "$(name "$k")" "$a" "$b" "$(ratio "$a" "$b")" \
		"$cpucol" "$pgcol"
done
c=$(fig postgresql_async onboard_dps) a=$(fig sqlite onboard_dps)
bench_result pg.postgresql_async.onboard_dps "$c"
printf '| onboarding, PostgreSQL with synchronous_commit off, devices/s | %s | %s | %s | | | |\n' "$a" "$c" \
	"$(ratio "$a" "$c")"
