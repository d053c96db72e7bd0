/* store.h's onboarding on SQLite: deciding an onboarding request (API.md section 2,
 * authorisation order and the lost-response/re-onboarding rules) in one transaction. */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "store_sqlite_int.h"

static const char sql_onb_find_device[] =
	"SELECT id, state, first_auth_at FROM devices WHERE certificate_fingerprint = :fp";
static const char sql_onb_prereg[] =
	"SELECT 1 FROM preregistered_certs WHERE fingerprint = :fp";
static const char sql_onb_token[] =
	"SELECT id, auto_approve, revoked = 0 AND uses < max_uses AND expires_at > :now"
	" FROM enrollment_tokens WHERE hash = :hash";
static const char sql_onb_token_use[] =
	"UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = :id AND revoked = 0"
	" AND uses < max_uses AND expires_at > :now";
static const char sql_onb_insert_device[] =
	"INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint, keyid, vendor,"
	" model_number, serial_number, created_at, approved_at)"
	" VALUES (:id, :state, :pem, :fp, :keyid, :vendor, :model, :serial, :now,"
	" CASE WHEN :state = 'active' THEN :now END)";
static const char sql_onb_update_identity[] =
	"UPDATE devices SET vendor = coalesce(:vendor, vendor),"
	" model_number = coalesce(:model, model_number),"
	" serial_number = coalesce(:serial, serial_number) WHERE id = :id";
static const char sql_onb_live_request[] =
	"SELECT id FROM onboarding_requests WHERE device_id = :id AND state = 'pending'"
	" AND expires_at > :now ORDER BY created_at DESC LIMIT 1";
static const char sql_onb_request_new_poll[] =
	"UPDATE onboarding_requests SET poll_token_hash = :hash WHERE id = :id";
static const char sql_onb_pending_count[] =
	"SELECT count(*), min(expires_at) FROM onboarding_requests WHERE state = 'pending'";
static const char sql_onb_insert_request[] =
	"INSERT INTO onboarding_requests (id, device_id, poll_token_hash, state, expires_at,"
	" created_at) VALUES (:id, :device, :hash, 'pending', :expires, :now)";

static int update_identity(struct conn *c, const char *id, const struct store_onboard_in *in,
			   struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_onb_update_identity);
	BIND(bind_text(s, ":vendor", in->vendor));
	BIND(bind_text(s, ":model", in->model_number));
	BIND(bind_text(s, ":serial", in->serial_number));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return rc;
}

static int insert_device(struct conn *c, const struct store_onboard_in *in, const char *state,
			 struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_onb_insert_device);
	BIND(bind_text(s, ":id", in->new_device_id));
	BIND(bind_text(s, ":state", state));
	BIND(bind_text(s, ":pem", in->certificate_pem));
	BIND(bind_text(s, ":fp", in->fingerprint));
	BIND(bind_text(s, ":keyid", in->keyid));
	BIND(bind_text(s, ":vendor", in->vendor != NULL ? in->vendor : ""));
	BIND(bind_text(s, ":model", in->model_number != NULL ? in->model_number : ""));
	BIND(bind_text(s, ":serial", in->serial_number != NULL ? in->serial_number : ""));
	BIND(bind_int(s, ":now", in->now));
	EXEC(s);
out:
	return rc;
}

/* Approves: a new device, or an existing one whose older credentials all go. */
static int onboard_approve(struct conn *c, const struct store_onboard_in *in, int exists,
			   struct store_onboard_out *out, struct margo_error *err)
{
	int rc;

	if (!exists) {
		if ((rc = insert_device(c, in, "active", err)) < 0 ||
		    (in->repo != NULL && (rc = desired_commit_tx(c, in->repo, err)) < 0))
			goto out;
		copy_text(out->device_id, sizeof(out->device_id), in->new_device_id);
	} else if ((rc = sqlite_device_activate(c, out->device_id, in->now, err)) < 0 ||
		   (rc = sqlite_requests_close(c, out->device_id, err)) < 0 ||
		   (rc = update_identity(c, out->device_id, in, err)) < 0) {
		goto out;
	}
	if ((rc = sqlite_secret_issue(c, out->device_id, in->secret_hash, in->git_token_hash,
				      in->git_token_expires_at, in->now, err)) < 0)
		goto out;
	out->result = STORE_ONBOARD_APPROVED;
out:
	return rc;
}

