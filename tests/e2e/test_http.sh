#!/usr/bin/env bash
# HTTP and TLS behaviour of wfmd and its data dir: keep-alive, 404/405, TLS versions, the
# server certificate and the CA pin, the Certificate API, file modes, log lines without
# secrets, restart with the same identity, SIGTERM and SIGINT.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CURL=("${E2E_CURL[@]}" --cacert)

e2e_setup
wfmd_start
PORT=$WFMD_PORT

e2e_step "data dir files and modes"
for f in ca.key server.key admin.token; do
	assert_file_mode "$WFM_DIR/$f" 600
done
assert_file_mode "$WFM_DIR" 700
for f in ca.crt server.crt wfmd.db public-url; do
	assert_true "$f exists" test -s "$WFM_DIR/$f"
done
assert_eq "$(cat "$WFM_DIR/public-url"; echo x)" "https://127.0.0.1:$PORT
x" "public-url is one line with the real port"
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'PRAGMA journal_mode;' 2>&1)" wal "the database is in WAL mode"

e2e_step "the CA pin"
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
OPENSSL_PIN=sha256:$(openssl x509 -in "$WFM_CA" -outform DER | sha256sum | awk '{print $1}')
assert_match "$PIN" '^sha256:[0-9a-f]{64}$' "wfmd fingerprint prints sha256:<64 hex>"
assert_eq "$PIN" "$OPENSSL_PIN" "wfmd fingerprint equals openssl's SHA-256 of ca.crt DER"
assert_false "wfmd fingerprint without a data dir fails" sh -c "'$WFMD_BIN' fingerprint --data-dir '$T/none' 2>/dev/null"
assert_true "the CA is a CA" sh -c "openssl x509 -in '$WFM_CA' -noout -ext basicConstraints | grep -q 'CA:TRUE'"
assert_true "the CA key is ECDSA P-256" sh -c "openssl x509 -in '$WFM_CA' -noout -text | grep -q 'prime256v1'"

e2e_step "Certificate API"
http GET /onboarding/certificate
assert_status 200 "GET /onboarding/certificate -> 200 without authentication"
assert_content_type application/json
json_get /certificate | base64 -d >"$T/downloaded-ca.crt" 2>/dev/null || true
assert_true "the certificate field is base64 of ca.crt" cmp -s "$T/downloaded-ca.crt" "$WFM_CA"
assert_match "$(json_get /certificate)" '^[A-Za-z0-9+/]+=*$' "standard base64 alphabet"

e2e_step "server certificate"
assert_true "server.crt is issued by ca.crt" openssl verify -CAfile "$WFM_CA" "$WFM_DIR/server.crt"
for ip in 127.0.0.1 ::1; do
	assert_true "server certificate has IP SAN $ip" \
		sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -checkip '$ip' | grep -q 'does match'"
done
for h in localhost "$(hostname)"; do
	assert_true "server certificate has DNS SAN $h" \
		sh -c "openssl x509 -in '$WFM_DIR/server.crt' -noout -checkhost '$h' | grep -q 'does match'"
done
code=$("${CURL[@]}" "$WFM_CA" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/onboarding/certificate") || code=000
assert_eq "$code" 200 "curl verifies https://127.0.0.1 against the data dir CA"
code=$("${CURL[@]}" "$WFM_CA" -o /dev/null -w '%{http_code}' "https://localhost:$PORT/onboarding/certificate" 2>/dev/null) || code=000
if [[ "$code" == 000 ]]; then
	# localhost may resolve to ::1 first while wfmd listens on 127.0.0.1 only
	code=$("${CURL[@]}" "$WFM_CA" --resolve "localhost:$PORT:127.0.0.1" -o /dev/null -w '%{http_code}' \
		"https://localhost:$PORT/onboarding/certificate") || code=000
fi
assert_eq "$code" 200 "curl verifies https://localhost against the data dir CA"
code=$("${CURL[@]}" "$WFM_CA" --resolve "wfm.invalid:$PORT:127.0.0.1" -o /dev/null -w '%{http_code}' \
	"https://wfm.invalid:$PORT/onboarding/certificate" 2>/dev/null) || code=000
assert_eq "$code" 000 "a name the certificate lacks is refused by the client"
code=$("${CURL[@]}" /etc/ssl/certs/ca-certificates.crt -o /dev/null -w '%{http_code}' \
	"$WFM_URL/onboarding/certificate" 2>/dev/null) || code=000
assert_eq "$code" 000 "public CAs do not vouch for wfmd"

e2e_step "TLS versions"
for v in 1.2 1.3; do
	code=$("${CURL[@]}" "$WFM_CA" --tlsv$v --tls-max $v -o /dev/null -w '%{http_code}' \
		"$WFM_URL/onboarding/certificate" 2>"$T/curl-tls.err") || code=000
	assert_eq "$code" 200 "TLS $v accepted"
done
out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -tls1_2 \
	-CAfile "$WFM_CA" 2>&1) || true
