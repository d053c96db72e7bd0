#!/usr/bin/env bash
# apply_command under control: its environment and argv hold no secret; past apply_timeout its
# whole process group is ended and the deployment reported Failed with the reason; SIGTERM to
# the agent ends it the same way; after the agent was SIGKILLed mid-apply, the next start ends
# the orphaned apply (state dir apply.pid) and applies again; a failed removal is retried with
# back-off without a new revision. Real wfmd, margo-agent and git over TLS on loopback.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_AGENT_PROBE_ROOT
S=$T/dev
CONF=$T/agent.conf
export APPLY_DIR=$T/apply
mkdir -p "$APPLY_DIR"
# The apply command: records its argv and environment, leaves a background child in its group
# (its pid in APPLY_DIR/NAME.bg), and hangs while APPLY_DIR/hang-NAME exists, fails a removal
# while APPLY_DIR/fail-remove exists.
cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
name=$(sed -n 's/^  name: //p' "$2" | head -n 1)
echo "$1 $name" >>"$APPLY_DIR/log"
{ printf 'argv: %s\n' "$*"; env; } >"$APPLY_DIR/$name.env"
sleep 300 &
echo $! >"$APPLY_DIR/$name.bg"
while [ -e "$APPLY_DIR/hang-$name" ]; do sleep 0.2; done
if [ "$1" = remove ] && [ -e "$APPLY_DIR/fail-remove" ]; then echo "cannot remove $name" >&2; exit 4; fi
kill $! 2>/dev/null
exit 0
EOS
chmod 700 "$T/apply.sh"
printf 'probe_root = %s\npoll_interval = 1\napply_command = %s\napply_timeout = 3\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" >"$CONF"
enrollment_token_create --auto-approve --max-uses 2
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded ($(tail -n 1 "$T/onboard.log"))"
ID=$("$JSON_GET" "$S/state.json" /clientId)
for k in clientSecret accessToken gitAccessToken; do
	e2e_secret "$("$JSON_GET" "$S/state.json" "/$k")"
done
e2e_secret "@$ENROLL_TOKEN_FILE"

# the agent runs with an enrollment token and a proxy password in its environment
start_agent() {
	MARGO_ENROLLMENT_TOKEN=$(<"$ENROLL_TOKEN_FILE") HTTPS_PROXY_PASSWORD=proxy-pass-e2e \
		e2e_bg "$T/run.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
	AGENT_PID=$E2E_BG_PID
}
e2e_secret proxy-pass-e2e
agent_state() {
	"$AGENT_BIN" status --json --state-dir "$S" --config "$CONF" >"$T/st.json" 2>/dev/null || true
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next((x.get(sys.argv[3],"") or "" for x in d.get("deployments",[]) if x.get("deploymentId")==sys.argv[2]),"absent"))' "$T/st.json" "$1" "${2:-state}" 2>/dev/null || echo absent
}
agent_is() { [[ "$(agent_state "$1")" == "$2" ]]; }
wfm_says() {
	deploy_list "$ID"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); x=next((x for x in d.get("items",[]) if x.get("deploymentId")==sys.argv[2]),None); print("absent" if x is None else x.get("state"), (x or {}).get("error",{}) and x["error"].get("message",""))' "$HTTP_BODY_FILE" "$1"
}
wfm_is() { [[ "$(wfm_says "$1")" == "$2"* ]]; }
gone() { ! kill -0 "$(<"$1")" 2>/dev/null; }
deploy() {
	deployment_yaml "$1" "$2" "$T/$1.yaml" compose
	deploy_put "$ID" "$1" "$T/$1.yaml"
}

e2e_step "the apply command's environment and argv hold no secret"
start_agent
deploy dep-env envdump
assert_true "dep-env Installed" e2e_wait_for 30 wfm_is dep-env Installed
assert_no_secrets_in "$APPLY_DIR/envdump.env"
assert_match "$(<"$APPLY_DIR/envdump.env")" "MARGO_DEPLOYMENT_ID=dep-env" "the deployment id is there"
assert_false "no MARGO_ENROLLMENT_TOKEN variable" grep -q MARGO_ENROLLMENT_TOKEN "$APPLY_DIR/envdump.env"

