#!/usr/bin/env bash
# HAProxy in front of two wfmd made from one `wfmd init` seed (tests/e2e/lib_ha.sh): TLS is
# passed through (devices see the WFM's own certificate, verified against the pinned CA),
# connections spread over both replicas, a replica killed with SIGKILL leaves the rotation
# within the health check's bound and every later request is answered by the other, it comes
# back after a restart, and a replica whose store stops answering (/readyz) is taken out
# while its process still runs. Each replica has its own SQLite database here, so only
# requests that need no shared state go through: sharing the store across replicas is the
# PostgreSQL backend's part.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

[[ -x "$HAPROXY_BIN" ]] || { echo "SKIP: haproxy not installed (scripts/install-deps)" >&2; exit 77; }
e2e_setup
HA_PORT=$(ha_free_port)
ha_seed "https://$HA_NAME:$HA_PORT"
ha_replica_start 1
ha_replica_start 2
haproxy_start
URL=https://$HA_NAME:$HA_PORT

# requests N: N new connections through HAProxy, each GET /onboarding/certificate; prints
# how many were answered 200.
requests() {
	local i ok=0
	for ((i = 0; i < $1; i++)); do
		code=$(ha_curl -o /dev/null -w '%{http_code}' "$URL/onboarding/certificate" 2>/dev/null) || code=000
		[[ "$code" == 200 ]] && ok=$((ok + 1))
	done
	echo "$ok"
}
# served N: how many times replica N logged GET /onboarding/certificate.
served() { grep -c 'route=/onboarding/certificate ' "$T/r$1.log" || true; }

e2e_step "TLS passes through: the replicas' certificate, verified against the seed's CA"
ha_leaf "$T/via-haproxy.pem" "127.0.0.1:$HA_PORT"
assert_true "a certificate verified through HAProxy" test -s "$T/via-haproxy.pem"
assert_true "it is the seed's server certificate" \
	cmp -s "$T/via-haproxy.pem" <(openssl x509 -in "$HA_SEED/server.crt")

e2e_step "connections spread over both replicas"
before1=$(served 1) before2=$(served 2)
assert_eq "$(requests 20)" 20 "20 of 20 answered"
assert_true "replica 1 answered some" test "$(($(served 1) - before1))" -ge 5
assert_true "replica 2 answered some" test "$(($(served 2) - before2))" -ge 5
ha_curl -H @"$T/admin.hdr" -o "$T/devices.json" -w '%{http_code}' "$URL/admin/v1/devices" >"$T/code" || true
assert_eq "$(cat "$T/code")" 200 "the seed's admin token works through HAProxy"

e2e_step "replica 1 killed: out of the rotation, the other answers everything"
ha_replica_kill 1
assert_true "HAProxy marks r1 DOWN" e2e_wait_for 10 ha_server_is r1 DOWN
before2=$(served 2)
assert_eq "$(requests 20)" 20 "20 of 20 answered with one replica"
assert_eq "$(($(served 2) - before2))" 20 "all by replica 2"

e2e_step "replica 1 restarted: back in the rotation"
ha_replica_start 1
assert_true "HAProxy marks r1 UP" e2e_wait_for 10 ha_server_is r1 UP
before1=$(served 1)
assert_eq "$(requests 10)" 10 "10 of 10 answered"
assert_true "replica 1 answers again" test "$(($(served 1) - before1))" -ge 2

e2e_step "replica 2's store stops answering: out of the rotation while it runs"
# The lock is held until the test removes $T/hold (at most 60 s), so a slow health check under
# load cannot see the store answer again before the requests below are counted.
touch "$T/hold"
sqlite3 -bail -cmd '.timeout 10000' "$T/r2/wfmd.db" 'BEGIN EXCLUSIVE; SELECT count(*) FROM devices;' \
	".shell for i in \$(seq 600); do test -e '$T/hold' || break; sleep 0.1; done" 'COMMIT;' \
	>"$T/lock.log" 2>&1 &
LOCK_PID=$!
e2e_track "$LOCK_PID"
assert_true "HAProxy marks r2 DOWN (its /readyz does not answer 200)" e2e_wait_for 10 ha_server_is r2 DOWN
assert_true "replica 2's process is alive" kill -0 "$HA_PID_2"
before1=$(served 1)
assert_eq "$(requests 10)" 10 "10 of 10 answered meanwhile"
assert_eq "$(($(served 1) - before1))" 10 "all by replica 1"
rm -f "$T/hold"
wait "$LOCK_PID" || true
e2e_untrack "$LOCK_PID"
assert_true "r2 UP again once its store answers" e2e_wait_for 15 ha_server_is r2 UP
e2e_finish
