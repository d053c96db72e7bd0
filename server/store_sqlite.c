/* store.h on SQLite: WAL, one connection per thread, statements prepared once per
 * connection, parameters bound by name. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "margo/error.h"
#include "margo/log.h"
#include "metrics.h"
#include "store.h"
#include "store_page.h"
#include "store_sqlite_int.h"
#include "store_sqlite_schema.h"

#define BUSY_TIMEOUT_MS 5000
#define LAST_SEEN_INTERVAL 30
#define CLOSED_REQUEST_KEEP (7 * 86400)

/* ---- connections and statements ---- */

int db_fail(sqlite3 *db, struct margo_error *err, const char *what)
{
	margo_log_error("database error", "op=%s error=\"%s\"", what,
			db != NULL ? sqlite3_errmsg(db) : "open");
	return margo_error_set(err, MARGO_ESTORE, "database error (%s): %s", what,
			       db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++)
		sqlite3_finalize(c->slots[i].stmt);
	sqlite3_close(c->db);
	free(c);
}

static void conn_unlink(struct store *st, struct conn *c)
{
	struct conn **pp;

	pthread_mutex_lock(&st->lock);
	for (pp = &st->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
}

/* Thread exit: close this thread's connection. */
static void conn_destructor(void *p)
{
	struct conn *c = p;

	conn_unlink(c->st, c);
	conn_free(c);
}

static int conn_open(struct store *st, struct conn **out, struct margo_error *err)
{
	struct conn *c;
	char *msg = NULL;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	c->st = st;
	rc = sqlite3_open_v2(st->path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(c->db, err, "open");
		conn_free(c);
		return rc;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* journal_size_limit: the WAL is truncated back after a checkpoint instead of keeping
	 * the size a burst of writes gave it. */
	if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=67108864;", NULL, NULL,
			 &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		rc = db_fail(c->db, err, "pragma");
		conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* This thread's connection, opened on first use. */
struct conn *conn_get(struct store *st, struct margo_error *err)
{
	struct conn *c = pthread_getspecific(st->key);

	if (c != NULL)
		return c;
	if (conn_open(st, &c, err) < 0)
		return NULL;
	if (pthread_setspecific(st->key, c) != 0) {
		conn_free(c);
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&st->lock);
	c->next = st->conns;
	st->conns = c;
	pthread_mutex_unlock(&st->lock);
	return c;
}

/* The cached statement for sql (a static string), reset and unbound. */
sqlite3_stmt *stmt_get(struct conn *c, const char *sql, struct margo_error *err)
{
	sqlite3_stmt *s = NULL;

	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i].sql == sql) {
			s = c->slots[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return s;
		}
	}
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		db_fail(c->db, err, "prepare");
		return NULL;
	}
	if (c->nslots < STMT_CACHE_MAX) {
		c->slots[c->nslots].sql = sql;
		c->slots[c->nslots].stmt = s;
		c->nslots++;
	} else {
		/* Cannot happen with our fixed set of statements; keep working anyway. */
		margo_log_warn("statement cache full", NULL);
	}
	return s;
}

int bind_text(sqlite3_stmt *s, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i == 0)
		return SQLITE_RANGE;
	if (v == NULL)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

int bind_blob_text(sqlite3_stmt *s, const char *name, const char *v, size_t len)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i == 0)
		return SQLITE_RANGE;
	return sqlite3_bind_text64(s, i, v, len, SQLITE_TRANSIENT, SQLITE_UTF8);
}

int bind_int(sqlite3_stmt *s, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i == 0)
		return SQLITE_RANGE;
	return sqlite3_bind_int64(s, i, v);
}

/* Steps a statement that returns no rows. 0 or MARGO_ESTORE. A write outside a transaction
 * takes the store's write lock for its implicit transaction. */
