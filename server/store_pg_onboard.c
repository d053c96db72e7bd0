/* store.h's onboarding on PostgreSQL: deciding an onboarding request (API.md section 2,
 * authorisation order and the lost-response/re-onboarding rules) in one transaction, as
 * store_sqlite_onboard.c does. Two locks, always taken in this order, before any row lock:
 *   - the certificate's lock (an advisory lock on the fingerprint's hash), taken by every
 *     onboarding transaction: two requests for one new certificate never both insert it;
 *   - the requests lock (pg_requests_lock), taken by every transaction that may file a
 *     pending request: the pending cap holds, and the purge's orphan check never misses a
 *     request being filed, as under SQLite's single writer.
 * A request with an enrollment token is first decided without the requests lock, so that
 * devices onboarding with an auto-approving token do not wait for each other's commits (each
 * commit waits for its WAL flush: serialised, 118 devices/s; concurrent, see bench/pg.sh);
 * should its decision be a pending request after all, the transaction is rolled back and
 * decided again with the lock. An enrollment token's use is counted by a conditional UPDATE
 * (uses < max_uses re-checked on the row after any concurrent writer), so it is never
 * overspent by concurrent decisions. Polls and the operator's decisions take neither lock. */
#include <string.h>

#include "store_pg_int.h"

/* onboard_pending without the requests lock: decide again with it (not an error). */
#define ONBOARD_NEED_LOCK 2
/* pg_advisory_xact_lock(int4, int4)'s first key for a certificate's lock: "wfmc". (The
 * requests lock is the one-int8-key form: another key space.) */
#define PG_CERT_LOCK_CLASS "2003201379"

static int update_identity(struct pg_conn *c, const char *id, const struct store_onboard_in *in,
			   struct margo_error *err)
{
	const char *params[] = { id, in->vendor, in->model_number, in->serial_number };

	return pg_exec_cmd(c, "UPDATE devices SET vendor = coalesce($2, vendor),"
			   " model_number = coalesce($3, model_number),"
			   " serial_number = coalesce($4, serial_number) WHERE id = $1", 4, params,
			   err, "update identity");
}

static int insert_device(struct pg_conn *c, const struct store_onboard_in *in,
			 const char *state, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(in->now);
	const char *params[] = { in->new_device_id, state, in->certificate_pem, in->fingerprint,
				 in->keyid, in->vendor != NULL ? in->vendor : "",
				 in->model_number != NULL ? in->model_number : "",
				 in->serial_number != NULL ? in->serial_number : "", at.s };

	return pg_exec_cmd(c, "INSERT INTO devices (id, state, certificate_pem,"
			   " certificate_fingerprint, keyid, vendor, model_number, serial_number,"
			   " created_at, approved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
			   " CASE WHEN $2 = 'active' THEN $9::bigint END)", 9, params, err,
			   "insert device");
}

/* Approves: a new device, or an existing one whose older credentials all go. */
static int onboard_approve(struct pg_conn *c, const struct store_onboard_in *in, int exists,
			   struct store_onboard_out *out, struct margo_error *err)
{
	int rc;

	if (!exists) {
		if ((rc = insert_device(c, in, "active", err)) < 0 ||
		    (in->repo != NULL && (rc = pg_desired_commit_tx(c, in->repo, err)) < 0))
			return rc;
		pg_copy_text(out->device_id, sizeof(out->device_id), in->new_device_id);
	} else if ((rc = pg_device_activate(c, out->device_id, in->now, err)) < 0 ||
		   (rc = pg_requests_close(c, out->device_id, err)) < 0 ||
		   (rc = update_identity(c, out->device_id, in, err)) < 0) {
		return rc;
	}
	/* A device inserted just now has no credentials to revoke. */
	if ((rc = (exists ? pg_secret_issue : pg_secret_issue_new)(c, out->device_id,
			in->secret_hash, in->git_token_hash, in->git_token_expires_at, in->now,
			err)) < 0)
		return rc;
	out->result = STORE_ONBOARD_APPROVED;
	return 0;
}

