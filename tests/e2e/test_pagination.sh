#!/usr/bin/env bash
# Cursor pagination of the admin lists (API.md "Lists: pages and filters"): a few hundred real
# devices onboarded by bench/fleet-sim (each its own key, signed onboarding over TLS) while a
# client walks GET /admin/v1/devices seven at a time: no device twice, none that existed
# before the walk missing; filters; bad limit/cursor/filter -> 400 problem+json; wfmctl reads
# every page (tables and --json), --limit/--after; a device's deployments (more than a page)
# the same way, and the device list filtered by deployment state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FLEET_SIM=${FLEET_SIM:-$BUILD_DIR/bench/fleet-sim}
NDEV=${NDEV:-200}

e2e_setup
e2e_require_bin "$FLEET_SIM"
wfmd_start

# walk_devices QUERY OUT: every page of /admin/v1/devices?QUERY, ids one a line into OUT;
# prints the number of pages. Runs $MID_WALK PAGE_NUMBER after each page when set.
MID_WALK=
walk_devices() {
	local q=$1 out=$2 after= pages=0
	: >"$out"
	while :; do
		admin_http GET "/admin/v1/devices?$q${after:+&after=$after}"
		if [[ "$HTTP_STATUS" != 200 ]]; then
			fail "walk: GET /admin/v1/devices?$q -> $HTTP_STATUS"
			return 0
		fi
		pages=$((pages + 1))
		grep -o '{"id":"[0-9a-f-]*"' "$HTTP_BODY_FILE" | cut -d'"' -f4 >>"$out" || true
		if [[ "$(json_length /items)" != "$(grep -o '{"id":' "$HTTP_BODY_FILE" | wc -l)" ]]; then
			fail "walk: page $pages: ids do not match items"
		fi
		after=$(json_get /next) || after=
		if [[ -n "$MID_WALK" ]]; then
			"$MID_WALK" "$pages"
		fi
		[[ "$after" != null && -n "$after" ]] || break
	done
	echo "$pages"
}

e2e_step "walk while $NDEV devices onboard"
e2e_bg "$T/fleet-sim.log" "$FLEET_SIM" --url "$WFM_URL" --ca-file "$WFM_CA" \
	--admin-token-file "$WFM_DIR/admin.token" --devices "$NDEV" --concurrency 4 \
	--phases onboard --rate 40
SIM_PID=$E2E_BG_PID
e2e_wait_for 60 test "$(devices_count)" != 0 || true
walk_devices "limit=1000" "$T/before.ids" >/dev/null
pages=$(walk_devices "limit=7" "$T/walk.ids")
walk_devices "limit=1000" "$T/after.ids" >/dev/null
e2e_log "devices before/after the walk: $(wc -l <"$T/before.ids")/$(wc -l <"$T/after.ids")"
assert_eq "$(sort "$T/walk.ids" | uniq -d | wc -l)" 0 "no device twice in the walk"
assert_eq "$(comm -23 <(sort "$T/before.ids") <(sort "$T/walk.ids") | wc -l)" 0 \
	"every device that existed before the walk is in it"
assert_eq "$(comm -23 <(sort "$T/walk.ids") <(sort "$T/after.ids") | wc -l)" 0 \
	"the walk holds only devices that exist"
assert_true "the walk took many pages ($pages)" test "$pages" -ge 10
wait "$SIM_PID" && rc=0 || rc=$?
e2e_untrack "$SIM_PID"
assert_eq "$rc" 0 "fleet-sim onboarded $NDEV devices"

e2e_step "devices onboarded between pages appear once, at the end"
# Deterministic interleaving: after pages 1 to 4 of a walk, one more device onboards.
enrollment_token_create --auto-approve --max-uses 10
EXTRA_TOKEN=$ENROLL_TOKEN_FILE
onboard_between() {
	if [[ "$1" -le 4 ]]; then
		device_new "x$1"
		onboard_request "x$1" --token-file "$EXTRA_TOKEN" >/dev/null
		printf '%s\n' "$(device_client_id "x$1")" >>"$T/extra.ids"
	fi
}
: >"$T/extra.ids"
MID_WALK=onboard_between
walk_devices "limit=50" "$T/walk2.ids" >/dev/null
MID_WALK=
NDEV=$((NDEV + 4))
assert_eq "$(grep -c . "$T/extra.ids")" 4 "four devices onboarded during the walk"
assert_eq "$(sort "$T/walk2.ids" | uniq -d | wc -l)" 0 "no device twice"
assert_eq "$(wc -l <"$T/walk2.ids")" "$NDEV" "the walk saw all $NDEV, the four new ones too"
# Creation times have 1 s resolution and ties sort by id (docs/api.md), so devices onboarded
# within one second may come in either order: the four are the last four, as a set.
assert_eq "$(tail -4 "$T/walk2.ids" | sort | tr '\n' ' ')" "$(sort "$T/extra.ids" | tr '\n' ' ')" \
	"the new ones last"

