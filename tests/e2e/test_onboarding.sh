#!/usr/bin/env bash
# Onboarding API (API.md section 2): every authorisation path end to end, the three certificate
# encodings, lost responses and re-onboarding of a known key. Devices are plain curl + openssl
# + margo-sign, so this is also the proof that an independent client can onboard.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
SECRET_RE='^wfmcs_[A-Za-z0-9_-]{43}$'
POLL_RE='^wfmpt_[A-Za-z0-9_-]{43}$'

# assert_onboarding_response STATUS: the last response is an OnboardingResponse.
assert_onboarding_response() {
	assert_status "$1"
	assert_content_type application/json
	assert_header Cache-Control 'no-store'
	assert_json /apiVersion onboarding.margo.org/v1alpha1
	assert_json /kind OnboardingResponse
	assert_json_match /clientId "$UUID_RE"
	assert_json_match /clientSecret "$SECRET_RE"
	assert_json /tokenEndpointUrl "$WFM_URL/oauth2/token"
	assert_json /deviceId "$(json_get /clientId 2>/dev/null || echo missing)"
}

# assert_pending_response: the last response is a 202 OnboardingPending.
assert_pending_response() {
	local rid
	assert_status 202
	assert_content_type application/json
	assert_json /kind OnboardingPending
	assert_json_match /requestId "$UUID_RE"
	assert_json_match /pollToken "$POLL_RE"
	assert_json_type /retryAfterSeconds integer
	rid=$(json_get /requestId 2>/dev/null) || rid=missing
	assert_header Location "^(https://[^/]+)?/onboarding/requests/$rid\$"
	assert_header Retry-After '^[0-9]+$'
}

e2e_setup
wfmd_start

e2e_step "enrollment token, auto-approve: 201 with credentials"
device_new tok
enrollment_token_create --auto-approve --max-uses 1
onboard_request tok --token-file "$ENROLL_TOKEN_FILE"
assert_onboarding_response 201
TOK_ID=$(device_client_id tok)
device_token tok
assert_status 200 "the new client credentials work at the token endpoint"
assert_json_match /access_token '^wfmat_'
assert_eq "$(device_admin_lookup tok state)" active "the device is listed active"

e2e_step "the same token used up: a second device is refused"
device_new tok2
onboard_request tok2 --token-file "$ENROLL_TOKEN_FILE"
assert_problem 401 invalid-enrollment-token

e2e_step "enrollment token without auto-approve: 202 pending, approve, poll 200"
device_new tokp
enrollment_token_create
onboard_request tokp --token-file "$ENROLL_TOKEN_FILE"
assert_pending_response
onboard_poll tokp
assert_status 202 "poll while pending -> 202"
assert_json /kind OnboardingPending
assert_header Retry-After '^[0-9]+$'
PENDING_ID=$(device_admin_lookup tokp id)
assert_match "$PENDING_ID" "$UUID_RE" "the pending device is listed by the admin API"
assert_eq "$(device_admin_lookup tokp state)" pending "and its state is pending"
admin_http POST "/admin/v1/devices/$PENDING_ID/approve"
assert_status 200 "admin approve -> 200"
assert_json /state active
onboard_poll tokp
assert_onboarding_response 200
assert_json /clientId "$PENDING_ID" "$T/tokp.onboard.json"
device_token tokp
assert_status 200 "credentials from the poll work"

e2e_step "pre-registered certificate: 201 without any token"
device_new pre
cert_preregister "$T/pre.crt"
assert_status 201 "POST /admin/v1/certificates -> 201"
assert_json /fingerprint "$(device_fingerprint pre)"
onboard_request pre
assert_onboarding_response 201
device_token pre
assert_status 200

