/* store.h's device credentials on PostgreSQL: client secrets (issued, authenticated,
 * revoked), the store's side of access tokens, and git tokens (store_sqlite_credentials.c's
 * twin). Writers of one device's credentials lock its row first (pg_device_lock), so a
 * revoke and an issue never interleave. git_tokens has no insertion order of its own (SQLite
 * trims by rowid): the newest tokens are those that expire last. */
#include <string.h>

#include "margo/log.h"
#include "margo/token.h"
#include "store_pg_int.h"

#define LAST_SEEN_INTERVAL 30

/* Adds a git token for device id, keeping at most STORE_GIT_TOKENS_MAX live ones. */
static int git_token_add(struct pg_conn *c, const char *id, const char *hash, int64_t now,
			 int64_t expires_at, struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now), exp = pg_i64(expires_at),
		      keep = pg_i64(STORE_GIT_TOKENS_MAX - 1);
	const char *p_trim[] = { id, at.s, keep.s };
	const char *p_add[] = { hash, id, exp.s };

	if (pg_exec_cmd(c, "DELETE FROM git_tokens WHERE device_id = $1 AND (expires_at <= $2"
			" OR hash NOT IN (SELECT hash FROM git_tokens WHERE device_id = $1"
			" ORDER BY expires_at DESC, hash DESC LIMIT $3))", 3, p_trim, err,
			"git token trim") < 0)
		return MARGO_ESTORE;
	return pg_exec_cmd(c, "INSERT INTO git_tokens (hash, device_id, expires_at)"
			   " VALUES ($1, $2, $3)", 3, p_add, err, "git token insert");
}

/* Access tokens carry the epoch they were issued under: moving it retires them all. Each
 * writer here is one statement (data-modifying WITH clauses, which see one snapshot and
 * apply together): a round trip each instead of three to six. */
int pg_credentials_revoke(struct pg_conn *c, const char *id, struct margo_error *err)
{
	const char *params[] = { id };

	return pg_exec_cmd(c, "WITH s AS (DELETE FROM client_secrets WHERE device_id = $1),"
			   " g AS (DELETE FROM git_tokens WHERE device_id = $1)"
			   " UPDATE devices SET credentials_epoch = credentials_epoch + 1"
			   " WHERE id = $1", 1, params, err, "credentials revoke");
}

/* Revokes the device's credentials and issues a client secret (and a git token, git_hash
 * not NULL): two statements, the deletes then the inserts (one statement cannot do both: its
 * inserts would meet the rows its deletes remove, when a repeat brings the same hash). */
int pg_secret_issue(struct pg_conn *c, const char *id, const char *secret_hash,
		    const char *git_hash, int64_t git_expires_at, int64_t now,
		    struct margo_error *err)
{
	if (pg_credentials_revoke(c, id, err) < 0)
		return MARGO_ESTORE;
	return pg_secret_issue_new(c, id, secret_hash, git_hash, git_expires_at, now, err);
}

int pg_secret_issue_new(struct pg_conn *c, const char *id, const char *secret_hash,
			const char *git_hash, int64_t git_expires_at, int64_t now,
			struct margo_error *err)
{
	struct pg_i64 at = pg_i64(now), exp = pg_i64(git_expires_at);
	const char *params[] = { secret_hash, id, at.s, git_hash, exp.s };

	return pg_exec_cmd(c, "WITH t AS (INSERT INTO git_tokens (hash, device_id, expires_at)"
			   " SELECT $4::text, $2, $5::bigint WHERE $4::text IS NOT NULL)"
			   " INSERT INTO client_secrets (hash, device_id, created_at)"
			   " VALUES ($1, $2, $3)", 5, params, err, "secret issue");
}

/* Looks the client up: 1 when the secret matches an active device (*first_used, *epoch set),
 * 0 when not, MARGO_ESTORE. */
static int client_find(struct pg_conn *c, const char *client_id, const char *secret_hash,
		       int *first_used, int64_t *epoch, struct margo_error *err)
{
	const char *params[] = { secret_hash, client_id };
	PGresult *res = pg_exec(c, "SELECT s.hash, d.state, d.first_auth_at, d.credentials_epoch"
				" FROM client_secrets s JOIN devices d ON d.id = s.device_id"
				" WHERE s.hash = $1 AND s.device_id = $2", 2, params, err,
				"client lookup");
	int found = 0;

	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) > 0) {
		*first_used = !PQgetisnull(res, 0, 2);
		*epoch = pg_col_i64(res, 0, 3);
		found = margo_token_equal(PQgetvalue(res, 0, 0), secret_hash) &&
			strcmp(PQgetvalue(res, 0, 1), "active") == 0;
	}
	PQclear(res);
	return found;
}

int pg_client_authenticate(store *st, const char *client_id, const char *secret_hash,
			   int64_t now, int64_t *epoch, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(now);
	const char *p_use[] = { client_id, at.s, secret_hash };
	PGresult *res;
	int first_used = 0, recorded, rc;

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
	 * in one statement whose WHERE is checked again on the device's newest row (a
	 * concurrent first use, revocation or new secret); nothing recorded: look again. */
	res = pg_exec(c, "WITH d AS (UPDATE devices SET first_auth_at = $2, last_seen_at = $2"
		      " WHERE id = $1 AND first_auth_at IS NULL AND state = 'active' AND EXISTS"
		      " (SELECT 1 FROM client_secrets WHERE hash = $3 AND device_id = $1)"
		      " RETURNING credentials_epoch),"
		      " r AS (UPDATE onboarding_requests SET state = 'closed' WHERE device_id = $1"
		      " AND state = 'approved' AND EXISTS (SELECT 1 FROM d))"
		      " SELECT credentials_epoch FROM d", 3, p_use, err, "first use");
	if (res == NULL)
		return MARGO_ESTORE;
	recorded = PQntuples(res) == 1;
	if (recorded)
		*epoch = pg_col_i64(res, 0, 0);
	PQclear(res);
	if (recorded)
		return 0;
	if ((rc = client_find(c, client_id, secret_hash, &first_used, epoch, err)) < 0)
		return rc;
	return rc == 1 && first_used ? 0 :
	       margo_error_set(err, MARGO_EAUTH, "unknown client or wrong secret");
}

