#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_api.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/validate.h"
#include "oauth.h"
#include "probe.h"

#define EXTRA_HEADERS_MAX 4

static int request_once(struct agent *a, const char *method, const char *url,
			const struct margo_http_header *extra, size_t nextra, const char *body,
			size_t body_len, struct margo_http_response *resp, struct margo_error *err)
{
	struct margo_http_header headers[3 + EXTRA_HEADERS_MAX];
	char *auth = NULL;
	size_t n = 0;
	int rc;

	if (asprintf(&auth, "Bearer %s", a->st.access_token) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	headers[n++] = (struct margo_http_header){ "Authorization", auth };
	headers[n++] = (struct margo_http_header){ "Accept", "application/json" };
	if (body != NULL)
		headers[n++] = (struct margo_http_header){ "Content-Type", "application/json" };
	for (size_t i = 0; i < nextra && i < EXTRA_HEADERS_MAX; i++)
		headers[n++] = extra[i];
	rc = agent_https_request(a->http, method, url, headers, n, body, body_len, resp, err);
	margo_secret_free(auth);
	return rc;
}

int agent_device_request(struct agent *a, const char *method, const char *subpath,
			 const char *body, size_t body_len, struct margo_http_response *resp,
			 struct margo_error *err)
{
	return agent_device_request_h(a, method, subpath, NULL, 0, body, body_len, resp, err);
}

int agent_device_request_h(struct agent *a, const char *method, const char *subpath,
			   const struct margo_http_header *extra, size_t nextra, const char *body,
			   size_t body_len, struct margo_http_response *resp, struct margo_error *err)
{
	const char *id = a->st.device_id != NULL ? a->st.device_id : a->st.client_id;
	char *path = NULL, *url = NULL;
	int rc;

	if (asprintf(&path, "/device/%s%s", id, subpath) < 0 || (url = agent_url(a, path)) == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = agent_oauth_ensure(a, 0, err);
	if (rc != 0)
		goto out;
	rc = request_once(a, method, url, extra, nextra, body, body_len, resp, err);
	if (rc == 0 && resp->status == 401) {
		/* expired or revoked token: one new token, one more try */
		margo_log_debug("access token refused, fetching a new one", "route=%s", subpath);
		margo_http_response_free(resp);
		rc = agent_oauth_ensure(a, 1, err);
		if (rc != 0)
			goto out;
		rc = request_once(a, method, url, extra, nextra, body, body_len, resp, err);
	}
	if (rc == 0) {
		if (resp->status == 429 || resp->status == 503)
			a->retry_after = resp->retry_after;
		if (resp->status < 500 && resp->status != 429)
			a->st.last_contact = margo_time_now();
	}
out:
	free(path);
	free(url);
	return rc;
}

int agent_capabilities_report(struct agent *a, const char *method, json_t *doc,
			      struct margo_error *err)
{
	struct margo_http_response resp = { 0 };
	char hash[MARGO_TOKEN_HASH_LEN], *body = NULL, *summary = NULL;
	int rc;

	rc = agent_probe_hash(doc, hash);
	body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (rc != 0 || body == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = agent_device_request(a, method, "/capabilities", body, strlen(body), &resp, err);
	if (rc != 0)
		goto out;
	if (resp.status != 200 && resp.status != 201 && resp.status != 204) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, resp.status == 401 ? MARGO_EAUTH
				     : resp.status == 403 ? MARGO_EFORBIDDEN : MARGO_EPROTO,
				     "capabilities report: %s", summary != NULL ? summary : "failed");
		goto out;
	}
	memcpy(a->st.capabilities_hash, hash, sizeof(hash));
	a->st.last_capabilities_report = margo_time_now();
	margo_log_info("capabilities reported", "method=%s hash=%.12s", method, hash);
out:
	free(summary);
	free(body);
	margo_http_response_free(&resp);
	return rc;
}

int agent_capabilities_sync(struct agent *a, int *sent, struct margo_error *err)
{
	struct agent_probe_options po;
	struct margo_validation v;
	char hash[MARGO_TOKEN_HASH_LEN];
	json_t *doc = NULL;
	int rc;

	*sent = 0;
	agent_probe_options_from_config(&po, a->cfg);
	agent_probe_options_from_state(&po, a->st.vendor, a->st.model_number, a->st.serial_number);
	po.device_id = a->st.device_id != NULL ? a->st.device_id : a->st.client_id;
	rc = agent_probe_capabilities(&po, &doc, err);
	if (rc != 0)
		return rc;
	margo_validation_init(&v);
	if (margo_capabilities_validate(doc, &v) != 0) {
		rc = margo_error_set(err, MARGO_EINVAL, "probed capabilities invalid: %s: %s",
				     v.count > 0 ? v.errors[0].field : "?",
				     v.count > 0 ? v.errors[0].message : "?");
		goto out;
	}
	rc = agent_probe_hash(doc, hash);
	if (rc != 0)
		goto out;
	if (strcmp(hash, a->st.capabilities_hash) == 0)
		goto out;
	rc = agent_capabilities_report(a, a->st.last_capabilities_report == 0 ? "POST" : "PUT",
				       doc, err);
	if (rc == 0)
		*sent = 1;
out:
	json_decref(doc);
	return rc;
}
