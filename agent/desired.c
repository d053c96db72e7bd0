#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "apply.h"
#include "deploy.h"
#include "desired.h"
#include "device_api.h"
#include "gitcred.h"
#include "gitsync.h"
#include "margo/appdeploy.h"
#include "margo/file.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "schedule.h"

#define REMOVE_RETRY_MAX_S 3600 /* a failed removal is retried at least hourly */

#define INCOMING_DIR "incoming"

/* Posts one DeploymentStatus; on success records it as reported. */
static int report(struct agent *a, const char *id, json_t *rec, const char *state,
		  const char *message, struct margo_error *err)
{
	struct margo_http_response resp = { 0 };
	json_t *doc = agent_deploy_status_doc(id, rec, state, message);
	char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL, *path = NULL;
	int rc;

	if (body == NULL || asprintf(&path, "/deployment/%s/status", id) < 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = agent_device_request(a, "POST", path, body, strlen(body), &resp, err);
	if (rc == 0 && resp.status != 200 && resp.status != 201) {
		char *summary = margo_http_problem_summary(&resp);

		rc = margo_error_set(err, MARGO_EPROTO, "status report for %s: %s", id,
				     summary != NULL ? summary : "failed");
		free(summary);
	}
	if (rc == 0)
		json_object_set_new(rec, "reportedState", json_string(state));
	margo_log(rc == 0 ? MARGO_LOG_INFO : MARGO_LOG_WARN, "deployment status",
		  "deployment_id=%s state=%s reported=%s", id, state, rc == 0 ? "yes" : "no");
out:
	free(path);
	free(body);
	json_decref(doc);
	margo_http_response_free(&resp);
	return rc;
}

static int set_state(struct agent *a, json_t *deps, json_t *rec, const char *state,
		     const char *message, struct margo_error *err)
{
	json_object_set_new(rec, "state", json_string(state));
	json_object_set_new(rec, "error", message != NULL ? json_string(message) : json_null());
	return agent_deploy_save(a->state_dir, deps, err);
}

/* Reports the final state of every record whose report did not get through; forgets
 * removed deployments once the WFM knows. */
static int report_pending(struct agent *a, json_t *deps, struct margo_error *err)
{
	json_t *all = json_object_get(deps, "deployments"), *rec;
	const char *id;
	void *tmp;
	int rc = MARGO_OK, changed = 0;

	json_object_foreach_safe(all, tmp, id, rec) {
		const char *state = json_string_value(json_object_get(rec, "state"));
		const char *reported = json_string_value(json_object_get(rec, "reportedState"));

		if (state == NULL)
			continue;
		if (reported == NULL || strcmp(state, reported) != 0) {
			rc = report(a, id, rec, state,
				    json_string_value(json_object_get(rec, "error")), err);
			if (rc != 0)
				break;
			changed = 1;
		}
		if (strcmp(state, "Removed") == 0) {
			json_object_del(all, id);
			changed = 1;
		}
	}
	if (changed) {
		struct margo_error e;

		if (agent_deploy_save(a->state_dir, deps, &e) != 0 && rc == 0)
			rc = margo_error_set(err, e.code, "%s", e.message);
	}
	return rc;
}

static void set_components(json_t *rec, const char *yaml)
{
	struct margo_appdeploy *d = NULL;
	struct margo_validation v;
	json_t *arr = json_array();

	margo_validation_init(&v);
	if (arr != NULL && margo_appdeploy_parse(yaml, strlen(yaml), &d, &v) == 0) {
		for (size_t i = 0; i < d->ncomponents; i++)
			json_array_append_new(arr, json_string(d->components[i]));
	}
	margo_appdeploy_free(d);
	if (arr != NULL)
		json_object_set_new(rec, "components", arr);
}

static char *path2(const char *dir, const char *sub, const char *id)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s/%s.yaml", dir, sub, id) < 0)
		return NULL;
	return p;
}