e2e_step "approval queue: no token -> 202, poll 202, approve, poll 200"
device_new queue
onboard_request queue
assert_pending_response
onboard_poll queue
assert_status 202 "poll -> 202 while pending"
http GET "/onboarding/requests/$(<"$T/queue.request_id")"
assert_problem 401
assert_header WWW-Authenticate '^Bearer'
printf 'Authorization: Bearer wfmpt_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/wrongpoll.hdr"
http GET "/onboarding/requests/$(<"$T/queue.request_id")" -H "@$T/wrongpoll.hdr"
assert_problem 401
http GET "/onboarding/requests/00000000-0000-4000-8000-000000000000" -H "@$T/queue.poll.hdr"
assert_problem 404
# the token endpoint knows nothing usable yet: the pending client has no secret
QUEUE_ID=$(device_admin_lookup queue id)
assert_eq "$(device_admin_lookup queue state)" pending "queued device listed as pending"
admin_http POST "/admin/v1/devices/$QUEUE_ID/approve"
assert_status 200 "approve -> 200"
admin_http POST "/admin/v1/devices/$QUEUE_ID/approve"
assert_problem 409 not-pending
onboard_poll queue
assert_onboarding_response 200
assert_json /clientId "$QUEUE_ID"
QUEUE_SECRET1=$(<"$T/queue.secret")

e2e_step "approved poll repeated before first use: same clientId, new secret, old one dead"
cp "$T/queue.form" "$T/queue.form1"
onboard_poll queue
assert_onboarding_response 200
assert_json /clientId "$QUEUE_ID"
assert_ne "$(<"$T/queue.secret")" "$QUEUE_SECRET1" "a new secret"
device_token queue "$T/queue.form1"
assert_oauth_error 401 invalid_client
device_token queue
assert_status 200 "the newest secret works"
onboard_poll queue
assert_problem 410 request-gone

e2e_step "rejection: 202, admin reject, poll 403 client-rejected"
device_new rej
onboard_request rej
assert_pending_response
REJ_ID=$(device_admin_lookup rej id)
admin_http POST "/admin/v1/devices/$REJ_ID/reject"
assert_status 200 "admin reject -> 200"
assert_json /state rejected
onboard_poll rej
assert_problem 403 client-rejected
onboard_request rej
assert_problem 403 client-rejected
admin_http POST "/admin/v1/devices/$REJ_ID/approve"
assert_problem 409 not-pending

e2e_step "revoking a pending request: the poll gets 410"
device_new gone
onboard_request gone
assert_status 202 "gone is queued"
GONE_ID=$(device_admin_lookup gone id)
admin_http DELETE "/admin/v1/devices/$GONE_ID"
assert_status 200 "revoke the pending device -> 200"
assert_json /state revoked
onboard_poll gone
assert_problem 410 request-gone

e2e_step "all certificate encodings are accepted"
for form in pem b64pem b64der b64url b64pemurl; do
	device_new "enc-$form"
	enrollment_token_create --auto-approve
	onboard_request "enc-$form" --token-file "$ENROLL_TOKEN_FILE" --form "$form"
	assert_status 201 "certificate as $form -> 201"
	assert_eq "$(device_admin_lookup "enc-$form" certificateFingerprint)" \
		"$(device_fingerprint "enc-$form")" "the device is stored under its DER fingerprint ($form)"
done
for alg in p384 rsa; do
	device_new "key-$alg" "$alg"
	enrollment_token_create --auto-approve
	onboard_request "key-$alg" --token-file "$ENROLL_TOKEN_FILE"
	assert_status 201 "$alg device key, algorithm inferred -> 201"
done
device_new alg-named
enrollment_token_create --auto-approve
onboard_request alg-named --token-file "$ENROLL_TOKEN_FILE" -- --alg ecdsa-p256-sha256 --label device
assert_status 201 "explicit alg=ecdsa-p256-sha256 and a non-default label -> 201"
device_new alg-pss rsa
enrollment_token_create --auto-approve
onboard_request alg-pss --token-file "$ENROLL_TOKEN_FILE" -- --alg rsa-pss-sha512
assert_status 201 "rsa-pss-sha512 -> 201"
onboard_request alg-pss --token-file "$ENROLL_TOKEN_FILE" --path /onboarding -- --alg rsa-v1_5-sha256
assert_status 201 "rsa-v1_5-sha256 at /onboarding (no slash), repeated before use -> 201"
assert_json /clientId "$(device_client_id alg-pss)"

