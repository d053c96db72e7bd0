/* store_rollout.h on SQLite. */
#include <stdlib.h>
#include <string.h>

#include "store_rollout.h"
#include "store_sqlite_int.h"

#define ROLLOUT_COLUMNS \
	"id, deployment_id, selector, canary, batch, batch_percent, success_threshold," \
	" wave_timeout, auto_advance, state, reason, current_wave, nwaves, ndevices," \
	" wave_deployed, wave_started_at, created_by, created_at, updated_at"

static const char sql_supersede[] =
	"UPDATE rollouts SET state = 'superseded', reason = :reason, updated_at = :now"
	" WHERE deployment_id = :dep AND state IN ('running','waiting','paused')";
static const char sql_insert[] =
	"INSERT INTO rollouts (id, deployment_id, selector, yaml, canary, batch, batch_percent,"
	" success_threshold, wave_timeout, auto_advance, state, nwaves, ndevices, created_by,"
	" created_at, updated_at) VALUES (:id, :dep, :sel, :yaml, :canary, :batch, :pct,"
	" :thr, :timeout, :auto, 'running', :nwaves, :ndev, :by, :now, :now)";
static const char sql_insert_device[] =
	"INSERT INTO rollout_devices (rollout_id, device_id, wave, state)"
	" VALUES (:id, :dev, :wave, 'waiting')";
static const char sql_get[] = "SELECT " ROLLOUT_COLUMNS ", yaml FROM rollouts WHERE id = :id";
static const char sql_list[] =
	"SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE (:state IS NULL OR state = :state)"
	" ORDER BY created_at DESC, id";
static const char sql_update[] =
	"UPDATE rollouts SET state = :state, reason = :reason, current_wave = :wave,"
	" wave_deployed = :deployed, wave_started_at = :started, updated_at = :now"
	" WHERE id = :id AND state = :expect";
static const char sql_exists[] = "SELECT state FROM rollouts WHERE id = :id";
static const char sql_devices[] =
	"SELECT rd.device_id, rd.wave, rd.state, rd.has_previous,"
	" CASE WHEN :prev THEN rd.previous_yaml END, rd.status_seq,"
	" (SELECT s.state FROM deployment_status s WHERE s.device_id = rd.device_id"
	"  AND s.deployment_id = :dep AND s.seq > rd.status_seq ORDER BY s.seq DESC LIMIT 1)"
	" FROM rollout_devices rd WHERE rd.rollout_id = :id AND (:wave < 0 OR rd.wave = :wave)"
	" ORDER BY rd.wave, rd.device_id";
static const char sql_device_deploying[] =
	"UPDATE rollout_devices SET state = 'deploying', has_previous = :has, previous_yaml = :prev,"
	" status_seq = :seq WHERE rollout_id = :id AND device_id = :dev";
static const char sql_device_state[] =
	"UPDATE rollout_devices SET state = :state WHERE rollout_id = :id AND device_id = :dev";
static const char sql_status_seq[] =
	"SELECT coalesce(max(seq), 0) FROM deployment_status"
	" WHERE device_id = :dev AND deployment_id = :dep";

int sqlite_rollout_create(store *st, const struct store_rollout *r,
			  char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
			  int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	char reason[128];
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	snprintf(reason, sizeof(reason), "superseded by rollout %s", r->id);
	PREPARE(s, sql_supersede);
	BIND(bind_text(s, ":reason", reason));
	BIND(bind_int(s, ":now", now));
	BIND(bind_text(s, ":dep", r->deployment_id));
	EXEC(s);
	PREPARE(s, sql_insert);
	BIND(bind_text(s, ":id", r->id));
	BIND(bind_text(s, ":dep", r->deployment_id));
	BIND(bind_text(s, ":sel", r->selector));
	BIND(bind_blob_text(s, ":yaml", r->yaml, r->yaml_len));
	BIND(bind_int(s, ":canary", r->canary));
	BIND(bind_int(s, ":batch", r->batch));
	BIND(bind_int(s, ":pct", r->batch_percent));
	BIND(bind_int(s, ":thr", r->success_threshold));
	BIND(bind_int(s, ":timeout", r->wave_timeout));
	BIND(bind_int(s, ":auto", r->auto_advance));
	BIND(bind_int(s, ":nwaves", r->nwaves));
	BIND(bind_int(s, ":ndev", (int64_t)n));
	BIND(bind_text(s, ":by", r->created_by));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	for (size_t i = 0; i < n; i++) {
		PREPARE(s, sql_insert_device);
		BIND(bind_text(s, ":id", r->id));
		BIND(bind_text(s, ":dev", device_ids[i]));
		BIND(bind_int(s, ":wave", waves[i]));
		EXEC(s);
	}
out:
	return tx_end(c, rc, err);
}

