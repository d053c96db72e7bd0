#!/usr/bin/env bash
# wfmd --config FILE (docs/wfmd.md "Configuration file"): keys are the long options, flags beat
# the file, bad files are usage errors naming FILE:LINE; SIGHUP re-reads the file's log-level
# (observed in the request log lines), and a broken file on SIGHUP changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$WFMD_BIN"
CONF=$T/wfmd.conf

# run_wfmd ARGS...: foreground, bounded; sets RC and ERR.
run_wfmd() {
	RC=0
	timeout 10 "$WFMD_BIN" "$@" >"$T/run.out" 2>"$T/run.err" || RC=$?
	ERR=$(<"$T/run.err")
}

# requests_logged: number of request lines in the wfmd log so far.
requests_logged() { grep -c ' request method=' "$WFMD_LOG" || true; }

e2e_step "bad configuration files: exit 2, one line naming FILE:LINE"
# file contents | what stderr must say
bad_files=(
	"# comment\nlisten = 127.0.0.1:0\nno-such-key = 1\n|$CONF:3: unknown key 'no-such-key'"
	"no-approval-requests = maybe\n|$CONF:1: no-approval-requests wants true or false"
	"log-level = loud\n|log-level wants"
	"config = /etc/other\n|$CONF:1: unknown key 'config'"
	"listen\n|$CONF:1: expected 'key = value'"
	"san =\n|$CONF:1: san needs a value"
)
for case in "${bad_files[@]}"; do
	printf "${case%%|*}" >"$CONF"
	run_wfmd serve --config "$CONF" --data-dir "$T/x"
	assert_eq "$RC" 2 "exit 2 for: ${case#*|}"
	assert_match "$ERR" "^wfmd: .*${case#*|}" "says: ${case#*|} ($ERR)"
done
run_wfmd serve --config "$T/missing.conf" --data-dir "$T/x"
assert_eq "$RC" 2 "a missing file: exit 2"
assert_match "$ERR" "missing.conf: no such file" "says so"
assert_false "no data dir was created by any of these" test -e "$T/x"

e2e_step "the file's options apply, flags beat it"
cat >"$CONF" <<CONF
# wfmd test configuration
log-level = warn   # trailing comment
san = "from-file.test"
no-approval-requests = false
access-token-ttl = 77
CONF
wfmd_start --config "$CONF"
assert_true "the server certificate names the file's san" \
	sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -ext subjectAltName | grep -q from-file.test"
before=$(requests_logged)
http GET /onboarding/certificate
assert_status 200
sleep 0.2
assert_eq "$(requests_logged)" "$before" "log-level = warn from the file: no request lines"
wfmd_stop
wfmd_start --config "$CONF" --log-level info
before=$(requests_logged)
http GET /onboarding/certificate
assert_true "--log-level info beats the file: the request is logged" \
	e2e_wait_for 5 test "$(requests_logged)" -gt "$before"
wfmd_stop

e2e_step "SIGHUP re-reads log-level"
wfmd_start --config "$CONF"
before=$(requests_logged)
http GET /onboarding/certificate
sleep 0.2
assert_eq "$(requests_logged)" "$before" "at warn: request not logged"
sed -i 's/^log-level = warn/log-level = info/' "$CONF"
kill -HUP "$WFMD_PID"
assert_true "reload logged" e2e_wait_for 10 grep -q 'configuration reloaded log_level=info' "$WFMD_LOG"
http GET /onboarding/certificate
assert_status 200
assert_true "at info after SIGHUP: the request is logged" \
	e2e_wait_for 5 test "$(requests_logged)" -gt "$before"

e2e_step "SIGHUP with a broken file: error logged, level unchanged"
printf 'log-level = info\nbogus\n' >"$CONF"
kill -HUP "$WFMD_PID"
assert_true "the failed reload is logged with the reason" \
	e2e_wait_for 10 grep -q "reload failed, configuration unchanged error=\"$CONF:2: expected" "$WFMD_LOG"
before=$(requests_logged)
http GET /onboarding/certificate
assert_true "still at info" e2e_wait_for 5 test "$(requests_logged)" -gt "$before"

e2e_step "SIGHUP back to warn"
printf 'log-level = warn\n' >"$CONF"
kill -HUP "$WFMD_PID"
sleep 0.5
before=$(requests_logged)
http GET /onboarding/certificate
assert_status 200
sleep 0.2
assert_eq "$(requests_logged)" "$before" "at warn again: no request line"
assert_true "wfmd still running" kill -0 "$WFMD_PID"
wfmd_stop

e2e_finish
