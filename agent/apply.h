/* Runs the configured apply_command for one deployment: `apply_command ACTION FILE` through
 * /bin/sh (the command may carry its own arguments), in its own process group, with the
 * agent's environment minus every variable whose name may mean a secret (holding TOKEN,
 * SECRET, PASSW, CREDENTIAL, PROXY, AUTH, KEY, COOKIE or MARGO_, any case), plus
 * MARGO_DEPLOYMENT_ID and MARGO_ACTION, stdout passed to the agent's stderr
 * and the tail of its stderr kept for the status report. A run that outlives its timeout, or
 * that is running when the agent is asked to stop (SIGTERM/SIGINT pending), is ended as a
 * group: SIGTERM, then SIGKILL after a grace period. While it runs, STATE_DIR/apply.pid holds
 * "PID STARTTIME" so that the next start of an agent that was SIGKILLed can end it. */
#ifndef AGENT_APPLY_H
#define AGENT_APPLY_H

#include "margo/error.h"

/* Bytes of the command's stderr kept for error.message. */
#define AGENT_APPLY_TAIL 512
#define AGENT_APPLY_PID_FILE "apply.pid"
#define AGENT_APPLY_GRACE_S 5
#define AGENT_APPLY_DEFAULT_TIMEOUT_S 600

struct agent_apply_options {
	const char *command;
	const char *state_dir;  /* for apply.pid; NULL: no pid file */
	long timeout_s;         /* <= 0: AGENT_APPLY_DEFAULT_TIMEOUT_S */
	long grace_s;           /* <= 0: AGENT_APPLY_GRACE_S */
};

/* Runs the command and waits for it. On return 0, *exit_status is the command's exit status
 * (128 + signal number when killed) and tail holds the last AGENT_APPLY_TAIL bytes of its
 * stderr (NUL-terminated, trimmed); when the agent ended it, tail says why instead ("timed
 * out after N s" or "stopped: the agent is shutting down") and *exit_status is non-zero. An
 * error is returned only when it could not be run. */
int agent_apply_run(const struct agent_apply_options *o, const char *action, const char *file,
		    const char *deployment_id, int *exit_status, char tail[AGENT_APPLY_TAIL + 1],
		    struct margo_error *err);

/* 1 when SIGTERM or SIGINT is pending (the run loop blocks them): stop applying. */
int agent_apply_stopping(void);

/* At start: ends an apply left running by an agent that was killed (STATE_DIR/apply.pid, a
 * process with that pid and start time), as a group, TERM then KILL after grace_s; removes the
 * file. Returns 1 when one was ended, 0 when there was none. */
int agent_apply_end_orphan(const char *state_dir, long grace_s);

#endif
