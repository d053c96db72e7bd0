/* wfmd as a service: the main thread's signal loop and the systemd notifications around it
 * (sd_notify(3): READY=1 once serving, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and
 * READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM/SIGINT). */
#ifndef WFMD_SERVICE_H
#define WFMD_SERVICE_H

#include <getopt.h>
#include <signal.h>

struct wfmd_service {
	const char *config_path;    /* --config FILE, NULL when none: SIGHUP reloads nothing */
	const struct option *opts;  /* long options, to check the file's keys */
};

/* Adds the signals wfmd_service_wait takes (SIGTERM, SIGINT, SIGHUP) to set. */
void wfmd_service_sigset(sigset_t *set);

/* Tells systemd (if any) that wfmd serves url now. */
void wfmd_service_ready(const char *url);

/* Waits, with the signals of set blocked, for SIGTERM or SIGINT and returns it; pings the
 * watchdog meanwhile and reloads on SIGHUP: the configuration file's log-level (info when
 * the file has none) replaces the current level, whether it came from the file or a flag.
 * Sends STOPPING=1 before returning. */
int wfmd_service_wait(const struct wfmd_service *s, const sigset_t *set);

#endif
