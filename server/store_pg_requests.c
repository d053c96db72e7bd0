/* store.h's onboarding requests on PostgreSQL: the polls of a pending request, closing
 * requests, and expiring the requests nobody decided (store_sqlite_requests.c's twin).
 * Expiring many rows and dropping the devices they leave pending runs under the requests
 * lock (pg_requests_lock), so the orphan check never misses a request another connection is
 * filing for the same device: its statement snapshot is taken after that writer committed. */
#include <string.h>

#include "margo/token.h"
#include "store_pg_int.h"

#define CLOSED_REQUEST_KEEP (7 * 86400)
/* pg_advisory_xact_lock's key for pending requests: "wfmdreqs" in ASCII. */
#define PG_REQUESTS_LOCK_KEY "8603684416321319283"

int pg_requests_lock(struct pg_conn *c, struct margo_error *err)
{
	if (c->requests_locked)
		return 0;
	if (pg_exec_cmd(c, "SELECT pg_advisory_xact_lock(" PG_REQUESTS_LOCK_KEY ")", 0, NULL,
			err, "requests lock") < 0)
		return MARGO_ESTORE;
	c->requests_locked = 1;
	return 0;
}

int pg_purge_expired(struct pg_conn *c, int64_t now, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now), cutoff = pg_i64(now - CLOSED_REQUEST_KEEP);
	const char *p_now[] = { at.s };
	const char *p_cutoff[] = { cutoff.s };
	long expired;

	PGresult *res;
	int overdue, old;

	/* The common case finds nothing overdue and takes no lock; otherwise the lock comes
	 * before any row lock, in the order store_onboard takes them. */
	const char *p_both[] = { at.s, cutoff.s };

	/* One statement says whether either clean-up has anything to do (it seldom has). */
	res = pg_exec(c, "SELECT EXISTS (SELECT 1 FROM onboarding_requests WHERE state = 'pending'"
		      " AND expires_at <= $1), EXISTS (SELECT 1 FROM onboarding_requests WHERE"
		      " state IN ('approved', 'rejected', 'expired', 'closed') AND expires_at < $2)",
		      2, p_both, err, "overdue requests");
	if (res == NULL)
		return MARGO_ESTORE;
	overdue = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	old = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	expired = 0;
	if (overdue &&
	    (pg_requests_lock(c, err) < 0 ||
	     pg_exec_changes(c, "UPDATE onboarding_requests SET state = 'expired'"
			     " WHERE state = 'pending' AND expires_at <= $1", 1, p_now, &expired,
			     err, "expire requests") < 0))
		return MARGO_ESTORE;
	if (expired > 0 &&
	    (pg_exec_cmd(c, "DELETE FROM devices WHERE state = 'pending' AND approved_at IS NULL"
			 " AND NOT EXISTS (SELECT 1 FROM onboarding_requests r"
			 " WHERE r.device_id = devices.id AND r.state = 'pending')", 0, NULL, err,
			 "drop orphans") < 0 ||
	     pg_exec_cmd(c, "UPDATE devices SET state = 'revoked' WHERE state = 'pending'"
			 " AND approved_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
			 " onboarding_requests r WHERE r.device_id = devices.id"
			 " AND r.state = 'pending')", 0, NULL, err, "revert orphans") < 0))
		return MARGO_ESTORE;
	if (!old)
		return 0;
	return pg_exec_cmd(c, "DELETE FROM onboarding_requests WHERE state IN ('approved',"
			   " 'rejected', 'expired', 'closed') AND expires_at < $1", 1, p_cutoff,
			   err, "drop old requests");
}

int pg_requests_close(struct pg_conn *c, const char *id, struct margo_error *err)
{
	const char *params[] = { id };

	return pg_exec_cmd(c, "UPDATE onboarding_requests SET state = 'closed'"
			   " WHERE device_id = $1 AND state IN ('pending', 'approved')", 1, params,
			   err, "close requests");
}

struct poll_row {
	char device_id[MARGO_UUID_LEN];
	char hash[MARGO_TOKEN_HASH_LEN];
	char rstate[16];
	char dstate[16];
	int64_t expires_at;
	int first_used;
};

/* The request and its device, the device's row locked (two polls of one approved request
 * issue one secret after the other, never both); 1 found, 0 unknown, MARGO_ESTORE. */
static int poll_find(struct pg_conn *c, const char *request_id, struct poll_row *p,
		     struct margo_error *err)
{
	const char *params[] = { request_id };
	PGresult *res = pg_exec(c, "SELECT r.device_id, r.poll_token_hash, r.state, r.expires_at,"
				" d.state, d.first_auth_at FROM onboarding_requests r"
				" LEFT JOIN devices d ON d.id = r.device_id WHERE r.id = $1"
				" FOR UPDATE OF r", 1, params, err, "poll");
	int found;

	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	if (found) {
		pg_copy_text(p->device_id, sizeof(p->device_id), PQgetvalue(res, 0, 0));
		pg_copy_text(p->hash, sizeof(p->hash), PQgetvalue(res, 0, 1));
		pg_copy_text(p->rstate, sizeof(p->rstate), PQgetvalue(res, 0, 2));
		p->expires_at = pg_col_i64(res, 0, 3);
		pg_copy_text(p->dstate, sizeof(p->dstate), PQgetvalue(res, 0, 4));
		p->first_used = !PQgetisnull(res, 0, 5);
	}
	PQclear(res);
	return found;
}

/* The decision for a found request whose poll token matched. */
static int poll_decide(struct pg_conn *c, const struct poll_row *p, const char *secret_hash,
		       const char *git_token_hash, int64_t git_expires_at, int64_t now,
		       enum store_poll_result *result, struct margo_error *err)
{
	char state[16];
	int rc;

	if (strcmp(p->rstate, "pending") == 0) {
		*result = p->expires_at > now ? STORE_POLL_PENDING : STORE_POLL_GONE;
		return 0;
	}
	if (strcmp(p->rstate, "rejected") == 0) {
		*result = strcmp(p->dstate, "rejected") == 0 ? STORE_POLL_REJECTED : STORE_POLL_GONE;
		return 0;
	}
	*result = STORE_POLL_GONE;
	if (strcmp(p->rstate, "approved") != 0 || strcmp(p->dstate, "active") != 0 ||
	    p->first_used)
		return 0;
	/* Lock the device and look again: a revoke or a first use may have committed since. */
	if ((rc = pg_device_lock(c, p->device_id, state, sizeof(state), err)) < 0)
		return rc == MARGO_ENOTFOUND ? 0 : rc;
	if (strcmp(state, "active") != 0)
		return 0;
	rc = pg_secret_issue(c, p->device_id, secret_hash, git_token_hash, git_expires_at, now,
			     err);
	if (rc == 0)
		*result = STORE_POLL_APPROVED;
	return rc;
}

int pg_poll(store *st, const char *request_id, const char *poll_token_hash,
	    const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
	    int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
	    struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	struct poll_row p;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	memset(&p, 0, sizeof(p));
	if ((rc = pg_purge_expired(c, now, err)) < 0 ||
	    (rc = poll_find(c, request_id, &p, err)) < 0)
		goto out;
	if (rc == 0) {
		*result = STORE_POLL_UNKNOWN;
		goto out;
	}
	pg_copy_text(device_id, MARGO_UUID_LEN, p.device_id);
	rc = 0;
	if (!margo_token_equal(p.hash, poll_token_hash))
		*result = STORE_POLL_BAD_TOKEN;
	else
		rc = poll_decide(c, &p, secret_hash, git_token_hash, git_expires_at, now, result,
				 err);
out:
	return pg_tx_end(c, rc, err);
}
