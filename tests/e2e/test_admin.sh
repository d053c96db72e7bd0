#!/usr/bin/env bash
# Admin API (API.md section 6, all but deployments) over curl: enrollment tokens,
# pre-registered certificates, devices (list, show, approve, reject, revoke), admin
# authentication. wfmctl, which drives this API, is tested on its own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
JSON=(-H 'Content-Type: application/json')

e2e_setup
wfmd_start

e2e_step "admin authentication"
printf 'Authorization: Bearer wfmadm_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/wrongadmin.hdr"
for route in "GET /admin/v1/devices" "GET /admin/v1/enrollment-tokens" \
	"GET /admin/v1/certificates" "POST /admin/v1/enrollment-tokens" \
	"GET /admin/v1/devices/00000000-0000-4000-8000-000000000000" \
	"DELETE /admin/v1/devices/00000000-0000-4000-8000-000000000000"; do
	http ${route% *} "${route#* }"
	assert_problem 401
	http ${route% *} "${route#* }" -H "@$T/wrongadmin.hdr"
	assert_problem 401
done
assert_file_mode "$WFM_DIR/admin.token" 600
assert_match "$(<"$WFM_DIR/admin.token")" '^wfmadm_[A-Za-z0-9_-]{43}$' "admin.token holds one wfmadm_ token"
assert_eq "$(wc -l <"$WFM_DIR/admin.token")" 1 "admin.token is one line"

e2e_step "enrollment tokens: create, list, revoke"
printf '{"ttlSeconds": 600, "maxUses": 3, "autoApprove": false, "description": "line 7"}' >"$T/et.json"
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/et.json"
assert_status 201 "create enrollment token -> 201"
assert_content_type application/json
assert_header Cache-Control no-store
assert_json_match /id "$UUID_RE"
assert_json_match /token '^wfmet_[A-Za-z0-9_-]{43}$'
assert_json_match /expiresAt "$TIME_RE"
assert_json /maxUses 3
assert_json /autoApprove false
assert_json /description "line 7"
ET_ID=$(json_get /id)
json_get /token | tr -d '\n' >"$T/et.token"
e2e_secret "@$T/et.token"
created=$(date -u -d "$(json_get /createdAt)" +%s) || created=0
expires=$(date -u -d "$(json_get /expiresAt)" +%s) || expires=0
assert_eq "$((expires - created))" 600 "expiresAt is createdAt + ttlSeconds"
printf '{}' >"$T/empty.json"
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/empty.json"
assert_status 201 "create with defaults -> 201"
assert_json /maxUses 1
assert_json /autoApprove true
json_get /token | tr -d '\n' >"$T/et2.token"
e2e_secret "@$T/et2.token"
admin_http GET /admin/v1/enrollment-tokens
assert_status 200 "list enrollment tokens -> 200"
assert_eq "$(json_length /items)" 2 "two tokens listed"
i=$(json_index /items id "$ET_ID") || true
assert_json_absent /items/0/token
assert_json_absent /items/1/token
assert_json "/items/$i/state" active
assert_json "/items/$i/uses" 0
assert_json "/items/$i/maxUses" 3
assert_false "the list never shows a token" grep -q -F -f "$T/et.token" "$HTTP_BODY_FILE"
printf '{"ttlSeconds": "soon"}' >"$T/badttl.json"
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/badttl.json"
assert_problem 422
assert_json /errors/0/field /ttlSeconds
printf '{"maxUses": 0}' >"$T/baduses.json"
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary "@$T/baduses.json"
assert_problem 422
admin_http POST /admin/v1/enrollment-tokens -H 'Content-Type: text/plain' --data-binary "@$T/empty.json"
assert_problem 415
admin_http POST /admin/v1/enrollment-tokens "${JSON[@]}" --data-binary '{"ttlSeconds": '
assert_problem 400

device_new viatoken
onboard_request viatoken --token-file "$T/et.token"
assert_status 202 "a non-auto-approve token queues the device"
admin_http GET /admin/v1/enrollment-tokens
i=$(json_index /items id "$ET_ID") || true
assert_json "/items/$i/uses" 1
admin_http DELETE "/admin/v1/enrollment-tokens/$ET_ID"
assert_status 204 "revoke enrollment token -> 204"
assert_eq "$(wc -c <"$HTTP_BODY_FILE")" 0 "204 has no body"
admin_http GET /admin/v1/enrollment-tokens
i=$(json_index /items id "$ET_ID") || true
assert_json "/items/$i/state" revoked
assert_json "/items/$i/revoked" true
device_new afterrevoke
onboard_request afterrevoke --token-file "$T/et.token"
assert_problem 401 invalid-enrollment-token
admin_http DELETE "/admin/v1/enrollment-tokens/00000000-0000-4000-8000-000000000000"
assert_problem 404

e2e_step "pre-registered certificates: add (every encoding), list, duplicate, remove"
n=0
for form in pem b64pem b64der b64url b64pemurl; do
	device_new "pre-$form"
	cert_preregister "$T/pre-$form.crt" "$form"
	assert_status 201 "pre-register a certificate given as $form -> 201"
	assert_json /fingerprint "$(device_fingerprint "pre-$form")"
	assert_json_type /subject string
	assert_json_match /createdAt "$TIME_RE"
	n=$((n + 1))
