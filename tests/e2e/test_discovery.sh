#!/usr/bin/env bash
# Discovery on real network stacks. Three network namespaces made by this test, joined by
# veth pairs to a bridge in the device's namespace (10.77.N.0/24 inside them only, no default
# route: nothing leaves them):
#   W: the WFM: dbus-daemon + avahi-daemon (own configs, sockets and pid files in the temp
#      dir) + wfmd --advertise, and dnsmasq serving the same service by unicast DNS-SD;
#   R: a rogue: its own dbus-daemon + avahi-daemon, a second wfmd (another CA) advertising
#      itself, and avahi-publish announcing the real WFM's address with a false pin;
#   D: the device: margo-agent, no avahi, its resolv.conf (/etc/netns/D/) naming W's dnsmasq.
# The agent discovers both WFMs, refuses to pick one without a name, refuses the rogue's
# announcements (pin differs from the one given; TOFU against a false pin; the token's CA MAC),
# onboards with the real one by multicast and by unicast DNS-SD, and wfmd registers again
# after avahi-daemon restarts. Skips (exit 77) where namespaces cannot be made.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SKIP=77
skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit "$SKIP"
}
[[ $(id -u) == 0 ]] || skip "needs root for network namespaces (ip netns)"
for b in ip unshare dbus-daemon avahi-daemon avahi-publish dnsmasq; do
	command -v "$b" >/dev/null || skip "$b not installed (scripts/install-deps)"
done
ID=$$
NS_W=mgw$ID NS_R=mgr$ID NS_D=mgd$ID
ip netns add "$NS_D" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "$NS_D"

e2e_setup
e2e_require_bin "$AGENT_BIN" "$WFMD_BIN"
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT
SUBNET=10.77.$((ID % 250))
W_IP=$SUBNET.1 D_IP=$SUBNET.2 R_IP=$SUBNET.3

cleanup_net() {
	local ns
	for ns in "$NS_W" "$NS_R" "$NS_D"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "/etc/netns/$NS_D"
	rmdir /etc/netns 2>/dev/null || true
}
# Processes first (lib.sh's trap), then the namespaces, even when the test fails.
trap 'rc=$?; _e2e_exit_net $rc' EXIT
_e2e_exit_net() {
	local p
	for p in "${E2E_PIDS[@]+"${E2E_PIDS[@]}"}"; do
		e2e_kill "$p" 3 >/dev/null 2>&1 || true
	done
	E2E_PIDS=()
	cleanup_net
	# _e2e_exit reads the scenario's status from $?
	if [[ $1 == 0 ]]; then
		_e2e_exit
	else
		_e2e_status "$1" || _e2e_exit
	fi
}
_e2e_status() { return "$1"; }

e2e_step "three namespaces on one bridge, no route out"
for ns in "$NS_W" "$NS_R" "$NS_D"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n "$NS_D" link add br0 type bridge
ip -n "$NS_D" addr add "$D_IP/24" dev br0
ip -n "$NS_D" link set br0 up
for side in w r; do
	ns=$NS_W ip=$W_IP
	[[ $side == r ]] && ns=$NS_R ip=$R_IP
	ip link add "v${side}$ID" netns "$ns" type veth peer name "b${side}$ID" netns "$NS_D"
	ip -n "$ns" addr add "$ip/24" dev "v${side}$ID"
	ip -n "$ns" link set "v${side}$ID" up
	ip -n "$NS_D" link set "b${side}$ID" master br0
	ip -n "$NS_D" link set "b${side}$ID" up
done
assert_eq "$(ip -n "$NS_D" route show default)" "" "the device namespace has no default route"
assert_eq "$(ip -n "$NS_W" route show default)" "" "the WFM namespace has no default route"
link_up() { ip -n "$NS_D" link show br0 | grep -q LOWER_UP; }
e2e_wait_for 10 link_up || e2e_die "no link between the namespaces"