e2e_step "past apply_timeout the group is ended and the deployment reported Failed"
touch "$APPLY_DIR/hang-hanger"
deploy dep-hang hanger
assert_true "dep-hang Failed at the WFM" e2e_wait_for 30 wfm_is dep-hang Failed
assert_match "$(wfm_says dep-hang)" "timed out after 3 s" "the reason is reported"
assert_true "its background child was ended too" e2e_wait_for 10 gone "$APPLY_DIR/hanger.bg"
assert_false "no pid file left" test -e "$S/apply.pid"

e2e_step "SIGTERM to the agent during an apply ends the group and reports Failed"
touch "$APPLY_DIR/hang-stopper"
printf 'apply_timeout = 1h\n' >>"$CONF"
e2e_kill "$AGENT_PID" || true
start_agent
deploy dep-stop stopper
assert_true "the apply runs" e2e_wait_for 30 test -s "$APPLY_DIR/stopper.bg"
assert_true "the pid file names it" test -s "$S/apply.pid"
RC=0; e2e_kill "$AGENT_PID" 15 || RC=$?
assert_eq "$RC" 0 "the agent exits 0 on SIGTERM"
assert_true "its background child was ended" e2e_wait_for 10 gone "$APPLY_DIR/stopper.bg"
assert_true "dep-stop Failed at the WFM" e2e_wait_for 10 wfm_is dep-stop Failed
assert_match "$(wfm_says dep-stop)" "the agent is shutting down" "the reason is reported"
assert_false "no pid file left" test -e "$S/apply.pid"

e2e_step "after SIGKILL mid-apply the next start ends the orphan and applies again"
touch "$APPLY_DIR/hang-orphan"
start_agent
deploy dep-orphan orphan
assert_true "the apply runs" e2e_wait_for 30 test -s "$APPLY_DIR/orphan.bg"
kill -KILL "$AGENT_PID"; e2e_kill "$AGENT_PID" || true
ORPHAN_BG=$(<"$APPLY_DIR/orphan.bg")
assert_true "the orphan still runs" kill -0 "$ORPHAN_BG"
assert_true "its pid file is left" test -s "$S/apply.pid"
rm -f "$APPLY_DIR/hang-orphan" "$APPLY_DIR/orphan.bg"
start_agent
assert_true "the next start ends the orphaned group" e2e_wait_for 15 bash -c "! kill -0 $ORPHAN_BG"
assert_true "and says so" e2e_wait_for 10 grep -q "ending an apply left by a previous run" "$T/run.log"
assert_true "dep-orphan applied again: Installed" e2e_wait_for 30 wfm_is dep-orphan Installed
assert_eq "$(grep -c '^install orphan$' "$APPLY_DIR/log")" 2 "the apply ran twice"

e2e_step "a failed removal is retried with back-off, without a new revision"
touch "$APPLY_DIR/fail-remove"
deploy_delete "$ID" dep-env
assert_true "the removal fails" e2e_wait_for 30 agent_is dep-env Failed
assert_true "and is retried" e2e_wait_for 30 bash -c "[ \$(grep -c '^remove envdump$' '$APPLY_DIR/log') -ge 2 ]"
assert_match "$(grep 'dep-env' "$S/deployments.json" -A8 | tr -d '\n')" "removeFailures" "the failures are counted"
rm -f "$APPLY_DIR/fail-remove"
assert_true "then succeeds: removed" e2e_wait_for 40 agent_is dep-env absent
tries=$(grep -c '^remove envdump$' "$APPLY_DIR/log")
assert_true "with back-off: $tries tries" test "$tries" -le 8

e2e_kill "$AGENT_PID" || true
e2e_step "no secret in the agent's output or wfmd's log"
assert_no_secrets_in "$T/run.log" "$WFMD_LOG"
e2e_finish
