/* store.h on PostgreSQL: the backend's table of functions, opening and closing. Connections
 * one per thread (store_pg_conn.c), the schema migrated at open under an advisory lock
 * (store_pg_schema.c), the functions themselves in store_pg_<concern>.c, each the twin of
 * store_sqlite_<concern>.c with the same semantics; where PostgreSQL's concurrency needs more
 * (several replicas on one database), the file's header says how it is settled. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg_int.h"

static void pg_close(store *base)
{
	struct pg_store *st = (struct pg_store *)base;

	if (st == NULL)
		return;
	pg_pool_free(st->pool);
	pg_objcache_free(st->objects);
	free(st);
}

static int pg_batch_begin(store *st, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);

	return c != NULL ? pg_tx_begin(c, err) : MARGO_ESTORE;
}

static int pg_batch_end(store *st, int rc, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);

	if (c == NULL || c->tx_depth == 0)
		return margo_error_set(err, MARGO_EINVAL, "store_batch_end without store_batch_begin");
	return pg_tx_end(c, rc, err);
}

/* Readiness, as SQLite's ping means it: the database answers and takes writes now (a hot
 * standby answers but is read-only). */
static int pg_ping(store *st, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')"
		      " = 'on' FROM schema_migrations LIMIT 1", 0, NULL, err, "ping");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		rc = margo_error_set(err, MARGO_ESTORE, "store unavailable: the database is "
				     "read-only (a standby?)");
	PQclear(res);
	return rc;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.batch_begin = pg_batch_begin,
	.batch_end = pg_batch_end,
	.device_list = pg_device_list,
	.device_get = pg_device_get,
	.device_approve = pg_device_approve,
	.device_reject = pg_device_reject,
	.device_revoke = pg_device_revoke,
	.onboard = pg_onboard,
	.poll = pg_poll,
	.client_authenticate = pg_client_authenticate,
	.access_check = pg_access_check,
	.access_poll = pg_access_poll,
	.enrollment_token_create = pg_enrollment_token_create,
	.enrollment_token_revoke = pg_enrollment_token_revoke,
	.certificate_add = pg_certificate_add,
	.certificate_remove = pg_certificate_remove,
	.git_token_issue = pg_git_token_issue,
	.git_token_check = pg_git_token_check,
	.git_token_access = pg_git_token_access,
	.repo_revision_get = pg_repo_revision_get,
	.desired_commit = pg_desired_commit,
	.object_get = pg_object_get,
	.object_stats = pg_object_stats,
	.capabilities_put = pg_capabilities_put,
	.capabilities_get = pg_capabilities_get,
	.deployment_status_add = pg_deployment_status_add,
	.deployment_list = pg_deployment_list,
	.deployment_status_seq = pg_deployment_status_seq,
	.deployment_desired_get = pg_deployment_desired_get,
	.deployment_desired_list = pg_deployment_desired_list,
	.deployment_desired_page = pg_deployment_desired_page,
	.rollout_create = pg_rollout_create,
	.rollout_get = pg_rollout_get,
	.rollout_list = pg_rollout_list,
	.rollout_update = pg_rollout_update,
	.rollout_devices = pg_rollout_devices,
	.rollout_device_set = pg_rollout_device_set,
	.lease_take = pg_lease_take,
	.ca_mac_add = pg_ca_mac_add,
	.ca_mac_get = pg_ca_mac_get,
	.session_create = pg_session_create,
	.session_get = pg_session_get,
	.session_delete = pg_session_delete,
	.session_delete_operator = pg_session_delete_operator,
	.summary_get = pg_summary_get,
	.deployment_history = pg_deployment_history,
	.labels_get = pg_labels_get,
	.labels_update = pg_labels_update,
	.fleet_scan = pg_fleet_scan,
	.fleet_get = pg_fleet_get,
	.operator_add = pg_operator_add,
	.operator_by_token = pg_operator_by_token,
	.operator_get = pg_operator_get,
	.operator_revoke = pg_operator_revoke,
	.operator_page = pg_operator_page,
	.audit_add = pg_audit_add,
	.audit_page = pg_audit_page,
	.device_page = pg_device_page,
	.enrollment_token_page = pg_enrollment_token_page,
	.certificate_page = pg_certificate_page,
	.device_count_by_state = pg_device_count_by_state,
	.ping = pg_ping,
};

int store_pg_open(const char *conninfo, store **out, struct margo_error *err)
{
	struct pg_store *st = calloc(1, sizeof(*st));
	struct pg_conn *c;
	int rc;

	if (st == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	st->base.ops = &pg_ops;
	st->objects = pg_objcache_new(PG_OBJCACHE_BYTES);
	if ((rc = pg_pool_new(conninfo, PG_STATEMENT_TIMEOUT_MS, &st->pool, err)) < 0)
		goto out;
	c = pg_conn_get(st->pool, err);
	rc = c != NULL ? pg_schema_migrate(c, time(NULL), err) : MARGO_ESTORE;
out:
	if (rc < 0)
		pg_close(&st->base);
	else
		*out = &st->base;
	return rc;
}