# start_avahi NS NAME DIR IFACE: a private dbus-daemon and avahi-daemon in NS. avahi-daemon
# has its pid file and socket under /run/avahi-daemon, so it runs in its own mount namespace
# with a tmpfs there (and an empty /etc/avahi/services): nothing of the host's is touched.
start_avahi() {
	local ns=$1 name=$2 dir=$3 iface=$4
	mkdir -p "$dir"
	cat >"$dir/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/dbus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
	cat >"$dir/avahi.conf" <<EOF
[server]
host-name=$name
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
EOF
	e2e_bg "$dir/dbus.log" ip netns exec "$ns" dbus-daemon --config-file="$dir/dbus.conf" \
		--nofork --nopidfile
	e2e_wait_for 10 test -S "$dir/dbus.sock" || e2e_die "dbus-daemon did not start in $ns"
	start_avahi_daemon "$ns" "$dir"
}
start_avahi_daemon() {
	local ns=$1 dir=$2
	e2e_bg "$dir/avahi.log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/dbus.sock" \
		ip netns exec "$ns" unshare -m sh -c \
		'mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon &&
		 mount -t tmpfs tmpfs /etc/avahi/services &&
		 exec avahi-daemon -f "$1" --no-drop-root --no-chroot --no-rlimits --no-proc-title' \
		sh "$dir/avahi.conf"
	AVAHI_PID=$E2E_BG_PID
	e2e_wait_for 15 grep -q "Server startup complete" "$dir/avahi.log" ||
		e2e_die "avahi-daemon did not start in $ns (log: $(tail -n 5 "$dir/avahi.log"))"
}

# start_wfm NS DIR IP NAME [ARGS...]: wfmd --advertise in NS on IP (free port); sets URL_<dir>.
start_wfm() {
	local ns=$1 dir=$2 ip=$3 name=$4 i
	shift 4
	e2e_bg "$dir.log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$(dirname "$dir")/avahi-$(basename "$dir")/dbus.sock" \
		ip netns exec "$ns" "$WFMD_BIN" serve --data-dir "$dir" --listen "$ip:0" --san "$ip" \
		--advertise-name "$name" "$@"
	WFM_STARTED_PID=$E2E_BG_PID
	e2e_wait_for 20 test -s "$dir/public-url" || e2e_die "wfmd did not start in $ns"
}

e2e_step "the WFM and a rogue, each with avahi-daemon and wfmd --advertise"
start_avahi "$NS_W" "wfm-$ID" "$T/avahi-wfm" "vw$ID"
W_AVAHI=$AVAHI_PID
start_avahi "$NS_R" "rogue-$ID" "$T/avahi-rogue" "vr$ID"
start_wfm "$NS_W" "$T/wfm" "$W_IP" "Plant WFM" --san "wfm.example.test"
W_PID=$WFM_STARTED_PID
start_wfm "$NS_R" "$T/rogue" "$R_IP" "Rogue WFM"
W_URL=$(<"$T/wfm/public-url")
R_URL=$(<"$T/rogue/public-url")
PIN=$("$WFMD_BIN" fingerprint --data-dir "$T/wfm")
R_PIN=$("$WFMD_BIN" fingerprint --data-dir "$T/rogue")
FALSE_PIN=sha256:$(printf '%064d' 0)
assert_ne "$PIN" "$R_PIN" "the rogue has its own CA"
e2e_wait_for 15 grep -q ' advertising service=' "$T/wfm.log" || e2e_die "wfmd did not register with avahi"
assert_true "wfmd logs the registration" grep -q 'advertising.*_margo-wfm._tcp' "$T/wfm.log"

# agent NAME ARGS...: margo-agent in the device namespace, state dir $T/NAME; sets RC.
agent() {
	local name=$1
	shift
	: >"$T/$name.conf"
	RC=0
	ip netns exec "$NS_D" "$AGENT_BIN" "$@" --state-dir "$T/$name" --config "$T/$name.conf" \
		>"$T/$name.out" 2>"$T/$name.err" || RC=$?
	cat "$T/$name.out" "$T/$name.err" >>"$T/agent.log"
}

e2e_step "margo-agent discover lists both WFMs by multicast DNS, with their pins"
found() {
	agent disc discover --json --timeout 2
	[[ $RC == 0 ]] && [[ $("$JSON_GET" "$T/disc.out" /1/name 2>/dev/null) != "" ]]
}
e2e_wait_for 30 found || true
assert_eq "$RC" 0 "discover: exit 0 ($(<"$T/disc.err"))"
cp "$T/disc.out" "$T/disc.json"
assert_true "the WFM is listed with its URL and pin" \
	grep -q "\"url\": \"$W_URL\"" "$T/disc.json"
