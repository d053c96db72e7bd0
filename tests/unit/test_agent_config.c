/* margo-agent configuration parser: good files, every bad value with its line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int parse(struct agent_config *c, const char *text, struct margo_error *err)
{
	margo_error_clear(err);
	return agent_config_parse(c, text, strlen(text), "agent.conf", err);
}

static void test_defaults(void **state)
{
	struct agent_config c;

	(void)state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_string_equal(c.state_dir, AGENT_DEFAULT_STATE_DIR);
	assert_int_equal(c.poll_interval, AGENT_DEFAULT_POLL_INTERVAL);
	assert_int_equal(c.log_level, MARGO_LOG_INFO);
	assert_null(c.url);
	assert_int_equal(c.has_poll_hours, 0);
	assert_int_equal(c.ndowntime, 0);
	agent_config_free(&c);
	agent_config_free(NULL);
}

static void test_full_file(void **state)
{
	static const char text[] =
		"# margo-agent\n"
		"\n"
		"url = https://wfm.example:8443/   # trailing slash dropped\n"
		"ca_fingerprint = sha256:" "0123456789abcdef0123456789abcdef"
		"0123456789ABCDEF0123456789abcdef\n"
		"  state_dir=/tmp/margo state\n"
		"poll_interval = 5m\n"
		"poll_hours = 06:00-22:00\n"
		"downtime = Sat 22:00-Sun 06:00, 12:00-12:30\n"
		"downtime = fri 23:00-01:00\n"
		"apply_command = /usr/libexec/margo-agent/apply --verbose\n"
		"https_proxy = http://proxy.local:3128\n"
		"log_level = debug\n"
		"vendor = \"ACME Corp\"\n"
		"model_number = X1\n"
		"serial_number = SN-1\n"
		"roles = Standalone Device, cluster worker\n"
		"probe_root = /tmp/fixture\r\n";
	struct agent_config c;
	struct margo_error err;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(parse(&c, text, &err), 0);
	assert_string_equal(c.url, "https://wfm.example:8443");
	assert_string_equal(c.state_dir, "/tmp/margo state");
	assert_int_equal(c.poll_interval, 300);
	assert_int_equal(c.has_poll_hours, 1);
	assert_int_equal(c.poll_hours.start, 6 * 60);
	assert_int_equal(c.poll_hours.end, 22 * 60);
	assert_int_equal(c.ndowntime, 3);
	assert_int_equal(c.downtime[0].weekly, 1);
	assert_int_equal(c.downtime[0].start, 5 * 1440 + 22 * 60);
	assert_int_equal(c.downtime[0].end, 6 * 1440 + 6 * 60);
	assert_int_equal(c.downtime[1].weekly, 0);
	assert_int_equal(c.downtime[1].start, 12 * 60);
	assert_int_equal(c.downtime[1].end, 12 * 60 + 30);
	/* "fri 23:00-01:00" ends on Saturday */
	assert_int_equal(c.downtime[2].start, 4 * 1440 + 23 * 60);
	assert_int_equal(c.downtime[2].end, 5 * 1440 + 60);
	assert_string_equal(c.apply_command, "/usr/libexec/margo-agent/apply --verbose");
	assert_string_equal(c.https_proxy, "http://proxy.local:3128");
	assert_int_equal(c.log_level, MARGO_LOG_DEBUG);
	assert_string_equal(c.vendor, "ACME Corp");
	assert_int_equal(c.nroles, 2);
	assert_string_equal(c.roles[0], "standalone device");
	assert_string_equal(c.roles[1], "cluster worker");
	assert_string_equal(c.probe_root, "/tmp/fixture");
	agent_config_free(&c);
}

static void test_empty_values_unset(void **state)
{
	struct agent_config c;
	struct margo_error err;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(parse(&c, "https_proxy = http://p:1\nhttps_proxy =\napply_command=\n"
				   "poll_hours = 01:00-02:00\npoll_hours =\n", &err), 0);
	assert_null(c.https_proxy);
	assert_null(c.apply_command);
	assert_int_equal(c.has_poll_hours, 0);
	agent_config_free(&c);
}

