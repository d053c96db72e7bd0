#!/usr/bin/env bash
# The approval queue's bounds (API.md section 2, "Authorisation" 3 and 4): a bounded number of
# pending requests (429 + Retry-After past it), expiry of pending requests (poll 410),
# repeating a pending request, --no-approval-requests, and concurrent use of a limited
# enrollment token (uses are counted atomically).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
# p1 must still be pending when p3 asks: everything slow (the t1 detour, making keys) happens
# before p1 is queued, and the TTL leaves room for a loaded machine under ASan.
PENDING_TTL=30
wfmd_start --pending-max 2 --pending-ttl "$PENDING_TTL"

e2e_step "a single-use token without auto-approve queues; the spent token keeps the place"
enrollment_token_create --max-uses 1
device_new t1
onboard_request t1 --token-file "$ENROLL_TOKEN_FILE"
assert_status 202 "t1 queued by a single-use token without auto-approve"
T1_RID=$(<"$T/t1.request_id")
onboard_request t1 --token-file "$ENROLL_TOKEN_FILE"
assert_status 202 "t1 repeats with the now spent token and keeps its place"
assert_json /requestId "$T1_RID"
admin_http POST "/admin/v1/devices/$(device_admin_lookup t1 id)/approve"
assert_status 200 "approve t1"
onboard_poll t1
assert_status 200 "t1 gets its credentials"
device_new p1
device_new p2
device_new p3

e2e_step "a repeated pending request keeps its place and gets a new poll token"
onboard_request p1
assert_status 202 "p1 queued"
RID1=$(<"$T/p1.request_id")
cp "$T/p1.poll.hdr" "$T/p1.poll1.hdr"
onboard_request p1
assert_status 202 "p1 repeats its request"
assert_json /requestId "$RID1"
assert_ne "$(<"$T/p1.poll_token")" "$(sed 's/^Authorization: Bearer //' "$T/p1.poll1.hdr")" "a new poll token"
http GET "/onboarding/requests/$RID1" -H "@$T/p1.poll1.hdr"
assert_problem 401
onboard_poll p1
assert_status 202 "the new poll token works"
assert_eq "$(device_admin_lookup p1 id | wc -l)" 1 "one pending entry for p1"

e2e_step "the queue is bounded: 429 with Retry-After"
onboard_request p2
assert_status 202 "p2 queued (2 of 2)"
P2_QUEUED=$SECONDS
onboard_request p3
assert_problem 429
assert_header Retry-After '^[0-9]+$'
ra=$(http_header Retry-After)
assert_true "Retry-After ($ra) is within the pending TTL" test "$ra" -ge 0 -a "$ra" -le "$PENDING_TTL"
enrollment_token_create --auto-approve
onboard_request p3 --token-file "$ENROLL_TOKEN_FILE"
assert_status 201 "a device with an enrollment token is not held up by a full queue"
assert_eq "$(devices_count pending)" 2 "two pending"

e2e_step "pending requests expire"
wait_s=$((P2_QUEUED + PENDING_TTL + 2 - SECONDS))
if ((wait_s > 0)); then
	sleep "$wait_s"
fi
onboard_poll p1
assert_problem 410 request-gone
device_new p4
onboard_request p4
assert_status 202 "after expiry the queue has room again"
assert_eq "$(devices_count pending)" 1 "one pending (p4); p1 and p2 expired"
assert_eq "$(device_admin_lookup p1 id)" "" "the expired p1 is gone from the list"
onboard_request p1
assert_status 202 "p1 may ask again"
assert_ne "$(<"$T/p1.request_id")" "$RID1" "with a new request id"

e2e_step "concurrent onboarding with a 3-use token: exactly 3 succeed"
enrollment_token_create --auto-approve --max-uses 3
CONC=$ENROLL_TOKEN_FILE
pids=()
for i in 1 2 3 4 5 6 7 8; do
	device_new "c$i"
	onboard_body "c$i" "$T/c$i.req.json" --token-file "$CONC"
	"$MARGO_SIGN" --key "$T/c$i.key" --url "$WFM_URL/onboarding/" --body "$T/c$i.req.json" >"$T/c$i.sig.hdr"
done
for i in 1 2 3 4 5 6 7 8; do
	"${E2E_CURL[@]}" --cacert "$WFM_CA" -o "$T/c$i.out" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "@$T/c$i.sig.hdr" --data-binary "@$T/c$i.req.json" "$WFM_URL/onboarding/" >"$T/c$i.code" 2>/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || true
done
ok=0
refused=0
for i in 1 2 3 4 5 6 7 8; do
	case "$(<"$T/c$i.code")" in
	201) ok=$((ok + 1)) ;;
	401) refused=$((refused + 1)) ;;
	esac
done
assert_eq "$ok" 3 "3 of 8 concurrent requests onboarded"
assert_eq "$refused" 5 "5 refused with 401"
admin_http GET /admin/v1/enrollment-tokens
i=$(json_index /items id "$ENROLL_TOKEN_ID") || true
assert_json "/items/$i/uses" 3
assert_json "/items/$i/state" used-up
assert_eq "$(devices_count active)" 5 "5 active devices (t1, p3 and the 3 winners)"

e2e_step "--no-approval-requests: no token, no pre-registration -> 401 enrollment-required"
wfmd_restart --no-approval-requests
device_new closed
onboard_request closed
assert_problem 401 enrollment-required
cert_preregister "$T/closed.crt"
assert_status 201
onboard_request closed
assert_status 201 "a pre-registered device still onboards"

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
