# shellcheck shell=bash
# Shared set-up of the peer benchmarks (bench/peers/*.sh): the e2e fixtures of tests/e2e/lib.sh
# for the temp dir $T, process tracking and the clean-up trap; the wrk helpers of
# bench/common.sh (wrk_script, median, wrk_median: the same method as bench/http.sh); a free
# loopback port, an ECDSA P-256 certificate and an nginx started from a config template.
# The peers need no margo-fleet build. Env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3.
set -euo pipefail
PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$PEERS_DIR/../.." && pwd)
export SRC_DIR
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RUNS=${RUNS:-3}
for _p in wrk openssl; do
	command -v "$_p" >/dev/null || { echo "bench/peers: $_p is not installed (run bench/peers/setup)" >&2; exit 1; }
done

# tests/e2e/lib.sh's e2e_setup checks for the build's json-get helper, which no peer uses.
JSON_GET=${JSON_GET:-/bin/true}
. "$SRC_DIR/tests/e2e/lib.sh"
# wrk_script, median and wrk_median from bench/common.sh (which also starts a wfmd when
# sourced, so only the function definitions are taken). wrk_median targets $WFM_URL.
eval "$(sed -n -e '/^wrk_script() {/,/^}/p' -e '/^median() /p' -e '/^wrk_median() {/,/^}/p' \
	-e '/^bench_result() /p' "$SRC_DIR/bench/common.sh")"
declare -F wrk_script wrk_median median bench_result >/dev/null || { echo "bench/peers: helpers missing from bench/common.sh" >&2; exit 1; }
e2e_setup
mkdir -p "$T/www"

# peer_finish: normal end (no e2e pass/fail summary), processes stopped and $T removed by the trap.
# shellcheck disable=SC2034 # read by _e2e_exit (tests/e2e/lib.sh)
peer_finish() { E2E_FINISHED=1; exit 0; }

# peer_port: a TCP port nobody listens on at 127.0.0.1 (the caller binds it right away).
peer_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		if ! awk -v h="$(printf ':%04X' "$p")" 'NR > 1 && substr($2, length($2) - 4) == h {f = 1} END {exit !f}' \
			/proc/net/tcp /proc/net/tcp6; then
			echo "$p"
			return 0
		fi
	done
	e2e_die "no free port"
}

# peer_cert: self-signed ECDSA P-256 certificate for 127.0.0.1 (the same key type as wfmd's
# server key): $T/peer.crt (also the CA file for clients) and $T/peer.key (0600).
peer_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/peer.key" -out "$T/peer.crt" 2>/dev/null || e2e_die "openssl req failed"
	PEER_CA=$T/peer.crt
}

# peer_wait_https URL [CURL ARGS]: waits (10 s) until URL answers over TLS with the peer CA.
peer_wait_https() {
	local url=$1
	shift
	e2e_wait_for 10 curl -s --noproxy '*' --cacert "$PEER_CA" -o /dev/null "$@" "$url" ||
		e2e_die "$url not answering"
}

# peer_nginx TEMPLATE: nginx from TEMPLATE (@T@, @PORT@, @USER@ and @GROUP@ replaced) with
# prefix $T/nginx, in the foreground as a tracked child; the system nginx is not touched.
# Sets PEER_PORT and WFM_URL (https://127.0.0.1:PORT, the base URL wrk_median uses).
peer_nginx() {
	local tpl=$1 conf=$T/nginx/nginx.conf
	command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
	command -v nginx >/dev/null || e2e_die "nginx is not installed (run bench/peers/setup)"
	mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
	PEER_PORT=$(peer_port)
	sed -e "s|@T@|$T|g" -e "s|@PORT@|$PEER_PORT|g" -e "s|@USER@|$(id -un)|g" \
		-e "s|@GROUP@|$(id -gn)|g" "$tpl" >"$conf"
	# the user directive only matters (and is only allowed without a warning) as root
	[[ $EUID -eq 0 ]] || sed -i '/^user /d' "$conf"
	nginx -t -q -p "$T/nginx" -c "$conf" -e "$T/nginx/logs/error.log" ||
		e2e_die "nginx config test failed"
	e2e_bg "$T/nginx.log" nginx -p "$T/nginx" -c "$conf" -e "$T/nginx/logs/error.log" -g 'daemon off;'
	WFM_URL=https://127.0.0.1:$PEER_PORT
	export WFM_URL PEER_PORT
}