e2e_step "lost response: same request repeated before first use"
device_new lost
enrollment_token_create --auto-approve --max-uses 1
LOST_TOKEN=$ENROLL_TOKEN_FILE
onboard_request lost --token-file "$LOST_TOKEN"
assert_onboarding_response 201
LOST_ID=$(device_client_id lost)
cp "$T/lost.form" "$T/lost.form1"
onboard_request lost --token-file "$LOST_TOKEN"
assert_onboarding_response 201
assert_json /clientId "$LOST_ID"
assert_ne "$(<"$T/lost.form")" "$(<"$T/lost.form1")" "a new client secret"
onboard_request lost --token-file "$LOST_TOKEN" --form b64der
assert_status 201 "repeated a third time (other encoding), the single-use token still not spent"
assert_json /clientId "$LOST_ID"
cp "$T/lost.form" "$T/lost.form3"
device_token lost "$T/lost.form1"
assert_oauth_error 401 invalid_client
device_token lost
assert_status 200 "the newest secret works"
cp "$T/lost.access_token" "$T/lost.access_token1"
cp "$T/lost.bearer.hdr" "$T/lost.bearer1.hdr"
assert_eq "$(device_admin_lookup lost id | wc -l)" 1 "one device for the certificate, not three"
device_http lost GET "/device/$LOST_ID/capabilities"
assert_problem 404 no-capabilities

e2e_step "re-onboarding a known key after first use"
onboard_request lost
assert_problem 409 already-onboarded
onboard_request lost --token-file "$LOST_TOKEN"
assert_problem 401 invalid-enrollment-token
enrollment_token_create --auto-approve
onboard_request lost --token-file "$ENROLL_TOKEN_FILE"
assert_onboarding_response 201
assert_json /clientId "$LOST_ID"
device_token lost "$T/lost.form3"
assert_oauth_error 401 invalid_client
http GET "/device/$LOST_ID/capabilities" -H "@$T/lost.bearer1.hdr"
assert_status 401 "the old access token is revoked"
assert_header WWW-Authenticate 'error="invalid_token"'
device_token lost
assert_status 200 "the new secret works"
device_http lost GET "/device/$LOST_ID/capabilities"
assert_status 404 "the new access token works"
assert_eq "$(device_admin_lookup lost id | wc -l)" 1 "still one device for the certificate"
cert_preregister "$T/lost.crt"
assert_status 201 "pre-register the known certificate"
onboard_request lost
assert_onboarding_response 201
assert_json /clientId "$LOST_ID"
assert_eq "$(device_admin_lookup lost state)" active "re-onboarded by pre-registration, still active"

e2e_step "a different certificate with the same serial number is a different device"
device_new twin
enrollment_token_create --auto-approve
onboard_request twin --token-file "$ENROLL_TOKEN_FILE" --serial SN-lost
assert_onboarding_response 201
assert_ne "$(device_client_id twin)" "$LOST_ID" "a new clientId"
admin_http GET /admin/v1/devices
n=$(json_length /items) || n=0
same=0
for ((i = 0; i < n; i++)); do
	if [[ "$(json_get "/items/$i/serialNumber")" == SN-lost ]]; then
		same=$((same + 1))
	fi
done
assert_eq "$same" 2 "the operator sees both devices with serial SN-lost"

e2e_step "the database holds exactly the expected devices"
# active: tok tokp pre queue enc-x5 key-x2 alg-named alg-pss lost twin = 15; pending: none;
# rejected: rej; revoked: gone; tok2 never became a device.
assert_eq "$(devices_count active)" 15 "15 active devices"
assert_eq "$(devices_count pending)" 0 "no pending device"
assert_eq "$(devices_count rejected)" 1 "1 rejected device"
assert_eq "$(devices_count revoked)" 1 "1 revoked device"
assert_eq "$(devices_count)" 17 "17 devices in all"
assert_eq "$(device_admin_lookup tok2 id)" "" "the refused device was not stored"

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
