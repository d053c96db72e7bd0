/* wfmd's signal loop: stop, reload, watchdog pings, systemd notifications. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "margo/log.h"
#include "margo/sdnotify.h"
#include "service.h"

/* Sends a notification; a failure is logged once (systemd will notice the missing READY or
 * watchdog ping itself). */
static void notify(const char *state)
{
	static int warned;
	struct margo_error err;

	margo_error_clear(&err);
	if (margo_sd_notify(state, &err) < 0 && !warned) {
		warned = 1;
		margo_log_warn("cannot notify systemd", "error=\"%s\"", err.message);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wfmd_service_sigset(sigset_t *set)
{
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

void wfmd_service_ready(const char *url)
{
	char status[512];

	snprintf(status, sizeof(status), "READY=1\nSTATUS=serving %s", url);
	notify(status);
}

/* SIGHUP: the log level from the configuration file. The other keys take a restart. */
static void reload(const struct wfmd_service *s)
{
	struct margo_error err;
	enum margo_log_level level;
	const char *value;
	char **args = NULL;
	size_t nargs = 0;

	notify("RELOADING=1");
	margo_error_clear(&err);
	if (s->config_path == NULL) {
		margo_log_info("reload: no --config file, nothing to reload", NULL);
	} else if (wfmd_conf_read(s->config_path, s->opts, &args, &nargs, &err) < 0) {
		margo_log_error("reload failed, configuration unchanged", "error=\"%s\"",
				err.message);
	} else {
		value = wfmd_conf_args_get(args, nargs, "log-level");
		if (value == NULL)
			level = MARGO_LOG_INFO;
		if (value != NULL && margo_log_level_parse(value, &level) < 0)
			margo_log_error("reload failed, configuration unchanged",
					"error=\"%s: bad log-level '%s'\"", s->config_path, value);
		else {
			margo_log_set_level(level);
			margo_log_info("configuration reloaded", "log_level=%s config=%s",
				       margo_log_level_name(level), s->config_path);
		}
	}
	wfmd_conf_args_free(args, nargs);
	notify("READY=1");
}

int wfmd_service_wait(const struct wfmd_service *s, const sigset_t *set)
{
	uint64_t wd_usec = margo_sd_watchdog_usec();
	int64_t interval_ms = (int64_t)(wd_usec / 2000), next_ping = 0, left;
	struct timespec ts;
	int sig;

	if (wd_usec > 0) {
		notify("WATCHDOG=1");
		next_ping = mono_ms() + interval_ms;
		margo_log_info("watchdog", "ping_interval_ms=%lld", (long long)interval_ms);
	}
	for (;;) {
		if (wd_usec > 0) {
			left = next_ping - mono_ms();
			if (left <= 0) {
				notify("WATCHDOG=1");
				next_ping += interval_ms;
				if (next_ping < mono_ms())
					next_ping = mono_ms() + interval_ms;
				continue;
			}
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000L;
			sig = sigtimedwait(set, NULL, &ts);
		} else {
			sig = sigwaitinfo(set, NULL);
		}
		if (sig < 0)
			continue; /* EAGAIN: time to ping; EINTR */
		if (sig == SIGHUP)
			reload(s);
		else if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	notify("STOPPING=1");
	return sig;
}
