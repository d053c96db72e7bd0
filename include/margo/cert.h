/* X.509 certificates and keys: parsing, fingerprints, generation (the WFM's root CA and server
 * certificate, the device's self-signed identity). OpenSSL 3 types are used directly. */
#ifndef MARGO_CERT_H
#define MARGO_CERT_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "margo/error.h"

/* "sha256:" + 64 lowercase hex + NUL */
#define MARGO_FINGERPRINT_LEN 72
/* 64 lowercase hex + NUL */
#define MARGO_KEYID_LEN 65

/* Parses a certificate field as API.md allows: raw PEM text, base64 of PEM text, or base64
 * of DER (either base64 alphabet, padded or not). *out is a new X509 (caller X509_free()s).
 * MARGO_EINVAL with a message when it is none of these. */
int margo_cert_parse(const char *field, size_t len, X509 **out, struct margo_error *err);

/* Parses PEM text holding one certificate. */
int margo_cert_from_pem(const char *pem, size_t len, X509 **out, struct margo_error *err);

/* Returns the certificate as newly allocated PEM text (caller frees), NULL on failure. */
char *margo_cert_to_pem(X509 *cert);

/* Writes "sha256:<64 hex>" of the DER certificate into out. */
int margo_cert_fingerprint(X509 *cert, char out[MARGO_FINGERPRINT_LEN]);

/* Checks a user-supplied pin "sha256:<64 hex>" (hex case-insensitive, optional ':' between
 * byte pairs) against cert. 0 when it matches, MARGO_EAUTH when not, MARGO_EINVAL when the pin
 * is malformed. */
int margo_cert_pin_check(X509 *cert, const char *pin, struct margo_error *err);

/* Writes the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (RFC 9421 keyid). */
int margo_pubkey_keyid(EVP_PKEY *pkey, char out[MARGO_KEYID_LEN]);
int margo_cert_keyid(X509 *cert, char out[MARGO_KEYID_LEN]);

/* Checks that cert was issued and signed by ca, and is within its validity period. */
int margo_cert_verify_issued_by(X509 *cert, X509 *ca, struct margo_error *err);

/* A new ECDSA P-256 key (caller EVP_PKEY_free()s). */
int margo_key_generate_p256(EVP_PKEY **out, struct margo_error *err);

/* Private key to/from unencrypted PKCS#8 PEM. The returned string is newly allocated and
 * holds a secret: free it with margo_secret_free(). */
char *margo_key_to_pem(EVP_PKEY *pkey);
int margo_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct margo_error *err);

/* A self-signed root CA certificate (CA:TRUE, keyCertSign, cRLSign) for key, valid for
 * days days from now, subject CN=cn. In all three creators a cn longer than 64 bytes (the
 * X.509 bound) is cut to 64; notBefore is one hour in the past to absorb clock skew. */
int margo_cert_create_ca(EVP_PKEY *key, const char *cn, int days, X509 **out,
			 struct margo_error *err);

/* A TLS server certificate for server_key, issued by ca/ca_key, subject CN=cn, with a SAN
 * for each entry of sans (an entry that parses as an IPv4 or IPv6 address becomes an IP SAN,
 * anything else a DNS SAN), serverAuth EKU. */
int margo_cert_create_server(EVP_PKEY *server_key, X509 *ca, EVP_PKEY *ca_key, const char *cn,
			     const char *const *sans, size_t nsans, int days, X509 **out,
			     struct margo_error *err);

/* A self-signed end-entity certificate (device identity), subject CN=cn, clientAuth EKU. */
int margo_cert_create_self_signed(EVP_PKEY *key, const char *cn, int days, X509 **out,
				  struct margo_error *err);

#endif
