#!/usr/bin/env bash
# tests/pg/pgtmp.sh, the PostgreSQL the store tests start themselves: `run` gives CMD a
# server that answers at WFMD_TEST_PG, passes CMD's exit status through and removes the
# cluster afterwards, also when CMD fails or pgtmp itself is terminated; `start`/`stop` run
# the server as the unprivileged postgres user (when root), on 127.0.0.1 only and a socket in
# the temp dir, and stop it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PGTMP=$SRC_DIR/tests/pg/pgtmp.sh
e2e_setup
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "skip: no postgresql-15"; exit 77; }

# gone DIR: the cluster that lived in DIR is stopped and DIR removed.
gone() {
	local port=$1
	! [[ -e $2 ]] && ! psql "postgresql://postgres@127.0.0.1:$port/postgres" -Atc 'SELECT 1' \
		>/dev/null 2>&1
}

e2e_step "run: CMD reaches PostgreSQL, its exit status comes back, the cluster is removed"
rc=0
bash "$PGTMP" run bash -c 'echo "$PGTMP_DIR $(<"$PGTMP_DIR/port")" >"$0";
	psql "$WFMD_TEST_PG" -Atc "SELECT 40 + 2"; exit 3' "$T/run1" >"$T/run1.out" 2>"$T/run1.err" || rc=$?
assert_eq "$rc" 3 "CMD's exit status"
assert_eq "$(<"$T/run1.out")" 42 "CMD's query answered"
read -r dir1 port1 <"$T/run1"
assert_true "the failure shows PostgreSQL's log" grep -q "exited 3; PostgreSQL's log" "$T/run1.err"
assert_true "cluster stopped and its temp dir removed" gone "$port1" "$dir1"

e2e_step "run, terminated while CMD runs: CMD and PostgreSQL stopped, temp dir removed"
bash "$PGTMP" run bash -c 'echo "$PGTMP_DIR $(<"$PGTMP_DIR/port")" >"$0"; sleep 60' "$T/run2" \
	>/dev/null 2>&1 &
run_pid=$!
e2e_track "$run_pid"
e2e_wait_for 30 test -s "$T/run2" || e2e_die "pgtmp run did not start CMD"
read -r dir2 port2 <"$T/run2"
kill -TERM "$run_pid"
rc=0
wait "$run_pid" || rc=$?
e2e_untrack "$run_pid"
assert_eq "$rc" 143 "pgtmp run's status after SIGTERM"
assert_true "cluster stopped and its temp dir removed" gone "$port2" "$dir2"
assert_false "CMD stopped" pgrep -f "sleep 60.*$T/run2"

e2e_step "start/stop: loopback only, a socket in DIR, not as root; stop ends it"
# The postgres user must reach DIR: a searchable (not readable) $T.
chmod 0711 "$T"
bash "$PGTMP" start "$T/pg" 2>"$T/start.err" || e2e_die "pgtmp start: $(<"$T/start.err")"
port=$(<"$T/pg/port")
pm=$(head -n 1 "$T/pg/data/postmaster.pid")
e2e_track "$pm"
assert_eq "$(<"$T/pg/url")" "postgresql://postgres@127.0.0.1:$port/postgres" "url"
assert_eq "$(psql "$(<"$T/pg/url")" -Atc 'SELECT 1')" 1 "answers on 127.0.0.1"
assert_true "listens on 127.0.0.1:$port" bash -c "ss -Hltn | grep -q '127.0.0.1:$port '"
assert_eq "$(ss -Hltn | grep -c ":$port ")" 1 "listens nowhere else"
assert_true "its socket in DIR" test -S "$T/pg/sock/.s.PGSQL.$port"
if [[ $(id -u) -eq 0 ]]; then
	assert_eq "$(ps -o user= -p "$pm")" postgres "runs as postgres, not root"
fi
bash "$PGTMP" stop "$T/pg"
e2e_untrack "$pm"
assert_true "stopped" e2e_wait_for 10 bash -c "! kill -0 $pm 2>/dev/null"
assert_true "stop again is a no-op" bash "$PGTMP" stop "$T/pg"

e2e_finish
