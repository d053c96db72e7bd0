/* Access tokens (API.md section 3) as self-contained, MAC-protected bearer tokens: wfmd stores
 * nothing per token, so issuing one is a database read, not a write.
 *
 *   "wfmat_" base64url(version=1 | device id (16) | credentials epoch (8, BE) |
 *                      expires_at (8, BE) | nonce (32) | HMAC-SHA256 of the 65 bytes before (32))
 *
 * The nonce keeps API.md's "at least 256 bits from a CSPRNG" for every token.
 *
 * The key is 32 random bytes in DIR/access-token.key (0600; replacing the file and restarting
 * invalidates every access token). A token names its device and the device's credentials
 * epoch at issue time; it stays valid until expires_at unless the device stops being active or
 * its epoch moves (new client secret, revocation), which auth_device checks in the store. */
#ifndef WFMD_ACCESS_TOKEN_H
#define WFMD_ACCESS_TOKEN_H

#include <stdint.h>

#include "margo/error.h"
#include "margo/token.h"

#define ACCESS_TOKEN_KEY_LEN 32

struct access_token {
	char device_id[MARGO_UUID_LEN];
	int64_t epoch;
	int64_t expires_at;
};

/* The MAC key, prepared once (HMAC-SHA256 pads hashed ahead); shared read-only by threads. */
struct access_key;

/* 0 and *out (free with access_key_free), MARGO_ENOMEM or MARGO_ECRYPTO. */
int access_key_new(const unsigned char raw[ACCESS_TOKEN_KEY_LEN], struct access_key **out,
		   struct margo_error *err);
/* NULL is a no-op. */
void access_key_free(struct access_key *k);

/* A new token for t. Newly allocated (free with margo_secret_free); NULL when out of memory or
 * the random generator fails. */
char *access_token_mint(const struct access_key *key,
			const struct access_token *t);

/* Checks token's shape and MAC and that it is unexpired at now; fills out. 0, or MARGO_EAUTH
 * with err saying why (malformed, not issued by this wfmd, expired). */
int access_token_verify(const struct access_key *key, const char *token,
			int64_t now, struct access_token *out, struct margo_error *err);

#endif