e2e_step "after onboarding: the walk equals the full set, oldest first"
pages=$(walk_devices "limit=7" "$T/all.ids")
assert_eq "$(wc -l <"$T/all.ids")" "$NDEV" "the walk lists all $NDEV devices"
assert_eq "$(sort -u "$T/all.ids" | wc -l)" "$NDEV" "each once"
assert_eq "$pages" "$(((NDEV + 6) / 7))" "in ceil($NDEV/7) pages"
admin_http GET "/admin/v1/devices"
assert_status 200 "no limit: the default page"
assert_eq "$(json_length /items)" 100 "default limit 100"
assert_json_type /next string
admin_http GET "/admin/v1/devices?limit=1000"
assert_eq "$(json_length /items)" "$NDEV" "limit=1000: one page"
cp "$HTTP_BODY_FILE" "$T/page1000.json"
assert_json /next null
for ((i = 1; i < NDEV; i += 37)); do
	a=$(json_get "/items/$((i - 1))/createdAt")
	b=$(json_get "/items/$i/createdAt")
	assert_true "createdAt ascending at $i" test "$a" '<' "$b" -o "$a" == "$b"
done

e2e_step "filters"
one=$(sed -n 5p "$T/all.ids")
admin_http GET "/admin/v1/devices?idPrefix=${one:0:8}"
assert_json /items/0/id "$one"
serial=$(json_get /items/0/serialNumber)
admin_http GET "/admin/v1/devices?serialPrefix=$serial"
assert_json /items/0/id "$one"
assert_eq "$(json_length /items)" 1 "serialPrefix of a full serial: one device"
admin_http GET "/admin/v1/devices?state=active&vendor=margo-fleet&limit=1000"
assert_eq "$(json_length /items)" "$((NDEV - 4))" "state=active&vendor=margo-fleet: the simulated devices"
admin_http GET "/admin/v1/devices?state=pending"
assert_eq "$(json_length /items)" 0 "state=pending: none"
admin_http GET "/admin/v1/devices?vendor=nobody"
assert_eq "$(json_length /items)" 0 "vendor=nobody: none"
admin_http GET "/admin/v1/devices?lastSeenAfter=2000-01-01T00:00:00Z&limit=1000"
assert_eq "$(json_length /items)" "$((NDEV - 4))" "lastSeenAfter 2000: all that used a token"
admin_http GET "/admin/v1/devices?lastSeenBefore=2000-01-01T00:00:00Z"
assert_eq "$(json_length /items)" 4 "lastSeenBefore 2000: the four never seen"
admin_http GET "/admin/v1/devices?deploymentState=Failed"
assert_eq "$(json_length /items)" 0 "deploymentState=Failed: none yet"

e2e_step "bad limit, cursor, filter -> 400 problem+json"
for q in limit=0 limit=1001 limit=x limit= limit=-5 limit=1e3; do
	admin_http GET "/admin/v1/devices?$q"
	assert_problem 400 invalid-parameter
done
for c in x '!!!' "$(printf '2.1.x' | base64 -w0)" "$(printf '1.x.y' | base64 -w0)" \
	"$(head -c 600 /dev/zero | tr '\0' A)"; do
	admin_http GET "/admin/v1/devices?after=$c"
	assert_problem 400 invalid-cursor
done
for q in state=gone lastSeenBefore=yesterday lastSeenAfter=1700000000 idPrefix=XYZ vendor= \
	"serialPrefix=$(head -c 300 /dev/zero | tr '\0' a)"; do
	admin_http GET "/admin/v1/devices?$q"
	assert_problem 400 invalid-parameter
done
admin_http GET "/admin/v1/enrollment-tokens?limit=0"
assert_problem 400 invalid-parameter
admin_http GET "/admin/v1/certificates?after=zz"
assert_problem 400 invalid-cursor

e2e_step "wfmctl reads every page"
wfmctl device list >"$T/ctl.out"
assert_eq "$(grep -c -E '^[0-9a-f]{8}-' "$T/ctl.out")" "$NDEV" "wfmctl device list: all $NDEV rows"
wfmctl --json device list >"$T/ctl.json"
assert_eq "$(json_length /items "$T/ctl.json")" "$NDEV" "--json: one document with all $NDEV"
assert_json /next null "$T/ctl.json"
wfmctl device list --limit 5 >"$T/ctl5.out"
assert_eq "$(grep -c -E '^[0-9a-f]{8}-' "$T/ctl5.out")" 5 "--limit 5: five rows"
cursor=$(sed -n 's/^More: add --after \([^ ]*\) .*/\1/p' "$T/ctl5.out")
assert_true "--limit says how to continue" test -n "$cursor"
wfmctl device list --limit 5 --after "$cursor" >"$T/ctl5b.out"
assert_eq "$(grep -E '^[0-9a-f]{8}-' "$T/ctl5.out" "$T/ctl5b.out" -h | cut -d' ' -f1 | tr '\n' ' ')" \
	"$(head -10 "$T/all.ids" | tr '\n' ' ')" "--after continues where --limit stopped"
