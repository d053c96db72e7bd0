/* The SQLite store's schema as numbered steps. A step is applied once, in the transaction
 * that records it in schema_migrations, so a database created by any earlier wfmd is brought
 * forward at start. Add a step at the end of steps[] with the next free number (numbers may
 * be reserved out of order by work in progress: each step is applied once whatever its
 * place); never edit a step that has shipped. The table schema_version (one row, the newest step applied) is kept
 * for wfmd 0.1, which refuses to start on a database whose version is newer than 1. */
#include <stdio.h>

#include "margo/log.h"
#include "store_sqlite_schema.h"

struct schema_step {
	int version;
	const char *what;   /* one line for the log */
	const char *sql;
};

/* Step 1 is the schema of wfmd 0.1 (written with IF NOT EXISTS, as 0.1 did). */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS devices ("
	" id TEXT PRIMARY KEY,"
	" state TEXT NOT NULL CHECK (state IN ('pending','active','rejected','revoked')),"
	" certificate_pem TEXT NOT NULL,"
	" certificate_fingerprint TEXT NOT NULL UNIQUE,"
	" keyid TEXT NOT NULL,"
	" vendor TEXT NOT NULL DEFAULT '',"
	" model_number TEXT NOT NULL DEFAULT '',"
	" serial_number TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" approved_at INTEGER,"
	" last_seen_at INTEGER,"
	" first_auth_at INTEGER,"
	" credentials_epoch INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS devices_state ON devices (state, created_at);"
	"CREATE TABLE IF NOT EXISTS client_secrets ("
	" hash TEXT PRIMARY KEY,"
	" device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS client_secrets_device ON client_secrets (device_id);"
	/* Access tokens are self-contained now (access_token.h); drop the old table. */
	"DROP TABLE IF EXISTS access_tokens;"
	"CREATE TABLE IF NOT EXISTS enrollment_tokens ("
	" id TEXT PRIMARY KEY,"
	" hash TEXT NOT NULL UNIQUE,"
	" description TEXT NOT NULL DEFAULT '',"
	" expires_at INTEGER NOT NULL,"
	" max_uses INTEGER NOT NULL,"
	" uses INTEGER NOT NULL DEFAULT 0,"
	" auto_approve INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS preregistered_certs ("
	" fingerprint TEXT PRIMARY KEY,"
	" certificate_pem TEXT NOT NULL,"
	" description TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS onboarding_requests ("
	" id TEXT PRIMARY KEY,"
	" device_id TEXT NOT NULL,"
	" poll_token_hash TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','expired','closed')),"
	" expires_at INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS onboarding_requests_device ON onboarding_requests (device_id);"
	"CREATE INDEX IF NOT EXISTS onboarding_requests_state ON onboarding_requests (state, expires_at);"
	"CREATE TABLE IF NOT EXISTS capabilities ("
	" device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,"
	" document TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS deployment_status ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
	" deployment_id TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" document TEXT NOT NULL,"
	" received_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS deployment_status_device"
	" ON deployment_status (device_id, deployment_id, seq);"
	"CREATE TABLE IF NOT EXISTS git_tokens ("
	" hash TEXT PRIMARY KEY,"
	" device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
	" expires_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS git_tokens_device ON git_tokens (device_id);"
	"CREATE TABLE IF NOT EXISTS repos ("
	" device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,"
	" revision TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS deployments ("
	" device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
	" deployment_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" application_id TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (device_id, deployment_id));";

/* Step 4: web console login sessions (store_console.h). Only its own table: a database of
 * wfmd 0.1 may lack step 1's later tables, so no index on them here. */
static const char schema_v4[] =
	"CREATE TABLE console_sessions ("
	" hash TEXT PRIMARY KEY,"
	" operator TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('viewer','operator','admin')),"
	" bootstrap INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL);"
	"CREATE INDEX console_sessions_operator ON console_sessions (operator);"
	"CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);";

/* Step 2: the desired state's Git objects, content-addressed and stored once for all devices
 * (store_desired.h); a device's refs/heads/main is repos.revision. oid is the binary SHA-1
 * (20 bytes), content the object without its header (PostgreSQL: bytea for both). */
