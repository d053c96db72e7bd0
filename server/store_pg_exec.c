/* The PostgreSQL backend's statements: sent asynchronously and waited for with a deadline on
 * our side too (the connection's statement_timeout plus PG_DEADLINE_GRACE_MS), so that a
 * server that stopped answering without closing the connection (frozen, a host gone without
 * a reset) costs a request a bounded time, not a worker thread forever. A connection that
 * missed its deadline is marked broken and reconnected on the thread's next call. Every
 * libpq failure becomes a margo_error (store_pg_int.h says which message means what). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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


/* While PostgreSQL is down every request fails the same way: one line a second says so, with
 * how many were not logged since (a line per request wrote 11,000 lines in one second). */
static pthread_mutex_t unavailable_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t unavailable_logged_ms = -1000000;
static unsigned long unavailable_quiet;

int pg_unavailable(PGconn *db, struct margo_error *err, const char *what)
{
	unsigned long quiet = 0;
	int64_t now = pg_monotonic_ms();
	char msg[256];
	int log = 0;

	first_line(msg, sizeof(msg), db != NULL ? PQerrorMessage(db) : "out of memory");
	pthread_mutex_lock(&unavailable_lock);
	if (now - unavailable_logged_ms >= 1000) {
		log = 1;
		quiet = unavailable_quiet;
		unavailable_quiet = 0;
		unavailable_logged_ms = now;
	} else {
		unavailable_quiet++;
	}
	pthread_mutex_unlock(&unavailable_lock);
	if (log)
		margo_log_error("store unavailable", "op=%s error=\"%s\" not_logged=%lu", what, msg,
				quiet);
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

	if (c->broken) {
		margo_log_error("store timeout", "op=%s error=\"no answer within %d ms\"", what,
				c->deadline_ms);
		return margo_error_set(err, MARGO_ESTORE, "store timeout (%s): no answer within "
				       "%d ms", what, c->deadline_ms);
	}
	if (res == NULL || PQstatus(c->db) != CONNECTION_OK || state_unavailable(state))
		return pg_unavailable(c->db, err, what);
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

int64_t pg_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads until the statement's results are all in, or the deadline passes (c->broken). */
static int wait_results(struct pg_conn *c)
{
	int64_t deadline = pg_monotonic_ms() + c->deadline_ms;
	struct pollfd pfd = { .fd = PQsocket(c->db), .events = POLLIN };
	int64_t left;
	int n;

	while (PQisBusy(c->db)) {
		left = deadline - pg_monotonic_ms();
		if (c->deadline_ms > 0 && left <= 0) {
			c->broken = 1;
			return -1;
		}
		n = poll(&pfd, 1, c->deadline_ms > 0 ? (int)left : -1);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0 && !PQconsumeInput(c->db))
			return -1;
	}
	return 0;
}

/* PQexec's result rule: the first error if any, else the last result. */
static PGresult *collect(struct pg_conn *c)
{
	PGresult *res, *keep = NULL;

	while ((res = PQgetResult(c->db)) != NULL) {
		if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(res);
			continue;
		}
		PQclear(keep);
		keep = res;
	}
	return keep;
}

void pg_stmts_clear(struct pg_conn *c)
{
	if (c->stmts != NULL)
		for (unsigned i = 0; i < PG_STMT_SLOTS; i++) {
			free(c->stmts[i].sql);
			c->stmts[i] = (struct pg_stmt){ 0 };
		}
	c->nstmts = 0;
}

static uint64_t sql_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* The name sql is prepared under on this connection ("s<slot>"), preparing it first if it is
 * new: 1 when name is set, 0 when sql is to run unprepared (the table is full, or out of
 * memory), -1 when preparing failed (*res: the server's answer, or NULL). The hot paths run
 * the same few statements over and over: parsing and planning them once per connection
 * instead of on every call halves PostgreSQL's CPU time per call (bench/pg.sh). */
static int stmt_name(struct pg_conn *c, const char *sql, int nparams, char name[16],
		     PGresult **res)
{
	uint64_t h = sql_hash(sql);
	unsigned i = (unsigned)(h % PG_STMT_SLOTS);
	struct pg_stmt *st;

	*res = NULL;
	if (c->stmts == NULL && (c->stmts = calloc(PG_STMT_SLOTS, sizeof(*c->stmts))) == NULL)
		return 0;
	for (;; i = (i + 1) % PG_STMT_SLOTS) {
		st = &c->stmts[i];
		if (st->sql == NULL)
			break;
		if (st->hash == h && strcmp(st->sql, sql) == 0) {
			snprintf(name, 16, "s%u", i);
			return 1;
		}
	}
	if (c->nstmts >= PG_STMT_MAX)
		return 0;
	snprintf(name, 16, "s%u", i);
	if (!PQsendPrepare(c->db, name, sql, nparams, NULL) || wait_results(c) < 0)
		return -1;
	*res = collect(c);
	if (PQresultStatus(*res) != PGRES_COMMAND_OK)
		return -1;
	PQclear(*res);
	*res = NULL;
	/* Prepared on the server but not remembered (out of memory): the slot stays free and
	 * nothing more is prepared on this connection, so "s<i>" is never prepared twice. */
	if ((st->sql = strdup(sql)) == NULL) {
		c->nstmts = PG_STMT_MAX;
		return 1;
	}
	st->hash = h;
	c->nstmts++;
	return 1;
}

/* Sends sql (with parameters when nparams >= 0: prepared, see stmt_name) and waits for its
 * result within the deadline: NULL when it could not be sent, or no answer came in time. */
static PGresult *run(struct pg_conn *c, const char *sql, int nparams,
		     const char *const *params)
{
	PGresult *res;
	char name[16];
	int sent, named;

	if (c->broken)
		return NULL;
	if (nparams < 0) {
		sent = PQsendQuery(c->db, sql);
	} else {
		if ((named = stmt_name(c, sql, nparams, name, &res)) < 0)
			return res;
		sent = named ? PQsendQueryPrepared(c->db, name, nparams, params, NULL, NULL, 0)
			     : PQsendQueryParams(c->db, sql, nparams, NULL, params, NULL, NULL, 0);
	}
	if (!sent || wait_results(c) < 0)
		return NULL;
	return collect(c);
}

PGresult *pg_exec(struct pg_conn *c, const char *sql, int nparams, const char *const *params,
		  struct margo_error *err, const char *what)
{
	PGresult *res = run(c, sql, nparams, params);
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
	PGresult *res = run(c, sql, -1, NULL);
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

void pg_rollback(struct pg_conn *c)
{
	if (c->broken || PQstatus(c->db) != CONNECTION_OK ||
	    PQtransactionStatus(c->db) == PQTRANS_IDLE)
		return;
	PQclear(run(c, "ROLLBACK", -1, NULL));
}
