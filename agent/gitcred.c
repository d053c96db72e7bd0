#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "device_api.h"
#include "gitcred.h"
#include "margo/log.h"
#include "margo/timeutil.h"

int agent_gitcred_due(int64_t issued, int64_t expires, int64_t now)
{
	if (issued <= 0 || expires <= 0 || expires <= issued)
		return 1;
	return now >= issued + (expires - issued) * 2 / 3;
}

int agent_gitcred_ensure(struct agent *a, int force, struct margo_error *err)
{
	static const char *const names[] = {
		"gitRepositoryUrl", "gitBranch", "gitUsername", "gitAccessToken",
	};
	char **slots[] = {
		&a->st.git_repository_url, &a->st.git_branch, &a->st.git_username,
		&a->st.git_access_token,
	};
	struct margo_http_response resp = { 0 };
	int64_t now = margo_time_now(), expires = 0;
	char *summary = NULL;
	json_t *doc = NULL, *v;
	int rc;

	if (!force && a->st.git_access_token != NULL &&
	    !agent_gitcred_due(a->st.git_access_token_issued_at, a->st.git_access_token_expires_at,
			       now))
		return MARGO_OK;
	rc = agent_device_request(a, "POST", "/git-credentials", NULL, 0, &resp, err);
	if (rc != 0)
		goto out;
	if (resp.status != 200 && resp.status != 201) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, resp.status == 401 ? MARGO_EAUTH
				     : resp.status == 403 ? MARGO_EFORBIDDEN
				     : resp.status == 404 ? MARGO_ENOTFOUND : MARGO_EPROTO,
				     "git credentials: %s", summary != NULL ? summary : "failed");
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	for (size_t i = 0; i < 4; i++) {
		if (!json_is_string(json_object_get(doc, names[i]))) {
			rc = margo_error_set(err, MARGO_EPROTO, "git credentials without %s", names[i]);
			goto out;
		}
	}
	v = json_object_get(doc, "gitAccessTokenExpiresAt");
	/* the WFM's expiry in this device's clock: a wrong clock neither rotates in a loop nor
	 * keeps an expired token */
	if (!json_is_string(v) || margo_time_parse(json_string_value(v), &expires) != 0)
		expires = now + 3600;
	else
		expires = agent_clock_to_device(expires, &resp, now);
	for (size_t i = 0; i < 4; i++) {
		if (agent_state_set(slots[i], json_string_value(json_object_get(doc, names[i]))) != 0) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	a->st.git_access_token_issued_at = now;
	a->st.git_access_token_expires_at = expires;
	margo_log_info("git credentials rotated", "expires_in=%llds forced=%d",
		       (long long)(expires - now), force);
out:
	free(summary);
	json_decref(doc);
	if (resp.body != NULL)
		memset(resp.body, 0, resp.body_len);
	margo_http_response_free(&resp);
	return rc;
}
