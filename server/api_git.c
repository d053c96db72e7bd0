/* Git smart HTTP, read-only (API.md section 5), and the Device API routes git-credentials and
 * desired-state (section 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "auth.h"
#include "form.h"
#include "git_upload.h"
#include "desired.h"
#include "rollout.h"
#include "store.h"
#include "wfmd.h"

#define GIT_REALM "Basic realm=\"margo-fleet git\""
#define GIT_USER_PREFIX "svc-device-"
#define GIT_REQUEST_MAX (32u * 1024u * 1024u)   /* inflated upload-pack request */
/* A fetch's answer still being sent after this long (a client reading very slowly) is cut:
 * the connection is closed. A client that reads nothing is closed sooner, by the server's
 * idle connection timeout. */
#define GIT_RESPONSE_MAX_SECONDS 60

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
 * Bearer git token. rev: main's revision, "" when the repository does not exist yet
 * (store_git_token_access). */
static int git_auth(struct http_request *req, const char *device_id,
		    char rev[STORE_REVISION_LEN])
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
	rc = store_git_token_access(w->store, hash, margo_time_now(), owner, rev, &err);
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

/* 1 when the client asks for protocol v2 (Git-Protocol: version=2, maybe among other
 * colon-separated parameters); anything else is protocol v0. */
static int git_v2(struct http_request *req)
{
	const char *p = http_header(req, "Git-Protocol");

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ":");

		if (n == 9 && strncmp(p, "version=2", 9) == 0)
			return 1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
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
	struct git_source src = { 0 };
	struct git_buf out = { 0 };
	char id[MARGO_UUID_LEN], rev[STORE_REVISION_LEN];
	int rc, v2;

	if (repo_device(req->params[0], id) < 0)
		return http_fail(req, 404, "not-found", "no such repository");
	if (service != NULL && strcmp(service, "git-receive-pack") == 0)
		return http_fail(req, 403, "read-only", "the desired-state repository is "
				 "read-only: only wfmd commits to it");
	if (service == NULL || strcmp(service, "git-upload-pack") != 0)
		return http_fail(req, 404, "not-found", "only the smart HTTP service "
				 "git-upload-pack is served");
	if ((rc = git_auth(req, id, rev)) < 0)
		return rc;
	if (rev[0] == '\0' && (rc = api_repo_ensure(req, id, rev)) < 0)
		return rc;
	v2 = git_v2(req);
	/* Protocol v0 clients expect the service announcement first; v2 does without. */
	if (!v2) {
		git_buf_pkt(&out, "# service=git-upload-pack\n");
		git_buf_flush(&out);
	}
	margo_error_clear(&err);
	if ((rc = desired_git_source_at(w->store, id, rev, &src, &err)) == 0)
		rc = git_upload_advertise(&src, v2, &out, &err);
	git_source_close(&src);
	if (rc == 0 && out.failed)
		rc = MARGO_ENOMEM;
	if (rc < 0) {
		git_buf_free(&out);
		return http_fail_error(req, rc == MARGO_ENOTFOUND || rc == MARGO_ENOMEM ? rc :
				       MARGO_ESTORE, &err);
	}
	resp->status = 200;
	resp->content_type = "application/x-git-upload-pack-advertisement";
	resp->body = out.data;
	resp->body_len = out.len;
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

/* A fetch's answer, streamed (git_upload.h), cut after GIT_RESPONSE_MAX_SECONDS. */
struct git_stream {
	struct git_upload *upload;
	struct timespec start;
	char device_id[MARGO_UUID_LEN];
};

static double git_stream_seconds(const struct git_stream *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - s->start.tv_sec) +
		(double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
}

static ssize_t git_stream_read(void *cls, char *buf, size_t max)
{
	struct git_stream *s = cls;
	struct margo_error err;
	ssize_t n;

	if (git_stream_seconds(s) > GIT_RESPONSE_MAX_SECONDS) {
		margo_log_warn("git response cut: the client reads too slowly",
			       "device_id=%s max_seconds=%d", s->device_id,
			       GIT_RESPONSE_MAX_SECONDS);
		return -1;
	}
	margo_error_clear(&err);
	n = git_upload_read(s->upload, buf, max, &err);
	if (n < 0)
		margo_log_error("git fetch failed", "device_id=%s error=\"%s\"", s->device_id,
				err.message);
	return n < 0 ? -1 : n;
}

