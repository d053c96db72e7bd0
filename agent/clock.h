/* The device's clock against the WFM's: the offset read from an answer's Date header, server
 * times turned into device times, and the one-line explanation of a clock-skew refusal. */
#ifndef AGENT_CLOCK_H
#define AGENT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "margo/httpc.h"

/* Seconds the WFM's clock is ahead of this device's (server minus device) according to the
 * answer's Date header, taken at device time now; 0 when the answer has no Date. */
int64_t agent_clock_offset(const struct margo_http_response *resp, int64_t now);

/* A server timestamp (e.g. gitAccessTokenExpiresAt) in this device's clock. */
int64_t agent_clock_to_device(int64_t server_time, const struct margo_http_response *resp,
			      int64_t now);

/* When resp is the WFM's clock-skew refusal (problem member clockOffsetSeconds, docs/api.md),
 * writes "this device's clock is N s behind the WFM; fix its time (NTP)" (or "ahead of") to
 * out and returns 1; otherwise returns 0. */
int agent_clock_explain(const struct margo_http_response *resp, char *out, size_t outlen);

#endif
