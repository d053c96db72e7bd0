#!/usr/bin/env bash
# The desired state in the store (issue 9), against a fresh wfmd on 127.0.0.1:
#   1. onboarding STORE_DEVICES devices (bench/fleet-sim, onboard phase): devices/s, errors;
#      with PROFILE=1 a perf profile of wfmd during it (top symbols printed)
#   2. the TLS handshake ceiling in the same run: fleet-sim polls with a new TCP+TLS
#      connection per request (--connections request, 1 poll per visit): connections/s
#   3. desired-state polls of all devices with keep-alive (304 once the ETag is known): req/s
#   4. the data dir after a clean stop: bytes and files, per device; wfmd's peak RSS; then the
#      start-up time on it (until it serves) and the RSS after start
#   5. fan-out: one ApplicationDeployment deployed to each of FANOUT_DEVICES devices by admin
#      API calls (one curl process, one keep-alive connection, sequential): total and
#      per-deploy latency
#   6. long history: HISTORY deploys to one device; the database growth per commit, then a
#      no-change and a one-commit git fetch by the git CLI (median of 5 each)
# Usage: bench/desired.sh [BUILD_DIR]   (env: STORE_DEVICES=10000 FANOUT_DEVICES=10000
#        HISTORY=10000 CONCURRENCY=64 DURATION=10 PROFILE=0)
# The large run: STORE_DEVICES=200000 (make bench-store), extrapolated to 1,000,000 in
# bench/README.md. With BENCH_RESULTS=FILE appends the desired.* keys (bench/README.md).
set -euo pipefail
STORE_DEVICES=${STORE_DEVICES:-10000}
FANOUT_DEVICES=${FANOUT_DEVICES:-10000}
HISTORY=${HISTORY:-10000}
CONC=${CONCURRENCY:-64}
DUR=${DURATION:-10}
DUR=${DUR%s}
. "$(dirname "$0")/common.sh"
sim=$BUILD_DIR/bench/fleet-sim
[[ -x "$sim" ]] || e2e_die "build $BUILD_DIR first (fleet-sim)"
((FANOUT_DEVICES <= STORE_DEVICES)) || FANOUT_DEVICES=$STORE_DEVICES

field() {
	awk -v p="phase=$1" -v k="$2" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) print kv[2] } }' "$3"
}
simrun() { # simrun OUT ARGS...: fleet-sim against this wfmd; dies on failed requests; its
	local out=$1 # user+system CPU seconds in OUT.cpu
	shift
	/usr/bin/time -f '%U %S' -o "$out.cpu" "$sim" --url "$WFM_URL" --ca-file "$WFM_CA" --admin-token-file "$WFM_DIR/admin.token" \
		--concurrency "$CONC" "$@" >"$out" 2>&1 || { tail -30 "$out" >&2; e2e_die "fleet-sim failed"; }
}
# wfmd's CPU time so far (user + system), in clock ticks
wfmd_ticks() { awk '{print $14 + $15}' "/proc/$WFMD_PID/stat"; }
HZ=$(getconf CLK_TCK)
# per_ms TICKS_OR_SECONDS N [HZ]: milliseconds of CPU per unit
per_ms() { awk -v t="$1" -v n="$2" -v hz="${3:-1}" 'BEGIN { printf "%.2f", 1000 * t / hz / n }'; }
sim_cpu() { awk '{print $1 + $2}' "$1.cpu"; }
dir_bytes() { du -sb "$WFM_DIR" | cut -f1; }
dir_files() { find "$WFM_DIR" | wc -l; }

echo "desired-state store benchmark: $STORE_DEVICES devices, $(nproc) cores" >&2
wfmd_stop
bytes0=$(dir_bytes) files0=$(dir_files)
wfmd_start --log-level warn

# 1. onboarding (and a profile of it)
if [[ "${PROFILE:-0}" == 1 ]] && command -v perf >/dev/null; then
	perf record -q -g -p "$WFMD_PID" -o "$T/perf.data" -- sleep 8 >/dev/null 2>&1 &
	perf_pid=$!
fi
ticks0=$(wfmd_ticks)
simrun "$T/onboard.out" --devices "$STORE_DEVICES" --phases onboard --state "$T/devices.state"
onb_srv_ms=$(per_ms $(($(wfmd_ticks) - ticks0)) "$STORE_DEVICES" "$HZ")
# the simulator's CPU less its untimed key generation (seconds x threads)
keygen_cpu=$(awk '$1 == "keygen" { for (i = 2; i <= NF; i++) { split($i, kv, "=");
	v[kv[1]] = kv[2] } print v["seconds"] * v["threads"] }' "$T/onboard.out")
