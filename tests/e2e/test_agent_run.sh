#!/usr/bin/env bash
# margo-agent run: resumes by itself after the WFM was away, stays silent in downtime, stops
# cleanly on SIGTERM, and SIGKILL in the middle of state writes leaves a loadable state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
wfmd_start --access-token-ttl 3
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
S=$T/dev
CONF=$T/agent.conf
printf 'probe_root = %s\npoll_interval = 1\nlog_level = debug\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" >"$CONF"

status_field() {
	"$AGENT_BIN" status --json --state-dir "$S" --config "$CONF" >"$T/status.json" 2>/dev/null || true
	"$JSON_GET" "$T/status.json" "$1" 2>/dev/null || true
}
failures_at_least() { [[ "$(status_field /failures)" -ge "$1" ]]; }
failures_zero() { [[ "$(status_field /failures)" == 0 ]]; }
requests() { grep -c 'request method=' "$WFMD_LOG" || true; }

enrollment_token_create --auto-approve
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded"
ID=$("$JSON_GET" "$S/state.json" /clientId)

e2e_step "the WFM goes away and comes back: the agent resumes without help"
e2e_bg "$T/run.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
AGENT_PID=$E2E_BG_PID
# "agent started" is logged once the state lock is held; then the loop polls
polls() { grep -c "route=/device/$ID/desired-state status=" "$WFMD_LOG" || true; }
polls_above() { [[ "$(polls)" -gt "$1" ]]; }
p0=$(polls)
assert_true "the loop starts" e2e_wait_for 15 grep -q "agent started" "$T/run.log"
assert_true "the loop talks to the WFM" e2e_wait_for 15 polls_above "$p0"
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/second.log" 2>&1 || RC=$?
assert_eq "$RC" 1 "a second agent on the same state dir is refused"
assert_match "$(tail -n 1 "$T/second.log")" "another margo-agent .* is working on this state directory" \
	"second agent: clear message"
wfmd_stop
assert_true "failures are counted while the WFM is away" e2e_wait_for 20 failures_at_least 2
sleep 4
assert_true "the agent keeps running (no give-up)" _e2e_alive "$AGENT_PID"
assert_match "$(status_field /lastError)" "." "status shows the last error"
down_since=$(date -u +%s)
wfmd_start --access-token-ttl 3
assert_true "the agent recovers by itself" e2e_wait_for 40 failures_zero
last=$(status_field /lastContact)
assert_true "last contact is after the restart" test "$(date -u -d "$last" +%s)" -ge "$down_since"
assert_match "$(<"$T/run.log")" "WFM reachable again" "the agent logs the recovery"

e2e_step "SIGTERM stops the loop cleanly"
kill -TERM "$AGENT_PID"
assert_true "exits within 5 s" e2e_wait_for 5 test ! -d "/proc/$AGENT_PID"
RC=0; wait "$AGENT_PID" || RC=$?
e2e_untrack "$AGENT_PID"
assert_eq "$RC" 0 "SIGTERM: exit 0"
assert_match "$(tail -n 1 "$T/run.log")" "agent stopped" "SIGTERM: logged"

e2e_step "a downtime window covering now keeps the agent silent"
cp "$CONF" "$T/down.conf"
printf 'downtime = 00:00-24:00\n' >>"$T/down.conf"
before=$(requests)
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$T/down.conf" >"$T/once.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "run --once in downtime: exit 0"
e2e_bg "$T/down.log" "$AGENT_BIN" run --state-dir "$S" --config "$T/down.conf"
AGENT_PID=$E2E_BG_PID
sleep 5
wfmd_stop   # errors would show now if the agent tried anything
sleep 2
assert_eq "$(requests)" "$before" "no request reached the WFM during downtime"
assert_false "no warning or error from the agent in downtime" grep -q ' warn \| error ' "$T/down.log"
RC=0; e2e_kill "$AGENT_PID" 5 || RC=$?
assert_eq "$RC" 0 "downtime loop stops on SIGTERM with exit 0"
RC=0; "$AGENT_BIN" status --state-dir "$S" --config "$T/down.conf" --json >"$T/st.json" || RC=$?
assert_json /inDowntime true "$T/st.json"
wfmd_start --access-token-ttl 3

e2e_step "SIGKILL in the middle of state writes leaves a loadable state"
bad=0
for i in $(seq 1 40); do
	"$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	RC=0
	"$AGENT_BIN" status --json --state-dir "$S" --config "$CONF" >"$T/kill.json" 2>"$T/kill.err" || RC=$?
	if [[ $RC -ne 0 ]] || [[ "$("$JSON_GET" "$T/kill.json" /clientId 2>/dev/null)" != "$ID" ]]; then
		bad=$((bad + 1))
		e2e_log "after kill $i: status exit $RC: $(<"$T/kill.err")"
	fi
done
assert_eq "$bad" 0 "40 SIGKILLs: the state always loads with the same client id"
for f in state.json ca.crt device.key device.crt; do
	assert_file_mode "$S/$f" 600
done
e2e_log "temporaries left by the kills: $(find "$S" -name '*.tmp.*' | wc -l)"
assert_eq "$(find "$S" -maxdepth 1 -type f ! -perm 600 | wc -l)" 0 "every file in the state dir (temporaries too) is 0600"
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/final.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "and the agent still works"
assert_eq "$(find "$S" -name '*.tmp.*' | wc -l)" 0 "temporaries of killed writers are cleaned up"

e2e_step "a refused access token (401) is replaced once, and the request repeated"
sed -i -e 's/"accessToken": "[^"]*"/"accessToken": "wfmat_0000000000000000000000000000000000000000000"/' \
	-e 's/"accessTokenExpiresAt": "[^"]*"/"accessTokenExpiresAt": "2099-01-01T00:00:00Z"/' "$S/state.json"
n401=$(grep -c "route=/device/$ID/[^ ]* status=401" "$WFMD_LOG" || true)
nok=$(grep -Ec "route=/device/$ID/desired-state status=(200|304)" "$WFMD_LOG" || true)
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/r401.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "run --once with a revoked cached token: exit 0 ($(tail -n 1 "$T/r401.log"))"
assert_eq "$(grep -c "route=/device/$ID/[^ ]* status=401" "$WFMD_LOG")" "$((n401 + 1))" "one 401"
assert_eq "$(grep -Ec "route=/device/$ID/desired-state status=(200|304)" "$WFMD_LOG")" "$((nok + 1))" \
	"then the repeated request succeeds"
assert_ne "$("$JSON_GET" "$S/state.json" /accessToken)" wfmat_0000000000000000000000000000000000000000000 \
	"a new token is cached"
assert_file_mode "$S/state.json" 600

e2e_finish