int exec_stmt(struct conn *c, sqlite3_stmt *s, struct margo_error *err)
{
	int locked = sqlite3_get_autocommit(c->db) && !sqlite3_stmt_readonly(s);
	int rc;

	if (c->tx_depth > 0 && locked) {
		/* Inside tx_begin with the transaction gone (tx_lost): a write now would be
		 * committed on its own, and the write lock is this thread's already. */
		c->tx_lost = 1;
		return margo_error_set(err, MARGO_ESTORE, "the store's transaction was rolled back");
	}
	if (locked)
		pthread_mutex_lock(&c->st->write_lock);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (locked)
		pthread_mutex_unlock(&c->st->write_lock);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(c->db, err, "step");
	return 0;
}

const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int64_t col_time(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, i);
}

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_savepoint[] = "SAVEPOINT nested";
static const char sql_release[] = "RELEASE nested";
static const char sql_rollback_to[] = "ROLLBACK TO nested";

/* A tx_begin inside a transaction of the same thread (store_batch_begin): a savepoint, so the
 * inner call's failure undoes only its own writes. */
static int savepoint_begin(struct conn *c, struct margo_error *err)
{
	sqlite3_stmt *s;

	if (c->tx_lost)
		return margo_error_set(err, MARGO_ESTORE, "the store's transaction was rolled back");
	s = stmt_get(c, sql_savepoint, err);
	if (s == NULL || exec_stmt(c, s, err) < 0)
		return MARGO_ESTORE;
	c->tx_depth++;
	return 0;
}

static int savepoint_end(struct conn *c, int rc, struct margo_error *err)
{
	sqlite3_stmt *s;

	c->tx_depth--;
	if (sqlite3_get_autocommit(c->db)) {
		/* An error (SQLITE_FULL, ...) ended the whole transaction: the outermost
		 * tx_end must not report it committed. */
		c->tx_lost = 1;
		return rc < 0 ? rc : margo_error_set(err, MARGO_ESTORE, "the store's "
						     "transaction was rolled back");
	}
	if (rc < 0 && ((s = stmt_get(c, sql_rollback_to, NULL)) == NULL ||
		       exec_stmt(c, s, NULL) < 0))
		c->tx_lost = 1;
	s = stmt_get(c, sql_release, NULL);
	if ((s == NULL || exec_stmt(c, s, NULL) < 0) && rc == 0) {
		c->tx_lost = 1;
		rc = margo_error_set(err, MARGO_ESTORE, "the store could not release a savepoint");
	}
	return rc;
}

/* Begins a write transaction holding the store's write lock; every successful tx_begin is
 * paired with one tx_end, which releases it. Nested calls are savepoints. */
int tx_begin(struct conn *c, struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (c->tx_depth > 0)
		return savepoint_begin(c, err);
	if ((s = stmt_get(c, sql_begin, err)) == NULL)
		return MARGO_ESTORE;
	clock_gettime(CLOCK_MONOTONIC, &c->tx_start);
	/* Not exec_stmt: BEGIN IMMEDIATE is not read-only and would take the lock again. */
	pthread_mutex_lock(&c->st->write_lock);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		c->tx_depth = 1;
		c->tx_lost = 0;
		return 0;
	}
	pthread_mutex_unlock(&c->st->write_lock);
	return db_fail(c->db, err, "begin");
}

