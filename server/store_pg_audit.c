/* PostgreSQL backend of store_operator.h, audit part: an append-only log of mutating admin
 * calls, read newest first in pages by seq (store_sqlite_audit.c's twin). Unused filters are
 * NULL parameters: PQexecParams plans with the values known, so the conditions they turn off
 * fold away and the operator, device or time index (each ending in seq) is walked. seq comes
 * from an identity column: entries committed concurrently may appear in a page out of their
 * commit order, never twice. */
#include <stdlib.h>
#include <string.h>

#include "store_operator.h"
#include "store_pg_int.h"

int pg_audit_add(store *st, const struct store_audit *e, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(e->at), status = pg_i64(e->status);
	const char *params[] = { at.s, e->operator_name, e->method, e->route, e->path,
				 e->device_id[0] ? e->device_id : NULL, e->target, e->client_addr,
				 status.s };

	if (c == NULL)
		return MARGO_ESTORE;
	return pg_exec_cmd(c, "INSERT INTO audit_log (at, operator, method, route, path, device_id,"
			   " target, client_addr, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
			   " $9)", 9, params, err, "audit add");
}

static void audit_from_row(const PGresult *res, int row, struct store_audit *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = pg_col_i64(res, row, 0);
	e->at = pg_col_i64(res, row, 1);
	pg_copy_text(e->operator_name, sizeof(e->operator_name), PQgetvalue(res, row, 2));
	pg_copy_text(e->method, sizeof(e->method), PQgetvalue(res, row, 3));
	pg_copy_text(e->route, sizeof(e->route), PQgetvalue(res, row, 4));
	pg_copy_text(e->path, sizeof(e->path), PQgetvalue(res, row, 5));
	pg_copy_text(e->device_id, sizeof(e->device_id), PQgetvalue(res, row, 6));
	pg_copy_text(e->target, sizeof(e->target), PQgetvalue(res, row, 7));
	pg_copy_text(e->client_addr, sizeof(e->client_addr), PQgetvalue(res, row, 8));
	e->status = (int)pg_col_i64(res, row, 9);
}

int pg_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq,
		  size_t limit, struct store_audit **items, size_t *n, int *more,
		  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 after = pg_i64(after_seq < 0 ? INT64_MAX : after_seq),
		      lim = pg_i64((int64_t)limit + 1), since = pg_i64(f->since),
		      until = pg_i64(f->until);
	const char *params[] = { after.s, lim.s, f->operator_name, f->device_id,
				 f->since >= 0 ? since.s : NULL, f->until >= 0 ? until.s : NULL };
	struct store_audit *v;
	PGresult *res;
	size_t cnt;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT seq, at, operator, method, route, path, device_id, target,"
		      " client_addr, status FROM audit_log WHERE seq < $1"
		      " AND ($3::text IS NULL OR operator = $3)"
		      " AND ($4::text IS NULL OR device_id = $4)"
		      " AND ($5::bigint IS NULL OR at >= $5) AND ($6::bigint IS NULL OR at < $6)"
		      " ORDER BY seq DESC LIMIT $2", 6, params, err, "audit page");
	if (res == NULL)
		return MARGO_ESTORE;
	if ((v = pg_page_alloc(res, limit, sizeof(*v), &cnt, more, err)) == NULL) {
		PQclear(res);
		return MARGO_ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++)
		audit_from_row(res, (int)i, &v[i]);
	PQclear(res);
	*items = v;
	*n = cnt;
	return 0;
}
