/* One-secret onboarding: an enrollment token also authenticates the WFM's root CA, the way
 * kubeadm's bootstrap tokens sign the cluster CA. From the token text T (docs/api.md
 * section 1):
 *   lookup = base64url(HKDF-SHA256(ikm=T, salt="", info="margo enrollment-token lookup v1", 16))
 *   key    = HKDF-SHA256(ikm=T, salt="", info="margo ca-mac v1", 32)
 *   caMac  = base64url(HMAC-SHA256(key, DER of the root CA))
 * wfmd computes lookup and caMac when it issues the token and keeps only those (and SHA-256(T),
 * which is what onboarding checks); the token itself is gone. The agent, holding T, asks for
 * the caMac of its lookup and verifies the downloaded CA with it. */
#ifndef MARGO_CAMAC_H
#define MARGO_CAMAC_H

#include <openssl/x509.h>

#include "margo/error.h"

#define MARGO_CA_MAC_ALG "hkdf-sha256-hmac-sha256"
/* base64url without padding of 32 bytes, NUL included */
#define MARGO_CA_MAC_LEN 44
/* base64url without padding of 16 bytes, NUL included */
#define MARGO_TOKEN_LOOKUP_LEN 23

/* The public lookup id of an enrollment token. 0 or MARGO_ECRYPTO. */
int margo_token_lookup(const char *token, char out[MARGO_TOKEN_LOOKUP_LEN],
		       struct margo_error *err);

/* The CA MAC of ca under token. 0, MARGO_ECRYPTO or MARGO_ENOMEM. */
int margo_ca_mac(const char *token, X509 *ca, char out[MARGO_CA_MAC_LEN],
		 struct margo_error *err);

/* 0 when mac is the CA MAC of ca under token (compared in constant time), MARGO_EAUTH when
 * it is not. */
int margo_ca_mac_verify(const char *token, X509 *ca, const char *mac, struct margo_error *err);

#endif
