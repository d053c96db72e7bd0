#!/usr/bin/env bash
# Rollouts (issue 12): waves over the devices a selector matched, advancing on Installed
# reports, a failing canary stopping the rollout with the rest untouched, pause, resume,
# manual waves, abort with rollback (previous version restored, or removed where there was
# none), supersession, kill -9 in the middle (no device committed twice, none skipped),
# labels changed during a rollout (the set is fixed at creation), server-paced polling
# headers, bad input, and wfmctl. Devices are curl clients reporting DeploymentStatus.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')

e2e_setup
wfmd_start --poll-interval-active 7

e2e_step "six devices; five in plant 3"
for n in d1 d2 d3 d4 d5 d6; do
	device_onboard "$n"
done
for n in d1 d2 d3 d4 d5; do
	out=$(wfmctl device label "$(device_client_id "$n")" plant=3 2>&1) || e2e_die "label: $out"
done
wfmctl device label "$(device_client_id d6)" plant=4 >/dev/null
IDS=() # plant-3 device ids in id order (the order waves take them)
mapfile -t IDS < <(for n in d1 d2 d3 d4 d5; do device_client_id "$n"; echo; done | grep . | sort)
name_of() { local n; for n in d1 d2 d3 d4 d5 d6; do [[ "$(device_client_id "$n")" == "$1" ]] && echo "$n"; done; }

# report NAME DEPLOYMENT STATE: a DeploymentStatus from device NAME.
report() {
	local id
	id=$(device_client_id "$1")
	printf '{"apiVersion":"deployment.margo/v1","kind":"DeploymentStatus","deploymentId":"%s","status":{"state":"%s"}}' \
		"$2" "$3" >"$T/status.json"
	device_http "$1" POST "/device/$id/deployment/$2/status" "${JSON[@]}" --data-binary "@$T/status.json"
	[[ "$HTTP_STATUS" == 201 ]] || e2e_die "status report of $1: $HTTP_STATUS $HTTP_BODY"
}
# deployed_name DEVICE_ID DEPLOYMENT: the name of the deployment on the device ("" none).
deployed_name() {
	local i
	deploy_list "$1"
	i=$(json_index /items deploymentId "$2") || { echo; return 0; }
	json_get "/items/$i/name"
}
# rollout_state ID: the rollout's state.
rollout_state() { admin_http GET "/admin/v1/rollouts/$1"; json_get /state; }
state_is() { [[ "$(rollout_state "$1")" == "$2" ]]; }
wave_is() { admin_http GET "/admin/v1/rollouts/$1"; [[ "$(json_get /currentWave)" == "$2" && "$(json_get /waveDeployed)" == true ]]; }
# commits DEVICE_ID: the commit subjects of the device's main branch (plain git).
commits() {
	local n
	n=$(name_of "$1")
	git_credentials "$n" >/dev/null
	rm -rf "$T/clone-$n"
	git_as "$n" clone -q "$(<"$T/$n.git_url")" "$T/clone-$n" || { cat "$T/git.out" >&2; return 1; }
	git -C "$T/clone-$n" log --format=%s
}
# create_rollout BODY_FILE: POST it; ROLLOUT gets the id.
create_rollout() {
	admin_http POST /admin/v1/rollouts "${JSON[@]}" --data-binary "@$1"
	ROLLOUT=$(json_get /id 2>/dev/null) || ROLLOUT=
}
# body SELECTOR YAML_FILE EXTRA_JSON_MEMBERS > file
body() {
	printf '{"selector": "%s", "deployment": %s%s}' "$1" "$(json_quote "$2")" "${3:+, $3}"
}

