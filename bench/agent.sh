#!/usr/bin/env bash
# The agent's cost per no-change poll, side by side with the git CLI (issue 5):
#   - `margo-agent run --once` of an onboarded agent whose desired state is already applied
#     (one deployment), against a wfmd on 127.0.0.1
#   - `git fetch` (git CLI) of the same device repository, with the device's git credentials
#     and the WFM CA pinned with -c http.sslCAInfo, in a clone that is already up to date
# Each is run N times; the table shows the medians of user+sys CPU time and of the peak
# resident set (wait4() rusage of a tiny C wrapper: the process and the children it waited
# for; GNU time would do but prints CPU time in centiseconds only), and the size of the
# stripped agent binary (shared libraries excluded).
# Usage: bench/agent.sh [BUILD_DIR]   (env: N=20, CC=cc)
# With BENCH_RESULTS=FILE, appends agent.binary_bytes agent.run_once_cpu_ms
# agent.run_once_hwm_kib gitcli.fetch_cpu_ms gitcli.fetch_hwm_kib to FILE.
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$(cd "${1:-$SRC_DIR/build}" && pwd)
export SRC_DIR BUILD_DIR
N=${N:-20}
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "bench: no C compiler ($CC)" >&2; exit 1; }
command -v git >/dev/null || { echo "bench: git is not installed" >&2; exit 1; }

