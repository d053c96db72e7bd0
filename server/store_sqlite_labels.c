/* store_fleet.h on SQLite: device labels and the fleet scan selectors run over. */
#include <stdlib.h>
#include <string.h>

#include "store_fleet.h"
#include "store_sqlite_int.h"

static const char sql_labels_get[] =
	"SELECT key, value FROM device_labels WHERE device_id = :id ORDER BY key";
static const char sql_label_put[] =
	"INSERT INTO device_labels (device_id, key, value) VALUES (:id, :key, :value)"
	" ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value";
static const char sql_label_del[] = "DELETE FROM device_labels WHERE device_id = :id AND key = :key";
static const char sql_label_count[] = "SELECT count(*) FROM device_labels WHERE device_id = :id";

/* The labels of device id into *items (newly allocated). */
static int labels_read(struct conn *c, const char *id, struct store_label **items, size_t *n,
		       struct margo_error *err)
{
	struct store_label *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	PREPARE(s, sql_labels_get);
	BIND(bind_text(s, ":id", id));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ROW_RESERVE(v, cnt, cap, 8);
		copy_text(v[cnt].key, sizeof(v[cnt].key), col_text(s, 0));
		copy_text(v[cnt].value, sizeof(v[cnt].value), col_text(s, 1));
		cnt++;
	}
	ROWS_DONE("labels");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	return rc;
}

int sqlite_labels_get(store *st, const char *device_id, struct store_label **items, size_t *n,
		      struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	int rc;

	*items = NULL;
	*n = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = db_device_exists(c, device_id, err)) < 0)
		return rc;
	return labels_read(c, device_id, items, n, err);
}

static int labels_apply(struct conn *c, const char *id, const struct store_label *set,
			size_t nset, const char *const *remove, size_t nremove,
			struct margo_error *err)
{
	sqlite3_stmt *s;
	int rc = 0;

	for (size_t i = 0; i < nremove; i++) {
		PREPARE(s, sql_label_del);
		BIND(bind_text(s, ":id", id));
		BIND(bind_text(s, ":key", remove[i]));
		EXEC(s);
	}
	for (size_t i = 0; i < nset; i++) {
		PREPARE(s, sql_label_put);
		BIND(bind_text(s, ":id", id));
		BIND(bind_text(s, ":key", set[i].key));
		BIND(bind_text(s, ":value", set[i].value));
		EXEC(s);
	}
	PREPARE(s, sql_label_count);
	BIND(bind_text(s, ":id", id));
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		rc = db_fail(c->db, err, "labels");
		goto out;
	}
	if (sqlite3_column_int(s, 0) > LABEL_PER_DEVICE_MAX)
		rc = margo_error_set(err, MARGO_ELIMIT, "a device carries at most %d labels",
				     LABEL_PER_DEVICE_MAX);
	sqlite3_reset(s);
out:
	return rc;
}

int sqlite_labels_update(store *st, const char *device_id, const struct store_label *set,
			 size_t nset, const char *const *remove, size_t nremove,
			 struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	rc = db_device_exists(c, device_id, err);
	if (rc == 0)
		rc = labels_apply(c, device_id, set, nset, remove, nremove, err);
	return tx_end(c, rc, err);
}

/* ---- fleet scan ---- */

static const char sql_scan[] =
	"SELECT d.id, d.state, d.vendor, d.model_number, c.document FROM devices d"
	" LEFT JOIN capabilities c ON c.device_id = d.id"
	" WHERE (:state IS NULL OR d.state = :state) AND (:after IS NULL OR d.id > :after)"
	" AND (:only IS NULL OR d.id = :only) ORDER BY d.id LIMIT :limit";
static const char sql_scan_labels[] =
	"SELECT l.device_id, l.key, l.value FROM device_labels l JOIN devices d ON d.id = l.device_id"
	" WHERE (:state IS NULL OR d.state = :state) AND l.device_id > :after"
	" AND l.device_id <= :last AND (:only IS NULL OR l.device_id = :only)"
	" ORDER BY l.device_id, l.key";

#define SCAN_BATCH 512

struct scan_row {
	char id[MARGO_UUID_LEN];
	char state[16];
	char *vendor, *model, *caps;
	struct store_label *labels;
	size_t nlabels, caplabels;
};

