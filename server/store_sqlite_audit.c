/* SQLite backend of store_operator.h, audit part: an append-only log of mutating admin calls,
 * read newest first in pages by seq. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_operator.h"
#include "store_sqlite_int.h"

static const char sql_audit_insert[] =
	"INSERT INTO audit_log (at, operator, method, route, path, device_id, target,"
	" client_addr, status) VALUES (:at, :op, :method, :route, :path, :device, :target,"
	" :addr, :status)";

int sqlite_audit_add(store *st, const struct store_audit *e, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_audit_insert);
	BIND(bind_int(s, ":at", e->at) | bind_text(s, ":op", e->operator_name) |
	     bind_text(s, ":method", e->method) | bind_text(s, ":route", e->route) |
	     bind_text(s, ":path", e->path) |
	     bind_text(s, ":device", e->device_id[0] ? e->device_id : NULL) |
	     bind_text(s, ":target", e->target) | bind_text(s, ":addr", e->client_addr) |
	     bind_int(s, ":status", e->status));
	EXEC(s);
out:
	return rc;
}

/* The statement for the filters in use, one of 16 built once: only the conditions given, so
 * SQLite walks the operator, device or time index (each ends in seq) rather than the whole
 * log. */
#define AUDIT_SQL_MAX 512
static char audit_sql[16][AUDIT_SQL_MAX];
static pthread_once_t audit_sql_once = PTHREAD_ONCE_INIT;

static void audit_sql_build(void)
{
	for (int m = 0; m < 16; m++)
		snprintf(audit_sql[m], AUDIT_SQL_MAX,
			 "SELECT seq, at, operator, method, route, path, device_id, target,"
			 " client_addr, status FROM audit_log WHERE seq < :after%s%s%s%s"
			 " ORDER BY seq DESC LIMIT :limit",
			 m & 1 ? " AND operator = :op" : "", m & 2 ? " AND device_id = :device" : "",
			 m & 4 ? " AND at >= :since" : "", m & 8 ? " AND at < :until" : "");
}

static void audit_from_row(sqlite3_stmt *s, struct store_audit *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(s, 0);
	e->at = sqlite3_column_int64(s, 1);
	copy_text(e->operator_name, sizeof(e->operator_name), col_text(s, 2));
	copy_text(e->method, sizeof(e->method), col_text(s, 3));
	copy_text(e->route, sizeof(e->route), col_text(s, 4));
	copy_text(e->path, sizeof(e->path), col_text(s, 5));
	copy_text(e->device_id, sizeof(e->device_id), col_text(s, 6));
	copy_text(e->target, sizeof(e->target), col_text(s, 7));
	copy_text(e->client_addr, sizeof(e->client_addr), col_text(s, 8));
	e->status = sqlite3_column_int(s, 9);
}

int sqlite_audit_page(store *st, const struct store_audit_filter *f, int64_t after_seq,
		      size_t limit, struct store_audit **items, size_t *n, int *more,
		      struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_audit *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc, m;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	pthread_once(&audit_sql_once, audit_sql_build);
	m = (f->operator_name != NULL) | (f->device_id != NULL) << 1 | (f->since >= 0) << 2 |
		(f->until >= 0) << 3;
	/* Each text is static from here on: its address keys the statement cache. */
	PREPARE(s, audit_sql[m]);
	BIND(bind_int(s, ":after", after_seq < 0 ? INT64_MAX : after_seq) |
	     bind_int(s, ":limit", (int64_t)limit + 1));
	if (f->operator_name != NULL)
		BIND(bind_text(s, ":op", f->operator_name));
	if (f->device_id != NULL)
		BIND(bind_text(s, ":device", f->device_id));
	if (f->since >= 0)
		BIND(bind_int(s, ":since", f->since));
	if (f->until >= 0)
		BIND(bind_int(s, ":until", f->until));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 16);
		audit_from_row(s, &v[cnt++]);
	}
	ROWS_DONE("audit page");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	return rc;
}
