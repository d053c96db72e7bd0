/* store.h's device reports on SQLite: capabilities and deployment status. */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "store_sqlite_int.h"

static const char sql_caps_put[] =
	"INSERT INTO capabilities (device_id, document, updated_at) VALUES (:id, :doc, :now)"
	" ON CONFLICT (device_id) DO UPDATE SET document = excluded.document,"
	" updated_at = excluded.updated_at";
static const char sql_caps_get[] =
	"SELECT document, updated_at FROM capabilities WHERE device_id = :id";

int sqlite_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			    int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_caps_put);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_blob_text(s, ":doc", doc, len));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
out:
	return rc;
}

int sqlite_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			    int64_t *updated_at, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	const void *p;
	size_t n;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_caps_get);
	BIND(bind_text(s, ":id", device_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		p = sqlite3_column_text(s, 0);
		n = (size_t)sqlite3_column_bytes(s, 0);
		*doc = malloc(n + 1);
		if (*doc == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		} else {
			if (n > 0)
				memcpy(*doc, p, n);
			(*doc)[n] = '\0';
			*len = n;
			if (updated_at != NULL)
				*updated_at = sqlite3_column_int64(s, 1);
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no capabilities reported yet");
	} else {
		rc = db_fail(c->db, err, "capabilities get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

static const char sql_status_insert[] =
	"INSERT INTO deployment_status (device_id, deployment_id, state, document, received_at)"
	" VALUES (:id, :dep, :state, :doc, :now)";
static const char sql_status_trim[] =
	"DELETE FROM deployment_status WHERE device_id = :id AND deployment_id = :dep"
	" AND seq <= (SELECT seq FROM deployment_status WHERE device_id = :id"
	" AND deployment_id = :dep ORDER BY seq DESC LIMIT 1 OFFSET :keep)";
static const char sql_status_latest[] =
	"SELECT deployment_id, state, received_at, document FROM deployment_status"
	" WHERE seq IN (SELECT max(seq) FROM deployment_status WHERE device_id = :id"
	" GROUP BY deployment_id) ORDER BY deployment_id";

int sqlite_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
				 const char *state, const char *doc, size_t len, int64_t now,
				 struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	PREPARE(s, sql_status_insert);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_text(s, ":state", state));
	BIND(bind_blob_text(s, ":doc", doc, len));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	PREPARE(s, sql_status_trim);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_int(s, ":keep", STORE_STATUS_HISTORY));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

int sqlite_deployment_list(store *st, const char *device_id, struct store_deployment **items,
			   size_t *n, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_deployment *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_status_latest);
	BIND(bind_text(s, ":id", device_id));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 8);
		memset(&v[cnt], 0, sizeof(v[cnt]));
		copy_text(v[cnt].deployment_id, sizeof(v[cnt].deployment_id), col_text(s, 0));
		copy_text(v[cnt].state, sizeof(v[cnt].state), col_text(s, 1));
		v[cnt].received_at = sqlite3_column_int64(s, 2);
		v[cnt].document = strdup(col_text(s, 3));
		cnt++;
		if (v[cnt - 1].document == NULL) {
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
		store_deployments_free(v, cnt);
	return rc;
}