. "$SRC_DIR/tests/e2e/lib.sh"
e2e_setup
e2e_require_bin "$AGENT_BIN"
# info: one log line per request, counted below for the run loop's polls
wfmd_start --log-level info
unset MARGO_ENROLLMENT_TOKEN MARGO_AGENT_PROBE_ROOT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# $T/rusage LOG CMD...: runs CMD, appends "cpu_ms hwm_kib" (user+sys from its wait4() rusage, to
# 0.1 ms; ru_maxrss) to LOG and exits with CMD's status. A small C program: the child of a big
# wrapper (python) would start its life with the wrapper's resident set, which ru_maxrss keeps.
cat >"$T/rusage.c" <<'EOC'
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3)
		return 2;
	pid = fork();
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || (f = fopen(argv[1], "a")) == NULL)
		return 2;
	fprintf(f, "%.1f %ld\n", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3, ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
EOC
"$CC" -O2 -o "$T/rusage" "$T/rusage.c" || e2e_die "cannot build the rusage wrapper with $CC"

# timed LOG CMD...: CMD under $T/rusage; its output goes to $T/timed.log; dies when it fails.
timed() {
	"$T/rusage" "$@" >>"$T/timed.log" 2>&1 || { tail -n 20 "$T/timed.log" >&2; e2e_die "${*:2} failed"; }
}

# An onboarded agent (the real machine probed), one deployment, applied.
S=$T/agent
CONF=$T/agent.conf
printf 'apply_command = /bin/true\nlog_level = warn\n' >"$CONF"
PIN=$("$WFMD_BIN" fingerprint --data-dir "$WFM_DIR")
enrollment_token_create --auto-approve
"$AGENT_BIN" onboard --url "$WFM_URL" --ca-fingerprint "$PIN" --state-dir "$S" --config "$CONF" \
	--enrollment-token-file "$ENROLL_TOKEN_FILE" >"$T/onboard.log" 2>&1 ||
	{ cat "$T/onboard.log" >&2; e2e_die "margo-agent onboard failed"; }
id=$("$JSON_GET" "$S/state.json" /clientId)
dep=$(cat /proc/sys/kernel/random/uuid)
deployment_yaml "$dep" bench-app "$T/dep.yaml"
deploy_put "$id" "$dep" "$T/dep.yaml"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "deploy failed: $HTTP_STATUS"
for i in 1 2; do
	"$AGENT_BIN" run --once --state-dir "$S" --config "$CONF" >>"$T/agent.log" 2>&1 ||
		{ cat "$T/agent.log" >&2; e2e_die "margo-agent run --once failed"; }
done
"$JSON_GET" "$S/deployments.json" "/deployments/$dep/state" >"$T/dep.state"
[[ "$(<"$T/dep.state")" == Installed ]] || e2e_die "deployment not applied: $(<"$T/dep.state")"

# The git CLI as the same device: the agent's git credentials, cloned with the e2e git_as
# (askpass from files, the pinned CA only, no user or system configuration); the timed fetches
# use the same askpass and settings without git_as's `timeout` process, and an empty CA
# directory as bench/git.sh does (else Debian's git also loads /etc/ssl/certs on every run:
# the comparison is with the git CLI at its cheapest).
"$JSON_GET" "$S/state.json" /gitUsername | tr -d '\n' >"$T/dev.git_user"
"$JSON_GET" "$S/state.json" /gitAccessToken | tr -d '\n' >"$T/dev.git_token"
e2e_secret "@$T/dev.git_token"
url=$("$JSON_GET" "$S/state.json" /gitRepositoryUrl)
git_as dev clone -q "$url" "$T/clone" || { cat "$T/git.out" >&2; e2e_die "git clone failed"; }
mkdir -p "$T/empty-capath"
cat >"$T/gitfetch" <<EOS
#!/bin/sh
exec env -u GIT_SSL_CAINFO -u https_proxy -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
	HOME="$T/githome" XDG_CONFIG_HOME="$T/githome" GIT_CONFIG_NOSYSTEM=1 \
	GIT_TERMINAL_PROMPT=0 GIT_ASKPASS="$T/git-askpass" \
	E2E_GIT_USER="$(<"$T/dev.git_user")" E2E_GIT_TOKEN_FILE="$T/dev.git_token" \
	git -C "$T/clone" -c http.sslCAPath="$T/empty-capath" -c http.sslCAInfo="$WFM_CA" \
	-c credential.helper= fetch -q origin
EOS
chmod 700 "$T/gitfetch"
rev=$("$JSON_GET" "$S/state.json" /desiredRevision)
[[ "$(git -C "$T/clone" rev-parse origin/main)" == "$rev" ]] || e2e_die "the clone is not at $rev"

# The no-change runs, interleaved so that both see the same machine load.
: >"$T/agent.times"
: >"$T/git.times"
for ((i = 1; i <= N; i++)); do
	timed "$T/agent.times" "$AGENT_BIN" run --once --state-dir "$S" --config "$CONF"
	timed "$T/git.times" "$T/gitfetch"
done
echo "margo-agent run --once vs git fetch, no change, median of $N runs each, $(nproc) cores" >&2
paste -d' ' "$T/agent.times" "$T/git.times" |
	awk '{printf "  run %d: margo-agent run --once cpu_ms=%s hwm_kib=%s; git fetch cpu_ms=%s hwm_kib=%s\n", NR, $1, $2, $3, $4}' >&2
# no change means no apply and no new revision
[[ "$("$JSON_GET" "$S/deployments.json" /revision)" == "$rev" ]] || e2e_die "the revision moved"

# The same device as a long-running agent (`margo-agent run`, what a device runs), polling
# every second: CPU per no-change poll in steady state, from the kernel's on-CPU time of the
# process (/proc/PID/schedstat, ns) over the polls wfmd logged meanwhile. With a 1 s interval
# the agent's kept-alive TLS connection is reused; with intervals beyond wfmd's 30 s idle
# timeout each poll also pays a TLS handshake.
LOOP_SECONDS=${LOOP_SECONDS:-20}
printf 'apply_command = /bin/true\nlog_level = warn\npoll_interval = 1s\n' >"$T/loop.conf"
polls() { grep -c "route=/device/$id/desired-state " "$WFMD_LOG" || true; }
oncpu() { awk '{print $1}' "/proc/$1/schedstat"; }
"$AGENT_BIN" run --state-dir "$S" --config "$T/loop.conf" >"$T/loop.log" 2>&1 &
loop_pid=$!
e2e_track "$loop_pid"
p0=$(polls)
for _ in $(seq 100); do [[ $(polls) -ge $((p0 + 2)) ]] && break; sleep 0.1; done
[[ $(polls) -ge $((p0 + 2)) ]] || { cat "$T/loop.log" >&2; e2e_die "margo-agent run does not poll"; }
c0=$(oncpu "$loop_pid") p0=$(polls)
sleep "$LOOP_SECONDS"
c1=$(oncpu "$loop_pid") p1=$(polls)
kill -TERM "$loop_pid"
wait "$loop_pid" || e2e_die "margo-agent run did not exit cleanly on SIGTERM"
(( p1 > p0 )) || e2e_die "no polls in ${LOOP_SECONDS} s"
loop_cpu=$(awk -v a="$c0" -v b="$c1" -v n=$((p1 - p0)) 'BEGIN {printf "%.2f", (b - a) / 1e6 / n}')
echo "  run loop: $((p1 - p0)) no-change polls in ${LOOP_SECONDS} s, ${loop_cpu} ms CPU each" >&2

strip -o "$T/margo-agent.stripped" "$AGENT_BIN"
bin_bytes=$(stat -c %s "$T/margo-agent.stripped")
agent_cpu=$(awk '{print $1}' "$T/agent.times" | median)
agent_hwm=$(awk '{print $2}' "$T/agent.times" | median)
git_cpu=$(awk '{print $1}' "$T/git.times" | median)
git_hwm=$(awk '{print $2}' "$T/git.times" | median)

printf '| measure | margo-agent run --once | git fetch | agent / git |\n|---|---|---|---|\n'
printf '| CPU user+sys, ms | %s | %s | %s |\n' "$agent_cpu" "$git_cpu" \
	"$(awk -v a="$agent_cpu" -v g="$git_cpu" 'BEGIN {printf (g > 0 ? "%.2f" : "-"), a / g}')"
printf '| peak RSS, KiB | %s | %s | %s |\n' "$agent_hwm" "$git_hwm" \
	"$(awk -v a="$agent_hwm" -v g="$git_hwm" 'BEGIN {printf (g > 0 ? "%.2f" : "-"), a / g}')"
printf '| CPU per no-change poll of a running agent (margo-agent run, 1 s interval), ms | %s | %s | %s |\n' "$loop_cpu" "$git_cpu" \
	"$(awk -v a="$loop_cpu" -v g="$git_cpu" 'BEGIN {printf (g > 0 ? "%.3f" : "-"), a / g}')"
printf '| stripped binary, bytes (shared libraries excluded) | %s | - | - |\n' "$bin_bytes"
if [[ -n "${BENCH_RESULTS:-}" ]]; then
	{
		echo "agent.binary_bytes $bin_bytes"
		echo "agent.run_once_cpu_ms $agent_cpu"
		echo "agent.run_once_hwm_kib $agent_hwm"
		echo "gitcli.fetch_cpu_ms $git_cpu"
		echo "gitcli.fetch_hwm_kib $git_hwm"
		echo "agent.loop_poll_cpu_ms $loop_cpu"
	} >>"$BENCH_RESULTS"
fi
wfmd_stop
