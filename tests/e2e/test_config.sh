#!/usr/bin/env bash
# wfmd's command line (ARCHITECTURE.md, docs/wfmd.md): --help/--version, usage errors (exit 2,
# one line), a port in use (exit 1), --public-url and --san (reissued server certificate, same
# CA pin, tokenEndpointUrl and @target-uri follow the public URL), --log-level.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup

# run_wfmd ARGS...: runs wfmd in the foreground (bounded); sets RC, OUT (stdout), ERR (stderr).
run_wfmd() {
	RC=0
	timeout 10 "$WFMD_BIN" "$@" >"$T/run.out" 2>"$T/run.err" || RC=$?
	OUT=$(<"$T/run.out")
	ERR=$(<"$T/run.err")
}

e2e_step "--help, --version, usage errors"
e2e_require_bin "$WFMD_BIN"
run_wfmd --help
assert_eq "$RC" 0 "wfmd --help exits 0"
assert_match "$OUT" 'wfmd serve --data-dir' "--help shows the serve usage"
assert_match "$OUT" 'fingerprint' "--help mentions fingerprint"
run_wfmd --version
assert_eq "$RC" 0 "wfmd --version exits 0"
assert_match "$OUT" '[0-9]+\.[0-9]+\.[0-9]+' "--version prints a version"
run_wfmd
assert_eq "$RC" 2 "wfmd without a command: exit status 2"
assert_match "$ERR" 'Usage: wfmd serve' "and the usage on stderr"
# A usage error: exit 2 and one line saying what is wrong (a second line may only be the
# conventional "Try 'wfmd --help'." hint).
for args in "serve" "serve --data-dir $T/x --listen nonsense" \
	"serve --data-dir $T/x --access-token-ttl 0" "serve --data-dir $T/x --no-such-flag" \
	"frobnicate" "fingerprint"; do
	# shellcheck disable=SC2086
	run_wfmd $args
	assert_eq "$RC" 2 "wfmd $args: exit status 2"
	first=$(printf '%s\n' "$ERR" | head -1)
	rest=$(printf '%s\n' "$ERR" | tail -n +2 | grep -v "^Try 'wfmd --help'" || true)
	assert_match "$first" '^.*wfmd: .+' "wfmd $args: one line on stderr saying why ($first)"
	assert_eq "$rest" "" "wfmd $args: nothing else on stderr"
done
assert_false "usage errors created no data dir" test -e "$T/x"

e2e_step "--store: other schemes and URLs with a password refused in one line, never echoed"
# The password belongs in libpq's password file, never in argv: such a URL is refused before
# wfmd touches anything, and the message does not repeat it (nor anything past the scheme).
for url in "mysql://wfmd:hunter2@db.example/wfmd" "postgresql://wfmd:hunter2@db.example/wfmd" \
	"postgres://db.example/wfmd?sslmode=require&password=hunter2" "/var/lib/wfmd/wfmd.db"; do
	run_wfmd serve --data-dir "$T/x" --store "$url"
	assert_eq "$RC" 2 "--store $url: exit status 2"
	assert_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "--store $url: one line ($ERR)"
	assert_match "$ERR" "^wfmd: --store: (unknown store URL scheme|the store URL carries a password|a store URL starts with)" \
		"--store $url: says why"
	assert_false "--store $url: the message does not repeat the password" grep -q hunter2 "$T/run.err"
done
run_wfmd serve --data-dir "$T/x" --store "postgresql://wfmd:hunter2@db.example/wfmd"
assert_match "$ERR" '~/\.pgpass' "a password in the URL: the message names ~/.pgpass"
# A URL without password: a wfmd built without libpq says so (exit 2, before the data dir);
# one built with it tries to connect, and nothing listens on port 1.
run_wfmd serve --data-dir "$T/pg" --listen 127.0.0.1:0 --store "postgresql://wfmd@127.0.0.1:1/wfmd"
# (grep without -q reads all of ldd's output: with -q it may exit at the match, ldd then dies
# of SIGPIPE on its next line, and pipefail took the wrong branch, once under ASan in CI)
if ldd "$WFMD_BIN" | grep 'libpq\.so' >/dev/null; then
	assert_eq "$RC" 1 "PostgreSQL not reachable: exit status 1"
	assert_true "and a line saying why" grep -q '^wfmd: database (--store): ' "$T/run.err"
else
	assert_eq "$RC" 2 "PostgreSQL not built in: exit status 2"
	assert_eq "$ERR" "wfmd: --store: this wfmd was built without PostgreSQL support" \
		"PostgreSQL not built in: one clear line"
	assert_false "and no data dir" test -e "$T/pg"
fi
assert_false "refused --store URLs created no data dir" test -e "$T/x"

e2e_step "a port in use: exit 1 with one clear line"
wfmd_start
PORT=$WFMD_PORT
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
run_wfmd serve --data-dir "$T/other" --listen "127.0.0.1:$PORT"
assert_eq "$RC" 1 "a second wfmd on the same port exits 1"
assert_match "$ERR" "$PORT|in use|bind|listen" "and says why"
http GET /onboarding/certificate
assert_status 200 "the first wfmd is unaffected"

