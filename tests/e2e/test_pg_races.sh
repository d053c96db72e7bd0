#!/usr/bin/env bash
# The races SQLite's single writer hid, run in parallel across 3 wfmd replicas sharing one
# PostgreSQL (issue 10). Every race sends its requests straight to the replicas' ports, spread
# over the 3, all at one moment (ha_race: connections opened first, then one barrier):
# 1. one one-use enrollment token from 20 devices: one 201, every other a 401
#    invalid-enrollment-token; one device in the store, the token used once;
# 2. the lost-response rule (docs/api.md section 2): the repeat of an approved request on
#    another replica, and the same request on all 3 at once, before and after first use and
#    with a fresh token: one device, one clientId, exactly one live secret;
# 3. approve against reject for 20 pending devices (approve via replica 1, reject via
#    replica 2): one 200 and one 409 not-pending per device, its state (store and the
#    device's poll) the winner's, exactly one decision in the audit log;
# 4. three deploys to one device at once, one per replica (4 devices, 3 rounds): each is
#    acknowledged, or refused with a problem; plain git fetches every acknowledged deploy as
#    its own commit with its file, and main is the revision the store records.
# The script starts its own PostgreSQL (tests/pg/pgtmp.sh) and the replicas (lib_ha.sh), and
# stops them on exit. Skips (77) without PostgreSQL's binaries.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[[ -x "$PG_BIN/initdb" ]] && command -v psql >/dev/null ||
	{ echo "SKIP: no PostgreSQL 15 binaries (scripts/install-deps)" >&2; exit 77; }
grep -q '^WFMD_POSTGRESQL:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
	{ echo "SKIP: wfmd built without PostgreSQL (-DWFMD_POSTGRESQL=OFF or no libpq)" >&2; exit 77; }
e2e_require_bin "$WFMD_BIN" "$MARGO_SIGN"
e2e_setup
# The PostgreSQL of this test lives in $T/pg; as root it runs as postgres, which must be able
# to reach it: $T searchable (not readable) by others; every file in it stays 0600.
chmod 0711 "$T"
pg_exit() {
	local rc=$? p
	for p in "${E2E_PIDS[@]+"${E2E_PIDS[@]}"}"; do e2e_kill "$p" 5 >/dev/null 2>&1 || true; done
	E2E_PIDS=()
	bash "$SRC_DIR/tests/pg/pgtmp.sh" stop "$T/pg" || true
	(exit "$rc")
	_e2e_exit
}
trap pg_exit EXIT
bash "$SRC_DIR/tests/pg/pgtmp.sh" start "$T/pg" 2>"$T/pgtmp.log" ||
	e2e_die "PostgreSQL did not start: $(tail -n 2 "$T/pgtmp.log")"
REPLICA_STORE=$(<"$T/pg/url")
pgq() { psql "$REPLICA_STORE" -XAtq -c "$1"; }

HA_PORT=$(ha_free_port)
ha_seed "https://$HA_NAME:$HA_PORT"
ha_replicas_shared 3
# lib.sh's helpers go to one replica: `via N`.
WFM_URL=$HA_PUBLIC_URL WFM_CA=$HA_CA WFM_ADMIN_HDR=$T/admin.hdr
via() {
	local addr_var=HA_ADDR_$1
	WFM_CURL_OPTS=(--connect-to "::${!addr_var}")
}
via 1
addr() { local v=HA_ADDR_$1; echo "${!v}"; }

# tally STATUS_FILE...: "STATUSxCOUNT ..." of race answers (OUT.status files), e.g.
# "201x1 401x19".
tally() {
	local f
	for f in "$@"; do cat "$f"; echo; done | sort | uniq -c |
		awk '{ printf "%s%sx%s", (NR > 1 ? " " : ""), $2, $1 }'
}

# signed NAME [onboard_body options]: NAME's OnboardingRequest ($T/NAME.req.json) and its
# signature headers ($T/NAME.sig.hdr, with Content-Type) for the public URL.
signed() {
	local name=$1
	shift
	onboard_body "$name" "$T/$name.req.json" "$@"
	{
		echo "Content-Type: application/json"
		"$MARGO_SIGN" --key "$T/$name.key" --url "$WFM_URL/onboarding/" --body "$T/$name.req.json"
	} >"$T/$name.sig.hdr" || e2e_die "margo-sign failed for $name"
}

# onboard_line N NAME OUT: the ha_race line of NAME's signed request to replica N.
onboard_line() {
	echo "$(addr "$1") POST /onboarding/ $T/$2.sig.hdr $T/$2.req.json $3"
}

