/* store_rollout.h on PostgreSQL (store_sqlite_rollouts.c's twin): rollouts, their devices,
 * and the compare-and-set of a rollout's state (UPDATE ... WHERE state = expected: of two
 * replicas moving one rollout, the second re-checks the row after the first commits). A
 * rollout's devices are inserted with one statement (unnest of two arrays). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_rollout.h"
#include "store_pg_int.h"

#define ROLLOUT_COLUMNS \
	"id, deployment_id, selector, canary, batch, batch_percent, success_threshold," \
	" wave_timeout, auto_advance, state, reason, current_wave, nwaves, ndevices," \
	" wave_deployed, wave_started_at, created_by, created_at, updated_at"

/* The device ids and their waves as two PostgreSQL array literals, newly allocated. Each id
 * is quoted (so "NULL" stays text); ids holding a quote or backslash are refused (device ids
 * are UUIDs). */
static int arrays_make(char (*ids)[MARGO_UUID_LEN], const long *waves, size_t n, char **a_ids,
		       char **a_waves, struct margo_error *err)
{
	char *p, *q;

	*a_ids = malloc(n * (MARGO_UUID_LEN + 3) + 3);
	*a_waves = malloc(n * 22 + 3);
	if (*a_ids == NULL || *a_waves == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	p = *a_ids;
	q = *a_waves;
	*p++ = '{';
	*q++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (strcspn(ids[i], "\"\\") != strlen(ids[i]))
			return margo_error_set(err, MARGO_EINVAL, "bad device id in rollout");
		p += sprintf(p, "%s\"%s\"", i > 0 ? "," : "", ids[i]);
		q += sprintf(q, "%s%ld", i > 0 ? "," : "", waves[i]);
	}
	strcpy(p, "}");
	strcpy(q, "}");
	return 0;
}

