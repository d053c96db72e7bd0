/* The small conversions every store_pg_<concern>.c needs: int64 parameters as text, columns
 * back into C values, the rows a command changed, and a transaction on this thread's
 * connection. */
#include <stdio.h>
#include <stdlib.h>

#include "store_pg_int.h"

struct pg_i64 pg_i64(int64_t v)
{
	struct pg_i64 r;

	snprintf(r.s, sizeof(r.s), "%lld", (long long)v);
	return r;
}

void pg_copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

int64_t pg_col_time(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int64_t pg_col_i64(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void *pg_page_alloc(const PGresult *res, size_t limit, size_t size, size_t *cnt, int *more,
		    struct margo_error *err)
{
	void *v;

	*cnt = (size_t)PQntuples(res);
	*more = limit > 0 && *cnt > limit;
	if (*more)
		*cnt = limit;
	if ((v = calloc(*cnt > 0 ? *cnt : 1, size)) == NULL)
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return v;
}

long pg_changes(const PGresult *res)
{
	return strtol(PQcmdTuples((PGresult *)res), NULL, 10);
}

int pg_exec_changes(struct pg_conn *c, const char *sql, int nparams,
		    const char *const *params, long *changes, struct margo_error *err,
		    const char *what)
{
	PGresult *res = pg_exec(c, sql, nparams, params, err, what);

	if (res == NULL)
		return MARGO_ESTORE;
	*changes = pg_changes(res);
	PQclear(res);
	return 0;
}

struct pg_conn *pg_tx_open(store *st, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);

	if (c == NULL || pg_tx_begin(c, err) < 0)
		return NULL;
	return c;
}
