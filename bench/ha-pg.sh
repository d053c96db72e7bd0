#!/usr/bin/env bash
# bench/ha.sh with the replicas on PostgreSQL: a durable throwaway cluster (tests/pg/pgtmp.sh,
# fsync on as in production), a fresh database in it for the replicas' --store, and ha.sh's
# runs (straight / HAProxy with 1 / with 3 replicas, keep-alive and a new connection each)
# recorded under ha_pg.* instead of ha.*. This script runs itself under `pgtmp.sh run`, which
# stops the cluster and deletes it on exit, failure or signal.
# Usage: bench/ha-pg.sh [BUILD_DIR]   (env: as bench/ha.sh: DURATION CONNECTIONS THREADS RUNS)
set -euo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Exported: pgtmp.sh reads it when it starts the cluster.
export PGTMP_SETTINGS=${PGTMP_SETTINGS:-"-c fsync=on -c full_page_writes=on -c shared_buffers=128MB"}
if [[ -z "${PGTMP_DIR:-}" ]]; then
	[[ -x /usr/lib/postgresql/15/bin/initdb ]] || { echo "bench/ha-pg.sh: no postgresql-15" >&2; exit 1; }
	exec bash "$SRC_DIR/tests/pg/pgtmp.sh" run bash "$0" "$@"
fi
# a database of its own (the replicas create their schema in it at start)
psql "$WFMD_TEST_PG" -X -q -c 'CREATE DATABASE ha_bench' >/dev/null
export REPLICA_STORE=${WFMD_TEST_PG%/*}/ha_bench HA_KEY=ha_pg
exec bash "$SRC_DIR/bench/ha.sh" "$@"
