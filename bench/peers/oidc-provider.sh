#!/usr/bin/env bash
# OAuth 2.0 peer: oidc-provider (npm, node) doing client_credentials for one client over TLS 1.3
# (ECDSA P-256) on 127.0.0.1; POST /token requests/s with wrk, bench/http.sh's parameters and
# form body (grant_type=client_credentials&client_id=...&client_secret=...).
# Needs bench/peers/setup (oidc-provider installed under PEER_NODE_DIR).
# Usage: bench/peers/oidc-provider.sh   (env: DURATION=10s CONNECTIONS=32 THREADS=2 RUNS=3
#        PEER_WORKERS=<cores> node processes, PEER_NODE_DIR=${TMPDIR:-/tmp}/margo-bench-peers-node)
PEER_NODE_DIR=${PEER_NODE_DIR:-${TMPDIR:-/tmp}/margo-bench-peers-node}
PEER_WORKERS=${PEER_WORKERS:-$(nproc)}
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || e2e_die "node is not installed (run bench/peers/setup)"
[[ -f "$PEER_NODE_DIR/node_modules/oidc-provider/package.json" ]] ||
	e2e_die "oidc-provider not found under $PEER_NODE_DIR (run bench/peers/setup)"

peer_cert
# the server module resolves oidc-provider from $T/node_modules
ln -s "$PEER_NODE_DIR/node_modules" "$T/node_modules"
cp "$PEERS_DIR/oidc-server.mjs" "$T/oidc-server.mjs"
client=bench-client
openssl rand -hex 32 >"$T/client_secret"
printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' "$client" "$(<"$T/client_secret")" >"$T/token.form"

PEER_PORT=$(peer_port)
WFM_URL=https://127.0.0.1:$PEER_PORT
export PEER_PORT WFM_URL PEER_WORKERS
PEER_KEY=$T/peer.key PEER_CERT=$T/peer.crt PEER_CLIENT_ID=$client PEER_SECRET_FILE=$T/client_secret \
	NODE_ENV=production e2e_bg "$T/oidc.log" node "$T/oidc-server.mjs"
peer_wait_https "$WFM_URL/.well-known/openid-configuration" --fail

# one token by hand: the grant works and yields a Bearer access token
code=$(curl -s --noproxy '*' --cacert "$PEER_CA" -o "$T/token.json" -w '%{http_code}' \
	-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/token.form" "$WFM_URL/token")
[[ "$code" == 200 ]] && grep -q '"access_token"' "$T/token.json" && grep -q '"token_type":"Bearer"' "$T/token.json" ||
	e2e_die "token request: $code $(head -c 300 "$T/token.json")"

echo 'application/x-www-form-urlencoded' >"$T/form.type"
wrk_script "$T/token.lua" POST Content-Type "$T/form.type" --body "$T/token.form"

echo "oidc-provider benchmark: oidc-provider $(sed -n 's/^  "version": "\(.*\)",/\1/p' "$PEER_NODE_DIR/node_modules/oidc-provider/package.json"), node $(node --version), $PEER_WORKERS worker processes, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $RUNS runs, $(nproc) cores" >&2
rps=$(wrk_median "oidc-provider POST /token" "$T/token.lua" /token)
bench_result peer.oidc_token_rps "$rps"

printf '| measure | value |\n|---|---|\n'
printf '| oidc-provider POST /token (client_credentials), requests/s (keep-alive, %s connections) | %s |\n' "$CONNECTIONS" "$rps"
peer_finish
