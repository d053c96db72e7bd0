#!/usr/bin/env bash
# wfmd init: the keys and certificates of a data dir made once, without a database, to be
# copied to every replica of one WFM (issue 10's key material). Two wfmd started on copies
# serve the same root CA and server certificate (the pin init printed), accept the same admin
# token, and each creates its own database only when it starts. init on an existing dir keeps
# the CA and adds a new name; a bad --public-url is one clear line and exit status 2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

e2e_setup
SEED=$T/seed

e2e_step "init makes keys and certificates, no database"
out=$("$WFMD_BIN" init --data-dir "$SEED" --public-url https://wfm.test:8443 --san 10.9.8.7 2>"$T/init.err")
pin=$(sed -nE 's/.*root CA pin (sha256:[0-9a-f]{64})$/\1/p' <<<"$out")
assert_true "init prints the pin ($out)" test -n "$pin"
assert_eq "$("$WFMD_BIN" fingerprint --data-dir "$SEED" 2>/dev/null)" "$pin" "fingerprint agrees"
for f in ca.key server.key admin.token access-token.key; do
	assert_eq "$(stat -c %a "$SEED/$f")" 600 "$f is 0600"
done
assert_eq "$(stat -c %a "$SEED")" 700 "the data dir is 0700"
assert_false "no database yet" test -e "$SEED/wfmd.db"
openssl x509 -in "$SEED/server.crt" -noout -ext subjectAltName >"$T/san.txt"
assert_true "the server certificate names the public URL's host" grep -q 'DNS:wfm.test' "$T/san.txt"
assert_true "and the --san" grep -q 'IP Address:10.9.8.7' "$T/san.txt"

e2e_step "init again: same CA, a new name added"
"$WFMD_BIN" init --data-dir "$SEED" --public-url https://wfm.test:8443 --san wfm2.test \
	>"$T/init2.out" 2>"$T/init2.err"
assert_true "the same pin" grep -q "$pin" "$T/init2.out"
assert_true "the new name is in the certificate" \
	sh -c "openssl x509 -in '$SEED/server.crt' -noout -ext subjectAltName | grep -q DNS:wfm2.test"

e2e_step "a bad --public-url: one line, status 2, nothing made"
"$WFMD_BIN" init --data-dir "$T/bad" --public-url ftp://x >"$T/bad.out" 2>"$T/bad.err" && rc=0 || rc=$?
assert_eq "$rc" 2 "exit status 2"
assert_eq "$(wc -l <"$T/bad.err")" 1 "one line on stderr"
assert_true "it names the option" grep -q -- '--public-url' "$T/bad.err"
assert_false "no data dir made" test -e "$T/bad"

e2e_step "two replicas from copies of the seed"
HA_SEED=$SEED HA_CA=$SEED/ca.crt HA_PUBLIC_URL=https://wfm.test:8443
ha_replica_start 1
ha_replica_start 2
ha_leaf "$T/leaf1.pem" "$HA_ADDR_1"
ha_leaf "$T/leaf2.pem" "$HA_ADDR_2"
assert_true "replica 1 presents a certificate the seed's CA verifies" test -s "$T/leaf1.pem"
assert_true "both present the same server certificate" cmp -s "$T/leaf1.pem" "$T/leaf2.pem"
printf 'Authorization: Bearer %s\n' "$(<"$SEED/admin.token")" >"$T/admin.hdr"
e2e_secret "@$SEED/admin.token"
for a in "$HA_ADDR_1" "$HA_ADDR_2"; do
	code=$(HA_CONNECT=$a ha_curl -H @"$T/admin.hdr" -o "$T/devices.json" -w '%{http_code}' \
		https://wfm.test/admin/v1/devices) || code=000
	assert_eq "$code" 200 "the seed's admin token works on $a"
done
assert_true "each replica made its own database at start" test -s "$T/r1/wfmd.db" -a -s "$T/r2/wfmd.db"
for p in "$HA_PID_1" "$HA_PID_2"; do
	kill -TERM "$p"
	wait "$p" && rc=0 || rc=$?
	e2e_untrack "$p"
	assert_eq "$rc" 0 "replica pid $p exits 0 on SIGTERM"
done
e2e_finish
