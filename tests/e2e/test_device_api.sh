#!/usr/bin/env bash
# Device API (API.md section 4): capabilities (POST, PUT, GET), deployment status, bearer
# authentication (RFC 6750 errors), one device's token against another device's routes,
# revocation.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
wfmd_start
device_onboard a
device_onboard b
A=$(device_client_id a)
B=$(device_client_id b)
JSON=(-H 'Content-Type: application/json')

e2e_step "capabilities: POST 201, GET returns the stored document"
capabilities_doc a "$T/a.caps.json"
device_http a GET "/device/$A/capabilities"
assert_problem 404 no-capabilities
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/a.caps.json"
assert_status 201 "POST capabilities -> 201"
assert_content_type application/json
assert_json /properties/id "$A"
device_http a GET "/device/$A/capabilities"
assert_status 200 "GET capabilities -> 200"
assert_content_type application/json
assert_true "GET returns the document as stored" cmp -s "$HTTP_BODY_FILE" "$T/a.caps.json"
assert_json /apiVersion device.margo/v1
assert_json /kind DeviceCapabilities
assert_json /properties/serialNumber SN-a
assert_json /properties/resources/cpus/0/cores 4
assert_json /properties/x-e2e-extra/kept true
assert_json /properties/interfaces/0/properties/speed 1G

e2e_step "capabilities: PUT replaces, DeviceCapability accepted, units as strings"
sed -e 's/"8 GB"/16/' -e 's/"DeviceCapabilities"/"DeviceCapability"/' \
	-e 's/"Standalone Device"/"cluster leader", "CLUSTER WORKER"/' \
	-e 's/"frequency": 2.4/"frequency": "2400 MHz", "cpuArchitecture": "arm64"/' \
	"$T/a.caps.json" >"$T/a.caps2.json"
device_http a PUT "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/a.caps2.json"
assert_status 201 "PUT capabilities -> 201"
device_http a GET "/device/$A/capabilities"
assert_status 200
assert_json /kind DeviceCapability
assert_json /properties/resources/memory 16
assert_json /properties/roles '["cluster leader","CLUSTER WORKER"]'

e2e_step "capabilities: invalid documents -> 422 naming the member, 400 malformed"
sed -e '/"vendor": "e2e-vendor"/d' "$T/a.caps.json" >"$T/novendor.json"
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/novendor.json"
assert_problem 422
assert_json /errors/0/field /properties/vendor
assert_json_type /errors/0/message string
sed -e 's/"cores": 4/"cores": "four"/' "$T/a.caps.json" >"$T/badcores.json"
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/badcores.json"
assert_problem 422
assert_json /errors/0/field /properties/resources/cpus/0/cores
sed -e 's/"Standalone Device"/"Toaster"/' "$T/a.caps.json" >"$T/badrole.json"
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/badrole.json"
assert_problem 422
assert_json /errors/0/field /properties/roles/0
sed -e 's/"serialNumber": "SN-a"/"serialNumber": ""/' "$T/a.caps.json" >"$T/emptyserial.json"
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/emptyserial.json"
assert_problem 422
assert_json /errors/0/field /properties/serialNumber
head -c 100 "$T/a.caps.json" >"$T/truncated.json"
device_http a POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/truncated.json"
assert_problem 400
device_http a POST "/device/$A/capabilities" -H 'Content-Type: text/plain' --data-binary "@$T/a.caps.json"
assert_problem 415
device_http a GET "/device/$A/capabilities"
assert_json /properties/resources/memory 16 "$HTTP_BODY_FILE"
assert_json /kind DeviceCapability

