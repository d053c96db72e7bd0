/* OAuth 2.0 client credentials (API.md section 3): obtains and caches the access token. */
#ifndef AGENT_OAUTH_H
#define AGENT_OAUTH_H

#include "agent.h"

/* Makes a->st.access_token valid: reuses the cached one until shortly before it expires
 * (60 s or 10 % of its lifetime, whichever is less) unless force is set. MARGO_EAUTH when the
 * WFM refuses the client (revoked: re-onboard), MARGO_ENET/MARGO_EPROTO otherwise
 * (a->retry_after set from a 429/503). */
int agent_oauth_ensure(struct agent *a, int force, struct margo_error *err);

#endif
