# shellcheck shell=bash
# The Git smart HTTP requests of the wrk loads of bench/git.sh and
# bench/peers/git-http-backend.sh (one definition, so wfmd and the peer get the same bytes):
# GET info/refs?service=git-upload-pack and POST git-upload-pack with a protocol v2 ls-refs
# command, as `git fetch` sends them (Git-Protocol: version=2), HTTP Basic on every request.
# Needs wrk_script (bench/common.sh) and e2e_die (tests/e2e/lib.sh).

# The ls-refs body as a Lua string: pkt-lines (4 hex digits of length, then the line), a
# delimiter (0001) before the arguments, a flush (0000) at the end.
GIT_LSREFS_LUA='0014command=ls-refs\n0015agent=git/2.39.5\n0017object-format=sha1\n0001'
GIT_LSREFS_LUA+='0009peel\n000csymrefs\n000bunborn\n0014ref-prefix HEAD\n001bref-prefix refs/heads/\n0000'

# git_wrk_scripts DIR USER_FILE TOKEN_FILE: writes DIR/inforefs.lua and DIR/lsrefs.lua (the
# Basic credentials go into DIR/git.authz, 0600 like the rest of the temp dir).
git_wrk_scripts() {
	local dir=$1
	printf 'Basic %s' "$(printf '%s:%s' "$(<"$2")" "$(<"$3")" | base64 -w0)" >"$dir/git.authz"
	printf 'version=2' >"$dir/git.protocol"
	printf 'application/x-git-upload-pack-request' >"$dir/git.ctype"
	wrk_script "$dir/inforefs.lua" GET Authorization "$dir/git.authz" Git-Protocol "$dir/git.protocol"
	wrk_script "$dir/lsrefs.lua" POST Authorization "$dir/git.authz" Git-Protocol "$dir/git.protocol" \
		Content-Type "$dir/git.ctype"
	printf 'wrk.body = "%s"\n' "$GIT_LSREFS_LUA" >>"$dir/lsrefs.lua"
}

