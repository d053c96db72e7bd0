#!/usr/bin/env bash
# The admin side (issue 11):
#   - the cost of metrics on the hot path: GET /device/{id}/desired-state with If-None-Match
#     (304), requests/s with keep-alive (wrk), wfmd with metrics and with --no-metrics, runs
#     interleaved (on, off, on, off, ...) so both see the same machine load;
#   - device list pages at 1,000 and 100,000 devices: the latency of a 100-device page
#     (GET /admin/v1/devices?limit=100, curl over TLS with keep-alive, median of PAGES
#     requests) at the start, the middle and the end of the list, and filtered (state,
#     vendor+state, deploymentState). The devices are put into the database with sqlite3
#     (one INSERT ... SELECT, wfmd stopped): onboarding 100,000 devices through the API would
#     take an hour here and is fleet-sim's benchmark, not this one.
# Usage: bench/admin.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3
#        PAGES=20 DEVICES=100000)
. "$(dirname "$0")/common.sh"
PAGES=${PAGES:-20}
DEVICES=${DEVICES:-100000}
command -v sqlite3 >/dev/null || e2e_die "sqlite3 is not installed"

device_onboard bench
id=$(device_client_id bench)
deployment_yaml "$(cat /proc/sys/kernel/random/uuid)" bench-app "$T/dep.yaml"
deploy_put "$id" "$(awk '/ id:/ {print $2; exit}' "$T/dep.yaml")" "$T/dep.yaml"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "deploy failed: $HTTP_STATUS"
device_http bench GET "/device/$id/desired-state"
etag=$(http_header ETag)
printf 'Bearer %s' "$(<"$T/bench.access_token")" >"$T/bench.authz"
printf '%s' "$etag" >"$T/etag"
wrk_script "$T/poll.lua" GET Authorization "$T/bench.authz" If-None-Match "$T/etag"

# wrk_once: one run against the desired-state route; prints requests/s.
wrk_once() {
	local out
	out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$T/poll.lua" \
		"$WFM_URL/device/$id/desired-state" | grep '^RESULT')
	[[ "$out" == *" errors=0 failed=0" ]] || e2e_die "desired-state: failed requests: $out"
	echo "  $1: ${out#RESULT }" >&2
	sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out"
}

echo "metrics cost: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $RUNS runs each, interleaved" >&2
on=() off=()
for ((i = 1; i <= RUNS; i++)); do
	wfmd_restart --log-level warn
	on+=("$(wrk_once "with metrics, run $i")")
	wfmd_restart --log-level warn --no-metrics
	off+=("$(wrk_once "--no-metrics, run $i")")
done
rps_on=$(printf '%s\n' "${on[@]}" | median)
rps_off=$(printf '%s\n' "${off[@]}" | median)
wfmd_restart --log-level warn

# page_ms QUERY: median milliseconds of PAGES GET /admin/v1/devices?QUERY on one connection.
page_ms() {
	local q=$1 urls=() i
	# -o applies to one URL each: one per request, or the bodies mix with the times.
	for ((i = 0; i < PAGES; i++)); do urls+=(-o /dev/null "$WFM_URL/admin/v1/devices?$q"); done
	"${E2E_CURL[@]}" --cacert "$WFM_CA" -H "@$WFM_ADMIN_HDR" \
		-w '%{time_total}\n' "${urls[@]}" >"$T/times" 2>/dev/null ||
		e2e_die "GET /admin/v1/devices?$q failed"
	# time_total is per transfer; the first includes the TLS handshake: drop it.
	tail -n +2 "$T/times" | awk '{printf "%.2f\n", $1 * 1000}' | median
}

# cursor N: the cursor after the N-th device of the bench rows (created_at T0 + N / 10).
cursor() {
	printf '1.%s.%s' "$((1800000000 + $1 / 10))" "$(printf '%08x-0000-4000-8000-%012d' "$1" "$1")" |
		base64 -w0 | tr '+/' '-_' | tr -d '='
}

# add_devices FROM TO: rows FROM..TO-1 into the database (wfmd stopped): ids in creation
# order, created 10 a second, 1% pending, vendors v0..v9, one in 1000 with a Failed
# deployment.
add_devices() {
	wfmd_stop
	sqlite3 "$WFM_DIR/wfmd.db" <<SQL
.timeout 10000
BEGIN;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2)
INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint, keyid, vendor,
  model_number, serial_number, created_at, last_seen_at)