static int rollout_insert(struct pg_conn *c, const struct store_rollout *r, size_t n,
			  int64_t now, struct margo_error *err)
{
	struct pg_i64 canary = pg_i64(r->canary), batch = pg_i64(r->batch),
		      pct = pg_i64(r->batch_percent), thr = pg_i64(r->success_threshold),
		      timeout = pg_i64(r->wave_timeout), nwaves = pg_i64(r->nwaves),
		      ndev = pg_i64((int64_t)n), at = pg_i64(now);
	char *yaml = strndup(r->yaml != NULL ? r->yaml : "", r->yaml_len);
	const char *params[] = { r->id, r->deployment_id, r->selector, yaml, canary.s, batch.s,
				 pct.s, thr.s, timeout.s, r->auto_advance ? "1" : "0", nwaves.s,
				 ndev.s, r->created_by, at.s };
	int rc;

	if (yaml == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = pg_exec_cmd(c, "INSERT INTO rollouts (id, deployment_id, selector, yaml, canary,"
			 " batch, batch_percent, success_threshold, wave_timeout, auto_advance,"
			 " state, nwaves, ndevices, created_by, created_at, updated_at) VALUES"
			 " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'running', $11, $12, $13,"
			 " $14, $14)", 14, params, err, "rollout insert");
	free(yaml);
	return rc;
}

int pg_rollout_create(store *st, const struct store_rollout *r,
		      char (*device_ids)[MARGO_UUID_LEN], const long *waves, size_t n,
		      int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	struct pg_i64 at = pg_i64(now);
	char reason[128], *a_ids = NULL, *a_waves = NULL;
	const char *p_sup[] = { reason, at.s, r->deployment_id };
	const char *p_dev[] = { r->id, NULL, NULL };
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	snprintf(reason, sizeof(reason), "superseded by rollout %s", r->id);
	if ((rc = arrays_make(device_ids, waves, n, &a_ids, &a_waves, err)) < 0)
		goto out;
	p_dev[1] = a_ids;
	p_dev[2] = a_waves;
	if ((rc = pg_exec_cmd(c, "UPDATE rollouts SET state = 'superseded', reason = $1,"
			      " updated_at = $2 WHERE deployment_id = $3"
			      " AND state IN ('running','waiting','paused')", 3, p_sup, err,
			      "supersede")) < 0 ||
	    (rc = rollout_insert(c, r, n, now, err)) < 0)
		goto out;
	rc = pg_exec_cmd(c, "INSERT INTO rollout_devices (rollout_id, device_id, wave, state)"
			 " SELECT $1, d, w, 'waiting' FROM unnest($2::text[], $3::int[]) AS u(d, w)",
			 3, p_dev, err, "rollout devices");
out:
	free(a_ids);
	free(a_waves);
	return pg_tx_end(c, rc, err);
}

/* Columns of ROLLOUT_COLUMNS of row into r. */
static int rollout_row(const PGresult *res, int row, struct store_rollout *r,
		       struct margo_error *err)
{
	memset(r, 0, sizeof(*r));
	pg_copy_text(r->id, sizeof(r->id), PQgetvalue(res, row, 0));
	pg_copy_text(r->deployment_id, sizeof(r->deployment_id), PQgetvalue(res, row, 1));
	r->selector = strdup(PQgetvalue(res, row, 2));
	r->canary = (long)pg_col_i64(res, row, 3);
	r->batch = (long)pg_col_i64(res, row, 4);
	r->batch_percent = (long)pg_col_i64(res, row, 5);
	r->success_threshold = (long)pg_col_i64(res, row, 6);
	r->wave_timeout = pg_col_i64(res, row, 7);
	r->auto_advance = (int)pg_col_i64(res, row, 8);
	pg_copy_text(r->state, sizeof(r->state), PQgetvalue(res, row, 9));
	pg_copy_text(r->reason, sizeof(r->reason), PQgetvalue(res, row, 10));
	r->current_wave = (long)pg_col_i64(res, row, 11);
	r->nwaves = (long)pg_col_i64(res, row, 12);
	r->ndevices = (long)pg_col_i64(res, row, 13);
	r->wave_deployed = (int)pg_col_i64(res, row, 14);
	r->wave_started_at = pg_col_time(res, row, 15);
	pg_copy_text(r->created_by, sizeof(r->created_by), PQgetvalue(res, row, 16));
	r->created_at = pg_col_i64(res, row, 17);
	r->updated_at = pg_col_i64(res, row, 18);
	if (r->selector == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return 0;
}

int pg_rollout_get(store *st, const char *id, struct store_rollout *out,
		   struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { id };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT " ROLLOUT_COLUMNS ", yaml FROM rollouts WHERE id = $1", 1, params,
		      err, "rollout");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no rollout %s", id);
	} else if ((rc = rollout_row(res, 0, out, err)) == 0) {
		out->yaml_len = (size_t)PQgetlength(res, 0, 19);
		out->yaml = strdup(PQgetvalue(res, 0, 19));
		if (out->yaml == NULL)
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	if (rc < 0)
		store_rollout_clear(out);
	PQclear(res);
	return rc;
}

int pg_rollout_list(store *st, const char *state, struct store_rollout **items, size_t *n,
		    struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { state };
	struct store_rollout *v;
	PGresult *res;
	size_t cnt;
	int rc = 0;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE ($1::text IS NULL"
		      " OR state = $1) ORDER BY created_at DESC, id", 1, params, err, "rollouts");
	if (res == NULL)
		return MARGO_ESTORE;
	cnt = (size_t)PQntuples(res);
	if ((v = calloc(cnt > 0 ? cnt : 1, sizeof(*v))) == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		if ((rc = rollout_row(res, (int)i, &v[i], err)) < 0) {
			store_rollouts_free(v, i + 1);
			goto out;
		}
	}
	*items = v;
	*n = cnt;
out:
	PQclear(res);
	return rc;
}

int pg_rollout_update(store *st, const char *id, const char *expect_state,
		      const struct store_rollout *r, int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 wave = pg_i64(r->current_wave), at = pg_i64(now),
		      started = pg_i64(r->wave_started_at);
	const char *params[] = { r->state, r->reason, wave.s, r->wave_deployed ? "1" : "0",
				 r->wave_started_at >= 0 ? started.s : NULL, at.s, id,
				 expect_state };
	PGresult *res;
	long changed;
	int found;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "UPDATE rollouts SET state = $1, reason = $2, current_wave = $3,"
			    " wave_deployed = $4, wave_started_at = $5, updated_at = $6"
			    " WHERE id = $7 AND state = $8", 8, params, &changed, err,
			    "rollout update") < 0)
		return MARGO_ESTORE;
	if (changed == 1)
		return 0;
	res = pg_exec(c, "SELECT 1 FROM rollouts WHERE id = $1", 1, &params[6], err, "rollout");
	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found ? margo_error_set(err, MARGO_ECONFLICT, "rollout %s is no longer %s", id,
				       expect_state) :
		margo_error_set(err, MARGO_ENOTFOUND, "no rollout %s", id);
}

