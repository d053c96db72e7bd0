#!/usr/bin/env bash
# wfmctl against a real wfmd: every command, table and --json output, connection options and
# the environment, and the failures an operator meets (unknown ids, bad token file, missing
# data dir, wrong CA, bad command lines): each a non-zero exit with one line on stderr.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
e2e_require_bin "$WFMCTL_BIN" "$MARGO_SIGN"
wfmd_start

CTL_RC=0
CTL_OUT=
CTL_ERR=

# ctl ARGS...: runs wfmctl (no implicit --data-dir); stdout in CTL_OUT ($T/ctl.out), stderr in
# CTL_ERR ($T/ctl.err), exit status in CTL_RC.
ctl() {
	CTL_RC=0
	"$WFMCTL_BIN" "$@" >"$T/ctl.out" 2>"$T/ctl.err" </dev/null || CTL_RC=$?
	CTL_OUT=$(<"$T/ctl.out")
	CTL_ERR=$(<"$T/ctl.err")
}

# dctl ARGS...: ctl with this scenario's data dir.
dctl() { ctl --data-dir "$WFM_DIR" "$@"; }

# expect_ok MESSAGE: the last wfmctl run exited 0 with nothing on stderr.
expect_ok() {
	assert_eq "$CTL_RC" 0 "$1: exit 0"
	assert_eq "$CTL_ERR" "" "$1: nothing on stderr"
}

# expect_fail MESSAGE CODE ERE: non-zero exit CODE, exactly one stderr line matching ERE,
# nothing on stdout, and no secret in the message.
expect_fail() {
	local lines
	assert_eq "$CTL_RC" "$2" "$1: exit $2"
	lines=$(printf '%s\n' "$CTL_ERR" | grep -c . || true)
	assert_eq "$lines" 1 "$1: one line on stderr"
	assert_match "$CTL_ERR" "$3" "$1: message"
	assert_eq "$CTL_OUT" "" "$1: nothing on stdout"
	assert_no_secrets_in "$T/ctl.err"
}

# seconds_between T1 T2 (RFC 3339)
seconds_between() { echo $(($(date -u -d "$2" +%s) - $(date -u -d "$1" +%s))); }

UNKNOWN_ID=0b5e7a1c-3d2f-4e6a-9b8c-7d6e5f4a3b2c

# ---------------------------------------------------------------------------------------------
e2e_step "help and version"
ctl --help
expect_ok "--help"
assert_match "$CTL_OUT" "Usage: wfmctl" "--help shows usage"
MAIN_HELP=$CTL_OUT
for cmd in "enrollment create" "enrollment list" "enrollment revoke" "cert add" "cert list" \
	"cert remove" "device list" "device show" "device approve" "device reject" "device revoke" \
	"device deployments" "deploy" "undeploy"; do
	assert_match "$MAIN_HELP" "  $cmd " "--help lists $cmd"
	# shellcheck disable=SC2086
	ctl $cmd --help
	expect_ok "$cmd --help"
	assert_match "$CTL_OUT" "Usage: wfmctl $cmd" "$cmd --help: usage line"
	assert_match "$CTL_OUT" "Example" "$cmd --help: examples"
done
ctl deploy --help
assert_match "$CTL_OUT" "--deployment-id ID" "deploy --help: the option"
assert_match "$CTL_OUT" "metadata.annotations.id" "deploy --help: where the id comes from"
ctl help device approve
expect_ok "help device approve"
assert_match "$CTL_OUT" "Usage: wfmctl device approve ID" "wfmctl help CMD = CMD --help"
ctl device --help
expect_ok "device --help"
assert_match "$CTL_OUT" "device revoke" "group help lists its commands"
ctl --version
expect_ok "--version"
assert_match "$CTL_OUT" '^wfmctl [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"

e2e_step "bad command lines (exit 2, one line)"
ctl
expect_fail "no command" 2 "^wfmctl: missing command"
ctl frobnicate
expect_fail "unknown command" 2 "^wfmctl: unknown command 'frobnicate'"
ctl device explode
expect_fail "unknown subcommand" 2 "^wfmctl: device: unknown command 'explode'"
dctl device list --colour
expect_fail "unknown option" 2 "^wfmctl: device list: unknown option '--colour'"
dctl device list --state sleeping
expect_fail "bad --state" 2 "^wfmctl: device list: --state must be"
dctl device show
expect_fail "device show without id" 2 "^wfmctl: device show: which device"
dctl device show a b
expect_fail "device show with two ids" 2 "unexpected argument 'b'"
dctl enrollment create --ttl 5x
expect_fail "bad --ttl" 2 "--ttl '5x' is not a duration"
dctl enrollment create --ttl 0
expect_fail "zero --ttl" 2 "--ttl '0' is not a duration"
dctl enrollment create --max-uses -3
expect_fail "negative --max-uses" 2 "--max-uses '-3'"
dctl enrollment create --ttl
expect_fail "--ttl without value" 2 "option '--ttl' needs a value"
ctl device list
expect_fail "no server given" 2 "no server given: use --data-dir"
ctl --url "$WFM_URL" device list
expect_fail "--url alone" 2 "all of --url, --ca-file and --token-file"
dctl cert remove not-a-fingerprint
expect_fail "bad fingerprint" 2 "is not a fingerprint"

