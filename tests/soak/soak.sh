#!/usr/bin/env bash
# Soak under faults: one wfmd and AGENTS real margo-agent processes (each its own state dir,
# poll_interval POLL), for DURATION seconds:
#   - every DEPLOY_EVERY s a new revision of deployment "soak-app" goes (wfmctl deploy) to a
#     random fifth of the agents;
#   - every FAULT_EVERY s wfmd is stopped, with SIGTERM and SIGKILL alternately, for OUTAGE s,
#     and once (the first fault after a third of DURATION) kept down for LONG_OUTAGE s;
#   - every SAMPLE_EVERY s wfmd's RSS and open descriptors are sampled.
# Then, with wfmd up and the faults over, it checks within CONVERGE_TIMEOUT s:
#   - every agent converged: its applied revision is the desired one, soak-app Installed, and
#     the applied file is the last YAML deployed to it;
#   - every status in wfmd matches the agents': wfmctl shows soak-app with the state the agent
#     applied, for every device;
#   - none re-onboarded: each agent's clientId is the one it got at the start, wfmd lists
#     exactly AGENTS devices, all active;
#   - wfmd's RSS and descriptor count are flat: the largest sample of the last third is within
#     RSS_SLACK_PCT % (+4 MiB) and FD_SLACK descriptors of the largest of the first third
#     (samples of a wfmd younger than 2 samples excluded);
#   - no error other than the injected outages: every agent warning/error line is a failed
#     cycle or status report while wfmd was down (or within GRACE s after), wfmd logs no
#     error, every SIGTERM ends wfmd with status 0, every agent exits 0 on SIGTERM.
# It prints the figures at the end (and keeps them in $T/samples.tsv, $T/outages.tsv).
#
# Usage: tests/soak/soak.sh            (30 minutes, 200 agents: the full run)
#        DURATION=120 AGENTS=30 ... tests/soak/soak.sh   (what `make soak-ci` runs)
# Environment: BUILD_DIR (default build), SOAK_KEEP=1 keeps the temp dir (E2E_KEEP works too).
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

DURATION=${DURATION:-1800}
AGENTS=${AGENTS:-200}
POLL=${POLL:-10}
DEPLOY_EVERY=${DEPLOY_EVERY:-60}
FAULT_EVERY=${FAULT_EVERY:-180}
OUTAGE=${OUTAGE:-15}
LONG_OUTAGE=${LONG_OUTAGE:-300}
SAMPLE_EVERY=${SAMPLE_EVERY:-60}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-240}
GRACE=${GRACE:-$((POLL + 30))}
RSS_SLACK_PCT=${RSS_SLACK_PCT:-25}
FD_SLACK=${FD_SLACK:-32}
[[ "${SOAK_KEEP:-0}" == 1 ]] && export E2E_KEEP=1

