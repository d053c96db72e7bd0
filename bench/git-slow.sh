#!/usr/bin/env bash
# Slow Git clients against wfmd (issue 14's gap: "a slow Git client can hold a worker"): a
# device repository with a large pack (10 deployments of ~700 KB of incompressible text: a
# ~7 MB pack, more than the 4 MiB a loopback socket's send buffer grows to, else the kernel
# takes the whole answer at once and nothing slow is left for wfmd to bound), N
# clients cloning it at 1 KiB/s each (bench/slow-git-client.py: each holds a connection while
# wfmd streams its pack), and meanwhile the wrk load of a no-change fetch (ls-refs, keep-alive) and
# of desired-state 304s by other clients: their requests/s and p99 with 0, 16, 64 and 128 slow
# clients, wfmd's RSS. Then one slow client on its own: wfmd cuts a git answer still being
# sent after 60 s (the time it took is reported).
# Usage: bench/git-slow.sh [BUILD_DIR]   (env: DURATION=5s CONNECTIONS=32 THREADS=2
#                                              SLOW_LEVELS="0 16 64 128" SLOW_RATE=1024
#                                              SLOW_DEPLOYMENTS=10)
# With BENCH_RESULTS=FILE, appends wfmd.git_slow<N>_lsrefs_rps, wfmd.git_slow<N>_304_rps,
# wfmd.git_slow<N>_hwm_kib for each level and wfmd.git_slow_cut_s.
DURATION=${DURATION:-5s}
SLOW_LEVELS=${SLOW_LEVELS:-0 16 64 128}
SLOW_DEPLOYMENTS=${SLOW_DEPLOYMENTS:-10}
SLOW_RATE=${SLOW_RATE:-1024}
RUNS=1
. "$(dirname "$0")/common.sh"
. "$SRC_DIR/bench/git-requests.sh"

device_onboard bench
id=$(device_client_id bench)
git_credentials_save bench "$T/bench.onboard.json"
for i in $(seq 1 "$SLOW_DEPLOYMENTS"); do
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
	sleep $((3 + $1 / 8)) # clients started (a python each), handshakes done
	# Each clone's first ~4 MiB go at once into the kernel's socket buffers: wait until wfmd
	# has made those (its CPU back under 5%, at most 40 s), so what is measured next is the
	# steady state of N clients held while their answers stream slowly.
	local t0 w
	for ((w = 0; w < 40; w++)); do
		t0=$(awk '{print $14 + $15}' "/proc/$WFMD_PID/stat")
		sleep 1
		(($(awk '{print $14 + $15}' "/proc/$WFMD_PID/stat") - t0 < 5)) && break
	done
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

printf '| slow clients cloning at %s bytes/s | wfmd CPU %% serving only them | ls-refs requests/s | ls-refs p99 ms | desired-state 304 requests/s | 304 p99 ms | slow clones still open | wfmd VmRSS KiB |\n|---|---|---|---|---|---|---|---|\n' "$SLOW_RATE"
for n in $SLOW_LEVELS; do
	echo "  $n slow clients" >&2
	slow_start "$n"
	# wfmd's CPU while only the slow clients are served (clock ticks over 3 s -> %)
	t0=$(awk '{print $14 + $15}' "/proc/$WFMD_PID/stat")
	sleep 3
	cpu=$(( ($(awk '{print $14 + $15}' "/proc/$WFMD_PID/stat") - t0) * 100 / $(getconf CLK_TCK) / 3 ))
	read -r lr lp < <(one "ls-refs" "$T/lsrefs.lua" "/git/$id.git/git-upload-pack")
	read -r pr pp < <(one "desired-state 304" "$T/poll.lua" "/device/$id/desired-state")
	open=0
	while read -r p; do kill -0 "$p" 2>/dev/null && open=$((open + 1)); done <"$T/slow.pids"
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$WFMD_PID/status")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$cpu" "$lr" "$lp" "$pr" "$pp" "$open" "$rss"
	bench_result "wfmd.git_slow${n}_cpu_pct" "$cpu"
	bench_result "wfmd.git_slow${n}_lsrefs_rps" "$lr"
	bench_result "wfmd.git_slow${n}_304_rps" "$pr"
	bench_result "wfmd.git_slow${n}_rss_kib" "$rss"
	slow_stop
done

# The bound: how long wfmd serves one client reading 1 KiB/s before it closes the connection
# (a git answer still being sent after 60 s is cut; a connection making no progress for the
# connection timeout, 30 s, is closed): the time until wfmd's side of it leaves ESTABLISHED.
# (Up to 4 MiB the kernel had already taken still trickles to the client afterwards.)
port=${WFM_URL##*:}
/usr/bin/python3 "$SRC_DIR/bench/slow-git-client.py" "$url/git-upload-pack" "$WFM_CA" \
	"$T/git.authz" "$T/clone.req" 1024 >"$T/cut.out" 2>&1 &
cpid=$!
start=$SECONDS
sleep 2
while (($(ss -Htn state established "( sport = :$port )" | wc -l) > 0 && SECONDS - start < 200)); do
	sleep 1
done
cut=$((SECONDS - start))
kill "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
printf '| one client at 1 KiB/s: wfmd closed its connection after | %s s (a %s-byte answer) |\n' "$cut" "$pack_bytes"
bench_result wfmd.git_slow_cut_s "$cut"
grep -q 'git response cut' "$WFMD_LOG" || echo "  (wfmd did not log the cut)" >&2
wfmd_stop
