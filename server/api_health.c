/* Operations routes: GET /metrics (Prometheus text format, any operator token), GET /healthz
 * (the process answers) and GET /readyz (the store answers too), both without
 * authentication so load balancers and orchestrators can probe them. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "metrics.h"
#include "store_page.h"
#include "wfmd.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int api_metrics_get(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = metrics_render(w, &text, &len, &err)) < 0)
		return http_fail_error(req, rc, &err);
	rc = http_respond_body(req, resp, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
	return rc;
}

int api_healthz(struct http_request *req, struct http_response *resp)
{
	return http_respond_json(req, resp, 200, json_pack("{s:s}", "status", "ok"));
}

int api_readyz(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;

	margo_error_clear(&err);
	if (store_ping(w->store, &err) < 0) {
		req->problem.retry_after = 5;
		return http_fail(req, 503, "not-ready", "the store does not answer: %s",
				 err.message);
	}
	return http_respond_json(req, resp, 200, json_pack("{s:s}", "status", "ready"));
}
