/* Deployment bookkeeping for the desired state: what was applied (DIR/deployments.json,
 * 0600, atomic), which action each deployment of a new revision needs, and the
 * DeploymentStatus documents reported for it.
 *
 * deployments.json: {"revision": "<last fully applied commit>",
 *   "deployments": {"<id>": {"hash": "<sha256 of the file>", "state": "Installed",
 *     "error": null | "...", "installed": true, "reportedState": "Installed",
 *     "components": ["name", ...]}}}
 * A record's state is persisted before apply_command runs and after it ends, so a crash
 * mid-apply is seen at the next start (state Pending/Installing/Removing) and resumed. */
#ifndef AGENT_DEPLOY_H
#define AGENT_DEPLOY_H

#include <jansson.h>

#include "margo/error.h"

#define AGENT_DEPLOYMENTS_FILE "deployments.json"
#define AGENT_APPLIED_DIR "applied"
#define AGENT_DEPLOYMENT_STATUS_API_VERSION "deployment.margo/v1"

enum agent_deploy_action {
	AGENT_DEPLOY_NONE = 0,
	AGENT_DEPLOY_INSTALL,
	AGENT_DEPLOY_UPDATE,
	AGENT_DEPLOY_REMOVE,
};

/* "install", "update", "remove" (the ACTION argument of apply_command); NULL for NONE. */
const char *agent_deploy_action_name(enum agent_deploy_action a);

/* The action a deployment present in the new revision with file hash new_hash needs, given
 * its record (NULL when the agent never saw it): new -> install; other hash -> update (install
 * when it never reached Installed); same hash -> none when the last apply ended (Installed or
 * Failed), else the interrupted apply again. */
enum agent_deploy_action agent_deploy_action_for(json_t *record, const char *new_hash);

/* Loads DIR/deployments.json; a missing file gives an empty document. *out: new reference. */
int agent_deploy_load(const char *dir, json_t **out, struct margo_error *err);

/* Writes the document to DIR/deployments.json atomically (0600). */
int agent_deploy_save(const char *dir, json_t *doc, struct margo_error *err);

/* The record of id in doc (borrowed), created empty when create is set. */
json_t *agent_deploy_record(json_t *doc, const char *id, int create);

/* A DeploymentStatus document for deployment id: state for the deployment and each of the
 * record's components, error (code, message) when message is not NULL. New reference. */
json_t *agent_deploy_status_doc(const char *id, json_t *record, const char *state,
				const char *message);

#endif
