/* Admin API: GET /admin/v1/audit, the audit log newest first, a page at a time, filtered by
 * operator, device and time (audit.h says what is recorded). */
#include <stdlib.h>
#include <string.h>

#include "margo/token.h"
#include "api.h"
#include "api_page.h"
#include "auth.h"
#include "store_operator.h"
#include "wfmd.h"

static json_t *audit_json(const struct store_audit *e)
{
	return json_pack("{s:I,s:o,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:i}", "seq", (json_int_t)e->seq,
			 "at", api_time_json(e->at), "operator", e->operator_name, "method",
			 e->method, "route", e->route, "path", e->path, "deviceId",
			 e->device_id[0] ? json_string(e->device_id) : json_null(), "target", e->target,
			 "clientAddress", e->client_addr, "status", e->status);
}

static int audit_filter_parse(struct http_request *req, struct store_audit_filter *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->operator_name = http_query(req, "operator");
	f->device_id = http_query(req, "deviceId");
	if (f->operator_name != NULL && !auth_operator_name_valid(f->operator_name))
		return http_fail(req, 400, "invalid-parameter", "operator must be an operator name");
	if (f->device_id != NULL && !margo_uuid_valid(f->device_id))
		return http_fail(req, 400, "invalid-parameter", "deviceId must be a device id");
	if ((rc = api_query_time(req, "since", &f->since)) < 0 ||
	    (rc = api_query_time(req, "until", &f->until)) < 0)
		return rc;
	return 0;
}

int api_admin_audit_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_audit *items = NULL;
	struct store_audit_filter f;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	size_t n = 0;
	json_t *arr;
	int rc, more;

	if ((rc = auth_admin(req)) < 0 || (rc = api_page_parse(req, &page)) < 0 ||
	    (rc = audit_filter_parse(req, &f)) < 0)
		return rc;
	if (page.after.set && page.after.at < 1)
		return http_fail(req, 400, "invalid-cursor",
				 "after must be the next cursor of a previous page");
	margo_error_clear(&err);
	if ((rc = store_audit_page(w->store, &f, page.after.set ? page.after.at : -1, page.limit,
				   &items, &n, &more, &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, audit_json(&items[i]));
	memset(&last, 0, sizeof(last));
	if (n > 0)
		last.at = items[n - 1].seq;
	free(items);
	return api_page_respond(req, resp, arr, more, &last);
}