int tx_end(struct conn *c, int rc, struct margo_error *err)
{
	struct timespec now;
	sqlite3_stmt *s;

	if (c->tx_depth > 1)
		return savepoint_end(c, rc, err);
	c->tx_depth = 0;
	if (rc == 0 && c->tx_lost)
		rc = margo_error_set(err, MARGO_ESTORE, "the store's transaction was rolled back");
	if (rc == 0) {
		s = stmt_get(c, sql_commit, err);
		if (s != NULL && exec_stmt(c, s, err) == 0)
			goto out;
		rc = MARGO_ESTORE;
	}
	if (sqlite3_get_autocommit(c->db) == 0) {
		s = stmt_get(c, sql_rollback, NULL);
		if (s != NULL)
			exec_stmt(c, s, NULL);
	}
out:
	pthread_mutex_unlock(&c->st->write_lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_store_tx((double)(now.tv_sec - c->tx_start.tv_sec) +
			 (double)(now.tv_nsec - c->tx_start.tv_nsec) / 1e9);
	return rc;
}

/* ---- open/close ---- */

int store_open(const char *path, store **out, struct margo_error *err)
{
	struct store *st;
	struct conn *c;
	int rc;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	st->path = strdup(path);
	if (st->path == NULL) {
		free(st);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	if (pthread_key_create(&st->key, conn_destructor) != 0) {
		free(st->path);
		free(st);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->write_lock, NULL);
	c = conn_get(st, err);
	if (c == NULL) {
		rc = MARGO_ESTORE;
		goto out;
	}
	if (store_sqlite_migrate(c->db, time(NULL), err) < 0) {
		rc = MARGO_ESTORE;
		goto out;
	}
	rc = 0;
	*out = st;
out:
	if (rc < 0)
		store_close(st);
	return rc;
}

void store_close(store *st)
{
	struct conn *c, *next;

	if (st == NULL)
		return;
	/* This thread's connection and any left by threads still alive. */
	pthread_setspecific(st->key, NULL);
	pthread_mutex_lock(&st->lock);
	c = st->conns;
	st->conns = NULL;
	pthread_mutex_unlock(&st->lock);
	for (; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_key_delete(st->key);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->write_lock);
	free(st->path);
	free(st);
}

int store_batch_begin(store *st, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);

	return c != NULL ? tx_begin(c, err) : MARGO_ESTORE;
}

int store_batch_end(store *st, int rc, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);

	if (c == NULL || c->tx_depth == 0)
		return margo_error_set(err, MARGO_EINVAL, "store_batch_end without store_batch_begin");
	return tx_end(c, rc, err);
}

/* ---- housekeeping ---- */

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

int store_purge_expired(struct conn *c, int64_t now, struct margo_error *err)
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

/* ---- devices ---- */

void store_device_from_row(sqlite3_stmt *s, struct store_device *d)
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

void store_device_clear(struct store_device *d)
{
	if (d == NULL)
		return;
	free(d->certificate_pem);
	d->certificate_pem = NULL;
}

void store_devices_free(struct store_device *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_device_clear(&items[i]);
	free(items);
}

static const char sql_device_list[] =
	"SELECT " DEVICE_COLUMNS " FROM devices ORDER BY created_at, id";
static const char sql_device_list_state[] =
	"SELECT " DEVICE_COLUMNS " FROM devices WHERE state = :state ORDER BY created_at, id";

