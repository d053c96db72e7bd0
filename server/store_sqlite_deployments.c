/* store.h's desired deployments on SQLite: the deployment rows of a device's repository,
 * with their latest reported status, one at a time, all, or a page. */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "store_page.h"
#include "store_sqlite_int.h"

static const char sql_dep_get[] =
	"SELECT name FROM deployments WHERE device_id = :id AND deployment_id = :dep";
/* All of a device's deployments, or a page of them (:limit -1: no limit); the index
 * deployments_created (schema step 6) gives the order and the cursor's seek. */
static const char sql_dep_list[] =
	"SELECT d.deployment_id, d.name, d.application_id, d.updated_at, s.state, s.received_at,"
	" s.document, d.created_at FROM deployments d LEFT JOIN deployment_status s ON s.seq ="
	" (SELECT max(seq) FROM deployment_status x WHERE x.device_id = d.device_id"
	" AND x.deployment_id = d.deployment_id) WHERE d.device_id = :id"
	" AND (NOT :set OR (d.created_at, d.deployment_id) > (:at, :key))"
	" ORDER BY d.created_at, d.deployment_id LIMIT :limit";

int sqlite_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
				  char name[STORE_TEXT_MAX], struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_dep_get);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(name, STORE_TEXT_MAX, col_text(s, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no deployment %s", deployment_id);
	} else {
		rc = db_fail(c->db, err, "deployment get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

/* One row of sql_dep_list into d (zeroed first). */
static int desired_from_row(sqlite3_stmt *s, struct store_desired *d)
{
	memset(d, 0, sizeof(*d));
	copy_text(d->deployment_id, sizeof(d->deployment_id), col_text(s, 0));
	copy_text(d->name, sizeof(d->name), col_text(s, 1));
	copy_text(d->application_id, sizeof(d->application_id), col_text(s, 2));
	d->updated_at = sqlite3_column_int64(s, 3);
	copy_text(d->state, sizeof(d->state), col_text(s, 4));
	d->received_at = col_time(s, 5);
	d->created_at = sqlite3_column_int64(s, 7);
	if (sqlite3_column_type(s, 6) == SQLITE_NULL)
		return 0;
	d->status_document = strdup(col_text(s, 6));
	return d->status_document != NULL ? 0 : -1;
}

/* limit 0: all. */
static int desired_rows(store *st, const char *device_id, const struct store_cursor *after,
			size_t limit, struct store_desired **items, size_t *n, int *more,
			struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_desired *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_dep_list);
	BIND(bind_text(s, ":id", device_id) | bind_int(s, ":set", after->set) |
	     bind_int(s, ":at", after->at) | bind_text(s, ":key", after->key) |
	     bind_int(s, ":limit", limit > 0 ? (int64_t)limit + 1 : -1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (limit > 0 && cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 8);
		if (desired_from_row(s, &v[cnt++]) < 0) {
			sqlite3_reset(s);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ROWS_DONE("deployment list");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	if (rc < 0)
		store_desired_free(v, cnt);
	return rc;
}

int sqlite_deployment_desired_list(store *st, const char *device_id,
				   struct store_desired **items, size_t *n,
				   struct margo_error *err)
{
	struct store_cursor start;
	int more;

	memset(&start, 0, sizeof(start));
	return desired_rows(st, device_id, &start, 0, items, n, &more, err);
}

int sqlite_deployment_desired_page(store *st, const char *device_id,
				   const struct store_cursor *after, size_t limit,
				   struct store_desired **items, size_t *n, int *more,
				   struct margo_error *err)
{
	if (limit == 0)
		return margo_error_set(err, MARGO_EINVAL, "a page holds at least one item");
	return desired_rows(st, device_id, after, limit, items, n, more, err);
}
