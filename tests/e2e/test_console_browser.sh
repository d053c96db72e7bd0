#!/usr/bin/env bash
# The web console in a real browser (docs/console.md): Debian's chromium, headless, driven by
# npm playwright-core (tests/browser/console.test.mjs) against a real wfmd, with a real
# margo-agent that onboards with the token created in the console and installs what is
# deployed from it. Chromium trusts only wfmd's server key (its SPKI hash), nothing else.
# CONSOLE_SCREENSHOTS=DIR keeps the pages' screenshots there (make console-screenshots).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$AGENT_BIN" "$MARGO_SIGN"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x "$CHROMIUM" ]] || e2e_die "$CHROMIUM not installed (scripts/install-deps)"
command -v node >/dev/null || e2e_die "node not installed (scripts/install-deps)"
"$SRC_DIR/scripts/browser-deps" "$BUILD_DIR" || e2e_die "npm ci of tests/browser failed"
# ES modules ignore NODE_PATH: the scenario runs from beside the node_modules it imports from.
cp "$SRC_DIR/tests/browser/console.test.mjs" "$BUILD_DIR/browser/console.test.mjs"

wfmd_start
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
# The one certificate chromium may accept: wfmd's server key (no blanket ignore).
WFM_SPKI=$(openssl x509 -in "$WFM_DIR/server.crt" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)

e2e_step "a device waits for approval (a real onboarding request)"
enrollment_token_create
device_new pending
onboard_request pending --token-file "$ENROLL_TOKEN_FILE"
assert_status 202 "the request waits for an operator"
PENDING_ID=$(device_admin_lookup pending)
assert_match "$PENDING_ID" '^[0-9a-f-]{36}$' "the operator sees it"

e2e_step "a viewer"
printf '{"name": "vera", "role": "viewer"}' >"$T/vera.json"
admin_http POST /admin/v1/operators -H 'Content-Type: application/json' --data-binary "@$T/vera.json"
assert_status 201 "operator vera (viewer)"
json_get /token | tr -d '\n' >"$T/vera.token"
e2e_secret "@$T/vera.token"

e2e_step "three more active devices, so the pages have a fleet to show"
for g in gw-101 gw-102 gw-103; do
	device_onboard "$g"
done

# What the browser scenario calls once it has created an enrollment token: onboard a real
# margo-agent with it and leave `margo-agent run` applying deployments (1 s polls).
cat >"$T/apply.sh" <<'EOS'
#!/bin/sh
echo "$1 $MARGO_DEPLOYMENT_ID" >>"$(dirname "$0")/applied.log"
exit 0
EOS
printf 'probe_root = %s\npoll_interval = 1\napply_command = %s\n' \
	"$SRC_DIR/tests/fixtures/agent/probe-x86" "$T/apply.sh" >"$T/agent.conf"
cat >"$T/agent.sh" <<EOS
#!/bin/sh
set -e
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$T/dev" \\
	--config "$T/agent.conf" --enrollment-token-file "\$1" >"$T/onboard.log" 2>&1
"$JSON_GET" "$T/dev/state.json" /clientId >"$T/agent.id"
"$AGENT_BIN" run --state-dir "$T/dev" --config "$T/agent.conf" >>"$T/run.log" 2>&1 &
echo \$! >"$T/agent.pid"
EOS
chmod 700 "$T/apply.sh" "$T/agent.sh"

e2e_step "the scenario in chromium"
SHOTS=${CONSOLE_SCREENSHOTS:-$T/shots}
[[ "$SHOTS" == /* ]] || SHOTS=$SRC_DIR/$SHOTS
start=$(date +%s)
RC=0
WFM_URL=$WFM_URL WFM_SPKI=$WFM_SPKI ADMIN_TOKEN_FILE=$WFM_DIR/admin.token PENDING_ID=$PENDING_ID \
	VIEWER_TOKEN_FILE=$T/vera.token AGENT_CMD=$T/agent.sh SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
	timeout 150 node "$BUILD_DIR/browser/console.test.mjs" >"$T/browser.log" 2>&1 || RC=$?
[[ -s "$T/agent.pid" ]] && e2e_track "$(<"$T/agent.pid")"
sed 's/^/  /' "$T/browser.log" >&2
assert_eq "$RC" 0 "the browser scenario passed ($(grep -c '^ok' "$T/browser.log") checks, $(($(date +%s) - start)) s)"
assert_true "margo-agent applied what the console deployed" grep -q '^install web-1$' "$T/applied.log"

e2e_step "secrets stay out of the logs"
e2e_secret "@$T/console.token"
assert_no_secrets_in "$WFMD_LOG"
e2e_finish