done
cert_preregister "$T/pre-pem.crt" b64der
assert_problem 409
printf '{"certificate": "bm90IGEgY2VydGlmaWNhdGU", "description": "junk"}' >"$T/junkcert.json"
admin_http POST /admin/v1/certificates "${JSON[@]}" --data-binary "@$T/junkcert.json"
assert_problem 400 invalid-certificate
printf '{"description": "no cert"}' >"$T/nocert.json"
admin_http POST /admin/v1/certificates "${JSON[@]}" --data-binary "@$T/nocert.json"
assert_status_any "400 422" "certificate missing -> 400 or 422"
assert_content_type application/problem+json
admin_http GET /admin/v1/certificates
assert_status 200 "list certificates -> 200"
assert_eq "$(json_length /items)" "$n" "$n certificates listed"
FP=$(device_fingerprint pre-b64url)
admin_http DELETE "/admin/v1/certificates/$FP"
assert_status 204 "remove certificate -> 204"
admin_http DELETE "/admin/v1/certificates/$FP"
assert_problem 404
admin_http GET /admin/v1/certificates
assert_eq "$(json_length /items)" "$((n - 1))" "one certificate fewer"
onboard_request pre-b64url
assert_status 202 "a removed pre-registration no longer approves: the device is queued"
onboard_request pre-pem
assert_status 201 "a pre-registered device onboards"

e2e_step "devices: list, filter, show, approve, reject, revoke"
admin_http GET /admin/v1/devices
assert_status 200 "list devices -> 200"
assert_content_type application/json
assert_eq "$(json_length /items)" 3 "three devices (viatoken, pre-b64url pending; pre-pem active)"
for f in id state vendor modelNumber serialNumber certificateFingerprint createdAt; do
	assert_json_type "/items/0/$f" string
done
assert_json_match /items/0/createdAt "$TIME_RE"
assert_eq "$(devices_count pending)" 2 "two pending"
assert_eq "$(devices_count active)" 1 "one active"
admin_http GET "/admin/v1/devices?state=sleeping"
assert_problem 400
VT=$(device_admin_lookup viatoken id)
PB=$(device_admin_lookup pre-b64url id)
PP=$(device_admin_lookup pre-pem id)
assert_eq "$PP" "$(device_client_id pre-pem)" "the listed id is the clientId"
admin_http GET "/admin/v1/devices/$PP"
assert_status 200 "show device -> 200"
assert_json /id "$PP"
assert_json /state active
assert_json /serialNumber SN-pre-pem
assert_json /vendor e2e-vendor
assert_json /modelNumber e2e-model
assert_json /certificateFingerprint "$(device_fingerprint pre-pem)"
assert_json /capabilities null
assert_json /deployments '[]'
admin_http GET /admin/v1/devices/00000000-0000-4000-8000-000000000000
assert_problem 404
admin_http GET /admin/v1/devices/not-a-uuid
assert_problem 404
admin_http POST "/admin/v1/devices/$VT/approve"
assert_status 200 "approve -> 200"
assert_json /id "$VT"
assert_json /state active
admin_http POST "/admin/v1/devices/$PB/reject"
assert_status 200 "reject -> 200"
assert_json /state rejected
admin_http POST "/admin/v1/devices/$PB/reject"
assert_problem 409 not-pending
admin_http POST "/admin/v1/devices/$PP/approve"
assert_problem 409 not-pending
admin_http POST /admin/v1/devices/00000000-0000-4000-8000-000000000000/approve
assert_problem 404
onboard_poll viatoken
assert_status 200 "the approved device gets its credentials"
device_token viatoken
assert_status 200
device_token pre-pem
assert_status 200
admin_http DELETE "/admin/v1/devices/$PP"
assert_status 200 "revoke -> 200"
assert_json /state revoked
assert_eq "$(devices_count active)" 1 "one active (viatoken)"
assert_eq "$(devices_count rejected)" 1 "one rejected (pre-b64url)"
assert_eq "$(devices_count revoked)" 1 "one revoked (pre-pem)"
assert_eq "$(devices_count pending)" 0 "none pending"
device_token pre-pem
assert_oauth_error 401 invalid_client
admin_http DELETE /admin/v1/devices/00000000-0000-4000-8000-000000000000
assert_problem 404

e2e_step "tokens are not interchangeable"
http GET /admin/v1/devices -H "@$T/viatoken.bearer.hdr"
assert_problem 401
http GET "/device/$VT/capabilities" -H "@$WFM_ADMIN_HDR"
assert_problem 401

e2e_step "the database holds hashes, not secrets"
if command -v sqlite3 >/dev/null; then
	sqlite3 -readonly "$WFM_DIR/wfmd.db" .dump >"$T/db.dump" 2>"$T/sqlite.err" || true
	assert_true "sqlite3 could read the database" test -s "$T/db.dump"
	assert_no_secrets_in "$T/db.dump"
fi
assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
