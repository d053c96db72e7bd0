#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "margo/timeutil.h"
#include "margo/token.h"
#include "auth.h"
#include "session.h"
#include "wfmd.h"

#define BEARER_INVALID "Bearer error=\"invalid_token\""
#define BEARER_MISSING "Bearer error=\"invalid_token\""

int auth_bearer(struct http_request *req, char buf[AUTH_TOKEN_MAX])
{
	const char *h = http_header(req, "Authorization");
	size_t n;

	buf[0] = '\0';
	if (h == NULL)
		return MARGO_ENOTFOUND;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return MARGO_ENOTFOUND;
	h += 7;
	while (*h == ' ' || *h == '\t')
		h++;
	n = strcspn(h, " \t");
	if (n == 0 || n >= AUTH_TOKEN_MAX || h[n + strspn(h + n, " \t")] != '\0')
		return MARGO_EINVAL;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return 0;
}

const char *auth_role_name(enum auth_role role)
{
	switch (role) {
	case AUTH_ROLE_VIEWER:
		return "viewer";
	case AUTH_ROLE_OPERATOR:
		return "operator";
	case AUTH_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

enum auth_role auth_role_parse(const char *s)
{
	for (int r = AUTH_ROLE_VIEWER; s != NULL && r <= AUTH_ROLE_ADMIN; r++)
		if (strcmp(s, auth_role_name((enum auth_role)r)) == 0)
			return (enum auth_role)r;
	return AUTH_ROLE_NONE;
}

int auth_operator_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= STORE_OPERATOR_NAME_MAX || !(islower((unsigned char)name[0]) ||
							  isdigit((unsigned char)name[0])))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    strchr("._-", name[i]) == NULL)
			return 0;
	return 1;
}

int auth_operator_resolve(struct wfmd *w, const char *token, struct auth_operator *out,
			  struct margo_error *err)
{
	struct store_operator op;
	char hash[MARGO_TOKEN_HASH_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	margo_token_hash(token, hash);
	if (margo_token_equal(hash, w->admin_token_hash)) {
		strcpy(out->name, AUTH_BOOTSTRAP_OPERATOR);
		out->role = AUTH_ROLE_ADMIN;
		return 0;
	}
	rc = store_operator_by_token(w->store, hash, &op, err);
	if (rc == MARGO_ENOTFOUND)
		return margo_error_set(err, MARGO_EAUTH, "unknown or revoked operator token");
	if (rc < 0)
		return rc;
	snprintf(out->name, sizeof(out->name), "%s", op.name);
	out->role = auth_role_parse(op.role);
	return 0;
}

/* Paths whose changes (and, for operators, reads) are the admin role's. */
static const char *const admin_paths[] = {
	"/admin/v1/operators", "/admin/v1/enrollment-tokens", "/admin/v1/certificates",
};

enum auth_role auth_required_role(const char *method, const char *path)
{
	int read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	for (size_t i = 0; i < sizeof(admin_paths) / sizeof(admin_paths[0]); i++) {
		size_t n = strlen(admin_paths[i]);

		if (strncmp(path, admin_paths[i], n) != 0 || (path[n] != '\0' && path[n] != '/'))
			continue;
		if (!read || i == 0)
			return AUTH_ROLE_ADMIN;
	}
	return read ? AUTH_ROLE_VIEWER : AUTH_ROLE_OPERATOR;
}

/* The operator behind a console session, as they are now: the bootstrap admin, or a named
 * operator still live (revocation ends their sessions at once) with their current role. */
static int session_operator(struct http_request *req, const struct store_session *sess,
			    struct auth_operator *op)
{
	struct wfmd *w = req->ctx;
	struct store_operator o;
	struct margo_error err;
	int rc;

