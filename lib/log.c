#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "margo/error.h"
#include "margo/log.h"

#define LOG_LINE_MAX 2048

static volatile int log_level = MARGO_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void margo_log_set_level(enum margo_log_level level)
{
	log_level = level;
}

enum margo_log_level margo_log_get_level(void)
{
	return (enum margo_log_level)log_level;
}

const char *margo_log_level_name(enum margo_log_level level)
{
	return level >= MARGO_LOG_ERROR && level <= MARGO_LOG_DEBUG ? level_names[level] : "?";
}

int margo_log_level_parse(const char *s, enum margo_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (s != NULL && strcasecmp(s, level_names[i]) == 0) {
			*out = (enum margo_log_level)i;
			return MARGO_OK;
		}
	}
	if (s != NULL && strcasecmp(s, "warning") == 0) {
		*out = MARGO_LOG_WARN;
		return MARGO_OK;
	}
	return MARGO_EINVAL;
}

void margo_log(enum margo_log_level level, const char *msg, const char *kv_fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	if ((int)level > log_level || level < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s", ts.tv_nsec / 1000000L,
		     level_names[level], msg);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (kv_fmt != NULL && *kv_fmt != '\0' && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_start(ap, kv_fmt);
		r = vsnprintf(line + n, sizeof(line) - n, kv_fmt, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write so concurrent lines do not interleave; nothing to do on failure. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
