/* Git smart HTTP, read-only (API.md section 5), and the Device API routes git-credentials and
 * desired-state (section 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "auth.h"
#include "form.h"
#include "repo.h"
#include "rollout.h"
#include "store.h"
#include "wfmd.h"

#define GIT_REALM "Basic realm=\"margo-fleet git\""
#define GIT_USER_PREFIX "svc-device-"
#define GIT_REQUEST_MAX (32u * 1024u * 1024u)   /* inflated upload-pack request */

/* "<uuid>.git" -> uuid; 0 or -1. */
static int repo_device(const char *seg, char id[MARGO_UUID_LEN])
{
	size_t n = strlen(seg);

	if (n != MARGO_UUID_LEN - 1 + 4 || strcmp(seg + n - 4, ".git") != 0)
		return -1;
	memcpy(id, seg, MARGO_UUID_LEN - 1);
	id[MARGO_UUID_LEN - 1] = '\0';
	return margo_uuid_valid(id) ? 0 : -1;
}

/* Authenticates a git client for repository device_id: Basic svc-device-<id> + git token, or
 * Bearer git token. */
static int git_auth(struct http_request *req, const char *device_id)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	const char *h = http_header(req, "Authorization");
	char bearer[AUTH_TOKEN_MAX], hash[MARGO_TOKEN_HASH_LEN], owner[MARGO_UUID_LEN];
	char *user = NULL, *secret = NULL;
	const char *token = NULL, *user_device = NULL;
	int rc;

	req->problem.www_authenticate = GIT_REALM;
	if (h == NULL)
		return http_fail(req, 401, "unauthorized", "git needs the issued credentials "
				 "(user svc-device-<deviceId>, password: the git access token)");
	if (auth_bearer(req, bearer) == 0) {
		token = bearer;
	} else if (form_basic_parse(h, &user, &secret, &err) == 0) {
		if (strncmp(user, GIT_USER_PREFIX, strlen(GIT_USER_PREFIX)) != 0) {
			rc = http_fail(req, 401, "unauthorized",
				       "the user name must be svc-device-<deviceId>");
			goto out;
		}
		user_device = user + strlen(GIT_USER_PREFIX);
		token = secret;
	} else {
		return http_fail(req, 401, "unauthorized", "unsupported Authorization header");
	}
	if (!margo_token_has_prefix(token, MARGO_TOKEN_GIT)) {
		rc = http_fail(req, 401, "unauthorized", "not a git access token");
		goto out;
	}
	margo_token_hash(token, hash);
	margo_error_clear(&err);
	rc = store_git_token_check(w->store, hash, margo_time_now(), owner, &err);
	if (rc == MARGO_EAUTH) {
		rc = http_fail(req, 401, "unauthorized", "%s", err.message);
		goto out;
	}
	if (rc < 0) {
		rc = http_fail_error(req, rc, &err);
		goto out;
	}
	/* The user name and the token must name the same service account. */
	if (user_device != NULL && strcmp(user_device, owner) != 0) {
		rc = http_fail(req, 401, "unauthorized",
			       "the git token does not belong to this user name");
		goto out;
	}
	strcpy(req->client_id, owner);
	if (strcmp(owner, device_id) != 0) {
		req->problem.www_authenticate = NULL;
		rc = http_fail(req, 403, "forbidden", "the git token belongs to another repository");
		goto out;
	}
	req->problem.www_authenticate = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(bearer, sizeof(bearer));
	free(user);
	margo_secret_free(secret);
	return rc;
}

/* The Git-Protocol request header (protocol v2 negotiation) when it is well-formed. */
static const char *git_protocol(struct http_request *req)
{
	const char *p = http_header(req, "Git-Protocol");

	if (p == NULL || strlen(p) > 128 ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=:._-") !=
	    strlen(p))
		return NULL;
	return p;
}

int api_git_receive_pack(struct http_request *req, struct http_response *resp)
{
	(void)resp;
	return http_fail(req, 403, "read-only", "the desired-state repository is read-only: "
			 "only wfmd commits to it");
}

