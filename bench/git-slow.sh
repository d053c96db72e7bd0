#!/usr/bin/env bash
# Slow Git clients against wfmd (issue 14's gap: "a slow Git client can hold a worker"): a
# device repository with a large pack (4 deployments of ~700 KB of incompressible text), N
# clients cloning it at 1 KiB/s each (bench/slow-git-client.py: each holds a connection while
# wfmd streams its pack), and meanwhile the wrk load of a no-change fetch (ls-refs, keep-alive) and
# of desired-state 304s by other clients: their requests/s and p99 with 0, 16, 64 and 256 slow
# clients, wfmd's RSS. Then one slow client on its own: wfmd cuts a git answer still being
# sent after 60 s (the time it took is reported).
# Usage: bench/git-slow.sh [BUILD_DIR]   (env: DURATION=5s CONNECTIONS=32 THREADS=2
#                                              SLOW_LEVELS="0 16 64 256" SLOW_RATE=1024)
# With BENCH_RESULTS=FILE, appends wfmd.git_slow<N>_lsrefs_rps, wfmd.git_slow<N>_304_rps,
# wfmd.git_slow<N>_hwm_kib for each level and wfmd.git_slow_cut_s.
DURATION=${DURATION:-5s}
SLOW_LEVELS=${SLOW_LEVELS:-0 16 64 256}
SLOW_RATE=${SLOW_RATE:-1024}
RUNS=1
. "$(dirname "$0")/common.sh"
. "$SRC_DIR/bench/git-requests.sh"

device_onboard bench
id=$(device_client_id bench)
git_credentials_save bench "$T/bench.onboard.json"
for i in 1 2 3 4; do
	dep=$(cat /proc/sys/kernel/random/uuid)
	deployment_yaml "$dep" "big$i" "$T/dep.yaml"
	# ~700 KB of base64 (incompressible) in an annotation
	{ sed -n '1,4p' "$T/dep.yaml"; printf '    blob: "'; head -c 520000 /dev/urandom | base64 -w0
	  printf '"\n'; sed -n '5,$p' "$T/dep.yaml"; } >"$T/big.yaml"
	deploy_put "$id" "$dep" "$T/big.yaml"
	[[ "$HTTP_STATUS" == 201 ]] || e2e_die "deploy of a large deployment failed: $HTTP_STATUS $HTTP_BODY"
done
device_http bench GET "/device/$id/desired-state"
etag=$(http_header ETag)
printf 'Bearer %s' "$(<"$T/bench.access_token")" >"$T/bench.authz"
printf '%s' "$etag" >"$T/etag"
wrk_script "$T/poll.lua" GET Authorization "$T/bench.authz" If-None-Match "$T/etag"
git_wrk_scripts "$T" "$T/bench.git_user" "$T/bench.git_token"
git_wrk_check "$(<"$T/bench.git_url")" "$WFM_CA" "$T"
url=$(<"$T/bench.git_url")
main=$(printf '%b' "$GIT_LSREFS_LUA" | curl -sS --noproxy '*' \
	--cacert "$WFM_CA" -H "Authorization: $(<"$T/git.authz")" -H 'Git-Protocol: version=2' \
	-H 'Content-Type: application/x-git-upload-pack-request' --data-binary @- "$url/git-upload-pack" |
	tr -d '\0' | sed -n 's/^....\([0-9a-f]\{40\}\) refs\/heads\/main$/\1/p')
[[ -n "$main" ]] || e2e_die "no main"
printf '%b' "$(git_lua_pkt command=fetch)0001$(git_lua_pkt "want $main")$(git_lua_pkt done)0000" >"$T/clone.req"
pack_bytes=$(curl -sS --noproxy '*' --cacert "$WFM_CA" -H "Authorization: $(<"$T/git.authz")" \
	-H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
	--data-binary @"$T/clone.req" "$url/git-upload-pack" | wc -c)
echo "git slow clients: a clone answer of $pack_bytes bytes, slow clients at $SLOW_RATE bytes/s" >&2

# slow_start N: N clients cloning at SLOW_RATE bytes/s (bench/slow-git-client.py: a small
# receive buffer, so wfmd keeps streaming rather than handing the pack to the kernel).
slow_start() {
	: >"$T/slow.pids"
	for ((k = 0; k < $1; k++)); do
		/usr/bin/python3 "$SRC_DIR/bench/slow-git-client.py" "$url/git-upload-pack" "$WFM_CA" \
			"$T/git.authz" "$T/clone.req" "$SLOW_RATE" >"$T/slow.$k.out" 2>&1 &
		echo $! >>"$T/slow.pids"
	done
	sleep 3 # handshakes done, packs streaming
}
slow_stop() {
	while read -r p; do kill "$p" 2>/dev/null || true; done <"$T/slow.pids"
	while read -r p; do wait "$p" 2>/dev/null || true; done <"$T/slow.pids"
}

one() { # NAME SCRIPT PATH: one wrk run, prints "rps p99"
	local out
	out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s "$2" "$WFM_URL$3" | grep '^RESULT')
	echo "    $1: ${out#RESULT }" >&2
	[[ "$out" == *" errors=0 failed=0" ]] || echo "    ($1 had errors)" >&2
	sed -E 's/.*rps=([0-9]+) p50_ms=[0-9.]+ p99_ms=([0-9.]+).*/\1 \2/' <<<"$out"
}

printf '| slow clients cloning at %s bytes/s | ls-refs requests/s | ls-refs p99 ms | desired-state 304 requests/s | 304 p99 ms | slow clones still open | wfmd VmRSS KiB |\n|---|---|---|---|---|---|---|\n' "$SLOW_RATE"
for n in $SLOW_LEVELS; do
	echo "  $n slow clients" >&2
	slow_start "$n"
	read -r lr lp < <(one "ls-refs" "$T/lsrefs.lua" "/git/$id.git/git-upload-pack")
	read -r pr pp < <(one "desired-state 304" "$T/poll.lua" "/device/$id/desired-state")
	open=0
	while read -r p; do kill -0 "$p" 2>/dev/null && open=$((open + 1)); done <"$T/slow.pids"
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$WFMD_PID/status")
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$lr" "$lp" "$pr" "$pp" "$open" "$rss"
	bench_result "wfmd.git_slow${n}_lsrefs_rps" "$lr"
	bench_result "wfmd.git_slow${n}_304_rps" "$pr"
	bench_result "wfmd.git_slow${n}_rss_kib" "$rss"
	slow_stop
done

# The bound: one client reading at 1 KiB/s is cut after 60 s.
read -r cut got how < <(/usr/bin/python3 "$SRC_DIR/bench/slow-git-client.py" "$url/git-upload-pack" \
	"$WFM_CA" "$T/git.authz" "$T/clone.req" 1024)
printf '| one client at 1 KiB/s: answer cut after | %s s (%s of %s bytes received; %s) |\n' "$cut" "$got" "$pack_bytes" "$how"
bench_result wfmd.git_slow_cut_s "$cut"
grep -q 'git response cut' "$WFMD_LOG" || echo "  (wfmd did not log the cut)" >&2
wfmd_stop