static void git_stream_free(void *cls)
{
	struct git_stream *s = cls;
	size_t objects = 0, bytes = 0;

	git_upload_stats(s->upload, &objects, &bytes);
	margo_log_debug("git fetch", "device_id=%s objects=%zu pack_bytes=%zu seconds=%.3f",
			s->device_id, objects, bytes, git_stream_seconds(s));
	git_upload_free(s->upload);
	free(s);
}

/* The request body, inflated when gzip-encoded (*inflated then owns it). */
static int git_body(struct http_request *req, const char **input, size_t *len,
		    char **inflated)
{
	const char *enc = http_header(req, "Content-Encoding");
	int rc;

	*input = req->body != NULL ? req->body : "";
	*len = req->body_len;
	*inflated = NULL;
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		rc = gunzip(*input, *len, inflated, len);
		if (rc == MARGO_ETOOBIG)
			return http_fail(req, 413, "body-too-large", "inflated request too large");
		if (rc < 0)
			return http_fail(req, 400, "bad-encoding", "the gzip body does not inflate");
		*input = *inflated;
	} else if (enc != NULL && strcasecmp(enc, "identity") != 0) {
		return http_fail(req, 415, "unsupported-encoding", "Content-Encoding %s is not "
				 "supported", enc);
	}
	return 0;
}

int api_git_upload_pack(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	struct git_source src = { 0 };
	struct git_stream *s = NULL;
	const char *input;
	size_t input_len;
	char id[MARGO_UUID_LEN], rev[STORE_REVISION_LEN];
	char *inflated = NULL;
	int rc;

	if (repo_device(req->params[0], id) < 0)
		return http_fail(req, 404, "not-found", "no such repository");
	if ((rc = git_auth(req, id, rev)) < 0)
		return rc;
	if (!http_content_type_is(req, "application/x-git-upload-pack-request"))
		return http_fail(req, 415, "unsupported-media-type",
				 "Content-Type must be application/x-git-upload-pack-request");
	if ((rc = git_body(req, &input, &input_len, &inflated)) < 0)
		return rc;
	if (rev[0] == '\0' && (rc = api_repo_ensure(req, id, rev)) < 0)
		goto out;
	margo_error_clear(&err);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	strcpy(s->device_id, id);
	if ((rc = desired_git_source_at(w->store, id, rev, &src, &err)) == 0)
		rc = git_upload_new(&src, input, input_len, git_v2(req), &s->upload, &err);
	if (rc == MARGO_EINVAL || rc == MARGO_ELIMIT) {
		rc = http_fail(req, rc == MARGO_ELIMIT ? 413 : 400, "bad-git-request", "%s",
			       err.message);
		goto out;
	}
	if (rc < 0) {
		margo_log_error("git fetch failed", "device_id=%s error=\"%s\"", id, err.message);
		rc = http_fail_error(req, rc == MARGO_ENOTFOUND || rc == MARGO_ENOMEM ? rc :
				     MARGO_ESTORE, &err);
		goto out;
	}
	resp->status = 200;
	resp->content_type = "application/x-git-upload-pack-result";
	resp->stream_read = git_stream_read;
	resp->stream_free = git_stream_free;
	resp->stream_cls = s;
	s = NULL;
	rc = 0;
out:
	if (s != NULL)
		git_upload_free(s->upload);
	free(s);
	git_source_close(&src);
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

	if ((rc = auth_device_poll(req, req->params[0], rev)) < 0)
		return rc;
	/* The first poll of a device creates its repository. */
	if (rev[0] == '\0' && (rc = api_repo_ensure(req, req->params[0], rev)) < 0)
		return rc;
	snprintf(etag, sizeof(etag), "\"%s\"", rev);
	if (etag_matches(http_header(req, "If-None-Match"), etag)) {
		resp->status = 304;
	} else {
		if (asprintf(&url, "%s/git/%s.git", w->public_url, req->params[0]) < 0)
			return http_fail_error(req, MARGO_ENOMEM, NULL);
		o = json_pack("{s:s,s:s,s:s}", "gitRepositoryUrl", url, "gitBranch", DESIRED_BRANCH,
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