int store_device_list(store *st, const char *state, int64_t now, struct store_device **items,
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
	if ((rc = store_purge_expired(c, now, err)) < 0)
		goto out;
	if (state != NULL) {
		PREPARE(s, sql_device_list_state);
		BIND(bind_text(s, ":state", state));
	} else {
		PREPARE(s, sql_device_list);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 16);
		store_device_from_row(s, &v[cnt++]);
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

int store_device_get(store *st, const char *id, int64_t now, struct store_device *out,
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
		store_device_from_row(s, out);
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
static const char sql_requests_close[] =
	"UPDATE onboarding_requests SET state = 'closed'"
	" WHERE device_id = :id AND state IN ('pending', 'approved')";
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

/* The device's state into buf; MARGO_ENOTFOUND. */
static int device_state(struct conn *c, const char *id, char *buf, size_t size,
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

	return device_state(c, id, state, sizeof(state), err);
}

static int set_state(struct conn *c, const char *id, const char *state,
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

static int revoke_credentials(struct conn *c, const char *id, struct margo_error *err)
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
	if ((rc = store_purge_expired(c, now, err)) < 0)
		goto out;
	if ((rc = device_state(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if (strcmp(state, "pending") != 0) {
		rc = margo_error_set(err, MARGO_ECONFLICT, "device %s is %s, not pending", id,
				     state);
		goto out;
	}
	if (approve) {
		PREPARE(s, sql_device_set_active);
		BIND(bind_int(s, ":now", now));
		BIND(bind_text(s, ":id", id));
		EXEC(s);
		if ((rc = revoke_credentials(c, id, err)) < 0)
			goto out;
	} else if ((rc = set_state(c, id, "rejected", err)) < 0) {
		goto out;
	}
	PREPARE(s, sql_requests_set_pending_state);
	BIND(bind_text(s, ":state", approve ? "approved" : "rejected"));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

int store_device_approve(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 1, err);
}

int store_device_reject(store *st, const char *id, int64_t now, struct margo_error *err)
{
	return decide_pending(st, id, now, 0, err);
}

int store_device_revoke(store *st, const char *id, int64_t now, struct margo_error *err)
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
	if ((rc = device_state(c, id, state, sizeof(state), err)) < 0)
		goto out;
	if ((rc = set_state(c, id, "revoked", err)) < 0)
		goto out;
	if ((rc = revoke_credentials(c, id, err)) < 0)
		goto out;
	PREPARE(s, sql_requests_close);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
	PREPARE(s, sql_requests_set_pending_state);
	BIND(bind_text(s, ":state", "closed"));
	BIND(bind_text(s, ":id", id));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

/* ---- onboarding ---- */

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
static const char sql_onb_insert_secret[] =
	"INSERT INTO client_secrets (hash, device_id, created_at) VALUES (:hash, :id, :now)";
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

/* Replaces every credential of device id with the one secret secret_hash (and the git token
 * git_hash when not NULL). */
static int issue_secret(struct conn *c, const char *id, const char *secret_hash,
			const char *git_hash, int64_t git_expires_at, int64_t now,
			struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = revoke_credentials(c, id, err)) < 0)
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
	sqlite3_stmt *s;
	int rc;

	if (!exists) {
		if ((rc = insert_device(c, in, "active", err)) < 0 ||
		    (in->repo != NULL && (rc = desired_commit_tx(c, in->repo, err)) < 0))
			goto out;
		copy_text(out->device_id, sizeof(out->device_id), in->new_device_id);
	} else {
		PREPARE(s, sql_device_set_active);
		BIND(bind_int(s, ":now", in->now));
		BIND(bind_text(s, ":id", out->device_id));
		EXEC(s);
		PREPARE(s, sql_requests_close);
		BIND(bind_text(s, ":id", out->device_id));
		EXEC(s);
		if ((rc = update_identity(c, out->device_id, in, err)) < 0)
			goto out;
	}
	if ((rc = issue_secret(c, out->device_id, in->secret_hash, in->git_token_hash,
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
		if ((rc = set_state(c, out->device_id, "pending", err)) < 0)
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

int store_onboard(store *st, const struct store_onboard_in *in, struct store_onboard_out *out,
		  struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	char state[16] = "";
	char token_id[MARGO_UUID_LEN] = "";
	int exists = 0, first_used = 0, prereg = 0, auto_approve = 0, usable = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = store_purge_expired(c, in->now, err)) < 0)
		goto out;

	PREPARE(s, sql_onb_find_device);
	BIND(bind_text(s, ":fp", in->fingerprint));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		exists = 1;
		copy_text(out->device_id, sizeof(out->device_id), col_text(s, 0));
		copy_text(state, sizeof(state), col_text(s, 1));
		first_used = sqlite3_column_type(s, 2) != SQLITE_NULL;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "find device");
		goto out;
	}

	/* Lost response: an approved device whose credentials were never used gets the same
	 * client id and a new secret, without spending any authorisation. */
	if (exists && strcmp(state, "active") == 0 && !first_used) {
		if ((rc = issue_secret(c, out->device_id, in->secret_hash, in->git_token_hash,
				       in->git_token_expires_at, in->now, err)) < 0)
			goto out;
		if ((rc = update_identity(c, out->device_id, in, err)) < 0)
			goto out;
		out->result = STORE_ONBOARD_APPROVED;
		out->reason = "repeat";
		goto out;
	}

	PREPARE(s, sql_onb_prereg);
	BIND(bind_text(s, ":fp", in->fingerprint));
	rc = sqlite3_step(s);
	prereg = rc == SQLITE_ROW;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = db_fail(c->db, err, "preregistered");
		goto out;
	}
	if (prereg) {
		out->reason = "preregistered";
		rc = onboard_approve(c, in, exists, out, err);
		goto out;
	}
	if (exists && strcmp(state, "rejected") == 0) {
		out->result = STORE_ONBOARD_REJECTED;
		out->reason = "rejected";
		rc = 0;
		goto out;
	}

	if (in->enrollment_token_hash != NULL) {
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
		/* A device already waiting repeats its request: unless the token approves it now,
		 * it keeps its place without spending (or failing on) the token. */
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
			goto out;
		}
		if (auto_approve) {
			out->reason = "enrollment-token";
			rc = onboard_approve(c, in, exists, out, err);
			goto out;
		}
		out->reason = "enrollment-token-pending";
		rc = onboard_pending(c, in, exists, state, out, err);
		goto out;
	}

	if (exists && strcmp(state, "active") == 0) {
		out->result = STORE_ONBOARD_CONFLICT;
		out->reason = "already-onboarded";
		rc = 0;
		goto out;
	}
	if (!in->allow_approval_requests) {
		out->result = STORE_ONBOARD_UNAUTHORISED;
		out->reason = "approval-requests-disabled";
		rc = 0;
		goto out;
	}
	out->reason = "approval-request";
	rc = onboard_pending(c, in, exists, state, out, err);
out:
	/* Outcomes that record nothing must not keep a spent token use. */
	if (rc == 0 && out->result != STORE_ONBOARD_APPROVED &&
	    out->result != STORE_ONBOARD_PENDING) {
		tx_end(c, MARGO_ECONFLICT, NULL);
		return 0;
	}
	return tx_end(c, rc, err);
}

static const char sql_poll_find[] =
	"SELECT r.device_id, r.poll_token_hash, r.state, r.expires_at, d.state, d.first_auth_at"
	" FROM onboarding_requests r LEFT JOIN devices d ON d.id = r.device_id WHERE r.id = :id";

int store_poll(store *st, const char *request_id, const char *poll_token_hash,
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
	if ((rc = store_purge_expired(c, now, err)) < 0)
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
		rc = issue_secret(c, device_id, secret_hash, git_token_hash, git_expires_at, now,
				  err);
		*result = STORE_POLL_APPROVED;
	} else {
		*result = STORE_POLL_GONE;
	}
out:
	return tx_end(c, rc, err);
}