e2e_step "deployment status: 201, kept per deployment"
DEP=5b0e6a1c-1a2b-4c3d-8e4f-0123456789ab
status_doc() { # DEPLOYMENT_ID STATE OUT
	cat >"$3" <<EOF
{
  "apiVersion": "deployment.margo/v1",
  "kind": "DeploymentStatus",
  "deploymentId": "$1",
  "status": {"state": "$2", "error": {"code": "", "message": ""}},
  "components": [{"name": "web", "state": "$2", "error": {"code": "", "message": ""}}]
}
EOF
}
status_doc "$DEP" installing "$T/st1.json"
device_http a POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st1.json"
assert_status 201 "status Installing -> 201"
assert_json /deploymentId "$DEP"
status_doc "$DEP" Installed "$T/st2.json"
device_http a POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st2.json"
assert_status 201 "status Installed -> 201"
status_doc other-deployment Installed "$T/st3.json"
device_http a POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st3.json"
assert_problem 422
assert_json /errors/0/field /deploymentId
status_doc "$DEP" Exploded "$T/st4.json"
device_http a POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st4.json"
assert_problem 422
admin_http GET "/admin/v1/devices/$A"
assert_status 200 "admin shows the device"
assert_json /id "$A"
assert_json /state active
assert_json /capabilities/properties/resources/memory 16
assert_json /deployments/0/deploymentId "$DEP"
assert_json /deployments/0/state Installed
assert_json_type /lastSeenAt string

e2e_step "bearer authentication: 401 with WWW-Authenticate"
http GET "/device/$A/capabilities"
assert_problem 401
assert_header WWW-Authenticate '^Bearer .*error="invalid_token"'
printf 'Authorization: Bearer wfmat_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/forged.hdr"
http GET "/device/$A/capabilities" -H "@$T/forged.hdr"
assert_problem 401
assert_header WWW-Authenticate 'error="invalid_token"'
printf 'Authorization: Basic %s\n' "$(printf 'x:y' | base64)" >"$T/basicauth.hdr"
http GET "/device/$A/capabilities" -H "@$T/basicauth.hdr"
assert_problem 401
assert_header WWW-Authenticate '^Bearer'
http POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/a.caps.json"
assert_problem 401
sed 's/^Authorization: Bearer /Authorization: Bearer x/' "$T/a.bearer.hdr" >"$T/a.mangled.hdr"
http GET "/device/$A/capabilities" -H "@$T/a.mangled.hdr"
assert_problem 401
# the client secret is not an access token
printf 'Authorization: Bearer %s\n' "$(<"$T/a.secret")" >"$T/a.secretbearer.hdr"
http GET "/device/$A/capabilities" -H "@$T/a.secretbearer.hdr"
assert_problem 401

sed 's/^Authorization: Bearer /authorization: bearer /' "$T/a.bearer.hdr" >"$T/a.lower.hdr"
http GET "/device/$A/capabilities" -H "@$T/a.lower.hdr"
assert_status 200 "header name and auth scheme are case-insensitive (RFC 9110, RFC 6750)"
http GET "/device/$A/capabilities" -H "@$T/a.bearer.hdr" -H "@$T/forged.hdr"
assert_status_any "400 401" "two Authorization headers -> 400 or 401"
http GET "/device/$A/capabilities" -H "@$T/forged.hdr" -H "@$T/a.bearer.hdr"
assert_status_any "400 401" "two Authorization headers, the valid one last -> 400 or 401"

e2e_step "another device's token: 403"
device_http b GET "/device/$A/capabilities"
assert_problem 403
device_http b POST "/device/$A/capabilities" "${JSON[@]}" --data-binary "@$T/a.caps.json"
assert_problem 403
device_http b POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st2.json"
assert_problem 403
capabilities_doc b "$T/b.caps.json"
device_http b POST "/device/$B/capabilities" "${JSON[@]}" --data-binary "@$T/b.caps.json"
assert_status 201 "b reports its own capabilities"
device_http a GET "/device/$A/capabilities"
assert_json /properties/serialNumber SN-a "$HTTP_BODY_FILE"

e2e_step "revoked device: 401 at the Device API, the other device unaffected"
admin_http DELETE "/admin/v1/devices/$A"
assert_status 200 "revoke a -> 200"
device_http a GET "/device/$A/capabilities"
assert_problem 401
assert_header WWW-Authenticate 'error="invalid_token"'
device_http a POST "/device/$A/deployment/$DEP/status" "${JSON[@]}" --data-binary "@$T/st2.json"
assert_problem 401
device_token a
assert_oauth_error 401 invalid_client
device_http b GET "/device/$B/capabilities"
assert_status 200 "b still works"
assert_eq "$(devices_count active)" 1 "one active device"
assert_eq "$(devices_count revoked)" 1 "one revoked device"

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
