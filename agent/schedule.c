#include <string.h>

#include "schedule.h"

#define MINUTES_PER_DAY 1440
#define MINUTES_PER_WEEK (7 * 1440)
#define SEARCH_MINUTES (8 * MINUTES_PER_DAY + 60)

static int in_window(const struct agent_window *w, int minute_of_day, int minute_of_week)
{
	int m = w->weekly ? minute_of_week : minute_of_day;

	if (w->start < w->end)
		return m >= w->start && m < w->end;
	return m >= w->start || m < w->end; /* wraps midnight or the week end */
}

static void minutes_of(time_t t, int *mod, int *mow)
{
	struct tm tm;

	localtime_r(&t, &tm);
	*mod = tm.tm_hour * 60 + tm.tm_min;
	/* weeks start on Monday: tm_wday is 0 for Sunday */
	*mow = ((tm.tm_wday + 6) % 7) * MINUTES_PER_DAY + *mod;
}

int agent_schedule_in_downtime(const struct agent_config *c, time_t t)
{
	int mod, mow;

	if (c->ndowntime == 0)
		return 0;
	minutes_of(t, &mod, &mow);
	for (size_t i = 0; i < c->ndowntime; i++)
		if (in_window(&c->downtime[i], mod, mow))
			return 1;
	return 0;
}

int agent_schedule_allowed(const struct agent_config *c, time_t t)
{
	int mod, mow;

	minutes_of(t, &mod, &mow);
	if (c->has_poll_hours && !in_window(&c->poll_hours, mod, mow))
		return 0;
	for (size_t i = 0; i < c->ndowntime; i++)
		if (in_window(&c->downtime[i], mod, mow))
			return 0;
	return 1;
}

time_t agent_schedule_next_allowed(const struct agent_config *c, time_t t)
{
	time_t m;

	if (agent_schedule_allowed(c, t))
		return t;
	/* Walk minute starts; stepping in local minutes stays right across DST changes. */
	m = t - (t % 60);
	for (int i = 0; i < SEARCH_MINUTES; i++) {
		m += 60;
		if (agent_schedule_allowed(c, m))
			return m;
	}
	return t + 8 * 86400;
}

time_t agent_schedule_next_poll(const struct agent_config *c, time_t last)
{
	return agent_schedule_next_allowed(c, last + (time_t)c->poll_interval);
}

int64_t agent_schedule_paced_interval(const struct agent_config *c, long hint)
{
	int64_t max = c->poll_interval_max > 0 ? c->poll_interval_max : c->poll_interval;
	int64_t min = c->poll_interval_min < max ? c->poll_interval_min : max;

	if (hint <= 0)
		return c->poll_interval;
	if (hint < min)
		return min;
	return hint > max ? max : hint;
}

time_t agent_schedule_next_poll_paced(const struct agent_config *c, time_t last, long hint)
{
	return agent_schedule_next_allowed(c, last + (time_t)agent_schedule_paced_interval(c, hint));
}

int64_t agent_backoff_delay(unsigned failures, int64_t base, int64_t cap, long retry_after,
			    uint32_t rnd)
{
	int64_t ceiling = base > 0 ? base : 1, delay;

	if (cap < 1)
		cap = 1;
	for (unsigned i = 1; i < failures && ceiling < cap; i++)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	delay = 1 + (int64_t)(rnd % (uint64_t)ceiling);
	if (retry_after > 0 && delay < retry_after)
		delay = retry_after;
	return delay;
}

time_t agent_schedule_next_retry(const struct agent_config *c, time_t now, unsigned failures,
				 long retry_after, uint32_t rnd)
{
	/* Retries never wait longer than a regular poll would (nor than the cap), unless the
	 * server asks for more with Retry-After. */
	int64_t cap = c->poll_interval > AGENT_BACKOFF_BASE ? c->poll_interval : AGENT_BACKOFF_BASE;
	int64_t d;

	if (cap > AGENT_BACKOFF_CAP)
		cap = AGENT_BACKOFF_CAP;
	d = agent_backoff_delay(failures, AGENT_BACKOFF_BASE, cap, retry_after, rnd);
	return agent_schedule_next_allowed(c, now + (time_t)d);
}