/* The configured apply_command, its timeout and the state dir's pid file. */
static int run_apply(struct agent *a, const char *action, const char *file, const char *id,
		     int *status, char tail[AGENT_APPLY_TAIL + 1], struct margo_error *err)
{
	struct agent_apply_options o = {
		.command = a->cfg->apply_command, .state_dir = a->state_dir,
		.timeout_s = (long)a->cfg->apply_timeout,
	};

	return agent_apply_run(&o, action, file, id, status, tail, err);
}

/* Installs or updates one deployment. Reports are best effort (report_pending retries). */
static int apply_one(struct agent *a, json_t *deps, const char *id, enum agent_deploy_action act,
		     json_t *file, struct margo_error *err)
{
	const char *content = json_string_value(json_object_get(file, "content"));
	const char *hash = json_string_value(json_object_get(file, "hash"));
	char tail[AGENT_APPLY_TAIL + 1], *incoming = path2(a->state_dir, INCOMING_DIR, id);
	char *applied = path2(a->state_dir, AGENT_APPLIED_DIR, id), *dir = NULL;
	json_t *rec = agent_deploy_record(deps, id, 1);
	struct margo_error e;
	int rc, status = 0, online = 1;

	if (incoming == NULL || applied == NULL || rec == NULL ||
	    asprintf(&dir, "%s/%s", a->state_dir, INCOMING_DIR) < 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = margo_dir_create(dir, 0700, err)) != 0 ||
	    (rc = margo_file_write_atomic(incoming, content, strlen(content), 0600, err)) != 0)
		goto out;
	json_object_set_new(rec, "hash", json_string(hash));
	set_components(rec, content);
	if (act == AGENT_DEPLOY_INSTALL && !json_is_true(json_object_get(rec, "installed"))) {
		if ((rc = set_state(a, deps, rec, "Pending", NULL, err)) != 0)
			goto out;
		online = report(a, id, rec, "Pending", NULL, &e) == 0;
	}
	if ((rc = set_state(a, deps, rec, "Installing", NULL, err)) != 0)
		goto out;
	if (online)
		online = report(a, id, rec, "Installing", NULL, &e) == 0;
	margo_log_info("applying deployment", "deployment_id=%s action=%s", id,
		       agent_deploy_action_name(act));
	rc = run_apply(a, agent_deploy_action_name(act), incoming, id, &status, tail, &e);
	if (rc != 0) {
		snprintf(tail, sizeof(tail), "%s", e.message);
		status = 127;
	}
	if (status == 0) {
		free(dir);
		dir = NULL;
		if (asprintf(&dir, "%s/%s", a->state_dir, AGENT_APPLIED_DIR) < 0 ||
		    margo_dir_create(dir, 0700, err) != 0 ||
		    margo_file_write_atomic(applied, content, strlen(content), 0600, err) != 0) {
			rc = err->code != 0 ? err->code : MARGO_ENOMEM;
			goto out;
		}
		json_object_set_new(rec, "installed", json_true());
	}
	margo_log(status == 0 ? MARGO_LOG_INFO : MARGO_LOG_WARN, "deployment applied",
		  "deployment_id=%s action=%s exit_status=%d", id, agent_deploy_action_name(act),
		  status);
	rc = set_state(a, deps, rec, status == 0 ? "Installed" : "Failed",
		       status == 0 ? NULL : (tail[0] != '\0' ? tail : "apply_command failed"), err);
	if (rc == 0 && online)
		(void)report(a, id, rec, status == 0 ? "Installed" : "Failed",
			     status == 0 ? NULL : json_string_value(json_object_get(rec, "error")), &e);
	unlink(incoming);
out:
	free(incoming);
	free(applied);
	free(dir);
	return rc;
}

/* A failed removal is tried again with back-off (removeFailures, retryAt in the record), not
 * only when the revision changes. */
static void removal_retry_note(json_t *rec, int ok)
{
	json_int_t n = json_integer_value(json_object_get(rec, "removeFailures")) + 1;

	if (ok) {
		json_object_del(rec, "removeFailures");
		json_object_del(rec, "retryAt");
		return;
	}
	json_object_set_new(rec, "removeFailures", json_integer(n));
	json_object_set_new(rec, "retryAt", json_integer(margo_time_now() +
		agent_backoff_delay((unsigned)n, AGENT_BACKOFF_BASE, REMOVE_RETRY_MAX_S, -1,
				    (uint32_t)random())));
}

