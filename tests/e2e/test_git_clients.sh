#!/usr/bin/env bash
# Git clients against wfmd's own Git server (no git process on the server): plain git over
# protocol v0 and v2 (clone, ls-remote, fetch, pull; shallow clone, deepen, unshallow, a fetch
# into a shallow clone), and Debian's python3-dulwich as an independent implementation (clone,
# fetch). Every clone passes `git fsck --strict`, and what each client sees is what wfmctl
# deployed: the revision wfmctl printed, the deployment files, the server's tree. (libgit2 is
# margo-agent's client: test_agent_git.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
wfmd_start
e2e_require_bin "$(command -v git)"

PY=/usr/bin/python3
DEPLOYED=()     # deployment ids on the device now

# deploy ID NAME VERSION: wfmctl deploy; REV gets the revision it printed.
deploy() {
	deployment_yaml "$1" "$2" "$T/$1.yaml" helm "$3"
	wfmctl --json deploy "$A" "$T/$1.yaml" >"$T/wfmctl.out" 2>&1 || true
	REV=$(json_get /revision "$T/wfmctl.out")
	assert_match "$REV" '^[0-9a-f]{40}$' "wfmctl deploy $1 printed the revision"
	if [[ " ${DEPLOYED[*]} " != *" $1 "* ]]; then DEPLOYED+=("$1"); fi
}

undeploy() {
	wfmctl undeploy "$A" "$1" >"$T/wfmctl.out" 2>&1 || true
	assert_true "wfmctl undeploy $1" grep -q "$1" "$T/wfmctl.out"
	DEPLOYED=("${DEPLOYED[@]/$1/}")
	desired_export "$A" "$T/server.git"
	REV=$(git --git-dir="$T/server.git" rev-parse refs/heads/main)
}

# sees DIR REF WHAT: the checkout at DIR shows the deployed state at REF.
sees() {
	local dir=$1 ref=$2 what=$3 want got
	assert_eq "$(git -C "$dir" rev-parse "$ref")" "$REV" "$what: at the revision wfmctl printed"
	assert_eq "$(git -C "$dir" rev-parse "$ref^{tree}")" \
		"$(desired_export "$A" "$T/server.git" && git --git-dir="$T/server.git" rev-parse "$REV^{tree}")" "$what: the server's tree"
	want=$(for d in "${DEPLOYED[@]}"; do [[ -n "$d" ]] && echo "deployments/$d.yaml"; done | sort)
	got=$(git -C "$dir" ls-tree -r --name-only "$ref" | sort)
	assert_eq "$got" "$want" "$what: the deployed files"
	for d in "${DEPLOYED[@]}"; do
		[[ -n "$d" ]] || continue
		git -C "$dir" show "$ref:deployments/$d.yaml" >"$T/seen.yaml" 2>/dev/null || true
		assert_true "$what: $d has the deployed revision" grep -q "revision: $(cat "$T/$d.ver")\$" "$T/seen.yaml"
	done
	assert_true "$what: git fsck --strict" git -C "$dir" fsck --strict --no-dangling
}

# traced PROTO NAME ARGS...: git_as with protocol.version=PROTO and the packet trace in
# $T/NAME.trace.
traced() {
	local proto=$1 name=$2
	shift 2
	GIT_TRACE_PACKET="$T/$name.trace" git_as a -c protocol.version="$proto" "$@"
}

e2e_step "a device with some history: deploy, update, undeploy through wfmctl"
device_onboard a
A=$(device_client_id a)
git_credentials_save a "$T/a.onboard.json"
URL=$(<"$T/a.git_url")
for i in 1 2 3; do
	echo "1.0.$i" >"$T/dep$i.ver"
	deploy "dep$i" "app$i" "1.0.$i"
done
echo 2.0.0 >"$T/dep1.ver"
deploy dep1 app1 2.0.0
# Commit times have 1 s resolution: main's last commit must be a second younger than its
# parent, or --shallow-since=<its time> below selects the whole history (nothing shallow).
sleep 1
undeploy dep2
REV_BASE=$REV

