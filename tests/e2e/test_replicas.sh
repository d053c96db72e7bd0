#!/usr/bin/env bash
# Two wfmd replicas of one WFM behind HAProxy, sharing one store and one `wfmd init` seed
# (issue 10): what one replica issues is valid on the other, what one changes the other sees
# at the next request. A device onboards through HAProxy; its access token works on both
# replicas; git credentials issued by one let plain git fetch from the other; a deploy made
# through one moves the desired state (ETag, Git ref) on both; a revocation through one is
# refused by the other at once, for the access token and the git token alike.
# The store is shared the way REPLICA_STORE says: unset, the second replica's wfmd.db is a
# symbolic link to the first's (one SQLite database, two processes); a postgresql:// URL
# gives both `--store URL` instead.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

[[ -x "$HAPROXY_BIN" ]] || { echo "SKIP: haproxy not installed (scripts/install-deps)" >&2; exit 77; }
e2e_setup
HA_PORT=$(ha_free_port)
ha_seed "https://$HA_NAME:$HA_PORT"
ha_replicas_shared 2
haproxy_start
# lib.sh's helpers, through HAProxy unless `via N` sends them to replica N.
WFM_URL=https://$HA_NAME:$HA_PORT WFM_CA=$HA_CA WFM_ADMIN_HDR=$T/admin.hdr
via() {
	local addr_var=HA_ADDR_$1
	WFM_CURL_OPTS=(--connect-to "::${!addr_var}")
}
via_haproxy() { WFM_CURL_OPTS=(--connect-to "::127.0.0.1:$HA_PORT"); }
via_haproxy

e2e_step "a device onboards through HAProxy"
device_onboard dev
ID=$(device_client_id dev)
assert_true "it has a client id" test -n "$ID"

e2e_step "its access token works on both replicas, with the same desired state"
for n in 1 2; do
	via "$n"
	device_http dev GET "/device/$ID/desired-state"
	assert_status 200 "desired state on replica $n"
	etag[$n]=$(http_header ETag)
done
assert_eq "${etag[1]}" "${etag[2]}" "the same ETag on both"

e2e_step "git credentials from replica 1 fetch from replica 2"
via 1
git_credentials dev
assert_status 201 "git credentials issued by replica 1"
GIT2="https://$HA_ADDR_2/git/$ID.git"
git_as dev ls-remote "$GIT2" refs/heads/main
assert_true "git ls-remote on replica 2 ($(head -c 200 "$T/git.out"))" grep -q 'refs/heads/main' "$T/git.out"
rev_before=$(awk '{print $1}' "$T/git.out")

e2e_step "a deploy through replica 2 moves the desired state on both"
via 2
deployment_yaml app app "$T/app.yaml" compose
deploy_put "$ID" app "$T/app.yaml"
assert_status_any "200 201" "deploy through replica 2"
for n in 1 2; do
	via "$n"
	device_http dev GET "/device/$ID/desired-state" -H "If-None-Match: ${etag[1]}"
	assert_status 200 "replica $n: the old ETag is stale"
	etag2[$n]=$(http_header ETag)
done
assert_eq "${etag2[1]}" "${etag2[2]}" "the same new ETag on both"
git_as dev ls-remote "https://$HA_ADDR_1/git/$ID.git" refs/heads/main
rev_after=$(awk '{print $1}' "$T/git.out")
assert_ne "$rev_after" "$rev_before" "replica 1's git ref moved with the deploy on replica 2"

e2e_step "a revocation through replica 1 is refused by replica 2 at once"
via 1
admin_http DELETE "/admin/v1/devices/$ID"
assert_status_any "200 204" "revoked through replica 1"
via 2
device_http dev GET "/device/$ID/desired-state"
assert_status 401 "replica 2 refuses the access token"
git_as dev ls-remote "$GIT2" && rc=0 || rc=$?
assert_ne "$rc" 0 "replica 2 refuses the git token"
assert_true "with an authentication failure" grep -qiE '401|Authentication failed' "$T/git.out"
e2e_finish
