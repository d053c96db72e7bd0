/* Admin deployments (API.md section 6): ApplicationDeployment YAML committed to the device's
 * desired state (desired.h) as deployments/<deploymentId>.yaml, one commit per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/validate.h"
#include "api.h"
#include "api_page.h"
#include "auth.h"
#include "desired.h"
#include "store.h"
#include "wfmd.h"

#define COMMIT_MESSAGE_MAX 512

static int yaml_content_type(struct http_request *req)
{
	return http_content_type_is(req, "application/yaml") ||
		http_content_type_is(req, "text/yaml") ||
		http_content_type_is(req, "application/x-yaml");
}

/* The device of the route: 404 unknown; *state gets its state. */
static int route_device(struct http_request *req, char state[16])
{
	struct wfmd *w = req->ctx;
	struct store_device d;
	struct margo_error err;
	int rc;

	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no device %s", req->params[0]);
	memset(&d, 0, sizeof(d));
	margo_error_clear(&err);
	rc = store_device_get(w->store, req->params[0], margo_time_now(), &d, &err);
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	snprintf(state, 16, "%s", d.state);
	store_device_clear(&d);
	return 0;
}

/* A change of the desired state that failed: the store's answer when it is about the store
 * or the device, else 503 (logged). */
static int desired_fail(struct http_request *req, int rc, struct margo_error *err,
			const char *device_id, const char *deployment_id)
{
	if (rc == MARGO_ESTORE || rc == MARGO_ENOTFOUND)
		return http_fail_error(req, rc, err);
	margo_log_error("desired state not committed", "device_id=%s deployment_id=%s "
			"error=\"%s\"", device_id, deployment_id, err->message);
	return http_fail(req, 503, "repository-unavailable",
			 "the change could not be committed; retry later");
}

int api_admin_deployment_put(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_validation v;
	struct margo_error err;
	struct margo_appdeploy *dep = NULL;
	const char *device_id = req->params[0], *deployment_id = req->params[1];
	char state[16], old_name[STORE_TEXT_MAX], rev[STORE_REVISION_LEN];
	char message[COMMIT_MESSAGE_MAX];
	char *yaml = NULL;
	size_t yaml_len = 0;
	int rc, exists, changed = 0;
	json_t *o;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if ((rc = route_device(req, state)) < 0)
		return rc;
	if (!margo_appdeploy_id_valid(deployment_id))
		return http_fail(req, 404, "not-found", "deployment ids are 1-128 characters of "
				 "letters, digits, '.', '_' and '-', not starting with '.'");
	if (!yaml_content_type(req))
		return http_fail(req, 415, "unsupported-media-type", "Content-Type must be "
				 "application/yaml (or text/yaml, application/x-yaml)");
	if (strcmp(state, "active") != 0)
		return http_fail(req, 409, "device-not-active", "device %s is %s; deployments "
				 "need an active device", device_id, state);
	if (req->body == NULL || req->body_len == 0) {
		margo_validation_init(&v);
		margo_validation_add(&v, "", "the document is empty");
		return http_fail_validation(req, &v);
	}
	margo_validation_init(&v);
	rc = margo_appdeploy_parse(req->body, req->body_len, &dep, &v);
	if (rc == MARGO_ETOOBIG)
		return http_fail(req, 413, "body-too-large", "document larger than 1 MiB");
	if (rc == MARGO_EINVAL)
		return http_fail_validation(req, &v);
	if (rc < 0)
		return http_fail_error(req, rc, NULL);
	margo_error_clear(&err);
	rc = margo_appdeploy_set_id(req->body, req->body_len, deployment_id, &yaml, &yaml_len,
				    &err);
	if (rc < 0) {
		rc = http_fail(req, 422, "validation-failed", "%s", err.message);
		goto out;
	}
	rc = store_deployment_desired_get(w->store, device_id, deployment_id, old_name, &err);
	if (rc < 0 && rc != MARGO_ENOTFOUND) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	exists = rc == 0;
	snprintf(message, sizeof(message), "%s %s (%s)", exists ? "Update" : "Deploy",
		 deployment_id, dep->name);
	margo_error_clear(&err);
	rc = desired_put(w->store, device_id, deployment_id, yaml, yaml_len, dep->name,
			 dep->application_id, message, rev, &changed, &err);
	if (rc < 0) {
		rc = desired_fail(req, rc, &err, device_id, deployment_id);
		goto out;
	}
	margo_log_info("deployment committed", "device_id=%s deployment_id=%s revision=%s "
		       "changed=%d", device_id, deployment_id, rev, changed);
	o = json_pack("{s:s,s:s,s:s,s:s}", "deploymentId", deployment_id, "name", dep->name,
		      "applicationId", dep->application_id, "revision", rev);
	rc = http_respond_json(req, resp, exists ? 200 : 201, o);
	if (rc == 0 && !exists &&
	    http_response_header(resp, "Location", "/admin/v1/devices/%s/deployments/%s",
				 device_id, deployment_id) < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	margo_appdeploy_free(dep);
	free(yaml);
	return rc;
}

int api_admin_deployment_delete(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	const char *device_id = req->params[0], *deployment_id = req->params[1];
	char state[16], name[STORE_TEXT_MAX], rev[STORE_REVISION_LEN];
	char message[COMMIT_MESSAGE_MAX];
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if ((rc = route_device(req, state)) < 0)
		return rc;
	if (!margo_appdeploy_id_valid(deployment_id))
		return http_fail(req, 404, "not-found", "no deployment %s", deployment_id);
	margo_error_clear(&err);
	rc = store_deployment_desired_get(w->store, device_id, deployment_id, name, &err);
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	snprintf(message, sizeof(message), "Undeploy %s", deployment_id);
	rc = desired_remove(w->store, device_id, deployment_id, message, rev, &err);
	if (rc < 0)
		return desired_fail(req, rc, &err, device_id, deployment_id);
	margo_log_info("deployment removed", "device_id=%s deployment_id=%s", device_id,
		       deployment_id);
	resp->status = 204;
	return 0;
}

/* status.error of a stored DeploymentStatus document, or null. */
static json_t *status_error(json_t *status_doc)
{
	json_t *e = json_object_get(json_object_get(status_doc, "status"), "error");

	if (!json_is_object(e))
		return json_null();
	return json_pack("{s:O?,s:O?}", "code", json_object_get(e, "code"), "message",
			 json_object_get(e, "message"));
}

/* A deployment of the list: its desired side and the latest report (NULL when out of
 * memory). */
static json_t *desired_json(const struct store_desired *d)
{
	json_t *doc = d->status_document != NULL ? json_loads(d->status_document, 0, NULL) : NULL;
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}",
			      "deploymentId", d->deployment_id, "name", d->name,
			      "applicationId", d->application_id,
			      "state", d->state[0] ? json_string(d->state) : json_null(),
			      "error", status_error(doc),
			      "updatedAt", api_time_json(d->received_at >= 0 ? d->received_at :
							 d->updated_at),
			      "receivedAt", api_time_json(d->received_at),
			      "status", doc != NULL ? json_incref(doc) : json_null());

	json_decref(doc);
	return o;
}