assert_match "$out" 'Protocol *: TLSv1\.2' "openssl s_client negotiates TLS 1.2"
assert_match "$out" 'Verify return code: 0 \(ok\)' "and verifies the chain"
for v in tls1 tls1_1; do
	rc=0
	out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" "-$v" \
		-cipher 'DEFAULT@SECLEVEL=0' 2>&1) || rc=$?
	assert_ne "$rc" 0 "$v handshake fails"
	assert_match "$out" 'written [1-9][0-9]* bytes' "$v: the client did send its hello"
	assert_match "$out" 'no peer certificate available' "$v: the server presented no certificate"
done
code=$("${CURL[@]}" "$WFM_CA" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' -o /dev/null \
	-w '%{http_code}' "$WFM_URL/onboarding/certificate" 2>/dev/null) || code=000
assert_eq "$code" 000 "curl with TLS 1.1 at most is refused"
code=$("${E2E_CURL[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/onboarding/certificate" 2>/dev/null) || code=000
assert_ne "$code" 200 "plain HTTP is not served"

e2e_step "keep-alive"
out=$("${CURL[@]}" "$WFM_CA" -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' \
	"$WFM_URL/onboarding/certificate" "$WFM_URL/onboarding/certificate" "$WFM_URL/no-such-route") || true
assert_eq "$out" "200:1 200:0 404:0 " "three requests in one connection"
out=$("${CURL[@]}" "$WFM_CA" -v -o /dev/null -o /dev/null "$WFM_URL/no-such-route" \
	"$WFM_URL/onboarding/certificate" 2>&1) || true
assert_match "$out" 'Re-using existing connection' "the connection survives a 404"
device_onboard ka
KA_ID=$(device_client_id ka)
capabilities_doc ka "$T/ka.caps.json"
out=$("${CURL[@]}" "$WFM_CA" -w '%{http_code}:%{num_connects} ' -o /dev/null \
	-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/ka.form" "$WFM_URL/oauth2/token" \
	--next "${CURL[@]:1}" "$WFM_CA" -w '%{http_code}:%{num_connects} ' -o /dev/null -H "@$T/ka.bearer.hdr" \
	-H 'Content-Type: application/json' --data-binary "@$T/ka.caps.json" "$WFM_URL/device/$KA_ID/capabilities" \
	--next "${CURL[@]:1}" "$WFM_CA" -w '%{http_code}:%{num_connects} ' -o /dev/null -H "@$T/ka.bearer.hdr" \
	"$WFM_URL/device/$KA_ID/capabilities") || true
assert_eq "$out" "200:1 201:0 200:0 " "token, POST and GET over one connection"
big=$T/ka.big.json
head -c 100000 /dev/zero | tr '\0' ' ' >"$big"
out=$("${CURL[@]}" "$WFM_CA" -w '%{http_code}:%{num_connects} ' -o /dev/null -H 'Content-Type: application/json' \
	--data-binary "@$big" "$WFM_URL/onboarding/" \
	--next "${CURL[@]:1}" "$WFM_CA" -w '%{http_code}:%{num_connects} ' -o /dev/null "$WFM_URL/onboarding/certificate") || true
assert_match "$out" '^413:1 200:[01] $' "a 413 does not break the next request"

e2e_step "HTTP/1.0, Expect: 100-continue, concurrent clients"
code=$("${CURL[@]}" "$WFM_CA" --http1.0 -o /dev/null -w '%{http_code}' "$WFM_URL/onboarding/certificate") || code=000
assert_eq "$code" 200 "an HTTP/1.0 request is served"
http POST "/device/$KA_ID/capabilities" -H "@$T/ka.bearer.hdr" -H 'Content-Type: application/json' \
	-H 'Expect: 100-continue' --data-binary "@$T/ka.caps.json"
assert_status 201 "a body announced with Expect: 100-continue is accepted"
# Another device asks for tokens (its own access tokens, not ka's, so the two loads are
# independent) while ka's token reads.
device_onboard kb
pids=()
for i in $(seq 1 24); do
	"${CURL[@]}" "$WFM_CA" -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "@$T/kb.form" "$WFM_URL/oauth2/token" \
		--next "${CURL[@]:1}" "$WFM_CA" -o /dev/null -w '%{http_code}\n' -H "@$T/ka.bearer.hdr" \
		"$WFM_URL/device/$KA_ID/capabilities" >"$T/conc$i.out" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || true
done
assert_eq "$(cat "$T"/conc*.out | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "200:48 " \
	"24 concurrent clients, 48 requests, all 200"

e2e_step "unknown routes 404, wrong methods 405 (problem+json)"
for p in /no-such-route / /onboarding/certificate/x /device /admin/v1/nothing /oauth2/token/x \
	"/device/$KA_ID/unknown" /git/x.git/info/refs; do
	http GET "$p"
	assert_problem 404
done
for mp in "DELETE /onboarding/certificate" "PUT /onboarding/certificate" "GET /onboarding/" \
	"PUT /oauth2/token" "GET /oauth2/token" "DELETE /device/$KA_ID/capabilities" \
	"PATCH /admin/v1/devices" "PUT /admin/v1/enrollment-tokens"; do
	http ${mp% *} "${mp#* }"
	assert_problem 405
	assert_header Allow '[A-Z]'
done
http DELETE /onboarding/certificate
assert_header Allow 'GET'
http GET /oauth2/token
assert_header Allow 'POST'

e2e_step "log lines"
assert_true "listening line" grep -q "listening url=$WFM_URL" "$WFMD_LOG"
assert_true "request lines with method, route, status, duration, client id" \
	grep -Eq 'request method=GET route=/onboarding/certificate status=200 duration_ms=[0-9.]+ client_id=-' "$WFMD_LOG"
assert_true "a device request names its client id" \
	grep -Eq "request method=GET route=/device/$KA_ID/capabilities status=200 duration_ms=[0-9.]+ client_id=$KA_ID" "$WFMD_LOG"
assert_true "the 405 is logged" grep -Eq 'request method=PATCH route=/admin/v1/devices status=405' "$WFMD_LOG"
assert_false "no Authorization header in the log" grep -qi 'authorization:' "$WFMD_LOG"
assert_false "no Bearer in the log" grep -q 'Bearer wfm' "$WFMD_LOG"
for p in wfmcs_ wfmat_ wfmet_ wfmpt_ wfmadm_; do
	assert_false "no $p value in the log" grep -Eq "${p}[A-Za-z0-9_-]{20}" "$WFMD_LOG"
done
assert_no_secrets_in "$WFMD_LOG"

e2e_step "restart keeps the identity and the data; SIGTERM and SIGINT exit 0"
cp "$WFM_DIR/admin.token" "$T/admin.token.before"
wfmd_restart
assert_eq "$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")" "$PIN" "same CA pin after a restart"
assert_true "same admin token" cmp -s "$WFM_DIR/admin.token" "$T/admin.token.before"
assert_eq "$WFM_URL" "https://127.0.0.1:$PORT" "same URL"
device_http ka GET "/device/$KA_ID/capabilities"
assert_status 200 "the device's access token survived the restart"
assert_true "one 'listening' line per start" test "$(grep -c 'listening url=' "$WFMD_LOG")" -eq 2
kill -INT "$WFMD_PID"
rc=0
if _e2e_wait_gone "$WFMD_PID" 10; then
	wait "$WFMD_PID" || rc=$?
	assert_eq "$rc" 0 "SIGINT: wfmd exits 0"
else
	fail "wfmd still running 10 s after SIGINT"
fi
e2e_untrack "$WFMD_PID"
WFMD_PID=
assert_true "stopped is logged" grep -q 'stopped' "$WFMD_LOG"
wfmd_start
wfmd_stop
assert_eq "$(grep -c 'stopping signal=SIGTERM' "$WFMD_LOG")" 2 "each SIGTERM logged (restart and final stop)"
e2e_finish