# secret_works NAME OUT N: 0 when the clientId/clientSecret of the answer OUT get an access
# token from replica N (the client's first use).
secret_works() {
	local id secret
	id=$(json_get /clientId "$2.body") && secret=$(json_get /clientSecret "$2.body") || return 2
	printf 'grant_type=client_credentials&client_id=%s&client_secret=%s' "$id" "$secret" \
		>"$T/$1.form"
	via "$3"
	device_token "$1" "$T/$1.form"
	[[ "$HTTP_STATUS" == 200 ]]
}

# to_all3 NAME TAG: NAME's signed request to the 3 replicas at once, answers $T/TAG.{1,2,3};
# sets COUNTS (their tally) and IDS (the distinct clientIds, sorted).
to_all3() {
	local n
	: >"$T/$2.spec"
	for n in 1 2 3; do onboard_line "$n" "$1" "$T/$2.$n" >>"$T/$2.spec"; done
	ha_race "$T/$2.spec"
	COUNTS=$(tally "$T/$2".[123].status)
	IDS=$(for n in 1 2 3; do json_get /clientId "$T/$2.$n.body" 2>/dev/null || echo none; done |
		sort -u)
	e2e_log "$2, the same request to the 3 replicas at once: $COUNTS"
}

# live_secrets NAME TAG: sets LIVE, how many of the 3 answers' secrets (to_all3) get an
# access token, each tried on another replica than it came from; the others must be 401
# invalid_client. The live one's token request is kept as NAME.live.form.
live_secrets() {
	local n
	LIVE=0
	for n in 1 2 3; do
		if secret_works "$1" "$T/$2.$n" $((n % 3 + 1)); then
			LIVE=$((LIVE + 1))
			cp "$T/$1.form" "$T/$1.live.form"
		else
			assert_oauth_error 401 invalid_client
		fi
	done
}

# ---------------------------------------------------------------------------------------------
e2e_step "one one-use token raced from 20 devices over 3 replicas: exactly one device"
enrollment_token_create --auto-approve --max-uses 1
: >"$T/race1.spec"
for i in $(seq 1 20); do
	device_new "t$i"
	signed "t$i" --token-file "$ENROLL_TOKEN_FILE"
	onboard_line $((i % 3 + 1)) "t$i" "$T/t$i.out" >>"$T/race1.spec"
done
ha_race "$T/race1.spec"
counts=$(tally "$T"/t*.out.status)
e2e_log "token race: $counts"
assert_eq "$counts" "201x1 401x19" "one 201, 19 401s"
winner=
for i in $(seq 1 20); do
	ha_race_take "$T/t$i.out"
	if [[ "$HTTP_STATUS" == 201 ]]; then
		winner=t$i
		win_id=$(json_get /clientId)
	else
		assert_problem 401 invalid-enrollment-token
	fi
done
assert_eq "$(pgq 'SELECT count(*) FROM devices')" 1 "the store holds one device"
assert_eq "$(pgq 'SELECT id FROM devices')" "${win_id:-none}" "the winner's"
assert_eq "$(pgq "SELECT uses FROM enrollment_tokens WHERE id = '$ENROLL_TOKEN_ID'")" 1 \
	"the token used once"
assert_true "the winner's secret works on replica 3" secret_works "$winner" "$T/$winner.out" 3

# ---------------------------------------------------------------------------------------------
e2e_step "lost response: the repeat on another replica gets the same clientId, a new secret"
device_new lost1
enrollment_token_create --auto-approve --max-uses 1
signed lost1 --token-file "$ENROLL_TOKEN_FILE"
onboard_line 1 lost1 "$T/lost1.a" >"$T/lost1a.spec"
onboard_line 2 lost1 "$T/lost1.b" >"$T/lost1b.spec"
ha_race "$T/lost1a.spec"
ha_race "$T/lost1b.spec"
assert_eq "$(tally "$T/lost1.a.status" "$T/lost1.b.status")" "201x2" "201 on replica 1, 201 on replica 2"
id_a=$(json_get /clientId "$T/lost1.a.body") || id_a=a
id_b=$(json_get /clientId "$T/lost1.b.body") || id_b=b
assert_eq "$id_b" "$id_a" "the same clientId"
assert_false "the lost secret stopped working (replica 3)" secret_works lost1 "$T/lost1.a" 3
assert_oauth_error 401 invalid_client
assert_true "the repeat's secret works (replica 3)" secret_works lost1 "$T/lost1.b" 3

