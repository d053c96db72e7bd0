/* What only the PostgreSQL backend has (store_pg_int.h), against a real PostgreSQL: the
 * schema's migrations (the same tables, columns and indexes as SQLite's; applied once by
 * replicas starting together; a newer schema refused), the latest-status triggers, the
 * connections (statement_timeout, reconnect after a lost connection, an unreachable server,
 * a bad connection string), transactions (savepoints inside one; a connection lost in one)
 * and a table of functions with every member set. The store API's behaviour is tested on
 * both backends by the shared suites (test_server_store*.c, test_server_desired.c, through
 * store_fixture.h), whose pg/ entries run them here. WFMD_TEST_PG names a PostgreSQL (a libpq
 * URL ending in the database name) where each test creates and drops its own database;
 * ctest's pg/ entries share one started by tests/pg/pgsuite.sh. Without WFMD_TEST_PG (or
 * without libpq) every test is skipped. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#ifdef WFMD_HAVE_LIBPQ
#include <pthread.h>
#include <sqlite3.h>

#include "store.h"
#include "store_pg_int.h"

#define T0 1800000000

struct fixture {
	char dbname[64];
	char conninfo[512];
	PGconn *admin;          /* on the server's own database: creates and drops ours */
	struct pg_pool *pool;
	struct pg_conn *c;
};

static void admin_exec(PGconn *db, const char *sql)
{
	PGresult *res = PQexec(db, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(db));
	PQclear(res);
}

/* The test database's conninfo: WFMD_TEST_PG with its database name replaced. */
static void test_conninfo(struct fixture *f, const char *url)
{
	const char *slash = strrchr(url, '/');

	assert_non_null(slash);
	snprintf(f->conninfo, sizeof(f->conninfo), "%.*s/%s", (int)(slash - url), url, f->dbname);
}

static int setup(void **state)
{
	static int counter;
	const char *url = getenv("WFMD_TEST_PG");
	struct fixture *f;
	char sql[128];

	assert_non_null(url);
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dbname, sizeof(f->dbname), "wfmd_test_%d_%d", (int)getpid(), ++counter);
	test_conninfo(f, url);
	f->admin = PQconnectdb(url);
	assert_int_equal(PQstatus(f->admin), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	admin_exec(f->admin, sql);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];

	pg_pool_free(f->pool);
	snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", f->dbname);
	admin_exec(f->admin, sql);
	PQfinish(f->admin);
	free(f);
	return 0;
}

/* The fixture's pool on its database, migrated. */
static void open_migrated(struct fixture *f, int timeout_ms)
{
	struct margo_error err;

	assert_int_equal(pg_pool_new(f->conninfo, timeout_ms, &f->pool, &err), 0);
	f->c = pg_conn_get(f->pool, &err);
	assert_non_null(f->c);
	if (pg_schema_migrate(f->c, T0, &err) < 0)
		fail_msg("migrate: %s", err.message);
}

