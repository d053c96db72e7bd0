#!/usr/bin/env bash
# make deb-check: installs the Debian packages built by `make deb` on this machine, checks what
# they put where (users, directories and modes, conffiles, man pages, completion, --version,
# units), runs the demo flow against the INSTALLED programs and configuration, then purges
# them and checks that nothing is left but the system users (kept on purge; docs/packaging.md).
#
#   tests/pkg/test_deb.sh DEB_DIR        (as root; modifies the system: use a CI machine)
#
# systemd is not PID 1 here, so a service is run the way its unit says: the unit's ExecStart,
# User=, Group= and UMask= are read from the installed unit and run with setpriv (no new
# privileges, no capabilities, empty environment); NOTIFY_SOCKET points at
# tests/e2e/helpers/notify-listen.py, which plays systemd's side of sd_notify.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

DEB_DIR=$(cd "${1:?usage: test_deb.sh DEB_DIR}" && pwd)
PKGS=(wfmd wfmctl margo-agent)
UNITDIR=/lib/systemd/system
NOTIFY_LISTEN=$SRC_DIR/tests/e2e/helpers/notify-listen.py
[[ $(id -u) -eq 0 ]] || { echo "test_deb: run as root (it installs packages)" >&2; exit 2; }
e2e_setup
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)

# unit_exec UNIT ARGS...: execs the unit's ExecStart plus ARGS as systemd would start it
# (User=, Group=, UMask=, NoNewPrivileges=, CapabilityBoundingSet= empty, a clean environment)
# with $UNIT_ENV added to the environment. It replaces the calling shell: call it in the
# background (e2e_bg) or in a subshell; the program keeps the pid.
unit_exec() {
	local unit=$UNITDIR/$1.service exec user group mask
	shift
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	user=$(sed -n 's/^User=//p' "$unit")
	group=$(sed -n 's/^Group=//p' "$unit")
	mask=$(sed -n 's/^UMask=//p' "$unit")
	# shellcheck disable=SC2086
	cd / && umask "$mask" && exec setpriv --reuid="$user" --regid="$group" --init-groups \
		--no-new-privs --bounding-set=-all --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${UNIT_ENV:-} $exec "$@"
}

users_before=$(getent passwd _wfmd _margo-agent | cut -d: -f1 | tr '\n' ' ' || true)
cleanup_system() {
	"${APT[@]}" purge "${PKGS[@]}" >/dev/null 2>&1 || true
	local u
	for u in _wfmd _margo-agent; do
		# users this check created go again (the packages keep them on purge)
		if [[ " $users_before " != *" $u "* ]] && getent passwd "$u" >/dev/null; then
			deluser --system --quiet "$u" >/dev/null 2>&1 || true
			getent group "$u" >/dev/null && delgroup --system --quiet "$u" >/dev/null 2>&1 || true
		fi
	done
}
on_exit() {
	local rc=$?
	cleanup_system
	# a scenario that stopped before e2e_finish (e.g. a shell error) is a failure
	if [[ "$E2E_FINISHED" != 1 ]]; then
		E2E_FAIL=$((E2E_FAIL + 1))
		printf 'not ok - stopped before the end (exit status %d)\n' "$rc" >&2
	fi
	(exit "$rc")
	_e2e_exit
}
trap on_exit EXIT
for p in "${PKGS[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
		e2e_die "$p is installed already; purge it first (this check installs and purges it)"
	fi
done

e2e_step "install: apt-get install ./*.deb"
debs=()
for p in "${PKGS[@]}"; do
	debs+=("$(ls "$DEB_DIR"/"$p"_*.deb)")
done
"${APT[@]}" install "${debs[@]}" >"$T/apt-install.log" 2>&1 || {
	tail -20 "$T/apt-install.log" >&2
	e2e_die "apt-get install failed"
}
pass "installed ${PKGS[*]}"
version=$(dpkg-query -W -f='${Version}' wfmd)

