#include <stdio.h>
#include <string.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "audit.h"
#include "store_operator.h"
#include "wfmd.h"

static int is_mutation(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The ids of the call: the device of a /devices/{id} route, the other path parameters and
 * the last segment of the Location of a POST's answer (what it created), joined by '/'. */
static void audit_targets(struct http_request *req, const struct http_route *route,
			  const struct http_response *resp, struct store_audit *e)
{
	const char *loc = http_response_header_get(resp, "Location");
	size_t first = 0, len = 0;

	if (strstr(route->pattern, "/devices/{id}") != NULL && req->nparams > 0) {
		snprintf(e->device_id, sizeof(e->device_id), "%s", req->params[0]);
		first = 1;
	}
	for (size_t i = first; i < req->nparams && len < sizeof(e->target) - 1; i++)
		len += (size_t)snprintf(e->target + len, sizeof(e->target) - len, "%s%s",
					len ? "/" : "", req->params[i]);
	if (strcmp(req->method, "POST") == 0 && loc != NULL && strrchr(loc, '/') != NULL &&
	    len < sizeof(e->target) - 1)
		snprintf(e->target + len, sizeof(e->target) - len, "%s%s", len ? "/" : "",
			 strrchr(loc, '/') + 1);
}

void audit_on_handled(struct http_request *req, const struct http_route *route,
		      unsigned status, const struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_audit e;
	struct margo_error err;

	if (strncmp(route->pattern, "/admin/", 7) != 0 || !is_mutation(req->method) ||
	    req->operator_role == 0)
		return;
	memset(&e, 0, sizeof(e));
	e.at = margo_time_now();
	snprintf(e.operator_name, sizeof(e.operator_name), "%.32s", req->client_id);
	snprintf(e.method, sizeof(e.method), "%s", req->method);
	snprintf(e.route, sizeof(e.route), "%s", route->pattern);
	snprintf(e.path, sizeof(e.path), "%s", req->path);
	snprintf(e.client_addr, sizeof(e.client_addr), "%s", req->client_addr);
	e.status = (int)status;
	audit_targets(req, route, resp, &e);
	margo_error_clear(&err);
	if (store_audit_add(w->store, &e, &err) < 0)
		margo_log_error("audit entry not recorded", "operator=%s method=%s route=%s "
				"status=%u error=\"%s\"", e.operator_name, e.method, e.route, status,
				err.message);
}
