/* store_camac.h on PostgreSQL (store_sqlite_camac.c's twin). */
#include <string.h>

#include "store_camac.h"
#include "store_pg_int.h"

int pg_ca_mac_add(store *st, const struct store_ca_mac *m, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { m->token_id, m->lookup, m->ca_fingerprint, m->ca_mac };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "INSERT INTO enrollment_ca_macs (token_id, lookup, ca_fingerprint,"
			    " ca_mac) VALUES ($1, $2, $3, $4) ON CONFLICT (token_id) DO NOTHING",
			    4, params, &n, err, "ca mac add") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_EEXIST, "enrollment token %s has a CA MAC",
					   m->token_id);
}

int pg_ca_mac_get(store *st, const char *lookup, int64_t now, struct store_ca_mac *out,
		  struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(now);
	const char *params[] = { lookup, at.s };
	PGresult *res;
	int rc = 0;

	if (c == NULL)
		return MARGO_ESTORE;
	memset(out, 0, sizeof(*out));
	res = pg_exec(c, "SELECT m.token_id, m.ca_fingerprint, m.ca_mac FROM enrollment_ca_macs m"
		      " JOIN enrollment_tokens t ON t.id = m.token_id WHERE m.lookup = $1"
		      " AND t.revoked = 0 AND t.uses < t.max_uses AND t.expires_at > $2", 2,
		      params, err, "ca mac");
	if (res == NULL)
		return MARGO_ESTORE;
	if (PQntuples(res) == 0) {
		rc = margo_error_set(err, MARGO_ENOTFOUND,
				     "no usable enrollment token has this lookup");
	} else {
		pg_copy_text(out->token_id, sizeof(out->token_id), PQgetvalue(res, 0, 0));
		pg_copy_text(out->lookup, sizeof(out->lookup), lookup);
		pg_copy_text(out->ca_fingerprint, sizeof(out->ca_fingerprint),
			     PQgetvalue(res, 0, 1));
		pg_copy_text(out->ca_mac, sizeof(out->ca_mac), PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}
