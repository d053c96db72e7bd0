/* When the agent may talk to the WFM: polling rate, polling hours, downtime windows and
 * failure backoff. Pure functions of the configuration and a time (local time of the
 * process's TZ), so they can be tested without waiting. */
#ifndef AGENT_SCHEDULE_H
#define AGENT_SCHEDULE_H

#include <stdint.h>
#include <time.h>

#include "config.h"

/* Backoff after failures: full jitter over base * 2^(failures-1), capped at
 * min(AGENT_BACKOFF_CAP, max(poll_interval, AGENT_BACKOFF_BASE)). */
#define AGENT_BACKOFF_BASE 5
#define AGENT_BACKOFF_CAP 3600

/* 1 when t falls in a downtime window. */
int agent_schedule_in_downtime(const struct agent_config *c, time_t t);

/* 1 when traffic is allowed at t: within poll_hours (when set) and not in downtime. */
int agent_schedule_allowed(const struct agent_config *c, time_t t);

/* The first time >= t at which traffic is allowed (minute resolution at window edges).
 * Returns t itself when allowed. When nothing is allowed within 8 days (configuration that
 * forbids everything), returns t + 8 days. */
time_t agent_schedule_next_allowed(const struct agent_config *c, time_t t);

/* Next regular poll after a successful cycle finished at last: last + poll_interval, moved
 * forward to the next allowed time. */
time_t agent_schedule_next_poll(const struct agent_config *c, time_t last);

/* The interval to the next regular poll when the WFM hinted hint seconds (Margo-Poll-Interval;
 * 0: no hint): poll_interval without a hint, else hint bounded to [poll_interval_min,
 * poll_interval_max (or poll_interval when unset)]; the device's own bounds win, and a min
 * above the max gives the max. */
int64_t agent_schedule_paced_interval(const struct agent_config *c, long hint);

/* agent_schedule_next_poll with the paced interval instead of poll_interval: polling hours
 * and downtime still decide when traffic is allowed. */
time_t agent_schedule_next_poll_paced(const struct agent_config *c, time_t last, long hint);

/* Delay in seconds before retry number failures (1 = first retry): a uniform value in
 * [1, min(cap, base * 2^(failures-1))] chosen with rnd (any 32-bit random number), at least
 * retry_after when that is >= 0 (the server's Retry-After), never more than
 * max(cap, retry_after). */
int64_t agent_backoff_delay(unsigned failures, int64_t base, int64_t cap, long retry_after,
			    uint32_t rnd);

/* When to try again after a failure at now. */
time_t agent_schedule_next_retry(const struct agent_config *c, time_t now, unsigned failures,
				 long retry_after, uint32_t rnd);

#endif
