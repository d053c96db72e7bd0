#!/usr/bin/env bash
# Server-paced polling (issue 12) with a real margo-agent: while the device is in the
# current wave of a running rollout and has not installed, wfmd answers desired-state with
# Margo-Poll-Interval and the agent polls at that pace; its own floor (poll_interval_min)
# and downtime windows win; at rest it is back at poll_interval. Polls are counted in
# wfmd's request log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
wfmd_start --poll-interval-active 1
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
S=$T/agent
printf '#!/bin/sh\necho "cannot pull images" >&2\nexit 1\n' >"$T/apply.sh"
chmod 700 "$T/apply.sh"
conf() {
	printf 'probe_root = %s\npoll_interval = 8\napply_command = %s\n%b' \
		"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" "$1" >"$T/agent.conf"
}
conf 'poll_interval_min = 1\n'
enrollment_token_create --auto-approve
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" \
	--config "$T/agent.conf" --enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 ||
	e2e_die "onboard: $(tail -n 1 "$T/onboard.log")"
A=$("$JSON_GET" "$S/state.json" /clientId)
e2e_secret "$("$JSON_GET" "$S/state.json" /clientSecret)"
device_onboard b
B=$(device_client_id b)
wfmctl device label "$A" ring=pace >/dev/null
wfmctl device label "$B" ring=pace >/dev/null

polls() { grep -c "route=/device/$A/desired-state " "$WFMD_LOG" || true; }
# polls_during SECONDS: desired-state requests of the agent in the next SECONDS.
polls_during() {
	local before
	before=$(polls)
	sleep "$1"
	echo $(($(polls) - before))
}
start_agent() {
	e2e_bg "$T/run.log" "$AGENT_BIN" run --state-dir "$S" --config "$T/agent.conf"
	AGENT_PID=$E2E_BG_PID
	e2e_wait_for 10 grep -q "route=/device/$A/desired-state " "$WFMD_LOG" ||
		e2e_die "the agent did not poll"
}
stop_agent() {
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	e2e_untrack "$AGENT_PID"
}

e2e_step "at rest: poll_interval (8 s)"
start_agent
n=$(polls_during 6)
assert_true "at most one poll in 6 s at rest (got $n)" test "$n" -le 1

e2e_step "in an active wave: the WFM's pace (1 s)"
deployment_yaml pace pace-v1 "$T/pace.yaml"
printf '{"selector": "ring=pace", "deployment": %s, "successThreshold": 50, "waveTimeoutSeconds": 300}' \
	"$(json_quote "$T/pace.yaml")" >"$T/r.json"
admin_http POST /admin/v1/rollouts -H 'Content-Type: application/json' --data-binary "@$T/r.json"
assert_status 201 "rollout over the agent and a silent device"
R=$(json_get /id)
# The agent learns it is in the wave at its next regular poll (<= 8 s), applies (fails:
# Failed is reported, so it stays in the wave) and from then on polls every second.
assert_true "the agent reported Failed" e2e_wait_for 20 grep -q "route=/device/$A/deployment/pace/status" "$WFMD_LOG"
n=$(polls_during 6)
assert_true "at least 3 polls in 6 s in the wave (got $n; 8 s apart at rest)" test "$n" -ge 3
assert_match "$(tail -n 50 "$T/run.log")" "" "agent log readable"

e2e_step "the device's own floor wins over the WFM's pace"
stop_agent
conf 'poll_interval_min = 5\n'
start_agent
n=$(polls_during 9)
assert_true "at most 3 polls in 9 s with poll_interval_min = 5 (got $n)" test "$n" -le 3

e2e_step "downtime wins over the WFM's pace"
stop_agent
conf 'poll_interval_min = 1\ndowntime = 00:00-24:00\n'
before=$(polls)
e2e_bg "$T/run2.log" "$AGENT_BIN" run --state-dir "$S" --config "$T/agent.conf"
AGENT_PID=$E2E_BG_PID
sleep 5
assert_eq "$(($(polls) - before))" 0 "no poll at all during downtime, even in a wave"
stop_agent

e2e_step "back at rest after the rollout ends"
conf 'poll_interval_min = 1\n'
admin_http POST "/admin/v1/rollouts/$R/abort"
assert_json /state aborted
start_agent
sleep 2
n=$(polls_during 6)
assert_true "at most one poll in 6 s after the rollout ended (got $n)" test "$n" -le 1
stop_agent

e2e_finish
