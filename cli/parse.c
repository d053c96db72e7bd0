#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "wfmctl.h"

/* Ten years: anything longer is a typo. */
#define DURATION_MAX_S (10LL * 366 * 86400)

int wfmctl_duration_parse(const char *s, int64_t *secs)
{
	const char *p = s;
	int64_t total = 0;
	int bare = 1;

	if (s == NULL || *s == '\0')
		return -1;
	for (const char *q = s; *q != '\0'; q++)
		bare &= isdigit((unsigned char)*q) != 0;
	while (*p != '\0') {
		int64_t n = 0, unit;
		int digits = 0;

		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p - '0');
			if (n > DURATION_MAX_S)
				return -1;
			p++;
			digits++;
		}
		if (digits == 0)
			return -1;
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case '\0':
			/* A unitless number is seconds, but only on its own ("3600"). */
			if (!bare)
				return -1;
			unit = 1;
			p--;
			break;
		default:
			return -1;
		}
		p++;
		total += n * unit;
		if (total > DURATION_MAX_S)
			return -1;
	}
	if (total <= 0)
		return -1;
	*secs = total;
	return 0;
}

int wfmctl_long_parse(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
