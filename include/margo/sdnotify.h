/* The systemd service notification protocol (sd_notify(3)), written here rather than linking
 * libsystemd: one datagram to the unix socket named by $NOTIFY_SOCKET ("/path" or "@abstract"),
 * and the watchdog interval from $WATCHDOG_USEC. Outside systemd (no NOTIFY_SOCKET) every call
 * is a no-op, so programs call these unconditionally. */
#ifndef MARGO_SDNOTIFY_H
#define MARGO_SDNOTIFY_H

#include <stdint.h>

#include "margo/error.h"

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...", newline-separated
 * assignments) to $NOTIFY_SOCKET. Returns 1 when sent, 0 when NOTIFY_SOCKET is unset, or
 * MARGO_EINVAL (bad socket name) / MARGO_EIO (send failed) with err set. */
int margo_sd_notify(const char *state, struct margo_error *err);

/* The watchdog interval in microseconds that systemd expects pings within ($WATCHDOG_USEC,
 * when $WATCHDOG_PID is unset or names this process), or 0 when there is none. Callers ping
 * ("WATCHDOG=1") at half of it. */
uint64_t margo_sd_watchdog_usec(void);

#endif
