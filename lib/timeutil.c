#include <stdio.h>
#include <string.h>
#include <time.h>

#include "margo/error.h"
#include "margo/timeutil.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12), exact for any year
 * in range: eras of 400 years hold 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

int64_t margo_time_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (int64_t)time(NULL);
	return (int64_t)ts.tv_sec;
}

int64_t margo_time_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void margo_time_format(int64_t t, char out[MARGO_TIME_LEN])
{
	int64_t days, secs, y;
	int m, d;

	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* RFC 3339 has four-digit years only; clamp what cannot be written. */
	if (y < 0 || y > 9999) {
		snprintf(out, MARGO_TIME_LEN, y < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
		return;
	}
	snprintf(out, MARGO_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Reads exactly n decimal digits at *p and advances it. */
static int read_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return MARGO_EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return MARGO_OK;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return MARGO_EINVAL;
	(*p)++;
	return MARGO_OK;
}

int margo_time_parse(const char *s, int64_t *out)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (s == NULL || out == NULL)
		return MARGO_EINVAL;
	if (read_digits(&p, 4, &year) || expect(&p, '-') || read_digits(&p, 2, &mon) ||
	    expect(&p, '-') || read_digits(&p, 2, &day))
		return MARGO_EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return MARGO_EINVAL;
	p++;
	if (read_digits(&p, 2, &hour) || expect(&p, ':') || read_digits(&p, 2, &min) ||
	    expect(&p, ':') || read_digits(&p, 2, &sec))
		return MARGO_EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return MARGO_EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (read_digits(&p, 2, &oh) || expect(&p, ':') || read_digits(&p, 2, &om))
			return MARGO_EINVAL;
		if (oh > 23 || om > 59)
			return MARGO_EINVAL;
	} else {
		return MARGO_EINVAL;
	}
	if (*p != '\0')
		return MARGO_EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return MARGO_EINVAL;
	/* Second 60 is a leap second (RFC 3339 5.7); it counts as the next second. */
	if (hour > 23 || min > 59 || sec > 60)
		return MARGO_EINVAL;
	t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*out = t;
	return MARGO_OK;
}