for p in 0 2; do
	e2e_step "git protocol v$p: clone, ls-remote"
	rm -f "$T/v$p-clone.trace"
	assert_true "v$p clone" traced $p "v$p-clone" clone -q "$URL" "$T/v$p"
	if [[ $p == 2 ]]; then
		assert_true "v2 was spoken" grep -q 'version 2' "$T/v$p-clone.trace"
		assert_true "v2 fetch command" grep -q 'command=fetch' "$T/v$p-clone.trace"
	else
		assert_false "v0 was spoken (no v2)" grep -q 'version 2' "$T/v$p-clone.trace"
		assert_true "v0 want with multi_ack_detailed" grep -Eq 'want [0-9a-f]{40} multi_ack_detailed' "$T/v$p-clone.trace"
	fi
	sees "$T/v$p" HEAD "v$p clone"
	NCOMMITS=$(desired_export "$A" "$T/server.git" && git --git-dir="$T/server.git" rev-list --count "$REV")
	assert_eq "$(git -C "$T/v$p" rev-list --count HEAD)" "$NCOMMITS" "v$p clone: the whole history ($NCOMMITS commits)"
	assert_true "v$p ls-remote" traced $p "v$p-ls" ls-remote "$URL"
	assert_eq "$(awk '$2 == "refs/heads/main" {print $1}' "$T/git.out")" "$REV" "v$p ls-remote: main"
	assert_eq "$(awk '$2 == "HEAD" {print $1}' "$T/git.out")" "$REV" "v$p ls-remote: HEAD"
	assert_true "v$p ls-remote --symref" traced $p "v$p-ls" ls-remote --symref "$URL" HEAD
	assert_true "v$p: HEAD is a symbolic reference to main" grep -q '^ref: refs/heads/main	HEAD' "$T/git.out"

	e2e_step "git protocol v$p: shallow clone, deepen, unshallow"
	assert_true "v$p clone --depth 1" traced $p "v$p-shallow" clone -q --depth 1 "$URL" "$T/v$p-s"
	assert_eq "$(git -C "$T/v$p-s" rev-parse --is-shallow-repository)" true "v$p: a shallow repository"
	assert_eq "$(git -C "$T/v$p-s" rev-list --count HEAD)" 1 "v$p --depth 1: one commit"
	assert_eq "$(cat "$T/v$p-s/.git/shallow")" "$REV" "v$p: the boundary is main"
	sees "$T/v$p-s" HEAD "v$p shallow clone"
	assert_true "v$p fetch --deepen=2" traced $p "v$p-deepen" -C "$T/v$p-s" fetch -q --deepen=2
	assert_eq "$(git -C "$T/v$p-s" rev-list --count HEAD)" 3 "v$p --deepen=2: three commits"
	assert_true "v$p fetch --depth 4" traced $p "v$p-depth" -C "$T/v$p-s" fetch -q --depth 4
	assert_eq "$(git -C "$T/v$p-s" rev-list --count HEAD)" 4 "v$p --depth 4: four commits"
	assert_true "v$p: deepening sent unshallow lines" grep -q 'unshallow [0-9a-f]\{40\}' "$T/v$p-depth.trace"
	assert_true "v$p fetch --unshallow" traced $p "v$p-unshallow" -C "$T/v$p-s" fetch -q --unshallow
	assert_eq "$(git -C "$T/v$p-s" rev-parse --is-shallow-repository)" false "v$p: no longer shallow"
	assert_eq "$(git -C "$T/v$p-s" rev-list --count HEAD)" "$NCOMMITS" "v$p: the whole history"
	sees "$T/v$p-s" HEAD "v$p unshallowed clone"
	since=$(git -C "$T/v$p" log -1 --format=%ct HEAD)
	assert_true "v$p clone --shallow-since" traced $p "v$p-since" clone -q --shallow-since="$since" "$URL" "$T/v$p-since"
	assert_true "v$p --shallow-since: from that commit on" test "$(git -C "$T/v$p-since" rev-list --count HEAD)" -ge 1
	assert_true "v$p --shallow-since: shallow" test -s "$T/v$p-since/.git/shallow"
	assert_true "v$p --shallow-since clone fscks" git -C "$T/v$p-since" fsck --strict --no-dangling
	assert_false "v$p --shallow-exclude=main selects nothing" traced $p "v$p-not" clone -q --shallow-exclude=main "$URL" "$T/v$p-not"
	assert_true "v$p: git says why" grep -qi 'no commits selected' "$T/git.out"
	assert_true "v$p shallow clone again" traced $p "v$p-s1" clone -q --depth 1 "$URL" "$T/v$p-s1"

	e2e_step "git protocol v$p: one new commit: fetch, pull, and a fetch into a shallow clone"
	echo "3.$p.0" >"$T/dep3.ver"
	deploy dep3 app3 "3.$p.0"
	assert_true "v$p fetch" traced $p "v$p-fetch" -C "$T/v$p" fetch -q origin
	sees "$T/v$p" origin/main "v$p fetch"
	assert_true "v$p fetch negotiated: the client's main was acknowledged" \
		grep -Eq "ACK $REV_BASE" "$T/v$p-fetch.trace"
	assert_true "v$p pull --ff-only" traced $p "v$p-pull" -C "$T/v$p" pull -q --ff-only origin main
	sees "$T/v$p" HEAD "v$p pull"
	assert_true "v$p fetch into the shallow clone" traced $p "v$p-sfetch" -C "$T/v$p-s1" fetch -q origin
	sees "$T/v$p-s1" origin/main "v$p fetch into a shallow clone"
	assert_eq "$(git -C "$T/v$p-s1" rev-list --count origin/main)" 2 "v$p: the new commit on the shallow one"
	assert_true "v$p no-change fetch" traced $p "v$p-nochange" -C "$T/v$p" fetch -q origin
	assert_false "v$p no-change fetch asks for no pack" grep -q 'git-upload-pack.*want\|> want ' "$T/v$p-nochange.trace"
	REV_BASE=$REV
