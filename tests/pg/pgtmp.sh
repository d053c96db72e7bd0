#!/bin/bash
# The tests' own PostgreSQL: a throwaway cluster in a temp dir, loopback only.
#
#     pgtmp.sh start DIR     # initdb DIR/data, start on 127.0.0.1:<free port> and DIR/sock
#     pgtmp.sh stop DIR      # stop it (immediate shutdown); DIR is left to the caller
#     pgtmp.sh start DIR     # again, after stop: the same cluster on the same port
#     pgtmp.sh restart DIR [immediate|fast]  # stop (default immediate) and start on the
#                            # same port: what a PostgreSQL crash or upgrade looks like
#     pgtmp.sh run CMD...    # a fresh cluster in a new temp dir for CMD, torn down after
#                            # (also on failure or signal); CMD's exit status is returned
#
# After start: DIR/url holds the libpq URL (postgresql://postgres@127.0.0.1:PORT/postgres),
# DIR/port the port, DIR/log the server log. `run` exports WFMD_TEST_PG=<url> and
# PGTMP_DIR=<its temp dir> to CMD.
#
# initdb refuses to run as root, so as root the cluster runs as the `postgres` system user of
# Debian's postgresql-15 package (DIR is chowned to it); otherwise as the calling user.
# Authentication is `trust`: the server listens on 127.0.0.1 only and on a socket in DIR
# (mode 0700), it lives only as long as one test, and holds only test data. fsync is off:
# nothing here has to survive a crash of the machine. synchronous_commit stays on: a commit
# wfmd was told about must survive a crash of PostgreSQL (`restart DIR immediate`), as in
# production (with it off, the fault tests saw acknowledged devices vanish).
# PGTMP_SETTINGS: more server settings, after (so overriding) those above; the benchmarks
# (bench/pg.sh) give "-c fsync=on -c full_page_writes=on -c shared_buffers=128MB".
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres

pgtmp_die() {
	echo "pgtmp: $*" >&2
	exit 1
}

# as_owner CMD...: CMD as the cluster's owner (postgres when we are root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_start DIR PORT: the cluster in DIR/data on 127.0.0.1:PORT and DIR/sock.
pg_start() {
	as_owner "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 30 -s start -o \
		"-c listen_addresses=127.0.0.1 -p $2 -k $1/sock -c fsync=off \
		 -c full_page_writes=off -c shared_buffers=16MB \
		 -c max_connections=100 -c unix_socket_permissions=0700 ${PGTMP_SETTINGS:-}" \
		>/dev/null 2>&1
}

pgtmp_start() {
	local dir=$1 port try

	if [ -f "$dir/port" ] && [ -d "$dir/data" ]; then
		# A cluster stopped earlier: the same port, so that clients find it again.
		pg_start "$dir" "$(<"$dir/port")" ||
			pgtmp_die "PostgreSQL did not start again: $(tail -n 3 "$dir/log" 2>/dev/null)"
		return 0
	fi
	[ -x "$PG_BIN/initdb" ] || pgtmp_die "no $PG_BIN/initdb (Debian: apt-get install postgresql-15)"
	mkdir -p "$dir/sock"
	chmod 0700 "$dir" "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		id "$PG_USER" >/dev/null 2>&1 || pgtmp_die "no user $PG_USER to run PostgreSQL as"
		chown -R "$PG_USER:" "$dir"
		runuser -u "$PG_USER" -- test -w "$dir" ||
			pgtmp_die "$PG_USER cannot reach $dir (a parent directory is not searchable by others)"
	fi
	as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$dir/initdb.log" 2>&1 ||
		pgtmp_die "initdb failed: $(tail -n 3 "$dir/initdb.log")"
	# A free port can be taken between the probe and the bind: try a few.
	for try in 1 2 3 4 5; do
		port=$(free_port)
		if pg_start "$dir" "$port"; then
			echo "$port" >"$dir/port"
			echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
			return 0
		fi
	done
	pgtmp_die "PostgreSQL did not start (try $try): $(tail -n 3 "$dir/log" 2>/dev/null)"
}

pgtmp_stop() {
	local dir=$1 mode=${2:-immediate} pid

	[ -f "$dir/data/postmaster.pid" ] || return 0
	if ! as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 20 -s stop >/dev/null 2>&1; then
		# pg_ctl could not: the postmaster's own pid from its pid file, and only that.
		pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
	fi
}

pgtmp_run() {
	local dir rc=0

	dir=$(mktemp -d /tmp/pgtmp.XXXXXX)
	# shellcheck disable=SC2064
	trap "pgtmp_stop '$dir'; rm -rf '$dir'" EXIT
	pgtmp_start "$dir"
	# CMD in the background so that a signal to this script is handled now (bash runs traps
	# only between foreground commands): CMD is stopped, then the cluster (EXIT trap).
	WFMD_TEST_PG=$(<"$dir/url") PGTMP_DIR=$dir "$@" &
	PGTMP_CHILD=$!
	trap 'kill -TERM "$PGTMP_CHILD" 2>/dev/null; exit 130' INT
	trap 'kill -TERM "$PGTMP_CHILD" 2>/dev/null; exit 143' TERM
	wait "$PGTMP_CHILD" || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "pgtmp: '$*' exited $rc; PostgreSQL's log:" >&2
		tail -n 20 "$dir/log" >&2 || true
	fi
	return "$rc"
}

case "${1:-}" in
start) [ $# -eq 2 ] || pgtmp_die "usage: pgtmp.sh start DIR"; pgtmp_start "$2" ;;
stop) [ $# -eq 2 ] || pgtmp_die "usage: pgtmp.sh stop DIR"; pgtmp_stop "$2" ;;
restart)
	[ $# -eq 2 ] || { [ $# -eq 3 ] && [[ "$3" == immediate || "$3" == fast ]]; } ||
		pgtmp_die "usage: pgtmp.sh restart DIR [immediate|fast]"
	[ -f "$2/port" ] || pgtmp_die "no cluster in $2"
	pgtmp_stop "$2" "${3:-immediate}"
	pgtmp_start "$2" ;;
run) shift; [ $# -ge 1 ] || pgtmp_die "usage: pgtmp.sh run CMD..."; pgtmp_run "$@" ;;
*) pgtmp_die "usage: pgtmp.sh start DIR | stop DIR | restart DIR [immediate|fast] | run CMD..." ;;
esac
