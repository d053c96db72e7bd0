#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "margo/log.h"

int agent_apply_run(const char *command, const char *action, const char *file,
		    const char *deployment_id, int *exit_status, char tail[AGENT_APPLY_TAIL + 1],
		    struct margo_error *err)
{
	char buf[4096], ring[AGENT_APPLY_TAIL];
	size_t filled = 0, start = 0;
	int fds[2], status;
	char *script = NULL;
	pid_t pid;
	ssize_t n;

	tail[0] = '\0';
	if (command == NULL || *command == '\0')
		return margo_error_set(err, MARGO_EINVAL, "no apply_command configured");
	/* "$@" keeps ACTION and FILE as single arguments whatever they contain */
	if (asprintf(&script, "%s \"$@\"", command) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(script);
		return margo_error_set(err, MARGO_EIO, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		free(script);
		return margo_error_set(err, MARGO_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		/* the run loop blocks SIGTERM/SIGINT and ignores SIGPIPE: not for the command */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		setenv("MARGO_DEPLOYMENT_ID", deployment_id, 1);
		setenv("MARGO_ACTION", action, 1);
		execl("/bin/sh", "sh", "-c", script, "margo-apply", action, file, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	free(script);
	for (;;) {
		n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			ring[(start + filled) % AGENT_APPLY_TAIL] = buf[i];
			if (filled < AGENT_APPLY_TAIL)
				filled++;
			else
				start = (start + 1) % AGENT_APPLY_TAIL;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return margo_error_set(err, MARGO_EIO, "waitpid: %s", strerror(errno));
	}
	for (size_t i = 0; i < filled; i++) {
		char c = ring[(start + i) % AGENT_APPLY_TAIL];

		tail[i] = (c == '\n' || c == '\t' || isprint((unsigned char)c)) ? c : '?';
	}
	tail[filled] = '\0';
	while (filled > 0 && isspace((unsigned char)tail[filled - 1]))
		tail[--filled] = '\0';
	if (WIFEXITED(status))
		*exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		*exit_status = 128 + WTERMSIG(status);
	else
		*exit_status = 255;
	return MARGO_OK;
}
