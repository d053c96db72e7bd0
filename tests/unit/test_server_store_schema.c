/* The schema's numbered steps: applied once each, a schema newer than this wfmd refused and
 * left as it was (both backends: SQLite, or PostgreSQL under WFMD_TEST_PG: store_fixture.h);
 * and, SQLite only, 0.1 databases brought forward and step 6's backfill (PostgreSQL never had
 * 0.1 databases; its triggers are tested in test_server_store_pg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"
#include "store_sqlite_schema.h"
#ifdef WFMD_HAVE_POSTGRESQL
#include "store_pg_int.h"
#endif

/* The fixture's store, opened (and so migrated) on either backend. */
static int setup(void **state)
{
	return store_fixture_setup(state, "/tmp/test_server_store_schema.XXXXXX");
}

/* A directory for an SQLite file the test makes itself (f->path), no store open. */
static int setup_file(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_server_store_schema.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/wfmd.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	return store_fixture_teardown(state);
}

/* The steps of the fixture's backend: how many, and the newest. */
static long steps(struct fixture *f, int *latest)
{
#ifdef WFMD_HAVE_POSTGRESQL
	if (f->pg) {
		*latest = pg_schema_latest();
		return (long)pg_schema_nsteps();
	}
#endif
	*latest = store_sqlite_schema_latest();
	return (long)store_sqlite_schema_nsteps();
}

/* A new database gets every step, each recorded once; opening again applies nothing. */
static void test_new_database(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	int latest;
	long n = steps(f, &latest);

	assert_true(latest >= 1);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM schema_migrations"), n);
	assert_int_equal(store_fixture_query_long(f, "SELECT max(version) FROM schema_migrations"),
			 latest);
	if (!f->pg)     /* wfmd 0.1's table, kept for it (SQLite only) */
		assert_int_equal(store_fixture_query_long(f, "SELECT max(version) FROM"
							  " schema_version"), latest);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_fixture_open(f, &f->st, &err), 0);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM schema_migrations"), n);
	if (!f->pg)
		assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM schema_version"),
				 1);
}

/* A database written by wfmd 0.1 (schema_version = 1, no schema_migrations) keeps its rows
 * and is brought to the newest step. */
static void test_legacy_database(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st;

	store_fixture_sqlite_only("wfmd 0.1's SQLite files");

	store_fixture_sql(f,
		 "CREATE TABLE schema_version (version INTEGER NOT NULL);"
		 "INSERT INTO schema_version VALUES (1);"
		 "CREATE TABLE enrollment_tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
		 " description TEXT NOT NULL DEFAULT '', expires_at INTEGER NOT NULL,"
		 " max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
		 " auto_approve INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
		 " created_at INTEGER NOT NULL);"
		 "INSERT INTO enrollment_tokens (id, hash, expires_at, max_uses, auto_approve,"
		 " created_at) VALUES ('t1', 'h1', 2000000000, 1, 0, 1);"
		 /* The other 0.1 tables later steps index. */
		 "CREATE TABLE devices (id TEXT PRIMARY KEY, state TEXT NOT NULL,"
		 " certificate_pem TEXT NOT NULL, certificate_fingerprint TEXT NOT NULL UNIQUE,"
		 " keyid TEXT NOT NULL, vendor TEXT NOT NULL DEFAULT '',"
		 " model_number TEXT NOT NULL DEFAULT '', serial_number TEXT NOT NULL DEFAULT '',"
		 " created_at INTEGER NOT NULL, approved_at INTEGER, last_seen_at INTEGER,"
		 " first_auth_at INTEGER, credentials_epoch INTEGER NOT NULL DEFAULT 0);"
		 "CREATE TABLE preregistered_certs (fingerprint TEXT PRIMARY KEY,"
		 " certificate_pem TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
		 " created_at INTEGER NOT NULL);"
		 "CREATE TABLE deployment_status (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
		 " device_id TEXT NOT NULL, deployment_id TEXT NOT NULL, state TEXT NOT NULL,"
		 " document TEXT NOT NULL, received_at INTEGER NOT NULL);"
		 "CREATE TABLE deployments (device_id TEXT NOT NULL, deployment_id TEXT NOT NULL,"
		 " name TEXT NOT NULL, application_id TEXT NOT NULL, created_at INTEGER NOT NULL,"
		 " updated_at INTEGER NOT NULL, PRIMARY KEY (device_id, deployment_id));");
	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM enrollment_tokens"), 1);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	assert_int_equal(store_fixture_query_long(f, "SELECT applied_at FROM schema_migrations"
				   " WHERE version = 1"), 0);
}

