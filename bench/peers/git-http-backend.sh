#!/usr/bin/env bash
# Git serving peer: nginx (HTTP Basic auth, TLS 1.3, ECDSA P-256) + fcgiwrap + `git http-backend`
# on 127.0.0.1, serving a bare repository shaped like a wfmd device repository (branch main,
# "Initialise desired state" with an empty tree, then "Deploy <id> (bench-app)" adding
# deployments/<id>.yaml). As bench/git.sh:
#   - GET info/refs and POST git-upload-pack (protocol v2 ls-refs; a v2 fetch of one new
#     commit), wrk with keep-alive, the same requests (bench/git-requests.sh), connections,
#     threads and duration
#   - plain git clients, PARALLEL at a time, COUNT operations per run, one process and TLS
#     handshake per operation: git ls-remote; git fetch with no change (each parallel client
#     fetches into its own clone)
# Usage: bench/peers/git-http-backend.sh   (env: COUNT=200 PARALLEL=4 RUNS=3
#                                            FCGI_CHILDREN=PARALLEL)
COUNT=${COUNT:-200}
PARALLEL=${PARALLEL:-4}
FCGI_CHILDREN=${FCGI_CHILDREN:-$PARALLEL}
. "$(dirname "$0")/lib.sh"
command -v fcgiwrap >/dev/null || PATH=$PATH:/usr/sbin
command -v fcgiwrap >/dev/null || e2e_die "fcgiwrap is not installed (run bench/peers/setup)"
[[ -x /usr/lib/git-core/git-http-backend ]] || e2e_die "git http-backend not found"

# The device repository, written as wfmd writes it.
export GIT_CONFIG_NOSYSTEM=1 HOME=$T
unset GIT_SSL_CAINFO # the clients pin the peer's certificate
export GIT_AUTHOR_NAME='margo-fleet WFM' GIT_AUTHOR_EMAIL=wfm@margo-fleet.invalid
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
id=$(cat /proc/sys/kernel/random/uuid)
dep=$(cat /proc/sys/kernel/random/uuid)
repo=$T/repos/$id.git
git init -q --bare -b main "$repo"
deployment_yaml "$dep" bench-app "$T/dep.yaml"
empty=$(git -C "$repo" mktree </dev/null)
c1=$(git -C "$repo" commit-tree -m 'Initialise desired state' "$empty")
blob=$(git -C "$repo" hash-object -w "$T/dep.yaml")
sub=$(printf '100644 blob %s\t%s.yaml\n' "$blob" "$dep" | git -C "$repo" mktree)
tree=$(printf '040000 tree %s\tdeployments\n' "$sub" | git -C "$repo" mktree)
c2=$(git -C "$repo" commit-tree -p "$c1" -m "Deploy $dep (bench-app)" "$tree")
git -C "$repo" update-ref refs/heads/main "$c2"

# Basic credentials as a device has them: user svc-device-<id>, a wfmgt_ token (files only).
printf 'svc-device-%s' "$id" >"$T/git_user"
printf 'wfmgt_%s' "$(openssl rand -hex 32)" >"$T/git_token"
printf '%s:%s\n' "$(<"$T/git_user")" "$(openssl passwd -apr1 -stdin <"$T/git_token")" >"$T/htpasswd"

peer_cert
# fcgiwrap respawns its preforked children and leaves them running when it gets SIGTERM:
# it runs in its own session, and the exit trap stops that whole process group.
e2e_bg "$T/fcgiwrap.log" setsid fcgiwrap -c "$FCGI_CHILDREN" -s "unix:$T/fcgiwrap.sock"
fcgi_pid=$E2E_BG_PID
fcgi_stop() {
	local rc=$?
	kill -TERM -- "-$fcgi_pid" 2>/dev/null || true
	sleep 0.2
	kill -KILL -- "-$fcgi_pid" 2>/dev/null || true
	set +e
	(exit "$rc") # _e2e_exit takes the exit status from $?
	_e2e_exit
}
trap fcgi_stop EXIT
e2e_wait_for 10 test -S "$T/fcgiwrap.sock" || e2e_die "fcgiwrap did not start"
[[ "$(ps -o pgid= -p "$fcgi_pid" | tr -d ' ')" == "$fcgi_pid" ]] || e2e_die "fcgiwrap is not a process group leader"
peer_nginx "$PEERS_DIR/nginx-git.conf.in"
url=$WFM_URL/git/$id.git
printf '%s' "$url" >"$T/git_url"
peer_wait_https "$url/info/refs?service=git-upload-pack"
code=$(curl -s --noproxy '*' --cacert "$PEER_CA" -o /dev/null -w '%{http_code}' "$url/info/refs?service=git-upload-pack")
[[ "$code" == 401 ]] || e2e_die "git without credentials: $code, not 401"