/* One row of pg_rollout_devices' query into d; -1 when out of memory. */
static int rollout_device_row(const PGresult *res, int row, struct store_rollout_device *d)
{
	memset(d, 0, sizeof(*d));
	pg_copy_text(d->device_id, sizeof(d->device_id), PQgetvalue(res, row, 0));
	d->wave = (long)pg_col_i64(res, row, 1);
	pg_copy_text(d->state, sizeof(d->state), PQgetvalue(res, row, 2));
	d->has_previous = (int)pg_col_i64(res, row, 3);
	d->status_seq = pg_col_i64(res, row, 5);
	pg_copy_text(d->status, sizeof(d->status), PQgetvalue(res, row, 6));
	if (PQgetisnull(res, row, 4))
		return 0;
	d->previous_len = (size_t)PQgetlength(res, row, 4);
	d->previous_yaml = strdup(PQgetvalue(res, row, 4));
	return d->previous_yaml != NULL ? 0 : -1;
}

int pg_rollout_devices(store *st, const char *rollout_id, const char *deployment_id,
		       long wave, int with_previous, struct store_rollout_device **items,
		       size_t *n, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 w = pg_i64(wave);
	const char *params[] = { rollout_id, deployment_id, w.s, with_previous ? "t" : "f" };
	struct store_rollout_device *v;
	PGresult *res;
	size_t cnt;
	int rc = 0;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	res = pg_exec(c, "SELECT rd.device_id, rd.wave, rd.state, rd.has_previous,"
		      " CASE WHEN $4::boolean THEN rd.previous_yaml END, rd.status_seq,"
		      " (SELECT s.state FROM deployment_status s WHERE s.device_id = rd.device_id"
		      "  AND s.deployment_id = $2 AND s.seq > rd.status_seq"
		      "  ORDER BY s.seq DESC LIMIT 1)"
		      " FROM rollout_devices rd WHERE rd.rollout_id = $1"
		      " AND ($3::int < 0 OR rd.wave = $3::int) ORDER BY rd.wave, rd.device_id", 4,
		      params, err, "rollout devices");
	if (res == NULL)
		return MARGO_ESTORE;
	cnt = (size_t)PQntuples(res);
	if ((v = calloc(cnt > 0 ? cnt : 1, sizeof(*v))) == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		if (rollout_device_row(res, (int)i, &v[i]) < 0) {
			store_rollout_devices_free(v, i + 1);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	*items = v;
	*n = cnt;
out:
	PQclear(res);
	return rc;
}

int pg_rollout_device_set(store *st, const char *rollout_id, const char *device_id,
			  const char *state, const char *previous, size_t previous_len,
			  int64_t status_seq, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 seq = pg_i64(status_seq);
	char *prev = previous != NULL ? strndup(previous, previous_len) : NULL;
	const char *p_dep[] = { rollout_id, device_id, previous != NULL ? "1" : "0", prev, seq.s };
	const char *p_state[] = { rollout_id, device_id, state };
	int rc;

	if (c == NULL) {
		rc = MARGO_ESTORE;
	} else if (previous != NULL && prev == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	} else if (strcmp(state, "deploying") == 0) {
		rc = pg_exec_cmd(c, "UPDATE rollout_devices SET state = 'deploying',"
				 " has_previous = $3, previous_yaml = $4, status_seq = $5"
				 " WHERE rollout_id = $1 AND device_id = $2", 5, p_dep, err,
				 "rollout device");
	} else {
		rc = pg_exec_cmd(c, "UPDATE rollout_devices SET state = $3 WHERE rollout_id = $1"
				 " AND device_id = $2", 3, p_state, err, "rollout device");
	}
	free(prev);
	return rc;
}
