/* store.h's desired deployments on PostgreSQL: the deployment rows of a device's repository,
 * with their latest reported status (schema step 6's deployment_latest), one at a time, all,
 * or a page (store_sqlite_deployments.c's twin). */
#include <stdlib.h>
#include <string.h>

#include "store_page.h"
#include "store_pg_int.h"

int pg_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
			      char name[STORE_TEXT_MAX], struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id, deployment_id };
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT name FROM deployments WHERE device_id = $1"
		      " AND deployment_id = $2", 2, params, err, "deployment get");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no deployment %s", deployment_id);
	else
		pg_copy_text(name, STORE_TEXT_MAX, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* One row of desired_rows' query into d (zeroed first); -1 when out of memory. */
static int desired_from_row(const PGresult *res, int row, struct store_desired *d)
{
	memset(d, 0, sizeof(*d));
	pg_copy_text(d->deployment_id, sizeof(d->deployment_id), PQgetvalue(res, row, 0));
	pg_copy_text(d->name, sizeof(d->name), PQgetvalue(res, row, 1));
	pg_copy_text(d->application_id, sizeof(d->application_id), PQgetvalue(res, row, 2));
	d->updated_at = pg_col_i64(res, row, 3);
	pg_copy_text(d->state, sizeof(d->state), PQgetvalue(res, row, 4));
	d->received_at = pg_col_time(res, row, 5);
	d->created_at = pg_col_i64(res, row, 7);
	if (PQgetisnull(res, row, 6))
		return 0;
	d->status_document = strdup(PQgetvalue(res, row, 6));
	return d->status_document != NULL ? 0 : -1;
}

/* limit 0: all. */
static int desired_rows(store *st, const char *device_id, const struct store_cursor *after,
			size_t limit, struct store_desired **items, size_t *n, int *more,
			struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(after->at), lim = pg_i64(limit > 0 ? (int64_t)limit + 1 : 0);
	const char *params[] = { device_id, after->set ? "1" : "0", at.s, after->key,
				 limit > 0 ? lim.s : NULL };
	struct store_desired *v = NULL;
	PGresult *res;
	size_t cnt;
	int rc = 0;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT d.deployment_id, d.name, d.application_id, d.updated_at, s.state,"
		      " s.received_at, s.document, d.created_at FROM deployments d"
		      " LEFT JOIN deployment_latest l ON l.device_id = d.device_id"
		      " AND l.deployment_id = d.deployment_id"
		      " LEFT JOIN deployment_status s ON s.seq = l.seq WHERE d.device_id = $1"
		      " AND ($2::int = 0 OR (d.created_at, d.deployment_id) > ($3::bigint, $4))"
		      " ORDER BY d.created_at, d.deployment_id LIMIT $5::bigint", 5, params, err,
		      "deployment list");
	if (res == NULL)
		return MARGO_ESTORE;
	if ((v = pg_page_alloc(res, limit, sizeof(*v), &cnt, more, err)) == NULL) {
		rc = MARGO_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		if (desired_from_row(res, (int)i, &v[i]) < 0) {
			store_desired_free(v, i + 1);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	*items = v;
	*n = cnt;
out:
	PQclear(res);
	return rc;
}

int pg_deployment_desired_list(store *st, const char *device_id, struct store_desired **items,
			       size_t *n, struct margo_error *err)
{
	struct store_cursor start;
	int more;

	memset(&start, 0, sizeof(start));
	return desired_rows(st, device_id, &start, 0, items, n, &more, err);
}

int pg_deployment_desired_page(store *st, const char *device_id,
			       const struct store_cursor *after, size_t limit,
			       struct store_desired **items, size_t *n, int *more,
			       struct margo_error *err)
{
	if (limit == 0)
		return margo_error_set(err, MARGO_EINVAL, "a page holds at least one item");
	return desired_rows(st, device_id, after, limit, items, n, more, err);
}
