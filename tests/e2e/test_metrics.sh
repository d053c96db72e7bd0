#!/usr/bin/env bash
# Metrics and health (API.md "Metrics and health"): /healthz and /readyz without a token,
# /readyz 503 problem+json while another process holds the database's write lock; /metrics
# for any operator token (401 without), valid for promtool; and the real Prometheus from
# Debian (own config and TSDB in the temp dir, web on a free loopback port) scraping wfmd over
# TLS pinned to the WFM CA with a viewer's token, seeing counters move with traffic.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
for bin in prometheus promtool sqlite3; do
	command -v "$bin" >/dev/null || e2e_die "$bin not installed (scripts/install-deps)"
done
wfmd_start

e2e_step "health"
http GET /healthz
assert_status 200 "/healthz without a token"
assert_json /status ok
http GET /readyz
assert_status 200 "/readyz without a token"
assert_json /status ready
# Another process takes the write lock and keeps it: wfmd is not ready (after its busy
# timeout), and is again once the lock is gone.
mkfifo "$T/sql.fifo"
exec 7<>"$T/sql.fifo"
# (Not e2e_bg: a background command without its own redirection reads /dev/null.)
sqlite3 "$WFM_DIR/wfmd.db" <"$T/sql.fifo" >>"$T/sqlite3.log" 2>&1 &
SQL_PID=$!
e2e_track "$SQL_PID"
printf 'BEGIN IMMEDIATE;\nINSERT INTO schema_version VALUES (1);\n' >&7
write_locked() { ! sqlite3 -cmd '.timeout 100' "$WFM_DIR/wfmd.db" 'BEGIN IMMEDIATE; ROLLBACK;'; }
e2e_wait_for 30 write_locked || e2e_die "sqlite3 did not take the write lock"
http GET /readyz
assert_problem 503 not-ready
assert_header Retry-After '^[0-9]+$'
printf 'ROLLBACK;\n.quit\n' >&7
exec 7>&-
wait "$SQL_PID" || true
e2e_untrack "$SQL_PID"
http GET /readyz
assert_status 200 "ready again once the lock is released"

e2e_step "/metrics"
wfmctl operator add prom --role viewer --out "$T/prom.token" >/dev/null
e2e_secret "@$T/prom.token"
bearer_header "$T/prom.token" "$T/prom.hdr"
http GET /metrics
assert_problem 401
http GET /metrics -H "@$T/prom.hdr"
assert_status 200 "a viewer reads /metrics"
assert_header Content-Type '^text/plain; version=0\.0\.4'
assert_true "promtool check metrics accepts it" promtool check metrics <"$HTTP_BODY_FILE"
for family in wfmd_http_requests_total wfmd_http_request_duration_seconds_bucket \
	wfmd_devices wfmd_onboarding_total wfmd_tokens_issued_total wfmd_git_operations_total \
	wfmd_store_transaction_seconds_count process_resident_memory_bytes process_open_fds \
	process_cpu_seconds_total process_start_time_seconds; do
	assert_true "/metrics has $family" grep -q "^$family" "$HTTP_BODY_FILE"
done
assert_match "$(grep '^wfmd_http_requests_total{method="GET",route="/readyz",status="503"}' "$HTTP_BODY_FILE")" ' 1$' \
	"the 503 of /readyz is counted"

e2e_step "Prometheus scrapes wfmd"
PROM_DIR=$T/prometheus
mkdir -p "$PROM_DIR/data"
cat >"$PROM_DIR/prometheus.yml" <<EOY
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: wfmd
    scheme: https
    tls_config:
      ca_file: $WFM_CA
    authorization:
      credentials_file: $T/prom.token
    static_configs:
      - targets: ['127.0.0.1:$WFMD_PORT']
EOY
assert_true "promtool check config" promtool check config "$PROM_DIR/prometheus.yml"
PROM_URL=
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	e2e_bg "$PROM_DIR/prometheus.log" prometheus --config.file="$PROM_DIR/prometheus.yml" \
		--storage.tsdb.path="$PROM_DIR/data" --web.listen-address="127.0.0.1:$port" \
		--storage.tsdb.retention.time=1h
	PROM_PID=$E2E_BG_PID
	if e2e_wait_for 30 curl -sf --noproxy '*' "http://127.0.0.1:$port/-/ready"; then
		PROM_URL=http://127.0.0.1:$port
		break
	fi
	e2e_kill "$PROM_PID" || true
done
[[ -n "$PROM_URL" ]] || e2e_die "prometheus did not start (log: $(tail -3 "$PROM_DIR/prometheus.log"))"

# prom_value QUERY: the value of the first sample of an instant query ("" when none).
prom_value() {
	curl -s --noproxy '*' --max-time 10 -G "$PROM_URL/api/v1/query" \
		--data-urlencode "query=$1" >"$T/prom.json" || return 0
	json_get /data/result/0/value/1 "$T/prom.json" 2>/dev/null || true
}
# prom_at_least QUERY N: the query's value is N or more now (for e2e_wait_for, which
# evaluates its arguments once: the query has to run inside).
prom_at_least() {
	local v
	v=$(prom_value "$1")
	[[ -n "$v" ]] && [[ "${v%%.*}" -ge "$2" ]]
}
e2e_wait_for 60 prom_at_least 'up{job="wfmd"}' 1 ||
	curl -s --noproxy '*' "$PROM_URL/api/v1/targets" >&2 || true
assert_eq "$(prom_value 'up{job="wfmd"}')" 1 "Prometheus scrapes wfmd (up == 1)"
before=$(prom_value 'sum(wfmd_http_requests_total{route="/healthz"})')
before=${before:-0}

# Traffic: a device onboards and takes an access token, /healthz five times.
device_onboard m1
for _ in 1 2 3 4 5; do http GET /healthz; done
want=$((before + 5))
e2e_wait_for 30 prom_at_least 'sum(wfmd_http_requests_total{route="/healthz"})' "$want" || true
assert_true "/healthz requests moved by 5 in Prometheus" \
	test "$(prom_value 'sum(wfmd_http_requests_total{route="/healthz"})')" -ge "$want"
e2e_wait_for 30 prom_at_least 'wfmd_devices{state="active"}' 1 || true
assert_eq "$(prom_value 'wfmd_devices{state="active"}')" 1 "one active device"
assert_eq "$(prom_value 'wfmd_onboarding_total{outcome="approved"}')" 1 "one approved onboarding"
assert_eq "$(prom_value 'wfmd_tokens_issued_total{type="access"}')" 1 "one access token issued"
assert_eq "$(prom_value 'wfmd_tokens_issued_total{type="enrollment"}')" 1 "one enrollment token issued"
assert_eq "$(prom_value 'sum(wfmd_http_requests_total{route="/onboarding/",status="201"})')" 1 \
	"POST /onboarding/ 201 counted"
v=$(prom_value 'wfmd_store_transaction_seconds_count')
assert_true "store transactions counted ($v)" test "${v:-0}" -ge 1
v=$(prom_value 'process_resident_memory_bytes')
assert_true "resident memory reported ($v)" test "${v%%.*}" -gt 1000000
e2e_kill "$PROM_PID" || true

wfmd_stop
assert_no_secrets_in "$WFMD_LOG"
e2e_finish
