/* The apply command's process group: its pid file in the state directory (pid and start time,
 * so a reused pid is never taken for it) and ending the group (TERM, grace, KILL). */
#ifndef AGENT_APPLY_PROC_H
#define AGENT_APPLY_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* The start time of pid in clock ticks since boot (/proc/PID/stat field 22); 0 if gone. */
uint64_t apply_proc_start_time(pid_t pid);

/* Writes STATE_DIR/apply.pid ("PID STARTTIME\n", atomically); best effort. */
void apply_proc_pidfile_write(const char *state_dir, pid_t pid);
void apply_proc_pidfile_remove(const char *state_dir);

/* Reads STATE_DIR/apply.pid; 0 when absent or malformed. */
int apply_proc_pidfile_read(const char *state_dir, pid_t *pid, uint64_t *start);

/* Sends SIGTERM to the group pgid, waits up to grace_s for alive(pgid, ctx) to turn 0, then
 * sends SIGKILL to the group (whatever is left of it). */
void apply_proc_end_group(pid_t pgid, long grace_s, int (*alive)(pid_t, void *), void *ctx);

#endif
