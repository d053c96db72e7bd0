#!/usr/bin/env bash
# Crash safety of the desired state (issue 9): bursts of deploy, update and undeploy (wfmctl)
# to 200 devices while wfmd is killed with SIGKILL 20 times and restarted. Afterwards every
# device's deployments (admin API) are as the last change wfmctl reported committed left them
# (or as the change in flight at a kill left them: either outcome is allowed for that one);
# and for the CRASH_SAMPLE (20) devices with the most changes, through plain git clones: main
# is the desired-state revision, the clone passes fsck --strict, every revision wfmctl
# reported is in main's history, and each deployment file holds the version expected.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup

DEVICES=${CRASH_DEVICES:-200}
KILLS=${CRASH_KILLS:-20}
WORKERS=4
wfmd_start

e2e_step "onboard $DEVICES devices (fleet-sim)"
"$BUILD_DIR/bench/fleet-sim" --url "$WFM_URL" --ca-file "$WFM_CA" \
	--admin-token-file "$WFM_DIR/admin.token" --devices "$DEVICES" --concurrency 8 \
	--phases onboard --state "$T/devices.state" >"$T/sim.out" 2>&1 || { cat "$T/sim.out" >&2; e2e_die "fleet-sim onboarding failed"; }
python3 - "$T" <<'PY'
import json, os, sys
t = sys.argv[1]
with open(os.path.join(t, "ids"), "w") as ids:
    for line in open(os.path.join(t, "devices.state")):
        d = json.loads(line)
        ids.write(d["clientId"] + "\n")
        for k, v in (("git_user", d["gitUsername"]), ("git_token", d["gitAccessToken"])):
            with open(os.path.join(t, "d-%s.%s" % (d["clientId"], k)), "w") as f:
                f.write(v)
PY
mapfile -t IDS <"$T/ids"
e2e_log "onboarded at ${SECONDS}s"
assert_eq "${#IDS[@]}" "$DEVICES" "every device onboarded"
for v in 1 2 3; do
	deployment_yaml web web "$T/web-$v.yaml" helm "$v.0.0"
	deployment_yaml db db "$T/db-$v.yaml" compose "$v.0.0"
done

# worker N: changes to the devices i with i % WORKERS == N, one at a time, until $T/stop
# exists. Logs "pending DEV DEP OP" before and "ack DEV DEP OP REV" after each change
# wfmctl reports committed (OP: 1, 2, 3 = deploy that version, 0 = undeploy).
worker() {
	local n=$1 log=$T/worker-$1.log i dev dep op out rev
	: >"$log"
	while [[ ! -e "$T/stop" ]]; do
		i=$((RANDOM % DEVICES))
		((i % WORKERS == n)) || continue
		dev=${IDS[$i]}
		dep=$([[ $((RANDOM % 2)) == 0 ]] && echo web || echo db)
		op=$((RANDOM % 4))
		echo "pending $dev $dep $op" >>"$log"
		if [[ $op == 0 ]]; then
			out=$(timeout 10 "$WFMCTL_BIN" --data-dir "$WFM_DIR" undeploy "$dev" "$dep" 2>&1) &&
				echo "ack $dev $dep 0 -" >>"$log"
		else
			if out=$(timeout 10 "$WFMCTL_BIN" --data-dir "$WFM_DIR" deploy "$dev" \
				"$T/$dep-$op.yaml" 2>&1); then
				rev=$(sed -n 's/.*(revision \([0-9a-f]*\)).*/\1/p' <<<"$out")
				echo "ack $dev $dep $op ${rev:--}" >>"$log"
			fi
		fi
	done
}

e2e_step "bursts of changes, wfmd killed $KILLS times"
WORKER_PIDS=()
for ((w = 0; w < WORKERS; w++)); do
	worker "$w" &
	WORKER_PIDS+=($!)
	e2e_track $!
done
for ((k = 1; k <= KILLS; k++)); do
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	kill -KILL "$WFMD_PID"
	wait "$WFMD_PID" 2>/dev/null || true
	e2e_untrack "$WFMD_PID"
	WFMD_PID=
	wfmd_start
done
sleep 1
touch "$T/stop"
for p in "${WORKER_PIDS[@]}"; do
	wait "$p" 2>/dev/null || true
	e2e_untrack "$p"
done
acks=$(cat "$T"/worker-*.log | grep -c '^ack' || true)
pend=$(cat "$T"/worker-*.log | grep -c '^pending' || true)
e2e_log "$acks changes reported committed of $pend tried across $KILLS kills"
assert_true "changes were committed ($acks)" test "$acks" -ge $((KILLS * 2))
e2e_log "bursts done at ${SECONDS}s"

