#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "apply_proc.h"
#include "margo/file.h"

uint64_t apply_proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: fields count from the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
				"%*d %*d %*d %*d %*d %*d %llu", &start) != 1)
		return 0;
	return start;
}

static char *pid_path(const char *state_dir)
{
	char *path = NULL;

	if (state_dir == NULL || asprintf(&path, "%s/%s", state_dir, AGENT_APPLY_PID_FILE) < 0)
		return NULL;
	return path;
}

void apply_proc_pidfile_write(const char *state_dir, pid_t pid)
{
	char *path = pid_path(state_dir), text[64];
	struct margo_error e;
	int n = snprintf(text, sizeof(text), "%d %llu\n", (int)pid,
			 (unsigned long long)apply_proc_start_time(pid));

	if (path != NULL)
		(void)margo_file_write_atomic(path, text, (size_t)n, 0600, &e);
	free(path);
}

void apply_proc_pidfile_remove(const char *state_dir)
{
	char *path = pid_path(state_dir);

	if (path != NULL)
		unlink(path);
	free(path);
}

int apply_proc_pidfile_read(const char *state_dir, pid_t *pid, uint64_t *start)
{
	char *path = pid_path(state_dir), *text = NULL;
	unsigned long long st;
	struct margo_error e;
	size_t len;
	int p, ok;

	ok = path != NULL && margo_file_read(path, 64, &text, &len, &e) == 0 &&
	     sscanf(text, "%d %llu", &p, &st) == 2 && p > 1;
	free(path);
	free(text);
	if (!ok)
		return 0;
	*pid = (pid_t)p;
	*start = st;
	return 1;
}

void apply_proc_end_group(pid_t pgid, long grace_s, int (*alive)(pid_t, void *), void *ctx)
{
	struct timespec slice = { 0, 100 * 1000 * 1000 };

	kill(-pgid, SIGTERM);
	for (long i = 0; i < grace_s * 10 && alive(pgid, ctx); i++)
		nanosleep(&slice, NULL);
	kill(-pgid, SIGKILL);
}
