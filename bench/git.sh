#!/usr/bin/env bash
# Desired-state serving of wfmd on 127.0.0.1:
#   - GET /device/{id}/desired-state with If-None-Match (304), wrk with keep-alive
#   - git ls-remote and git clone of the device repository by plain git clients,
#     PARALLEL at a time, COUNT operations each (one process and TLS handshake per operation)
# Usage: bench/git.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3
#                                         COUNT=200 PARALLEL=4)
set -euo pipefail
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
COUNT=${COUNT:-200}
PARALLEL=${PARALLEL:-4}
command -v wrk >/dev/null || { echo "bench/git.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

. "$SRC_DIR/tests/e2e/lib.sh"
e2e_setup
wfmd_start --log-level warn
device_onboard bench
id=$(device_client_id bench)
git_credentials_save bench "$T/bench.onboard.json"
deployment_yaml "$(cat /proc/sys/kernel/random/uuid)" bench-app "$T/dep.yaml"
deploy_put "$id" "$(awk '/ id:/ {print $2; exit}' "$T/dep.yaml")" "$T/dep.yaml"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "deploy failed: $HTTP_STATUS"
device_http bench GET "/device/$id/desired-state"
[[ "$HTTP_STATUS" == 200 ]] || e2e_die "desired-state failed: $HTTP_STATUS"
etag=$(http_header ETag)

lua_string() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1"; }
cat >"$T/poll.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $(lua_string "$T/bench.access_token")"
wrk.headers["If-None-Match"] = '$etag'
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx3xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One plain git operation as the device, credentials from files through GIT_ASKPASS.
cat >"$T/askpass" <<'EOS'
#!/bin/sh
case "$1" in
Username*) cat "$BENCH_GIT_USER_FILE"; echo ;;
Password*) cat "$BENCH_GIT_TOKEN_FILE"; echo ;;
esac
EOS
chmod 700 "$T/askpass"
cat >"$T/gitop" <<EOS
#!/bin/sh
# gitop ls-remote|clone N
export HOME="$T" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_ASKPASS="$T/askpass"
export BENCH_GIT_USER_FILE="$T/bench.git_user" BENCH_GIT_TOKEN_FILE="$T/bench.git_token"
unset GIT_SSL_CAINFO
url=\$(cat "$T/bench.git_url")
case "\$1" in
ls-remote) exec git -c http.sslCAInfo="$WFM_CA" ls-remote "\$url" >/dev/null ;;
clone) d="$T/clones/\$2"; git -c http.sslCAInfo="$WFM_CA" clone -q "\$url" "\$d" && rm -rf "\$d" ;;
esac
EOS
chmod 700 "$T/gitop"
mkdir -p "$T/clones"

gitrate() {
	local op=$1 start end
	start=$(date +%s.%N)
	seq 1 "$COUNT" | xargs -P "$PARALLEL" -I{} "$T/gitop" "$op" {} || e2e_die "git $op failed"
	end=$(date +%s.%N)
	awk -v n="$COUNT" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f\n", n / (e - s)}'
}

echo "wfmd desired-state benchmark: $(nproc) cores, median of $RUNS runs" >&2
rps=()
for ((i = 1; i <= RUNS; i++)); do
	out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$T/poll.lua" "$WFM_URL/device/$id/desired-state" | grep '^RESULT')
	echo "  desired-state 304 run $i: ${out#RESULT }" >&2
	rps+=("$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")")
done
poll_rps=$(printf '%s\n' "${rps[@]}" | median)
ls=(); cl=()
for ((i = 1; i <= RUNS; i++)); do
	ls+=("$(gitrate ls-remote)"); echo "  git ls-remote run $i: ${ls[-1]}/s" >&2
	cl+=("$(gitrate clone)"); echo "  git clone run $i: ${cl[-1]}/s" >&2
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$WFMD_PID/status")

printf '| measure | value |\n|---|---|\n'
printf '| GET desired-state with If-None-Match (304), requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$poll_rps"
printf '| git ls-remote, operations/s (%s parallel clients, new TLS connection each) | %s |\n' "$PARALLEL" "$(printf '%s\n' "${ls[@]}" | median)"
printf '| git clone, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$(printf '%s\n' "${cl[@]}" | median)"
printf '| wfmd peak RSS (VmHWM) | %s KiB |\n' "$hwm"
wfmd_stop
