/* The PostgreSQL backend's connections: one per thread, opened on first use, with the pool's
 * statement_timeout unless the connection string or the server sets one; a connection that
 * broke (or missed a deadline: store_pg_exec.c) is reset on the thread's next call. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "margo/log.h"
#include "store_pg_int.h"

/* What every new (or reset) connection runs before its first statement: the pool's
 * statement_timeout unless one was set for this connection already (options=-c
 * statement_timeout=... in the URL, PGOPTIONS, ALTER ROLE/DATABASE ... SET, postgresql.conf:
 * those win), then the deadline of every later statement from the one in force. */
static int conn_setup(struct pg_conn *c, struct margo_error *err)
{
	char ms[16];
	const char *params[] = { ms };
	PGresult *res;
	long timeout;

	snprintf(ms, sizeof(ms), "%d", c->pool->statement_timeout_ms);
	pg_stmts_clear(c);
	c->broken = 0;
	c->deadline_ms = c->pool->statement_timeout_ms + PG_DEADLINE_GRACE_MS;
	/* set_config answers in the setting's display unit ("5s"), pg_settings.setting in
	 * milliseconds: the latter, or ours when we set it. */
	res = pg_exec(c, "SELECT source = 'default', setting, CASE WHEN source = 'default'"
		      " THEN set_config(name, $1, false) END FROM pg_settings"
		      " WHERE name = 'statement_timeout'", 1, params, err, "connection setup");
	if (res == NULL)
		return MARGO_ESTORE;
	timeout = PQntuples(res) != 1 ? 0 :
		  strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? c->pool->statement_timeout_ms :
		  strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	/* 0: no statement_timeout, so no deadline either (the operator's choice). */
	c->deadline_ms = timeout > 0 && timeout < 86400000 ? (int)timeout + PG_DEADLINE_GRACE_MS
							   : 0;
	return 0;
}

/* Connects with the pool's conninfo. Our defaults come first so that the conninfo's own
 * settings win (libpq: later keywords override earlier ones): connect_timeout bounds the
 * connection's set-up, tcp_user_timeout and the keepalives notice a server host that went
 * away without closing the connection. */
static PGconn *conn_connect(const struct pg_pool *pool)
{
	char timeout[16], user_timeout[16];
	const char *const keys[] = { "connect_timeout", "tcp_user_timeout", "keepalives_idle",
				     "keepalives_interval", "keepalives_count", "application_name",
				     "dbname", NULL };
	const char *vals[] = { timeout, user_timeout, "10", "5", "3", "wfmd", pool->conninfo,
			       NULL };

	snprintf(timeout, sizeof(timeout), "%d", PG_CONNECT_TIMEOUT_S);
	snprintf(user_timeout, sizeof(user_timeout), "%d",
		 pool->statement_timeout_ms + PG_DEADLINE_GRACE_MS);
	return PQconnectdbParams(keys, vals, 1);
}

static void conn_free(struct pg_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->db);
	pg_stmts_clear(c);
	free(c->stmts);
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

/* The server's notices: libpq prints them on stderr by default. NOTICE and below (e.g. "relation
 * ... already exists, skipping" from the schema steps' IF NOT EXISTS) are routine and dropped;
 * a WARNING goes to our log, one line. */
static void conn_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void)arg;
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		margo_log_warn("PostgreSQL warning", "message=\"%s\"", msg != NULL ? msg : "");
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
		rc = pg_unavailable(c->db, err, "connect");
		goto out;
	}
	PQsetNoticeReceiver(c->db, conn_notice, NULL);
	rc = conn_setup(c, err);
out:
	if (rc < 0)
		conn_free(c);
	else
		*out = c;
	return rc;
}

/* An idle connection that the server closed meanwhile (PostgreSQL restarted, an operator's
 * pg_terminate_backend) is readable: its end (and the server's last message) is read here,
 * so that the connection is reset before a statement is lost on it. */
static void conn_check_idle(struct pg_conn *c)
{
	struct pollfd pfd = { .fd = PQsocket(c->db), .events = POLLIN };
	int i;

	if (c->tx_depth > 0 || PQtransactionStatus(c->db) != PQTRANS_IDLE)
		return;
	for (i = 0; i < 3 && PQstatus(c->db) == CONNECTION_OK; i++) {
		if (poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(c->db))
			break;
		PQclear(PQgetResult(c->db));  /* an error the server sent on its way out */
	}
}

/* A connection the last call found broken (PostgreSQL restarted, the network dropped it, no
 * answer within the deadline), or that the server closed while it was idle: reconnect now,
 * with the same parameters. */
static int conn_revive(struct pg_conn *c, struct margo_error *err)
{
	if (!c->broken)
		conn_check_idle(c);
	if (PQstatus(c->db) == CONNECTION_OK && !c->broken)
		return 0;
	/* Inside pg_tx_begin: its transaction is gone; a new connection would run the rest of
	 * its statements on their own. Reconnect once pg_tx_end has reported the loss. */
	if (c->tx_depth > 0) {
		c->tx_lost = 1;
		return margo_error_set(err, MARGO_ESTORE, "store unavailable: the connection was "
				       "lost in a transaction");
	}
	/* A thread tries again at most every PG_RECONNECT_MS: a request per attempt while
	 * PostgreSQL is down would be a connection attempt per request. */
	if (pg_monotonic_ms() < c->retry_at_ms)
		return margo_error_set(err, MARGO_ESTORE, "store unavailable: reconnecting");
	c->broken = 0;
	PQreset(c->db);
	if (PQstatus(c->db) != CONNECTION_OK) {
		c->retry_at_ms = pg_monotonic_ms() + PG_RECONNECT_MS;
		return pg_unavailable(c->db, err, "reconnect");
	}
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
