#!/usr/bin/env bash
# Bad input (issue 2, "Done when"): each refusal with its status and RFC 9457 problem body
# (RFC 6749 error body at the token endpoint). Afterwards the server still serves and the
# database holds exactly the devices the scenario created on purpose.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')

e2e_setup
wfmd_start
device_new x
device_new y
enrollment_token_create --auto-approve --max-uses 100
TOKEN=$ENROLL_TOKEN_FILE

# onboard_raw NAME BODYFILE [-- margo-sign options]: signs BODYFILE with NAME's key, POSTs it.
onboard_raw() {
	local name=$1 body=$2
	shift 2
	onboard_request "$name" --body "$body" "$@"
}

e2e_step "malformed JSON: 400"
printf '{"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest", "certificate": ' >"$T/trunc.json"
onboard_raw x "$T/trunc.json"
assert_problem 400 malformed-json
printf '{"certificate": "a",}' >"$T/comma.json"
onboard_raw x "$T/comma.json"
assert_problem 400 malformed-json
printf '' >"$T/empty.body"
onboard_raw x "$T/empty.body"
assert_problem 400
printf '\xff\xfe{"certificate": 1}' >"$T/binary.json"
onboard_raw x "$T/binary.json"
assert_problem 400
printf '["OnboardingRequest"]' >"$T/array.json"
onboard_raw x "$T/array.json"
assert_problem 400
printf '{"kind": "OnboardingRequest"}' >"$T/nocert.json"
onboard_raw x "$T/nocert.json"
assert_problem 400
printf '{"kind": "OnboardingRequest", "certificate": 42}' >"$T/numcert.json"
onboard_raw x "$T/numcert.json"
assert_problem 400
onboard_body x "$T/x.good.json" --token-file "$TOKEN"
sed 's/"kind": "OnboardingRequest"/"kind": "DeviceCapabilities"/' "$T/x.good.json" >"$T/kind.json"
onboard_raw x "$T/kind.json"
assert_problem 400 malformed-request
sed 's/"device": {[^}]*}/"device": "a string"/' "$T/x.good.json" >"$T/devstr.json"
onboard_raw x "$T/devstr.json"
assert_problem 400 malformed-request
sed 's/"enrollmentToken": "[^"]*"/"enrollmentToken": 7/' "$T/x.good.json" >"$T/toknum.json"
onboard_raw x "$T/toknum.json"
assert_problem 400

printf '%*s' 5000 '' | tr ' ' '[' >"$T/deep.json"
printf '%*s' 5000 '' | tr ' ' ']' >>"$T/deep.json"
onboard_raw x "$T/deep.json"
assert_problem 400
sed 's/"serialNumber": "SN-x"/"serialNumber": "SN\\u0000x"/' "$T/x.good.json" >"$T/nul.json"
assert_true "the body holds an escaped NUL" grep -q 'SN\\u0000x' "$T/nul.json"
onboard_raw x "$T/nul.json"
assert_problem 400
printf '{"a": "\xc3\x28"}' >"$T/badutf8.json"
onboard_raw x "$T/badutf8.json"
assert_problem 400 malformed-json

e2e_step "wrong content type: 415"
onboard_request x --token-file "$TOKEN" --content-type text/plain
assert_problem 415
onboard_request x --token-file "$TOKEN" --content-type application/x-www-form-urlencoded
assert_problem 415
onboard_request x --token-file "$TOKEN" --content-type application/jsonx
assert_problem 415
onboard_raw x "$T/x.good.json"
http POST /onboarding/ -H "@$T/x.sig.hdr" --data-binary "@$T/x.good.json" -H 'Content-Type:'
assert_problem 415

e2e_step "oversized body: 413 (over 64 KiB)"
{
	head -c -1 "$T/x.good.json"
	printf ', "padding": "'
	head -c 70000 /dev/zero | tr '\0' 'a'
	printf '"}'
} >"$T/big.json"
assert_true "the big body is over 64 KiB" test "$(wc -c <"$T/big.json")" -gt 65536
onboard_raw x "$T/big.json"
assert_problem 413 body-too-large
onboard_raw x "$T/big.json" -- --no-signature
assert_problem 413
http POST /onboarding/ "${JSON[@]}" -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
assert_problem 413
head -c 2000000 /dev/zero | tr '\0' ' ' >"$T/huge.body"
http POST /onboarding/ "${JSON[@]}" --data-binary "@$T/huge.body"
assert_problem 413
{
	head -c -1 "$T/x.good.json"
	printf ', "padding": "'
	head -c 60000 /dev/zero | tr '\0' 'a'
	printf '"}'
} >"$T/almost.json"
assert_true "a body just under 64 KiB" test "$(wc -c <"$T/almost.json")" -lt 65536
onboard_raw x "$T/almost.json"
assert_status 201 "a 62 KiB onboarding request is accepted"
X_ID=$(device_client_id x)

