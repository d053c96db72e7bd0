#!/usr/bin/env bash
# Clock skew: a device whose clock is off by 10 minutes, a day or a year (either way) is told
# so by the WFM (problem members serverTime, clockOffsetSeconds, allowedSkewSeconds) and
# margo-agent says it in one line; within the window it onboards, and a token expiry the WFM
# states in its own time is kept in the device's time. Real wfmd and margo-agent processes;
# the agent's clock is moved with libfaketime (Debian faketime).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
command -v faketime >/dev/null || e2e_die "faketime not installed (scripts/install-deps)"
# libfaketime is preloaded: under ASan (make test-asan) it comes before the ASan runtime
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
# the wait loops keep the real monotonic clock, as a device's would
export FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DONT_RESET=1
enrollment_token_create --auto-approve --max-uses 20
TOKEN=$ENROLL_TOKEN_FILE
cp -a "$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/probe"

# skewed NAME OFFSET ARGS...: margo-agent with its clock moved by OFFSET (faketime syntax);
# stderr in $T/NAME.err; sets RC.
skewed() {
	local name=$1 off=$2
	shift 2
	printf 'probe_root = %s\n' "$T/probe" >"$T/$name.conf"
	RC=0
	faketime -f "$off" "$AGENT_BIN" "$@" --state-dir "$T/$name" --config "$T/$name.conf" \
		>"$T/$name.out" 2>"$T/$name.err" || RC=$?
	cat "$T/$name.out" "$T/$name.err" >>"$T/agent.log"
}

e2e_step "the WFM's refusal names its time and the window (problem members)"
for off in -1000 86400; do
	device_new "api$off"
	t0=$(date +%s)
	onboard_request "api$off" --token-file "$TOKEN" -- --created-offset "$off"
	t1=$(date +%s)
	assert_problem 401 invalid-signature
	assert_json /allowedSkewSeconds 300 "$HTTP_BODY_FILE"
	got=$("$JSON_GET" "$HTTP_BODY_FILE" /clockOffsetSeconds)
	assert_true "offset $off reported as $got" test "$got" -ge $((off - 1 - (t1 - t0))) -a "$got" -le $((off + 1))
	st=$("$JSON_GET" "$HTTP_BODY_FILE" /serverTimeUnix)
	assert_true "serverTimeUnix $st is the server's time" test "$st" -ge "$t0" -a "$st" -le "$t1"
	assert_eq "$("$JSON_GET" "$HTTP_BODY_FILE" /serverTime)" "$(date -u -d "@$st" +%Y-%m-%dT%H:%M:%SZ)" "serverTime is RFC 3339"
	assert_match "$("$JSON_GET" "$HTTP_BODY_FILE" /detail)" "clock is wrong" "detail says what is wrong"
done

e2e_step "margo-agent says its clock is behind or ahead, in one line"
# A day or a year behind, the WFM's certificate is not yet valid in the device's clock: the
# agent asks the WFM for its Date (verified in every way but time) and says the same.
for off in -10m +10m -1d +1d -365d +365d; do
	skewed "dev$off" "$off" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" \
		--enrollment-token-file "$TOKEN"
	assert_ne "$RC" 0 "clock $off: refused ($(<"$T/dev$off.err"))"
	assert_eq "$(grep -c '^margo-agent: ' "$T/dev$off.err")" 1 "clock $off: one error line"
	case $off in -*) way=behind ;; *) way="ahead of" ;; esac
	assert_match "$(grep '^margo-agent: ' "$T/dev$off.err")" "this device's clock is [0-9]+ s $way the WFM; fix its time \(NTP\)" "clock $off: one clear line"
	assert_false "clock $off: no credentials stored" grep -qs clientSecret "$T/dev$off/state.json"
done

e2e_step "within the window the device onboards, and the git token expiry is in its own clock"
skewed ok -200s onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 0 "clock -200 s: onboarded ($(<"$T/ok.err"))"
skewed ref +0s onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 0 "right clock: onboarded ($(<"$T/ref.err"))"
# lifetime L as a device with a right clock sees it; the skewed device must see the same L
# (with the WFM's expiry taken as its own time it would see L + 200 s and keep the token
# 200 s after it expired)
life() {
	local e i
	e=$(date -d "$("$JSON_GET" "$T/$1/state.json" /gitAccessTokenExpiresAt)" +%s)
	i=$(date -d "$("$JSON_GET" "$T/$1/state.json" /gitAccessTokenIssuedAt)" +%s)
	echo $((e - i))
}
L=$(life ref)
assert_true "git token lifetime $L s" test "$L" -gt 60
d=$(($(life ok) - L))
assert_true "skewed device's git token lifetime $(life ok) s is L=$L s +-3" test "${d#-}" -le 3
e2e_step "an onboarded device whose clock jumped a day ahead neither rotates in a loop nor fails"
count() { grep -c "route=$1 status=20[01]" "$WFMD_LOG" || true; }
ID=$("$JSON_GET" "$T/ok/state.json" /clientId)
tok=$(count /oauth2/token) git=$(count "/device/$ID/git-credentials")
skewed ok +1d run --once
assert_eq "$RC" 0 "+1 d, first cycle ($(grep '^margo-agent: ' "$T/ok.err" || true))"
# a day passed for the device: both tokens are renewed once
assert_eq "$(count /oauth2/token)" "$((tok + 1))" "+1 d: the access token is renewed once"
assert_eq "$(count "/device/$ID/git-credentials")" "$((git + 1))" "+1 d: the git token is rotated once"
tok=$(count /oauth2/token) git=$(count "/device/$ID/git-credentials")
for i in 1 2 3; do
	skewed ok +1d run --once
	assert_eq "$RC" 0 "+1 d, cycle $((i + 1))"
done
assert_eq "$(count /oauth2/token)" "$tok" "+1 d: no token refresh in the next cycles"
assert_eq "$(count "/device/$ID/git-credentials")" "$git" "+1 d: no git token rotation in the next cycles"

e2e_step "a clock stepped back a day (NTP fixing it) does not stall the run loop"
printf 'probe_root = %s\npoll_interval = 3\n' "$T/probe" >"$T/ref-run.conf"
echo "+1d" >"$T/faketime.rc"
RID=$("$JSON_GET" "$T/ref/state.json" /clientId)
polls() { grep -c "route=/device/$RID/desired-state status=" "$WFMD_LOG" || true; }
polls_above() { [[ "$(polls)" -gt "$1" ]]; }
FAKETIME_TIMESTAMP_FILE=$T/faketime.rc FAKETIME_NO_CACHE=1 \
	LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1) \
	e2e_bg "$T/ref-run.log" "$AGENT_BIN" run --state-dir "$T/ref" --config "$T/ref-run.conf"
RUN_PID=$E2E_BG_PID
p0=$(polls)
assert_true "the loop polls (clock +1 d)" e2e_wait_for 20 polls_above "$p0"
sleep 1
echo "+0" >"$T/faketime.rc"
p1=$(polls)
assert_true "after the step back it polls again within the interval" e2e_wait_for 10 polls_above "$((p1 + 1))"
e2e_kill "$RUN_PID" || true

e2e_step "an onboarded device whose clock fell a day behind is told so and changes nothing"
sum=$(cd "$T/ok" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
skewed ok -1d run --once
assert_ne "$RC" 0 "-1 d: the cycle fails"
assert_match "$(grep '^margo-agent: ' "$T/ok.err")" "this device's clock is 864[0-9][0-9] s behind the WFM; fix its time \(NTP\)" "-1 d: says so"
assert_eq "$(cd "$T/ok" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" "$sum" "-1 d: state byte-identical"

e2e_finish
