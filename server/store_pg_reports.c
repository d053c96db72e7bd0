/* store.h's device reports on PostgreSQL: capabilities and deployment status
 * (store_sqlite_reports.c's twin). Documents are stored as text: a NUL inside one ends it,
 * as PostgreSQL text cannot hold NUL (the HTTP layer accepts JSON only). The latest status
 * per deployment is kept by schema step 6's triggers. */
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

int pg_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(now);
	char *text = strndup(doc, len);
	const char *params[] = { device_id, text, at.s };
	int rc;

	if (c == NULL || text == NULL) {
		rc = c == NULL ? MARGO_ESTORE : margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = pg_exec_cmd(c, "INSERT INTO capabilities (device_id, document, updated_at)"
			 " VALUES ($1, $2, $3) ON CONFLICT (device_id) DO UPDATE"
			 " SET document = excluded.document, updated_at = excluded.updated_at",
			 3, params, err, "capabilities put");
out:
	free(text);
	return rc;
}

int pg_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			int64_t *updated_at, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id };
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT document, updated_at FROM capabilities WHERE device_id = $1", 1,
		      params, err, "capabilities get");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no capabilities reported yet");
	} else if ((*doc = strdup(PQgetvalue(res, 0, 0))) == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	} else {
		*len = (size_t)PQgetlength(res, 0, 0);
		if (updated_at != NULL)
			*updated_at = pg_col_i64(res, 0, 1);
	}
	PQclear(res);
	return rc;
}

static int status_add(struct pg_conn *c, const char *device_id, const char *deployment_id,
		      const char *state, const char *text, int64_t now, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now), keep = pg_i64(STORE_STATUS_HISTORY);
	const char *p_add[] = { device_id, deployment_id, state, text, at.s };
	const char *p_trim[] = { device_id, deployment_id, keep.s };

	if (pg_exec_cmd(c, "INSERT INTO deployment_status (device_id, deployment_id, state,"
			" document, received_at) VALUES ($1, $2, $3, $4, $5)", 5, p_add, err,
			"status insert") < 0 ||
	    pg_exec_cmd(c, "DELETE FROM deployment_status WHERE device_id = $1"
			" AND deployment_id = $2 AND seq <= (SELECT seq FROM deployment_status"
			" WHERE device_id = $1 AND deployment_id = $2 ORDER BY seq DESC LIMIT 1"
			" OFFSET $3)", 3, p_trim, err, "status trim") < 0)
		return MARGO_ESTORE;
	return 0;
}

int pg_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
			     const char *state, const char *doc, size_t len, int64_t now,
			     struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	char *text = strndup(doc, len);
	int rc;

	if (c == NULL) {
		free(text);
		return MARGO_ESTORE;
	}
	rc = text == NULL ? margo_error_set(err, MARGO_ENOMEM, "out of memory") :
		status_add(c, device_id, deployment_id, state, text, now, err);
	free(text);
	return pg_tx_end(c, rc, err);
}

/* The rows of res (deployment_id, state, received_at, document) as newly allocated
 * deployments. */
int pg_deployments_from_result(const PGresult *res, struct store_deployment **items,
			       size_t *n, struct margo_error *err)
{
	size_t cnt = (size_t)PQntuples(res);
	struct store_deployment *v = calloc(cnt > 0 ? cnt : 1, sizeof(*v));

	if (v == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		pg_copy_text(v[i].deployment_id, sizeof(v[i].deployment_id),
			     PQgetvalue(res, (int)i, 0));
		pg_copy_text(v[i].state, sizeof(v[i].state), PQgetvalue(res, (int)i, 1));
		v[i].received_at = pg_col_i64(res, (int)i, 2);
		if ((v[i].document = strdup(PQgetvalue(res, (int)i, 3))) == NULL) {
			store_deployments_free(v, i);
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		}
	}
	*items = v;
	*n = cnt;
	return 0;
}

int pg_deployment_list(store *st, const char *device_id, struct store_deployment **items,
		       size_t *n, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id };
	PGresult *res;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT s.deployment_id, s.state, s.received_at, s.document"
		      " FROM deployment_latest l JOIN deployment_status s ON s.seq = l.seq"
		      " WHERE l.device_id = $1 ORDER BY l.deployment_id", 1, params, err,
		      "deployment list");
	if (res == NULL)
		return MARGO_ESTORE;
	rc = pg_deployments_from_result(res, items, n, err);
	PQclear(res);
	return rc;
}

int pg_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
			     int64_t *seq, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id, deployment_id };
	PGresult *res;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT coalesce(max(seq), 0) FROM deployment_status"
		      " WHERE device_id = $1 AND deployment_id = $2", 2, params, err,
		      "status seq");
	if (res == NULL)
		return MARGO_ESTORE;
	*seq = pg_col_i64(res, 0, 0);
	PQclear(res);
	return 0;
}
