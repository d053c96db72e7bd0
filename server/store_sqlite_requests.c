/* store.h's onboarding requests on SQLite: the polls of a pending request, closing requests,
 * and expiring the requests nobody decided. */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "margo/token.h"
#include "store_sqlite_int.h"

#define CLOSED_REQUEST_KEEP (7 * 86400)

static const char sql_requests_close[] =
	"UPDATE onboarding_requests SET state = 'closed'"
	" WHERE device_id = :id AND state IN ('pending', 'approved')";
static const char sql_expire_requests[] =
	"UPDATE onboarding_requests SET state = 'expired'"
	" WHERE state = 'pending' AND expires_at <= :now";
static const char sql_drop_orphan_pending[] =
	"DELETE FROM devices WHERE state = 'pending' AND approved_at IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM onboarding_requests r"
	" WHERE r.device_id = devices.id AND r.state = 'pending')";
static const char sql_revert_orphan_pending[] =
	"UPDATE devices SET state = 'revoked' WHERE state = 'pending'"
	" AND approved_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM onboarding_requests r"
	" WHERE r.device_id = devices.id AND r.state = 'pending')";
static const char sql_drop_old_requests[] =
	"DELETE FROM onboarding_requests WHERE state IN ('approved', 'rejected', 'expired', 'closed')"
	" AND expires_at < :cutoff";

int sqlite_purge_expired(struct conn *c, int64_t now, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc = 0;

	PREPARE(s, sql_expire_requests);
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	if (sqlite3_changes(c->db) > 0) {
		PREPARE(s, sql_drop_orphan_pending);
		EXEC(s);
		PREPARE(s, sql_revert_orphan_pending);
		EXEC(s);
	}
	PREPARE(s, sql_drop_old_requests);
	BIND(bind_int(s, ":cutoff", now - CLOSED_REQUEST_KEEP));
	EXEC(s);
out:
	return rc;
}

int sqlite_requests_close(struct conn *c, const char *id, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_requests_close);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return rc;
}

static const char sql_poll_find[] =
	"SELECT r.device_id, r.poll_token_hash, r.state, r.expires_at, d.state, d.first_auth_at"
	" FROM onboarding_requests r LEFT JOIN devices d ON d.id = r.device_id WHERE r.id = :id";

int sqlite_poll(store *st, const char *request_id, const char *poll_token_hash,
		const char *secret_hash, const char *git_token_hash, int64_t git_expires_at,
		int64_t now, enum store_poll_result *result, char device_id[MARGO_UUID_LEN],
		struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	char hash[MARGO_TOKEN_HASH_LEN], rstate[16], dstate[16];
	int64_t expires_at;
	int first_used, rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_purge_expired(c, now, err)) < 0)
		goto out;
	PREPARE(s, sql_poll_find);
	BIND(bind_text(s, ":id", request_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		*result = STORE_POLL_UNKNOWN;
		rc = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		rc = db_fail(c->db, err, "poll");
		goto out;
	}
	copy_text(device_id, MARGO_UUID_LEN, col_text(s, 0));
	copy_text(hash, sizeof(hash), col_text(s, 1));
	copy_text(rstate, sizeof(rstate), col_text(s, 2));
	expires_at = sqlite3_column_int64(s, 3);
	copy_text(dstate, sizeof(dstate), col_text(s, 4));
	first_used = sqlite3_column_type(s, 5) != SQLITE_NULL;
	sqlite3_reset(s);
	rc = 0;
	if (!margo_token_equal(hash, poll_token_hash)) {
		*result = STORE_POLL_BAD_TOKEN;
	} else if (strcmp(rstate, "pending") == 0) {
		*result = expires_at > now ? STORE_POLL_PENDING : STORE_POLL_GONE;
	} else if (strcmp(rstate, "rejected") == 0) {
		*result = strcmp(dstate, "rejected") == 0 ? STORE_POLL_REJECTED : STORE_POLL_GONE;
	} else if (strcmp(rstate, "approved") == 0 && strcmp(dstate, "active") == 0 &&
		   !first_used) {
		rc = sqlite_secret_issue(c, device_id, secret_hash, git_token_hash, git_expires_at,
					 now, err);
		*result = STORE_POLL_APPROVED;
	} else {
		*result = STORE_POLL_GONE;
	}
out:
	return tx_end(c, rc, err);
}
