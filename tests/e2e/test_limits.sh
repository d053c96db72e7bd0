#!/usr/bin/env bash
# Connection-level limits of wfmd (issue 2, wfmd): a body over the limit is refused with 413
# before it is sent, idle and slow connections are closed (after 30 s, docs/wfmd.md), and
# connections held open do not starve other clients, even with one worker thread; one client
# address holds at most --max-connections-per-address connections.
# Takes about 35 s: the idle and slow connections are watched side by side.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
wfmd_start --threads 1
PORT=$WFMD_PORT

# tls_open NAME: an openssl s_client connection whose stdin is the fifo $T/NAME.in (held open
# by a tracked writer); sets TLS_PID. Its output goes to $T/NAME.out.
tls_open() {
	local name=$1
	mkfifo "$T/$name.in"
	openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$WFM_CA" \
		<"$T/$name.in" >"$T/$name.out" 2>&1 &
	TLS_PID=$!
	e2e_track "$TLS_PID"
}

e2e_step "413 before the body is sent"
tls_open big
exec 4>"$T/big.in"
printf 'POST /onboarding/ HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n' "$PORT" >&4
if e2e_wait_for 5 grep -q '^HTTP/1.1 413' "$T/big.out"; then
	pass "a request announcing 100 MB gets 413 at once, with no body sent"
else
	fail "no 413 within 5 s for a 100 MB Content-Length (got: $(grep '^HTTP/' "$T/big.out" | head -1))"
fi
assert_true "the 413 is problem+json" grep -qi '^content-type: application/problem+json' "$T/big.out"
exec 4>&-
e2e_kill "$TLS_PID" 2 || true

e2e_step "idle and slow connections are closed; others are served meanwhile"
tls_open idle
IDLE_PID=$TLS_PID
exec 5>"$T/idle.in"
tls_open slow
SLOW_PID=$TLS_PID
exec 6>"$T/slow.in"
START=$SECONDS
printf 'POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ngrant_type=' "$PORT" >&6
extra=()
for i in 1 2 3 4 5; do
	tls_open "hold$i"
	extra+=("$TLS_PID")
	eval "exec $((6 + i))>\"\$T/hold$i.in\""
done
sleep 1
for i in 1 2 3; do
	http GET /onboarding/certificate
	assert_status 200 "request $i served while 7 connections sit idle (one worker thread)"
done
closed_idle=
closed_slow=
while ((SECONDS - START < 45)); do
	if [[ -z "$closed_idle" ]] && ! _e2e_alive "$IDLE_PID"; then
		closed_idle=$((SECONDS - START))
	fi
	if [[ -z "$closed_slow" ]] && ! _e2e_alive "$SLOW_PID"; then
		closed_slow=$((SECONDS - START))
	fi
	[[ -n "$closed_idle" && -n "$closed_slow" ]] && break
	sleep 0.5
done
assert_true "the idle connection was closed by the server after 20-40 s (${closed_idle:-never})" \
	test -n "$closed_idle" -a "${closed_idle:-0}" -ge 20 -a "${closed_idle:-99}" -le 40
assert_true "the slow request was cut off after 20-40 s (${closed_slow:-never})" \
	test -n "$closed_slow" -a "${closed_slow:-0}" -ge 20 -a "${closed_slow:-99}" -le 40
exec 5>&- 6>&- 7>&- 8>&- 9>&- 10>&- 11>&-
for p in "$IDLE_PID" "$SLOW_PID" "${extra[@]}"; do
	e2e_kill "$p" 2 || true
done
http GET /onboarding/certificate
assert_status 200 "wfmd still serves"
assert_true "wfmd is alive" _e2e_alive "$WFMD_PID"
wfmd_stop

e2e_step "--max-connections-per-address: one address holds at most N connections"
WFMD_PORT=$PORT wfmd_start --max-connections-per-address 2
tls_open held1
held1=$TLS_PID
exec 12>"$T/held1.in"
tls_open held2
held2=$TLS_PID
exec 13>"$T/held2.in"
for n in 1 2; do
	e2e_wait_for 5 grep -q 'Verify return code: 0' "$T/held$n.out" ||
		e2e_die "held connection $n was not set up ($T/held$n.out)"
done
http GET /onboarding/certificate --max-time 5 || true
assert_eq "$HTTP_STATUS" 000 "a third connection from 127.0.0.1 is refused"
served() { http GET /onboarding/certificate --max-time 5 || true; [[ "$HTTP_STATUS" == 200 ]]; }
exec 12>&-
e2e_kill "$held1" 2 || true
assert_true "once one of the two closes, a new one is served" e2e_wait_for 5 served
exec 13>&-
e2e_kill "$held2" 2 || true
wfmd_stop
e2e_finish
