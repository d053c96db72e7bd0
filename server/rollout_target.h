/* What the rollout engine needs of one device's desired state: read, write and remove one
 * deployment file, each change one commit as an operator's deploy would make it. */
#ifndef WFMD_ROLLOUT_TARGET_H
#define WFMD_ROLLOUT_TARGET_H

#include <stddef.h>

#include "margo/error.h"
#include "wfmd.h"

/* The device's current YAML of deployment_id (newly allocated). MARGO_ENOTFOUND when it has
 * none. */
int rollout_target_get(struct wfmd *w, const char *device_id, const char *deployment_id,
		       char **yaml, size_t *len, struct margo_error *err);
/* Commits yaml (a valid ApplicationDeployment whose annotations.id is deployment_id) with a
 * message naming the change and the rollout. Committing the content the device already has
 * makes no commit. */
int rollout_target_put(struct wfmd *w, const char *device_id, const char *deployment_id,
		       const char *yaml, size_t len, const char *rollout_id,
		       struct margo_error *err);
/* Removes the deployment (no-op when absent). */
int rollout_target_remove(struct wfmd *w, const char *device_id, const char *deployment_id,
			  const char *rollout_id, struct margo_error *err);

#endif
