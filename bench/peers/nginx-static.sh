#!/usr/bin/env bash
# The ceiling: nginx (Debian) serving a small static JSON file over TLS 1.3 with an ECDSA P-256
# certificate on 127.0.0.1, driven by wrk with bench/http.sh's parameters.
# Usage: bench/peers/nginx-static.sh   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3)
. "$(dirname "$0")/lib.sh"

peer_cert
printf '{"status":"ok","service":"bench"}\n' >"$T/www/status.json"
peer_nginx "$PEERS_DIR/nginx-static.conf.in"
peer_wait_https "$WFM_URL/status.json" --fail
wrk_script "$T/static.lua" GET

echo "nginx static benchmark: $(nginx -v 2>&1 | sed 's/.*: //'), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs, $(nproc) cores" >&2
rps=$(wrk_median "nginx GET /status.json" "$T/static.lua" /status.json)
bench_result peer.nginx_static_rps "$rps"

printf '| measure | value |\n|---|---|\n'
printf '| nginx static JSON (ceiling), requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$rps"
peer_finish
