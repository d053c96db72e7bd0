/* store_camac.h on SQLite. */
#include <string.h>

#include "store_camac.h"
#include "store_sqlite_int.h"

static const char sql_ca_mac_add[] =
	"INSERT INTO enrollment_ca_macs (token_id, lookup, ca_fingerprint, ca_mac)"
	" VALUES (:id, :lookup, :fp, :mac) ON CONFLICT (token_id) DO NOTHING";
static const char sql_ca_mac_get[] =
	"SELECT m.token_id, m.ca_fingerprint, m.ca_mac FROM enrollment_ca_macs m"
	" JOIN enrollment_tokens t ON t.id = m.token_id"
	" WHERE m.lookup = :lookup AND t.revoked = 0 AND t.uses < t.max_uses"
	" AND t.expires_at > :now";

int sqlite_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_ca_mac_add);
	BIND(bind_text(s, ":id", m->token_id));
	BIND(bind_text(s, ":lookup", m->lookup));
	BIND(bind_text(s, ":fp", m->ca_fingerprint));
	BIND(bind_text(s, ":mac", m->ca_mac));
	/* The token's own row first (as on PostgreSQL): a second MAC for it is MARGO_EEXIST
	 * even when its lookup, also unique, is the same. */
	rc = exec_stmt(c, s, err);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_EEXIST, "enrollment token %s has a CA MAC",
				     m->token_id);
out:
	return rc;
}

int sqlite_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		      struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	memset(out, 0, sizeof(*out));
	PREPARE(s, sql_ca_mac_get);
	BIND(bind_text(s, ":lookup", lookup));
	BIND(bind_int(s, ":now", now));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		copy_text(out->token_id, sizeof(out->token_id), col_text(s, 0));
		copy_text(out->lookup, sizeof(out->lookup), lookup);
		copy_text(out->ca_fingerprint, sizeof(out->ca_fingerprint), col_text(s, 1));
		copy_text(out->ca_mac, sizeof(out->ca_mac), col_text(s, 2));
		rc = MARGO_OK;
	} else if (rc == SQLITE_DONE) {
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no usable enrollment token has this lookup");
	} else {
		rc = db_fail(c->db, err, "ca mac");
	}
	sqlite3_reset(s);
out:
	return rc;
}
