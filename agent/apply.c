#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "apply_proc.h"
#include "margo/log.h"
#include "margo/timeutil.h"

extern char **environ;

/* Variables of the agent's environment the command does not get: whatever may hold a secret
 * (names holding these words, any case: MARGO_ENROLLMENT_TOKEN, proxies with a password). */
static const char *const ENV_DROP[] = { "TOKEN", "SECRET", "PASSW", "CREDENTIAL", "PROXY",
					"AUTH", "KEY", "COOKIE", "MARGO_" };
#define ENV_MAX 256

struct run {
	pid_t pid;
	int status;
	int reaped;
	char ring[AGENT_APPLY_TAIL];
	size_t filled, start;
};

static int env_dropped(const char *entry)
{
	char name[128];
	size_t len = strcspn(entry, "=");

	if (len == 0 || len >= sizeof(name))
		return 1;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)toupper((unsigned char)entry[i]);
	name[len] = '\0';
	for (size_t k = 0; k < sizeof(ENV_DROP) / sizeof(ENV_DROP[0]); k++)
		if (strstr(name, ENV_DROP[k]) != NULL)
			return 1;
	return 0;
}

/* The command's environment (strings owned by the agent's environ, but the two MARGO_ ones). */
static int build_env(char *env[ENV_MAX + 3], char *id, char *action)
{
	size_t n = 0;

	for (char **e = environ; e != NULL && *e != NULL && n < ENV_MAX; e++)
		if (!env_dropped(*e))
			env[n++] = *e;
	env[n++] = id;
	env[n++] = action;
	env[n] = NULL;
	return 0;
}

static void child(int wfd, char *script, char *action, const char *file, char **env)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	/* the run loop blocks SIGTERM/SIGINT and ignores SIGPIPE: not for the command */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	dup2(wfd, STDERR_FILENO);
	execle("/bin/sh", "sh", "-c", script, "margo-apply", action, file, (char *)NULL, env);
	_exit(127);
}

static void keep_tail(struct run *r, const char *buf, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++) {
		r->ring[(r->start + r->filled) % AGENT_APPLY_TAIL] = buf[i];
		if (r->filled < AGENT_APPLY_TAIL)
			r->filled++;
		else
			r->start = (r->start + 1) % AGENT_APPLY_TAIL;
	}
}

/* 1 while the command (the group's leader, our child) has not been reaped. */
static int leader_alive(pid_t pid, void *ctx)
{
	struct run *r = ctx;

	if (!r->reaped && waitpid(pid, &r->status, WNOHANG) == pid)
		r->reaped = 1;
	return !r->reaped;
}

