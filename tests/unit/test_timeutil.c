#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "margo/error.h"
#include "margo/timeutil.h"

struct parse_case {
	const char *text;
	int ok;
	int64_t want;
};

static const struct parse_case parse_cases[] = {
	{ "1970-01-01T00:00:00Z", 1, 0 },
	{ "2026-11-28T21:00:00Z", 1, 1795899600 },
	{ "2026-11-28t21:00:00z", 1, 1795899600 },
	{ "2026-11-28 21:00:00Z", 1, 1795899600 },
	{ "2026-11-28T21:00:00.123456Z", 1, 1795899600 },
	{ "2026-11-28T22:30:00+01:30", 1, 1795899600 },
	{ "2026-11-28T16:00:00-05:00", 1, 1795899600 },
	{ "2026-11-28T21:00:00.5+00:00", 1, 1795899600 },
	{ "2026-11-28T21:00:00-00:00", 1, 1795899600 },
	{ "2000-02-29T00:00:00Z", 1, 951782400 },
	{ "2024-02-29T12:00:00Z", 1, 1709208000 },
	{ "1969-12-31T23:59:59Z", 1, -1 },
	{ "1900-01-01T00:00:00Z", 1, -2208988800 },
	{ "2038-01-19T03:14:08Z", 1, 2147483648 },
	{ "2016-12-31T23:59:60Z", 1, 1483228800 },
	{ "9999-12-31T23:59:59Z", 1, 253402300799 },
	{ "1970-01-01T00:00:00+23:59", 1, -86340 },
	/* invalid */
	{ "", 0, 0 },
	{ "2026-11-28", 0, 0 },
	{ "2026-11-28T21:00:00", 0, 0 },
	{ "2026-11-28T21:00Z", 0, 0 },
	{ "2026-11-28X21:00:00Z", 0, 0 },
	{ "2026-13-01T00:00:00Z", 0, 0 },
	{ "2026-00-01T00:00:00Z", 0, 0 },
	{ "2026-01-00T00:00:00Z", 0, 0 },
	{ "2026-01-32T00:00:00Z", 0, 0 },
	{ "2026-04-31T00:00:00Z", 0, 0 },
	{ "2023-02-29T00:00:00Z", 0, 0 },
	{ "1900-02-29T00:00:00Z", 0, 0 },
	{ "2026-11-28T24:00:00Z", 0, 0 },
	{ "2026-11-28T23:60:00Z", 0, 0 },
	{ "2026-11-28T23:59:61Z", 0, 0 },
	{ "2026-11-28T21:00:00.Z", 0, 0 },
	{ "2026-11-28T21:00:00+0100", 0, 0 },
	{ "2026-11-28T21:00:00+24:00", 0, 0 },
	{ "2026-11-28T21:00:00+01:60", 0, 0 },
	{ "2026-11-28T21:00:00Zjunk", 0, 0 },
	{ "2026-11-28T21:00:00Z ", 0, 0 },
	{ "26-11-28T21:00:00Z", 0, 0 },
	{ "2026-1-28T21:00:00Z", 0, 0 },
	{ "2026-11-28T21:0a:00Z", 0, 0 },
	{ " 2026-11-28T21:00:00Z", 0, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		int64_t got = 12345;
		int r = margo_time_parse(c->text, &got);

		if (c->ok) {
			if (r != MARGO_OK || got != c->want)
				fail_msg("case %zu '%s': r=%d got=%lld want=%lld", i, c->text, r,
					 (long long)got, (long long)c->want);
		} else if (r != MARGO_EINVAL) {
			fail_msg("case %zu '%s' should be rejected, r=%d", i, c->text, r);
		}
	}
}

static void test_parse_null(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(margo_time_parse(NULL, &t), MARGO_EINVAL);
	assert_int_equal(margo_time_parse("2026-11-28T21:00:00Z", NULL), MARGO_EINVAL);
}

struct format_case {
	int64_t t;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ 0, "1970-01-01T00:00:00Z" },
	{ -1, "1969-12-31T23:59:59Z" },
	{ 1795899600, "2026-11-28T21:00:00Z" },
	{ 951782400, "2000-02-29T00:00:00Z" },
	{ 951868799, "2000-02-29T23:59:59Z" },
	{ 2147483648LL, "2038-01-19T03:14:08Z" },
	{ -2208988800LL, "1900-01-01T00:00:00Z" },
	{ 253402300799LL, "9999-12-31T23:59:59Z" },
};

static void test_format_table(void **state)
{
	char buf[MARGO_TIME_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		margo_time_format(format_cases[i].t, buf);
		assert_string_equal(buf, format_cases[i].want);
	}
}

/* Every day boundary over four centuries (leap years included) formats and parses back, and
 * agrees with the C library's gmtime_r. */
static void test_round_trip_against_libc(void **state)
{
	char buf[MARGO_TIME_LEN], libc[MARGO_TIME_LEN];
	struct tm tm;
	int64_t back;

	(void)state;
	for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400 * 7 + 3599) {
		time_t tt = (time_t)t;

		margo_time_format(t, buf);
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(libc, sizeof(libc), "%Y-%m-%dT%H:%M:%SZ", &tm);
		assert_string_equal(buf, libc);
		assert_int_equal(margo_time_parse(buf, &back), MARGO_OK);
		assert_true(back == t);
	}
}

static void test_now(void **state)
{
	int64_t a = margo_time_now();
	int64_t b = (int64_t)time(NULL);

	(void)state;
	assert_true(a > 1700000000);
	assert_true(b - a >= 0 && b - a <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_round_trip_against_libc),
		cmocka_unit_test(test_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
