/* Admin API: rollouts (rollout.h). POST /admin/v1/rollouts creates one; GET lists them or
 * shows one with per-wave counts; POST .../pause, .../resume, .../abort act on one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "margo/appdeploy.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "margo/validate.h"
#include "api.h"
#include "auth.h"
#include "rollout.h"
#include "wfmd.h"

#define WAVE_TIMEOUT_DEFAULT 3600
#define WAVE_TIMEOUT_MAX (30 * 86400)

static json_t *rollout_json(const struct store_rollout *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s*,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:b,"
			 "s:o,s:o,s:o}",
			 "id", r->id, "deploymentId", r->deployment_id, "selector", r->selector,
			 "state", r->state, "reason", r->reason[0] ? r->reason : NULL,
			 "canary", (json_int_t)r->canary, "batch", (json_int_t)r->batch,
			 "batchPercent", (json_int_t)r->batch_percent,
			 "successThreshold", (json_int_t)r->success_threshold,
			 "waveTimeoutSeconds", (json_int_t)r->wave_timeout,
			 "autoAdvance", r->auto_advance, "currentWave", (json_int_t)r->current_wave,
			 "waves", (json_int_t)r->nwaves, "devices", (json_int_t)r->ndevices,
			 "waveDeployed", r->wave_deployed,
			 "waveStartedAt", api_time_json(r->wave_started_at),
			 "createdAt", api_time_json(r->created_at),
			 "updatedAt", api_time_json(r->updated_at));
}

/* "25%" or 25 (percent, 1..100) into *out; -1 when malformed. */
static int percent_of(json_t *x, long *out)
{
	char *end;
	long v;

	if (json_is_integer(x)) {
		v = (long)json_integer_value(x);
	} else if (json_is_string(x)) {
		v = strtol(json_string_value(x), &end, 10);
		if (end == json_string_value(x) || strcmp(end, "%") != 0)
			return -1;
	} else {
		return -1;
	}
	if (v < 1 || v > 100)
		return -1;
	*out = v;
	return 0;
}

/* batch: N devices or "P%". */
static void parse_batch(json_t *x, struct store_rollout *r, struct margo_validation *v)
{
	r->batch = 0;
	r->batch_percent = 100;
	if (x == NULL || json_is_null(x))
		return;
	if (json_is_integer(x) && json_integer_value(x) >= 1 &&
	    json_integer_value(x) <= ROLLOUT_DEVICES_MAX) {
		r->batch = (long)json_integer_value(x);
		r->batch_percent = 0;
	} else if (!json_is_string(x) || percent_of(x, &r->batch_percent) < 0) {
		margo_validation_add(v, "/batch", "must be a number of devices (1 to %d) or a "
				     "percentage such as \"10%%\"", ROLLOUT_DEVICES_MAX);
	}
}

static void parse_options(json_t *doc, struct store_rollout *r, struct margo_validation *v)
{
	json_t *x;

	r->success_threshold = 100;
	r->wave_timeout = WAVE_TIMEOUT_DEFAULT;
	r->auto_advance = 1;
	x = json_object_get(doc, "canary");
	if (x != NULL && !json_is_null(x)) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    json_integer_value(x) > ROLLOUT_DEVICES_MAX)
			margo_validation_add(v, "/canary", "must be a number of devices, 0 or more");
		else
			r->canary = (long)json_integer_value(x);
	}
	parse_batch(json_object_get(doc, "batch"), r, v);
	x = json_object_get(doc, "successThreshold");
	if (x != NULL && !json_is_null(x) && percent_of(x, &r->success_threshold) < 0)
		margo_validation_add(v, "/successThreshold", "must be a percentage from 1 to 100 "
				     "(\"95%%\" or 95)");
	x = json_object_get(doc, "waveTimeoutSeconds");
	if (x != NULL && !json_is_null(x)) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > WAVE_TIMEOUT_MAX)
			margo_validation_add(v, "/waveTimeoutSeconds", "must be seconds from 1 to %d",
					     WAVE_TIMEOUT_MAX);
		else
			r->wave_timeout = json_integer_value(x);
	}
	x = json_object_get(doc, "autoAdvance");
	if (x != NULL && !json_is_null(x)) {
		if (!json_is_boolean(x))
			margo_validation_add(v, "/autoAdvance", "must be a boolean");
		else
			r->auto_advance = json_is_true(x);
	}
}

