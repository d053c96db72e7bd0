#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "oauth.h"

#define TOKEN_MARGIN_MAX 60

/* application/x-www-form-urlencoded value encoding (unreserved characters kept). */
static int form_append(char **buf, size_t *len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (*len + 4 >= cap)
			return MARGO_ETOOBIG;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			(*buf)[(*len)++] = (char)c;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[c >> 4];
			(*buf)[(*len)++] = hex[c & 15];
		}
	}
	(*buf)[*len] = '\0';
	return MARGO_OK;
}

static int append_raw(char **buf, size_t *len, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 >= cap)
		return MARGO_ETOOBIG;
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return MARGO_OK;
}

int agent_oauth_ensure(struct agent *a, int force, struct margo_error *err)
{
	static const struct margo_http_header headers[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Accept", "application/json" },
	};
	struct margo_http_response resp = { 0 };
	int64_t now = margo_time_now(), expires_in, margin;
	json_t *doc = NULL, *tok, *exp;
	char *body = NULL, *summary = NULL;
	size_t len = 0, cap = 1024;
	int rc;

	if (!force && a->st.access_token != NULL && a->st.access_token_expires_at > now)
		return MARGO_OK;
	if (a->st.client_id == NULL || a->st.client_secret == NULL || a->st.token_endpoint == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no client credentials in the state");
	body = calloc(1, cap);
	if (body == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (append_raw(&body, &len, cap, "grant_type=client_credentials&client_id=") != 0 ||
	    form_append(&body, &len, cap, a->st.client_id) != 0 ||
	    append_raw(&body, &len, cap, "&client_secret=") != 0 ||
	    form_append(&body, &len, cap, a->st.client_secret) != 0) {
		rc = margo_error_set(err, MARGO_ETOOBIG, "client credentials too long");
		goto out;
	}
	rc = agent_https_request(a->http, "POST", a->st.token_endpoint, headers, 2, body, len,
				&resp, err);
	if (rc != 0)
		goto out;
	if (resp.status == 429 || resp.status == 503)
		a->retry_after = resp.retry_after;
	if (resp.status != 200) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, resp.status == 400 || resp.status == 401 ? MARGO_EAUTH
										 : MARGO_EPROTO,
				     "token endpoint: %s", summary != NULL ? summary : "failed");
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	tok = json_object_get(doc, "access_token");
	exp = json_object_get(doc, "expires_in");
	if (!json_is_string(tok) || json_string_length(tok) == 0) {
		rc = margo_error_set(err, MARGO_EPROTO, "token endpoint: no access_token in the answer");
		goto out;
	}
	expires_in = json_is_integer(exp) ? json_integer_value(exp) : 300;
	if (expires_in <= 0)
		expires_in = 1;
	margin = expires_in / 10 < TOKEN_MARGIN_MAX ? expires_in / 10 : TOKEN_MARGIN_MAX;
	if (agent_state_set(&a->st.access_token, json_string_value(tok)) != 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	a->st.access_token_expires_at = now + expires_in - margin;
	a->st.last_contact = now;
	margo_log_debug("access token obtained", "expires_in=%lld",
			(long long)expires_in);
out:
	margo_secret_free(body);
	free(summary);
	if (doc != NULL) {
		/* the token lives in the state; drop jansson's copy */
		json_decref(doc);
	}
	if (resp.body != NULL)
		memset(resp.body, 0, resp.body_len);
	margo_http_response_free(&resp);
	return rc;
}
