/* The device's repository and its git credentials, as onboarding, the Device API and the
 * Git server hand them out (API.md sections 2, 4, 5): repository creation (desired.h) and
 * git-token issuing, apart from the Git protocol handlers. */
#include <stdio.h>
#include <stdlib.h>

#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "api.h"
#include "desired.h"
#include "store.h"
#include "wfmd.h"

#define GIT_USER_PREFIX "svc-device-"

int api_git_token_new(struct http_request *req, char **token,
		      char hash[MARGO_TOKEN_HASH_LEN], int64_t *expires_at)
{
	struct wfmd *w = req->ctx;

	*token = margo_token_generate(MARGO_TOKEN_GIT);
	if (*token == NULL)
		return http_fail_error(req, MARGO_ECRYPTO, NULL);
	margo_token_hash(*token, hash);
	*expires_at = margo_time_now() + w->git_token_ttl;
	return 0;
}

int api_git_fields(struct http_request *req, json_t *obj, const char *device_id,
		   const char *token, int64_t expires_at, int with_credentials_url)
{
	struct wfmd *w = req->ctx;
	char *url = NULL, *user = NULL, *creds = NULL;
	int rc = -1;

	if (asprintf(&url, "%s/git/%s.git", w->public_url, device_id) < 0)
		url = NULL;
	if (asprintf(&user, GIT_USER_PREFIX "%s", device_id) < 0)
		user = NULL;
	if (asprintf(&creds, "%s/device/%s/git-credentials", w->public_url, device_id) < 0)
		creds = NULL;
	if (url == NULL || user == NULL || creds == NULL) {
		http_fail_error(req, MARGO_ENOMEM, NULL);
		goto out;
	}
	if (api_set(req, obj, "gitRepositoryUrl", json_string(url)) < 0 ||
	    api_set(req, obj, "gitBranch", json_string(DESIRED_BRANCH)) < 0 ||
	    api_set(req, obj, "gitUsername", json_string(user)) < 0 ||
	    api_set(req, obj, "gitAccessToken", json_string(token)) < 0 ||
	    api_set(req, obj, "gitAccessTokenExpiresAt", api_time_json(expires_at)) < 0 ||
	    (with_credentials_url && api_set(req, obj, "gitCredentialsUrl", json_string(creds)) < 0))
		goto out;
	rc = 0;
out:
	free(url);
	free(user);
	free(creds);
	return rc;
}

int api_repo_ensure(struct http_request *req, const char *device_id,
		    char rev[STORE_REVISION_LEN])
{
	struct wfmd *w = req->ctx;
	struct margo_error err;
	char buf[STORE_REVISION_LEN];
	int rc;

	if (rev == NULL)
		rev = buf;
	margo_error_clear(&err);
	rc = desired_repo_ensure(w->store, device_id, rev, NULL, &err);
	if (rc == MARGO_ESTORE || rc == MARGO_ENOTFOUND)
		return http_fail_error(req, rc, &err);
	if (rc < 0) {
		margo_log_error("repository unavailable", "device_id=%s error=\"%s\"", device_id,
				err.message);
		return http_fail(req, 503, "repository-unavailable",
				 "the device's repository cannot be prepared; retry later");
	}
	return 0;
}
