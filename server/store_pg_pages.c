/* PostgreSQL backend of store_page.h: keyset pages of devices (with filters), enrollment
 * tokens and pre-registered certificates, and device counts (store_sqlite_pages.c's twin; the
 * readiness ping is in store_pg.c). The device query holds only the filters in use. Prefix
 * filters use starts_with, right whatever the database's collation (SQLite's byte-order
 * range would not be). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_page.h"
#include "store_pg_int.h"

#define DEVICE_SQL_MAX 2048
#define DEVICE_PARAMS_MAX 12

struct device_query {
	char sql[DEVICE_SQL_MAX];
	size_t len;
	const char *params[DEVICE_PARAMS_MAX];
	int nparams;
	int overflow;
	struct pg_i64 before, since, at, limit;
};

/* Appends fmt, whose one %d (if any) becomes the number of the parameter value adds. */
static void add(struct device_query *q, const char *fmt, const char *value)
{
	int n;

	if (value != NULL) {
		if (q->nparams == DEVICE_PARAMS_MAX) {
			q->overflow = 1;
			return;
		}
		q->params[q->nparams++] = value;
	}
	n = snprintf(q->sql + q->len, sizeof(q->sql) - q->len, fmt, q->nparams);
	if (n < 0 || (size_t)n >= sizeof(q->sql) - q->len)
		q->overflow = 1;
	else
		q->len += (size_t)n;
}

/* Filtered by deployment state, the walk is over deployment_latest (schema step 6): the
 * devices with a desired deployment whose latest report is that state, each once. */
static int device_query(struct device_query *q, const struct store_device_filter *f,
			const struct store_cursor *after, size_t limit)
{
	int dstate = f->deployment_state != NULL;

	memset(q, 0, sizeof(*q));
	add(q, "SELECT " PG_DEVICE_COLUMNS " FROM devices WHERE true", NULL);
	if (dstate)
		add(q, " AND EXISTS (SELECT 1 FROM deployment_latest l JOIN deployments d"
		    " ON d.device_id = l.device_id AND d.deployment_id = l.deployment_id"
		    " WHERE l.device_id = devices.id AND l.deployment_state = $%d)",
		    f->deployment_state);
	if (f->state != NULL)
		add(q, " AND state = $%d", f->state);
	if (f->vendor != NULL)
		add(q, " AND vendor = $%d", f->vendor);
	if (f->model_number != NULL)
		add(q, " AND model_number = $%d", f->model_number);
	if (f->serial_prefix != NULL)
		add(q, " AND starts_with(serial_number, $%d)", f->serial_prefix);
	if (f->id_prefix != NULL)
		add(q, " AND starts_with(id, $%d)", f->id_prefix);
	q->before = pg_i64(f->seen_before);
	q->since = pg_i64(f->seen_after);
	q->at = pg_i64(after->at);
	q->limit = pg_i64((int64_t)limit + 1);
	if (f->seen_before >= 0)
		add(q, " AND (last_seen_at IS NULL OR last_seen_at < $%d)", q->before.s);
	if (f->seen_after >= 0)
		add(q, " AND last_seen_at >= $%d", q->since.s);
	if (after->set) {
		add(q, " AND (created_at, id) > ($%d::bigint", q->at.s);
		add(q, ", $%d)", after->key);
	}
	/* One more than asked: whether it exists says if there is a next page. */
	add(q, " ORDER BY created_at, id LIMIT $%d", q->limit.s);
	return q->overflow ? -1 : 0;
}

int pg_device_page(store *st, const struct store_device_filter *f,
		   const struct store_cursor *after, size_t limit, int64_t now,
		   struct store_device **items, size_t *n, int *more, struct margo_error *err)
{
	struct device_query q;
	struct pg_conn *c;
	PGresult *res = NULL;
	int rc;

	*more = 0;
	if (device_query(&q, f, after, limit) < 0)
		return margo_error_set(err, MARGO_EINVAL, "device filter too long");
	if ((c = pg_tx_open(st, err)) == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_purge_expired(c, now, err)) == 0)
		res = pg_exec(c, q.sql, q.nparams, q.params, err, "device page");
	rc = pg_tx_end(c, rc == 0 && res == NULL ? MARGO_ESTORE : rc, err);
	if (rc == 0 && (size_t)PQntuples(res) > limit)
		*more = 1;
	if (rc == 0 && (*items = calloc(limit > 0 ? limit : 1, sizeof(**items))) == NULL)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (rc == 0) {
		*n = 0;
		for (int i = 0; i < PQntuples(res) && (size_t)i < limit; i++)
			pg_device_from_row(res, i, &(*items)[(*n)++]);
	}
	PQclear(res);
	return rc;
}

