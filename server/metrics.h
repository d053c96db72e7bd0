/* wfmd's metrics in the Prometheus text exposition format (GET /metrics): requests by route
 * and status with latency histograms, devices by state, onboarding outcomes, tokens issued,
 * git operations, store transaction latency, process figures. One registry per process.
 * Counting is lock-free (relaxed atomics) so the request path pays a few atomic adds; the
 * rest (devices by state, process figures) is read when scraped. */
#ifndef WFMD_METRICS_H
#define WFMD_METRICS_H

#include <stddef.h>

#include "http.h"

struct wfmd;

/* Sets the registry up for the route table (counters per route, plus one for requests that
 * matched none). 0, or MARGO_ENOMEM. Until then (and after metrics_free) every count is a
 * no-op. */
int metrics_init(const struct http_route *routes, size_t nroutes);
void metrics_free(void);

/* http_config.on_completed: one request of route (NULL: none matched). */
void metrics_on_completed(void *ctx, const struct http_route *route, unsigned status,
			  double seconds);
/* One onboarding decision (enum store_onboard_result). */
void metrics_onboarding(int result);
/* One store write transaction, from asking for the write lock to commit or rollback. */
void metrics_store_tx(double seconds);

/* The exposition text, newly allocated (caller frees). Reads devices by state from the
 * store. 0, or an error code with err set. */
int metrics_render(struct wfmd *w, char **out, size_t *len, struct margo_error *err);

#endif
