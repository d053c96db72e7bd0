#!/usr/bin/env bash
# wfmd on PostgreSQL when PostgreSQL fails (issue 10, "Behaviour under store faults"): one
# wfmd on its own throwaway cluster (tests/pg/pgtmp.sh, which this script runs itself under,
# so the cluster goes away whatever happens). While PostgreSQL is stopped, frozen (SIGSTOP) or
# a table is locked, the device, git, onboarding and admin routes and /readyz answer 503 with
# Retry-After and problem+json within a bound, /healthz stays 200, wfmd keeps running; when
# PostgreSQL is back (same port) wfmd answers 200 again without a restart. A PostgreSQL that
# answers but refuses (no such database) stops wfmd's start with a clear line. The number of
# connections stays within --threads + 2.
#
# The bound: the URL sets connect_timeout=2 and statement_timeout=1000 (ms); a request makes
# a few store calls, each failing at once when the port is closed, after statement_timeout
# when a statement waits for a lock, after statement_timeout + 2 s (wfmd's own deadline,
# docs/wfmd.md) when the server does not answer at all. BOUND (10 s) is that plus room for
# a loaded machine; the times seen are logged.
set -euo pipefail
PGTMP=$(cd "$(dirname "$0")/../pg" && pwd)/pgtmp.sh
if [[ -z "${PGTMP_DIR:-}" ]]; then
	[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "SKIP: no postgresql-15" >&2; exit 77; }
	exec bash "$PGTMP" run bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

BOUND=10
THREADS=3
PHASE=up
e2e_setup
PG_URL="$WFMD_TEST_PG?connect_timeout=2&options=-c%20statement_timeout%3D1000"
psql_() { psql "$WFMD_TEST_PG" -X -Atq "$@"; }

# probe NAME METHOD PATH [curl args]: one request, its status and time appended to
# $T/statuses as "NAME STATUS SECONDS"; leaves HTTP_*.
probe() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	http "$@" --max-time "$BOUND"
	t1=$(date +%s.%N)
	PROBE_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	echo "$name $HTTP_STATUS $PROBE_S $PHASE" >>"$T/statuses"
}

# all_503 WHAT ROUNDS: every route answers 503 + Retry-After + problem+json within BOUND,
# ROUNDS times (the first meets connections that broke, later ones reconnections that fail;
# each round's requests may land on other worker threads). Logged in $T/statuses as WHAT.
all_503() {
	local what="PostgreSQL $1" rounds=$2 i
	PHASE=$1
	for ((i = 1; i <= rounds; i++)); do
		probe token POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded' \
			--data-binary "@$T/d1.form"
		check_503 "$what: token"
		probe desired GET "/device/$D1/desired-state" -H "@$T/d1.bearer.hdr"
		check_503 "$what: desired-state"
		probe git GET "/git/$D1.git/info/refs?service=git-upload-pack" -H "@$T/d1.gitbasic.hdr"
		check_503 "$what: git info/refs"
		[[ -f "$T/d$((10 + i)).key" ]] || device_new "d$((10 + i))"
		onboard_request "d$((10 + i))" --token-file "$ENROLL_TOKEN_FILE" >/dev/null
		echo "onboard $HTTP_STATUS - $PHASE" >>"$T/statuses"
		check_503 "$what: onboarding"
		probe admin GET /admin/v1/devices -H "@$WFM_ADMIN_HDR"
		check_503 "$what: admin device list"
		probe readyz GET /readyz
		check_503 "$what: /readyz"
		probe healthz GET /healthz
		assert_status 200 "$what: /healthz stays 200"
	done
	assert_true "$what: wfmd still running" kill -0 "$WFMD_PID"
}
check_503() {
	assert_problem 503
	assert_true "$1: Retry-After" http_has_header Retry-After
}

# all_200 WHAT: the same routes answer as usual.
all_200() {
	device_token d1
	assert_status 200 "$1: token"
	device_http d1 GET "/device/$D1/desired-state"
	assert_status 200 "$1: desired-state"
	http GET "/git/$D1.git/info/refs?service=git-upload-pack" -H "@$T/d1.gitbasic.hdr"
	assert_status 200 "$1: git info/refs"
	admin_http GET /admin/v1/devices
	assert_status 200 "$1: admin device list"
	http GET /readyz
	assert_status 200 "$1: /readyz"
}
readyz_200() { http GET /readyz --max-time 5; [[ "$HTTP_STATUS" == 200 ]]; }

e2e_step "a PostgreSQL that answers but refuses: wfmd does not start, and says why"
rc=0
"$WFMD_BIN" serve --data-dir "$T/nodb" --listen 127.0.0.1:0 \
	--store "${WFMD_TEST_PG%/*}/nosuchdb" >"$T/nodb.out" 2>"$T/nodb.err" || rc=$?
assert_ne "$rc" 0 "wfmd exits non-zero"
assert_true "its last line names the missing database" \
	grep -q '^wfmd: database (--store): .*database "nosuchdb" does not exist' "$T/nodb.err"
e2e_log "$(grep '^wfmd: database' "$T/nodb.err")"

e2e_step "wfmd on PostgreSQL: a device onboards, gets tokens, reads its repository"
WFMD_LOG=$T/wfmd.log wfmd_start --store "$PG_URL" --threads "$THREADS"
enrollment_token_create --auto-approve --max-uses 100
device_onboard d1 --token-file "$ENROLL_TOKEN_FILE"
D1=$(device_client_id d1)
git_credentials_save d1 "$T/d1.onboard.json"
printf 'Authorization: Basic %s\n' "$(printf '%s:%s' "$(<"$T/d1.git_user")" "$(<"$T/d1.git_token")" | base64 -w0)" \
	>"$T/d1.gitbasic.hdr"
