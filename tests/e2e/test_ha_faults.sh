#!/usr/bin/env bash
# The scale-out fault test (issue 10), bounded in time: 3 wfmd replicas on one PostgreSQL
# (their own throwaway cluster: tests/pg/pgtmp.sh, which this script runs itself under)
# behind HAProxy; bench/fleet-sim onboards DEVICES devices through HAProxy (1000 in `make
# test`; `make ha-faults` runs the issue's 5000) and then polls, with bounded retries
# (--retries: a refused or reset connection, or 503 with Retry-After, is repeated and counted
# apart from errors). Mid-run the replica a real margo-agent talks to is killed (SIGKILL) and
# restarted, and PostgreSQL is restarted once (immediate shutdown, same port). Afterwards:
# fleet-sim saw no error (only retries, which are logged), every device it onboarded gets
# tokens from every replica directly, no certificate is registered twice, and the agent
# installed what was deployed before and after the kill.
set -euo pipefail
PGTMP=$(cd "$(dirname "$0")/../pg" && pwd)/pgtmp.sh
if [[ -z "${PGTMP_DIR:-}" ]]; then
	[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "SKIP: no postgresql-15" >&2; exit 77; }
	exec bash "$PGTMP" run bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

FLEET_SIM=${FLEET_SIM:-$BUILD_DIR/bench/fleet-sim}
DEVICES=${DEVICES:-1000}
[[ -x "$HAPROXY_BIN" ]] || { echo "SKIP: haproxy not installed (scripts/install-deps)" >&2; exit 77; }
e2e_setup
e2e_require_bin "$FLEET_SIM" "$AGENT_BIN"
REPLICA_STORE=$WFMD_TEST_PG
psql_() { psql "$WFMD_TEST_PG" -X -Atq "$@"; }
HA_PORT=$(ha_free_port)
# Devices and the agent use 127.0.0.1 as the WFM's name (the server certificate has it).
ha_seed "https://127.0.0.1:$HA_PORT"
ha_replicas_shared 3
haproxy_start
WFM_URL=https://127.0.0.1:$HA_PORT WFM_CA=$HA_CA WFM_ADMIN_HDR=$T/admin.hdr WFM_DIR=$HA_SEED

e2e_step "a real margo-agent onboards through HAProxy and runs"
cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
echo "$1 $MARGO_DEPLOYMENT_ID $(sed -n 's/^  name: //p' "$2" | head -n 1)" >>"$APPLY_LOG"
EOS
chmod 700 "$T/apply.sh"
export APPLY_LOG=$T/applied.log
: >"$APPLY_LOG"
S=$T/agent CONF=$T/agent.conf
printf 'probe_root = %s\npoll_interval = 1\napply_command = %s\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" >"$CONF"
enrollment_token_create --auto-approve
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
PIN=$("$WFMD_BIN" fingerprint --data-dir "$HA_SEED")
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 ||
	{ cat "$T/onboard.log" >&2; e2e_die "the agent could not onboard"; }
AGENT_ID=$("$JSON_GET" "$S/state.json" /clientId)
e2e_bg "$T/agent.log" "$AGENT_BIN" run --state-dir "$S" --config "$CONF"
applied() { grep -q "^install dep-$1 shop-$1\$" "$APPLY_LOG"; }
deploy() {
	deployment_yaml "dep-$1" "shop-$1" "$T/dep-$1.yaml" compose
	deploy_put "$AGENT_ID" "dep-$1" "$T/dep-$1.yaml"
	assert_status_any "200 201" "deploy dep-$1 through HAProxy"
}
deploy 1
assert_true "the agent installs dep-1" e2e_wait_for 30 applied 1

# agent_replica: the replica whose log last shows the agent's desired-state poll (its
# keep-alive connection goes through HAProxy to one replica).
agent_replica() {
	local n best=0 best_t= last=
	for n in 1 2 3; do
		last=$(grep "route=/device/$AGENT_ID/desired-state" "$T/r$n.log" | tail -n 1 | cut -c1-24)
		if [[ -n "$last" && "$last" > "${best_t:-}" ]]; then best=$n best_t=$last; fi
	done
	echo "$best"
}
onboarded() { [[ "$(psql_ -c 'SELECT count(*) FROM devices' 2>/dev/null || echo 0)" -ge "$1" ]]; }

