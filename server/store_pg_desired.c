/* store_desired.h on PostgreSQL: git_objects (schema step 2) and the reference in repos
 * (store_sqlite_desired.c's twin). The reference moves by compare-and-set (UPDATE ... WHERE
 * revision = old): of two writers from the same revision, the second re-checks the row
 * after the first commits and changes nothing (MARGO_ECONFLICT). Object ids and contents
 * travel as bytea in hex text ("\x..."). */
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* "\x" and the hex of data, newly allocated; NULL when out of memory. */
static char *bytea_hex(const unsigned char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *s = malloc(2 * len + 3);

	if (s == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		s[2 + 2 * i] = hex[data[i] >> 4];
		s[3 + 2 * i] = hex[data[i] & 15];
	}
	s[2 + 2 * len] = '\0';
	return s;
}

static int object_put(struct pg_conn *c, const struct store_object *o,
		      struct margo_error *err)
{
	char *oid = bytea_hex(o->oid, STORE_OID_LEN);
	char *content = bytea_hex(o->data, o->len);
	struct pg_i64 type = pg_i64(o->type);
	const char *params[] = { oid, type.s, content };
	int rc;

	if (oid == NULL || content == NULL)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	else
		rc = pg_exec_cmd(c, "INSERT INTO git_objects (oid, type, content)"
				 " VALUES ($1, $2, $3) ON CONFLICT (oid) DO NOTHING", 3, params,
				 err, "object put");
	free(oid);
	free(content);
	return rc;
}

/* Moves the reference as ch asks; MARGO_ECONFLICT when it is not where ch expects it. */
static int ref_move(struct pg_conn *c, const struct store_desired_change *ch,
		    struct margo_error *err)
{
	int force = ch->old_rev != NULL && strcmp(ch->old_rev, STORE_REF_ANY) == 0;
	struct pg_i64 at = pg_i64(ch->now);
	const char *params[] = { ch->device_id, ch->new_rev, at.s, ch->old_rev };
	const char *sql = ch->old_rev == NULL ?
		"INSERT INTO repos (device_id, revision, updated_at) VALUES ($1, $2, $3)"
		" ON CONFLICT (device_id) DO NOTHING" : force ?
		"INSERT INTO repos (device_id, revision, updated_at) VALUES ($1, $2, $3)"
		" ON CONFLICT (device_id) DO UPDATE SET revision = excluded.revision,"
		" updated_at = excluded.updated_at" :
		"UPDATE repos SET revision = $2, updated_at = $3 WHERE device_id = $1"
		" AND revision = $4";
	long n;

	if (pg_exec_changes(c, sql, ch->old_rev != NULL && !force ? 4 : 3, params, &n, err,
			    "ref move") < 0)
		return MARGO_ESTORE;
	if (n == 0)
		return margo_error_set(err, MARGO_ECONFLICT, ch->old_rev == NULL ?
				       "the repository of %s exists already" :
				       "the desired state of %s changed meanwhile", ch->device_id);
	return 0;
}

static int deployment_row(struct pg_conn *c, const struct store_desired_change *ch,
			  struct margo_error *err)
{
	struct pg_i64 at = pg_i64(ch->now);
	const char *params[] = { ch->device_id, ch->deployment_id, ch->name, ch->application_id,
				 at.s };
	long n;

	if (ch->op == STORE_DESIRED_KEEP)
		return 0;
	if (ch->op == STORE_DESIRED_PUT)
		return pg_exec_cmd(c, "INSERT INTO deployments (device_id, deployment_id, name,"
				   " application_id, created_at, updated_at)"
				   " VALUES ($1, $2, $3, $4, $5, $5)"
				   " ON CONFLICT (device_id, deployment_id) DO UPDATE"
				   " SET name = excluded.name, application_id = excluded.application_id,"
				   " updated_at = excluded.updated_at", 5, params, err,
				   "deployment put");
	if (pg_exec_changes(c, "DELETE FROM deployments WHERE device_id = $1"
			    " AND deployment_id = $2", 2, params, &n, err, "deployment delete") < 0)
		return MARGO_ESTORE;
	/* Removing what is not there, in neither the tree nor the rows. */
	if (n == 0 && strcmp(ch->old_rev, ch->new_rev) == 0)
		return margo_error_set(err, MARGO_ENOTFOUND, "no deployment %s", ch->deployment_id);
	return 0;
}

int pg_desired_commit_tx(struct pg_conn *c, const struct store_desired_change *ch,
			 struct margo_error *err)
{
	const char *params[] = { ch->device_id };
	PGresult *res;
	int rc, found;

	res = pg_exec(c, "SELECT 1 FROM devices WHERE id = $1", 1, params, err, "device exists");
	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	PQclear(res);
	if (!found)
		return margo_error_set(err, MARGO_ENOTFOUND, "no device %s", ch->device_id);
	if ((rc = ref_move(c, ch, err)) < 0)
		return rc;
	for (size_t i = 0; i < ch->nobjects; i++)
		if ((rc = object_put(c, &ch->objects[i], err)) < 0)
			return rc;
	return deployment_row(c, ch, err);
}

int pg_desired_commit(store *st, const struct store_desired_change *ch,
		      struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);

	if (c == NULL)
		return MARGO_ESTORE;
	return pg_tx_end(c, pg_desired_commit_tx(c, ch, err), err);
}

int pg_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		  unsigned char **data, size_t *len, struct margo_error *err)
{
	struct pg_conn *c;
	char *key;
	const char *params[1];
	PGresult *res = NULL;
	unsigned char *raw = NULL;
	size_t n = 0;
	int rc = 0;

	*data = NULL;
	*len = 0;
	if (pg_objcache_get(((struct pg_store *)st)->objects, oid, type, data, len))
		return 0;
	c = pg_conn_get(pg_pool_of(st), err);
	key = bytea_hex(oid, STORE_OID_LEN);
	params[0] = key;
	if (c == NULL || key == NULL) {
		rc = c == NULL ? MARGO_ESTORE : margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	res = pg_exec(c, "SELECT type, content FROM git_objects WHERE oid = $1", 1, params, err,
		      "object get");
	if (res == NULL) {
		rc = MARGO_ESTORE;
		goto out;
	}
	if (PQntuples(res) == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no such object");
		goto out;
	}
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &n);
	if (raw == NULL || (*data = malloc(n + 1)) == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if (n > 0)
		memcpy(*data, raw, n);
	(*data)[n] = '\0';
	*len = n;
	*type = (int)pg_col_i64(res, 0, 0);
	pg_objcache_put(((struct pg_store *)st)->objects, oid, *type, *data, n);
out:
	PQfreemem(raw);
	PQclear(res);
	free(key);
	return rc;
}

int pg_object_stats(store *st, struct store_object_stats *out, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	PGresult *res;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT (SELECT count(*) FROM git_objects),"
		      " (SELECT coalesce(sum(length(content)), 0) FROM git_objects),"
		      " (SELECT count(*) FROM repos)", 0, NULL, err, "object stats");
	if (res == NULL)
		return MARGO_ESTORE;
	out->objects = pg_col_i64(res, 0, 0);
	out->bytes = pg_col_i64(res, 0, 1);
	out->refs = pg_col_i64(res, 0, 2);
	PQclear(res);
	return 0;
}

int pg_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			 struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id };
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT revision FROM repos WHERE device_id = $1", 1, params, err,
		      "repo get");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no repository for %s", device_id);
	else
		pg_copy_text(rev, STORE_REVISION_LEN, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}