. "$SRC_DIR/bench/git-requests.sh"
git_client "$T" "$T/git_url" "$T/git_user" "$T/git_token" "$PEER_CA"
# One clone per parallel client for the no-change fetches.
for ((s = 0; s < PARALLEL; s++)); do
	"$T/gitop" keep "$s" || e2e_die "git clone for the fetch clients failed"
done
[[ "$(git -C "$T/fetch/0" rev-parse HEAD)" == "$c2" ]] || e2e_die "clone is not at $c2"

git_wrk_scripts "$T" "$T/git_user" "$T/git_token"
git_wrk_check "$url" "$PEER_CA" "$T"
git_wrk_fetch1 "$T" "$c2" "$c1"
git_wrk_fetch1_check "$url" "$PEER_CA" "$T"

echo "git http-backend benchmark: $(nginx -v 2>&1 | sed 's/.*: //'), fcgiwrap -c $FCGI_CHILDREN, $(git --version), $(nproc) cores, median of $RUNS runs" >&2
inforefs_rps=$(wrk_median "git info/refs v2" "$T/inforefs.lua" "/git/$id.git/info/refs?service=git-upload-pack")
lsrefs_rps=$(wrk_median "git ls-refs" "$T/lsrefs.lua" "/git/$id.git/git-upload-pack")
fetch1_rps=$(wrk_median "git fetch of one new commit" "$T/fetch1.lua" "/git/$id.git/git-upload-pack")
ls=(); fe=()
for ((i = 1; i <= RUNS; i++)); do
	ls+=("$(git_rate "$T" ls-remote)"); echo "  git ls-remote run $i: ${ls[-1]}/s" >&2
	fe+=("$(git_rate "$T" fetch)"); echo "  git fetch (no change) run $i: ${fe[-1]}/s" >&2
done
[[ "$(git -C "$T/fetch/0" rev-parse origin/main)" == "$c2" ]] || e2e_die "fetch moved origin/main"

bench_result peer.githttp_inforefs_rps "$inforefs_rps"
bench_result peer.githttp_lsrefs_rps "$lsrefs_rps"
bench_result peer.githttp_fetch1_rps "$fetch1_rps"
bench_result peer.githttp_lsremote_ops "$(printf '%s\n' "${ls[@]}" | median)"
bench_result peer.githttp_fetch_ops "$(printf '%s\n' "${fe[@]}" | median)"
printf '| measure | value |\n|---|---|\n'
printf '| nginx + fcgiwrap + git http-backend: git GET info/refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$inforefs_rps"
printf '| nginx + fcgiwrap + git http-backend: git POST git-upload-pack ls-refs (protocol v2), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$lsrefs_rps"
printf '| nginx + fcgiwrap + git http-backend: git POST git-upload-pack fetch of one new commit (protocol v2, want/have/done), requests/s (keep-alive, %s connections, Basic auth) | %s |\n' "$CONNECTIONS" "$fetch1_rps"
printf '| nginx + fcgiwrap + git http-backend: git ls-remote, operations/s (%s parallel clients, new TLS connection each) | %s |\n' "$PARALLEL" "$(printf '%s\n' "${ls[@]}" | median)"
printf '| nginx + fcgiwrap + git http-backend: git fetch with no change, operations/s (%s parallel clients) | %s |\n' "$PARALLEL" "$(printf '%s\n' "${fe[@]}" | median)"
peer_finish