assert_true "its pin is announced" grep -q "\"pin\": \"$PIN\"" "$T/disc.json"
assert_true "the rogue is listed too" grep -q "\"url\": \"$R_URL\"" "$T/disc.json"
agent table discover --timeout 2
assert_match "$(<"$T/table.out")" "Plant WFM +$W_URL +$PIN" "the table shows name, URL and pin"

e2e_step "onboard --discover with two WFMs answering: refused, both listed, nothing stored"
agent two onboard --discover --ca-fingerprint "$PIN"
assert_eq "$RC" 2 "two WFMs: exit 2"
assert_match "$(<"$T/two.err")" "choose one with --discover-name" "two WFMs: says how to choose"
assert_match "$(<"$T/two.err")" "Rogue WFM" "two WFMs: the rogue is listed"
assert_false "two WFMs: no state dir" test -e "$T/two"

e2e_step "the rogue chosen by name with the real pin: its announced pin differs, refused"
agent rpin onboard --discover --discover-name "Rogue WFM" --ca-fingerprint "$PIN"
assert_eq "$RC" 3 "rogue with the real pin: exit 3"
assert_match "$(<"$T/rpin.err")" "announces CA pin $R_PIN, not the pin $PIN" "names both pins"
assert_false "rogue: no state dir" test -e "$T/rpin"

e2e_step "no pin, no token: shows the announced pin and asks, nothing stored"
agent ask onboard --discover --discover-name "Plant WFM"
assert_eq "$RC" 2 "no trust given: exit 2"
assert_match "$(<"$T/ask.err")" "unauthenticated" "says why"
assert_match "$(<"$T/ask.err")" "--ca-fingerprint $PIN" "shows the announced pin to check"
assert_false "no trust: no state dir" test -e "$T/ask"

