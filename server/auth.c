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

int auth_admin(struct http_request *req)
{
	struct wfmd *w = req->ctx;
	char token[AUTH_TOKEN_MAX];
	char hash[MARGO_TOKEN_HASH_LEN];
	struct store_session sess;
	int rc = auth_bearer(req, token), ok;

	/* The console: its session cookie stands in for the bearer (session.h). */
	if (rc == MARGO_ENOTFOUND && session_cookie_present(req))
		return session_authenticate(req, &sess, NULL);
	if (rc < 0) {
		req->problem.www_authenticate = rc == MARGO_ENOTFOUND ? BEARER_MISSING :
			BEARER_INVALID;
		return http_fail(req, 401, "unauthorized",
				 "admin API needs Authorization: Bearer <admin token>");
	}
	margo_token_hash(token, hash);
	OPENSSL_cleanse(token, sizeof(token));
	ok = margo_token_equal(hash, w->admin_token_hash);
	if (!ok) {
		req->problem.www_authenticate = BEARER_INVALID;
		return http_fail(req, 401, "unauthorized", "wrong admin token");
	}
	strcpy(req->client_id, "admin");
	return 0;
}

int auth_device(struct http_request *req, const char *device_id)
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
		rc = store_access_check(w->store, claims.device_id, claims.epoch, now, &err);
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