done

e2e_step "python3-dulwich (an independent Git implementation): clone and fetch"
cat >"$T/dulwich_client.py" <<'EOF'
import sys
from dulwich import porcelain
from dulwich.repo import Repo

cmd, url, target, user, token_file, ca = sys.argv[1:7]
password = open(token_file).read().strip()
if cmd == "clone":
    from dulwich.config import ConfigDict
    cfg = ConfigDict()
    cfg.set(b"http", b"sslCAInfo", ca.encode())
    cfg.set(b"http", b"sslVerify", True)
    repo = porcelain.clone(url, target, username=user, password=password, config=cfg,
                           depth=int(sys.argv[7]) if len(sys.argv) > 7 else None)
    c = repo.get_config()
    c.set(b"http", b"sslCAInfo", ca.encode())
    c.write_to_path()
    repo.close()
else:
    with Repo(target) as repo:
        result = porcelain.fetch(repo, url, username=user, password=password)
        print("\nmain " + result.refs[b"refs/heads/main"].decode())
EOF
dulwich() {
	env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		-u GIT_SSL_CAINFO -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE HOME="$T/githome" \
		timeout 60 "$PY" "$T/dulwich_client.py" "$1" "$URL" "$2" "$(<"$T/a.git_user")" "$T/a.git_token" "$WFM_CA" \
		"${@:3}" >"$T/dulwich.out" 2>&1
}
assert_true "python3-dulwich is installed" "$PY" -c 'import dulwich'
assert_true "dulwich clone" dulwich clone "$T/dul"
sees "$T/dul" HEAD "dulwich clone"
assert_true "dulwich clone --depth 1" dulwich clone "$T/dul-s" 1
sees "$T/dul-s" HEAD "dulwich shallow clone"
assert_eq "$(git -C "$T/dul-s" rev-list --count HEAD)" 1 "dulwich --depth 1: one commit"
echo 4.0.0 >"$T/dep4.ver"
deploy dep4 app4 4.0.0
assert_true "dulwich fetch" dulwich fetch "$T/dul"
assert_eq "$(sed -n 's/^main //p' "$T/dulwich.out")" "$REV" "dulwich fetched main at the new revision"
git -C "$T/dul" update-ref refs/heads/fetched "$REV" 2>/dev/null || true
sees "$T/dul" refs/heads/fetched "dulwich fetch"
assert_false "dulwich without the WFM CA is refused" env -u GIT_SSL_CAINFO -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE \
	"$PY" "$T/dulwich_client.py" clone "$URL" "$T/dul-noca" "$(<"$T/a.git_user")" "$T/a.git_token" /etc/ssl/certs/ca-certificates.crt

e2e_finish
