#!/usr/bin/env bash
# Token endpoint (API.md section 3): OAuth 2.0 client credentials with form and HTTP Basic
# client authentication, the Margo page's curl command verbatim, RFC 6749 section 5.2 errors,
# revocation and access token expiry.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Self-contained access tokens: 97 bytes (docs/wfmd.md) as unpadded base64url.
ACCESS_RE='^wfmat_[A-Za-z0-9_-]{130}$'

# assert_token_response TTL: the last response is a successful token response.
assert_token_response() {
	assert_status 200
	assert_content_type application/json
	assert_json_match /access_token "$ACCESS_RE"
	assert_json /token_type Bearer
	assert_json /expires_in "$1"
	assert_header Cache-Control 'no-store'
	assert_header Pragma 'no-cache'
}

e2e_setup
wfmd_start

device_new dev
enrollment_token_create --auto-approve
onboard_request dev --token-file "$ENROLL_TOKEN_FILE"
assert_status 201 "onboard dev"
ID=$(device_client_id dev)
SECRET=$(<"$T/dev.secret")
TOKEN_URL=$(json_get /tokenEndpointUrl "$T/dev.onboard.json")

e2e_step "the Margo page's curl command, verbatim"
# This one request passes the secret on curl's command line because that is exactly the
# command the Margo page documents and a device integrator will type; every other request of
# the suite passes secrets through files.
http POST "$TOKEN_URL" -H "Content-Type: application/x-www-form-urlencoded" \
	-d "grant_type=client_credentials&client_id=$ID&client_secret=$SECRET"
assert_token_response 3600
FORM_TOKEN=$(json_get /access_token)
e2e_secret "$FORM_TOKEN"

e2e_step "HTTP Basic client authentication"
printf '%s:%s' "$ID" "$SECRET" | base64 -w0 >"$T/basic.b64"
printf 'Authorization: Basic %s\n' "$(<"$T/basic.b64")" >"$T/basic.hdr"
printf 'grant_type=client_credentials' >"$T/grant.form"
http POST /oauth2/token -H "@$T/basic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/grant.form"
assert_token_response 3600
BASIC_TOKEN=$(json_get /access_token)
e2e_secret "$BASIC_TOKEN"
assert_ne "$BASIC_TOKEN" "$FORM_TOKEN" "each request issues a new access token"
e2e_step "both access tokens work at the Device API"
capabilities_doc dev "$T/caps.json"
printf 'Authorization: Bearer %s\n' "$FORM_TOKEN" >"$T/form.bearer.hdr"
printf 'Authorization: Bearer %s\n' "$BASIC_TOKEN" >"$T/basic.bearer.hdr"
http POST "/device/$ID/capabilities" -H "@$T/form.bearer.hdr" -H 'Content-Type: application/json' \
	--data-binary "@$T/caps.json"
assert_status 201 "capabilities with the form-issued token"
http GET "/device/$ID/capabilities" -H "@$T/basic.bearer.hdr"
assert_status 200 "capabilities with the Basic-issued token"

e2e_step "client credentials in both places, or the id in the form and Basic"
printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' "$ID" "$SECRET" >"$T/both.form"
http POST /oauth2/token -H "@$T/basic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/both.form"
assert_token_response 3600
printf 'grant_type=client_credentials&client_id=%s' "$ID" >"$T/idonly.form"
http POST /oauth2/token -H "@$T/basic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/idonly.form"
assert_token_response 3600

e2e_step "form details: charset parameter, percent-encoding, parameter order"
http POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded; charset=UTF-8' \
	--data-binary "@$T/both.form"