e2e_step "oversized headers: refused, the server survives"
head -c 100000 /dev/zero | tr '\0' 'h' | sed 's/^/X-Big: /' >"$T/bighdr.hdr"
http GET /onboarding/certificate -H "@$T/bighdr.hdr"
assert_match "$HTTP_STATUS" '^(4[0-9][0-9]|000)$' "a 100 KB header is refused ($HTTP_STATUS)"
http GET "/onboarding/certificate?$(head -c 20000 /dev/zero | tr '\0' 'q')"
assert_match "$HTTP_STATUS" '^(200|4[0-9][0-9])$' "a 20 KB query string gets an answer ($HTTP_STATUS)"
http GET /onboarding/certificate
assert_status 200 "the server still serves"

e2e_step "certificate that is not a certificate: 400"
for junk in "aGVsbG8gd29ybGQ=" "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n" \
	"$(head -c 300 /dev/urandom | base64 -w0)" "not base64 at all!" \
	"$(base64 -w0 <"$T/x.key")"; do
	printf '{"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest", "certificate": "%s"}' \
		"$junk" >"$T/junk.json"
	onboard_raw x "$T/junk.json"
	assert_problem 400 invalid-certificate
done

e2e_step "proof of possession failures"
device_new z
onboard_body z "$T/z.json" --token-file "$TOKEN"
onboard_raw z "$T/z.json" -- --no-digest
assert_problem 400 missing-content-digest
onboard_raw z "$T/z.json" -- --no-signature
assert_problem 400 missing-signature
onboard_raw z "$T/z.json" -- --bad-digest
assert_problem 401 invalid-content-digest
onboard_raw z "$T/z.json" -- --digest 'sha-256=:not-base64:'
assert_problem 401 invalid-content-digest
onboard_raw z "$T/z.json" -- --digest 'md5=:1B2M2Y8AsgTpgAmY7PhCfg==:'
assert_status_any "400 401" "Content-Digest with no understood algorithm -> 400 or 401"
assert_content_type application/problem+json
sha512=$(openssl dgst -sha512 -binary "$T/z.json" | base64 -w0)
sha256=$(openssl dgst -sha256 -binary "$T/z.json" | base64 -w0)
onboard_raw z "$T/z.json" -- --digest "sha-256=:$sha256:, sha-512=:$(printf 'x' | openssl dgst -sha512 -binary | base64 -w0):"
assert_problem 401 invalid-content-digest
onboard_raw z "$T/z.json" -- --digest "sha-512=:$sha512:, sha-256=:$sha256:"
assert_status 201 "sha-512 and sha-256 digests, both right -> 201"
# signed correctly, then the body changed on the way
"$MARGO_SIGN" --key "$T/z.key" --url "$WFM_URL/onboarding/" --body "$T/z.json" >"$T/z.sig.hdr"
sed 's/SN-z/SN-Z/' "$T/z.json" >"$T/z.tampered.json"
http POST /onboarding/ "${JSON[@]}" -H "@$T/z.sig.hdr" --data-binary "@$T/z.tampered.json"
assert_problem 401 invalid-content-digest
onboard_raw z "$T/z.json" --sign-key "$T/y.key" -- --cert "$T/z.crt"
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" --sign-key "$T/y.key"
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --keyid "$(printf '%064d' 0)"
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --no-keyid
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --created-offset -600
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --created-offset 600
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --components "@method @target-uri"
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --method PUT
assert_problem 401 invalid-signature
"$MARGO_SIGN" --key "$T/z.key" --url "https://wfm.invalid:8443/onboarding/" --body "$T/z.json" >"$T/z.other.hdr"
http POST /onboarding/ "${JSON[@]}" -H "@$T/z.other.hdr" --data-binary "@$T/z.json"
assert_problem 401 invalid-signature
sed 's/^Signature: \(.*=:\)\(.\)/Signature: \1A\2/' "$T/z.sig.hdr" >"$T/z.badsig.hdr"
http POST /onboarding/ "${JSON[@]}" -H "@$T/z.badsig.hdr" --data-binary "@$T/z.json"
assert_problem 401 invalid-signature
onboard_raw z "$T/z.json" -- --created-offset -200
assert_status 201 "created 200 s ago is within the window"
Z_ID=$(device_client_id z)

e2e_step "enrollment tokens: expired, revoked, used up, unknown"
device_new e
enrollment_token_create --auto-approve --ttl 1
cp "$ENROLL_TOKEN_FILE" "$T/expired.token"
sleep 2
onboard_request e --token-file "$T/expired.token"
assert_problem 401 invalid-enrollment-token
enrollment_token_create --auto-approve
admin_http DELETE "/admin/v1/enrollment-tokens/$ENROLL_TOKEN_ID"
assert_status 204 "revoke a token"
onboard_request e --token-file "$ENROLL_TOKEN_FILE"
assert_problem 401 invalid-enrollment-token
enrollment_token_create --auto-approve --max-uses 1
cp "$ENROLL_TOKEN_FILE" "$T/once.token"
device_new u
onboard_request u --token-file "$T/once.token"
assert_status 201 "first use of a single-use token"
U_ID=$(device_client_id u)
onboard_request e --token-file "$T/once.token"
assert_problem 401 invalid-enrollment-token
printf 'wfmet_%s' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/unknown.token"
onboard_request e --token-file "$T/unknown.token"
assert_problem 401 invalid-enrollment-token
printf 'hello' >"$T/silly.token"
onboard_request e --token-file "$T/silly.token"
assert_problem 401 invalid-enrollment-token
printf '' >"$T/emptytok.token"
onboard_request e --token-file "$T/emptytok.token"
assert_status_any "400 401" "an empty enrollment token -> 400 or 401"

