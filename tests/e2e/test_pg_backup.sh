#!/usr/bin/env bash
# Backup and restore of a WFM on PostgreSQL as docs/scale-out.md documents it: pg_dump of the
# database (custom format, while wfmd serves) plus a copy of the data dir (the key material),
# pg_restore into a FRESH PostgreSQL cluster, wfmd started on it with the restored data dir.
# Afterwards: the devices' access tokens and git tokens issued before the backup work, their
# desired state is identical (ETag, Git commit, file contents), the audit log is there, no
# schema step is applied again, and new writes (an onboarding, a deploy on top of the old
# commit, audit entries) work on the restored database. The old cluster is gone by then, so
# nothing can come from it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
PGTMP=$SRC_DIR/tests/pg/pgtmp.sh
[[ -x "$PG_BIN/initdb" ]] || { echo "SKIP: postgresql-15 not installed (scripts/install-deps)" >&2; exit 77; }
[[ "$("$WFMD_BIN" --help 2>&1)" == *"--store URL"* ]] ||
	{ echo "SKIP: this wfmd has no PostgreSQL store (libpq-dev at build time)" >&2; exit 77; }
e2e_setup
# PostgreSQL runs as the postgres user (when root): it must reach $T/pg*.
chmod 0711 "$T"

# pg_cluster NAME: a fresh cluster in $T/NAME with a database "wfm"; sets STORE, PG_PM.
pg_cluster() {
	bash "$PGTMP" start "$T/$1" 2>"$T/$1.err" || e2e_die "pgtmp start: $(<"$T/$1.err")"
	PG_PM=$(head -n 1 "$T/$1/data/postmaster.pid")
	e2e_track "$PG_PM"
	"$PG_BIN/psql" -q "$(<"$T/$1/url")" -c 'CREATE DATABASE wfm' || e2e_die "CREATE DATABASE"
	STORE=$(sed 's|/postgres$|/wfm|' "$T/$1/url")
}
psql_q() { "$PG_BIN/psql" -Atc "$1" "$STORE"; }

pg_cluster pg-old
wfmd_start --store "$STORE"

e2e_step "before the backup: 3 devices, a deployment, git credentials, audit entries"
for d in d1 d2 d3; do device_onboard "$d"; done
ID1=$(device_client_id d1)
deployment_yaml app1 app1 "$T/app1.yaml" compose
deploy_put "$ID1" app1 "$T/app1.yaml"
assert_status 201 "deploy to d1"
git_credentials d1
assert_status 201 "git credentials for d1"
git_as d1 clone -q "$WFM_URL/git/$ID1.git" "$T/clone-before"
assert_true "d1's repository cloned ($(head -c 200 "$T/git.out"))" test -d "$T/clone-before/.git"
rev_before=$(git -C "$T/clone-before" rev-parse HEAD)
device_http d1 GET "/device/$ID1/desired-state"
assert_status 200 "d1's desired state"
etag_before=$(http_header ETag)
admin_http GET /admin/v1/audit
assert_status 200 "audit log"
audit_before=$(json_length /items)
assert_ne "$audit_before" 0 "audit entries before the backup"
cp "$HTTP_BODY_FILE" "$T/audit-before.json"
steps_before=$(psql_q 'SELECT count(*) FROM schema_migrations')

e2e_step "backup: pg_dump (custom format) while wfmd serves, and the data dir's keys"
rc=0
"$PG_BIN/pg_dump" --format=custom --file="$T/wfm.dump" "$STORE" 2>"$T/pg_dump.err" || rc=$?
assert_eq "$rc" 0 "pg_dump ($(head -c 200 "$T/pg_dump.err"))"
assert_true "the dump is not empty" test -s "$T/wfm.dump"
tar -C "$T" -cf "$T/wfm-keys.tar" wfm
assert_file_mode "$T/wfm-keys.tar" 600
wfmd_stop
bash "$PGTMP" stop "$T/pg-old"
e2e_untrack "$PG_PM"
rm -rf "$T/pg-old" "$T/wfm"

e2e_step "restore: a fresh cluster, pg_restore, the data dir untarred, wfmd on both"
pg_cluster pg-new
assert_eq "$(psql_q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 \
	"the new database is empty"
rc=0
"$PG_BIN/pg_restore" --exit-on-error --no-owner --dbname="$STORE" "$T/wfm.dump" 2>"$T/pg_restore.err" ||
	rc=$?
assert_eq "$rc" 0 "pg_restore ($(head -c 200 "$T/pg_restore.err"))"
tar -C "$T" -xf "$T/wfm-keys.tar"
: >"$WFMD_LOG"
wfmd_start --store "$STORE"
assert_false "no schema step applied again" grep -q 'schema step applied' "$WFMD_LOG"
assert_eq "$(psql_q 'SELECT count(*) FROM schema_migrations')" "$steps_before" "schema steps recorded"

e2e_step "after the restore: tokens issued before work, the desired state is identical"
for d in d1 d2 d3; do
	device_http "$d" GET "/device/$(device_client_id "$d")/desired-state"
	assert_status 200 "$d's access token from before the backup"
done
device_http d1 GET "/device/$ID1/desired-state"
assert_eq "$(http_header ETag)" "$etag_before" "d1's desired-state ETag"
git_as d1 clone -q "$WFM_URL/git/$ID1.git" "$T/clone-after"
assert_true "d1's git token from before the backup clones ($(head -c 200 "$T/git.out"))" \
	test -d "$T/clone-after/.git"
assert_eq "$(git -C "$T/clone-after" rev-parse HEAD 2>/dev/null)" "$rev_before" "d1's Git commit"
assert_true "d1's files identical" diff -r -x .git "$T/clone-before" "$T/clone-after"
assert_true "d1's deployment file is there" test -s "$T/clone-after/deployments/app1.yaml"

e2e_step "the audit log is there"
admin_http GET /admin/v1/audit
assert_status 200 "audit log after the restore"
assert_eq "$(json_length /items)" "$audit_before" "audit entries"
assert_eq "$("$JSON_GET" "$HTTP_BODY_FILE" /items)" "$("$JSON_GET" "$T/audit-before.json" /items)" \
	"the same entries"
assert_true "the deploy is in it" grep -q "deployments/app1" "$HTTP_BODY_FILE"

e2e_step "new writes on the restored database"
device_onboard d4
assert_ne "$(device_client_id d4)" "" "a device onboards after the restore"
deployment_yaml app2 app2 "$T/app2.yaml" compose
deploy_put "$ID1" app2 "$T/app2.yaml"
assert_status 201 "a second deploy to d1"
git_as d1 -C "$T/clone-after" pull -q
assert_eq "$(git -C "$T/clone-after" rev-parse HEAD~1 2>/dev/null)" "$rev_before" \
	"the new commit sits on the restored one ($(head -c 200 "$T/git.out"))"
admin_http GET /admin/v1/audit
assert_eq "$(json_length /items)" "$((audit_before + 2))" "2 new audit entries (enrollment token, deploy)"
wfmctl --json device list >"$T/devices.json"
assert_eq "$("$JSON_GET" --length "$T/devices.json" /items)" 4 "4 devices"

wfmd_stop
e2e_finish
