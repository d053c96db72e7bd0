/* store_fleet.h on PostgreSQL: device labels and the fleet scan selectors run over
 * (store_sqlite_labels.c's twin). An update locks the device's row first, so two updates of
 * one device's labels apply one after the other and the per-device limit holds. */
#include <stdlib.h>
#include <string.h>

#include "store_fleet.h"
#include "store_pg_int.h"

#define SCAN_BATCH 512

/* 0 when device id exists, MARGO_ENOTFOUND, MARGO_ESTORE. */
static int device_exists(struct pg_conn *c, const char *id, int lock, struct margo_error *err)
{
	char state[16];
	const char *params[] = { id };
	PGresult *res;
	int found;

	if (lock)
		return pg_device_lock(c, id, state, sizeof(state), err);
	res = pg_exec(c, "SELECT 1 FROM devices WHERE id = $1", 1, params, err, "device exists");
	if (res == NULL)
		return MARGO_ESTORE;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found ? 0 : margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
}

int pg_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { device_id };
	struct store_label *v;
	PGresult *res;
	size_t cnt;
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = device_exists(c, device_id, 0, err)) < 0)
		return rc;
	res = pg_exec(c, "SELECT key, value FROM device_labels WHERE device_id = $1 ORDER BY key",
		      1, params, err, "labels");
	if (res == NULL)
		return MARGO_ESTORE;
	cnt = (size_t)PQntuples(res);
	if ((v = calloc(cnt > 0 ? cnt : 1, sizeof(*v))) == NULL) {
		PQclear(res);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < cnt; i++) {
		pg_copy_text(v[i].key, sizeof(v[i].key), PQgetvalue(res, (int)i, 0));
		pg_copy_text(v[i].value, sizeof(v[i].value), PQgetvalue(res, (int)i, 1));
	}
	PQclear(res);
	*items = v;
	*n = cnt;
	return 0;
}

static int labels_apply(struct pg_conn *c, const char *id, const struct store_label *set,
			size_t nset, const char *const *remove, size_t nremove,
			struct margo_error *err)
{
	const char *params[3] = { id };
	PGresult *res;
	int64_t count;

	for (size_t i = 0; i < nremove; i++) {
		params[1] = remove[i];
		if (pg_exec_cmd(c, "DELETE FROM device_labels WHERE device_id = $1 AND key = $2", 2,
				params, err, "label delete") < 0)
			return MARGO_ESTORE;
	}
	for (size_t i = 0; i < nset; i++) {
		params[1] = set[i].key;
		params[2] = set[i].value;
		if (pg_exec_cmd(c, "INSERT INTO device_labels (device_id, key, value)"
				" VALUES ($1, $2, $3) ON CONFLICT (device_id, key)"
				" DO UPDATE SET value = excluded.value", 3, params, err,
				"label put") < 0)
			return MARGO_ESTORE;
	}
	res = pg_exec(c, "SELECT count(*) FROM device_labels WHERE device_id = $1", 1, params, err,
		      "labels count");
	if (res == NULL)
		return MARGO_ESTORE;
	count = pg_col_i64(res, 0, 0);
	PQclear(res);
	if (count > LABEL_PER_DEVICE_MAX)
		return margo_error_set(err, MARGO_ELIMIT, "a device carries at most %d labels",
				       LABEL_PER_DEVICE_MAX);
	return 0;
}

int pg_labels_update(store *st, const char *device_id, const struct store_label *set,
		     size_t nset, const char *const *remove, size_t nremove,
		     struct margo_error *err)
{
	struct pg_conn *c = pg_tx_open(st, err);
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	rc = device_exists(c, device_id, 1, err);
	if (rc == 0)
		rc = labels_apply(c, device_id, set, nset, remove, nremove, err);
	return pg_tx_end(c, rc, err);
}

/* ---- fleet scan ---- */

/* A batch of devices (res columns: id, state, vendor, model_number, capabilities, ids
 * ascending) and their labels: device i's are labels[first[i]] .. labels[first[i] + count[i]). */
struct scan_batch {
	PGresult *devices;
	int n;
	struct store_label *labels;
	size_t *first, *count;
};

static void batch_free(struct scan_batch *b)
{
	PQclear(b->devices);
	free(b->labels);
	free(b->first);
	free(b->count);
	memset(b, 0, sizeof(*b));
}

/* Attaches label row j of res to the batch. Both queries order by id in the database's
 * collation, so the owner is device *i or a later one; only equality is compared (C's
 * strcmp need not agree with the collation). A label of a device the batch lacks (inserted
 * between the two queries) is skipped. */
static void batch_attach(struct scan_batch *b, const PGresult *res, int j, int *i)
{
	const char *id = PQgetvalue(res, j, 0);
	int k = *i;

	while (k < b->n && strcmp(PQgetvalue(b->devices, k, 0), id) != 0)
		k++;
	if (k == b->n)
		return;
	*i = k;
	if (b->count[k] == 0)
		b->first[k] = (size_t)j;
	pg_copy_text(b->labels[j].key, sizeof(b->labels[j].key), PQgetvalue(res, j, 1));
	pg_copy_text(b->labels[j].value, sizeof(b->labels[j].value), PQgetvalue(res, j, 2));
	b->count[k]++;
}