/* ---- OAuth and device access ---- */

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

int store_client_authenticate(store *st, const char *client_id, const char *secret_hash,
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

int store_access_check(store *st, const char *device_id, int64_t epoch, int64_t now,
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

static const char sql_caps_put[] =
	"INSERT INTO capabilities (device_id, document, updated_at) VALUES (:id, :doc, :now)"
	" ON CONFLICT (device_id) DO UPDATE SET document = excluded.document,"
	" updated_at = excluded.updated_at";
static const char sql_caps_get[] =
	"SELECT document, updated_at FROM capabilities WHERE device_id = :id";

int store_capabilities_put(store *st, const char *device_id, const char *doc, size_t len,
			   int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_caps_put);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_blob_text(s, ":doc", doc, len));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
out:
	return rc;
}

int store_capabilities_get(store *st, const char *device_id, char **doc, size_t *len,
			   int64_t *updated_at, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	const void *p;
	size_t n;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_caps_get);
	BIND(bind_text(s, ":id", device_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		p = sqlite3_column_text(s, 0);
		n = (size_t)sqlite3_column_bytes(s, 0);
		*doc = malloc(n + 1);
		if (*doc == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		} else {
			if (n > 0)
				memcpy(*doc, p, n);
			(*doc)[n] = '\0';
			*len = n;
			if (updated_at != NULL)
				*updated_at = sqlite3_column_int64(s, 1);
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no capabilities reported yet");
	} else {
		rc = db_fail(c->db, err, "capabilities get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

static const char sql_status_insert[] =
	"INSERT INTO deployment_status (device_id, deployment_id, state, document, received_at)"
	" VALUES (:id, :dep, :state, :doc, :now)";
static const char sql_status_trim[] =
	"DELETE FROM deployment_status WHERE device_id = :id AND deployment_id = :dep"
	" AND seq <= (SELECT seq FROM deployment_status WHERE device_id = :id"
	" AND deployment_id = :dep ORDER BY seq DESC LIMIT 1 OFFSET :keep)";
static const char sql_status_latest[] =
	"SELECT deployment_id, state, received_at, document FROM deployment_status"
	" WHERE seq IN (SELECT max(seq) FROM deployment_status WHERE device_id = :id"
	" GROUP BY deployment_id) ORDER BY deployment_id";

int store_deployment_status_add(store *st, const char *device_id, const char *deployment_id,
				const char *state, const char *doc, size_t len, int64_t now,
				struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	PREPARE(s, sql_status_insert);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_text(s, ":state", state));
	BIND(bind_blob_text(s, ":doc", doc, len));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	PREPARE(s, sql_status_trim);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_int(s, ":keep", STORE_STATUS_HISTORY));
	EXEC(s);
out:
	return tx_end(c, rc, err);
}

void store_deployments_free(struct store_deployment *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].document);
	free(items);
}

