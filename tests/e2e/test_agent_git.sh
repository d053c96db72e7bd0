#!/usr/bin/env bash
# margo-agent and the desired state over Git: deploy, change and undeploy reach the agent with
# the right status sequence; a failing apply command is reported as Failed with its message;
# git token rotation while running; wfmd away longer than every token's lifetime; a crash
# mid-apply resumes; a restart does not re-apply; an unchanged state costs only the
# desired-state request.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
GIT_TTL=9
wfmd_start --git-token-ttl "$GIT_TTL"
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
S=$T/dev
CONF=$T/agent.conf

# The apply command: logs "ACTION ID NAME", fails for names containing "broken", is slow for
# names containing "slow".
cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
name=$(sed -n 's/^  name: //p' "$2" | head -n 1)
echo "$1 $MARGO_DEPLOYMENT_ID $name" >>"$APPLY_LOG"
case "$name" in
*broken*) echo "pulling images for $name" >&2; echo "disk full on /var/lib/containers" >&2; exit 3 ;;
*slow*) sleep 4 ;;
esac
exit 0
EOS
chmod 700 "$T/apply.sh"
export APPLY_LOG=$T/applied.log
: >"$APPLY_LOG"
printf 'probe_root = %s\npoll_interval = 1\napply_command = %s\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" >"$CONF"

enrollment_token_create --auto-approve
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded ($(tail -n 1 "$T/onboard.log"))"
ID=$("$JSON_GET" "$S/state.json" /clientId)
assert_json_match /gitRepositoryUrl "/git/$ID\\.git\$" "$S/state.json"
assert_json /gitUsername "svc-device-$ID" "$S/state.json"
e2e_secret "$("$JSON_GET" "$S/state.json" /gitAccessToken)"
e2e_secret "$("$JSON_GET" "$S/state.json" /clientSecret)"

start_agent() {
	e2e_bg "$T/run.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
	AGENT_PID=$E2E_BG_PID
}
dep_state() {
	"$AGENT_BIN" status --json --state-dir "$S" --config "$CONF" >"$T/st.json" 2>/dev/null || true
	local n i
	n=$("$JSON_GET" --length "$T/st.json" /deployments 2>/dev/null) || n=0
	for ((i = 0; i < n; i++)); do
		if [[ "$("$JSON_GET" "$T/st.json" "/deployments/$i/deploymentId")" == "$1" ]]; then
			"$JSON_GET" "$T/st.json" "/deployments/$i/state"
			return 0
		fi
	done
	echo absent
}
dep_is() { [[ "$(dep_state "$1")" == "$2" ]]; }
wfm_state() {
	deploy_list "$ID"
	local n i
	n=$(json_length /items 2>/dev/null) || n=0
	for ((i = 0; i < n; i++)); do
		if [[ "$(json_get "/items/$i/deploymentId")" == "$1" ]]; then
			json_get "/items/$i/${2:-state}" 2>/dev/null || echo null
			return 0
		fi
	done
	echo absent
}
wfm_is() { [[ "$(wfm_state "$1")" == "$2" ]]; }
# states the agent reported for a deployment, in order, space separated
reported() {
	sed -n "s/.*deployment status deployment_id=$1 state=\\([A-Za-z]*\\) reported=yes.*/\\1/p" \
		"$T/run.log" | tr '\n' ' ' | sed 's/ $//'
}

start_agent

e2e_step "deploy: Pending, Installing, Installed"
deployment_yaml dep-1 shop "$T/dep-1.yaml" helm 1.0.0
deploy_put "$ID" dep-1 "$T/dep-1.yaml"
assert_status 201 "deploy dep-1"
assert_true "the agent installs dep-1" e2e_wait_for 30 dep_is dep-1 Installed
assert_true "the WFM sees dep-1 Installed" e2e_wait_for 10 wfm_is dep-1 Installed
assert_eq "$(reported dep-1)" "Pending Installing Installed" "status sequence of a new deployment"
assert_eq "$(grep -c '^install dep-1 shop$' "$APPLY_LOG")" 1 "apply_command ran once: install"
assert_file_mode "$S/applied/dep-1.yaml" 600
assert_true "the repository clone exists" test -d "$S/repo/objects"

e2e_step "change: Installing, Installed with action update"
deployment_yaml dep-1 shop "$T/dep-1b.yaml" helm 1.1.0
deploy_put "$ID" dep-1 "$T/dep-1b.yaml"
assert_status 200 "replace dep-1"
REV_1B=$(json_get /revision)
assert_true "the agent updates dep-1" e2e_wait_for 30 grep -q '^update dep-1 shop$' "$APPLY_LOG"
assert_true "dep-1 Installed again" e2e_wait_for 10 wfm_is dep-1 Installed
assert_eq "$(reported dep-1)" "Pending Installing Installed Installing Installed" "status sequence of a change"
assert_true "the applied copy is the new file" grep -q 'revision: 1.1.0' "$S/applied/dep-1.yaml"
# libgit2 (the agent's Git client) fetched from wfmd's own Git server: what it holds is sound
assert_true "libgit2's repository has the deployed commit" git --git-dir="$S/repo" cat-file -e "$REV_1B^{commit}"
assert_true "libgit2's repository passes git fsck --strict" git --git-dir="$S/repo" fsck --strict --no-dangling

