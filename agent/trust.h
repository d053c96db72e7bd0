/* Establishing trust in the WFM (API.md section 1): download the root CA over an unverified
 * connection, check it against the user's pin or the enrollment token's CA MAC (or trust it
 * on first use when allowed), then
 * prove that the server itself presents a chain to that CA for the requested host. */
#ifndef AGENT_TRUST_H
#define AGENT_TRUST_H

#include "margo/cert.h"
#include "margo/error.h"

struct agent_trust_options {
	const char *url;     /* WFM root URL (https://host:port) */
	const char *pin;     /* "sha256:<hex>" or NULL */
	int tofu;            /* 1: accept an unpinned CA and print its fingerprint */
	const char *proxy;   /* https_proxy or NULL */
	/* enrollment token or NULL: without pin and tofu, the CA must carry its CA MAC
	 * (margo/camac.h) */
	const char *enrollment_token;
};

/* On success *ca_pem is the CA as PEM text (caller frees) and fingerprint is filled.
 * MARGO_EAUTH: the CA does not match the pin or the token's CA MAC, or the server's chain
 * or name does not verify against it; MARGO_EINVAL: no pin, no token and no tofu, or a
 * malformed answer; MARGO_ENET.
 * Nothing is written anywhere. */
int agent_trust_establish(const struct agent_trust_options *opts, char **ca_pem,
			  char fingerprint[MARGO_FINGERPRINT_LEN], struct margo_error *err);

#endif