static long query_long(struct pg_conn *c, const char *sql)
{
	struct margo_error err;
	PGresult *res = pg_exec(c, sql, 0, NULL, &err, "test");
	long v;

	if (res == NULL)
		fail_msg("%s: %s", sql, err.message);
	assert_int_equal(PQntuples(res), 1);
	v = PQgetisnull(res, 0, 0) ? -1 : atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void exec_ok(struct pg_conn *c, const char *sql)
{
	struct margo_error err;

	if (pg_exec_script(c, sql, &err, "test") < 0)
		fail_msg("%s: %s", sql, err.message);
}

/* Every "table.column" (or index name) of a fresh SQLite store, one per line, sorted. */
static char *sqlite_names(const char *sql)
{
	char dir[] = "/tmp/test_server_store_pg.XXXXXX", path[128], cmd[160];
	struct margo_error err;
	sqlite3 *db;
	sqlite3_stmt *s;
	store *st;
	size_t len = 0, cap = 1 << 16;
	char *out = calloc(1, cap);

	assert_non_null(out);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/wfmd.db", dir);
	assert_int_equal(store_open(path, &st, &err), 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		len += snprintf(out + len, cap - len, "%s\n", sqlite3_column_text(s, 0));
		assert_true(len < cap);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return out;
}

static char *pg_names(struct pg_conn *c, const char *sql)
{
	struct margo_error err;
	PGresult *res = pg_exec(c, sql, 0, NULL, &err, "test");
	size_t len = 0, cap = 1 << 16;
	char *out = calloc(1, cap);

	assert_non_null(res);
	assert_non_null(out);
	for (int i = 0; i < PQntuples(res); i++) {
		len += snprintf(out + len, cap - len, "%s\n", PQgetvalue(res, i, 0));
		assert_true(len < cap);
	}
	PQclear(res);
	return out;
}

static void assert_same_names(const char *sqlite_sql, struct pg_conn *c, const char *pg_sql)
{
	char *a = sqlite_names(sqlite_sql), *b = pg_names(c, pg_sql);

	assert_true(strlen(a) > 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* A fresh database gets every step, recorded once; the same tables, columns, indexes and
 * triggers as SQLite's (schema_version is SQLite's 0.1 legacy only); a second migration
 * changes nothing. */
static void test_migrate_fresh_like_sqlite(void **state)
{
	struct fixture *f = *state;

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM schema_migrations"),
			 (long)pg_schema_nsteps());
	assert_int_equal(query_long(f->c, "SELECT max(version) FROM schema_migrations"),
			 pg_schema_latest());
	assert_same_names(
		"SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p"
		" WHERE m.type = 'table' AND m.name NOT IN ('sqlite_sequence', 'schema_version')"
		" ORDER BY 1 COLLATE BINARY",
		f->c,
		"SELECT table_name || '.' || column_name FROM information_schema.columns"
		" WHERE table_schema = 'public'"
		" ORDER BY (table_name || '.' || column_name) COLLATE \"C\"");
	assert_same_names(
		"SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
		" ORDER BY 1 COLLATE BINARY",
		f->c,
		"SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
		" AND indexname NOT IN (SELECT conname FROM pg_constraint)"
		" ORDER BY indexname COLLATE \"C\"");
	assert_same_names(
		"SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1 COLLATE BINARY",
		f->c,
		"SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname COLLATE \"C\"");

	struct margo_error err;
	assert_int_equal(pg_schema_migrate(f->c, T0 + 1, &err), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM schema_migrations"),
			 (long)pg_schema_nsteps());
	assert_int_equal(query_long(f->c, "SELECT max(applied_at) FROM schema_migrations"), T0);
}

#define NREPLICAS 4

struct replica {
	const char *conninfo;
	pthread_barrier_t *start;
	int rc;
	char message[MARGO_ERROR_MSG_MAX];
};

static void *replica_start(void *p)
{
	struct replica *r = p;
	struct margo_error err = { 0 };
	struct pg_pool *pool = NULL;
	struct pg_conn *c;

	r->rc = pg_pool_new(r->conninfo, PG_STATEMENT_TIMEOUT_MS, &pool, &err);
	pthread_barrier_wait(r->start);
	if (r->rc == 0) {
		c = pg_conn_get(pool, &err);
		r->rc = c != NULL ? pg_schema_migrate(c, T0, &err) : MARGO_ESTORE;
	}
	snprintf(r->message, sizeof(r->message), "%s", err.message);
	pg_pool_free(pool);
	return NULL;
}

/* Replicas starting together on an empty database: every one starts, each step is applied
 * once (without the advisory lock, the losers' CREATE TABLE would fail). */
static void test_migrate_concurrent_once(void **state)
{
	struct fixture *f = *state;
	struct replica r[NREPLICAS];
	pthread_t tid[NREPLICAS];
	pthread_barrier_t start;
	struct margo_error err;

	assert_int_equal(pthread_barrier_init(&start, NULL, NREPLICAS), 0);
	for (int i = 0; i < NREPLICAS; i++) {
		r[i] = (struct replica){ .conninfo = f->conninfo, .start = &start };
		assert_int_equal(pthread_create(&tid[i], NULL, replica_start, &r[i]), 0);
	}
	for (int i = 0; i < NREPLICAS; i++) {
		pthread_join(tid[i], NULL);
		if (r[i].rc != 0)
			fail_msg("replica %d: %s", i, r[i].message);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(pg_pool_new(f->conninfo, 0, &f->pool, &err), 0);
	f->c = pg_conn_get(f->pool, &err);
	assert_non_null(f->c);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM schema_migrations"),
			 (long)pg_schema_nsteps());
}

/* A database migrated by a newer wfmd: refused with a message that says what to do, and
 * nothing applied. */
static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[128];

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, %d)",
		 pg_schema_latest() + 1, T0);
	exec_ok(f->c, sql);
	exec_ok(f->c, "DELETE FROM schema_migrations WHERE version = 8");
	assert_int_equal(pg_schema_migrate(f->c, T0, &err), MARGO_ESTORE);
	assert_non_null(strstr(err.message, "newer than this wfmd"));
	/* Rolled back: step 8 was not re-applied, and the connection still works. */
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM schema_migrations"),
			 (long)pg_schema_nsteps());
}