/* A keyset page of (created_at, key) rows: res, *more. */
static PGresult *keyset_page(struct pg_conn *c, const char *sql,
			     const struct store_cursor *after, size_t limit, int *more,
			     struct margo_error *err, const char *what)
{
	struct pg_i64 at = pg_i64(after->at), lim = pg_i64((int64_t)limit + 1);
	const char *params[] = { after->set ? "1" : "0", at.s, after->key, lim.s };
	PGresult *res = pg_exec(c, sql, 4, params, err, what);

	*more = res != NULL && (size_t)PQntuples(res) > limit;
	return res;
}

int pg_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
			     struct store_enrollment_token **items, size_t *n, int *more,
			     struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct store_enrollment_token *v, *t;
	PGresult *res;
	size_t cnt;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = keyset_page(c, "SELECT id, description, created_at, expires_at, max_uses, uses,"
			  " auto_approve, revoked FROM enrollment_tokens WHERE $1::int = 0"
			  " OR (created_at, id) > ($2::bigint, $3) ORDER BY created_at, id"
			  " LIMIT $4", after, limit, more, err, "enrollment token page");
	if (res == NULL)
		return MARGO_ESTORE;
	cnt = *more ? limit : (size_t)PQntuples(res);
	if ((v = calloc(cnt > 0 ? cnt : 1, sizeof(*v))) == NULL) {
		PQclear(res);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < cnt; i++) {
		t = &v[i];
		pg_copy_text(t->id, sizeof(t->id), PQgetvalue(res, (int)i, 0));
		pg_copy_text(t->description, sizeof(t->description), PQgetvalue(res, (int)i, 1));
		t->created_at = pg_col_i64(res, (int)i, 2);
		t->expires_at = pg_col_i64(res, (int)i, 3);
		t->max_uses = (long)pg_col_i64(res, (int)i, 4);
		t->uses = (long)pg_col_i64(res, (int)i, 5);
		t->auto_approve = (int)pg_col_i64(res, (int)i, 6);
		t->revoked = (int)pg_col_i64(res, (int)i, 7);
	}
	PQclear(res);
	*items = v;
	*n = cnt;
	return 0;
}

int pg_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			struct store_certificate **items, size_t *n, int *more,
			struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct store_certificate *v;
	PGresult *res;
	size_t cnt;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = keyset_page(c, "SELECT fingerprint, description, created_at FROM preregistered_certs"
			  " WHERE $1::int = 0 OR (created_at, fingerprint) > ($2::bigint, $3)"
			  " ORDER BY created_at, fingerprint LIMIT $4", after, limit, more, err,
			  "certificate page");
	if (res == NULL)
		return MARGO_ESTORE;
	cnt = *more ? limit : (size_t)PQntuples(res);
	if ((v = calloc(cnt > 0 ? cnt : 1, sizeof(*v))) == NULL) {
		PQclear(res);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < cnt; i++) {
		pg_copy_text(v[i].fingerprint, sizeof(v[i].fingerprint), PQgetvalue(res, (int)i, 0));
		pg_copy_text(v[i].description, sizeof(v[i].description), PQgetvalue(res, (int)i, 1));
		v[i].created_at = pg_col_i64(res, (int)i, 2);
	}
	PQclear(res);
	*items = v;
	*n = cnt;
	return 0;
}

int pg_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err)
{
	static const char *const states[4] = { "pending", "active", "rejected", "revoked" };
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	PGresult *res;

	memset(counts, 0, 4 * sizeof(counts[0]));
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT state, count(*) FROM devices GROUP BY state", 0, NULL, err,
		      "device count");
	if (res == NULL)
		return MARGO_ESTORE;
	for (int r = 0; r < PQntuples(res); r++)
		for (int i = 0; i < 4; i++)
			if (strcmp(PQgetvalue(res, r, 0), states[i]) == 0)
				counts[i] = pg_col_i64(res, r, 1);
	PQclear(res);
	return 0;
}