int store_deployment_list(store *st, const char *device_id, struct store_deployment **items,
			  size_t *n, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_deployment *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_status_latest);
	BIND(bind_text(s, ":id", device_id));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 8);
		memset(&v[cnt], 0, sizeof(v[cnt]));
		copy_text(v[cnt].deployment_id, sizeof(v[cnt].deployment_id), col_text(s, 0));
		copy_text(v[cnt].state, sizeof(v[cnt].state), col_text(s, 1));
		v[cnt].received_at = sqlite3_column_int64(s, 2);
		v[cnt].document = strdup(col_text(s, 3));
		cnt++;
		if (v[cnt - 1].document == NULL) {
			sqlite3_reset(s);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ROWS_DONE("deployment list");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	if (rc < 0)
		store_deployments_free(v, cnt);
	return rc;
}

/* ---- enrollment tokens ---- */

static const char sql_et_insert[] =
	"INSERT INTO enrollment_tokens (id, hash, description, expires_at, max_uses, uses,"
	" auto_approve, revoked, created_at) VALUES (:id, :hash, :desc, :expires, :max, 0,"
	" :auto, 0, :now)";
static const char sql_et_revoke[] =
	"UPDATE enrollment_tokens SET revoked = 1 WHERE id = :id";

int store_enrollment_token_create(store *st, const struct store_enrollment_token *t,
				  const char *token_hash, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_et_insert);
	BIND(bind_text(s, ":id", t->id));
	BIND(bind_text(s, ":hash", token_hash));
	BIND(bind_text(s, ":desc", t->description));
	BIND(bind_int(s, ":expires", t->expires_at));
	BIND(bind_int(s, ":max", t->max_uses));
	BIND(bind_int(s, ":auto", t->auto_approve ? 1 : 0));
	BIND(bind_int(s, ":now", t->created_at));
	EXEC(s);
out:
	return rc;
}

int store_enrollment_token_revoke(store *st, const char *id, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_et_revoke);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no enrollment token %s", id);
out:
	return rc;
}

/* ---- pre-registered certificates ---- */

static const char sql_cert_insert[] =
	"INSERT INTO preregistered_certs (fingerprint, certificate_pem, description, created_at)"
	" VALUES (:fp, :pem, :desc, :now) ON CONFLICT (fingerprint) DO NOTHING";
static const char sql_cert_delete[] =
	"DELETE FROM preregistered_certs WHERE fingerprint = :fp";

int store_certificate_add(store *st, const char *fingerprint, const char *pem,
			  const char *description, int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_cert_insert);
	BIND(bind_text(s, ":fp", fingerprint));
	BIND(bind_text(s, ":pem", pem));
	BIND(bind_text(s, ":desc", description != NULL ? description : ""));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_EEXIST, "certificate %s is already registered",
				     fingerprint);
out:
	return rc;
}

int store_certificate_remove(store *st, const char *fingerprint, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_cert_delete);
	BIND(bind_text(s, ":fp", fingerprint));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no certificate %s", fingerprint);
out:
	return rc;
}

/* ---- git tokens, repositories, deployments ---- */