e2e_step "a rollout in waves: canary 1, then batches of 2"
deployment_yaml app1 app1-v1 "$T/app1-v1.yaml"
body "plant=3" "$T/app1-v1.yaml" '"canary": 1, "batch": 2, "waveTimeoutSeconds": 60' >"$T/r1.json"
create_rollout "$T/r1.json"
assert_status 201 "rollout created"
assert_header Location "/admin/v1/rollouts/$ROLLOUT"
assert_json /devices 5
assert_json /waves 3
assert_json /deploymentId app1
assert_json /state running
R1=$ROLLOUT
assert_true "wave 1 (canary) deployed" e2e_wait_for 10 wave_is $R1 0
assert_eq "$(deployed_name "${IDS[0]}" app1)" app1-v1 "the canary has app1"
for id in "${IDS[@]:1}" "$(device_client_id d6)"; do
	assert_eq "$(deployed_name "$id" app1)" "" "device $(name_of "$id") untouched during the canary wave"
done
subjects=$(commits "${IDS[0]}")
assert_match "$subjects" "Deploy app1 \\(app1-v1\\) by rollout $R1" "the commit names the rollout"

e2e_step "pacing: devices of the active wave are told to poll sooner"
device_http "$(name_of "${IDS[0]}")" GET "/device/${IDS[0]}/desired-state"
assert_header Margo-Poll-Interval 7 "canary in its wave: Margo-Poll-Interval 7"
device_http "$(name_of "${IDS[1]}")" GET "/device/${IDS[1]}/desired-state"
assert_false "a device at rest gets no hint (--poll-interval-rest 0)" http_has_header Margo-Poll-Interval
ETAG=$(http_header ETag)
device_http "$(name_of "${IDS[0]}")" GET "/device/${IDS[0]}/desired-state" -H "If-None-Match: $(http_header ETag)"

e2e_step "Installed reports advance the waves"
report "$(name_of "${IDS[0]}")" app1 Installing
sleep 1.2
assert_eq "$(rollout_state "$R1")" running "Installing is not enough"
assert_json /currentWave 0
report "$(name_of "${IDS[0]}")" app1 Installed
assert_true "wave 2 deployed after the canary installed" e2e_wait_for 10 wave_is $R1 1
assert_eq "$(deployed_name "${IDS[1]}" app1)" app1-v1 "wave 2 device 1 has app1"
assert_eq "$(deployed_name "${IDS[2]}" app1)" app1-v1 "wave 2 device 2 has app1"
assert_eq "$(deployed_name "${IDS[3]}" app1)" "" "wave 3 untouched"
device_http "$(name_of "${IDS[0]}")" GET "/device/${IDS[0]}/desired-state"
assert_false "an installed device is back at rest" http_has_header Margo-Poll-Interval
device_http "$(name_of "${IDS[1]}")" GET "/device/${IDS[1]}/desired-state"
assert_header Margo-Poll-Interval 7 "wave 2 devices are paced"

e2e_step "labels changed during a rollout do not change its devices"
out=$(wfmctl device label "${IDS[4]}" plant- 2>&1) || true
report "$(name_of "${IDS[1]}")" app1 Installed
report "$(name_of "${IDS[2]}")" app1 Installed
assert_true "wave 3 deployed" e2e_wait_for 10 wave_is $R1 2
assert_eq "$(deployed_name "${IDS[4]}" app1)" app1-v1 "a device whose label was removed after creation still gets its wave"
report "$(name_of "${IDS[3]}")" app1 Installed
report "$(name_of "${IDS[4]}")" app1 Installed
assert_true "rollout completed" e2e_wait_for 10 state_is $R1 completed
assert_json /waveStatus/0/installed 1
assert_json /waveStatus/1/installed 2
assert_json /waveStatus/2/installed 2
assert_eq "$(deployed_name "$(device_client_id d6)" app1)" "" "plant 4 never got it"
out=$(wfmctl rollout status "$R1" 2>&1) || true
assert_match "$out" "state: +completed" "wfmctl rollout status shows completed"
assert_match "$out" "5/5 installed \\(100%\\)" "wfmctl shows the progress"
wfmctl device label "${IDS[4]}" plant=3 >/dev/null

