/* margo-agent schedule: polling rate, polling hours, downtime windows across midnight and
 * the week end, backoff bounds. Times are UTC (TZ is set to UTC). 2026-11-28 is a Saturday. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "schedule.h"

/* 2026-11-DD hh:mm:ss UTC; DD 23 is a Monday ... 29 a Sunday, 30 a Monday. */
static time_t at(int day, int h, int m, int s)
{
	struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = day, .tm_hour = h,
			 .tm_min = m, .tm_sec = s };

	return timegm(&tm);
}

static void config(struct agent_config *c, const char *text)
{
	struct margo_error err;

	assert_int_equal(agent_config_init(c), 0);
	if (agent_config_parse(c, text, strlen(text), "test", &err) != 0)
		fail_msg("%s", err.message);
}

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

static void test_rate_only(void **state)
{
	struct agent_config c;
	time_t t = at(28, 10, 17, 42);

	(void)state;
	config(&c, "poll_interval = 5m\n");
	assert_true(agent_schedule_allowed(&c, t));
	assert_false(agent_schedule_in_downtime(&c, t));
	assert_int_equal(agent_schedule_next_allowed(&c, t), t);
	assert_int_equal(agent_schedule_next_poll(&c, t), t + 300);
	agent_config_free(&c);
}

static void test_poll_hours(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "poll_interval = 1h\npoll_hours = 06:00-22:00\n");
	assert_false(agent_schedule_allowed(&c, at(28, 5, 59, 59)));
	assert_true(agent_schedule_allowed(&c, at(28, 6, 0, 0)));
	assert_true(agent_schedule_allowed(&c, at(28, 21, 59, 59)));
	assert_false(agent_schedule_allowed(&c, at(28, 22, 0, 0)));
	/* poll hours are not downtime */
	assert_false(agent_schedule_in_downtime(&c, at(28, 23, 0, 0)));
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 5, 30, 10)), at(28, 6, 0, 0));
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 22, 0, 30)), at(29, 6, 0, 0));
	/* 21:30 + 1 h lands at 22:30: moved to the next morning */
	assert_int_equal(agent_schedule_next_poll(&c, at(28, 21, 30, 0)), at(29, 6, 0, 0));
	assert_int_equal(agent_schedule_next_poll(&c, at(28, 20, 30, 0)), at(28, 21, 30, 0));
	agent_config_free(&c);
}

static void test_poll_hours_across_midnight(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "poll_hours = 22:00-06:00\n");
	assert_true(agent_schedule_allowed(&c, at(28, 23, 0, 0)));
	assert_true(agent_schedule_allowed(&c, at(29, 0, 0, 0)));
	assert_true(agent_schedule_allowed(&c, at(29, 5, 59, 0)));
	assert_false(agent_schedule_allowed(&c, at(29, 6, 0, 0)));
	assert_false(agent_schedule_allowed(&c, at(28, 12, 0, 0)));
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 12, 0, 0)), at(28, 22, 0, 0));
	agent_config_free(&c);
}

static void test_weekly_downtime(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "downtime = Sat 22:00-Sun 06:00\n");
	assert_false(agent_schedule_in_downtime(&c, at(28, 21, 59, 59)));
	assert_true(agent_schedule_in_downtime(&c, at(28, 22, 0, 0)));
	assert_true(agent_schedule_in_downtime(&c, at(29, 0, 30, 0)));
	assert_true(agent_schedule_in_downtime(&c, at(29, 5, 59, 59)));
	assert_false(agent_schedule_in_downtime(&c, at(29, 6, 0, 0)));
	/* the same hours on other days are free */
	assert_false(agent_schedule_in_downtime(&c, at(27, 23, 0, 0)));
	assert_false(agent_schedule_in_downtime(&c, at(30, 0, 30, 0)));
	assert_false(agent_schedule_allowed(&c, at(28, 23, 0, 0)));
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 22, 10, 5)), at(29, 6, 0, 0));
	agent_config_free(&c);
}

static void test_downtime_across_week_end(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "downtime = Sun 22:00-Mon 02:00\n");
	assert_false(agent_schedule_in_downtime(&c, at(29, 21, 59, 0)));
	assert_true(agent_schedule_in_downtime(&c, at(29, 22, 0, 0)));
	assert_true(agent_schedule_in_downtime(&c, at(29, 23, 59, 59)));
	assert_true(agent_schedule_in_downtime(&c, at(30, 0, 0, 0)));
	assert_true(agent_schedule_in_downtime(&c, at(30, 1, 59, 0)));
	assert_false(agent_schedule_in_downtime(&c, at(30, 2, 0, 0)));
	/* Monday of the previous week, before 02:00: also in the window */
	assert_true(agent_schedule_in_downtime(&c, at(23, 1, 0, 0)));
	assert_false(agent_schedule_in_downtime(&c, at(28, 1, 0, 0)));
	assert_int_equal(agent_schedule_next_allowed(&c, at(29, 23, 0, 0)), at(30, 2, 0, 0));
	agent_config_free(&c);
}

