#!/usr/bin/env bash
# margo-agent onboarding that needs the operator: pending request approved with wfmctl while
# the agent waits; --wait timeout keeps the request and `onboard` resumes it; rejection.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN" "$WFMCTL_BIN"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
PROBE=$SRC_DIR/tests/fixtures/agent/probe-x86

# pending_id SERIAL: id of the pending device with that serial number ("" when none).
pending_id() {
	local n i
	admin_http GET '/admin/v1/devices?state=pending'
	[[ "$HTTP_STATUS" == 200 ]] || return 0
	n=$(json_length /items 2>/dev/null) || n=0
	for ((i = 0; i < n; i++)); do
		if [[ "$(json_get "/items/$i/serialNumber")" == "$1" ]]; then
			json_get "/items/$i/id"
			return 0
		fi
	done
}
has_pending() { [[ -n "$(pending_id "$1")" ]]; }

e2e_step "no token: the request waits; wfmctl device approve completes it"
printf 'probe_root = %s\n' "$PROBE" >"$T/agent.conf"
e2e_bg "$T/dev1.log" "$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" \
	--state-dir "$T/dev1" --config "$T/agent.conf" --serial SN-APPROVE --wait 150
AGENT_PID=$E2E_BG_PID
assert_true "the request appears as pending" e2e_wait_for 20 has_pending SN-APPROVE
REQ=$(pending_id SN-APPROVE)
assert_true "the agent keeps the pending request in its state" \
	e2e_wait_for 10 grep -q '"pendingRequestId": "' "$T/dev1/state.json"
assert_true "the agent prints progress" \
	e2e_wait_for 10 grep -q "waiting for operator approval\|waits for operator approval" "$T/dev1.log"
sleep 1
assert_true "agent still waiting" _e2e_alive "$AGENT_PID"
RC=0; wfmctl device approve "$REQ" >"$T/approve.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "wfmctl device approve"
# the agent checks again after Retry-After (30 s)
assert_true "the agent finishes after the approval" e2e_wait_for 60 test ! -d "/proc/$AGENT_PID"
RC=0; wait "$AGENT_PID" || RC=$?
e2e_untrack "$AGENT_PID"
assert_eq "$RC" 0 "onboard exits 0 once approved"
assert_match "$(<"$T/dev1.log")" "onboarded: client id [0-9a-f-]{36}" "onboard prints the client id"
ID1=$("$JSON_GET" "$T/dev1/state.json" /clientId)
wfmctl --json device show "$ID1" >"$T/show1.json" || true
assert_json /state active "$T/show1.json"
assert_json_absent /pendingRequestId "$T/dev1/state.json"

e2e_step "--wait timeout keeps the request; onboard again resumes it; rejection"
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev2" \
	--config "$T/agent.conf" --serial SN-REJECT --wait 2 >"$T/dev2.out" 2>"$T/dev2.err" || RC=$?
assert_eq "$RC" 5 "still pending after --wait 2: exit 5"
assert_match "$(tail -n 1 "$T/dev2.err")" "still waits for operator approval; run 'margo-agent onboard' again to resume" \
	"timeout: clear message"
REQ2=$("$JSON_GET" "$T/dev2/state.json" /pendingRequestId)
OP2=$(pending_id SN-REJECT)
assert_match "$OP2" '^[0-9a-f-]{36}$' "the operator sees the pending request"
RC=0; "$AGENT_BIN" status --state-dir "$T/dev2" --config "$T/agent.conf" --json >"$T/st2.json" || RC=$?
assert_eq "$RC" 6 "status while pending: exit 6 (not onboarded)"
assert_json /state "pending approval" "$T/st2.json"
assert_json /pendingRequestId "$REQ2" "$T/st2.json"
e2e_bg "$T/dev2.log" "$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" \
	--state-dir "$T/dev2" --config "$T/agent.conf" --serial SN-REJECT --wait 150
AGENT_PID=$E2E_BG_PID
assert_true "resumed: polls the same request" e2e_wait_for 10 grep -q "resuming onboarding request $REQ2" "$T/dev2.log"
assert_eq "$(devices_count pending)" 1 "resuming sent no second request"
RC=0; wfmctl device reject "$OP2" >"$T/reject.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "wfmctl device reject"
assert_true "the agent ends after the rejection" e2e_wait_for 60 test ! -d "/proc/$AGENT_PID"
RC=0; wait "$AGENT_PID" || RC=$?
e2e_untrack "$AGENT_PID"
assert_eq "$RC" 4 "rejected: exit 4"
assert_match "$(tail -n 1 "$T/dev2.log")" "^margo-agent: onboarding request $REQ2 was rejected by the operator" \
	"rejected: clear message"
assert_json_absent /clientId "$T/dev2/state.json"
assert_json_absent /pendingRequestId "$T/dev2/state.json"

e2e_finish