e2e_step "every device: ref, revision, history, deployments"
# Expected per device and deployment: the ops allowed as final state (the last acked one,
# and a change that was pending after it).
python3 - "$T" <<'PY'
import glob, os, sys
t = sys.argv[1]
state, revs = {}, {}
for path in glob.glob(os.path.join(t, "worker-*.log")):
    for line in open(path):
        f = line.split()
        key = (f[1], f[2])
        s = state.setdefault(key, {"acked": None, "pending": None, "touched": False})
        if f[0] == "pending":
            s["pending"] = f[3]
        else:
            s["acked"], s["pending"] = f[3], None
            if f[4] != "-":
                revs.setdefault(f[1], []).append(f[4])
with open(os.path.join(t, "expected"), "w") as out:
    for (dev, dep), s in sorted(state.items()):
        allowed = {s["acked"] if s["acked"] is not None else "0"}
        if s["pending"] is not None:
            allowed.add(s["pending"])
        out.write("%s %s %s\n" % (dev, dep, ",".join(sorted(allowed))))
with open(os.path.join(t, "revs"), "w") as out:
    for dev, rs in revs.items():
        out.write("%s %s\n" % (dev, " ".join(rs)))
PY
# Every device: the deployment rows present are those expected (read from the database at
# once; the admin API answers from the same rows).
sqlite3 "$WFM_DIR/wfmd.db" "SELECT device_id, deployment_id FROM deployments" | tr '|' ' ' >"$T/rows"
bad_rows=0
while read -r dev dep allowed; do
	have=0
	grep -qx "$dev $dep" "$T/rows" && have=present
	case "$have,$allowed" in
	0,*0* | present,*[123]*) ;;
	*) bad_rows=$((bad_rows + 1)); e2e_log "$dev $dep: rows say $have, expected one of $allowed" ;;
	esac
done <"$T/expected"
assert_eq "$bad_rows" 0 "every device's deployment rows as the last committed changes left them"
e2e_log "rows checked at ${SECONDS}s"

# A sample through plain git (a clone per device costs a git process and a pack): the devices
# with the most committed changes.
SAMPLE=${CRASH_SAMPLE:-20}
bad_ref=0 bad_fsck=0 bad_hist=0 bad_dep=0 checked=0
for dev in $(awk '{print $1, NF - 1}' "$T/revs" | sort -k2,2nr | head -"$SAMPLE" | cut -d' ' -f1); do
	admin_http GET "/admin/v1/devices/$dev"
	rev=$(json_get /revision)
	cp "$T/d-$dev.git_user" "$T/dev.git_user"
	cp "$T/d-$dev.git_token" "$T/dev.git_token"
	rm -rf "$T/clone"
	if ! git_as dev clone -q "$WFM_URL/git/$dev.git" "$T/clone"; then
		fail "clone of $dev: $(tail -3 "$T/git.out")"
		continue
	fi
	checked=$((checked + 1))
	[[ "$(git -C "$T/clone" rev-parse HEAD)" == "$rev" ]] || { bad_ref=$((bad_ref + 1)); e2e_log "$dev: main != revision $rev"; }
	git -C "$T/clone" fsck --strict >/dev/null 2>&1 || { bad_fsck=$((bad_fsck + 1)); e2e_log "$dev: fsck failed"; }
	git -C "$T/clone" rev-list HEAD >"$T/history"
	# wfmctl prints abbreviated commit ids
	for r in $(grep "^$dev " "$T/revs" | cut -d' ' -f2-); do
		grep -q "^$r" "$T/history" || { bad_hist=$((bad_hist + 1)); e2e_log "$dev: reported revision $r not in main's history"; }
	done
	while read -r _ dep allowed; do
		if [[ -f "$T/clone/deployments/$dep.yaml" ]]; then
			have=$(sed -n 's/.*\(packageLocation\|revision\): .*\([0-9]\)\.0\.0.*/\2/p' "$T/clone/deployments/$dep.yaml" | head -1)
		else
			have=0
		fi
		[[ ",$allowed," == *",$have,"* ]] || { bad_dep=$((bad_dep + 1)); e2e_log "$dev $dep: has $have, expected one of $allowed"; }
	done < <(grep "^$dev " "$T/expected")
done
e2e_log "$checked devices cloned at ${SECONDS}s"
assert_true "devices cloned ($checked)" test "$checked" -ge $((SAMPLE / 2))
assert_eq "$bad_ref" 0 "each clone's main is the device's desired-state revision"
assert_eq "$bad_fsck" 0 "each clone passes git fsck --strict"
assert_eq "$bad_hist" 0 "every revision wfmctl reported is in main's history"
assert_eq "$bad_dep" 0 "each deployment file as the last committed change left it"
wfmd_stop
e2e_finish
