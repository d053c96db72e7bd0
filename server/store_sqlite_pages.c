/* SQLite backend of store_page.h: keyset pages of devices (with filters), enrollment tokens
 * and pre-registered certificates; device counts; the readiness ping. The device query is
 * built from the filters in use, so SQLite can pick the index that fits (schema steps 3 and
 * 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_page.h"
#include "store_sqlite_int.h"

#define DEVICE_SQL_MAX 2048

/* The smallest string greater than every string starting with prefix, in byte order: prefix
 * with its last byte below 0xff incremented (the bytes after it dropped). "" when none. */
static void prefix_upper(const char *prefix, char *out, size_t size)
{
	size_t n = strlen(prefix);

	if (n >= size)
		n = size - 1;
	memcpy(out, prefix, n);
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		n--;
	if (n > 0)
		out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
	out[n] = '\0';
}

static int append(char *sql, size_t *len, const char *text)
{
	size_t n = strlen(text);

	if (*len + n >= DEVICE_SQL_MAX)
		return -1;
	memcpy(sql + *len, text, n + 1);
	*len += n;
	return 0;
}

/* Filtered by deployment state, the walk is over deployment_latest_state (schema step 6):
 * the devices with a desired deployment whose latest report is :dstate, in (created_at, id)
 * order, each once; CROSS JOIN keeps that index the outer loop, so a page seeks instead of
 * testing every device in the list. */
#define DEVICE_FROM_DSTATE " FROM deployment_latest l CROSS JOIN devices" \
	" WHERE devices.id = l.device_id AND l.deployment_state = :dstate" \
	" AND EXISTS (SELECT 1 FROM deployments d WHERE d.device_id = l.device_id" \
	" AND d.deployment_id = l.deployment_id)"

/* The SELECT for f and the cursor: only the conditions in use, so the planner sees them. */
static int device_sql(const struct store_device_filter *f, const struct store_cursor *after,
		      char *sql)
{
	int dstate = f->deployment_state != NULL;
	size_t len = 0;
	int rc = append(sql, &len, "SELECT " DEVICE_COLUMNS);

	rc |= append(sql, &len, dstate ? DEVICE_FROM_DSTATE : " FROM devices WHERE 1");

	if (f->state != NULL)
		rc |= append(sql, &len, " AND state = :state");
	if (f->vendor != NULL)
		rc |= append(sql, &len, " AND vendor = :vendor");
	if (f->model_number != NULL)
		rc |= append(sql, &len, " AND model_number = :model");
	if (f->serial_prefix != NULL)
		rc |= append(sql, &len, " AND serial_number >= :serial AND (:serial_hi = ''"
			     " OR serial_number < :serial_hi)");
	if (f->id_prefix != NULL)
		rc |= append(sql, &len, " AND id >= :idp AND (:idp_hi = '' OR id < :idp_hi)");
	if (f->seen_before >= 0)
		rc |= append(sql, &len, " AND (last_seen_at IS NULL OR last_seen_at < :before)");
	if (f->seen_after >= 0)
		rc |= append(sql, &len, " AND last_seen_at >= :since");
	if (after->set)
		rc |= append(sql, &len, dstate ? " AND (l.device_created_at, l.device_id) >"
			     " (:at, :key)" : " AND (created_at, id) > (:at, :key)");
	rc |= append(sql, &len, dstate ? " GROUP BY l.device_created_at, l.device_id"
		     " ORDER BY l.device_created_at, l.device_id LIMIT :limit" :
		     " ORDER BY created_at, id LIMIT :limit");
	return rc;
}

static int device_bind(sqlite3_stmt *s, const struct store_device_filter *f,
		       const struct store_cursor *after, size_t limit)
{
	char serial_hi[STORE_TEXT_MAX], id_hi[MARGO_UUID_LEN];
	int rc = SQLITE_OK;

	if (f->state != NULL)
		rc |= bind_text(s, ":state", f->state);
	if (f->vendor != NULL)
		rc |= bind_text(s, ":vendor", f->vendor);
	if (f->model_number != NULL)
		rc |= bind_text(s, ":model", f->model_number);
	if (f->serial_prefix != NULL) {
		prefix_upper(f->serial_prefix, serial_hi, sizeof(serial_hi));
		rc |= bind_text(s, ":serial", f->serial_prefix);
		rc |= bind_text(s, ":serial_hi", serial_hi);
	}
	if (f->id_prefix != NULL) {
		prefix_upper(f->id_prefix, id_hi, sizeof(id_hi));
		rc |= bind_text(s, ":idp", f->id_prefix);
		rc |= bind_text(s, ":idp_hi", id_hi);
	}
	if (f->seen_before >= 0)
		rc |= bind_int(s, ":before", f->seen_before);
	if (f->seen_after >= 0)
		rc |= bind_int(s, ":since", f->seen_after);
	if (f->deployment_state != NULL)
		rc |= bind_text(s, ":dstate", f->deployment_state);
	if (after->set) {
		rc |= bind_int(s, ":at", after->at);
		rc |= bind_text(s, ":key", after->key);
	}
	/* One more than asked: whether it exists says if there is a next page. */
	rc |= bind_int(s, ":limit", (int64_t)limit + 1);
	return rc;
}

