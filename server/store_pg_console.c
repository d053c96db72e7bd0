/* store_console.h on PostgreSQL: console sessions, the fleet summary and a deployment's
 * status history (store_sqlite_console.c's twin). */
#include <stdlib.h>
#include <string.h>

#include "store_console.h"
#include "store_pg_int.h"

int pg_session_create(store *st, const char *hash, const struct store_session *in,
		      int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	struct pg_i64 at = pg_i64(now), created = pg_i64(in->created_at),
		      expires = pg_i64(in->expires_at);
	const char *p_sweep[] = { at.s };
	const char *p_add[] = { hash, in->operator_name, in->role, in->bootstrap ? "1" : "0",
				created.s, expires.s };
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	rc = pg_exec_cmd(c, "DELETE FROM console_sessions WHERE expires_at <= $1", 1, p_sweep,
			 err, "session sweep");
	if (rc == 0)
		rc = pg_exec_cmd(c, "INSERT INTO console_sessions (hash, operator, role, bootstrap,"
				 " created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", 6,
				 p_add, err, "session insert");
	return pg_tx_end(c, rc, err);
}

int pg_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		   struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { hash };
	PGresult *res;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT operator, role, created_at, expires_at, bootstrap"
		      " FROM console_sessions WHERE hash = $1", 1, params, err, "session");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return margo_error_set(err, MARGO_EAUTH, "no such session (logged out or ended)");
	}
	pg_copy_text(out->operator_name, sizeof(out->operator_name), PQgetvalue(res, 0, 0));
	pg_copy_text(out->role, sizeof(out->role), PQgetvalue(res, 0, 1));
	out->created_at = pg_col_time(res, 0, 2);
	out->expires_at = pg_col_time(res, 0, 3);
	out->bootstrap = (int)pg_col_i64(res, 0, 4);
	PQclear(res);
	rc = out->expires_at > now ? 0 : margo_error_set(err, MARGO_EAUTH, "the session expired");
	return rc;
}

int pg_session_delete(store *st, const char *hash, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { hash };

	if (c == NULL)
		return MARGO_ESTORE;
	return pg_exec_cmd(c, "DELETE FROM console_sessions WHERE hash = $1", 1, params, err,
			   "session delete");
}

int pg_session_delete_operator(store *st, const char *operator_name, size_t *n,
			       struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { operator_name };
	long changed;

	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "DELETE FROM console_sessions WHERE operator = $1", 1, params,
			    &changed, err, "sessions delete") < 0)
		return MARGO_ESTORE;
	*n = (size_t)changed;
	return 0;
}

/* ---- summary ---- */

static int summary_counts(struct pg_conn *c, int64_t now, struct store_summary *out,
			  struct margo_error *err)
{
	struct pg_i64 h1 = pg_i64(now - 3600), h24 = pg_i64(now - 86400), m5 = pg_i64(now - 300);
	const char *params[] = { h1.s, h24.s, m5.s };
	PGresult *res;

	res = pg_exec(c, "SELECT state, count(*) FROM devices GROUP BY state", 0, NULL, err,
		      "summary states");
	if (res == NULL)
		return MARGO_ESTORE;
	for (int r = 0; r < PQntuples(res); r++)
		for (size_t i = 0; i < 4; i++)
			if (strcmp(PQgetvalue(res, r, 0), store_summary_states[i]) == 0)
				out->by_state[i] = pg_col_i64(res, r, 1);
	PQclear(res);
	res = pg_exec(c, "SELECT (SELECT count(*) FROM devices WHERE state IN ('active',"
		      " 'rejected', 'revoked') AND created_at > $1), (SELECT count(*) FROM devices"
		      " WHERE state IN ('active', 'rejected', 'revoked') AND created_at > $2),"
		      " (SELECT count(*) FROM devices WHERE last_seen_at > $3)", 3, params, err,
		      "summary counts");
	if (res == NULL)
		return MARGO_ESTORE;
	out->onboarded_1h = pg_col_i64(res, 0, 0);
	out->onboarded_24h = pg_col_i64(res, 0, 1);
	out->seen_5m = pg_col_i64(res, 0, 2);
	PQclear(res);
	return 0;
}

/* Deployments whose latest report is Failed, newest report first (the partial index
 * deployment_latest_failed), the first STORE_SUMMARY_FAILING_MAX of them and their count. */
static int summary_failing(struct pg_conn *c, struct store_summary *out,
			   struct margo_error *err)
{
	struct pg_i64 max = pg_i64(STORE_SUMMARY_FAILING_MAX);
	const char *params[] = { max.s };
	PGresult *res;

	res = pg_exec(c, "SELECT device_id, deployment_id, received_at, count(*) OVER ()"
		      " FROM deployment_latest WHERE deployment_state = 'Failed'"
		      " ORDER BY seq DESC LIMIT $1", 1, params, err, "summary failing");
	if (res == NULL)
		return MARGO_ESTORE;
	for (int r = 0; r < PQntuples(res); r++) {
		struct store_failing *f = &out->failing[out->nfailing++];

		pg_copy_text(f->device_id, sizeof(f->device_id), PQgetvalue(res, r, 0));
		pg_copy_text(f->deployment_id, sizeof(f->deployment_id), PQgetvalue(res, r, 1));
		f->received_at = pg_col_time(res, r, 2);
		out->failing_total = pg_col_i64(res, r, 3);
	}
	PQclear(res);
	return 0;
}

int pg_summary_get(store *st, int64_t now, struct store_summary *out, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = summary_counts(c, now, out, err)) < 0)
		return rc;
	return summary_failing(c, out, err);
}

int pg_deployment_history(store *st, const char *device_id, const char *deployment_id,
			  size_t limit, struct store_deployment **items, size_t *n,
			  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 lim = pg_i64((int64_t)limit);
	const char *params[] = { device_id, deployment_id, lim.s };
	PGresult *res;
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT deployment_id, state, received_at, document FROM deployment_status"
		      " WHERE device_id = $1 AND deployment_id = $2 ORDER BY seq DESC LIMIT $3", 3,
		      params, err, "deployment history");
	if (res == NULL)
		return MARGO_ESTORE;
	rc = pg_deployments_from_result(res, items, n, err);
	PQclear(res);
	return rc;
}