all_200 "PostgreSQL up"
# A second wfmd on the same database finds the schema there: libpq's default would print the
# server's NOTICEs ("relation ... already exists, skipping") on stderr; wfmd drops them.
timeout 3 "$WFMD_BIN" serve --data-dir "$T/second" --listen 127.0.0.1:0 --store "$PG_URL" \
	>"$T/second.log" 2>&1 || true
assert_true "a second wfmd on the same database started" grep -q 'listening' "$T/second.log"
assert_false "and printed no NOTICE from PostgreSQL" grep -q 'NOTICE' "$T/second.log"

e2e_step "connections: at most --threads $THREADS + 2 under 40 concurrent requests"
pids=()
for i in $(seq 40); do
	"${E2E_CURL[@]}" --cacert "$WFM_CA" "${WFM_CURL_OPTS[@]}" -o /dev/null -H "@$WFM_ADMIN_HDR" \
		"$WFM_URL/admin/v1/devices" &
	pids+=($!)
done
wait "${pids[@]}"
conns=$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wfmd'")
e2e_log "wfmd's connections: $conns"
assert_true "connections ($conns) <= $((THREADS + 2))" test "$conns" -le $((THREADS + 2))

e2e_step "PostgreSQL stopped (immediate): 503 + Retry-After within ${BOUND}s, healthz 200"
bash "$PGTMP" stop "$PGTMP_DIR"
down_t0=$(date +%s)
lines0=$(grep -c 'store unavailable' "$WFMD_LOG" || true)
all_503 down 3
# 60 requests more at once: still about one log line a second, not one per request
for i in $(seq 60); do
	http GET "/device/$D1/desired-state" -H "@$T/d1.bearer.hdr" --max-time "$BOUND"
done
lines=$(($(grep -c 'store unavailable' "$WFMD_LOG" || true) - lines0))
secs=$(($(date +%s) - down_t0 + 1))
e2e_log "$lines 'store unavailable' lines in ${secs}s of outage"
assert_true "'store unavailable' logged at most once a second ($lines in ${secs}s)" \
	test "$lines" -le "$secs"
assert_true "and the lines count what they did not log" grep -q 'store unavailable.*not_logged=[1-9]' "$WFMD_LOG"

e2e_step "PostgreSQL back on the same port: wfmd recovers without a restart"
bash "$PGTMP" start "$PGTMP_DIR"
t0=$(date +%s.%N)
assert_true "readyz 200 again" e2e_wait_for 30 readyz_200
e2e_log "recovered $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s after PostgreSQL accepted connections"
all_200 "PostgreSQL back"

e2e_step "a table locked (ACCESS EXCLUSIVE): 503 within statement_timeout, not a hang"
mkfifo "$T/lock.in"
psql "$WFMD_TEST_PG" -X -q <"$T/lock.in" >"$T/lock.out" 2>&1 &
LOCK_PID=$!
e2e_track "$LOCK_PID"
exec 7>"$T/lock.in"
echo "BEGIN; LOCK TABLE devices IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
e2e_wait_for 10 grep -q locked "$T/lock.out" || e2e_die "psql did not take the lock"
PHASE=locked
probe admin-locked GET /admin/v1/devices -H "@$WFM_ADMIN_HDR"
check_503 "devices locked: admin device list"
e2e_log "admin device list behind the lock: $HTTP_STATUS after ${PROBE_S}s"
assert_true "it waited for statement_timeout (1 s), not less" awk -v s="$PROBE_S" 'BEGIN { exit !(s >= 0.95) }'
assert_true "the URL's statement_timeout (1 s) cancelled it, not the default 5 s" \
	awk -v s="$PROBE_S" 'BEGIN { exit !(s < 4.5) }'
probe token-locked POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-binary "@$T/d1.form"
check_503 "devices locked: token"
exec 7>&-
e2e_kill "$LOCK_PID" || true
all_200 "lock released"

e2e_step "PostgreSQL frozen (SIGSTOP: connections stay open, nothing answers)"
pg_pids() {
	local pm
	pm=$(head -n 1 "$PGTMP_DIR/data/postmaster.pid")
	echo "$pm" $(pgrep -P "$pm")
}
PG_PIDS=$(pg_pids)
kill -STOP $PG_PIDS
all_503 frozen 1
kill -CONT $PG_PIDS
assert_true "readyz 200 after SIGCONT" e2e_wait_for 30 readyz_200
all_200 "PostgreSQL thawed"

e2e_step "PostgreSQL restarted (immediate) while wfmd runs"
bash "$PGTMP" restart "$PGTMP_DIR" immediate
assert_true "readyz 200 after the restart" e2e_wait_for 30 readyz_200
# Every worker thread's connection broke: none may answer 503 for it once PostgreSQL is back.
for i in 1 2 3; do all_200 "PostgreSQL restarted ($i)"; done

e2e_step "no request got a 500, none hung"
for p in down locked frozen; do
	e2e_log "$p: slowest 503 $(awk -v p="$p" '$2 == 503 && $3 != "-" && $4 == p { print $3 " s (" $1 ")" }' \
		"$T/statuses" | sort -n | tail -n 1)"
done
assert_eq "$(awk '$2 != 503 && $2 != 200 && $2 != 201' "$T/statuses" | head -n 3)" "" \
	"only 503 (or 200/201) while PostgreSQL failed"
assert_eq "$(grep -c ' internal error\|"internal error"' "$WFMD_LOG" || true)" 0 "no internal error logged"
wfmd_stop
e2e_finish
