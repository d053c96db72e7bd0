#!/usr/bin/env bash
# The rollout benchmark (issue 12): a fresh wfmd (tests/e2e/lib.sh fixtures, temp dir, free
# loopback port) and DEVICES fleet-sim devices acting on their desired state (poll at the
# server-paced rate, fetch over Git, report Installing then Installed or Failed). Three
# rollouts, one after the other, on the same fleet:
#   1. waves:   one deployment to every device in WAVES waves (a canary, then batches):
#               time from `wfmctl rollout create` to the last commit written, the commit
#               time of each wave, time to completion and until every device reported
#               Installed.
#   2. fan-out: another deployment to every device in one wave: time from create until all
#               DEVICES commits are written (the issue's <= 10 s target), and to completion.
#   3. failing: a third deployment that FAIL_RATIO of the devices report Failed
#               (fleet-sim --failure-ratio, --failure-deployment): the rollout must pause in
#               the canary, no wave after it gets a commit (waveStatus) and no device outside
#               the canary gets the deployment (fleet-sim's count, wfmd's commit log).
# Usage: bench/rollout.sh [BUILD_DIR]      (make bench-rollout)
# Env: DEVICES (10000), WAVES (10), CANARY (1% of DEVICES, at least 1), THRESHOLD (95, %),
#      REST (30: wfmd --poll-interval-rest, the paced rate at rest), ACTIVE (5: wfmd
#      --poll-interval-active), POLL_MIN (5: the devices' floor), APPLY_DELAY (1 s),
#      FAIL_RATIO (0.2), SEED (1), CONCURRENCY (64: fleet-sim workers), FANOUT (1; 0 skips
#      rollout 2), WAIT (1800: seconds each rollout may take before the run fails).
# Prints a table; with BENCH_RESULTS=FILE appends rollout.* figures (bench/README.md); with
# RESULTS_MD=FILE (make bench-rollout: bench/results.md) a successful run rewrites the rollout
# section of that file (bench/report-rollout).
# Exits 1 when a check failed or a device request failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=$(cd "${1:-$here/../build}" && pwd)
export BUILD_DIR
. "$here/../tests/e2e/lib.sh"

DEVICES=${DEVICES:-10000}
WAVES=${WAVES:-10}
CANARY=${CANARY:-$(((DEVICES + 99) / 100))}
THRESHOLD=${THRESHOLD:-95}
REST=${REST:-30}
ACTIVE=${ACTIVE:-5}
POLL_MIN=${POLL_MIN:-5}
APPLY_DELAY=${APPLY_DELAY:-1}
FAIL_RATIO=${FAIL_RATIO:-0.2}
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-64}
FANOUT=${FANOUT:-1}
WAIT=${WAIT:-1800}
SIM=$BUILD_DIR/bench/fleet-sim
SELECTOR='device.margo/model=fleet-sim'
((WAVES >= 2 && CANARY < DEVICES)) || e2e_die "rollout.sh: WAVES >= 2 and CANARY < DEVICES"
BATCH=$(((DEVICES - CANARY + WAVES - 2) / (WAVES - 1)))

bench_result() { if [[ -n "${BENCH_RESULTS:-}" ]]; then printf '%s %s\n' "$1" "$2" >>"$BENCH_RESULTS"; fi; }
now() { date +%s.%N; }
# secs A B: B - A with one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# log_time AWK_PATTERN: the wall time (epoch seconds) of the first wfmd log line matching.
log_time() {
	local ts
	ts=$(awk -v p="$1" '$0 ~ p { print $1; exit }' "$WFMD_LOG")
	[[ -n "$ts" ]] && date -u -d "$ts" +%s.%N
}

# app_yaml ID FILE: a small compose ApplicationDeployment.
app_yaml() { deployment_yaml "$1" "$1" "$2" compose; }

