/* store.h's devices on PostgreSQL: reading one, and the operator's decisions. Races between
 * replicas (approve against reject, revoke against either) are settled in READ COMMITTED by
 * locking the device's row first (SELECT ... FOR UPDATE): the second decision waits for the
 * first to commit, then sees its state and answers MARGO_ECONFLICT. WORK IN PROGRESS: the
 * expired-request purge of the SQLite backend (sqlite_purge_expired) is not ported yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static int64_t col_time(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void device_from_row(const PGresult *res, int row, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	copy_text(d->id, sizeof(d->id), PQgetvalue(res, row, 0));
	copy_text(d->state, sizeof(d->state), PQgetvalue(res, row, 1));
	copy_text(d->fingerprint, sizeof(d->fingerprint), PQgetvalue(res, row, 2));
	copy_text(d->keyid, sizeof(d->keyid), PQgetvalue(res, row, 3));
	copy_text(d->vendor, sizeof(d->vendor), PQgetvalue(res, row, 4));
	copy_text(d->model_number, sizeof(d->model_number), PQgetvalue(res, row, 5));
	copy_text(d->serial_number, sizeof(d->serial_number), PQgetvalue(res, row, 6));
	d->created_at = strtoll(PQgetvalue(res, row, 7), NULL, 10);
	d->last_seen_at = col_time(res, row, 8);
	d->first_auth_at = col_time(res, row, 9);
}

#define PG_DEVICE_COLUMNS "id, state, certificate_fingerprint, keyid, vendor, model_number," \
	" serial_number, created_at, last_seen_at, first_auth_at"

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
	device_from_row(res, 0, out);
	out->certificate_pem = strdup(PQgetvalue(res, 0, 10));
	rc = out->certificate_pem != NULL ? 0 : margo_error_set(err, MARGO_ENOMEM, "out of memory");
out:
	PQclear(res);
	return rc;
}

/* The device's state, its row locked until the transaction ends. MARGO_ENOTFOUND. */
static int device_lock(struct pg_conn *c, const char *id, char *state, size_t size,
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
		copy_text(state, size, PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* Client secrets deleted, access tokens retired (the epoch moves), git tokens deleted. */
static int credentials_revoke(struct pg_conn *c, const char *id, struct margo_error *err)
{
	const char *params[] = { id };

	if (pg_exec_cmd(c, "DELETE FROM client_secrets WHERE device_id = $1", 1, params, err,
			"secrets delete") < 0 ||
	    pg_exec_cmd(c, "UPDATE devices SET credentials_epoch = credentials_epoch + 1"
			" WHERE id = $1", 1, params, err, "epoch") < 0 ||
	    pg_exec_cmd(c, "DELETE FROM git_tokens WHERE device_id = $1", 1, params, err,
			"git tokens delete") < 0)
		return MARGO_ESTORE;
	return 0;
}

static int decide(struct pg_conn *c, const char *id, int64_t now, int approve,
		  struct margo_error *err)
{
	char state[16], at[24];
	const char *p_id[] = { id };
	const char *p_now[] = { id, at };
	const char *p_req[] = { id, approve ? "approved" : "rejected" };
	int rc;

	snprintf(at, sizeof(at), "%lld", (long long)now);
	if ((rc = device_lock(c, id, state, sizeof(state), err)) < 0)
		return rc;
	if (strcmp(state, "pending") != 0)
		return margo_error_set(err, MARGO_ECONFLICT, "device %s is %s, not pending", id,
				       state);
	if (approve) {
		if (pg_exec_cmd(c, "UPDATE devices SET state = 'active', approved_at = $2,"
				" first_auth_at = NULL WHERE id = $1", 2, p_now, err, "approve") < 0 ||
		    credentials_revoke(c, id, err) < 0)
			return MARGO_ESTORE;
	} else if (pg_exec_cmd(c, "UPDATE devices SET state = 'rejected' WHERE id = $1", 1, p_id,
			       err, "reject") < 0) {
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
	const char *params[] = { id };
	char state[16];
	int rc;

	(void)now;
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_tx_begin(c, err)) < 0)
		return rc;
	if ((rc = device_lock(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if (pg_exec_cmd(c, "UPDATE devices SET state = 'revoked' WHERE id = $1", 1, params, err,
			"revoke") < 0 ||
	    credentials_revoke(c, id, err) < 0 ||
	    pg_exec_cmd(c, "UPDATE onboarding_requests SET state = 'closed' WHERE device_id = $1"
			" AND state IN ('pending', 'approved')", 1, params, err, "requests") < 0)
		rc = MARGO_ESTORE;
out:
	return pg_tx_end(c, rc, err);
}
