/* The PostgreSQL backend's connections: one per thread, opened on first use, with the pool's
 * statement_timeout; a connection that broke is reset on the thread's next call; every libpq
 * failure becomes a margo_error (store_pg_int.h says which message means what). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "margo/log.h"
#include "store_pg_int.h"

/* libpq's messages end with a newline and may span lines: the first line, for logs and err. */
static void first_line(char *dst, size_t size, const char *msg)
{
	size_t n = strcspn(msg != NULL ? msg : "", "\n");

	if (n >= size)
		n = size - 1;
	memcpy(dst, msg != NULL ? msg : "", n);
	dst[n] = '\0';
}

static int conn_unavailable(PGconn *db, struct margo_error *err, const char *what)
{
	char msg[256];

	first_line(msg, sizeof(msg), db != NULL ? PQerrorMessage(db) : "out of memory");
	margo_log_error("store unavailable", "op=%s error=\"%s\"", what, msg);
	return margo_error_set(err, MARGO_ESTORE, "store unavailable (%s): %s", what, msg);
}

/* SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08),
 * insufficient resources (53: too many connections), operator intervention (57P01..57P03:
 * shutdown, crash recovery, cannot connect now). */
static int state_unavailable(const char *state)
{
	return strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	       strncmp(state, "57P", 3) == 0;
}

static int result_fail(struct pg_conn *c, PGresult *res, struct margo_error *err,
		       const char *what)
{
	const char *state = pg_sqlstate(res);
	char msg[256];

	if (res == NULL || PQstatus(c->db) != CONNECTION_OK || state_unavailable(state))
		return conn_unavailable(c->db, err, what);
	first_line(msg, sizeof(msg), PQresultErrorMessage(res));
	if (strcmp(state, "57014") == 0) {  /* query_canceled: statement_timeout */
		margo_log_error("store timeout", "op=%s error=\"%s\"", what, msg);
		return margo_error_set(err, MARGO_ESTORE, "store timeout (%s): %s", what, msg);
	}
	margo_log_error("database error", "op=%s sqlstate=%s error=\"%s\"", what, state, msg);
	return margo_error_set(err, MARGO_ESTORE, "database error (%s): %s", what, msg);
}

const char *pg_sqlstate(const PGresult *res)
{
	const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

PGresult *pg_exec(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
		  struct margo_error *err, const char *what)
{
	PGresult *res = PQexecParams(c->db, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
		return res;
	result_fail(c, res, err, what);
	PQclear(res);
	return NULL;
}

int pg_exec_script(struct pg_conn *c, const char *sql, struct margo_error *err,
		   const char *what)
{
	PGresult *res = PQexec(c->db, sql);
	int rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = result_fail(c, res, err, what);
	PQclear(res);
	return rc;
}

int pg_exec_cmd(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
		struct margo_error *err, const char *what)
{
	PGresult *res = pg_exec(c, sql, nparams, params, err, what);

	if (res == NULL)
		return MARGO_ESTORE;
	PQclear(res);
	return 0;
}

/* What every new (or reset) connection runs before its first statement. */
static int conn_setup(struct pg_conn *c, struct margo_error *err)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SET statement_timeout = %d", c->pool->statement_timeout_ms);
	return pg_exec_cmd(c, sql, 0, NULL, err, "connection setup");
}

/* Connects with the pool's conninfo; connect_timeout and application_name come first so
 * that the conninfo's own settings win (libpq: later keywords override earlier ones). */
static PGconn *conn_connect(const struct pg_pool *pool)
{
	char timeout[16];
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { timeout, "wfmd", pool->conninfo, NULL };

	snprintf(timeout, sizeof(timeout), "%d", PG_CONNECT_TIMEOUT_S);
	return PQconnectdbParams(keys, vals, 1);
}

static void conn_free(struct pg_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->db);
	free(c);
}

