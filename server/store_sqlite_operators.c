/* SQLite backend of store_operator.h, operators part: accounts with a role and the hash of
 * their token. */
#include <stdlib.h>
#include <string.h>

#include "store_operator.h"
#include "store_sqlite_int.h"

#define OPERATOR_COLUMNS "name, role, created_by, created_at, revoked_at"

static void operator_from_row(sqlite3_stmt *s, struct store_operator *op)
{
	memset(op, 0, sizeof(*op));
	copy_text(op->name, sizeof(op->name), col_text(s, 0));
	copy_text(op->role, sizeof(op->role), col_text(s, 1));
	copy_text(op->created_by, sizeof(op->created_by), col_text(s, 2));
	op->created_at = sqlite3_column_int64(s, 3);
	op->revoked_at = col_time(s, 4);
}

static const char sql_operator_exists[] =
	"SELECT 1 FROM operators WHERE name = :name";
static const char sql_operator_insert[] =
	"INSERT INTO operators (name, role, token_hash, created_by, created_at)"
	" VALUES (:name, :role, :hash, :by, :at)";

int sqlite_operator_add(store *st, const struct store_operator *op, const char *token_hash,
			struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	PREPARE(s, sql_operator_exists);
	BIND(bind_text(s, ":name", op->name));
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW) {
		rc = margo_error_set(err, MARGO_EEXIST, "operator %s exists (names are not reused)",
				     op->name);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "operator add");
		goto out;
	}
	PREPARE(s, sql_operator_insert);
	BIND(bind_text(s, ":name", op->name) | bind_text(s, ":role", op->role) |
	     bind_text(s, ":hash", token_hash) | bind_text(s, ":by", op->created_by) |
	     bind_int(s, ":at", op->created_at));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

static const char sql_operator_by_token[] =
	"SELECT " OPERATOR_COLUMNS " FROM operators"
	" WHERE token_hash = :key AND revoked_at IS NULL";
static const char sql_operator_get[] =
	"SELECT " OPERATOR_COLUMNS " FROM operators WHERE name = :key";

/* The one operator sql (keyed by :key) finds. MARGO_ENOTFOUND. */
static int operator_find(store *st, const char *sql, const char *key,
			 struct store_operator *out, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql);
	BIND(bind_text(s, ":key", key));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		operator_from_row(s, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no such operator");
	} else {
		rc = db_fail(c->db, err, "operator get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

int sqlite_operator_by_token(store *st, const char *token_hash, struct store_operator *out,
			     struct margo_error *err)
{
	return operator_find(st, sql_operator_by_token, token_hash, out, err);
}

int sqlite_operator_get(store *st, const char *name, struct store_operator *out,
			struct margo_error *err)
{
	return operator_find(st, sql_operator_get, name, out, err);
}

static const char sql_operator_revoke[] =
	"UPDATE operators SET revoked_at = coalesce(revoked_at, :now) WHERE name = :name";

int sqlite_operator_revoke(store *st, const char *name, int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_operator_revoke);
	BIND(bind_int(s, ":now", now) | bind_text(s, ":name", name));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no operator %s", name);
out:
	return rc;
}

static const char sql_operator_page[] =
	"SELECT " OPERATOR_COLUMNS " FROM operators WHERE :after IS NULL OR name > :after"
	" ORDER BY name LIMIT :limit";

int sqlite_operator_page(store *st, const char *after, size_t limit,
			 struct store_operator **items, size_t *n, int *more,
			 struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_operator *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_operator_page);
	BIND(bind_text(s, ":after", after) | bind_int(s, ":limit", (int64_t)limit + 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 16);
		operator_from_row(s, &v[cnt++]);
	}
	ROWS_DONE("operator page");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	return rc;
}