static int onboard_pending(struct conn *c, const struct store_onboard_in *in, int exists,
			   const char *state, struct store_onboard_out *out,
			   struct margo_error *err)
{
	sqlite3_stmt *s;
	int64_t count, oldest;
	int rc;

	if (exists && strcmp(state, "pending") == 0) {
		/* A repeated request while waiting: same request, new poll token. */
		PREPARE(s, sql_onb_live_request);
		BIND(bind_text(s, ":id", out->device_id));
		BIND(bind_int(s, ":now", in->now));
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			copy_text(out->request_id, sizeof(out->request_id), col_text(s, 0));
			sqlite3_reset(s);
			PREPARE(s, sql_onb_request_new_poll);
			BIND(bind_text(s, ":hash", in->poll_token_hash));
			BIND(bind_text(s, ":id", out->request_id));
			EXEC(s);
			if ((rc = update_identity(c, out->device_id, in, err)) < 0)
				goto out;
			out->result = STORE_ONBOARD_PENDING;
			out->reason = "pending-repeat";
			rc = 0;
			goto out;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			rc = db_fail(c->db, err, "live request");
			goto out;
		}
	}
	PREPARE(s, sql_onb_pending_count);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		rc = db_fail(c->db, err, "pending count");
		goto out;
	}
	count = sqlite3_column_int64(s, 0);
	oldest = col_time(s, 1);
	sqlite3_reset(s);
	if (count >= in->pending_max) {
		out->result = STORE_ONBOARD_PENDING_FULL;
		out->retry_after = oldest > in->now ? oldest - in->now : 1;
		out->reason = "pending-full";
		rc = 0;
		goto out;
	}
	if (!exists) {
		if ((rc = insert_device(c, in, "pending", err)) < 0)
			goto out;
		copy_text(out->device_id, sizeof(out->device_id), in->new_device_id);
	} else {
		if ((rc = sqlite_device_set_state(c, out->device_id, "pending", err)) < 0)
			goto out;
		if ((rc = update_identity(c, out->device_id, in, err)) < 0)
			goto out;
	}
	PREPARE(s, sql_onb_insert_request);
	BIND(bind_text(s, ":id", in->new_request_id));
	BIND(bind_text(s, ":device", out->device_id));
	BIND(bind_text(s, ":hash", in->poll_token_hash));
	BIND(bind_int(s, ":expires", in->now + in->pending_ttl));
	BIND(bind_int(s, ":now", in->now));
	EXEC(s);
	copy_text(out->request_id, sizeof(out->request_id), in->new_request_id);
	out->result = STORE_ONBOARD_PENDING;
out:
	return rc;
}

/* The certificate's device, if any: *exists, out->device_id, its state and whether its
 * credentials were used. */
static int onboard_find_device(struct conn *c, const char *fingerprint, int *exists,
			       char state[16], int *first_used, struct store_onboard_out *out,
			       struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_onb_find_device);
	BIND(bind_text(s, ":fp", fingerprint));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*exists = 1;
		copy_text(out->device_id, sizeof(out->device_id), col_text(s, 0));
		copy_text(state, 16, col_text(s, 1));
		*first_used = sqlite3_column_type(s, 2) != SQLITE_NULL;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = db_fail(c->db, err, "find device");
	else
		rc = 0;
out:
	return rc;
}

/* *prereg: whether the operator pre-registered the certificate. */
static int onboard_preregistered(struct conn *c, const char *fingerprint, int *prereg,
				 struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_onb_prereg);
	BIND(bind_text(s, ":fp", fingerprint));
	rc = sqlite3_step(s);
	*prereg = rc == SQLITE_ROW;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = db_fail(c->db, err, "preregistered");
	else
		rc = 0;