static void test_daily_downtime_across_midnight(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "poll_interval = 10m\ndowntime = 23:30-00:30, 12:00-12:30\n");
	for (int day = 23; day <= 29; day++) {
		assert_true(agent_schedule_in_downtime(&c, at(day, 23, 45, 0)));
		assert_true(agent_schedule_in_downtime(&c, at(day, 0, 15, 0)));
		assert_false(agent_schedule_in_downtime(&c, at(day, 0, 30, 0)));
		assert_true(agent_schedule_in_downtime(&c, at(day, 12, 0, 0)));
		assert_false(agent_schedule_in_downtime(&c, at(day, 12, 30, 0)));
		assert_false(agent_schedule_in_downtime(&c, at(day, 11, 59, 59)));
	}
	/* a poll due in the window is moved to its end */
	assert_int_equal(agent_schedule_next_poll(&c, at(28, 11, 55, 0)), at(28, 12, 30, 0));
	assert_int_equal(agent_schedule_next_poll(&c, at(28, 23, 25, 0)), at(29, 0, 30, 0));
	agent_config_free(&c);
}

static void test_hours_and_downtime_together(void **state)
{
	struct agent_config c;

	(void)state;
	config(&c, "poll_hours = 06:00-22:00\ndowntime = Sun 00:00-Sun 24:00\n");
	/* Saturday 22:00: outside hours, all of Sunday is downtime: Monday 06:00 */
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 22, 0, 0)), at(30, 6, 0, 0));
	agent_config_free(&c);
}

static void test_everything_forbidden(void **state)
{
	struct agent_config c;
	time_t t = at(28, 10, 0, 0);

	(void)state;
	config(&c, "downtime = 00:00-24:00\n");
	assert_true(agent_schedule_in_downtime(&c, t));
	assert_int_equal(agent_schedule_next_allowed(&c, t), t + 8 * 86400);
	agent_config_free(&c);
}

static void test_backoff_bounds(void **state)
{
	int64_t ceiling = AGENT_BACKOFF_BASE;

	(void)state;
	for (unsigned n = 1; n <= 40; n++) {
		int64_t lo = agent_backoff_delay(n, AGENT_BACKOFF_BASE, 3600, -1, 0);
		int64_t hi = agent_backoff_delay(n, AGENT_BACKOFF_BASE, 3600, -1, (uint32_t)ceiling - 1);

		assert_int_equal(lo, 1);
		assert_int_equal(hi, ceiling);
		/* any random number stays within [1, ceiling] */
		for (uint32_t r = 0; r < 5000; r += 37) {
			int64_t d = agent_backoff_delay(n, AGENT_BACKOFF_BASE, 3600, -1, r * 2654435761u);

			assert_true(d >= 1 && d <= ceiling);
		}
		ceiling = ceiling * 2 > 3600 ? 3600 : ceiling * 2;
	}
	/* Retry-After is a floor, even above the cap */
	assert_int_equal(agent_backoff_delay(1, 5, 3600, 120, 0), 120);
	assert_int_equal(agent_backoff_delay(30, 5, 3600, 7200, 0), 7200);
	assert_int_equal(agent_backoff_delay(1, 5, 3600, 0, 3), 4);
	/* huge failure counts do not overflow */
	assert_true(agent_backoff_delay(4000000000u, 5, 3600, -1, 0xffffffffu) <= 3600);
}

static void test_next_retry(void **state)
{
	struct agent_config c;
	time_t t = at(28, 10, 0, 0);

	(void)state;
	config(&c, "poll_interval = 30\ndowntime = 10:05-10:10\n");
	/* capped at the poll interval */
	for (unsigned n = 1; n < 30; n++) {
		time_t r = agent_schedule_next_retry(&c, t, n, -1, 0xfffffff0u);

		assert_true(r > t && r <= t + 30);
	}
	/* Retry-After beats the cap; a retry that lands in downtime waits for its end */
	assert_int_equal(agent_schedule_next_retry(&c, t, 1, 100, 0), t + 100);
	assert_int_equal(agent_schedule_next_retry(&c, t, 1, 400, 0), at(28, 10, 10, 0));
	agent_config_free(&c);

	config(&c, "poll_interval = 1d\n");
	assert_true(agent_schedule_next_retry(&c, t, 100, -1, 0xffffffffu) <= t + AGENT_BACKOFF_CAP);
	agent_config_free(&c);
}

