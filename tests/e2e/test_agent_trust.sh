#!/usr/bin/env bash
# Trust failures explained: an onboarded margo-agent meets a WFM certificate that the pinned CA
# did not issue (a second wfmd with its own CA on the same URL), an expired server certificate,
# and a URL host the certificate does not name. Each time it says what it means and what to do,
# keeps refusing with exponential back-off, and leaves its state directory byte-identical.
# Real wfmd and margo-agent processes over TLS on loopback; libfaketime only to let wfmd issue
# a certificate in the past.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
command -v faketime >/dev/null || e2e_die "faketime not installed (scripts/install-deps)"
# libfaketime is preloaded: under ASan (make test-asan) it comes before the ASan runtime
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
faketime_lib() { ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -n 1; }
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
PORT=$WFMD_PORT
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
S=$T/dev
CONF=$T/agent.conf
printf 'probe_root = %s\npoll_interval = 30\n' "$SRC_DIR/tests/fixtures/agent/probe-x86" >"$CONF"
enrollment_token_create --auto-approve
RC=0
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded ($(<"$T/onboard.log"))"
e2e_secret "$("$JSON_GET" "$S/state.json" /clientSecret)"
e2e_secret "$("$JSON_GET" "$S/state.json" /accessToken)"
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/ok.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "a first cycle works ($(tail -n 2 "$T/ok.log"))"

state_sum() { (cd "$S" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# once NAME: one cycle; output in $T/NAME.log; checks it failed and changed nothing stored.
once() {
	local before
	before=$(state_sum)
	RC=0
	"$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/$1.log" 2>&1 || RC=$?
	assert_ne "$RC" 0 "$1: the cycle fails"
	assert_eq "$(state_sum)" "$before" "$1: the state directory is byte-identical"
	cat "$T/$1.log" >>"$T/agent.log"
}

# backoff NAME SECONDS: the run loop against the bad WFM for SECONDS; retries back off
# exponentially (full jitter: the n-th wait is at most 5 * 2^(n-1) s) and nothing is stored.
backoff() {
	local before pid n=0 line f r
	before=$(state_sum)
	e2e_bg "$T/$1.run.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
	pid=$E2E_BG_PID
	sleep "$2"
	e2e_kill "$pid" || true
	while IFS= read -r line; do
		f=$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<<"$line")
		r=$(sed -n 's/.*retry_in=\([0-9]*\)s.*/\1/p' <<<"$line")
		n=$((n + 1))
		assert_eq "$f" "$n" "$1: failure $n counted"
		assert_true "$1: retry $n waits $r s <= $((5 << (n - 1))) s" test "$r" -le $((5 << (n - 1))) -a "$r" -ge 1
	done < <(grep "cycle failed" "$T/$1.run.log")
	assert_true "$1: it kept trying ($n failures in $2 s)" test "$n" -ge 2
	assert_true "$1: with back-off, not in a loop ($n failures in $2 s)" test "$n" -le 5
	assert_eq "$(state_sum)" "$before" "$1: after the loop the state directory is byte-identical"
	cat "$T/$1.run.log" >>"$T/agent.log"
}

e2e_step "a WFM with another CA on the same URL: a man in the middle, or a replaced CA"
wfmd_stop
WFM_DIR_1=$WFM_DIR
WFM_DIR=$T/other WFMD_PORT=$PORT wfmd_start
OTHER=$("$WFMD_BIN" fingerprint --data-dir "$T/other")
assert_ne "$OTHER" "$PIN" "the second wfmd has its own CA"
once mitm
msg=$(grep -m1 "presented" "$T/mitm.log" || true)
assert_match "$msg" "presented a certificate chain the pinned CA did not issue" "mitm: says what happened"
# wfmd presents its server certificate alone: the chain's top is that certificate
TOP=sha256:$(openssl x509 -in "$T/other/server.crt" -outform DER | sha256sum | cut -d' ' -f1)
assert_match "$msg" "presented $TOP" "mitm: names the presented chain's fingerprint"
assert_match "$msg" "pinned $PIN" "mitm: names the pinned fingerprint"
assert_match "$msg" "a man in the middle, or the WFM's CA was replaced: re-onboard only after the operator confirms the new pin" "mitm: says what to do"
assert_false "mitm: OpenSSL's words are not the message" grep -q "unable to get local issuer" "$T/mitm.log"
backoff mitm 14
wfmd_stop

e2e_step "an expired server certificate"
# wfmd issues its certificate 4 years in the past (3-year lifetime), then its clock is set right
# (wfmd_start's readiness probe cannot verify that certificate: it skips verification once)
echo "-1500d" >"$T/faketime.rc"
rm -f "$WFM_DIR_1/server.crt"
saved_opts=("${WFM_CURL_OPTS[@]}")
WFM_CURL_OPTS+=(--insecure)
WFM_DIR=$WFM_DIR_1 WFMD_PORT=$PORT FAKETIME_TIMESTAMP_FILE=$T/faketime.rc FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD=$(faketime_lib) wfmd_start
WFM_CURL_OPTS=("${saved_opts[@]}")
echo "+0" >"$T/faketime.rc"
assert_true "the served certificate is expired" \
	bash -c "! openssl s_client -connect 127.0.0.1:$PORT </dev/null 2>/dev/null | openssl x509 -noout -checkend 0"
once expired
assert_match "$(<"$T/expired.log")" "the WFM's server certificate expired at [0-9T:-]+Z \(WFM time [0-9T:-]+Z\): the operator must renew it" "expired: says what happened and what to do"
backoff expired 8
wfmd_stop

e2e_step "a URL host the certificate does not name"
WFM_DIR=$WFM_DIR_1 WFMD_PORT=$PORT wfmd_start
RC=0; "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >"$T/back.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "the right WFM again: the same credentials work ($(tail -n 1 "$T/back.log"))"
# 127.1 reaches 127.0.0.1 but is a name the certificate does not carry
cp -a "$S" "$T/dev-name"
sed -i "s#https://127.0.0.1:$PORT#https://127.1:$PORT#g" "$T/dev-name/state.json"
S=$T/dev-name
once name
assert_match "$(<"$T/name.log")" "the WFM's certificate is not valid for 127.1 \(it names: [^)]*127.0.0.1" "name: names the host and the certificate's names"
assert_match "$(<"$T/name.log")" "use the URL the WFM's certificate was issued for" "name: says what to do"

e2e_step "no secret in the agent's output or wfmd's log"
assert_no_secrets_in "$T/agent.log" "$WFMD_LOG"
e2e_finish
