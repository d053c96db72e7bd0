#!/usr/bin/env bash
# The audit log (API.md "Audit log"): every mutating admin call by an operator is recorded
# before its answer is sent — who, what (route, path, device and other ids), when, from
# where, outcome — refusals for role too; reads and calls without a valid token are not;
# no secret ever appears in it. GET /admin/v1/audit pages and filters; wfmctl audit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')

e2e_setup
wfmd_start
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)

e2e_step "operators act"
wfmctl operator add alice --role operator --out "$T/alice.token" >/dev/null
wfmctl operator add vera --role viewer --out "$T/vera.token" >/dev/null
e2e_secret "@$T/alice.token"
e2e_secret "@$T/vera.token"
bearer_header "$T/alice.token" "$T/alice.hdr"
bearer_header "$T/vera.token" "$T/vera.hdr"
enrollment_token_create --max-uses 2
ET_ID=$ENROLL_TOKEN_ID
device_new d1
onboard_request d1 --token-file "$ENROLL_TOKEN_FILE"
assert_status 202 "d1 waits for approval"
D1=$(device_admin_lookup d1 id)
http POST "/admin/v1/devices/$D1/approve" -H "@$T/alice.hdr"
assert_status 200 "alice approves d1"
http DELETE "/admin/v1/devices/$D1" -H "@$T/vera.hdr"
assert_problem 403 insufficient-role
deployment_yaml dep-1 shop "$T/shop.yaml"
http PUT "/admin/v1/devices/$D1/deployments/dep-1" -H "@$T/alice.hdr" \
	-H 'Content-Type: application/yaml' --data-binary "@$T/shop.yaml"
assert_status_any "200 201" "alice deploys to d1"
printf '{"plant": "3"}' >"$T/labels.json"
http PATCH "/admin/v1/devices/$D1/labels" -H "@$T/alice.hdr" "${JSON[@]}" \
	--data-binary "@$T/labels.json"
assert_status 200 "alice labels d1"
printf 'Authorization: Bearer wfmop_%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA >"$T/bogus.hdr"
http POST /admin/v1/enrollment-tokens -H "@$T/bogus.hdr" "${JSON[@]}" --data '{}'
assert_problem 401
admin_http GET /admin/v1/devices
http GET /admin/v1/devices -H "@$T/vera.hdr"

e2e_step "GET /admin/v1/audit"
admin_http GET /admin/v1/audit
assert_status 200 "the bootstrap admin reads the audit log"
cp "$HTTP_BODY_FILE" "$T/audit.json"
# Newest first: labels, deploy, vera's refusal, approve, enrollment token, 2 operators.
assert_eq "$(json_length /items)" 7 "seven mutating calls by operators recorded"
assert_json /next null
assert_json /items/0/operator alice
assert_json /items/0/method PATCH
assert_json /items/0/route '/admin/v1/devices/{id}/labels'
assert_json /items/0/deviceId "$D1"
assert_json /items/0/status 200
assert_json /items/0/clientAddress 127.0.0.1
assert_json_match /items/0/at '^20[0-9-]+T[0-9:]+Z$'
assert_json /items/1/method PUT
assert_json /items/1/path "/admin/v1/devices/$D1/deployments/dep-1"
assert_json /items/1/target dep-1
assert_json /items/2/operator vera
assert_json /items/2/method DELETE
assert_json /items/2/status 403
assert_json /items/3/operator alice
assert_json /items/3/route '/admin/v1/devices/{id}/approve'
assert_json /items/3/deviceId "$D1"
assert_json /items/4/operator admin
assert_json /items/4/route /admin/v1/enrollment-tokens
assert_json /items/4/target "$ET_ID"
assert_json /items/4/deviceId null
assert_json /items/4/status 201
assert_json /items/5/target vera
assert_json /items/6/target alice
s0=$(json_get /items/0/seq)
s6=$(json_get /items/6/seq)
assert_true "seq decreases down the page" test "$s0" -gt "$s6"
assert_no_secrets_in "$T/audit.json"

e2e_step "filters and pages"
http GET "/admin/v1/audit?operator=alice" -H "@$T/vera.hdr"
assert_status 200 "a viewer reads the audit log"
assert_eq "$(json_length /items)" 3 "alice: three entries"
admin_http GET "/admin/v1/audit?deviceId=$D1"
assert_eq "$(json_length /items)" 4 "d1: four entries (approve, refused revoke, deploy, labels)"
admin_http GET "/admin/v1/audit?since=$START&until=2999-01-01T00:00:00Z"
assert_eq "$(json_length /items)" 7 "since the start: all seven"
admin_http GET "/admin/v1/audit?until=$START"
assert_eq "$(json_length /items)" 0 "until the start: none"
after=
: >"$T/walk.seq"
for _ in 1 2 3 4 5; do
	admin_http GET "/admin/v1/audit?limit=2${after:+&after=$after}"
	n=$(json_length /items)
	for ((i = 0; i < n; i++)); do json_get "/items/$i/seq" >>"$T/walk.seq"; done
	after=$(json_get /next)
	[[ "$after" != null ]] || break
done
assert_eq "$(tr '\n' ' ' <"$T/walk.seq")" "$(for ((i = 0; i < 7; i++)); do json_get "/items/$i/seq" "$T/audit.json"; done | tr '\n' ' ')" \
	"pages of 2 give the same entries in the same order"
for q in operator=Bad%20Name deviceId=nope since=yesterday until=1 limit=0; do
	admin_http GET "/admin/v1/audit?$q"
	assert_problem 400 invalid-parameter
done
admin_http GET "/admin/v1/audit?after=$(printf '1.0.' | base64 -w0)"
assert_problem 400 invalid-cursor

e2e_step "wfmctl audit"
wfmctl audit --operator alice >"$T/ctl.out"
assert_eq "$(grep -c 'alice' "$T/ctl.out")" 3 "wfmctl audit --operator alice: three rows"
assert_match "$(<"$T/ctl.out")" "PATCH +/admin/v1/devices/$D1/labels +200" "with method, path and status"
wfmctl audit --since 1h --device "$D1" --limit 2 >"$T/ctl2.out"
assert_eq "$(grep -c "$D1" "$T/ctl2.out")" 2 "--limit 2: two rows"
assert_match "$(<"$T/ctl2.out")" 'More: add --after' "and how to go on"
wfmctl --json audit >"$T/ctl.json"
assert_eq "$(json_length /items "$T/ctl.json")" 7 "--json: one document"
out=$(wfmctl audit --since yesterday 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "a bad --since is a usage error"

wfmd_stop
assert_no_secrets_in "$WFMD_LOG"
e2e_finish
