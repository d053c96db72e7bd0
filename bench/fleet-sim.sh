#!/usr/bin/env bash
# Runs bench/fleet-sim against a fresh wfmd on 127.0.0.1 and prints its phase lines plus
# wfmd's peak RSS (VmHWM). Usage: bench/fleet-sim.sh [BUILD_DIR]
# Environment: DEVICES (1000), CONCURRENCY (32), PHASES (onboard,poll,status), DURATION (10),
# RATE (unset: no cap), TIMEOUT (900 s for the whole run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
wfmd=$build/server/wfmd
sim=$build/bench/fleet-sim
[ -x "$wfmd" ] && [ -x "$sim" ] || { echo "fleet-sim.sh: build $build first (wfmd, fleet-sim)" >&2; exit 2; }
data=$(mktemp -d "${TMPDIR:-/tmp}/fleet-sim.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$data"
}
trap cleanup EXIT
"$wfmd" serve --data-dir "$data/wfm" --listen 127.0.0.1:0 --log-level warn >"$data/wfmd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$data/wfm/public-url" ] && break; sleep 0.1; done
[ -s "$data/wfm/public-url" ] || { echo "fleet-sim.sh: wfmd did not start" >&2; cat "$data/wfmd.log" >&2; exit 1; }
set +e
timeout "${TIMEOUT:-900}" "$sim" --url "$(cat "$data/wfm/public-url")" --ca-file "$data/wfm/ca.crt" \
	--admin-token-file "$data/wfm/admin.token" --devices "${DEVICES:-1000}" \
	--concurrency "${CONCURRENCY:-32}" --phases "${PHASES:-onboard,poll,status}" \
	--duration "${DURATION:-10}" ${RATE:+--rate "$RATE"}
rc=$?
set -e
echo "wfmd peak_rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status") devices=${DEVICES:-1000}"
exit $rc
