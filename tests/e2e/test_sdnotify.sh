#!/usr/bin/env bash
# wfmd under a systemd-style supervisor (docs/wfmd.md "Running under systemd"): systemd cannot
# be PID 1 here, so helpers/notify-listen.py plays its side of sd_notify(3) on a unix datagram
# socket. Asserts READY=1 arrives only once HTTPS requests are answered (the helper does a GET
# the moment READY=1 arrives), WATCHDOG=1 comes at least every WATCHDOG_USEC/2 when that is
# set (and not when WATCHDOG_PID names another process), RELOADING=1 then READY=1 on SIGHUP,
# STOPPING=1 on SIGTERM, both for a socket path and an abstract ("@name") socket.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NOTIFY_LISTEN=$SRC_DIR/tests/e2e/helpers/notify-listen.py
e2e_setup

# listen SOCKET OUT: starts the helper and waits until it is bound.
listen() {
	e2e_bg "$T/listen.log" python3 "$NOTIFY_LISTEN" "$1" "$2" "$T/wfm/public-url" "$T/wfm/ca.crt"
	LISTEN_PID=$E2E_BG_PID
	e2e_wait_for 10 grep -q LISTENING "$2" || e2e_die "notify-listen did not start"
}

# states OUT: the assignments received, one per line, without times.
states() { awk '{print $2}' "$1"; }

# max_gap OUT: the longest time between two WATCHDOG=1 (ms), 0 when fewer than two.
max_gap() {
	awk '$2 == "WATCHDOG=1" { if (p) { g = ($1 - p) * 1000; if (g > m) m = g } p = $1 }
	     END { printf "%d\n", m }' "$1"
}

e2e_step "socket path, watchdog every 1 s: READY=1 once serving, pings, STOPPING=1"
OUT=$T/notify1.out
listen "$T/notify.sock" "$OUT"
export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000
wfmd_start
unset NOTIFY_SOCKET WATCHDOG_USEC
e2e_wait_for 10 grep -q '^[0-9.]* CHECK' "$OUT" || true
first=$(states "$OUT" | sed -n 2p)
assert_eq "$first" "READY=1" "the first notification is READY=1"
assert_match "$(grep CHECK "$OUT" | head -1)" 'ready-get=200$' \
	"an HTTPS GET made the moment READY=1 arrived is answered 200"
assert_match "$(states "$OUT" | sed -n 3p)" '^STATUS=serving' "STATUS= names the URL"
sleep 3.2
n=$(grep -c ' WATCHDOG=1$' "$OUT" || true)
assert_true "at least 5 WATCHDOG=1 in 3.2 s at a 0.5 s ping interval (got $n)" test "$n" -ge 5
gap=$(max_gap "$OUT")
assert_true "no two pings further apart than WATCHDOG_USEC (max ${gap} ms)" test "$gap" -lt 1000
assert_false "no READY=1 before the listener: only one READY=1 so far" \
	test "$(grep -c ' READY=1$' "$OUT")" -ne 1

e2e_step "SIGHUP: RELOADING=1, then READY=1 again"
kill -HUP "$WFMD_PID"
e2e_wait_for 10 test "$(grep -c ' READY=1$' "$OUT")" -ge 2 || true
assert_eq "$(states "$OUT" | grep -E '^(READY|RELOADING)=1$' | tr '\n' ' ')" \
	"READY=1 RELOADING=1 READY=1 " "READY, RELOADING, READY in that order"
assert_true "wfmd still runs after SIGHUP" kill -0 "$WFMD_PID"

e2e_step "SIGTERM: STOPPING=1 as the last notification"
wfmd_stop
sleep 0.3
assert_eq "$(states "$OUT" | tail -1)" "STOPPING=1" "STOPPING=1 is the last notification"
e2e_kill "$LISTEN_PID" >/dev/null || true

e2e_step "abstract socket (@name), WATCHDOG_PID of another process: READY=1, no pings"
OUT=$T/notify2.out
name="@margo-e2e-notify-$$-$RANDOM"
listen "$name" "$OUT"
export NOTIFY_SOCKET=$name WATCHDOG_USEC=200000 WATCHDOG_PID=1
wfmd_start
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
e2e_wait_for 10 grep -q '^[0-9.]* CHECK' "$OUT" || true
assert_eq "$(states "$OUT" | sed -n 2p)" "READY=1" "READY=1 over the abstract socket"
assert_match "$(grep CHECK "$OUT" | head -1)" 'ready-get=200$' "and the GET at READY answered 200"
sleep 1
assert_eq "$(grep -c ' WATCHDOG=1$' "$OUT" || true)" 0 \
	"no WATCHDOG=1 when WATCHDOG_PID is another process"
wfmd_stop
sleep 0.3
assert_eq "$(states "$OUT" | tail -1)" "STOPPING=1" "STOPPING=1 over the abstract socket"
e2e_kill "$LISTEN_PID" >/dev/null || true

e2e_step "a NOTIFY_SOCKET nobody listens on does not stop wfmd"
export NOTIFY_SOCKET=$T/nobody.sock
wfmd_start
unset NOTIFY_SOCKET
http GET /onboarding/certificate
assert_status 200 "wfmd serves without a listener on NOTIFY_SOCKET"
assert_true "and logs why once" grep -q 'cannot notify systemd' "$WFMD_LOG"
wfmd_stop

e2e_finish
