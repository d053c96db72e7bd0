#!/usr/bin/env bash
# Leak loop: ITERATIONS times, against one wfmd, a new device goes through the whole life of
# its credentials: enrollment token, onboarding (signed request, 201), access token, git
# credentials, revocation (DELETE /admin/v1/devices/{id}); every request's status is checked.
# Every SAMPLE_EVERY iterations wfmd's RSS and open descriptors are sampled (after a short
# pause, so that closed connections are gone). Flat means: the descriptor count at every
# sample is within FD_SLACK of the first sample, and RSS grew by at most RSS_GROWTH_KB from the
# first sample to the last (not checked under ASan, whose quarantine holds freed memory on
# purpose; LSan checks leaks there when wfmd exits).
#
# Usage: tests/soak/leak-loop.sh                  (1,000 iterations, `make leak-loop`)
#        ITERATIONS=100 SAMPLE_EVERY=20 tests/soak/leak-loop.sh   (tests/e2e/test_leak_loop.sh)
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

ITERATIONS=${ITERATIONS:-1000}
SAMPLE_EVERY=${SAMPLE_EVERY:-100}
FD_SLACK=${FD_SLACK:-2}
RSS_GROWTH_KB=${RSS_GROWTH_KB:-3072}

e2e_setup
e2e_require_bin "$MARGO_SIGN"
wfmd_start
asan=0
grep -aq __asan_init "$WFMD_BIN" && asan=1

printf 'iteration\trss_kb\tfds\n' >"$T/samples.tsv"
sample() {
	local rss fds
	sleep 0.5
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$WFMD_PID/status")
	fds=$(find "/proc/$WFMD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	printf '%d\t%d\t%d\n' "$1" "$rss" "$fds" >>"$T/samples.tsv"
}

# one_life I: 0 when every step answered as it should.
one_life() {
	local name=d$1 id
	device_new "$name"
	enrollment_token_create --auto-approve
	onboard_request "$name" --token-file "$ENROLL_TOKEN_FILE"
	[[ "$HTTP_STATUS" == 201 ]] || { echo "onboarding -> $HTTP_STATUS"; return 1; }
	device_token "$name"
	[[ "$HTTP_STATUS" == 200 ]] || { echo "token -> $HTTP_STATUS"; return 1; }
	git_credentials "$name"
	[[ "$HTTP_STATUS" == 201 ]] || { echo "git credentials -> $HTTP_STATUS"; return 1; }
	id=$(device_client_id "$name")
	admin_http DELETE "/admin/v1/devices/$id"
	[[ "$HTTP_STATUS" == 200 ]] || { echo "revoke -> $HTTP_STATUS"; return 1; }
	device_token "$name" # the revoked device's secret no longer works
	[[ "$HTTP_STATUS" == 401 ]] || { echo "token after revoke -> $HTTP_STATUS"; return 1; }
	rm -f "$T/$name".* "$T"/enroll*.token
}

failed=0
t0=$(date +%s)
for ((i = 1; i <= ITERATIONS; i++)); do
	if ! why=$(one_life "$i" 2>&1); then
		failed=$((failed + 1))
		fail "iteration $i: $why"
		((failed < 5)) || e2e_die "too many failed iterations"
	fi
	((i % SAMPLE_EVERY == 0)) && sample "$i"
done
ELAPSED=$(($(date +%s) - t0))
assert_eq "$failed" 0 "all $ITERATIONS iterations answered 201/200/201/200/401"

read -r FIRST_RSS LAST_RSS MAX_RSS FIRST_FDS MIN_FDS MAX_FDS < <(awk -F'\t' '
	NR == 2 { fr = $2; ff = $3; mr = $2; nf = $3; xf = $3 }
	NR > 1 { lr = $2; if ($2 > mr) mr = $2; if ($3 < nf) nf = $3; if ($3 > xf) xf = $3 }
	END { print fr, lr, mr, ff, nf, xf }' "$T/samples.tsv")
assert_true "wfmd descriptors flat: $MIN_FDS..$MAX_FDS over the samples (first $FIRST_FDS, slack $FD_SLACK)" \
	test "$MAX_FDS" -le $((FIRST_FDS + FD_SLACK)) -a "$MIN_FDS" -ge $((FIRST_FDS - FD_SLACK))
if ((asan)); then
	e2e_log "ASan build: RSS not judged (quarantine)"
else
	assert_true "wfmd RSS flat: ${FIRST_RSS} kB -> ${LAST_RSS} kB (max ${MAX_RSS} kB, growth bound ${RSS_GROWTH_KB} kB)" \
		test "$LAST_RSS" -le $((FIRST_RSS + RSS_GROWTH_KB))
fi
wfmd_stop
printf '\nleak loop: %d iterations in %d s; wfmd RSS and open descriptors every %d:\n' \
	"$ITERATIONS" "$ELAPSED" "$SAMPLE_EVERY"
awk -F'\t' 'NR > 1 { printf "  %6d  %7d kB  %4d fds\n", $1, $2, $3 }' "$T/samples.tsv"
e2e_finish
