# shellcheck shell=bash
# Fixtures for several wfmd behind HAProxy (scale-out, issue 10), sourced after lib.sh:
#
#     ha_seed https://wfm.test:$HA_PORT     # wfmd init: the keys every replica shares
#     ha_replica_start 1 [wfmd serve args]  # wfmd on a copy of the seed, a free port
#     ha_replica_start 2
#     haproxy_start                         # HAProxy on $HA_PORT in front of them
#     ha_curl https://wfm.test:$HA_PORT/...  # through HAProxy, the seed's CA pinned
#
# HAProxy passes TLS through (mode tcp): a device's TLS session ends at a wfmd, so devices
# keep pinning the WFM's own CA end to end and HAProxy holds no key. HAProxy checks each
# replica with GET /readyz over TLS (verifying the server certificate against the same CA):
# a replica whose store does not answer leaves the rotation, and comes back when it does.
# Everything lives in $T; every process is tracked, so the EXIT trap stops it.

HAPROXY_BIN=${HAPROXY_BIN:-$(command -v haproxy || echo /usr/sbin/haproxy)}
HA_NAME=wfm.test
HA_CFG_TEMPLATE=$SRC_DIR/packaging/haproxy/wfmd-ha.cfg

# ha_free_port: a free TCP port on 127.0.0.1.
ha_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ha_seed PUBLIC_URL: `wfmd init` into $T/seed (the server certificate also names $HA_NAME,
# which HAProxy's checks and ha_curl use whatever the public URL); sets HA_SEED, HA_CA,
# HA_PUBLIC_URL.
ha_seed() {
	HA_PUBLIC_URL=$1
	HA_SEED=$T/seed
	HA_CA=$HA_SEED/ca.crt
	"$WFMD_BIN" init --data-dir "$HA_SEED" --public-url "$HA_PUBLIC_URL" --san "$HA_NAME" \
		>"$T/init.out" 2>"$T/init.log" ||
		e2e_die "wfmd init failed: $(tail -n 1 "$T/init.log")"
	printf 'Authorization: Bearer %s\n' "$(<"$HA_SEED/admin.token")" >"$T/admin.hdr"
	e2e_secret "@$HA_SEED/admin.token"
}

# ha_curl ARGS...: curl pinned to the seed's CA, every connection to $HA_NAME going to
# HA_CONNECT (127.0.0.1:port: HAProxy by default, or one replica).
ha_curl() {
	"${E2E_CURL[@]}" --cacert "$HA_CA" --connect-to "$HA_NAME::${HA_CONNECT:-127.0.0.1:$HA_PORT}" "$@"
}

# ha_leaf OUT ADDR: the server certificate ADDR presents (PEM) into OUT, verified against
# $HA_CA for $HA_NAME; OUT is empty when it does not verify.
ha_leaf() {
	openssl s_client -connect "$2" -servername "$HA_NAME" -verify_return_error \
		-CAfile "$HA_CA" -verify_hostname "$HA_NAME" </dev/null 2>/dev/null |
		openssl x509 >"$1" 2>/dev/null || true
}

# ha_ready ADDR: 0 when the wfmd at ADDR answers /readyz 200 for the public name.
ha_ready() {
	local code
	code=$(HA_CONNECT=$1 ha_curl -o /dev/null -w '%{http_code}' "https://$HA_NAME/readyz" 2>/dev/null) ||
		return 1
	[[ "$code" == 200 ]]
}

# ha_replica_start N [wfmd serve args]: wfmd on $T/rN (a copy of the seed on first start) at
# a free port (the same port on a restart), waits until ready; sets HA_PID_N, HA_ADDR_N.
ha_replica_start() {
	local n=$1 addr_var=HA_ADDR_$1 pid_var=HA_PID_$1 port pid
	shift
	[[ -d "$T/r$n" ]] || cp -a "$HA_SEED" "$T/r$n"
	if [[ -n "${!addr_var:-}" ]]; then
		port=${!addr_var##*:}
	else
		port=$(ha_free_port)
	fi
	printf '# --- replica %s on 127.0.0.1:%s (%s)\n' "$n" "$port" "$(date -u +%T)" >>"$T/r$n.log"
	# behind HAProxy every device has HAProxy's address (docs/scale-out.md, Sizing)
	"$WFMD_BIN" serve --data-dir "$T/r$n" --listen "127.0.0.1:$port" \
		--public-url "$HA_PUBLIC_URL" --max-connections-per-address 4096 "$@" \
		>>"$T/r$n.log" 2>&1 &
	pid=$!
	e2e_track "$pid"
	printf -v "$pid_var" %s "$pid"
	printf -v "$addr_var" %s "127.0.0.1:$port"
	e2e_wait_for "$E2E_START_TIMEOUT" ha_ready "127.0.0.1:$port" ||
		e2e_die "replica $n not ready on 127.0.0.1:$port (log: $T/r$n.log)"
	e2e_log "replica $n pid $pid on 127.0.0.1:$port"
}

# ha_replicas_shared N [wfmd serve args]: N replicas from the seed sharing one store, the way
# REPLICA_STORE says: a postgresql:// URL gives each `--store URL`; unset, they share one
# SQLite database (r2..rN's wfmd.db are symbolic links to r1's: several processes on one
# file, which SQLite serialises). Sets HA_STORE_ARGS (for restarts) and starts them.
ha_replicas_shared() {
	local count=$1 n
	shift
	HA_STORE_ARGS=()
	for ((n = 1; n <= count; n++)); do cp -a "$HA_SEED" "$T/r$n"; done
	if [[ -n "${REPLICA_STORE:-}" ]]; then
		HA_STORE_ARGS=(--store "$REPLICA_STORE")
	else
		for ((n = 2; n <= count; n++)); do ln -s "$T/r1/wfmd.db" "$T/r$n/wfmd.db"; done
	fi
	for ((n = 1; n <= count; n++)); do ha_replica_start "$n" "$@" "${HA_STORE_ARGS[@]}"; done
}

# ha_replica_kill N: SIGKILL, reaped.
ha_replica_kill() {
	local pid_var=HA_PID_$1
	kill -KILL "${!pid_var}" 2>/dev/null || true
	wait "${!pid_var}" 2>/dev/null || true
	e2e_untrack "${!pid_var}"
}

# haproxy_start: HAProxy on 127.0.0.1:$HA_PORT (HA_PORT picked when unset) in front of every
# replica started so far, configured by packaging/haproxy/wfmd-ha.cfg; waits until it has
# every one UP. Sets HA_PORT, HAPROXY_PID.
haproxy_start() {
	local cfg=$T/haproxy.cfg n addr_var
	HA_PORT=${HA_PORT:-$(ha_free_port)}
	# the configuration operators get (docs/scale-out.md), one server line per replica
	sed -e "s|@STATS_SOCKET@|$T/haproxy.sock|" -e "s|@BIND@|127.0.0.1:$HA_PORT|" \
		-e "s|@NAME@|$HA_NAME|g" -e "s|@CA_FILE@|$HA_CA|" "$HA_CFG_TEMPLATE" >"$cfg" ||
		e2e_die "cannot write $cfg"
	for ((n = 1; ; n++)); do
		addr_var=HA_ADDR_$n
		[[ -n "${!addr_var:-}" ]] || break
		printf '    server r%d %s\n' "$n" "${!addr_var}" >>"$cfg"
	done
	"$HAPROXY_BIN" -c -f "$cfg" >"$T/haproxy-check.log" 2>&1 ||
		{ cat "$T/haproxy-check.log" >&2; e2e_die "haproxy refused its configuration"; }
	"$HAPROXY_BIN" -db -f "$cfg" >>"$T/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	e2e_track "$HAPROXY_PID"
	for ((n = 1; ; n++)); do
		addr_var=HA_ADDR_$n
		[[ -n "${!addr_var:-}" ]] || break
		e2e_wait_for 20 ha_server_is "r$n" UP || e2e_die "haproxy: r$n not UP (log: $T/haproxy.log)"
	done
	e2e_log "haproxy pid $HAPROXY_PID on 127.0.0.1:$HA_PORT"
}

# ha_poll_setup: the benchmarks' set-up (bench/ha.sh, bench/recovery.sh): 3 replicas sharing
# a store (REPLICA_STORE, as ha_replicas_shared) behind HAProxy, and one device onboarded
# through it whose desired state was read once. Sets VIA_HAPROXY, DIRECT (replica 1), WFM_URL
# (HAProxy), POLL_ID (the device); writes $T/etag (its ETag) and $T/authz (its "Bearer ..."
# value, in a file: never in argv).
ha_poll_setup() {
	HA_PORT=$(ha_free_port)
	ha_seed "https://127.0.0.1:$HA_PORT"
	ha_replicas_shared 3 --log-level warn
	haproxy_start
	WFM_CA=$HA_CA WFM_ADMIN_HDR=$T/admin.hdr WFM_DIR=$HA_SEED
	VIA_HAPROXY=https://127.0.0.1:$HA_PORT DIRECT=https://$HA_ADDR_1
	WFM_URL=$VIA_HAPROXY
	device_onboard bench
	POLL_ID=$(device_client_id bench)
	device_http bench GET "/device/$POLL_ID/desired-state"
	[[ "$HTTP_STATUS" == 200 ]] || e2e_die "desired state: $HTTP_STATUS"
	http_header ETag >"$T/etag"
	printf 'Bearer %s' "$(<"$T/bench.access_token")" >"$T/authz"
}

# haproxy_cmd COMMAND: one command on HAProxy's stats socket; prints the answer.
haproxy_cmd() {
	python3 - "$T/haproxy.sock" "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	out = b""
	while True:
	    b = s.recv(65536)
	    if not b:
	        break
	    out += b
	sys.stdout.write(out.decode())
	EOF
}

# ha_server_state SERVER: UP, DOWN, ... as HAProxy's "show stat" has it (empty: unknown).
ha_server_state() {
	haproxy_cmd "show stat" 2>/dev/null |
		awk -F, -v s="$1" '$1 == "replicas" && $2 == s { split($18, a, " "); print a[1] }'
}
# ha_server_is SERVER STATE
ha_server_is() { [[ "$(ha_server_state "$1")" == "$2" ]]; }

# ha_race SPEC: sends the requests SPEC lists all at the same moment. One request a line:
#     ADDR METHOD PATH HEADER_FILE BODY_FILE OUT
# (HEADER_FILE: "Name: value" lines, as curl -H @file reads them; "-" for no headers or no
# body). Every connection is opened first (TLS to ADDR, the seed's CA pinned, SNI and Host
# $HA_NAME), all wait at one barrier, then each sends its request and reads the answer into
# OUT.status ("000" when the connection failed), OUT.headers (status line and headers, as
# curl -D writes them) and OUT.body. Take an answer as the last response with ha_race_take.
ha_race() {
	python3 - "$1" "$HA_CA" "$HA_NAME" "${HA_PUBLIC_URL#https://}" "$E2E_CURL_TIMEOUT" <<-'EOF'
	import http.client, socket, ssl, sys, threading
	spec, ca, name, host, timeout = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
	reqs = [l.split() for l in open(spec) if l.strip()]
	ctx = ssl.create_default_context(cafile=ca)
	barrier = threading.Barrier(len(reqs), timeout=timeout)

	class Conn(http.client.HTTPSConnection):
	    def __init__(self, addr):
	        super().__init__(name, timeout=timeout, context=ctx)
	        self.addr = addr
	    def connect(self):
	        raw = socket.create_connection(self.addr, timeout=timeout)
	        self.sock = ctx.wrap_socket(raw, server_hostname=name)

	def read(path):
	    return None if path == "-" else open(path, "rb").read()

	def one(r):
	    addr, method, path, hdr_file, body_file, out = r
	    status, head, body = "000", b"", b""
	    headers = {"Host": host, "Connection": "close"}
	    for line in (read(hdr_file) or b"").decode().splitlines():
	        if ":" in line:
	            k, v = line.split(":", 1)
	            headers[k.strip()] = v.strip()
	    data = read(body_file)
	    conn = Conn((addr.rsplit(":", 1)[0], int(addr.rsplit(":", 1)[1])))
	    try:
	        conn.connect()
	    except OSError:
	        conn = None
	    try:
	        barrier.wait()
	    except threading.BrokenBarrierError:
	        pass
	    try:
	        if conn is None:
	            raise OSError("connect failed")
	        conn.request(method, path, body=data, headers=headers)
	        resp = conn.getresponse()
	        body = resp.read()
	        status = str(resp.status)
	        head = ("HTTP/1.1 %d %s\r\n" % (resp.status, resp.reason)).encode()
	        head += b"".join(("%s: %s\r\n" % kv).encode() for kv in resp.getheaders())
	    except (OSError, http.client.HTTPException):
	        pass
	    open(out + ".status", "w").write(status)
	    open(out + ".headers", "wb").write(head)
	    open(out + ".body", "wb").write(body)

	threads = [threading.Thread(target=one, args=(r,)) for r in reqs]
	for t in threads:
	    t.start()
	for t in threads:
	    t.join()
	EOF
}

# ha_race_take OUT: OUT's answer (from ha_race) as the last response, for lib.sh's assertions.
ha_race_take() {
	HTTP_STATUS=$(<"$1.status")
	HTTP_BODY_FILE=$1.body
	HTTP_HEADERS_FILE=$1.headers
	HTTP_BODY=$(tr -d '\0' <"$1.body")
	HTTP_METHOD=race
	HTTP_PATH=$(basename "$1")
}
