/* store.h's devices on PostgreSQL: reading one, and the operator's decisions. Races between
 * replicas (approve against reject, revoke against either) are settled in READ COMMITTED by
 * locking the device's row first (SELECT ... FOR UPDATE): the second decision waits for the
 * first to commit, then sees its state and answers MARGO_ECONFLICT. Listing and deciding
 * expire the overdue onboarding requests first (pg_purge_expired), as SQLite's do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

void pg_device_from_row(const PGresult *res, int row, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	pg_copy_text(d->id, sizeof(d->id), PQgetvalue(res, row, 0));
	pg_copy_text(d->state, sizeof(d->state), PQgetvalue(res, row, 1));
	pg_copy_text(d->fingerprint, sizeof(d->fingerprint), PQgetvalue(res, row, 2));
	pg_copy_text(d->keyid, sizeof(d->keyid), PQgetvalue(res, row, 3));
	pg_copy_text(d->vendor, sizeof(d->vendor), PQgetvalue(res, row, 4));
	pg_copy_text(d->model_number, sizeof(d->model_number), PQgetvalue(res, row, 5));
	pg_copy_text(d->serial_number, sizeof(d->serial_number), PQgetvalue(res, row, 6));
	d->created_at = pg_col_i64(res, row, 7);
	d->last_seen_at = pg_col_time(res, row, 8);
	d->first_auth_at = pg_col_time(res, row, 9);
}

/* The rows of res as newly allocated devices. */
static int devices_from_result(const PGresult *res, struct store_device **items, size_t *n,
			       struct margo_error *err)
{
	size_t cnt = (size_t)PQntuples(res);
	struct store_device *v = calloc(cnt > 0 ? cnt : 1, sizeof(*v));

	if (v == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++)
		pg_device_from_row(res, (int)i, &v[i]);
	*items = v;
	*n = cnt;
	return 0;
}

int pg_device_list(store *st, const char *state, int64_t now, struct store_device **items,
		   size_t *n, struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	const char *params[] = { state };
	PGresult *res = NULL;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_purge_expired(c, now, err)) < 0)
		goto out;
	res = state != NULL ?
		pg_exec(c, "SELECT " PG_DEVICE_COLUMNS " FROM devices WHERE state = $1"
			" ORDER BY created_at, id", 1, params, err, "device list") :
		pg_exec(c, "SELECT " PG_DEVICE_COLUMNS " FROM devices ORDER BY created_at, id",
			0, NULL, err, "device list");
	rc = res != NULL ? 0 : MARGO_ESTORE;
out:
	rc = pg_tx_end(c, rc, err);
	if (rc == 0)
		rc = devices_from_result(res, items, n, err);
	PQclear(res);
	return rc;
}

int pg_device_get(store *st, const char *id, int64_t now, struct store_device *out,
		  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { id };
	PGresult *res = NULL;
	int rc;

	(void)now;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT " PG_DEVICE_COLUMNS ", certificate_pem FROM devices"
		      " WHERE id = $1", 1, params, err, "device get");
	if (res == NULL) {
		rc = MARGO_ESTORE;
		goto out;
	}
	if (PQntuples(res) == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
		goto out;
	}
	pg_device_from_row(res, 0, out);
	out->certificate_pem = strdup(PQgetvalue(res, 0, 10));
	rc = out->certificate_pem != NULL ? 0 : margo_error_set(err, MARGO_ENOMEM, "out of memory");
out:
	PQclear(res);
	return rc;
}

int pg_device_lock(struct pg_conn *c, const char *id, char *state, size_t size,
		   struct margo_error *err)
{
	const char *params[] = { id };
	PGresult *res = pg_exec(c, "SELECT state FROM devices WHERE id = $1 FOR UPDATE", 1,
				params, err, "device lock");
	int rc = 0;

	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
	else
		pg_copy_text(state, size, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

int pg_device_set_state(struct pg_conn *c, const char *id, const char *state,
			struct margo_error *err)
{
	const char *params[] = { id, state };

	return pg_exec_cmd(c, "UPDATE devices SET state = $2 WHERE id = $1", 2, params, err,
			   "device state");
}

int pg_device_activate(struct pg_conn *c, const char *id, int64_t now, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now);
	const char *params[] = { id, at.s };

	return pg_exec_cmd(c, "UPDATE devices SET state = 'active', approved_at = $2,"
			   " first_auth_at = NULL WHERE id = $1", 2, params, err, "activate");
}

static int decide(struct pg_conn *c, const char *id, int64_t now, int approve,
		  struct margo_error *err)
{
	char state[16];
	const char *p_req[] = { id, approve ? "approved" : "rejected" };
	int rc;

	if ((rc = pg_purge_expired(c, now, err)) < 0 ||
	    (rc = pg_device_lock(c, id, state, sizeof(state), err)) < 0)
		return rc;
	if (strcmp(state, "pending") != 0)
		return margo_error_set(err, MARGO_ECONFLICT, "device %s is %s, not pending", id,
				       state);
	if (approve) {
		if (pg_device_activate(c, id, now, err) < 0 || pg_credentials_revoke(c, id, err) < 0)
			return MARGO_ESTORE;
	} else if (pg_device_set_state(c, id, "rejected", err) < 0) {
		return MARGO_ESTORE;
	}
	return pg_exec_cmd(c, "UPDATE onboarding_requests SET state = $2 WHERE device_id = $1"
			   " AND state = 'pending'", 2, p_req, err, "requests");
}

static int decide_pending(store *st, const char *id, int64_t now, int approve,
			  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_tx_begin(c, err)) < 0)
		return rc;
	rc = decide(c, id, now, approve, err);
	return pg_tx_end(c, rc, err);
}

int pg_device_approve(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 1, err);
}

int pg_device_reject(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 0, err);
}

int pg_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	char state[16];
	int rc;

	(void)now;
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_tx_begin(c, err)) < 0)
		return rc;
	if ((rc = pg_device_lock(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if (pg_device_set_state(c, id, "revoked", err) < 0 ||
	    pg_credentials_revoke(c, id, err) < 0 || pg_requests_close(c, id, err) < 0)
		rc = MARGO_ESTORE;
out:
	return pg_tx_end(c, rc, err);
}
