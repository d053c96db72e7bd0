/* Runs the configured apply_command for one deployment: `apply_command ACTION FILE` through
 * /bin/sh (the command may carry its own arguments), with MARGO_DEPLOYMENT_ID and
 * MARGO_ACTION in its environment, stdout passed to the agent's stderr, and the tail of its
 * stderr kept for the status report. */
#ifndef AGENT_APPLY_H
#define AGENT_APPLY_H

#include "margo/error.h"

/* Bytes of the command's stderr kept for error.message. */
#define AGENT_APPLY_TAIL 512

/* Runs the command and waits for it. On return 0, *exit_status is the command's exit status
 * (128 + signal number when killed) and tail holds the last AGENT_APPLY_TAIL bytes of its
 * stderr (NUL-terminated, trimmed). An error is returned only when it could not be run. */
int agent_apply_run(const char *command, const char *action, const char *file,
		    const char *deployment_id, int *exit_status, char tail[AGENT_APPLY_TAIL + 1],
		    struct margo_error *err);

#endif
