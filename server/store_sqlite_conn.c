/* The SQLite backend's connections (store_sqlite_int.h): one per thread, opened on first use
 * and closed when the thread exits; each with its cache of prepared statements; the
 * transactions that hold the store's write lock; binding and reading columns. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "margo/error.h"
#include "margo/log.h"
#include "metrics.h"
#include "store_sqlite_int.h"

#define BUSY_TIMEOUT_MS 5000

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

static void conn_unlink(struct sqlite_store *st, struct conn *c)
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

static int conn_open(struct sqlite_store *st, struct conn **out, struct margo_error *err)
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
struct conn *conn_get(store *base, struct margo_error *err)
{
	struct sqlite_store *st = (struct sqlite_store *)base;
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

int conns_init(struct sqlite_store *st, struct margo_error *err)
{
	if (pthread_key_create(&st->key, conn_destructor) != 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->write_lock, NULL);
	return 0;
}

void conns_free(struct sqlite_store *st)
{
	struct conn *c, *next;

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
}
