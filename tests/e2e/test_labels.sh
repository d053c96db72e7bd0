#!/usr/bin/env bash
# Device labels and selectors (issue 12): operator labels through the admin API (JSON merge
# patch) and wfmctl, labels derived from what devices reported, the selector grammar on
# GET /admin/v1/devices?selector= and `wfmctl device list --selector`, and bad input.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')
PATCH=(-H 'Content-Type: application/merge-patch+json')

e2e_setup
wfmd_start

e2e_step "four devices, two architectures"
for n in d1 d2 d3 d4; do
	device_onboard "$n"
	capabilities_doc "$n" "$T/$n.caps.json"
done
sed -i 's/"x86_64"/"ARM64"/; s/"Standalone Device"/"Standalone Device", "Cluster Worker"/' \
	"$T/d3.caps.json" "$T/d4.caps.json"
for n in d1 d2 d3 d4; do
	device_http "$n" POST "/device/$(device_client_id "$n")/capabilities" "${JSON[@]}" \
		--data-binary "@$T/$n.caps.json"
	assert_status 201 "capabilities of $n"
done
D1=$(device_client_id d1) D2=$(device_client_id d2) D3=$(device_client_id d3) D4=$(device_client_id d4)

e2e_step "derived labels"
admin_http GET "/admin/v1/devices/$D3/labels"
assert_status 200 "GET labels -> 200"
assert_json /deviceId "$D3"
assert_json /derivedLabels/device.margo~1arch arm64
assert_json /derivedLabels/device.margo~1vendor e2e-vendor
assert_json /derivedLabels/device.margo~1model e2e-model
assert_json /derivedLabels/device.margo~1role.standalone-device true
assert_json /derivedLabels/device.margo~1role.cluster-worker true
assert_json /derivedLabels/device.margo~1state active
assert_eq "$(json_length /labels)" 0 "no operator labels yet"
admin_http GET "/admin/v1/devices/$D1/labels"
assert_json /derivedLabels/device.margo~1arch x86_64
assert_json_absent /derivedLabels/device.margo~1role.cluster-worker

e2e_step "operator labels: merge patch, wfmctl"
printf '{"plant": "3", "ring": "canary"}' >"$T/p.json"
admin_http PATCH "/admin/v1/devices/$D1/labels" "${PATCH[@]}" --data-binary "@$T/p.json"
assert_status 200 "PATCH labels (merge-patch+json) -> 200"
assert_json /labels/plant 3
assert_json /labels/ring canary
printf '{"ring": null, "example.com/line": "7"}' >"$T/p.json"
admin_http PATCH "/admin/v1/devices/$D1/labels" "${JSON[@]}" --data-binary "@$T/p.json"
assert_status 200 "PATCH labels (application/json) -> 200"
assert_json /labels/plant 3
assert_json_absent /labels/ring
assert_json /labels/example.com~1line 7
out=$(wfmctl device label "$D2" plant=3 ring=canary 2>&1) || true
assert_match "$out" "Labels of device $D2 changed" "wfmctl device label sets"
assert_match "$out" "ring: +canary" "wfmctl shows the new label"
out=$(wfmctl device label "$D3" plant=4 tier= 2>&1) || true
assert_match "$out" "plant: +4"
out=$(wfmctl device label "$D2" ring- 2>&1) || true
assert_false "wfmctl KEY- removes" grep -q 'ring:' <<<"$out"
out=$(wfmctl device label "$D4" 2>&1) || true
assert_match "$out" "device.margo/arch: +arm64" "wfmctl device label ID shows derived labels"

