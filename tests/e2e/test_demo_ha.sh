#!/usr/bin/env bash
# make demo-ha (scripts/demo-ha): PostgreSQL, 3 wfmd replicas and HAProxy, and the whole demo
# flow through HAProxy. Run with --keep, then checked from outside: every demo step
# succeeded, all 3 replicas served requests, replica 2 was killed mid-flow and the flow went
# on through the other two (HAProxy marked it DOWN, nothing was served by it until its
# restart), the device converged (its deployment Installed, seen through HAProxy and in
# PostgreSQL itself), the token check and revocation ran on every replica, and the printed
# "how to stop" stops everything. Then a second run interrupted by SIGINT (Ctrl-C) half way:
# every process it started stops and its work directory goes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEMO_HA=$SRC_DIR/scripts/demo-ha
PG_BIN=/usr/lib/postgresql/15/bin
command -v haproxy >/dev/null || { echo "SKIP: haproxy not installed (scripts/install-deps)" >&2; exit 77; }
[[ -x "$PG_BIN/initdb" ]] || { echo "SKIP: postgresql-15 not installed (scripts/install-deps)" >&2; exit 77; }
e2e_setup
# The demo's PostgreSQL runs as the postgres user (when root): it must reach the work dir.
chmod 0711 "$T"

# track_all DIR: every process demo-ha started in DIR, tracked so a failing test stops them.
track_all() {
	local f
	for f in "$1"/r*.pid "$1/haproxy.pid"; do
		[[ -f "$f" ]] && e2e_track "$(<"$f")"
	done
	[[ -f "$1/pg/data/postmaster.pid" ]] && e2e_track "$(head -n 1 "$1/pg/data/postmaster.pid")"
	return 0
}

# all_gone PID...: none of them runs.
all_gone() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}

e2e_step "demo-ha --keep: every step, through HAProxy"
rc=0
TMPDIR=$T DEMO_HA_KILL=2 "$DEMO_HA" --keep "$BUILD_DIR" >"$T/out" 2>"$T/err" || rc=$?
W=$(sed -n 's/^Work directory: //p' "$T/out" | head -n 1)
[[ -n "$W" && -d "$W" ]] && track_all "$W"
assert_eq "$rc" 0 "demo-ha's exit status ($(tail -n 3 "$T/err" | tr '\n' ' '))"
[[ $rc -eq 0 && -d "$W" ]] || e2e_die "demo-ha failed; its output: $T/out"
assert_true "the demo flow: all its steps" grep -Eq '^demo: all 1[01] steps succeeded' "$T/out"
assert_true "demo-ha: all its steps, left running" \
	grep -q '^demo-ha: all 6 steps succeeded; left running' "$T/out"
assert_true "the demo's devices used HAProxy's address" \
	grep -q "onboarded: client id .*, WFM $(<"$W/seed/public-url")\$" "$T/out"

e2e_step "all 3 replicas served; replica 2 killed mid-flow, the rest went through 1 and 3"
sed -n '1,/killing replica 2/p' "$T/out" >"$T/before"
sed -n '/killing replica 2/,/== HA 6\./p' "$T/out" >"$T/after"
for n in 1 2 3; do
	assert_true "replica $n served requests before the kill" grep -q "served by replica $n:" "$T/before"
done
assert_true "HAProxy marked replica 2 DOWN" grep -q 'HAProxy: r1 UP, r2 DOWN, r3 UP' "$T/after"
assert_false "nothing served by replica 2 after the kill" grep -q 'served by replica 2:' "$T/after"
assert_true "token, status reports and git fetch served after the kill" bash -c "
	grep -q 'POST /oauth2/token 200' '$T/after' &&
	grep -Eq 'POST /device/[^ ]+/deployment/[^ ]+/status 201' '$T/after' &&
	grep -q 'git-upload-pack 200' '$T/after'"
assert_eq "$(grep -c ' info listening ' "$W/r2.log")" 2 "replica 2 started twice (restarted after the kill)"
assert_true "replica 2 back in HAProxy's rotation" grep -q 'back: r1 UP, r2 UP, r3 UP' "$T/out"

e2e_step "the device converged: Installed, through HAProxy and in PostgreSQL"
AGENT_ID=$("$AGENT_BIN" status --state-dir "$W/demo/agent" --json | "$JSON_GET" - /clientId)
"$WFMCTL_BIN" --data-dir "$W/seed" --json device deployments "$AGENT_ID" >"$T/deps.json" ||
	e2e_die "wfmctl device deployments through HAProxy failed"
assert_json /items/0/state Installed "$T/deps.json"
STORE=$(sed -n 's/^   PostgreSQL \(postgresql:[^ ]*\) .*/\1/p' "$T/out")
psql_q() { "$PG_BIN/psql" -Atc "$1" "$STORE"; }
assert_eq "$(psql_q "SELECT count(*) FROM devices")" 2 "devices in PostgreSQL"
assert_eq "$(psql_q "SELECT deployment_state FROM deployment_latest WHERE device_id = '$AGENT_ID'")" Installed \
	"the latest deployment status in PostgreSQL"
assert_eq "$(psql_q "SELECT count(*) FROM devices WHERE state = 'revoked'")" 1 \
	"device 2 revoked (demo-ha's last step)"
for n in 1 2 3; do
	assert_true "replica $n refused the revoked token" \
		grep -q "the same request on replica $n after the revocation: HTTP 401" "$T/out"
done

e2e_step "the printed 'how to stop' stops everything"
stop=$(sed -n 's/^   how to stop: //p' "$T/out")
assert_eq "$stop" "$W/stop" "how to stop"
pids=$(cat "$W"/r*.pid "$W/haproxy.pid")
pm=$(head -n 1 "$W/pg/data/postmaster.pid")
# shellcheck disable=SC2086
assert_false "all running before" all_gone $pids "$pm"
"$stop" >"$T/stop.out" 2>&1 || true
# shellcheck disable=SC2086
assert_true "replicas, HAProxy and PostgreSQL stopped" e2e_wait_for 20 all_gone $pids "$pm"
assert_false "work directory removed" test -e "$W"

e2e_step "interrupted half way (SIGINT, as Ctrl-C): everything it started stops"
# A background job ignores SIGINT unless it is given back its default action first.
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	env TMPDIR="$T" "$DEMO_HA" "$BUILD_DIR" >"$T/out2" 2>&1 &
run=$!
e2e_track "$run"
e2e_wait_for 60 grep -q '== 2\. ' "$T/out2" || e2e_die "the second run did not reach the demo's step 2"
W2=$(sed -n 's/^Work directory: //p' "$T/out2" | head -n 1)
track_all "$W2"
pids=$(cat "$W2"/r*.pid "$W2/haproxy.pid")
pm=$(head -n 1 "$W2/pg/data/postmaster.pid")
kill -INT "$run"
rc=0
wait "$run" || rc=$?
e2e_untrack "$run"
assert_eq "$rc" 130 "exit status after SIGINT"
# shellcheck disable=SC2086
assert_true "replicas, HAProxy and PostgreSQL stopped" e2e_wait_for 20 all_gone $pids "$pm"
assert_false "work directory removed" test -e "$W2"
assert_false "no margo-agent or demo left from it" pgrep -f "$W2/"

e2e_finish
