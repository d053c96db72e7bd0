#!/usr/bin/env bash
# margo-agent run and SIGHUP (docs/agent.md "Reload"): the schedule (poll_interval, downtime)
# and log_level are re-read from the configuration file and change what the running loop does;
# a broken file changes nothing; keys that take a restart are named. Under a systemd-style
# NOTIFY_SOCKET (helpers/notify-listen.py) the loop sends READY=1, RELOADING=1/READY=1 and
# STOPPING=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
wfmd_start --access-token-ttl 3
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
export TZ=UTC
S=$T/dev
CONF=$T/agent.conf
LOG=$T/run.log
OUT=$T/notify.out
PROBE="probe_root = $SRC_DIR/tests/fixtures/agent/probe-x86"

enrollment_token_create --auto-approve
printf '%s\npoll_interval = 1h\nlog_level = info\n' "$PROBE" >"$CONF"
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded"
ID=$("$JSON_GET" "$S/state.json" /clientId)
polls() { grep -c "route=/device/$ID/desired-state status=" "$WFMD_LOG" || true; }
polls_above() { [[ "$(polls)" -gt "$1" ]]; }
reloads() { grep -c 'RELOADING=1' "$OUT" || true; }

e2e_step "run under a NOTIFY_SOCKET: READY=1 once started"
e2e_bg "$T/listen.log" python3 "$SRC_DIR/tests/e2e/helpers/notify-listen.py" "$T/notify.sock" "$OUT"
LISTEN_PID=$E2E_BG_PID
e2e_wait_for 10 grep -q LISTENING "$OUT" || e2e_die "notify-listen did not start"
p0=$(polls)
NOTIFY_SOCKET=$T/notify.sock e2e_bg "$LOG" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
AGENT_PID=$E2E_BG_PID
assert_true "READY=1 arrives" e2e_wait_for 15 grep -q ' READY=1$' "$OUT"
assert_true "the first cycle polls" e2e_wait_for 15 polls_above "$p0"
sleep 3
p1=$(polls)
assert_eq "$p1" "$((p0 + 1))" "poll_interval = 1h: one poll in 3 s"
assert_false "log_level = info: no debug lines" grep -q ' debug ' "$LOG"

e2e_step "SIGHUP: poll_interval 1h -> 1s, log_level -> debug"
printf '%s\npoll_interval = 1\nlog_level = debug\n' "$PROBE" >"$CONF"
kill -HUP "$AGENT_PID"
assert_true "reload logged with the new values" \
	e2e_wait_for 10 grep -q 'configuration reloaded .*poll_interval=1s .*log_level=debug' "$LOG"
assert_true "polls every second now (3 more within 10 s)" e2e_wait_for 10 polls_above "$((p1 + 2))"
assert_true "debug lines appear (access token refreshes, 3 s tokens)" \
	e2e_wait_for 10 grep -q 'debug access token obtained' "$LOG"
assert_true "RELOADING=1 then READY=1" e2e_wait_for 5 test "$(grep -c ' READY=1$' "$OUT")" -ge 2
assert_eq "$(awk '{print $2}' "$OUT" | grep -E '^(READY|RELOADING)=1$' | tr '\n' ' ')" \
	"READY=1 RELOADING=1 READY=1 " "in that order"

e2e_step "SIGHUP: a downtime window covering now stops all traffic"
from=$(date -u -d '-2 min' +%H:%M)
to=$(date -u -d '+2 hours' +%H:%M)
printf '%s\npoll_interval = 1\nlog_level = debug\ndowntime = %s-%s\n' "$PROBE" "$from" "$to" >"$CONF"
kill -HUP "$AGENT_PID"
assert_true "reload logged: one downtime window" \
	e2e_wait_for 10 grep -q 'configuration reloaded .*downtime_windows=1' "$LOG"
sleep 1.5
p2=$(polls)
sleep 3
assert_eq "$(polls)" "$p2" "no poll in 3 s of downtime"

e2e_step "SIGHUP with a broken file: logged, nothing changes"
printf '%s\npoll_interval = soon\n' "$PROBE" >"$CONF"
kill -HUP "$AGENT_PID"
assert_true "the failed reload is logged with file and line" \
	e2e_wait_for 10 grep -q "reload failed, configuration unchanged error=\"$CONF:2: " "$LOG"
sleep 2
assert_eq "$(polls)" "$p2" "still in downtime (the old schedule stays)"
assert_true "the agent still runs" _e2e_alive "$AGENT_PID"

e2e_step "SIGHUP: back to polling at info; a changed apply_command is named as needing a restart"
printf '%s\npoll_interval = 1\nlog_level = info\napply_command = /bin/true\n' "$PROBE" >"$CONF"
kill -HUP "$AGENT_PID"
assert_true "polls again" e2e_wait_for 10 polls_above "$p2"
assert_true "apply_command named" grep -q 'configuration key changed, takes a restart key=apply_command' "$LOG"
n=$(grep -c ' debug ' "$LOG" || true)
sleep 4
assert_eq "$(grep -c ' debug ' "$LOG" || true)" "$n" "at info: no more debug lines (4 s, 3 s tokens)"

e2e_step "SIGTERM: STOPPING=1, exit 0"
kill -TERM "$AGENT_PID"
RC=0
_e2e_wait_gone "$AGENT_PID" 10 || true
wait "$AGENT_PID" || RC=$?
e2e_untrack "$AGENT_PID"
assert_eq "$RC" 0 "exit 0"
assert_eq "$(awk '{print $2}' "$OUT" | tail -1)" "STOPPING=1" "STOPPING=1 last"
e2e_kill "$LISTEN_PID" >/dev/null || true

e2e_finish