static void rows_free(struct scan_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].vendor);
		free(rows[i].model);
		free(rows[i].caps);
		free(rows[i].labels);
	}
	free(rows);
}

/* Up to SCAN_BATCH devices after `after`, into rows. */
static int scan_devices(struct conn *c, const char *state, const char *after, const char *only,
			struct scan_row **out, size_t *n, struct margo_error *err)
{
	struct scan_row *rows = calloc(SCAN_BATCH, sizeof(*rows));
	sqlite3_stmt *s;
	size_t cnt = 0;
	int rc;

	if (rows == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	PREPARE(s, sql_scan);
	BIND(bind_text(s, ":state", state));
	BIND(bind_text(s, ":after", after));
	BIND(bind_text(s, ":only", only));
	BIND(bind_int(s, ":limit", SCAN_BATCH));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct scan_row *r = &rows[cnt++];

		copy_text(r->id, sizeof(r->id), col_text(s, 0));
		copy_text(r->state, sizeof(r->state), col_text(s, 1));
		r->vendor = strdup(col_text(s, 2));
		r->model = strdup(col_text(s, 3));
		r->caps = sqlite3_column_type(s, 4) == SQLITE_NULL ? NULL : strdup(col_text(s, 4));
		if (r->vendor == NULL || r->model == NULL ||
		    (r->caps == NULL && sqlite3_column_type(s, 4) != SQLITE_NULL)) {
			sqlite3_reset(s);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	ROWS_DONE("fleet scan");
	*out = rows;
	*n = cnt;
	rows = NULL;
out:
	rows_free(rows, cnt);
	return rc;
}

/* The labels of rows[0..n) (ids ascending), attached to each row. */
static int scan_labels(struct conn *c, const char *state, const char *after, const char *only,
		       struct scan_row *rows, size_t n, struct margo_error *err)
{
	sqlite3_stmt *s;
	size_t i = 0;
	int rc;

	PREPARE(s, sql_scan_labels);
	BIND(bind_text(s, ":state", state));
	BIND(bind_text(s, ":after", after != NULL ? after : ""));
	BIND(bind_text(s, ":last", rows[n - 1].id));
	BIND(bind_text(s, ":only", only));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = col_text(s, 0);
		struct scan_row *r;

		while (i < n && strcmp(rows[i].id, id) < 0)
			i++;
		if (i == n || strcmp(rows[i].id, id) != 0)
			continue;
		r = &rows[i];
		ROW_RESERVE(r->labels, r->nlabels, r->caplabels, 4);
		copy_text(r->labels[r->nlabels].key, sizeof(r->labels[0].key), col_text(s, 1));
		copy_text(r->labels[r->nlabels].value, sizeof(r->labels[0].value), col_text(s, 2));
		r->nlabels++;
	}
	ROWS_DONE("fleet scan labels");
out:
	return rc;
}

static int scan(store *st, const char *state, const char *after, const char *only,
		int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	char last[MARGO_UUID_LEN];
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	if (after != NULL)
		copy_text(last, sizeof(last), after);
	for (;;) {
		struct scan_row *rows = NULL;
		size_t n = 0;

		rc = scan_devices(c, state, after != NULL ? last : NULL, only, &rows, &n, err);
		if (rc == 0 && n > 0)
			rc = scan_labels(c, state, after != NULL ? last : NULL, only, rows, n, err);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			struct store_fleet_device d = {
				rows[i].id, rows[i].state, rows[i].vendor, rows[i].model,
				rows[i].caps, rows[i].labels, rows[i].nlabels,
			};

			rc = fn(ctx, &d);
		}
		if (n > 0)
			copy_text(last, sizeof(last), rows[n - 1].id);
		rows_free(rows, n);
		if (rc != 0 || n < SCAN_BATCH)
			return rc;
		after = last;
	}
}

int sqlite_fleet_scan(store *st, const char *state, const char *after,
		      int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		      struct margo_error *err)
{
	return scan(st, state, after, NULL, fn, ctx, err);
}

/* Sets *found when fn ran. */
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

int sqlite_fleet_get(store *st, const char *id,
		     int (*fn)(void *ctx, const struct store_fleet_device *d), void *ctx,
		     struct margo_error *err)
{
	struct get_ctx g = { fn, ctx, 0 };
	int rc = scan(st, NULL, NULL, id, get_one, &g, err);

	if (rc == 0 && !g.found)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no device %s", id);
	return rc;
}
