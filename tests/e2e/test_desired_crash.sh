#!/usr/bin/env bash
# Crash safety of the desired state (issue 9): bursts of deploy, update and undeploy (wfmctl)
# to 120 devices while wfmd is killed with SIGKILL 12 times and restarted (CRASH_DEVICES=200
# CRASH_KILLS=20 for the longer run that make test ran before CI's budget was tight). Afterwards every
# device's deployments (admin API) are as the last change wfmctl reported committed left them
# (or as the change in flight at a kill left them: either outcome is allowed for that one);
# and for every device, through plain git (a fetch of its main): main is the desired-state
# revision, what was fetched passes fsck --strict, every revision wfmctl reported is in
# main's history, and each deployment file holds the version expected.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup

DEVICES=${CRASH_DEVICES:-120}
KILLS=${CRASH_KILLS:-12}
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

# Every device through plain git: each device's main fetched by git (its own URL and
# credentials) into one bare repository, refs/dev/<deviceId>; then at once: every ref is the
# device's desired-state revision, everything fetched passes fsck --strict, every revision
# wfmctl reported is in that device's history, and each deployment file is as the last
# committed change left it.
# fetch_device DEV: git fetch of DEV's main, 4 at a time (no FETCH_HEAD: each writes only
# its own ref); "fetched" or git's error in $T/fetch-DEV.
fetch_device() {
	local -x E2E_GIT_OUT=$T/fetch-$1
	git_as "d-$1" -C "$T/all.git" fetch -q --no-write-fetch-head "$WFM_URL/git/$1.git" \
		"+refs/heads/main:refs/dev/$1" && echo fetched >"$E2E_GIT_OUT"
}
git init -q --bare "$T/all.git"
fetchers=() # waited for by pid: wfmd is a child of this shell too
for dev in "${IDS[@]}"; do
	fetch_device "$dev" &
	fetchers+=($!)
	if ((${#fetchers[@]} >= 4)); then
		wait "${fetchers[0]}" || true
		fetchers=("${fetchers[@]:1}")
	fi
done
for p in "${fetchers[@]}"; do wait "$p" || true; done
fetched=0
for dev in "${IDS[@]}"; do
	if [[ "$(cat "$T/fetch-$dev")" == fetched ]]; then
		fetched=$((fetched + 1))
	else
		e2e_log "fetch of $dev: $(tail -1 "$T/fetch-$dev")"
	fi
done
e2e_log "$fetched devices fetched at ${SECONDS}s"
assert_eq "$fetched" "$DEVICES" "every device's main fetched by plain git"
assert_true "everything fetched passes git fsck --strict" git -C "$T/all.git" fsck --strict --no-progress
sqlite3 "$WFM_DIR/wfmd.db" "SELECT device_id, revision FROM repos" | tr '|' ' ' | sort >"$T/db-revs"
git -C "$T/all.git" for-each-ref --format='%(refname:lstrip=2) %(objectname)' refs/dev/ | sort >"$T/git-revs"
assert_eq "$(comm -23 "$T/db-revs" "$T/git-revs" | wc -l)" 0 \
	"each device's main (as git fetched it) is its desired-state revision"
python3 - "$T" <<'PY'
import os, re, subprocess, sys
t = sys.argv[1]
git = ["git", "-C", os.path.join(t, "all.git")]
bad = 0
# wfmctl prints abbreviated commit ids
for line in open(os.path.join(t, "revs")):
    dev, *reported = line.split()
    history = subprocess.run(git + ["rev-list", "refs/dev/" + dev], capture_output=True,
                             text=True, check=True).stdout.split()
    for r in reported:
        if not any(h.startswith(r) for h in history):
            print("# %s: reported revision %s not in main's history" % (dev, r))
            bad += 1
expected = [l.split() for l in open(os.path.join(t, "expected"))]
query = "".join("refs/dev/%s:deployments/%s.yaml\n" % (d, dep) for d, dep, _ in expected)
out = subprocess.run(git + ["cat-file", "--batch"], input=query.encode(), capture_output=True,
                     check=True).stdout
pos = 0
for dev, dep, allowed in expected:
    nl = out.index(b"\n", pos)
    head = out[pos:nl].split()
    pos = nl + 1
    have = "0"
    if head[-1] != b"missing":
        size = int(head[2])
        m = re.search(rb"(packageLocation|revision): .*([0-9])\.0\.0", out[pos:pos + size])
        have = m.group(2).decode() if m else "?"
        pos += size + 1
    if have not in allowed.split(","):
        print("# %s %s: has %s, expected one of %s" % (dev, dep, have, allowed))
        bad += 1
open(os.path.join(t, "git-bad"), "w").write("%d\n" % bad)
PY
assert_eq "$(cat "$T/git-bad")" 0 \
	"every reported revision in main's history, each deployment file as the last committed change left it"
wfmd_stop
e2e_finish