static const char schema_v2[] =
	"CREATE TABLE git_objects ("
	" oid BLOB PRIMARY KEY,"
	" type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 4),"
	" content BLOB NOT NULL);";

/* Step 8: operator-set device labels (label.h); derived labels are computed, not stored. */
static const char schema_v8[] =
	"CREATE TABLE device_labels ("
	" device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (device_id, key));"
	"CREATE INDEX device_labels_key ON device_labels (key, value);";

/* Step 9: rollouts (store_rollout.h). */
static const char schema_v9[] =
	"CREATE TABLE rollouts ("
	" id TEXT PRIMARY KEY,"
	" deployment_id TEXT NOT NULL,"
	" selector TEXT NOT NULL,"
	" yaml TEXT NOT NULL,"
	" canary INTEGER NOT NULL,"
	" batch INTEGER NOT NULL,"
	" batch_percent INTEGER NOT NULL,"
	" success_threshold INTEGER NOT NULL,"
	" wave_timeout INTEGER NOT NULL,"
	" auto_advance INTEGER NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('running','waiting','paused','rolling-back',"
	"  'completed','aborted','superseded')),"
	" reason TEXT NOT NULL DEFAULT '',"
	" current_wave INTEGER NOT NULL DEFAULT 0,"
	" nwaves INTEGER NOT NULL,"
	" ndevices INTEGER NOT NULL,"
	" wave_deployed INTEGER NOT NULL DEFAULT 0,"
	" wave_started_at INTEGER,"
	" created_by TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX rollouts_state ON rollouts (state, deployment_id);"
	"CREATE TABLE rollout_devices ("
	" rollout_id TEXT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,"
	" device_id TEXT NOT NULL,"
	" wave INTEGER NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('waiting','deploying','deployed','rolled-back',"
	"  'skipped')),"
	" has_previous INTEGER NOT NULL DEFAULT 0,"
	" previous_yaml TEXT,"
	" status_seq INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (rollout_id, device_id));"
	"CREATE INDEX rollout_devices_wave ON rollout_devices (rollout_id, wave, device_id);";

/* Step 3: named operator accounts (roles viewer, operator, admin; tokens hashed at rest), the
 * audit log of mutating admin calls, and the device indexes the paginated, filtered device
 * list walks in (created_at, id) order. Plain types only (PostgreSQL-friendly). */
static const char schema_v3[] =
	"CREATE TABLE operators ("
	" name TEXT PRIMARY KEY,"
	" role TEXT NOT NULL CHECK (role IN ('viewer','operator','admin')),"
	" token_hash TEXT NOT NULL UNIQUE,"
	" created_by TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" revoked_at INTEGER);"
	"CREATE TABLE audit_log ("
	" seq INTEGER PRIMARY KEY,"
	" at INTEGER NOT NULL,"
	" operator TEXT NOT NULL,"
	" method TEXT NOT NULL,"
	" route TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" device_id TEXT,"
	" target TEXT NOT NULL DEFAULT '',"
	" client_addr TEXT NOT NULL,"
	" status INTEGER NOT NULL);"
	"CREATE INDEX audit_log_operator ON audit_log (operator, seq);"
	"CREATE INDEX audit_log_device ON audit_log (device_id, seq);"
	"CREATE INDEX audit_log_at ON audit_log (at, seq);"
	"CREATE INDEX devices_created ON devices (created_at, id);"
	"CREATE INDEX devices_state_created ON devices (state, created_at, id);"
	"CREATE INDEX devices_vendor_created ON devices (vendor, created_at, id);"
	"CREATE INDEX devices_model_created ON devices (model_number, created_at, id);"
	"CREATE INDEX devices_serial ON devices (serial_number);"
	"CREATE INDEX devices_last_seen ON devices (last_seen_at);"
	"CREATE INDEX enrollment_tokens_created ON enrollment_tokens (created_at, id);"
	"CREATE INDEX preregistered_certs_created ON preregistered_certs (created_at, fingerprint);";
