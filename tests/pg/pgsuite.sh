#!/bin/bash
# One throwaway PostgreSQL (pgtmp.sh) shared by the store's unit suites of one ctest run, so
# that each suite does not pay for its own initdb and start: ctest's fixture pg_cluster
# (tests/CMakeLists.txt) starts it before the first pg/ suite and stops it after the last.
# Each suite's cases make and drop their own databases on it (tests/unit/store_fixture.h).
#
#     pgsuite.sh start STATE        # pgtmp.sh start in a new temp dir; the file STATE names it
#                                   # (a cluster a killed run left there is stopped first)
#     pgsuite.sh run STATE CMD...   # CMD with WFMD_TEST_PG and PGTMP_DIR of that cluster
#     pgsuite.sh stop STATE         # pgtmp.sh stop; the temp dir and STATE removed
set -euo pipefail

PGTMP=$(dirname "$0")/pgtmp.sh

pgsuite_die() {
	echo "pgsuite: $*" >&2
	exit 1
}

pgsuite_stop() {
	local state=$1 dir

	[ -f "$state" ] || return 0
	dir=$(<"$state")
	case $dir in /tmp/pgtmp.*) ;; *) pgsuite_die "$state does not name a pgtmp dir" ;; esac
	bash "$PGTMP" stop "$dir" || true
	rm -rf "$dir" "$state"
}

pgsuite_start() {
	local state=$1 dir

	pgsuite_stop "$state"
	dir=$(mktemp -d /tmp/pgtmp.XXXXXX)
	echo "$dir" >"$state"
	bash "$PGTMP" start "$dir" || { pgsuite_stop "$state"; pgsuite_die "no PostgreSQL"; }
}

pgsuite_run() {
	local state=$1 dir

	shift
	[ -f "$state" ] || pgsuite_die "no cluster recorded in $state (ctest starts it: pg/cluster_start)"
	dir=$(<"$state")
	[ -f "$dir/url" ] || pgsuite_die "the cluster in $dir did not start"
	WFMD_TEST_PG=$(<"$dir/url") PGTMP_DIR=$dir exec "$@"
}

case "${1:-}" in
start) [ $# -eq 2 ] || pgsuite_die "usage: pgsuite.sh start STATE"; pgsuite_start "$2" ;;
stop) [ $# -eq 2 ] || pgsuite_die "usage: pgsuite.sh stop STATE"; pgsuite_stop "$2" ;;
run) [ $# -ge 3 ] || pgsuite_die "usage: pgsuite.sh run STATE CMD..."; shift; pgsuite_run "$@" ;;
*) pgsuite_die "usage: pgsuite.sh start STATE | run STATE CMD... | stop STATE" ;;
esac