onb_sim_ms=$(per_ms "$(awk -v a="$(sim_cpu "$T/onboard.out")" -v b="${keygen_cpu:-0}" 'BEGIN { print a - b }')" "$STORE_DEVICES")
onb_dps=$(field onboard devices_per_s "$T/onboard.out")
onb_err=$(field onboard errors "$T/onboard.out")
echo "  onboarding: $onb_dps devices/s, $onb_err errors, p50 $(field onboard p50_ms "$T/onboard.out") ms" >&2
if [[ -n "${perf_pid:-}" ]]; then
	wait "$perf_pid" || true
	echo "  perf profile of wfmd during onboarding (self time, top 25):" >&2
	perf report -i "$T/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null |
		grep -E '^ +[0-9]' | awk 'NR <= 25 { print "    " $0 }' >&2
fi

# 2. the TLS ceiling: a new connection per request, the cheapest request there is
ticks0=$(wfmd_ticks)
simrun "$T/tls.out" --state "$T/devices.state" --phases poll --connections request \
	--polls-per-visit 1 --duration "$DUR"
tls_cps=$(field poll req_per_s "$T/tls.out")
# (the token phase before the polls makes new connections too)
tls_conns=$(( $(field token connections "$T/tls.out") + $(field poll connections "$T/tls.out") ))
tls_srv_ms=$(per_ms $(($(wfmd_ticks) - ticks0)) "$tls_conns" "$HZ")
tls_sim_ms=$(per_ms "$(sim_cpu "$T/tls.out")" "$tls_conns")
echo "  new TLS connections (one 304 poll each): $tls_cps/s; onboarding reaches" \
	"$(awk -v a="$onb_dps" -v b="$tls_cps" 'BEGIN { printf "%.0f%%", 100 * a / b }') of it" >&2
echo "  CPU ms per onboarded device: wfmd $onb_srv_ms, fleet-sim $onb_sim_ms; per new TLS" \
	"connection: wfmd $tls_srv_ms, fleet-sim $tls_sim_ms" >&2

# 3. polls with keep-alive
simrun "$T/poll.out" --state "$T/devices.state" --phases poll --duration "$DUR"
poll_rps=$(field poll req_per_s "$T/poll.out")
echo "  desired-state polls ($STORE_DEVICES devices, keep-alive): $poll_rps req/s" >&2
hwm=$(wfmd_hwm)

# 4. the data dir at rest, and a start on it
wfmd_stop
bytes1=$(dir_bytes) files1=$(dir_files)
per_dev=$(( (bytes1 - bytes0) / STORE_DEVICES ))
files_dev=$(awk -v a="$files1" -v b="$files0" -v n="$STORE_DEVICES" 'BEGIN { printf "%.3f", (a - b) / n }')
t0=$(date +%s%N)
wfmd_start --log-level warn
start_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rss_start=$(awk '/VmRSS/ {print $2}' "/proc/$WFMD_PID/status")
echo "  data dir: $bytes1 bytes, $files1 files ($per_dev bytes and $files_dev files per device" \
	"over the empty data dir); wfmd peak RSS $hwm KiB; start-up ${start_ms} ms, RSS after start $rss_start KiB" >&2

# 5. fan-out over the admin API
deployment_yaml fanout fanout "$T/fanout.yaml" helm 1.0.0
python3 - "$T" "$WFM_URL" "$FANOUT_DEVICES" <<'PY'
import json, sys
t, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(t + "/fanout.curl", "w") as out:
    for i, line in enumerate(open(t + "/devices.state")):
        if i == n:
            break
        dev = json.loads(line)["clientId"]
        out.write('url = "%s/admin/v1/devices/%s/deployments/fanout"\n' % (url, dev))
        out.write('request = "PUT"\nupload-file = "%s/fanout.yaml"\noutput = "/dev/null"\n' % t)
PY
curl_many() { # curl_many CONFIG OUT: the requests of CONFIG on one keep-alive connection
	"${E2E_CURL[@]}" --cacert "$WFM_CA" "${WFM_CURL_OPTS[@]}" -H "@$WFM_ADMIN_HDR" \
		-H 'Content-Type: application/yaml' -K "$1" -w '%{http_code} %{time_total}\n' >"$2"
}
t0=$(date +%s%N)
curl_many "$T/fanout.curl" "$T/fanout.out"
fan_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fan_bad=$(awk '$1 != 201' "$T/fanout.out" | wc -l)
read -r fan_p50 fan_p99 < <(awk '{print $2 * 1000}' "$T/fanout.out" | sort -n |
	awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)+1], a[int(NR*0.99)+1]}')