int api_git_info_refs(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	const char *service = http_query(req, "service");
	const char *protocol;
	char id[MARGO_UUID_LEN];
	char *out = NULL, *body;
	size_t out_len = 0, pre_len;
	static const char preamble[] = "001e# service=git-upload-pack\n0000";
	int rc, v2;

	if (repo_device(req->params[0], id) < 0)
		return http_fail(req, 404, "not-found", "no such repository");
	if (service != NULL && strcmp(service, "git-receive-pack") == 0)
		return http_fail(req, 403, "read-only", "the desired-state repository is "
				 "read-only: only wfmd commits to it");
	if (service == NULL || strcmp(service, "git-upload-pack") != 0)
		return http_fail(req, 404, "not-found", "only the smart HTTP service "
				 "git-upload-pack is served");
	if ((rc = git_auth(req, id)) < 0)
		return rc;
	if ((rc = api_repo_ensure(req, id, NULL)) < 0 || (rc = api_repo_sync(req, id)) < 0)
		return rc;
	protocol = git_protocol(req);
	v2 = protocol != NULL && strstr(protocol, "version=2") != NULL;
	margo_error_clear(&err);
	rc = repo_upload_pack(w->repo_root, id, 1, protocol, NULL, 0, &out, &out_len, &err);
	if (rc < 0)
		return http_fail_error(req, rc == MARGO_ENOTFOUND ? rc : MARGO_ESTORE, &err);
	/* Protocol v0/v1 clients expect the service announcement first; v2 does without. */
	pre_len = v2 ? 0 : sizeof(preamble) - 1;
	body = malloc(pre_len + out_len + 1);
	if (body == NULL) {
		free(out);
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	}
	memcpy(body, preamble, pre_len);
	memcpy(body + pre_len, out, out_len);
	body[pre_len + out_len] = '\0';
	free(out);
	resp->status = 200;
	resp->content_type = "application/x-git-upload-pack-advertisement";
	resp->body = body;
	resp->body_len = pre_len + out_len;
	return 0;
}