/* Step 6's triggers: the newest report is the latest, also when reports commit out of seq
 * order; trimming falls back to the newest left; deleting the device removes it. */
static void test_latest_triggers(void **state)
{
	struct fixture *f = *state;
	const char *latest = "SELECT seq FROM deployment_latest WHERE device_id = 'd1'"
			     " AND deployment_id = 'x'";

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('d1', 'active', 'pem', 'fp1', 'k1', 100)");
	exec_ok(f->c, "INSERT INTO deployment_status (seq, device_id, deployment_id, state,"
		" document, received_at) VALUES (10, 'd1', 'x', 'Pending', '{}', 1),"
		" (20, 'd1', 'x', 'Installed', '{}', 2)");
	assert_int_equal(query_long(f->c, latest), 20);
	/* A report with a lower seq committed later does not move the latest back. */
	exec_ok(f->c, "INSERT INTO deployment_status (seq, device_id, deployment_id, state,"
		" document, received_at) VALUES (15, 'd1', 'x', 'Failed', '{}', 3)");
	assert_int_equal(query_long(f->c, latest), 20);
	assert_int_equal(query_long(f->c, "SELECT device_created_at FROM deployment_latest"), 100);
	exec_ok(f->c, "DELETE FROM deployment_status WHERE seq = 20");
	assert_int_equal(query_long(f->c, latest), 15);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployment_latest"
				    " WHERE deployment_state = 'Failed'"), 1);
	exec_ok(f->c, "DELETE FROM devices WHERE id = 'd1'");
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployment_latest"), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployment_status"), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A statement longer than the pool's statement_timeout is cancelled ("store timeout",
 * MARGO_ESTORE: 503 on the wire) well before it would end; the connection goes on. */
static void test_statement_timeout(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	double t;

	open_migrated(f, 200);
	t = now_s();
	assert_null(pg_exec(f->c, "SELECT pg_sleep(3)", 0, NULL, &err, "sleep"));
	assert_true(now_s() - t < 2.0);
	assert_int_equal(err.code, MARGO_ESTORE);
	assert_non_null(strstr(err.message, "store timeout"));
	assert_int_equal(query_long(f->c, "SELECT 1"), 1);
}

/* The server ends the connection (PostgreSQL restarted, an operator's pg_terminate_backend):
 * the call that finds out fails as "store unavailable", the thread's next call reconnects,
 * with statement_timeout set again. */
static void test_reconnect(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[96];
	int pid;

	open_migrated(f, 300);
	pid = PQbackendPID(f->c->db);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
	admin_exec(f->admin, sql);
	assert_null(pg_exec(f->c, "SELECT 1", 0, NULL, &err, "after kill"));
	assert_int_equal(err.code, MARGO_ESTORE);
	assert_non_null(strstr(err.message, "store unavailable"));
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_not_equal(PQbackendPID(f->c->db), pid);
	assert_int_equal(query_long(f->c, "SELECT 1"), 1);
	assert_int_equal(query_long(f->c, "SELECT setting::int FROM pg_settings"
				    " WHERE name = 'statement_timeout'"), 300);
}

/* A reconnect that fails is not tried again by the same thread for PG_RECONNECT_MS (a
 * request per attempt while PostgreSQL is down); after that it is, and succeeds once the
 * server takes connections again. */
static void test_reconnect_backoff(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[128];

	open_migrated(f, 300);
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", f->dbname);
	admin_exec(f->admin, sql);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(f->c->db));
	admin_exec(f->admin, sql);
	assert_null(pg_exec(f->c, "SELECT 1", 0, NULL, &err, "after kill"));
	/* The reconnect is refused ... */
	assert_null(pg_conn_get(f->pool, &err));
	assert_non_null(strstr(err.message, "store unavailable (reconnect)"));
	/* ... and not attempted again at once. */
	assert_null(pg_conn_get(f->pool, &err));
	assert_string_equal(err.message, "store unavailable: reconnecting");
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", f->dbname);
	admin_exec(f->admin, sql);
	usleep((PG_RECONNECT_MS + 20) * 1000);
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_equal(query_long(f->c, "SELECT 1"), 1);
}

