# shellcheck shell=bash
# Shared fixtures for margo-fleet end-to-end scenarios (tests/e2e/test_*.sh).
#
# A scenario is a bash script that does
#
#     #!/usr/bin/env bash
#     set -euo pipefail
#     . "$(dirname "$0")/lib.sh"
#     e2e_setup
#     wfmd_start
#     http GET /onboarding/certificate
#     assert_status 200
#     ...
#     e2e_finish
#
# Environment: BUILD_DIR (build tree, default $SRC_DIR/build) and SRC_DIR (source tree, default
# two levels above this file); ctest sets both. E2E_KEEP=1 keeps the temp dir. E2E_VERBOSE=1
# prints every passing assertion too.
#
# Conventions
# - Every process a scenario starts goes through wfmd_start or e2e_bg (or e2e_track PID), so
#   the EXIT trap stops it, even when the scenario fails half way.
# - Assertions never abort the script (set -e stays harmless): they count, print "not ok"
#   lines with details, and e2e_finish prints "N passed, M failed" and exits non-zero on any
#   failure. e2e_die aborts at once (a fixture could not be built).
# - Secrets travel in files (curl -H @file, --data-binary @file), never in argv or URLs.
#   Files under $T holding secrets are mode 0600 (umask 077 inside e2e_setup).
# - Functions that set variables (http, onboard_request, enrollment_token_create, ...) must
#   be called directly, not inside $(...), or their variables are lost in the subshell.

# ---------------------------------------------------------------------------------------------
# Locations

if [[ -z "${SRC_DIR:-}" ]]; then
	SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
SRC_DIR=$(cd "$SRC_DIR" && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd || echo "$BUILD_DIR")
export SRC_DIR BUILD_DIR

WFMD_BIN=${WFMD_BIN:-$BUILD_DIR/server/wfmd}
WFMCTL_BIN=${WFMCTL_BIN:-$BUILD_DIR/cli/wfmctl}
AGENT_BIN=${AGENT_BIN:-$BUILD_DIR/agent/margo-agent}
MARGO_SIGN=${MARGO_SIGN:-$BUILD_DIR/tests/margo-sign}
JSON_GET=${JSON_GET:-$BUILD_DIR/tests/json-get}

# Bounds (seconds).
E2E_START_TIMEOUT=${E2E_START_TIMEOUT:-20}
E2E_STOP_TIMEOUT=${E2E_STOP_TIMEOUT:-10}
E2E_CURL_TIMEOUT=${E2E_CURL_TIMEOUT:-20}

# Every curl call: no proxy from the environment, bounded in time, the WFM CA given explicitly
# by the callers (CURL_CA_BUNDLE/SSL_CERT_FILE may be set on this machine: never rely on them).
E2E_CURL=(curl --silent --show-error --noproxy '*' --max-time "$E2E_CURL_TIMEOUT")

E2E_NAME=$(basename "${0%.sh}")
E2E_PASS=0
E2E_FAIL=0
E2E_FINISHED=0
E2E_PIDS=()
T=

# ---------------------------------------------------------------------------------------------
# Messages, counters, set-up and clean-up

e2e_log() { printf '# %s\n' "$*" >&2; }

# e2e_step TEXT: a heading for the next group of assertions.
e2e_step() { printf '\n## %s\n' "$*" >&2; }

pass() {
	E2E_PASS=$((E2E_PASS + 1))
	if [[ "${E2E_VERBOSE:-0}" == 1 ]]; then
		printf 'ok %d - %s\n' "$((E2E_PASS + E2E_FAIL))" "$*" >&2
	fi
}

fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	printf 'not ok %d - %s\n' "$((E2E_PASS + E2E_FAIL))" "$*" >&2
	local i
	# caller chain, innermost assertion first, to find the failing line quickly
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		if [[ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]]; then
			printf '#   at %s:%s\n' "$(basename "${BASH_SOURCE[$i]}")" "${BASH_LINENO[$((i - 1))]}" >&2
			break
		fi
	done
}

# e2e_die MESSAGE: aborts the scenario (counted as a failure).
e2e_die() {
	printf 'FATAL: %s\n' "$*" >&2
	E2E_FAIL=$((E2E_FAIL + 1))
	exit 1
}

# e2e_require_bin PATH...: dies unless each program exists (built).
e2e_require_bin() {
	local b
	for b in "$@"; do
		[[ -x "$b" ]] || e2e_die "$b not built (BUILD_DIR=$BUILD_DIR; run ninja -C $BUILD_DIR)"
	done
}

# e2e_setup: temp dir $T, traps, umask 077. Call once, first.
e2e_setup() {
	umask 077
	T=$(mktemp -d "${TMPDIR:-/tmp}/e2e-$E2E_NAME.XXXXXX")
	export T
	: >"$T/secrets.list"
	trap '_e2e_exit' EXIT
	trap 'e2e_log "interrupted"; exit 130' INT
	trap 'e2e_log "terminated"; exit 143' TERM
	e2e_require_bin "$JSON_GET"
}

# _e2e_alive PID: running and not a zombie.
_e2e_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ "$st" != Z && -n "$st" ]]
}

