#!/usr/bin/env bash
# Recovery time (issue 10): how long the WFM is impaired when a part of it fails, measured
# from the client side under a steady load. 3 wfmd replicas on one durable PostgreSQL (its
# own cluster: tests/pg/pgtmp.sh, which this script runs itself under, so that the cluster is
# torn down on exit, failure or signal) behind HAProxy (tests/e2e/lib_ha.sh, TLS passthrough);
# one onboarded device; wrk polls its desired state with If-None-Match (304) on 32 kept-alive
# connections, and a Lua script (appended to bench/wrk.sh's) logs every response's completion
# time into 100 ms buckets (successes, failed statuses, 503s, the first and last success of
# each bucket), so that each event gets a timeline. Events:
#   a. replica 1 SIGKILLed while polling through HAProxy, restarted RESTART_AFTER seconds
#      later: the interruption seen by clients, when the rate is back to >= 90% of the
#      baseline, failed requests; when HAProxy marks it DOWN; from the restart until it is
#      ready, HAProxy has it UP, and a new connection through HAProxy is served by it
#   b. PostgreSQL restarted (`pgtmp.sh restart DIR immediate`, then `fast`) while polling
#      straight at replica 1, and again through HAProxy: from the restart until the first
#      success and until >= 90% of the baseline rate; 503s, other failed statuses and wrk's
#      connection errors
# Figures (bench/README.md): the interruption is the longest stretch after the event with no
# successful response (0 when none lasted 100 ms); "first OK" is its end, from the event;
# ">= 90%" is the start of the first 1 s window (on 100 ms steps, not before the first OK)
# whose successes reach 90% of the baseline rate (the successes per second before the event,
# its first second left out). Connection errors are wrk's count (connect, read, write,
# timeout): wrk reconnects at once after each, so their number depends on how fast the far
# side refuses, not only on how long.
# Usage: bench/recovery.sh [BUILD_DIR]   (env: DURATION=5s the baseline before each event,
#        AFTER=10 seconds observed after it, RESTART_AFTER=3 seconds replica 1 stays down,
#        PG_MODES="immediate fast", CONNECTIONS=32 THREADS=2 RUNS=1 (the median of RUNS))
# shellcheck disable=SC2317 # the events are functions called by name (timed_load)
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGTMP=$SRC_DIR/tests/pg/pgtmp.sh
# A durable cluster, as in production: fsync on, so crash recovery and commits cost what they
# would (pgtmp.sh's defaults are for tests). Exported: `pgtmp.sh restart` starts it again.
export PGTMP_SETTINGS=${PGTMP_SETTINGS:-"-c fsync=on -c full_page_writes=on -c shared_buffers=128MB"}
if [[ -z "${PGTMP_DIR:-}" ]]; then
	[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "bench/recovery.sh: no postgresql-15" >&2; exit 1; }
	exec bash "$PGTMP" run bash "$0" "$@"
fi
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
DURATION=${DURATION:-5s}
RUNS=${RUNS:-1}
AFTER=${AFTER:-10}
RESTART_AFTER=${RESTART_AFTER:-3}
PG_MODES=${PG_MODES:-immediate fast}
. "$SRC_DIR/bench/wrk.sh"
. "$SRC_DIR/tests/e2e/lib.sh"
. "$SRC_DIR/tests/e2e/lib_ha.sh"
[[ -x "$HAPROXY_BIN" ]] || { echo "bench/recovery.sh: haproxy is not installed" >&2; exit 1; }
BASE=${DURATION%s}

