/* GET /admin/v1/summary (API.md section 6): the fleet in a few figures for the console's
 * overview page, each an indexed count, so the page costs the same at 100 or 100,000
 * devices. */
#include "margo/timeutil.h"
#include "api.h"
#include "auth.h"
#include "store_console.h"
#include "wfmd.h"

static json_t *failing_json(const struct store_summary *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < s->nfailing; i++) {
		json_t *o = json_pack("{s:s,s:s,s:o}", "deviceId", s->failing[i].device_id,
				      "deploymentId", s->failing[i].deployment_id, "reportedAt",
				      api_time_json(s->failing[i].received_at));
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:I,s:o}", "total", (json_int_t)s->failing_total, "items", arr);
}

static json_t *summary_json(const struct store_summary *s, int64_t now)
{
	json_t *states = json_object();
	json_int_t total = 0;

	for (size_t i = 0; states != NULL && i < 4; i++) {
		total += s->by_state[i];
		if (json_object_set_new(states, store_summary_states[i],
					json_integer(s->by_state[i])) < 0) {
			json_decref(states);
			states = NULL;
		}
	}
	if (states == NULL || json_object_set_new(states, "total", json_integer(total)) < 0) {
		json_decref(states);
		return NULL;
	}
	return json_pack("{s:o,s:{s:I,s:I},s:{s:I,s:i},s:o,s:o}", "devices", states,
			 "onboarded", "lastHour", (json_int_t)s->onboarded_1h, "lastDay",
			 (json_int_t)s->onboarded_24h, "seen", "last5Minutes",
			 (json_int_t)s->seen_5m, "windowSeconds", 300,
			 "failingDeployments", failing_json(s), "generatedAt", api_time_json(now));
}

int api_admin_summary(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_summary s;
	struct margo_error err;
	int64_t now = margo_time_now();
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_summary_get(w->store, now, &s, &err)) < 0)
		return http_fail_error(req, rc, &err);
	return http_respond_json(req, resp, 200, summary_json(&s, now));
}
