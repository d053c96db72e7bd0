/* Git access token rotation (API.md section 4, POST /device/{id}/git-credentials). */
#ifndef AGENT_GITCRED_H
#define AGENT_GITCRED_H

#include <stdint.h>

#include "agent.h"

/* 1 when a token issued at issued and expiring at expires should be replaced at now: from
 * two thirds of its lifetime on (and when any of the times is unknown). */
int agent_gitcred_due(int64_t issued, int64_t expires, int64_t now);

/* Obtains new git credentials when they are due (or force is set) and keeps them in a->st
 * (not saved: the caller saves). MARGO_EAUTH/EFORBIDDEN when refused. */
int agent_gitcred_ensure(struct agent *a, int force, struct margo_error *err);

#endif
