/* PostgreSQL backend of store_operator.h, operators part: accounts with a role and the hash
 * of their token (store_sqlite_operators.c's twin). */
#include <stdlib.h>
#include <string.h>

#include "store_operator.h"
#include "store_pg_int.h"

#define OPERATOR_COLUMNS "name, role, created_by, created_at, revoked_at"

static void operator_from_row(const PGresult *res, int row, struct store_operator *op)
{
	memset(op, 0, sizeof(*op));
	pg_copy_text(op->name, sizeof(op->name), PQgetvalue(res, row, 0));
	pg_copy_text(op->role, sizeof(op->role), PQgetvalue(res, row, 1));
	pg_copy_text(op->created_by, sizeof(op->created_by), PQgetvalue(res, row, 2));
	op->created_at = pg_col_i64(res, row, 3);
	op->revoked_at = pg_col_time(res, row, 4);
}

int pg_operator_add(store *st, const struct store_operator *op, const char *token_hash,
		    struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(op->created_at);
	const char *params[] = { op->name, op->role, token_hash, op->created_by, at.s };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	/* A revoked operator keeps its row, so the name stays taken. */
	if (pg_exec_changes(c, "INSERT INTO operators (name, role, token_hash, created_by,"
			    " created_at) VALUES ($1, $2, $3, $4, $5)"
			    " ON CONFLICT (name) DO NOTHING", 5, params, &n, err,
			    "operator add") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_EEXIST,
					   "operator %s exists (names are not reused)", op->name);
}

/* The one operator sql (keyed by $1) finds. MARGO_ENOTFOUND. */
static int operator_find(store *st, const char *sql, const char *key,
			 struct store_operator *out, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { key };
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((res = pg_exec(c, sql, 1, params, err, "operator get")) == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no such operator");
	else
		operator_from_row(res, 0, out);
	PQclear(res);
	return rc;
}

int pg_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			 struct margo_error *err)
{
	return operator_find(st, "SELECT " OPERATOR_COLUMNS " FROM operators"
			     " WHERE token_hash = $1 AND revoked_at IS NULL", token_hash, out, err);
}

int pg_operator_get(store *st, const char *name, struct store_operator *out,
		    struct margo_error *err)
{
	return operator_find(st, "SELECT " OPERATOR_COLUMNS " FROM operators WHERE name = $1",
			     name, out, err);
}

int pg_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(now);
	const char *params[] = { name, at.s };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "UPDATE operators SET revoked_at = coalesce(revoked_at, $2)"
			    " WHERE name = $1", 2, params, &n, err, "operator revoke") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_ENOTFOUND, "no operator %s", name);
}

int pg_operator_page(store *st, const char *after, size_t limit,
		     struct store_operator **items, size_t *n, int *more,
		     struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 lim = pg_i64((int64_t)limit + 1);
	const char *params[] = { after, lim.s };
	struct store_operator *v;
	PGresult *res;
	size_t cnt;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT " OPERATOR_COLUMNS " FROM operators WHERE $1::text IS NULL"
		      " OR name > $1 ORDER BY name LIMIT $2", 2, params, err, "operator page");
	if (res == NULL)
		return MARGO_ESTORE;
	if ((v = pg_page_alloc(res, limit, sizeof(*v), &cnt, more, err)) == NULL) {
		PQclear(res);
		return MARGO_ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++)
		operator_from_row(res, (int)i, &v[i]);
	PQclear(res);
	*items = v;
	*n = cnt;
	return 0;
}
