#!/usr/bin/env bash
# fleet-sim --retries (the scale-out fault test's simulator, issue 10): a device repeats a
# request after a failure it is expected to retry, and those attempts are counted apart from
# errors. With a real wfmd:
#   1. killed with SIGKILL and restarted on the same port while devices poll, one new TLS
#      connection per request: without --retries the poll phase reports errors; with it,
#      none, and retries_connection counts the refused or reset attempts.
#   2. its database write-locked by another process for longer than twice wfmd's busy
#      timeout (5 s): status reports get 503 store-unavailable with Retry-After, which fleet-sim
#      waits out and repeats: no error, retries_503 > 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FLEET_SIM=${FLEET_SIM:-$BUILD_DIR/bench/fleet-sim}
e2e_setup
e2e_require_bin "$FLEET_SIM"
wfmd_start

sim() {
	"$FLEET_SIM" --url "$WFM_URL" --ca-file "$WFM_CA" --admin-token-file "$WFM_DIR/admin.token" \
		--state "$T/devices.state" --concurrency 4 --timeout 20 "$@"
}
# killed_run LOG ARGS...: fleet-sim polling with ARGS while wfmd is killed and restarted;
# sets RC to fleet-sim's exit status (not a $(...) subshell: wfmd_start sets WFMD_PID).
killed_run() {
	local log=$1 pid
	shift
	sim --phases poll --duration 6 --connections request "$@" >"$log" 2>&1 &
	pid=$!
	e2e_track "$pid"
	sleep 2
	kill -KILL "$WFMD_PID"
	wait "$WFMD_PID" 2>/dev/null || true
	e2e_untrack "$WFMD_PID"
	sleep 1
	wfmd_start
	wait "$pid" && RC=0 || RC=$?
	e2e_untrack "$pid"
}

e2e_step "20 devices onboarded"
sim --devices 20 --phases onboard >"$T/onboard.log" 2>&1 || { cat "$T/onboard.log" >&2; e2e_die "onboarding failed"; }
assert_eq "$(fleet_sim_field "$T/onboard.log" onboard errors)" 0 "onboarding without errors"

e2e_step "wfmd killed mid-poll, no retries: errors"
killed_run "$T/noretry.log"; rc=$RC
e2e_log "$(grep '^phase=poll' "$T/noretry.log")"
assert_true "fleet-sim reports the failed polls (exit $rc)" test "$rc" -ne 0
assert_true "request errors counted" test "$(fleet_sim_field "$T/noretry.log" poll request_errors)" -gt 0
assert_eq "$(fleet_sim_field "$T/noretry.log" poll retries_connection)" 0 "no retries without --retries"

e2e_step "wfmd killed mid-poll, --retries 20: no error, retries counted"
killed_run "$T/retry.log" --retries 20; rc=$RC
e2e_log "$(grep '^phase=poll' "$T/retry.log")"
assert_eq "$rc" 0 "fleet-sim exits 0"
assert_eq "$(fleet_sim_total "$T/retry.log" request_errors)" 0 "no request error"
assert_true "connection retries counted" test "$(fleet_sim_field "$T/retry.log" poll retries_connection)" -gt 0
assert_true "polls went on after the restart" test "$(fleet_sim_field "$T/retry.log" poll requests)" -gt 20

# 12 s: the first two writers in line each give up after wfmd's 5 s busy timeout, and at most
# one of them is the rollout engine's lease renewal, so at least one request gets its 503.
e2e_step "database write-locked by another process for 12 s: 503 with Retry-After, retried"
sqlite3 -bail -cmd '.timeout 10000' "$WFM_DIR/wfmd.db" 'BEGIN EXCLUSIVE; SELECT count(*) FROM devices;' \
	'.shell sleep 12' 'COMMIT;' >"$T/lock.log" 2>&1 &
LOCK_PID=$!
e2e_track "$LOCK_PID"
# held once a write of our own fails at once (sqlite3's output is buffered until it exits)
db_locked() { ! command sqlite3 "$WFM_DIR/wfmd.db" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1; }
e2e_wait_for 10 db_locked || e2e_die "sqlite3 did not take the lock: $(cat "$T/lock.log")"
sim --phases status --retries 5 >"$T/status.log" 2>&1 && rc=0 || rc=$?
wait "$LOCK_PID" || true
e2e_untrack "$LOCK_PID"
e2e_log "$(grep '^phase=' "$T/status.log")"
assert_eq "$rc" 0 "fleet-sim exits 0"
assert_eq "$(fleet_sim_total "$T/status.log" request_errors)" 0 "no request error"
assert_eq "$(fleet_sim_field "$T/status.log" status requests)" 60 "every status report made"
assert_true "503 retries counted" test "$(fleet_sim_total "$T/status.log" retries_503)" -gt 0
assert_true "wfmd answered 503 store-unavailable meanwhile" grep -q 'status=503' "$WFMD_LOG"
e2e_finish
