/* rollout_target.h over the desired state (desired.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/appdeploy.h"
#include "desired.h"
#include "rollout_target.h"
#include "store.h"

#define MESSAGE_MAX 512

int rollout_target_get(struct wfmd *w, const char *device_id, const char *deployment_id,
		       char **yaml, size_t *len, struct margo_error *err)
{
	char name[STORE_TEXT_MAX];
	int rc;

	*yaml = NULL;
	if ((rc = store_deployment_desired_get(w->store, device_id, deployment_id, name, err)) < 0)
		return rc;
	return desired_get(w->store, device_id, deployment_id, yaml, len, err);
}

int rollout_target_put(struct wfmd *w, const char *device_id, const char *deployment_id,
		       const char *yaml, size_t len, const char *rollout_id,
		       struct margo_error *err)
{
	struct margo_appdeploy *dep = NULL;
	struct margo_validation v;
	char old[STORE_TEXT_MAX], rev[STORE_REVISION_LEN], message[MESSAGE_MAX];
	int rc, exists, changed = 0;

	margo_validation_init(&v);
	if ((rc = margo_appdeploy_parse(yaml, len, &dep, &v)) < 0)
		return margo_error_set(err, rc, "the rollout's document does not parse");
	rc = store_deployment_desired_get(w->store, device_id, deployment_id, old, err);
	if (rc < 0 && rc != MARGO_ENOTFOUND)
		goto out;
	exists = rc == 0;
	snprintf(message, sizeof(message), "%s %s (%s) by rollout %s", exists ? "Update" : "Deploy",
		 deployment_id, dep->name, rollout_id);
	rc = desired_put(w->store, device_id, deployment_id, yaml, len, dep->name,
			 dep->application_id, message, rev, &changed, err);
out:
	margo_appdeploy_free(dep);
	return rc;
}

int rollout_target_remove(struct wfmd *w, const char *device_id, const char *deployment_id,
			  const char *rollout_id, struct margo_error *err)
{
	char rev[STORE_REVISION_LEN], message[MESSAGE_MAX];
	int rc;

	snprintf(message, sizeof(message), "Undeploy %s (rollback of rollout %s)", deployment_id,
		 rollout_id);
	rc = desired_remove(w->store, device_id, deployment_id, message, rev, err);
	return rc == MARGO_ENOTFOUND ? 0 : rc;
}
