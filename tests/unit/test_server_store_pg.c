/* The PostgreSQL backend's foundations (store_pg_int.h) against a real PostgreSQL: the
 * schema's migrations (the same tables, columns and indexes as SQLite's; applied once by
 * replicas starting together; a newer schema refused), the latest-status triggers, and the
 * connections (statement_timeout, reconnect after a lost connection, an unreachable server,
 * a bad connection string) and transactions (savepoints inside one; a connection lost in
 * one), and the backend's store functions finished so far (onboarding and its token race,
 * polls, credentials, the desired state's compare-and-set, races between connections). The
 * store API's own suites (test_server_store*.c, test_server_desired.c: pages, operators, audit
 * and the rest) run on PostgreSQL too, through store_fixture.h. WFMD_TEST_PG names a
 * PostgreSQL (a libpq URL ending in the database name) where each test creates and drops its
 * own database; ctest's pg/ entries run this under tests/pg/pgtmp.sh, which starts one in a
 * temp dir. Without WFMD_TEST_PG (or without libpq) every test is skipped. */
#include <setjmp.h>
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

#define NRACE 30

struct decider {
	store *st;
	int approve;
	int rc[NRACE];
	pthread_barrier_t *start;
};

static void *decide_all(void *p)
{
	struct decider *d = p;
	struct margo_error err;
	char id[16];

	pthread_barrier_wait(d->start);
	for (int i = 0; i < NRACE; i++) {
		snprintf(id, sizeof(id), "dev-%d", i);
		d->rc[i] = d->approve ? store_device_approve(d->st, id, T0, &err) :
			store_device_reject(d->st, id, T0, &err);
	}
	return NULL;
}

/* The backend (store_pg.c): approve against reject of the same pending devices
 * from two threads (two connections, as two replicas would): for each device exactly one
 * decision wins, the other is MARGO_ECONFLICT, and the state is the winner's. */
static void test_backend_approve_vs_reject(void **state)
{
	struct fixture *f = *state;
	struct decider a = { .approve = 1 }, r = { .approve = 0 };
	struct store_device dev;
	struct margo_error err;
	pthread_barrier_t start;
	pthread_t ta, tr;
	store *st;
	char sql[256];

	if (store_pg_open(f->conninfo, &st, &err) < 0)
		fail_msg("store_pg_open: %s", err.message);
	assert_int_equal(store_ping(st, &err), 0);
	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	for (int i = 0; i < NRACE; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO devices (id, state, certificate_pem,"
			 " certificate_fingerprint, keyid, created_at) VALUES ('dev-%d', 'pending',"
			 " 'pem', 'fp%d', 'k', %d)", i, i, T0);
		exec_ok(f->c, sql);
	}
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	a.st = r.st = st;
	a.start = r.start = &start;
	assert_int_equal(pthread_create(&ta, NULL, decide_all, &a), 0);
	assert_int_equal(pthread_create(&tr, NULL, decide_all, &r), 0);
	pthread_join(ta, NULL);
	pthread_join(tr, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NRACE; i++) {
		snprintf(sql, sizeof(sql), "dev-%d", i);
		assert_int_equal(store_device_get(st, sql, T0, &dev, &err), 0);
		if (a.rc[i] == 0) {
			assert_int_equal(r.rc[i], MARGO_ECONFLICT);
			assert_string_equal(dev.state, "active");
		} else {
			assert_int_equal(a.rc[i], MARGO_ECONFLICT);
			assert_int_equal(r.rc[i], 0);
			assert_string_equal(dev.state, "rejected");
		}
		store_device_clear(&dev);
	}
	assert_int_equal(store_device_approve(st, "nope", T0, &err), MARGO_ENOTFOUND);
	store_close(st);
}

/* The store on the fixture's database, through store.h (the backend's table). */
static store *open_store(struct fixture *f)
{
	struct margo_error err;
	store *st;

	if (store_pg_open(f->conninfo, &st, &err) < 0)
		fail_msg("store_pg_open: %s", err.message);
	open_migrated(f, PG_STATEMENT_TIMEOUT_MS);
	return st;
}