static void conn_unlink(struct pg_pool *pool, struct pg_conn *c)
{
	struct pg_conn **pp;

	pthread_mutex_lock(&pool->lock);
	for (pp = &pool->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
}

/* Thread exit: close this thread's connection. */
static void conn_destructor(void *p)
{
	struct pg_conn *c = p;

	conn_unlink(c->pool, c);
	conn_free(c);
}

static int conn_open(struct pg_pool *pool, struct pg_conn **out, struct margo_error *err)
{
	struct pg_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	c->pool = pool;
	c->db = conn_connect(pool);
	if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
		rc = conn_unavailable(c->db, err, "connect");
		goto out;
	}
	rc = conn_setup(c, err);
out:
	if (rc < 0)
		conn_free(c);
	else
		*out = c;
	return rc;
}

/* A connection the last call found broken (PostgreSQL restarted, the network dropped it):
 * reconnect now, with the same parameters. */
static int conn_revive(struct pg_conn *c, struct margo_error *err)
{
	if (PQstatus(c->db) == CONNECTION_OK)
		return 0;
	/* Inside pg_tx_begin: its transaction is gone; a new connection would run the rest of
	 * its statements on their own. Reconnect once pg_tx_end has reported the loss. */
	if (c->tx_depth > 0) {
		c->tx_lost = 1;
		return margo_error_set(err, MARGO_ESTORE, "store unavailable: the connection was "
				       "lost in a transaction");
	}
	PQreset(c->db);
	if (PQstatus(c->db) != CONNECTION_OK)
		return conn_unavailable(c->db, err, "reconnect");
	margo_log_info("store reconnected", "backend=postgresql");
	return conn_setup(c, err);
}

struct pg_conn *pg_conn_get(struct pg_pool *pool, struct margo_error *err)
{
	struct pg_conn *c = pthread_getspecific(pool->key);

	if (c != NULL)
		return conn_revive(c, err) < 0 ? NULL : c;
	if (conn_open(pool, &c, err) < 0)
		return NULL;
	if (pthread_setspecific(pool->key, c) != 0) {
		conn_free(c);
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&pool->lock);
	c->next = pool->conns;
	pool->conns = c;
	pthread_mutex_unlock(&pool->lock);
	return c;
}

int pg_pool_new(const char *conninfo, int statement_timeout_ms, struct pg_pool **out,
		struct margo_error *err)
{
	struct pg_pool *pool = calloc(1, sizeof(*pool));
	char *parse_err = NULL;
	PQconninfoOption *opts;

	if (pool == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	/* Checked here so that a typo is "invalid" at start, not "unavailable" forever. libpq's
	 * parse messages quote the string (with its password, if any): not repeated. */
	opts = PQconninfoParse(conninfo, &parse_err);
	PQfreemem(parse_err);
	if (opts == NULL) {
		free(pool);
		return margo_error_set(err, MARGO_EINVAL, "invalid PostgreSQL connection string "
				       "(postgresql://[user@]host[:port]/dbname[?param=value...] or "
				       "key=value pairs)");
	}
	PQconninfoFree(opts);
	pool->conninfo = strdup(conninfo);
	pool->statement_timeout_ms = statement_timeout_ms;
	if (pool->conninfo == NULL || pthread_key_create(&pool->key, conn_destructor) != 0) {
		free(pool->conninfo);
		free(pool);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&pool->lock, NULL);
	if (pg_conn_get(pool, err) == NULL) {
		pg_pool_free(pool);
		return MARGO_ESTORE;
	}
	*out = pool;
	return 0;
}

void pg_pool_free(struct pg_pool *pool)
{
	struct pg_conn *c, *next;

	if (pool == NULL)
		return;
	pthread_key_delete(pool->key);
	for (c = pool->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&pool->lock);
	/* The conninfo may hold a password. */
	OPENSSL_cleanse(pool->conninfo, strlen(pool->conninfo));
	free(pool->conninfo);
	free(pool);
}
