/* What a failed verification of the WFM's TLS certificate means, in words an operator can act
 * on: a chain the pinned CA did not issue (a man in the middle, or a replaced CA), an expired
 * or not yet valid certificate (or this device's clock), a URL host the certificate does not
 * name. Internal to agent/https.c. */
#ifndef AGENT_HTTPS_EXPLAIN_H
#define AGENT_HTTPS_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "margo/cert.h"

struct https_failure {
	long verify;                           /* X509_V_ERR_... */
	const char *host;                      /* the URL's host */
	char presented[MARGO_FINGERPRINT_LEN]; /* top of the presented chain; "" if none */
	char pinned[MARGO_FINGERPRINT_LEN];    /* the pinned CA; "" if unknown */
	char names[256];                       /* the leaf's DNS/IP SANs, comma-separated */
	int64_t not_before, not_after;         /* the leaf's validity (Unix s); 0 if unknown */
	int64_t server_date;                   /* the WFM's Date (Unix s); 0 if unknown */
	int64_t device_now;                    /* this device's time when it was checked */
};

/* Fills f from a handshake whose verification failed (verify, presented, names, validity). */
void https_failure_capture(struct https_failure *f, SSL *ssl);

/* 1 when the failure is about time (expired, not yet valid): a Date is worth asking for. */
int https_failure_is_time(const struct https_failure *f);

/* The explanation, one line. */
void https_failure_explain(const struct https_failure *f, char *out, size_t outlen);

/* The fingerprint of the first certificate in ca_pem into out ("" when none). */
void https_pinned_fingerprint(const char *ca_pem, char out[MARGO_FINGERPRINT_LEN]);

#endif