/* An onboarding request for certificate n (fingerprint fp<n>, new ids dev-<n>, req-<n>). */
struct onboard_req {
	char fp[32], dev[32], req[32], git[32], sec[32];
	struct store_onboard_in in;
};

static void onboard_req_init(struct onboard_req *r, int n, const char *token_hash, int64_t now)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->fp, sizeof(r->fp), "fp%d", n);
	snprintf(r->dev, sizeof(r->dev), "dev-%d", n);
	snprintf(r->req, sizeof(r->req), "req-%d", n);
	snprintf(r->git, sizeof(r->git), "git%d", n);
	snprintf(r->sec, sizeof(r->sec), "sec%d", n);
	r->in.fingerprint = r->fp;
	r->in.keyid = "k";
	r->in.certificate_pem = "pem";
	r->in.model_number = "m";
	r->in.serial_number = "s";
	r->in.enrollment_token_hash = token_hash;
	r->in.allow_approval_requests = 1;
	r->in.pending_max = 100;
	r->in.pending_ttl = 600;
	r->in.now = now;
	r->in.new_device_id = r->dev;
	r->in.new_request_id = r->req;
	r->in.secret_hash = r->sec;
	r->in.git_token_hash = r->git;
	r->in.git_token_expires_at = now + 3600;
	r->in.poll_token_hash = "poll";
}

static void token_add(store *st, const char *id, const char *hash, long max_uses, int auto_ok)
{
	struct store_enrollment_token t = { .created_at = T0, .expires_at = T0 + 86400,
					    .max_uses = max_uses, .auto_approve = auto_ok };
	struct margo_error err;

	snprintf(t.id, sizeof(t.id), "%s", id);
	if (store_enrollment_token_create(st, &t, hash, &err) < 0)
		fail_msg("token create: %s", err.message);
}

/* Onboarding as SQLite decides it: an auto-approving token, the lost-response repeat, the
 * credentials' first use and access checks, git tokens, an approval request polled to
 * approval, a bad poll token, a used-up token, a pre-registered certificate, a rejected one,
 * and an overdue request expired (its never-approved device dropped) by a listing. */
