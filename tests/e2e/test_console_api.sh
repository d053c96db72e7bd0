#!/usr/bin/env bash
# The web console's server side over the wire (docs/console.md): /ui/ assets from the binary
# with CSP, nosniff, frame and referrer headers, ETag revalidation; login with an operator
# token for a session cookie (HttpOnly, Secure, SameSite=Strict, __Host-), stored hashed;
# CSRF header and Origin checked on every mutating request made with the cookie; logout and
# expiry end the session; GET /admin/v1/summary and the per-deployment status history.
# (The pages themselves are driven in a real browser by test_console_browser.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
wfmd_start
JSON=(-H 'Content-Type: application/json')
ORIGIN=(-H "Origin: $WFM_URL")

e2e_step "/ui/: the console's files, with the headers that confine them"
http GET /ui
assert_status 308 "/ui redirects"
assert_header Location '^/ui/$'
http GET /ui/
assert_status 200 "GET /ui/ -> 200"
assert_content_type text/html
assert_header Content-Security-Policy "default-src 'self'"
assert_header Content-Security-Policy "frame-ancestors 'none'"
assert_header X-Content-Type-Options '^nosniff$'
assert_header X-Frame-Options '^DENY$'
assert_header Referrer-Policy '^no-referrer$'
assert_header ETag '^"[0-9a-f]{32}"$'
assert_header Cache-Control '^no-cache$'
assert_match "$HTTP_BODY" '<script type="module" src="/ui/app.js">' "the page loads its module script from /ui/"
etag=$(http_header ETag)
http GET /ui/ -H "If-None-Match: $etag"
assert_status 304 "If-None-Match with the ETag -> 304"
assert_eq "$HTTP_BODY" "" "304 has no body"
http GET /ui/ -H 'If-None-Match: "0000"'
assert_status 200 "another ETag -> 200"
http GET /ui/app.js
assert_status 200 "GET /ui/app.js"
assert_content_type text/javascript
assert_header Content-Security-Policy "default-src 'self'"
http GET /ui/console.css
assert_content_type text/css
http GET /ui/nope.js
assert_problem 404 not-found
http GET /ui/..%2fadmin.token
assert_status_any "404 400" "no path out of the embedded files"
# Every module parses (a syntax error would leave the console blank).
for f in "$SRC_DIR"/server/ui/*.js; do
	assert_true "$(basename "$f") parses as an ES module" node --input-type=module --check <"$f"
done
# No inline script or style anywhere: what CSP default-src 'self' would block.
for f in "$SRC_DIR"/server/ui/*; do
	assert_false "$(basename "$f"): no inline <script> body" grep -qE '<script( [^>]*)?>[^<]' "$f"
	assert_false "$(basename "$f"): no style attribute or element" grep -qiE '(style=|<style)' "$f"
	assert_false "$(basename "$f"): nothing loaded from elsewhere" grep -qE '(src|href)="(https?:)?//' "$f"
done

e2e_step "login: wrong or missing token, another origin"
printf '{"token": "wfmadm_not-the-right-one"}' >"$T/wrong.json"
http POST /admin/v1/session "${JSON[@]}" "${ORIGIN[@]}" --data-binary "@$T/wrong.json"
assert_problem 401 unauthorized
assert_no_header Set-Cookie
http POST /admin/v1/session "${JSON[@]}" "${ORIGIN[@]}" --data-binary '{}'
assert_problem 422
assert_json /errors/0/field /token
printf '{"token": "%s"}' "$(<"$WFM_DIR/admin.token")" >"$T/login.json"
http POST /admin/v1/session "${JSON[@]}" -H 'Origin: https://evil.example' --data-binary "@$T/login.json"
assert_problem 403 csrf
assert_no_header Set-Cookie

e2e_step "login: the session cookie"
http POST /admin/v1/session "${JSON[@]}" "${ORIGIN[@]}" --data-binary "@$T/login.json"
assert_status 201 "login -> 201"
assert_header Set-Cookie '^__Host-margo_session=wfmses_[A-Za-z0-9_-]+; '
assert_header Set-Cookie '; Path=/(;|$)'
assert_header Set-Cookie '; Secure(;|$)'
assert_header Set-Cookie '; HttpOnly(;|$)'
assert_header Set-Cookie '; SameSite=Strict(;|$)'
assert_header Set-Cookie '; Max-Age=28800(;|$)'
assert_json /operator admin
assert_json /role admin
assert_json_type /csrfToken string
assert_json_type /expiresAt string
assert_false "the answer does not echo the operator token" grep -qF "$(<"$WFM_DIR/admin.token")" "$HTTP_BODY_FILE"
SESSION=$(http_header Set-Cookie | sed -e 's/^__Host-margo_session=//' -e 's/;.*//')
printf '%s' "$SESSION" >"$T/session.token"
e2e_secret "@$T/session.token"
printf 'Cookie: __Host-margo_session=%s\n' "$SESSION" >"$T/cookie.hdr"
CSRF=$(json_get /csrfToken)
printf 'X-CSRF-Token: %s\n' "$CSRF" >"$T/csrf.hdr"
COOKIE=(-H "@$T/cookie.hdr")

