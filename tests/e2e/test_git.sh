#!/usr/bin/env bash
# Desired state over Git (issue 4; API.md sections 4 and 5, COMMON.md "Issue 4 contract"):
# git fields of the OnboardingResponse, a plain `git clone` with the issued credentials,
# read-only smart HTTP (push 403), one repository per token, nothing outside
# /git/<deviceId>.git, git token rotation (overlapping, at most 3 live), expiry, revocation,
# desired-state with ETag/304, and deployments through the admin API (one commit per change,
# the contract's messages, 422 naming the field).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
GIT_TOKEN_RE='^wfmgt_[A-Za-z0-9_-]{43}$'
COMMITTER='margo-fleet WFM <wfm@margo-fleet.invalid>'
YAML=(-H 'Content-Type: application/yaml')

# git_basic_header NAME OUT [TOKEN_FILE]: "Authorization: Basic base64(user:token)" in a file.
git_basic_header() {
	local tok=${3:-$T/$1.git_token}
	printf '%s:%s' "$(<"$T/$1.git_user")" "$(<"$tok")" | base64 -w0 >"$T/$1.b64"
	printf 'Authorization: Basic %s\n' "$(<"$T/$1.b64")" >"$2"
}

# refs_status NAME_OR_- REPO_ID [HEADER_FILE]: GET info/refs?service=git-upload-pack; leaves HTTP_*.
refs_get() {
	local hdr=${2:-}
	if [[ -n "$hdr" ]]; then
		http GET "/git/$1.git/info/refs?service=git-upload-pack" -H "@$hdr"
	else
		http GET "/git/$1.git/info/refs?service=git-upload-pack"
	fi
}

# commit_count DIR: commits on the checked-out branch.
commit_count() { git -C "$1" rev-list --count HEAD 2>/dev/null || echo 0; }

e2e_setup
wfmd_start
e2e_require_bin "$(command -v git)"

e2e_step "the OnboardingResponse carries the git fields"
device_onboard a
A=$(device_client_id a)
F=$T/a.onboard.json
assert_json /gitRepositoryUrl "$WFM_URL/git/$A.git" "$F"
assert_json /gitBranch main "$F"
assert_json /gitUsername "svc-device-$A" "$F"
assert_json_match /gitAccessToken "$GIT_TOKEN_RE" "$F"
assert_json_match /gitAccessTokenExpiresAt "$TIME_RE" "$F"
assert_json /gitCredentialsUrl "$WFM_URL/device/$A/git-credentials" "$F"
exp=$(date -u -d "$(json_get /gitAccessTokenExpiresAt "$F")" +%s) || exp=0
now=$(date -u +%s)
assert_true "the git token lives about an hour ($((exp - now)) s)" test $((exp - now)) -ge 3500 -a $((exp - now)) -le 3700
git_credentials_save a "$F"
cp "$T/a.git_token" "$T/a.git_token0"
device_onboard b
B=$(device_client_id b)
git_credentials_save b "$T/b.onboard.json"
desired_export "$A" "$T/server-a.git"
assert_true "the repository exists in the database" git --git-dir="$T/server-a.git" rev-parse --verify -q main
assert_false "no file per device in the data dir" test -e "$WFM_DIR/repos"

e2e_step "a plain git clone with the issued credentials"
assert_true "git clone succeeds" git_as a clone "$(<"$T/a.git_url")" "$T/clone-a"
if [[ ! -d "$T/clone-a/.git" ]]; then
	sed 's/^/#   git: /' "$T/git.out" >&2
fi
assert_eq "$(git -C "$T/clone-a" rev-parse --abbrev-ref HEAD 2>&1)" main "branch main is checked out"
assert_eq "$(commit_count "$T/clone-a")" 1 "one commit"
assert_eq "$(git -C "$T/clone-a" log -1 --format=%s 2>&1)" "Initialise desired state" "first commit message"
assert_eq "$(git -C "$T/clone-a" log -1 --format='%an <%ae>' 2>&1)" "$COMMITTER" "author"
assert_eq "$(git -C "$T/clone-a" log -1 --format='%cn <%ce>' 2>&1)" "$COMMITTER" "committer"
assert_eq "$(git -C "$T/clone-a" ls-tree -r HEAD | wc -l)" 0 "an empty tree"
assert_true "git ls-remote succeeds" git_as a ls-remote "$(<"$T/a.git_url")"
REV0=$(awk '$2 == "refs/heads/main" {print $1}' "$T/git.out")
assert_eq "$REV0" "$(git -C "$T/clone-a" rev-parse HEAD)" "ls-remote shows main at the cloned commit"
rc=0
env -u GIT_SSL_CAINFO GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME="$T/githome" timeout 30 git \
	-c http.sslCAInfo=/etc/ssl/certs/ca-certificates.crt ls-remote "$(<"$T/a.git_url")" >"$T/noca.out" 2>&1 || rc=$?