/* A connection the server closed while it was idle (a PostgreSQL restart) is reset when the
 * thread next asks for it, before a statement is lost on it. */
static void test_idle_closed_reset(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[128];
	int pid, i;

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	pid = PQbackendPID(f->c->db);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
	admin_exec(f->admin, sql);
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity WHERE pid = %d", pid);
	for (i = 0; i < 100; i++) {     /* the backend gone, its socket closed */
		PGresult *res = PQexec(f->admin, sql);
		int gone = PQntuples(res) == 0;

		PQclear(res);
		if (gone)
			break;
		usleep(20000);
	}
	usleep(50000);
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_not_equal(PQbackendPID(f->c->db), pid);
	assert_int_equal(query_long(f->c, "SELECT 1"), 1);
}

/* A statement_timeout in the connection string wins over the pool's default. */
static void test_conninfo_timeout_wins(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char conninfo[600];

	snprintf(conninfo, sizeof(conninfo), "%s?options=-c%%20statement_timeout%%3D700",
		 f->conninfo);
	assert_int_equal(pg_pool_new(conninfo, PG_STATEMENT_TIMEOUT_MS, &f->pool, &err), 0);
	f->c = pg_conn_get(f->pool, &err);
	assert_non_null(f->c);
	assert_int_equal(query_long(f->c, "SELECT setting::int FROM pg_settings"
				    " WHERE name = 'statement_timeout'"), 700);
	assert_int_equal(f->c->deadline_ms, 700 + PG_DEADLINE_GRACE_MS);
}

/* A server that stops answering without closing the connection (frozen: its backend
 * SIGSTOPped, so statement_timeout cannot fire): the statement fails as "store timeout"
 * after statement_timeout + the grace, not never; the connection is reset on the next call.
 * Needs the right to signal the backend (root, or the cluster's owner): skipped otherwise. */
static void test_frozen_server_deadline(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	double t;
	int pid;

	open_migrated(f, 300);
	pid = PQbackendPID(f->c->db);
	if (kill(pid, SIGSTOP) < 0)
		skip();
	t = now_s();
	assert_null(pg_exec(f->c, "SELECT 1", 0, NULL, &err, "frozen"));
	t = now_s() - t;
	kill(pid, SIGCONT);
	assert_true(t >= 0.3 + PG_DEADLINE_GRACE_MS / 1000.0 - 0.05);
	assert_true(t < 0.3 + PG_DEADLINE_GRACE_MS / 1000.0 + 3.0);
	assert_int_equal(err.code, MARGO_ESTORE);
	assert_non_null(strstr(err.message, "store timeout"));
	assert_true(f->c->broken);
	assert_null(pg_exec(f->c, "SELECT 1", 0, NULL, &err, "still broken"));
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_not_equal(PQbackendPID(f->c->db), pid);
	assert_int_equal(query_long(f->c, "SELECT 1"), 1);
}

static int insert_label(struct pg_conn *c, const char *key, struct margo_error *err)
{
	const char *params[] = { key };

	return pg_exec_cmd(c, "INSERT INTO device_labels (device_id, key, value)"
			   " VALUES ('d1', $1, 'v')", 1, params, err, "label");
}

/* A transaction with savepoints inside (store_batch_begin around store calls): a failed
 * inner call (here a duplicate key, which aborts PostgreSQL's transaction until the
 * savepoint is rolled back to) undoes only its own writes; the rest commits together. */
static void test_tx_savepoints(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('d1', 'active', 'pem', 'fp1', 'k1', 100)");
	assert_int_equal(pg_tx_begin(f->c, &err), 0);
	assert_int_equal(insert_label(f->c, "a", &err), 0);
	assert_int_equal(pg_tx_begin(f->c, &err), 0);         /* an inner call that fails */
	assert_int_equal(insert_label(f->c, "b", &err), 0);
	assert_int_equal(insert_label(f->c, "a", &err), MARGO_ESTORE);
	assert_int_equal(pg_tx_end(f->c, MARGO_ESTORE, &err), MARGO_ESTORE);
	assert_int_equal(pg_tx_begin(f->c, &err), 0);         /* one that succeeds */
	assert_int_equal(insert_label(f->c, "c", &err), 0);
	assert_int_equal(pg_tx_end(f->c, 0, &err), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM device_labels"), 2);
	assert_int_equal(pg_tx_end(f->c, 0, &err), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM device_labels"
				    " WHERE key IN ('a', 'c')"), 2);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM device_labels"), 2);

	/* rc < 0 at the end rolls everything back. */
	assert_int_equal(pg_tx_begin(f->c, &err), 0);
	assert_int_equal(insert_label(f->c, "d", &err), 0);
	assert_int_equal(pg_tx_end(f->c, MARGO_ECONFLICT, &err), MARGO_ECONFLICT);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM device_labels"), 2);
}