/* Step 5: enrollment-token CA MACs (store_camac.h, margo/camac.h). */
static const char schema_v5[] =
	"CREATE TABLE enrollment_ca_macs ("
	" token_id TEXT PRIMARY KEY REFERENCES enrollment_tokens (id) ON DELETE CASCADE,"
	" lookup TEXT NOT NULL UNIQUE,"
	" ca_fingerprint TEXT NOT NULL,"
	" ca_mac TEXT NOT NULL);";

/* Step 6: the latest status report of each deployment, kept by triggers in the transaction
 * of every insert into (or delete from) deployment_status, whoever writes it, and filled from
 * the reports already there. It carries its device's created_at (which never changes), so the
 * device list filtered by deployment state seeks deployment_latest_state in the list's
 * (created_at, id) order instead of scanning every device (store_sqlite_pages.c); the console
 * summary's failing deployments walk a partial index of the Failed ones. The device's
 * deployments list seeks (device_id, created_at, deployment_id). */
static const char schema_v6[] =
	"CREATE TABLE deployment_latest ("
	" device_id TEXT NOT NULL,"
	" deployment_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" deployment_state TEXT NOT NULL,"
	" received_at INTEGER NOT NULL,"
	" device_created_at INTEGER NOT NULL,"
	" PRIMARY KEY (device_id, deployment_id));"
	"INSERT INTO deployment_latest (device_id, deployment_id, seq, deployment_state,"
	" received_at, device_created_at)"
	" SELECT s.device_id, s.deployment_id, s.seq, s.state, s.received_at, d.created_at"
	" FROM deployment_status s JOIN devices d ON d.id = s.device_id"
	" WHERE s.seq = (SELECT max(seq) FROM deployment_status m"
	"  WHERE m.device_id = s.device_id AND m.deployment_id = s.deployment_id);"
	"CREATE INDEX deployment_latest_state"
	" ON deployment_latest (deployment_state, device_created_at, device_id);"
	"CREATE INDEX deployment_latest_failed ON deployment_latest (seq)"
	" WHERE deployment_state = 'Failed';"
	/* seq only grows: a new report is the latest. */
	"CREATE TRIGGER deployment_status_latest_insert AFTER INSERT ON deployment_status BEGIN"
	" INSERT INTO deployment_latest (device_id, deployment_id, seq, deployment_state,"
	"  received_at, device_created_at)"
	"  SELECT NEW.device_id, NEW.deployment_id, NEW.seq, NEW.state, NEW.received_at,"
	"  created_at FROM devices WHERE id = NEW.device_id"
	"  ON CONFLICT (device_id, deployment_id) DO UPDATE SET seq = excluded.seq,"
	"  deployment_state = excluded.deployment_state, received_at = excluded.received_at,"
	"  device_created_at = excluded.device_created_at;"
	" END;"
	/* Trimming the history never deletes the latest; a device's deletion (cascade) does:
	 * then the newest report left, if any, is the latest. */
	"CREATE TRIGGER deployment_status_latest_delete AFTER DELETE ON deployment_status"
	" WHEN OLD.seq = (SELECT seq FROM deployment_latest"
	"  WHERE device_id = OLD.device_id AND deployment_id = OLD.deployment_id) BEGIN"
	" DELETE FROM deployment_latest"
	"  WHERE device_id = OLD.device_id AND deployment_id = OLD.deployment_id;"
	" INSERT INTO deployment_latest (device_id, deployment_id, seq, deployment_state,"
	"  received_at, device_created_at)"
	"  SELECT s.device_id, s.deployment_id, s.seq, s.state, s.received_at, d.created_at"
	"  FROM deployment_status s JOIN devices d ON d.id = s.device_id"
	"  WHERE s.device_id = OLD.device_id AND s.deployment_id = OLD.deployment_id"
	"  ORDER BY s.seq DESC LIMIT 1;"
	" END;"
	"CREATE INDEX deployments_created ON deployments (device_id, created_at, deployment_id);";

/* Leases: which of several wfmd sharing the store runs a singleton job (the rollout
 * engine), until when. */
static const char schema_v10[] =
	"CREATE TABLE leases ("
	" name TEXT PRIMARY KEY,"
	" holder TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL);";