e2e_step "connection failures (exit 1, one line)"
ctl --data-dir "$T/no-such-dir" device list
expect_fail "missing data dir" 1 "^wfmctl: device list: data directory $T/no-such-dir: No such file"
mkdir -p "$T/empty-dir"
ctl --data-dir "$T/empty-dir" device list
expect_fail "data dir without public-url" 1 "cannot read $T/empty-dir/public-url"
ctl --url "$WFM_URL" --ca-file "$WFM_CA" --token-file "$T/no-such-token" device list
expect_fail "missing token file" 1 "cannot read admin token file $T/no-such-token"
: >"$T/empty.token"
ctl --url "$WFM_URL" --ca-file "$WFM_CA" --token-file "$T/empty.token" device list
expect_fail "empty token file" 1 "admin token file $T/empty.token is empty"
printf 'wfmadm_one two\n' >"$T/spaces.token"
ctl --url "$WFM_URL" --ca-file "$WFM_CA" --token-file "$T/spaces.token" device list
expect_fail "token file with two words" 1 "must hold one token on one line"
printf 'wfmadm_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" \
	>"$T/wrong.token"
e2e_secret "@$T/wrong.token"
ctl --url "$WFM_URL" --ca-file "$WFM_CA" --token-file "$T/wrong.token" device list
expect_fail "wrong admin token" 1 "^wfmctl: device list: 401 .*check the admin token file"
# The right token file, readable by others: works, with a warning.
cp "$WFM_DIR/admin.token" "$T/loose.token"
chmod 644 "$T/loose.token"
ctl --url "$WFM_URL" --ca-file "$WFM_CA" --token-file "$T/loose.token" device list
assert_eq "$CTL_RC" 0 "loose token file still works"
assert_match "$CTL_ERR" "warning: admin token file .* readable by others" "loose token file warned"
device_new other-ca
ctl --url "$WFM_URL" --ca-file "$T/other-ca.crt" --token-file "$WFM_DIR/admin.token" device list
expect_fail "wrong CA" 1 "^wfmctl: device list: .*(certificate|SSL)"
# The environment's CA bundle must not matter: pointing it at the WFM CA does not rescue a
# wrong --ca-file.
SSL_CERT_FILE=$WFM_CA CURL_CA_BUNDLE=$WFM_CA SSL_CERT_DIR=$WFM_DIR \
	ctl --url "$WFM_URL" --ca-file "$T/other-ca.crt" --token-file "$WFM_DIR/admin.token" \
	device list
expect_fail "environment CA bundle ignored" 1 "(certificate|SSL)"
printf 'not a certificate\n' >"$T/junk.crt"
ctl --url "$WFM_URL" --ca-file "$T/junk.crt" --token-file "$WFM_DIR/admin.token" device list
expect_fail "CA file not PEM" 1 "is not a PEM certificate"
ctl --url "http://127.0.0.1:$WFMD_PORT" --ca-file "$WFM_CA" --token-file "$WFM_DIR/admin.token" \
	device list
expect_fail "http:// URL" 1 "is not an https:// URL"
# A proxy in the environment is not used (it points at a closed port).
https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
	dctl device list
expect_ok "environment proxy ignored"

e2e_step "explicit connection options and environment"
ctl --url "$WFM_URL/" --ca-file "$WFM_CA" --token-file "$WFM_DIR/admin.token" device list
expect_ok "--url --ca-file --token-file"
WFMCTL_URL=$WFM_URL WFMCTL_CA_FILE=$WFM_CA WFMCTL_TOKEN_FILE=$WFM_DIR/admin.token ctl device list
expect_ok "WFMCTL_URL/CA_FILE/TOKEN_FILE"
WFMCTL_DATA_DIR=$WFM_DIR ctl device list
expect_ok "WFMCTL_DATA_DIR"
# Global options also work after the command words.
ctl device list --data-dir "$WFM_DIR" --json
expect_ok "options after the command"
assert_eq "$(json_get /items "$T/ctl.out")" "[]" "no devices yet (--json)"
dctl device list
expect_ok "device list, empty"
assert_eq "$CTL_OUT" "No devices yet." "empty device list says so"
dctl enrollment list
expect_ok "enrollment list, empty"
assert_match "$CTL_OUT" "^No enrollment tokens" "empty token list says so"
dctl cert list
expect_ok "cert list, empty"
assert_match "$CTL_OUT" "^No pre-registered certificates" "empty cert list says so"

