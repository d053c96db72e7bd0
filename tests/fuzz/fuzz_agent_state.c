/* libFuzzer target for margo-agent's state file loader (agent/state.c, agent_state_parse: the
 * text of DIR/state.json). A state that loads must survive its own fields being read. */
#include <stdint.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_state st;
	struct margo_error err;
	size_t n = 0;

	if (size > AGENT_STATE_MAX)
		return 0;
	if (agent_state_parse((const char *)data, size, "state.json", &st, &err) != 0)
		return 0;
	n += st.client_id != NULL ? strlen(st.client_id) : 0;
	n += st.access_token != NULL ? strlen(st.access_token) : 0;
	n += strlen(st.capabilities_hash);
	agent_state_clear_onboarding(&st);
	agent_state_free(&st);
	return n == (size_t)-1;
}