/* Windows are local time: in Berlin (UTC+1 in November, UTC+2 from 29 March 2026 02:00). */
static void test_local_time_zone(void **state)
{
	struct agent_config c;
	struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 2, .tm_mday = 29, .tm_hour = 0,
			 .tm_min = 30 };
	time_t spring;

	(void)state;
	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		skip();
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	config(&c, "poll_hours = 06:00-22:00\ndowntime = 02:00-03:00\n");
	assert_false(agent_schedule_allowed(&c, at(28, 4, 30, 0)));   /* 05:30 local */
	assert_true(agent_schedule_allowed(&c, at(28, 5, 0, 0)));     /* 06:00 local */
	assert_int_equal(agent_schedule_next_allowed(&c, at(28, 4, 30, 0)), at(28, 5, 0, 0));
	assert_true(agent_schedule_in_downtime(&c, at(28, 1, 30, 0))); /* 02:30 local */
	agent_config_free(&c);
	/* the night the clocks go forward: 02:00-03:00 local never happens */
	config(&c, "downtime = 01:00-02:30\n");
	spring = timegm(&tm); /* 00:30 UTC = 01:30 CET: in the window */
	assert_true(agent_schedule_in_downtime(&c, spring));
	/* 01:00 UTC is 03:00 CEST: the window (ending 02:30 local) is over */
	assert_int_equal(agent_schedule_next_allowed(&c, spring), spring + 1800);
	agent_config_free(&c);
	setenv("TZ", "UTC", 1);
	tzset();
}

/* The WFM's pacing hint is bounded by the device's own limits, and never moves a poll into
 * a window the device forbids. */
static void test_paced_polling(void **state)
{
	struct agent_config c;
	struct margo_error err;

	(void)state;
	config(&c, "poll_interval = 5m\n");
	assert_int_equal(agent_schedule_paced_interval(&c, 0), 300);      /* no hint */
	assert_int_equal(agent_schedule_paced_interval(&c, 30), 30);      /* sooner in a wave */
	assert_int_equal(agent_schedule_paced_interval(&c, 1), 10);       /* floor: default 10 s */
	assert_int_equal(agent_schedule_paced_interval(&c, 3600), 300);   /* never rarer than asked */
	agent_config_free(&c);
	config(&c, "poll_interval = 5m\npoll_interval_min = 1m\npoll_interval_max = 1h\n");
	assert_int_equal(agent_schedule_paced_interval(&c, 15), 60);
	assert_int_equal(agent_schedule_paced_interval(&c, 1800), 1800);  /* slower at rest */
	assert_int_equal(agent_schedule_paced_interval(&c, 7200), 3600);
	assert_int_equal(agent_schedule_paced_interval(&c, -5), 300);
	agent_config_free(&c);
	/* a floor above the ceiling: the ceiling wins */
	config(&c, "poll_interval = 30s\npoll_interval_min = 2m\n");
	assert_int_equal(agent_schedule_paced_interval(&c, 5), 30);
	agent_config_free(&c);
	/* polling hours and downtime still decide: a 15 s hint at 21:59:50 waits for 06:00 */
	config(&c, "poll_interval = 5m\npoll_hours = 06:00-22:00\ndowntime = 12:00-12:30\n");
	assert_int_equal(agent_schedule_next_poll_paced(&c, at(28, 21, 59, 50), 15),
			 at(29, 6, 0, 0));
	assert_int_equal(agent_schedule_next_poll_paced(&c, at(28, 11, 59, 55), 15),
			 at(28, 12, 30, 0));
	assert_int_equal(agent_schedule_next_poll_paced(&c, at(28, 10, 0, 0), 15),
			 at(28, 10, 0, 15));
	agent_config_free(&c);
	/* bad values */
	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(agent_config_set(&c, "poll_interval_min", "0", &err), MARGO_EINVAL);
	assert_int_equal(agent_config_set(&c, "poll_interval_max", "soon", &err), MARGO_EINVAL);
	assert_non_null(strstr(err.message, "poll_interval_max"));
	assert_int_equal(agent_config_set(&c, "poll_interval_max", "", &err), 0);
	agent_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_only),
		cmocka_unit_test(test_poll_hours),
		cmocka_unit_test(test_poll_hours_across_midnight),
		cmocka_unit_test(test_weekly_downtime),
		cmocka_unit_test(test_downtime_across_week_end),
		cmocka_unit_test(test_daily_downtime_across_midnight),
		cmocka_unit_test(test_hours_and_downtime_together),
		cmocka_unit_test(test_everything_forbidden),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_next_retry),
		cmocka_unit_test(test_local_time_zone),
		cmocka_unit_test_setup(test_paced_polling, setup),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
