#!/usr/bin/env bash
# margo-agent never loses its identity: a lost onboarding response is recovered by running
# onboard again (same client id), and so is a lost state after first use (fresh token).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN" "$MARGO_SIGN"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
printf 'probe_root = %s\n' "$SRC_DIR/tests/fixtures/agent/probe-x86" >"$T/agent.conf"

agent() {
	RC=0
	"$AGENT_BIN" "$@" --config "$T/agent.conf" >"$T/agent.out" 2>"$T/agent.err" || RC=$?
	cat "$T/agent.out" "$T/agent.err" >>"$T/agent.log"
}

e2e_step "lost response: the approved answer never reached the device"
# A manufacturer-provisioned identity; the first request is sent and its answer dropped.
device_new dev1
enrollment_token_create --auto-approve
onboard_request dev1 --token-file "$ENROLL_TOKEN_FILE" --serial SN-LOST
assert_status 201 "first request approved (answer then lost)"
LOST_ID=$(device_client_id dev1)
agent onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev1" \
	--key "$T/dev1.key" --cert "$T/dev1.crt" --serial SN-LOST
assert_eq "$RC" 0 "onboard again with the same key: exit 0 ($(<"$T/agent.err"))"
assert_json /clientId "$LOST_ID" "$T/dev1/state.json"
assert_eq "$(device_admin_lookup dev1 | wc -l)" 1 "one device at the WFM, not two"
device_token dev1
assert_status 401 "the lost answer's secret no longer works"
assert_true "the provisioned key was copied, 0600" cmp -s "$T/dev1.key" "$T/dev1/device.key"
assert_file_mode "$T/dev1/device.key" 600

e2e_step "state lost after first use: same key, fresh token, same client id"
rm "$T/dev1/state.json"
enrollment_token_create --auto-approve
agent onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev1" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE"
assert_eq "$RC" 0 "re-onboard with kept key: exit 0 ($(<"$T/agent.err"))"
assert_json /clientId "$LOST_ID" "$T/dev1/state.json"
agent run --once --state-dir "$T/dev1"
assert_eq "$RC" 0 "run --once with the new credentials ($(<"$T/agent.err"))"

e2e_step "a different provisioned certificate than the stored identity is refused"
device_new other
agent onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev1" \
	--key "$T/other.key" --cert "$T/other.crt"
assert_eq "$RC" 0 "already onboarded: nothing to do"
rm "$T/dev1/state.json"
agent onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev1" \
	--key "$T/other.key" --cert "$T/other.crt"
assert_eq "$RC" 1 "other identity over a kept one: exit 1"
assert_match "$(<"$T/agent.err")" "different device identity" "other identity: clear message"
assert_true "the kept key is untouched" cmp -s "$T/dev1.key" "$T/dev1/device.key"

e2e_finish