# ---------------------------------------------------------------------------------------------
e2e_step "enrollment create (table output), use, list, revoke"
dctl enrollment create --ttl 2h --max-uses 3 --description "e2e batch 1"
expect_ok "enrollment create"
TOKEN1=$(grep -o 'wfmet_[A-Za-z0-9_-]*' "$T/ctl.out" | head -1 || true)
assert_match "$TOKEN1" '^wfmet_[A-Za-z0-9_-]{40,}$' "the token is printed"
e2e_secret "$TOKEN1"
assert_match "$CTL_OUT" "shown only this once" "says the token is shown once"
assert_match "$CTL_OUT" "auto-approve: +no" "not auto-approving by default"
assert_match "$CTL_OUT" "uses: +0/3" "uses 0/3"
ID1=$(sed -n 's/^Created enrollment token \([0-9a-f-]*\)$/\1/p' "$T/ctl.out")
assert_match "$ID1" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
	"enrollment token id is a UUIDv4"
printf '%s' "$TOKEN1" >"$T/token1"

dctl --json enrollment create --ttl 90s --auto-approve --description "e2e json"
expect_ok "enrollment create --json"
cp "$T/ctl.out" "$T/create2.json"
TOKEN2=$(json_get /token "$T/create2.json") || TOKEN2=
e2e_secret "$TOKEN2"
assert_match "$TOKEN2" '^wfmet_' "--json create holds the token"
assert_eq "$(json_get /autoApprove "$T/create2.json")" true "--auto-approve sent"
assert_eq "$(json_get /maxUses "$T/create2.json")" 1 "server default maxUses"
assert_eq "$(json_get /description "$T/create2.json")" "e2e json" "description sent"
assert_eq "$(seconds_between "$(json_get /createdAt "$T/create2.json")" \
	"$(json_get /expiresAt "$T/create2.json")")" 90 "--ttl 90s"
ID2=$(json_get /id "$T/create2.json") || ID2=

for ttl in 3600:3600 15m:900 24h:86400 7d:604800 1h30m:5400; do
	dctl --json enrollment create --ttl "${ttl%%:*}"
	assert_eq "$CTL_RC" 0 "enrollment create --ttl ${ttl%%:*}"
	e2e_secret "$(json_get /token "$T/ctl.out" || true)"
	assert_eq "$(seconds_between "$(json_get /createdAt "$T/ctl.out")" \
		"$(json_get /expiresAt "$T/ctl.out")")" "${ttl##*:}" "--ttl ${ttl%%:*} is ${ttl##*:} s"
done
dctl enrollment create --ttl 400d
expect_fail "ttl beyond the server's bound" 1 "^wfmctl: enrollment create: 422 .*ttlSeconds"

# A device onboards with token 1 (not auto-approving): pending, approved with wfmctl.
device_new d1
onboard_request d1 --token-file "$T/token1" --serial SN-d1
assert_status 202 "onboarding with a non-auto-approve token is pending"
# The id approve/reject take is the one the pending device is listed with.
dctl --json device list --state pending
expect_ok "device list --state pending --json"
assert_eq "$(json_length /items "$T/ctl.out")" 1 "one pending device"
assert_eq "$(json_get /items/0/serialNumber "$T/ctl.out")" SN-d1 "the pending device is d1"
D1_REQ=$(json_get /items/0/id "$T/ctl.out") || D1_REQ=

dctl enrollment list
expect_ok "enrollment list"
header=$(head -1 "$T/ctl.out")
assert_match "$header" '^ID +DESCRIPTION +CREATED +EXPIRES +USES +AUTO-APPROVE +STATE$' \
	"enrollment list header"
row1=$(grep "^$ID1 " "$T/ctl.out" || true)
assert_match "$row1" "e2e batch 1 +[0-9TZ:-]+ +[0-9TZ:-]+ +1/3 +no +active$" \
	"token 1 row: one use of three, active"