/* A repeated request while waiting: the live request gets a new poll token. 1 when there
 * was one, 0 when not. */
static int pending_repeat(struct pg_conn *c, const struct store_onboard_in *in,
			  struct store_onboard_out *out, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(in->now);
	const char *params[] = { out->device_id, at.s, in->poll_token_hash };
	PGresult *res;
	int rc;

	res = pg_exec(c, "UPDATE onboarding_requests SET poll_token_hash = $3 WHERE id ="
		      " (SELECT id FROM onboarding_requests WHERE device_id = $1"
		      " AND state = 'pending' AND expires_at > $2 ORDER BY created_at DESC LIMIT 1)"
		      " RETURNING id", 3, params, err, "live request");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	pg_copy_text(out->request_id, sizeof(out->request_id), PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((rc = update_identity(c, out->device_id, in, err)) < 0)
		return rc;
	out->result = STORE_ONBOARD_PENDING;
	out->reason = "pending-repeat";
	return 1;
}

/* 1 when the pending requests are at the cap (out set to PENDING_FULL). */
static int pending_full(struct pg_conn *c, const struct store_onboard_in *in,
			struct store_onboard_out *out, struct margo_error *err)
{
	PGresult *res = pg_exec(c, "SELECT count(*), min(expires_at) FROM onboarding_requests"
				" WHERE state = 'pending'", 0, NULL, err, "pending count");
	int64_t count, oldest;

	if (res == NULL)
		return MARGO_ESTORE;
	count = pg_col_i64(res, 0, 0);
	oldest = pg_col_time(res, 0, 1);
	PQclear(res);
	if (count < in->pending_max)
		return 0;
	out->result = STORE_ONBOARD_PENDING_FULL;
	out->retry_after = oldest > in->now ? oldest - in->now : 1;
	out->reason = "pending-full";
	return 1;
}

static int onboard_pending(struct pg_conn *c, const struct store_onboard_in *in, int exists,
			   const char *state, struct store_onboard_out *out,
			   struct margo_error *err)
{
	struct pg_i64 at = pg_i64(in->now), exp = pg_i64(in->now + in->pending_ttl);
	const char *params[] = { in->new_request_id, NULL, in->poll_token_hash, exp.s, at.s };
	int rc;

	/* Not taken now: row locks are held, and the purge takes row locks under it. */
	if (!c->requests_locked)
		return ONBOARD_NEED_LOCK;
	if (exists && strcmp(state, "pending") == 0 &&
	    (rc = pending_repeat(c, in, out, err)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = pending_full(c, in, out, err)) != 0)
		return rc < 0 ? rc : 0;
	if (!exists) {
		if ((rc = insert_device(c, in, "pending", err)) < 0)
			return rc;
		pg_copy_text(out->device_id, sizeof(out->device_id), in->new_device_id);
	} else if ((rc = pg_device_set_state(c, out->device_id, "pending", err)) < 0 ||
		   (rc = update_identity(c, out->device_id, in, err)) < 0) {
		return rc;
	}
	params[1] = out->device_id;
	if ((rc = pg_exec_cmd(c, "INSERT INTO onboarding_requests (id, device_id,"
			      " poll_token_hash, state, expires_at, created_at)"
			      " VALUES ($1, $2, $3, 'pending', $4, $5)", 5, params, err,
			      "insert request")) < 0)
		return rc;
	pg_copy_text(out->request_id, sizeof(out->request_id), in->new_request_id);
	out->result = STORE_ONBOARD_PENDING;
	return 0;
}

/* The certificate's device, if any, its row locked: *exists, out->device_id, its state and
 * whether its credentials were used. */
static int find_device(struct pg_conn *c, const char *fingerprint, int *exists,
		       char state[16], int *first_used, struct store_onboard_out *out,
		       struct margo_error *err)
{
	const char *params[] = { fingerprint };
	PGresult *res = pg_exec(c, "SELECT id, state, first_auth_at FROM devices"
				" WHERE certificate_fingerprint = $1 FOR UPDATE", 1, params, err,
				"find device");

	if (res == NULL)
		return MARGO_ESTORE;
	*exists = PQntuples(res) > 0;
	if (*exists) {
		pg_copy_text(out->device_id, sizeof(out->device_id), PQgetvalue(res, 0, 0));
		pg_copy_text(state, 16, PQgetvalue(res, 0, 1));
		*first_used = !PQgetisnull(res, 0, 2);
	}
	PQclear(res);
	return 0;
}

/* 1 when the operator pre-registered the certificate, 0 when not, MARGO_ESTORE. */
static int preregistered(struct pg_conn *c, const char *fingerprint, struct margo_error *err)
{
	const char *params[] = { fingerprint };
	PGresult *res = pg_exec(c, "SELECT 1 FROM preregistered_certs WHERE fingerprint = $1", 1,
				params, err, "preregistered");
	int found;

	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

struct token_use {
	char id[MARGO_UUID_LEN];        /* "" unless a use was spent */
	int auto_approve;
	int usable;
};

static int token_find(struct pg_conn *c, const struct store_onboard_in *in,
		      struct token_use *t, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(in->now);
	const char *params[] = { in->enrollment_token_hash, at.s };
	PGresult *res = pg_exec(c, "SELECT id, auto_approve, revoked = 0 AND uses < max_uses"
				" AND expires_at > $2 FROM enrollment_tokens WHERE hash = $1", 2,
				params, err, "enrollment token");

	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) > 0) {
		pg_copy_text(t->id, sizeof(t->id), PQgetvalue(res, 0, 0));
		t->auto_approve = pg_col_i64(res, 0, 1) != 0;
		t->usable = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	}
	PQclear(res);
	return 0;
}

