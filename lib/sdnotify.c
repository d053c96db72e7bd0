/* sd_notify(3) protocol: one AF_UNIX datagram per notification. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "margo/error.h"
#include "margo/sdnotify.h"

/* Fills sa from NOTIFY_SOCKET: an absolute path, or '@' for a name in the abstract namespace
 * (a leading NUL byte, not counted in the string). Sets *len to the address length. */
static int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len,
			  struct margo_error *err)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((name[0] != '/' && name[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
		return margo_error_set(err, MARGO_EINVAL,
				       "NOTIFY_SOCKET must be /path or @name, got '%s'", name);
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	return MARGO_OK;
}

int margo_sd_notify(const char *state, struct margo_error *err)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len = 0;
	ssize_t sent;
	int fd, rc;

	if (name == NULL || name[0] == '\0')
		return 0;
	rc = notify_address(name, &sa, &len, err);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return margo_error_set(err, MARGO_EIO, "notify socket: %s", strerror(errno));
	do {
		sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	} while (sent < 0 && errno == EINTR);
	rc = sent == (ssize_t)strlen(state) ? 1 :
		margo_error_set(err, MARGO_EIO, "notify %s: %s", name,
				sent < 0 ? strerror(errno) : "short send");
	close(fd);
	return rc;
}

/* Parses a decimal unsigned number that must fill s. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

uint64_t margo_sd_watchdog_usec(void)
{
	uint64_t usec, pid;

	if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
		return 0;
	/* systemd names the process meant when it could be a child that inherited the variable */
	if (getenv("WATCHDOG_PID") != NULL &&
	    (parse_u64(getenv("WATCHDOG_PID"), &pid) < 0 || pid != (uint64_t)getpid()))
		return 0;
	return usec;
}