/* Records last_seen_at when older than LAST_SEEN_INTERVAL; a lost update is harmless. */
static void access_seen(struct pg_conn *c, const char *device_id, int64_t now)
{
	struct pg_i64 at = pg_i64(now), before = pg_i64(now - LAST_SEEN_INTERVAL);
	const char *params[] = { device_id, at.s, before.s };

	if (pg_exec_cmd(c, "UPDATE devices SET last_seen_at = $2 WHERE id = $1"
			" AND (last_seen_at IS NULL OR last_seen_at <= $3)", 3, params, NULL,
			"last seen") < 0)
		margo_log_warn("last_seen update failed", "device_id=%s", device_id);
}

/* access_check, and with rev the device's main revision ("" without a repository) read in
 * the same statement: a desired-state poll costs one round trip, not two. */
static int access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
			char *rev, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id };
	PGresult *res;
	int64_t current = -1, last_seen = -1;
	int rc = 0, active = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = rev == NULL ?
	      pg_exec(c, "SELECT state, credentials_epoch, last_seen_at FROM devices"
		      " WHERE id = $1", 1, params, err, "device lookup") :
	      pg_exec(c, "SELECT d.state, d.credentials_epoch, d.last_seen_at, r.revision"
		      " FROM devices d LEFT JOIN repos r ON r.device_id = d.id WHERE d.id = $1",
		      1, params, err, "device lookup");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) > 0) {
		active = strcmp(PQgetvalue(res, 0, 0), "active") == 0;
		current = pg_col_i64(res, 0, 1);
		last_seen = pg_col_time(res, 0, 2);
		if (rev != NULL && !PQgetisnull(res, 0, 3))
			pg_copy_text(rev, STORE_REVISION_LEN, PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	if (!active)
		rc = margo_error_set(err, MARGO_EAUTH, "device is not active");
	else if (current != epoch)
		rc = margo_error_set(err, MARGO_EAUTH, "access token was retired (the device's "
				     "credentials changed)");
	else if (last_seen < 0 || now - last_seen >= LAST_SEEN_INTERVAL)
		access_seen(c, device_id, now);
	return rc;
}

int pg_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
		    struct margo_error *err)
{
	return access_check(st, device_id, epoch, now, NULL, err);
}

int pg_access_poll(store *st, const char *device_id, int64_t epoch, int64_t now,
		   char rev[STORE_REVISION_LEN], struct margo_error *err)
{
	rev[0] = '\0';
	return access_check(st, device_id, epoch, now, rev, err);
}

int pg_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
		       int64_t expires_at, struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	char state[16];
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = pg_device_lock(c, device_id, state, sizeof(state), err)) < 0)
		goto out;
	if (strcmp(state, "active") != 0) {
		rc = margo_error_set(err, MARGO_EAUTH, "device is not active");
		goto out;
	}
	rc = git_token_add(c, device_id, token_hash, now, expires_at, err);
out:
	return pg_tx_end(c, rc, err);
}

/* git_token_check; with rev, main's revision read in the same statement ("" without a
 * repository). */
static int git_token_check(store *st, const char *token_hash, int64_t now,
			   char device_id[MARGO_UUID_LEN], char *rev, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { token_hash };
	PGresult *res;
	int64_t expires_at = 0;
	int found, active = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	res = rev == NULL ?
	      pg_exec(c, "SELECT t.device_id, t.expires_at, d.state FROM git_tokens t"
		      " JOIN devices d ON d.id = t.device_id WHERE t.hash = $1", 1, params, err,
		      "git token lookup") :
	      pg_exec(c, "SELECT t.device_id, t.expires_at, d.state, r.revision FROM git_tokens t"
		      " JOIN devices d ON d.id = t.device_id LEFT JOIN repos r"
		      " ON r.device_id = t.device_id WHERE t.hash = $1", 1, params, err,
		      "git token lookup");
	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	if (found) {
		pg_copy_text(device_id, MARGO_UUID_LEN, PQgetvalue(res, 0, 0));
		expires_at = pg_col_i64(res, 0, 1);
		active = strcmp(PQgetvalue(res, 0, 2), "active") == 0;
		if (rev != NULL && !PQgetisnull(res, 0, 3))
			pg_copy_text(rev, STORE_REVISION_LEN, PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	if (!found || expires_at <= now || !active)
		return margo_error_set(err, MARGO_EAUTH, !found ? "unknown git token" :
				       expires_at <= now ? "git token expired" :
				       "device is not active");
	return 0;
}

int pg_git_token_check(store *st, const char *token_hash, int64_t now,
		       char device_id[MARGO_UUID_LEN], struct margo_error *err)
{
	return git_token_check(st, token_hash, now, device_id, NULL, err);
}

int pg_git_token_access(store *st, const char *token_hash, int64_t now,
			char device_id[MARGO_UUID_LEN], char rev[STORE_REVISION_LEN],
			struct margo_error *err)
{
	rev[0] = '\0';
	return git_token_check(st, token_hash, now, device_id, rev, err);
}
