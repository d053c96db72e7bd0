/* The desired-state step of the run cycle: poll GET /device/{id}/desired-state (ETag, 304),
 * fetch the repository only when the revision changed, apply the added, changed and removed
 * deployments with apply_command and report DeploymentStatus for each. */
#ifndef AGENT_DESIRED_H
#define AGENT_DESIRED_H

#include "agent.h"

/* One desired-state poll and whatever it requires. Saves deployments.json as it goes (the
 * caller saves a->st). A WFM without desired state (404) is not an error: *none is set. */
int agent_desired_sync(struct agent *a, int *none, struct margo_error *err);

#endif