/* Each bad line, placed on line 3 after two good ones, must be reported as agent.conf:3. */
static void test_bad_values(void **state)
{
	static const struct {
		const char *line;
		const char *reason;
	} cases[] = {
		{ "colour = blue", "unknown key 'colour'" },
		{ "url = http://wfm.example", "url: must start with https://" },
		{ "url = https://", "url: no host" },
		{ "ca_fingerprint = sha256:1234", "ca_fingerprint" },
		{ "ca_fingerprint = md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ca_fingerprint" },
		{ "state_dir =", "state_dir: empty" },
		{ "poll_interval = 0", "poll_interval" },
		{ "poll_interval = -5", "poll_interval" },
		{ "poll_interval = 5x", "poll_interval" },
		{ "poll_interval = 10 m", "poll_interval" },
		{ "poll_interval = 8d", "poll_interval" },
		{ "poll_interval =", "poll_interval" },
		{ "poll_hours = 06:00", "poll_hours" },
		{ "poll_hours = 25:00-26:00", "poll_hours" },
		{ "poll_hours = 06:60-07:00", "poll_hours" },
		{ "poll_hours = 06:00-06:00", "poll_hours" },
		{ "poll_hours = Mon 06:00-Fri 22:00", "poll_hours" },
		{ "downtime = Sat 22:00", "downtime: bad window 'Sat 22:00'" },
		{ "downtime = Caturday 22:00-23:00", "downtime" },
		{ "downtime = 22:00-Sun 06:00", "downtime" },
		{ "downtime = 12:00-12:30,", "downtime" },
		{ "downtime = 12:00-12:30 extra", "downtime" },
		{ "https_proxy = proxy:3128", "https_proxy" },
		{ "https_proxy = https://proxy:3128", "https_proxy: expected an http:// URL" },
		{ "log_level = verbose", "log_level" },
		{ "roles = standalone device, toaster", "roles: unknown role 'toaster'" },
		{ "just words", "expected 'key = value'" },
		{ "= value", "missing key" },
		{ "[section]", "sections are not supported" },
	};
	char text[512], expect[256];
	struct agent_config c;
	struct margo_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		agent_config_init(&c);
		snprintf(text, sizeof(text), "# comment\nlog_level = warn\n%s\nurl = https://x\n",
			 cases[i].line);
		assert_int_equal(parse(&c, text, &err), MARGO_EINVAL);
		snprintf(expect, sizeof(expect), "agent.conf:3: %s", cases[i].reason);
		if (strncmp(err.message, expect, strlen(expect)) != 0)
			fail_msg("line '%s': got '%s', want prefix '%s'", cases[i].line, err.message,
				 expect);
		agent_config_free(&c);
	}
}

static void test_trailing_downtime_comma_ok_within(void **state)
{
	struct agent_config c;
	struct margo_error err;

	(void)state;
	agent_config_init(&c);
	/* spaces around items and the dash are fine; full day names too */
	assert_int_equal(parse(&c, "downtime = saturday 22:00 - sunday 6:00 ,  0:00-24:00\n", &err), 0);
	assert_int_equal(c.ndowntime, 2);
	assert_int_equal(c.downtime[0].end, 6 * 1440 + 6 * 60);
	assert_int_equal(c.downtime[1].start, 0);
	assert_int_equal(c.downtime[1].end, 1440); /* the whole day */
	agent_config_free(&c);
}

static void test_durations(void **state)
{
	int64_t d;

	(void)state;
	assert_int_equal(agent_parse_duration("300", &d), 0);
	assert_int_equal(d, 300);
	assert_int_equal(agent_parse_duration("45s", &d), 0);
	assert_int_equal(d, 45);
	assert_int_equal(agent_parse_duration("5m", &d), 0);
	assert_int_equal(d, 300);
	assert_int_equal(agent_parse_duration("1h", &d), 0);
	assert_int_equal(d, 3600);
	assert_int_equal(agent_parse_duration("7d", &d), 0);
	assert_int_equal(d, 7 * 86400);
	assert_int_equal(agent_parse_duration("", &d), MARGO_EINVAL);
	assert_int_equal(agent_parse_duration("h", &d), MARGO_EINVAL);
	assert_int_equal(agent_parse_duration("99999999999999999999", &d), MARGO_EINVAL);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_agent_config_XXXXXX";
	struct agent_config c;
	struct margo_error err;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("url = https://10.0.0.5:8443\npoll_interval = 1h # hourly\nbogus = 1\n", f);
	fclose(f);
	agent_config_init(&c);
	assert_int_equal(agent_config_load(&c, path, 0, &err), MARGO_EINVAL);
	assert_non_null(strstr(err.message, ":3: unknown key 'bogus'"));
	assert_memory_equal(err.message, path, strlen(path));
	assert_int_equal(c.poll_interval, 3600);
	agent_config_free(&c);
	unlink(path);

	agent_config_init(&c);
	assert_int_equal(agent_config_load(&c, path, 1, &err), 0);
	assert_int_equal(agent_config_load(&c, path, 0, &err), MARGO_ENOTFOUND);
	assert_non_null(strstr(err.message, "no such file"));
	agent_config_free(&c);
}

/* Flags are applied after the file with agent_config_set: the later value wins. */
static void test_flag_beats_file(void **state)
{
	struct agent_config c;
	struct margo_error err;

	(void)state;
	agent_config_init(&c);
	assert_int_equal(parse(&c, "state_dir = /from/file\nurl = https://file\n", &err), 0);
	assert_int_equal(agent_config_set(&c, "state_dir", "/from/flag", &err), 0);
	assert_string_equal(c.state_dir, "/from/flag");
	assert_string_equal(c.url, "https://file");
	agent_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_empty_values_unset),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_trailing_downtime_comma_ok_within),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_flag_beats_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
