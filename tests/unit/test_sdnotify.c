/* lib/sdnotify.c: datagrams to path and abstract sockets, bad NOTIFY_SOCKET values, the
 * watchdog interval from WATCHDOG_USEC / WATCHDOG_PID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "margo/error.h"
#include "margo/sdnotify.h"

/* A bound datagram socket named like NOTIFY_SOCKET ("/path" or "@name"). */
static int listener(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path_and_abstract(void **state)
{
	char path[64], abstract[64];
	struct margo_error err;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_sdnotify.%d.sock", (int)getpid());
	snprintf(abstract, sizeof(abstract), "@test_sdnotify.%d", (int)getpid());
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(margo_sd_notify("READY=1\nSTATUS=serving", &err), 1);
	expect_datagram(fd, "READY=1\nSTATUS=serving");
	close(fd);
	unlink(path);

	fd = listener(abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	assert_int_equal(margo_sd_notify("WATCHDOG=1", &err), 1);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	/* nobody listens any more */
	assert_int_equal(margo_sd_notify("STOPPING=1", &err), MARGO_EIO);
	unsetenv("NOTIFY_SOCKET");
}

static void test_unset_and_bad_names(void **state)
{
	static const char *const bad[] = { "relative/path", "@", "x", "/" };
	char longname[200];
	struct margo_error err;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(margo_sd_notify("READY=1", &err), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(margo_sd_notify("READY=1", &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		assert_int_equal(margo_sd_notify("READY=1", &err), MARGO_EINVAL);
		assert_non_null(strstr(err.message, "NOTIFY_SOCKET"));
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(margo_sd_notify("READY=1", &err), MARGO_EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

struct wd_case {
	const char *usec;  /* NULL: unset */
	int pid;           /* 0: WATCHDOG_PID unset, 1: our pid, 2: another pid, 3: garbage */
	uint64_t want;
};

static const struct wd_case wd_cases[] = {
	{ NULL, 0, 0 },
	{ "30000000", 0, 30000000 },
	{ "30000000", 1, 30000000 },
	{ "30000000", 2, 0 },
	{ "30000000", 3, 0 },
	{ "0", 0, 0 },
	{ "-5", 0, 0 },
	{ "12abc", 0, 0 },
	{ "", 0, 0 },
	{ "99999999999999999999999", 0, 0 },
};

static void test_watchdog_usec(void **state)
{
	char pid[32];

	(void)state;
	for (size_t i = 0; i < sizeof(wd_cases) / sizeof(wd_cases[0]); i++) {
		const struct wd_case *c = &wd_cases[i];

		if (c->usec != NULL)
			setenv("WATCHDOG_USEC", c->usec, 1);
		else
			unsetenv("WATCHDOG_USEC");
		snprintf(pid, sizeof(pid), "%d", c->pid == 1 ? (int)getpid() :
			 c->pid == 2 ? (int)getpid() + 1 : 0);
		if (c->pid == 0)
			unsetenv("WATCHDOG_PID");
		else
			setenv("WATCHDOG_PID", c->pid == 3 ? "me" : pid, 1);
		assert_int_equal(margo_sd_watchdog_usec(), c->want);
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_and_abstract),
		cmocka_unit_test(test_unset_and_bad_names),
		cmocka_unit_test(test_watchdog_usec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
