/* Admin API (API.md section 6, all but deployments): enrollment tokens, pre-registered
 * certificates, devices. Every route needs the admin bearer token. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "margo/cert.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "margo/validate.h"
#include "api.h"
#include "api_page.h"
#include "enrollment_camac.h"
#include "auth.h"
#include "store.h"
#include "store_page.h"
#include "wfmd.h"

#define ENROLLMENT_TTL_DEFAULT 86400
#define ENROLLMENT_TTL_MAX (365 * 86400)
#define ENROLLMENT_USES_MAX 1000000

/* ---- enrollment tokens ---- */

static json_t *enrollment_json(const struct store_enrollment_token *t, int64_t now)
{
	const char *state = t->revoked ? "revoked" : t->expires_at <= now ? "expired" :
		t->uses >= t->max_uses ? "used-up" : "active";

	return json_pack("{s:s,s:s,s:o,s:o,s:I,s:I,s:b,s:b,s:s}", "id", t->id,
			 "description", t->description, "createdAt", api_time_json(t->created_at),
			 "expiresAt", api_time_json(t->expires_at), "maxUses",
			 (json_int_t)t->max_uses, "uses", (json_int_t)t->uses, "autoApprove",
			 t->auto_approve, "revoked", t->revoked, "state", state);
}

int api_admin_enrollment_create(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_enrollment_token t;
	struct margo_validation v;
	struct margo_error err;
	char hash[MARGO_TOKEN_HASH_LEN];
	char *token = NULL;
	json_t *doc = NULL, *x, *o;
	json_int_t ttl = ENROLLMENT_TTL_DEFAULT, uses = 1;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	memset(&t, 0, sizeof(t));
	t.auto_approve = 1;
	margo_validation_init(&v);
	if ((x = json_object_get(doc, "ttlSeconds")) != NULL && !json_is_null(x)) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > ENROLLMENT_TTL_MAX)
			margo_validation_add(&v, "/ttlSeconds", "must be an integer from 1 to %d",
					     ENROLLMENT_TTL_MAX);
		else
			ttl = json_integer_value(x);
	}
	if ((x = json_object_get(doc, "maxUses")) != NULL && !json_is_null(x)) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > ENROLLMENT_USES_MAX)
			margo_validation_add(&v, "/maxUses", "must be an integer from 1 to %d",
					     ENROLLMENT_USES_MAX);
		else
			uses = json_integer_value(x);
	}
	if ((x = json_object_get(doc, "autoApprove")) != NULL && !json_is_null(x)) {
		if (!json_is_boolean(x))
			margo_validation_add(&v, "/autoApprove", "must be a boolean");
		else
			t.auto_approve = json_is_true(x);
	}
	if ((x = json_object_get(doc, "description")) != NULL && !json_is_null(x)) {
		if (!json_is_string(x) || json_string_length(x) >= STORE_TEXT_MAX)
			margo_validation_add(&v, "/description", "must be a string of at most %d "
					     "bytes", STORE_TEXT_MAX - 1);
		else
			snprintf(t.description, sizeof(t.description), "%s", json_string_value(x));
	}
	if (v.count > 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	token = margo_token_generate(MARGO_TOKEN_ENROLLMENT);
	if (token == NULL || margo_uuid_v4(t.id) < 0) {
		rc = http_fail_error(req, MARGO_ECRYPTO, NULL);
		goto out;
	}
	margo_token_hash(token, hash);
	t.created_at = margo_time_now();
	t.expires_at = t.created_at + ttl;
	t.max_uses = (long)uses;
	margo_error_clear(&err);
	if ((rc = store_enrollment_token_create(w->store, &t, hash, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	/* one-secret onboarding; on failure the token was never shown, so nobody can use it */
	if ((rc = enrollment_ca_mac_record(w, t.id, token, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	margo_log_info("enrollment token created", "id=%s max_uses=%ld auto_approve=%d", t.id,
		       t.max_uses, t.auto_approve);
	o = enrollment_json(&t, t.created_at);
	if (o == NULL || json_object_set_new(o, "token", json_string(token)) < 0) {
		json_decref(o);
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	rc = http_respond_json(req, resp, 201, o);
	if (rc == 0 && http_response_header(resp, "Location", "/admin/v1/enrollment-tokens/%s",
					    t.id) < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	json_decref(doc);
	margo_secret_free(token);
	return rc;
}

int api_admin_enrollment_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_enrollment_token *items = NULL;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	size_t n = 0;
	int64_t now = margo_time_now();
	json_t *arr;
	int rc, more;

	if ((rc = auth_admin(req)) < 0 || (rc = api_page_parse(req, &page)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_enrollment_token_page(w->store, &page.after, page.limit, &items, &n, &more,
					      &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, enrollment_json(&items[i], now));
	memset(&last, 0, sizeof(last));
	if (n > 0) {
		last.at = items[n - 1].created_at;
		snprintf(last.key, sizeof(last.key), "%s", items[n - 1].id);
	}
	free(items);
	return api_page_respond(req, resp, arr, more, &last);
}

int api_admin_enrollment_revoke(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no enrollment token %s", req->params[0]);
	margo_error_clear(&err);
	if ((rc = store_enrollment_token_revoke(w->store, req->params[0], &err)) < 0)
		return http_fail_error(req, rc, &err);
	margo_log_info("enrollment token revoked", "id=%s", req->params[0]);
	resp->status = 204;
	return 0;
}

/* ---- pre-registered certificates ---- */

/* "sha256:<64 hex>" from a path segment: that form or bare hex, any case, ':' between
 * byte pairs allowed. 0 or -1. */
static int fingerprint_normalise(const char *in, char out[MARGO_FINGERPRINT_LEN])
{
	size_t n = 0;

	if (strncasecmp(in, "sha256:", 7) == 0)
		in += 7;
	strcpy(out, "sha256:");
	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n == 64)
			return -1;
		out[7 + n++] = (char)tolower((unsigned char)*in);
	}
	out[7 + n] = '\0';
	return n == 64 ? 0 : -1;
}

int api_admin_certificate_add(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	struct margo_validation v;
	json_t *doc = NULL, *c, *d, *o;
	X509 *cert = NULL;
	char fp[MARGO_FINGERPRINT_LEN];
	char *pem = NULL, subject[256] = "";
	const char *desc = "";
	int64_t now = margo_time_now();
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if ((rc = api_json_body(req, &doc)) < 0)
		return rc;
	margo_validation_init(&v);
	c = json_object_get(doc, "certificate");
	d = json_object_get(doc, "description");
	if (!json_is_string(c) || json_string_length(c) == 0)
		margo_validation_add(&v, "/certificate", "required: base64 or PEM certificate");
	if (d != NULL && !json_is_null(d)) {
		if (!json_is_string(d) || json_string_length(d) >= STORE_TEXT_MAX)
			margo_validation_add(&v, "/description", "must be a string of at most %d "
					     "bytes", STORE_TEXT_MAX - 1);
		else
			desc = json_string_value(d);
	}
	if (v.count > 0) {
		rc = http_fail_validation(req, &v);
		goto out;
	}
	margo_error_clear(&err);
	if (margo_cert_parse(json_string_value(c), json_string_length(c), &cert, &err) < 0) {
		rc = http_fail(req, 400, "invalid-certificate",
			       "certificate is not a certificate: %s", err.message);
		goto out;
	}
	pem = margo_cert_to_pem(cert);
	if (pem == NULL || margo_cert_fingerprint(cert, fp) < 0) {
		rc = http_fail(req, 400, "invalid-certificate", "certificate is not usable");
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	margo_error_clear(&err);
	rc = store_certificate_add(w->store, fp, pem, desc, now, &err);
	if (rc == MARGO_EEXIST) {
		rc = http_fail(req, 409, "already-registered", "%s", err.message);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	margo_log_info("certificate pre-registered", "fingerprint=%s", fp);
	o = json_pack("{s:s,s:s,s:s,s:o}", "fingerprint", fp, "description", desc, "subject",
		      subject, "createdAt", api_time_json(now));
	rc = http_respond_json(req, resp, 201, o);
out:
	json_decref(doc);
	X509_free(cert);
	free(pem);
	return rc;
}

int api_admin_certificate_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_certificate *items = NULL;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	size_t n = 0;
	json_t *arr;
	int rc, more;

	if ((rc = auth_admin(req)) < 0 || (rc = api_page_parse(req, &page)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_certificate_page(w->store, &page.after, page.limit, &items, &n, &more,
					 &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, json_pack("{s:s,s:s,s:o}", "fingerprint",
						 items[i].fingerprint, "description",
						 items[i].description, "createdAt",
						 api_time_json(items[i].created_at)));
	memset(&last, 0, sizeof(last));
	if (n > 0) {
		last.at = items[n - 1].created_at;
		snprintf(last.key, sizeof(last.key), "%s", items[n - 1].fingerprint);
	}
	free(items);
	return api_page_respond(req, resp, arr, more, &last);
}

int api_admin_certificate_remove(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char fp[MARGO_FINGERPRINT_LEN];
	int rc;

	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (fingerprint_normalise(req->params[0], fp) < 0)
		return http_fail(req, 404, "not-found", "no certificate %s", req->params[0]);
	margo_error_clear(&err);
	if ((rc = store_certificate_remove(w->store, fp, &err)) < 0)
		return http_fail_error(req, rc, &err);
	margo_log_info("certificate removed", "fingerprint=%s", fp);
	resp->status = 204;
	return 0;
}

/* ---- devices ---- */

static json_t *device_json(const struct store_device *d)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "id", d->id, "state", d->state,
			 "vendor", d->vendor, "modelNumber", d->model_number, "serialNumber",
			 d->serial_number, "certificateFingerprint", d->fingerprint,
			 "createdAt", api_time_json(d->created_at), "lastSeenAt",
			 api_time_json(d->last_seen_at));
}

static int valid_state(const char *state)
{
	return strcmp(state, "pending") == 0 || strcmp(state, "active") == 0 ||
		strcmp(state, "rejected") == 0 || strcmp(state, "revoked") == 0;
}

/* A text filter: absent, or 1 to STORE_TEXT_MAX - 1 bytes. */
static int query_text(struct http_request *req, const char *name, const char **out)
{
	*out = http_query(req, name);
	if (*out != NULL && (**out == '\0' || strlen(*out) >= STORE_TEXT_MAX))
		return http_fail(req, 400, "invalid-parameter",
				 "%s must be 1 to %d bytes", name, STORE_TEXT_MAX - 1);
	return 0;
}

/* The device list's filters from the query (API.md: GET /admin/v1/devices). */
static int device_filter_parse(struct http_request *req, struct store_device_filter *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = query_text(req, "state", &f->state)) < 0 ||
	    (rc = query_text(req, "vendor", &f->vendor)) < 0 ||
	    (rc = query_text(req, "modelNumber", &f->model_number)) < 0 ||
	    (rc = query_text(req, "serialPrefix", &f->serial_prefix)) < 0 ||
	    (rc = query_text(req, "idPrefix", &f->id_prefix)) < 0 ||
	    (rc = query_text(req, "deploymentState", &f->deployment_state)) < 0 ||
	    (rc = api_query_time(req, "lastSeenBefore", &f->seen_before)) < 0 ||
	    (rc = api_query_time(req, "lastSeenAfter", &f->seen_after)) < 0)
		return rc;
	if (f->state != NULL && !valid_state(f->state))
		return http_fail(req, 400, "invalid-parameter",
				 "state must be pending, active, rejected or revoked");
	if (f->id_prefix != NULL && (strlen(f->id_prefix) >= MARGO_UUID_LEN ||
				     strspn(f->id_prefix, "0123456789abcdef-") !=
				     strlen(f->id_prefix)))
		return http_fail(req, 400, "invalid-parameter",
				 "idPrefix must be the start of a device id (lowercase hex and -)");
	return 0;
}

int api_admin_device_list(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_device *items = NULL;
	struct store_device_filter f;
	struct store_cursor last;
	struct api_page page;
	struct margo_error err;
	size_t n = 0;
	json_t *arr;
	int rc, more;

	if (http_query(req, "selector") != NULL)
		return api_admin_device_select(req, resp);
	if ((rc = auth_admin(req)) < 0 || (rc = api_page_parse(req, &page)) < 0 ||
	    (rc = device_filter_parse(req, &f)) < 0)
		return rc;
	margo_error_clear(&err);
	if ((rc = store_device_page(w->store, &f, &page.after, page.limit, margo_time_now(),
				    &items, &n, &more, &err)) < 0)
		return http_fail_error(req, rc, &err);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_items_append(&arr, device_json(&items[i]));
	memset(&last, 0, sizeof(last));
	if (n > 0) {
		last.at = items[n - 1].created_at;
		snprintf(last.key, sizeof(last.key), "%s", items[n - 1].id);
	}
	store_devices_free(items, n);
	return api_page_respond(req, resp, arr, more, &last);
}

/* The stored JSON text as a value; a string when it does not parse (cannot happen: it was
 * validated before being stored). */
static json_t *stored_json(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	return j != NULL ? j : json_string(text);
}

int api_admin_device_show(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_device d;
	struct margo_error err;
	char *caps = NULL, rev[STORE_REVISION_LEN];
	size_t caps_len = 0;
	int64_t caps_at = -1;
	json_t *o = NULL, *arr = NULL;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no device %s", req->params[0]);
	margo_error_clear(&err);
	if ((rc = store_device_get(w->store, req->params[0], margo_time_now(), &d, &err)) < 0)
		return http_fail_error(req, rc, &err);
	rc = store_capabilities_get(w->store, d.id, &caps, &caps_len, &caps_at, &err);
	if (rc < 0 && rc != MARGO_ENOTFOUND) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	o = device_json(&d);
	if (o == NULL) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	arr = api_deployments_json(req, d.id, 1);
	if (arr == NULL) {
		rc = -1;
		goto out;
	}
	if ((rc = api_set(req, o, "keyId", json_string(d.keyid))) < 0 ||
	    (rc = api_set(req, o, "certificate", json_string(d.certificate_pem))) < 0 ||
	    (rc = api_set(req, o, "firstAuthAt", api_time_json(d.first_auth_at))) < 0 ||
	    (rc = api_set(req, o, "capabilities", caps != NULL ? stored_json(caps) :
			  json_null())) < 0 ||
	    (rc = api_set(req, o, "capabilitiesUpdatedAt", api_time_json(caps_at))) < 0)
		goto out;
	rc = api_set(req, o, "deployments", arr);
	arr = NULL;
	if (rc < 0)
		goto out;
	/* The desired-state revision, once the repository exists. */
	if (store_repo_revision_get(w->store, d.id, rev, &err) < 0)
		rev[0] = '\0';
	if ((rc = api_set(req, o, "revision", rev[0] ? json_string(rev) : json_null())) < 0)
		goto out;
	rc = http_respond_json(req, resp, 200, o);
	o = NULL;
out:
	json_decref(o);
	json_decref(arr);
	free(caps);
	store_device_clear(&d);
	return rc;
}

/* approve, reject, revoke: the action, then the device as it is now. */
static int device_action(struct http_request *req, struct http_response *resp,
			 int (*fn)(store *, const char *, int64_t, struct margo_error *),
			 const char *what)
{
	struct wfmd *w = req->ctx;
	struct store_device d;
	struct margo_error err;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = auth_admin(req)) < 0)
		return rc;
	if (!margo_uuid_valid(req->params[0]))
		return http_fail(req, 404, "not-found", "no device %s", req->params[0]);
	margo_error_clear(&err);
	rc = fn(w->store, req->params[0], margo_time_now(), &err);
	if (rc == MARGO_ECONFLICT)
		return http_fail(req, 409, "not-pending", "%s", err.message);
	if (rc < 0)
		return http_fail_error(req, rc, &err);
	margo_log_info("device changed", "action=%s device_id=%s", what, req->params[0]);
	/* An approved device gets its repository now (a failure here is retried lazily). */
	if (fn == store_device_approve && api_repo_ensure(req, req->params[0], NULL) < 0)
		margo_log_warn("repository not created yet", "device_id=%s", req->params[0]);
	if ((rc = store_device_get(w->store, req->params[0], margo_time_now(), &d, &err)) < 0)
		return http_fail_error(req, rc, &err);
	rc = http_respond_json(req, resp, 200, device_json(&d));
	store_device_clear(&d);
	return rc;
}

int api_admin_device_approve(struct http_request *req, struct http_response *resp)
{
	return device_action(req, resp, store_device_approve, "approve");
}

int api_admin_device_reject(struct http_request *req, struct http_response *resp)
{
	return device_action(req, resp, store_device_reject, "reject");
}

int api_admin_device_revoke(struct http_request *req, struct http_response *resp)
{
	return device_action(req, resp, store_device_revoke, "revoke");
}
