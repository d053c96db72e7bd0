/* libFuzzer target for margo-agent's configuration file parser (agent/config.c): the flat
 * `key = value` text, with every value parser behind it (durations, daily and weekly windows,
 * roles, fingerprints, URLs). A parse that succeeds must leave a usable configuration. */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;
	struct margo_error err;

	margo_log_set_level(MARGO_LOG_ERROR);
	if (size > AGENT_CONFIG_FILE_MAX || agent_config_init(&c) != 0)
		return 0;
	if (agent_config_parse(&c, (const char *)data, size, "agent.conf", &err) == 0) {
		if (c.state_dir == NULL || c.poll_interval <= 0 || c.ndowntime > AGENT_DOWNTIME_MAX ||
		    c.nroles > AGENT_ROLES_MAX)
			abort();
	}
	agent_config_free(&c);
	return 0;
}
