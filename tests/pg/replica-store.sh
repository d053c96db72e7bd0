#!/bin/bash
# replica-store.sh SCRIPT [ARGS...]: runs an e2e replica scenario with its replicas on the
# PostgreSQL that `pgtmp.sh run` started (REPLICA_STORE=$WFMD_TEST_PG; tests/e2e/lib_ha.sh's
# ha_replicas_shared gives each replica `--store` that URL). Used as
#     pgtmp.sh run bash replica-store.sh tests/e2e/test_replicas.sh
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: replica-store.sh SCRIPT [ARGS...]" >&2; exit 2; }
[ -n "${WFMD_TEST_PG:-}" ] || { echo "replica-store.sh: WFMD_TEST_PG is not set (run it under pgtmp.sh run)" >&2; exit 2; }
REPLICA_STORE=$WFMD_TEST_PG exec bash "$@"
