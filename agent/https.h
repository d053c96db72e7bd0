/* The agent's HTTPS client: HTTP/1.1 over OpenSSL, one keep-alive connection, the same
 * contract as margo_http_* (include/margo/httpc.h, whose option, header and response types it
 * uses). It exists so that margo-agent does not load libcurl: Debian's libcurl drags in GnuTLS,
 * Kerberos, LDAP, p11-kit and more, about 5 MB of resident memory in every run, while the agent
 * needs HTTPS to one host with one pinned CA. Trusts only the CA it is given; a proxy is
 * reached with CONNECT (http:// proxy URLs, optional user:password for Basic). */
#ifndef AGENT_HTTPS_H
#define AGENT_HTTPS_H

#include <stddef.h>

#include "margo/error.h"
#include "margo/httpc.h"

struct agent_https;

/* Initialises OpenSSL for the agent; call first, before any other OpenSSL call: no legacy
 * cipher-name table (nothing in the agent looks a cipher up by name; TLS fetches from the
 * providers) and no library clean-up at exit (the process ends right after). Saves about
 * 0.4 ms of the 4 ms that OpenSSL 3.0 costs a poll before its first byte is sent. */
int agent_tls_init(struct margo_error *err);

/* opts as for margo_http_client_new. */
int agent_https_new(const struct margo_http_options *opts, struct agent_https **out,
		    struct margo_error *err);
void agent_https_free(struct agent_https *c);

/* 1 when the last request failed because the WFM's certificate did not verify (a chain the
 * pinned CA did not issue, expired, not yet valid, another name): the error message says
 * what it means and the caller must not change any stored credential because of it. */
int agent_https_trust_failed(const struct agent_https *c);

/* As margo_http_request: any HTTP status is success (0); transport failures MARGO_ENET with
 * the reason, an oversized response MARGO_ETOOBIG. resp is released with
 * margo_http_response_free(). */
int agent_https_request(struct agent_https *c, const char *method, const char *url,
			const struct margo_http_header *headers, size_t nheaders, const void *body,
			size_t body_len, struct margo_http_response *resp, struct margo_error *err);

/* Parses one complete answer to method (status line, headers, a Content-Length, chunked or
 * to-the-end body) from len bytes of memory, exactly as agent_https_request reads it from a
 * connection (fuzzing and tests). Errors as agent_https_request. */
int agent_https_parse_response(const char *method, const void *data, size_t len,
			       struct margo_http_response *resp, struct margo_error *err);

#endif