http GET /admin/v1/session "${COOKIE[@]}"
assert_status 200 "GET /admin/v1/session with the cookie"
assert_json /csrfToken "$CSRF"
http GET /admin/v1/session
assert_problem 401
http GET /admin/v1/session -H 'Cookie: __Host-margo_session=wfmses_forged'
assert_problem 401 session-ended

e2e_step "the admin API takes the cookie; changes need the CSRF token and our Origin"
http GET /admin/v1/devices "${COOKIE[@]}"
assert_status 200 "a read with the cookie alone"
printf '{"description": "from the console"}' >"$T/et.json"
http POST /admin/v1/enrollment-tokens "${COOKIE[@]}" "${JSON[@]}" "${ORIGIN[@]}" --data-binary "@$T/et.json"
assert_problem 403 csrf
assert_match "$HTTP_BODY" X-CSRF-Token "the refusal names the header"
http POST /admin/v1/enrollment-tokens "${COOKIE[@]}" "${JSON[@]}" "${ORIGIN[@]}" -H 'X-CSRF-Token: 0123' \
	--data-binary "@$T/et.json"
assert_problem 403 csrf
http POST /admin/v1/enrollment-tokens "${COOKIE[@]}" "${JSON[@]}" -H "@$T/csrf.hdr" \
	-H 'Origin: https://evil.example' --data-binary "@$T/et.json"
assert_problem 403 csrf
http POST /admin/v1/enrollment-tokens "${COOKIE[@]}" "${JSON[@]}" -H "@$T/csrf.hdr" --data-binary "@$T/et.json"
assert_problem 403 csrf
admin_http GET /admin/v1/enrollment-tokens
assert_eq "$(json_length /items)" 0 "no token was created by the refused requests"
http POST /admin/v1/enrollment-tokens "${COOKIE[@]}" "${JSON[@]}" "${ORIGIN[@]}" -H "@$T/csrf.hdr" \
	--data-binary "@$T/et.json"
assert_status 201 "cookie + CSRF token + Origin -> 201"
json_get /token >"$T/et.token"
e2e_secret "@$T/et.token"
# A bearer wins over a cookie: a wrong bearer is refused even with a good session.
printf 'Authorization: Bearer wfmadm_wrong\n' >"$T/wrong.hdr"
http GET /admin/v1/devices "${COOKIE[@]}" -H "@$T/wrong.hdr"
assert_problem 401

e2e_step "sessions are stored hashed"
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'SELECT count(*) FROM console_sessions')" 1 "one session row"
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'SELECT hash FROM console_sessions')" \
	"$(printf '%s' "$SESSION" | sha256sum | cut -d' ' -f1)" "the row is the token's SHA-256"

