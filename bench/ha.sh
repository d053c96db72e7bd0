#!/usr/bin/env bash
# HAProxy in front of wfmd replicas (issue 10; tests/e2e/lib_ha.sh: TLS passthrough, /readyz
# checks): what HAProxy itself costs, and 1 vs 3 replicas, on the same 2 cores.
#   - desired-state 304 polls with keep-alive: straight to replica 1; through HAProxy with
#     only replica 1 enabled; through HAProxy with 3 replicas
#   - the same with a new TLS connection for every request (Connection: close): straight,
#     and through HAProxy with 3 replicas
#   - HAProxy's CPU per 1,000 requests (user+system of its process during the runs)
# The replicas share one store the way test_replicas.sh does (REPLICA_STORE: a PostgreSQL
# URL; unset: one SQLite database linked into each data dir). Polls only read the store.
# HA_KEY names the figures' keys (ha.*; bench/ha-pg.sh records its PostgreSQL run as ha_pg.*).
# Usage: bench/ha.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3 HA_KEY=ha)
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
. "$SRC_DIR/bench/wrk.sh"
. "$SRC_DIR/tests/e2e/lib.sh"
. "$SRC_DIR/tests/e2e/lib_ha.sh"
[[ -x "$HAPROXY_BIN" ]] || { echo "bench/ha.sh: haproxy is not installed" >&2; exit 1; }
HA_KEY=${HA_KEY:-ha}

e2e_setup
ha_poll_setup
id=$POLL_ID
echo close >"$T/close"
wrk_script "$T/poll.lua" GET Authorization "$T/authz" If-None-Match "$T/etag"
wrk_script "$T/poll-close.lua" GET Authorization "$T/authz" If-None-Match "$T/etag" Connection "$T/close"
path=/device/$id/desired-state

# cpu_ticks PID: user+system clock ticks of the process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure VAR NAME URL SCRIPT: the median req/s into VAR, and HAProxy's CPU ms per 1,000
# requests into HA_CPU (its ticks over every run, against the median rate times the runs'
# length). Not in $(...): it sets variables.
measure() {
	local var=$1 t0 t1 rps secs
	shift
	WFM_URL=$2
	t0=$(cpu_ticks "$HAPROXY_PID")
	rps=$(wrk_median "$1" "$3" "$path")
	t1=$(cpu_ticks "$HAPROXY_PID")
	secs=${DURATION%s}
	HA_CPU=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v n="$RUNS" -v s="$secs" \
		'BEGIN { printf "%.1f", t * 1000 / hz / (r * n * s / 1000) }')
	printf -v "$var" %s "$rps"
}

echo "HAProxy benchmark: $(haproxy -v | head -n 1 | cut -d' ' -f1-3), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs, $(nproc) cores, store: $([[ -n "${REPLICA_STORE:-}" ]] && echo "PostgreSQL (one database)" || echo "one SQLite database shared by the replicas")" >&2
measure direct "304, straight to replica 1" "$DIRECT" "$T/poll.lua"
haproxy_cmd "disable server replicas/r2" >/dev/null
haproxy_cmd "disable server replicas/r3" >/dev/null
measure via1 "304, HAProxy, 1 replica" "$VIA_HAPROXY" "$T/poll.lua"
cpu1=$HA_CPU
haproxy_cmd "enable server replicas/r2" >/dev/null
haproxy_cmd "enable server replicas/r3" >/dev/null
e2e_wait_for 10 ha_server_is r3 UP || e2e_die "r3 not back"
measure via3 "304, HAProxy, 3 replicas" "$VIA_HAPROXY" "$T/poll.lua"
cpu3=$HA_CPU
measure dclose "304, new connection each, straight" "$DIRECT" "$T/poll-close.lua"
measure vclose "304, new connection each, HAProxy, 3 replicas" "$VIA_HAPROXY" "$T/poll-close.lua"
cpuc=$HA_CPU

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
bench_result "$HA_KEY.direct_rps" "$direct"
bench_result "$HA_KEY.haproxy1_rps" "$via1"
bench_result "$HA_KEY.haproxy3_rps" "$via3"
bench_result "$HA_KEY.direct_close_rps" "$dclose"
bench_result "$HA_KEY.haproxy3_close_rps" "$vclose"
bench_result "$HA_KEY.haproxy_cpu_ms_per_1k" "$cpu1"
bench_result "$HA_KEY.haproxy_close_cpu_ms_per_1k" "$cpuc"
printf '| desired-state 304 polls | req/s | vs straight | HAProxy CPU per 1,000 requests |\n|---|---:|---:|---:|\n'
printf '| keep-alive, straight to one replica | %s | 1.00 | |\n' "$direct"
printf '| keep-alive, through HAProxy, 1 replica | %s | %s | %s ms |\n' "$via1" "$(ratio "$via1" "$direct")" "$cpu1"
printf '| keep-alive, through HAProxy, 3 replicas | %s | %s | %s ms |\n' "$via3" "$(ratio "$via3" "$direct")" "$cpu3"
printf '| new TLS connection each, straight | %s | 1.00 | |\n' "$dclose"
printf '| new TLS connection each, through HAProxy, 3 replicas | %s | %s | %s ms |\n' "$vclose" "$(ratio "$vclose" "$dclose")" "$cpuc"