# git_lua_pkt LINE: LINE as a pkt-line inside a Lua string (its LF written as \n).
git_lua_pkt() { printf '%04x%s\\n' $((${#1} + 5)) "$1"; }

# git_wrk_fetch1 DIR WANT HAVE: DIR/fetch1.lua, the protocol v2 fetch `git fetch` sends when
# main moved by one commit (WANT) past what the client has (HAVE, its parent): the client
# reads one small pack (the commit, two trees, the new deployment's blob). Needs
# git_wrk_scripts first (credentials and headers).
git_wrk_fetch1() {
	local dir=$1 lua
	lua="$(git_lua_pkt command=fetch)$(git_lua_pkt agent=git/2.39.5)$(git_lua_pkt object-format=sha1)0001"
	lua+="$(git_lua_pkt thin-pack)$(git_lua_pkt no-progress)$(git_lua_pkt ofs-delta)"
	lua+="$(git_lua_pkt "want $2")$(git_lua_pkt "have $3")$(git_lua_pkt done)0000"
	wrk_script "$dir/fetch1.lua" POST Authorization "$dir/git.authz" Git-Protocol "$dir/git.protocol" \
		Content-Type "$dir/git.ctype"
	printf 'wrk.body = "%s"\n' "$lua" >>"$dir/fetch1.lua"
	printf '%s' "$lua" >"$dir/fetch1.body"
}

# git_wrk_fetch1_check BASE_URL CA_FILE DIR: the fetch of git_wrk_fetch1 must answer a
# packfile section holding a pack of 4 objects (else the load would measure errors).
git_wrk_fetch1_check() {
	local n
	n=$(printf '%b' "$(<"$3/fetch1.body")" | curl -sS --noproxy '*' --cacert "$2" \
		-H "Authorization: $(<"$3/git.authz")" -H 'Git-Protocol: version=2' \
		-H 'Content-Type: application/x-git-upload-pack-request' --data-binary @- \
		"$1/git-upload-pack" | LC_ALL=C grep -aob 'PACK' | head -1 | cut -d: -f1) ||
		e2e_die "fetch request failed"
	[[ -n "$n" ]] || e2e_die "fetch answer without a pack"
}

# git_wrk_check BASE_URL CA_FILE DIR: one ls-refs request as the wrk load sends it must name
# refs/heads/main (else the load would measure error answers).
git_wrk_check() {
	local out
	out=$(printf '%b' "$GIT_LSREFS_LUA" | curl -sS --noproxy '*' --cacert "$2" \
		-H "Authorization: $(<"$3/git.authz")" -H 'Git-Protocol: version=2' \
		-H 'Content-Type: application/x-git-upload-pack-request' --data-binary @- \
		"$1/git-upload-pack" | tr -d '\0') || e2e_die "ls-refs request failed"
	[[ "$out" == *" refs/heads/main"* ]] || e2e_die "ls-refs answer without refs/heads/main: $out"
}

# git_client DIR URL_FILE USER_FILE TOKEN_FILE CA_FILE: writes DIR/askpass and DIR/gitop, the one
# plain git client of both benchmarks, credentials from files through GIT_ASKPASS:
#   gitop ls-remote      ls-remote of the URL
#   gitop clone N        clone into DIR/clones/N, then delete it
#   gitop keep N         clone into DIR/fetch/N (kept for the fetches)
#   gitop fetch          no-change fetch in DIR/fetch/$SLOT (xargs's slot)
# It trusts only CA_FILE, with an empty http.sslCAPath: Debian's git (libcurl-gnutls) would
# otherwise also load all of /etc/ssl/certs on every operation (~45 ms of CPU), swamping the
# server's cost. No user or system git configuration, no terminal prompt.
git_client() {
	local dir=$1 url_file=$2 user_file=$3 token_file=$4 ca=$5
	cat >"$dir/askpass" <<'EOS'
#!/bin/sh
case "$1" in
Username*) cat "$BENCH_GIT_USER_FILE"; echo ;;
Password*) cat "$BENCH_GIT_TOKEN_FILE"; echo ;;
esac
EOS
	chmod 700 "$dir/askpass"
	mkdir -p "$dir/capath" "$dir/clones" "$dir/fetch"
	cat >"$dir/gitop" <<EOS
#!/bin/sh
export HOME="$dir" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_ASKPASS="$dir/askpass"
export BENCH_GIT_USER_FILE="$user_file" BENCH_GIT_TOKEN_FILE="$token_file"
unset GIT_SSL_CAINFO
url=\$(cat "$url_file")
g() { git -c http.sslCAPath="$dir/capath" -c http.sslCAInfo="$ca" "\$@"; }
ge() { exec git -c http.sslCAPath="$dir/capath" -c http.sslCAInfo="$ca" "\$@"; }
case "\$1" in
ls-remote) ge ls-remote "\$url" >/dev/null ;;
clone) g clone -q "\$url" "$dir/clones/\$2" && rm -rf "$dir/clones/\$2" ;;
keep) ge clone -q "\$url" "$dir/fetch/\$2" ;;
fetch) ge -C "$dir/fetch/\$SLOT" fetch -q origin ;;
*) exit 2 ;;
esac
EOS
	chmod 700 "$dir/gitop"
}

# git_rate DIR OP: COUNT operations of DIR/gitop OP, PARALLEL at a time; prints operations/s;
# dies when one fails.
git_rate() {
	local dir=$1 op=$2 start end
	start=$(date +%s.%N)
	seq 1 "$COUNT" | xargs -P "$PARALLEL" --process-slot-var=SLOT -I{} "$dir/gitop" "$op" {} ||
		e2e_die "git $op failed"
	end=$(date +%s.%N)
	awk -v n="$COUNT" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f\n", n / (e - s)}'
}