e2e_step "--public-url and --san"
wfmd_stop
wfmd_start --public-url "https://wfm.test:$PORT" --san 192.0.2.10 --san wfm-alias.test
assert_eq "$(<"$WFM_DIR/public-url")" "https://wfm.test:$PORT" "public-url holds --public-url"
WFM_URL="https://wfm.test:$PORT"
assert_eq "$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")" "$PIN" "the CA pin is unchanged"
assert_true "the server certificate was reissued (logged)" grep -q 'issued server certificate' "$WFMD_LOG"
for name in wfm.test wfm-alias.test localhost; do
	assert_true "server certificate has DNS SAN $name" \
		sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -checkhost '$name' | grep -q 'does match'"
done
for ip in 192.0.2.10 127.0.0.1; do
	assert_true "server certificate has IP SAN $ip" \
		sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -checkip '$ip' | grep -q 'does match'"
done
assert_true "the new server certificate is issued by the same CA" \
	openssl verify -CAfile "$WFM_CA" "$WFM_DIR/server.crt"
RESOLVE=(--resolve "wfm.test:$PORT:127.0.0.1" --resolve "wfm-alias.test:$PORT:127.0.0.1")
http GET /onboarding/certificate "${RESOLVE[@]}"
assert_status 200 "https://wfm.test verifies against the CA"

device_new pub
enrollment_token_create --auto-approve --max-uses 10
TOK=$ENROLL_TOKEN_FILE
onboard_body pub "$T/pub.req.json" --token-file "$TOK"
"$MARGO_SIGN" --key "$T/pub.key" --url "https://wfm.test:$PORT/onboarding/" --body "$T/pub.req.json" >"$T/pub.sig"
http POST /onboarding/ "${RESOLVE[@]}" -H 'Content-Type: application/json' -H "@$T/pub.sig" --data-binary "@$T/pub.req.json"
assert_status 201 "signed for and sent to the public URL -> 201"
assert_json /tokenEndpointUrl "https://wfm.test:$PORT/oauth2/token"

device_new byip
onboard_body byip "$T/byip.req.json" --token-file "$TOK"
"$MARGO_SIGN" --key "$T/byip.key" --url "https://127.0.0.1:$PORT/onboarding/" --body "$T/byip.req.json" >"$T/byip.sig"
http POST "https://127.0.0.1:$PORT/onboarding/" -H 'Content-Type: application/json' -H "@$T/byip.sig" \
	--data-binary "@$T/byip.req.json"
assert_status 201 "signed for and sent to https://127.0.0.1 (the Host it used) -> 201"
assert_json /tokenEndpointUrl "https://wfm.test:$PORT/oauth2/token"

device_new alias
onboard_body alias "$T/alias.req.json" --token-file "$TOK"
"$MARGO_SIGN" --key "$T/alias.key" --url "https://wfm-alias.test:$PORT/onboarding/" --body "$T/alias.req.json" >"$T/alias.sig"
http POST "https://wfm-alias.test:$PORT/onboarding/" "${RESOLVE[@]}" -H 'Content-Type: application/json' \
	-H "@$T/alias.sig" --data-binary "@$T/alias.req.json"
assert_status 201 "signed for and sent to another certificate name -> 201"
http POST "https://127.0.0.1:$PORT/onboarding/" -H 'Content-Type: application/json' -H "@$T/alias.sig" \
	--data-binary "@$T/alias.req.json"
assert_problem 401 invalid-signature
device_new elsewhere
onboard_body elsewhere "$T/elsewhere.req.json" --token-file "$TOK"
"$MARGO_SIGN" --key "$T/elsewhere.key" --url "https://wfm.example:$PORT/onboarding/" --body "$T/elsewhere.req.json" >"$T/elsewhere.sig"
http POST /onboarding/ "${RESOLVE[@]}" -H 'Content-Type: application/json' -H "@$T/elsewhere.sig" \
	--data-binary "@$T/elsewhere.req.json"
assert_problem 401 invalid-signature

e2e_step "a later start without --san keeps the names; --log-level"
wfmd_restart --log-level error
assert_eq "$(<"$WFM_DIR/public-url")" "https://127.0.0.1:$PORT" "the default public URL is back"
WFM_URL="https://127.0.0.1:$PORT"
assert_true "wfm.test is still in the server certificate" \
	sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -checkhost wfm.test | grep -q 'does match'"
assert_eq "$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")" "$PIN" "the CA pin is still unchanged"
lines=$(wc -l <"$WFMD_LOG")
http GET /onboarding/certificate "${RESOLVE[@]}"
assert_status 200
http GET /no-such-route
assert_status 404
sleep 0.2
assert_eq "$(tail -n +"$((lines + 1))" "$WFMD_LOG" | grep -c 'request method=' || true)" 0 \
	"--log-level error: no request lines"
wfmd_restart --log-level info
http GET /onboarding/certificate
sleep 0.2
assert_true "--log-level info: request lines again" grep -q 'request method=GET route=/onboarding/certificate' \
	<(tail -n 3 "$WFMD_LOG")

e2e_step "the data dir is created with mode 0700, nested"
WFM_DIR=$T/deep/er/wfm
WFMD_PORT=
wfmd_start
assert_file_mode "$WFM_DIR" 700
assert_file_mode "$WFM_DIR/ca.key" 600
assert_ne "$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")" "$PIN" "a new data dir has a new CA"
wfmd_stop
e2e_finish
