/* `margo-agent run`: the polling loop. Each cycle runs a fixed list of steps (access token,
 * capability re-report; the desired-state steps join the list later) at the configured rate,
 * inside the polling hours and never in downtime; failures back off with jitter. */
#ifndef AGENT_RUN_H
#define AGENT_RUN_H

#include "agent.h"

/* Runs one cycle now. On failure *failed_step names the step. */
int agent_run_cycle(struct agent *a, const char **failed_step, struct margo_error *err);

/* The loop. SIGTERM and SIGINT (blocked by this function and taken synchronously) end it
 * cleanly after the current request, with the state saved; SIGHUP reloads the schedule and
 * log level into cfg (agent_config_reload). Under systemd it sends READY=1 once the state is
 * open, RELOADING=1/READY=1 around a reload and STOPPING=1. once: a single cycle (none when
 * traffic is not allowed now). Returns an enum agent_exit code. */
int agent_run(struct agent_config *cfg, int once, struct margo_error *err);

#endif