/* The deployment document: validated, its id decided and written into it. */
static int parse_deployment(struct http_request *req, json_t *doc, struct store_rollout *r,
			    struct margo_validation *v)
{
	struct margo_appdeploy *dep = NULL;
	struct margo_validation dv;
	struct margo_error err;
	json_t *y = json_object_get(doc, "deployment"), *id = json_object_get(doc, "deploymentId");
	const char *text;
	int rc;

	if (!json_is_string(y) || json_string_length(y) == 0) {
		margo_validation_add(v, "/deployment", "required: the ApplicationDeployment YAML "
				     "as a string");
		return 0;
	}
	text = json_string_value(y);
	margo_validation_init(&dv);
	rc = margo_appdeploy_parse(text, json_string_length(y), &dep, &dv);
	if (rc == MARGO_EINVAL) {
		for (size_t i = 0; i < dv.count; i++) {
			char f[MARGO_ERROR_MSG_MAX];

			snprintf(f, sizeof(f), "/deployment%s", dv.errors[i].field);
			margo_validation_add(v, f, "%s", dv.errors[i].message);
		}
		return 0;
	}
	if (rc < 0)
		return http_fail(req, rc == MARGO_ETOOBIG ? 413 : 400, NULL,
				 "the deployment document cannot be read");
	if (id != NULL && !json_is_null(id) &&
	    (!json_is_string(id) || !margo_appdeploy_id_valid(json_string_value(id))))
		margo_validation_add(v, "/deploymentId", "1-128 characters of A-Z a-z 0-9 . _ -, "
				     "not starting with '.'");
	else if (json_is_string(id))
		snprintf(r->deployment_id, sizeof(r->deployment_id), "%s", json_string_value(id));
	else if (dep->id != NULL && margo_appdeploy_id_valid(dep->id))
		snprintf(r->deployment_id, sizeof(r->deployment_id), "%s", dep->id);
	else
		margo_validation_add(v, "/deploymentId", "required when the document has no "
				     "valid metadata.annotations.id");
	margo_appdeploy_free(dep);
	if (v->count > 0)
		return 0;
	margo_error_clear(&err);
	if (margo_appdeploy_set_id(text, json_string_length(y), r->deployment_id, &r->yaml,
				   &r->yaml_len, &err) < 0)
		margo_validation_add(v, "/deployment", "%s", err.message);
	return 0;
}

