/* `margo-agent status`: what the state directory says, for people and scripts. */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

#include "config.h"
#include "margo/error.h"

/* Prints the status to stdout (text, or one JSON object when json is set). Returns an enum
 * agent_exit code: OK when onboarded, NOT_ONBOARDED otherwise (still printed), FAILURE when
 * the state cannot be read. */
int agent_status(const struct agent_config *cfg, int json, struct margo_error *err);

#endif