e2e_step "users, directories, modes, conffiles"
assert_true "system user _wfmd" sh -c 'getent passwd _wfmd | grep -q ":/var/lib/wfmd:/usr/sbin/nologin$"'
assert_true "system user _margo-agent" \
	sh -c 'getent passwd _margo-agent | grep -q ":/var/lib/margo-agent:/usr/sbin/nologin$"'
assert_true "_wfmd is a system account (uid < 1000)" test "$(id -u _wfmd)" -lt 1000
assert_eq "$(stat -c '%a %U %G' /var/lib/wfmd)" "700 _wfmd _wfmd" "/var/lib/wfmd"
assert_eq "$(stat -c '%a %U %G' /var/lib/margo-agent)" "700 _margo-agent _margo-agent" \
	"/var/lib/margo-agent"
assert_eq "$(stat -c '%a %U %G' /etc/wfmd/wfmd.conf)" "644 root root" "/etc/wfmd/wfmd.conf"
assert_eq "$(stat -c '%a %U %G' /etc/margo-agent/agent.conf)" "640 root _margo-agent" \
	"/etc/margo-agent/agent.conf (may hold a proxy password)"
assert_match "$(dpkg-query -W -f='${Conffiles}' wfmd)" '/etc/wfmd/wfmd.conf' "wfmd.conf is a conffile"
assert_match "$(dpkg-query -W -f='${Conffiles}' margo-agent)" '/etc/margo-agent/agent.conf' \
	"agent.conf is a conffile"
assert_false "the packaged agent.conf sets no WFM url or pin" \
	grep -Eq '^(url|ca_fingerprint) *=' /etc/margo-agent/agent.conf

e2e_step "--version, man pages, bash completion"
for prog in wfmd wfmctl margo-agent; do
	assert_eq "$(command "$prog" --version)" "$prog ${version%%-*}" "$prog --version prints the package version"
done
for page in wfmd.8 wfmctl.1 margo-agent.8 margo-agent.conf.5; do
	assert_true "man ${page%.*}(${page##*.})" sh -c "man -w ${page##*.} ${page%.*} | grep -q /usr/share/man/"
	assert_eq "$(MANWIDTH=80 man --warnings -l "$(man -w "${page##*.}" "${page%.*}")" 2>&1 >/dev/null)" "" \
		"$page formats without warnings"