static void test_backend_onboard(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	struct onboard_req r;
	struct store_onboard_out out;
	struct store_device *devs;
	enum store_poll_result pr;
	char id[MARGO_UUID_LEN];
	struct margo_error err;
	int64_t epoch;
	size_t n;

	token_add(st, "tok-auto", "hauto", 1, 1);
	onboard_req_init(&r, 1, "hauto", T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.device_id, "dev-1");
	/* lost response: same device, new secret, no token use */
	r.in.secret_hash = "secret2";
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_string_equal(out.reason, "repeat");
	assert_int_equal(store_client_authenticate(st, "dev-1", "sec1", T0, &epoch, &err),
			 MARGO_EAUTH);
	assert_int_equal(store_client_authenticate(st, "dev-1", "secret2", T0, &epoch, &err), 0);
	assert_int_equal(store_access_check(st, "dev-1", epoch, T0, &err), 0);
	assert_int_equal(store_access_check(st, "dev-1", epoch + 1, T0, &err), MARGO_EAUTH);
	assert_int_equal(store_git_token_check(st, "git1", T0, id, &err), 0);
	assert_string_equal(id, "dev-1");
	assert_int_equal(store_git_token_check(st, "git1", T0 + 3600, id, &err), MARGO_EAUTH);
	for (int i = 0; i < 4; i++) {
		char h[16];

		snprintf(h, sizeof(h), "g%d", i);
		assert_int_equal(store_git_token_issue(st, "dev-1", h, T0, T0 + 100 + i, &err), 0);
	}
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM git_tokens"), STORE_GIT_TOKENS_MAX);
	assert_int_equal(store_git_token_check(st, "g3", T0, id, &err), 0);
	assert_int_equal(store_git_token_check(st, "g0", T0, id, &err), MARGO_EAUTH);
	/* credentials used: a second onboarding without a token conflicts; the token is used up */
	r.in.enrollment_token_hash = NULL;
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_CONFLICT);
	onboard_req_init(&r, 2, "hauto", T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_TOKEN_INVALID);
	/* approval request, approved, polled */
	onboard_req_init(&r, 3, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_PENDING);
	assert_string_equal(out.request_id, "req-3");
	assert_int_equal(store_poll(st, "req-3", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_PENDING);
	assert_int_equal(store_poll(st, "req-3", "bad", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_BAD_TOKEN);
	assert_int_equal(store_poll(st, "nope", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_UNKNOWN);
	assert_int_equal(store_device_approve(st, "dev-3", T0, &err), 0);
	assert_int_equal(store_poll(st, "req-3", "poll", "s3", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_APPROVED);
	assert_string_equal(id, "dev-3");
	assert_int_equal(store_client_authenticate(st, "dev-3", "s3", T0, &epoch, &err), 0);
	assert_int_equal(store_poll(st, "req-3", "poll", "s4", NULL, 0, T0, &pr, id, &err), 0);
	assert_int_equal(pr, STORE_POLL_GONE);
	/* pre-registered, then rejected */
	assert_int_equal(store_certificate_add(st, "fp4", "pem", "d", T0, &err), 0);
	assert_int_equal(store_certificate_add(st, "fp4", "pem", "d", T0, &err), MARGO_EEXIST);
	onboard_req_init(&r, 4, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_APPROVED);
	assert_int_equal(store_certificate_remove(st, "fp4", &err), 0);
	assert_int_equal(store_certificate_remove(st, "fp4", &err), MARGO_ENOTFOUND);
	onboard_req_init(&r, 5, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(store_device_reject(st, "dev-5", T0, &err), 0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(out.result, STORE_ONBOARD_REJECTED);
	/* overdue: the pending device of request 6 goes with its request */
	onboard_req_init(&r, 6, NULL, T0);
	assert_int_equal(store_onboard(st, &r.in, &out, &err), 0);
	assert_int_equal(store_device_list(st, "pending", T0, &devs, &n, &err), 0);
	assert_int_equal(n, 1);
	store_devices_free(devs, n);
	assert_int_equal(store_device_list(st, NULL, T0 + 601, &devs, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(devs[0].id, "dev-1");
	store_devices_free(devs, n);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM onboarding_requests"
				    " WHERE state = 'expired'"), 1);
	assert_int_equal(store_enrollment_token_revoke(st, "tok-auto", &err), 0);
	assert_int_equal(store_enrollment_token_revoke(st, "nope", &err), MARGO_ENOTFOUND);
	store_close(st);
}

#define NSPEND 20
#define TOKEN_USES 7

struct spender {
	store *st;
	int base;
	int approved;
	int invalid;
	pthread_barrier_t *start;
};

static void *spend_all(void *p)
{
	struct spender *s = p;
	struct store_onboard_out out;
	struct onboard_req r;
	struct margo_error err;

	pthread_barrier_wait(s->start);
	for (int i = 0; i < NSPEND; i++) {
		onboard_req_init(&r, s->base + i, "hrace", T0);
		if (store_onboard(s->st, &r.in, &out, &err) < 0)
			continue;
		s->approved += out.result == STORE_ONBOARD_APPROVED;
		s->invalid += out.result == STORE_ONBOARD_TOKEN_INVALID;
	}
	return NULL;
}

/* A token of TOKEN_USES uses spent by two connections at once (two replicas): exactly
 * TOKEN_USES devices onboard, every other request is TOKEN_INVALID, the count never
 * overshoots. */
static void test_backend_token_race(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	struct spender a = { .base = 100 }, b = { .base = 200 };
	pthread_barrier_t start;
	pthread_t ta, tb;

	token_add(st, "tok-race", "hrace", TOKEN_USES, 1);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	a.st = b.st = st;
	a.start = b.start = &start;
	assert_int_equal(pthread_create(&ta, NULL, spend_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, spend_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	assert_int_equal(a.approved + b.approved, TOKEN_USES);
	assert_int_equal(a.invalid + b.invalid, 2 * NSPEND - TOKEN_USES);
	assert_int_equal(query_long(f->c, "SELECT uses FROM enrollment_tokens"), TOKEN_USES);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM devices"), TOKEN_USES);
	store_close(st);
}

#define NCAS 20

struct committer {
	store *st;
	int wins;
	const char *tag;
	pthread_barrier_t *start;
};

/* Moves dev-1's reference from what it reads to a revision of its own, NCAS times. */
static void *commit_all(void *p)
{
	struct committer *m = p;
	struct store_desired_change ch = { .device_id = "dev-1", .now = T0 };
	char old[STORE_REVISION_LEN], rev[STORE_REVISION_LEN];
	struct margo_error err;

	pthread_barrier_wait(m->start);
	for (int i = 0; i < NCAS; i++) {
		if (store_repo_revision_get(m->st, "dev-1", old, &err) < 0)
			continue;
		snprintf(rev, sizeof(rev), "%s%038d", m->tag, i);
		ch.old_rev = old;
		ch.new_rev = rev;
		m->wins += store_desired_commit(m->st, &ch, &err) == 0;
	}
	return NULL;
}

/* The desired state: creation once, objects stored once and read back (an empty one too),
 * a deployment row put and removed, and the compare-and-set reference moved by two
 * connections at once: each success moved it from the revision its writer read, so the
 * number of successes is the number of moves. */
static void test_backend_desired(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	struct store_object objs[2] = {
		{ .oid = { 1, 2, 3 }, .type = STORE_OBJECT_BLOB, .data = "hello\0x", .len = 7 },
		{ .oid = { 9 }, .type = STORE_OBJECT_TREE, .data = "", .len = 0 },
	};
	struct store_desired_change ch = { .device_id = "dev-1", .new_rev = "aa", .objects = objs,
					   .nobjects = 2, .op = STORE_DESIRED_PUT,
					   .deployment_id = "d1", .name = "n", .application_id = "a",
					   .now = T0 };
	struct committer a = { .tag = "a" }, b = { .tag = "b" };
	struct store_object_stats stats;
	char rev[STORE_REVISION_LEN];
	pthread_barrier_t start;
	struct margo_error err;
	unsigned char *data;
	pthread_t ta, tb;
	size_t len;
	int type;

	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ENOTFOUND);
	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-1', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ECONFLICT);
	assert_int_equal(store_object_get(st, objs[0].oid, &type, &data, &len, &err), 0);
	assert_int_equal(type, STORE_OBJECT_BLOB);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "hello\0x", 7);
	free(data);
	assert_int_equal(store_object_get(st, objs[1].oid, &type, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(store_object_get(st, (unsigned char[STORE_OID_LEN]){ 7 }, &type, &data,
					  &len, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_object_stats(st, &stats, &err), 0);
	assert_int_equal(stats.objects, 2);
	assert_int_equal(stats.bytes, 7);
	assert_int_equal(stats.refs, 1);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployments"), 1);
	ch.old_rev = "aa";
	ch.op = STORE_DESIRED_REMOVE;
	ch.deployment_id = "d2";
	assert_int_equal(store_desired_commit(st, &ch, &err), MARGO_ENOTFOUND);
	ch.deployment_id = "d1";
	ch.new_rev = "bb";
	assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployments"), 0);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	a.st = b.st = st;
	a.start = b.start = &start;
	assert_int_equal(pthread_create(&ta, NULL, commit_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, commit_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	assert_true(a.wins > 0 && b.wins > 0);
	assert_true(a.wins + b.wins <= 2 * NCAS);
	assert_int_equal(store_repo_revision_get(st, "dev-1", rev, &err), 0);
	assert_int_equal(strlen(rev), 39);
	assert_int_equal(store_repo_revision_get(st, "dev-2", rev, &err), MARGO_ENOTFOUND);
	store_close(st);
}

/* Reports: capabilities replaced, status history trimmed to STORE_STATUS_HISTORY with the
 * latest listed, and the desired deployments listed and paged with their latest status. */
static void test_backend_reports(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	const char *deps[] = { "d1", "d2", "d3" };
	struct store_desired_change ch = { .device_id = "dev-1", .op = STORE_DESIRED_PUT,
					   .name = "n", .application_id = "a" };
	struct store_deployment *ds;
	struct store_desired *dd;
	struct store_cursor cur;
	struct margo_error err;
	char revs[3][8], doc[32], name[STORE_TEXT_MAX];
	int64_t seq, at;
	size_t n, len;
	char *caps;
	int more;

	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-1', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_capabilities_get(st, "dev-1", &caps, &len, &at, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(store_capabilities_put(st, "dev-1", "{\"a\":1}xx", 7, T0, &err), 0);
	assert_int_equal(store_capabilities_put(st, "dev-1", "{\"b\":2}", 7, T0 + 1, &err), 0);
	assert_int_equal(store_capabilities_get(st, "dev-1", &caps, &len, &at, &err), 0);
	assert_string_equal(caps, "{\"b\":2}");
	assert_int_equal(len, 7);
	assert_int_equal(at, T0 + 1);
	free(caps);
	for (int i = 0; i < 3; i++) {
		snprintf(revs[i], sizeof(revs[i]), "r%d", i);
		ch.old_rev = i == 0 ? NULL : revs[i - 1];
		ch.new_rev = revs[i];
		ch.deployment_id = deps[i];
		ch.now = T0 + i;
		assert_int_equal(store_desired_commit(st, &ch, &err), 0);
	}
	assert_int_equal(store_deployment_status_seq(st, "dev-1", "d1", &seq, &err), 0);
	assert_int_equal(seq, 0);
	for (int i = 0; i < STORE_STATUS_HISTORY + 5; i++) {
		snprintf(doc, sizeof(doc), "{\"n\":%d}", i);
		assert_int_equal(store_deployment_status_add(st, "dev-1", "d1", i % 2 ? "Failed" :
							     "Installed", doc, strlen(doc), T0 + i,
							     &err), 0);
	}
	assert_int_equal(store_deployment_status_add(st, "dev-1", "d3", "Installing", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(query_long(f->c, "SELECT count(*) FROM deployment_status"
				    " WHERE deployment_id = 'd1'"), STORE_STATUS_HISTORY);
	assert_int_equal(store_deployment_status_seq(st, "dev-1", "d1", &seq, &err), 0);
	assert_int_equal(seq, STORE_STATUS_HISTORY + 5);
	assert_int_equal(store_deployment_list(st, "dev-1", &ds, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ds[0].deployment_id, "d1");
	assert_string_equal(ds[0].state, "Installed");
	assert_string_equal(ds[0].document, "{\"n\":104}");
	assert_string_equal(ds[1].state, "Installing");
	store_deployments_free(ds, n);
	assert_int_equal(store_deployment_desired_get(st, "dev-1", "d2", name, &err), 0);
	assert_string_equal(name, "n");
	assert_int_equal(store_deployment_desired_get(st, "dev-1", "d9", name, &err),
			 MARGO_ENOTFOUND);
	assert_int_equal(store_deployment_desired_list(st, "dev-1", &dd, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(dd[0].state, "Installed");
	assert_string_equal(dd[0].status_document, "{\"n\":104}");
	assert_string_equal(dd[1].state, "");
	assert_null(dd[1].status_document);
	assert_int_equal(dd[1].received_at, -1);
	store_desired_free(dd, n);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_deployment_desired_page(st, "dev-1", &cur, 2, &dd, &n, &more,
						       &err), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	cur.set = 1;
	cur.at = dd[1].created_at;
	snprintf(cur.key, sizeof(cur.key), "%s", dd[1].deployment_id);
	store_desired_free(dd, n);
	assert_int_equal(store_deployment_desired_page(st, "dev-1", &cur, 2, &dd, &n, &more,
						       &err), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(dd[0].deployment_id, "d3");
	store_desired_free(dd, n);
	store_close(st);
}

#define NLEASE 20

struct leaser {
	store *st;
	const char *holder;
	int held[NLEASE];
	pthread_barrier_t *start;
};

/* Takes lease "race-<i>" (all free) once each. */
static void *lease_all(void *p)
{
	struct leaser *l = p;
	struct margo_error err;
	char name[32];

	pthread_barrier_wait(l->start);
	for (int i = 0; i < NLEASE; i++) {
		snprintf(name, sizeof(name), "race-%d", i);
		if (store_lease_take(l->st, name, l->holder, T0, 10, &l->held[i], &err) < 0)
			l->held[i] = -1;
	}
	return NULL;
}

/* Rollouts: a second rollout of one deployment supersedes the first, the state's
 * compare-and-set, the devices by wave with their previous version and the status reported
 * after deploying; leases: renewed by their holder, refused to another until they expire,
 * and each of NLEASE free leases taken by exactly one of two racing replicas. */
static void test_backend_rollouts(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	char ids[3][MARGO_UUID_LEN] = { "dev-a", "dev-b", "NULL" };
	const long waves[3] = { 0, 1, 1 };
	struct store_rollout r = { .id = "ro-1", .deployment_id = "dep", .selector = "a=b",
				   .yaml = "kind: x", .yaml_len = 7, .canary = 1, .batch = 2,
				   .success_threshold = 90, .wave_timeout = 60, .nwaves = 2,
				   .created_by = "op", .wave_started_at = -1 };
	struct leaser a = { .holder = "A" }, b = { .holder = "B" };
	struct store_rollout_device *rd;
	struct store_rollout got, *list;
	pthread_barrier_t start;
	struct margo_error err;
	pthread_t ta, tb;
	size_t n;
	int held;

	assert_int_equal(store_rollout_create(st, &r, ids, waves, 3, T0, &err), 0);
	snprintf(r.id, sizeof(r.id), "ro-2");
	assert_int_equal(store_rollout_create(st, &r, ids, waves, 3, T0 + 1, &err), 0);
	assert_int_equal(store_rollout_get(st, "ro-1", &got, &err), 0);
	assert_string_equal(got.state, "superseded");
	assert_string_equal(got.reason, "superseded by rollout ro-2");
	store_rollout_clear(&got);
	assert_int_equal(store_rollout_get(st, "ro-2", &got, &err), 0);
	assert_string_equal(got.yaml, "kind: x");
	assert_int_equal(got.ndevices, 3);
	assert_int_equal(got.wave_started_at, -1);
	store_rollout_clear(&got);
	assert_int_equal(store_rollout_get(st, "ro-9", &got, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_rollout_list(st, "running", &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "ro-2");
	store_rollouts_free(list, n);
	assert_int_equal(store_rollout_list(st, NULL, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	store_rollouts_free(list, n);
	snprintf(r.state, sizeof(r.state), "paused");
	r.current_wave = 1;
	r.wave_started_at = T0 + 5;
	assert_int_equal(store_rollout_update(st, "ro-2", "running", &r, T0 + 5, &err), 0);
	assert_int_equal(store_rollout_update(st, "ro-2", "running", &r, T0 + 5, &err),
			 MARGO_ECONFLICT);
	assert_int_equal(store_rollout_update(st, "ro-9", "running", &r, T0 + 5, &err),
			 MARGO_ENOTFOUND);
	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) VALUES ('dev-b', 'active', 'pem', 'fp1', 'k', 1)");
	assert_int_equal(store_deployment_status_add(st, "dev-b", "dep", "Installed", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(store_rollout_device_set(st, "ro-2", "dev-b", "deploying", "old", 3, 1,
						  &err), 0);
	assert_int_equal(store_rollout_devices(st, "ro-2", "dep", 1, 1, &rd, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rd[0].device_id, "NULL");
	assert_string_equal(rd[1].device_id, "dev-b");
	assert_string_equal(rd[1].state, "deploying");
	assert_string_equal(rd[1].previous_yaml, "old");
	assert_string_equal(rd[1].status, "");
	store_rollout_devices_free(rd, n);
	assert_int_equal(store_deployment_status_add(st, "dev-b", "dep", "Failed", "{}", 2, T0,
						     &err), 0);
	assert_int_equal(store_rollout_device_set(st, "ro-2", "NULL", "skipped", NULL, 0, 0,
						  &err), 0);
	assert_int_equal(store_rollout_devices(st, "ro-2", "dep", -1, 0, &rd, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rd[2].device_id, "dev-b");
	assert_string_equal(rd[2].status, "Failed");
	assert_null(rd[2].previous_yaml);
	assert_int_equal(rd[2].has_previous, 1);
	assert_string_equal(rd[1].state, "skipped");
	store_rollout_devices_free(rd, n);
	/* leases */
	assert_int_equal(store_lease_take(st, "engine", "A", T0, 10, &held, &err), 0);
	assert_true(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 5, 10, &held, &err), 0);
	assert_false(held);
	assert_int_equal(store_lease_take(st, "engine", "A", T0 + 5, 10, &held, &err), 0);
	assert_true(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 14, 10, &held, &err), 0);
	assert_false(held);
	assert_int_equal(store_lease_take(st, "engine", "B", T0 + 15, 10, &held, &err), 0);
	assert_true(held);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	a.st = b.st = st;
	a.start = b.start = &start;
	assert_int_equal(pthread_create(&ta, NULL, lease_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, lease_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NLEASE; i++)
		assert_int_equal(a.held[i] + b.held[i], 1);
	store_close(st);
}

/* Counts the devices a fleet scan shows and the labels they carry; stops at stop_after. */
struct scan_count {
	int devices, labels, with_caps, stop_after;
	char last[MARGO_UUID_LEN];
};

static int scan_count_fn(void *ctx, const struct store_fleet_device *d)
{
	struct scan_count *sc = ctx;

	sc->devices++;
	sc->labels += (int)d->nlabels;
	sc->with_caps += d->capabilities != NULL;
	for (size_t i = 0; i < d->nlabels; i++)
		if (strcmp(d->labels[i].key, "site") != 0 && strcmp(d->labels[i].key, "tier") != 0)
			return -99;
	snprintf(sc->last, sizeof(sc->last), "%s", d->id);
	return sc->devices == sc->stop_after ? 7 : 0;
}

/* Labels (the per-device limit, nothing changed when over it), the fleet scan over more than
 * one batch with each device's labels, CA MACs, console sessions, a deployment's history, and
 * the token and certificate pages. */
static void test_backend_rest(void **state)
{
	struct fixture *f = *state;
	store *st = open_store(f);
	struct store_label set[LABEL_PER_DEVICE_MAX + 1], *labels;
	struct store_session sess = { "alice", "operator", 0, T0, T0 + 60 }, got;
	struct store_ca_mac mac = { "tok-1", "lookup-1", "cafp", "mac" }, mac_got;
	struct scan_count sc = { 0 };
	struct store_enrollment_token *toks;
	struct store_certificate *certs;
	struct store_deployment *hist;
	struct store_cursor cur;
	struct margo_error err;
	const char *rm[] = { "tier" };
	char sql[256];
	size_t n;
	int more;

	exec_ok(f->c, "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint,"
		" keyid, created_at) SELECT 'dev-' || lpad(i::text, 4, '0'), CASE WHEN i % 2 = 0"
		" THEN 'active' ELSE 'pending' END, 'pem', 'fp' || i, 'k', i"
		" FROM generate_series(1, 1100) AS i;"
		"INSERT INTO device_labels SELECT id, 'site', 'x' FROM devices;"
		"INSERT INTO device_labels SELECT id, 'tier', 'y' FROM devices WHERE created_at % 3 = 0;"
		"INSERT INTO capabilities SELECT id, '{}', 1 FROM devices WHERE created_at % 5 = 0");
	memset(set, 0, sizeof(set));
	for (int i = 0; i <= LABEL_PER_DEVICE_MAX; i++)
		snprintf(set[i].key, sizeof(set[i].key), "k%d", i);
	assert_int_equal(store_labels_update(st, "dev-0001", set, LABEL_PER_DEVICE_MAX, NULL, 0,
					     &err), MARGO_ELIMIT);
	assert_int_equal(store_labels_update(st, "dev-0001", set, 2, rm, 1, &err), 0);
	assert_int_equal(store_labels_update(st, "nope", set, 2, NULL, 0, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_labels_get(st, "dev-0003", &labels, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(labels[0].key, "site");
	assert_string_equal(labels[1].value, "y");
	free(labels);
	assert_int_equal(store_labels_get(st, "dev-0001", &labels, &n, &err), 0);
	assert_int_equal(n, 3);
	free(labels);
	assert_int_equal(store_labels_get(st, "nope", &labels, &n, &err), MARGO_ENOTFOUND);
	assert_int_equal(store_labels_update(st, "dev-0001", NULL, 0, (const char *[]){ "k0", "k1" },
					     2, &err), 0);
	assert_int_equal(store_fleet_scan(st, NULL, NULL, scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, 1100);
	assert_int_equal(sc.labels, 1100 + 1100 / 3);
	assert_int_equal(sc.with_caps, 1100 / 5);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_fleet_scan(st, "active", "dev-0100", scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, 500);
	memset(&sc, 0, sizeof(sc));
	sc.stop_after = 600;
	assert_int_equal(store_fleet_scan(st, NULL, NULL, scan_count_fn, &sc, &err), 7);
	assert_string_equal(sc.last, "dev-0600");
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(store_fleet_get(st, "dev-0003", scan_count_fn, &sc, &err), 0);
	assert_int_equal(sc.devices, 1);
	assert_int_equal(sc.labels, 2);
	assert_int_equal(store_fleet_get(st, "nope", scan_count_fn, &sc, &err), MARGO_ENOTFOUND);
	/* CA MACs */
	token_add(st, "tok-1", "h1", 1, 0);
	assert_int_equal(store_ca_mac_add(st, &mac, &err), 0);
	assert_int_equal(store_ca_mac_add(st, &mac, &err), MARGO_EEXIST);
	assert_int_equal(store_ca_mac_get(st, "lookup-1", T0, &mac_got, &err), 0);
	assert_string_equal(mac_got.ca_mac, "mac");
	assert_int_equal(store_ca_mac_get(st, "lookup-1", T0 + 86400, &mac_got, &err),
			 MARGO_ENOTFOUND);
	/* sessions */
	assert_int_equal(store_session_create(st, "s1", &sess, T0, &err), 0);
	assert_int_equal(store_session_create(st, "s2", &sess, T0, &err), 0);
	assert_int_equal(store_session_get(st, "s1", T0, &got, &err), 0);
	assert_string_equal(got.operator_name, "alice");
	assert_int_equal(got.expires_at, T0 + 60);
	assert_int_equal(store_session_get(st, "s1", T0 + 60, &got, &err), MARGO_EAUTH);
	assert_int_equal(store_session_delete(st, "s1", &err), 0);
	assert_int_equal(store_session_get(st, "s1", T0, &got, &err), MARGO_EAUTH);
	assert_int_equal(store_session_delete_operator(st, "alice", &n, &err), 0);
	assert_int_equal(n, 1);
	/* history */
	for (int i = 0; i < 5; i++) {
		snprintf(sql, sizeof(sql), "{\"i\":%d}", i);
		assert_int_equal(store_deployment_status_add(st, "dev-0002", "d", "Installing", sql,
							     strlen(sql), T0 + i, &err), 0);
	}
	assert_int_equal(store_deployment_history(st, "dev-0002", "d", 3, &hist, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(hist[0].document, "{\"i\":4}");
	assert_int_equal(hist[2].received_at, T0 + 2);
	store_deployments_free(hist, n);
	/* token and certificate pages */
	token_add(st, "tok-2", "h2", 1, 0);
	token_add(st, "tok-3", "h3", 1, 1);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_enrollment_token_page(st, &cur, 2, &toks, &n, &more, &err), 0);
	assert_int_equal(n, 2);
	assert_true(more);
	cur.set = 1;
	cur.at = toks[1].created_at;
	snprintf(cur.key, sizeof(cur.key), "%s", toks[1].id);
	free(toks);
	assert_int_equal(store_enrollment_token_page(st, &cur, 2, &toks, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_string_equal(toks[0].id, "tok-3");
	assert_int_equal(toks[0].auto_approve, 1);
	assert_int_equal(toks[0].max_uses, 1);
	free(toks);
	assert_int_equal(store_certificate_add(st, "fa", "pem", NULL, T0, &err), 0);
	assert_int_equal(store_certificate_add(st, "fb", "pem", "b", T0, &err), 0);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_certificate_page(st, &cur, 1, &certs, &n, &more, &err), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_string_equal(certs[0].fingerprint, "fa");
	free(certs);
	store_close(st);
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

static void test_no_postgresql(void **state)
{
	skip();
}

int main(void)
{
	const char *url = getenv("WFMD_TEST_PG");
	const struct CMUnitTest none[] = { cmocka_unit_test(test_no_postgresql) };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_fresh_like_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_concurrent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latest_triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_savepoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_lost_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_approve_vs_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_onboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_token_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_desired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_rollouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_rest, setup, teardown),
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
