/* Console sessions (session.h): the cookie, the CSRF token, the Origin check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "margo/timeutil.h"
#include "margo/token.h"
#include "auth.h"
#include "session.h"
#include "wfmd.h"

int session_cookie_parse(const char *h, char *buf)
{
	size_t nlen = strlen(SESSION_COOKIE), n;

	buf[0] = '\0';
	while (h != NULL && *h != '\0') {
		h += strspn(h, " \t;");
		if (strncmp(h, SESSION_COOKIE, nlen) == 0 && h[nlen] == '=') {
			h += nlen + 1;
			n = strcspn(h, "; \t");
			if (n == 0 || n >= AUTH_TOKEN_MAX)
				return MARGO_EINVAL;
			memcpy(buf, h, n);
			buf[n] = '\0';
			return 0;
		}
		h = strchr(h, ';');
	}
	return MARGO_ENOTFOUND;
}

int session_token(struct http_request *req, char *buf)
{
	return session_cookie_parse(http_header(req, "Cookie"), buf);
}

int session_cookie_present(struct http_request *req)
{
	char buf[AUTH_TOKEN_MAX];
	int rc = session_token(req, buf);

	OPENSSL_cleanse(buf, sizeof(buf));
	return rc != MARGO_ENOTFOUND;
}

void session_csrf_token(const char *token, char out[MARGO_TOKEN_HASH_LEN])
{
	char buf[AUTH_TOKEN_MAX + 8];

	snprintf(buf, sizeof(buf), "csrf:%s", token);
	margo_token_hash(buf, out);
	OPENSSL_cleanse(buf, sizeof(buf));
}

int session_origin_ok(struct http_request *req, int allow_missing)
{
	struct wfmd *w = req->ctx;
	const char *origin = http_header(req, "Origin"), *host = http_header(req, "Host");

	if (origin == NULL)
		return allow_missing;
	if (w->public_url != NULL && strcasecmp(origin, w->public_url) == 0)
		return 1;
	return host != NULL && strncasecmp(origin, "https://", 8) == 0 &&
		strcasecmp(origin + 8, host) == 0;
}

static int is_safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* 403 unless a mutating request carries the session's CSRF token and comes from here. */
static int csrf_check(struct http_request *req, const char *csrf)
{
	const char *h = http_header(req, SESSION_CSRF_HEADER);

	if (is_safe_method(req->method))
		return 0;
	if (h == NULL || !margo_token_equal(h, csrf))
		return http_fail(req, 403, "csrf", "a console request that changes something needs "
				 "the session's " SESSION_CSRF_HEADER " header");
	if (!session_origin_ok(req, 0))
		return http_fail(req, 403, "csrf", "a console request that changes something must "
				 "come from the console's own origin");
	return 0;
}

int session_authenticate(struct http_request *req, struct store_session *out,
			 char csrf[MARGO_TOKEN_HASH_LEN])
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char token[AUTH_TOKEN_MAX], hash[MARGO_TOKEN_HASH_LEN], mine[MARGO_TOKEN_HASH_LEN];
	int rc = session_token(req, token);

	if (rc < 0) {
		rc = http_fail(req, 401, "unauthorized", "log in to the console first");
		goto out;
	}
	margo_token_hash(token, hash);
	session_csrf_token(token, mine);
	margo_error_clear(&err);
	rc = store_session_get(w->store, hash, margo_time_now(), out, &err);
	if (rc == MARGO_EAUTH) {
		rc = http_fail(req, 401, "session-ended", "%s: log in again", err.message);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	if ((rc = csrf_check(req, mine)) < 0)
		goto out;
	snprintf(req->client_id, sizeof(req->client_id), "%.*s",
		 (int)sizeof(req->client_id) - 1, out->operator_name);
	if (csrf != NULL)
		memcpy(csrf, mine, MARGO_TOKEN_HASH_LEN);
out:
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(mine, sizeof(mine));
	return rc;
}