/* Spends one use in this transaction: the WHERE is checked again on the row's newest
 * version when another transaction changed it meanwhile, so the last use goes to one. */
static int token_spend(struct pg_conn *c, struct token_use *t, int64_t now,
		       struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now);
	const char *params[] = { t->id, at.s };
	long n;

	if (pg_exec_changes(c, "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $1"
			    " AND revoked = 0 AND uses < max_uses AND expires_at > $2", 2, params,
			    &n, err, "enrollment token use") < 0)
		return MARGO_ESTORE;
	if (n != 1)
		t->id[0] = '\0';
	return 0;
}

/* The enrollment token's part of the decision, for a device neither pre-registered nor
 * rejected: spends one use of a usable token, then approves or files a pending request as
 * the token says. */
static int onboard_with_token(struct pg_conn *c, const struct store_onboard_in *in,
			      int exists, const char *state, struct store_onboard_out *out,
			      struct margo_error *err)
{
	struct token_use t = { "", 0, 0 };
	struct store_onboard_out before;
	int rc;

	if ((rc = token_find(c, in, &t, err)) < 0)
		return rc;
	/* A device already waiting repeats its request: unless the token approves it now, it
	 * keeps its place without spending (or failing on) the token. */
	if (exists && strcmp(state, "pending") == 0 && !(t.usable && t.auto_approve)) {
		out->reason = "pending-repeat";
		return onboard_pending(c, in, exists, state, out, err);
	}
	if (!t.usable)
		goto invalid;
	before = *out;
	out->reason = t.auto_approve ? "enrollment-token" : "enrollment-token-pending";
	rc = t.auto_approve ? onboard_approve(c, in, exists, out, err) :
		onboard_pending(c, in, exists, state, out, err);
	if (rc != 0 || (out->result != STORE_ONBOARD_APPROVED &&
			out->result != STORE_ONBOARD_PENDING))
		return rc;
	/* The use is spent last: its row stays locked until the commit, and every device
	 * onboarding with this token waits for that lock (spent first, the token's row
	 * serialised whole onboarding transactions: 235 devices/s). Not spent (used up
	 * meanwhile): the caller rolls back what was written. */
	if ((rc = token_spend(c, &t, in->now, err)) < 0)
		return rc;
	if (t.id[0] != '\0')
		return 0;
	*out = before;
invalid:
	out->result = STORE_ONBOARD_TOKEN_INVALID;
	out->reason = "enrollment-token-invalid";
	return 0;
}

