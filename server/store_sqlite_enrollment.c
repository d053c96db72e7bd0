/* store.h's onboarding authorisations on SQLite: enrollment tokens and pre-registered
 * certificates (their pages: store_sqlite_pages.c). */
#include "margo/error.h"
#include "store_sqlite_int.h"

/* ---- enrollment tokens ---- */

static const char sql_et_insert[] =
	"INSERT INTO enrollment_tokens (id, hash, description, expires_at, max_uses, uses,"
	" auto_approve, revoked, created_at) VALUES (:id, :hash, :desc, :expires, :max, 0,"
	" :auto, 0, :now)";
static const char sql_et_revoke[] =
	"UPDATE enrollment_tokens SET revoked = 1 WHERE id = :id";

int sqlite_enrollment_token_create(store *st, const struct store_enrollment_token *t,
				   const char *token_hash, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_et_insert);
	BIND(bind_text(s, ":id", t->id));
	BIND(bind_text(s, ":hash", token_hash));
	BIND(bind_text(s, ":desc", t->description));
	BIND(bind_int(s, ":expires", t->expires_at));
	BIND(bind_int(s, ":max", t->max_uses));
	BIND(bind_int(s, ":auto", t->auto_approve ? 1 : 0));
	BIND(bind_int(s, ":now", t->created_at));
	EXEC(s);
out:
	return rc;
}

int sqlite_enrollment_token_revoke(store *st, const char *id, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_et_revoke);
	BIND(bind_text(s, ":id", id));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no enrollment token %s", id);
out:
	return rc;
}

/* ---- pre-registered certificates ---- */

static const char sql_cert_insert[] =
	"INSERT INTO preregistered_certs (fingerprint, certificate_pem, description, created_at)"
	" VALUES (:fp, :pem, :desc, :now) ON CONFLICT (fingerprint) DO NOTHING";
static const char sql_cert_delete[] =
	"DELETE FROM preregistered_certs WHERE fingerprint = :fp";

int sqlite_certificate_add(store *st, const char *fingerprint, const char *pem,
			   const char *description, int64_t now, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_cert_insert);
	BIND(bind_text(s, ":fp", fingerprint));
	BIND(bind_text(s, ":pem", pem));
	BIND(bind_text(s, ":desc", description != NULL ? description : ""));
	BIND(bind_int(s, ":now", now));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_EEXIST, "certificate %s is already registered",
				     fingerprint);
out:
	return rc;
}

int sqlite_certificate_remove(store *st, const char *fingerprint, struct margo_error *err)
{
	struct conn *c = conn_get(st, err);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL)
		return MARGO_ESTORE;
	PREPARE(s, sql_cert_delete);
	BIND(bind_text(s, ":fp", fingerprint));
	EXEC(s);
	if (sqlite3_changes(c->db) == 0)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no certificate %s", fingerprint);
out:
	return rc;
}