e2e_step "summary and status history"
device_onboard a
A=$(device_client_id a)
enrollment_token_create
device_new p
onboard_request p --token-file "$ENROLL_TOKEN_FILE"
assert_status 202 "p waits for approval"
P=$(device_admin_lookup p)
deployment_yaml web-1 web "$T/web.yaml"
deploy_put "$A" web-1 "$T/web.yaml"
assert_status 201 "deploy web-1"
status_doc() { # STATE OUT
	cat >"$2" <<EOS
{"apiVersion": "deployment.margo/v1", "kind": "DeploymentStatus", "deploymentId": "web-1",
 "status": {"state": "$1", "error": {"code": "${3:-}", "message": "${4:-}"}},
 "components": [{"name": "web", "state": "$1", "error": {"code": "", "message": ""}},
                {"name": "db", "state": "Installed", "error": {"code": "", "message": ""}}]}
EOS
}
status_doc Installing "$T/s1.json"
device_http a POST "/device/$A/deployment/web-1/status" "${JSON[@]}" --data-binary "@$T/s1.json"
assert_status 201 "report Installing"
status_doc Failed "$T/s2.json" E42 "image pull failed"
device_http a POST "/device/$A/deployment/web-1/status" "${JSON[@]}" --data-binary "@$T/s2.json"
assert_status 201 "report Failed"
http GET /admin/v1/summary "${COOKIE[@]}"
assert_status 200 "summary with the cookie"
assert_json /devices/active 1
assert_json /devices/total "$(($(json_get /devices/pending) + 1))"
assert_json /onboarded/lastHour 1  # a; p is still pending
assert_json /seen/last5Minutes 1
assert_json /failingDeployments/total 1
assert_json /failingDeployments/items/0/deviceId "$A"
assert_json /failingDeployments/items/0/deploymentId web-1
http GET "/admin/v1/devices/$A/deployments/web-1/history" "${COOKIE[@]}"
assert_status 200 "history"
assert_eq "$(json_length /items)" 2 "two reports"
assert_json /items/0/state Failed
assert_json /items/0/error/message "image pull failed"
assert_json /items/0/components/0/name web
assert_json /items/0/components/0/state Failed
assert_json /items/1/state Installing
http GET "/admin/v1/devices/$A/deployments/web-1/history?limit=1" "${COOKIE[@]}"
assert_eq "$(json_length /items)" 1 "limit=1 gives one"
http GET "/admin/v1/devices/$A/deployments/web-1/history?limit=0" "${COOKIE[@]}"
assert_problem 400 invalid-parameter
http GET "/admin/v1/devices/00000000-0000-4000-8000-000000000000/deployments/web-1/history" "${COOKIE[@]}"
assert_problem 404
status_doc Installed "$T/s3.json"
device_http a POST "/device/$A/deployment/web-1/status" "${JSON[@]}" --data-binary "@$T/s3.json"
admin_http GET /admin/v1/summary
assert_json /failingDeployments/total 0

e2e_step "a session survives a restart; logout and expiry end it"
wfmd_restart
http GET /admin/v1/session "${COOKIE[@]}"
assert_status 200 "the session after a restart"
http DELETE /admin/v1/session "${COOKIE[@]}" "${ORIGIN[@]}"
assert_problem 403 csrf
http DELETE /admin/v1/session "${COOKIE[@]}" "${ORIGIN[@]}" -H "@$T/csrf.hdr"
assert_status 204 "logout -> 204"
assert_header Set-Cookie '^__Host-margo_session=; Max-Age=0;'
http GET /admin/v1/devices "${COOKIE[@]}"
assert_problem 401 session-ended
assert_eq "$(sqlite3 -readonly "$WFM_DIR/wfmd.db" 'SELECT count(*) FROM console_sessions')" 0 "the row is gone"
http POST /admin/v1/session "${JSON[@]}" "${ORIGIN[@]}" --data-binary "@$T/login.json"
assert_status 201 "log in again"
printf 'Cookie: %s\n' "$(http_header Set-Cookie | sed 's/;.*//')" >"$T/cookie2.hdr"
sed 's/^Cookie: __Host-margo_session=//' "$T/cookie2.hdr" >"$T/session2.token"
e2e_secret "@$T/session2.token"
sqlite3 "$WFM_DIR/wfmd.db" 'UPDATE console_sessions SET expires_at = 1'
http GET /admin/v1/devices -H "@$T/cookie2.hdr"
assert_problem 401 session-ended
assert_match "$HTTP_BODY" expired "the refusal says it expired"