assert_match "$(grep "^$ID2 " "$T/ctl.out" || true)" "0/1 +yes +active$" "token 2 row"
# Columns line up: every row starts its DESCRIPTION at the header's offset.
off=$(awk 'NR==1 { print index($0, "DESCRIPTION") }' "$T/ctl.out")
bad=$(awk -v o="$off" 'NR>1 && substr($0, o - 2, 2) != "  " { n++ } END { print n + 0 }' "$T/ctl.out")
assert_eq "$bad" 0 "enrollment list columns aligned"
assert_no_secrets_in "$T/ctl.out"
dctl --json enrollment list
expect_ok "enrollment list --json"
assert_eq "$(json_length /items "$T/ctl.out")" 7 "seven tokens listed"
assert_json_absent /items/0/token "$T/ctl.out"
assert_no_secrets_in "$T/ctl.out"

dctl enrollment revoke "$ID1"
expect_ok "enrollment revoke"
assert_eq "$CTL_OUT" "Revoked enrollment token $ID1." "revoke confirms"
dctl enrollment list
assert_match "$(grep "^$ID1 " "$T/ctl.out" || true)" "revoked$" "revoked token listed as revoked"
device_new d1b
onboard_request d1b --token-file "$T/token1"
assert_status 401 "a revoked token no longer onboards"
dctl enrollment revoke "$UNKNOWN_ID"
expect_fail "revoke unknown token" 1 "^wfmctl: enrollment revoke: 404 "
dctl enrollment revoke
expect_fail "revoke without id" 2 "which token"

# ---------------------------------------------------------------------------------------------
e2e_step "device list / approve / show"
dctl device list --state pending
expect_ok "device list --state pending"
assert_match "$(head -1 "$T/ctl.out")" \
	'^ID +STATE +VENDOR +MODEL +SERIAL +FINGERPRINT +CREATED +LAST SEEN$' "device list header"
D1_FP=$(device_fingerprint d1)
row=$(grep "^$D1_REQ " "$T/ctl.out" || true)
assert_match "$row" "^$D1_REQ +pending +e2e-vendor +e2e-model +SN-d1 +${D1_FP:0:19}\.\.\. " \
	"pending request listed with its id, identity and fingerprint"
assert_match "$row" " never$" "never seen"
dctl --json device list --state active
expect_ok "device list --state active --json"
assert_eq "$(json_length /items "$T/ctl.out")" 0 "no active device yet"

dctl device approve "$D1_REQ"
expect_ok "device approve"
assert_eq "$CTL_OUT" "Approved device $D1_REQ (state: active)." "approve confirms with the state"
onboard_poll d1
assert_status 200 "approved device collects its credentials"
D1=$(device_client_id d1)
dctl device approve "$D1"
expect_fail "approve a device that is not pending" 1 "^wfmctl: device approve: 409 "
dctl device approve "$UNKNOWN_ID"
expect_fail "approve unknown" 1 "^wfmctl: device approve: 404 "

device_token d1
assert_status 200 "d1 gets an access token"
capabilities_doc d1 "$T/d1.caps.json"
device_http d1 PUT "/device/$D1/capabilities" -H 'Content-Type: application/json' \
	--data-binary "@$T/d1.caps.json"
assert_status 201 "d1 reports capabilities"

dctl device show "$D1"
expect_ok "device show"
assert_match "$CTL_OUT" "^Device $D1" "device show title"
assert_match "$CTL_OUT" "state: +active" "device show: state"
assert_match "$CTL_OUT" "serial number: +SN-d1" "device show: serial"
assert_match "$CTL_OUT" "fingerprint: +$D1_FP" "device show: full fingerprint"
assert_match "$CTL_OUT" "Capabilities \(reported [0-9T:Z-]+\):" "device show: capabilities section"
assert_match "$CTL_OUT" "roles: +Standalone Device" "device show: roles"
assert_match "$CTL_OUT" "x86_64, 4 cores, 2.4 GHz" "device show: cpu"
assert_match "$CTL_OUT" "memory: +8 GB" "device show: memory"
assert_match "$CTL_OUT" "storage: +64 GB" "device show: storage (number in GB)"
assert_match "$CTL_OUT" "gpu0 \(gpu, none\)" "device show: peripheral"
assert_match "$CTL_OUT" "eth0 \(ethernet, virtio\)" "device show: interface"
assert_match "$CTL_OUT" "Deployments:"$'\n'"  none" "device show: no deployments"
if grep -q 'BEGIN CERTIFICATE' "$T/ctl.out"; then
	fail "device show prints the PEM certificate"
else
	pass "device show keeps the PEM out of the table view"
fi
dctl --json device show "$D1"
expect_ok "device show --json"
assert_eq "$(json_get /id "$T/ctl.out")" "$D1" "--json show: id"
assert_eq "$(json_get /capabilities/properties/x-e2e-extra/kept "$T/ctl.out")" true \
	"--json show: capabilities as stored, unknown members kept"