wfmctl --json device list --limit 1200 >"$T/ctl1200.json"
assert_eq "$(json_length /items "$T/ctl1200.json")" "$NDEV" "--limit above a page: pages through"
out=$(wfmctl device list --limit 0 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "--limit 0 is a usage error"
out=$(wfmctl device list --after bogus 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "a bad cursor fails"
assert_match "$out" '^wfmctl: device list: 400 .*after' "in one line"
wfmctl device list --vendor nobody >"$T/none.out"
assert_eq "$(<"$T/none.out")" "No device matches." "a filter matching nothing says so"

e2e_step "a device's deployments, a page at a time"
device_onboard deps
D=$(device_client_id deps)
LONG=z$(head -c 127 /dev/zero | tr '\0' y)  # the longest id (128) fits in a cursor
DEPS=(dep-1 dep-2 dep-3 dep-4 dep-5 "$LONG")
for dep in "${DEPS[@]}"; do
	deployment_yaml "$dep" "app-${dep:0:5}" "$T/dep.yaml"
	deploy_put "$D" "$dep" "$T/dep.yaml"
	assert_status 201 "deploy ${dep:0:8}"
done
# walk_deployments QUERY: every page of the device's deployments, ids one a line into
# $T/deps.ids; sets DPAGES.
walk_deployments() {
	local after= n i
	: >"$T/deps.ids"
	DPAGES=0
	while :; do
		admin_http GET "/admin/v1/devices/$D/deployments?$1${after:+&after=$after}"
		[[ "$HTTP_STATUS" == 200 ]] || { fail "deployments page -> $HTTP_STATUS"; return 0; }
		DPAGES=$((DPAGES + 1))
		n=$(json_length /items)
		for ((i = 0; i < n; i++)); do json_get "/items/$i/deploymentId" >>"$T/deps.ids"; done
		after=$(json_get /next) || after=
		[[ "$after" != null && -n "$after" ]] || break
	done
}
walk_deployments "limit=2"
assert_eq "$DPAGES" 3 "six deployments, limit=2: three pages"
assert_eq "$(tr '\n' ' ' <"$T/deps.ids")" "${DEPS[*]} " "each once, first deployed first"
admin_http GET "/admin/v1/devices/$D/deployments"
assert_status 200 "no limit: the default page"
assert_eq "$(json_length /items)" 6 "all six in the default page"
assert_json /next null
assert_json /items/0/name app-dep-1
admin_http GET "/admin/v1/devices/$D/deployments?limit=5"
assert_json /items/4/deploymentId dep-5
after=$(json_get /next)
admin_http GET "/admin/v1/devices/$D/deployments?limit=5&after=$after"
assert_eq "$(json_length /items)" 1 "after the first five: one"
assert_json /items/0/deploymentId "$LONG"
assert_json /next null
cat >"$T/failed.json" <<EOS
{"apiVersion": "deployment.margo/v1", "kind": "DeploymentStatus", "deploymentId": "dep-3",
 "status": {"state": "Failed", "error": {"code": "E1", "message": "no space"}},
 "components": []}
EOS
device_http deps POST "/device/$D/deployment/dep-3/status" -H 'Content-Type: application/json' \
	--data-binary "@$T/failed.json"
assert_status 201 "dep-3 reports Failed"
admin_http GET "/admin/v1/devices?deploymentState=Failed"
assert_eq "$(json_length /items)" 1 "deploymentState=Failed: that device"
assert_json /items/0/id "$D"
admin_http GET "/admin/v1/devices?deploymentState=Failed&state=active&vendor=nobody"
assert_eq "$(json_length /items)" 0 "deploymentState with other filters: AND"
for q in limit=0 limit=1001 limit=x; do
	admin_http GET "/admin/v1/devices/$D/deployments?$q"
	assert_problem 400 invalid-parameter
done
for c in x "$(printf '1.x.y' | base64 -w0)"; do
	admin_http GET "/admin/v1/devices/$D/deployments?after=$c"
	assert_problem 400 invalid-cursor
done
admin_http GET "/admin/v1/devices/00000000-0000-4000-8000-000000000000/deployments"
assert_problem 404
wfmctl device deployments "$D" >"$T/deps.out"
assert_eq "$(grep -c -E '^(dep-|zy)' "$T/deps.out")" 6 "wfmctl device deployments: all six"
wfmctl device deployments "$D" --limit 4 >"$T/deps4.out"
assert_eq "$(grep -c -E '^(dep-|zy)' "$T/deps4.out")" 4 "--limit 4: four rows"
cursor=$(sed -n 's/^More: add --after \([^ ]*\) .*/\1/p' "$T/deps4.out")
assert_true "--limit says how to continue" test -n "$cursor"
wfmctl device deployments "$D" --limit 4 --after "$cursor" >"$T/deps4b.out"
assert_eq "$(grep -E '^(dep-|zy)' "$T/deps4b.out" | cut -d' ' -f1 | tr '\n' ' ')" \
	"dep-5 $LONG " "--after continues where --limit stopped"
wfmctl --json device deployments "$D" --limit 5 >"$T/deps.json"
assert_eq "$(json_length /items "$T/deps.json")" 5 "--json --limit 5: five items"
assert_json_type /next string "$T/deps.json"

wfmd_stop
e2e_finish
