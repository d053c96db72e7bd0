#!/usr/bin/env bash
# The web console's server side at fleet scale: a wfmd whose store holds DEVICES (100,000)
# devices with a deployment each and STATUS_REPORTS (3) status reports per deployment (1 % of
# them Failed), inserted straight into its SQLite database; then, over one kept-alive HTTPS
# connection authenticated by a console session cookie, the median time of the requests the
# console makes: the overview's GET /admin/v1/summary, a device's status history, a console
# file (200) and its revalidation (304). Also wfmd's RSS after. Usage: bench/console.sh [BUILD_DIR]
# Env: DEVICES=100000 STATUS_REPORTS=3 REPEAT=21 (requests per figure; the median is kept).
set -euo pipefail
. "$(dirname "$0")/common.sh"
DEVICES=${DEVICES:-100000}
STATUS_REPORTS=${STATUS_REPORTS:-3}
REPEAT=${REPEAT:-21}
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 is not installed" >&2; exit 1; }

wfmd_stop
now=$(date +%s)
t0=$(date +%s.%N)
sqlite3 "$WFM_DIR/wfmd.db" <<EOS
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $DEVICES)
INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint, keyid, vendor,
  model_number, serial_number, created_at, last_seen_at)
SELECT printf('%08x-0000-4000-8000-%012x', i, i),
  CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 250 = 0 THEN 'revoked' ELSE 'active' END,
  '', printf('sha256:%064x', i), printf('%064x', i), 'Vendor' || (i % 7), 'M-' || (i % 13),
  printf('SN-%07d', i), $now - (i % 172800), $now - (i % 3600)
FROM n;
INSERT INTO deployments (device_id, deployment_id, name, application_id, created_at, updated_at)
SELECT id, 'web-1', 'web', 'com.example.web', $now, $now FROM devices WHERE state = 'active';
WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < $STATUS_REPORTS)
INSERT INTO deployment_status (device_id, deployment_id, state, document, received_at)
SELECT d.device_id, 'web-1',
  CASE WHEN r.k < $STATUS_REPORTS THEN 'Installing'
       WHEN abs(random()) % 100 = 0 THEN 'Failed' ELSE 'Installed' END,
  '{"apiVersion":"deployment.margo/v1","kind":"DeploymentStatus","deploymentId":"web-1","status":{"state":"Installed"},"components":[{"name":"app","state":"Installed"}]}',
  $now - 60 + r.k
FROM r, deployments d ORDER BY r.k;
COMMIT;
EOS
t1=$(date +%s.%N)
wfmd_start --log-level warn

# A console session: the cookie in a 0600 header file.
printf '{"token": "%s"}' "$(<"$WFM_DIR/admin.token")" >"$T/login.json"
http POST /admin/v1/session -H 'Content-Type: application/json' --data-binary "@$T/login.json"
[[ "$HTTP_STATUS" == 201 ]] || { echo "bench: console login failed ($HTTP_STATUS)" >&2; exit 1; }
printf 'Cookie: %s\n' "$(http_header Set-Cookie | sed 's/;.*//')" >"$T/cookie.hdr"
one=$(sqlite3 "$WFM_DIR/wfmd.db" "SELECT device_id FROM deployments LIMIT 1 OFFSET $((DEVICES / 2))")

# median_ms PATH [CURL ARGS...]: REPEAT requests on one connection (the first, with the TLS
# handshake, dropped), median time in ms; any status >= 400 stops the benchmark.
median_ms() {
	local path=$1 urls=() i
	shift
	for ((i = 0; i <= REPEAT; i++)); do urls+=(-o /dev/null "$WFM_URL$path"); done
	"${E2E_CURL[@]}" --cacert "$WFM_CA" -H "@$T/cookie.hdr" "$@" \
		-w '%{http_code} %{time_total}\n' "${urls[@]}" >"$T/times"
	if awk '$1 >= 400 || $1 == 0 {bad = 1} END {exit !bad}' "$T/times"; then
		echo "bench: $path failed: $(sort -u "$T/times" | head -3)" >&2
		exit 1
	fi
	tail -n +2 "$T/times" | awk '{printf "%.3f\n", $2 * 1000}' | median
}

etag=$(curl -s --noproxy '*' --cacert "$WFM_CA" -D - -o /dev/null "$WFM_URL/ui/app.js" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
summary=$(median_ms /admin/v1/summary)
history=$(median_ms "/admin/v1/devices/$one/deployments/web-1/history")
asset=$(median_ms /ui/app.js)
asset304=$(median_ms /ui/app.js -H "If-None-Match: $etag")
session=$(median_ms /admin/v1/session)
rss=$(wfmd_hwm)
http GET /admin/v1/summary -H "@$T/cookie.hdr"
failing=$(json_get /failingDeployments/total)

printf '\n%-58s %12s\n' "console at $DEVICES devices ($failing failing deployments)" "median"
printf '%-58s %9s ms\n' "GET /admin/v1/summary (overview)" "$summary"
printf '%-58s %9s ms\n' "GET .../deployments/web-1/history (device page)" "$history"
printf '%-58s %9s ms\n' "GET /admin/v1/session (cookie check)" "$session"
printf '%-58s %9s ms\n' "GET /ui/app.js (200)" "$asset"
printf '%-58s %9s ms\n' "GET /ui/app.js with If-None-Match (304)" "$asset304"
printf '%-58s %9s KiB\n' "wfmd VmHWM" "$rss"
printf '%-58s %9.1f s\n' "(inserting the fleet with sqlite3)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
bench_result console.devices "$DEVICES"
bench_result console.summary_ms "$summary"
bench_result console.history_ms "$history"
bench_result console.session_ms "$session"
bench_result console.asset_ms "$asset"
bench_result console.asset_304_ms "$asset304"
bench_result console.rss_hwm_kib "$rss"