int agent_apply_stopping(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* Reads what the command writes until it exits (0), its time is up (1) or the agent is asked
 * to stop (2). */
static int supervise(struct run *r, int rfd, long timeout_s)
{
	int64_t deadline = margo_time_mono() + timeout_s;
	char buf[4096];
	ssize_t n;

	for (;;) {
		struct pollfd p = { rfd, POLLIN, 0 };

		if (rfd >= 0 && poll(&p, 1, 200) > 0) {
			n = read(rfd, buf, sizeof(buf));
			if (n > 0)
				keep_tail(r, buf, n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				rfd = -1;
		} else if (rfd < 0) {
			poll(NULL, 0, 100);
		}
		if (!leader_alive(r->pid, r)) {
			/* what is still buffered; a background child holding the pipe is not waited for */
			if (rfd >= 0 && fcntl(rfd, F_SETFL, O_NONBLOCK) == 0)
				while ((n = read(rfd, buf, sizeof(buf))) > 0)
					keep_tail(r, buf, n);
			return 0;
		}
		if (margo_time_mono() >= deadline)
			return 1;
		if (agent_apply_stopping())
			return 2;
	}
}

static void finish_tail(const struct run *r, char tail[AGENT_APPLY_TAIL + 1])
{
	size_t filled = r->filled;

	for (size_t i = 0; i < filled; i++) {
		char c = r->ring[(r->start + i) % AGENT_APPLY_TAIL];

		tail[i] = (c == '\n' || c == '\t' || isprint((unsigned char)c)) ? c : '?';
	}
	tail[filled] = '\0';
	while (filled > 0 && isspace((unsigned char)tail[filled - 1]))
		tail[--filled] = '\0';
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* Ends the group after a timeout or a stop and says so in tail. */
static void end_run(struct run *r, int why, long timeout_s, long grace_s,
		    char tail[AGENT_APPLY_TAIL + 1])
{
	margo_log_warn("ending apply_command", "pid=%d reason=%s", (int)r->pid,
		       why == 1 ? "timeout" : "agent stopping");
	apply_proc_end_group(r->pid, grace_s, leader_alive, r);
	while (!r->reaped && waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
		;
	r->reaped = 1;
	if (why == 1)
		snprintf(tail, AGENT_APPLY_TAIL + 1, "apply_command timed out after %ld s and was "
			 "ended (apply_timeout)", timeout_s);
	else
		snprintf(tail, AGENT_APPLY_TAIL + 1, "apply_command was ended: the agent is "
			 "shutting down");
}

int agent_apply_run(const struct agent_apply_options *o, const char *action, const char *file,
		    const char *deployment_id, int *exit_status, char tail[AGENT_APPLY_TAIL + 1],
		    struct margo_error *err)
{
	long timeout_s = o->timeout_s > 0 ? o->timeout_s : AGENT_APPLY_DEFAULT_TIMEOUT_S;
	long grace_s = o->grace_s > 0 ? o->grace_s : AGENT_APPLY_GRACE_S;
	char *env[ENV_MAX + 3], *script = NULL, *idv = NULL, *actv = NULL;
	struct run *r = calloc(1, sizeof(*r));
	int fds[2] = { -1, -1 }, why, rc = MARGO_OK;

	tail[0] = '\0';
	if (o->command == NULL || *o->command == '\0') {
		rc = margo_error_set(err, MARGO_EINVAL, "no apply_command configured");
		goto out;
	}
	/* "$@" keeps ACTION and FILE as single arguments whatever they contain */
	if (r == NULL || asprintf(&script, "%s \"$@\"", o->command) < 0 ||
	    asprintf(&idv, "MARGO_DEPLOYMENT_ID=%s", deployment_id) < 0 ||
	    asprintf(&actv, "MARGO_ACTION=%s", action) < 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	build_env(env, idv, actv);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	r->pid = fork();
	if (r->pid < 0) {
		rc = margo_error_set(err, MARGO_EIO, "fork: %s", strerror(errno));
		goto out;
	}
	if (r->pid == 0)
		child(fds[1], script, (char *)action, file, env);
	close(fds[1]);
	fds[1] = -1;
	setpgid(r->pid, r->pid); /* also done by the child: whichever runs first */
	apply_proc_pidfile_write(o->state_dir, r->pid);
	why = supervise(r, fds[0], timeout_s);
	finish_tail(r, tail);
	if (why != 0)
		end_run(r, why, timeout_s, grace_s, tail);
	apply_proc_pidfile_remove(o->state_dir);
	*exit_status = exit_code(r->status);
	if (why != 0 && *exit_status == 0)
		*exit_status = 124;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(script);
	free(idv);
	free(actv);
	free(r);
	return rc;
}

static int orphan_alive(pid_t pid, void *ctx)
{
	return apply_proc_start_time(pid) == *(uint64_t *)ctx;
}

int agent_apply_end_orphan(const char *state_dir, long grace_s)
{
	uint64_t start;
	pid_t pid;

	if (!apply_proc_pidfile_read(state_dir, &pid, &start))
		return 0;
	if (start != 0 && apply_proc_start_time(pid) == start) {
		margo_log_warn("ending an apply left by a previous run", "pid=%d", (int)pid);
		apply_proc_end_group(pid, grace_s > 0 ? grace_s : AGENT_APPLY_GRACE_S, orphan_alive,
				     &start);
		apply_proc_pidfile_remove(state_dir);
		return 1;
	}
	apply_proc_pidfile_remove(state_dir);
	return 0;
}
