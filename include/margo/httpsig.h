/* HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530). */
#ifndef MARGO_HTTPSIG_H
#define MARGO_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "margo/error.h"

/* Algorithms of RFC 9421 section 3.3 that we support. */
enum margo_httpsig_alg {
	MARGO_HTTPSIG_ALG_NONE = 0,       /* not given: infer from the key */
	MARGO_HTTPSIG_ECDSA_P256_SHA256,  /* "ecdsa-p256-sha256", raw r||s, 64 bytes */
	MARGO_HTTPSIG_ECDSA_P384_SHA384,  /* "ecdsa-p384-sha384", raw r||s, 96 bytes */
	MARGO_HTTPSIG_RSA_V1_5_SHA256,    /* "rsa-v1_5-sha256" */
	MARGO_HTTPSIG_RSA_PSS_SHA512,     /* "rsa-pss-sha512" */
};

/* "ecdsa-p256-sha256" etc. NULL for NONE. */
const char *margo_httpsig_alg_name(enum margo_httpsig_alg alg);
/* MARGO_HTTPSIG_ALG_NONE when the name is unknown. */
enum margo_httpsig_alg margo_httpsig_alg_from_name(const char *name);

/* Resolves one covered component for the signature base. name is the component identifier
 * without quotes, lowercase: a derived component ("@method", "@target-uri", "@authority",
 * "@scheme", "@request-target", "@path", "@query", "@status") or a header field name
 * ("content-digest"). Returns the value, borrowed until the sign/verify call returns, or NULL
 * when the message has no such component (which fails the call). Header values must already
 * be trimmed; several field lines of one header are combined by the resolver with ", ". */
typedef const char *(*margo_httpsig_resolve_fn)(void *ctx, const char *name);

/* Signs a message. components: the covered component names in order (without quotes, e.g.
 * "@method"). params: created (always included), keyid (included when not NULL), alg
 * (included when not NONE; signing uses it or infers it from the key when NONE).
 * On success *signature_input and *signature are newly allocated header values:
 *   Signature-Input: <label>=("@method" ...);created=...;keyid="...";alg="..."
 *   Signature:       <label>=:<base64>:
 * ECDSA signatures are emitted as raw r||s as RFC 9421 requires. With alg NONE the key
 * decides: EC P-256 -> ecdsa-p256-sha256, P-384 -> ecdsa-p384-sha384, RSA -> rsa-pss-sha512.
 * RSA keys need at least 2048 bits. */
int margo_httpsig_sign(EVP_PKEY *key, const char *label, const char *const *components,
		       size_t ncomponents, margo_httpsig_resolve_fn resolve, void *ctx,
		       int64_t created, const char *keyid, enum margo_httpsig_alg alg,
		       char **signature_input, char **signature, struct margo_error *err);

/* What a verified signature said about itself. */
struct margo_httpsig_result {
	char label[64];
	int64_t created;       /* -1 when absent */
	int64_t expires;       /* -1 when absent */
	char keyid[256];       /* "" when absent */
	enum margo_httpsig_alg alg; /* the algorithm actually used */
};

/* Verifies one signature of a message against pub. signature_input and signature are the raw
 * header values (structured-field dictionaries, RFC 8941). label selects the signature; NULL
 * takes the first one in Signature-Input. required: component names that must all be covered
 * (NULL/0 for none). When the signature's alg parameter is absent the algorithm is inferred
 * from pub; when present it must suit pub. Returns 0 and fills *result when the signature is
 * valid; MARGO_EAUTH (bad signature, wrong key), MARGO_EINVAL (malformed headers, a required
 * component not covered, a component missing from the message), MARGO_EUNSUPPORTED (alg).
 * The caller checks created/keyid policy itself.
 * Without alg, an RSA key is tried with rsa-pss-sha512 and then rsa-v1_5-sha256 (result->alg
 * tells which matched). Component parameters (";sf", ";key=...", "@query-param") are not
 * supported (MARGO_EUNSUPPORTED). A repeated dictionary key takes the last value (RFC 8941). */
int margo_httpsig_verify(EVP_PKEY *pub, const char *signature_input, const char *signature,
			 const char *label, const char *const *required, size_t nrequired,
			 margo_httpsig_resolve_fn resolve, void *ctx,
			 struct margo_httpsig_result *result, struct margo_error *err);

/* Builds the signature base (RFC 9421 section 2.5) for the component list and serialized
 * signature parameters "(\"@method\" ...);created=..." given as sig_params. Newly allocated.
 * Exposed for tests. */
int margo_httpsig_signature_base(const char *const *components, size_t ncomponents,
				 const char *sig_params, margo_httpsig_resolve_fn resolve,
				 void *ctx, char **out, struct margo_error *err);

/* Content-Digest (RFC 9530) header value "sha-256=:<base64>:" over body. Newly allocated. */
char *margo_content_digest(const void *body, size_t len);

/* Checks a Content-Digest header value against body. The dictionary may hold several
 * algorithms; sha-256 and sha-512 are understood, others ignored; at least one understood
 * digest must be present and every understood one must match. 0, MARGO_EINVAL (malformed or
 * nothing understood), MARGO_EAUTH (mismatch). */
int margo_content_digest_verify(const char *header, const void *body, size_t len,
				struct margo_error *err);

#endif