/* Columns of ROLLOUT_COLUMNS into r. */
static int rollout_row(sqlite3_stmt *s, struct store_rollout *r, struct margo_error *err)
{
	memset(r, 0, sizeof(*r));
	copy_text(r->id, sizeof(r->id), col_text(s, 0));
	copy_text(r->deployment_id, sizeof(r->deployment_id), col_text(s, 1));
	r->selector = strdup(col_text(s, 2));
	r->canary = sqlite3_column_int64(s, 3);
	r->batch = sqlite3_column_int64(s, 4);
	r->batch_percent = sqlite3_column_int64(s, 5);
	r->success_threshold = sqlite3_column_int64(s, 6);
	r->wave_timeout = sqlite3_column_int64(s, 7);
	r->auto_advance = sqlite3_column_int(s, 8);
	copy_text(r->state, sizeof(r->state), col_text(s, 9));
	copy_text(r->reason, sizeof(r->reason), col_text(s, 10));
	r->current_wave = sqlite3_column_int64(s, 11);
	r->nwaves = sqlite3_column_int64(s, 12);
	r->ndevices = sqlite3_column_int64(s, 13);
	r->wave_deployed = sqlite3_column_int(s, 14);
	r->wave_started_at = col_time(s, 15);
	copy_text(r->created_by, sizeof(r->created_by), col_text(s, 16));
	r->created_at = sqlite3_column_int64(s, 17);
	r->updated_at = sqlite3_column_int64(s, 18);
	if (r->selector == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return 0;
}

int sqlite_rollout_get(store *st, const char *id, struct store_rollout *out,
		       struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_get);
	BIND(bind_text(s, ":id", id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = rollout_row(s, out, err);
		if (rc == 0) {
			out->yaml_len = (size_t)sqlite3_column_bytes(s, 19);
			out->yaml = strndup(col_text(s, 19), out->yaml_len);
			if (out->yaml == NULL)
				rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		}
		if (rc < 0)
			store_rollout_clear(out);
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no rollout %s", id);
	} else {
		rc = db_fail(c->db, err, "rollout");
	}
	sqlite3_reset(s);
out:
	return rc;
}

int sqlite_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
			struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_rollout *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_list);
	BIND(bind_text(s, ":state", state));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 8);
		if ((rc = rollout_row(s, &v[cnt], err)) < 0) {
			sqlite3_reset(s);
			store_rollout_clear(&v[cnt]);
			goto out;
		}
		cnt++;
	}
	ROWS_DONE("rollouts");
	*items = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
out:
	store_rollouts_free(v, cnt);
	return rc;
}

int sqlite_rollout_update(store *st, const char *id, const char *expect_state,
			  const struct store_rollout *r, int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_update);
	BIND(bind_text(s, ":state", r->state));
	BIND(bind_text(s, ":reason", r->reason));
	BIND(bind_int(s, ":wave", r->current_wave));
	BIND(bind_int(s, ":deployed", r->wave_deployed));
	if (r->wave_started_at >= 0)
		BIND(bind_int(s, ":started", r->wave_started_at));
	BIND(bind_int(s, ":now", now));
	BIND(bind_text(s, ":id", id));
	BIND(bind_text(s, ":expect", expect_state));
	EXEC(s);
	if (sqlite3_changes(c->db) == 1)
		goto out;
	PREPARE(s, sql_exists);
	BIND(bind_text(s, ":id", id));
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		rc = margo_error_set(err, MARGO_ECONFLICT, "rollout %s is no longer %s", id,
				     expect_state);
	else if (rc == SQLITE_DONE)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no rollout %s", id);
	else
		rc = db_fail(c->db, err, "rollout");
out:
	return rc;
}

int sqlite_rollout_devices(store *st, const char *rollout_id, const char *deployment_id,
			   long wave, int with_previous, struct store_rollout_device **items,
			   size_t *n, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_rollout_device *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_devices);
	BIND(bind_text(s, ":id", rollout_id));
	BIND(bind_text(s, ":dep", deployment_id));
	BIND(bind_int(s, ":wave", wave));
	BIND(bind_int(s, ":prev", with_previous));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_rollout_device *d;

		ROW_RESERVE(v, cnt, cap, 64);
		d = &v[cnt++];
		memset(d, 0, sizeof(*d));
		copy_text(d->device_id, sizeof(d->device_id), col_text(s, 0));
		d->wave = sqlite3_column_int64(s, 1);
		copy_text(d->state, sizeof(d->state), col_text(s, 2));
		d->has_previous = sqlite3_column_int(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			d->previous_len = (size_t)sqlite3_column_bytes(s, 4);
			d->previous_yaml = strndup(col_text(s, 4), d->previous_len);
			if (d->previous_yaml == NULL) {
				sqlite3_reset(s);
				rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
				goto out;
			}
		}
		d->status_seq = sqlite3_column_int64(s, 5);
		copy_text(d->status, sizeof(d->status), col_text(s, 6));
	}
	ROWS_DONE("rollout devices");
	*items = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
out:
	store_rollout_devices_free(v, cnt);
	return rc;
}

int sqlite_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			      const char *state, const char *previous, size_t previous_len,
			      int64_t status_seq, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if (strcmp(state, "deploying") == 0) {
		PREPARE(s, sql_device_deploying);
		BIND(bind_int(s, ":has", previous != NULL));
		if (previous != NULL)
			BIND(bind_blob_text(s, ":prev", previous, previous_len));
		BIND(bind_int(s, ":seq", status_seq));
	} else {
		PREPARE(s, sql_device_state);
		BIND(bind_text(s, ":state", state));
	}
	BIND(bind_text(s, ":id", rollout_id));
	BIND(bind_text(s, ":dev", device_id));
	EXEC(s);
out:
	return rc;
}

int sqlite_deployment_status_seq(store *st, const char *device_id, const char *deployment_id,
				 int64_t *seq, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_status_seq);
	BIND(bind_text(s, ":dev", device_id));
	BIND(bind_text(s, ":dep", deployment_id));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = db_fail(c->db, err, "status seq");
	}
	sqlite3_reset(s);
out:
	return rc;
}

static const char sql_lease_take[] =
	"INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :until)"
	" ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
	" expires_at = excluded.expires_at"
	" WHERE leases.holder = excluded.holder OR leases.expires_at <= :now";

int sqlite_lease_take(store *st, const char *name, const char *holder, int64_t now,
		      int64_t ttl, int *held, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	*held = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_lease_take);
	BIND(bind_text(s, ":name", name));
	BIND(bind_text(s, ":holder", holder));
	BIND(bind_int(s, ":until", now + ttl));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	*held = sqlite3_changes(c->db) > 0;
out:
	return rc;
}