assert_token_response 3600
ENC_SECRET=${SECRET//_/%5F}
ENC_SECRET=${ENC_SECRET//-/%2D}
printf 'client_secret=%s&grant_type=client%%5Fcredentials&client_id=%s' "$ENC_SECRET" "$ID" >"$T/enc.form"
device_token dev "$T/enc.form"
assert_token_response 3600

e2e_step "access tokens are self-contained (docs/wfmd.md): earlier ones stay valid, altered ones do not"
http GET "/device/$ID/capabilities" -H "@$T/form.bearer.hdr"
assert_status 200 "the first token still works after 5 more were issued"
http GET "/device/$ID/capabilities" -H "@$T/basic.bearer.hdr"
assert_status 200 "the 2nd token works"
device_http dev GET "/device/$ID/capabilities"
assert_status 200 "the newest token works"
# One character changed (to another base64url character): the MAC no longer matches.
c=${FORM_TOKEN:26:1}
[[ "$c" == A ]] && r=B || r=A
printf 'Authorization: Bearer %s%s%s\n' "${FORM_TOKEN:0:26}" "$r" "${FORM_TOKEN:27}" >"$T/tampered.bearer.hdr"
assert_ne "$(<"$T/tampered.bearer.hdr")" "$(<"$T/form.bearer.hdr")" "the tampered token differs"
http GET "/device/$ID/capabilities" -H "@$T/tampered.bearer.hdr"
assert_problem 401
assert_header WWW-Authenticate 'error="invalid_token"'
printf 'Authorization: Bearer wfmat_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/oldshape.bearer.hdr"
http GET "/device/$ID/capabilities" -H "@$T/oldshape.bearer.hdr"
assert_problem 401
assert_file_mode "$WFM_DIR/access-token.key" 600
e2e_step "access tokens survive a wfmd restart (the key is in the data dir)"
wfmd_restart
http GET "/device/$ID/capabilities" -H "@$T/form.bearer.hdr"
assert_status 200 "a token issued before the restart still works"

e2e_step "wrong or missing client credentials: 401 invalid_client"
printf 'grant_type=client_credentials&client_id=%s&client_secret=wfmcs_%s' "$ID" \
	AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/wrong.form"
device_token dev "$T/wrong.form"
assert_oauth_error 401 invalid_client
printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' \
	00000000-0000-4000-8000-000000000000 "$SECRET" >"$T/otherid.form"
device_token dev "$T/otherid.form"
assert_oauth_error 401 invalid_client
printf 'grant_type=client_credentials&client_id=%s&client_secret=%sx' "$ID" "$SECRET" >"$T/long.form"
device_token dev "$T/long.form"
assert_oauth_error 401 invalid_client
printf 'grant_type=client_credentials&client_id=%s' "$ID" >"$T/nosecret.form"
device_token dev "$T/nosecret.form"
assert_oauth_error 401 invalid_client
printf '%s:wfmcs_%s' "$ID" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | base64 -w0 >"$T/badbasic.b64"
printf 'Authorization: Basic %s\n' "$(<"$T/badbasic.b64")" >"$T/badbasic.hdr"
http POST /oauth2/token -H "@$T/badbasic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/grant.form"
assert_oauth_error 401 invalid_client
assert_header WWW-Authenticate '^Basic'

e2e_step "bad grant and malformed requests: 400"
printf 'grant_type=password&client_id=%s&client_secret=%s' "$ID" "$SECRET" >"$T/password.form"
device_token dev "$T/password.form"
assert_oauth_error 400 unsupported_grant_type
printf 'grant_type=authorization_code&code=x' >"$T/code.form"
http POST /oauth2/token -H "@$T/basic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/code.form"
assert_oauth_error 400 unsupported_grant_type
printf 'client_id=%s&client_secret=%s' "$ID" "$SECRET" >"$T/nogrant.form"
device_token dev "$T/nogrant.form"
assert_oauth_error 400 invalid_request
http POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded'
assert_oauth_error 400 invalid_request
printf 'grant_type=client_credentials&grant_type=client_credentials&client_id=%s&client_secret=%s' \
	"$ID" "$SECRET" >"$T/twice.form"
device_token dev "$T/twice.form"
assert_oauth_error 400 invalid_request
printf '{"grant_type": "client_credentials", "client_id": "%s", "client_secret": "%s"}' "$ID" \
	"$SECRET" >"$T/json.form"
http POST /oauth2/token -H 'Content-Type: application/json' --data-binary "@$T/json.form"
assert_oauth_error 400 invalid_request
http GET /oauth2/token
assert_problem 405
assert_header Allow 'POST'

e2e_step "after a restart the credentials still work; access tokens expire"
cp "$T/dev.bearer.hdr" "$T/before-restart.hdr"
# 8 s: one request fits on a loaded machine under ASan; the test then waits it out
wfmd_restart --access-token-ttl 8
assert_eq "$(<"$WFM_DIR/public-url")" "$WFM_URL" "same URL after the restart"
http GET "/device/$ID/capabilities" -H "@$T/before-restart.hdr"
assert_status 200 "an access token issued before the restart still works"
device_token dev
assert_token_response 8
SHORT_HDR=$T/dev.bearer.hdr
http GET "/device/$ID/capabilities" -H "@$SHORT_HDR"
assert_status 200 "the short-lived token works at once"
sleep 9
http GET "/device/$ID/capabilities" -H "@$SHORT_HDR"
assert_problem 401
assert_header WWW-Authenticate '^Bearer .*error="invalid_token"'
device_token dev
assert_token_response 8
http GET "/device/$ID/capabilities" -H "@$T/dev.bearer.hdr"
assert_status 200 "a fresh token from the same secret works"

e2e_step "a revoked device is an invalid_client"
wfmd_restart --access-token-ttl 3600
device_token dev
assert_token_response 3600
device_http dev GET "/device/$ID/capabilities"
assert_status 200 "the token works before the revocation"
admin_http DELETE "/admin/v1/devices/$ID"
assert_status 200 "revoke -> 200"
assert_json /state revoked
device_token dev
assert_oauth_error 401 invalid_client
http POST /oauth2/token -H "@$T/basic.hdr" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/grant.form"
assert_oauth_error 401 invalid_client
http GET "/device/$ID/capabilities" -H "@$T/dev.bearer.hdr"
assert_problem 401
assert_header WWW-Authenticate 'error="invalid_token"'

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
