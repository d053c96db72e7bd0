/* The device identity: an ECDSA P-256 key and its certificate, stored in the state directory
 * as device.key and device.crt (0600). */
#ifndef AGENT_IDENTITY_H
#define AGENT_IDENTITY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "margo/error.h"

#define AGENT_IDENTITY_DAYS (20 * 365)

/* Loads the identity of the state directory, creating it when missing: from key_path and
 * cert_path when given (manufacturer-provisioned; copied into the state directory), else a
 * new key and a self-signed certificate with subject CN=cn. An existing identity is kept
 * (it is what lets a re-onboarding recover the same client id); giving key_path/cert_path
 * that differ from it is an error. *key and *cert are new references (caller frees). */
int agent_identity_ensure(const char *state_dir, const char *key_path, const char *cert_path,
			  const char *cn, EVP_PKEY **key, X509 **cert, struct margo_error *err);

#endif
