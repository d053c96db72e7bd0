#!/usr/bin/env bash
# One-secret onboarding: an enrollment token authenticates the WFM's root CA by the CA MAC the
# WFM computed when it issued the token (docs/api.md section 1). Right token -> trusted and
# onboarded with no pin; a wrong token, another WFM (another CA), and a second WFM that replays
# the genuine CA MAC (what a reader of the first WFM's database could do) -> refused, nothing
# in the state dir. Real wfmd processes over TLS, real margo-agent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN"
command -v sqlite3 >/dev/null || e2e_die "sqlite3 not installed (scripts/install-deps)"
wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT

# agent NAME ARGS...: margo-agent with state dir $T/NAME; output in $T/NAME.out/.err; sets RC.
agent() {
	local name=$1
	shift
	: >"$T/$name.conf"
	RC=0
	"$AGENT_BIN" "$@" --state-dir "$T/$name" --config "$T/$name.conf" \
		>"$T/$name.out" 2>"$T/$name.err" || RC=$?
	cat "$T/$name.out" "$T/$name.err" >>"$T/agent.log"
}

e2e_step "the Certificate API gives the CA MAC of a token's lookup id, and nothing else"
enrollment_token_create --auto-approve --max-uses 5
TOKEN=$ENROLL_TOKEN_FILE
TOKEN_ID=$ENROLL_TOKEN_ID
LOOKUP=$(sqlite3 "$WFM_DIR/wfmd.db" "SELECT lookup FROM enrollment_ca_macs WHERE token_id = '$TOKEN_ID'")
assert_match "$LOOKUP" '^[A-Za-z0-9_-]{22}$' "the token's lookup id is stored"
assert_eq "$(sqlite3 "$WFM_DIR/wfmd.db" "SELECT count(*) FROM enrollment_ca_macs WHERE ca_mac LIKE 'wfmet_%' OR lookup LIKE 'wfmet_%'")" 0 \
	"the token itself is not in the CA MAC table"
http GET "/onboarding/certificate?enrollmentTokenLookup=$LOOKUP"
assert_status 200
assert_json /caMac/algorithm hkdf-sha256-hmac-sha256
assert_json_match /caMac/value '^[A-Za-z0-9_-]{43}$'
http GET "/onboarding/certificate?enrollmentTokenLookup=AAAAAAAAAAAAAAAAAAAAAA"
assert_status 200
assert_json_absent /caMac
http GET "/onboarding/certificate?enrollmentTokenLookup=short"
assert_problem 400 invalid-query
http GET /onboarding/certificate
assert_status 200
assert_json_absent /caMac

e2e_step "right token, no pin: the CA is authenticated by the token and the device onboards"
agent good onboard --url "$WFM_URL" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 0 "token alone: exit 0 ($(<"$T/good.err"))"
assert_match "$(<"$T/good.err")" "authenticated by the enrollment token" "says what authenticated the CA"
assert_eq "$(openssl x509 -in "$T/good/ca.crt" -outform DER | sha256sum | awk '{print "sha256:" $1}')" \
	"$PIN" "the stored CA is the WFM's"
assert_json_match /clientId '^[0-9a-f-]{36}$' "$T/good/state.json"

e2e_step "a wrong token: no CA MAC, refused, nothing stored"
printf 'wfmet_%043d' 7 >"$T/wrong.token"
agent wrong onboard --url "$WFM_URL" --enrollment-token-file "$T/wrong.token"
assert_eq "$RC" 3 "wrong token: exit 3"
assert_match "$(<"$T/wrong.err")" "no CA MAC for this enrollment token" "wrong token: clear message"
assert_false "wrong token: no state dir" test -e "$T/wrong"

e2e_step "a revoked token gets no CA MAC"
enrollment_token_create --auto-approve
REVOKED=$ENROLL_TOKEN_FILE
admin_http DELETE "/admin/v1/enrollment-tokens/$ENROLL_TOKEN_ID"
agent revoked onboard --url "$WFM_URL" --enrollment-token-file "$REVOKED"
assert_eq "$RC" 3 "revoked token: exit 3"
assert_false "revoked token: no state dir" test -e "$T/revoked"

# A second WFM with its own root CA, standing where a man in the middle would.
B_DIR=$T/wfmb
e2e_bg "$T/wfmb.log" "$WFMD_BIN" serve --data-dir "$B_DIR" --listen 127.0.0.1:0
B_PID=$E2E_BG_PID
e2e_wait_for 20 test -s "$B_DIR/public-url" || e2e_die "second wfmd did not start"
B_URL=$(<"$B_DIR/public-url")
e2e_wait_for 20 "${E2E_CURL[@]}" --cacert "$B_DIR/ca.crt" -o /dev/null "$B_URL/onboarding/certificate" ||
	e2e_die "second wfmd not serving"
