/* Onboarding API (API.md section 2): POST /onboarding/ and the pending-request poll. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "margo/cert.h"
#include "margo/httpsig.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "desired.h"
#include "metrics.h"
#include "auth.h"
#include "store.h"
#include "wfmd.h"

#define API_VERSION "onboarding.margo.org/v1alpha1"
#define ORIGIN_MAX 512
#define TARGET_URI_MAX 4096

static const char *const required_components[] = { "@method", "@target-uri", "content-digest" };

struct sig_ctx {
	struct http_request *req;
	const char *origin;             /* "https://host:port" */
	char target_uri[TARGET_URI_MAX];
	char path[TARGET_URI_MAX];
	char query[TARGET_URI_MAX];
};

static const char *sig_resolve(void *p, const char *name)
{
	struct sig_ctx *c = p;
	const char *q;

	if (strcmp(name, "@method") == 0)
		return c->req->method;
	if (strcmp(name, "@target-uri") == 0)
		return c->target_uri;
	if (strcmp(name, "@authority") == 0)
		return c->origin + strlen("https://");
	if (strcmp(name, "@scheme") == 0)
		return "https";
	if (strcmp(name, "@request-target") == 0)
		return c->req->target;
	if (strcmp(name, "@path") == 0 || strcmp(name, "@query") == 0) {
		q = strchr(c->req->target, '?');
		snprintf(c->path, sizeof(c->path), "%.*s",
			 (int)(q != NULL ? (size_t)(q - c->req->target) : strlen(c->req->target)),
			 c->req->target);
		snprintf(c->query, sizeof(c->query), "%s", q != NULL ? q : "?");
		return name[1] == 'p' ? c->path : c->query;
	}
	if (name[0] == '@')
		return NULL;
	return http_header(c->req, name);
}

/* "https://host:port" of a URL (drops any path). */
static void url_origin(const char *url, char out[ORIGIN_MAX])
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p != NULL ? p + 3 : url;
	n = strcspn(p, "/?#");
	snprintf(out, ORIGIN_MAX, "https://%.*s", (int)n, p);
}


/* A signature made by a device whose clock is off: say by how much, the server's time and the
 * allowed window, as problem members the device can act on (docs/api.md). */
static int fail_skew(struct http_request *req, int64_t created, int64_t now)
{
	char when[MARGO_TIME_LEN];
	long long off = (long long)(created - now);

	margo_time_format(now, when);
	http_fail(req, 401, "invalid-signature", "signature created is %lld s %s server time "
		  "%s (allowed: +-%d s): the device's clock is wrong", off < 0 ? -off : off,
		  off < 0 ? "before" : "after", when, WFMD_CREATED_SKEW);
	http_problem_member(req, "serverTime", json_string(when));
	http_problem_member(req, "serverTimeUnix", json_integer(now));
	http_problem_member(req, "signatureCreated", json_integer(created));
	http_problem_member(req, "clockOffsetSeconds", json_integer(off));
	return http_problem_member(req, "allowedSkewSeconds", json_integer(WFMD_CREATED_SKEW));
}
/* Verifies the RFC 9421 signature and Content-Digest with the certificate's key. */
static int check_proof(struct http_request *req, X509 *cert, const char *keyid)
{
	struct wfmd *w = req->ctx;
	struct margo_httpsig_result res;
	struct margo_error err;
	struct sig_ctx *ctx;
	const char *digest = http_header(req, "Content-Digest");
	const char *sig_input = http_header(req, "Signature-Input");
	const char *sig = http_header(req, "Signature");
	const char *host = http_header(req, "Host");
	char origins[2][ORIGIN_MAX];
	int norigins = 1, rc = MARGO_EAUTH;
	int64_t now;
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	if (digest == NULL)
		return http_fail(req, 400, "missing-content-digest",
				 "the request needs a Content-Digest header (RFC 9530)");
	if (sig_input == NULL || sig == NULL)
		return http_fail(req, 400, "missing-signature", "the request needs Signature-Input "
				 "and Signature headers (RFC 9421) made with the certificate's key");
	margo_error_clear(&err);
	rc = margo_content_digest_verify(digest, req->body, req->body_len, &err);
	if (rc < 0)
		return http_fail(req, 401, "invalid-content-digest", "Content-Digest: %s",
				 err.message[0] ? err.message : margo_strerror(rc));
	if (pub == NULL)
		return http_fail(req, 400, "invalid-certificate", "the certificate has no usable "
				 "public key");
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	ctx->req = req;
	url_origin(w->public_url, origins[0]);
	if (host != NULL && strlen(host) < ORIGIN_MAX - 9 && strpbrk(host, "/ \t") == NULL) {
		snprintf(origins[1], ORIGIN_MAX, "https://%s", host);
		if (strcasecmp(origins[1], origins[0]) != 0)
			norigins = 2;
	}
	/* The device signs the URL it used: the public URL, or another name it reached us by. */
	for (int i = 0; i < norigins; i++) {
		ctx->origin = origins[i];
		snprintf(ctx->target_uri, sizeof(ctx->target_uri), "%s%s", origins[i],
			 req->target);
		margo_error_clear(&err);
		memset(&res, 0, sizeof(res));
		rc = margo_httpsig_verify(pub, sig_input, sig, NULL, required_components, 3,
					  sig_resolve, ctx, &res, &err);
		if (rc != MARGO_EAUTH)
			break;
	}
	free(ctx);
	if (rc < 0)
		return http_fail(req, 401, "invalid-signature", "HTTP message signature: %s",
				 err.message[0] ? err.message : margo_strerror(rc));
	if (res.keyid[0] == '\0' || strcasecmp(res.keyid, keyid) != 0)
		return http_fail(req, 401, "invalid-signature", "signature keyid must be the "
				 "SHA-256 (hex) of the certificate's SubjectPublicKeyInfo");
	now = margo_time_now();
	if (res.created < 0)
		return http_fail(req, 401, "invalid-signature",
				 "signature parameter created is required");
	if (res.created < now - WFMD_CREATED_SKEW || res.created > now + WFMD_CREATED_SKEW)
		return fail_skew(req, res.created, now);
	return 0;
}

