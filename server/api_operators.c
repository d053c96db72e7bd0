/* Admin API: named operator accounts (admin role). POST issues the operator's token, shown
 * in that answer only; the store keeps its hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "api_page.h"
#include "auth.h"
#include "store_console.h"
#include "store_operator.h"
#include "wfmd.h"

static json_t *operator_json(const struct store_operator *op)
{
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:b}", "name", op->name, "role", op->role,
			 "createdBy", op->created_by, "createdAt", api_time_json(op->created_at),
			 "revokedAt", api_time_json(op->revoked_at), "revoked",
			 op->revoked_at >= 0);
}

/* name and role of a POST body into op; -1 with a 422 (or 409 for the bootstrap name). */
static int operator_parse(struct http_request *req, json_t *doc, struct store_operator *op)
{
	struct margo_validation v;
	json_t *name = json_object_get(doc, "name"), *role = json_object_get(doc, "role");

	margo_validation_init(&v);
	if (!json_is_string(name) || !auth_operator_name_valid(json_string_value(name)))
		margo_validation_add(&v, "/name", "required: 1 to %d of a-z 0-9 . _ -, starting "
				     "with a letter or digit", STORE_OPERATOR_NAME_MAX - 1);
	if (!json_is_string(role) || auth_role_parse(json_string_value(role)) == AUTH_ROLE_NONE)
		margo_validation_add(&v, "/role", "required: viewer, operator or admin");
	if (v.count > 0)
		return http_fail_validation(req, &v);
	if (strcmp(json_string_value(name), AUTH_BOOTSTRAP_OPERATOR) == 0)
		return http_fail(req, 409, "already-exists", "operator name %s is the bootstrap "
				 "admin's (DIR/admin.token)", AUTH_BOOTSTRAP_OPERATOR);
	snprintf(op->name, sizeof(op->name), "%s", json_string_value(name));
	snprintf(op->role, sizeof(op->role), "%s", json_string_value(role));
	return 0;
}

int api_admin_operator_add(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_operator op;
	struct margo_error err;
	char hash[MARGO_TOKEN_HASH_LEN];
	char *token = NULL;
	json_t *doc = NULL, *o;
	int rc;

	if ((rc = auth_admin(req)) < 0 || (rc = api_json_body(req, &doc)) < 0)
		return rc;
	memset(&op, 0, sizeof(op));
	if ((rc = operator_parse(req, doc, &op)) < 0)
		goto out;
	snprintf(op.created_by, sizeof(op.created_by), "%.32s", req->client_id);
	op.created_at = margo_time_now();
	op.revoked_at = -1;
	token = margo_token_generate(MARGO_TOKEN_OPERATOR);
	if (token == NULL) {
		rc = http_fail_error(req, MARGO_ECRYPTO, NULL);
		goto out;
	}
	margo_token_hash(token, hash);
	margo_error_clear(&err);
	rc = store_operator_add(w->store, &op, hash, &err);
	if (rc == MARGO_EEXIST) {
		rc = http_fail(req, 409, "already-exists", "%s", err.message);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	margo_log_info("operator added", "name=%s role=%s by=%s", op.name, op.role,
		       op.created_by);
	o = operator_json(&op);
	if (o == NULL || json_object_set_new(o, "token", json_string(token)) < 0) {
		json_decref(o);
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	rc = http_respond_json(req, resp, 201, o);
	if (rc == 0 && http_response_header(resp, "Location", "/admin/v1/operators/%s",
					    op.name) < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	json_decref(doc);
	margo_secret_free(token);
	return rc;
}

int api_admin_operator_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_operator *items = NULL;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	size_t n = 0;
	json_t *arr;
	int rc, more;

	if ((rc = auth_admin(req)) < 0 || (rc = api_page_parse(req, &page)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_operator_page(w->store, page.after.set ? page.after.key : NULL,
				      page.limit, &items, &n, &more, &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, operator_json(&items[i]));
	memset(&last, 0, sizeof(last));
	if (n > 0)
		snprintf(last.key, sizeof(last.key), "%s", items[n - 1].name);
	free(items);
	return api_page_respond(req, resp, arr, more, &last);
}

int api_admin_operator_revoke(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	size_t nsessions = 0;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!auth_operator_name_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no operator %s", req->params[0]);
	if (strcmp(req->params[0], AUTH_BOOTSTRAP_OPERATOR) == 0)
		return http_fail(req, 409, "bootstrap-operator", "the bootstrap admin is revoked "
				 "by replacing DIR/admin.token, not through the API");
	margo_error_clear(&err);
	if ((rc = store_operator_revoke(w->store, req->params[0], margo_time_now(), &err)) < 0)
		return http_fail_error(req, rc, &err);
	/* Their console sessions stop at once anyway (auth.c checks the operator on each
	 * request); drop the rows too. */
	if (store_session_delete_operator(w->store, req->params[0], &nsessions, &err) < 0)
		margo_log_warn("console sessions not dropped", "name=%s", req->params[0]);
	margo_log_info("operator revoked", "name=%s by=%s sessions=%zu", req->params[0],
		       req->client_id, nsessions);
	resp->status = 204;
	return 0;
}