# rollout_get ID: GET the rollout into $T/rollout.json; prints its state.
rollout_get() {
	admin_http GET "/admin/v1/rollouts/$1"
	cp "$HTTP_BODY_FILE" "$T/rollout.json"
	json_get /state "$T/rollout.json"
}
# wave_sum FIELD: the sum of FIELD over the waves of $T/rollout.json.
wave_sum() {
	local n i s=0
	n=$(json_length /waveStatus "$T/rollout.json")
	for ((i = 0; i < n; i++)); do s=$((s + $(json_get "/waveStatus/$i/$1" "$T/rollout.json"))); done
	echo "$s"
}
# rollout_create FILE ARGS...: wfmctl rollout create; sets RID and T_CREATE.
rollout_create() {
	local file=$1 out
	shift
	T_CREATE=$(now)
	out=$(wfmctl rollout create --selector "$SELECTOR" "$file" --wave-timeout 30m "$@") ||
		e2e_die "rollout create failed: $out"
	RID=$(sed -nE 's/^Rollout ([0-9a-f-]+) created.*/\1/p' <<<"$out")
	[[ -n "$RID" ]] || e2e_die "rollout create: no id in '$out'"
}
# wait_state ID STATE...: polls every second until the rollout is in one of the states
# (bounded by WAIT); prints it.
wait_state() {
	local id=$1 st i
	shift
	for ((i = 0; i < WAIT; i++)); do
		st=$(rollout_get "$id")
		for want in "$@"; do [[ "$st" == "$want" ]] && { echo "$st"; return 0; }; done
		sleep 1
	done
	e2e_die "rollout $id still $st after ${WAIT}s (wanted $*)"
}
# wait_installed ID N: until N devices of the rollout report Installed; prints the time.
wait_installed() {
	local i
	for ((i = 0; i < WAIT; i++)); do
		rollout_get "$1" >/dev/null
		[[ "$(wave_sum installed)" -ge "$2" ]] && { now; return 0; }
		sleep 1
	done
	e2e_die "rollout $1: fewer than $2 devices Installed after ${WAIT}s"
}
# rollout_lines: wfmd's rollout and commit log lines, apart from the request lines.
rollout_lines() { grep -a -E ' info (rollout |repository commit)' "$WFMD_LOG" >"$T/rollout.log" || true; }
# wave_time KIND ID WAVE: when wave WAVE of rollout ID was "deployed" or "judged".
wave_time() {
	local ts
	ts=$(awk -v k="rollout wave $1" -v id="rollout_id=$2" -v w="wave=$3" \
		'index($0, k) && index($0, id " ") && index($0, " " w " ") { print $1; exit }' "$T/rollout.log")
	[[ -n "$ts" ]] && date -u -d "$ts" +%s.%N
}
# sim_field LINE KEY [MATCH]: KEY's value on fleet-sim's first line starting with LINE (and
# holding MATCH).
sim_field() {
	awk -v l="$1" -v k="$2" -v m="${3:-}" '$1 == l && index($0, m) { for (i = 2; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$T/sim.out"
}

e2e_setup
if [[ -n "${RESULTS_MD:-}" && -z "${BENCH_RESULTS:-}" ]]; then BENCH_RESULTS=$T/results; fi
# say TEXT: a summary line, on stderr and in the run's summary (bench/report-rollout).
say() { echo "$*" | tee -a "$T/summary" >&2; }
e2e_require_bin "$SIM" "$WFMCTL_BIN"
wfmd_start --log-level info --poll-interval-rest "$REST" --poll-interval-active "$ACTIVE"
say "rollout benchmark: $DEVICES devices, $WAVES waves (canary $CANARY, batch $BATCH)," \
	"threshold $THRESHOLD%, paced polling ${REST} s at rest / ${ACTIVE} s in a wave," \
	"apply delay ${APPLY_DELAY} s, $(nproc) cores, wfmd $(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"

# The fleet: onboarded, then acting until SIGTERM. Its own interval is margo-agent's default
# (300 s): it polls at the rate wfmd's hints set.
"$SIM" --url "$WFM_URL" --ca-file "$WFM_CA" --admin-token-file "$WFM_DIR/admin.token" \
	--devices "$DEVICES" --concurrency "$CONCURRENCY" --phases onboard,act --duration 86400 \
	--poll-interval 300 --poll-interval-min "$POLL_MIN" --start-spread "$REST" \
	--apply-delay "$APPLY_DELAY" --seed "$SEED" --failure-ratio "$FAIL_RATIO" \
	--failure-deployment fleet-fail >"$T/sim.out" 2>"$T/sim.err" &