SELECT printf('%08x-0000-4000-8000-%012d', i, i), CASE WHEN i % 100 = 0 THEN 'pending'
  ELSE 'active' END, 'PEM', printf('sha256:%064d', i), 'k', 'v' || (i % 10), 'm1',
  printf('SN%08d', i), 1800000000 + i / 10, 1800000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2)
INSERT INTO deployments (device_id, deployment_id, name, application_id, created_at, updated_at)
SELECT printf('%08x-0000-4000-8000-%012d', i, i), 'd1', 'n', 'a', 0, 0 FROM n WHERE i % 1000 = 7;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2)
INSERT INTO deployment_status (device_id, deployment_id, state, document, received_at)
SELECT printf('%08x-0000-4000-8000-%012d', i, i), 'd1', 'Failed', '{}', 0 FROM n WHERE i % 1000 = 7;
COMMIT;
SQL
	wfmd_start --log-level warn
}

pages_at() {
	local n=$1
	P_START=$(page_ms "limit=100")
	P_MID=$(page_ms "limit=100&after=$(cursor $((n / 2)))")
	P_END=$(page_ms "limit=100&after=$(cursor $((n - 150)))")
	P_STATE=$(page_ms "limit=100&state=pending&after=$(cursor $((n / 2)))")
	P_VENDOR=$(page_ms "limit=100&state=active&vendor=v3&after=$(cursor $((n / 2)))")
	P_DEPLOY=$(page_ms "limit=100&deploymentState=Failed")
	echo "  $n devices: start $P_START ms, middle $P_MID ms, end $P_END ms, state=pending $P_STATE ms, vendor+state $P_VENDOR ms, deploymentState $P_DEPLOY ms" >&2
}

echo "device list pages: limit=100, median of $PAGES requests on one keep-alive connection" >&2
add_devices 0 1000
pages_at 1000
S1=$P_START M1=$P_MID E1=$P_END ST1=$P_STATE V1=$P_VENDOR D1=$P_DEPLOY
add_devices 1000 "$DEVICES"
pages_at "$DEVICES"
admin_http GET "/admin/v1/devices?limit=1000"
full_page_bytes=$(wc -c <"$HTTP_BODY_FILE")

bench_result admin.desired_304_rps_metrics "$rps_on"
bench_result admin.desired_304_rps_nometrics "$rps_off"
bench_result admin.devices_page_ms_1k_start "$S1"
bench_result admin.devices_page_ms_1k_end "$E1"
bench_result admin.devices_page_ms_100k_start "$P_START"
bench_result admin.devices_page_ms_100k_middle "$P_MID"
bench_result admin.devices_page_ms_100k_end "$P_END"
bench_result admin.devices_page_ms_100k_state "$P_STATE"
bench_result admin.devices_page_ms_100k_vendor_state "$P_VENDOR"
bench_result admin.devices_page_ms_100k_deployment_state "$P_DEPLOY"
printf '| measure | value |\n|---|---|\n'
printf '| desired-state 304, requests/s, with metrics (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$rps_on"
printf '| desired-state 304, requests/s, --no-metrics | %s |\n' "$rps_off"
printf '| device page (100) at 1,000 devices: start / middle / end, ms | %s / %s / %s |\n' "$S1" "$M1" "$E1"
printf '| device page (100) at %s devices: start / middle / end, ms | %s / %s / %s |\n' "$DEVICES" "$P_START" "$P_MID" "$P_END"
printf '| filtered page at 1,000 / %s: state=pending, ms | %s / %s |\n' "$DEVICES" "$ST1" "$P_STATE"
printf '| filtered page at 1,000 / %s: state=active&vendor=v3, ms | %s / %s |\n' "$DEVICES" "$V1" "$P_VENDOR"
printf '| filtered page at 1,000 / %s: deploymentState=Failed, ms | %s / %s |\n' "$DEVICES" "$D1" "$P_DEPLOY"
printf '| a 1000-device page, bytes | %s |\n' "$full_page_bytes"
wfmd_stop