e2e_step "selectors"
urlenc() { local s=$1 out= c i; for ((i = 0; i < ${#s}; i++)); do c=${s:i:1}; case "$c" in [A-Za-z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac; done; printf '%s' "$out"; }
check2() {
	local sel=$1 want=$2 got
	admin_http GET "/admin/v1/devices?selector=$(urlenc "$sel")"
	assert_status 200 "selector '$sel' -> 200"
	got=$(n=$(json_length /items); for ((i = 0; i < n; i++)); do json_get "/items/$i/id"; done | sort | tr '\n' ' ')
	assert_eq "$got" "$(tr ' ' '\n' <<<"$want" | grep . | sort | tr '\n' ' ')" "selector '$sel' matches"
}
check2 "plant=3" "$D1 $D2"
check2 "plant==3,example.com/line=7" "$D1"
check2 "plant!=3" "$D3 $D4"
check2 "plant in (3,4)" "$D1 $D2 $D3"
check2 "plant notin (3)" "$D3 $D4"
check2 "plant" "$D1 $D2 $D3"
check2 "!plant" "$D4"
check2 "tier=" "$D3"
check2 "device.margo/arch=arm64" "$D3 $D4"
check2 "device.margo/arch=arm64,!plant" "$D4"
check2 "device.margo/role.cluster-worker,plant=4" "$D3"
check2 "device.margo/state=active,device.margo/vendor=e2e-vendor" "$D1 $D2 $D3 $D4"
check2 "plant=9" ""
admin_http GET "/admin/v1/devices?selector=$(urlenc "device.margo/arch=arm64")&limit=1"
assert_status 200
assert_eq "$(json_length /items)" 1 "limit=1 gives one item"
NEXT=$(json_get /next) || NEXT=
assert_ne "$NEXT" "" "a next cursor when more match"
admin_http GET "/admin/v1/devices?selector=$(urlenc "device.margo/arch=arm64")&limit=1&after=$NEXT"
assert_eq "$(json_length /items)" 1 "the second page has the other device"
assert_ne "$(json_get /items/0/id)" "$NEXT" "the second page starts after the cursor"
assert_json_absent /next
out=$(wfmctl device list --selector 'device.margo/arch=arm64' 2>&1) || true
assert_match "$out" "$D3" "wfmctl device list --selector lists d3"
assert_match "$out" "$D4" "wfmctl device list --selector lists d4"
assert_match "$out" "2 devices match" "wfmctl counts the matches"
assert_false "wfmctl device list --selector leaves d1 out" grep -q "$D1" <<<"$out"
out=$(wfmctl device list --selector 'plant=99' 2>&1) || true
assert_match "$out" "No device matches plant=99"

e2e_step "bad selectors and labels"
for sel in "plant=3," "plant in (3" "plant in ()" "-x=1" "a=b c" "!plant=3" ""; do
	admin_http GET "/admin/v1/devices?selector=$(urlenc "$sel")"
	assert_problem 400 invalid-selector
	assert_match "$(json_get /detail)" "invalid selector at character|expected a label key" "the detail says where"
done
out=$(wfmctl device list --selector 'plant in (3' 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "wfmctl with a bad selector exits 1"
assert_eq "$(wc -l <<<"$out")" 1 "one line"
assert_match "$out" "invalid selector at character 12"
printf '{"-bad": "x", "ok": "-bad", "device.margo/arch": "x86", "n": 3}' >"$T/p.json"
admin_http PATCH "/admin/v1/devices/$D4/labels" "${JSON[@]}" --data-binary "@$T/p.json"
assert_problem 422 validation-failed
for f in /-bad /ok /device.margo~1arch /n; do
	assert_match "$(json_get /errors)" "\"field\": *\"$f\"" "422 names $f"
done
admin_http GET "/admin/v1/devices/$D4/labels"
assert_eq "$(json_length /labels)" 0 "nothing of a refused patch was stored"
printf '[1]' >"$T/p.json"
admin_http PATCH "/admin/v1/devices/$D4/labels" "${JSON[@]}" --data-binary "@$T/p.json"
assert_problem 400 malformed-json
admin_http PATCH "/admin/v1/devices/$D4/labels" -H 'Content-Type: text/plain' --data-binary "@$T/p.json"
assert_problem 415
admin_http PATCH "/admin/v1/devices/00000000-0000-4000-8000-000000000000/labels" "${JSON[@]}" --data '{"a":"b"}'
assert_problem 404
{
	printf '{'
	for i in $(seq 1 65); do printf '"k%d": "v"%s' "$i" "$([[ $i -lt 65 ]] && echo ,)"; done
	printf '}'
} >"$T/p.json"
admin_http PATCH "/admin/v1/devices/$D4/labels" "${JSON[@]}" --data-binary "@$T/p.json"
assert_problem 422 validation-failed
assert_match "$(json_get /errors)" "at most 64 labels"
admin_http GET "/admin/v1/devices/$D4/labels"
assert_eq "$(json_length /labels)" 0 "the over-limit patch changed nothing"
out=$(wfmctl device label "$D4" nonsense 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "wfmctl device label with a bad argument exits 2"
http GET "/admin/v1/devices/$D1/labels"
assert_problem 401 unauthorized

e2e_step "labels survive a restart"
wfmd_restart
admin_http GET "/admin/v1/devices/$D1/labels"
assert_json /labels/plant 3
assert_json /labels/example.com~1line 7

e2e_finish
