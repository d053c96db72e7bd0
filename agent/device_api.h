/* Device API calls (API.md section 4) with the cached access token, and the capability
 * report that uses them. */
#ifndef AGENT_DEVICE_API_H
#define AGENT_DEVICE_API_H

#include <jansson.h>

#include "agent.h"

/* One Device API request to "<url>/device/<deviceId><subpath>" with the bearer token; a
 * 401 fetches a new token once and repeats the request. body may be NULL. Success means a
 * response was received (any status); resp is then filled (margo_http_response_free()). */
int agent_device_request(struct agent *a, const char *method, const char *subpath,
			 const char *body, size_t body_len, struct margo_http_response *resp,
			 struct margo_error *err);

/* The same with extra request headers. */
int agent_device_request_h(struct agent *a, const char *method, const char *subpath,
			   const struct margo_http_header *extra, size_t nextra, const char *body,
			   size_t body_len, struct margo_http_response *resp, struct margo_error *err);

/* Sends doc to /capabilities with method ("POST" at onboarding, "PUT" on change) and, on
 * success, records its hash and the report time in a->st. */
int agent_capabilities_report(struct agent *a, const char *method, json_t *doc,
			      struct margo_error *err);

/* Probes the machine and reports the document when its hash differs from the last report.
 * *sent is set to 1 when a report was made. */
int agent_capabilities_sync(struct agent *a, int *sent, struct margo_error *err);

#endif