assert_ne "$rc" 0 "without the WFM CA git refuses the server"
assert_true "because of the certificate" grep -Eqi 'certificate|SSL' "$T/noca.out"

e2e_step "smart HTTP authentication"
refs_get "$A"
assert_status 401 "info/refs without credentials -> 401"
assert_header WWW-Authenticate '^Basic realm="margo-fleet git"'
git_basic_header a "$T/a.gitbasic.hdr"
refs_get "$A" "$T/a.gitbasic.hdr"
assert_status 200 "Basic svc-device-<id> + git token -> 200"
assert_content_type application/x-git-upload-pack-advertisement
bearer_header "$T/a.git_token" "$T/a.gitbearer.hdr"
refs_get "$A" "$T/a.gitbearer.hdr"
assert_status 200 "Bearer git token -> 200"
refs_get "$A" "$T/a.bearer.hdr"
assert_status 401 "the device's OAuth access token is not a git token"
printf 'svc-device-%s:%s' "$B" "$(<"$T/a.git_token")" | base64 -w0 >"$T/a.wronguser.b64"
printf 'Authorization: Basic %s\n' "$(<"$T/a.wronguser.b64")" >"$T/a.wronguser.hdr"
refs_get "$A" "$T/a.wronguser.hdr"
assert_status 401 "a's token with b's user name -> 401"
http GET "/device/$A/capabilities" -H "@$T/a.gitbearer.hdr"
assert_problem 401

e2e_step "read-only: push refused with 403"
http GET "/git/$A.git/info/refs?service=git-receive-pack" -H "@$T/a.gitbasic.hdr"
assert_status 403 "info/refs?service=git-receive-pack -> 403"
http POST "/git/$A.git/git-receive-pack" -H "@$T/a.gitbasic.hdr" -H 'Content-Type: application/x-git-receive-pack-request' \
	--data-binary '0000'
assert_status 403 "POST git-receive-pack -> 403"
git -C "$T/clone-a" -c user.name=x -c user.email=x@x commit -q --allow-empty -m "device push attempt"
assert_false "git push fails" git_as a -C "$T/clone-a" push origin main
assert_true "git reports the refusal" grep -Eqi '403|denied|forbidden|not allowed|unable' "$T/git.out"
git -C "$T/clone-a" reset -q --hard HEAD~1
git_as a ls-remote "$(<"$T/a.git_url")" || true
assert_eq "$(awk '$2 == "refs/heads/main" {print $1}' "$T/git.out")" "$REV0" "main did not move"

e2e_step "a token works only for its own repository"
assert_false "b cannot clone a's repository with its own credentials" \
	git_as b clone "$(<"$T/a.git_url")" "$T/clone-ab"
git_basic_header b "$T/b.gitbasic.hdr"
# docs/wfmd.md: "Tokens are bound to one device's repository (another repository: 403)"
refs_get "$A" "$T/b.gitbasic.hdr"
assert_problem 403
bearer_header "$T/b.git_token" "$T/b.gitbearer.hdr"
refs_get "$A" "$T/b.gitbearer.hdr"
assert_problem 403
http POST "/git/$A.git/git-upload-pack" -H "@$T/b.gitbearer.hdr" -H 'Content-Type: application/x-git-upload-pack-request' \
	--data-binary '0000'
assert_problem 403
refs_get "$B" "$T/b.gitbasic.hdr"
assert_status 200 "b's credentials on b's repository -> 200"

