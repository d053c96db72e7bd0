#!/usr/bin/env bash
# Named operator accounts (API.md "Operators and roles"): wfmctl operator add|list|revoke,
# tokens shown once and hashed at rest, the roles matrix (viewer, operator, admin and the
# bootstrap admin token against each class of admin route), 403 problem+json naming the
# missing role, revocation taking effect at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')
NODEV=00000000-0000-4000-8000-000000000000

e2e_setup
wfmd_start

e2e_step "wfmctl operator add: token once, to a 0600 file or stdout"
wfmctl operator add alice --role operator --out "$T/alice.token" >"$T/add.out" 2>&1
assert_eq "$?" 0 "operator add alice"
assert_file_mode "$T/alice.token" 600
assert_match "$(<"$T/alice.token")" '^wfmop_[A-Za-z0-9_-]{43}$' "alice.token holds one wfmop_ token"
e2e_secret "@$T/alice.token"
assert_false "the token is not printed with --out" grep -q -F -f "$T/alice.token" "$T/add.out"
wfmctl operator add vera --role viewer >"$T/vera.out"
assert_match "$(<"$T/vera.out")" 'shown only this once' "printed token comes with its warning"
grep -o 'wfmop_[A-Za-z0-9_-]*' "$T/vera.out" | tr -d '\n' >"$T/vera.token"
e2e_secret "@$T/vera.token"
printf '{"name": "adam", "role": "admin"}' >"$T/adam.json"
admin_http POST /admin/v1/operators "${JSON[@]}" --data-binary "@$T/adam.json"
assert_status 201 "POST /admin/v1/operators -> 201"
assert_json /name adam
assert_json /role admin
assert_json /createdBy admin
assert_header Location '/admin/v1/operators/adam'
json_get /token | tr -d '\n' >"$T/adam.token"
e2e_secret "@$T/adam.token"
for who in alice vera adam; do
	bearer_header "$T/$who.token" "$T/$who.hdr"
done
cp "$WFM_ADMIN_HDR" "$T/boot.hdr"

e2e_step "bad operator requests"
printf '{"name": "alice", "role": "viewer"}' >"$T/dup.json"
admin_http POST /admin/v1/operators "${JSON[@]}" --data-binary "@$T/dup.json"
assert_problem 409 already-exists
printf '{"name": "admin", "role": "viewer"}' >"$T/boot.json"
admin_http POST /admin/v1/operators "${JSON[@]}" --data-binary "@$T/boot.json"
assert_problem 409 already-exists
printf '{"name": "Bad Name", "role": "root"}' >"$T/bad.json"
admin_http POST /admin/v1/operators "${JSON[@]}" --data-binary "@$T/bad.json"
assert_problem 422
assert_json /errors/0/field /name
assert_json /errors/1/field /role
assert_false "wfmctl operator add without --role fails" wfmctl operator add zed
out=$(wfmctl operator add zed --role root 2>&1) || true
assert_match "$out" '^wfmctl: operator add: 422' "wfmctl: one line for a bad role"
assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "one line"

e2e_step "roles matrix"
# A pending device for the operator to approve, and one for a viewer to fail on.
device_new pend
onboard_request pend
assert_status 202 "pend queued"
PEND=$(device_admin_lookup pend id)
# who  method  path  body  expected status
matrix=(
	"vera GET /admin/v1/devices - 200"
	"vera GET /admin/v1/enrollment-tokens - 200"
	"vera GET /admin/v1/certificates - 200"
	"vera GET /admin/v1/rollouts - 200"
	"vera GET /admin/v1/operators - 403:admin"
	"vera POST /admin/v1/devices/$PEND/approve - 403:operator"
	"vera DELETE /admin/v1/devices/$NODEV - 403:operator"
	"vera PATCH /admin/v1/devices/$NODEV/labels {} 403:operator"
	"vera DELETE /admin/v1/devices/$NODEV/deployments/x - 403:operator"
	"vera POST /admin/v1/enrollment-tokens {} 403:admin"
	"vera DELETE /admin/v1/certificates/sha256:00 - 403:admin"
	"alice GET /admin/v1/devices - 200"
	"alice GET /admin/v1/operators - 403:admin"
	"alice POST /admin/v1/enrollment-tokens {} 403:admin"
	"alice DELETE /admin/v1/enrollment-tokens/$NODEV - 403:admin"
	"alice POST /admin/v1/certificates {} 403:admin"
	"alice POST /admin/v1/operators {} 403:admin"
	"alice DELETE /admin/v1/devices/$NODEV - 404"
	"alice DELETE /admin/v1/devices/$NODEV/deployments/x - 404"
	"alice POST /admin/v1/devices/$PEND/approve - 200"
	"adam GET /admin/v1/operators - 200"
	"adam POST /admin/v1/enrollment-tokens {} 201"
	"adam DELETE /admin/v1/devices/$NODEV - 404"
	"boot GET /admin/v1/operators - 200"
	"boot POST /admin/v1/enrollment-tokens {} 201"
)
for row in "${matrix[@]}"; do
	read -r who method path body want <<<"$row"
	args=(-H "@$T/$who.hdr")
	if [[ "$body" != - ]]; then
		printf '%s' "$body" >"$T/req.json"
		args+=("${JSON[@]}" --data-binary "@$T/req.json")
	fi
	http "$method" "$path" "${args[@]}"
	case "$want" in
	403:*)
		assert_problem 403 insufficient-role
		assert_json /requiredRole "${want#403:}"
		assert_json_match /detail "needs role ${want#403:}"
		;;
	*) assert_status "$want" "$who $method $path -> $want" ;;
	esac
done

e2e_step "wfmctl with an operator's token"
out=$(wfmctl --token-file "$T/vera.token" device list 2>&1) || true
assert_match "$out" "$PEND" "a viewer lists devices"
out=$(wfmctl --token-file "$T/vera.token" device revoke "$PEND" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "a viewer's revoke exits 1"
assert_match "$out" '^wfmctl: device revoke: 403 .*needs role operator' "one line naming the role"
wfmctl operator list >"$T/list.out"
assert_match "$(<"$T/list.out")" 'alice +operator +admin' "operator list shows alice, her role and creator"
assert_false "operator list shows no token" grep -q wfmop_ "$T/list.out"

e2e_step "revocation"
out=$(wfmctl operator revoke alice)
assert_match "$out" 'Revoked operator alice' "wfmctl operator revoke"
http GET /admin/v1/devices -H "@$T/alice.hdr"
assert_problem 401
admin_http DELETE /admin/v1/operators/alice
assert_status 204 "revoking twice is fine"
admin_http DELETE /admin/v1/operators/nobody
assert_problem 404
admin_http DELETE /admin/v1/operators/admin
assert_problem 409 bootstrap-operator
admin_http GET /admin/v1/operators
assert_json /items/0/name adam
assert_json /items/1/name alice
assert_json_match /items/1/revokedAt '^20'
http DELETE /admin/v1/operators/vera -H "@$T/adam.hdr"
assert_status 204 "a named admin revokes operators"
http GET /admin/v1/devices -H "@$T/vera.hdr"
assert_problem 401

e2e_step "tokens are hashed at rest and never logged"
wfmd_stop
assert_no_secrets_in "$WFMD_LOG" "$WFM_DIR/wfmd.db"
e2e_finish
