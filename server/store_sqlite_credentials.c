/* store.h's device credentials on SQLite: client secrets (issued, authenticated, revoked),
 * the store's side of access tokens, and git tokens. */
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "margo/log.h"
#include "margo/token.h"
#include "store_sqlite_int.h"

#define LAST_SEEN_INTERVAL 30

static const char sql_secrets_delete[] =
	"DELETE FROM client_secrets WHERE device_id = :id";
static const char sql_bump_epoch[] =
	"UPDATE devices SET credentials_epoch = credentials_epoch + 1 WHERE id = :id";
static const char sql_git_tokens_delete[] =
	"DELETE FROM git_tokens WHERE device_id = :id";
static const char sql_git_token_trim[] =
	"DELETE FROM git_tokens WHERE device_id = :id AND (expires_at <= :now OR hash NOT IN"
	" (SELECT hash FROM git_tokens WHERE device_id = :id ORDER BY rowid DESC LIMIT :keep))";
static const char sql_git_token_insert[] =
	"INSERT INTO git_tokens (hash, device_id, expires_at) VALUES (:hash, :id, :expires)";
static const char sql_onb_insert_secret[] =
	"INSERT INTO client_secrets (hash, device_id, created_at) VALUES (:hash, :id, :now)";

/* Adds a git token for device id, keeping at most STORE_GIT_TOKENS_MAX live ones. */
static int git_token_add(struct conn *c, const char *id, const char *hash, int64_t now,
			 int64_t expires_at, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_git_token_trim);
	BIND(bind_text(s, ":id", id));
	BIND(bind_int(s, ":now", now));
	BIND(bind_int(s, ":keep", STORE_GIT_TOKENS_MAX - 1));
	EXEC(s);
	PREPARE(s, sql_git_token_insert);
	BIND(bind_text(s, ":hash", hash));
	BIND(bind_text(s, ":id", id));
	BIND(bind_int(s, ":expires", expires_at));
	EXEC(s);
out:
	return rc;
}

int sqlite_credentials_revoke(struct conn *c, const char *id, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_secrets_delete);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
	/* Access tokens carry the epoch they were issued under: moving it retires them all. */
	PREPARE(s, sql_bump_epoch);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
	PREPARE(s, sql_git_tokens_delete);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return rc;
}

int sqlite_secret_issue(struct conn *c, const char *id, const char *secret_hash,
			const char *git_hash, int64_t git_expires_at, int64_t now,
			struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = sqlite_credentials_revoke(c, id, err)) < 0)
		goto out;
	if (git_hash != NULL &&
	    (rc = git_token_add(c, id, git_hash, now, git_expires_at, err)) < 0)
		goto out;
	PREPARE(s, sql_onb_insert_secret);
	BIND(bind_text(s, ":hash", secret_hash));
	BIND(bind_text(s, ":id", id));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
out:
	return rc;
}

static const char sql_auth_find[] =
	"SELECT s.hash, d.state, d.first_auth_at, d.credentials_epoch FROM client_secrets s"
	" JOIN devices d ON d.id = s.device_id WHERE s.hash = :hash AND s.device_id = :id";
static const char sql_auth_first_use[] =
	"UPDATE devices SET first_auth_at = :now, last_seen_at = :now WHERE id = :id";
static const char sql_auth_close_requests[] =
	"UPDATE onboarding_requests SET state = 'closed' WHERE device_id = :id"
	" AND state = 'approved'";

/* Looks the client up: 1 when the secret matches an active device (*first_used, *epoch set),
 * 0 when not, MARGO_ESTORE. */
static int client_find(struct conn *c, const char *client_id, const char *secret_hash,
		       int *first_used, int64_t *epoch, struct margo_error *err)
{
	sqlite3_stmt *s;
	char stored[MARGO_TOKEN_HASH_LEN], state[16];
	int found = 0, rc;

	PREPARE(s, sql_auth_find);
	BIND(bind_text(s, ":hash", secret_hash));
	BIND(bind_text(s, ":id", client_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(stored, sizeof(stored), col_text(s, 0));
		copy_text(state, sizeof(state), col_text(s, 1));
		*first_used = sqlite3_column_type(s, 2) != SQLITE_NULL;
		*epoch = sqlite3_column_int64(s, 3);
		found = margo_token_equal(stored, secret_hash) && strcmp(state, "active") == 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(c->db, err, "client lookup");
	rc = found;
out:
	return rc;
}

int sqlite_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			       int64_t now, int64_t *epoch, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int first_used = 0, rc;

	if (c == NULL)
		return MARGO_ESTORE;
	/* The common case is a read: credentials already used, nothing to record. */
	if ((rc = client_find(c, client_id, secret_hash, &first_used, epoch, err)) < 0)
		return rc;
	if (rc == 0)
		return margo_error_set(err, MARGO_EAUTH, "unknown client or wrong secret");
	if (first_used)
		return 0;
	/* First use of new credentials: record it and close the approved onboarding request,
	 * looking again inside the transaction. */
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = client_find(c, client_id, secret_hash, &first_used, epoch, err)) < 0)
		goto out;
	if (rc == 0) {
		rc = margo_error_set(err, MARGO_EAUTH, "unknown client or wrong secret");
		goto out;
	}
	rc = 0;
	if (first_used)
		goto out;
	PREPARE(s, sql_auth_first_use);
	BIND(bind_int(s, ":now", now));
	BIND(bind_text(s, ":id", client_id));
	EXEC(s);
	PREPARE(s, sql_auth_close_requests);
	BIND(bind_text(s, ":id", client_id));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

