/* SIGHUP in `margo-agent run`: re-reads the configuration file and applies what a running
 * agent can change without reopening its state: the schedule (poll_interval,
 * poll_interval_min, poll_interval_max, poll_hours, downtime) and log_level. The other keys
 * (url, state_dir, apply_command, https_proxy, identity overrides, ...) take a restart. */
#ifndef AGENT_RELOAD_H
#define AGENT_RELOAD_H

#include "config.h"

/* Reads live->path and copies the reloadable keys into live. On any error (file gone, bad
 * line) live is unchanged and err says why. The file's log_level (info when absent) replaces
 * a --log-level flag. Logs what it applied, and each other key whose value differs from the
 * running one ("takes a restart"). */
int agent_config_reload(struct agent_config *live, struct margo_error *err);

#endif