/* The connection lost inside a transaction: its end reports the loss (never "committed"),
 * nothing of it is in the database, and the thread's next call reconnects. */
static void test_tx_lost_connection(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[96];

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('d1', 'active', 'pem', 'fp1', 'k1', 100)");
	assert_int_equal(pg_tx_begin(f->c, &err), 0);
	assert_int_equal(insert_label(f->c, "a", &err), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(f->c->db));
	admin_exec(f->admin, sql);
	assert_int_equal(insert_label(f->c, "b", &err), MARGO_ESTORE);
	assert_null(pg_conn_get(f->pool, &err));               /* still in the transaction */
	assert_int_equal(pg_tx_end(f->c, 0, &err), MARGO_ESTORE);
	assert_non_null(strstr(err.message, "store unavailable"));
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM device_labels"), 0);
}

/* Any function pointer (all have one size and representation on our platforms). */
typedef void (*any_fn)(void);

/* wfmd's own path, store_open_url with a postgresql:// URL, opens this backend, and its table
 * sets every member (the backend's whole contract, as test_server_store_backend checks for
 * SQLite's). */
static void test_backend_ops_complete(void **state)
{
	struct fixture *f = *state;
	size_t first = offsetof(struct store_ops, close), n;
	struct margo_error err;
	store *st = NULL;
	any_fn fn;

	if (store_open_url(f->conninfo, NULL, &st, &err) < 0)
		fail_msg("store_open_url: %s", err.message);
	assert_string_equal(st->ops->name, "postgresql");
	assert_int_equal(store_ping(st, &err), 0);
	/* a read-only database is not ready (this thread's connection, as a standby would be) */
	assert_int_equal(store_batch_begin(st, &err), 0);
	exec_ok(pg_conn_get(pg_pool_of(st), &err), "SET TRANSACTION READ ONLY");
	assert_int_equal(store_ping(st, &err), MARGO_ESTORE);
	assert_non_null(strstr(err.message, "read-only"));
	assert_int_equal(store_batch_end(st, MARGO_ECONFLICT, &err), MARGO_ECONFLICT);
	assert_int_equal(store_ping(st, &err), 0);
	assert_int_equal((sizeof(*st->ops) - first) % sizeof(any_fn), 0);
	n = (sizeof(*st->ops) - first) / sizeof(any_fn);
	for (size_t i = 0; i < n; i++) {
		memcpy(&fn, (const char *)st->ops + first + i * sizeof(any_fn), sizeof(fn));
		if (fn == NULL)
			fail_msg("store_ops member %zu of %zu is NULL", i, n);
	}
	store_close(st);
}

/* Nothing listens: "store unavailable" within the connect timeout, the password nowhere in
 * the message; a malformed connection string is invalid input, not unavailability. */
static void test_unreachable_and_invalid(void **state)
{
	struct pg_pool *pool = NULL;
	struct margo_error err;
	double t = now_s();

	assert_int_equal(pg_pool_new("postgresql://wfmd:sekrit@127.0.0.1:1/wfmd", 1000, &pool,
				     &err), MARGO_ESTORE);
	assert_null(pool);
	assert_true(now_s() - t < PG_CONNECT_TIMEOUT_S + 2);
	assert_non_null(strstr(err.message, "store unavailable"));
	assert_null(strstr(err.message, "sekrit"));
	assert_int_equal(pg_pool_new("postgresql://wfmd:sekrit@[::1/x", 1000, &pool, &err),
			 MARGO_EINVAL);
	assert_null(strstr(err.message, "sekrit"));
	assert_int_equal(pg_pool_new("host=127.0.0.1 nosuchkey=1", 1000, &pool, &err),
			 MARGO_EINVAL);
}

/* Statements with parameters are prepared once per connection, survive a rolled-back
 * transaction (protocol-level statements are not transactional), and past PG_STMT_MAX run
 * unprepared, still answering right. */