e2e_step "nothing outside /git/<deviceId>.git"
# The contract: only info/refs?service=git-upload-pack and POST git-upload-pack are served,
# git-receive-pack is 403, anything else under /git is 404 (with valid credentials).
for p in "/git/$A.git/HEAD" "/git/$A.git/config" "/git/$A.git/objects/info/packs" \
	"/git/$A.git/info/refs" "/git/$A.git/info/refs?service=git-upload-archive" "/git/$A.git" "/git/" \
	"/git/$A/info/refs?service=git-upload-pack"; do
	http GET "$p" -H "@$T/a.gitbasic.hdr"
	assert_problem 404
done
http GET "/git/$A.git/git-upload-pack" -H "@$T/a.gitbasic.hdr"
assert_problem 405
assert_header Allow POST
for p in "/git/$A.git/../$B.git/info/refs?service=git-upload-pack" \
	"/git/..%2F$B.git/info/refs?service=git-upload-pack" "/git/$A.git/..%2F..%2Fwfmd.db" \
	"/git/%2e%2e/%2e%2e/ca.key" "/git/../admin.token" "/git/$A.git/%2e%2e/%2e%2e/ca.key" \
	"/git/$A.git/../../ca.key" "/git/$A.git/%2F..%2F..%2Fserver.key"; do
	http GET "$p" --path-as-is -H "@$T/a.gitbasic.hdr"
	assert_match "$HTTP_STATUS" '^(400|404)$' "GET $p -> $HTTP_STATUS"
	assert_false "GET $p leaks no key or database" grep -aq -e 'PRIVATE KEY' -e 'SQLite format' -e 'wfmadm_' "$HTTP_BODY_FILE"
done
http GET "/git/00000000-0000-4000-8000-000000000000.git/info/refs?service=git-upload-pack" -H "@$T/a.gitbasic.hdr"
assert_match "$HTTP_STATUS" '^(401|403|404)$' "an unknown repository -> $HTTP_STATUS"

e2e_step "desired-state: revision, ETag, 304"
device_http a GET "/device/$A/desired-state"
assert_status 200 "GET desired-state -> 200"
assert_content_type application/json
assert_json /gitRepositoryUrl "$WFM_URL/git/$A.git"
assert_json /gitBranch main
assert_json /revision "$REV0"
assert_header ETag "^\"$REV0\"\$"
printf 'If-None-Match: "%s"\n' "$REV0" >"$T/inm.hdr"
device_http a GET "/device/$A/desired-state" -H "@$T/inm.hdr"
assert_status 304 "If-None-Match with the current ETag -> 304"
assert_eq "$(wc -c <"$HTTP_BODY_FILE")" 0 "304 has no body"
assert_header ETag "^\"$REV0\"\$"
device_http a GET "/device/$A/desired-state" -H 'If-None-Match: "0000000000000000000000000000000000000000"'
assert_status 200 "another ETag -> 200"
device_http a GET "/device/$A/desired-state" -H 'If-None-Match: *'
assert_status 304 "If-None-Match: * -> 304"
http POST "/git/$A.git/git-upload-pack" -H "@$T/a.gitbasic.hdr" -H 'Content-Type: text/plain' --data-binary '0000'
assert_problem 415
device_http b GET "/device/$A/desired-state"
assert_problem 403
http GET "/device/$A/desired-state"
assert_problem 401