[[ "$fan_bad" == 0 ]] || e2e_die "fan-out: $fan_bad deploys failed"
echo "  fan-out: $FANOUT_DEVICES deploys in $fan_ms ms ($(( FANOUT_DEVICES * 1000 / (fan_ms + 1) ))/s)," \
	"per deploy p50 $fan_p50 ms, p99 $fan_p99 ms" >&2

# 6. long history on one device
device_onboard hist
hid=$(device_client_id hist)
git_credentials_save hist "$T/hist.onboard.json"
deployment_yaml app app "$T/h1.yaml" helm 1.0.0
deployment_yaml app app "$T/h2.yaml" helm 2.0.0
for ((i = 0; i < HISTORY; i++)); do
	printf 'url = "%s/admin/v1/devices/%s/deployments/app"\nrequest = "PUT"\nupload-file = "%s/h%d.yaml"\noutput = "/dev/null"\n' \
		"$WFM_URL" "$hid" "$T" $((i % 2 + 1))
done >"$T/hist.curl"
sqlite3 "$WFM_DIR/wfmd.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
db0=$(sqlite3 "$WFM_DIR/wfmd.db" "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
t0=$(date +%s%N)
curl_many "$T/hist.curl" "$T/hist.out"
hist_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ "$(awk '$1 != 200 && $1 != 201' "$T/hist.out" | wc -l)" == 0 ]] || e2e_die "history: deploys failed"
sqlite3 "$WFM_DIR/wfmd.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
db1=$(sqlite3 "$WFM_DIR/wfmd.db" "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
per_commit=$(( (db1 - db0) / HISTORY ))
echo "  history: $HISTORY deploys to one device in $hist_ms ms; database +$((db1 - db0)) bytes" \
	"($per_commit per commit)" >&2
gitcli() { git_as hist -c http.sslCAPath="$T/nocapath" "$@"; }
mkdir -p "$T/nocapath"
t0=$(date +%s%N)
gitcli clone -q "$(<"$T/hist.git_url")" "$T/hist-clone" || e2e_die "clone: $(cat "$T/git.out")"
clone_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
timed() { local s; s=$(date +%s%N); "$@" || e2e_die "$*: $(cat "$T/git.out")"; echo $(( ($(date +%s%N) - s) / 1000000 )); }
nochange=() onecommit=()
for ((i = 0; i < 5; i++)); do
	nochange+=("$(timed gitcli -C "$T/hist-clone" fetch -q)")
	deploy_put "$hid" app "$T/h$(( (HISTORY + i) % 2 + 1 )).yaml"
	onecommit+=("$(timed gitcli -C "$T/hist-clone" fetch -q)")
done
nc_ms=$(printf '%s\n' "${nochange[@]}" | median)
oc_ms=$(printf '%s\n' "${onecommit[@]}" | median)
echo "  history: full clone of $((HISTORY + 1)) commits $clone_ms ms;" \
	"no-change fetch $nc_ms ms, one-commit fetch $oc_ms ms (median of 5, git CLI)" >&2
wfmd_stop

bench_result desired.devices "$STORE_DEVICES"
bench_result desired.onboard_dps "$onb_dps"
bench_result desired.onboard_errors "$onb_err"
bench_result desired.tls_cps "$tls_cps"
bench_result desired.onboard_wfmd_cpu_ms "$onb_srv_ms"
bench_result desired.onboard_sim_cpu_ms "$onb_sim_ms"
bench_result desired.tls_wfmd_cpu_ms "$tls_srv_ms"
bench_result desired.tls_sim_cpu_ms "$tls_sim_ms"
bench_result desired.poll_rps "$poll_rps"
bench_result desired.bytes_per_device "$per_dev"
bench_result desired.files_per_device "$files_dev"
bench_result desired.datadir_bytes "$bytes1"
bench_result desired.wfmd_hwm_kib "$hwm"
bench_result desired.start_ms "$start_ms"
bench_result desired.fanout_devices "$FANOUT_DEVICES"
bench_result desired.fanout_ms "$fan_ms"
bench_result desired.fanout_p50_ms "$fan_p50"
bench_result desired.fanout_p99_ms "$fan_p99"
bench_result desired.history_commits "$HISTORY"
bench_result desired.history_bytes_per_commit "$per_commit"
bench_result desired.history_fetch_nochange_ms "$nc_ms"
bench_result desired.history_fetch_onecommit_ms "$oc_ms"
e2e_finish
