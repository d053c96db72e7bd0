/* HTTPS client (libcurl) used by margo-agent, wfmctl and the test helpers. It trusts only the
 * CA it is given: the environment's CA bundles (SSL_CERT_FILE, CURL_CA_BUNDLE, ...) and the
 * system store are never consulted. */
#ifndef MARGO_HTTPC_H
#define MARGO_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"

/* Responses larger than this are refused with MARGO_ETOOBIG. */
#define MARGO_HTTP_RESPONSE_MAX (4u * 1024u * 1024u)

struct margo_http_options {
	const char *ca_pem;     /* PEM text of the one CA to trust (required unless insecure) */
	int insecure;           /* 1: no peer verification at all; only for downloading the CA
				 * before it is checked against a pin */
	const char *proxy;      /* https_proxy URL or NULL (the environment is not read) */
	long connect_timeout_s; /* 0: 10 s */
	long timeout_s;         /* whole-request timeout; 0: 30 s */
};

struct margo_http_header {
	const char *name;
	const char *value;
};

struct margo_http_response {
	long status;
	char *body;             /* NUL-terminated, body_len bytes before the NUL */
	size_t body_len;
	char *content_type;     /* NULL when absent; the others likewise */
	char *location;
	char *www_authenticate;
	char *etag;
	long retry_after;       /* seconds from Retry-After (delta or HTTP date), -1 if absent */
	long poll_interval;     /* seconds from Margo-Poll-Interval, the WFM's pacing hint
				 * (1 to 604800; docs/api.md), 0 if absent or malformed */
	int64_t date;           /* the server's Date header in Unix seconds; 0 if absent */
};

/* Opaque; one client keeps its connection alive between requests. Not thread-safe. */
struct margo_http_client;

int margo_http_client_new(const struct margo_http_options *opts, struct margo_http_client **out,
			  struct margo_error *err);
void margo_http_client_free(struct margo_http_client *client);

/* Performs one request. body may be NULL (no body). headers: extra request headers.
 * A response with any status is success (0); transport failures return MARGO_ENET (with
 * curl's reason in err), an oversized response MARGO_ETOOBIG. resp is filled on success and
 * must be released with margo_http_response_free(). */
int margo_http_request(struct margo_http_client *client, const char *method, const char *url,
		       const struct margo_http_header *headers, size_t nheaders, const void *body,
		       size_t body_len, struct margo_http_response *resp, struct margo_error *err);

/* Frees the members of resp (not resp itself) and zeroes it. */
void margo_http_response_free(struct margo_http_response *resp);

/* From a problem+json or OAuth error body, a short one-line description for CLI messages:
 * "<status> <title>: <detail>" or "<status> <error>: <error_description>". Newly allocated. */
char *margo_http_problem_summary(const struct margo_http_response *resp);

#endif
