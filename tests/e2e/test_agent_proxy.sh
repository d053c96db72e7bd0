#!/usr/bin/env bash
# margo-agent through an HTTP CONNECT proxy (config https_proxy): onboarding, the polling cycle
# and the git clone of the desired state all go through the tunnel; the proxy environment
# variables are ignored (neither used nor bypassing the configured proxy); without its proxy
# the agent does not reach the WFM directly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
PROXY_BIN=$BUILD_DIR/tests/connect-proxy
e2e_require_bin "$AGENT_BIN" "$PROXY_BIN"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
S=$T/dev
CONF=$T/agent.conf
PROXY_LOG=$T/proxy.tunnels

e2e_bg "$T/proxy.log" "$PROXY_BIN" "$T/proxy.port" "$PROXY_LOG"
PROXY_PID=$E2E_BG_PID
e2e_wait_for 10 test -s "$T/proxy.port" || e2e_die "connect-proxy did not start"
PROXY_PORT=$(<"$T/proxy.port")
: >"$PROXY_LOG"

cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
echo "$1 $MARGO_DEPLOYMENT_ID" >>"$APPLY_LOG"
EOS
chmod 700 "$T/apply.sh"
export APPLY_LOG=$T/applied.log
: >"$APPLY_LOG"
printf 'probe_root = %s\napply_command = %s\nhttps_proxy = http://127.0.0.1:%s\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" "$PROXY_PORT" >"$CONF"
WFM_HOSTPORT=${WFM_URL#https://}
tunnels() { grep -c "^CONNECT $WFM_HOSTPORT\$" "$PROXY_LOG" || true; }
requests() { grep -c 'request method=' "$WFMD_LOG" || true; }
# Proxy variables of the environment: a dead proxy, and NO_PROXY naming the WFM.
dead_env=(env https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1
	ALL_PROXY=http://127.0.0.1:1 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost)

e2e_step "onboarding goes through the tunnel"
enrollment_token_create --auto-approve
RC=0
"${dead_env[@]}" "$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" \
	--config "$CONF" --enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded through the proxy ($(tail -n 1 "$T/onboard.log"))"
ID=$("$JSON_GET" "$S/state.json" /clientId)
# the unverified CA download, the verified one, then the onboarding exchange
assert_true "the proxy carried the onboarding ($(tunnels) tunnels to $WFM_HOSTPORT)" \
	test "$(tunnels)" -ge 2
assert_false "no tunnel to anything else" grep -qv "^CONNECT $WFM_HOSTPORT\$" "$PROXY_LOG"

e2e_step "a deployment reaches the agent through the proxy, git included"
dep=$(cat /proc/sys/kernel/random/uuid)
deployment_yaml "$dep" proxied-app "$T/dep.yaml"
deploy_put "$ID" "$dep" "$T/dep.yaml"
assert_status 201
t0=$(tunnels)
RC=0
"${dead_env[@]}" "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/run1.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "run --once through the proxy ($(tail -n 1 "$T/run1.log"))"
assert_eq "$(cat "$APPLY_LOG")" "install $dep" "the deployment was applied"
assert_eq "$("$JSON_GET" "$S/deployments.json" "/deployments/$dep/state")" Installed "Installed"
assert_true "the git clone used a tunnel too" \
	grep -q "route=/git/$ID.git/git-upload-pack" "$WFMD_LOG"
# one kept-alive connection carries all the agent's requests of the cycle: a second tunnel is libgit2's
assert_true "new tunnels for the cycle and the clone ($t0 -> $(tunnels))" test "$(tunnels)" -ge $((t0 + 2))

e2e_step "without its proxy the agent does not reach the WFM directly"
e2e_kill "$PROXY_PID" || true
n0=$(requests)
RC=0
"${dead_env[@]}" "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/run2.log" 2>&1 || RC=$?
assert_eq "$RC" 1 "run --once fails with the proxy gone"
assert_match "$(tail -n 1 "$T/run2.log")" "127\\.0\\.0\\.1 port $PROXY_PORT" "the error names the proxy"
assert_eq "$(requests)" "$n0" "no request reached the WFM"

wfmd_stop
e2e_finish