static const struct schema_step steps[] = {
	{ 1, "devices, credentials, tokens, deployments", schema_v1 },
	{ 2, "git objects of the desired state", schema_v2 },
	{ 3, "operators, audit log, device list indexes", schema_v3 },
	{ 4, "console sessions", schema_v4 },
	{ 8, "device labels", schema_v8 },
	{ 9, "rollouts", schema_v9 },
	{ 5, "enrollment-token CA MACs", schema_v5 },
	{ 6, "latest deployment status, its indexes", schema_v6 },
	{ 10, "leases", schema_v10 },
};

#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

int store_sqlite_schema_latest(void)
{
	int latest = 0;

	for (size_t i = 0; i < NSTEPS; i++)
		if (steps[i].version > latest)
			latest = steps[i].version;
	return latest;
}

size_t store_sqlite_schema_nsteps(void)
{
	return NSTEPS;
}

static int fail(sqlite3 *db, struct margo_error *err, const char *what)
{
	margo_log_error("database error", "op=%s error=\"%s\"", what, sqlite3_errmsg(db));
	return margo_error_set(err, MARGO_ESTORE, "database error (%s): %s", what,
			       sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, struct margo_error *err, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		return fail(db, err, what);
	}
	return 0;
}

/* The single integer a query returns (0 for NULL). */
static int query_int(sqlite3 *db, const char *sql, int *out, struct margo_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = fail(db, err, "schema query");
		goto out;
	}
	*out = sqlite3_column_int(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

static int applied(sqlite3 *db, int version, int *yes, struct margo_error *err)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM schema_migrations WHERE version = %d",
		 version);
	return query_int(db, sql, yes, err);
}

static int record(sqlite3 *db, int version, int64_t now, struct margo_error *err)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, %lld);"
		 "DELETE FROM schema_version; INSERT INTO schema_version (version)"
		 " SELECT max(version) FROM schema_migrations",
		 version, (long long)now);
	return exec(db, sql, err, "schema record");
}

/* Inside the transaction: the steps not yet recorded, applied in order. */
static int migrate_steps(sqlite3 *db, int64_t now, struct margo_error *err)
{
	int newest, legacy, yes;
	size_t i;

	if (exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
		 "CREATE TABLE IF NOT EXISTS schema_migrations ("
		 " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
		 err, "schema tables") < 0)
		return MARGO_ESTORE;
	if (query_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", &newest,
		      err) < 0 ||
	    query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", &legacy,
		      err) < 0)
		return MARGO_ESTORE;
	if (newest < legacy)
		newest = legacy;
	if (newest > store_sqlite_schema_latest())
		return margo_error_set(err, MARGO_ESTORE,
				       "database schema version %d is newer than this wfmd (%d): "
				       "run the wfmd that wrote it, or a newer one",
				       newest, store_sqlite_schema_latest());
	/* A 0.1 database: step 1 is there, recorded only in schema_version. */
	if (legacy >= 1 && exec(db, "INSERT OR IGNORE INTO schema_migrations (version, applied_at)"
				" VALUES (1, 0)", err, "schema record") < 0)
		return MARGO_ESTORE;
	for (i = 0; i < NSTEPS; i++) {
		if (applied(db, steps[i].version, &yes, err) < 0)
			return MARGO_ESTORE;
		if (yes)
			continue;
		if (exec(db, steps[i].sql, err, "schema step") < 0 ||
		    record(db, steps[i].version, now, err) < 0)
			return MARGO_ESTORE;
		margo_log_info("schema step applied", "version=%d what=\"%s\"", steps[i].version,
			       steps[i].what);
	}
	return 0;
}

int store_sqlite_migrate(sqlite3 *db, int64_t now, struct margo_error *err)
{
	if (exec(db, "BEGIN IMMEDIATE", err, "schema begin") < 0)
		return MARGO_ESTORE;
	if (migrate_steps(db, now, err) < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return MARGO_ESTORE;
	}
	if (exec(db, "COMMIT", err, "schema commit") < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return MARGO_ESTORE;
	}
	return 0;
}