dctl device show "$UNKNOWN_ID"
expect_fail "show unknown device" 1 "^wfmctl: device show: 404 Not Found: .*$UNKNOWN_ID"
dctl device show "not-a-uuid/../x"
expect_fail "show malformed id" 1 "^wfmctl: device show: 404 "

dctl device list
expect_ok "device list (all)"
assert_match "$(grep "^$D1 " "$T/ctl.out" || true)" "^$D1 +active +e2e-vendor" "active device listed"
assert_match "$(grep "^$D1 " "$T/ctl.out" || true)" " [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" \
	"last seen set after the device used its token"

e2e_step "device reject"
device_new d4
onboard_request d4
assert_status 202 "no token, approval request pending"
dctl --json device list --state pending
assert_eq "$(json_get /items/0/serialNumber "$T/ctl.out")" SN-d4 "the pending device is d4"
D4_REQ=$(json_get /items/0/id "$T/ctl.out") || D4_REQ=
dctl device reject "$D4_REQ"
expect_ok "device reject"
assert_eq "$CTL_OUT" "Rejected device $D4_REQ (state: rejected)." "reject confirms with the state"
onboard_poll d4
assert_status 403 "rejected device is told so"
dctl --json device list --state rejected
expect_ok "device list --state rejected --json"
assert_eq "$(json_get /items/0/id "$T/ctl.out")" "$D4_REQ" "rejected device listed"
dctl device reject "$D4_REQ"
expect_fail "reject twice" 1 "^wfmctl: device reject: 409 "

# ---------------------------------------------------------------------------------------------
e2e_step "cert add / list / remove"
device_new d2
D2_FP=$(device_fingerprint d2)
dctl cert add "$T/d2.crt" --description "pre-registered d2"
expect_ok "cert add (PEM)"
assert_match "$CTL_OUT" "^Registered certificate $D2_FP" "cert add prints the fingerprint"
device_new d3
openssl x509 -in "$T/d3.crt" -outform DER -out "$T/d3.der"
D3_FP=$(device_fingerprint d3)
dctl --json cert add "$T/d3.der"
expect_ok "cert add (DER) --json"
assert_eq "$(json_get /fingerprint "$T/ctl.out")" "$D3_FP" "DER certificate registered"
dctl cert add "$T/d2.crt"
expect_fail "cert add twice" 1 "^wfmctl: cert add: 409 "
dctl cert add "$T/junk.crt"
expect_fail "cert add of a non-certificate" 1 "is not an X.509 certificate"
dctl cert add "$T/nothing.crt"
expect_fail "cert add of a missing file" 1 "cannot read $T/nothing.crt"

dctl cert list
expect_ok "cert list"
assert_match "$(head -1 "$T/ctl.out")" '^FINGERPRINT +DESCRIPTION +ADDED$' "cert list header"
assert_match "$(grep "^$D2_FP " "$T/ctl.out" || true)" "pre-registered d2 +[0-9TZ:-]+$" "d2 row"
assert_true "d3 row" grep -q "^$D3_FP " "$T/ctl.out"
dctl --json cert list
assert_eq "$(json_length /items "$T/ctl.out")" 2 "two certificates (--json)"

onboard_request d2
assert_status 201 "a pre-registered certificate onboards without a token"
D2=$(device_client_id d2)

# Deployment status reported by d2 shows up in 'device show'.
device_token d2
assert_status 200 "d2 gets an access token"
DEP=7d1c5e2a-0f3b-4c6d-8e9f-a0b1c2d3e4f5
cat >"$T/status.json" <<EOF
{"apiVersion": "deployment.margo/v1alpha1", "kind": "DeploymentStatus", "deploymentId": "$DEP",
 "status": {"state": "failed", "error": {"code": "E42", "message": "image pull failed"}},
 "components": [{"name": "web", "state": "Failed"}]}
EOF
device_http d2 POST "/device/$D2/deployment/$DEP/status" -H 'Content-Type: application/json' \
	--data-binary "@$T/status.json"
assert_status 201 "d2 reports a deployment status"
dctl device show "$D2"
expect_ok "device show with a deployment"
assert_match "$CTL_OUT" $'Deployments:\n  DEPLOYMENT +NAME +APPLICATION +STATE +UPDATED +ERROR\n' \
	"deployments table header"
assert_match "$CTL_OUT" "  $DEP +- +- +Failed +[0-9T:Z-]+ +E42: image pull failed" \
	"deployment row: canonical state, error"
assert_match "$CTL_OUT" "Capabilities:"$'\n'"  not reported yet" "no capabilities yet"
dctl --json device show "$D2"
assert_eq "$(json_get /deployments/0/status/status/error/code "$T/ctl.out")" E42 \
	"--json show: the stored status document"

