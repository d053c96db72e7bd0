/* Secrets, tokens and ids: generation, hashing, comparison, wiping. */
#ifndef MARGO_TOKEN_H
#define MARGO_TOKEN_H

#include <stddef.h>

#define MARGO_TOKEN_ENROLLMENT "wfmet_"
#define MARGO_TOKEN_CLIENT_SECRET "wfmcs_"
#define MARGO_TOKEN_ACCESS "wfmat_"
#define MARGO_TOKEN_GIT "wfmgt_"
#define MARGO_TOKEN_POLL "wfmpt_"
#define MARGO_TOKEN_ADMIN "wfmadm_"
#define MARGO_TOKEN_OPERATOR "wfmop_"

/* 64 lowercase hex + NUL */
#define MARGO_TOKEN_HASH_LEN 65
/* UUID text + NUL */
#define MARGO_UUID_LEN 37

/* A new token: prefix followed by 256 bits from the OpenSSL CSPRNG, base64url without padding
 * (43 characters). Newly allocated; free with margo_secret_free(). NULL on failure. */
char *margo_token_generate(const char *prefix);

/* prefix followed by len bytes of data as unpadded base64url. Newly allocated; free with
 * margo_secret_free(). NULL when out of memory. */
char *margo_token_encode(const char *prefix, const void *data, size_t len);

/* Lowercase hex SHA-256 of the token text, as stored at rest. */
void margo_token_hash(const char *token, char out[MARGO_TOKEN_HASH_LEN]);

/* 1 when the two NUL-terminated strings are equal, compared in time independent of where
 * they differ (lengths may leak). */
int margo_token_equal(const char *a, const char *b);

/* 1 when token starts with prefix and has the shape margo_token_generate() produces. */
int margo_token_has_prefix(const char *token, const char *prefix);

/* Wipes a NUL-terminated secret (OPENSSL_cleanse) and frees it. NULL is a no-op. */
void margo_secret_free(char *secret);

/* A new lowercase random UUIDv4 into out. Returns 0 or MARGO_ECRYPTO. */
int margo_uuid_v4(char out[MARGO_UUID_LEN]);

/* 1 when s is a lowercase UUID (8-4-4-4-12 hex). */
int margo_uuid_valid(const char *s);

#endif