	memset(op, 0, sizeof(*op));
	if (sess->bootstrap) {
		strcpy(op->name, AUTH_BOOTSTRAP_OPERATOR);
		op->role = AUTH_ROLE_ADMIN;
		return 0;
	}
	margo_error_clear(&err);
	rc = store_operator_get(w->store, sess->operator_name, &o, &err);
	if (rc == MARGO_ENOTFOUND || (rc == 0 && o.revoked_at >= 0))
		return http_fail(req, 401, "session-ended", "operator %s is revoked: log in again",
				 sess->operator_name);
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	snprintf(op->name, sizeof(op->name), "%s", o.name);
	op->role = auth_role_parse(o.role);
	return 0;
}

/* Who calls: the bearer's operator, or the console session's (session.h). 0, or -1 with
 * the problem set. */
static int admin_caller(struct http_request *req, struct auth_operator *op)
{
	struct wfmd *w = req->ctx;
	struct store_session sess;
	struct margo_error err;
	char token[AUTH_TOKEN_MAX];
	int rc = auth_bearer(req, token);

	if (rc == MARGO_ENOTFOUND && session_cookie_present(req)) {
		if (session_authenticate(req, &sess, NULL) < 0)
			return -1;
		return session_operator(req, &sess, op);
	}
	if (rc < 0) {
		req->problem.www_authenticate = rc == MARGO_ENOTFOUND ? BEARER_MISSING :
			BEARER_INVALID;
		return http_fail(req, 401, "unauthorized",
				 "admin API needs Authorization: Bearer <operator token>");
	}
	margo_error_clear(&err);
	rc = auth_operator_resolve(w, token, op, &err);
	OPENSSL_cleanse(token, sizeof(token));
	if (rc == MARGO_EAUTH) {
		req->problem.www_authenticate = BEARER_INVALID;
		return http_fail(req, 401, "unauthorized", "wrong operator token");
	}
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	return 0;
}

int auth_admin(struct http_request *req)
{
	struct auth_operator op;
	enum auth_role need;

	if (admin_caller(req, &op) < 0)
		return -1;
	snprintf(req->client_id, sizeof(req->client_id), "%s", op.name);
	req->operator_role = (int)op.role;
	need = auth_required_role(req->method, req->path);
	if (op.role < need) {
		http_fail(req, 403, "insufficient-role",
			  "operator %s has role %s; %s %s needs role %s", op.name,
			  auth_role_name(op.role), req->method, req->path, auth_role_name(need));
		return http_problem_member(req, "requiredRole", json_string(auth_role_name(need)));
	}
	return 0;
}

/* auth_device; with rev, the device's main revision too (store_access_poll). */
static int device_check(struct http_request *req, const char *device_id, char *rev)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	struct access_token claims;
	char token[AUTH_TOKEN_MAX];
	int64_t now = margo_time_now();
	int rc = auth_bearer(req, token);

	if (rc < 0) {
		req->problem.www_authenticate = rc == MARGO_ENOTFOUND ? BEARER_MISSING :
			BEARER_INVALID;
		return http_fail(req, 401, "unauthorized",
				 "Device API needs Authorization: Bearer <access token>");
	}
	margo_error_clear(&err);
	rc = access_token_verify(w->access_key, token, now, &claims, &err);
	OPENSSL_cleanse(token, sizeof(token));
	if (rc == 0)
		rc = rev != NULL ?
		     store_access_poll(w->store, claims.device_id, claims.epoch, now, rev, &err) :
		     store_access_check(w->store, claims.device_id, claims.epoch, now, &err);
	if (rc == MARGO_EAUTH) {
		req->problem.www_authenticate = BEARER_INVALID;
		return http_fail(req, 401, "invalid-token", "%s", err.message);
	}
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	strcpy(req->client_id, claims.device_id);
	if (strcmp(claims.device_id, device_id) != 0)
		return http_fail(req, 403, "forbidden",
				 "the access token belongs to another device");
	return 0;
}

int auth_device(struct http_request *req, const char *device_id)
{
	return device_check(req, device_id, NULL);
}

int auth_device_poll(struct http_request *req, const char *device_id,
		     char rev[STORE_REVISION_LEN])
{
	return device_check(req, device_id, rev);
}
