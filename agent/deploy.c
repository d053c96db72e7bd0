#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "margo/file.h"
#include "state.h"

const char *agent_deploy_action_name(enum agent_deploy_action a)
{
	switch (a) {
	case AGENT_DEPLOY_INSTALL: return "install";
	case AGENT_DEPLOY_UPDATE: return "update";
	case AGENT_DEPLOY_REMOVE: return "remove";
	default: return NULL;
	}
}

enum agent_deploy_action agent_deploy_action_for(json_t *record, const char *new_hash)
{
	const char *hash, *state;
	int installed;

	if (record == NULL)
		return AGENT_DEPLOY_INSTALL;
	hash = json_string_value(json_object_get(record, "hash"));
	state = json_string_value(json_object_get(record, "state"));
	installed = json_is_true(json_object_get(record, "installed"));
	if (hash == NULL || strcmp(hash, new_hash) != 0)
		return installed ? AGENT_DEPLOY_UPDATE : AGENT_DEPLOY_INSTALL;
	if (state != NULL && (strcmp(state, "Installed") == 0 || strcmp(state, "Failed") == 0))
		return AGENT_DEPLOY_NONE;
	/* Pending, Installing or Removing: an apply was interrupted; do it again */
	return installed ? AGENT_DEPLOY_UPDATE : AGENT_DEPLOY_INSTALL;
}

int agent_deploy_load(const char *dir, json_t **out, struct margo_error *err)
{
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	json_t *doc;
	int rc;

	rc = agent_state_read_file(dir, AGENT_DEPLOYMENTS_FILE, &text, &len, err);
	if (rc == MARGO_ENOTFOUND) {
		doc = json_pack("{s:n, s:{}}", "revision", "deployments");
		if (doc == NULL)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		*out = doc;
		return MARGO_OK;
	}
	if (rc != 0)
		return rc;
	doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "deployments"))) {
		json_decref(doc);
		return margo_error_set(err, MARGO_EINVAL, "%s/%s: not a deployments file", dir,
				       AGENT_DEPLOYMENTS_FILE);
	}
	*out = doc;
	return MARGO_OK;
}

int agent_deploy_save(const char *dir, json_t *doc, struct margo_error *err)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc;

	if (text == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = agent_state_write_file(dir, AGENT_DEPLOYMENTS_FILE, text, strlen(text), err);
	free(text);
	return rc;
}

json_t *agent_deploy_record(json_t *doc, const char *id, int create)
{
	json_t *all = json_object_get(doc, "deployments"), *rec;

	rec = json_object_get(all, id);
	if (rec != NULL || !create)
		return rec;
	rec = json_object();
	if (rec == NULL || json_object_set_new(all, id, rec) != 0)
		return NULL;
	return rec;
}

json_t *agent_deploy_status_doc(const char *id, json_t *record, const char *state,
				const char *message)
{
	json_t *doc, *components, *name;
	size_t i;

	doc = json_pack("{s:s, s:s, s:s, s:{s:s}, s:[]}", "apiVersion",
			AGENT_DEPLOYMENT_STATUS_API_VERSION, "kind", "DeploymentStatus",
			"deploymentId", id, "status", "state", state, "components");
	if (doc == NULL)
		return NULL;
	if (message != NULL)
		json_object_set_new(json_object_get(doc, "status"), "error",
				    json_pack("{s:s, s:s}", "code", "APPLY_FAILED", "message", message));
	components = json_object_get(doc, "components");
	json_array_foreach(json_object_get(record, "components"), i, name) {
		json_t *c = json_pack("{s:O, s:s}", "name", name, "state", state);

		if (c != NULL && message != NULL)
			json_object_set_new(c, "error", json_pack("{s:s, s:s}", "code", "APPLY_FAILED",
								  "message", message));
		if (c != NULL)
			json_array_append_new(components, c);
	}
	return doc;
}
