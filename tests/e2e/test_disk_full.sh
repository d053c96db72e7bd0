#!/usr/bin/env bash
# wfmd when its disk fills: its data dir on a small tmpfs mounted by the test; writes through
# the API get 503 problem+json `store-unavailable` with Retry-After (never a crash, never a
# 500), reads keep working, the database stays intact (integrity_check, every row written
# before is there), and writes succeed again once space returns. Then margo-agent with its
# state dir on another small tmpfs: a full disk keeps its last good state, it says why, and it
# converges once space returns. Needs root for mount: skipped with a clear message otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
MNT=$T/mnt AMNT=$T/agent-mnt
mkdir -p "$MNT" "$AMNT"
if ! mount -t tmpfs -o size=6m,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
	printf 'SKIP: cannot mount a tmpfs here (%s): run as root to test a full disk\n' \
		"$(head -n 1 "$T/mount.err")" >&2
	E2E_FINISHED=1
	rm -rf "$T"
	exit 0
fi
disk_cleanup() {
	[[ -n "${WFMD_PID:-}" ]] && kill -TERM "$WFMD_PID" 2>/dev/null && sleep 0.5
	[[ -n "${AGENT_PID:-}" ]] && kill -TERM "$AGENT_PID" 2>/dev/null && sleep 0.5
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	umount "$AMNT" 2>/dev/null || umount -l "$AMNT" 2>/dev/null || true
}
trap 'rc=$?; disk_cleanup; (exit $rc); _e2e_exit' EXIT
WFM_DIR=$MNT/wfm wfmd_start

desc=$(printf "x%.0s" $(seq 1 250))
new_token() {
	admin_http POST /admin/v1/enrollment-tokens -H 'Content-Type: application/json' \
		--data-binary "{\"ttlSeconds\": 3600, \"maxUses\": 1, \"description\": \"$desc\"}"
}
count_tokens() {
	sqlite3 "file:$MNT/wfm/wfmd.db?mode=ro" 'SELECT count(*) FROM enrollment_tokens' 2>/dev/null
}

e2e_step "space left: writes work"
for i in 1 2 3; do
	new_token
	assert_status 201 "token $i"
done

e2e_step "the disk fills: 503 store-unavailable with Retry-After, never a 500 or a crash"
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
ok=3 full=0 other=0
for ((i = 0; i < 400 && full < 5; i++)); do
	new_token
	case $HTTP_STATUS in
	201) ok=$((ok + 1)) ;;
	503) full=$((full + 1)) ;;
	*) other=$((other + 1)); e2e_log "unexpected $HTTP_STATUS: $HTTP_BODY" ;;
	esac
done
assert_eq "$full" 5 "writes are refused once the disk is full ($ok accepted first)"
assert_eq "$other" 0 "no other status than 201 and 503"
assert_problem 503 store-unavailable
assert_header Retry-After 5
assert_true "wfmd still runs" kill -0 "$WFMD_PID"

e2e_step "reads keep working"
admin_http GET /admin/v1/devices
assert_status 200 "device list while the disk is full"

e2e_step "space returns: writes work again, nothing lost"
rm -f "$MNT/filler"
new_token
assert_status 201 "a write after space returned"
wfmd_stop
assert_eq "$(sqlite3 "$MNT/wfm/wfmd.db" 'PRAGMA integrity_check')" ok "the database is intact"
assert_eq "$(count_tokens)" "$((ok + 1))" "every accepted token is stored, no refused one"
WFM_DIR=$MNT/wfm WFMD_PORT=$WFMD_PORT wfmd_start
new_token
assert_status 201 "wfmd restarts on it and writes"

e2e_step "margo-agent on a full disk keeps its last good state, says why, and recovers"
mount -t tmpfs -o size=2m,mode=0700 tmpfs "$AMNT"
S=$AMNT/dev
CONF=$T/agent.conf
printf '#!/bin/sh\nexit 0\n' >"$T/apply.sh"
chmod 700 "$T/apply.sh"
printf 'probe_root = %s\npoll_interval = 1\napply_command = %s\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" >"$CONF"
PIN=$("$WFMD_BIN" fingerprint --data-dir "$MNT/wfm")
enrollment_token_create --auto-approve
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded ($(tail -n 1 "$T/onboard.log"))"
ID=$("$JSON_GET" "$S/state.json" /clientId)
e2e_secret "$("$JSON_GET" "$S/state.json" /clientSecret)"
e2e_bg "$T/run.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
AGENT_PID=$E2E_BG_PID
assert_true "the agent polls" e2e_wait_for 20 grep -q "desired-state status=" "$WFMD_LOG"
dd if=/dev/zero of="$AMNT/filler" bs=16k 2>/dev/null || true
deployment_yaml dep-full app "$T/dep.yaml" compose
deploy_put "$ID" dep-full "$T/dep.yaml"
assert_status 201 "deploy while the agent's disk is full"
assert_true "the agent says its disk is full" e2e_wait_for 30 grep -q "No space left on device" "$T/run.log"
sleep 3
assert_true "state.json is still whole" bash -c "'$JSON_GET' '$S/state.json' /clientSecret >/dev/null"
assert_eq "$("$JSON_GET" "$S/state.json" /clientId)" "$ID" "the credentials are kept"
assert_false "no temporary files left on the full disk" bash -c "ls -a '$S' | grep -q '\.tmp'"
installed() {
	deploy_list "$ID"
	[[ "$(json_get /items/0/state 2>/dev/null)" == Installed ]]
}
assert_false "not reported Installed while the disk is full" installed
rm -f "$AMNT/filler"
assert_true "once space returns the deployment is Installed" e2e_wait_for 60 installed
e2e_kill "$AGENT_PID" || true
AGENT_PID=
assert_no_secrets_in "$T/run.log" "$WFMD_LOG"
e2e_finish