e2e_step "lost response: the same request to all 3 replicas at once, before first use"
device_new lost2
enrollment_token_create --auto-approve --max-uses 1
token2_id=$ENROLL_TOKEN_ID
signed lost2 --token-file "$ENROLL_TOKEN_FILE"
to_all3 lost2 lost2
assert_eq "$COUNTS" "201x3" "201 from every replica"
ids=$IDS
assert_eq "$(echo "$ids" | wc -l)" 1 "one clientId"
fp2=$(device_fingerprint lost2)
assert_eq "$(pgq "SELECT id FROM devices WHERE certificate_fingerprint = '$fp2'")" "$ids" \
	"one device row for the certificate, that clientId"
assert_eq "$(pgq "SELECT uses FROM enrollment_tokens WHERE id = '$token2_id'")" 1 \
	"the token used once"
live_secrets lost2 lost2
assert_eq "$LIVE" 1 "exactly one of the 3 secrets works (the last one issued)"

e2e_step "after first use: the same request again to all 3 at once changes nothing"
to_all3 lost2 lost3
assert_eq "$COUNTS" "401x3" "401 from every replica (the token is used up)"
for n in 1 2 3; do
	ha_race_take "$T/lost3.$n"
	assert_problem 401 invalid-enrollment-token
done
via 2
device_token lost2 "$T/lost2.live.form"
assert_status 200 "the live secret still works"

e2e_step "after first use, with a fresh token, to all 3 at once: same device, new credentials"
enrollment_token_create --auto-approve --max-uses 1
token3_id=$ENROLL_TOKEN_ID
signed lost2 --token-file "$ENROLL_TOKEN_FILE"
to_all3 lost2 lost4
assert_eq "$COUNTS" "201x3" "201 from every replica"
assert_eq "$IDS" "$ids" "the same clientId as before"
assert_eq "$(pgq "SELECT uses FROM enrollment_tokens WHERE id = '$token3_id'")" 1 \
	"the fresh token used once"
via 1
device_token lost2 "$T/lost2.live.form"
assert_oauth_error 401 invalid_client
live_secrets lost2 lost4
assert_eq "$LIVE" 1 "exactly one of the new secrets works"
assert_eq "$(pgq 'SELECT count(*) FROM (SELECT certificate_fingerprint FROM devices
	GROUP BY 1 HAVING count(*) > 1) d')" 0 "no certificate registered twice"

# ---------------------------------------------------------------------------------------------
e2e_step "approve (replica 1) against reject (replica 2) for 20 pending devices"
: >"$T/pend.spec"
for i in $(seq 1 20); do
	device_new "p$i"
	signed "p$i"
	onboard_line $((i % 3 + 1)) "p$i" "$T/p$i.req" >>"$T/pend.spec"
done
ha_race "$T/pend.spec"
assert_eq "$(tally "$T"/p*.req.status)" "202x20" "20 requests filed at once, each 202"
via 3
admin_http GET "/admin/v1/devices?state=pending&limit=100"
assert_status 200 "the pending devices listed"
declare -A by_fp=()
for ((k = 0; k < $(json_length /items); k++)); do
	by_fp[$(json_get "/items/$k/certificateFingerprint")]=$(json_get "/items/$k/id")
done
: >"$T/decide.spec"
for i in $(seq 1 20); do
	json_get /requestId "$T/p$i.req.body" >"$T/p$i.request_id" || true
	json_get /pollToken "$T/p$i.req.body" >"$T/p$i.poll_token" || true
	bearer_header "$T/p$i.poll_token" "$T/p$i.poll.hdr"
	dev_id[$i]=${by_fp[$(device_fingerprint "p$i")]:-}
	[[ -n "${dev_id[$i]}" ]] || e2e_die "p$i is not listed as pending"
	printf '%s POST /admin/v1/devices/%s/approve %s - %s\n' "$(addr 1)" "${dev_id[$i]}" \
		"$T/admin.hdr" "$T/p$i.approve" >>"$T/decide.spec"
	printf '%s POST /admin/v1/devices/%s/reject %s - %s\n' "$(addr 2)" "${dev_id[$i]}" \
		"$T/admin.hdr" "$T/p$i.reject" >>"$T/decide.spec"
done
ha_race "$T/decide.spec"
# Each device's state and the decisions the audit log holds for it (the ones that went
# through: status 200), as "id state decisions" lines.
pgq "SELECT d.id, d.state, coalesce(string_agg(split_part(a.route, '/', 6), ','), '-')
	FROM devices d LEFT JOIN audit_log a ON a.device_id = d.id AND a.status = 200
	GROUP BY d.id, d.state" | tr '|' ' ' >"$T/decided.txt"
