#!/usr/bin/env bash
# margo-agent onboarding: pin, wrong pin, TOFU only with the flag, secrets never in argv,
# state files 0600, capabilities visible to the operator and re-reported after a probed change.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN" "$WFMCTL_BIN"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
BAD_PIN=sha256:$(printf '%064d' 0)
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT

# agent NAME ARGS...: margo-agent with state dir $T/NAME and config $T/NAME.conf (created
# empty when missing); stdout to $T/NAME.out, stderr to $T/NAME.err; sets RC.
agent() {
	local name=$1
	shift
	[[ -f "$T/$name.conf" ]] || : >"$T/$name.conf"
	RC=0
	"$AGENT_BIN" "$@" --state-dir "$T/$name" --config "$T/$name.conf" \
		>"$T/$name.out" 2>"$T/$name.err" || RC=$?
	cat "$T/$name.out" "$T/$name.err" >>"$T/agent.log"
}

# A copy of the x86 probe fixture the test may change.
cp -a "$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/probe"

e2e_step "a wrong pin is refused and nothing is written"
enrollment_token_create --auto-approve --max-uses 5
TOKEN=$ENROLL_TOKEN_FILE
agent bad onboard --url "$WFM_URL" --ca-fingerprint "$BAD_PIN" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 3 "wrong pin: exit 3"
assert_match "$(<"$T/bad.err")" "does not match the pin" "wrong pin: clear message"
assert_eq "$(wc -l <"$T/bad.err")" 1 "wrong pin: one line on stderr"
assert_false "wrong pin: no state dir" test -e "$T/bad"
assert_eq "$(devices_count)" 0 "wrong pin: no device at the WFM"

e2e_step "no pin: refused unless --trust-on-first-use"
agent nopin onboard --url "$WFM_URL"
assert_eq "$RC" 2 "no pin, no TOFU: exit 2"
assert_match "$(<"$T/nopin.err")" "trust-on-first-use" "no pin: message names the flag"
assert_false "no pin: no state dir" test -e "$T/nopin"

e2e_step "the enrollment token is never taken from argv"
agent argv onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token wfmet_x
assert_eq "$RC" 2 "--enrollment-token: exit 2"
assert_match "$(<"$T/argv.err")" "enrollment-token-file" "--enrollment-token: points to the file"
assert_false "--enrollment-token: no state dir" test -e "$T/argv"

e2e_step "a bad enrollment token is refused clearly; the next try reuses the trust"
printf 'wfmet_%043d' 0 >"$T/bogus.token"
agent badtok onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$T/bogus.token"
assert_eq "$RC" 4 "bad enrollment token: exit 4"
assert_match "$(tail -n 1 "$T/badtok.err")" "^margo-agent: onboarding not authorised by the WFM: 401" "bad token: clear message"
assert_json_absent /clientId "$T/badtok/state.json"
n_cert=$(grep -c 'route=/onboarding/certificate' "$WFMD_LOG")
agent badtok onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 0 "then a good token: exit 0 ($(<"$T/badtok.err"))"
assert_eq "$(grep -c 'route=/onboarding/certificate' "$WFMD_LOG")" "$n_cert" "the stored CA was reused"

e2e_step "onboarding with a pin"
printf 'roles = standalone device\nprobe_root = %s\n' "$T/probe" >"$T/dev1.conf"
agent dev1 onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$TOKEN" \
	--vendor "E2E Vendor" --model "E2E-1"
assert_eq "$RC" 0 "onboard with pin: exit 0 ($(<"$T/dev1.err"))"
assert_match "$(<"$T/dev1.out")" "^onboarded: client id [0-9a-f-]{36}" "onboard prints the client id"
ID1=$(sed -n 's/^onboarded: client id \([0-9a-f-]*\),.*/\1/p' "$T/dev1.out")
e2e_secret "$("$JSON_GET" "$T/dev1/state.json" /clientSecret)"
e2e_secret "$("$JSON_GET" "$T/dev1/state.json" /accessToken)"
assert_eq "$(stat -c %a "$T/dev1")" 700 "state dir is 0700"
for f in state.json ca.crt device.key device.crt; do
	assert_file_mode "$T/dev1/$f" 600
done
assert_eq "$(openssl x509 -in "$T/dev1/ca.crt" -outform DER | sha256sum | awk '{print "sha256:" $1}')" \
	"$PIN" "stored CA is the pinned one"
assert_true "device key is ECDSA P-256" \
	grep -q 'prime256v1\|P-256' <(openssl pkey -in "$T/dev1/device.key" -noout -text 2>/dev/null)
agent dev1 status --json
assert_eq "$RC" 0 "status: exit 0 when onboarded"
assert_json /clientId "$ID1" "$T/dev1.out"
assert_json /state onboarded "$T/dev1.out"
assert_json /url "$WFM_URL" "$T/dev1.out"
assert_json /caFingerprint "$PIN" "$T/dev1.out"
assert_json_type /lastCapabilitiesReport string "$T/dev1.out"
assert_json_type /accessTokenExpiresAt string "$T/dev1.out"