/* Reads an optional string member of at most STORE_TEXT_MAX-1 bytes. */
static int opt_string(struct http_request *req, json_t *obj, const char *key, const char *where,
		      const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return http_fail(req, 400, "malformed-request", "%s%s must be a string", where,
				 key);
	if (json_string_length(v) >= STORE_TEXT_MAX)
		return http_fail(req, 400, "malformed-request", "%s%s is longer than %d bytes",
				 where, key, STORE_TEXT_MAX - 1);
	*out = json_string_value(v);
	return 0;
}

/* The OnboardingResponse (without the git fields until the git service exists). */
static int respond_approved(struct http_request *req, struct http_response *resp,
			    unsigned status, const char *device_id, const char *secret,
			    const char *git_token, int64_t git_expires_at)
{
	struct wfmd *w = req->ctx;
	char *token_url = NULL;
	json_t *o;
	int rc;

	/* The repository exists from approval on; the response points at it. */
	if ((rc = api_repo_ensure(req, device_id, NULL)) < 0)
		return rc;
	if (asprintf(&token_url, "%s/oauth2/token", w->public_url) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "apiVersion", API_VERSION,
		      "kind", "OnboardingResponse", "clientId", device_id,
		      "clientSecret", secret, "tokenEndpointUrl", token_url,
		      "deviceId", device_id);
	free(token_url);
	if (o == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	if (api_git_fields(req, o, device_id, git_token, git_expires_at, 1) < 0) {
		json_decref(o);
		return -1;
	}
	return http_respond_json(req, resp, status, o);
}

static int respond_pending(struct http_request *req, struct http_response *resp,
			   const char *request_id, const char *poll_token)
{
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:i}", "apiVersion", API_VERSION, "kind",
		      "OnboardingPending", "requestId", request_id,
		      "retryAfterSeconds", WFMD_POLL_INTERVAL);
	if (o != NULL && poll_token != NULL &&
	    json_object_set_new(o, "pollToken", json_string(poll_token)) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (http_respond_json(req, resp, 202, o) < 0)
		return -1;
	if (http_response_header(resp, "Location", "/onboarding/requests/%s", request_id) < 0 ||
	    http_response_header(resp, "Retry-After", "%d", WFMD_POLL_INTERVAL) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}

int api_onboarding_post(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct store_onboard_in in;
	struct store_onboard_out out;
	struct desired_initial repo = { .commit = NULL };
	struct margo_error err;
	json_t *doc = NULL, *v, *dev;
	X509 *cert = NULL;
	char fingerprint[MARGO_FINGERPRINT_LEN], keyid[MARGO_KEYID_LEN];
	char device_id[MARGO_UUID_LEN], request_id[MARGO_UUID_LEN];
	char secret_hash[MARGO_TOKEN_HASH_LEN], poll_hash[MARGO_TOKEN_HASH_LEN];
	char token_hash[MARGO_TOKEN_HASH_LEN];
	char *pem = NULL, *secret = NULL, *poll = NULL, *git_token = NULL;
	char git_hash[MARGO_TOKEN_HASH_LEN];
	int64_t git_expires_at = 0;
	const char *token = NULL;
	int rc;

	memset(&in, 0, sizeof(in));
	if ((rc = api_json_body(req, &doc)) < 0)
		goto out;
	v = json_object_get(doc, "kind");
	if (v != NULL && (!json_is_string(v) ||
			  strcmp(json_string_value(v), "OnboardingRequest") != 0)) {
		rc = http_fail(req, 400, "malformed-request", "kind must be OnboardingRequest");
		goto out;
	}
	v = json_object_get(doc, "certificate");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		rc = http_fail(req, 400, "malformed-request",
			       "certificate (a base64 X.509 certificate) is required");
		goto out;
	}
	margo_error_clear(&err);
	if (margo_cert_parse(json_string_value(v), json_string_length(v), &cert, &err) < 0) {
		rc = http_fail(req, 400, "invalid-certificate",
			       "certificate is not a certificate: %s", err.message);
		goto out;
	}
	if ((rc = opt_string(req, doc, "enrollmentToken", "", &token)) < 0)
		goto out;
	dev = json_object_get(doc, "device");
	if (dev != NULL && !json_is_null(dev)) {
		if (!json_is_object(dev)) {
			rc = http_fail(req, 400, "malformed-request", "device must be an object");
			goto out;
		}
		if ((rc = opt_string(req, dev, "vendor", "device.", &in.vendor)) < 0 ||
		    (rc = opt_string(req, dev, "modelNumber", "device.", &in.model_number)) < 0 ||
		    (rc = opt_string(req, dev, "serialNumber", "device.", &in.serial_number)) < 0)
			goto out;
	}
	if (margo_cert_fingerprint(cert, fingerprint) < 0 || margo_cert_keyid(cert, keyid) < 0) {
		rc = http_fail(req, 400, "invalid-certificate",
			       "certificate is not a certificate: unusable public key");
		goto out;
	}
	if ((rc = check_proof(req, cert, keyid)) < 0)
		goto out;

	pem = margo_cert_to_pem(cert);
	secret = margo_token_generate(MARGO_TOKEN_CLIENT_SECRET);
	poll = margo_token_generate(MARGO_TOKEN_POLL);
	if (pem == NULL || secret == NULL || poll == NULL || margo_uuid_v4(device_id) < 0 ||
	    margo_uuid_v4(request_id) < 0) {
		rc = http_fail_error(req, MARGO_ECRYPTO, NULL);
		goto out;
	}
	margo_token_hash(secret, secret_hash);
	margo_token_hash(poll, poll_hash);
	if ((rc = api_git_token_new(req, &git_token, git_hash, &git_expires_at)) < 0)
		goto out;
	in.git_token_hash = git_hash;
	in.git_token_expires_at = git_expires_at;
	if (token != NULL) {
		margo_token_hash(token, token_hash);
		in.enrollment_token_hash = token_hash;
	}
	in.fingerprint = fingerprint;
	in.keyid = keyid;
	in.certificate_pem = pem;
	in.allow_approval_requests = w->allow_approval_requests;
	in.pending_max = w->pending_max;
	in.pending_ttl = w->pending_ttl;
	in.now = margo_time_now();
	in.new_device_id = device_id;
	in.new_request_id = request_id;
	in.secret_hash = secret_hash;
	in.poll_token_hash = poll_hash;
	/* A device approved now gets its repository in the same transaction. */
	margo_error_clear(&err);
	if ((rc = desired_initial_new(device_id, &repo, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	in.repo = &repo.change;
	if ((rc = store_onboard(w->store, &in, &out, &err)) < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	if (out.device_id[0] != '\0')
		strcpy(req->client_id, out.device_id);
	metrics_onboarding((int)out.result);
	margo_log_info("onboarding", "device_id=%s result=%d reason=%s fingerprint=%s",
		       out.device_id[0] ? out.device_id : "-", (int)out.result,
		       out.reason != NULL ? out.reason : "-", fingerprint);
	switch (out.result) {
	case STORE_ONBOARD_APPROVED:
		rc = respond_approved(req, resp, 201, out.device_id, secret, git_token,
				      git_expires_at);
		break;
	case STORE_ONBOARD_PENDING:
		rc = respond_pending(req, resp, out.request_id, poll);
		break;
	case STORE_ONBOARD_TOKEN_INVALID:
		rc = http_fail(req, 401, "invalid-enrollment-token",
			       "the enrollment token is unknown, expired, revoked or used up");
		break;
	case STORE_ONBOARD_REJECTED:
		rc = http_fail(req, 403, "client-rejected",
			       "the operator rejected this device certificate");
		break;
	case STORE_ONBOARD_CONFLICT:
		rc = http_fail(req, 409, "already-onboarded", "this certificate belongs to device "
			       "%s whose credentials are in use; onboarding it again needs an "
			       "enrollment token or a pre-registration of the certificate "
			       "(or the operator revokes the device and approves a new request)",
			       out.device_id);
		break;
	case STORE_ONBOARD_PENDING_FULL:
		req->problem.retry_after = out.retry_after;
		rc = http_fail(req, 429, "too-many-pending-requests",
			       "too many onboarding requests are waiting for approval");
		break;
	case STORE_ONBOARD_UNAUTHORISED:
	default:
		rc = http_fail(req, 401, "enrollment-required", "this server accepts no approval "
			       "requests: present an enrollment token or have the certificate "
			       "pre-registered");
		break;
	}
out:
	json_decref(doc);
	X509_free(cert);
	free(pem);
	desired_initial_free(&repo);
	margo_secret_free(secret);
	margo_secret_free(poll);
	margo_secret_free(git_token);
	return rc;
}

int api_onboarding_poll(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	enum store_poll_result result;
	const char *request_id = req->params[0];
	char token[AUTH_TOKEN_MAX];
	char poll_hash[MARGO_TOKEN_HASH_LEN], secret_hash[MARGO_TOKEN_HASH_LEN];
	char device_id[MARGO_UUID_LEN] = "";
	char git_hash[MARGO_TOKEN_HASH_LEN];
	char *secret = NULL, *git_token = NULL;
	int64_t git_expires_at = 0;
	int rc;

	if (!margo_uuid_valid(request_id))
		return http_fail(req, 404, "unknown-request", "no onboarding request %s",
				 request_id);
	if (auth_bearer(req, token) < 0) {
		req->problem.www_authenticate = "Bearer error=\"invalid_token\"";
		return http_fail(req, 401, "unauthorized",
				 "polling needs Authorization: Bearer <pollToken>");
	}
	margo_token_hash(token, poll_hash);
	OPENSSL_cleanse(token, sizeof(token));
	secret = margo_token_generate(MARGO_TOKEN_CLIENT_SECRET);
	if (secret == NULL)
		return http_fail_error(req, MARGO_ECRYPTO, NULL);
	margo_token_hash(secret, secret_hash);
	if ((rc = api_git_token_new(req, &git_token, git_hash, &git_expires_at)) < 0)
		goto out;
	margo_error_clear(&err);
	rc = store_poll(w->store, request_id, poll_hash, secret_hash, git_hash, git_expires_at,
			margo_time_now(), &result, device_id, &err);
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	if (result != STORE_POLL_UNKNOWN && result != STORE_POLL_BAD_TOKEN)
		strcpy(req->client_id, device_id);
	switch (result) {
	case STORE_POLL_PENDING:
		rc = respond_pending(req, resp, request_id, NULL);
		break;
	case STORE_POLL_APPROVED:
		rc = respond_approved(req, resp, 200, device_id, secret, git_token,
				      git_expires_at);
		break;
	case STORE_POLL_REJECTED:
		rc = http_fail(req, 403, "client-rejected",
			       "the operator rejected this onboarding request");
		break;
	case STORE_POLL_GONE:
		rc = http_fail(req, 410, "request-gone", "the onboarding request expired or was "
			       "completed (credentials already used, or the device was revoked)");
		break;
	case STORE_POLL_BAD_TOKEN:
		req->problem.www_authenticate = "Bearer error=\"invalid_token\"";
		rc = http_fail(req, 401, "unauthorized", "wrong poll token");
		break;
	case STORE_POLL_UNKNOWN:
	default:
		rc = http_fail(req, 404, "unknown-request", "no onboarding request %s",
			       request_id);
		break;
	}
out:
	margo_secret_free(secret);
	margo_secret_free(git_token);
	return rc;
}
