#!/usr/bin/env bash
# Upgrade of a data dir written by the release before issue 9 (device repositories as bare
# Git repositories under DIR/repos; tests/fixtures/datadir-0.1, see its make.sh): the first
# start imports them into the database, a kill -9 in the middle of the import is finished by
# the next start, and devices see the same revisions (If-None-Match of the old revision is
# 304: nothing re-applied) and the same history (plain git clone, fsck --strict); changes
# after the upgrade continue that history.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_setup

FIXTURE=$SRC_DIR/tests/fixtures/datadir-0.1/datadir.tar.gz
EXTRA=1500      # more repositories, so that a kill lands in the middle of the import
tar -C "$T" -xzf "$FIXTURE"
WFM_DIR=$T/wfm
DB=$WFM_DIR/wfmd.db
[[ -f "$DB" ]] || e2e_die "fixture has no database"

e2e_step "a larger old data dir: $EXTRA more devices, each with a copy of dev1's repository"
read -r _ id1 _ < <(grep '^dev1 ' "$T/manifest")
python3 - "$WFM_DIR" "$id1" "$EXTRA" <<'PY'
import os, shutil, sqlite3, sys, uuid
d, src, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(os.path.join(d, "wfmd.db"))
with open(os.path.join(d, "extra-ids"), "w") as out:
    for i in range(n):
        u = str(uuid.uuid4())
        db.execute("INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
                   " keyid, created_at) VALUES (?, 'active', 'PEM', ?, 'k', 0)", (u, "fp-" + u))
        shutil.copytree(os.path.join(d, "repos", src + ".git"),
                        os.path.join(d, "repos", u + ".git"), symlinks=True)
        out.write(u + "\n")
db.commit()
PY
main1=$(git --git-dir "$WFM_DIR/repos/$id1.git" rev-parse main)

e2e_step "kill -9 during the import"
WFMD_LOG=$T/wfmd-killed.log
"$WFMD_BIN" serve --data-dir "$WFM_DIR" --listen 127.0.0.1:0 >"$WFMD_LOG" 2>&1 &
pid=$!
e2e_track "$pid"
e2e_wait_for 30 grep -q "repository imported" "$WFMD_LOG" || e2e_die "import did not start"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
e2e_untrack "$pid"
imported=$(grep -c "repository imported" "$WFMD_LOG" || true)
e2e_log "killed after $imported of $((EXTRA + 3)) repositories"
assert_false "the kill came before the import finished" grep -q "device repositories imported" "$WFMD_LOG"
assert_true "repos/ is still there after the kill" test -d "$WFM_DIR/repos"
assert_true "some repositories were imported before the kill" test "$imported" -gt 0

e2e_step "the next start finishes the import"
WFMD_LOG=$T/wfmd.log
wfmd_start
assert_true "import finished" grep -q "device repositories imported devices=$((EXTRA + 3))" "$WFMD_LOG"
assert_false "repos/ is gone" test -e "$WFM_DIR/repos"
assert_true "repos.imported kept as a backup" test -d "$WFM_DIR/repos.imported"
bad=$(sqlite3 "$DB" "SELECT count(*) FROM repos WHERE revision != '$main1' AND device_id IN
	(SELECT id FROM devices WHERE keyid = 'k')")
assert_eq "$bad" 0 "every extra device's reference is its repository's main"
n=$(sqlite3 "$DB" "SELECT count(*) FROM repos")
assert_eq "$n" $((EXTRA + 3)) "one reference per device"

e2e_step "devices see the same revisions and history"
check_device() {
	local name=$1 id=$2 rev=$3 log
	admin_http GET "/admin/v1/devices/$id"
	assert_json /revision "$rev"
	device_token "$name"
	assert_status 200 "$name: access token with its old credentials"
	device_http "$name" GET "/device/$id/desired-state" -H "If-None-Match: \"$rev\""
	assert_status 304 "$name: the old revision is current (nothing to re-apply)"
	git_credentials "$name"
	assert_status 201 "$name: git credentials"
	rm -rf "$T/clone-$name"
	assert_true "$name: git clone" git_as "$name" clone -q "$(<"$T/$name.git_url")" "$T/clone-$name"
	log=$(git -C "$T/clone-$name" rev-list main | tr '\n' ' ')
	assert_eq "$log" "$(grep "^log $id " "$T/manifest" | cut -d' ' -f3-)" "$name: the same history"
	assert_true "$name: fsck --strict" git -C "$T/clone-$name" fsck --strict
}
while read -r name id rev; do
	[[ "$name" == log ]] && continue
	check_device "$name" "$id" "$rev"
done <"$T/manifest"
assert_true "dev1 has its two deployments" test -f "$T/clone-dev1/deployments/web-1.yaml" -a \
	-f "$T/clone-dev1/deployments/db-1.yaml"
assert_true "dev1's update is there" grep -q "revision: 1.1.0" "$T/clone-dev1/deployments/web-1.yaml"
assert_false "dev2's undeployed web-1 is gone" test -e "$T/clone-dev2/deployments/web-1.yaml"

e2e_step "a change after the upgrade continues the history"
read -r _ id1 rev1 < <(grep '^dev1 ' "$T/manifest")
deployment_yaml web-1 web "$T/w.yaml" helm 2.0.0
deploy_put "$id1" web-1 "$T/w.yaml"
assert_status 200
rev_new=$(json_get /revision)
assert_true "git pull" git_as dev1 -C "$T/clone-dev1" pull -q --ff-only
assert_eq "$(git -C "$T/clone-dev1" rev-parse HEAD)" "$rev_new" "pulled the new revision"
assert_eq "$(git -C "$T/clone-dev1" rev-parse HEAD^)" "$rev1" "its parent is the imported main"
assert_true "fsck --strict after the pull" git -C "$T/clone-dev1" fsck --strict

e2e_step "a restart imports nothing again"
wfmd_restart
assert_eq "$(grep -c "importing device repositories" "$WFMD_LOG")" 1 "one import only"
admin_http GET "/admin/v1/devices/$id1"
assert_json /revision "$rev_new"
e2e_finish
