/* Device API (API.md section 4): capabilities and deployment status. */
#include <stdlib.h>
#include <string.h>

#include "margo/timeutil.h"
#include "margo/validate.h"
#include "api.h"
#include "auth.h"
#include "store.h"
#include "wfmd.h"

/* Deployment ids: 1-128 characters of [A-Za-z0-9._-], not starting with '.'. */
static int deployment_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= STORE_ID_MAX || s[0] == '.')
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int api_device_capabilities_put(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_validation v;
	struct margo_error err;
	json_t *doc = NULL;
	int rc;

	if ((rc = auth_device(req, req->params[0])) < 0)
		return rc;
	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	margo_validation_init(&v);
	if (margo_capabilities_validate(doc, &v) < 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	margo_error_clear(&err);
	rc = store_capabilities_put(w->store, req->params[0], req->body, req->body_len,
				    margo_time_now(), &err);
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	rc = http_respond_body(req, resp, 201, "application/json", req->body, req->body_len);
out:
	json_decref(doc);
	return rc;
}

int api_device_capabilities_get(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if ((rc = auth_device(req, req->params[0])) < 0)
		return rc;
	margo_error_clear(&err);
	rc = store_capabilities_get(w->store, req->params[0], &doc, &len, NULL, &err);
	if (rc == MARGO_ENOTFOUND)
		return http_fail(req, 404, "no-capabilities",
				 "the device has not reported its capabilities yet");
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	resp->status = 200;
	resp->content_type = "application/json";
	resp->body = doc;
	resp->body_len = len;
	return 0;
}

int api_device_deployment_status(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_validation v;
	struct margo_error err;
	const char *deployment_id = req->params[1];
	const char *state;
	json_t *doc = NULL;
	int rc;

	if ((rc = auth_device(req, req->params[0])) < 0)
		return rc;
	if (!deployment_id_valid(deployment_id))
		return http_fail(req, 404, "unknown-deployment", "deployment ids are 1-128 "
				 "characters of letters, digits, '.', '_' and '-'");
	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	margo_validation_init(&v);
	if (margo_deployment_status_validate(doc, deployment_id, &v) < 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	state = json_string_value(json_object_get(json_object_get(doc, "status"), "state"));
	state = state != NULL ? margo_deployment_state_canonical(state) : NULL;
	if (state == NULL) {
		margo_validation_add(&v, "/status/state", "unknown state");
		rc = http_fail_validation(req, &v);
		goto out;
	}
	margo_error_clear(&err);
	rc = store_deployment_status_add(w->store, req->params[0], deployment_id, state,
					 req->body, req->body_len, margo_time_now(), &err);
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	rc = http_respond_body(req, resp, 201, "application/json", req->body, req->body_len);
out:
	json_decref(doc);
	return rc;
}