static const char sql_access_check[] =
	"SELECT state, credentials_epoch, last_seen_at FROM devices WHERE id = :id";
static const char sql_access_seen[] =
	"UPDATE devices SET last_seen_at = :now WHERE id = :id";

int sqlite_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
			struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int64_t current = -1, last_seen = -1;
	char state[16] = "";
	int rc, found = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_access_check);
	BIND(bind_text(s, ":id", device_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		copy_text(state, sizeof(state), col_text(s, 0));
		current = sqlite3_column_int64(s, 1);
		last_seen = col_time(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "device lookup");
		goto out;
	}
	if (!found || strcmp(state, "active") != 0) {
		rc = margo_error_set(err, MARGO_EAUTH, "device is not active");
		goto out;
	}
	if (current != epoch) {
		rc = margo_error_set(err, MARGO_EAUTH, "access token was retired (the device's "
				     "credentials changed)");
		goto out;
	}
	rc = 0;
	if (last_seen < 0 || now - last_seen >= LAST_SEEN_INTERVAL) {
		PREPARE(s, sql_access_seen);
		BIND(bind_int(s, ":now", now));
		BIND(bind_text(s, ":id", device_id));
		/* Losing a last-seen update is harmless; do not fail the request for it. */
		if (exec_stmt(c, s, NULL) < 0)
			margo_log_warn("last_seen update failed", "device_id=%s", device_id);
	}
out:
	return rc;
}

int sqlite_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
			   int64_t expires_at, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	char state[16];
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_device_state(c, device_id, state, sizeof(state), err)) < 0)
		goto out;
	if (strcmp(state, "active") != 0) {
		rc = margo_error_set(err, MARGO_EAUTH, "device is not active");
		goto out;
	}
	rc = git_token_add(c, device_id, token_hash, now, expires_at, err);
out:
	return tx_end(c, rc, err);
}

static const char sql_git_token_check[] =
	"SELECT t.device_id, t.expires_at, d.state FROM git_tokens t"
	" JOIN devices d ON d.id = t.device_id WHERE t.hash = :hash";

int sqlite_git_token_check(store *st, const char *token_hash, int64_t now,
			   char device_id[MARGO_UUID_LEN], struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int64_t expires_at = 0;
	char state[16] = "";
	int rc, found = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_git_token_check);
	BIND(bind_text(s, ":hash", token_hash));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = 1;
		copy_text(device_id, MARGO_UUID_LEN, col_text(s, 0));
		expires_at = sqlite3_column_int64(s, 1);
		copy_text(state, sizeof(state), col_text(s, 2));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "git token lookup");
		goto out;
	}
	if (!found || expires_at <= now || strcmp(state, "active") != 0)
		rc = margo_error_set(err, MARGO_EAUTH, !found ? "unknown git token" :
				     expires_at <= now ? "git token expired" : "device is not active");
	else
		rc = 0;
out:
	return rc;
}

/* The device's main revision after a check that passed: "" when it has no repository yet.
 * In process, two statements cost no more than one. */
static int revision_after(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
			  struct margo_error *err)
{
	int rc = sqlite_repo_revision_get(st, device_id, rev, NULL);

	if (rc == MARGO_ENOTFOUND) {
		rev[0] = '\0';
		return 0;
	}
	return rc < 0 ? sqlite_repo_revision_get(st, device_id, rev, err) : 0;
}

int sqlite_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		       char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	int rc;

	rev[0] = '\0';
	if ((rc = sqlite_access_check(st, device_id, epoch, now, err)) < 0)
		return rc;
	return revision_after(st, device_id, rev, err);
}

int sqlite_git_token_access(store *st, const char *token_hash, int64_t now,
			    char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			    struct margo_error *err)
{
	int rc;

	rev[0] = '\0';
	if ((rc = sqlite_git_token_check(st, token_hash, now, device_id, err)) < 0)
		return rc;
	return revision_after(st, device_id, rev, err);
}
