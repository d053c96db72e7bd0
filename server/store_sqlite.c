/* store.h on SQLite: the backend's table of functions, opening and closing. WAL, one
 * connection per thread, statements prepared once per connection, parameters bound by name
 * (store_sqlite_conn.c); the functions themselves in store_sqlite_<concern>.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "margo/error.h"
#include "store_sqlite_int.h"
#include "store_sqlite_schema.h"

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.batch_begin = sqlite_batch_begin,
	.batch_end = sqlite_batch_end,
	.device_list = sqlite_device_list,
	.device_get = sqlite_device_get,
	.device_approve = sqlite_device_approve,
	.device_reject = sqlite_device_reject,
	.device_revoke = sqlite_device_revoke,
	.onboard = sqlite_onboard,
	.poll = sqlite_poll,
	.client_authenticate = sqlite_client_authenticate,
	.access_check = sqlite_access_check,
	.access_poll = sqlite_access_poll,
	.capabilities_put = sqlite_capabilities_put,
	.capabilities_get = sqlite_capabilities_get,
	.deployment_status_add = sqlite_deployment_status_add,
	.deployment_list = sqlite_deployment_list,
	.enrollment_token_create = sqlite_enrollment_token_create,
	.enrollment_token_revoke = sqlite_enrollment_token_revoke,
	.certificate_add = sqlite_certificate_add,
	.certificate_remove = sqlite_certificate_remove,
	.git_token_issue = sqlite_git_token_issue,
	.git_token_check = sqlite_git_token_check,
	.git_token_access = sqlite_git_token_access,
	.repo_revision_get = sqlite_repo_revision_get,
	.deployment_desired_get = sqlite_deployment_desired_get,
	.deployment_desired_list = sqlite_deployment_desired_list,
	.ca_mac_add = sqlite_ca_mac_add,
	.ca_mac_get = sqlite_ca_mac_get,
	.session_create = sqlite_session_create,
	.session_get = sqlite_session_get,
	.session_delete = sqlite_session_delete,
	.session_delete_operator = sqlite_session_delete_operator,
	.summary_get = sqlite_summary_get,
	.deployment_history = sqlite_deployment_history,
	.desired_commit = sqlite_desired_commit,
	.object_get = sqlite_object_get,
	.object_stats = sqlite_object_stats,
	.labels_get = sqlite_labels_get,
	.labels_update = sqlite_labels_update,
	.fleet_scan = sqlite_fleet_scan,
	.fleet_get = sqlite_fleet_get,
	.operator_add = sqlite_operator_add,
	.operator_by_token = sqlite_operator_by_token,
	.operator_get = sqlite_operator_get,
	.operator_revoke = sqlite_operator_revoke,
	.operator_page = sqlite_operator_page,
	.audit_add = sqlite_audit_add,
	.audit_page = sqlite_audit_page,
	.device_page = sqlite_device_page,
	.enrollment_token_page = sqlite_enrollment_token_page,
	.certificate_page = sqlite_certificate_page,
	.deployment_desired_page = sqlite_deployment_desired_page,
	.device_count_by_state = sqlite_device_count_by_state,
	.ping = sqlite_ping,
	.rollout_create = sqlite_rollout_create,
	.rollout_get = sqlite_rollout_get,
	.rollout_list = sqlite_rollout_list,
	.rollout_update = sqlite_rollout_update,
	.rollout_devices = sqlite_rollout_devices,
	.rollout_device_set = sqlite_rollout_device_set,
	.deployment_status_seq = sqlite_deployment_status_seq,
	.lease_take = sqlite_lease_take,
};

int store_sqlite_open(const char *path, store **out, struct margo_error *err)
{
	struct sqlite_store *st;
	struct conn *c;
	int rc;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	st->base.ops = &sqlite_ops;
	st->path = strdup(path);
	if (st->path == NULL || conns_init(st, err) < 0) {
		free(st->path);
		free(st);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	c = conn_get(&st->base, err);
	if (c == NULL) {
		rc = MARGO_ESTORE;
		goto out;
	}
	if (store_sqlite_migrate(c->db, time(NULL), err) < 0) {
		rc = MARGO_ESTORE;
		goto out;
	}
	rc = 0;
	*out = &st->base;
out:
	if (rc < 0)
		sqlite_close(&st->base);
	return rc;
}

int sqlite_batch_begin(store *st, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);

	return c != NULL ? tx_begin(c, err) : MARGO_ESTORE;
}

int sqlite_batch_end(store *st, int rc, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);

	if (c == NULL || c->tx_depth == 0)
		return margo_error_set(err, MARGO_EINVAL, "store_batch_end without store_batch_begin");
	return tx_end(c, rc, err);
}

void sqlite_close(store *base)
{
	struct sqlite_store *st = (struct sqlite_store *)base;

	conns_free(st);
	free(st->path);
	free(st);
}
