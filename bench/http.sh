#!/usr/bin/env bash
# HTTP throughput of wfmd with keep-alive, measured with wrk over TLS on 127.0.0.1:
#   - POST /oauth2/token (client credentials, form body)
#   - GET /device/{id}/capabilities (Bearer access token)
# and wfmd's resident memory (VmRSS, VmHWM) after the load.
# Usage: bench/http.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3)
set -euo pipefail
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
command -v wrk >/dev/null || { echo "bench/http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

. "$SRC_DIR/tests/e2e/lib.sh"
e2e_setup
wfmd_start --log-level warn
device_onboard bench
id=$(device_client_id bench)
capabilities_doc bench "$T/caps.json"
device_http bench POST "/device/$id/capabilities" -H 'Content-Type: application/json' \
	--data-binary "@$T/caps.json"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "capabilities report failed: $HTTP_STATUS"

# wrk scripts hold the secrets; they live in the 0600 temp dir and are deleted with it.
lua_string() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1"; }
cat >"$T/token.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$(lua_string "$T/bench.form")"
LUA
cat >"$T/caps.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $(lua_string "$T/bench.access_token")"
LUA
cat >>"$T/token.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA
sed -n '/^done = /,$p' "$T/token.lua" >>"$T/caps.lua"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run() {
	local name=$1 script=$2 path=$3 i out rps=()
	for ((i = 1; i <= RUNS; i++)); do
		out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$script" "$WFM_URL$path" | grep '^RESULT')
		echo "  $name run $i: ${out#RESULT }" >&2
		rps+=("$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")")
	done
	printf '%s\n' "${rps[@]}" | median
}

echo "wfmd HTTP benchmark: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs, $(nproc) cores" >&2
token_rps=$(run "POST /oauth2/token" "$T/token.lua" /oauth2/token)
caps_rps=$(run "GET /device/{id}/capabilities" "$T/caps.lua" "/device/$id/capabilities")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$WFMD_PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$WFMD_PID/status")

printf '| measure | value |\n|---|---|\n'
printf '| POST /oauth2/token, requests/s (keep-alive) | %s |\n' "$token_rps"
printf '| GET /device/{id}/capabilities, requests/s (keep-alive) | %s |\n' "$caps_rps"
printf '| wfmd RSS after load (VmRSS) | %s KiB |\n' "$rss"
printf '| wfmd peak RSS (VmHWM) | %s KiB |\n' "$hwm"
wfmd_stop
