/* RFC 3339 time. */
#ifndef MARGO_TIMEUTIL_H
#define MARGO_TIMEUTIL_H

#include <stdint.h>

/* "2026-11-28T21:00:00Z" + NUL */
#define MARGO_TIME_LEN 32

/* Seconds since the epoch (CLOCK_REALTIME). */
int64_t margo_time_now(void);

/* Seconds on CLOCK_MONOTONIC: for waits that a step of the wall clock must not stretch. */
int64_t margo_time_mono(void);

/* Formats t (seconds since the epoch) as RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ". */
void margo_time_format(int64_t t, char out[MARGO_TIME_LEN]);

/* Parses RFC 3339 date-time (T or t or space separator, fraction ignored, Z or +hh:mm/-hh:mm
 * offset). Returns 0 and *out seconds since the epoch, or MARGO_EINVAL. */
int margo_time_parse(const char *s, int64_t *out);

#endif
