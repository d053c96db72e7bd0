#!/usr/bin/env bash
# Desired-state serving of wfmd on 127.0.0.1:
#   - GET /device/{id}/desired-state with If-None-Match (304), wrk with keep-alive
#   - GET info/refs and POST git-upload-pack (protocol v2 ls-refs), wrk with keep-alive: the
#     requests of a no-change fetch, as bench/peers/git-http-backend.sh sends them
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
# wfmd.git_lsrefs_rps wfmd.git_lsremote_ops wfmd.git_fetch_ops wfmd.git_clone_ops (medians).
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

# One plain git operation as the device, credentials from files through GIT_ASKPASS.
cat >"$T/askpass" <<'EOS'
#!/bin/sh
case "$1" in
Username*) cat "$BENCH_GIT_USER_FILE"; echo ;;
Password*) cat "$BENCH_GIT_TOKEN_FILE"; echo ;;
esac
EOS
chmod 700 "$T/askpass"
mkdir -p "$T/capath"
cat >"$T/gitop" <<EOS
#!/bin/sh
# gitop ls-remote|clone|keep|fetch N   (keep: clone into fetch/N; fetch uses the clone of
# its xargs slot, \$SLOT)
export HOME="$T" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_ASKPASS="$T/askpass"
export BENCH_GIT_USER_FILE="$T/bench.git_user" BENCH_GIT_TOKEN_FILE="$T/bench.git_token"
unset GIT_SSL_CAINFO
url=\$(cat "$T/bench.git_url")
case "\$1" in
ls-remote) exec git -c http.sslCAPath="$T/capath" -c http.sslCAInfo="$WFM_CA" ls-remote "\$url" >/dev/null ;;
clone) d="$T/clones/\$2"; git -c http.sslCAPath="$T/capath" -c http.sslCAInfo="$WFM_CA" clone -q "\$url" "\$d" && rm -rf "\$d" ;;
keep) exec git -c http.sslCAPath="$T/capath" -c http.sslCAInfo="$WFM_CA" clone -q "\$url" "$T/fetch/\$2" ;;
fetch) exec git -C "$T/fetch/\$SLOT" -c http.sslCAPath="$T/capath" -c http.sslCAInfo="$WFM_CA" fetch -q origin ;;
esac
EOS
chmod 700 "$T/gitop"
. "$SRC_DIR/bench/git-requests.sh"
git_wrk_scripts "$T" "$T/bench.git_user" "$T/bench.git_token"
git_wrk_check "$(<"$T/bench.git_url")" "$WFM_CA" "$T"
mkdir -p "$T/clones" "$T/fetch"
# One clone per parallel client for the no-change fetches.
for ((i = 0; i < PARALLEL; i++)); do
	"$T/gitop" keep "$i" || e2e_die "git clone for the fetch clients failed"
done

gitrate() {
	local op=$1 start end
	start=$(date +%s.%N)
	seq 1 "$COUNT" | xargs -P "$PARALLEL" --process-slot-var=SLOT -I{} "$T/gitop" "$op" {} \
		|| e2e_die "git $op failed"
	end=$(date +%s.%N)
	awk -v n="$COUNT" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f\n", n / (e - s)}'
}

echo "wfmd desired-state benchmark: $(nproc) cores, median of $RUNS runs" >&2
poll_rps=$(wrk_median "desired-state 304" "$T/poll.lua" "/device/$id/desired-state")
inforefs_rps=$(wrk_median "git info/refs v2" "$T/inforefs.lua" "/git/$id.git/info/refs?service=git-upload-pack")
lsrefs_rps=$(wrk_median "git ls-refs" "$T/lsrefs.lua" "/git/$id.git/git-upload-pack")
ls=(); cl=(); fe=()
for ((i = 1; i <= RUNS; i++)); do
	ls+=("$(gitrate ls-remote)"); echo "  git ls-remote run $i: ${ls[-1]}/s" >&2
	cl+=("$(gitrate clone)"); echo "  git clone run $i: ${cl[-1]}/s" >&2
	fe+=("$(gitrate fetch)"); echo "  git fetch (no change) run $i: ${fe[-1]}/s" >&2
done
hwm=$(wfmd_hwm)
ls_med=$(printf '%s\n' "${ls[@]}" | median)
cl_med=$(printf '%s\n' "${cl[@]}" | median)
fe_med=$(printf '%s\n' "${fe[@]}" | median)

printf '| measure | value |\n|---|---|\n'
printf '| GET desired-state with If-None-Match (304), requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$poll_rps"
printf '| git GET info/refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$inforefs_rps"
printf '| git POST git-upload-pack ls-refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$lsrefs_rps"
printf '| git ls-remote, operations/s (%s parallel clients, new TLS connection each) | %s |\n' "$PARALLEL" "$ls_med"
printf '| git clone, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$cl_med"
printf '| git fetch with no change, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$fe_med"
printf '| wfmd peak RSS (VmHWM) | %s KiB |\n' "$hwm"
bench_result wfmd.desired_304_rps "$poll_rps"
bench_result wfmd.git_inforefs_rps "$inforefs_rps"
bench_result wfmd.git_lsrefs_rps "$lsrefs_rps"
bench_result wfmd.git_lsremote_ops "$ls_med"
bench_result wfmd.git_fetch_ops "$fe_med"
bench_result wfmd.git_clone_ops "$cl_med"
wfmd_stop
