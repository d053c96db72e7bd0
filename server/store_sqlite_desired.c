/* store_desired.h on SQLite: git_objects (schema step 2) and the reference in repos. */
#include <stdlib.h>
#include <string.h>

#include "store_desired.h"
#include "store_sqlite_int.h"

static const char sql_object_put[] =
	"INSERT INTO git_objects (oid, type, content) VALUES (:oid, :type, :content)"
	" ON CONFLICT (oid) DO NOTHING";
static const char sql_object_get[] = "SELECT type, content FROM git_objects WHERE oid = :oid";
static const char sql_ref_create[] =
	"INSERT INTO repos (device_id, revision, updated_at) VALUES (:id, :new, :now)"
	" ON CONFLICT (device_id) DO NOTHING";
static const char sql_ref_move[] =
	"UPDATE repos SET revision = :new, updated_at = :now WHERE device_id = :id"
	" AND revision = :old";
static const char sql_ref_force[] =
	"INSERT INTO repos (device_id, revision, updated_at) VALUES (:id, :new, :now)"
	" ON CONFLICT (device_id) DO UPDATE SET revision = excluded.revision,"
	" updated_at = excluded.updated_at";
static const char sql_dep_put[] =
	"INSERT INTO deployments (device_id, deployment_id, name, application_id, created_at,"
	" updated_at) VALUES (:id, :dep, :name, :app, :now, :now)"
	" ON CONFLICT (device_id, deployment_id) DO UPDATE SET name = excluded.name,"
	" application_id = excluded.application_id, updated_at = excluded.updated_at";
static const char sql_dep_delete[] =
	"DELETE FROM deployments WHERE device_id = :id AND deployment_id = :dep";
static const char sql_stats[] =
	"SELECT (SELECT count(*) FROM git_objects), (SELECT coalesce(sum(length(content)), 0)"
	" FROM git_objects), (SELECT count(*) FROM repos)";

static int bind_blob(sqlite3_stmt *s, const char *name, const void *v, size_t len)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i == 0)
		return SQLITE_RANGE;
	/* An empty blob, not NULL (the empty tree's content). */
	return sqlite3_bind_blob64(s, i, len > 0 ? v : "", len, SQLITE_STATIC);
}

static int objects_put(struct conn *c, const struct store_object *o, size_t n,
		       struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		PREPARE(s, sql_object_put);
		BIND(bind_blob(s, ":oid", o[i].oid, STORE_OID_LEN));
		BIND(bind_int(s, ":type", o[i].type));
		BIND(bind_blob(s, ":content", o[i].data, o[i].len));
		EXEC(s);
	}
out:
	return rc;
}

/* Moves the reference as ch asks; MARGO_ECONFLICT when it is not where ch expects it. */
static int ref_move(struct conn *c, const struct store_desired_change *ch,
		    struct margo_error *err)
{
	int force = ch->old_rev != NULL && strcmp(ch->old_rev, STORE_REF_ANY) == 0;
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, ch->old_rev == NULL ? sql_ref_create : force ? sql_ref_force : sql_ref_move);
	BIND(bind_text(s, ":id", ch->device_id));
	BIND(bind_text(s, ":new", ch->new_rev));
	BIND(bind_int(s, ":now", ch->now));
	if (ch->old_rev != NULL && !force)
		BIND(bind_text(s, ":old", ch->old_rev));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ECONFLICT, ch->old_rev == NULL ?
				     "the repository of %s exists already" :
				     "the desired state of %s changed meanwhile", ch->device_id);
out:
	return rc;
}

static int deployment_row(struct conn *c, const struct store_desired_change *ch,
			  struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (ch->op == STORE_DESIRED_KEEP)
		return 0;
	PREPARE(s, ch->op == STORE_DESIRED_PUT ? sql_dep_put : sql_dep_delete);
	BIND(bind_text(s, ":id", ch->device_id));
	BIND(bind_text(s, ":dep", ch->deployment_id));
	if (ch->op == STORE_DESIRED_PUT) {
		BIND(bind_text(s, ":name", ch->name));
		BIND(bind_text(s, ":app", ch->application_id));
		BIND(bind_int(s, ":now", ch->now));
	}
	EXEC(s);
	/* Removing what is not there, in neither the tree nor the rows. */
	if (ch->op == STORE_DESIRED_REMOVE && sqlite3_changes(c->db) == 0 &&
	    strcmp(ch->old_rev, ch->new_rev) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no deployment %s", ch->deployment_id);
out:
	return rc;
}

int sqlite_desired_commit(store *st, const struct store_desired_change *ch,
			  struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	rc = desired_commit_tx(c, ch, err);
	return tx_end(c, rc, err);
}

int desired_commit_tx(struct conn *c, const struct store_desired_change *ch,
		      struct margo_error *err)
{
	int rc;

	if ((rc = db_device_exists(c, ch->device_id, err)) < 0 ||
	    (rc = ref_move(c, ch, err)) < 0 ||
	    (rc = objects_put(c, ch->objects, ch->nobjects, err)) < 0)
		return rc;
	return deployment_row(c, ch, err);
}

int sqlite_object_get(store *st, const unsigned char oid[STORE_OID_LEN], int *type,
		      unsigned char **data, size_t *len, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	*data = NULL;
	*len = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_object_get);
	BIND(bind_blob(s, ":oid", oid, STORE_OID_LEN));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 1);
		size_t n = (size_t)sqlite3_column_bytes(s, 1);

		*type = sqlite3_column_int(s, 0);
		*data = malloc(n + 1);
		if (*data == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		} else {
			if (n > 0)
				memcpy(*data, p, n);
			(*data)[n] = '\0';
			*len = n;
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no such object");
	} else {
		rc = db_fail(c->db, err, "object get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

int sqlite_object_stats(store *st, struct store_object_stats *out, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_stats);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->objects = sqlite3_column_int64(s, 0);
		out->bytes = sqlite3_column_int64(s, 1);
		out->refs = sqlite3_column_int64(s, 2);
		rc = 0;
	} else {
		rc = db_fail(c->db, err, "object stats");
	}
	sqlite3_reset(s);
out:
	return rc;
}

static const char sql_repo_get[] =
	"SELECT revision FROM repos WHERE device_id = :id";
int sqlite_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			     struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_repo_get);
	BIND(bind_text(s, ":id", device_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(rev, STORE_REVISION_LEN, col_text(s, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no repository for %s", device_id);
	} else {
		rc = db_fail(c->db, err, "repo get");
	}
	sqlite3_reset(s);
out:
	return rc;
}