e2e_step "capabilities visible to the operator"
wfmctl --json device show "$ID1" >"$T/show1.json"
assert_json /capabilities/properties/id "$ID1" "$T/show1.json"
assert_json /capabilities/properties/vendor "E2E Vendor" "$T/show1.json"
assert_json /capabilities/properties/serialNumber "ADV-SN-0042" "$T/show1.json"
assert_json /capabilities/properties/resources/cpus/0/cores 4 "$T/show1.json"
assert_json /capabilities/properties/resources/cpus/0/frequency "4.1 GHz" "$T/show1.json"
assert_json /capabilities/properties/resources/memory "8.24 GB" "$T/show1.json"
assert_json /capabilities/properties/peripherals/0/type gpu "$T/show1.json"
assert_json /capabilities/properties/interfaces/0/name eth0 "$T/show1.json"
assert_json /vendor "E2E Vendor" "$T/show1.json"
assert_json /state active "$T/show1.json"

e2e_step "onboard again: already onboarded, same client id"
agent dev1 onboard --url "$WFM_URL" --ca-fingerprint "$PIN"
assert_eq "$RC" 0 "second onboard: exit 0"
assert_match "$(<"$T/dev1.out")" "already onboarded: client id $ID1" "second onboard: same id"

e2e_step "run --once re-reports capabilities only after a probed change"
puts() { grep -c "method=PUT route=/device/$ID1/capabilities status=201" "$WFMD_LOG" || true; }
before=$(puts)
agent dev1 run --once
assert_eq "$RC" 0 "run --once: exit 0 ($(<"$T/dev1.err"))"
assert_eq "$(puts)" "$before" "unchanged probe: no PUT"
sed -i 's/^MemTotal:.*/MemTotal:       16093056 kB/' "$T/probe/proc/meminfo"
agent dev1 run --once
assert_eq "$RC" 0 "run --once after change: exit 0"
assert_eq "$(puts)" "$((before + 1))" "changed probe: one PUT"
wfmctl --json device show "$ID1" >"$T/show2.json"
assert_json /capabilities/properties/resources/memory "16.48 GB" "$T/show2.json"
agent dev1 run --once
assert_eq "$(puts)" "$((before + 1))" "no further change: no further PUT"

e2e_step "trust on first use"
enrollment_token_create --auto-approve
agent_env_tofu() {
	RC=0
	MARGO_ENROLLMENT_TOKEN=$(<"$ENROLL_TOKEN_FILE") "$AGENT_BIN" onboard --url "$WFM_URL" \
		--trust-on-first-use --state-dir "$T/tofu" --config "$T/dev1.conf" \
		>"$T/tofu.out" 2>"$T/tofu.err" || RC=$?
	cat "$T/tofu.out" "$T/tofu.err" >>"$T/agent.log"
}
agent_env_tofu
assert_eq "$RC" 0 "TOFU with token from the environment: exit 0 ($(<"$T/tofu.err"))"
assert_match "$(<"$T/tofu.err")" "trusting WFM root CA $PIN" "TOFU prints the fingerprint it trusts"
assert_json /caFingerprint "$PIN" "$T/tofu/state.json"
ID2=$("$JSON_GET" "$T/tofu/state.json" /clientId)
assert_ne "$ID2" "$ID1" "a second device (new key) gets its own id"

e2e_step "url and pin from the config file; a flag beats the file"
enrollment_token_create --auto-approve
printf 'url = %s\nca_fingerprint = %s\nprobe_root = %s\n' "$WFM_URL" "$BAD_PIN" "$T/probe" >"$T/cfg.conf"
agent cfg onboard --enrollment-token-file "$ENROLL_TOKEN_FILE"
assert_eq "$RC" 3 "the config file's (wrong) pin is used"
assert_false "nothing written" test -e "$T/cfg"
agent cfg onboard --ca-fingerprint "$PIN" --enrollment-token-file "$ENROLL_TOKEN_FILE"
assert_eq "$RC" 0 "--ca-fingerprint beats the config file ($(<"$T/cfg.err"))"
assert_json /url "$WFM_URL" "$T/cfg/state.json"
agent cfg status
assert_eq "$RC" 0 "status (text): exit 0"
assert_match "$(<"$T/cfg.out")" "state +onboarded" "status (text) shows the state"
assert_match "$(<"$T/cfg.out")" "nextPoll" "status (text) shows the next poll"

e2e_step "help, version, bad config"
RC=0; "$AGENT_BIN" --version >"$T/v.out" 2>&1 || RC=$?
assert_eq "$RC" 0 "--version: exit 0"
for c in onboard run status capabilities; do
	RC=0; "$AGENT_BIN" "$c" --help >"$T/h.out" 2>&1 || RC=$?
	assert_eq "$RC" 0 "$c --help: exit 0"
	assert_match "$(<"$T/h.out")" "example" "$c --help shows examples"
done
printf 'url = https://x\npoll_interval = soon\n' >"$T/badconf.conf"
agent badconf status
assert_eq "$RC" 2 "bad config: exit 2"
assert_eq "$(<"$T/badconf.err")" "margo-agent: $T/badconf.conf:2: poll_interval: expected seconds or a duration like 5m, 1h (1 s to 7 d)" \
	"bad config: FILE:LINE: reason"
RC=0; "$AGENT_BIN" status --state-dir "$T/dev1" --config "$SRC_DIR/agent/agent.conf.example" \
	>/dev/null 2>"$T/ex.err" || RC=$?
assert_eq "$RC" 0 "the example configuration parses ($(<"$T/ex.err"))"

e2e_step "no secret in the agent's output or wfmd's log"
assert_no_secrets_in "$T/agent.log" "$WFMD_LOG"

e2e_finish