# Remove accepts the openssl form: upper case, ':' between bytes, no prefix.
D3_OPENSSL=$(openssl x509 -in "$T/d3.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
dctl cert remove "$D3_OPENSSL"
expect_ok "cert remove (openssl form)"
assert_eq "$CTL_OUT" "Removed certificate $D3_FP." "remove confirms"
dctl cert list
if grep -q "$D3_FP" "$T/ctl.out"; then fail "removed certificate still listed"; else pass "removed certificate gone"; fi
dctl cert remove "$D3_FP"
expect_fail "remove twice" 1 "^wfmctl: cert remove: 404 "

# ---------------------------------------------------------------------------------------------
e2e_step "deploy: local validation, nothing sent"
EXAMPLES=$SRC_DIR/docs/examples
HELM_ID=6f1c2b9e-4d3a-4b7e-9a51-2f0c8e7d1a34
# count_deployment_requests: requests on the deployments routes wfmd has logged so far.
count_deployment_requests() {
	grep -c 'request method=[A-Z]* route=/admin/v1/devices/[^ ]*/deployments' "$WFMD_LOG" || true
}
REQS_BEFORE=$(count_deployment_requests)

sed -e 's|^apiVersion: .*|apiVersion: application.margo.org/v1|' -e 's/type: helm.v3/type: helm/' \
	-e 's/- name: timeseries-db/- name: dashboard/' "$EXAMPLES/deployment-helm.yaml" >"$T/bad.yaml"
dctl deploy "$D2" "$T/bad.yaml"
assert_eq "$CTL_RC" 1 "invalid deployment: exit 1"
assert_eq "$CTL_OUT" "" "invalid deployment: nothing on stdout"
assert_eq "$CTL_ERR" "$T/bad.yaml: /apiVersion: must be \"application.margo.org/v1alpha1\"
$T/bad.yaml: /spec/deploymentProfile/type: must be \"helm.v3\" or \"compose\"
$T/bad.yaml: /spec/deploymentProfile/components/1/name: duplicate component name \"dashboard\"" \
	"invalid deployment: one line per problem, file name and JSON pointer first"

printf 'apiVersion: application.margo.org/v1alpha1\nkind: [ApplicationDeployment\n' >"$T/syntax.yaml"
dctl deploy "$D2" "$T/syntax.yaml"
expect_fail "YAML syntax error" 1 "^$T/syntax.yaml: YAML syntax error at line [0-9]+ column [0-9]+: "
sed 's/^metadata:/---\nmetadata:/' "$EXAMPLES/deployment-compose.yaml" >"$T/two.yaml"
dctl deploy "$D2" "$T/two.yaml"
expect_fail "two YAML documents" 1 "^$T/two.yaml: more than one YAML document"
: >"$T/empty.yaml"
dctl deploy "$D2" "$T/empty.yaml"
expect_fail "empty file" 1 "^$T/empty.yaml: empty document$"
sed 's/^  name: edge-gateway/  name: 42/; s/^    applicationId: .*//' \
	"$EXAMPLES/deployment-compose.yaml" >"$T/types.yaml"
dctl deploy "$D2" "$T/types.yaml"
assert_eq "$CTL_RC" 1 "wrong types: exit 1"
assert_eq "$CTL_ERR" "$T/types.yaml: /metadata/name: must be a string
$T/types.yaml: /metadata/annotations: missing" "wrong types: both problems (annotations left empty)"
RC=0
"$WFMCTL_BIN" --data-dir "$WFM_DIR" deploy "$D2" - <"$T/bad.yaml" >"$T/ctl.out" 2>"$T/ctl.err" ||
	RC=$?
assert_eq "$RC" 1 "invalid deployment on stdin: exit 1"
assert_eq "$(grep -c '^-: /' "$T/ctl.err")" 3 "stdin: problems prefixed with '-'"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$T/big.yaml"
dctl deploy "$D2" "$T/big.yaml"
expect_fail "oversized file" 1 "^wfmctl: deploy: $T/big.yaml is larger than 1048576 bytes$"
dctl deploy "$D2" "$T/nothing.yaml"
expect_fail "missing file" 1 "^wfmctl: deploy: cannot read $T/nothing.yaml: "
dctl deploy "$D2" "$EXAMPLES/deployment-helm.yaml" --deployment-id ../etc
expect_fail "bad --deployment-id" 2 "^wfmctl: deploy: --deployment-id must be "
dctl deploy "$D2"
expect_fail "deploy without a file" 2 "^wfmctl: deploy: give the device ID and the deployment file"
dctl undeploy "$D2"
expect_fail "undeploy without a deployment" 2 \
	"^wfmctl: undeploy: give the device ID and the deployment ID"
# Local problems never reach wfmd: once its log shows a later real request (device show's
# deployments list), the count has grown by that one only.
dctl device show "$D2"
expect_ok "device show after refused deploys"
for _ in $(seq 40); do
	(($(count_deployment_requests) > REQS_BEFORE)) && break
	sleep 0.05
done
assert_eq "$(count_deployment_requests)" "$((REQS_BEFORE + 1))" \
	"no deployments request for an invalid file (only device show's list)"

# ---------------------------------------------------------------------------------------------
e2e_step "deploy / device deployments / undeploy"
dctl deploy "$D2" "$EXAMPLES/deployment-helm.yaml"
expect_ok "deploy the helm example"
assert_match "$CTL_OUT" "^deployed $HELM_ID to $D2 \(revision [0-9a-f]{12}\)$" \
	"deploy: the file's id, the device, the revision"
REV1=$(sed -E 's/.*revision ([0-9a-f]+)\)$/\1/' <<<"$CTL_OUT")
dctl --json deploy "$D2" "$EXAMPLES/deployment-helm.yaml"
expect_ok "deploy again (replace) --json"
assert_eq "$(json_get /deploymentId "$T/ctl.out")" "$HELM_ID" "--json deploy: deploymentId"
assert_eq "$(json_get /name "$T/ctl.out")" sensor-dashboard "--json deploy: name"
assert_eq "$(json_get /applicationId "$T/ctl.out")" com.example.sensor-dashboard \
	"--json deploy: applicationId"
assert_match "$(json_get /revision "$T/ctl.out")" '^[0-9a-f]{40}$' "--json deploy: full revision"

dctl deploy "$D2" "$EXAMPLES/deployment-compose.yaml"
expect_ok "deploy a file without an id"
GEN_ID=$(awk '{print $2}' <<<"$CTL_OUT")
assert_match "$GEN_ID" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
	"a new UUIDv4 as the deployment id"
REV2=$(sed -E 's/.*revision ([0-9a-f]+)\)$/\1/' <<<"$CTL_OUT")
assert_true "a new deployment is a new revision" test "$REV1" != "$REV2"
dctl deploy "$D2" "$EXAMPLES/deployment-helm.yaml" --deployment-id dashboard-2
expect_ok "deploy with --deployment-id"
assert_match "$CTL_OUT" "^deployed dashboard-2 to $D2 \(revision [0-9a-f]{12}\)$" \
	"--deployment-id wins over the file's id"

dctl device deployments "$D2"
expect_ok "device deployments"
assert_match "$(head -1 "$T/ctl.out")" '^DEPLOYMENT +NAME +APPLICATION +STATE +UPDATED +ERROR$' \
	"device deployments: header"
assert_match "$CTL_OUT" "(^|"$'\n'")$HELM_ID +sensor-dashboard +com.example.sensor-dashboard +not reported +" \
	"device deployments: the helm deployment, no state yet"
assert_match "$CTL_OUT" "(^|"$'\n'")$GEN_ID +edge-gateway +com.example.edge-gateway +not reported +" \
	"device deployments: the compose deployment"
assert_match "$CTL_OUT" "(^|"$'\n'")dashboard-2 +sensor-dashboard +" "device deployments: the copy"
# deployment_ids FILE: the deploymentIds of a --json list, sorted, one a line.
deployment_ids() {
	local i n
	n=$(json_length /items "$1") || n=0
	for ((i = 0; i < n; i++)); do json_get "/items/$i/deploymentId" "$1"; done | sort
}
dctl --json device deployments "$D2"
expect_ok "device deployments --json"
DEPLOYED=$(printf '%s\n' "$HELM_ID" "$GEN_ID" dashboard-2 | sort)
assert_eq "$(deployment_ids "$T/ctl.out" | grep -vx "$DEP")" "$DEPLOYED" \
	"the three deployments (--json; plus the one only reported, if listed)"

# The agent's reports show up: Installed for one, a long multi-line failure for another.
printf '%s\n' "{\"apiVersion\": \"deployment.margo/v1alpha1\", \"kind\": \"DeploymentStatus\"," \
	" \"deploymentId\": \"$HELM_ID\", \"status\": {\"state\": \"Installed\"}," \
	" \"components\": [{\"name\": \"dashboard\", \"state\": \"Installed\"}," \
	"  {\"name\": \"timeseries-db\", \"state\": \"Installed\"}]}" >"$T/status-ok.json"
device_http d2 POST "/device/$D2/deployment/$HELM_ID/status" -H 'Content-Type: application/json' \
	--data-binary "@$T/status-ok.json"
assert_status 201 "d2 reports Installed"
LONG_MSG='helm: release failed\nError: timed out waiting for the condition on deployments/gateway after 300 seconds'
printf '%s\n' "{\"apiVersion\": \"deployment.margo/v1alpha1\", \"kind\": \"DeploymentStatus\"," \
	" \"deploymentId\": \"$GEN_ID\", \"status\": {\"state\": \"Failed\"," \
	"  \"error\": {\"code\": \"APPLY_FAILED\", \"message\": \"$LONG_MSG\"}}," \
	" \"components\": [{\"name\": \"gateway\", \"state\": \"Failed\"," \
	"  \"error\": {\"code\": \"APPLY_FAILED\", \"message\": \"exit status 3\"}}]}" >"$T/status-fail.json"
device_http d2 POST "/device/$D2/deployment/$GEN_ID/status" -H 'Content-Type: application/json' \
	--data-binary "@$T/status-fail.json"
assert_status 201 "d2 reports Failed"
dctl device show "$D2"
expect_ok "device show with desired deployments"
assert_match "$CTL_OUT" "  $HELM_ID +sensor-dashboard +com.example.sensor-dashboard +Installed +[0-9T:Z-]+ +-"$'\n' \
	"device show: Installed, no error"
assert_match "$CTL_OUT" "  $GEN_ID +edge-gateway +com.example.edge-gateway +Failed +[0-9T:Z-]+ +APPLY_FAILED: helm: release failed Error: timed out[^"$'\n'"]*\.\.\."$'\n' \
	"device show: the error on one line, cut in the table"
assert_match "$CTL_OUT" "  Error of $GEN_ID: APPLY_FAILED: helm: release failed Error: timed out waiting for the condition on deployments/gateway after 300 seconds" \
	"device show: the whole error after the table"
assert_match "$CTL_OUT" "  $DEP +- +- +Failed +[0-9T:Z-]+ +E42: image pull failed" \
	"device show: a reported deployment that is not desired is still shown"
assert_match "$CTL_OUT" "  components of $HELM_ID: dashboard Installed, timeseries-db Installed"$'\n' \
	"device show: the state of each component"
assert_match "$CTL_OUT" "  components of $GEN_ID: gateway Failed \(APPLY_FAILED: exit status 3\)"$'\n' \
	"device show: a component's error"
assert_match "$CTL_OUT" "  components of $DEP: web Failed"$'\n' "device show: components of a reported one"
dctl device deployments "$D2"
expect_ok "device deployments with reports"
assert_match "$CTL_OUT" "(^|"$'\n'")$GEN_ID +edge-gateway +com.example.edge-gateway +Failed +[0-9T:Z-]+ +APPLY_FAILED: " \
	"device deployments: the failed one"
assert_match "$CTL_OUT" "(^|"$'\n'")components of $HELM_ID: dashboard Installed, timeseries-db Installed"$'\n' \
	"device deployments: components"

dctl undeploy "$D2" dashboard-2
expect_ok "undeploy"
assert_eq "$CTL_OUT" "undeployed dashboard-2 from $D2" "undeploy confirms"
dctl --json device deployments "$D2"
assert_eq "$(deployment_ids "$T/ctl.out" | grep -vx "$DEP")" "$(printf '%s\n' "$HELM_ID" "$GEN_ID" | sort)" \
	"the undeployed deployment is gone, the others stay"
dctl undeploy "$D2" dashboard-2
expect_fail "undeploy twice" 1 "^wfmctl: undeploy: 404 "
dctl deploy "$UNKNOWN_ID" "$EXAMPLES/deployment-helm.yaml"
expect_fail "deploy to an unknown device" 1 "^wfmctl: deploy: 404 "
dctl device deployments "$UNKNOWN_ID"
expect_fail "deployments of an unknown device" 1 "^wfmctl: device deployments: 404 "

# ---------------------------------------------------------------------------------------------
e2e_step "device revoke"
dctl device revoke "$D1"
expect_ok "device revoke"
assert_eq "$CTL_OUT" "Revoked device $D1 (state: revoked)." "revoke confirms with the state"
device_token d1
assert_oauth_error 401 invalid_client
device_http d1 GET "/device/$D1/capabilities"
assert_status 401 "a revoked device's access token stops working"
dctl device revoke "$UNKNOWN_ID"
expect_fail "revoke unknown device" 1 "^wfmctl: device revoke: 404 "
dctl --json device show "$D1"
assert_eq "$(json_get /state "$T/ctl.out")" revoked "show: revoked"

dctl device list
expect_ok "final device list"
# d1 (revoked), d2 (active), d4 (rejected)
assert_eq "$(($(grep -c . "$T/ctl.out") - 1))" 3 "three devices listed"
dctl --json device list
assert_eq "$(json_length /items "$T/ctl.out")" 3 "three devices (--json)"

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