e2e_step "deploy: one commit, the contract's message, the agent's file"
DEP=7d2c1f0e-5a4b-4c3d-9e8f-112233445566
deployment_yaml "$DEP" dashboard "$T/dep1.yaml"
deploy_put "$A" "$DEP" "$T/dep1.yaml"
assert_status 201 "PUT a new deployment -> 201"
assert_json /deploymentId "$DEP"
assert_json /name dashboard
assert_json /applicationId com.example.dashboard
assert_json_match /revision '^[0-9a-f]{40}$'
REV1=$(json_get /revision)
assert_ne "$REV1" "$REV0" "a new revision"
device_http a GET "/device/$A/desired-state" -H "@$T/inm.hdr"
assert_status 200 "the old ETag no longer matches"
assert_json /revision "$REV1"
assert_true "git pull succeeds" git_as a -C "$T/clone-a" pull --ff-only -q origin main
assert_eq "$(git -C "$T/clone-a" rev-parse HEAD)" "$REV1" "main is at the new revision"
assert_eq "$(commit_count "$T/clone-a")" 2 "one commit more"
assert_eq "$(git -C "$T/clone-a" log -1 --format=%s)" "Deploy $DEP (dashboard)" "commit message"
assert_eq "$(git -C "$T/clone-a" log -1 --format='%an <%ae>')" "$COMMITTER" "author"
assert_true "deployments/$DEP.yaml exists" test -f "$T/clone-a/deployments/$DEP.yaml"
assert_eq "$(git -C "$T/clone-a" ls-tree -r --name-only HEAD)" "deployments/$DEP.yaml" "the only file"
assert_true "the file is the ApplicationDeployment" grep -q 'kind: ApplicationDeployment' "$T/clone-a/deployments/$DEP.yaml"
assert_true "with metadata.annotations.id" grep -Eq "id: \"?$DEP\"?" "$T/clone-a/deployments/$DEP.yaml"
deploy_list "$A"
assert_status 200 "GET deployments -> 200"
assert_json /items/0/deploymentId "$DEP"
assert_json /items/0/name dashboard
assert_json /items/0/applicationId com.example.dashboard
assert_json /items/0/state null
assert_eq "$(json_length /items)" 1 "one deployment listed"
deploy_list "$B"
assert_eq "$(json_length /items)" 0 "b has none"

e2e_step "change: 200, an Update commit; the id comes from the route"
deployment_yaml "something-else" dashboard "$T/dep2.yaml" helm 2.0.0
deploy_put "$A" "$DEP" "$T/dep2.yaml" text/yaml
assert_status 200 "PUT over an existing deployment -> 200"
assert_json /deploymentId "$DEP"
REV2=$(json_get /revision)
git_as a -C "$T/clone-a" pull --ff-only -q origin main || true
assert_eq "$(git -C "$T/clone-a" rev-parse HEAD)" "$REV2" "main is at the update"
assert_eq "$(git -C "$T/clone-a" log -1 --format=%s)" "Update $DEP (dashboard)" "commit message"
assert_true "the new revision is in the file" grep -q '2.0.0' "$T/clone-a/deployments/$DEP.yaml"
assert_true "metadata.annotations.id was set to the route's id" grep -Eq "id: \"?$DEP\"?" "$T/clone-a/deployments/$DEP.yaml"
assert_false "the document's own id is gone" grep -q 'something-else' "$T/clone-a/deployments/$DEP.yaml"
deployment_yaml "$DEP" dashboard "$T/dep2b.yaml" helm 3.0.0
deploy_put "$A" "$DEP" "$T/dep2b.yaml" application/x-yaml
assert_status 200 "application/x-yaml accepted, another update -> 200"
REV3=$(json_get /revision)
deploy_put "$A" "$DEP" "$T/dep2b.yaml"
assert_status 200 "the same document again -> 200"
assert_json /revision "$REV3"
DEP2=compose-1
deployment_yaml "$DEP2" sensor "$T/dep3.yaml" compose
deploy_put "$A" "$DEP2" "$T/dep3.yaml"
assert_status 201 "a second (compose) deployment -> 201"

e2e_step "device status shows in the list"
cat >"$T/st.json" <<EOF
{"apiVersion": "deployment.margo/v1", "kind": "DeploymentStatus", "deploymentId": "$DEP",
 "status": {"state": "Failed", "error": {"code": "APPLY_FAILED", "message": "chart not found"}},
 "components": [{"name": "web", "state": "Failed", "error": {"code": "APPLY_FAILED", "message": "chart not found"}}]}
EOF
device_http a POST "/device/$A/deployment/$DEP/status" -H 'Content-Type: application/json' --data-binary "@$T/st.json"
assert_status 201 "status report -> 201"
deploy_list "$A"
i=$(json_index /items deploymentId "$DEP") || true
assert_json "/items/$i/state" Failed
assert_json "/items/$i/error/code" APPLY_FAILED
assert_json "/items/$i/error/message" "chart not found"
assert_json_match "/items/$i/updatedAt" "$TIME_RE"