static void test_prepared_statements(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	char sql[64];
	int i;

	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	/* Our own statement_timeout (5000 ms, which set_config reports as "5s") is the deadline's
	 * base, in milliseconds. */
	assert_int_equal(f->c->deadline_ms, PG_STATEMENT_TIMEOUT_MS + PG_DEADLINE_GRACE_MS);
	for (i = 0; i < 3; i++)
		assert_int_equal(query_long(f->c, "SELECT 41 + 1"), 42);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM pg_prepared_statements"
				    " WHERE statement = 'SELECT 41 + 1'"), 1);
	assert_int_equal(pg_tx_begin(f->c, &err), 0);
	assert_int_equal(query_long(f->c, "SELECT 6 + 1"), 7);
	assert_int_equal(pg_tx_end(f->c, MARGO_EINVAL, &err), MARGO_EINVAL);
	assert_int_equal(query_long(f->c, "SELECT 6 + 1"), 7);
	for (i = 0; i < PG_STMT_MAX + 40; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		assert_int_equal(query_long(f->c, sql), i);
	}
	assert_int_equal(f->c->nstmts, PG_STMT_MAX);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM pg_prepared_statements"),
			 PG_STMT_MAX);
	/* A new connection has none: the table starts again. */
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(f->c->db));
	admin_exec(f->admin, sql);
	assert_null(pg_exec(f->c, "SELECT 1", 0, NULL, &err, "after kill"));
	assert_ptr_equal(pg_conn_get(f->pool, &err), f->c);
	assert_int_equal(query_long(f->c, "SELECT 41 + 1"), 42);
	assert_true(f->c->nstmts < 5);
}

/* The cache of Git objects (store_pg_objcache.c): copies out, bounded by bytes, least
 * recently used first out, large objects never kept. */
static void test_objcache(void **state)
{
	struct pg_objcache *oc = pg_objcache_new(1000);
	unsigned char oid[STORE_OID_LEN], content[200], *data;
	unsigned long hits, misses;
	size_t len, bytes;
	int type, i;

	(void)state;
	assert_non_null(oc);
	memset(content, 'x', sizeof(content));
	for (i = 0; i < 10; i++) {
		memset(oid, i, sizeof(oid));
		content[0] = (unsigned char)('a' + i);
		pg_objcache_put(oc, oid, 3, content, 100);
	}
	memset(oid, 0, sizeof(oid));
	assert_int_equal(pg_objcache_get(oc, oid, &type, &data, &len), 1);
	assert_int_equal(type, 3);
	assert_int_equal(len, 100);
	assert_int_equal(data[0], 'a');
	assert_int_equal(data[100], '\0');
	free(data);
	/* Full (10 x 100 of 1000): one more pushes out the least recently used, object 1
	 * (object 0 was just read). */
	memset(oid, 10, sizeof(oid));
	pg_objcache_put(oc, oid, 1, content, 100);
	memset(oid, 1, sizeof(oid));
	assert_int_equal(pg_objcache_get(oc, oid, &type, &data, &len), 0);
	memset(oid, 0, sizeof(oid));
	assert_int_equal(pg_objcache_get(oc, oid, &type, &data, &len), 1);
	free(data);
	/* Over an eighth of the cache: not kept. */
	memset(oid, 11, sizeof(oid));
	pg_objcache_put(oc, oid, 3, content, 126);
	assert_int_equal(pg_objcache_get(oc, oid, &type, &data, &len), 0);
	pg_objcache_stats(oc, &bytes, &hits, &misses);
	assert_int_equal(bytes, 1000);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 2);
	pg_objcache_free(oc);
}

static void test_no_postgresql(void **state)
{
	skip();
}

int main(void)
{
	const char *url = getenv("WFMD_TEST_PG");
	const struct CMUnitTest none[] = { cmocka_unit_test(test_objcache),
					   cmocka_unit_test(test_no_postgresql) };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objcache),
		cmocka_unit_test_setup_teardown(test_prepared_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_fresh_like_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_concurrent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latest_triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_closed_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conninfo_timeout_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen_server_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_savepoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_lost_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_ops_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_and_invalid, setup, teardown),
	};

	/* ctest's pg/test_server_store_pg runs this with a PostgreSQL of its own. */
	if (url == NULL || url[0] == '\0')
		return cmocka_run_group_tests(none, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_no_postgresql(void **state)
{
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_no_postgresql) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