B_PIN=$("$WFMD_BIN" fingerprint --data-dir "$B_DIR")
assert_ne "$B_PIN" "$PIN" "the second WFM has another CA"

e2e_step "another WFM (another CA) with the first WFM's token: refused, nothing stored"
agent other onboard --url "$B_URL" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 3 "other CA: exit 3"
assert_false "other CA: no state dir" test -e "$T/other"

# What a reader of the first WFM's database holds: the token's hash, lookup and CA MAC. Copied
# into the second WFM, first as they are (a token issued under another CA: wfmd withholds the
# MAC), then claiming the second WFM's CA (the genuine MAC replayed next to another CA).
stop_b() { e2e_kill "$B_PID" 10 || true; }
copy_token() {
	sqlite3 "$B_DIR/wfmd.db" "ATTACH '$WFM_DIR/wfmd.db' AS a;
		INSERT OR REPLACE INTO enrollment_tokens SELECT * FROM a.enrollment_tokens WHERE id = '$TOKEN_ID';
		INSERT OR REPLACE INTO enrollment_ca_macs SELECT * FROM a.enrollment_ca_macs WHERE token_id = '$TOKEN_ID';
		UPDATE enrollment_ca_macs SET ca_fingerprint = '$1' WHERE token_id = '$TOKEN_ID';"
}
e2e_step "a database copied to another CA: the WFM withholds the stale MAC"
copy_token "$PIN"
agent stale onboard --url "$B_URL" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 3 "stale MAC: exit 3"
assert_match "$(<"$T/stale.err")" "no CA MAC" "stale MAC withheld"
assert_false "stale MAC: no state dir" test -e "$T/stale"
assert_true "the second WFM logs the stale MAC" grep -q 'enrollment token issued under another CA' "$T/wfmb.log"

e2e_step "the genuine CA MAC replayed with another CA: refused, nothing stored"
copy_token "$B_PIN"
http GET "$B_URL/onboarding/certificate?enrollmentTokenLookup=$LOOKUP" --cacert "$B_DIR/ca.crt"
assert_json_match /caMac/value '^[A-Za-z0-9_-]{43}$'
agent replay onboard --url "$B_URL" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 3 "replayed MAC: exit 3"
assert_match "$(<"$T/replay.err")" "not authenticated by the enrollment token" "replayed MAC: clear message"
assert_match "$(<"$T/replay.err")" "$B_PIN" "the message names the CA presented"
assert_false "replayed MAC: no state dir" test -e "$T/replay"
assert_eq "$(sqlite3 "$B_DIR/wfmd.db" "SELECT count(*) FROM devices")" 0 "the second WFM saw no onboarding"
stop_b

e2e_step "wfmctl enrollment create prints the onboarding line and, with --qr, its QR code"
RC=0
wfmctl enrollment create --auto-approve --qr >"$T/create.out" 2>"$T/create.err" || RC=$?
assert_eq "$RC" 0 "enrollment create --qr: exit 0"
LINE=$(sed -n 's/^  \(margo-agent onboard .*\)$/\1/p' "$T/create.out")
assert_eq "$LINE" "margo-agent onboard --url $WFM_URL --enrollment-token-file /root/enrollment.token" \
	"the whole onboarding line: URL and token file, no pin"
assert_false "the token is not in the line" grep -q wfmet_ <<<"$LINE"
sed -n '/^\xe2\x96\x88/,$p' "$T/create.out" >"$T/create.qr"
assert_true "a QR code follows" test -s "$T/create.qr"
if command -v qrencode >/dev/null; then
	qrencode -t UTF8 -l M -m 2 "$LINE" >"$T/want.qr"
	assert_true "the QR code encodes the line (same as qrencode -t UTF8)" cmp "$T/want.qr" "$T/create.qr"
fi
TOK=$(sed -n 's/^  \(wfmet_[A-Za-z0-9_-]*\)$/\1/p' "$T/create.out")
e2e_secret "$TOK"
printf '%s\n' "$TOK" >"$T/line.token"
rm -f "$T/create.out"
agent line onboard --url "$WFM_URL" --enrollment-token-file "$T/line.token"
assert_eq "$RC" 0 "the printed line works with the printed token ($(<"$T/line.err"))"

e2e_step "the pin and TOFU paths are as before"
agent pinned onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --enrollment-token-file "$TOKEN"
assert_eq "$RC" 0 "pin + token: exit 0 ($(<"$T/pinned.err"))"
agent nothing onboard --url "$WFM_URL"
assert_eq "$RC" 2 "no pin, no token, no TOFU: exit 2"
assert_match "$(<"$T/nothing.err")" "enrollment-token-file" "the message names the token path"
assert_false "no trust: no state dir" test -e "$T/nothing"

e2e_finish