e2e_step "undeploy: 204, an Undeploy commit, the file removed"
deploy_delete "$A" "$DEP"
assert_status 204 "DELETE deployment -> 204"
deploy_delete "$A" "$DEP"
assert_problem 404
git_as a -C "$T/clone-a" pull --ff-only -q origin main || true
assert_eq "$(git -C "$T/clone-a" log -1 --format=%s)" "Undeploy $DEP" "commit message"
assert_false "the file is gone" test -e "$T/clone-a/deployments/$DEP.yaml"
assert_true "the other deployment stays" test -f "$T/clone-a/deployments/$DEP2.yaml"
n=$(commit_count "$T/clone-a")
assert_eq "$n" 6 "6 commits: initialise, deploy, update, update (x-yaml), deploy, undeploy (the identical PUT made none)"
deploy_list "$A"
assert_eq "$(json_length /items)" 1 "one deployment left"

e2e_step "wfmd's own git answers: advertisements, and ls-refs as upload-pack gives them"
# wfmd serves git itself (no git process): the advertisements list what wfmd implements, the
# references as upload-pack would list them for the same repository; v2 ls-refs is byte for
# byte upload-pack's (after deploy, update and undeploy).
# upload_pack PROTOCOL ARGS...: git upload-pack --stateless-rpc ARGS (PROTOCOL "" for v0).
upload_pack() {
	local proto=$1
	shift
	env -i PATH="$PATH" HOME=/nonexistent LC_ALL=C GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
		${proto:+GIT_PROTOCOL=$proto} git upload-pack --strict --stateless-rpc "$@"
}
pkt() { printf '%04x%s\n' $((${#1} + 5)) "$1"; }
ls_refs_body() {
	pkt command=ls-refs
	pkt agent=git/2.39.5
	pkt object-format=sha1
	printf '0001'
	for a in "$@"; do pkt "$a"; done
	printf '0000'
}
REPO_A=$T/server-a.git
desired_export "$A" "$REPO_A"
WFMD_VERSION=$("$WFMD_BIN" --version | awk '{print $2}')
MAIN_A=$(git --git-dir="$REPO_A" rev-parse refs/heads/main)
CAPS_V0="multi_ack_detailed no-done side-band side-band-64k shallow deepen-since deepen-not deepen-relative no-progress symref=HEAD:refs/heads/main object-format=sha1 agent=wfmd/"
refs_get "$A" "$T/a.gitbasic.hdr"
assert_status 200 "v0 info/refs -> 200"
cp "$HTTP_BODY_FILE" "$T/adv.v0"
assert_eq "$(head -c 34 "$T/adv.v0")" "001e# service=git-upload-pack
0000" "the smart HTTP service announcement first"
assert_true "HEAD at main with wfmd's capabilities" grep -aq "$MAIN_A HEAD.$CAPS_V0" "$T/adv.v0"
assert_true "then refs/heads/main" grep -aq "^003d$MAIN_A refs/heads/main\$" "$T/adv.v0"
assert_eq "$(tail -c 4 "$T/adv.v0")" 0000 "a flush ends it"
# every capability wfmd names is one git's own upload-pack offers too
upload_pack "" --advertise-refs "$REPO_A" | tr '\0' '\n' | sed -n 2p | tr ' ' '\n' | sed 's/=.*//' >"$T/git.caps"
for c in $(printf '%s' "$CAPS_V0" | tr ' ' '\n' | sed 's/=.*//'); do
	assert_true "capability $c is one git defines" grep -qx "$c" "$T/git.caps"
done
http GET "/git/$A.git/info/refs?service=git-upload-pack" -H "@$T/a.gitbasic.hdr" -H 'Git-Protocol: version=2'
assert_status 200 "v2 info/refs -> 200"
printf '000eversion 2\n%04xagent=wfmd/%s\n0013ls-refs=unborn\n0012fetch=shallow\n0012server-option\n0017object-format=sha1\n0000' \
	$((4 + 11 + ${#WFMD_VERSION} + 1)) "$WFMD_VERSION" >"$T/want.v2"
assert_true "v2: version 2, ls-refs=unborn, fetch=shallow, server-option, sha1" cmp "$HTTP_BODY_FILE" "$T/want.v2"
i=0
for args in "" "peel symrefs unborn" "symrefs ref-prefix HEAD ref-prefix refs/heads/" \
	"ref-prefix refs/tags/" "peel ref-prefix refs/heads/main"; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # "ref-prefix X" pairs are re-joined below
	set -- $args
	a=()
	while [[ $# -gt 0 ]]; do
		if [[ "$1" == ref-prefix ]]; then a+=("ref-prefix $2"); shift 2; else a+=("$1"); shift; fi
	done
	ls_refs_body "${a[@]}" >"$T/ls$i.req"
	upload_pack version=2 "$REPO_A" <"$T/ls$i.req" >"$T/ls$i.want"
	http POST "/git/$A.git/git-upload-pack" -H "@$T/a.gitbasic.hdr" -H 'Git-Protocol: version=2' \
		-H 'Content-Type: application/x-git-upload-pack-request' --data-binary "@$T/ls$i.req"
	assert_status 200 "ls-refs ($args) -> 200"
	assert_true "ls-refs ($args) equals upload-pack's" cmp "$HTTP_BODY_FILE" "$T/ls$i.want"
done
assert_true "ls-refs names main at the current revision" grep -aq "$(git -C "$T/clone-a" rev-parse HEAD) refs/heads/main" "$T/ls1.want"

e2e_step "bad deployments: 422 naming the field, 415, 404, 413"
sed '/^  name: dashboard/d' "$T/dep1.yaml" >"$T/noname.yaml"
deploy_put "$A" "$DEP" "$T/noname.yaml"
assert_problem 422
assert_json /errors/0/field /metadata/name
sed 's/type: helm.v3/type: docker-run/' "$T/dep1.yaml" >"$T/badtype.yaml"
deploy_put "$A" "$DEP" "$T/badtype.yaml"
assert_problem 422
assert_json /errors/0/field /spec/deploymentProfile/type
sed 's/kind: ApplicationDeployment/kind: Deployment/' "$T/dep1.yaml" >"$T/badkind.yaml"
deploy_put "$A" "$DEP" "$T/badkind.yaml"
assert_problem 422
assert_json /errors/0/field /kind
sed 's/components: \[web\]/components: [nosuch]/' "$T/dep1.yaml" >"$T/badtarget.yaml"
deploy_put "$A" "$DEP" "$T/badtarget.yaml"
assert_problem 422
assert_json_match /errors/0/field '^/spec/parameters/replicas/targets/0/components'
printf 'apiVersion: [unclosed\n' >"$T/syntax.yaml"
deploy_put "$A" "$DEP" "$T/syntax.yaml"
assert_problem 422
deploy_put "$A" "$DEP" "$T/dep1.yaml" application/json
assert_problem 415
deploy_put 00000000-0000-4000-8000-000000000000 "$DEP" "$T/dep1.yaml"
assert_problem 404
deploy_put "$A" ".hidden" "$T/dep1.yaml"
assert_match "$HTTP_STATUS" '^(400|404|422)$' "a deployment id starting with '.' is refused ($HTTP_STATUS)"
{
	cat "$T/dep1.yaml"
	printf '# %s\n' "$(head -c 1100000 /dev/zero | tr '\0' 'x')"
} >"$T/huge.yaml"
deploy_put "$A" "$DEP" "$T/huge.yaml"
assert_problem 413
git_as a -C "$T/clone-a" pull --ff-only -q origin main || true
assert_eq "$(commit_count "$T/clone-a")" "$n" "refused documents made no commit"
http PUT "/admin/v1/devices/$A/deployments/$DEP" "${YAML[@]}" --data-binary "@$T/dep1.yaml"
assert_problem 401

device_new waiting
onboard_request waiting
assert_status 202 "a device waiting for approval"
deploy_put "$(device_admin_lookup waiting id)" "$DEP" "$T/dep1.yaml"
assert_problem 409

e2e_step "git tokens rotate: overlapping, at most 3 live"
for i in 1 2 3; do
	git_credentials a
	assert_status 201 "POST git-credentials ($i) -> 201"
	assert_content_type application/json
	assert_header Cache-Control no-store
	assert_json /gitRepositoryUrl "$WFM_URL/git/$A.git"
	assert_json /gitBranch main
	assert_json /gitUsername "svc-device-$A"
	assert_json_match /gitAccessToken "$GIT_TOKEN_RE"
	assert_json_match /gitAccessTokenExpiresAt "$TIME_RE"
	cp "$T/a.git_token" "$T/a.git_token$i"
	sleep 1.1 # distinct issue times, so "oldest" is well defined
done
assert_ne "$(<"$T/a.git_token1")" "$(<"$T/a.git_token2")" "each rotation issues a new token"
for i in 1 2 3; do
	assert_true "token $i of the last 3 works" git_as a --token-file "$T/a.git_token$i" ls-remote "$(<"$T/a.git_url")"
done
assert_false "the onboarding token (4th newest) was dropped" \
	git_as a --token-file "$T/a.git_token0" ls-remote "$(<"$T/a.git_url")"
git_basic_header a "$T/a.old.hdr" "$T/a.git_token0"
refs_get "$A" "$T/a.old.hdr"
assert_status 401 "the dropped token -> 401"
assert_header WWW-Authenticate '^Basic realm="margo-fleet git"'
http POST "/device/$A/git-credentials"
assert_problem 401
device_http b POST "/device/$A/git-credentials"
assert_problem 403

e2e_step "an expired git token is refused"
# 8 s: long enough for one ls-remote on a loaded machine under ASan, short for the test
wfmd_restart --git-token-ttl 8
git_credentials a
assert_status 201
exp=$(date -u -d "$(json_get /gitAccessTokenExpiresAt)" +%s) || exp=0
assert_true "expires in about 8 s" test $((exp - $(date -u +%s))) -le 9
cp "$T/a.git_token" "$T/a.short_token"
assert_true "the short-lived token works at once" git_as a --token-file "$T/a.short_token" ls-remote "$(<"$T/a.git_url")"
while (($(date -u +%s) <= exp)); do sleep 1; done
assert_false "after its lifetime git is refused" git_as a --token-file "$T/a.short_token" ls-remote "$(<"$T/a.git_url")"
git_basic_header a "$T/a.short.hdr" "$T/a.short_token"
refs_get "$A" "$T/a.short.hdr"
assert_status 401 "expired -> 401"
assert_header WWW-Authenticate '^Basic realm="margo-fleet git"'
wfmd_restart --git-token-ttl 3600
assert_true "tokens from before the restarts still work" \
	git_as a --token-file "$T/a.git_token3" ls-remote "$(<"$T/a.git_url")"

e2e_step "re-onboarding keeps the repository; older git tokens are revoked"
device_onboard c
C=$(device_client_id c)
git_credentials_save c "$T/c.onboard.json"
cp "$T/c.git_token" "$T/c.git_token_old"
deployment_yaml keep-me keeper "$T/keep.yaml" compose
deploy_put "$C" keep-me "$T/keep.yaml"
assert_status 201 "deploy to c"
enrollment_token_create --auto-approve
onboard_request c --token-file "$ENROLL_TOKEN_FILE"
assert_status 201 "c onboards again with a new token"
assert_json /clientId "$C"
assert_json /gitRepositoryUrl "$WFM_URL/git/$C.git"
git_credentials_save c "$T/c.onboard.json"
assert_ne "$(<"$T/c.git_token")" "$(<"$T/c.git_token_old")" "a new git token"
assert_false "the old git token is revoked" git_as c --token-file "$T/c.git_token_old" ls-remote "$(<"$T/c.git_url")"
assert_true "the new git token clones the same repository" git_as c clone "$(<"$T/c.git_url")" "$T/clone-c"
assert_true "with the deployment made before" test -f "$T/clone-c/deployments/keep-me.yaml"

e2e_step "a revoked device's git tokens are dead; others unaffected"
admin_http DELETE "/admin/v1/devices/$A"
assert_status 200 "revoke a"
assert_false "git is refused after revocation" git_as a --token-file "$T/a.git_token3" ls-remote "$(<"$T/a.git_url")"
git_basic_header a "$T/a.rev.hdr" "$T/a.git_token3"
refs_get "$A" "$T/a.rev.hdr"
assert_status 401 "revoked -> 401"
deploy_put "$A" "$DEP" "$T/dep1.yaml"
assert_problem 409
assert_true "b still clones its repository" git_as b clone "$(<"$T/b.git_url")" "$T/clone-b"
assert_eq "$(git -C "$T/clone-b" log -1 --format=%s 2>&1)" "Initialise desired state" "b's repository is its own"

assert_no_secrets_in "$WFMD_LOG"
wfmd_stop
e2e_finish
