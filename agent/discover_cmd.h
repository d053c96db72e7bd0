/* `margo-agent discover` and `margo-agent onboard --discover`: what is done with the WFMs
 * discovery found (discover.h). */
#ifndef AGENT_DISCOVER_CMD_H
#define AGENT_DISCOVER_CMD_H

#include "config.h"
#include "discover.h"

/* Lists the WFMs found (table, or JSON with json set). Returns an agent exit code:
 * AGENT_EXIT_OK when at least one answered, AGENT_EXIT_FAILURE when none did. */
int agent_discover_command(const struct agent_discover_options *o, int json,
			   struct margo_error *err);

struct agent_discover_choice {
	const char *name;        /* --discover-name, or NULL */
	int tofu;                /* --trust-on-first-use */
	int have_token;          /* an enrollment token will authenticate the CA (CA MAC) */
};

/* For `onboard --discover`: discovers, picks the one WFM (by name when several answered)
 * and sets cfg's url; with --trust-on-first-use and no pin, the announced pin becomes the pin
 * (the user accepted what was shown). Refuses a WFM whose announced pin differs from the
 * pin given, and, with neither pin nor token nor --trust-on-first-use, shows what was found
 * and asks for one. Returns an agent exit code. */
int agent_discover_choose(struct agent_config *cfg, const struct agent_discover_options *o,
			  const struct agent_discover_choice *c, struct margo_error *err);

#endif