e2e_step "a failing apply command is reported as Failed with its message"
deployment_yaml dep-2 broken-app "$T/dep-2.yaml" compose
deploy_put "$ID" dep-2 "$T/dep-2.yaml"
assert_true "the WFM sees dep-2 Failed" e2e_wait_for 30 wfm_is dep-2 Failed
assert_match "$(wfm_state dep-2 error/message)" "disk full on /var/lib/containers" "the error carries stderr's tail"
assert_eq "$(wfm_state dep-2 error/code)" APPLY_FAILED "error code APPLY_FAILED"
assert_eq "$(reported dep-2)" "Pending Installing Failed" "status sequence of a failure"

e2e_step "undeploy: Removing, Removed; the saved copy goes to the apply command"
deploy_delete "$ID" dep-1
assert_status 204 "undeploy dep-1"
assert_true "the agent removes dep-1" e2e_wait_for 30 grep -q '^remove dep-1 shop$' "$APPLY_LOG"
assert_true "dep-1 forgotten once reported" e2e_wait_for 10 dep_is dep-1 absent
assert_eq "$(reported dep-1)" "Pending Installing Installed Installing Installed Removing Removed" \
	"status sequence of a removal"
assert_false "the saved copy is gone" test -e "$S/applied/dep-1.yaml"

e2e_step "an unchanged state costs only the desired-state request"
sleep 2
mark=$(wc -l <"$WFMD_LOG")
sleep 5
tail -n +"$((mark + 1))" "$WFMD_LOG" | grep 'request method=' | grep -v '/git-credentials' >"$T/quiet.log" || true
n_all=$(wc -l <"$T/quiet.log")
n_304=$(grep -c "method=GET route=/device/$ID/desired-state status=304" "$T/quiet.log" || true)
assert_true "the agent polled during 5 s ($n_all requests)" test "$n_all" -ge 3
assert_eq "$n_304" "$n_all" "every request was a desired-state 304"

e2e_step "git token rotation while running"
rotations() { grep -c "method=POST route=/device/$ID/git-credentials status=201" "$WFMD_LOG" || true; }
rotations_at_least() { [[ "$(rotations)" -ge "$1" ]]; }
n_rot=$(rotations)
assert_true "two more rotations within 3 lifetimes (ttl ${GIT_TTL}s)" \
	e2e_wait_for $((3 * GIT_TTL)) rotations_at_least $((n_rot + 2))
assert_match "$(<"$T/run.log")" "git credentials rotated" "the agent logs rotations"

e2e_step "wfmd away longer than every token's lifetime; a change made meanwhile converges"
wfmd_stop
sleep $((GIT_TTL + 3))
deployment_yaml dep-3 after-outage "$T/dep-3.yaml" compose
wfmd_start --git-token-ttl "$GIT_TTL"
deploy_put "$ID" dep-3 "$T/dep-3.yaml"
assert_status 201 "deploy dep-3 after the restart"
assert_true "the agent converges after the outage" e2e_wait_for 40 wfm_is dep-3 Installed

e2e_step "SIGKILL mid-apply: the apply runs again after a restart"
deployment_yaml dep-4 slow-app "$T/dep-4.yaml" compose
deploy_put "$ID" dep-4 "$T/dep-4.yaml"
assert_true "the slow apply started" e2e_wait_for 30 grep -q '^install dep-4 slow-app$' "$APPLY_LOG"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
e2e_untrack "$AGENT_PID"
assert_eq "$(dep_state dep-4)" Installing "the record says Installing"
start_agent
assert_true "dep-4 Installed after the restart" e2e_wait_for 30 wfm_is dep-4 Installed
assert_eq "$(grep -c '^install dep-4 slow-app$' "$APPLY_LOG")" 2 "the interrupted install ran again"

e2e_step "a restart does not re-apply"
lines=$(wc -l <"$APPLY_LOG")
RC=0; e2e_kill "$AGENT_PID" 10 || RC=$?
assert_eq "$RC" 0 "SIGTERM: exit 0"
start_agent
sleep 4
assert_eq "$(wc -l <"$APPLY_LOG")" "$lines" "nothing applied again"
assert_eq "$(dep_state dep-3)" Installed "dep-3 still Installed"
"$AGENT_BIN" status --state-dir "$S" --config "$CONF" >"$T/status.txt" 2>&1 || true
assert_match "$(<"$T/status.txt")" "deployment dep-2 +Failed: .*disk full" "status lists deployments with errors"
assert_match "$(<"$T/status.txt")" "appliedRevision +[0-9a-f]{40}" "status shows the applied revision"
assert_match "$(<"$T/status.txt")" "gitAccessTokenExpiresAt +20" "status shows the git token expiry"

e2e_step "state files and secrets"
assert_eq "$(find "$S" -maxdepth 1 -type f ! -perm 600 | wc -l)" 0 "state files are 0600"
assert_no_secrets_in "$T/run.log" "$WFMD_LOG"

e2e_finish