done
# complete PROG WORDS...: what bash completion offers for the last word, via the loader.
complete_words() {
	bash -c '. /usr/share/bash-completion/bash_completion
		_completion_loader "$1"
		COMP_WORDS=("${@:2}"); COMP_CWORD=$(($# - 2)); COMP_LINE="${*:2}"; COMP_POINT=${#COMP_LINE}
		f=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		"$f" "$1" "${@: -1}" "${@: -2:1}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
assert_eq "$(complete_words wfmctl wfmctl dev)" "device" "wfmctl dev<TAB> -> device"
assert_eq "$(complete_words wfmctl wfmctl device ap)" "approve" "wfmctl device ap<TAB> -> approve"
assert_match "$(complete_words wfmctl wfmctl enrollment create --auto | tr '\n' ' ')" "--auto-approve" \
	"wfmctl enrollment create --auto<TAB> (options from the command's --help)"
assert_eq "$(complete_words margo-agent margo-agent run --on)" "--once" "margo-agent run --on<TAB>"
assert_eq "$(complete_words margo-agent margo-agent run --log-level de)" "debug" \
	"margo-agent --log-level de<TAB>"

e2e_step "systemd units: verify, security exposure"
for u in wfmd margo-agent; do
	assert_eq "$(systemd-analyze verify "$UNITDIR/$u.service" 2>&1)" "" "systemd-analyze verify $u.service"
	score=$(systemd-analyze security --offline=true "$UNITDIR/$u.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)/\1 \2/p')
	e2e_log "systemd-analyze security $u.service: $score"
	assert_true "$u.service exposure $score <= 2.5" \
		awk -v s="${score%% *}" 'BEGIN { exit !(s != "" && s <= 2.5) }'
done
assert_true "wfmd.service is enabled (starts at boot)" \
	test -L /etc/systemd/system/multi-user.target.wants/wfmd.service

e2e_step "wfmd as _wfmd with the packaged configuration (the unit's ExecStart)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NOTIFY_OUT=$T/notify.out
e2e_bg "$T/listen.log" python3 "$NOTIFY_LISTEN" "@margo-deb-check-$$" "$NOTIFY_OUT" \
	/var/lib/wfmd/public-url /var/lib/wfmd/ca.crt
e2e_wait_for 10 grep -q LISTENING "$NOTIFY_OUT" || e2e_die "notify-listen did not start"
# The drop-in an operator would write for this port: only the listen address differs.
UNIT_ENV="NOTIFY_SOCKET=@margo-deb-check-$$" e2e_bg "$T/wfmd.log" unit_exec wfmd --listen "127.0.0.1:$PORT"
WFMD_PID=$E2E_BG_PID
assert_true "READY=1 from the installed wfmd" e2e_wait_for 30 grep -q ' READY=1$' "$NOTIFY_OUT"
e2e_wait_for 10 grep -q ' CHECK ' "$NOTIFY_OUT" || true
assert_match "$(grep ' CHECK ' "$NOTIFY_OUT")" 'ready-get=200' "serving over HTTPS when READY=1 came"
assert_eq "$(ps -o user=,comm= -p "$WFMD_PID" | tr -s ' ')" "_wfmd wfmd" "wfmd runs as _wfmd"
assert_match "$(grep -E '^(NoNewPrivs|CapBnd|CapEff):' "/proc/$WFMD_PID/status" | tr -s '\t' ' ' | tr '\n' ' ')" \
	'NoNewPrivs: 1' "with no new privileges"
assert_eq "$(stat -c '%a %U' /var/lib/wfmd/ca.key)" "600 _wfmd" "ca.key 0600 _wfmd"
assert_eq "$(stat -c '%a %U' /var/lib/wfmd/wfmd.db)" "600 _wfmd" "wfmd.db 0600 _wfmd (UMask=0077)"
WFM_URL=$(</var/lib/wfmd/public-url)
PIN=$(/usr/sbin/wfmd fingerprint --data-dir /var/lib/wfmd)
assert_match "$PIN" '^sha256:[0-9a-f]{64}$' "wfmd fingerprint"

e2e_step "wfmctl on the WFM host: an enrollment token"
/usr/bin/wfmctl --data-dir /var/lib/wfmd --json enrollment create --auto-approve --max-uses 1 --ttl 10m \
	>"$T/enrollment.json" 2>"$T/wfmctl.log"
"$JSON_GET" "$T/enrollment.json" /token | tr -d '\n' >"$T/enrollment.token"
assert_match "$(<"$T/enrollment.token")" '^wfmet_' "wfmctl enrollment create"
e2e_secret "@$T/enrollment.token"

e2e_step "margo-agent onboard as _margo-agent (docs/agent.md), with the packaged agent.conf"
RC=0
MARGO_ENROLLMENT_TOKEN=$(<"$T/enrollment.token") runuser -u _margo-agent -- \
	/usr/bin/margo-agent onboard --url "$WFM_URL" --ca-fingerprint "$PIN" >"$T/onboard.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "onboarded"
assert_eq "$(stat -c '%U' /var/lib/margo-agent/state.json)" "_margo-agent" "state owned by _margo-agent"
/usr/bin/margo-agent status --json >"$T/status.json"
ID=$("$JSON_GET" "$T/status.json" /clientId)
assert_match "$ID" '^[0-9a-f-]{36}$' "margo-agent status (as root) shows the client id"

e2e_step "deploy, then the unit's ExecStart --once applies it"
chmod 0711 "$T"
install -d -m 0755 -o _margo-agent "$T/pub"
install -m 0755 "$SRC_DIR/scripts/demo-apply" "$T/pub/apply"
printf 'apply_command = %s\n' "$T/pub/apply" >>/etc/margo-agent/agent.conf
/usr/bin/wfmctl --data-dir /var/lib/wfmd --json deploy "$ID" "$SRC_DIR/docs/examples/deployment-helm.yaml" \
	>"$T/deploy.json" 2>>"$T/wfmctl.log"
assert_match "$("$JSON_GET" "$T/deploy.json" /deploymentId)" '.' "wfmctl deploy"
RC=0
(UNIT_ENV="DEMO_APPLY_LOG=$T/pub/apply.log" unit_exec margo-agent --once) >"$T/agent-run.log" 2>&1 || RC=$?
assert_eq "$RC" 0 "margo-agent run --once (as _margo-agent, sandbox as in the unit) exits 0"
assert_true "the apply command ran" test -s "$T/pub/apply.log"
state=
for _ in $(seq 20); do
	/usr/bin/wfmctl --data-dir /var/lib/wfmd --json device show "$ID" >"$T/device.json"
	state=$("$JSON_GET" "$T/device.json" /deployments/0/state 2>/dev/null || true)
	[[ "$state" == Installed ]] && break
	sleep 0.5
done
assert_eq "$state" "Installed" "wfmctl device show: the deployment is Installed"

e2e_step "reload and stop like systemctl would (SIGHUP, SIGTERM)"
sed -i 's/^log-level = info/log-level = debug/' /etc/wfmd/wfmd.conf
kill -HUP "$WFMD_PID"
assert_true "wfmd reloads the packaged config" \
	e2e_wait_for 10 grep -q 'configuration reloaded log_level=debug config=/etc/wfmd/wfmd.conf' "$T/wfmd.log"
kill -TERM "$WFMD_PID"
RC=0
_e2e_wait_gone "$WFMD_PID" 15 || true
wait "$WFMD_PID" || RC=$?
e2e_untrack "$WFMD_PID"
assert_eq "$RC" 0 "wfmd exits 0 on SIGTERM"
assert_eq "$(awk '{print $2}' "$NOTIFY_OUT" | tail -1)" "STOPPING=1" "STOPPING=1 last"
assert_no_secrets_in "$T/wfmd.log" "$T/onboard.log" "$T/agent-run.log"
rm -rf "$T/pub"

e2e_step "purge: nothing left but the system users"
"${APT[@]}" purge "${PKGS[@]}" >"$T/apt-purge.log" 2>&1 || {
	tail -20 "$T/apt-purge.log" >&2
	e2e_die "apt-get purge failed"
}
for p in "${PKGS[@]}"; do
	assert_false "$p is gone from dpkg's database" sh -c "dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q ."
done
for path in /etc/wfmd /etc/margo-agent /var/lib/wfmd /var/lib/margo-agent /usr/sbin/wfmd \
	/usr/bin/wfmctl /usr/bin/margo-agent "$UNITDIR/wfmd.service" "$UNITDIR/margo-agent.service" \
	/etc/systemd/system/multi-user.target.wants/wfmd.service \
	/etc/systemd/system/multi-user.target.wants/margo-agent.service \
	/usr/share/bash-completion/completions/wfmctl /usr/share/doc/wfmd; do
	assert_false "$path removed" test -e "$path"
done
assert_false "no dpkg-statoverride left" sh -c 'dpkg-statoverride --list | grep -q margo-agent'
assert_false "no deb-systemd-helper state left" \
	sh -c 'ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | grep -Eq "^(wfmd|margo-agent)"'
left=$(find /etc /var /usr /opt /srv -xdev \( -user _wfmd -o -user _margo-agent \) 2>/dev/null | head -5)
assert_eq "$left" "" "no file owned by _wfmd or _margo-agent anywhere"
assert_true "the users stay (Debian practice; docs/packaging.md)" getent passwd _wfmd _margo-agent

e2e_finish
