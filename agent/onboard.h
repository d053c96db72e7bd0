/* `margo-agent onboard` (API.md sections 1 and 2): trust, identity, the signed
 * OnboardingRequest, waiting for approval, storing the result, first token and capability
 * report. */
#ifndef AGENT_ONBOARD_H
#define AGENT_ONBOARD_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "margo/error.h"

struct agent_onboard_options {
	int tofu;                      /* --trust-on-first-use */
	const char *enrollment_token;  /* secret, or NULL */
	const char *key_path;          /* provisioned identity, or NULL */
	const char *cert_path;
	int64_t wait_s;                /* approval timeout; 0: wait until decided */
	const char *vendor;            /* --vendor/--model/--serial (beat the config) */
	const char *model_number;
	const char *serial_number;
	volatile sig_atomic_t *stop;           /* set by SIGINT/SIGTERM while waiting; may be NULL */
};

/* Runs the onboarding with cfg (url, ca_fingerprint, state_dir, https_proxy, overrides).
 * Returns an enum agent_exit code; err holds the reason when it is not AGENT_EXIT_OK. */
int agent_onboard(const struct agent_config *cfg, const struct agent_onboard_options *opts,
		  struct margo_error *err);

#endif