/* Step 6 on a database that has reports already (written before it, here by undoing it):
 * deployment_latest is filled with the newest report of each deployment; then its triggers
 * keep it so through new reports and a device's deletion. */
static void test_step6_backfill(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st;
	const char *latest = "SELECT group_concat(device_id || '/' || deployment_id || '/' ||"
		" deployment_state || '/' || received_at || '/' || device_created_at, ' ')"
		" FROM (SELECT * FROM deployment_latest ORDER BY device_id, deployment_id)";
	char text[512];

	store_fixture_sqlite_only("SQLite's step 6 and its triggers");
	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	store_fixture_sql(f,
		 "DROP TRIGGER deployment_status_latest_insert;"
		 "DROP TRIGGER deployment_status_latest_delete;"
		 "DROP TABLE deployment_latest; DROP INDEX deployments_created;"
		 "DELETE FROM schema_migrations WHERE version = 6;"
		 "INSERT INTO devices (id, state, certificate_pem, certificate_fingerprint, keyid,"
		 " created_at) VALUES ('a', 'active', 'P', 'fa', 'k', 100),"
		 " ('b', 'active', 'P', 'fb', 'k', 200);"
		 "INSERT INTO deployment_status (device_id, deployment_id, state, document,"
		 " received_at) VALUES ('a', 'x', 'Installing', '{}', 1), ('a', 'x', 'Failed', '{}', 2),"
		 " ('a', 'y', 'Installed', '{}', 3), ('b', 'x', 'Failed', '{}', 4),"
		 " ('b', 'x', 'Installed', '{}', 5);");
	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	snprintf(text, sizeof(text), "SELECT (%s) = 'a/x/Failed/2/100 a/y/Installed/3/100"
		 " b/x/Installed/5/200'", latest);
	assert_int_equal(store_fixture_query_long(f, text), 1);
	assert_int_equal(store_fixture_query_long(f, "SELECT count(*) FROM deployment_latest"
				   " INDEXED BY deployment_latest_failed"
				   " WHERE deployment_state = 'Failed'"), 1);
	/* A new report replaces the latest; deleting the latest falls back to the one before;
	 * a device's deletion (cascade) takes its rows. */
	store_fixture_sql(f, "INSERT INTO deployment_status (device_id, deployment_id, state,"
		 " document, received_at) VALUES ('b', 'x', 'Removing', '{}', 6);"
		 "DELETE FROM deployment_status WHERE device_id = 'a' AND received_at = 2;");
	snprintf(text, sizeof(text), "SELECT (%s) = 'a/x/Installing/1/100 a/y/Installed/3/100"
		 " b/x/Removing/6/200'", latest);
	assert_int_equal(store_fixture_query_long(f, text), 1);
	store_fixture_sql(f, "PRAGMA foreign_keys=ON; DELETE FROM devices WHERE id = 'a'");
	snprintf(text, sizeof(text), "SELECT (%s) = 'b/x/Removing/6/200'", latest);
	assert_int_equal(store_fixture_query_long(f, text), 1);
}

/* A schema newer than this wfmd knows is refused, and the database is left as it was. */
static void test_newer_refused(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st = NULL;
	char sql[160];
	int newer;

	steps(f, &newer);
	newer++;
	store_close(f->st);
	f->st = NULL;
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version, applied_at)"
		 " VALUES (%d, 5)", newer);
	store_fixture_sql(f, sql);
	assert_int_equal(store_fixture_open(f, &st, &err), MARGO_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err.message, "newer than this wfmd"));
	assert_int_equal(store_fixture_query_long(f, "SELECT max(version) FROM schema_migrations"),
			 newer);
	if (f->pg)
		return;
	/* The same through the 0.1 table only (SQLite: PostgreSQL has no such table). */
	snprintf(sql, sizeof(sql), "DELETE FROM schema_migrations WHERE version = %d;"
		 "UPDATE schema_version SET version = %d", newer, newer);
	store_fixture_sql(f, sql);
	assert_int_equal(store_fixture_open(f, &st, &err), MARGO_ESTORE);
	assert_non_null(strstr(err.message, "newer than this wfmd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_database, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_step6_backfill, setup_file, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
