/* store_sqlite_schema.c: numbered steps applied once, 0.1 databases brought forward, newer
 * schemas refused. Real SQLite files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "store_sqlite_schema.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_store_schema.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/wfmd.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A new database gets every step, each recorded once; opening again applies nothing. */
static void test_new_database(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st;
	int latest = store_sqlite_schema_latest();

	assert_true(latest >= 1);
	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	assert_int_equal(query_int(f->path, "SELECT max(version) FROM schema_migrations"), latest);
	assert_int_equal(query_int(f->path, "SELECT max(version) FROM schema_version"), latest);
	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_version"), 1);
}

/* A database written by wfmd 0.1 (schema_version = 1, no schema_migrations) keeps its rows
 * and is brought to the newest step. */
static void test_legacy_database(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st;

	exec_sql(f->path,
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
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM enrollment_tokens"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	assert_int_equal(query_int(f->path, "SELECT applied_at FROM schema_migrations"
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
	sqlite3 *db;

	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	exec_sql(f->path,
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
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 (int)store_sqlite_schema_nsteps());
	snprintf(text, sizeof(text), "SELECT (%s) = 'a/x/Failed/2/100 a/y/Installed/3/100"
		 " b/x/Installed/5/200'", latest);
	assert_int_equal(query_int(f->path, text), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM deployment_latest"
				   " INDEXED BY deployment_latest_failed"
				   " WHERE deployment_state = 'Failed'"), 1);
	/* A new report replaces the latest; deleting the latest falls back to the one before;
	 * a device's deletion (cascade) takes its rows. */
	exec_sql(f->path, "INSERT INTO deployment_status (device_id, deployment_id, state,"
		 " document, received_at) VALUES ('b', 'x', 'Removing', '{}', 6);"
		 "DELETE FROM deployment_status WHERE device_id = 'a' AND received_at = 2;");
	snprintf(text, sizeof(text), "SELECT (%s) = 'a/x/Installing/1/100 a/y/Installed/3/100"
		 " b/x/Removing/6/200'", latest);
	assert_int_equal(query_int(f->path, text), 1);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys=ON; DELETE FROM devices"
				      " WHERE id = 'a'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(text, sizeof(text), "SELECT (%s) = 'b/x/Removing/6/200'", latest);
	assert_int_equal(query_int(f->path, text), 1);
}

/* A schema newer than this wfmd knows is refused, and the database is left as it was. */
static void test_newer_refused(void **state)
{
	struct fixture *f = *state;
	struct margo_error err;
	store *st = NULL;
	char sql[160];
	int newer = store_sqlite_schema_latest() + 1;

	assert_int_equal(store_open(f->path, &st, &err), 0);
	store_close(st);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 5)", newer);
	exec_sql(f->path, sql);
	st = NULL;
	assert_int_equal(store_open(f->path, &st, &err), MARGO_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err.message, "newer than this wfmd"));
	assert_int_equal(query_int(f->path, "SELECT max(version) FROM schema_migrations"), newer);
	/* The same through the 0.1 table only. */
	snprintf(sql, sizeof(sql), "DELETE FROM schema_migrations WHERE version = %d;"
		 "UPDATE schema_version SET version = %d", newer, newer);
	exec_sql(f->path, sql);
	assert_int_equal(store_open(f->path, &st, &err), MARGO_ESTORE);
	assert_non_null(strstr(err.message, "newer than this wfmd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step6_backfill, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