SIM_PID=$!
e2e_track "$SIM_PID"
e2e_wait_for "$WAIT" grep -q '^act warm' "$T/sim.out" ||
	{ cat "$T/sim.out" "$T/sim.err" >&2; e2e_die "fleet-sim: devices not onboarded and polling"; }
say "  onboarded $(sim_field phase=onboard devices) devices at $(sim_field phase=onboard devices_per_s)/s;" \
	"all polled once after $(sim_field act seconds warm) s"

# 1. waves
app_yaml fleet-app "$T/app.yaml"
rollout_create "$T/app.yaml" --canary "$CANARY" --batch "$BATCH" --success-threshold "$THRESHOLD%"
st=$(wait_state "$RID" completed paused)
assert_eq "$st" completed "the $WAVES-wave rollout completes"
t_all=$(wait_installed "$RID" "$DEVICES")
rollout_lines
nwaves=$(json_get /waves "$T/rollout.json")
start=$T_CREATE commit_sum=0
say "$(printf '  %-6s %8s %12s %12s' wave devices "commits (s)" "to judged (s)")"
for ((w = 0; w < nwaves; w++)); do
	dep=$(wave_time deployed "$RID" "$w") jud=$(wave_time judged "$RID" "$w")
	c=$(secs "$start" "$dep") t=$(secs "$start" "$jud")
	say "$(printf '  %-6s %8s %12s %12s' "$((w + 1))" "$(json_get "/waveStatus/$w/devices" "$T/rollout.json")" "$c" "$t")"
	bench_result "rollout.wave$((w + 1))_commit_s" "$c"
	bench_result "rollout.wave$((w + 1))_total_s" "$t"
	commit_sum=$(awk -v a="$commit_sum" -v b="$c" 'BEGIN { print a + b }')
	start=$jud
done
last_commit=$(secs "$T_CREATE" "$(wave_time deployed "$RID" $((nwaves - 1)))")
complete=$(secs "$T_CREATE" "$(wave_time judged "$RID" $((nwaves - 1)))")
installed_all=$(secs "$T_CREATE" "$t_all")
wcps=$(awk -v n="$DEVICES" -v s="$commit_sum" 'BEGIN { if (s > 0) printf(n / s < 10 ? "%.1f" : "%.0f", n / s) }')
say "  waves: create -> last commit ${last_commit} s (of which writing commits ${commit_sum} s, $wcps commits/s)," \
	"-> completed ${complete} s, -> all $DEVICES Installed ${installed_all} s"
bench_result rollout.devices "$DEVICES"
bench_result rollout.waves "$nwaves"
bench_result rollout.last_commit_s "$last_commit"
bench_result rollout.commit_s "$commit_sum"
bench_result rollout.commits_per_s "$wcps"
bench_result rollout.complete_s "$complete"
bench_result rollout.all_installed_s "$installed_all"

# 2. fan-out: every commit in one wave
if [[ "$FANOUT" == 1 ]]; then
	app_yaml fleet-fanout "$T/fanout.yaml"
	rollout_create "$T/fanout.yaml" --success-threshold "$THRESHOLD%"
	st=$(wait_state "$RID" completed paused)
	assert_eq "$st" completed "the one-wave rollout completes"
	t_all=$(wait_installed "$RID" "$DEVICES")
	rollout_lines
	fanout=$(secs "$T_CREATE" "$(wave_time deployed "$RID" 0)")
	fcomplete=$(secs "$T_CREATE" "$(wave_time judged "$RID" 0)")
	finstalled=$(secs "$T_CREATE" "$t_all")
	cps=$(awk -v n="$DEVICES" -v s="$fanout" 'BEGIN { if (s > 0) printf(n / s < 10 ? "%.1f" : "%.0f", n / s) }')
	say "  fan-out: $DEVICES commits in ${fanout} s ($cps commits/s; target <= 10 s)," \
		"completed ${fcomplete} s, all Installed ${finstalled} s"
	bench_result rollout.fanout_s "$fanout"
	bench_result rollout.fanout_commits_per_s "$cps"
	bench_result rollout.fanout_complete_s "$fcomplete"
	bench_result rollout.fanout_all_installed_s "$finstalled"