out:
	return rc;
}

/* The enrollment token's part of the decision, for a device neither pre-registered nor
 * rejected: spends one use of a usable token in this transaction, then approves or files a
 * pending request as the token says. */
static int onboard_with_token(struct conn *c, const struct store_onboard_in *in, int exists,
			      const char *state, struct store_onboard_out *out,
			      struct margo_error *err)
{
	sqlite3_stmt *s;
	char token_id[MARGO_UUID_LEN] = "";
	int auto_approve = 0, usable = 0, rc;

	PREPARE(s, sql_onb_token);
	BIND(bind_text(s, ":hash", in->enrollment_token_hash));
	BIND(bind_int(s, ":now", in->now));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(token_id, sizeof(token_id), col_text(s, 0));
		auto_approve = sqlite3_column_int(s, 1) != 0;
		usable = sqlite3_column_int(s, 2) != 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "enrollment token");
		goto out;
	}
	/* A device already waiting repeats its request: unless the token approves it now, it
	 * keeps its place without spending (or failing on) the token. */
	if (exists && strcmp(state, "pending") == 0 && !(usable && auto_approve)) {
		out->reason = "pending-repeat";
		rc = onboard_pending(c, in, exists, state, out, err);
		goto out;
	}
	if (token_id[0] != '\0' && usable) {
		/* Counted here, in the transaction that records the device. */
		PREPARE(s, sql_onb_token_use);
		BIND(bind_text(s, ":id", token_id));
		BIND(bind_int(s, ":now", in->now));
		EXEC(s);
		if (sqlite3_changes(c->db) != 1)
			token_id[0] = '\0';
	} else {
		token_id[0] = '\0';
	}
	if (token_id[0] == '\0') {
		out->result = STORE_ONBOARD_TOKEN_INVALID;
		out->reason = "enrollment-token-invalid";
		rc = 0;
	} else if (auto_approve) {
		out->reason = "enrollment-token";
		rc = onboard_approve(c, in, exists, out, err);
	} else {
		out->reason = "enrollment-token-pending";
		rc = onboard_pending(c, in, exists, state, out, err);
	}
out:
	return rc;
}

/* The decision after the purge, in the caller's transaction. */
static int onboard_decide(struct conn *c, const struct store_onboard_in *in,
			  struct store_onboard_out *out, struct margo_error *err)
{
	char state[16] = "";
	int exists = 0, first_used = 0, prereg = 0;
	int rc;

	if ((rc = onboard_find_device(c, in->fingerprint, &exists, state, &first_used, out,
				      err)) < 0)
		return rc;
	/* Lost response: an approved device whose credentials were never used gets the same
	 * client id and a new secret, without spending any authorisation. */
	if (exists && strcmp(state, "active") == 0 && !first_used) {
		if ((rc = sqlite_secret_issue(c, out->device_id, in->secret_hash,
					      in->git_token_hash, in->git_token_expires_at,
					      in->now, err)) < 0 ||
		    (rc = update_identity(c, out->device_id, in, err)) < 0)
			return rc;
		out->result = STORE_ONBOARD_APPROVED;
		out->reason = "repeat";
		return 0;
	}
	if ((rc = onboard_preregistered(c, in->fingerprint, &prereg, err)) < 0)
		return rc;
	if (prereg) {
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

int sqlite_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		   struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_purge_expired(c, in->now, err)) == 0)
		rc = onboard_decide(c, in, out, err);
	/* Outcomes that record nothing must not keep a spent token use. */
	if (rc == 0 && out->result != STORE_ONBOARD_APPROVED &&
	    out->result != STORE_ONBOARD_PENDING) {
		tx_end(c, MARGO_ECONFLICT, NULL);
		return 0;
	}
	return tx_end(c, rc, err);
}