/* Inflates a gzip body (Content-Encoding: gzip, as git sends larger requests). */
static int gunzip(const char *in, size_t in_len, char **out, size_t *out_len)
{
	z_stream zs;
	size_t cap = in_len * 4 + 1024, len = 0;
	char *buf = malloc(cap), *nb;
	int zr;

	if (buf == NULL)
		return MARGO_ENOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(buf);
		return MARGO_ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	do {
		if (cap - len < 1024) {
			if (cap * 2 > GIT_REQUEST_MAX + 1) {
				zr = Z_MEM_ERROR;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				zr = Z_MEM_ERROR;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		zs.next_out = (Bytef *)buf + len;
		zs.avail_out = (uInt)(cap - len - 1);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - 1 - zs.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(buf);
		return zr == Z_MEM_ERROR ? MARGO_ETOOBIG : MARGO_EINVAL;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int api_git_upload_pack(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	const char *enc = http_header(req, "Content-Encoding");
	const char *input = req->body;
	size_t input_len = req->body_len, out_len = 0;
	char id[MARGO_UUID_LEN];
	char *inflated = NULL, *out = NULL;
	int rc;

	if (repo_device(req->params[0], id) < 0)
		return http_fail(req, 404, "not-found", "no such repository");
	if ((rc = git_auth(req, id)) < 0)
		return rc;
	if (!http_content_type_is(req, "application/x-git-upload-pack-request"))
		return http_fail(req, 415, "unsupported-media-type",
				 "Content-Type must be application/x-git-upload-pack-request");
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		rc = gunzip(req->body != NULL ? req->body : "", req->body_len, &inflated,
			    &input_len);
		if (rc == MARGO_ETOOBIG)
			return http_fail(req, 413, "body-too-large", "inflated request too large");
		if (rc < 0)
			return http_fail(req, 400, "bad-encoding", "the gzip body does not inflate");
		input = inflated;
	} else if (enc != NULL && strcasecmp(enc, "identity") != 0) {
		return http_fail(req, 415, "unsupported-encoding", "Content-Encoding %s is not "
				 "supported", enc);
	}
	if ((rc = api_repo_ensure(req, id, NULL)) < 0 || (rc = api_repo_sync(req, id)) < 0)
		goto out;
	margo_error_clear(&err);
	rc = repo_upload_pack(w->repo_root, id, 0, git_protocol(req), input, input_len, &out,
			      &out_len, &err);
	if (rc < 0) {
		rc = http_fail(req, rc == MARGO_ETOOBIG ? 413 : 400, "upload-pack-failed",
			       "git upload-pack refused the request");
		goto out;
	}
	resp->status = 200;
	resp->content_type = "application/x-git-upload-pack-result";
	resp->body = out;
	resp->body_len = out_len;
	rc = 0;
out:
	free(inflated);
	return rc;
}

int api_device_git_credentials(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char hash[MARGO_TOKEN_HASH_LEN];
	char *token = NULL;
	int64_t expires_at = 0;
	json_t *o = NULL;
	int rc;

	if ((rc = auth_device(req, req->params[0])) < 0)
		return rc;
	if ((rc = api_git_token_new(req, &token, hash, &expires_at)) < 0)
		return rc;
	if ((rc = api_repo_ensure(req, req->params[0], NULL)) < 0)
		goto out;
	margo_error_clear(&err);
	rc = store_git_token_issue(w->store, req->params[0], hash, margo_time_now(), expires_at,
				   &err);
	if (rc < 0) {
		rc = rc == MARGO_EAUTH ? http_fail(req, 401, "invalid-token", "%s", err.message) :
			http_fail_error(req, rc, &err);
		goto out;
	}
	o = json_object();
	if (o == NULL) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	if ((rc = api_git_fields(req, o, req->params[0], token, expires_at, 0)) < 0)
		goto out;
	rc = http_respond_json(req, resp, 201, o);
	o = NULL;
out:
	json_decref(o);
	margo_secret_free(token);
	return rc;
}

/* 1 when an If-None-Match list names etag (or is "*"). */
static int etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	while (inm != NULL && *inm != '\0') {
		while (*inm == ' ' || *inm == '\t' || *inm == ',')
			inm++;
		if (*inm == '*')
			return 1;
		if (strncmp(inm, "W/", 2) == 0)
			inm += 2;
		if (strncmp(inm, etag, n) == 0 && (inm[n] == '\0' || inm[n] == ',' ||
						    inm[n] == ' ' || inm[n] == '\t'))
			return 1;
		inm = strchr(inm, ',');
	}
	return 0;
}

int api_device_desired_state(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	char rev[STORE_REVISION_LEN], etag[STORE_REVISION_LEN + 2], *url = NULL;
	json_t *o;
	long hint;
	int rc;

	if ((rc = auth_device(req, req->params[0])) < 0)
		return rc;
	if ((rc = api_repo_ensure(req, req->params[0], rev)) < 0)
		return rc;
	snprintf(etag, sizeof(etag), "\"%s\"", rev);
	if (etag_matches(http_header(req, "If-None-Match"), etag)) {
		resp->status = 304;
	} else {
		if (asprintf(&url, "%s/git/%s.git", w->public_url, req->params[0]) < 0)
			return http_fail_error(req, MARGO_ENOMEM, NULL);
		o = json_pack("{s:s,s:s,s:s}", "gitRepositoryUrl", url, "gitBranch", REPO_BRANCH,
			      "revision", rev);
		free(url);
		if ((rc = http_respond_json(req, resp, 200, o)) < 0)
			return rc;
	}
	if (http_response_header(resp, "ETag", "%s", etag) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	/* server-paced polling (rollout.h): sooner while in a rollout wave */
	hint = rollout_poll_hint(w, req->params[0]);
	if (hint > 0 && http_response_header(resp, "Margo-Poll-Interval", "%ld", hint) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}