fi

# 3. failing canary: FAIL_RATIO of the devices fail fleet-fail
app_yaml fleet-fail "$T/fail.yaml"
rollout_create "$T/fail.yaml" --canary "$CANARY" --batch "$BATCH" --success-threshold "$THRESHOLD%"
st=$(wait_state "$RID" paused completed)
t_stop=$(now)
assert_eq "$st" paused "a rollout with $FAIL_RATIO failing pauses"
assert_json /currentWave 0 "$T/rollout.json"
failed=$(json_get /waveStatus/0/failed "$T/rollout.json")
assert_true "the canary reports Failed devices ($failed)" test "$failed" -gt 0
later=0
for ((w = 1; w < $(json_get /waves "$T/rollout.json"); w++)); do
	later=$((later + $(json_get "/waveStatus/$w/devices" "$T/rollout.json") - $(json_get "/waveStatus/$w/waiting" "$T/rollout.json")))
done
assert_eq "$later" 0 "no device of a later wave left 'waiting' (waveStatus)"
# Every device polls at least once more (rest interval) before the count is taken.
sleep "$(awk -v r="$REST" -v a="$APPLY_DELAY" 'BEGIN { print r + a + 5 }')"
kill -TERM "$SIM_PID"
e2e_wait_for 60 sh -c "grep -q '^act devices' '$T/sim.out'" || e2e_die "fleet-sim did not stop on SIGTERM"
wait "$SIM_PID" && sim_rc=0 || sim_rc=$?
e2e_untrack "$SIM_PID"
rollout_lines
got=$(sim_field act_deployment devices id=fleet-fail)
assert_eq "${got:-0}" "$CANARY" "devices that got fleet-fail = the canary (fleet-sim's count)"
commits=$(grep -c 'file=deployments/fleet-fail.yaml' "$T/rollout.log" || true)
# (when wfmd logs each commit with its file, as repo.c does)
if grep -q 'repository commit.*file=deployments/fleet-app.yaml' "$T/rollout.log"; then
	assert_eq "$commits" "$CANARY" "commits of fleet-fail = the canary (wfmd's commit log)"
fi
stop_s=$(secs "$T_CREATE" "$(wave_time judged "$RID" 0)")
say "  failing canary: paused after ${stop_s} s, $failed of $CANARY canary devices Failed;" \
	"devices given fleet-fail: ${got:-0}; later waves untouched: $([[ $later == 0 ]] && echo yes || echo no)"
bench_result rollout.fail_stop_s "$stop_s"
bench_result rollout.fail_canary_failed "$failed"
bench_result rollout.fail_outside_canary "$((${got:-0} - CANARY > 0 ? ${got:-0} - CANARY : 0))"

# The devices' side: requests, errors, the intervals the hints gave.
errs=$(sim_field phase=act request_errors)
say "  devices: $(sim_field act polls) polls ($(sim_field act hinted) with Margo-Poll-Interval," \
	"intervals used $(sim_field act interval_min_s)-$(sim_field act interval_max_s) s)," \
	"$(sim_field phase=act requests) requests, $errs failed; visits started late by" \
	"$(sim_field act late_mean_s) s on average, $(sim_field act late_max_s) s at most; fleet-sim exit $sim_rc"
assert_eq "$errs" 0 "no failed device request"
bench_result rollout.sim_request_errors "$errs"
bench_result rollout.wfmd_hwm_kib "$(awk '/^VmHWM:/ {print $2}' "/proc/$WFMD_PID/status")"
wfmd_stop
if [[ -n "${RESULTS_MD:-}" && $E2E_FAIL -eq 0 ]]; then
	"$here/report-rollout" "$BENCH_RESULTS" "$T/summary" "$RESULTS_MD"
fi
e2e_finish
