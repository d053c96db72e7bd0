#!/usr/bin/env bash
# wfmd when its disk fills: its data dir on a small tmpfs mounted by the test; writes through
# the API get 503 problem+json `store-unavailable` with Retry-After (never a crash, never a
# 500), reads keep working, the database stays intact (integrity_check, every row written
# before is there), and writes succeed again once space returns. Needs root for mount: skipped
# with a clear message otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
MNT=$T/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=6m,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
	printf 'SKIP: cannot mount a tmpfs here (%s): run as root to test a full disk\n' \
		"$(head -n 1 "$T/mount.err")" >&2
	E2E_FINISHED=1
	rm -rf "$T"
	exit 0
fi
disk_cleanup() {
	[[ -n "${WFMD_PID:-}" ]] && kill -TERM "$WFMD_PID" 2>/dev/null && sleep 0.5
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
}
trap 'rc=$?; disk_cleanup; (exit $rc); _e2e_exit' EXIT
WFM_DIR=$MNT/wfm wfmd_start

desc=$(printf "x%.0s" $(seq 1 250))
new_token() {
	admin_http POST /admin/v1/enrollment-tokens -H 'Content-Type: application/json' \
		--data-binary "{\"ttlSeconds\": 3600, \"maxUses\": 1, \"description\": \"$desc\"}"
}
count_tokens() {
	sqlite3 "file:$MNT/wfm/wfmd.db?mode=ro" 'SELECT count(*) FROM enrollment_tokens' 2>/dev/null
}

e2e_step "space left: writes work"
for i in 1 2 3; do
	new_token
	assert_status 201 "token $i"
done

e2e_step "the disk fills: 503 store-unavailable with Retry-After, never a 500 or a crash"
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
ok=3 full=0 other=0
for ((i = 0; i < 400 && full < 5; i++)); do
	new_token
	case $HTTP_STATUS in
	201) ok=$((ok + 1)) ;;
	503) full=$((full + 1)) ;;
	*) other=$((other + 1)); e2e_log "unexpected $HTTP_STATUS: $HTTP_BODY" ;;
	esac
done
assert_eq "$full" 5 "writes are refused once the disk is full ($ok accepted first)"
assert_eq "$other" 0 "no other status than 201 and 503"
assert_problem 503 store-unavailable
assert_header Retry-After 5
assert_true "wfmd still runs" kill -0 "$WFMD_PID"

e2e_step "reads keep working"
admin_http GET /admin/v1/devices
assert_status 200 "device list while the disk is full"

e2e_step "space returns: writes work again, nothing lost"
rm -f "$MNT/filler"
new_token
assert_status 201 "a write after space returned"
wfmd_stop
assert_eq "$(sqlite3 "$MNT/wfm/wfmd.db" 'PRAGMA integrity_check')" ok "the database is intact"
assert_eq "$(count_tokens)" "$((ok + 1))" "every accepted token is stored, no refused one"
WFM_DIR=$MNT/wfm WFMD_PORT=$WFMD_PORT wfmd_start
new_token
assert_status 201 "wfmd restarts on it and writes"
e2e_finish
