#!/usr/bin/env bash
# Desired-state serving of wfmd on 127.0.0.1:
#   - GET /device/{id}/desired-state with If-None-Match (304), wrk with keep-alive
#   - GET info/refs and POST git-upload-pack (protocol v2 ls-refs), wrk with keep-alive: the
#     requests of a no-change fetch; and the v2 fetch of one new commit (want main, have its
#     parent, done: a 4-object pack), as bench/peers/git-http-backend.sh sends them
#     (bench/git-requests.sh), measuring the server rather than the git client
#   - git ls-remote and git clone of the device repository by plain git clients,
#     PARALLEL at a time, COUNT operations each (one process and TLS handshake per operation)
# The git clients are those of bench/peers/git-http-backend.sh (same flags, repository shape,
# PARALLEL and COUNT). They trust only the WFM CA: http.sslCAPath names an empty directory, else
# Debian's libcurl-gnutls loads all of /etc/ssl/certs on every operation (~45 ms of CPU, most of
# a client's cost), which would cap any server at the clients' rate.
# Usage: bench/git.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3
#                                         COUNT=200 PARALLEL=4)
# With BENCH_RESULTS=FILE, appends wfmd.desired_304_rps wfmd.git_inforefs_rps
# wfmd.git_lsrefs_rps wfmd.git_fetch1_rps wfmd.git_lsremote_ops wfmd.git_fetch_ops wfmd.git_clone_ops (medians).
COUNT=${COUNT:-200}
PARALLEL=${PARALLEL:-4}
. "$(dirname "$0")/common.sh"

device_onboard bench
id=$(device_client_id bench)
git_credentials_save bench "$T/bench.onboard.json"
deployment_yaml "$(cat /proc/sys/kernel/random/uuid)" bench-app "$T/dep.yaml"
deploy_put "$id" "$(awk '/ id:/ {print $2; exit}' "$T/dep.yaml")" "$T/dep.yaml"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "deploy failed: $HTTP_STATUS"
device_http bench GET "/device/$id/desired-state"
[[ "$HTTP_STATUS" == 200 ]] || e2e_die "desired-state failed: $HTTP_STATUS"
etag=$(http_header ETag)
device_http bench GET "/device/$id/desired-state" -H "If-None-Match: $etag"
[[ "$HTTP_STATUS" == 304 ]] || e2e_die "desired-state with If-None-Match: $HTTP_STATUS, not 304"

printf 'Bearer %s' "$(<"$T/bench.access_token")" >"$T/bench.authz"
printf '%s' "$etag" >"$T/etag"
wrk_script "$T/poll.lua" GET Authorization "$T/bench.authz" If-None-Match "$T/etag"

. "$SRC_DIR/bench/git-requests.sh"
git_client "$T" "$T/bench.git_url" "$T/bench.git_user" "$T/bench.git_token" "$WFM_CA"
git_wrk_scripts "$T" "$T/bench.git_user" "$T/bench.git_token"
git_wrk_check "$(<"$T/bench.git_url")" "$WFM_CA" "$T"
# One clone per parallel client for the no-change fetches.
for ((i = 0; i < PARALLEL; i++)); do
	"$T/gitop" keep "$i" || e2e_die "git clone for the fetch clients failed"
done

git_wrk_fetch1 "$T" "$(git -C "$T/fetch/0" rev-parse HEAD)" "$(git -C "$T/fetch/0" rev-parse HEAD^)"
git_wrk_fetch1_check "$(<"$T/bench.git_url")" "$WFM_CA" "$T"

echo "wfmd desired-state benchmark: $(nproc) cores, median of $RUNS runs" >&2
poll_rps=$(wrk_median "desired-state 304" "$T/poll.lua" "/device/$id/desired-state")
inforefs_rps=$(wrk_median "git info/refs v2" "$T/inforefs.lua" "/git/$id.git/info/refs?service=git-upload-pack")
lsrefs_rps=$(wrk_median "git ls-refs" "$T/lsrefs.lua" "/git/$id.git/git-upload-pack")
fetch1_rps=$(wrk_median "git fetch of one new commit" "$T/fetch1.lua" "/git/$id.git/git-upload-pack")
ls=(); cl=(); fe=()
for ((i = 1; i <= RUNS; i++)); do
	ls+=("$(git_rate "$T" ls-remote)"); echo "  git ls-remote run $i: ${ls[-1]}/s" >&2
	cl+=("$(git_rate "$T" clone)"); echo "  git clone run $i: ${cl[-1]}/s" >&2
	fe+=("$(git_rate "$T" fetch)"); echo "  git fetch (no change) run $i: ${fe[-1]}/s" >&2
done
hwm=$(wfmd_hwm)
ls_med=$(printf '%s\n' "${ls[@]}" | median)
cl_med=$(printf '%s\n' "${cl[@]}" | median)
fe_med=$(printf '%s\n' "${fe[@]}" | median)

printf '| measure | value |\n|---|---|\n'
printf '| GET desired-state with If-None-Match (304), requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$poll_rps"
printf '| git GET info/refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$inforefs_rps"
printf '| git POST git-upload-pack ls-refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$lsrefs_rps"
printf '| git POST git-upload-pack fetch of one new commit (protocol v2, want/have/done, a 4-object pack), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$fetch1_rps"
printf '| git ls-remote, operations/s (%s parallel clients, new TLS connection each) | %s |\n' "$PARALLEL" "$ls_med"
printf '| git clone, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$cl_med"
printf '| git fetch with no change, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$fe_med"
printf '| wfmd peak RSS (VmHWM) | %s KiB |\n' "$hwm"
bench_result wfmd.desired_304_rps "$poll_rps"
bench_result wfmd.git_inforefs_rps "$inforefs_rps"
bench_result wfmd.git_lsrefs_rps "$lsrefs_rps"
bench_result wfmd.git_fetch1_rps "$fetch1_rps"
bench_result wfmd.git_lsremote_ops "$ls_med"
bench_result wfmd.git_fetch_ops "$fe_med"
bench_result wfmd.git_clone_ops "$cl_med"
wfmd_stop