json_t *api_deployments_json(struct http_request *req, const char *device_id,
			     int include_reported)
{
	struct wfmd *w = req->ctx;
	struct store_desired *items = NULL;
	struct store_deployment *reported = NULL;
	struct margo_error err;
	size_t n = 0, nrep = 0;
	json_t *arr = json_array();
	int rc;

	margo_error_clear(&err);
	if (arr == NULL ||
	    (rc = store_deployment_desired_list(w->store, device_id, &items, &n, &err)) < 0 ||
	    (rc = store_deployment_list(w->store, device_id, &reported, &nrep, &err)) < 0) {
		http_fail_error(req, arr == NULL ? MARGO_ENOMEM : rc, &err);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = desired_json(&items[i]);

		if (o == NULL || json_array_append_new(arr, o) < 0) {
			http_fail_error(req, MARGO_ENOMEM, NULL);
			goto fail;
		}
	}
	/* Reports for deployments wfmd did not (or no longer) deploy. */
	for (size_t i = 0; include_reported && i < nrep; i++) {
		int known = 0;
		json_t *doc, *o;

		for (size_t j = 0; j < n && !known; j++)
			known = strcmp(items[j].deployment_id, reported[i].deployment_id) == 0;
		if (known)
			continue;
		doc = json_loads(reported[i].document, 0, NULL);
		o = json_pack("{s:s,s:n,s:n,s:s,s:o,s:o,s:o,s:o}",
			      "deploymentId", reported[i].deployment_id, "name", "applicationId",
			      "state", reported[i].state, "error", status_error(doc),
			      "updatedAt", api_time_json(reported[i].received_at),
			      "receivedAt", api_time_json(reported[i].received_at),
			      "status", doc != NULL ? json_incref(doc) : json_null());
		json_decref(doc);
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			http_fail_error(req, MARGO_ENOMEM, NULL);
			goto fail;
		}
	}
	store_desired_free(items, n);
	store_deployments_free(reported, nrep);
	return arr;
fail:
	store_desired_free(items, n);
	store_deployments_free(reported, nrep);
	json_decref(arr);
	return NULL;
}

/* A page of the device's deployments (docs/api.md "Pages"), in (created_at, deploymentId)
 * order; reports of deployments not deployed here are on the device object only. */
int api_admin_deployment_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_desired *items = NULL;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	char state[16];
	size_t n = 0;
	json_t *arr;
	int rc, more;

	if ((rc = auth_admin(req)) < 0 || (rc = route_device(req, state)) < 0 ||
	    (rc = api_page_parse(req, &page)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_deployment_desired_page(w->store, req->params[0], &page.after,
						page.limit, &items, &n, &more, &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, desired_json(&items[i]));
	memset(&last, 0, sizeof(last));
	if (n > 0) {
		last.at = items[n - 1].created_at;
		snprintf(last.key, sizeof(last.key), "%s", items[n - 1].deployment_id);
	}
	store_desired_free(items, n);
	return api_page_respond(req, resp, arr, more, &last);
}