e2e_setup
e2e_require_bin "$AGENT_BIN" "$WFMCTL_BIN"
soak_log() { printf '# %s %s\n' "$(date -u +%T)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# wfmd, its samples and its outages

wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
printf 't\tpid\trss_kb\tfds\tage_samples\n' >"$T/samples.tsv"
: >"$T/outages.tsv"
: >"$T/problems.txt"
WFMD_SAMPLES=0
SOAK_T0=$(date +%s)

# sample: appends one line of wfmd's RSS (kB) and open descriptors.
sample() {
	local rss fds
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$WFMD_PID/status" 2>/dev/null) || return 0
	fds=$(find "/proc/$WFMD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	printf '%d\t%d\t%d\t%d\t%d\n' "$(($(date +%s) - SOAK_T0))" "$WFMD_PID" "$rss" "$fds" \
		"$WFMD_SAMPLES" >>"$T/samples.tsv"
	WFMD_SAMPLES=$((WFMD_SAMPLES + 1))
}

# outage SIGNAL SECONDS: stops wfmd with SIGNAL, keeps it down SECONDS, starts it again on the
# same data dir and port. Records "start end signal" (epoch seconds) in outages.tsv.
outage() {
	local sig=$1 secs=$2 t0 rc=0
	t0=$(date +%s)
	soak_log "wfmd down: SIG$sig for ${secs}s"
	if [[ "$sig" == TERM ]]; then
		wfmd_stop
	else
		kill -KILL "$WFMD_PID"
		wait "$WFMD_PID" 2>/dev/null || rc=$?
		assert_eq "$rc" 137 "wfmd ended by SIGKILL"
		e2e_untrack "$WFMD_PID"
	fi
	sleep "$secs"
	wfmd_start
	WFMD_SAMPLES=0
	printf '%d\t%d\t%s\n' "$t0" "$(date +%s)" "$sig" >>"$T/outages.tsv"
	soak_log "wfmd up again (pid $WFMD_PID)"
}

# ---------------------------------------------------------------------------------------------
# Agents

cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
# The soak's apply command: reads the deployment, succeeds.
test -r "$2" && exit 0
echo "cannot read $2" >&2
exit 1
EOS
chmod 700 "$T/apply.sh"
mkdir -p "$T/agents" "$T/expected"
enrollment_token_create --auto-approve --max-uses "$AGENTS" --ttl 3600

agent_dir() { printf '%s/agents/%d' "$T" "$1"; }

# onboard_one I: state dir, config, `margo-agent onboard`; keeps the clientId in I.client_id.
onboard_one() {
	local d
	d=$(agent_dir "$1")
	mkdir -p "$d"
	printf 'probe_root = %s\npoll_interval = %s\napply_command = %s\n' \
		"$SRC_DIR/tests/fixtures/agent/probe-x86" "$POLL" "$T/apply.sh" >"$d/agent.conf"
	"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$d/state" \
		--config "$d/agent.conf" --serial "soak-$1" \
		--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$d/onboard.log" 2>&1 || return 1
	"$JSON_GET" "$d/state/state.json" /clientId >"$d/client_id"
}

soak_log "onboarding $AGENTS agents"
pids=()
for ((i = 0; i < AGENTS; i++)); do
	onboard_one "$i" &
	pids+=($!)
	if ((${#pids[@]} == 8)); then
		for p in "${pids[@]}"; do wait "$p" || true; done
		pids=()
	fi
done
for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" || true; done
ONBOARDED=0
for ((i = 0; i < AGENTS; i++)); do
	[[ -s "$(agent_dir "$i")/client_id" ]] && ONBOARDED=$((ONBOARDED + 1))
done
assert_eq "$ONBOARDED" "$AGENTS" "every agent onboarded"
((ONBOARDED == AGENTS)) || e2e_die "onboarding failed (see $(agent_dir 0)/onboard.log)"

AGENT_PIDS=()
for ((i = 0; i < AGENTS; i++)); do
	d=$(agent_dir "$i")
	e2e_bg "$d/run.log" "$AGENT_BIN" run --state-dir "$d/state" --config "$d/agent.conf"
	AGENT_PIDS+=("$E2E_BG_PID")
done
soak_log "$AGENTS agents running (poll every ${POLL}s); soak for ${DURATION}s"

# ---------------------------------------------------------------------------------------------
# Deploys

DEPLOYS=0
ROUND=0
# deploy_round: a new revision of soak-app to a random fifth (at least one) of the agents.
deploy_round() {
	local n=$(((AGENTS + 4) / 5)) i id yaml
	ROUND=$((ROUND + 1))
	yaml=$T/soak-app-$ROUND.yaml
	deployment_yaml soak-app soak "$yaml" compose "$ROUND.0.0"
	for i in $(shuf -i "0-$((AGENTS - 1))" -n "$n"); do
		id=$(<"$(agent_dir "$i")/client_id")
		if "$WFMCTL_BIN" --data-dir "$WFM_DIR" deploy "$id" "$yaml" >>"$T/deploy.log" 2>&1; then
			echo "$ROUND.0.0" >"$T/expected/$i"
			DEPLOYS=$((DEPLOYS + 1))
		else
			fail "wfmctl deploy to agent $i (round $ROUND) failed: $(tail -n 1 "$T/deploy.log")"
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# The soak

now=$(date +%s)
end=$((now + DURATION))   # the soak proper starts once every agent runs
next_sample=$now
next_deploy=$((now + DEPLOY_EVERY / 2))
next_fault=$((now + FAULT_EVERY))
long_at=$((now + DURATION / 3))
long_done=0
sig=TERM
while ((now < end)); do
	if ((now >= next_sample)); then
		sample
		next_sample=$((now + SAMPLE_EVERY))
	fi
	if ((now >= next_deploy)); then
		deploy_round
		next_deploy=$((now + DEPLOY_EVERY))
	fi
	if ((now >= next_fault && now + OUTAGE + 10 < end)); then
		if ((!long_done && now >= long_at && now + LONG_OUTAGE + 10 < end)); then
			outage "$sig" "$LONG_OUTAGE"
			long_done=1
		else
			outage "$sig" "$OUTAGE"
		fi
		[[ "$sig" == TERM ]] && sig=KILL || sig=TERM
		now=$(date +%s)
		next_fault=$((now + FAULT_EVERY))
		next_sample=$now
		((next_deploy < now)) && next_deploy=$now
	fi
	sleep 1
	now=$(date +%s)
done
assert_eq "$long_done" 1 "the long outage (${LONG_OUTAGE}s) happened"
assert_true "wfmd was stopped at least twice (SIGTERM and SIGKILL)" \
	test "$(wc -l <"$T/outages.tsv")" -ge 2
deploy_round # the last word, with the faults over

# ---------------------------------------------------------------------------------------------
# Convergence

# agent_converged I: 0 when agent I applied its latest desired state (and wrote the WFM's
# view of it into I.wfm for the comparison below).
agent_converged() {
	local d exp st n j dep_state
	d=$(agent_dir "$1")
	"$AGENT_BIN" status --json --state-dir "$d/state" --config "$d/agent.conf" \
		>"$d/status.json" 2>/dev/null || return 1
	[[ "$("$JSON_GET" "$d/status.json" /desiredRevision 2>/dev/null)" == \
		"$("$JSON_GET" "$d/status.json" /appliedRevision 2>/dev/null)" ]] || return 1
	[[ -f "$T/expected/$1" ]] || return 0 # never deployed to: nothing to apply
	exp=$(<"$T/expected/$1")
	grep -q "packageLocation: https://example.com/soak-$exp.tar.gz" \
		"$d/state/applied/soak-app.yaml" 2>/dev/null || return 1
	n=$("$JSON_GET" --length "$d/status.json" /deployments 2>/dev/null) || n=0
	dep_state=absent
	for ((j = 0; j < n; j++)); do
		if [[ "$("$JSON_GET" "$d/status.json" "/deployments/$j/deploymentId")" == soak-app ]]; then
			dep_state=$("$JSON_GET" "$d/status.json" "/deployments/$j/state")
		fi
	done
	[[ "$dep_state" == Installed ]] || return 1
	"$WFMCTL_BIN" --data-dir "$WFM_DIR" --json device deployments "$(<"$d/client_id")" \
		>"$d/wfm.json" 2>/dev/null || return 1
	st=$("$JSON_GET" "$d/wfm.json" /items/0/state 2>/dev/null) || st=none
	[[ "$("$JSON_GET" "$d/wfm.json" /items/0/deploymentId 2>/dev/null)" == soak-app &&
		"$st" == "$dep_state" ]]
}

soak_log "faults over; waiting for convergence (up to ${CONVERGE_TIMEOUT}s)"
t_conv=$(date +%s)
pending=$(seq 0 $((AGENTS - 1)))
while :; do
	left=()
	for i in $pending; do
		agent_converged "$i" || left+=("$i")
	done
	pending=${left[*]+"${left[*]}"}
	if [[ -z "$pending" || $(($(date +%s) - t_conv)) -ge $CONVERGE_TIMEOUT ]]; then
		break
	fi
	sleep 5
done
CONVERGE_S=$(($(date +%s) - t_conv))
NOT_CONVERGED=$(wc -w <<<"$pending")
assert_eq "$NOT_CONVERGED" 0 "every agent converged to its latest desired state and wfmd shows \
the state it applied (not: ${pending:-none})"
sample

# ---------------------------------------------------------------------------------------------
# Nobody re-onboarded

same=0
for ((i = 0; i < AGENTS; i++)); do
	d=$(agent_dir "$i")
	[[ "$("$JSON_GET" "$d/state/state.json" /clientId)" == "$(<"$d/client_id")" ]] && same=$((same + 1))
done
assert_eq "$same" "$AGENTS" "every agent kept the clientId it onboarded with"
"$WFMCTL_BIN" --data-dir "$WFM_DIR" --json device list >"$T/devices.json"
assert_eq "$("$JSON_GET" --length "$T/devices.json" /items)" "$AGENTS" "wfmd lists exactly $AGENTS devices"
active=0
for ((i = 0; i < AGENTS; i++)); do
	[[ "$("$JSON_GET" "$T/devices.json" "/items/$i/state" 2>/dev/null)" == active ]] && active=$((active + 1))
done
assert_eq "$active" "$AGENTS" "every device is active"

# ---------------------------------------------------------------------------------------------
# Flat RSS and descriptors

# flat COLUMN SLACK_PCT SLACK_ABS: compares the largest value of the last third of the samples
# with the largest of the first third (warm-up samples of each wfmd excluded).
read -r FIRST_RSS LAST_RSS FIRST_FDS LAST_FDS MAX_RSS MAX_FDS NSAMPLES < <(awk -F'\t' '
	BEGIN { n = 0; fr = lr = ff = lf = mr = mf = 0 }
	NR > 1 && $5 >= 2 { t[n] = $1; r[n] = $3; f[n] = $4; n++ }
	END {
		if (n < 3) { print 0, 0, 0, 0, 0, 0, n; exit }
		a = int(n / 3); if (a < 1) a = 1
		for (i = 0; i < n; i++) {
			if (i < a) { if (r[i] > fr) fr = r[i]; if (f[i] > ff) ff = f[i] }
			if (i >= n - a) { if (r[i] > lr) lr = r[i]; if (f[i] > lf) lf = f[i] }
			if (r[i] > mr) mr = r[i]; if (f[i] > mf) mf = f[i]
		}
		print fr, lr, ff, lf, mr, mf, n
	}' "$T/samples.tsv")
if ((NSAMPLES >= 3)); then
	assert_true "wfmd RSS flat: last third max ${LAST_RSS} kB <= first third max ${FIRST_RSS} kB + ${RSS_SLACK_PCT}% + 4 MiB" \
		test "$LAST_RSS" -le $((FIRST_RSS + FIRST_RSS * RSS_SLACK_PCT / 100 + 4096))
	assert_true "wfmd descriptors flat: last third max ${LAST_FDS} <= first third max ${FIRST_FDS} + ${FD_SLACK}" \
		test "$LAST_FDS" -le $((FIRST_FDS + FD_SLACK))
else
	fail "too few steady samples ($NSAMPLES) to judge RSS and descriptors: lengthen DURATION or shorten SAMPLE_EVERY"
fi

# ---------------------------------------------------------------------------------------------
# Errors: only the injected outages

# Each warning/error line of the agents as "epoch-seconds message"; the ones outside an
# outage (+GRACE) or not a failed cycle/status report are problems.
for ((i = 0; i < AGENTS; i++)); do
	awk -v who="agent $i" '$2 == "warn" || $2 == "error" { print who "\t" $0 }' \
		"$(agent_dir "$i")/run.log"
done >"$T/agent-problems.txt"
AGENT_WARNINGS=$(wc -l <"$T/agent-problems.txt")
awk -F'\t' -v grace="$GRACE" '
	function epoch(ts,   y, m, d, H, M, S) { # 2026-12-04T02:02:59.144Z
		y = substr(ts, 1, 4) + 0; m = substr(ts, 6, 2) + 0; d = substr(ts, 9, 2) + 0
		H = substr(ts, 12, 2) + 0; M = substr(ts, 15, 2) + 0; S = substr(ts, 18, 2) + 0
		if (m <= 2) { y--; m += 12 }
		return ((365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + d - 719469) * 86400) + H * 3600 + M * 60 + S
	}
	BEGIN { n = 0 }
	FILENAME == ARGV[1] { s[n] = $1; e[n] = $2; n++; next }
	{
		split($2, f, " "); t = epoch(f[1]); ok = 0
		if ($2 ~ / (cycle failed|deployment status) /)
			for (i = 0; i < n; i++) if (t >= s[i] - 1 && t <= e[i] + grace) ok = 1
		if (!ok) print
	}' "$T/outages.tsv" "$T/agent-problems.txt" >>"$T/problems.txt"
grep -E '^[0-9T:.-]+Z error ' "$WFMD_LOG" | sed 's/^/wfmd\t/' >>"$T/problems.txt" || true
PROBLEMS=$(wc -l <"$T/problems.txt")
assert_eq "$PROBLEMS" 0 "no warning or error besides the injected outages (see problems.txt: $(head -n 3 "$T/problems.txt" | tr '\n' ' '))"

# ---------------------------------------------------------------------------------------------
# Clean stop, figures

stopped=0
for p in "${AGENT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${AGENT_PIDS[@]}"; do
	rc=0
	wait "$p" 2>/dev/null || rc=$?
	((rc == 0)) && stopped=$((stopped + 1))
	e2e_untrack "$p"
done
assert_eq "$stopped" "$AGENTS" "every agent exits 0 on SIGTERM"
wfmd_stop

OUTAGES=$(wc -l <"$T/outages.tsv")
DOWN_S=$(awk -F'\t' '{ s += $2 - $1 } END { print s + 0 }' "$T/outages.tsv")
cat <<EOF

soak: ${DURATION}s, $AGENTS agents polling every ${POLL}s
  deploys: $DEPLOYS to agents in $ROUND rounds (every ${DEPLOY_EVERY}s)
  outages: $OUTAGES ($(awk -F'\t' '{ printf "%sSIG%s %ds", (NR > 1 ? ", " : ""), $3, $2 - $1 }' "$T/outages.tsv")), ${DOWN_S}s down in total
  converged after the faults: $((AGENTS - NOT_CONVERGED))/$AGENTS in ${CONVERGE_S}s
  agent warnings/errors: $AGENT_WARNINGS, all during outages: $([[ $PROBLEMS == 0 ]] && echo yes || echo "no ($PROBLEMS problems)")
  wfmd RSS: first third max ${FIRST_RSS} kB, last third max ${LAST_RSS} kB, overall max ${MAX_RSS} kB
  wfmd fds: first third max ${FIRST_FDS}, last third max ${LAST_FDS}, overall max ${MAX_FDS}
  samples (t s, pid, RSS kB, fds):
$(awk -F'\t' 'NR > 1 { printf "    %5d %7d %7d %5d\n", $1, $2, $3, $4 }' "$T/samples.tsv")
EOF
e2e_finish
