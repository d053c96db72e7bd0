/* Token endpoint (API.md section 3): OAuth 2.0 client credentials, RFC 6749 section 4.4, with
 * client authentication by form fields or HTTP Basic (section 2.3.1). Errors are RFC 6749
 * section 5.2 JSON, not problem+json. */
#include <stdlib.h>
#include <string.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "form.h"
#include "store.h"
#include "wfmd.h"

static int oauth_error(struct http_request *req, struct http_response *resp, unsigned status,
		       const char *error, const char *description, int basic)
{
	json_t *o = json_pack("{s:s,s:s}", "error", error, "error_description", description);

	if (http_respond_json(req, resp, status, o) < 0)
		return -1;
	if (http_response_header(resp, "Pragma", "no-cache") < 0 ||
	    (basic && http_response_header(resp, "WWW-Authenticate", "Basic realm=\"wfm\"") < 0))
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}

int api_oauth_token(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct form form = { 0 };
	struct margo_error err;
	const char *authz = http_header(req, "Authorization");
	const char *grant, *form_id, *form_secret, *id, *secret;
	char *basic_id = NULL, *basic_secret = NULL, *access = NULL;
	char secret_hash[MARGO_TOKEN_HASH_LEN];
	struct access_token claims;
	size_t ngrant, nid, nsecret;
	int basic = 0, rc;
	int64_t now;
	json_t *o;

	if (!http_content_type_is(req, "application/x-www-form-urlencoded")) {
		rc = oauth_error(req, resp, 400, "invalid_request",
				 "Content-Type must be application/x-www-form-urlencoded", 0);
		goto out;
	}
	margo_error_clear(&err);
	if (form_parse(req->body != NULL ? req->body : "", req->body_len, &form, &err) < 0) {
		rc = oauth_error(req, resp, 400, "invalid_request", err.message, 0);
		goto out;
	}
	if (authz != NULL) {
		rc = form_basic_parse(authz, &basic_id, &basic_secret, &err);
		if (rc == MARGO_EINVAL) {
			rc = oauth_error(req, resp, 401, "invalid_client", err.message, 1);
			goto out;
		}
		basic = rc == 0;
	}
	grant = form_get(&form, "grant_type", &ngrant);
	form_id = form_get(&form, "client_id", &nid);
	form_secret = form_get(&form, "client_secret", &nsecret);
	if (ngrant > 1 || nid > 1 || nsecret > 1) {
		rc = oauth_error(req, resp, 400, "invalid_request",
				 "a parameter appears more than once", basic);
		goto out;
	}
	if (grant == NULL) {
		rc = oauth_error(req, resp, 400, "invalid_request", "grant_type is required",
				 basic);
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0) {
		rc = oauth_error(req, resp, 400, "unsupported_grant_type",
				 "only client_credentials is supported", basic);
		goto out;
	}
	if (basic && ((form_id != NULL && strcmp(form_id, basic_id) != 0) ||
		      (form_secret != NULL && !margo_token_equal(form_secret, basic_secret)))) {
		rc = oauth_error(req, resp, 400, "invalid_request", "client credentials given "
				 "both in the Authorization header and the body, differently",
				 basic);
		goto out;
	}
	id = basic ? basic_id : form_id;
	secret = basic ? basic_secret : form_secret;
	if (id == NULL || secret == NULL) {
		rc = oauth_error(req, resp, 401, "invalid_client",
				 "client authentication is required (client_id and "
				 "client_secret, or HTTP Basic)", basic);
		goto out;
	}
	if (!margo_uuid_valid(id) || !margo_token_has_prefix(secret, MARGO_TOKEN_CLIENT_SECRET)) {
		rc = oauth_error(req, resp, 401, "invalid_client",
				 "unknown client or wrong secret", basic);
		goto out;
	}
	margo_token_hash(secret, secret_hash);
	now = margo_time_now();
	rc = store_client_authenticate(w->store, id, secret_hash, now, &claims.epoch, &err);
	if (rc == MARGO_EAUTH) {
		margo_log_info("client authentication failed", "client_id=%s", id);
		rc = oauth_error(req, resp, 401, "invalid_client",
				 "unknown client, wrong secret, or client not active", basic);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	strcpy(claims.device_id, id);
	claims.expires_at = now + w->access_token_ttl;
	access = access_token_mint(w->access_key, &claims);
	if (access == NULL) {
		rc = http_fail_error(req, MARGO_ECRYPTO, NULL);
		goto out;
	}
	strcpy(req->client_id, id);
	o = json_pack("{s:s,s:s,s:I}", "access_token", access, "token_type", "Bearer",
		      "expires_in", (json_int_t)w->access_token_ttl);
	if ((rc = http_respond_json(req, resp, 200, o)) < 0)
		goto out;
	if (http_response_header(resp, "Pragma", "no-cache") < 0)
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
out:
	form_clear(&form);
	free(basic_id);
	margo_secret_free(basic_secret);
	margo_secret_free(access);
	return rc;
}
