#!/usr/bin/env bash
# Several wfmd sharing one store run one rollout engine between them: only the holder of the
# store's "rollout-engine" lease moves rollouts; when it dies another takes the lease over
# (within about 20 s) and carries on. Two wfmd from one `wfmd init` seed share one store
# (lib_ha.sh's ha_replicas_shared: one SQLite database linked into both data dirs, or
# REPLICA_STORE=postgresql://...).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

FLEET_SIM=${FLEET_SIM:-$BUILD_DIR/bench/fleet-sim}
e2e_setup
e2e_require_bin "$FLEET_SIM"
HA_PORT=$(ha_free_port)
ha_seed "https://$HA_NAME:$HA_PORT"
ha_replicas_shared 2 --log-level info

# leads N: replica N's log says its engine leads (the last of leads/follows).
leads() {
	[[ "$(grep -aoE 'rollout engine (leads|follows)' "$T/r$1.log" | tail -n 1)" == "rollout engine leads" ]]
}
# deployed_by N ROLLOUT: replica N's log has the rollout's wave 0 deployed.
deployed_by() { grep -aq "rollout wave deployed rollout_id=$2 wave=0 " "$T/r$1.log"; }
# rollout_create N DEP_ID: POST /admin/v1/rollouts to replica N; sets RID.
rollout_create() {
	deployment_yaml "$2" "$2" "$T/$2.yaml" compose
	python3 - "$T/$2.yaml" >"$T/$2.json" <<-'EOF'
	import json, sys
	print(json.dumps({"selector": "device.margo/model=fleet-sim",
	                  "deployment": open(sys.argv[1]).read(), "canary": 1}))
	EOF
	HA_CONNECT=${!3} ha_curl -H @"$T/admin.hdr" -H 'Content-Type: application/json' \
		--data-binary @"$T/$2.json" -o "$T/rollout.json" -w '%{http_code}' \
		"https://$HA_NAME/admin/v1/rollouts" >"$T/code" || true
	assert_eq "$(cat "$T/code")" 201 "rollout $2 created through replica $1"
	RID=$(json_get /id "$T/rollout.json")
}

e2e_step "one engine leads, the other follows"
assert_true "one of them leads" e2e_wait_for 10 sh -c "grep -aq 'rollout engine leads' '$T/r1.log' '$T/r2.log'"
sleep 1
if leads 1; then L=1 F=2; else L=2 F=1; fi
assert_true "replica $L leads" leads "$L"
assert_false "replica $F does not lead" leads "$F"
assert_true "replica $F follows" grep -aq 'rollout engine follows' "$T/r$F.log"

e2e_step "6 devices onboarded through replica $F"
addr_var=HA_ADDR_$F
"$FLEET_SIM" --url "https://${!addr_var}" --ca-file "$HA_CA" --admin-token-file "$HA_SEED/admin.token" \
	--devices 6 --concurrency 2 --phases onboard >"$T/sim.log" 2>&1 ||
	{ cat "$T/sim.log" >&2; e2e_die "fleet-sim onboarding failed"; }

e2e_step "a rollout created through the follower is moved by the leader only"
rollout_create "$F" app-one "HA_ADDR_$F"
R1=$RID
assert_true "the leader deployed its first wave" e2e_wait_for 10 deployed_by "$L" "$R1"
assert_false "the follower did not" deployed_by "$F" "$R1"

e2e_step "the leader killed: the follower takes over within the lease's term"
ha_replica_kill "$L"
assert_true "replica $F leads now" e2e_wait_for 25 leads "$F"
rollout_create "$F" app-two "HA_ADDR_$F"
assert_true "and moves the new rollout" e2e_wait_for 10 deployed_by "$F" "$RID"
e2e_finish