e2e_step "a failing canary stops the rollout; the rest is untouched"
deployment_yaml app2 app2-v1 "$T/app2.yaml"
body "plant=3" "$T/app2.yaml" '"canary": 1, "batch": "50%", "successThreshold": "100%"' >"$T/r2.json"
create_rollout "$T/r2.json"
assert_status 201
R2=$ROLLOUT
assert_json /waves 3 # canary 1, then batches of 50% of 5 (3): waves of 1, 3, 1
assert_true "e2e_wait_for 10 wave_is $R2 0" e2e_wait_for 10 wave_is $R2 0
report "$(name_of "${IDS[0]}")" app2 Failed
assert_true "the rollout paused" e2e_wait_for 10 state_is $R2 paused
assert_match "$(json_get /reason)" "${IDS[0]} \\(Failed\\)" "the reason names the failing device"
for id in "${IDS[@]:1}"; do
	assert_eq "$(deployed_name "$id" app2)" "" "device $(name_of "$id") untouched by the stopped rollout"
done
admin_http POST "/admin/v1/rollouts/$R2/pause"
assert_problem 409 rollout-state

e2e_step "abort with rollback removes what had no previous version"
out=$(wfmctl rollout abort "$R2" --rollback 2>&1) || true
assert_match "$out" "Aborted rollout $R2"
assert_true "aborted after the rollback" e2e_wait_for 10 state_is $R2 aborted
assert_eq "$(deployed_name "${IDS[0]}" app2)" "" "the canary lost app2 again"
assert_match "$(commits "${IDS[0]}")" "Undeploy app2 \\(rollback of rollout $R2\\)"

e2e_step "manual waves, pause, resume, and rollback to the previous version"
deployment_yaml app1 app1-v2 "$T/app1-v2.yaml" helm 2.0.0
body "plant=3" "$T/app1-v2.yaml" '"canary": 1, "batch": 2, "autoAdvance": false' >"$T/r3.json"
create_rollout "$T/r3.json"
R3=$ROLLOUT
assert_true "e2e_wait_for 10 wave_is $R3 0" e2e_wait_for 10 wave_is $R3 0
report "$(name_of "${IDS[0]}")" app1 Installed
assert_true "a manual rollout waits after a good wave" e2e_wait_for 10 state_is $R3 waiting
assert_match "$(json_get /reason)" "rollout resume"
assert_eq "$(deployed_name "${IDS[1]}" app1)" app1-v1 "wave 2 still has v1 while waiting"
out=$(wfmctl rollout resume "$R3" 2>&1) || true
assert_match "$out" "Resumed rollout $R3 \\(state: running\\)"
assert_true "resume started wave 2" e2e_wait_for 10 wave_is $R3 1
out=$(wfmctl rollout pause "$R3" 2>&1) || true
assert_match "$out" "state: paused"
admin_http POST "/admin/v1/rollouts/$R3/resume"
assert_status 200
assert_json /state running
admin_http POST "/admin/v1/rollouts/$R3/abort" "${JSON[@]}" --data '{"rollback": true}'
assert_status 200
assert_true "e2e_wait_for 10 state_is $R3 aborted" e2e_wait_for 10 state_is $R3 aborted
for id in "${IDS[0]}" "${IDS[1]}" "${IDS[2]}"; do
	assert_eq "$(deployed_name "$id" app1)" app1-v1 "device $(name_of "$id") back at v1"
done
assert_eq "$(deployed_name "${IDS[3]}" app1)" app1-v1 "wave 3 never touched"

e2e_step "a newer rollout of the same deployment supersedes the older"
deployment_yaml app3 app3-v1 "$T/app3.yaml"
body "plant=3" "$T/app3.yaml" '"canary": 1, "waveTimeoutSeconds": 600' >"$T/r4.json"
create_rollout "$T/r4.json"
R4=$ROLLOUT
assert_true "e2e_wait_for 10 wave_is $R4 0" e2e_wait_for 10 wave_is $R4 0
create_rollout "$T/r4.json"
R5=$ROLLOUT
assert_eq "$(rollout_state "$R4")" superseded "the first is superseded"
assert_match "$(json_get /reason)" "superseded by rollout $R5"
assert_eq "$(rollout_state "$R5")" running
admin_http POST "/admin/v1/rollouts/$R5/abort"
assert_json /state aborted # abort without rollback ends at once

