/* store.h's devices on SQLite: listing and reading them, and the operator's decisions
 * (approve, reject, revoke). */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "store_sqlite_int.h"

void sqlite_device_from_row(sqlite3_stmt *s, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	copy_text(d->id, sizeof(d->id), col_text(s, 0));
	copy_text(d->state, sizeof(d->state), col_text(s, 1));
	copy_text(d->fingerprint, sizeof(d->fingerprint), col_text(s, 2));
	copy_text(d->keyid, sizeof(d->keyid), col_text(s, 3));
	copy_text(d->vendor, sizeof(d->vendor), col_text(s, 4));
	copy_text(d->model_number, sizeof(d->model_number), col_text(s, 5));
	copy_text(d->serial_number, sizeof(d->serial_number), col_text(s, 6));
	d->created_at = sqlite3_column_int64(s, 7);
	d->last_seen_at = col_time(s, 8);
	d->first_auth_at = col_time(s, 9);
}

static const char sql_device_list[] =
	"SELECT " DEVICE_COLUMNS " FROM devices ORDER BY created_at, id";
static const char sql_device_list_state[] =
	"SELECT " DEVICE_COLUMNS " FROM devices WHERE state = :state ORDER BY created_at, id";

int sqlite_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		       size_t *n, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_device *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_purge_expired(c, now, err)) < 0)
		goto out;
	if (state != NULL) {
		PREPARE(s, sql_device_list_state);
		BIND(bind_text(s, ":state", state));
	} else {
		PREPARE(s, sql_device_list);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 16);
		sqlite_device_from_row(s, &v[cnt++]);
	}
	ROWS_DONE("device list");
out:
	rc = tx_end(c, rc, err);
	if (rc < 0) {
		store_devices_free(v, cnt);
		return rc;
	}
	*items = v;
	*n = cnt;
	return 0;
}

static const char sql_device_get[] =
	"SELECT " DEVICE_COLUMNS ", certificate_pem FROM devices WHERE id = :id";

int sqlite_device_get(store *st, const char *id, int64_t now, struct store_device *out,
		      struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	(void)now;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_device_get);
	BIND(bind_text(s, ":id", id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sqlite_device_from_row(s, out);
		out->certificate_pem = strdup(col_text(s, 10));
		rc = out->certificate_pem != NULL ? 0 :
			margo_error_set(err, MARGO_ENOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
	} else {
		rc = db_fail(c->db, err, "device get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

static const char sql_device_state[] =
	"SELECT state FROM devices WHERE id = :id";
static const char sql_device_set_active[] =
	"UPDATE devices SET state = 'active', approved_at = :now, first_auth_at = NULL"
	" WHERE id = :id";
static const char sql_device_set_state[] =
	"UPDATE devices SET state = :state WHERE id = :id";
static const char sql_requests_set_pending_state[] =
	"UPDATE onboarding_requests SET state = :state WHERE device_id = :id AND state = 'pending'";

int sqlite_device_state(struct conn *c, const char *id, char *buf, size_t size,
			struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_device_state);
	BIND(bind_text(s, ":id", id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(buf, size, col_text(s, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
	} else {
		rc = db_fail(c->db, err, "device state");
	}
	sqlite3_reset(s);
out:
	return rc;
}

int db_device_exists(struct conn *c, const char *id, struct margo_error *err)
{
	char state[16];

	return sqlite_device_state(c, id, state, sizeof(state), err);
}

int sqlite_device_set_state(struct conn *c, const char *id, const char *state,
			    struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_device_set_state);
	BIND(bind_text(s, ":state", state));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return rc;
}

int sqlite_device_activate(struct conn *c, const char *id, int64_t now,
			   struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_device_set_active);
	BIND(bind_int(s, ":now", now));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return rc;
}

static int decide_pending(store *st, const char *id, int64_t now, int approve,
			  struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	char state[16];
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_purge_expired(c, now, err)) < 0)
		goto out;
	if ((rc = sqlite_device_state(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if (strcmp(state, "pending") != 0) {
		rc = margo_error_set(err, MARGO_ECONFLICT, "device %s is %s, not pending", id,
				     state);
		goto out;
	}
	if (approve) {
		if ((rc = sqlite_device_activate(c, id, now, err)) < 0 ||
		    (rc = sqlite_credentials_revoke(c, id, err)) < 0)
			goto out;
	} else if ((rc = sqlite_device_set_state(c, id, "rejected", err)) < 0) {
		goto out;
	}
	PREPARE(s, sql_requests_set_pending_state);
	BIND(bind_text(s, ":state", approve ? "approved" : "rejected"));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

int sqlite_device_approve(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 1, err);
}

int sqlite_device_reject(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 0, err);
}

int sqlite_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	char state[16];
	int rc;

	(void)now;
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_device_state(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if ((rc = sqlite_device_set_state(c, id, "revoked", err)) < 0)
		goto out;
	if ((rc = sqlite_credentials_revoke(c, id, err)) < 0)
		goto out;
	if ((rc = sqlite_requests_close(c, id, err)) < 0)
		goto out;
	PREPARE(s, sql_requests_set_pending_state);
	BIND(bind_text(s, ":state", "closed"));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}
