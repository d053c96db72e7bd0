/* Admin API: device labels. GET shows a device's operator labels and derived labels; PATCH
 * changes operator labels with a JSON merge patch (RFC 7396): {"plant": "3", "ring": null}
 * sets plant and removes ring. */
#include <stdlib.h>
#include <string.h>

#include "margo/log.h"
#include "margo/token.h"
#include "margo/validate.h"
#include "api.h"
#include "auth.h"
#include "fleet.h"
#include "wfmd.h"

static json_t *labels_object(const struct store_label *l, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n; i++) {
		if (json_object_set_new(o, l[i].key, json_string(l[i].value)) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

json_t *api_labels_json(const struct store_fleet_device *d, const struct fleet_labels *l)
{
	return json_pack("{s:s,s:o*,s:o*}", "deviceId", d->id, "labels",
			 labels_object(d->labels, d->nlabels), "derivedLabels",
			 labels_object(l->derived, l->nderived));
}

struct show_ctx {
	json_t *doc;
};

static int show_one(void *ctx, const struct store_fleet_device *d)
{
	struct show_ctx *s = ctx;
	struct fleet_labels l;

	fleet_labels_of(d, &l);
	s->doc = api_labels_json(d, &l);
	return s->doc == NULL ? MARGO_ENOMEM : 0;
}

static int respond_labels(struct http_request *req, struct http_response *resp, const char *id)
{
	struct wfmd *w = req->ctx;
	struct show_ctx s = { NULL };
	struct margo_error err;
	int rc;

	margo_error_clear(&err);
	rc = store_fleet_get(w->store, id, show_one, &s, &err);
	if (rc < 0)
		return http_fail_error(req, rc, rc == MARGO_ENOMEM ? NULL : &err);
	return http_respond_json(req, resp, 200, s.doc);
}

int api_admin_labels_get(struct http_request *req, struct http_response *resp)
{
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no device %s", req->params[0]);
	return respond_labels(req, resp, req->params[0]);
}

/* The merge patch doc as labels to set and keys to remove (both newly allocated). */
static int patch_parse(json_t *doc, struct margo_validation *v, struct store_label **set,
		       size_t *nset, const char ***remove, size_t *nremove)
{
	const char *key;
	json_t *x;
	struct margo_error e;
	size_t n = json_object_size(doc);

	*set = calloc(n + 1, sizeof(**set));
	*remove = calloc(n + 1, sizeof(**remove));
	*nset = *nremove = 0;
	if (*set == NULL || *remove == NULL)
		return MARGO_ENOMEM;
	json_object_foreach(doc, key, x) {
		char ptr[2 * LABEL_KEY_MAX + 2];

		margo_json_pointer_append(ptr, sizeof(ptr), "", key);
		if (label_key_check(key, &e) < 0) {
			margo_validation_add(v, ptr, "%s", e.message);
		} else if (label_key_derived(key)) {
			margo_validation_add(v, ptr, "keys under %s are derived from what the device "
					     "reported and cannot be set", LABEL_DERIVED_PREFIX);
		} else if (json_is_null(x)) {
			(*remove)[(*nremove)++] = key;
		} else if (!json_is_string(x)) {
			margo_validation_add(v, ptr, "must be a string, or null to remove the label");
		} else if (label_value_check(json_string_value(x), &e) < 0) {
			margo_validation_add(v, ptr, "%s", e.message);
		} else {
			snprintf((*set)[*nset].key, sizeof((*set)[0].key), "%s", key);
			snprintf((*set)[*nset].value, sizeof((*set)[0].value), "%s",
				 json_string_value(x));
			(*nset)++;
		}
	}
	return 0;
}

int api_admin_labels_patch(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_validation v;
	struct margo_error err;
	struct store_label *set = NULL;
	const char **remove = NULL;
	size_t nset, nremove;
	json_t *doc = NULL;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no device %s", req->params[0]);
	if ((rc = api_json_body_as(req, "application/merge-patch+json", "application/json",
				   &doc)) < 0)
		return rc;
	margo_validation_init(&v);
	if (patch_parse(doc, &v, &set, &nset, &remove, &nremove) < 0) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	if (v.count > 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	margo_error_clear(&err);
	rc = store_labels_update(w->store, req->params[0], set, nset, remove, nremove, &err);
	if (rc == MARGO_ELIMIT) {
		margo_validation_add(&v, "", "%s", err.message);
		rc = http_fail_validation(req, &v);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	margo_log_info("device labels changed", "device_id=%s set=%zu removed=%zu",
		       req->params[0], nset, nremove);
	rc = respond_labels(req, resp, req->params[0]);
out:
	free(set);
	free(remove);
	json_decref(doc);
	return rc;
}

/* ---- GET /admin/v1/devices?selector=S[&state=S][&limit=N][&after=ID] ---- */

#define SELECT_LIMIT_DEFAULT 100
#define SELECT_LIMIT_MAX 1000

struct select_page {
	json_t *items;
	size_t limit, n;
	char last[MARGO_UUID_LEN];
	int more;
};

static int page_one(void *ctx, const struct store_fleet_device *d, const struct fleet_labels *l)
{
	struct select_page *p = ctx;
	json_t *o;

	if (p->n == p->limit) {
		p->more = 1;
		return 1;
	}
	o = api_labels_json(d, l);
	if (o == NULL || json_object_set_new(o, "id", json_string(d->id)) < 0 ||
	    json_object_set_new(o, "state", json_string(d->state)) < 0 ||
	    json_array_append_new(p->items, o) < 0) {
		json_decref(o);
		return MARGO_ENOMEM;
	}
	json_object_del(o, "deviceId");
	snprintf(p->last, sizeof(p->last), "%s", d->id);
	p->n++;
	return 0;
}

int api_admin_device_select(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct select_page p = { NULL, SELECT_LIMIT_DEFAULT, 0, "", 0 };
	struct selector *sel = NULL;
	struct margo_error err;
	const char *state = http_query(req, "state"), *after = http_query(req, "after");
	const char *limit = http_query(req, "limit");
	char *end;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (limit != NULL) {
		long v = strtol(limit, &end, 10);

		if (*limit == '\0' || *end != '\0' || v < 1 || v > SELECT_LIMIT_MAX)
			return http_fail(req, 400, "invalid-parameter",
					 "limit must be an integer from 1 to %d", SELECT_LIMIT_MAX);
		p.limit = (size_t)v;
	}
	if (state != NULL && strcmp(state, "pending") != 0 && strcmp(state, "active") != 0 &&
	    strcmp(state, "rejected") != 0 && strcmp(state, "revoked") != 0)
		return http_fail(req, 400, "invalid-parameter",
				 "state must be pending, active, rejected or revoked");
	if (after != NULL && !margo_uuid_valid(after))
		return http_fail(req, 400, "invalid-parameter", "after must be a device id");
	margo_error_clear(&err);
	if (selector_parse(http_query(req, "selector"), &sel, &err) < 0)
		return http_fail(req, 400, "invalid-selector", "%s", err.message);
	p.items = json_array();
	if (p.items == NULL) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	rc = fleet_select(w->store, sel, state, after, page_one, &p, &err);
	if (rc < 0) {
		rc = http_fail_error(req, rc, rc == MARGO_ENOMEM ? NULL : &err);
		goto out;
	}
	rc = http_respond_json(req, resp, 200,
			       json_pack("{s:O,s:s*}", "items", p.items, "next",
					 p.more ? p.last : NULL));
out:
	json_decref(p.items);
	selector_free(sel);
	return rc;
}
