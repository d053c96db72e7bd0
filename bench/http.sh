#!/usr/bin/env bash
# HTTP throughput of wfmd with keep-alive, measured with wrk over TLS on 127.0.0.1:
#   - POST /oauth2/token (client credentials, form body)
#   - GET /device/{id}/capabilities (Bearer access token)
# and wfmd's resident memory after the load.
# Usage: bench/http.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3)
. "$(dirname "$0")/common.sh"

# Two devices, so the token endpoint load (one device asking for tokens over and over) and the
# GET load are independent, as they would be in a fleet.
device_onboard tokenbench
device_onboard bench
id=$(device_client_id bench)
capabilities_doc bench "$T/caps.json"
device_http bench POST "/device/$id/capabilities" -H 'Content-Type: application/json' \
	--data-binary "@$T/caps.json"
[[ "$HTTP_STATUS" == 201 ]] || e2e_die "capabilities report failed: $HTTP_STATUS"

printf 'Bearer %s' "$(<"$T/bench.access_token")" >"$T/bench.authz"
echo 'application/x-www-form-urlencoded' >"$T/form.type"
wrk_script "$T/token.lua" POST Content-Type "$T/form.type" --body "$T/tokenbench.form"
wrk_script "$T/caps.lua" GET Authorization "$T/bench.authz"

echo "wfmd HTTP benchmark: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs, $(nproc) cores" >&2
token_rps=$(wrk_median "POST /oauth2/token" "$T/token.lua" /oauth2/token)
caps_rps=$(wrk_median "GET /device/{id}/capabilities" "$T/caps.lua" "/device/$id/capabilities")

bench_result wfmd.token_rps "$token_rps"
bench_result wfmd.caps_rps "$caps_rps"
bench_result wfmd.rss_hwm_kib "$(wfmd_hwm)"
printf '| measure | value |\n|---|---|\n'
printf '| POST /oauth2/token, requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$token_rps"
printf '| GET /device/{id}/capabilities, requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$caps_rps"
printf '| wfmd RSS after load (VmRSS) | %s KiB |\n' "$(awk '/VmRSS/ {print $2}' "/proc/$WFMD_PID/status")"
printf '| wfmd peak RSS (VmHWM) | %s KiB |\n' "$(wfmd_hwm)"
wfmd_stop