e2e_step "$DEVICES devices onboard and poll; a replica is killed and restarted, PostgreSQL restarted"
t0=$(date +%s)
"$FLEET_SIM" --url "$WFM_URL" --ca-file "$HA_CA" --admin-token-file "$HA_SEED/admin.token" \
	--devices "$DEVICES" --concurrency 16 --phases onboard,poll --duration 10 --retries 20 \
	--state "$T/devices.state" >"$T/sim.log" 2>&1 &
SIM_PID=$!
e2e_track "$SIM_PID"
e2e_wait_for 120 onboarded $((DEVICES / 4)) || true
VICTIM=$(agent_replica)
[[ "$VICTIM" != 0 ]] || e2e_die "no replica served the agent (logs: $T/r*.log)"
ha_replica_kill "$VICTIM"
e2e_log "replica $VICTIM (the agent's) killed at $(date -u +%T), $(psql_ -c 'SELECT count(*) FROM devices') devices"
# wfmctl makes no retries: the operator's deploy waits until HAProxy has the replica out.
e2e_wait_for 10 ha_server_is "r$VICTIM" DOWN || true
deploy 2
sleep 2
ha_replica_start "$VICTIM" "${HA_STORE_ARGS[@]}"
e2e_wait_for 120 onboarded $((DEVICES / 2)) || true
e2e_log "PostgreSQL restart (immediate) at $(date -u +%T), $(psql_ -c 'SELECT count(*) FROM devices') devices"
bash "$PGTMP" restart "$PGTMP_DIR" immediate
wait "$SIM_PID" && rc=0 || rc=$?
e2e_untrack "$SIM_PID"
e2e_log "$(grep '^phase=' "$T/sim.log")"
assert_eq "$rc" 0 "fleet-sim exits 0"
assert_eq "$(fleet_sim_field "$T/sim.log" onboard devices)" "$DEVICES" "all $DEVICES devices onboarded"
assert_eq "$(fleet_sim_total "$T/sim.log" request_errors)" 0 "no request failed for good"
assert_eq "$(fleet_sim_field "$T/sim.log" onboard errors)" 0 "onboard errors=0"
assert_eq "$(fleet_sim_field "$T/sim.log" poll errors)" 0 "poll errors=0"
e2e_log "retried attempts: connection $(fleet_sim_total "$T/sim.log" retries_connection), 503 $(fleet_sim_total "$T/sim.log" retries_503); $(( $(date +%s) - t0 )) s"
assert_true "the agent installs dep-2, deployed while its replica was down" e2e_wait_for 40 applied 2
deploy 3
assert_true "the agent installs dep-3, deployed after the restarts" e2e_wait_for 40 applied 3

e2e_step "every onboarded device gets tokens from every replica"
for n in 1 2 3; do
	addr_var=HA_ADDR_$n
	"$FLEET_SIM" --url "https://${!addr_var}" --ca-file "$HA_CA" --state "$T/devices.state" \
		--admin-token-file "$HA_SEED/admin.token" \
		--concurrency 16 --phases token >"$T/token$n.log" 2>&1 && rc=0 || rc=$?
	assert_eq "$rc" 0 "replica $n: fleet-sim token phase exits 0"
	assert_eq "$(fleet_sim_field "$T/token$n.log" token devices)" "$DEVICES" "replica $n: every device"
done

e2e_step "no certificate registered twice"
assert_eq "$(psql_ -c 'SELECT count(*) - count(DISTINCT certificate_fingerprint) FROM devices')" 0 \
	"each fingerprint once"
assert_eq "$(psql_ -c 'SELECT count(*) FROM devices')" $((DEVICES + 1)) "the devices and the agent, no more"
e2e_finish