/* The decision after the purge, in the caller's transaction. */
static int onboard_decide(struct pg_conn *c, const struct store_onboard_in *in,
			  struct store_onboard_out *out, struct margo_error *err)
{
	char state[16] = "";
	int exists = 0, first_used = 0, rc;

	if ((rc = find_device(c, in->fingerprint, &exists, state, &first_used, out, err)) < 0)
		return rc;
	/* Lost response: an approved device whose credentials were never used gets the same
	 * client id and a new secret, without spending any authorisation. */
	if (exists && strcmp(state, "active") == 0 && !first_used) {
		if ((rc = pg_secret_issue(c, out->device_id, in->secret_hash, in->git_token_hash,
					  in->git_token_expires_at, in->now, err)) < 0 ||
		    (rc = update_identity(c, out->device_id, in, err)) < 0)
			return rc;
		out->result = STORE_ONBOARD_APPROVED;
		out->reason = "repeat";
		return 0;
	}
	if ((rc = preregistered(c, in->fingerprint, err)) < 0)
		return rc;
	if (rc == 1) {
		out->reason = "preregistered";
		return onboard_approve(c, in, exists, out, err);
	}
	if (exists && strcmp(state, "rejected") == 0) {
		out->result = STORE_ONBOARD_REJECTED;
		out->reason = "rejected";
		return 0;
	}
	if (in->enrollment_token_hash != NULL)
		return onboard_with_token(c, in, exists, state, out, err);
	if (exists && strcmp(state, "active") == 0) {
		out->result = STORE_ONBOARD_CONFLICT;
		out->reason = "already-onboarded";
		return 0;
	}
	if (!in->allow_approval_requests) {
		out->result = STORE_ONBOARD_UNAUTHORISED;
		out->reason = "approval-requests-disabled";
		return 0;
	}
	out->reason = "approval-request";
	return onboard_pending(c, in, exists, state, out, err);
}

static int cert_lock(struct pg_conn *c, const char *fingerprint, struct margo_error *err)
{
	const char *params[] = { fingerprint };

	return pg_exec_cmd(c, "SELECT pg_advisory_xact_lock(" PG_CERT_LOCK_CLASS ", hashtext($1))",
			   1, params, err, "certificate lock");
}

int pg_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
	       struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	int rc, locked = in->enrollment_token_hash == NULL;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	for (;;) {
		if ((rc = cert_lock(c, in->fingerprint, err)) == 0 &&
		    (!locked || (rc = pg_requests_lock(c, err)) == 0) &&
		    (rc = pg_purge_expired(c, in->now, err)) == 0)
			rc = onboard_decide(c, in, out, err);
		if (rc != ONBOARD_NEED_LOCK)
			break;
		pg_tx_end(c, MARGO_ECONFLICT, NULL);
		memset(out, 0, sizeof(*out));
		locked = 1;
		if ((c = pg_tx_open(st, err)) == NULL)
			return MARGO_ESTORE;
		/* In a caller's transaction (a savepoint), a lock taken after it was released
		 * with it: take it again (advisory locks nest). */
		c->requests_locked = 0;
	}
	/* Outcomes that record nothing must not keep a spent token use. */
	if (rc == 0 && out->result != STORE_ONBOARD_APPROVED &&
	    out->result != STORE_ONBOARD_PENDING) {
		pg_tx_end(c, MARGO_ECONFLICT, NULL);
		return 0;
	}
	return pg_tx_end(c, rc, err);
}