static int removal_due(json_t *rec, int revision_changed)
{
	if (json_integer_value(json_object_get(rec, "removeFailures")) <= 0)
		return revision_changed;
	return json_integer_value(json_object_get(rec, "retryAt")) <= margo_time_now();
}

static int remove_one(struct agent *a, json_t *deps, const char *id, json_t *rec,
		      struct margo_error *err)
{
	char tail[AGENT_APPLY_TAIL + 1], *applied = path2(a->state_dir, AGENT_APPLIED_DIR, id);
	struct margo_error e;
	int rc, status = 0, online;

	if (applied == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if ((rc = set_state(a, deps, rec, "Removing", NULL, err)) != 0)
		goto out;
	online = report(a, id, rec, "Removing", NULL, &e) == 0;
	if (json_is_true(json_object_get(rec, "installed")) && access(applied, F_OK) == 0) {
		margo_log_info("applying deployment", "deployment_id=%s action=remove", id);
		rc = run_apply(a, "remove", applied, id, &status, tail, &e);
		if (rc != 0) {
			snprintf(tail, sizeof(tail), "%s", e.message);
			status = 127;
		}
	}
	if (status == 0) {
		unlink(applied);
		json_object_set_new(rec, "installed", json_false());
	}
	removal_retry_note(rec, status == 0);
	rc = set_state(a, deps, rec, status == 0 ? "Removed" : "Failed",
		       status == 0 ? NULL : (tail[0] != '\0' ? tail : "apply_command failed"), err);
	if (rc == 0 && online)
		(void)report(a, id, rec, status == 0 ? "Removed" : "Failed",
			     status == 0 ? NULL : json_string_value(json_object_get(rec, "error")), &e);
out:
	free(applied);
	return rc;
}

/* Removes what the desired state no longer holds (files; NULL: the revision did not change, only
 * failed removals whose retry is due). */
static int remove_absent(struct agent *a, json_t *deps, json_t *files, struct margo_error *err)
{
	const char *id;
	json_t *rec;
	void *tmp;
	int rc;

	json_object_foreach_safe(json_object_get(deps, "deployments"), tmp, id, rec) {
		const char *state = json_string_value(json_object_get(rec, "state"));

		if ((files != NULL && json_object_get(files, id) != NULL) ||
		    (state != NULL && strcmp(state, "Removed") == 0) || !removal_due(rec, files != NULL))
			continue;
		if ((rc = remove_one(a, deps, id, rec, err)) != 0)
			return rc;
		if (agent_apply_stopping())
			return margo_error_set(err, MARGO_EINVAL, "the agent is shutting down");
	}
	return MARGO_OK;
}

/* Fetch with the current git token, rotating it first when due and once more after a 401. */
static int fetch(struct agent *a, struct margo_error *err)
{
	struct agent_git_remote r;
	char *repo = agent_state_path(a->state_dir, AGENT_REPO_DIR);
	int rc;

	if (repo == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = agent_gitcred_ensure(a, a->st.git_access_token == NULL, err);
	for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
		r = (struct agent_git_remote){
			.url = a->st.git_repository_url, .username = a->st.git_username,
			.token = a->st.git_access_token, .ca_pem = a->ca_pem,
			.proxy = a->cfg->https_proxy,
		};
		rc = agent_git_sync(repo, &r, err);
		if (rc != MARGO_EAUTH || attempt == 1)
			break;
		margo_log_info("git token refused, rotating", NULL);
		rc = agent_gitcred_ensure(a, 1, err);
	}
	free(repo);
	return rc;
}

/* GET desired-state; *revision borrowed from a->st (NULL when the WFM has none). */
static int poll_desired(struct agent *a, int *none, struct margo_error *err)
{
	struct margo_http_response resp = { 0 };
	struct margo_http_header h[1];
	char *inm = NULL, *summary = NULL;
	size_t nh = 0;
	json_t *doc = NULL, *rev;
	int rc;

	*none = 0;
	if (a->st.desired_etag != NULL && a->st.desired_revision != NULL) {
		inm = strdup(a->st.desired_etag);
		if (inm == NULL)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		h[nh++] = (struct margo_http_header){ "If-None-Match", inm };
	}
	rc = agent_device_request_h(a, "GET", "/desired-state", h, nh, NULL, 0, &resp, err);
	if (rc != 0)
		goto out;
	a->poll_hint = resp.poll_interval;
	if (resp.status == 304)
		goto out;
	if (resp.status == 404) {
		*none = 1;
		goto out;
	}
	if (resp.status != 200) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, resp.status == 401 ? MARGO_EAUTH
				     : resp.status == 403 ? MARGO_EFORBIDDEN : MARGO_EPROTO,
				     "desired state: %s", summary != NULL ? summary : "failed");
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	rev = json_object_get(doc, "revision");
	if (!json_is_string(rev)) {
		rc = margo_error_set(err, MARGO_EPROTO, "desired state without revision");
		goto out;
	}
	if (agent_state_set(&a->st.desired_revision, json_string_value(rev)) != 0 ||
	    agent_state_set(&a->st.desired_etag, resp.etag) != 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rev = json_object_get(doc, "gitRepositoryUrl");
	if (json_is_string(rev) && agent_state_set(&a->st.git_repository_url, json_string_value(rev)) != 0)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
out:
	free(inm);
	free(summary);
	json_decref(doc);
	margo_http_response_free(&resp);
	return rc;
}

int agent_desired_sync(struct agent *a, int *none, struct margo_error *err)
{
	char *repo = NULL;
	json_t *deps = NULL, *files = NULL, *file;
	const char *applied_rev, *id;
	int rc;

	rc = poll_desired(a, none, err);
	if (rc != 0 || *none || a->st.desired_revision == NULL)
		return rc;
	rc = agent_deploy_load(a->state_dir, &deps, err);
	if (rc != 0)
		return rc;
	applied_rev = json_string_value(json_object_get(deps, "revision"));
	if (applied_rev != NULL && strcmp(applied_rev, a->st.desired_revision) == 0) {
		rc = remove_absent(a, deps, NULL, err);
		if (rc == 0)
			rc = report_pending(a, deps, err);
		goto out;
	}
	margo_log_info("new desired state", "revision=%.12s applied=%.12s", a->st.desired_revision,
		       applied_rev != NULL ? applied_rev : "-");
	repo = agent_state_path(a->state_dir, AGENT_REPO_DIR);
	if (repo == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = agent_git_read_deployments(repo, a->st.desired_revision, &files, err);
	if (rc == MARGO_ENOTFOUND) {
		rc = fetch(a, err);
		if (rc == 0)
			rc = agent_git_read_deployments(repo, a->st.desired_revision, &files, err);
	}
	if (rc != 0)
		goto out;
	json_object_foreach(files, id, file) {
		enum agent_deploy_action act = agent_deploy_action_for(
			agent_deploy_record(deps, id, 0),
			json_string_value(json_object_get(file, "hash")));

		if (act != AGENT_DEPLOY_NONE && (rc = apply_one(a, deps, id, act, file, err)) != 0)
			goto out;
		if (agent_apply_stopping()) {
			/* the rest (and the revision) waits for the next start */
			rc = margo_error_set(err, MARGO_EINVAL, "the agent is shutting down");
			goto out;
		}
	}
	if ((rc = remove_absent(a, deps, files, err)) != 0)
		goto out;
	json_object_set_new(deps, "revision", json_string(a->st.desired_revision));
	rc = agent_deploy_save(a->state_dir, deps, err);
	if (rc == 0)
		margo_log_info("desired state applied", "revision=%.12s", a->st.desired_revision);
	if (rc == 0)
		rc = report_pending(a, deps, err);
out:
	free(repo);
	json_decref(files);
	json_decref(deps);
	return rc;
}
