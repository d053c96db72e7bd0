/* store.h's onboarding authorisations on PostgreSQL: enrollment tokens and pre-registered
 * certificates (store_sqlite_enrollment.c's twin; their pages: store_pg_pages.c). A token's
 * uses are counted by store_onboard (store_pg_onboard.c). */
#include "store_pg_int.h"

int pg_enrollment_token_create(store *st, const struct store_enrollment_token *t,
			       const char *token_hash, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 exp = pg_i64(t->expires_at), max = pg_i64(t->max_uses),
		      at = pg_i64(t->created_at);
	const char *params[] = { t->id, token_hash, t->description, exp.s, max.s,
				 t->auto_approve ? "1" : "0", at.s };

	if (c == NULL)
		return MARGO_ESTORE;
	return pg_exec_cmd(c, "INSERT INTO enrollment_tokens (id, hash, description, expires_at,"
			   " max_uses, uses, auto_approve, revoked, created_at)"
			   " VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $7)", 7, params, err,
			   "enrollment token insert");
}

int pg_enrollment_token_revoke(store *st, const char *id, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { id };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "UPDATE enrollment_tokens SET revoked = 1 WHERE id = $1", 1,
			    params, &n, err, "enrollment token revoke") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_ENOTFOUND, "no enrollment token %s", id);
}

int pg_certificate_add(store *st, const char *fingerprint, const char *pem,
		       const char *description, int64_t now, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	struct pg_i64 at = pg_i64(now);
	const char *params[] = { fingerprint, pem, description != NULL ? description : "", at.s };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "INSERT INTO preregistered_certs (fingerprint, certificate_pem,"
			    " description, created_at) VALUES ($1, $2, $3, $4)"
			    " ON CONFLICT (fingerprint) DO NOTHING", 4, params, &n, err,
			    "certificate insert") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_EEXIST,
					   "certificate %s is already registered", fingerprint);
}

int pg_certificate_remove(store *st, const char *fingerprint, struct margo_error *err)
{
	struct pg_conn *c = pg_conn_get(pg_pool_of(st), err);
	const char *params[] = { fingerprint };
	long n;

	if (c == NULL)
		return MARGO_ESTORE;
	if (pg_exec_changes(c, "DELETE FROM preregistered_certs WHERE fingerprint = $1", 1, params,
			    &n, err, "certificate delete") < 0)
		return MARGO_ESTORE;
	return n > 0 ? 0 : margo_error_set(err, MARGO_ENOTFOUND, "no certificate %s", fingerprint);
}
