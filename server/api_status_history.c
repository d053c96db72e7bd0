/* GET /admin/v1/devices/{id}/deployments/{deploymentId}/history (docs/api.md, "Console"): the
 * newest DeploymentStatus reports of one deployment, newest first, each with its components'
 * states: what the console's device page shows as the status history. wfmd keeps the last
 * STORE_STATUS_HISTORY reports of each deployment. */
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "auth.h"
#include "store_console.h"
#include "wfmd.h"

#define HISTORY_DEFAULT 20

/* ?limit=: 1 to STORE_STATUS_HISTORY, default HISTORY_DEFAULT; 0 on a bad value. */
static size_t history_limit(struct http_request *req)
{
	const char *q = http_query(req, "limit");
	char *end;
	long n;

	if (q == NULL)
		return HISTORY_DEFAULT;
	n = strtol(q, &end, 10);
	if (*q == '\0' || *end != '\0' || n < 1 || n > STORE_STATUS_HISTORY)
		return 0;
	return (size_t)n;
}

/* One report: its state, when it came, status.error and the components' states (null or []
 * when the device sent none). */
static json_t *history_item(const struct store_deployment *d)
{
	json_t *doc = json_loads(d->document, 0, NULL);
	json_t *error = json_object_get(json_object_get(doc, "status"), "error");
	json_t *comps = json_object_get(doc, "components");
	json_t *o;

	o = json_pack("{s:s,s:o,s:O?,s:O?}", "state", d->state, "receivedAt",
		      api_time_json(d->received_at), "error", json_is_object(error) ? error : NULL,
		      "components", json_is_array(comps) ? comps : NULL);
	json_decref(doc);
	return o;
}

int api_admin_deployment_history(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_deployment *items = NULL;
	struct store_device d;
	struct margo_error err;
	size_t n = 0, limit = history_limit(req);
	json_t *arr = NULL, *o;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (limit == 0)
		return http_fail(req, 400, "invalid-parameter", "limit must be 1 to %d",
				 STORE_STATUS_HISTORY);
	if (!margo_uuid_valid(req->params[0]) || !margo_appdeploy_id_valid(req->params[1]))
		return http_fail(req, 404, "not-found", "no such device or deployment");
	margo_error_clear(&err);
	if ((rc = store_device_get(w->store, req->params[0], margo_time_now(), &d, &err)) < 0 ||
	    (rc = store_deployment_history(w->store, req->params[0], req->params[1], limit,
					   &items, &n, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		o = history_item(&items[i]);
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	rc = http_respond_json(req, resp, 200, json_pack("{s:s,s:s,s:o}", "deviceId", d.id,
							 "deploymentId", req->params[1],
							 "items", arr));
out:
	store_device_clear(&d);
	store_deployments_free(items, n);
	return rc;
}