/* The labels of the batch's devices: those of devices in state with ids in (after, last]. */
static int batch_labels(struct pg_conn *c, const char *state, const char *after,
			const char *only, struct scan_batch *b, struct margo_error *err)
{
	const char *params[] = { state, after, PQgetvalue(b->devices, b->n - 1, 0), only };
	PGresult *res = pg_exec(c, "SELECT l.device_id, l.key, l.value FROM device_labels l"
				" JOIN devices d ON d.id = l.device_id WHERE ($1::text IS NULL"
				" OR d.state = $1) AND ($2::text IS NULL OR l.device_id > $2)"
				" AND l.device_id <= $3 AND ($4::text IS NULL OR l.device_id = $4)"
				" ORDER BY l.device_id, l.key", 4, params, err, "fleet scan labels");
	int nl, i = 0;

	if (res == NULL)
		return MARGO_ESTORE;
	nl = PQntuples(res);
	b->labels = calloc(nl > 0 ? (size_t)nl : 1, sizeof(*b->labels));
	b->first = calloc((size_t)b->n, sizeof(*b->first));
	b->count = calloc((size_t)b->n, sizeof(*b->count));
	if (b->labels == NULL || b->first == NULL || b->count == NULL) {
		PQclear(res);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	for (int j = 0; j < nl; j++)
		batch_attach(b, res, j, &i);
	PQclear(res);
	return 0;
}

/* Up to SCAN_BATCH devices after `after` (NULL: from the start), with their labels. */
static int batch_read(struct pg_conn *c, const char *state, const char *after,
		      const char *only, struct scan_batch *b, struct margo_error *err)
{
	struct pg_i64 lim = pg_i64(SCAN_BATCH);
	const char *params[] = { state, after, only, lim.s };

	memset(b, 0, sizeof(*b));
	b->devices = pg_exec(c, "SELECT d.id, d.state, d.vendor, d.model_number, c.document"
			     " FROM devices d LEFT JOIN capabilities c ON c.device_id = d.id"
			     " WHERE ($1::text IS NULL OR d.state = $1) AND ($2::text IS NULL"
			     " OR d.id > $2) AND ($3::text IS NULL OR d.id = $3) ORDER BY d.id"
			     " LIMIT $4", 4, params, err, "fleet scan");
	if (b->devices == NULL)
		return MARGO_ESTORE;
	b->n = PQntuples(b->devices);
	return b->n > 0 ? batch_labels(c, state, after, only, b, err) : 0;
}

static int batch_call(struct scan_batch *b, int (*fn)(void *ctx,
		      const struct store_fleet_device *d), void *ctx)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < b->n; i++) {
		struct store_fleet_device d = {
			PQgetvalue(b->devices, i, 0), PQgetvalue(b->devices, i, 1),
			PQgetvalue(b->devices, i, 2), PQgetvalue(b->devices, i, 3),
			PQgetisnull(b->devices, i, 4) ? NULL : PQgetvalue(b->devices, i, 4),
			b->count[i] > 0 ? &b->labels[b->first[i]] : NULL, b->count[i],
		};

		rc = fn(ctx, &d);
	}
	return rc;
}

static int scan(store *st, const char *state, const char *after, const char *only,
		int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	char last[MARGO_UUID_LEN];
	struct scan_batch b;
	int rc, n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (after != NULL)
		pg_copy_text(last, sizeof(last), after);
	for (;;) {
		rc = batch_read(c, state, after != NULL ? last : NULL, only, &b, err);
		if (rc == 0)
			rc = batch_call(&b, fn, ctx);
		n = b.n;
		if (n > 0)
			pg_copy_text(last, sizeof(last), PQgetvalue(b.devices, n - 1, 0));
		batch_free(&b);
		if (rc != 0 || n < SCAN_BATCH)
			return rc;
		after = last;
	}
}

int pg_fleet_scan(store *st, const char *state, const char *after,
		  int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		  struct margo_error *err)
{
	return scan(st, state, after, NULL, fn, ctx, err);
}

/* Sets found when fn ran. */
struct get_ctx {
	int (*fn)(void *ctx, const struct store_fleet_device *d);
	void *ctx;
	int found;
};

static int get_one(void *ctx, const struct store_fleet_device *d)
{
	struct get_ctx *g = ctx;

	g->found = 1;
	return g->fn(g->ctx, d);
}

int pg_fleet_get(store *st, const char *id,
		 int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		 struct margo_error *err)
{
	struct get_ctx g = { fn, ctx, 0 };
	int rc = scan(st, NULL, NULL, id, get_one, &g, err);

	if (rc == 0 && !g.found)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
	return rc;
}