e2e_step "token endpoint: wrong client secret"
device_token x
assert_status 200 "x gets an access token"
printf 'grant_type=client_credentials&client_id=%s&client_secret=wfmcs_%s' "$X_ID" \
	BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB >"$T/wrong.form"
device_token x "$T/wrong.form"
assert_oauth_error 401 invalid_client
printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' "$X_ID" "$(<"$T/z.secret")" >"$T/swap.form"
device_token x "$T/swap.form"
assert_oauth_error 401 invalid_client
device_token x
assert_status 200 "x's own secret still works after the failures"

printf 'Authorization: Basic !!!not-base64\n' >"$T/junkbasic.hdr"
http POST /oauth2/token -H "@$T/junkbasic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/wrong.form"
assert_status_any "400 401" "a malformed Basic header -> 400 or 401"
assert_content_type application/json
assert_json_match /error '^invalid_(client|request)$'

e2e_step "Device API: bad bodies, expired token, another device's token, revoked device"
device_token x
assert_status 200 "x gets an access token"
capabilities_doc x "$T/x.caps.json"
device_http x POST "/device/$X_ID/capabilities" "${JSON[@]}" --data-binary "@$T/trunc.json"
assert_problem 400
device_http x POST "/device/$X_ID/capabilities" -H 'Content-Type: text/yaml' --data-binary "@$T/x.caps.json"
assert_problem 415
device_http x POST "/device/$X_ID/capabilities" "${JSON[@]}" --data-binary "@$T/big.json"
assert_problem 413
device_http x POST "/device/$X_ID/capabilities" "${JSON[@]}" --data-binary "@$T/x.caps.json"
assert_status 201 "x reports capabilities"
# expiry: a restart with 3 s access tokens (whole seconds: a token may live 2 s only)
wfmd_restart --access-token-ttl 3
device_token x
assert_json /expires_in 3
device_http x GET "/device/$X_ID/capabilities"
assert_status 200 "the short-lived token works at once"
sleep 4
device_http x GET "/device/$X_ID/capabilities"
assert_problem 401
assert_header WWW-Authenticate '^Bearer .*error="invalid_token"'
wfmd_restart --access-token-ttl 3600
device_token x
device_token z
assert_status 200 "z gets an access token"
device_http z GET "/device/$X_ID/capabilities"
assert_problem 403
device_http z POST "/device/$X_ID/capabilities" "${JSON[@]}" --data-binary "@$T/x.caps.json"
assert_problem 403
admin_http DELETE "/admin/v1/devices/$Z_ID"
assert_status 200 "revoke z"
device_http z GET "/device/$Z_ID/capabilities"
assert_problem 401
assert_header WWW-Authenticate 'error="invalid_token"'
device_token z
assert_oauth_error 401 invalid_client
onboard_request z --token-file "$TOKEN"
assert_status 201 "a revoked device may onboard again with a valid token"
assert_json /clientId "$Z_ID"
device_token z
assert_status 200 "and its new credentials work"

e2e_step "admin API bad input"
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/trunc.json"
assert_problem 400
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/big.json"
assert_problem 413
admin_http POST /admin/v1/certificates "${JSON[@]}" --data-binary "@$T/junk.json"
assert_problem 400 invalid-certificate

e2e_step "the server still serves, the database holds exactly the expected devices"
http GET /onboarding/certificate
assert_status 200 "certificate API still answers"
device_new after
enrollment_token_create --auto-approve
onboard_request after --token-file "$ENROLL_TOKEN_FILE"
assert_status 201 "a fresh device still onboards"
device_token after
assert_status 200 "and gets an access token"
admin_http GET /admin/v1/devices
assert_status 200
assert_eq "$(json_length /items)" 4 "4 devices: x, z, u, after"
for n in x z u after; do
	assert_eq "$(device_admin_lookup "$n" state)" active "$n is active"
done
for n in y e; do
	assert_eq "$(device_admin_lookup "$n" id)" "" "$n was never stored"
done
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'SELECT count(*) FROM devices;' 2>&1)" 4 \
	"sqlite3: 4 rows in devices"
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'PRAGMA integrity_check;' 2>&1)" ok \
	"sqlite3: integrity_check ok"
assert_true "wfmd is still running" _e2e_alive "$WFMD_PID"
assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