e2e_step "named operators: the session carries the role; revocation ends the session"
# console_login NAME TOKEN_FILE: logs in, leaves $T/NAME.cookie.hdr and $T/NAME.csrf.hdr.
console_login() {
	printf '{"token": "%s"}' "$(<"$2")" >"$T/$1.login.json"
	http POST /admin/v1/session "${JSON[@]}" "${ORIGIN[@]}" --data-binary "@$T/$1.login.json"
	assert_status 201 "$1 logs in"
	printf 'Cookie: %s\n' "$(http_header Set-Cookie | sed 's/;.*//')" >"$T/$1.cookie.hdr"
	sed 's/^Cookie: __Host-margo_session=//' "$T/$1.cookie.hdr" >"$T/$1.session"
	e2e_secret "@$T/$1.session"
	printf 'X-CSRF-Token: %s\n' "$(json_get /csrfToken)" >"$T/$1.csrf.hdr"
}
for who in vera:viewer otto:operator; do
	printf '{"name": "%s", "role": "%s"}' "${who%%:*}" "${who#*:}" >"$T/op.json"
	admin_http POST /admin/v1/operators "${JSON[@]}" --data-binary "@$T/op.json"
	assert_status 201 "operator ${who%%:*} (${who#*:})"
	json_get /token | tr -d '\n' >"$T/${who%%:*}.token"
	e2e_secret "@$T/${who%%:*}.token"
done
console_login vera "$T/vera.token"
assert_json /operator vera
assert_json /role viewer
http GET /admin/v1/summary -H "@$T/vera.cookie.hdr"
assert_status 200 "a viewer reads with the cookie"
http PUT "/admin/v1/devices/$A/deployments/web-2" -H "@$T/vera.cookie.hdr" -H "@$T/vera.csrf.hdr" \
	"${ORIGIN[@]}" -H 'Content-Type: application/yaml' --data-binary "@$T/web.yaml"
assert_problem 403 insufficient-role
assert_json /requiredRole operator
assert_match "$HTTP_BODY" "operator vera has role viewer" "the refusal names who and which role"
console_login otto "$T/otto.token"
http POST "/admin/v1/devices/$P/approve" -H "@$T/otto.cookie.hdr" -H "@$T/otto.csrf.hdr" "${ORIGIN[@]}"
assert_status 200 "an operator approves with the cookie"
http POST /admin/v1/enrollment-tokens -H "@$T/otto.cookie.hdr" -H "@$T/otto.csrf.hdr" "${ORIGIN[@]}" \
	"${JSON[@]}" --data-binary "@$T/et.json"
assert_problem 403 insufficient-role
assert_json /requiredRole admin
admin_http DELETE /admin/v1/operators/otto
assert_status_any "200 204" "revoke otto"
http GET /admin/v1/devices -H "@$T/otto.cookie.hdr"
assert_problem 401 session-ended
assert_match "$HTTP_BODY" "(revoked|ended)" "the refusal says the session ended"
http GET /admin/v1/session -H "@$T/otto.cookie.hdr"
assert_problem 401 session-ended
http GET /admin/v1/session -H "@$T/vera.cookie.hdr"
assert_status 200 "another operator's session goes on"

e2e_step "no secret in the log or the database"
assert_no_secrets_in "$WFMD_LOG" "$WFM_DIR/wfmd.db"
e2e_finish