# _e2e_wait_gone PID SECONDS: 0 when the process ended within the bound.
_e2e_wait_gone() {
	local pid=$1 limit=$(($2 * 10)) i
	for ((i = 0; i < limit; i++)); do
		_e2e_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# e2e_track PID: the EXIT trap stops this process.
e2e_track() { E2E_PIDS+=("$1"); }

# e2e_untrack PID
e2e_untrack() {
	local p keep=()
	for p in "${E2E_PIDS[@]}"; do
		[[ "$p" == "$1" ]] || keep+=("$p")
	done
	E2E_PIDS=("${keep[@]+"${keep[@]}"}")
}

# e2e_bg LOGFILE CMD ARGS...: starts CMD in the background (stdout+stderr appended to LOGFILE),
# tracks it, sets E2E_BG_PID.
e2e_bg() {
	local log=$1
	shift
	"$@" >>"$log" 2>&1 &
	E2E_BG_PID=$!
	e2e_track "$E2E_BG_PID"
}

# e2e_kill PID [SECONDS]: SIGTERM, bounded wait, then SIGKILL. Returns the exit status when the
# process was our child, else 0.
e2e_kill() {
	local pid=$1 bound=${2:-5} rc=0
	if _e2e_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! _e2e_wait_gone "$pid" "$bound"; then
			e2e_log "pid $pid ignored SIGTERM for ${bound}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || rc=$?
	e2e_untrack "$pid"
	return "$rc"
}

_e2e_exit() {
	local rc=$? p f
	trap - EXIT INT TERM
	for p in "${E2E_PIDS[@]+"${E2E_PIDS[@]}"}"; do
		e2e_kill "$p" 3 >/dev/null 2>&1 || true
	done
	if [[ "$E2E_FINISHED" != 1 ]]; then
		if [[ $rc -ne 0 ]]; then
			E2E_FAIL=$((E2E_FAIL + 1))
			printf 'not ok - scenario aborted (exit status %d)\n' "$rc" >&2
		fi
		printf '%d passed, %d failed\n' "$E2E_PASS" "$E2E_FAIL"
	fi
	if [[ -n "$T" && -d "$T" ]]; then
		if [[ $E2E_FAIL -ne 0 || $rc -ne 0 || "${E2E_KEEP:-0}" == 1 ]]; then
			for f in "$T"/*.log; do
				[[ -f "$f" ]] || continue
				printf '\n--- tail of %s ---\n' "$f" >&2
				tail -n 40 "$f" >&2
			done
			printf '\n# kept temp dir: %s\n' "$T" >&2
		else
			rm -rf "$T"
		fi
	fi
	if [[ $E2E_FAIL -ne 0 && $rc -eq 0 ]]; then
		rc=1
	fi
	exit "$rc"
}

# e2e_finish: prints "N passed, M failed" and exits (1 on any failure or when nothing passed).
e2e_finish() {
	E2E_FINISHED=1
	printf '%d passed, %d failed\n' "$E2E_PASS" "$E2E_FAIL"
	if [[ $E2E_FAIL -ne 0 || $E2E_PASS -eq 0 ]]; then
		exit 1
	fi
	exit 0
}

# e2e_wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 on timeout.
e2e_wait_for() {
	local limit=$(($1 * 10)) i
	shift
	for ((i = 0; i < limit; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# e2e_secret VALUE_OR_@FILE: remembers a secret, for assert_no_secrets_in (the value is kept
# in $T/secrets.list, mode 0600; arguments are builtins here, so no process sees it).
e2e_secret() {
	local v=$1
	if [[ "$v" == @* ]]; then
		v=$(<"${v#@}")
	fi
	[[ -n "$v" ]] && printf '%s\n' "$v" >>"$T/secrets.list"
	return 0
}

# ---------------------------------------------------------------------------------------------
# wfmd

WFMD_PID=
WFMD_PORT=${WFMD_PORT:-}
WFMD_ARGS=()
# wfmd always listens on 127.0.0.1 here; with --public-url https://wfm.test:PORT the URL's
# name does not resolve, so every request of the helpers connects to 127.0.0.1 whatever the
# URL's host (TLS still verifies the URL's name against the server certificate).
WFM_CURL_OPTS=(--connect-to "::127.0.0.1:")

# wfmd_start [extra wfmd serve args]: starts wfmd on 127.0.0.1 (free port on first start, the
# same port on later starts: set WFMD_PORT= to pick a new one) with data dir $T/wfm, waits
# until it serves. Exports WFM_URL WFM_DIR WFM_CA WFMD_PID WFMD_LOG WFM_ADMIN_HDR WFMD_PORT.
# Extra args given here are remembered for wfmd_restart.
wfmd_start() {
	local listen url code i
	e2e_require_bin "$WFMD_BIN"
	WFMD_ARGS=("$@")
	WFM_DIR=${WFM_DIR:-$T/wfm}
	WFM_CA=$WFM_DIR/ca.crt
	WFMD_LOG=${WFMD_LOG:-$T/wfmd.log}
	WFM_ADMIN_HDR=$T/admin.hdr
	export WFM_DIR WFM_CA WFMD_LOG WFM_ADMIN_HDR
	listen="127.0.0.1:${WFMD_PORT:-0}"
	rm -f "$WFM_DIR/public-url"
	printf '# --- wfmd serve --listen %s %s (%s)\n' "$listen" "$*" "$(date -u +%T)" >>"$WFMD_LOG"
	"$WFMD_BIN" serve --data-dir "$WFM_DIR" --listen "$listen" "$@" >>"$WFMD_LOG" 2>&1 &
	WFMD_PID=$!
	export WFMD_PID
	e2e_track "$WFMD_PID"
	url=
	for ((i = 0; i < E2E_START_TIMEOUT * 10; i++)); do
		if ! _e2e_alive "$WFMD_PID"; then
			wait "$WFMD_PID" 2>/dev/null && code=0 || code=$?
			e2e_untrack "$WFMD_PID"
			tail -n 30 "$WFMD_LOG" >&2
			e2e_die "wfmd exited with status $code during start-up (log above)"
		fi
		if [[ -z "$url" && -s "$WFM_DIR/public-url" ]]; then
			url=$(<"$WFM_DIR/public-url")
		fi
		if [[ -n "$url" && -f "$WFM_CA" ]]; then
			code=$("${E2E_CURL[@]}" --cacert "$WFM_CA" "${WFM_CURL_OPTS[@]}" -o /dev/null \
				-w '%{http_code}' "$url/onboarding/certificate" 2>/dev/null) || code=000
			if [[ "$code" == 200 ]]; then
				break
			fi
		fi
		sleep 0.1
	done
	if [[ "$code" != 200 ]]; then
		tail -n 30 "$WFMD_LOG" >&2
		e2e_die "wfmd not serving after ${E2E_START_TIMEOUT}s (public-url='$url', last status $code)"
	fi
	WFM_URL=$url
	WFMD_PORT=${url##*:}
	export WFM_URL WFMD_PORT
	# The admin bearer header, in a 0600 file for curl -H @file.
	printf 'Authorization: Bearer %s\n' "$(<"$WFM_DIR/admin.token")" >"$WFM_ADMIN_HDR"
	e2e_secret "@$WFM_DIR/admin.token"
	e2e_log "wfmd pid $WFMD_PID serving $WFM_URL"
}

# wfmd_stop: SIGTERM, waits (bounded), asserts exit status 0.
wfmd_stop() {
	local rc=0
	[[ -n "$WFMD_PID" ]] || return 0
	kill -TERM "$WFMD_PID" 2>/dev/null || true
	if _e2e_wait_gone "$WFMD_PID" "$E2E_STOP_TIMEOUT"; then
		wait "$WFMD_PID" 2>/dev/null || rc=$?
		assert_eq "$rc" 0 "wfmd exits 0 on SIGTERM"
	else
		fail "wfmd still running ${E2E_STOP_TIMEOUT}s after SIGTERM (killed)"
		kill -KILL "$WFMD_PID" 2>/dev/null || true
		wait "$WFMD_PID" 2>/dev/null || true
	fi
	e2e_untrack "$WFMD_PID"
	WFMD_PID=
}

# wfmd_restart [args]: stop, then start on the same data dir and port (with the previous
# extra args unless new ones are given).
wfmd_restart() {
	local args=("${WFMD_ARGS[@]+"${WFMD_ARGS[@]}"}")
	wfmd_stop
	if [[ $# -gt 0 ]]; then
		args=("$@")
	fi
	wfmd_start "${args[@]+"${args[@]}"}"
}

# wfmctl ARGS...: the operator CLI against this scenario's wfmd (local data dir).
wfmctl() {
	e2e_require_bin "$WFMCTL_BIN"
	"$WFMCTL_BIN" --data-dir "$WFM_DIR" "$@"
}

# ---------------------------------------------------------------------------------------------
# HTTP

HTTP_STATUS=
HTTP_BODY=
HTTP_BODY_FILE=
HTTP_HEADERS_FILE=
HTTP_METHOD=
HTTP_PATH=

# http METHOD PATH_OR_URL [curl args...]: one request to $WFM_URL (PATH) or to a full URL,
# pinned to the WFM CA. Sets HTTP_STATUS ("000" when the connection failed; curl's error goes
# to $T/curl.err), HTTP_BODY (text), HTTP_BODY_FILE, HTTP_HEADERS_FILE. Always returns 0.
# Each call overwrites the previous response files; copy them to keep them.
http() {
	local method=$1 path=$2 url
	shift 2
	case "$path" in
	http://* | https://*) url=$path ;;
	*) url=$WFM_URL$path ;;
	esac
	HTTP_METHOD=$method
	HTTP_PATH=$path
	HTTP_BODY_FILE=$T/body
	HTTP_HEADERS_FILE=$T/headers
	rm -f "$HTTP_BODY_FILE" "$HTTP_HEADERS_FILE"
	local mflag=(-X "$method")
	if [[ "$method" == HEAD ]]; then
		mflag=(--head)
	fi
	HTTP_STATUS=$("${E2E_CURL[@]}" --cacert "$WFM_CA" "${WFM_CURL_OPTS[@]}" "${mflag[@]}" \
		-o "$HTTP_BODY_FILE" -D "$HTTP_HEADERS_FILE" -w '%{http_code}' "$@" "$url" \
		2>"$T/curl.err") || true
	[[ -n "$HTTP_STATUS" ]] || HTTP_STATUS=000
	[[ -f "$HTTP_BODY_FILE" ]] || : >"$HTTP_BODY_FILE"
	[[ -f "$HTTP_HEADERS_FILE" ]] || : >"$HTTP_HEADERS_FILE"
	HTTP_BODY=$(tr -d '\0' <"$HTTP_BODY_FILE")
	if [[ "${E2E_VERBOSE:-0}" == 1 ]]; then
		printf '# %s %s -> %s\n' "$method" "$path" "$HTTP_STATUS" >&2
	fi
	return 0
}

# admin_http METHOD PATH [curl args...]: http with the admin bearer token (from a header file).
admin_http() {
	local method=$1 path=$2
	shift 2
	http "$method" "$path" -H "@$WFM_ADMIN_HDR" "$@"
}

# http_header NAME [HEADERS_FILE]: prints the value of header NAME (case-insensitive) of the
# last response block (after any 100 Continue), without CR; several lines joined by ", ".
# Prints nothing (status 0) when absent.
http_header() {
	local f=${2:-$HTTP_HEADERS_FILE}
	[[ -f "$f" ]] || return 0
	awk -v want="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { n = 0; delete v; next }
		{
			i = index($0, ":")
			if (i == 0) next
			name = tolower(substr($0, 1, i - 1))
			if (name != want) next
			val = substr($0, i + 1)
			sub(/^[ \t]+/, "", val); sub(/[ \t]+$/, "", val)
			v[n++] = val
		}
		END { s = ""; for (j = 0; j < n; j++) s = (j ? s ", " : "") v[j]; if (n) print s }
	' "$f"
}

# http_has_header NAME [HEADERS_FILE]: status 0 when present.
http_has_header() {
	local f=${2:-$HTTP_HEADERS_FILE}
	[[ -f "$f" ]] || return 1
	awk -v want="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { found = 0; next }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == want) found = 1 }
		END { exit !found }
	' "$f"
}

# http_media_type: the response's Content-Type without parameters, lowercase.
http_media_type() {
	local ct
	ct=$(http_header Content-Type)
	ct=${ct%%;*}
	printf '%s' "$ct" | tr 'A-Z' 'a-z' | tr -d ' \t'
}

# bearer_header TOKEN_FILE OUT_FILE: writes "Authorization: Bearer <token>" (mode 0600).
bearer_header() {
	printf 'Authorization: Bearer %s\n' "$(<"$1")" >"$2"
}

# ---------------------------------------------------------------------------------------------
# JSON (tests/e2e/helpers/json-get.c; no jq, no python)

# json_get POINTER [FILE]: prints the value at the RFC 6901 pointer of FILE (default: the last
# response body). Strings raw, other values as compact JSON. Status 1 when absent, 2 when the
# file is not JSON. Use `v=$(json_get /x) || true` under set -e when absence is expected.
json_get() {
	"$JSON_GET" "${2:-$HTTP_BODY_FILE}" "$1"
}

# json_type POINTER [FILE]: object, array, string, integer, real, true, false, null (1: absent).
json_type() {
	"$JSON_GET" --type "${2:-$HTTP_BODY_FILE}" "$1"
}

# json_length POINTER [FILE]: number of elements of an array or members of an object.
json_length() {
	"$JSON_GET" --length "${2:-$HTTP_BODY_FILE}" "$1"
}

# json_index ARRAY_POINTER FIELD VALUE [FILE]: prints the first index i whose
# ARRAY_POINTER/i/FIELD equals VALUE (status 1 and "-1" when none).
json_index() {
	local f=${4:-$HTTP_BODY_FILE} n i
	n=$("$JSON_GET" --length "$f" "$1" 2>/dev/null) || n=0
	for ((i = 0; i < n; i++)); do
		if [[ "$("$JSON_GET" "$f" "$1/$i/$2" 2>/dev/null)" == "$3" ]]; then
			echo "$i"
			return 0
		fi
	done
	echo -1
	return 1
}

# json_quote FILE: prints the file's text as a JSON string literal (quotes included).
json_quote() {
	"$JSON_GET" --quote "$1"
}

# ---------------------------------------------------------------------------------------------
# Assertions (never abort; see pass/fail)

# assert_eq ACTUAL EXPECTED [MESSAGE]
assert_eq() {
	if [[ "$1" == "$2" ]]; then
		pass "${3:-equal: $2}"
	else
		fail "${3:-values differ}: expected '$2', got '$1'"
	fi
}

# assert_ne ACTUAL UNEXPECTED [MESSAGE]
assert_ne() {
	if [[ "$1" != "$2" ]]; then
		pass "${3:-differs from: $2}"
	else
		fail "${3:-values equal}: got '$1', expected something else"
	fi
}

# assert_match ACTUAL ERE [MESSAGE]
assert_match() {
	if [[ "$1" =~ $2 ]]; then
		pass "${3:-matches: $2}"
	else
		fail "${3:-no match}: '$1' does not match /$2/"
	fi
}

# assert_true MESSAGE CMD...: CMD succeeds.
assert_true() {
	local msg=$1
	shift
	if "$@"; then
		pass "$msg"
	else
		fail "$msg (command failed: $*)"
	fi
}

# assert_false MESSAGE CMD...: CMD fails.
assert_false() {
	local msg=$1
	shift
	if "$@"; then
		fail "$msg (command succeeded: $*)"
	else
		pass "$msg"
	fi
}

_e2e_response_summary() {
	printf '#   %s %s -> %s %s\n' "$HTTP_METHOD" "$HTTP_PATH" "$HTTP_STATUS" "$(http_header Content-Type)" >&2
	if [[ -s "$HTTP_BODY_FILE" ]]; then
		printf '#   body: %s\n' "$(head -c 600 "$HTTP_BODY_FILE" | tr '\n' ' ')" >&2
	fi
	if [[ -s "$T/curl.err" ]]; then
		printf '#   curl: %s\n' "$(head -c 300 "$T/curl.err")" >&2
	fi
}

# assert_status CODE [MESSAGE]: the last response's status.
assert_status() {
	if [[ "$HTTP_STATUS" == "$1" ]]; then
		pass "${2:-$HTTP_METHOD $HTTP_PATH -> $1}"
	else
		fail "${2:-$HTTP_METHOD $HTTP_PATH}: expected status $1, got $HTTP_STATUS"
		_e2e_response_summary
	fi
}

# assert_status_any "CODE CODE..." [MESSAGE]: the status is one of the codes (only where
# API.md and docs/wfmd.md leave the choice open).
assert_status_any() {
	if [[ " $1 " == *" $HTTP_STATUS "* ]]; then
		pass "${2:-$HTTP_METHOD $HTTP_PATH -> $HTTP_STATUS (one of $1)}"
	else
		fail "${2:-$HTTP_METHOD $HTTP_PATH}: expected status one of $1, got $HTTP_STATUS"
		_e2e_response_summary
	fi
}

# assert_content_type MEDIA_TYPE [MESSAGE]: the media type (parameters ignored).
assert_content_type() {
	local mt
	mt=$(http_media_type)
	if [[ "$mt" == "$1" ]]; then
		pass "${2:-$HTTP_METHOD $HTTP_PATH: Content-Type $1}"
	else
		fail "${2:-$HTTP_METHOD $HTTP_PATH}: expected Content-Type $1, got '$(http_header Content-Type)'"
	fi
}

# assert_header NAME [ERE] [MESSAGE]: the header is present (and its value matches ERE).
assert_header() {
	local name=$1 re=${2:-} v
	if ! http_has_header "$name"; then
		fail "${3:-$HTTP_METHOD $HTTP_PATH}: header $name missing"
		return 0
	fi
	v=$(http_header "$name")
	if [[ -z "$re" || "$v" =~ $re ]]; then
		pass "${3:-$HTTP_METHOD $HTTP_PATH: header $name${re:+ ~ /$re/}}"
	else
		fail "${3:-$HTTP_METHOD $HTTP_PATH}: header $name is '$v', expected /$re/"
	fi
}

# assert_no_header NAME [MESSAGE]
assert_no_header() {
	if http_has_header "$1"; then
		fail "${2:-$HTTP_METHOD $HTTP_PATH}: unexpected header $1: $(http_header "$1")"
	else
		pass "${2:-$HTTP_METHOD $HTTP_PATH: no header $1}"
	fi
}

# _e2e_ctx [FILE]: what an assertion on a JSON document names: the request, or the file.
_e2e_ctx() {
	if [[ -n "${1:-}" && "$1" != "$HTTP_BODY_FILE" ]]; then
		printf '%s' "$(basename "$1")"
	else
		printf '%s %s' "$HTTP_METHOD" "$HTTP_PATH"
	fi
}

# assert_json POINTER EXPECTED [FILE]: the value at POINTER (strings compared raw, others as
# compact JSON: 201, true, null, ["a"]).
assert_json() {
	local f=${3:-$HTTP_BODY_FILE} ctx v rc=0
	ctx=$(_e2e_ctx "${3:-}")
	v=$("$JSON_GET" "$f" "$1" 2>&1) || rc=$?
	if [[ $rc -ne 0 ]]; then
		fail "$ctx: JSON $1 absent or body not JSON (expected '$2')"
		_e2e_response_summary
	elif [[ "$v" == "$2" ]]; then
		pass "$ctx: $1 == $2"
	else
		fail "$ctx: JSON $1 is '${v:0:200}', expected '$2'"
	fi
}

# assert_json_match POINTER ERE [FILE]
assert_json_match() {
	local f=${3:-$HTTP_BODY_FILE} ctx v rc=0
	ctx=$(_e2e_ctx "${3:-}")
	v=$("$JSON_GET" "$f" "$1" 2>&1) || rc=$?
	if [[ $rc -ne 0 ]]; then
		fail "$ctx: JSON $1 absent or body not JSON (expected /$2/)"
		_e2e_response_summary
	elif [[ "$v" =~ $2 ]]; then
		pass "$ctx: $1 ~ /$2/"
	else
		fail "$ctx: JSON $1 is '${v:0:200}', expected /$2/"
	fi
}

# assert_json_type POINTER TYPE [FILE]: TYPE as json_type prints it ("number" matches integer
# and real, "boolean" true and false).
assert_json_type() {
	local f=${3:-$HTTP_BODY_FILE} ctx t rc=0 ok=0
	ctx=$(_e2e_ctx "${3:-}")
	t=$("$JSON_GET" --type "$f" "$1" 2>/dev/null) || rc=$?
	case "$2:$t" in
	number:integer | number:real | boolean:true | boolean:false) ok=1 ;;
	*) [[ "$t" == "$2" ]] && ok=1 ;;
	esac
	if [[ $rc -eq 0 && $ok -eq 1 ]]; then
		pass "$ctx: $1 is a $2"
	else
		fail "$ctx: JSON $1 is ${t:-absent}, expected a $2"
	fi
}

# assert_json_absent POINTER [FILE]
assert_json_absent() {
	local f=${2:-$HTTP_BODY_FILE} ctx
	ctx=$(_e2e_ctx "${2:-}")
	if "$JSON_GET" --type "$f" "$1" >/dev/null 2>&1; then
		fail "$ctx: JSON $1 present, expected absent"
	else
		pass "$ctx: no $1"
	fi
}

# assert_problem STATUS [TYPE_SUFFIX]: an RFC 9457 problem: the status, Content-Type
# application/problem+json, string members type/title/detail, numeric status == STATUS, and
# (when given) type ending in TYPE_SUFFIX (e.g. "client-rejected").
assert_problem() {
	local st=$1 suffix=${2:-} t
	assert_status "$st"
	assert_content_type application/problem+json
	assert_json_type /type string
	assert_json_type /title string
	assert_json_type /detail string
	assert_json /status "$st"
	if [[ -n "$suffix" ]]; then
		t=$("$JSON_GET" "$HTTP_BODY_FILE" /type 2>/dev/null) || t=
		if [[ "$t" == *"$suffix" ]]; then
			pass "$HTTP_METHOD $HTTP_PATH: problem type ends in $suffix"
		else
			fail "$HTTP_METHOD $HTTP_PATH: problem type '$t', expected one ending in '$suffix'"
		fi
	fi
}

# assert_oauth_error STATUS ERROR: an RFC 6749 section 5.2 error body.
assert_oauth_error() {
	assert_status "$1"
	assert_content_type application/json
	assert_json /error "$2"
	assert_header Cache-Control 'no-store'
}

# assert_file_mode FILE MODE (octal, e.g. 600)
assert_file_mode() {
	local m
	m=$(stat -c %a "$1" 2>/dev/null) || m=missing
	assert_eq "$m" "$2" "mode of $(basename "$1") is $2"
}

# assert_no_secrets_in FILE...: none of the secrets recorded with e2e_secret (and the
# device/admin secrets the helpers obtained) occurs in the files.
assert_no_secrets_in() {
	local f n
	n=$(grep -c . "$T/secrets.list" || true)
	for f in "$@"; do
		if [[ ! -s "$T/secrets.list" ]]; then
			fail "no secrets recorded to look for in $(basename "$f")"
		elif grep -q -F -f "$T/secrets.list" "$f"; then
			fail "a secret appears in $(basename "$f") at line(s) $(grep -n -F -f "$T/secrets.list" "$f" | cut -d: -f1 | head -5 | tr '\n' ' ')"
		else
			pass "none of $n secrets appears in $(basename "$f")"
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# Operator fixtures (admin API through curl; wfmctl is tested on its own)

ENROLL_SEQ=0
ENROLL_TOKEN_FILE=
ENROLL_TOKEN_ID=

# enrollment_token_create [--auto-approve] [--max-uses N] [--ttl SECONDS] [--description D]
#                         [--out FILE]
# Creates an enrollment token via POST /admin/v1/enrollment-tokens. Sets ENROLL_TOKEN_FILE
# (the token, 0600, no newline) and ENROLL_TOKEN_ID; dies when the server refuses.
enrollment_token_create() {
	local auto=false uses=1 ttl=3600 desc="e2e $E2E_NAME" out=
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--auto-approve) auto=true ;;
		--max-uses) uses=$2; shift ;;
		--ttl) ttl=$2; shift ;;
		--description) desc=$2; shift ;;
		--out) out=$2; shift ;;
		*) e2e_die "enrollment_token_create: unknown option $1" ;;
		esac
		shift
	done
	ENROLL_SEQ=$((ENROLL_SEQ + 1))
	out=${out:-$T/enroll$ENROLL_SEQ.token}
	printf '{"ttlSeconds": %s, "maxUses": %s, "autoApprove": %s, "description": "%s"}' \
		"$ttl" "$uses" "$auto" "$desc" >"$T/enroll.req.json"
	admin_http POST /admin/v1/enrollment-tokens -H 'Content-Type: application/json' \
		--data-binary "@$T/enroll.req.json"
	if [[ "$HTTP_STATUS" != 201 ]]; then
		_e2e_response_summary
		e2e_die "enrollment_token_create: POST /admin/v1/enrollment-tokens -> $HTTP_STATUS"
	fi
	json_get /token >"$out.tmp" || e2e_die "enrollment_token_create: no token in response"
	tr -d '\n' <"$out.tmp" >"$out"
	rm -f "$out.tmp"
	ENROLL_TOKEN_ID=$(json_get /id) || ENROLL_TOKEN_ID=
	ENROLL_TOKEN_FILE=$out
	e2e_secret "@$out"
}

# cert_preregister CERT_FILE [FORM]: POST /admin/v1/certificates with the certificate in FORM
# (default b64pem); leaves the response in HTTP_*.
cert_preregister() {
	local form=${2:-b64pem}
	{
		printf '{"certificate": '
		"$MARGO_SIGN" --cert-field "$1" --form "$form" --json
		printf ', "description": "e2e %s"}' "$(basename "$1")"
	} >"$T/cert.req.json"
	admin_http POST /admin/v1/certificates -H 'Content-Type: application/json' \
		--data-binary "@$T/cert.req.json"
}

# devices_count [STATE]: number of devices GET /admin/v1/devices[?state=] lists, up to 1000 (one
# page; "?" on error).
devices_count() {
	local q="?limit=1000"
	[[ -n "${1:-}" ]] && q="$q&state=$1"
	admin_http GET "/admin/v1/devices$q"
	if [[ "$HTTP_STATUS" == 200 ]]; then
		json_length /items || echo '?'
	else
		echo '?'
	fi
}

# ---------------------------------------------------------------------------------------------
# Device fixtures (openssl CLI + margo-sign + curl)
#
# Files of device NAME under $T: NAME.key NAME.crt (identity); after onboarding with 200/201:
# NAME.onboard.json (the OnboardingResponse), NAME.client_id, NAME.secret, NAME.form (the token
# request body); after 202: NAME.pending.json, NAME.request_id, NAME.poll.hdr; after
# device_token: NAME.access_token, NAME.bearer.hdr.

# device_new NAME [p256|p384|rsa]: a key and a self-signed certificate (CN=NAME).
device_new() {
	local name=$1 alg=${2:-p256}
	case "$alg" in
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$name.key" 2>/dev/null ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/$name.key" 2>/dev/null ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$name.key" 2>/dev/null ;;
	*) e2e_die "device_new: unknown key type $alg" ;;
	esac
	[[ -s "$T/$name.key" ]] || e2e_die "device_new: openssl genpkey failed for $name"
	openssl req -new -x509 -key "$T/$name.key" -subj "/CN=$name" -days 30 \
		-out "$T/$name.crt" 2>/dev/null || e2e_die "device_new: openssl req failed for $name"
}

# device_fingerprint NAME: "sha256:<hex>" of the DER certificate, computed with openssl.
device_fingerprint() {
	openssl x509 -in "$T/$1.crt" -outform DER | sha256sum | awk '{print "sha256:" $1}'
}

# onboard_body NAME OUT [--token-file F] [--form pem|b64pem|b64der|b64url] [--cert CERT]
#              [--serial S]: writes an OnboardingRequest.
onboard_body() {
	local name=$1 out=$2 tokfile= form=b64pem cert= serial=
	shift 2
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--token-file) tokfile=$2; shift ;;
		--form) form=$2; shift ;;
		--cert) cert=$2; shift ;;
		--serial) serial=$2; shift ;;
		*) e2e_die "onboard_body: unknown option $1" ;;
		esac
		shift
	done
	cert=${cert:-$T/$name.crt}
	serial=${serial:-SN-$name}
	{
		printf '{"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest", '
		printf '"certificate": '
		"$MARGO_SIGN" --cert-field "$cert" --form "$form" --json
		if [[ -n "$tokfile" ]]; then
			printf ', "enrollmentToken": "%s"' "$(<"$tokfile")"
		fi
		printf ', "device": {"vendor": "e2e-vendor", "modelNumber": "e2e-model", "serialNumber": "%s"}}' "$serial"
	} >"$out"
}

# onboard_request NAME [options] [-- margo-sign options...]
#   --token-file F      put this enrollment token in the body
#   --form FORM         certificate encoding: pem, b64pem (default), b64der, b64url
#   --cert CERT         certificate to put in the body (default NAME.crt)
#   --serial S          device.serialNumber (default SN-NAME)
#   --body FILE         send this body as is (no OnboardingRequest built)
#   --sign-key KEY      sign with this key (default NAME.key)
#   --content-type CT   Content-Type (default application/json)
#   --path P            route (default /onboarding/)
# margo-sign options after "--" (e.g. --created-offset -600, --no-digest, --bad-digest,
# --keyid HEX, --alg NAME, --label L, --no-signature). Signs and POSTs; leaves HTTP_*. On
# 200/201 saves the credentials (see above), on 202 the pending request.
onboard_request() {
	local name=$1 bodyopts=() body= key= ct=application/json path=/onboarding/ sign=()
	shift
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--token-file | --form | --cert | --serial) bodyopts+=("$1" "$2"); shift ;;
		--body) body=$2; shift ;;
		--sign-key) key=$2; shift ;;
		--content-type) ct=$2; shift ;;
		--path) path=$2; shift ;;
		--) shift; sign=("$@"); break ;;
		*) e2e_die "onboard_request: unknown option $1 (margo-sign options go after --)" ;;
		esac
		shift
	done
	e2e_require_bin "$MARGO_SIGN"
	key=${key:-$T/$name.key}
	if [[ -z "$body" ]]; then
		body=$T/$name.req.json
		onboard_body "$name" "$body" "${bodyopts[@]+"${bodyopts[@]}"}"
	fi
	"$MARGO_SIGN" --key "$key" --url "$WFM_URL$path" --body "$body" \
		"${sign[@]+"${sign[@]}"}" >"$T/$name.sig.hdr" || e2e_die "margo-sign failed for $name"
	http POST "$path" -H "Content-Type: $ct" -H "@$T/$name.sig.hdr" --data-binary "@$body"
	_onboard_save "$name"
}

# _onboard_save NAME: keeps credentials or pending state from the last response.
_onboard_save() {
	local name=$1 id secret
	case "$HTTP_STATUS" in
	200 | 201)
		cp "$HTTP_BODY_FILE" "$T/$name.onboard.json"
		id=$(json_get /clientId) || id=
		secret=$(json_get /clientSecret) || secret=
		printf '%s' "$id" >"$T/$name.client_id"
		printf '%s' "$secret" >"$T/$name.secret"
		printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' "$id" "$secret" \
			>"$T/$name.form"
		e2e_secret "$secret"
		;;
	202)
		cp "$HTTP_BODY_FILE" "$T/$name.pending.json"
		json_get /requestId >"$T/$name.request_id" 2>/dev/null || : >"$T/$name.request_id"
		json_get /pollToken >"$T/$name.poll_token" 2>/dev/null || : >"$T/$name.poll_token"
		bearer_header "$T/$name.poll_token" "$T/$name.poll.hdr"
		e2e_secret "@$T/$name.poll_token"
		;;
	esac
	return 0
}

# device_client_id NAME: prints the saved clientId.
device_client_id() { cat "$T/$1.client_id" 2>/dev/null || true; }

# onboard_poll NAME: GET /onboarding/requests/{requestId} with the poll token; leaves HTTP_*;
# on 200 saves the credentials like onboard_request.
onboard_poll() {
	local name=$1
	http GET "/onboarding/requests/$(<"$T/$name.request_id")" -H "@$T/$name.poll.hdr"
	if [[ "$HTTP_STATUS" == 200 ]]; then
		_onboard_save "$name"
	fi
}

# device_token NAME [FORM_FILE]: POST /oauth2/token with the saved client credentials (form
# body from a file). Leaves HTTP_*; on 200 writes NAME.access_token and NAME.bearer.hdr.
device_token() {
	local name=$1 form=${2:-$T/$1.form}
	http POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "@$form"
	if [[ "$HTTP_STATUS" == 200 ]]; then
		json_get /access_token | tr -d '\n' >"$T/$name.access_token"
		bearer_header "$T/$name.access_token" "$T/$name.bearer.hdr"
		e2e_secret "@$T/$name.access_token"
	fi
}

# device_http NAME METHOD PATH [curl args...]: http with NAME's access token.
device_http() {
	local name=$1 method=$2 path=$3
	shift 3
	http "$method" "$path" -H "@$T/$name.bearer.hdr" "$@"
}

# capabilities_doc NAME OUT: a valid DeviceCapabilities document for NAME.
capabilities_doc() {
	local id
	id=$(device_client_id "$1")
	cat >"$2" <<EOF
{
  "apiVersion": "device.margo/v1",
  "kind": "DeviceCapabilities",
  "properties": {
    "id": "$id",
    "vendor": "e2e-vendor",
    "modelNumber": "e2e-model",
    "serialNumber": "SN-$1",
    "roles": ["Standalone Device"],
    "resources": {
      "memory": "8 GB",
      "storage": 64,
      "cpus": [{"architecture": "x86_64", "cores": 4, "frequency": 2.4}]
    },
    "peripherals": [{"name": "gpu0", "type": "gpu", "modelNumber": "none", "properties": {}}],
    "interfaces": [{"name": "eth0", "type": "ethernet", "modelNumber": "virtio", "properties": {"speed": "1G"}}],
    "x-e2e-extra": {"kept": true}
  }
}
EOF
}

# device_onboard NAME [--auto-token | --token-file F]: the whole happy path for one new device:
# device_new (unless NAME.key exists), an auto-approve enrollment token (default), onboarding
# (asserts 201), access token (asserts 200). Afterwards NAME.client_id, NAME.bearer.hdr exist.
device_onboard() {
	local name=$1 tok=
	shift
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--token-file) tok=$2; shift ;;
		--auto-token) ;;
		*) e2e_die "device_onboard: unknown option $1" ;;
		esac
		shift
	done
	[[ -f "$T/$name.key" ]] || device_new "$name"
	if [[ -z "$tok" ]]; then
		enrollment_token_create --auto-approve
		tok=$ENROLL_TOKEN_FILE
	fi
	onboard_request "$name" --token-file "$tok"
	assert_status 201 "onboard $name"
	device_token "$name"
	assert_status 200 "access token for $name"
}

# device_admin_lookup NAME [FIELD]: looks NAME's certificate up in GET /admin/v1/devices and
# prints FIELD (default id) of the matching entries, one a line (several when the same
# certificate were listed twice, which must not happen). Clobbers HTTP_*.
device_admin_lookup() {
	local fp field=${2:-id} n i
	fp=$(device_fingerprint "$1")
	admin_http GET "/admin/v1/devices?limit=1000"
	[[ "$HTTP_STATUS" == 200 ]] || return 0
	n=$(json_length /items 2>/dev/null) || n=0
	for ((i = 0; i < n; i++)); do
		if [[ "$(json_get "/items/$i/certificateFingerprint")" == "$fp" ]]; then
			json_get "/items/$i/$field" || true
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# Desired state (issue 4): deployments through the admin API, git credentials, plain git

# deployment_yaml ID NAME OUT [helm|compose] [REVISION]: a valid Margo ApplicationDeployment
# with metadata.annotations.id ID, two components (helm) or one (compose).
deployment_yaml() {
	local id=$1 name=$2 out=$3 kind=${4:-helm} rev=${5:-1.0.0}
	if [[ "$kind" == compose ]]; then
		cat >"$out" <<EOY
apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
metadata:
  annotations:
    id: $id
    applicationId: com.example.$name
  name: $name
  namespace: margo
spec:
  deploymentProfile:
    type: compose
    components:
      - name: app
        properties:
          packageLocation: https://example.com/$name-$rev.tar.gz
          keyLocation: https://example.com/$name.asc
EOY
	else
		cat >"$out" <<EOY
apiVersion: application.margo.org/v1alpha1
kind: ApplicationDeployment
metadata:
  annotations:
    id: $id
    applicationId: com.example.$name
  name: $name
  namespace: margo
spec:
  deploymentProfile:
    type: helm.v3
    components:
      - name: web
        properties:
          repository: oci://registry.example.com/charts/$name-web
          revision: $rev
      - name: db
        properties:
          repository: oci://registry.example.com/charts/$name-db
          revision: $rev
  parameters:
    replicas:
      value: 2
      targets:
        - pointer: web.replicas
          components: [web]
EOY
	fi
}

# deploy_put DEVICE_ID DEPLOYMENT_ID FILE [CONTENT_TYPE]: PUT the YAML through the admin API
# (default Content-Type application/yaml); leaves HTTP_*.
deploy_put() {
	admin_http PUT "/admin/v1/devices/$1/deployments/$2" -H "Content-Type: ${4:-application/yaml}" \
		--data-binary "@$3"
}

# deploy_delete DEVICE_ID DEPLOYMENT_ID: DELETE through the admin API; leaves HTTP_*.
deploy_delete() {
	admin_http DELETE "/admin/v1/devices/$1/deployments/$2"
}

# deploy_list DEVICE_ID: GET the device's deployments; leaves HTTP_*.
deploy_list() {
	admin_http GET "/admin/v1/devices/$1/deployments"
}

# desired_export DEVICE_ID DIR: the device's repository as wfmd's database holds it (every
# object of git_objects, main from repos), written as a new bare Git repository DIR: the
# server's side to compare what clients fetched with. Reads the database, wfmd running or not.
desired_export() {
	rm -rf "$2"
	git init -q --bare -b main "$2"
	python3 - "$WFM_DIR/wfmd.db" "$1" "$2" <<'PY'
import os, sqlite3, sys, zlib
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
names = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
for oid, t, content in db.execute("SELECT oid, type, content FROM git_objects"):
    h = oid.hex()
    d = os.path.join(sys.argv[3], "objects", h[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h[2:]), "wb") as f:
        f.write(zlib.compress(names[t] + b" %d\0" % len(content) + content))
row = db.execute("SELECT revision FROM repos WHERE device_id = ?", (sys.argv[2],)).fetchone()
if row:
    with open(os.path.join(sys.argv[3], "refs", "heads", "main"), "w") as f:
        f.write(row[0] + "\n")
PY
}

# git_credentials_save NAME [FILE]: keeps the git credential fields of FILE (default: the last
# response) as NAME.git_url, NAME.git_user, NAME.git_token (0600). Used after onboarding and
# after git_credentials.
git_credentials_save() {
	local name=$1 f=${2:-$HTTP_BODY_FILE}
	json_get /gitRepositoryUrl "$f" | tr -d '\n' >"$T/$name.git_url" || true
	json_get /gitUsername "$f" | tr -d '\n' >"$T/$name.git_user" || true
	json_get /gitAccessToken "$f" | tr -d '\n' >"$T/$name.git_token" || true
	e2e_secret "@$T/$name.git_token"
}

# git_credentials NAME: POST /device/{id}/git-credentials with NAME's access token; on 201
# saves the new credentials (git_credentials_save). Leaves HTTP_*.
git_credentials() {
	local name=$1
	device_http "$name" POST "/device/$(device_client_id "$name")/git-credentials"
	if [[ "$HTTP_STATUS" == 201 ]]; then
		git_credentials_save "$name"
	fi
}

# git_as NAME [--token-file F] [--user U] GIT_ARGS...: runs a plain git client (bounded to
# 60 s) as device NAME: credentials through GIT_ASKPASS from files (never argv), the WFM CA
# through -c http.sslCAInfo only (GIT_SSL_CAINFO, which would beat the config, is unset;
# SSL_CERT_FILE points at a bundle that does not hold the WFM CA, so the environment cannot be
# what makes it work), no proxy, no user or system config, no credential helper. Output goes
# to $T/git.out (stdout+stderr); status is git's.
git_as() {
	local name=$1 tok user
	shift
	tok=$T/$name.git_token
	user=$(cat "$T/$name.git_user" 2>/dev/null || true)
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--token-file) tok=$2; shift 2 ;;
		--user) user=$2; shift 2 ;;
		*) break ;;
		esac
	done
	if [[ ! -x "$T/git-askpass" ]]; then
		cat >"$T/git-askpass" <<'EOS'
#!/bin/sh
case "$1" in
Username*) printf '%s\n' "$E2E_GIT_USER" ;;
Password*) cat "$E2E_GIT_TOKEN_FILE"; echo ;;
esac
EOS
		chmod 700 "$T/git-askpass"
		mkdir -p "$T/githome"
	fi
	env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		-u GIT_SSL_CAINFO -u CURL_CA_BUNDLE \
		HOME="$T/githome" XDG_CONFIG_HOME="$T/githome" GIT_CONFIG_NOSYSTEM=1 \
		GIT_TERMINAL_PROMPT=0 GIT_ASKPASS="$T/git-askpass" SSH_ASKPASS= \
		E2E_GIT_USER="$user" E2E_GIT_TOKEN_FILE="$tok" \
		SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
		timeout 60 git -c http.sslCAInfo="$WFM_CA" -c credential.helper= -c http.proxy= \
		"$@" >"${E2E_GIT_OUT:-$T/git.out}" 2>&1
}

# ---------------------------------------------------------------------------------------------
# sqlite3: scenarios that write wfmd's database from outside (to age a session, to hold the
# write lock, ...) wait up to 5 s for it, as wfmd's own writers may hold it for a moment at
# any time (the rollout engine renews its lease every few seconds). `command sqlite3` skips
# the wait.
sqlite3() { command sqlite3 -cmd '.timeout 5000' "$@"; }

# ---------------------------------------------------------------------------------------------
# bench/fleet-sim output (bench/FLEET-SIM.md: one key=value line per phase)

# fleet_sim_field LOG PHASE KEY: KEY's value on the phase line of PHASE.
fleet_sim_field() {
	awk -v p="phase=$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) { print kv[2]; exit } } }' "$1"
}
# fleet_sim_total LOG KEY: KEY summed over every phase line (with --state a token phase runs
# first).
fleet_sim_total() {
	awk -v k="$2" '$1 ~ /^phase=/ { for (i = 2; i <= NF; i++) { split($i, kv, "=");
		if (kv[1] == k) s += kv[2] } } END { print s + 0 }' "$1"
}
