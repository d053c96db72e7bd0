/* The agent's working context shared by the network-facing modules: configuration, state,
 * the pinned CA and one HTTPS client that trusts only that CA. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <signal.h>

#include "config.h"
#include "https.h"
#include "margo/httpc.h"
#include "state.h"

/* Process exit codes (docs/agent.md lists them). */
enum agent_exit {
	AGENT_EXIT_OK = 0,
	AGENT_EXIT_FAILURE = 1,     /* network, server or local error */
	AGENT_EXIT_USAGE = 2,       /* bad command line or configuration */
	AGENT_EXIT_TRUST = 3,       /* CA pin mismatch or trust not allowed */
	AGENT_EXIT_REFUSED = 4,     /* onboarding rejected or not authorised */
	AGENT_EXIT_TIMEOUT = 5,     /* approval still pending after --wait */
	AGENT_EXIT_NOT_ONBOARDED = 6,
};

struct agent {
	const struct agent_config *cfg; /* borrowed */
	const char *state_dir;          /* borrowed (cfg->state_dir) */
	struct agent_state st;
	char *ca_pem;                   /* PEM text of ca.crt */
	struct agent_https *http; /* trusts ca_pem only */
	long retry_after;               /* Retry-After of the last 429/503, -1 when none */
	long poll_hint;                 /* Margo-Poll-Interval of the last desired-state answer,
					 * 0 when none */
	volatile sig_atomic_t *stop;    /* set by SIGTERM/SIGINT; may be NULL */
	int lock_fd;                    /* the state directory's lock, -1 when not held */
	int64_t clock_offset;           /* WFM minus device clock from the last Date seen (s) */
};

/* Opens an onboarded agent: loads state.json and ca.crt and creates the HTTPS client.
 * MARGO_ENOTFOUND (with a message) when the device is not onboarded. */
int agent_open(struct agent *a, const struct agent_config *cfg, struct margo_error *err);

/* Creates the HTTPS client for a->ca_pem (after onboarding set it). */
int agent_http_init(struct agent *a, struct margo_error *err);

/* Saves a->st. */
int agent_save(struct agent *a, struct margo_error *err);

void agent_close(struct agent *a);

/* Newly allocated "<WFM root URL><path>" (caller frees). */
char *agent_url(const struct agent *a, const char *path);

#endif