decided() { awk -v id="$1" -v col="$2" '$1 == id { print $col }' "$T/decided.txt"; }
approved=() rejected=()
for i in $(seq 1 20); do
	pair=$(tally "$T/p$i.approve.status" "$T/p$i.reject.status")
	assert_eq "$pair" "200x1 409x1" "p$i: one decision won, one refused"
	if [[ "$(<"$T/p$i.approve.status")" == 200 ]]; then
		approved+=("$i") win=approve lose=reject want=active
	else
		rejected+=("$i") win=reject lose=approve want=rejected
	fi
	ha_race_take "$T/p$i.$lose"
	assert_problem 409 not-pending
	assert_json /state "$want" "$T/p$i.$win.body"
	assert_eq "$(decided "${dev_id[$i]}" 2)" "$want" "p$i: the store holds the winner's state"
	assert_eq "$(decided "${dev_id[$i]}" 3)" "$win" "p$i: one decision in the audit log, the winner's"
	via $((i % 3 + 1))
	onboard_poll "p$i"
	if [[ "$win" == approve ]]; then
		assert_status 200 "p$i's poll: approved"
		git_credentials_save "p$i"
	else
		assert_problem 403 client-rejected
	fi
done
e2e_log "approve/reject race: ${#approved[@]} approved, ${#rejected[@]} rejected, 20 x 409 not-pending"

# ---------------------------------------------------------------------------------------------
e2e_step "three deploys to one device at once, one per replica: none lost"
# Devices from the last step's approved ones (a race may, rarely, approve fewer than 4).
targets=("${approved[@]:0:4}")
[[ ${#targets[@]} -ge 1 ]] || e2e_die "no approved device to deploy to"
declare -A acked=()
{ cat "$T/admin.hdr"; echo "Content-Type: application/yaml"; } >"$T/yaml.hdr"
for round in 1 2 3; do
	: >"$T/deploy$round.spec"
	for i in "${targets[@]}"; do
		for n in 1 2 3; do
			dep=r$round-n$n
			deployment_yaml "$dep" "app-p$i-$dep" "$T/p$i.$dep.yaml" compose "$round.$n.0"
			printf '%s PUT /admin/v1/devices/%s/deployments/%s %s %s %s\n' "$(addr "$n")" \
				"${dev_id[$i]}" "$dep" "$T/yaml.hdr" "$T/p$i.$dep.yaml" "$T/p$i.$dep" \
				>>"$T/deploy$round.spec"
		done
	done
	ha_race "$T/deploy$round.spec"
	for i in "${targets[@]}"; do
		for n in 1 2 3; do
			ha_race_take "$T/p$i.r$round-n$n"
			case "$HTTP_STATUS" in
			200 | 201) acked[$i]+=" r$round-n$n" ;;
			409) assert_problem 409 ;;
			*) fail "p$i r$round-n$n: deploy answered $HTTP_STATUS: $(head -c 300 "$HTTP_BODY_FILE")" ;;
			esac
		done
	done
done
e2e_log "deploys: $(tally "$T"/p*.r*-n*.status)"
for i in "${targets[@]}"; do
	id=${dev_id[$i]}
	read -ra deps <<<"${acked[$i]:-}"
	via 3
	git_as "p$i" clone -q --no-checkout "https://$(addr 3)/git/$id.git" "$T/p$i.git" ||
		{ fail "p$i: git clone: $(head -c 300 "$T/git.out")"; continue; }
	head_rev=$(git -C "$T/p$i.git" rev-parse HEAD)
	assert_eq "$head_rev" "$(pgq "SELECT revision FROM repos WHERE device_id = '$id'")" \
		"p$i: main is the revision the store records"
	device_lines=$(git -C "$T/p$i.git" ls-tree --name-only HEAD deployments/ | sort)
	want_lines=$(for d in "${deps[@]}"; do echo "deployments/$d.yaml"; done | sort)
	assert_eq "$device_lines" "$want_lines" "p$i: every acknowledged deploy's file at main (${#deps[@]})"
	commits=$(git -C "$T/p$i.git" rev-list --count HEAD)
	assert_eq "$commits" $((${#deps[@]} + 1)) "p$i: one commit per deploy after the first"
	for d in "${deps[@]}"; do
		assert_eq "$(git -C "$T/p$i.git" log --format=%s -- "deployments/$d.yaml" | wc -l)" 1 \
			"p$i: $d added by its own commit"
		assert_true "p$i: $d's file is what was sent" bash -c \
			"git -C '$T/p$i.git' show 'HEAD:deployments/$d.yaml' | grep -q 'app-p$i-$d'"
	done
done
assert_eq "$(pgq 'SELECT count(*) FROM (SELECT certificate_fingerprint FROM devices
	GROUP BY 1 HAVING count(*) > 1) d')" 0 "no certificate registered twice, at the end"
for n in 1 2 3; do
	assert_false "replica $n answered no 500 and logged no error" \
		grep -qE 'status=500| error ' "$T/r$n.log"
done
e2e_finish