e2e_step "kill -9 in the middle: no device committed twice, none skipped"
deployment_yaml app4 app4-v1 "$T/app4.yaml"
body "plant=3" "$T/app4.yaml" '"batch": "100%"' >"$T/r6.json"
create_rollout "$T/r6.json"
R6=$ROLLOUT
kill -KILL "$WFMD_PID"
wait "$WFMD_PID" 2>/dev/null || true
e2e_untrack "$WFMD_PID"
WFMD_PID=
wfmd_start --poll-interval-active 7
assert_true "the rollout goes on after the restart" e2e_wait_for 15 wave_is $R6 0
for id in "${IDS[@]}"; do
	assert_eq "$(deployed_name "$id" app4)" app4-v1 "device $(name_of "$id") has app4"
	n=$(commits "$id" | grep -c "app4") || n=0
	assert_eq "$n" 1 "device $(name_of "$id"): exactly one app4 commit"
done

e2e_step "bad input"
body "plant in (3" "$T/app4.yaml" >"$T/bad.json"
admin_http POST /admin/v1/rollouts "${JSON[@]}" --data-binary "@$T/bad.json"
assert_problem 422 validation-failed
assert_match "$(json_get /errors)" '"/selector"'
body "plant=99" "$T/app4.yaml" >"$T/bad.json"
admin_http POST /admin/v1/rollouts "${JSON[@]}" --data-binary "@$T/bad.json"
assert_problem 422
assert_match "$(json_get /errors)" "matches no active device"
body "plant=3" "$T/app4.yaml" '"batch": "0%", "successThreshold": 101, "canary": -1, "waveTimeoutSeconds": 0, "autoAdvance": "yes"' >"$T/bad.json"
admin_http POST /admin/v1/rollouts "${JSON[@]}" --data-binary "@$T/bad.json"
assert_problem 422
for f in /batch /successThreshold /canary /waveTimeoutSeconds /autoAdvance; do
	assert_match "$(json_get /errors)" "\"$f\"" "422 names $f"
done
printf 'apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\nmetadata:\n  name: x\n' >"$T/broken.yaml"
body "plant=3" "$T/broken.yaml" >"$T/bad.json"
admin_http POST /admin/v1/rollouts "${JSON[@]}" --data-binary "@$T/bad.json"
assert_problem 422
assert_match "$(json_get /errors)" '"/deployment/' "document errors are under /deployment"
admin_http GET /admin/v1/rollouts/00000000-0000-4000-8000-000000000000
assert_problem 404
admin_http POST "/admin/v1/rollouts/$R1/resume"
assert_problem 409 rollout-state
http GET /admin/v1/rollouts
assert_problem 401
admin_http GET /admin/v1/rollouts
assert_eq "$(json_length /items)" 6 "six rollouts listed"

e2e_step "wfmctl"
out=$(wfmctl rollout create --selector 'plant=4' "$T/app1-v1.yaml" --canary 1 --batch 10% --success-threshold 90% --wave-timeout 5m --manual 2>&1) || true
assert_match "$out" "Rollout [0-9a-f-]+ created: app1 to 1 devices in 1 waves" "wfmctl rollout create"
out=$(wfmctl rollout list 2>&1) || true
assert_match "$out" "app4 +running"
out=$(wfmctl rollout create --selector 'plant in (' "$T/app1-v1.yaml" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "a bad selector: exit 1"
assert_match "$out" "/selector: invalid selector at character"
out=$(wfmctl rollout create "$T/app1-v1.yaml" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "no --selector: usage error"
out=$(wfmctl rollout create --selector plant=3 --batch lots "$T/app1-v1.yaml" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "a bad --batch: usage error"

e2e_finish