e2e_step "a spoofed announcement: the real WFM's address with a false pin"
W_PORT=${W_URL##*:}
e2e_bg "$T/spoof.log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/avahi-rogue/dbus.sock" \
	ip netns exec "$NS_R" avahi-publish -s "Spoofed WFM" _margo-wfm._tcp "$W_PORT" \
	txtvers=1 api=v1alpha1 path=/ "pin=$FALSE_PIN" "host=$W_IP"
spoof_seen() {
	agent sp discover --json --timeout 1
	grep -q "Spoofed WFM" "$T/sp.out"
}
e2e_wait_for 20 spoof_seen || e2e_die "the spoofed announcement never showed ($(<"$T/spoof.log"))"
agent spoof onboard --discover --discover-name "Spoofed WFM" --ca-fingerprint "$PIN"
assert_eq "$RC" 3 "spoofed pin vs the given pin: exit 3"
assert_match "$(<"$T/spoof.err")" "a spoofed announcement or another WFM" "spoofed: clear message"
assert_false "spoofed: no state dir" test -e "$T/spoof"
agent spooftofu onboard --discover --discover-name "Spoofed WFM" --trust-on-first-use
assert_eq "$RC" 3 "TOFU holds the CA to the announced (false) pin: exit 3"
assert_match "$(<"$T/spooftofu.err")" "does not match the pin $FALSE_PIN" "TOFU: the false pin is what failed"
assert_false "spoofed TOFU: no state dir" test -e "$T/spooftofu"

e2e_step "the rogue WFM with the real WFM's enrollment token: its CA has no MAC, refused"
WFM_DIR=$T/wfm WFM_URL=$W_URL
printf 'Authorization: Bearer %s\n' "$(<"$T/wfm/admin.token")" >"$T/admin.hdr"
WFM_ADMIN_HDR=$T/admin.hdr
e2e_secret "@$T/wfm/admin.token"
ip netns exec "$NS_W" true
token_in_ns() { ip netns exec "$NS_W" "${E2E_CURL[@]}" --cacert "$T/wfm/ca.crt" -H "@$T/admin.hdr" \
	-H 'Content-Type: application/json' -o "$T/token.json" -w '%{http_code}' \
	-d '{"ttlSeconds": 3600, "maxUses": 5, "autoApprove": true}' "$W_URL/admin/v1/enrollment-tokens"; }
assert_eq "$(token_in_ns)" 201 "enrollment token created"
"$JSON_GET" "$T/token.json" /token >"$T/enroll.token"
e2e_secret "@$T/enroll.token"
rm -f "$T/token.json"
agent rtok onboard --discover --discover-name "Rogue WFM" --enrollment-token-file "$T/enroll.token"
assert_eq "$RC" 3 "rogue with the token: exit 3"
assert_match "$(<"$T/rtok.err")" "no CA MAC for this enrollment token" "rogue with the token: clear message"
assert_false "rogue with the token: no state dir" test -e "$T/rtok"

e2e_step "the real WFM by name and the token alone (one secret): onboarded"
agent dev1 onboard --discover --discover-name "Plant WFM" --enrollment-token-file "$T/enroll.token"
assert_eq "$RC" 0 "discover + token: exit 0 ($(<"$T/dev1.err"))"
assert_match "$(<"$T/dev1.err")" "authenticated by the enrollment token" "the token authenticated the CA"
assert_json /url "$W_URL" "$T/dev1/state.json"
assert_json /caFingerprint "$PIN" "$T/dev1/state.json"

e2e_step "unicast DNS-SD: dnsmasq in the WFM namespace, resolv.conf by /etc/netns"
mkdir -p "/etc/netns/$NS_D"
printf 'nameserver %s\n' "$W_IP" >"/etc/netns/$NS_D/resolv.conf"
e2e_bg "$T/dnsmasq.log" ip netns exec "$NS_W" dnsmasq --keep-in-foreground --no-daemon \
	--listen-address="$W_IP" --bind-interfaces --no-resolv --no-hosts --pid-file= \
	--conf-file=/dev/null \
	--ptr-record="_margo-wfm._tcp.example.test,plant._margo-wfm._tcp.example.test" \
	--srv-host="plant._margo-wfm._tcp.example.test,wfm.example.test,$W_PORT" \
	--txt-record="plant._margo-wfm._tcp.example.test,txtvers=1,path=/,pin=$PIN" \
	--host-record="wfm.example.test,$W_IP"
e2e_wait_for 10 grep -q "started" "$T/dnsmasq.log" || e2e_die "dnsmasq did not start"
agent uni discover --domain example.test
assert_eq "$RC" 0 "unicast discover: exit 0 ($(<"$T/uni.err"))"
assert_match "$(<"$T/uni.out")" "plant +https://wfm.example.test:$W_PORT +$PIN" "unicast: name, URL by DNS name, pin"
agent dev2 onboard --discover --domain example.test --ca-fingerprint "$PIN" \
	--enrollment-token-file "$T/enroll.token"
assert_eq "$RC" 0 "unicast onboard with pin: exit 0 ($(<"$T/dev2.err"))"
assert_json /url "https://wfm.example.test:$W_PORT" "$T/dev2/state.json"
agent none discover --domain nothing.example.test --timeout 1
assert_eq "$RC" 1 "unicast, nothing there: exit 1"
assert_match "$(<"$T/none.err")" "no WFM" "unicast, nothing there: clear message"

e2e_step "avahi-daemon restarts: wfmd registers again"
e2e_kill "$W_AVAHI" 5 || true
e2e_wait_for 10 grep -q "avahi-daemon is not running" "$T/wfm.log" ||
	fail "wfmd did not notice avahi-daemon leaving"
assert_true "wfmd still serves" ip netns exec "$NS_W" "${E2E_CURL[@]}" --cacert "$T/wfm/ca.crt" \
	-o /dev/null "$W_URL/onboarding/certificate"
n=$(grep -c ' advertising service=' "$T/wfm.log")
start_avahi_daemon "$NS_W" "$T/avahi-wfm"
registered_again() { [[ $(grep -c ' advertising service=' "$T/wfm.log") -gt $n ]]; }
assert_true "wfmd registers again" e2e_wait_for 15 registered_again
plant_back() {
	agent back discover --json --timeout 1
	grep -q "\"name\": \"Plant WFM\"" "$T/back.out"
}
assert_true "the WFM is discoverable again" e2e_wait_for 20 plant_back

e2e_step "wfmd without any avahi-daemon keeps serving, with a warning"
e2e_bg "$T/lone.log" env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/nothing.sock" \
	"$WFMD_BIN" serve --data-dir "$T/lone" --listen 127.0.0.1:0 --advertise
e2e_wait_for 20 test -s "$T/lone/public-url" || e2e_die "wfmd without avahi did not start"
assert_true "serves" "${E2E_CURL[@]}" --cacert "$T/lone/ca.crt" -o /dev/null \
	"$(<"$T/lone/public-url")/onboarding/certificate"
assert_true "warns" grep -q "not advertising\|avahi-daemon is not running" "$T/lone.log"

e2e_finish