e2e_setup
# a database of its own in the cluster (the replicas create their schema in it)
psql "$WFMD_TEST_PG" -X -q -c 'CREATE DATABASE recovery' >/dev/null
REPLICA_STORE=${WFMD_TEST_PG%/*}/recovery
ha_poll_setup
id=$POLL_ID
# the same request for curl's probes (-H @file: the token stays out of argv)
printf 'Authorization: Bearer %s\nIf-None-Match: %s\n' "$(<"$T/bench.access_token")" "$(<"$T/etag")" >"$T/poll.hdr"
path=/device/$id/desired-state
wrk_script "$T/poll.lua" GET Authorization "$T/authz" If-None-Match "$T/etag"
cat >>"$T/poll.lua" <<'LUA'
-- The timeline: each response's completion time (CLOCK_REALTIME, the clock of the script's
-- `date +%s.%N`) in 100 ms buckets, per wrk thread; done() merges the threads' tables into
-- the file $RECOVERY_TIMELINE, one "TABLE BUCKET VALUE" a line.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } recovery_timespec;
int clock_gettime(int clk_id, recovery_timespec *tp);
]]
local tsp = ffi.new("recovery_timespec")
local function now()
  ffi.C.clock_gettime(0, tsp)
  return tonumber(tsp.tv_sec) + tonumber(tsp.tv_nsec) * 1e-9
end
-- globals: thread:get() reads them from each thread's Lua state
ok, bad, s503, fok, lok = {}, {}, {}, {}, {}
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
response = function(status, headers, body)
  local t = now()
  local b = math.floor(t * 10)
  if status == 200 or status == 304 then
    ok[b] = (ok[b] or 0) + 1
    -- a thread's times only grow: its first and last success in the bucket
    if not fok[b] then fok[b] = t end
    lok[b] = t
  else
    bad[b] = (bad[b] or 0) + 1
    if status == 503 then s503[b] = (s503[b] or 0) + 1 end
  end
end
local result_done = done
done = function(summary, latency, requests)
  result_done(summary, latency, requests)
  local f = assert(io.open(os.getenv("RECOVERY_TIMELINE"), "w"))
  for _, th in ipairs(threads) do
    for _, name in ipairs({"ok", "bad", "s503", "fok", "lok"}) do
      for b, v in pairs(th:get(name)) do f:write(string.format("%s %d %.6f\n", name, b, v)) end
    end
  end
  f:close()
end
LUA

now() { date +%s.%N; }
# since T0 [T1]: seconds from T0 to T1 (default now), 2 decimals
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'; }

# analyze TIMELINE T_START T_EVENT T_END: the figures of one event, "KEY VALUE" lines
# (base_rps first_ok_s gap_s full_s dip_pct end_pct ok_after bad_after s503_after bad_before).
analyze() {
	python3 - "$@" <<-'EOF'
	import math, sys
	path, t_start, t_event, t_end = sys.argv[1], *map(float, sys.argv[2:5])
	ok, bad, s503, fok, lok = {}, {}, {}, {}, {}
	for line in open(path):
	    name, b, v = line.split()
	    b, v = int(b), float(v)
	    if name in ("ok", "bad", "s503"):
	        d = {"ok": ok, "bad": bad, "s503": s503}[name]
	        d[b] = d.get(b, 0) + v
	    elif name == "fok":
	        fok[b] = min(v, fok.get(b, v))
	    else:
	        lok[b] = max(v, lok.get(b, v))
	ev = math.floor(t_event * 10)
	# baseline: whole buckets from 1 s after wrk's start (connections and caches warm) to the event
	b0, b1 = math.ceil((t_start + 1) * 10), ev
	base = sum(ok.get(b, 0) for b in range(b0, b1)) / ((b1 - b0) / 10)
	# the interruption: the longest time after the event between two successes (or from the
	# event to the first success, or from the last one to the end)
	prev, gap, gap_end = t_event, 0.0, t_event
	for b in sorted(k for k in ok if lok[k] >= t_event):
	    start = max(fok[b], t_event)
	    if start - prev > gap:
	        gap, gap_end = start - prev, start
	    prev = lok[b]
	never = t_end - prev > gap
	if never:
	    gap, gap_end = t_end - prev, None
	first_ok = None if gap_end is None else (gap_end - t_event if gap >= 0.1 else 0.0)
	# back to >= 90%: the first 1 s window, on 100 ms steps, after the event and not before
	# the first success, whose successes reach 90% of the baseline rate
	last = math.floor(t_end * 10) - 10
	s = ev + 1 if gap_end is None or gap < 0.1 else max(ev + 1, math.floor(gap_end * 10))
	full, dip = None, None
	for w in range(ev + 1, last + 1):
	    n = sum(ok.get(b, 0) for b in range(w, w + 10))
	    dip = n if dip is None else min(dip, n)
	    if full is None and w >= s and n >= 0.9 * base:
	        full = max(0.0, w / 10 - t_event)
	# the rate over the last 3 s, against the baseline: where it settled (on a shared machine
	# the baseline itself drifts, which ">= 90%" alone cannot tell from a slow recovery)
	tail = sum(ok.get(b, 0) for b in range(last - 20, last + 10)) / 3
	after = lambda d: int(sum(v for b, v in d.items() if b >= ev))
	fmt = lambda x: "never" if x is None else "%.2f" % x
	print("base_rps %.0f" % base)
	print("gap_s %.2f" % gap)
	print("first_ok_s %s" % fmt(first_ok))
	print("full_s %s" % fmt(full))
	print("dip_pct %s" % ("-" if dip is None or not base else "%.0f" % (100 * dip / base)))
	print("end_pct %s" % ("-" if not base else "%.0f" % (100 * tail / base)))
	print("ok_after %d" % after(ok))
	print("bad_after %d" % after(bad))
	print("s503_after %d" % after(s503))
	print("bad_before %d" % int(sum(v for b, v in bad.items() if b < ev)))
	EOF
}

# FIG[key]: the values of a figure over the runs (space-separated); fig KEY VALUE adds one.
declare -A FIG
fig() { FIG[$1]="${FIG[$1]:-}${FIG[$1]:+ }$2"; }
# figmed KEY: the median of KEY's values ("never" sorts last)
figmed() { tr ' ' '\n' <<<"${FIG[$1]:-}" | sed 's/^never$/999999/' | median | sed 's/^999999$/never/'; }

# timed_load NAME URL SECONDS EVENT_FUNCTION: wrk polls URL for BASE + SECONDS s, EVENT_FUNCTION
# runs after BASE s; then analyze's figures and wrk's error counts are recorded as NAME.*.
timed_load() {
	local name=$1 url=$2 secs=$3 event=$4 tl t_start t_event t_end wrk_pid out k v
	tl=$T/$name.run$run.timeline
	# every event starts from the same state: 3 replicas UP in HAProxy
	e2e_wait_for 20 all_up || e2e_die "$name: not every replica UP before the event"
	t_start=$(now)
	RECOVERY_TIMELINE=$tl wrk -t "$THREADS" -c "$CONNECTIONS" -d "$((BASE + secs))s" -s "$T/poll.lua" \
		"$url$path" >"$T/$name.run$run.wrk" 2>&1 &
	wrk_pid=$!
	e2e_track "$wrk_pid"
	sleep "$BASE"
	t_event=$(now)
	"$event" "$name" "$t_event"
	wait "$wrk_pid" || e2e_die "$name: wrk failed: $(tail -n 3 "$T/$name.run$run.wrk")"
	e2e_untrack "$wrk_pid"
	# the end of the timeline is wrk's, even when the event outlasted it
	t_end=$(awk -v t="$t_start" -v d=$((BASE + secs)) -v n="$(now)" 'BEGIN { printf "%.6f", (t + d < n ? t + d : n) }')
	[[ -s "$tl" ]] || e2e_die "$name: wrk wrote no timeline"
	out=$(grep '^RESULT' "$T/$name.run$run.wrk") || e2e_die "$name: no wrk result"
	fig "$name.conn_errors" "$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$out")"
	while read -r k v; do fig "$name.$k" "$v"; done < <(analyze "$tl" "$t_start" "$t_event" "$t_end")
	if [[ -n "${FIG[$name.pg_back_s]:-}" && "${FIG[$name.first_ok_s]##* }" != never ]]; then
		fig "$name.after_pg_s" "$(since "${FIG[$name.pg_back_s]##* }" "${FIG[$name.first_ok_s]##* }")"
	fi
	# PostgreSQL's log, kept with the others (E2E_KEEP=1) to explain what a timeline shows
	cp "$PGTMP_DIR/log" "$T/postgresql.log" 2>/dev/null || true
	# Nothing should fail before the event; when something did, say so (and record it) rather
	# than throw the run away: it is a finding too.
	[[ "${FIG[$name.bad_before]##* }" == 0 ]] ||
		echo "  WARNING: $name: ${FIG[$name.bad_before]##* } requests failed before the event (wfmd logs: $T/r*.log)" >&2
	echo "  $name run $run: $(for k in base_rps gap_s first_ok_s full_s dip_pct end_pct bad_after s503_after conn_errors; do
		printf '%s=%s ' "$k" "${FIG[$name.$k]##* }"; done)" >&2
}

# HAProxy's view, every 50 ms by one long-lived process (a python3 start per look costs more
# than that on 2 busy cores): $T/hastat.log gets "TIME r1 STATUS SESSIONS r2 ... r3 ..." each
# time a server's status or its total of sessions (field 8 of "show stat"; checks are not
# sessions) changes.
python3 - "$T/haproxy.sock" >"$T/hastat.log" <<-'EOF' &
	import socket, sys, time
	last = None
	while True:
	    s = socket.socket(socket.AF_UNIX)
	    try:
	        s.connect(sys.argv[1])
	        s.sendall(b"show stat\n")
	        out = b""
	        while True:
	            b = s.recv(65536)
	            if not b:
	                break
	            out += b
	    except OSError:
	        out = b""
	    finally:
	        s.close()
	    row = []
	    for line in out.decode().splitlines():
	        f = line.split(",")
	        if len(f) > 17 and f[0] == "replicas" and f[1].startswith("r"):
	            row.append("%s %s %s" % (f[1], f[17].split(" ")[0], f[7]))
	    if row and row != last:
	        print("%.6f %s" % (time.time(), " ".join(row)), flush=True)
	        last = row
	    time.sleep(0.05)
	EOF
e2e_track $!
# hastat SERVER: "TIME STATUS SESSIONS" lines of SERVER from $T/hastat.log
hastat() { awk -v s="$1" '{ for (i = 2; i < NF; i += 3) if ($i == s) print $1, $(i + 1), $(i + 2) }' "$T/hastat.log"; }
# hastat_when SERVER STATUS SINCE: the first time at or after SINCE HAProxy had SERVER in STATUS
# (1 when not yet)
hastat_when() { hastat "$1" | awk -v st="$2" -v t="$3" '$1 >= t && $2 == st { print $1; f = 1; exit } END { exit !f }'; }
# r1_served SINCE SESSIONS: after a probe, 0 when r1 has had more sessions than SESSIONS
r1_served() { hastat r1 | awk -v t="$1" -v n="$2" '$1 >= t && $3 > n { f = 1 } END { exit !f }'; }
# probe_r1 SINCE: polls through HAProxy on new connections (curl, every 0.1 s) until one
# answers 200/304 and r1's sessions have grown: r1 serves again; prints the time
probe_r1() {
	local since=$1 n code
	n=$(hastat r1 | awk -v t="$since" '$1 < t { n = $3 } END { print n + 0 }')
	for ((i = 0; i < 100; i++)); do
		code=$(ha_curl -o /dev/null -w '%{http_code}' -H "@$T/poll.hdr" "https://$HA_NAME$path") || code=000
		if [[ "$code" == 200 || "$code" == 304 ]]; then
			sleep 0.1 # the monitor's next look
			if r1_served "$since" "$n"; then now; return 0; fi
		fi
		sleep 0.1
	done
	return 1
}

# event a: replica 1 killed, restarted RESTART_AFTER s later
replica_kill() {
	local name=$1 t0=$2 t_restart t
	ha_replica_kill 1
	e2e_wait_for 10 hastat_when r1 DOWN "$t0" || e2e_die "HAProxy never marked r1 DOWN"
	fig "$name.down_s" "$(since "$t0" "$(hastat_when r1 DOWN "$t0")")"
	sleep "$(awk -v t="$t0" -v d="$RESTART_AFTER" -v n="$(now)" 'BEGIN { s = t + d - n; print (s > 0 ? s : 0) }')"
	t_restart=$(now)
	ha_replica_start 1 --log-level warn "${HA_STORE_ARGS[@]}"
	fig "$name.ready_s" "$(since "$t_restart")"
	e2e_wait_for 20 hastat_when r1 UP "$t_restart" || e2e_die "HAProxy never marked r1 UP again"
	fig "$name.up_s" "$(since "$t_restart" "$(hastat_when r1 UP "$t_restart")")"
	t=$(probe_r1 "$t_restart") || e2e_die "r1 serves no new connection through HAProxy"
	fig "$name.serves_s" "$(since "$t_restart" "$t")"
}

# all_up: HAProxy has every replica UP (the monitor's last look)
all_up() { tail -n 1 "$T/hastat.log" | awk '{ for (i = 3; i <= NF; i += 3) if ($i != "UP") exit 1 }'; }
# ha_after SINCE: "NONE BACK" from HAProxy's view after SINCE: the seconds it had no replica
# UP at all (0 when never) and the time every replica was UP again after any went DOWN ("-"
# when none went DOWN)
ha_after() {
	awk -v t="$1" '$1 >= t { up = 0; n = 0; for (i = 3; i <= NF; i += 3) { n++; if ($i == "UP") up++ }
		if (up < n) down = 1
		if (!up && !none_from) none_from = $1
		if (up && none_from && !none_to) none_to = $1
		if (down && up == n) { back = $1; exit } }
		END { printf "%.2f %s\n", (none_from && none_to ? none_to - none_from : 0), (back ? back : "-") }' "$T/hastat.log"
}

# event b: PostgreSQL restarted (PG_MODE: immediate or fast); pgtmp.sh returns once it accepts
# connections again (pg_ctl -w); then the replicas' checks bring them back into HAProxy
pg_restart() {
	local name=$1 t0=$2 none back
	bash "$PGTMP" restart "$PGTMP_DIR" "$PG_MODE"
	fig "$name.pg_back_s" "$(since "$t0")"
	# PostgreSQL's own start (the new postmaster's first line to ready: crash recovery after an
	# immediate stop), from its log's timestamps (log_line_prefix %m)
	fig "$name.pg_start_s" "$(awk '/starting PostgreSQL/ { s = $1 " " $2 " " $3 } /ready to accept connections/ { r = $1 " " $2 " " $3 }
		END { print s; print r }' "$PGTMP_DIR/log" | { read -r s; read -r r; since "$(date -d "$s" +%s.%N)" "$(date -d "$r" +%s.%N)"; })"
	e2e_wait_for 20 all_up || e2e_die "not every replica UP after the restart"
	read -r none back < <(ha_after "$t0")
	fig "$name.ha_none_s" "$none"
	if [[ "$back" == - ]]; then fig "$name.ha_back_s" 0; else fig "$name.ha_back_s" "$(since "$t0" "$back")"; fi
}

echo "recovery benchmark: 3 replicas on PostgreSQL 15 (fsync on) behind $(haproxy -v | head -n 1 | cut -d' ' -f1-3), wrk -t$THREADS -c$CONNECTIONS, ${BASE} s baseline + ${AFTER} s after each event, median of $RUNS runs, $(nproc) cores" >&2
for ((run = 1; run <= RUNS; run++)); do
	timed_load kill "$VIA_HAPROXY" $((RESTART_AFTER + AFTER)) replica_kill
	for PG_MODE in $PG_MODES; do
		timed_load "pg_${PG_MODE}_direct" "$DIRECT" "$AFTER" pg_restart
		timed_load "pg_${PG_MODE}_haproxy" "$VIA_HAPROXY" "$AFTER" pg_restart
	done
done

# the table, and the bench_result keys
m() { figmed "$1"; }
sec() { local v; v=$(m "$1"); [[ "$v" == never ]] && echo "never in the run" || echo "$v s"; }
row() { # row NAME LABEL NOTES
	printf '| %s | %s | %s | %s | %s | %s%% | %s%% | %s / %s / %s | %s |\n' "$2" "$(m "$1.base_rps")" \
		"$(sec "$1.gap_s")" "$(sec "$1.first_ok_s")" "$(sec "$1.full_s")" "$(m "$1.dip_pct")" "$(m "$1.end_pct")" \
		"$(m "$1.s503_after")" "$(($(m "$1.bad_after") - $(m "$1.s503_after")))" "$(m "$1.conn_errors")" "$3"
}
printf '| event (load) | baseline req/s | interruption | first OK after | >= 90%% of baseline after | lowest 1 s | last 3 s | failed: 503 / other status / connection | |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
row kill "replica 1 SIGKILL (through HAProxy, 3 replicas)" \
	"HAProxy DOWN after $(m kill.down_s) s; restarted after ${RESTART_AFTER} s: ready $(m kill.ready_s) s, UP $(m kill.up_s) s, serving $(m kill.serves_s) s after the restart"
for PG_MODE in $PG_MODES; do
	for via in direct haproxy; do
		k=pg_${PG_MODE}_$via
		row "$k" "PostgreSQL restart, $PG_MODE ($([[ $via == direct ]] && echo "straight to replica 1" || echo "through HAProxy"))" \
			"PostgreSQL back after $(m "$k.pg_back_s") s (its start $(m "$k.pg_start_s") s), first OK $(m "$k.after_pg_s") s later; HAProxy: no replica UP for $(m "$k.ha_none_s") s, all UP again $(m "$k.ha_back_s") s after the restart"
	done
done

bench_result recovery.baseline_rps "$(m kill.base_rps)"
bench_result recovery.replica_kill_gap_s "$(m kill.gap_s)"
bench_result recovery.replica_kill_first_ok_s "$(m kill.first_ok_s)"
bench_result recovery.replica_kill_full_s "$(m kill.full_s)"
bench_result recovery.replica_kill_end_pct "$(m kill.end_pct)"
bench_result recovery.replica_kill_failed "$(($(m kill.bad_after) + $(m kill.conn_errors)))"
bench_result recovery.replica_kill_failed_before "$(m kill.bad_before)"
bench_result recovery.replica_down_s "$(m kill.down_s)"
bench_result recovery.replica_ready_s "$(m kill.ready_s)"
bench_result recovery.replica_up_s "$(m kill.up_s)"
bench_result recovery.replica_serves_s "$(m kill.serves_s)"
for PG_MODE in $PG_MODES; do
	for via in direct haproxy; do
		k=pg_${PG_MODE}_$via
		bench_result "recovery.${k}_baseline_rps" "$(m "$k.base_rps")"
		bench_result "recovery.${k}_pg_back_s" "$(m "$k.pg_back_s")"
		bench_result "recovery.${k}_pg_start_s" "$(m "$k.pg_start_s")"
		bench_result "recovery.${k}_first_ok_after_pg_s" "$(m "$k.after_pg_s")"
		bench_result "recovery.${k}_haproxy_none_s" "$(m "$k.ha_none_s")"
		bench_result "recovery.${k}_haproxy_all_up_s" "$(m "$k.ha_back_s")"
		bench_result "recovery.${k}_gap_s" "$(m "$k.gap_s")"
		bench_result "recovery.${k}_first_ok_s" "$(m "$k.first_ok_s")"
		bench_result "recovery.${k}_full_s" "$(m "$k.full_s")"
		bench_result "recovery.${k}_end_pct" "$(m "$k.end_pct")"
		bench_result "recovery.${k}_503" "$(m "$k.s503_after")"
		bench_result "recovery.${k}_failed_other" "$(($(m "$k.bad_after") - $(m "$k.s503_after")))"
		bench_result "recovery.${k}_conn_errors" "$(m "$k.conn_errors")"
		bench_result "recovery.${k}_failed_before" "$(m "$k.bad_before")"
	done
done
e2e_finish
