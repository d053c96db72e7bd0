/* Console login and logout (API.md section 6, "Console sessions"): POST /admin/v1/session
 * exchanges an operator token for the session cookie, GET tells the console who is logged in
 * (and its CSRF token), DELETE logs out. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "auth.h"
#include "session.h"
#include "wfmd.h"

#define COOKIE_ATTRS "Path=/; Secure; HttpOnly; SameSite=Strict"

/* Who the token in the login body is: 0 with s's operator and role, or 401 (problem set). */
static int login_identify(struct http_request *req, const char *token, struct store_session *s)
{
	struct wfmd *w = req->ctx;
	struct auth_operator op;
	struct margo_error err;
	int rc;

	margo_error_clear(&err);
	rc = auth_operator_resolve(w, token, &op, &err);
	if (rc == MARGO_EAUTH) {
		margo_log_warn("console login refused", "client_addr=%s", req->client_addr);
		return http_fail(req, 401, "unauthorized", "wrong operator token");
	}
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	snprintf(s->operator_name, sizeof(s->operator_name), "%s", op.name);
	snprintf(s->role, sizeof(s->role), "%s", auth_role_name(op.role));
	s->bootstrap = strcmp(op.name, AUTH_BOOTSTRAP_OPERATOR) == 0;
	req->operator_role = (int)op.role;      /* the login is recorded in the audit log */
	return 0;
}

static json_t *session_json(const struct store_session *s, const char *csrf)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:s}", "operator", s->operator_name, "role", s->role,
			 "createdAt", api_time_json(s->created_at), "expiresAt",
			 api_time_json(s->expires_at), "csrfToken", csrf);
}

/* The login body's token, copied into buf: 0 or -1 (problem set). */
static int login_token(struct http_request *req, char buf[AUTH_TOKEN_MAX])
{
	struct margo_validation v;
	json_t *doc = NULL, *t;
	int rc;

	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	t = json_object_get(doc, "token");
	if (!json_is_string(t) || json_string_length(t) == 0 ||
	    json_string_length(t) >= AUTH_TOKEN_MAX) {
		margo_validation_init(&v);
		margo_validation_add(&v, "/token", "required: the operator token");
		rc = http_fail_validation(req, &v);
	} else {
		snprintf(buf, AUTH_TOKEN_MAX, "%s", json_string_value(t));
	}
	json_decref(doc);
	return rc;
}

int api_session_login(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_session s;
	struct margo_error err;
	char token[AUTH_TOKEN_MAX] = "", hash[MARGO_TOKEN_HASH_LEN], csrf[MARGO_TOKEN_HASH_LEN];
	char *session = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	if (!session_origin_ok(req, 1)) {
		rc = http_fail(req, 403, "csrf", "log in from the console's own origin");
		goto out;
	}
	if ((rc = login_token(req, token)) < 0 || (rc = login_identify(req, token, &s)) < 0)
		goto out;
	session = margo_token_generate(SESSION_TOKEN_PREFIX);
	if (session == NULL) {
		rc = http_fail_error(req, MARGO_ECRYPTO, NULL);
		goto out;
	}
	margo_token_hash(session, hash);
	session_csrf_token(session, csrf);
	s.created_at = margo_time_now();
	s.expires_at = s.created_at + SESSION_TTL;
	margo_error_clear(&err);
	if ((rc = store_session_create(w->store, hash, &s, s.created_at, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	snprintf(req->client_id, sizeof(req->client_id), "%.*s",
		 (int)sizeof(req->client_id) - 1, s.operator_name);
	margo_log_info("console login", "operator=%s role=%s client_addr=%s", s.operator_name,
		       s.role, req->client_addr);
	if ((rc = http_respond_json(req, resp, 201, session_json(&s, csrf))) == 0 &&
	    http_response_header(resp, "Set-Cookie", SESSION_COOKIE "=%s; Max-Age=%d; "
				 COOKIE_ATTRS, session, SESSION_TTL) < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	margo_secret_free(session);
	return rc;
}

int api_session_get(struct http_request *req, struct http_response *resp)
{
	struct store_session s;
	char csrf[MARGO_TOKEN_HASH_LEN];
	int rc;

	if ((rc = session_authenticate(req, &s, csrf)) < 0)
		return rc;
	rc = http_respond_json(req, resp, 200, session_json(&s, csrf));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	return rc;
}

int api_session_logout(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_session s;
	struct margo_error err;
	char token[AUTH_TOKEN_MAX], hash[MARGO_TOKEN_HASH_LEN];
	int rc;

	if ((rc = session_authenticate(req, &s, NULL)) < 0)
		return rc;
	req->operator_role = (int)auth_role_parse(s.role);       /* so is the logout */
	if ((rc = session_token(req, token)) < 0)
		return http_fail_error(req, rc, NULL);
	margo_token_hash(token, hash);
	OPENSSL_cleanse(token, sizeof(token));
	margo_error_clear(&err);
	if ((rc = store_session_delete(w->store, hash, &err)) < 0)
		return http_fail_error(req, rc, &err);
	margo_log_info("console logout", "operator=%s", s.operator_name);
	resp->status = 204;
	if (http_response_header(resp, "Set-Cookie", SESSION_COOKIE "=; Max-Age=0; "
				 COOKIE_ATTRS) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}