int sqlite_device_page(store *st, const struct store_device_filter *f,
		       const struct store_cursor *after, size_t limit, int64_t now,
		       struct store_device **items, size_t *n, int *more, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_device *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	char sql[DEVICE_SQL_MAX];
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	if (device_sql(f, after, sql) < 0)
		return margo_error_set(err, MARGO_EINVAL, "device filter too long");
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	if ((rc = sqlite_purge_expired(c, now, err)) < 0)
		goto out;
	if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = db_fail(c->db, err, "device page prepare");
		goto out;
	}
	BIND(device_bind(s, f, after, limit));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, limit < 64 ? limit : 64);
		sqlite_device_from_row(s, &v[cnt++]);
	}
	ROWS_DONE("device page");
out:
	sqlite3_finalize(s);
	rc = tx_end(c, rc, err);
	if (rc < 0) {
		store_devices_free(v, cnt);
		return rc;
	}
	*items = v;
	*n = cnt;
	return 0;
}

static const char sql_et_page[] =
	"SELECT id, description, created_at, expires_at, max_uses, uses, auto_approve, revoked"
	" FROM enrollment_tokens WHERE NOT :set OR (created_at, id) > (:at, :key)"
	" ORDER BY created_at, id LIMIT :limit";

int sqlite_enrollment_token_page(store *st, const struct store_cursor *after, size_t limit,
				 struct store_enrollment_token **items, size_t *n, int *more,
				 struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_enrollment_token *v = NULL, *t;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_et_page);
	BIND(bind_int(s, ":set", after->set) | bind_int(s, ":at", after->at) |
	     bind_text(s, ":key", after->key) | bind_int(s, ":limit", (int64_t)limit + 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 16);
		t = &v[cnt++];
		memset(t, 0, sizeof(*t));
		copy_text(t->id, sizeof(t->id), col_text(s, 0));
		copy_text(t->description, sizeof(t->description), col_text(s, 1));
		t->created_at = sqlite3_column_int64(s, 2);
		t->expires_at = sqlite3_column_int64(s, 3);
		t->max_uses = (long)sqlite3_column_int64(s, 4);
		t->uses = (long)sqlite3_column_int64(s, 5);
		t->auto_approve = sqlite3_column_int(s, 6);
		t->revoked = sqlite3_column_int(s, 7);
	}
	ROWS_DONE("enrollment token page");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	return rc;
}

static const char sql_cert_page[] =
	"SELECT fingerprint, description, created_at FROM preregistered_certs"
	" WHERE NOT :set OR (created_at, fingerprint) > (:at, :key)"
	" ORDER BY created_at, fingerprint LIMIT :limit";

int sqlite_certificate_page(store *st, const struct store_cursor *after, size_t limit,
			    struct store_certificate **items, size_t *n, int *more,
			    struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	struct store_certificate *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*more = 0;
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_cert_page);
	BIND(bind_int(s, ":set", after->set) | bind_int(s, ":at", after->at) |
	     bind_text(s, ":key", after->key) | bind_int(s, ":limit", (int64_t)limit + 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == limit) {
			*more = 1;
			continue;
		}
		ROW_RESERVE(v, cnt, cap, 16);
		memset(&v[cnt], 0, sizeof(v[cnt]));
		copy_text(v[cnt].fingerprint, sizeof(v[cnt].fingerprint), col_text(s, 0));
		copy_text(v[cnt].description, sizeof(v[cnt].description), col_text(s, 1));
		v[cnt].created_at = sqlite3_column_int64(s, 2);
		cnt++;
	}
	ROWS_DONE("certificate page");
	*items = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	return rc;
}

static const char sql_count_by_state[] =
	"SELECT state, count(*) FROM devices GROUP BY state";

int sqlite_device_count_by_state(store *st, int64_t counts[4], struct margo_error *err)
{
	static const char *const states[4] = { "pending", "active", "rejected", "revoked" };
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	memset(counts, 0, 4 * sizeof(counts[0]));
	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_count_by_state);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < 4; i++)
			if (strcmp(col_text(s, 0), states[i]) == 0)
				counts[i] = sqlite3_column_int64(s, 1);
	}
	ROWS_DONE("device count");
out:
	return rc;
}

static const char sql_ping[] = "SELECT count(*) FROM schema_migrations";

/* A read inside a write transaction: the database answers and this process can write (no
 * other writer holds it past the busy timeout). */
int sqlite_ping(store *st, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	if ((rc = tx_begin(c, err)) < 0)
		return rc;
	PREPARE(s, sql_ping);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	rc = rc == SQLITE_ROW ? 0 : db_fail(c->db, err, "ping");
out:
	return tx_end(c, rc, err);
}