int api_admin_rollout_create(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_rollout r;
	struct margo_validation v;
	struct margo_error err;
	struct selector *sel = NULL;
	json_t *doc = NULL, *x;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = auth_admin(req)) < 0)
		return rc;
	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	margo_validation_init(&v);
	x = json_object_get(doc, "selector");
	margo_error_clear(&err);
	if (!json_is_string(x))
		margo_validation_add(&v, "/selector", "required: a label selector such as "
				     "\"plant=3,device.margo/arch=arm64\"");
	else if (selector_parse(json_string_value(x), &sel, &err) < 0)
		margo_validation_add(&v, "/selector", "%s", err.message);
	else if ((r.selector = strdup(json_string_value(x))) == NULL)
		goto nomem;
	parse_options(doc, &r, &v);
	if ((rc = parse_deployment(req, doc, &r, &v)) < 0)
		goto out;
	if (v.count > 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	snprintf(r.created_by, sizeof(r.created_by), "admin");
	margo_error_clear(&err);
	rc = rollout_create(w, &r, sel, &err);
	if (rc == MARGO_ENOTFOUND) {
		margo_validation_add(&v, "/selector", "%s", err.message);
		rc = http_fail_validation(req, &v);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	r.created_at = r.updated_at = margo_time_now();
	rc = http_respond_json(req, resp, 201, rollout_json(&r));
	if (rc == 0 && http_response_header(resp, "Location", "/admin/v1/rollouts/%s", r.id) < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
	goto out;
nomem:
	rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	selector_free(sel);
	store_rollout_clear(&r);
	json_decref(doc);
	return rc;
}

int api_admin_rollout_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_rollout *items = NULL;
	struct margo_error err;
	size_t n = 0;
	json_t *arr;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_rollout_list(w->store, http_query(req, "state"), &items, &n, &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (json_array_append_new(arr, rollout_json(&items[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	store_rollouts_free(items, n);
	if (arr == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return http_respond_json(req, resp, 200, json_pack("{s:o}", "items", arr));
}

/* Per-wave counts: devices, and by state (waiting, deploying, deployed, rolled-back,
 * skipped) and by what deployed devices reported (installed, failed, other, none). */
static json_t *waves_json(const struct store_rollout *r, const struct store_rollout_device *d,
			  size_t n)
{
	static const char *const keys[] = { "devices", "waiting", "deploying", "deployed",
					    "rolledBack", "skipped", "installed", "failed",
					    "reportedOther", "notReported" };
	json_t *arr = json_array();
	long counts[10];
	size_t i = 0;

	for (long wave = 0; arr != NULL && wave < r->nwaves; wave++) {
		json_t *o;

		memset(counts, 0, sizeof(counts));
		for (; i < n && d[i].wave == wave; i++) {
			counts[0]++;
			counts[strcmp(d[i].state, "waiting") == 0 ? 1 :
			       strcmp(d[i].state, "deploying") == 0 ? 2 :
			       strcmp(d[i].state, "deployed") == 0 ? 3 :
			       strcmp(d[i].state, "rolled-back") == 0 ? 4 : 5]++;
			if (strcmp(d[i].state, "deployed") != 0)
				continue;
			counts[strcasecmp(d[i].status, "Installed") == 0 ? 6 :
			       strcasecmp(d[i].status, "Failed") == 0 ? 7 :
			       d[i].status[0] != '\0' ? 8 : 9]++;
		}
		o = json_pack("{s:I}", "wave", (json_int_t)wave);
		for (size_t k = 0; o != NULL && k < 10; k++)
			if (json_object_set_new(o, keys[k], json_integer(counts[k])) < 0) {
				json_decref(o);
				o = NULL;
			}
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

int api_admin_rollout_show(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_rollout r;
	struct store_rollout_device *d = NULL;
	struct margo_error err;
	size_t n = 0;
	json_t *o = NULL, *waves;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no rollout %s", req->params[0]);
	margo_error_clear(&err);
	if ((rc = store_rollout_get(w->store, req->params[0], &r, &err)) < 0)
		return http_fail_error(req, rc, &err);
	rc = store_rollout_devices(w->store, r.id, r.deployment_id, -1, 0, &d, &n, &err);
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	o = rollout_json(&r);
	waves = waves_json(&r, d, n);
	if (o == NULL || waves == NULL || json_object_set_new(o, "waveStatus", waves) < 0 ||
	    json_object_set_new(o, "document", json_stringn(r.yaml, r.yaml_len)) < 0) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	rc = http_respond_json(req, resp, 200, o);
	o = NULL;
out:
	json_decref(o);
	store_rollout_devices_free(d, n);
	store_rollout_clear(&r);
	return rc;
}

/* pause, resume, abort: the action, then the rollout as it is now. */
static int action(struct http_request *req, struct http_response *resp,
		  int (*fn)(struct wfmd *, const char *, struct margo_error *), int abort_rollback)
{
	struct wfmd *w = req->ctx;
	struct store_rollout r;
	struct margo_error err;
	json_t *doc = NULL, *x;
	int rc, rollback = 0;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no rollout %s", req->params[0]);
	if (abort_rollback && req->body != NULL && req->body_len > 0) {
		if ((rc = api_json_body(req, &doc)) < 0)
			return rc;
		x = json_object_get(doc, "rollback");
		if (x != NULL && !json_is_boolean(x)) {
			json_decref(doc);
			return http_fail(req, 400, "invalid-parameter", "rollback must be a boolean");
		}
		rollback = json_is_true(x);
		json_decref(doc);
	}
	margo_error_clear(&err);
	rc = abort_rollback ? rollout_abort(w, req->params[0], rollback, &err)
			    : fn(w, req->params[0], &err);
	if (rc == MARGO_ECONFLICT)
		return http_fail(req, 409, "rollout-state", "%s", err.message);
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	if ((rc = store_rollout_get(w->store, req->params[0], &r, &err)) < 0)
		return http_fail_error(req, rc, &err);
	rc = http_respond_json(req, resp, 200, rollout_json(&r));
	store_rollout_clear(&r);
	return rc;
}

int api_admin_rollout_pause(struct http_request *req, struct http_response *resp)
{
	return action(req, resp, rollout_pause, 0);
}

int api_admin_rollout_resume(struct http_request *req, struct http_response *resp)
{
	return action(req, resp, rollout_resume, 0);
}

int api_admin_rollout_abort(struct http_request *req, struct http_response *resp)
{
	return action(req, resp, NULL, 1);
}
