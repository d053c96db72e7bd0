/* A fresh, empty store for each cmocka test, on either backend, through the same store API.
 *
 * store_fixture_setup makes a temporary directory DIR (from the template, "/tmp/<name>.XXXXXX";
 * tests may write there too) and opens:
 *   - SQLite at DIR/wfmd.db by default;
 *   - PostgreSQL when WFMD_TEST_PG names one (a libpq URL ending in a database name, as
 *     tests/pg/pgtmp.sh run exports it): a new database wfmd_test_<pid>_<n> is created on that
 *     server and opened with store_open_url; teardown drops it again.
 * store_fixture_teardown closes the store, drops the database and removes DIR.
 *
 * Set-up data the store API cannot write (rows of a given age, reports of devices that were
 * never onboarded) goes through store_fixture_sql, which runs SQL statements on the test's
 * database whichever backend it is: keep such SQL to what both dialects accept. A test that
 * is about SQLite itself (its file, its schema steps) calls store_fixture_sqlite_only first.
 * Include after <cmocka.h> and "store.h". */
#ifndef TESTS_STORE_FIXTURE_H
#define TESTS_STORE_FIXTURE_H

#include <sqlite3.h>
#include <unistd.h>
#ifdef WFMD_HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

struct fixture {
	char dir[64];
	char path[128];         /* DIR/wfmd.db: the SQLite store (unused on PostgreSQL) */
	store *st;
	int pg;                 /* 1: st is PostgreSQL */
	char url[512];          /* PostgreSQL: the test database's URL */
	char dbname[64];
#ifdef WFMD_HAVE_POSTGRESQL
	PGconn *sql;            /* PostgreSQL: store_fixture_sql's connection, made when needed */
#endif
};

#ifdef WFMD_HAVE_POSTGRESQL
/* Runs sql on the server WFMD_TEST_PG names (its own database), failing the test on error. */
static inline void store_fixture_pg_admin(const char *sql)
{
	PGconn *db = PQconnectdb(getenv("WFMD_TEST_PG"));
	PGresult *res;

	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("WFMD_TEST_PG: %s", PQerrorMessage(db));
	res = PQexec(db, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(db));
	PQclear(res);
	PQfinish(db);
}

/* A new database on WFMD_TEST_PG's server; f->url names it. */
static inline void store_fixture_pg_create(struct fixture *f, const char *server)
{
	static int counter;
	const char *slash = strrchr(server, '/');
	char sql[128];

	if (slash == NULL || strchr(slash, '?') != NULL)
		fail_msg("WFMD_TEST_PG must end in /<database> (tests/pg/pgtmp.sh's url)");
	snprintf(f->dbname, sizeof(f->dbname), "wfmd_test_%d_%d", (int)getpid(), ++counter);
	snprintf(f->url, sizeof(f->url), "%.*s/%s", (int)(slash - server), server, f->dbname);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	store_fixture_pg_admin(sql);
	f->pg = 1;
}
#endif

#ifdef WFMD_HAVE_POSTGRESQL
/* PostgreSQL: the result of text on the test database (its own connection, made when first
 * needed), failing the test unless its status is one of ok1, ok2. */
static inline PGresult *store_fixture_pg_exec(struct fixture *f, const char *text,
					      ExecStatusType ok1, ExecStatusType ok2)
{
	PGresult *res;

	if (f->sql == NULL && PQstatus(f->sql = PQconnectdb(f->url)) != CONNECTION_OK)
		fail_msg("%s: %s", f->dbname, PQerrorMessage(f->sql));
	res = PQexec(f->sql, text);
	if (PQresultStatus(res) != ok1 && PQresultStatus(res) != ok2)
		fail_msg("%s: %s", text, PQerrorMessage(f->sql));
	return res;
}
#endif

/* Opens another store on the fixture's database (the same one f->st is on). */
static inline int store_fixture_open(struct fixture *f, store **out, struct margo_error *err)
{
	return store_open_url(f->pg ? f->url : NULL, f->path, out, err);
}

static inline int store_fixture_setup(void **state, const char *dir_template)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *server = getenv("WFMD_TEST_PG");
	struct margo_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s", dir_template);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/wfmd.db", f->dir);
	if (server != NULL && *server != '\0') {
#ifdef WFMD_HAVE_POSTGRESQL
		store_fixture_pg_create(f, server);
#else
		fail_msg("WFMD_TEST_PG is set but this build has no PostgreSQL backend");
#endif
	}
	if (store_fixture_open(f, &f->st, &err) < 0)
		fail_msg("opening the %s store: %s", f->pg ? "PostgreSQL" : "SQLite", err.message);
	*state = f;
	return 0;
}

static inline int store_fixture_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	store_close(f->st);
#ifdef WFMD_HAVE_POSTGRESQL
	if (f->pg) {
		PQfinish(f->sql);
		snprintf(cmd, sizeof(cmd), "DROP DATABASE %s WITH (FORCE)", f->dbname);
		store_fixture_pg_admin(cmd);
	}
#endif
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Runs text (one or more SQL statements, ';'-separated) on the fixture's database, failing
 * the test on any error. For set-up data only: the test's reads go through the store. */
static inline void store_fixture_sql(struct fixture *f, const char *text)
{
	sqlite3 *db;

#ifdef WFMD_HAVE_POSTGRESQL
	if (f->pg) {
		PQclear(store_fixture_pg_exec(f, text, PGRES_COMMAND_OK, PGRES_TUPLES_OK));
		return;
	}
#endif
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", text, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* The integer one SQL query answers (first row, first column; -1 for NULL), either backend. */
static inline long store_fixture_query_long(struct fixture *f, const char *text)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long v;

#ifdef WFMD_HAVE_POSTGRESQL
	if (f->pg) {
		PGresult *res = store_fixture_pg_exec(f, text, PGRES_TUPLES_OK, PGRES_TUPLES_OK);

		if (PQntuples(res) < 1)
			fail_msg("%s: no row", text);
		v = PQgetisnull(res, 0, 0) ? -1 : atol(PQgetvalue(res, 0, 0));
		PQclear(res);
		return v;
	}
#endif
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, text, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", text, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* An enrollment token id (hash its secret's hash) created at, valid for a day. */
static inline void store_fixture_token(store *st, const char *id, const char *hash,
				       long max_uses, int auto_approve, int64_t at)
{
	struct store_enrollment_token t = { .created_at = at, .expires_at = at + 86400,
					    .max_uses = max_uses, .auto_approve = auto_approve };
	struct margo_error err;

	snprintf(t.id, sizeof(t.id), "%s", id);
	if (store_enrollment_token_create(st, &t, hash, &err) < 0)
		fail_msg("token create: %s", err.message);
}

/* Skips the test when the suite runs on PostgreSQL (WFMD_TEST_PG): what it checks is SQLite's
 * own, why says what. */
static inline void store_fixture_sqlite_only(const char *why)
{
	const char *server = getenv("WFMD_TEST_PG");

	if (server == NULL || *server == '\0')
		return;
	print_message("[ SQLITE   ] %s: SQLite only\n", why);
	skip();
}

#endif