int store_git_token_issue(store *st, const char *device_id, const char *token_hash, int64_t now,
			  int64_t expires_at, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	char state[16];
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = device_state(c, device_id, state, sizeof(state), err)) < 0)
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

int store_git_token_check(store *st, const char *token_hash, int64_t now,
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

static const char sql_repo_get[] =
	"SELECT revision FROM repos WHERE device_id = :id";
int store_repo_revision_get(store *st, const char *device_id, char rev[STORE_REVISION_LEN],
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

static const char sql_dep_get[] =
	"SELECT name FROM deployments WHERE device_id = :id AND deployment_id = :dep";
/* All of a device's deployments, or a page of them (:limit -1: no limit); the index
 * deployments_created (schema step 6) gives the order and the cursor's seek. */
static const char sql_dep_list[] =
	"SELECT d.deployment_id, d.name, d.application_id, d.updated_at, s.state, s.received_at,"
	" s.document, d.created_at FROM deployments d LEFT JOIN deployment_status s ON s.seq ="
	" (SELECT max(seq) FROM deployment_status x WHERE x.device_id = d.device_id"
	" AND x.deployment_id = d.deployment_id) WHERE d.device_id = :id"
	" AND (NOT :set OR (d.created_at, d.deployment_id) > (:at, :key))"
	" ORDER BY d.created_at, d.deployment_id LIMIT :limit";

int store_deployment_desired_get(store *st, const char *device_id, const char *deployment_id,
				 char name[STORE_TEXT_MAX], struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_dep_get);
	BIND(bind_text(s, ":id", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(name, STORE_TEXT_MAX, col_text(s, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no deployment %s", deployment_id);
	} else {
		rc = db_fail(c->db, err, "deployment get");
	}
	sqlite3_reset(s);
out:
	return rc;
}

void store_desired_free(struct store_desired *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].status_document);
	free(items);
}

/* One row of sql_dep_list into d (zeroed first). */
static int desired_from_row(sqlite3_stmt *s, struct store_desired *d)
{
	memset(d, 0, sizeof(*d));
	copy_text(d->deployment_id, sizeof(d->deployment_id), col_text(s, 0));
	copy_text(d->name, sizeof(d->name), col_text(s, 1));
	copy_text(d->application_id, sizeof(d->application_id), col_text(s, 2));
	d->updated_at = sqlite3_column_int64(s, 3);
	copy_text(d->state, sizeof(d->state), col_text(s, 4));
	d->received_at = col_time(s, 5);
	d->created_at = sqlite3_column_int64(s, 7);
	if (sqlite3_column_type(s, 6) == SQLITE_NULL)
		return 0;
	d->status_document = strdup(col_text(s, 6));
	return d->status_document != NULL ? 0 : -1;
}

/* limit 0: all. */
static int desired_rows(store *st, const char *device_id, const struct store_cursor *after,
			size_t limit, struct store_desired **items, size_t *n, int *more,
			struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_desired *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_dep_list);
	BIND(bind_text(s, ":id", device_id) | bind_int(s, ":set", after->set) |
	     bind_int(s, ":at", after->at) | bind_text(s, ":key", after->key) |
	     bind_int(s, ":limit", limit > 0 ? (int64_t)limit + 1 : -1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (limit > 0 && cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 8);
		if (desired_from_row(s, &v[cnt++]) < 0) {
			sqlite3_reset(s);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ROWS_DONE("deployment list");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	if (rc < 0)
		store_desired_free(v, cnt);
	return rc;
}

int store_deployment_desired_list(store *st, const char *device_id,
				  struct store_desired **items, size_t *n,
				  struct margo_error *err)
{
	struct store_cursor start;
	int more;

	memset(&start, 0, sizeof(start));
	return desired_rows(st, device_id, &start, 0, items, n, &more, err);
}

int store_deployment_desired_page(store *st, const char *device_id,
				  const struct store_cursor *after, size_t limit,
				  struct store_desired **items, size_t *n, int *more,
				  struct margo_error *err)
{
	if (limit == 0)
		return margo_error_set(err, MARGO_EINVAL, "a page holds at least one item");
	return desired_rows(st, device_id, after, limit, items, n, more, err);
}
