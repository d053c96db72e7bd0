/* store_console.h on SQLite: console sessions and the fleet summary. */
#include <stdlib.h>
#include <string.h>

#include "store_console.h"
#include "store_sqlite_int.h"

static const char sql_session_sweep[] = "DELETE FROM console_sessions WHERE expires_at <= :now";
static const char sql_session_insert[] =
	"INSERT INTO console_sessions (hash, operator, role, bootstrap, created_at, expires_at)"
	" VALUES (:hash, :operator, :role, :bootstrap, :created, :expires)";
static const char sql_session_get[] =
	"SELECT operator, role, created_at, expires_at, bootstrap FROM console_sessions"
	" WHERE hash = :hash";
static const char sql_session_delete[] = "DELETE FROM console_sessions WHERE hash = :hash";
static const char sql_session_delete_operator[] =
	"DELETE FROM console_sessions WHERE operator = :operator";

int sqlite_session_create(store *st, const char *hash, const struct store_session *in,
			  int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	PREPARE(s, sql_session_sweep);
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	PREPARE(s, sql_session_insert);
	BIND(bind_text(s, ":hash", hash));
	BIND(bind_text(s, ":operator", in->operator_name));
	BIND(bind_text(s, ":role", in->role));
	BIND(bind_int(s, ":bootstrap", in->bootstrap));
	BIND(bind_int(s, ":created", in->created_at));
	BIND(bind_int(s, ":expires", in->expires_at));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

int sqlite_session_get(store *st, const char *hash, int64_t now, struct store_session *out,
		       struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_session_get);
	BIND(bind_text(s, ":hash", hash));
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		rc = margo_error_set(err, MARGO_EAUTH, "no such session (logged out or ended)");
		goto out;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		rc = db_fail(c->db, err, "session");
		goto out;
	}
	copy_text(out->operator_name, sizeof(out->operator_name), col_text(s, 0));
	copy_text(out->role, sizeof(out->role), col_text(s, 1));
	out->created_at = col_time(s, 2);
	out->expires_at = col_time(s, 3);
	out->bootstrap = sqlite3_column_int(s, 4);
	sqlite3_reset(s);
	rc = out->expires_at > now ? 0 : margo_error_set(err, MARGO_EAUTH, "the session expired");
out:
	return rc;
}

int sqlite_session_delete(store *st, const char *hash, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_session_delete);
	BIND(bind_text(s, ":hash", hash));
	EXEC(s);
out:
	return rc;
}

int sqlite_session_delete_operator(store *st, const char *operator_name, size_t *n,
				   struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_session_delete_operator);
	BIND(bind_text(s, ":operator", operator_name));
	EXEC(s);
	*n = (size_t)sqlite3_changes(c->db);
out:
	return rc;
}

/* ---- summary ---- */

static const char sql_by_state[] = "SELECT state, count(*) FROM devices GROUP BY state";
/* Onboarded (no longer pending) in the window: a range of the (state, created_at) index per
 * state, no table row read. */
static const char sql_onboarded[] =
	"SELECT coalesce(sum(created_at > :h1), 0), count(*) FROM devices"
	" WHERE state IN ('active', 'rejected', 'revoked') AND created_at > :h24";
static const char sql_seen[] = "SELECT count(*) FROM devices WHERE last_seen_at > :since";
/* Deployments whose latest report is Failed, newest report first: the partial index
 * deployment_latest_failed (schema step 6) holds exactly those rows, in seq order (named:
 * without ANALYZE statistics the planner would take deployment_latest_state and sort). */
static const char sql_failing[] =
	"SELECT device_id, deployment_id, received_at FROM deployment_latest"
	" INDEXED BY deployment_latest_failed WHERE deployment_state = 'Failed'"
	" ORDER BY seq DESC";

static int summary_counts(struct conn *c, int64_t now, struct store_summary *out,
			  struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_by_state);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		for (size_t i = 0; i < 4; i++)
			if (strcmp(col_text(s, 0), store_summary_states[i]) == 0)
				out->by_state[i] = sqlite3_column_int64(s, 1);
	ROWS_DONE("summary states");
	PREPARE(s, sql_onboarded);
	BIND(bind_int(s, ":h1", now - 3600));
	BIND(bind_int(s, ":h24", now - 86400));
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->onboarded_1h = sqlite3_column_int64(s, 0);
		out->onboarded_24h = sqlite3_column_int64(s, 1);
		rc = sqlite3_step(s);
	}
	ROWS_DONE("summary onboarded");
	PREPARE(s, sql_seen);
	BIND(bind_int(s, ":since", now - 300));
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->seen_5m = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	}
	ROWS_DONE("summary seen");
out:
	return rc;
}

static int summary_failing(struct conn *c, struct store_summary *out, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_failing);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->nfailing < STORE_SUMMARY_FAILING_MAX) {
			struct store_failing *f = &out->failing[out->nfailing++];

			copy_text(f->device_id, sizeof(f->device_id), col_text(s, 0));
			copy_text(f->deployment_id, sizeof(f->deployment_id), col_text(s, 1));
			f->received_at = col_time(s, 2);
		}
		out->failing_total++;
	}
	ROWS_DONE("summary failing");
out:
	return rc;
}

int sqlite_summary_get(store *st, int64_t now, struct store_summary *out,
		       struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = summary_counts(c, now, out, err)) < 0)
		return rc;
	return summary_failing(c, out, err);
}

/* ---- status history of one deployment ---- */

static const char sql_history[] =
	"SELECT deployment_id, state, received_at, document FROM deployment_status"
	" WHERE device_id = :id AND deployment_id = :dep ORDER BY seq DESC LIMIT :limit";

int sqlite_deployment_history(store *st, const char *device_id, const char *deployment_id,
			      size_t limit, struct store_deployment **items, size_t *n,
			      struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_deployment *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_history);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_int(s, ":limit", (int64_t)limit));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 16);
		memset(&v[cnt], 0, sizeof(v[cnt]));
		copy_text(v[cnt].deployment_id, sizeof(v[cnt].deployment_id), col_text(s, 0));
		copy_text(v[cnt].state, sizeof(v[cnt].state), col_text(s, 1));
		v[cnt].received_at = sqlite3_column_int64(s, 2);
		v[cnt].document = strdup(col_text(s, 3));
		if (v[cnt++].document == NULL) {
			sqlite3_reset(s);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ROWS_DONE("deployment history");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	if (rc < 0)
		store_deployments_free(v, cnt);
	return rc;
}
